//! `webcam --camera all` (every Sony body on USB in PC Remote mode, with hotplug) and
//! the test form `--camera emulated:N` (N in-process emulated bodies): one pipeline and
//! one output per body, under [`pipeline::multi`].
//!
//! Outputs: a v4l2loopback node per body, picked from the free ones (Debian 12's
//! v4l2loopback 0.12.7 cannot add or rename devices at run time: names come from
//! `card_label` at module load, so the log says which node is which body), a PipeWire
//! node per body named by model and serial, or the null sink. A body keeps its node
//! for the whole run: unplugged, it shows placeholders there; back, it streams there.

use super::WebcamArgs;
use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::control::ControlStats;
use alpha_bridge::decode::Backend;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::multi::{self, CameraRun, Fleet, Found, MultiOptions};
use alpha_bridge::pipeline::source::{CameraSource, Control, FrameSource};
use alpha_bridge::pipeline::{Options, Output};
use alpha_bridge::sink::v4l2::{OutputFormat, V4l2Sink};
use alpha_bridge::sink::{FrameSink, NullSink, SourceInfo};
use alpha_bridge::transport::usb::{self, InterfaceClass, Selector, UsbDeviceInfo, UsbMode};
use alpha_bridge::transport::Transport;
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// At most this many in-process emulated bodies (`--camera emulated:N`).
const MAX_EMULATED: usize = 8;

/// Which bodies `--camera` asks for when it asks for several.
pub(super) enum Bodies {
    Usb,
    Emulated(usize),
}

/// `all` or `emulated:N`; `None` for the one-camera forms.
pub(super) fn parse(camera: &str) -> Option<anyhow::Result<Bodies>> {
    if camera == "all" {
        return Some(Ok(Bodies::Usb));
    }
    let n = camera.strip_prefix("emulated:")?;
    Some(match n.parse::<usize>() {
        Ok(n) if (1..=MAX_EMULATED).contains(&n) => Ok(Bodies::Emulated(n)),
        _ => Err(super::super::usage(format!(
            "--camera emulated:{n}: give a number of emulated cameras from 1 to {MAX_EMULATED}"
        ))),
    })
}

/// Options that mean one camera are refused with several.
pub(super) fn check(a: &WebcamArgs) -> anyhow::Result<()> {
    use super::super::usage;
    let one_camera = [
        ("--record", a.record.is_some()),
        ("--dump-objects", a.dump_objects.is_some()),
        ("--frames", a.frames.is_some()),
    ];
    if let Some((opt, _)) = one_camera.iter().find(|(_, given)| *given) {
        return Err(usage(format!(
            "{opt} works with one camera: pick it with --camera SERIAL (see `alpha-bridge \
             list`), or run one alpha-bridge per camera; --camera {} serves several",
            a.camera
        )));
    }
    if !matches!(a.device.as_str(), "auto" | "null") {
        return Err(usage(format!(
            "--camera {} gives each camera its own video device: use --device auto (free \
             v4l2loopback devices, one per camera, e.g. loaded with devices=2) or \
             --output pipewire, not --device {}",
            a.camera, a.device
        )));
    }
    Ok(())
}

/// Where each body's pictures go.
enum OutKind {
    V4l2(OutputFormat),
    Pipewire,
    Null,
}

/// Outputs handed out per body. A v4l2loopback node stays the body's for the run.
struct Outputs {
    kind: OutKind,
    fps: u32,
    nodes: HashMap<String, PathBuf>,
    /// Per body, where its pictures go ("/dev/video10"), for the summary.
    shown: HashMap<String, String>,
}

impl Outputs {
    fn open(&mut self, found: &Found, info: &SourceInfo) -> Result<Output, String> {
        let (out, shown) = match &self.kind {
            OutKind::Null => (
                Output::Yuyv(Box::new(NullSink::new()) as Box<dyn FrameSink>),
                "null".to_string(),
            ),
            OutKind::Pipewire => {
                let mut out = super::super::webcam_pipewire::open_node(self.fps)
                    .map_err(|e| format!("{e:#}"))?;
                if let Output::Negotiated(sink, _) = &mut out {
                    sink.set_source(info);
                }
                let name = pipewire_name(info);
                (out, format!("PipeWire node {name}"))
            }
            &OutKind::V4l2(format) => {
                let own = self.nodes.get(&found.key).cloned();
                let taken: Vec<PathBuf> = self.nodes.values().cloned().collect();
                let sink = V4l2Sink::open_except(own.as_deref(), &taken, format, self.fps)
                    .map_err(|e| {
                        format!(
                            "no video device for it: {e} (load one v4l2loopback device per \
                             camera, e.g. devices=2 video_nr=10,11)"
                        )
                    })?;
                let path = sink.path().to_path_buf();
                let shown = format!("{} (card \"{}\")", path.display(), sink.card());
                self.nodes.insert(found.key.clone(), path);
                let sink: Box<dyn FrameSink> = Box::new(sink);
                let out = match format {
                    OutputFormat::Mjpeg => Output::Mjpeg(sink),
                    OutputFormat::Yuyv => Output::Yuyv(sink),
                };
                (out, shown)
            }
        };
        log::info!("camera {} → {shown}", found.label);
        self.shown.insert(found.key.clone(), shown);
        Ok(out)
    }
}

#[cfg(feature = "pipewire")]
fn pipewire_name(info: &SourceInfo) -> String {
    format!("\"{}\"", alpha_bridge::sink::pipewire::node_name(info))
}

#[cfg(not(feature = "pipewire"))]
fn pipewire_name(_info: &SourceInfo) -> String {
    String::new()
}

/// How bodies are found.
enum Finder {
    Usb {
        watcher: usb::UsbWatcher,
        present: Vec<UsbDeviceInfo>,
    },
    Emulated(Vec<Arc<UsbEmulator>>),
}

struct CliFleet {
    finder: Finder,
    outputs: Outputs,
    connect: ConnectOptions,
    fps: u32,
    backend: Backend,
    aspect: alpha_bridge::pipeline::Aspect,
    /// Per key: how to reopen the body, and its model and serial.
    known: HashMap<String, (Selector, SourceInfo)>,
    /// Where `control capture` saves stills.
    stills: PathBuf,
    /// Per key: camera control's counts (kept across the body's pipeline runs).
    control: HashMap<String, Arc<ControlStats>>,
}

/// The key a body keeps across replugs: its serial number (or, without one, its port).
fn usb_found(info: &UsbDeviceInfo) -> Option<(Found, Selector, SourceInfo)> {
    if info.mode != UsbMode::Ptp || !info.offers(InterfaceClass::Ptp) {
        return None;
    }
    let model = info.display_name();
    let (key, selector) = match info.serial.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => (s.to_string(), Selector::Serial(s.to_string())),
        _ => (
            format!("port {}", info.port),
            Selector::BusAddress {
                bus: info.bus,
                address: info.address,
            },
        ),
    };
    let found = Found {
        label: format!("{model} {key}"),
        key: key.clone(),
    };
    let sinfo = SourceInfo {
        model,
        serial: info.serial.clone().unwrap_or_default(),
        show_serial: true,
    };
    Some((found, selector, sinfo))
}

impl Fleet for CliFleet {
    fn scan(&mut self) -> Vec<Found> {
        match &mut self.finder {
            Finder::Usb { watcher, present } => {
                while let Ok(Some(ev)) = watcher.recv_timeout(Duration::ZERO) {
                    match ev {
                        usb::UsbEvent::Arrived(i) => {
                            if i.mode != UsbMode::Ptp {
                                log::info!(
                                    "{} is in {} mode: set it to PC Remote (MENU → USB \
                                     Connection → PC Remote) to serve it",
                                    i.display_name(),
                                    i.mode.as_str()
                                );
                            }
                            present.push(i);
                        }
                        usb::UsbEvent::Left(i) => present.retain(|p| {
                            (p.bus, p.address, p.product_id) != (i.bus, i.address, i.product_id)
                        }),
                    }
                }
                let mut out = Vec::new();
                for (f, sel, info) in present.iter().filter_map(usb_found) {
                    self.known.insert(f.key.clone(), (sel, info));
                    out.push(f);
                }
                out
            }
            Finder::Emulated(emus) => emus
                .iter()
                .filter(|e| e.is_plugged())
                .map(|e| {
                    let b = e.body();
                    Found {
                        key: b.serial.clone(),
                        label: format!("{} {}", b.model, b.serial),
                    }
                })
                .collect(),
        }
    }

    fn start(&mut self, found: &Found) -> Result<(Box<dyn FrameSource>, Options), String> {
        let (source, info): (Box<dyn FrameSource>, SourceInfo) = match &self.finder {
            Finder::Usb { .. } => {
                let (sel, info) = self
                    .known
                    .get(&found.key)
                    .cloned()
                    .ok_or("not seen by the scan")?;
                let open = Box::new(move || {
                    usb::open(&sel, InterfaceClass::Ptp).map(|t| Box::new(t) as Box<dyn Transport>)
                });
                let s = CameraSource::new(found.label.clone(), open, self.connect.clone())
                    .with_control(self.control_for(found));
                (Box::new(s), info)
            }
            Finder::Emulated(emus) => {
                let emu = emus
                    .iter()
                    .find(|e| e.body().serial == found.key)
                    .cloned()
                    .ok_or("no such emulated camera")?;
                let info = SourceInfo {
                    model: emu.body().model.clone(),
                    serial: emu.body().serial.clone(),
                    show_serial: true,
                };
                let open =
                    Box::new(move || emu.connect().map(|h| Box::new(h) as Box<dyn Transport>));
                let s = CameraSource::new(found.label.clone(), open, self.connect.clone())
                    .with_control(self.control_for(found));
                (Box::new(s), info)
            }
        };
        let output = self.outputs.open(found, &info)?;
        let opts = Options {
            output,
            fps: self.fps,
            backend: self.backend,
            aspect: self.aspect,
            reconnect: true,
            wait_for_camera: true,
            label: Some(found.label.clone()),
            ..Options::default()
        };
        Ok((source, opts))
    }
}

impl CliFleet {
    /// Camera control for `found`'s pipeline: its own socket, named by its serial.
    fn control_for(&mut self, found: &Found) -> Control {
        let stats = self.control.entry(found.key.clone()).or_default().clone();
        super::control(self.stills.clone(), stats)
    }
}

/// The emulated bodies of `--camera emulated:N`: ILCE-6400s with serials 0…01, 0…02, …
fn emulated_bodies(n: usize) -> Vec<Arc<UsbEmulator>> {
    (1..=n)
        .map(|i| {
            let body = Body::ilce_6400().with_serial(&format!("{i:016}"));
            Arc::new(UsbEmulator::new(body))
        })
        .collect()
}

/// What `webcam::run` settled before the camera is touched.
pub(super) struct Prepared {
    pub(super) backend: Backend,
    pub(super) connect: ConnectOptions,
    pub(super) offload: Option<alpha_bridge::offload::OffloadConfig>,
    pub(super) stop: Arc<AtomicBool>,
}

pub(super) fn run(a: &WebcamArgs, bodies: Bodies, p: Prepared) -> anyhow::Result<()> {
    let Prepared {
        backend,
        connect,
        offload,
        stop,
    } = p;
    let kind = if a.device == "null" {
        OutKind::Null
    } else if super::super::webcam_pipewire::wanted(&a.output, &a.device) {
        OutKind::Pipewire
    } else if a.passthrough() {
        OutKind::V4l2(OutputFormat::Mjpeg)
    } else {
        OutKind::V4l2(OutputFormat::Yuyv)
    };
    let (finder, emus) = match bodies {
        Bodies::Usb => {
            let watcher = usb::UsbWatcher::start().context("cannot watch for cameras over USB")?;
            log::info!("serving every Sony camera in PC Remote mode on USB, as they come");
            (
                Finder::Usb {
                    watcher,
                    present: Vec::new(),
                },
                Vec::new(),
            )
        }
        Bodies::Emulated(n) => {
            let emus = emulated_bodies(n);
            log::info!("using {} built-in emulated cameras", emus.len());
            (Finder::Emulated(emus.clone()), emus)
        }
    };
    let unplugger = match (a.emulator_unplug_every, emus.first()) {
        (Some(every), Some(first)) => Some(super::spawn_unplugger(
            first.clone(),
            every,
            a.emulator_unplug_for.unwrap_or(Duration::from_secs(5)),
            stop.clone(),
        )?),
        _ => None,
    };
    let offload = offload
        .map(|cfg| super::super::offload::side_task(cfg, stop.clone()))
        .transpose()?;
    let mut fleet = CliFleet {
        finder,
        outputs: Outputs {
            kind,
            fps: a.fps,
            nodes: HashMap::new(),
            shown: HashMap::new(),
        },
        connect,
        fps: a.fps,
        backend,
        aspect: a.aspect(),
        known: HashMap::new(),
        stills: super::stills_dir(a)?,
        control: HashMap::new(),
    };
    let mopts = MultiOptions {
        duration: a.duration,
        ..MultiOptions::default()
    };
    let runs = multi::run_all(&mut fleet, mopts, stop.clone());
    let unplugs = super::stop_side_tasks(&stop, offload, unplugger);
    report(
        &runs,
        &fleet.outputs.shown,
        &fleet.control,
        &emus,
        unplugs,
        a.has_video_device(),
    );
    if let Some(path) = &a.stats_json {
        write_stats(path, &runs, &fleet.outputs.shown)?;
    }
    let failed = runs.iter().filter(|r| r.result.is_err()).count();
    if failed > 0 {
        anyhow::bail!(
            "{} of {} failed (the errors are above)",
            failed,
            super::super::count(runs.len() as u64, "camera run")
        );
    }
    Ok(())
}

/// Per camera: where it went, then the one-camera summary lines, indented.
fn report(
    runs: &[CameraRun],
    shown: &HashMap<String, String>,
    control: &HashMap<String, Arc<ControlStats>>,
    emus: &[Arc<UsbEmulator>],
    unplugs: u64,
    video_device: bool,
) {
    if runs.is_empty() {
        println!("no camera came");
    }
    for r in runs {
        let to = shown.get(&r.found.key).map_or("", String::as_str);
        println!("{} → {to}:", r.found.label);
        if let Some((i, emu)) = emus
            .iter()
            .enumerate()
            .find(|(_, e)| e.body().serial == r.found.key)
        {
            let es = emu.stats();
            println!(
                "  emulated camera: {} served, {} skipped while connected, {}, {}",
                super::super::count(es.frames_served(), "frame"),
                es.frames_skipped(),
                super::super::count(es.connects(), "connect"),
                super::super::count(if i == 0 { unplugs } else { 0 }, "unplug"),
            );
        }
        if let Some(l) = control
            .get(&r.found.key)
            .and_then(|c| super::control_line(c))
        {
            println!("  {l}");
        }
        match &r.result {
            Ok(s) => {
                for l in super::summary_lines(&s.stats, video_device, None) {
                    println!("  {l}");
                }
            }
            Err(e) => println!("  failed: {e}"),
        }
    }
}

/// `--stats-json` with several cameras: `{"cameras": [{"camera", "serial", "output",
/// "stats"}]}`, each `stats` as the one-camera file has it.
fn write_stats(
    path: &Path,
    runs: &[CameraRun],
    shown: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let cams: Vec<serde_json::Value> = runs
        .iter()
        .filter_map(|r| {
            let s = r.result.as_ref().ok()?;
            let stats: serde_json::Value = serde_json::from_str(&s.stats.to_json()).ok()?;
            Some(serde_json::json!({
                "camera": r.found.label,
                "serial": r.found.key,
                "output": shown.get(&r.found.key),
                "stats": stats,
            }))
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "cameras": cams }))?;
    alpha_bridge::fsutil::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write the stats file {}", path.display()))
}
