//! End to end in memory: the emulated body (independent code) → the real Sony session →
//! extraction → decode → a capturing sink. Frame counters rendered by the emulator are
//! read back from the decoded pictures.

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::source::CameraSource;
use alpha_bridge::pipeline::{self, Options, Output};
use alpha_bridge::sink::{FrameSink, Picture, SinkError};
use alpha_bridge::transport::Transport;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the sink saw: per picture, the counter read back (None when unreadable),
/// width and height.
#[derive(Default)]
struct Seen {
    frames: Vec<(Option<u32>, u32, u32)>,
}

struct CapturingSink(Arc<Mutex<Seen>>);

impl FrameSink for CapturingSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        if let Picture::Yuyv {
            width,
            height,
            data,
        } = pic
        {
            assert_eq!(data.len(), (*width * *height * 2) as usize);
            let counter = read_counter_yuyv(data, *width, *height);
            self.0
                .lock()
                .unwrap()
                .frames
                .push((counter, *width, *height));
        }
        Ok(())
    }

    fn name(&self) -> String {
        "test sink".into()
    }
}

fn source(emu: Arc<UsbEmulator>) -> Box<CameraSource> {
    let open = Box::new(move || emu.connect().map(|h| Box::new(h) as Box<dyn Transport>));
    Box::new(CameraSource::new(
        "emulated",
        open,
        ConnectOptions::default(),
    ))
}

#[test]
fn counters_arrive_in_order_and_every_frame_is_written_or_counted() {
    let emu = Arc::new(UsbEmulator::new(Body::ilce_6400()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let opts = Options {
        output: Output::Yuyv(Box::new(CapturingSink(seen.clone()))),
        max_frames: Some(40),
        ..Options::default()
    };
    let summary =
        pipeline::run(source(emu.clone()), opts, Arc::new(AtomicBool::new(false))).unwrap();
    let seen = seen.lock().unwrap();
    let counters: Vec<u32> = seen
        .frames
        .iter()
        .map(|f| f.0.expect("counter readable in every live frame"))
        .collect();
    assert!(
        counters.windows(2).all(|w| w[0] < w[1]),
        "counters strictly increase: {counters:?}"
    );
    assert!(seen.frames.iter().all(|f| (f.1, f.2) == (1024, 680)));
    let s = summary.stats;
    assert_eq!(s.captured, 40);
    assert_eq!(
        s.written + s.dropped,
        40,
        "every frame is either written or counted as dropped"
    );
    assert_eq!(s.bad_frames, 0);
    assert!(
        emu.stats().sessions_closed() >= 1,
        "the session was closed at the end"
    );
}

#[test]
fn placeholder_frames_while_the_camera_is_away_then_live_frames_again() {
    let emu = Arc::new(UsbEmulator::new(Body::ilce_6400()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let opts = Options {
        output: Output::Yuyv(Box::new(CapturingSink(seen.clone()))),
        ..Options::default()
    };
    let run = {
        let (emu, stop) = (emu.clone(), stop.clone());
        std::thread::spawn(move || pipeline::run(source(emu), opts, stop))
    };
    let live = |n: usize| {
        seen.lock()
            .unwrap()
            .frames
            .iter()
            .filter(|f| f.0.is_some())
            .count()
            >= n
    };
    let wait_for = |cond: &dyn Fn() -> bool| {
        for _ in 0..400 {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("timed out");
    };
    wait_for(&|| live(10));
    emu.unplug();
    let before = seen.lock().unwrap().frames.len();
    // The video device keeps getting pictures while the camera is away.
    wait_for(&|| seen.lock().unwrap().frames.len() >= before + 5);
    emu.plug();
    let live_before = seen
        .lock()
        .unwrap()
        .frames
        .iter()
        .filter(|f| f.0.is_some())
        .count();
    wait_for(&|| live(live_before + 10));
    stop.store(true, Ordering::SeqCst);
    let summary = run.join().unwrap().unwrap();
    assert!(summary.stats.reconnects >= 1);
    assert!(summary.stats.placeholders >= 3);
    assert!(emu.stats().sessions_closed() >= 1);
}

struct FailingSink;

impl FrameSink for FailingSink {
    fn write(&mut self, _: &Picture<'_>) -> Result<(), SinkError> {
        Err(SinkError::BadPicture(
            "the device refused the format".into(),
        ))
    }

    fn name(&self) -> String {
        "failing sink".into()
    }
}

#[test]
fn a_failing_video_device_stops_the_run_with_its_error_and_closes_the_session() {
    let emu = Arc::new(UsbEmulator::new(Body::ilce_6400()));
    let opts = Options {
        output: Output::Yuyv(Box::new(FailingSink)),
        ..Options::default()
    };
    // No frame or time limit: only the sink's failure can end this run.
    let err =
        pipeline::run(source(emu.clone()), opts, Arc::new(AtomicBool::new(false))).unwrap_err();
    assert!(err.to_string().contains("refused the format"), "{err}");
    assert!(emu.stats().sessions_closed() >= 1);
}

/// A source far faster than the decoder (a replay of a 4096x2720 frame asked for at
/// 1000 fps; decoding one takes tens of milliseconds): the capture waits for the decoder
/// to take each frame instead of fetching frames only for the drop-oldest queue to throw
/// them away. Every frame captured is decoded and written (the writer's cap, 120 fps, is
/// above what the decoder makes), so nothing is dropped; before the gate nearly every
/// frame was.
#[test]
fn a_source_faster_than_the_decoder_is_paced_by_it_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.mjpeg");
    let mut card = alpha_bridge::emulator::testcard::TestCard::new(4096, 2720).unwrap();
    std::fs::write(&path, card.frame(0).unwrap()).unwrap();
    let opts = Options {
        output: Output::Yuyv(Box::new(alpha_bridge::sink::NullSink::new())),
        duration: Some(Duration::from_millis(1500)),
        fps: 120,
        reconnect: false,
        ..Options::default()
    };
    let source = alpha_bridge::pipeline::source::ReplaySource::new(path, 1000, true);
    let summary = pipeline::run(Box::new(source), opts, Arc::new(AtomicBool::new(false))).unwrap();
    let s = summary.stats;
    assert!(s.written >= 1, "frames were decoded and written: {s:?}");
    assert!(
        s.dropped <= 1,
        "{} of {} frames captured were dropped: the capture outran the decoder ({s:?})",
        s.dropped,
        s.captured
    );
    assert_eq!(s.captured, s.written + s.dropped, "{s:?}");
}
