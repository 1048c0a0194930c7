//! Camera control while the webcam runs (docs/protocol/sony-usb.md#camera-control):
//! one owner of the camera, many askers. The live-view thread owns the camera and
//! runs a [`Port`] between live-view polls; requests reach it over a bounded channel
//! ([`Msg`]) from the local control socket ([`socket`]), one JSON object per line
//! ([`wire`]). Stills are saved with [`stills`].

pub mod socket;
pub mod stills;
pub mod wire;

use crate::camera::control::{ControlError, Controller, Outcome, Request, State};
use crate::camera::link::Link;
use crate::camera::sony::Camera;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests waiting for the camera thread, at most.
pub const QUEUE: usize = 16;
/// A capture reply waits this long for the first live frame after the shot (to measure
/// the live-view gap) before it goes out without one.
const GAP_WAIT: Duration = Duration::from_secs(2);

/// What an asker sends to the camera thread.
pub enum Msg {
    /// One request, and where its answer goes.
    Request {
        /// The request.
        req: Asked,
        /// Receives the one [`Reply`].
        reply: Sender<Reply>,
    },
    /// Value changes go to this sender until it is dropped.
    Subscribe(Sender<State>),
}

/// A request as asked: the AF point may be given in live-view pixels, which only the
/// camera thread can map (it knows the picture's size).
#[derive(Clone, Debug, PartialEq)]
pub enum Asked {
    /// A request the camera thread passes on as it is.
    Camera(Request),
    /// A point of the live-view picture: pixels, or fractions (0..1) when `fraction`.
    AfPointAt {
        /// From the left edge.
        x: f64,
        /// From the top edge.
        y: f64,
        /// `x` and `y` are fractions of the picture, not pixels.
        fraction: bool,
    },
}

/// The answer to one request.
#[derive(Debug)]
pub struct Reply {
    /// What the request gave, or why it failed.
    pub result: Result<Outcome, ControlError>,
    /// From the request's arrival in the camera thread to the body's confirmation.
    pub elapsed: Duration,
    /// For a capture with live view running: the longest time between two live frames
    /// from the first press to the first frame after the shot was fetched.
    pub live_gap: Option<Duration>,
}

/// Counts for the end-of-run summary.
#[derive(Debug, Default)]
pub struct ControlStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests that failed.
    pub failed: AtomicU64,
    /// Stills captured.
    pub stills: AtomicU64,
    /// The longest live-view gap of a capture, microseconds.
    pub max_gap_us: AtomicU64,
}

impl ControlStats {
    /// The longest live-view gap of a capture so far.
    pub fn max_gap(&self) -> Duration {
        Duration::from_micros(self.max_gap_us.load(Ordering::Relaxed))
    }
}

struct Pending {
    reply: Sender<Reply>,
    arrived: Instant,
    capture: bool,
}

/// A capture whose live-view gap is being measured.
struct Watch {
    max_gap: Duration,
    /// The finished capture, held until the next live frame.
    done: Option<(Pending, Result<Outcome, ControlError>, Instant)>,
}

/// The camera thread's end: takes requests, runs the [`Controller`] a step at a time
/// between live-view polls, answers, and pushes value changes to subscribers.
pub struct Port {
    rx: Receiver<Msg>,
    ctl: Controller<Pending>,
    subs: Vec<Sender<State>>,
    stats: Arc<ControlStats>,
    paused: Option<Arc<AtomicBool>>,
    last_frame: Option<Instant>,
    size: Option<(u32, u32)>,
    watch: Option<Watch>,
}

/// The askers' end of a [`Port`].
pub fn channel(stats: Arc<ControlStats>) -> (Sender<Msg>, Port) {
    let (tx, rx) = crossbeam_channel::bounded(QUEUE);
    (
        tx,
        Port {
            rx,
            ctl: Controller::new(),
            subs: Vec::new(),
            stats,
            paused: None,
            last_frame: None,
            size: None,
            watch: None,
        },
    )
}

impl Port {
    /// The flag the webcam's writer reads to show the placeholder while a capture
    /// holds live view up.
    pub fn set_pause_flag(&mut self, flag: Arc<AtomicBool>) {
        self.paused = Some(flag);
    }

    /// One round between two live-view polls: new requests taken (lists and gets
    /// answered at once), one step of the running job.
    pub fn serve<L: Link>(&mut self, cam: &mut Camera<L>) {
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Subscribe(tx)) => self.subs.push(tx),
                Ok(Msg::Request { req, reply }) => {
                    self.stats.requests.fetch_add(1, Ordering::Relaxed);
                    let capture = req == Asked::Camera(Request::Capture);
                    let p = Pending {
                        reply,
                        arrived: Instant::now(),
                        capture,
                    };
                    let req = match self.resolve(req) {
                        Ok(r) => r,
                        Err(e) => {
                            self.answer(p, Err(e), None);
                            continue;
                        }
                    };
                    if capture && self.watch.is_none() && self.last_frame.is_some() {
                        self.watch = Some(Watch {
                            max_gap: Duration::ZERO,
                            done: None,
                        });
                    }
                    if let Some((p, r)) = self.ctl.submit(cam, req, p) {
                        self.finished(p, r);
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        self.ctl.set_watch(!self.subs.is_empty());
        // A capture's transactions may hold live view up (a body storing the shot): the
        // writer shows the placeholder if no frame comes meanwhile; the next frame
        // lowers the flag again.
        if let (Some(flag), Some(_)) = (&self.paused, &self.watch) {
            flag.store(true, Ordering::Relaxed);
        }
        for (p, r) in self.ctl.step(cam) {
            self.finished(p, r);
        }
        let changes = self.ctl.take_changes();
        if !changes.is_empty() {
            self.subs.retain(|s| {
                changes.iter().all(|c| {
                    !matches!(
                        s.try_send(c.clone()),
                        Err(crossbeam_channel::TrySendError::Disconnected(_))
                    )
                })
            });
        }
        if let Some(w) = &mut self.watch {
            if let Some((_, _, at)) = &w.done {
                if at.elapsed() > GAP_WAIT {
                    let (p, r, at) = w.done.take().expect("checked");
                    let gap = w
                        .max_gap
                        .max(self.last_frame.map_or(GAP_WAIT, |t| t.elapsed()));
                    self.watch = None;
                    let e = held_elapsed(&p, at);
                    self.answer_at(p, r, Some(gap), e);
                }
            }
        }
    }

    /// A live frame arrived (the object as received).
    pub fn frame(&mut self, object: &[u8]) {
        let now = Instant::now();
        if let Some(w) = &mut self.watch {
            if let Some(t) = self.last_frame {
                w.max_gap = w.max_gap.max(now - t);
            }
        }
        self.last_frame = Some(now);
        if let Some(flag) = &self.paused {
            flag.store(false, Ordering::Relaxed);
        }
        if let Ok(f) = crate::frame::extract(object) {
            self.size = Some((u32::from(f.width), u32::from(f.height)));
        }
        if self.watch.as_ref().is_some_and(|w| w.done.is_some()) {
            let mut w = self.watch.take().expect("checked");
            let (p, r, at) = w.done.take().expect("checked");
            let e = held_elapsed(&p, at);
            self.answer_at(p, r, Some(w.max_gap), e);
        }
    }

    /// The camera went away: every queued request and job is answered with `why`.
    pub fn lost(&mut self, why: &str) {
        for (p, r) in self.ctl.abort_all(why) {
            self.answer(p, r, None);
        }
        if let Some(mut w) = self.watch.take() {
            if let Some((p, r, _)) = w.done.take() {
                self.answer(p, r, None);
            }
        }
        self.last_frame = None;
        if let Some(flag) = &self.paused {
            flag.store(false, Ordering::Relaxed);
        }
        while let Ok(m) = self.rx.try_recv() {
            if let Msg::Request { reply, .. } = m {
                let _ = reply.send(Reply {
                    result: Err(ControlError::Refused(why.into())),
                    elapsed: Duration::ZERO,
                    live_gap: None,
                });
            }
        }
    }

    fn resolve(&self, a: Asked) -> Result<Request, ControlError> {
        match a {
            Asked::Camera(r) => Ok(r),
            Asked::AfPointAt { x, y, fraction } => {
                let (w, h) = if fraction {
                    (1, 1)
                } else {
                    self.size.ok_or_else(|| {
                        ControlError::Refused(
                            "no live-view picture yet to place the AF point in; try again in a moment"
                                .into(),
                        )
                    })?
                };
                if x < 0.0 || y < 0.0 || x > w as f64 || y > h as f64 {
                    return Err(ControlError::Usage(if fraction {
                        format!("the AF point {x},{y} is outside the picture (0 to 1)")
                    } else {
                        format!("the AF point {x},{y} is outside the {w}x{h} live-view picture")
                    }));
                }
                let (gx, gy) = if fraction {
                    crate::camera::control::grid_point(x * 640.0, y * 480.0, 640, 480)
                } else {
                    crate::camera::control::grid_point(x, y, w, h)
                };
                Ok(Request::Press(crate::camera::control::Action::AfPoint {
                    x: gx,
                    y: gy,
                }))
            }
        }
    }

    fn finished(&mut self, p: Pending, r: Result<Outcome, ControlError>) {
        if p.capture {
            if let Some(w) = &mut self.watch {
                if r.is_ok() {
                    w.done = Some((p, r, Instant::now()));
                    return;
                }
                self.watch = None;
            }
        }
        self.answer(p, r, None);
    }

    fn answer(&self, p: Pending, r: Result<Outcome, ControlError>, gap: Option<Duration>) {
        let elapsed = p.arrived.elapsed();
        self.answer_at(p, r, gap, elapsed)
    }

    fn answer_at(
        &self,
        p: Pending,
        r: Result<Outcome, ControlError>,
        gap: Option<Duration>,
        elapsed: Duration,
    ) {
        match &r {
            Ok(Outcome::Still(_)) => {
                self.stats.stills.fetch_add(1, Ordering::Relaxed);
                if let Some(g) = gap {
                    self.stats
                        .max_gap_us
                        .fetch_max(g.as_micros() as u64, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(_) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        // An asker that left does not hold anything up.
        let _ = p.reply.send(Reply {
            result: r,
            elapsed,
            live_gap: gap,
        });
    }
}

/// When a held capture finished, for its reply's `elapsed`.
fn held_elapsed(p: &Pending, finished: Instant) -> Duration {
    finished.saturating_duration_since(p.arrived)
}
