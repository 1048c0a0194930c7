//! `alpha-bridge emulate`: an emulated Sony body as a real USB gadget (in the USB mode
//! `--mode` names: PC Remote PTP, MTP, Mass Storage for pairing, or USB Streaming with
//! PC Remote alongside) or as a Wi-Fi peer (SSDP + PTP/IP) doing "Send to Computer"
//! or, with `--pc-remote`, PC Remote (live view over PTP/IP).
//! The in-process body behind `webcam --camera emulated` needs no command.

use alpha_bridge::emulator::file_frames::FileFrames;
use alpha_bridge::emulator::gadget::{Function, Gadget, GadgetConfig};
use alpha_bridge::emulator::msc::{MscConfig, MscEmulator};
use alpha_bridge::emulator::registry::Registry;
use alpha_bridge::emulator::wifi::{WifiConfig, WifiEmulator};
use alpha_bridge::emulator::{serve, Body, FrameContent};
use anyhow::Context;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub(crate) struct EmulateArgs {
    /// Appear as a real USB device (configfs + FunctionFS; needs root, a UDC such as
    /// dummy_hcd, and the usb_f_fs module).
    #[arg(long, conflicts_with = "wifi")]
    usb_gadget: bool,
    /// With --usb-gadget, the camera's USB mode: ptp (PC Remote, live view; the
    /// default), mtp (MTP: file transfer only, no Sony operations), msc (Mass Storage,
    /// for pairing) or uvc (USB Streaming: video-class interfaces, with the PC Remote PTP
    /// interface alongside; the interfaces carry no video).
    #[arg(long, value_parser = ["ptp", "mtp", "msc", "uvc"])]
    mode: Option<String>,
    /// The body to emulate: ILCE-6400, ZV-E10 (3.00, power zoom), ILCE-6000 (no USB live
    /// view), ILCE-5100 (2.00 as a real a5100: no interrupt endpoint) or DSC-RX100M7
    /// (3.00 as a real RX100 VII).
    #[arg(long, default_value = "ILCE-6400")]
    model: String,
    /// With --usb-gadget: the body's serial number (USB string and PTP DeviceInfo); two
    /// gadgets with different serials are two cameras (each takes a free UDC, e.g.
    /// dummy_hcd num=2).
    #[arg(long, value_name = "SERIAL", value_parser = parse_serial)]
    serial: Option<String>,
    /// Announce over SSDP and serve PTP/IP like a camera doing "Send to Computer".
    #[arg(long)]
    wifi: bool,
    /// With --wifi: the folder whose files the camera offers (not with --pc-remote).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// With --wifi: PC Remote mode, live view over PTP/IP (`webcam --camera ptpip:HOST`)
    /// instead of Send to Computer.
    #[arg(long, requires = "wifi")]
    pc_remote: bool,
    /// With --pc-remote: Wi-Fi faults, as latency[,jitter[,loss%]] in milliseconds and
    /// percent, e.g. 20,10,1 (what a busy access point does).
    #[arg(long, value_name = "MS[,MS[,PCT]]", requires = "pc_remote")]
    net: Option<String>,
    /// With --wifi: the address to serve and announce on (default 127.0.0.1).
    #[arg(long)]
    bind: Option<IpAddr>,
    /// With --wifi: accept this computer GUID (repeatable). Default: with --state, only
    /// the GUIDs paired through the emulated Mass Storage body (none paired yet: every
    /// computer is refused, like a real camera); without --state, any GUID.
    #[arg(long = "guid", value_name = "GUID", value_parser = super::parse_guid_arg)]
    guids: Vec<[u8; 16]>,
    /// Where the emulated body keeps its paired computers (shared by msc and --wifi).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// With --usb-gadget (ptp): serve these pre-encoded frames as live view, in a loop,
    /// instead of encoding the test card: an MJPEG file (back-to-back JPEGs) or a folder
    /// of .jpg files, all of one size.
    #[arg(long, value_name = "PATH")]
    frames: Option<PathBuf>,
    /// With --usb-gadget (ptp): also save every still the body hands over to its host in
    /// DIR (served.JPG, then served_2.JPG and so on), to compare with what the host saved.
    #[arg(long, value_name = "DIR")]
    served_stills: Option<PathBuf>,
    /// With --usb-gadget (ptp): the size of the stills it takes, WxH (default 3008x2000,
    /// a 24-megapixel body's 6-megapixel "S" size; smaller renders faster on a slow
    /// machine).
    #[arg(long, value_name = "WxH")]
    still_size: Option<String>,
}

impl EmulateArgs {
    fn msc(&self) -> bool {
        self.mode.as_deref() == Some("msc")
    }

    fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("ptp")
    }
}

/// Options of the other front, or ones the chosen front ignores, are refused.
fn check(a: &EmulateArgs) -> anyhow::Result<()> {
    use super::usage;
    if !a.usb_gadget && !a.wifi {
        return Err(usage(
            "choose --usb-gadget or --wifi (the in-process body is `webcam --camera emulated`)",
        ));
    }
    if a.serial.is_some() && !a.usb_gadget {
        return Err(usage("--serial only applies to --usb-gadget"));
    }
    let wifi_only = [
        ("--files", a.files.is_some()),
        ("--bind", a.bind.is_some()),
        ("--guid", !a.guids.is_empty()),
    ];
    if a.usb_gadget {
        if let Some((opt, _)) = wifi_only.iter().find(|(_, given)| *given) {
            return Err(usage(format!("{opt} only applies to --wifi")));
        }
        if a.frames.is_some() && a.msc() {
            return Err(usage("--frames is live view: it needs --mode ptp, not msc"));
        }
        if a.served_stills.is_some() && a.msc() {
            return Err(usage(
                "--served-stills needs a body that takes pictures: --mode ptp, not msc",
            ));
        }
        if a.still_size.is_some() && a.msc() {
            return Err(usage(
                "--still-size needs a body that takes pictures: --mode ptp, not msc",
            ));
        }
        if a.state.is_some() && !a.msc() {
            return Err(usage(
                "--state keeps paired computers: with --usb-gadget it needs --mode msc",
            ));
        }
    }
    if a.wifi {
        if a.frames.is_some() {
            return Err(usage("--frames only applies to --usb-gadget"));
        }
        if a.served_stills.is_some() {
            return Err(usage("--served-stills only applies to --usb-gadget"));
        }
        if a.still_size.is_some() {
            return Err(usage("--still-size only applies to --usb-gadget"));
        }
        if a.mode.is_some() {
            return Err(usage("--mode only applies to --usb-gadget"));
        }
        if !a.pc_remote && a.files.is_none() {
            return Err(usage(
                "--wifi needs --files DIR (the folder the camera offers), or --pc-remote",
            ));
        }
        if !a.guids.is_empty() && a.state.is_some() {
            return Err(usage(
                "--guid and --state both say which computers the camera accepts; give one",
            ));
        }
    }
    body(&a.model)?;
    // --guid values are parsed (and refused with exit 2) by clap already.
    if let Some(d) = &a.files {
        super::paths::input("--files", d, super::paths::Want::Dir)?;
    }
    if let Some(d) = &a.state {
        super::paths::dir_to_write("--state", d)?;
    }
    if let Some(p) = &a.frames {
        super::paths::input("--frames", p, super::paths::Want::Any)?;
    }
    if let Some(d) = &a.served_stills {
        super::paths::dir_to_write("--served-stills", d)?;
    }
    still_size(a)?;
    Ok(())
}

/// `--still-size WxH`, checked against what the test card can render.
fn still_size(a: &EmulateArgs) -> anyhow::Result<Option<(u32, u32)>> {
    let Some(s) = &a.still_size else {
        return Ok(None);
    };
    let bad = |why: String| {
        super::usage(format!(
            "--still-size {s}: {why} (e.g. 1024x680, at least 272x64)"
        ))
    };
    let (w, h) = s
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .ok_or_else(|| bad("expected WxH".into()))?;
    alpha_bridge::emulator::testcard::TestCard::new(w, h).map_err(|e| bad(e.to_string()))?;
    Ok(Some((w, h)))
}

/// `--served-stills DIR`: a thread saving each still the body hands over, until `stop`
/// is set and nothing is waiting.
fn save_served_stills(
    body: &Body,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    use alpha_bridge::camera::control::Still;
    use crossbeam_channel::RecvTimeoutError;
    let rx = body.stats().served_stills();
    std::thread::Builder::new()
        .name("served-stills".into())
        .spawn(move || loop {
            let jpeg = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(j) => j,
                Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => continue,
                Err(_) => break,
            };
            let still = Still {
                data: jpeg,
                info: alpha_bridge::ptp::dataset::ObjectInfo {
                    filename: "served.JPG".into(),
                    ..Default::default()
                },
                took: Duration::ZERO,
            };
            match alpha_bridge::control::stills::save(&dir, &still) {
                Ok(p) => log::info!(
                    "served still of {} bytes saved as {}",
                    still.data.len(),
                    p.display()
                ),
                Err(e) => log::warn!("cannot save a served still in {}: {e}", dir.display()),
            }
        })
        .context("cannot start the thread that saves served stills")
}

pub(crate) fn run(a: &EmulateArgs) -> anyhow::Result<()> {
    check(a)?;
    if a.usb_gadget {
        usb_gadget(a)
    } else {
        wifi(a)
    }
}

fn body(model: &str) -> anyhow::Result<(Body, u16)> {
    // Each profile carries its product id in PC Remote mode
    // (docs/protocol/sony-usb.md#product-ids).
    match Body::profile(model) {
        Some(b) => {
            let pid = b.usb_pid;
            Ok((b, pid))
        }
        None => Err(super::usage(format!(
            "unknown model {model}: choose {}",
            Body::PROFILES.join(", ")
        ))),
    }
}

fn registry(state: Option<&PathBuf>) -> anyhow::Result<Option<Registry>> {
    state
        .map(|d| {
            Registry::open(d)
                .with_context(|| format!("cannot open the emulator state in {}", d.display()))
        })
        .transpose()
}

fn usb_gadget(a: &EmulateArgs) -> anyhow::Result<()> {
    let stop = super::stop_flag()?;
    let (body, pid) = body(&a.model)?;
    // The product id stays the PC Remote one in MTP and USB Streaming: nothing may
    // select by it (docs/protocol/sony-usb.md#product-ids).
    let mut body = if a.mode() == "mtp" {
        body.in_mtp_mode()
    } else {
        body
    };
    if let Some((w, h)) = still_size(a)? {
        body = body.with_still_size(w, h)?;
    }
    if let Some(p) = &a.frames {
        let frames = FileFrames::open(p).context("cannot use --frames")?;
        log::info!(
            "live view: {} pre-encoded {}x{} frames from {}, in a loop",
            frames.len(),
            frames.size().0,
            frames.size().1,
            p.display()
        );
        body = body.with_content(Box::new(frames));
    }
    let msc = a.msc();
    let mut cfg = GadgetConfig {
        pid: if msc { 0x0C02 } else { pid },
        product: body.model.clone(),
        function: if msc {
            Function::MassStorage
        } else {
            Function::Ptp
        },
        video: a.mode() == "uvc",
        interrupt_endpoint: body.interrupt_endpoint,
        ..GadgetConfig::default()
    };
    if let Some(serial) = &a.serial {
        body = body.with_serial(serial);
        cfg.serial = serial.clone();
        // Its own configfs directory, so a second body can run next to the first.
        cfg.name = format!(
            "alpha-bridge-{}",
            &serial[serial.len().saturating_sub(12)..]
        );
    }
    let gadget = Gadget::create(cfg).context("cannot create the USB gadget")?;
    println!(
        "emulating a {} ({}) as a USB device on {}",
        a.model,
        a.mode(),
        gadget.udc()
    );
    if msc {
        let reg = registry(a.state.as_ref())?.unwrap_or_else(Registry::in_memory);
        gadget.serve(&stop, |pipe| {
            let mut m = MscEmulator::new(MscConfig::default(), reg.clone());
            let r = m.serve_until(pipe, &stop);
            for h in reg.hosts() {
                log::info!(
                    "registered host {} ({})",
                    alpha_bridge::config::guid_hex(&h.guid),
                    h.host_name
                );
            }
            r.map(|_| ())
        })?;
    } else {
        let saver = a
            .served_stills
            .clone()
            .map(|d| save_served_stills(&body, d, stop.clone()))
            .transpose()?;
        gadget.serve(&stop, |pipe| {
            serve(pipe, &body, &stop).map(|end| log::info!("host session ended: {end:?}"))
        })?;
        stop.store(true, Ordering::SeqCst);
        if let Some(t) = saver {
            let _ = t.join();
        }
    }
    log::info!("stopped");
    Ok(())
}

/// `--serial`: 1 to 32 letters or digits (what a USB string and a configfs name can hold).
fn parse_serial(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "'{s}' is not a serial number: use 1 to 32 letters or digits, e.g. 0000000000000002"
        ));
    }
    Ok(s.to_string())
}

/// `--net MS[,MS[,PCT]]`.
fn net_faults(s: &str) -> anyhow::Result<(Duration, Duration, f64)> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| super::usage(format!("--net {s}: expected numbers like 20,10,1")))?;
    if v.is_empty() || v.len() > 3 || v.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(super::usage(format!(
            "--net {s}: expected latency[,jitter[,loss%]], e.g. 20,10,1"
        )));
    }
    let ms = |x: f64| Duration::from_secs_f64(x.min(60_000.0) / 1000.0);
    Ok((
        ms(v[0]),
        ms(v.get(1).copied().unwrap_or(0.0)),
        v.get(2).copied().unwrap_or(0.0),
    ))
}

fn wifi(a: &EmulateArgs) -> anyhow::Result<()> {
    let stop = super::stop_flag()?;
    let net = a.net.as_deref().map(net_faults).transpose()?;
    let mut cfg = if a.pc_remote {
        WifiConfig::pc_remote(body(&a.model)?.0)
    } else {
        let files = a.files.clone().context("--wifi needs --files DIR")?;
        let mut c = WifiConfig::new(files);
        c.model = body(&a.model)?.0.model.clone();
        c
    };
    cfg.bind = a.bind.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !a.guids.is_empty() {
        cfg = cfg.accept_guids(a.guids.clone());
    } else if let Some(reg) = registry(a.state.as_ref())? {
        cfg.accept = Box::new(move |g| reg.is_registered(g));
    }
    let emu = WifiEmulator::start(cfg).context("cannot start the Wi-Fi emulator")?;
    if let Some((delay, jitter, loss)) = net {
        emu.net_faults().set_latency(delay, jitter);
        emu.net_faults().set_loss(loss);
    }
    if a.pc_remote {
        println!(
            "camera in PC Remote mode: PTP/IP on {} (alpha-bridge webcam --camera ptpip:{})",
            emu.ptpip_addr(),
            emu.ptpip_addr()
        );
    } else {
        println!(
            "camera waiting for its computer: PTP/IP on {}, description at {}",
            emu.ptpip_addr(),
            emu.location()
        );
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = emu.stop();
    println!(
        "{}, powered off: {}",
        super::count(stats.sessions as u64, "session"),
        if stats.powered_off { "yes" } else { "no" }
    );
    Ok(())
}
