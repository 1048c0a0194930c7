//! The live-view pipeline: a capture thread (owns the camera session, the recording
//! and object dumps), a decoder thread (JPEG → YUYV) and a writer thread (owns the
//! video sink), joined by bounded channels that drop the oldest frame when full.
//!
//! When the camera goes away the capture thread reconnects by itself while the writer
//! keeps the video device fed with a dimmed "reconnecting" picture, so a video call
//! never sees the device vanish. Stopping cascades from the head: the capture thread
//! closes the session and finishes the recording, then each stage drains and returns.

pub mod lossy;
pub mod multi;
pub mod network;
pub mod source;
pub mod stats;

use crate::decode::{Backend, DecodeError, Decoder, Yuyv};
use crate::frame::{self, DumpError, DumpWriter};
use crate::sink::placeholder::Placeholder;
use crate::sink::record::{RecordError, RecordOptions, RecordSummary, Recorder};
use crate::sink::{Demand, FrameSink, Picture, SinkError, Want};
use lossy::{gate, lossy, GatedReceiver, LossySender, Pool, Tickets};
use source::{FrameSource, Item, SourceError};
use stats::{Snapshot, Stats};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How frames leave the pipeline.
pub enum Output {
    /// No video output (e.g. `--record` alone): frames are not decoded.
    None,
    /// Decoded to YUYV and written to the sink.
    Yuyv(Box<dyn FrameSink>),
    /// The camera's JPEG passed through untouched (`--format mjpeg`).
    Mjpeg(Box<dyn FrameSink>),
    /// Whatever the sink's consumers asked for, frame by frame (PipeWire): YUYV,
    /// JPEG, or no decode at all while nobody watches.
    Negotiated(Box<dyn FrameSink>, Demand),
}

/// Cropping or padding the 3:2 live view for 16:9 apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aspect {
    /// The camera's own aspect.
    #[default]
    Native,
    /// Crop rows top and bottom to 16:9.
    Crop16x9,
    /// Pad columns left and right (black) to 16:9.
    Pad16x9,
}

/// Run settings (kept apart from run state, gst filesink style).
pub struct Options {
    /// Where pictures go.
    pub output: Output,
    /// Record the camera's JPEGs to this file too.
    pub record: Option<PathBuf>,
    /// Replace an existing recording file.
    pub overwrite: bool,
    /// Write every live-view object into this directory too.
    pub dump_objects: Option<PathBuf>,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Output frame rate cap.
    pub fps: u32,
    /// Which JPEG decoder to use.
    pub backend: Backend,
    /// Crop or pad to 16:9.
    pub aspect: Aspect,
    /// How often to log the stats line.
    pub stats_interval: Duration,
    /// Write the stats as JSON to this file at the end.
    pub stats_json: Option<PathBuf>,
    /// Stop instead of reconnecting when the source fails (replays, tests).
    pub reconnect: bool,
    /// A first connect that fails in a way reconnecting could cure (the body still
    /// enumerating, just unplugged) starts the run in the reconnecting state, with
    /// placeholders on the output, instead of failing it (several cameras at once).
    pub wait_for_camera: bool,
    /// Names the camera in the periodic stats line ("ILCE-6400 0123: fps in …") when
    /// several pipelines share one log.
    pub label: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            output: Output::None,
            record: None,
            overwrite: false,
            dump_objects: None,
            max_frames: None,
            duration: None,
            fps: 30,
            backend: Backend::default(),
            aspect: Aspect::Native,
            stats_interval: Duration::from_secs(5),
            stats_json: None,
            reconnect: true,
            wait_for_camera: false,
            label: None,
        }
    }
}

/// Why the pipeline stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The frame source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The recording failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Dumping objects failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// The stats file could not be written.
    #[error("cannot write the stats file {path}: {err}")]
    StatsFile {
        /// The file.
        path: PathBuf,
        /// What the system said.
        err: std::io::Error,
    },
    /// A pipeline thread panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The counters at the end.
    pub stats: Snapshot,
    /// What the recording holds, if there was one.
    pub recorded: Option<RecordSummary>,
}

/// Spare buffers kept per pool. At most 4 JPEG buffers (capture, 2 queued, decoder)
/// and 5 YUYV frames (decoder, 2 queued, writer, the writer's last frame) are in use
/// at once; both pools are filled on the first frame so a later burst never has to
/// allocate a buffer it had not needed before.
const JPEG_POOL: usize = 8;
const YUYV_POOL: usize = 4;

/// A captured frame on its way to the decoder.
struct Captured {
    /// The bytes as received (object or JPEG); `jpeg` indexes into it.
    buf: Vec<u8>,
    jpeg: std::ops::Range<usize>,
    width: u32,
    height: u32,
    complete: Instant,
}

/// A frame ready for the sink.
struct Ready {
    pic: ReadyPic,
    complete: Instant,
}

enum ReadyPic {
    Yuyv(Yuyv),
    Jpeg(Captured),
}

/// Which picture the decoder makes: fixed for the run, or asked by the sink each frame.
#[derive(Clone)]
enum Mode {
    Fixed(Want),
    Negotiated(Demand),
}

impl Mode {
    fn want(&self) -> Want {
        match self {
            Mode::Fixed(w) => *w,
            Mode::Negotiated(d) => d.get(),
        }
    }
}

/// Shared run state.
struct Shared {
    stop: Arc<AtomicBool>,
    live: AtomicBool,
    /// The source holds live view up on purpose (a still capture).
    paused: Arc<AtomicBool>,
    stats: Stats,
}

/// Runs until `stop` is set, the frame or time limit is reached, or a fatal error.
pub fn run(
    mut source: Box<dyn FrameSource>,
    mut opts: Options,
    stop: Arc<AtomicBool>,
) -> Result<Summary, PipelineError> {
    // The recording's path is checked (and a FIFO's reader waited for) before the camera
    // is touched and the stats clock starts. Should the camera then fail, the recorder
    // drops its empty temporary file and a file at the final name stays as it was.
    let rec_opts = RecordOptions {
        overwrite: opts.overwrite,
        fps: opts.fps.max(1),
        ..RecordOptions::default()
    };
    let recorder = opts
        .record
        .as_deref()
        .map(|p| Recorder::create_with(p, rec_opts))
        .transpose()?;
    let shared = Arc::new(Shared {
        stop,
        live: AtomicBool::new(false),
        paused: Arc::new(AtomicBool::new(false)),
        stats: Stats::default(),
    });
    source.set_pause_flag(shared.paused.clone());
    // First connect happens here, so a camera that is absent or in the wrong mode is
    // reported at once instead of as a silent "reconnecting" loop.
    match source.connect() {
        Ok(()) => {
            shared.live.store(true, Ordering::SeqCst);
            log::debug!("live view from {}", source.name());
        }
        Err(e) if opts.wait_for_camera && opts.reconnect && e.is_transient() => {
            log::warn!(
                "{}: {e}; its video device shows placeholders until it answers",
                opts.label.as_deref().unwrap_or("camera")
            );
        }
        Err(e) => return Err(e.into()),
    }

    let jpeg_pool: Pool<Vec<u8>> = Pool::new(JPEG_POOL);
    let yuyv_pool: Pool<Yuyv> = Pool::new(YUYV_POOL);
    let (to_decode, decode_rx) = lossy::<Captured>(2, shared.stats.dropped_decode.clone());
    let (grant, tickets) = gate();
    let decode_rx = GatedReceiver::new(decode_rx, grant);
    let (to_write, write_rx) = lossy::<Ready>(2, shared.stats.dropped_write.clone());

    let output = std::mem::replace(&mut opts.output, Output::None);
    let (mut sink, mode) = match output {
        Output::None => (None, Mode::Fixed(Want::Nothing)),
        Output::Yuyv(s) => (Some(s), Mode::Fixed(Want::Yuyv)),
        Output::Mjpeg(s) => (Some(s), Mode::Fixed(Want::Jpeg)),
        Output::Negotiated(s, d) => (Some(s), Mode::Negotiated(d)),
    };
    if let Some(s) = sink.as_mut() {
        // Not known yet when the first connect waits for the camera: a caller that knows
        // the body from elsewhere (a USB scan) told the sink already.
        let info = source.info();
        if info != crate::sink::SourceInfo::default() {
            s.set_source(&info);
        }
    }
    let has_sink = sink.is_some();

    let dumper = opts
        .dump_objects
        .as_deref()
        .map(DumpWriter::new)
        .transpose()
        .map_err(PipelineError::Dump)?;

    let capture = {
        let shared = shared.clone();
        let pool = jpeg_pool.clone();
        let cfg = CaptureConfig {
            max_frames: opts.max_frames,
            deadline: opts.duration.map(|d| Instant::now() + d),
            reconnect: opts.reconnect,
            forward: has_sink,
            tickets,
        };
        spawn("capture", move || {
            let r = capture_loop(source, recorder, dumper, to_decode, pool, &shared, cfg);
            stop_on_error(&shared, r)
        })
    };
    let decode = {
        let shared = shared.clone();
        let (jpool, ypool) = (jpeg_pool.clone(), yuyv_pool.clone());
        let backend = opts.backend;
        let mode = mode.clone();
        spawn("decode", move || {
            let r = decode_loop(decode_rx, to_write, jpool, ypool, backend, &mode, &shared);
            stop_on_error(&shared, r)
        })
    };
    let write = sink.map(|sink| {
        let shared = shared.clone();
        let (jpool, ypool) = (jpeg_pool.clone(), yuyv_pool.clone());
        let (fps, aspect) = (opts.fps, opts.aspect);
        spawn("write", move || {
            let out = WriteConfig { fps, aspect, mode };
            let r = write_loop(sink, write_rx, jpool, ypool, &out, &shared);
            stop_on_error(&shared, r)
        })
    });

    // The calling thread prints the periodic stats line until the capture ends.
    let mut prev = shared.stats.snapshot();
    let mut next_line = Instant::now() + opts.stats_interval;
    while !capture.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() >= next_line {
            let snap = shared.stats.snapshot();
            match &opts.label {
                Some(l) => log::info!("{l}: {}", snap.line(&prev)),
                None => log::info!("{}", snap.line(&prev)),
            }
            prev = snap;
            next_line += opts.stats_interval;
        }
    }
    let capture_result = join(capture, "capture");
    // The capture thread dropped its sender: the decoder drains, then the writer.
    let decode_result = join(decode, "decode");
    let write_result = write.map(|w| join(w, "write")).unwrap_or(Ok(()));

    let stats = shared.stats.snapshot();
    // The caller reports the run's summary; this whole-run line is for debugging.
    log::debug!("{}", stats.line(&Snapshot::default()));
    if let Some(path) = &opts.stats_json {
        crate::fsutil::write_atomic(path, stats.to_json().as_bytes()).map_err(|err| {
            PipelineError::StatsFile {
                path: path.clone(),
                err,
            }
        })?;
    }
    let recorded = capture_result?;
    decode_result?;
    write_result?;
    Ok(Summary { stats, recorded })
}

/// A stage that fails stops the whole run at once (the capture thread sees the flag,
/// closes the camera and the rest drains), instead of running on headless.
fn stop_on_error<T>(shared: &Shared, r: Result<T, PipelineError>) -> Result<T, PipelineError> {
    if let Err(e) = &r {
        // The caller reports it; this line only times it in a debug log.
        log::debug!("stopping the pipeline: {e}");
        shared.stop.store(true, Ordering::SeqCst);
    }
    r
}

fn spawn<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"))
}

fn join<T>(
    h: JoinHandle<Result<T, PipelineError>>,
    name: &'static str,
) -> Result<T, PipelineError> {
    h.join().unwrap_or(Err(PipelineError::Panicked(name)))
}

struct CaptureConfig {
    max_frames: Option<u64>,
    deadline: Option<Instant>,
    reconnect: bool,
    forward: bool,
    /// Granted by the decoder as it takes each frame (see [`DECODER_WAIT`]).
    tickets: Tickets,
}

/// Longest the capture thread waits for the decoder to take the frame it sent before
/// fetching the next one anyway.
///
/// Only frames for the decoder are paced this way: each live-view frame costs a USB
/// round trip (and the body's and the kernel's work to serve it), so on a machine that
/// decodes slower than the camera delivers, fetching at the camera's rate only fed the
/// drop-oldest queue (a one-vCPU VM: 28 frames a second fetched, 4 shown, the rest
/// thrown away while competing with the decoder for the CPU). Fetching the next frame
/// while the decoder works on the current one keeps the decoder busy and the picture as
/// fresh as before wherever decoding keeps up. Recording and object dumps take every
/// frame, so with either of them the capture runs at the camera's rate as before.
const DECODER_WAIT: Duration = Duration::from_secs(1);

/// Counts a frame that cannot be used; warns about the first one only.
fn count_bad(stats: &Stats, warned: &mut bool, e: &dyn std::fmt::Display) {
    stats.bad_frames.fetch_add(1, Ordering::Relaxed);
    if !*warned {
        log::warn!("dropped a live-view frame: {e} (further ones are counted in the stats)");
        *warned = true;
    }
}

/// Owns the source. Returns what the recording holds.
fn capture_loop(
    mut source: Box<dyn FrameSource>,
    mut recorder: Option<Recorder>,
    mut dumper: Option<DumpWriter>,
    to_decode: LossySender<Captured>,
    pool: Pool<Vec<u8>>,
    shared: &Shared,
    cfg: CaptureConfig,
) -> Result<Option<RecordSummary>, PipelineError> {
    let started = Instant::now();
    // A recording whose pipe reader went away while the video goes on: finished at the end.
    let mut closed = None;
    let stats = &shared.stats;
    let mut result = Ok(());
    let mut buf = pool.get(Vec::new);
    let mut reconnect_wait = Duration::from_millis(250);
    let mut warned_bad = false;
    // Largest item so far: a buffer handed out by the pool is grown to it (plus
    // headroom) at once, so JPEG sizes that vary from frame to frame do not make each
    // pooled buffer reallocate whenever it first meets a larger frame.
    let mut largest = 0usize;
    // A ticket in hand: the decoder took the last frame sent (or none was sent yet).
    let mut ticket = false;
    loop {
        if shared.stop.load(Ordering::Relaxed)
            || cfg
                .max_frames
                .is_some_and(|n| stats.captured.load(Ordering::Relaxed) >= n)
            || cfg.deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        if !shared.live.load(Ordering::Relaxed) {
            match source.connect() {
                Ok(()) => {
                    // The camera's own connect line says it is back.
                    log::debug!("camera back: live view from {}", source.name());
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    shared.live.store(true, Ordering::SeqCst);
                    reconnect_wait = Duration::from_millis(250);
                }
                Err(e) => {
                    log::debug!("reconnect failed: {e}");
                    sleep_unless_stopped(reconnect_wait, &shared.stop);
                    reconnect_wait = (reconnect_wait * 2).min(Duration::from_secs(2));
                }
            }
            continue;
        }
        if cfg.forward && !ticket && recorder.is_none() && dumper.is_none() {
            let limit = cfg.deadline.map_or(DECODER_WAIT, |d| {
                DECODER_WAIT.min(d.saturating_duration_since(Instant::now()))
            });
            cfg.tickets.wait(limit, &shared.stop);
        }
        ticket = true;
        let item = match source.next(&mut buf, &shared.stop) {
            Ok(item) => item,
            Err(SourceError::Stopped) => break,
            Err(e) if e.is_bad_item() => {
                count_bad(stats, &mut warned_bad, &e);
                continue;
            }
            Err(e) if cfg.reconnect && e.is_transient() => {
                log::warn!("lost the camera ({e}); the video keeps running and alpha-bridge reconnects when it is back");
                source.disconnect();
                shared.live.store(false, Ordering::SeqCst);
                continue;
            }
            Err(SourceError::End) => break,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        let complete = Instant::now();
        if largest == 0 && cfg.forward {
            // First frame: fill the pool with buffers of this size (plus headroom).
            for _ in 0..4 {
                pool.put(Vec::with_capacity(buf.len().saturating_add(buf.len() / 4)));
            }
        }
        largest = largest.max(buf.len());
        if let Some(d) = dumper.as_mut() {
            if let Err(e) = d.write(&buf) {
                result = Err(e.into());
                break;
            }
        }
        let found = match item {
            Item::Object => frame::extract(&buf).map(|f| (f.jpeg, f.width, f.height)),
            Item::Jpeg => frame::jpeg_info(&buf).map(|i| (&buf[..i.len], i.width, i.height)),
        };
        let (range, width, height) = match found {
            Ok((jpeg, w, h)) => {
                let start = jpeg.as_ptr() as usize - buf.as_ptr() as usize;
                (start..start + jpeg.len(), u32::from(w), u32::from(h))
            }
            Err(e) => {
                count_bad(stats, &mut warned_bad, &e);
                continue;
            }
        };
        stats.captured.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = recorder.as_mut() {
            match r.write(&buf[range.clone()], complete - started) {
                Ok(true) => {
                    stats.recorded.fetch_add(1, Ordering::Relaxed);
                }
                // Skipped by the frame-rate cap.
                Ok(false) => {}
                Err(e @ RecordError::PipeClosed(_)) => {
                    log::info!("{e}: the recording stops here");
                    if !cfg.forward && dumper.is_none() {
                        break;
                    }
                    closed = recorder.take();
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if cfg.forward {
            let mut next = pool.get(Vec::new);
            let want = largest.saturating_add(largest / 4);
            if next.capacity() < want {
                next.clear();
                next.reserve_exact(want);
            }
            let frame = Captured {
                buf: std::mem::replace(&mut buf, next),
                jpeg: range,
                width,
                height,
                complete,
            };
            ticket = false;
            if !to_decode.send(frame, |old| pool.put(old.buf)) {
                break;
            }
        }
    }
    source.disconnect();
    shared.live.store(false, Ordering::SeqCst);
    let recorded = match recorder.or(closed) {
        Some(r) => match r.finish() {
            Ok(summary) => Some(summary),
            Err(e) => {
                result = result.and(Err(e.into()));
                None
            }
        },
        None => None,
    };
    result.map(|()| recorded)
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
    }
}

fn decode_loop(
    rx: GatedReceiver<Captured>,
    to_write: LossySender<Ready>,
    jpeg_pool: Pool<Vec<u8>>,
    yuyv_pool: Pool<Yuyv>,
    backend: Backend,
    mode: &Mode,
    shared: &Shared,
) -> Result<(), PipelineError> {
    let mut decoder = Decoder::new(backend);
    let mut warned = false;
    let mut pool_filled = false;
    let recycle = |r: Ready| match r.pic {
        ReadyPic::Yuyv(y) => yuyv_pool.put(y),
        ReadyPic::Jpeg(c) => jpeg_pool.put(c.buf),
    };
    for cap in rx.iter() {
        // Nobody watching a negotiating sink: the JPEG goes on undecoded, so the sink
        // still learns the size to offer.
        if mode.want() != Want::Yuyv {
            let complete = cap.complete;
            to_write.send(
                Ready {
                    pic: ReadyPic::Jpeg(cap),
                    complete,
                },
                recycle,
            );
            continue;
        }
        let mut out = yuyv_pool.get(Yuyv::default);
        let t = Instant::now();
        let res: Result<(), DecodeError> = decoder.decode(&cap.buf[cap.jpeg.clone()], &mut out);
        shared.stats.add_decode(t.elapsed());
        let complete = cap.complete;
        jpeg_pool.put(cap.buf);
        match res {
            Ok(()) => {
                if !pool_filled {
                    // First frame: spares of this size, so later bursts allocate nothing.
                    pool_filled = true;
                    for _ in 0..YUYV_POOL {
                        let mut y = Yuyv::default();
                        y.data.reserve_exact(out.data.len());
                        yuyv_pool.put(y);
                    }
                }
                to_write.send(
                    Ready {
                        pic: ReadyPic::Yuyv(out),
                        complete,
                    },
                    recycle,
                );
            }
            Err(e) => {
                shared.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                yuyv_pool.put(out);
                if !warned {
                    log::warn!("a live-view frame did not decode: {e} (further ones are counted in the stats)");
                    warned = true;
                }
            }
        }
    }
    Ok(())
}

/// Owns the sink. While the camera is away, or connected but sending nothing for
/// [`STARVED_AFTER`] (an AccessDenied storm), it repeats the last picture, dimmed with a
/// "reconnecting" banner, a few times a second.
/// The writer's settings: output rate cap, shaping, and which picture kind to make.
struct WriteConfig {
    fps: u32,
    aspect: Aspect,
    mode: Mode,
}

fn write_loop(
    mut sink: Box<dyn FrameSink>,
    rx: crossbeam_channel::Receiver<Ready>,
    jpeg_pool: Pool<Vec<u8>>,
    yuyv_pool: Pool<Yuyv>,
    out: &WriteConfig,
    shared: &Shared,
) -> Result<(), PipelineError> {
    let (aspect, mode) = (out.aspect, &out.mode);
    let mut cap = RateCap::new(out.fps);
    let placeholder_interval = Duration::from_millis(200);
    let mut placeholder = Placeholder::new();
    // The last decoded frame stays out of the pool until a newer one replaces it, so
    // the placeholder can be made from it without a copy per frame.
    let mut last: Option<Yuyv> = None;
    let mut passthrough = false;
    let mut shaped = Yuyv::default();
    // Video apps may give up on a device that stops delivering frames; a camera that
    // is connected but refuses live view for seconds must not starve the device.
    let mut last_live = Instant::now();
    log::info!("writing video to {}", sink.name());
    loop {
        match rx.recv_timeout(placeholder_interval) {
            Ok(ready) => {
                let too_soon = !cap.admit(Instant::now());
                if too_soon {
                    // Skipped by --fps: counted with the drops, so every frame is accounted for.
                    shared.stats.dropped_write.fetch_add(1, Ordering::Relaxed);
                }
                match ready.pic {
                    ReadyPic::Yuyv(y) if !too_soon => {
                        let out = shape(&y, aspect, &mut shaped);
                        sink.write(&Picture::Yuyv {
                            width: out.width,
                            height: out.height,
                            data: &out.data,
                        })?;
                        if let Some(old) = last.replace(y) {
                            yuyv_pool.put(old);
                        }
                    }
                    ReadyPic::Jpeg(c) if !too_soon => {
                        passthrough = true;
                        // Placeholders in this stream's size: the device keeps its format.
                        placeholder.set_card_size(c.width, c.height);
                        let res = sink.write(&Picture::Jpeg {
                            width: c.width,
                            height: c.height,
                            data: &c.buf[c.jpeg.clone()],
                        });
                        jpeg_pool.put(c.buf);
                        res?;
                    }
                    ReadyPic::Yuyv(y) => {
                        yuyv_pool.put(y);
                        continue;
                    }
                    ReadyPic::Jpeg(c) => {
                        jpeg_pool.put(c.buf);
                        continue;
                    }
                }
                shared.stats.written.fetch_add(1, Ordering::Relaxed);
                shared.stats.add_latency(ready.complete.elapsed());
                last_live = Instant::now();
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                let away = !shared.live.load(Ordering::Relaxed)
                    || last_live.elapsed() >= STARVED_AFTER
                    || shared.paused.load(Ordering::Relaxed);
                let jpeg = match mode {
                    // An MJPEG output gets JPEG placeholders even before its first
                    // live frame (a camera lost before sending one).
                    Mode::Fixed(want) => passthrough || *want == Want::Jpeg,
                    Mode::Negotiated(d) => match d.get() {
                        Want::Nothing => continue,
                        want => want == Want::Jpeg,
                    },
                };
                if away && !shared.stop.load(Ordering::Relaxed) {
                    if jpeg {
                        let pic = placeholder.render_jpeg(None)?;
                        sink.write(&pic)?;
                    } else {
                        let lastpic = last.as_ref().map(|y| shape(y, aspect, &mut shaped));
                        sink.write(&placeholder.picture(lastpic))?;
                    }
                    shared.stats.placeholders.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// A connected camera that sends no frame for this long gets placeholders too. Long
/// enough that a slow machine's gaps between live frames never show the banner.
const STARVED_AFTER: Duration = Duration::from_secs(3);

/// Output frame-rate cap as a token bucket (one token per interval, at most two
/// saved), so jitter in the camera's own pace costs no frames when the cap equals the
/// camera's rate, while a lower cap still thins the stream evenly.
struct RateCap {
    interval: Duration,
    tokens: f64,
    last: Option<Instant>,
}

impl RateCap {
    fn new(fps: u32) -> Self {
        RateCap {
            interval: Duration::from_secs(1) / fps.clamp(1, 120),
            tokens: 2.0,
            last: None,
        }
    }

    /// Whether a frame arriving at `now` goes out.
    fn admit(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let earned =
                now.saturating_duration_since(last).as_secs_f64() / self.interval.as_secs_f64();
            self.tokens = (self.tokens + earned).min(2.0);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Applies `--aspect` by copying into the reused `scratch` frame (native: no copy).
fn shape<'a>(y: &'a Yuyv, aspect: Aspect, scratch: &'a mut Yuyv) -> &'a Yuyv {
    let (w, h) = (y.width as usize, y.height as usize);
    match aspect {
        Aspect::Native => y,
        Aspect::Crop16x9 => {
            let target_h = (w * 9 / 16) & !1;
            if target_h >= h {
                return y;
            }
            let top = ((h - target_h) / 2) & !1;
            let stride = w * 2;
            scratch.width = y.width;
            scratch.height = target_h as u32;
            scratch.data.clear();
            scratch
                .data
                .extend_from_slice(&y.data[top * stride..(top + target_h) * stride]);
            scratch
        }
        Aspect::Pad16x9 => {
            let target_w = (h * 16 / 9 + 1) & !1;
            if target_w <= w {
                return y;
            }
            let left = ((target_w - w) / 2) & !1;
            scratch.width = target_w as u32;
            scratch.height = y.height;
            scratch.data.clear();
            scratch.data.reserve(target_w * h * 2);
            for row in y.data.chunks_exact(w * 2) {
                for _ in 0..left / 2 {
                    scratch.data.extend_from_slice(&[16, 128, 16, 128]);
                }
                scratch.data.extend_from_slice(row);
                for _ in 0..(target_w - w - left) / 2 {
                    scratch.data.extend_from_slice(&[16, 128, 16, 128]);
                }
            }
            scratch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(cap_fps: u32, input_fps: f64, jitter_ms: f64, n: usize) -> usize {
        let t0 = Instant::now();
        let mut cap = RateCap::new(cap_fps);
        (0..n)
            .filter(|&k| {
                let j = if k % 2 == 0 { jitter_ms } else { -jitter_ms };
                let at = t0 + Duration::from_secs_f64((k as f64 / input_fps + j / 1000.0).max(0.0));
                cap.admit(at)
            })
            .count()
    }

    #[test]
    fn rate_cap_keeps_every_frame_at_the_camera_rate_despite_jitter() {
        assert_eq!(admitted(30, 30.0, 6.0, 300), 300);
    }

    #[test]
    fn rate_cap_halves_a_30_fps_stream_to_15() {
        let n = admitted(15, 30.0, 3.0, 300);
        assert!((148..=152).contains(&n), "{n}");
    }

    #[test]
    fn aspect_crop_and_pad_keep_valid_yuyv() {
        let y = Yuyv {
            width: 1024,
            height: 680,
            data: vec![100; 1024 * 680 * 2],
        };
        let mut scratch = Yuyv::default();
        let c = shape(&y, Aspect::Crop16x9, &mut scratch);
        assert_eq!((c.width, c.height), (1024, 576));
        assert_eq!(c.data.len(), 1024 * 576 * 2);
        let mut scratch = Yuyv::default();
        let p = shape(&y, Aspect::Pad16x9, &mut scratch);
        assert_eq!((p.width, p.height), (1208, 680));
        assert_eq!(p.data.len(), 1208 * 680 * 2);
        assert_eq!(&p.data[..4], &[16, 128, 16, 128], "black bars");
    }
}
