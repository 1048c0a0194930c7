//! Several cameras at once in memory: in-process emulated bodies with different serials,
//! each served by its own pipeline under `pipeline::multi::run_all`, each into its own
//! capturing sink. One body is unplugged and plugged back, another's output fails: the
//! remaining bodies keep delivering frames whose rendered counters keep increasing.

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::multi::{run_all, CameraRun, Fleet, Found, MultiOptions};
use alpha_bridge::pipeline::source::{CameraSource, FrameSource};
use alpha_bridge::pipeline::{Options, Output, PipelineError};
use alpha_bridge::sink::{FrameSink, Picture, SinkError};
use alpha_bridge::transport::Transport;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters read back from each live picture one sink got (placeholders carry none or
/// repeat the last), and how many pictures in all.
#[derive(Default)]
struct Seen {
    counters: Vec<u32>,
    pictures: u64,
}

struct CapturingSink {
    seen: Arc<Mutex<Seen>>,
    /// Fail every write after this many pictures (an output that breaks).
    fail_after: Option<u64>,
}

impl FrameSink for CapturingSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        let mut seen = self.seen.lock().unwrap();
        if self.fail_after.is_some_and(|n| seen.pictures >= n) {
            return Err(SinkError::BadPicture("this test output breaks".into()));
        }
        seen.pictures += 1;
        if let Picture::Yuyv {
            width,
            height,
            data,
        } = pic
        {
            if let Some(c) = read_counter_yuyv(data, *width, *height) {
                if seen.counters.last() != Some(&c) {
                    seen.counters.push(c);
                }
            }
        }
        Ok(())
    }

    fn name(&self) -> String {
        "capturing sink".into()
    }
}

/// Emulated bodies found while plugged in; each gets the sink registered for its serial.
struct TestFleet {
    emus: Vec<Arc<UsbEmulator>>,
    seen: HashMap<String, Arc<Mutex<Seen>>>,
    fail_after: HashMap<String, u64>,
    starts: Arc<Mutex<Vec<String>>>,
}

impl Fleet for TestFleet {
    fn scan(&mut self) -> Vec<Found> {
        self.emus
            .iter()
            .filter(|e| e.is_plugged())
            .map(|e| Found {
                key: e.body().serial.clone(),
                label: format!("{} {}", e.body().model, e.body().serial),
            })
            .collect()
    }

    fn start(&mut self, found: &Found) -> Result<(Box<dyn FrameSource>, Options), String> {
        let emu = self
            .emus
            .iter()
            .find(|e| e.body().serial == found.key)
            .cloned()
            .ok_or("unknown body")?;
        self.starts.lock().unwrap().push(found.key.clone());
        let open = Box::new(move || emu.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        let source = CameraSource::new(found.label.clone(), open, ConnectOptions::default());
        let sink = CapturingSink {
            seen: self.seen.entry(found.key.clone()).or_default().clone(),
            fail_after: self.fail_after.get(&found.key).copied(),
        };
        let opts = Options {
            output: Output::Yuyv(Box::new(sink)),
            wait_for_camera: true,
            ..Options::default()
        };
        Ok((Box::new(source), opts))
    }
}

fn body(serial: &str) -> Arc<UsbEmulator> {
    Arc::new(UsbEmulator::new(Body::ilce_6400().with_serial(serial)))
}

fn frames(seen: &Arc<Mutex<Seen>>) -> usize {
    seen.lock().unwrap().counters.len()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn strictly_increasing(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

struct Harness {
    emus: Vec<Arc<UsbEmulator>>,
    seen: Vec<Arc<Mutex<Seen>>>,
    starts: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<CameraRun>>,
}

/// Serves `serials`; those in `late` start unplugged, and outputs in `fail_after` break
/// after that many pictures.
fn start(serials: &[&str], late: &[&str], fail_after: &[(&str, u64)]) -> Harness {
    let emus: Vec<_> = serials.iter().map(|s| body(s)).collect();
    for e in &emus {
        if late.contains(&e.body().serial.as_str()) {
            e.unplug();
        }
    }
    let seen: Vec<Arc<Mutex<Seen>>> = serials.iter().map(|_| Arc::default()).collect();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut fleet = TestFleet {
        emus: emus.clone(),
        seen: serials
            .iter()
            .map(|s| s.to_string())
            .zip(seen.iter().cloned())
            .collect(),
        fail_after: fail_after
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        starts: starts.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        let opts = MultiOptions {
            scan_interval: Duration::from_millis(100),
            duration: None,
        };
        run_all(&mut fleet, opts, s)
    });
    Harness {
        emus,
        seen,
        starts,
        stop,
        thread,
    }
}

fn summary<'a>(runs: &'a [CameraRun], serial: &str) -> &'a alpha_bridge::pipeline::Summary {
    let run = runs
        .iter()
        .find(|r| r.found.key == serial)
        .unwrap_or_else(|| panic!("no run for {serial}"));
    run.result.as_ref().expect("this camera's run succeeded")
}

#[test]
fn an_unplugged_body_gets_placeholders_while_the_other_keeps_delivering_then_comes_back() {
    let h = start(&["0000000000000001", "0000000000000002"], &[], &[]);
    let (a, b) = (&h.seen[0], &h.seen[1]);
    wait_until(
        "live frames from both bodies",
        Duration::from_secs(30),
        || frames(a) >= 5 && frames(b) >= 5,
    );

    h.emus[0].unplug();
    let a_pictures = a.lock().unwrap().pictures;
    let b_before = frames(b);
    let a_last = *a.lock().unwrap().counters.last().unwrap();
    wait_until(
        "body 2 to deliver 15 more frames while body 1 is away",
        Duration::from_secs(30),
        || frames(b) >= b_before + 15,
    );
    let a_away = a.lock().unwrap().counters.len();
    assert!(
        a.lock().unwrap().pictures > a_pictures,
        "body 1's output got placeholders while it was away"
    );

    h.emus[0].plug();
    wait_until(
        "body 1 back on its own output",
        Duration::from_secs(30),
        || frames(a) >= a_away + 5,
    );
    h.stop.store(true, Ordering::SeqCst);
    let runs = h.thread.join().unwrap();

    let (sa, sb) = (
        summary(&runs, "0000000000000001"),
        summary(&runs, "0000000000000002"),
    );
    assert!(sa.stats.placeholders > 0, "{:?}", sa.stats);
    assert!(sa.stats.reconnects >= 1, "{:?}", sa.stats);
    assert_eq!(
        sb.stats.placeholders, 0,
        "body 2 never showed a placeholder"
    );
    assert_eq!(sb.stats.reconnects, 0, "body 2 was never disturbed");
    assert_eq!(sb.stats.bad_frames, 0);
    let ca = a.lock().unwrap().counters.clone();
    let cb = b.lock().unwrap().counters.clone();
    assert!(strictly_increasing(&cb), "body 2's counters: {cb:?}");
    // The body counts frames per connection: after the replug, a new increasing run.
    let (before, after) = ca.split_at(a_away);
    assert_eq!(
        before.last(),
        Some(&a_last),
        "no live frame while away: {ca:?}"
    );
    assert!(
        after.len() >= 5 && strictly_increasing(after),
        "body 1 delivered live frames again after coming back: {ca:?}"
    );
    // One pipeline per body for the whole run: the replugged body came back to it.
    assert_eq!(h.starts.lock().unwrap().len(), 2, "{:?}", h.starts);
    for e in &h.emus {
        assert!(
            e.stats().sessions_closed() >= 1,
            "sessions closed at the end"
        );
    }
}

#[test]
fn a_failing_output_stops_only_its_own_camera() {
    let serials = ["0000000000000011", "0000000000000012"];
    let h = start(&serials, &[], &[(serials[0], 5)]);
    wait_until(
        "body 2 to deliver 20 frames",
        Duration::from_secs(30),
        || frames(&h.seen[1]) >= 20,
    );
    // The failed body is still plugged in and is not restarted in a loop.
    std::thread::sleep(Duration::from_millis(400));
    h.stop.store(true, Ordering::SeqCst);
    let runs = h.thread.join().unwrap();
    let failed: Vec<_> = runs.iter().filter(|r| r.found.key == serials[0]).collect();
    assert_eq!(failed.len(), 1, "one run for the failed body");
    assert!(
        matches!(failed[0].result, Err(PipelineError::Sink(_))),
        "{:?}",
        failed[0].result
    );
    let s = summary(&runs, serials[1]);
    assert!(
        s.stats.written >= 20 && s.stats.placeholders == 0,
        "{:?}",
        s.stats
    );
    assert!(strictly_increasing(&h.seen[1].lock().unwrap().counters));
    assert_eq!(
        h.starts
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == serials[0])
            .count(),
        1
    );
}

#[test]
fn a_late_body_gets_its_own_pipeline_and_a_failed_body_is_tried_again_after_a_replug() {
    let serials = ["0000000000000021", "0000000000000022"];
    let h = start(&serials, &[serials[1]], &[(serials[0], 3)]);
    let starts = |k: &str| h.starts.lock().unwrap().iter().filter(|s| *s == k).count();
    wait_until(
        "the first body's output to break",
        Duration::from_secs(30),
        || h.seen[0].lock().unwrap().pictures >= 3,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        starts(serials[1]),
        0,
        "a body not plugged in gets no pipeline"
    );

    h.emus[1].plug();
    wait_until(
        "the late body to deliver 10 frames",
        Duration::from_secs(30),
        || frames(&h.seen[1]) >= 10,
    );
    assert_eq!(
        starts(serials[0]),
        1,
        "the failed body is not restarted while it stays"
    );

    h.emus[0].unplug();
    std::thread::sleep(Duration::from_millis(300));
    h.emus[0].plug();
    wait_until(
        "the replugged body to be tried again",
        Duration::from_secs(30),
        || starts(serials[0]) == 2,
    );
    h.stop.store(true, Ordering::SeqCst);
    let runs = h.thread.join().unwrap();
    assert_eq!(runs.iter().filter(|r| r.found.key == serials[0]).count(), 2);
    let s = summary(&runs, serials[1]);
    assert!(
        s.stats.written >= 10 && s.stats.placeholders == 0,
        "{:?}",
        s.stats
    );
    assert!(strictly_increasing(&h.seen[1].lock().unwrap().counters));
}

/// Records whether each picture was a JPEG.
struct KindSink(Arc<Mutex<Vec<bool>>>);

impl FrameSink for KindSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        pic.validate()?;
        self.0
            .lock()
            .unwrap()
            .push(matches!(pic, Picture::Jpeg { .. }));
        Ok(())
    }
    fn name(&self) -> String {
        "kind sink".into()
    }
}

/// `wait_for_camera`: a body absent at start (plugged in later under `--camera all`)
/// starts the run in the reconnecting state; an MJPEG output gets JPEG placeholders
/// until the body's own frames come (it used to be handed a YUYV placeholder, which an
/// MJPEG device refuses).
#[test]
fn a_body_absent_at_start_gets_jpeg_placeholders_then_its_frames_on_an_mjpeg_output() {
    let emu = body("0000000000000031");
    emu.unplug();
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let e = emu.clone();
    let open = Box::new(move || e.connect().map(|h| Box::new(h) as Box<dyn Transport>));
    let source = CameraSource::new("late body", open, ConnectOptions::default());
    let opts = Options {
        output: Output::Mjpeg(Box::new(KindSink(kinds.clone()))),
        wait_for_camera: true,
        ..Options::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let run = std::thread::spawn(move || alpha_bridge::pipeline::run(Box::new(source), opts, s));
    wait_until(
        "placeholders while the body is away",
        Duration::from_secs(10),
        || kinds.lock().unwrap().len() >= 3,
    );
    emu.plug();
    let before = kinds.lock().unwrap().len();
    wait_until("the body's own frames", Duration::from_secs(30), || {
        kinds.lock().unwrap().len() >= before + 10
    });
    stop.store(true, Ordering::SeqCst);
    let summary = run.join().unwrap().expect("the run succeeds");
    assert!(summary.stats.placeholders >= 3, "{:?}", summary.stats);
    assert!(summary.stats.captured >= 5, "{:?}", summary.stats);
    assert!(
        kinds.lock().unwrap().iter().all(|&jpeg| jpeg),
        "an MJPEG output only ever gets JPEGs"
    );
}
