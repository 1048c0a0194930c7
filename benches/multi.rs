//! Several cameras at once (issue 17 target 5): in-process emulated bodies at 30 fps
//! each serving pre-encoded 1024x680 test-card frames (so the body's own cost is a copy,
//! not a JPEG encode), served by `pipeline::multi::run_all` into null sinks (every frame
//! decoded to YUYV, written nowhere). Rounds alternate one camera and two cameras in one
//! run; each round reports per camera the frames per second the body served (fetched by
//! the bridge) and the bridge's CPU (every thread but the emulated bodies', from
//! /proc/self/task over a window after a warm-up), the frames lost (dropped in the
//! pipeline, unusable, or made available by the body but never fetched) and the pictures
//! written per second over the whole run. The closing lines give the ratio of the bridge's CPU
//! per camera with two cameras to the figure with one (target ≤ 1.10) and the frames
//! lost (target 0).
//!
//! Not a criterion benchmark: the quantity is CPU load at a fixed frame rate. Run:
//! `cargo bench --bench multi`. A stand-in for the VM's one software-emulated vCPU, where
//! the decoder cannot keep up with the body: `taskset -c 1 qemu-x86_64 -cpu max
//! target/release/deps/multi-HASH --bench` (package qemu-user). `MULTI_BENCH_SECS` (measured seconds per round, default
//! 10) and `MULTI_BENCH_ROUNDS` (pairs of rounds, default 2).

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::emulator::testcard::TestCard;
use alpha_bridge::emulator::{Body, EmulatorError, FrameContent, UsbEmulator};
use alpha_bridge::pipeline::multi::{run_all, Fleet, Found, MultiOptions};
use alpha_bridge::pipeline::source::{CameraSource, FrameSource};
use alpha_bridge::pipeline::{Options, Output};
use alpha_bridge::sink::{FrameSink, NullSink};
use alpha_bridge::transport::Transport;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FPS: f64 = 30.0;
const WARMUP: Duration = Duration::from_secs(2);
const EMULATOR_THREAD: &str = "emu-usb-camera";

/// The same pre-encoded frames, round and round.
struct Prerecorded(Arc<Vec<Vec<u8>>>);

impl FrameContent for Prerecorded {
    fn next_jpeg(&mut self, index: u64) -> Result<&[u8], EmulatorError> {
        Ok(&self.0[(index % self.0.len() as u64) as usize])
    }
    fn size(&self) -> (u32, u32) {
        (1024, 680)
    }
    fn set_size(&mut self, width: u32, height: u32) -> Result<(), EmulatorError> {
        if (width, height) == self.size() {
            Ok(())
        } else {
            Err(EmulatorError::Content(
                "pre-encoded frames have one size".into(),
            ))
        }
    }
}

struct BenchFleet(Vec<Arc<UsbEmulator>>);

impl Fleet for BenchFleet {
    fn scan(&mut self) -> Vec<Found> {
        self.0
            .iter()
            .map(|e| Found {
                key: e.body().serial.clone(),
                label: format!("emulated {}", e.body().serial),
            })
            .collect()
    }
    fn start(&mut self, found: &Found) -> Result<(Box<dyn FrameSource>, Options), String> {
        let emu = self
            .0
            .iter()
            .find(|e| e.body().serial == found.key)
            .cloned()
            .ok_or("unknown body")?;
        let open = Box::new(move || emu.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        let source = CameraSource::new(found.label.clone(), open, ConnectOptions::default());
        let opts = Options {
            output: Output::Yuyv(Box::new(NullSink::new()) as Box<dyn FrameSink>),
            stats_interval: Duration::from_secs(3600),
            ..Options::default()
        };
        Ok((Box::new(source), opts))
    }
}

/// CPU seconds (user + system) of this process's live threads: (bridge, bodies).
#[allow(unsafe_code)] // FFI; the unsafe block says why it is sound
fn thread_cpu() -> (f64, f64) {
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let me = std::thread::current().name().map(str::to_string);
    let (mut bridge, mut bodies) = (0.0, 0.0);
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // ended meanwhile
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After "(comm) ": state is field 3, utime 14 and stime 15 of stat(5).
        let t = (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / tick;
        if name == EMULATOR_THREAD {
            bodies += t;
        } else if Some(name) != me.as_deref() {
            bridge += t;
        }
    }
    (bridge, bodies)
}

struct Round {
    cameras: usize,
    fps: Vec<f64>,
    bridge_cpu_per_camera: f64,
    bodies_cpu_per_camera: f64,
    lost: u64,
    /// Pictures written per second and camera over the whole run (warm-up included).
    delivered: f64,
}

fn round(cameras: usize, frames: &Arc<Vec<Vec<u8>>>, secs: u64, round_no: u64) -> Round {
    let emus: Vec<Arc<UsbEmulator>> = (0..cameras)
        .map(|i| {
            let body = Body::ilce_6400()
                .with_serial(&format!("{:016}", round_no * 10 + i as u64 + 1))
                .with_fps(FPS)
                .with_content(Box::new(Prerecorded(frames.clone())));
            Arc::new(UsbEmulator::new(body))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut fleet = BenchFleet(emus.clone());
    let started = Instant::now();
    let supervisor = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("bench-supervise".into())
            .spawn(move || {
                let opts = MultiOptions {
                    scan_interval: Duration::from_millis(100),
                    duration: None,
                };
                run_all(&mut fleet, opts, stop)
            })
            .unwrap()
    };
    std::thread::sleep(WARMUP);
    let served0: Vec<u64> = emus.iter().map(|e| e.stats().frames_served()).collect();
    let (b0, e0) = thread_cpu();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (b1, e1) = thread_cpu();
    let wall = t0.elapsed().as_secs_f64();
    let fps = emus
        .iter()
        .zip(&served0)
        .map(|(e, s0)| (e.stats().frames_served() - s0) as f64 / wall)
        .collect();
    stop.store(true, Ordering::SeqCst);
    let runs = supervisor.join().unwrap();
    let run_secs = started.elapsed().as_secs_f64();
    let mut lost = 0;
    let mut written = 0;
    let skipped: HashMap<String, u64> = emus
        .iter()
        .map(|e| (e.body().serial.clone(), e.stats().frames_skipped()))
        .collect();
    for r in &runs {
        let s = &r.result.as_ref().expect("camera run").stats;
        lost += s.dropped + s.bad_frames + skipped[&r.found.key];
        written += s.written;
    }
    assert_eq!(runs.len(), cameras, "every camera ran once");
    Round {
        cameras,
        fps,
        bridge_cpu_per_camera: (b1 - b0) / wall / cameras as f64,
        bodies_cpu_per_camera: (e1 - e0) / wall / cameras as f64,
        lost,
        delivered: written as f64 / run_secs / cameras as f64,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let secs = env("MULTI_BENCH_SECS", 10).max(1);
    let pairs = env("MULTI_BENCH_ROUNDS", 2).max(1);
    let mut card = TestCard::new(1024, 680).expect("test card");
    let frames: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..60)
            .map(|i| card.frame(i).expect("frame").to_vec())
            .collect(),
    );
    println!(
        "multi: {pairs} x (1 camera, 2 cameras) alternating, {FPS} fps each, pre-encoded \
         1024x680, null sinks, {secs} s measured per round after {} s warm-up, {} cores, \
         load {}",
        WARMUP.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut one = Vec::new();
    let mut two = Vec::new();
    let mut lost = 0;
    for p in 0..pairs {
        for cameras in [1, 2] {
            let r = round(cameras, &frames, secs, p * 2 + cameras as u64);
            println!(
                "  {} camera{}: fps per camera {}; bridge CPU per camera {:.1} % of a core \
                 ({:.2} ms per frame); emulated body {:.1} %; frames lost {}; delivered \
                 {:.1} fps per camera over the whole run",
                r.cameras,
                if r.cameras == 1 { " " } else { "s" },
                r.fps
                    .iter()
                    .map(|f| format!("{f:.1}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                r.bridge_cpu_per_camera * 100.0,
                r.bridge_cpu_per_camera * 1000.0
                    / (r.fps.iter().sum::<f64>() / r.cameras as f64).max(1e-9),
                r.bodies_cpu_per_camera * 100.0,
                r.lost,
                r.delivered
            );
            lost += r.lost;
            if cameras == 1 {
                one.push(r.bridge_cpu_per_camera);
            } else {
                two.push(r.bridge_cpu_per_camera);
            }
        }
    }
    let (m1, m2) = (median(one), median(two));
    println!(
        "multi: bridge CPU per camera, two cameras vs one: {:.1} % vs {:.1} % of a core, \
         ratio {:.2}x (target <= 1.10x); frames lost {lost} (target 0)",
        m2 * 100.0,
        m1 * 100.0,
        m2 / m1.max(1e-9)
    );
}
