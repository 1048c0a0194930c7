//! The webcam pipeline run into a sink that reads back the emulated body's frame
//! counter from every picture, for the tests that check live frames arrive in order,
//! placeholders fill the gaps and live frames come back.

use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::pipeline::source::FrameSource;
use alpha_bridge::pipeline::{self, Options, Output, Summary};
use alpha_bridge::sink::{FrameSink, Picture, SinkError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Waits for `cond`, polling; panics with `what` after a generous limit (a hang is a
/// failure, but no test depends on how fast things happen).
pub(crate) fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(90);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// One picture the sink got: the emulator's frame counter read back (None for an
/// unreadable picture) and its size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shot {
    pub(crate) counter: Option<u32>,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// Every picture the sink got, shared with the test.
#[derive(Clone, Default)]
pub(crate) struct Seen(Arc<Mutex<Vec<Shot>>>);

impl Seen {
    pub(crate) fn all(&self) -> Vec<Shot> {
        self.0.lock().unwrap().clone()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    /// The live frames so far, see [`live_counters`].
    pub(crate) fn live(&self) -> Vec<u32> {
        live_counters(&self.0.lock().unwrap())
    }
}

/// Live frames in order: the readable counters, with a placeholder's repeat of the
/// previous picture left out (a placeholder is the last picture dimmed, so its counter
/// still reads back but repeats).
pub(crate) fn live_counters(shots: &[Shot]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for c in shots.iter().filter_map(|s| s.counter) {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

/// A YUYV sink that checks each picture and records it in a [`Seen`].
pub(crate) struct CapturingSink(pub(crate) Seen);

impl FrameSink for CapturingSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        pic.validate()?;
        if let Picture::Yuyv {
            width,
            height,
            data,
        } = pic
        {
            let counter = read_counter_yuyv(data, *width, *height);
            self.0 .0.lock().unwrap().push(Shot {
                counter,
                width: *width,
                height: *height,
            });
        }
        Ok(())
    }

    fn name(&self) -> String {
        "capturing sink".into()
    }
}

/// The webcam pipeline running a source into a [`CapturingSink`].
pub(crate) struct Webcam {
    pub(crate) seen: Seen,
    stop: Arc<AtomicBool>,
    run: Option<JoinHandle<Result<Summary, pipeline::PipelineError>>>,
}

impl Webcam {
    /// Starts the pipeline and waits for the first 10 live frames.
    pub(crate) fn start(source: Box<dyn FrameSource>) -> Webcam {
        let seen = Seen::default();
        let stop = Arc::new(AtomicBool::new(false));
        let opts = Options {
            output: Output::Yuyv(Box::new(CapturingSink(seen.clone()))),
            stats_interval: Duration::from_secs(3600),
            ..Options::default()
        };
        let run = {
            let stop = stop.clone();
            std::thread::spawn(move || pipeline::run(source, opts, stop))
        };
        let w = Webcam {
            seen,
            stop,
            run: Some(run),
        };
        w.wait_live(10);
        w
    }

    /// Waits until `n` more live frames than now have reached the sink.
    pub(crate) fn wait_live(&self, n: usize) {
        let target = self.seen.live().len() + n;
        wait_for(&format!("{n} more live frames"), || {
            self.seen.live().len() >= target
        });
    }

    /// Waits until `n` more pictures of any kind have reached the sink.
    pub(crate) fn wait_any(&self, n: usize) {
        let target = self.seen.len() + n;
        wait_for(&format!("{n} more pictures"), || self.seen.len() >= target);
    }

    /// Stops the pipeline; its summary (it must end without an error) and every picture.
    pub(crate) fn finish(mut self) -> (Summary, Vec<Shot>) {
        self.stop.store(true, Ordering::SeqCst);
        let summary = self
            .run
            .take()
            .unwrap()
            .join()
            .expect("the pipeline did not panic")
            .expect("the pipeline ended without an error");
        (summary, self.seen.all())
    }
}
