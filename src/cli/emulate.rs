//! `alpha-bridge emulate`: an emulated Sony body as a real USB gadget (PTP or mass
//! storage) and/or a Wi-Fi (SSDP + PTP/IP) peer.

#[derive(clap::Args, Debug)]
pub struct EmulateArgs {}

pub fn run(_a: &EmulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("not wired yet")
}
