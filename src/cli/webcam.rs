//! `alpha-bridge webcam`: live view → v4l2loopback (and/or `--record FILE`).

use alpha_bridge::camera::sony::LiveViewQuality;
use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::control::socket::{self, Server};
use alpha_bridge::control::ControlStats;
use alpha_bridge::decode::Backend;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::network::{live_view_tcp, PtpIpSource};
use alpha_bridge::pipeline::source::{CameraSource, Control, FrameSource, ReplaySource};
use alpha_bridge::pipeline::stats::Snapshot;
use alpha_bridge::pipeline::{self, Aspect, Options, Output};
use alpha_bridge::sink::record::RecordSummary;
use alpha_bridge::sink::v4l2::{OutputFormat, V4l2Sink};
use alpha_bridge::sink::{FrameSink, NullSink};
use alpha_bridge::transport::{usb, Transport};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "webcam_multi.rs"]
mod multi;

#[derive(clap::Args, Debug)]
pub(crate) struct WebcamArgs {
    /// Where the live view comes from: auto (the first Sony body on USB), all (every
    /// Sony body on USB in PC Remote mode, each on its own video device, as they come
    /// and go), a USB serial number (as `alpha-bridge list` shows it), emulated (the
    /// built-in emulated camera; emulated:N for N of them, served like all),
    /// ptpip:HOST[:PORT] (a body in PC Remote over Wi-Fi or Ethernet, paired with this
    /// computer), or replay:PATH (a capture made with --dump-objects, a folder of JPEGs or
    /// an MJPEG file).
    #[arg(long, default_value = "auto", value_name = "CAMERA")]
    camera: String,
    /// With --camera emulated: the body to emulate (ILCE-6400, ZV-E10, ILCE-6000,
    /// ILCE-5100 or DSC-RX100M7), as `emulate --model`.
    #[arg(long, value_name = "MODEL")]
    emulated_model: Option<String>,
    /// Where the pictures go: auto (the first free v4l2loopback device), a path such as
    /// /dev/video10, none (no video device: only --record and --dump-objects write), or
    /// null (decode every frame and write it nowhere: the decoding cost alone, for
    /// benchmarks and soak runs).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: String,
    /// Where the video goes: pipewire (a PipeWire camera node, no kernel module), v4l2
    /// (a v4l2loopback device, see --device), or auto (PipeWire when a daemon answers
    /// and v4l2loopback is not loaded).
    #[arg(long, default_value = "auto", value_parser = ["auto", "pipewire", "v4l2"])]
    output: String,
    /// Video format for the loopback device: yuyv (decoded, works everywhere; the
    /// default) or mjpeg (the camera's JPEG passed through, for apps that accept MJPG).
    /// With PipeWire the consumer picks the format.
    #[arg(long, value_parser = ["yuyv", "mjpeg"])]
    format: Option<String>,
    /// Write the live view to FILE: MJPEG stream, or MJPEG-in-AVI if FILE ends in .avi.
    /// `-` (standard output) and FIFOs get the MJPEG stream as it comes; symbolic links,
    /// directories and devices are refused.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Replace the --record file if it exists (only once the new recording is complete,
    /// and only by a recording with at least one frame).
    #[arg(long, short = 'y', requires = "record")]
    overwrite: bool,
    /// Save every raw live-view object in DIR (for bug reports; replay with --camera replay:DIR).
    #[arg(long, value_name = "DIR")]
    dump_objects: Option<PathBuf>,
    /// Stop after this long (e.g. 10s, 2m).
    #[arg(long, value_parser = super::parse_positive_duration)]
    duration: Option<Duration>,
    /// Stop after N frames.
    #[arg(long, value_parser = super::parse_count)]
    frames: Option<u64>,
    /// Cap the output frame rate, of the video device and of a recording (which keeps
    /// real timing: frames that come too soon are left out).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,
    /// native (the camera's 3:2, the default) or 16:9: fit the live view to 16:9 by
    /// cropping (or padding with --pad).
    #[arg(long, value_parser = ["native", "16:9"])]
    aspect: Option<String>,
    /// With --aspect 16:9: pad with black bars instead of cropping.
    #[arg(long)]
    pad: bool,
    /// JPEG decoder: zune (pure Rust) or turbojpeg (libjpeg-turbo, libturbojpeg.so.0).
    /// Default: turbojpeg when the library is installed, zune otherwise.
    #[arg(long, value_parser = ["zune", "turbojpeg"])]
    decoder: Option<String>,
    /// Also run the Wi-Fi offload daemon (see `alpha-bridge offload`) next to the webcam.
    #[arg(long)]
    offload: bool,
    /// With --offload: where pictures go (default ~/Pictures/alpha-bridge).
    #[arg(long, value_name = "DIR", requires = "offload")]
    dest: Option<PathBuf>,
    /// Live-view quality to ask the camera for when streaming starts: high (larger
    /// picture, e.g. 1024x680) or low (smaller, e.g. 640x424; less USB traffic).
    #[arg(long, default_value = "high", value_parser = ["high", "low"])]
    live_view_quality: String,
    /// Where `alpha-bridge control capture` saves stills taken while this webcam runs
    /// (default: the offload destination, ~/Pictures/alpha-bridge).
    #[arg(long, value_name = "DIR")]
    stills: Option<PathBuf>,
    /// Write the final statistics as JSON to FILE at exit.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Test-only (soak runs): with --camera emulated, pull the emulated camera's cable
    /// this often.
    #[arg(long, hide = true, value_parser = super::parse_positive_duration)]
    emulator_unplug_every: Option<Duration>,
    /// Test-only: how long the emulated camera stays unplugged each time (default 5s).
    #[arg(long, hide = true, value_parser = super::parse_positive_duration,
          requires = "emulator_unplug_every")]
    emulator_unplug_for: Option<Duration>,
    /// Test-only: look for USB cameras in DIR/sys/bus/usb/devices (sysfs alone) instead
    /// of libusb.
    #[arg(long, value_name = "DIR", hide = true)]
    root: Option<PathBuf>,
}

impl WebcamArgs {
    fn has_video_device(&self) -> bool {
        self.device != "none"
    }

    fn passthrough(&self) -> bool {
        self.format.as_deref() == Some("mjpeg")
    }

    fn aspect(&self) -> Aspect {
        match (self.aspect.as_deref(), self.pad) {
            (Some("16:9"), false) => Aspect::Crop16x9,
            (Some("16:9"), true) => Aspect::Pad16x9,
            _ => Aspect::Native,
        }
    }
}

/// Options that would have no effect in the chosen mode, or contradict each other, are
/// refused (usage error) instead of silently ignored.
fn check_options(a: &WebcamArgs) -> anyhow::Result<()> {
    use super::usage;
    if a.camera.is_empty() || a.camera == "replay:" {
        return Err(usage(
            "--camera needs auto, emulated, a serial number or replay:PATH",
        ));
    }
    if a.device.is_empty() {
        return Err(usage(
            "--device needs auto, none or a path such as /dev/video10",
        ));
    }
    if !a.has_video_device() {
        if a.record.is_none() && a.dump_objects.is_none() {
            let alone = if a.offload {
                "; for the offload alone, run `alpha-bridge offload`"
            } else {
                ""
            };
            return Err(usage(format!(
                "nothing to do: --device none writes no video; add --record FILE (or \
                 --dump-objects DIR), or drop --device none{alone}"
            )));
        }
        let video_only = [
            ("--format", a.format.is_some()),
            ("--aspect", a.aspect.is_some()),
            ("--pad", a.pad),
            ("--decoder", a.decoder.is_some()),
        ];
        if let Some((opt, _)) = video_only.iter().find(|(_, given)| *given) {
            return Err(usage(format!(
                "{opt} only applies to the video device's picture, and --device none \
                 writes no video; drop {opt} or --device none (recordings keep the \
                 camera's own JPEGs)"
            )));
        }
    }
    if a.pad && a.aspect.as_deref() != Some("16:9") {
        return Err(usage(
            "--pad only works with --aspect 16:9 (it pads the 3:2 picture to 16:9)",
        ));
    }
    if a.passthrough() {
        let decoded_only = [
            ("--aspect 16:9", a.aspect.as_deref() == Some("16:9")),
            ("--decoder", a.decoder.is_some()),
        ];
        if let Some((opt, _)) = decoded_only.iter().find(|(_, given)| *given) {
            return Err(usage(format!(
                "{opt} needs decoded video, and --format mjpeg passes the camera's JPEGs \
                 through undecoded; drop one of them"
            )));
        }
    }
    if let Some(m) = &a.emulated_model {
        if a.camera != "emulated" {
            return Err(usage("--emulated-model needs --camera emulated"));
        }
        if Body::profile(m).is_none() {
            return Err(usage(format!(
                "unknown model {m}: choose {}",
                Body::PROFILES.join(", ")
            )));
        }
    }
    if a.emulator_unplug_every.is_some() && !a.camera.starts_with("emulated") {
        return Err(usage("--emulator-unplug-every needs --camera emulated"));
    }
    if let Some(several) = multi::parse(&a.camera) {
        several?;
        multi::check(a)?;
    }
    Ok(())
}

/// Every path option, before the camera or the emulator is opened.
fn check_paths(a: &WebcamArgs) -> anyhow::Result<()> {
    use super::paths;
    if let Some(p) = a.camera.strip_prefix("replay:") {
        paths::input("--camera replay:", Path::new(p), paths::Want::Any)?;
    }
    if !matches!(a.device.as_str(), "auto" | "none" | "null") {
        paths::video_device(Path::new(&a.device))?;
    }
    if let Some(p) = &a.record {
        paths::record_target(p, a.overwrite)?;
    }
    if let Some(p) = &a.dump_objects {
        paths::dir_to_write("--dump-objects", p)?;
    }
    if let Some(p) = &a.stats_json {
        paths::file_to_write("--stats-json", p)?;
    }
    if let Some(p) = &a.stills {
        paths::dir_to_write("--stills", p)?;
    }
    Ok(())
}

/// Where `control capture` saves stills taken while this webcam runs.
fn stills_dir(a: &WebcamArgs) -> anyhow::Result<PathBuf> {
    Ok(match &a.stills {
        Some(d) => std::path::absolute(d)
            .with_context(|| format!("--stills {}: cannot make it absolute", d.display()))?,
        // No HOME: the working directory (say so when a still is saved).
        None => super::offload::default_dest().or_else(|_| std::env::current_dir())?,
    })
}

/// Camera control for one camera of this webcam: a port on the live-view loop and, once
/// the camera's serial number is known, the control socket (one per serial).
fn control(stills: PathBuf, stats: Arc<ControlStats>) -> Control {
    let (tx, port) = alpha_bridge::control::channel(stats);
    let start = Box::new(move |serial: &str| {
        let path = socket::socket_path(serial);
        let server = socket::bind(&path).and_then(|l| {
            Server::start(l, path.clone(), tx.clone(), stills.clone()).map_err(|err| {
                socket::SocketError::Io {
                    path: path.clone(),
                    err,
                }
            })
        });
        match server {
            Ok(s) => {
                log::info!(
                    "camera control: `alpha-bridge control ...` (socket {})",
                    s.path().display()
                );
                Some(s)
            }
            Err(e) => {
                log::warn!("camera control is off: {e}");
                None
            }
        }
    });
    Control::new(port, start)
}

/// The summary line of camera control, when anything was asked.
fn control_line(cs: &ControlStats) -> Option<String> {
    let asked = cs.requests.load(Ordering::Relaxed);
    if asked == 0 {
        return None;
    }
    let stills = cs.stills.load(Ordering::Relaxed);
    let mut l = format!(
        "camera control: {}, {} failed",
        super::count(asked, "request"),
        cs.failed.load(Ordering::Relaxed)
    );
    if stills > 0 {
        l.push_str(&format!(
            ", {} taken, longest live-view gap {} ms",
            super::count(stills, "still"),
            cs.max_gap().as_millis()
        ));
    }
    Some(l)
}

pub(crate) fn run(a: &WebcamArgs) -> anyhow::Result<()> {
    check_options(a)?;
    check_paths(a)?;
    let backend = match &a.decoder {
        Some(name) => backend(name)?,
        None => Backend::default(),
    };
    let offload_cfg = a
        .offload
        .then(|| super::offload::side_config(a.dest.clone()))
        .transpose()?;
    // After every check of the user's options: nothing comes before a usage error.
    if backend == Backend::Zune {
        log::info!(
            "jpeg decoder: {backend}{}",
            if Backend::TurboJpeg.is_available() {
                ""
            } else {
                " (libturbojpeg.so.0 not found; install libturbojpeg0 for faster decoding)"
            }
        );
    } else {
        log::debug!("jpeg decoder: {backend}");
    }
    let stop = super::stop_flag()?;
    let connect = ConnectOptions {
        live_view_quality: Some(match a.live_view_quality.as_str() {
            "low" => LiveViewQuality::Low,
            _ => LiveViewQuality::High,
        }),
        ..Default::default()
    };
    if let Some(several) = multi::parse(&a.camera) {
        let prepared = multi::Prepared {
            backend,
            connect,
            offload: offload_cfg,
            stop,
        };
        return multi::run(a, several?, prepared);
    }
    let control_stats = Arc::new(ControlStats::default());
    let ctl = control(stills_dir(a)?, control_stats.clone());
    let (source, emu) = open_source(
        &a.camera,
        a.emulated_model.as_deref(),
        connect,
        ctl,
        a.root.as_deref(),
    )?;
    let unplugger = match (a.emulator_unplug_every, &emu) {
        (Some(every), Some(emu)) => Some(spawn_unplugger(
            emu.clone(),
            every,
            a.emulator_unplug_for.unwrap_or(Duration::from_secs(5)),
            stop.clone(),
        )?),
        _ => None,
    };
    let output = open_output(a)?;
    let opts = Options {
        output,
        record: a.record.clone(),
        overwrite: a.overwrite,
        dump_objects: a.dump_objects.clone(),
        max_frames: a.frames,
        duration: a.duration,
        fps: a.fps,
        backend,
        aspect: a.aspect(),
        stats_json: a.stats_json.clone(),
        reconnect: !a.camera.starts_with("replay:"),
        ..Options::default()
    };
    let offload = offload_cfg
        .map(|cfg| super::offload::side_task(cfg, stop.clone()))
        .transpose()?;
    let result = pipeline::run(source, opts, stop.clone());
    let unplugs = stop_side_tasks(&stop, offload, unplugger);
    let summary = result?;
    let mut lines = Vec::new();
    if let Some(emu) = &emu {
        // The body's own count of frames it made available while a host was connected
        // but was never asked for: the loss a soak run checks outside the unplug windows.
        let es = emu.stats();
        lines.push(format!(
            "emulated camera: {} served, {} skipped while connected, {}, {}",
            super::count(es.frames_served(), "frame"),
            es.frames_skipped(),
            super::count(es.connects(), "connect"),
            super::count(unplugs, "unplug"),
        ));
    }
    lines.extend(control_line(&control_stats));
    lines.extend(summary_lines(
        &summary.stats,
        a.has_video_device(),
        summary.recorded.as_ref(),
    ));
    // With `--record -` the recording is standard output: the summary goes aside.
    let to_stderr = a.record.as_deref() == Some(Path::new("-"));
    for l in lines {
        if to_stderr {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    }
    Ok(())
}

/// Size of a regular file (the whole recording), if it is one.
/// The end-of-run summary, one line per outcome: what came from the camera, what went
/// to the video device (only when there is one) and what was recorded, counted apart.
fn summary_lines(
    s: &Snapshot,
    video_device: bool,
    recorded: Option<&RecordSummary>,
) -> Vec<String> {
    use super::count;
    let mut first = format!(
        "{} captured in {:.1} s ({:.1} fps)",
        count(s.captured, "frame"),
        s.seconds,
        s.fps_in
    );
    if s.bad_frames > 0 {
        first.push_str(&format!(", {} unusable", s.bad_frames));
    }
    let mut lines = vec![first];
    if video_device {
        let mut l = format!("{} written to the video device", count(s.written, "frame"));
        if s.dropped > 0 {
            l.push_str(&format!(
                ", {} not (late, or over the --fps cap)",
                s.dropped
            ));
        }
        if s.placeholders > 0 {
            l.push_str(&format!(
                ", {} while the camera was away",
                count(s.placeholders, "placeholder")
            ));
        }
        lines.push(l);
    }
    if let Some(rec) = recorded {
        let to = alpha_bridge::sink::record::shown(&rec.path);
        lines.push(if rec.written || rec.stream {
            format!(
                "recorded {} to {to} ({})",
                count(rec.frames, "frame"),
                super::human_bytes(rec.file_bytes)
            )
        } else if rec.path.exists() {
            format!("recorded 0 frames: {to} was left as it was")
        } else {
            format!("recorded 0 frames: {to} was not created")
        });
    }
    lines
}

fn backend(name: &str) -> anyhow::Result<Backend> {
    match name {
        "zune" => Ok(Backend::Zune),
        "turbojpeg" if Backend::TurboJpeg.is_available() => Ok(Backend::TurboJpeg),
        _ => Err(super::usage(format!("the {name} decoder needs libturbojpeg.so.0, which is not installed: install libturbojpeg0 (Debian/Ubuntu) or turbojpeg (Fedora), or drop --decoder"))),
    }
}

/// The webcam ended (Ctrl-C, limits or an error): side tasks stop too. Returns how many
/// times the test-only unplugger pulled the emulated camera's cable.
fn stop_side_tasks(
    stop: &AtomicBool,
    offload: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    unplugger: Option<std::thread::JoinHandle<u64>>,
) -> u64 {
    stop.store(true, Ordering::SeqCst);
    if let Some(task) = offload {
        match task.join() {
            Ok(Err(e)) => log::error!("offload: {e:#}"),
            Err(_) => log::error!("offload: the thread panicked"),
            Ok(Ok(())) => {}
        }
    }
    unplugger.map_or(0, |t| t.join().unwrap_or(0))
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
        || (s
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok()))
    {
        s.to_string()
    } else if s.contains(':') && !s.starts_with('[') {
        format!("[{s}]:{}", alpha_bridge::ptp::ptpip::PORT)
    } else {
        format!("{s}:{}", alpha_bridge::ptp::ptpip::PORT)
    };
    with_port
        .to_socket_addrs()
        .with_context(|| {
            format!("--camera ptpip:{s}: not a host or address (try ptpip:192.168.1.20)")
        })?
        .next()
        .with_context(|| format!("--camera ptpip:{s}: the name has no address"))
}

fn open_source(
    camera: &str,
    emulated_model: Option<&str>,
    connect: ConnectOptions,
    ctl: Control,
    root: Option<&Path>,
) -> anyhow::Result<Opened> {
    if let Some(host) = camera.strip_prefix("ptpip:") {
        let addr = ptpip_addr(host)?;
        let stored = alpha_bridge::config::Config::load_default()
            .context("cannot read this computer's identity")?;
        stored.warn_unknown_keys();
        let guid = match stored.guid {
            Some(g) => g,
            None => super::offload::unpaired_guid(&stored)?,
        };
        log::info!("camera over the network at {addr}");
        return Ok((
            Box::new(
                PtpIpSource::new(addr, guid, stored.host_name(), live_view_tcp(), connect)
                    .with_control(ctl),
            ),
            None,
        ));
    }
    if let Some(path) = camera.strip_prefix("replay:") {
        log::info!("replaying {path}");
        return Ok((
            Box::new(ReplaySource::new(PathBuf::from(path), 30, false)),
            None,
        ));
    }
    if camera == "emulated" {
        let body = emulated_model
            .and_then(Body::profile)
            .unwrap_or_else(Body::ilce_6400);
        log::info!("using the built-in emulated camera ({})", body.model);
        let emu = Arc::new(UsbEmulator::new(body));
        let e = emu.clone();
        let open = Box::new(move || e.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        return Ok((
            Box::new(CameraSource::new("emulated camera", open, connect).with_control(ctl)),
            Some(emu),
        ));
    }
    let selector = if camera == "auto" {
        usb::Selector::First
    } else {
        usb::Selector::Serial(camera.to_string())
    };
    // Find it now so that "no camera" is reported at once with what to do.
    let (found, sys) = super::list::devices(root).context("cannot look for cameras over USB")?;
    if found.is_empty() {
        bail!(
            "no Sony camera found over USB: connect it with the camera set to PC Remote \
             (MENU → Setup → USB Connection → PC Remote; menu names vary by model); to try \
             alpha-bridge without a camera run \
             `alpha-bridge webcam --camera emulated --record demo.mjpeg --duration 10s`"
        );
    }
    // A body in another USB mode is told what to change now, not after retries.
    let wanted = (camera != "auto").then_some(camera);
    match super::list::usb_mode_verdict(&found, wanted, &sys) {
        super::list::Verdict::WrongMode(why) => bail!("{why}"),
        super::list::Verdict::AlsoStreaming(note) => log::warn!("{note}"),
        super::list::Verdict::Usable => {}
    }
    let label = format!("USB camera {camera}");
    let open = Box::new(move || {
        usb::open(&selector, usb::InterfaceClass::Ptp).map(|t| Box::new(t) as Box<dyn Transport>)
    });
    Ok((
        Box::new(CameraSource::new(label, open, connect).with_control(ctl)),
        None,
    ))
}

fn open_output(a: &WebcamArgs) -> anyhow::Result<Output> {
    if let Some(out) = super::webcam_pipewire::open(&a.output, &a.device, a.fps)? {
        return Ok(out);
    }
    let format = if a.passthrough() {
        OutputFormat::Mjpeg
    } else {
        OutputFormat::Yuyv
    };
    let sink: Box<dyn FrameSink> = match a.device.as_str() {
        "none" => return Ok(Output::None),
        // Benchmarks and soak runs: decode every frame, write nowhere.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, frames: u64, file_bytes: u64) -> RecordSummary {
        RecordSummary {
            path: PathBuf::from(path),
            frames,
            jpeg_bytes: file_bytes,
            file_bytes,
            slots: 0,
            written: frames > 0,
            stream: false,
        }
    }

    fn snap(captured: u64, written: u64, dropped: u64) -> Snapshot {
        Snapshot {
            seconds: 1.0,
            captured,
            written,
            dropped,
            fps_in: captured as f64,
            ..Snapshot::default()
        }
    }

    #[test]
    fn summary_counts_recorded_and_written_apart_with_plurals() {
        // --device none: nothing is said about a video device, the recording is counted.
        let l = summary_lines(&snap(30, 0, 0), false, Some(&rec("a.mjpeg", 30, 100)));
        assert_eq!(
            l,
            [
                "30 frames captured in 1.0 s (30.0 fps)",
                "recorded 30 frames to a.mjpeg (100 bytes)"
            ]
        );
        assert!(!l.join("\n").contains("written"), "{l:?}");
        let l = summary_lines(&snap(1, 1, 0), true, Some(&rec("b.avi", 1, 2048)));
        assert_eq!(
            l,
            [
                "1 frame captured in 1.0 s (1.0 fps)",
                "1 frame written to the video device",
                "recorded 1 frame to b.avi (2.0 KiB)"
            ]
        );
        let l = summary_lines(
            &snap(0, 0, 0),
            false,
            Some(&rec("/nonexistent/c.mjpeg", 0, 0)),
        );
        assert_eq!(
            l[1],
            "recorded 0 frames: /nonexistent/c.mjpeg was not created"
        );
        let l = summary_lines(&snap(10, 8, 2), true, None);
        assert_eq!(
            l[1],
            "8 frames written to the video device, 2 not (late, or over the --fps cap)"
        );
    }
}
