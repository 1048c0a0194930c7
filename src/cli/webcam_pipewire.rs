//! `webcam --output pipewire|v4l2|auto`: picks the PipeWire camera node or leaves the
//! v4l2loopback path to `webcam.rs`.

use alpha_bridge::pipeline::Output;
use std::path::Path;

/// Whether v4l2loopback is loaded (then `auto` keeps the v4l2 path the user set up).
fn v4l2loopback_loaded() -> bool {
    Path::new("/sys/module/v4l2loopback").exists()
}

/// The PipeWire output when `--output` asks for it (or `auto` finds a daemon and no
/// v4l2loopback, with no explicit --device); `None` means "use v4l2loopback".
pub(crate) fn open(output: &str, device: &str, fps: u32) -> anyhow::Result<Option<Output>> {
    let pipewire = match output {
        "pipewire" => true,
        "auto" => device == "auto" && !v4l2loopback_loaded() && daemon_reachable(),
        _ => false,
    };
    if !pipewire {
        return Ok(None);
    }
    open_node(fps).map(Some)
}

#[cfg(feature = "pipewire")]
fn daemon_reachable() -> bool {
    alpha_bridge::sink::pipewire::reachable()
}

#[cfg(not(feature = "pipewire"))]
fn daemon_reachable() -> bool {
    false
}

#[cfg(feature = "pipewire")]
fn open_node(fps: u32) -> anyhow::Result<Output> {
    use alpha_bridge::sink::pipewire::PipewireSink;
    use anyhow::Context;
    let sink = PipewireSink::open(fps).context("cannot create the PipeWire camera")?;
    let demand = sink.demand();
    Ok(Output::Negotiated(Box::new(sink), demand))
}

#[cfg(not(feature = "pipewire"))]
fn open_node(_fps: u32) -> anyhow::Result<Output> {
    anyhow::bail!(
        "this alpha-bridge was built without PipeWire support: rebuild with \
         `cargo build --release` (the pipewire feature is on by default; it needs \
         libpipewire-0.3-dev) or use --output v4l2"
    )
}
