//! `alpha-bridge webcam`: live view → v4l2loopback (and/or `--record FILE`).

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::decode::Backend;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::network::{live_view_tcp, PtpIpSource};
use alpha_bridge::pipeline::source::{CameraSource, FrameSource, ReplaySource};
use alpha_bridge::pipeline::{self, Aspect, Options, Output};
use alpha_bridge::sink::v4l2::{OutputFormat, V4l2Sink};
use alpha_bridge::sink::{FrameSink, NullSink};
use alpha_bridge::transport::{usb, Transport};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct WebcamArgs {
    /// auto (first Sony body over USB), emulated (built-in emulated camera),
    /// a serial number, ptpip:HOST[:PORT] (a body in PC Remote over Wi-Fi or Ethernet,
    /// paired with this computer), or replay:PATH (a capture made with --dump-objects,
    /// a folder of JPEGs or an MJPEG file).
    #[arg(long, default_value = "auto")]
    camera: String,
    /// The v4l2loopback output device: auto (first one found), a path like
    /// /dev/video10, or none (no video output; with --record only the file is written).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Video format for the loopback device: yuyv (decoded, works everywhere) or
    /// mjpeg (the camera's JPEG passed through, for apps that accept MJPG).
    #[arg(long, default_value = "yuyv", value_parser = ["yuyv", "mjpeg"])]
    format: String,
    /// Write the live view to FILE: MJPEG stream, or MJPEG-in-AVI if FILE ends in .avi.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Replace the --record file if it exists.
    #[arg(long, short = 'y')]
    overwrite: bool,
    /// Save every raw live-view object in DIR (for bug reports; replay with --camera replay:DIR).
    #[arg(long, value_name = "DIR")]
    dump_objects: Option<PathBuf>,
    /// Stop after this long (e.g. 10s, 2m).
    #[arg(long, value_parser = super::parse_duration)]
    duration: Option<Duration>,
    /// Stop after N frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Cap the output frame rate.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,
    /// Fit the 3:2 live view to 16:9 by cropping (or padding with --pad).
    #[arg(long, value_parser = ["native", "16:9"], default_value = "native")]
    aspect: String,
    /// With --aspect 16:9: pad with black bars instead of cropping.
    #[arg(long, requires = "aspect")]
    pad: bool,
    /// JPEG decoder: zune (pure Rust) or turbojpeg (needs the turbojpeg build feature).
    /// Default: turbojpeg in a build with that feature, zune otherwise.
    #[arg(long, value_parser = ["zune", "turbojpeg"])]
    decoder: Option<String>,
    /// Also run the Wi-Fi offload daemon (see `alpha-bridge offload`) next to the webcam.
    #[arg(long)]
    offload: bool,
    /// With --offload: where pictures go (default ~/Pictures/alpha-bridge).
    #[arg(long, value_name = "DIR", requires = "offload")]
    dest: Option<PathBuf>,
    /// Write the final statistics as JSON to FILE at exit.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Test-only (soak runs): with --camera emulated, pull the emulated camera's cable
    /// this often.
    #[arg(long, hide = true, value_parser = super::parse_duration)]
    emulator_unplug_every: Option<Duration>,
    /// Test-only: how long the emulated camera stays unplugged each time.
    #[arg(long, hide = true, value_parser = super::parse_duration, default_value = "5s")]
    emulator_unplug_for: Duration,
}

pub fn run(a: &WebcamArgs) -> anyhow::Result<()> {
    let stop = super::stop_flag()?;
    let (source, emu) = open_source(&a.camera)?;
    let unplugger = match (a.emulator_unplug_every, &emu) {
        (Some(every), Some(emu)) => Some(spawn_unplugger(
            emu.clone(),
            every,
            a.emulator_unplug_for,
            stop.clone(),
        )?),
        (Some(_), None) => bail!("--emulator-unplug-every needs --camera emulated"),
        _ => None,
    };
    let output = open_output(a)?;
    if matches!(output, Output::None) && a.record.is_none() && a.dump_objects.is_none() {
        bail!("nothing to do: no video device and no --record FILE");
    }
    let opts = Options {
        output,
        record: a.record.clone(),
        overwrite: a.overwrite,
        dump_objects: a.dump_objects.clone(),
        max_frames: a.frames,
        duration: a.duration,
        fps: a.fps,
        backend: match &a.decoder {
            Some(name) => backend(name)?,
            None => Backend::default(),
        },
        aspect: match (a.aspect.as_str(), a.pad) {
            ("16:9", false) => Aspect::Crop16x9,
            ("16:9", true) => Aspect::Pad16x9,
            _ => Aspect::Native,
        },
        stats_json: a.stats_json.clone(),
        reconnect: !a.camera.starts_with("replay:"),
        ..Options::default()
    };
    let offload = a
        .offload
        .then(|| super::offload::side_task(a.dest.clone(), stop.clone()))
        .transpose()?;
    let result = pipeline::run(source, opts, stop.clone());
    // The webcam ended (Ctrl-C, limits or an error): side tasks stop too.
    stop.store(true, Ordering::SeqCst);
    if let Some(task) = offload {
        match task.join() {
            Ok(Err(e)) => log::error!("offload: {e:#}"),
            Err(_) => log::error!("offload: the thread panicked"),
            Ok(Ok(())) => {}
        }
    }
    let unplugs = match unplugger {
        Some(t) => t.join().unwrap_or(0),
        None => 0,
    };
    let summary = result?;
    if let Some(emu) = &emu {
        // The body's own count of frames it made available while a host was connected
        // but was never asked for: the loss a soak run checks outside the unplug windows.
        let es = emu.stats();
        println!(
            "emulated camera: {} frames served, {} skipped while connected, {} connects, {} unplugs",
            es.frames_served(),
            es.frames_skipped(),
            es.connects(),
            unplugs
        );
    }
    let s = &summary.stats;
    println!(
        "{} frames captured, {} written, {} dropped, {} bad in {:.1} s ({:.1} fps)",
        s.captured, s.written, s.dropped, s.bad_frames, s.seconds, s.fps_in
    );
    if let (Some(n), Some(path)) = (summary.recorded, &a.record) {
        println!("recorded {n} frames to {}", path.display());
    }
    Ok(())
}

fn backend(name: &str) -> anyhow::Result<Backend> {
    match name {
        "zune" => Ok(Backend::Zune),
        #[cfg(feature = "turbojpeg")]
        "turbojpeg" => Ok(Backend::TurboJpeg),
        _ => bail!("this build has no {name} decoder: rebuild with `cargo build --release --features turbojpeg`"),
    }
}

/// Test-only cable puller for soak runs: unplugs the emulated camera every `every` for
/// `away`, until `stop`. Returns how many times it unplugged.
fn spawn_unplugger(
    emu: Arc<UsbEmulator>,
    every: Duration,
    away: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<u64>> {
    let nap = |d: Duration, stop: &AtomicBool| {
        let end = Instant::now() + d;
        while !stop.load(Ordering::SeqCst) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        !stop.load(Ordering::SeqCst)
    };
    std::thread::Builder::new()
        .name("emu-unplugger".into())
        .spawn(move || {
            let mut n = 0;
            while nap(every, &stop) {
                log::info!("soak: unplugging the emulated camera for {away:?}");
                emu.unplug();
                n += 1;
                nap(away, &stop);
                emu.plug();
                log::info!("soak: emulated camera plugged back in");
            }
            emu.plug();
            n
        })
        .context("cannot start the unplug thread")
}

type Opened = (Box<dyn FrameSource>, Option<Arc<UsbEmulator>>);

/// `HOST[:PORT]` of `--camera ptpip:` (port 15740 by default; IPv6 in brackets).
fn ptpip_addr(s: &str) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let with_port = if s.parse::<std::net::SocketAddr>().is_ok()
        || (s.rsplit_once(':').is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok()))
    {
        s.to_string()
    } else if s.contains(':') && !s.starts_with('[') {
        format!("[{s}]:{}", alpha_bridge::ptp::ptpip::PORT)
    } else {
        format!("{s}:{}", alpha_bridge::ptp::ptpip::PORT)
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("--camera ptpip:{s}: not a host or address (try ptpip:192.168.1.20)"))?
        .next()
        .with_context(|| format!("--camera ptpip:{s}: the name has no address"))
}

fn open_source(camera: &str) -> anyhow::Result<Opened> {
    if let Some(host) = camera.strip_prefix("ptpip:") {
        let addr = ptpip_addr(host)?;
        let id = alpha_bridge::config::Identity::load_default()
            .context("cannot read this computer's identity")?;
        log::info!("camera over the network at {addr}");
        return Ok((
            Box::new(PtpIpSource::new(
                addr,
                id.guid,
                id.host_name,
                live_view_tcp(),
                ConnectOptions::default(),
            )),
            None,
        ));
    }
    if let Some(path) = camera.strip_prefix("replay:") {
        return Ok((
            Box::new(ReplaySource::new(PathBuf::from(path), 30, false)),
            None,
        ));
    }
    if camera == "emulated" {
        let emu = Arc::new(UsbEmulator::new(Body::ilce_6400()));
        log::info!("using the built-in emulated camera");
        let e = emu.clone();
        let open = Box::new(move || e.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        return Ok((
            Box::new(CameraSource::new(
                "emulated camera",
                open,
                ConnectOptions::default(),
            )),
            Some(emu),
        ));
    }
    let selector = if camera == "auto" {
        usb::Selector::First
    } else {
        usb::Selector::Serial(camera.to_string())
    };
    // Find it now so that "no camera" is reported at once with what to do.
    let found = usb::list_sony().context("cannot look for cameras over USB")?;
    if found.is_empty() {
        bail!(
            "no Sony camera found over USB: connect it with the camera set to PC Remote \
             (MENU → USB Connection → PC Remote); to try alpha-bridge without a camera run \
             `alpha-bridge webcam --camera emulated --record demo.mjpeg --duration 10s`"
        );
    }
    let label = format!("USB camera {camera}");
    let open = Box::new(move || {
        usb::open(&selector, usb::InterfaceClass::Ptp).map(|t| Box::new(t) as Box<dyn Transport>)
    });
    Ok((
        Box::new(CameraSource::new(label, open, ConnectOptions::default())),
        None,
    ))
}

fn open_output(a: &WebcamArgs) -> anyhow::Result<Output> {
    let format = if a.format == "mjpeg" {
        OutputFormat::Mjpeg
    } else {
        OutputFormat::Yuyv
    };
    let sink: Box<dyn FrameSink> = match a.device.as_str() {
        "none" => return Ok(Output::None),
        // Hidden, for soak runs and benchmarks: decode every frame, write nowhere.
        "null" => Box::new(NullSink::new()),
        "auto" => match V4l2Sink::open(None, format, a.fps) {
            Ok(s) => Box::new(s),
            // Recording alone is a whole job; say what the webcam part is missing.
            Err(e) if a.record.is_some() || a.dump_objects.is_some() => {
                log::warn!("no webcam device, recording only: {e}");
                return Ok(Output::None);
            }
            Err(e) => return Err(e).context("cannot open a v4l2loopback device"),
        },
        path => Box::new(
            V4l2Sink::open(Some(Path::new(path)), format, a.fps)
                .context("cannot open the video device")?,
        ),
    };
    Ok(match format {
        OutputFormat::Mjpeg => Output::Mjpeg(sink),
        OutputFormat::Yuyv => Output::Yuyv(sink),
    })
}
