//! Several cameras at once (`webcam --camera all`): one whole pipeline per body, each
//! with its own threads, output and stop flag, under a supervisor that looks for bodies
//! about once a second.
//!
//! - A body seen for the first time gets a pipeline (its output comes from the caller's
//!   [`Fleet::start`]).
//! - A body that leaves keeps its pipeline: the capture thread reconnects by itself and
//!   the writer shows placeholders on that body's output only, so it comes back on the
//!   same device.
//! - A pipeline that fails (the body refused the session, its device was taken) stops
//!   alone: the others never see its stop flag. It is started again once the body has
//!   been seen gone and back (a replug), not in a loop.
//! - The caller's stop flag (Ctrl-C) or the deadline stops every pipeline; each drains
//!   and reports its own [`Summary`].

use super::{run, Options, PipelineError, Summary};
use crate::pipeline::source::FrameSource;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A body the caller's scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What identifies the body across replugs (its USB serial number).
    pub key: String,
    /// For people and logs: "ILCE-6400 0123456789".
    pub label: String,
}

/// What the supervisor needs from its caller: which bodies are there, and for a body a
/// source and the pipeline settings (with the output the body's pictures go to).
pub trait Fleet {
    /// The bodies present now. Called about once a second; should not block long.
    fn scan(&mut self) -> Vec<Found>;
    /// A source and settings for `found`'s pipeline. An error (no free video device)
    /// is logged and tried again at a later scan.
    fn start(&mut self, found: &Found) -> Result<(Box<dyn FrameSource>, Options), String>;
    /// `found`'s pipeline ended (its output is free again).
    fn ended(&mut self, _found: &Found) {}
}

/// The supervisor's own settings.
#[derive(Debug, Clone)]
pub struct MultiOptions {
    /// How often to scan for bodies.
    pub scan_interval: Duration,
    /// Stop everything after this long.
    pub duration: Option<Duration>,
}

impl Default for MultiOptions {
    fn default() -> Self {
        MultiOptions {
            scan_interval: Duration::from_secs(1),
            duration: None,
        }
    }
}

/// How one body's pipeline ended. A body replugged after a failure has one entry per run.
#[derive(Debug)]
pub struct CameraRun {
    /// The body.
    pub found: Found,
    /// What its pipeline did, or why it stopped.
    pub result: Result<Summary, PipelineError>,
}

struct Running {
    found: Found,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Summary, PipelineError>>,
}

/// Serves every body `fleet` finds until `stop` is set or the duration is over; returns
/// each pipeline's outcome, in the order they ended.
pub fn run_all(fleet: &mut dyn Fleet, opts: MultiOptions, stop: Arc<AtomicBool>) -> Vec<CameraRun> {
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut running: Vec<Running> = Vec::new();
    let mut done: Vec<CameraRun> = Vec::new();
    // Bodies whose pipeline ended by itself, and whether a scan has since missed them
    // (then their return starts a new pipeline).
    let mut failed: HashMap<String, bool> = HashMap::new();
    let mut waiting_said = false;
    // Bodies whose start failed (no free device): said once, then tried quietly.
    let mut start_failed: HashSet<String> = HashSet::new();
    loop {
        if stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // Reap the pipelines that ended by themselves (an error, or their own limits).
        let mut i = 0;
        while i < running.len() {
            if running[i].thread.is_finished() {
                let r = running.swap_remove(i);
                let run = finish(r);
                fleet.ended(&run.found);
                // Ended by itself (an error): not restarted in a loop, only after a replug.
                failed.insert(run.found.key.clone(), false);
                done.push(run);
            } else {
                i += 1;
            }
        }
        let present = fleet.scan();
        let keys: HashSet<&str> = present.iter().map(|f| f.key.as_str()).collect();
        for (key, gone) in failed.iter_mut() {
            if !keys.contains(key.as_str()) {
                *gone = true;
            }
        }
        for f in &present {
            if running.iter().any(|r| r.found.key == f.key) {
                continue;
            }
            match failed.get(&f.key) {
                Some(false) => continue,
                Some(true) => {
                    log::info!("{}: plugged back in; starting it again", f.label);
                    failed.remove(&f.key);
                }
                None => {}
            }
            match fleet.start(f) {
                Ok((source, mut o)) => {
                    start_failed.remove(&f.key);
                    o.duration = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    o.label.get_or_insert_with(|| f.label.clone());
                    let cam_stop = Arc::new(AtomicBool::new(false));
                    let thread = spawn_pipeline(&f.key, source, o, cam_stop.clone());
                    running.push(Running {
                        found: f.clone(),
                        stop: cam_stop,
                        thread,
                    });
                }
                Err(e) if start_failed.insert(f.key.clone()) => {
                    log::warn!("{}: {e}; tried again while it stays connected", f.label)
                }
                Err(e) => log::debug!("{}: {e}", f.label),
            }
        }
        if running.is_empty() && present.is_empty() && !waiting_said {
            log::info!("waiting for a Sony camera in PC Remote mode");
            waiting_said = true;
        }
        sleep_unless(opts.scan_interval, &stop, deadline);
    }
    // Ctrl-C or the deadline: every pipeline stops and drains.
    for r in &running {
        r.stop.store(true, Ordering::SeqCst);
    }
    for r in running {
        let run = finish(r);
        fleet.ended(&run.found);
        done.push(run);
    }
    done
}

fn spawn_pipeline(
    key: &str,
    source: Box<dyn FrameSource>,
    opts: Options,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Result<Summary, PipelineError>> {
    // Thread names are at most 15 bytes on Linux: the serial's tail tells bodies apart.
    let tail: String = key
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    std::thread::Builder::new()
        .name(format!("cam-{tail}"))
        .spawn(move || run(source, opts, stop))
        .unwrap_or_else(|e| panic!("cannot start a camera thread: {e}"))
}

fn finish(r: Running) -> CameraRun {
    let result = r
        .thread
        .join()
        .unwrap_or(Err(PipelineError::Panicked("camera")));
    if let Err(e) = &result {
        log::error!(
            "{}: {e}; the other cameras go on (replug this one to try it again)",
            r.found.label
        );
    }
    CameraRun {
        found: r.found,
        result,
    }
}

fn sleep_unless(d: Duration, stop: &AtomicBool, deadline: Option<Instant>) {
    let mut end = Instant::now() + d;
    if let Some(dl) = deadline {
        end = end.min(dl);
    }
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
    }
}
