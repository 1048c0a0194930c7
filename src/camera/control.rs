//! Camera control (docs/protocol/sony-usb.md#camera-control): settings, buttons and
//! still capture, run as small jobs of one transaction per step so that whoever owns
//! the camera can poll live view between the steps. A job never blocks for the body:
//! where the body takes time (a notch to settle, focus, a shot to be stored) the job
//! re-reads the properties once per step until it sees the change or its time is up.
//!
//! Every write is confirmed by reading the value back: real bodies sometimes answer OK
//! and change nothing. On a body that announces changes with 0xC203 events
//! ([`Camera::events_live`]) the read-back waits for the event and reads 0x9209 once it
//! came (or after [`EVENT_WAIT`] without one); on a body without events every step
//! re-reads, as before. Watchers of an event-driven body cost no 0x9209 read while
//! nothing changes; otherwise the properties are re-read every [`WATCH_EVERY`].

use super::link::Link;
use super::settings::{self, int, Setting, Wanted, WB_COLOR_TEMP};
use super::sony::Camera;
use super::CameraError;
use crate::ptp::codes::{handle, PropCode};
use crate::ptp::dataset::ObjectInfo;
use crate::ptp::props::{PropModel, WriteMethod};
use crate::ptp::{OpCode, ResponseCode};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Button values: press (down) and release (up).
const DOWN: u16 = 2;
const UP: u16 = 1;

/// The AF-point grid of AFAreaPosition.
pub const GRID: (u16, u16) = (640, 480);

/// A shot larger than this is refused rather than held in memory.
const MAX_STILL: u64 = 512 << 20;
/// Notch rounds before a 2.00 setting is given up on.
const MAX_NOTCH_ROUNDS: u32 = 8;
/// No job runs longer than this.
const JOB_LIMIT: Duration = Duration::from_secs(30);
/// Time one [`Controller::step`] may take while steps make progress.
const ROUND_BUDGET: Duration = Duration::from_millis(20);
/// With subscribers, a body without events has its properties re-read this often when
/// nothing else runs.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);
/// While a job waits for a value on a body with events, 0x9209 is re-read when an event
/// marked a property stale, or when this long passed without one (the body may not
/// announce every property).
pub const EVENT_WAIT: Duration = Duration::from_millis(250);

/// What a caller asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Every setting with its current value.
    List,
    /// One setting's current value.
    Get(Setting),
    /// Change a setting to the value a person typed.
    Set(Setting, String),
    /// Press a button or move a control.
    Press(Action),
    /// Take a still and fetch it.
    Capture,
}

/// Which way to zoom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zoom {
    /// Toward tele, until stopped.
    In,
    /// Toward wide, until stopped.
    Out,
    /// Stop zooming.
    Stop,
}

/// A button press or control movement on the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Half-press: focus, then release.
    Af,
    /// Move the AF point, on the 640×480 grid.
    AfPoint {
        /// Column, 0 to 639.
        x: u16,
        /// Row, 0 to 479.
        y: u16,
    },
    /// Manual focus by this many steps (negative: nearer).
    FocusStep(i32),
    /// Start or stop zooming.
    Zoom(Zoom),
    /// Start (`true`) or stop (`false`) movie recording.
    Movie(bool),
}

/// A setting as the body has it now.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Which setting.
    pub setting: Setting,
    /// `None` when the body does not have it.
    pub value: Option<String>,
    /// The number the body holds, when it is a number.
    pub raw: Option<i128>,
    /// Whether it can be changed now.
    pub settable: bool,
    /// Why it cannot be changed now (when it cannot).
    pub why_not: Option<String>,
    /// The values it can be set to, as people read them (empty when not writable).
    pub choices: Vec<String>,
}

/// A still fetched from the body.
#[derive(Clone, Debug)]
pub struct Still {
    /// The file's bytes.
    pub data: Vec<u8>,
    /// The body's description of the object (name, format, size).
    pub info: ObjectInfo,
    /// From the first press to the last byte.
    pub took: Duration,
}

/// What a finished request gives back.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Every setting (for [`Request::List`]).
    List(Vec<State>),
    /// One setting, read back (for a get, or after a set).
    Value(State),
    /// An action finished; the text says what happened.
    Done(String),
    /// The still that was taken.
    Still(Box<Still>),
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The request itself is wrong (unknown name, bad value): a usage error.
    #[error("{0}")]
    Usage(String),
    /// The body cannot do it now, or refused it; the text says why.
    #[error("{0}")]
    Refused(String),
    /// This body has no such thing.
    #[error("{0}")]
    Unsupported(String),
    /// The body did not show the change in time.
    #[error("{0}")]
    Timeout(String),
    /// The camera link failed.
    #[error(transparent)]
    Camera(#[from] CameraError),
}

impl ControlError {
    /// A short word for tools (`--json`, the socket).
    pub fn kind(&self) -> &'static str {
        match self {
            ControlError::Usage(_) => "usage",
            ControlError::Refused(_) => "refused",
            ControlError::Unsupported(_) => "unsupported",
            ControlError::Timeout(_) => "timeout",
            ControlError::Camera(_) => "camera",
        }
    }
}

/// Maps a point of a `w`×`h` picture to the AF grid.
pub fn grid_point(x: f64, y: f64, w: u32, h: u32) -> (u16, u16) {
    let map = |v: f64, size: u32, cells: u16| {
        let f = (v / size.max(1) as f64 * cells as f64).floor();
        f.clamp(0.0, (cells - 1) as f64) as u16
    };
    (map(x, w, GRID.0), map(y, h, GRID.1))
}

/// The state of `s` on this body.
pub fn state(s: Setting, m: Option<&PropModel>) -> State {
    let Some((m, p)) = m.and_then(|m| s.property(m).map(|p| (m, p))) else {
        return State {
            setting: s,
            value: None,
            raw: None,
            settable: false,
            why_not: Some(format!("this camera has no {} setting", s.label())),
            choices: Vec::new(),
        };
    };
    let raw = int(&p.current);
    let settable = s.writable() && p.settable_now();
    State {
        setting: s,
        value: raw.map(|r| s.format(r, Some(m))),
        raw,
        settable,
        why_not: (!settable).then(|| settings::why_not_settable(s, p, m)),
        choices: if s.writable() {
            settings::choices(s, p, m)
        } else {
            Vec::new()
        },
    }
}

/// Until what an [`Step::Await`] waits.
#[derive(Clone, Copy, Debug)]
enum Until {
    Eq(i128),
    AtLeast(i128),
    FocusFound,
    Changed(i128),
}

impl Until {
    fn holds(self, v: i128) -> bool {
        match self {
            Until::Eq(t) => v == t,
            Until::AtLeast(t) => v >= t,
            Until::FocusFound => v == 2 || v == 3,
            Until::Changed(from) => v != from,
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// SDIO_ControlDevice; `what` names it in a refusal.
    Control {
        code: u16,
        data: Vec<u8>,
        what: &'static str,
    },
    /// SDIO_SetExtDevicePropValue, then [`Step::Confirm`].
    Direct {
        setting: Setting,
        code: u16,
        value: i128,
    },
    /// Re-read until `code`'s value is `value`.
    Confirm {
        setting: Setting,
        code: u16,
        value: i128,
        since: Option<Instant>,
    },
    /// 2.00 stepping toward `target`; `last` is the value before the last notch sent.
    Notch {
        setting: Setting,
        code: u16,
        target: i128,
        last: Option<i128>,
        rounds: u32,
    },
    /// Re-read until `until` holds for `code`, or `timeout`: then `fail` (or go on).
    Await {
        code: u16,
        until: Until,
        timeout: Duration,
        fail: Option<&'static str>,
        since: Option<Instant>,
    },
    /// GetObjectInfo + GetObject of the shot in memory.
    Fetch,
}

#[derive(Debug)]
enum Goal {
    Set(Setting),
    Af,
    Done(String),
    Capture,
}

#[derive(Debug)]
struct Job {
    goal: Goal,
    steps: VecDeque<Step>,
    started: Instant,
    /// Buttons to let go of when the job fails half-way.
    release: Vec<u16>,
    focused: Option<bool>,
    still: Option<Still>,
}

type Done<T> = (T, Result<Outcome, ControlError>);

/// Runs requests against one camera, one job at a time, a step per call of
/// [`step`](Controller::step). `T` is the caller's token for the reply.
pub struct Controller<T> {
    queue: VecDeque<(T, Job)>,
    watch: bool,
    last_read: Option<Instant>,
    known: Vec<(Setting, Option<String>)>,
    changes: Vec<State>,
}

impl<T> Default for Controller<T> {
    fn default() -> Self {
        Controller::new()
    }
}

impl<T> Controller<T> {
    /// A controller with no jobs queued and watching off.
    pub fn new() -> Self {
        Controller {
            queue: VecDeque::new(),
            watch: false,
            last_read: None,
            known: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// Whether no job is queued or running.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Re-read the properties now and then, to report changes made on the body.
    pub fn set_watch(&mut self, on: bool) {
        self.watch = on;
    }

    /// Settings whose value changed since the last call (by this host or on the body).
    pub fn take_changes(&mut self) -> Vec<State> {
        std::mem::take(&mut self.changes)
    }

    /// Takes a request. Lists and gets are answered at once (returned); the rest is
    /// queued as a job and answered by a later [`step`](Controller::step).
    pub fn submit<L: Link>(
        &mut self,
        cam: &mut Camera<L>,
        req: Request,
        token: T,
    ) -> Option<Done<T>> {
        let job = match req {
            Request::List => {
                let r = self.read(cam).map(|()| {
                    Outcome::List(
                        Setting::ALL
                            .iter()
                            .map(|&s| state(s, cam.properties()))
                            .collect(),
                    )
                });
                return Some((token, r));
            }
            Request::Get(s) => {
                let r = self
                    .read(cam)
                    .map(|()| Outcome::Value(state(s, cam.properties())));
                return Some((token, r));
            }
            Request::Set(s, text) => self.read(cam).and_then(|()| plan_set(cam, s, &text)),
            Request::Press(a) => self.read(cam).and_then(|()| plan_action(cam, a)),
            Request::Capture => self.read(cam).map(|()| plan_capture(cam)),
        };
        match job {
            Ok(job) => {
                self.queue.push_back((token, job));
                None
            }
            Err(e) => Some((token, Err(e))),
        }
    }

    /// Runs one step of the current job (at most a transaction or two), or, when idle
    /// and watching, a property re-read when one is due. Returns the jobs that ended.
    pub fn step<L: Link>(&mut self, cam: &mut Camera<L>) -> Vec<Done<T>> {
        let mut out = Vec::new();
        // A body storing a shot may take its time over a transaction.
        cam.set_patient(!self.queue.is_empty());
        let Some((_, job)) = self.queue.front_mut() else {
            if self.watch {
                if let Err(e) = self.watch_step(cam) {
                    log::debug!("re-reading the properties for watchers failed: {e}");
                }
            }
            return out;
        };
        // Steps that make progress follow each other at once; a step that waits for the
        // body (or the time budget) hands back to live view.
        let round = Instant::now();
        let r = loop {
            if job.started.elapsed() > JOB_LIMIT {
                break Err(ControlError::Timeout(format!(
                    "the camera did not finish within {} s",
                    JOB_LIMIT.as_secs()
                )));
            }
            match run_step(job, cam) {
                Ok(_) if job.steps.is_empty() => break Ok(true),
                Ok(true) if round.elapsed() < ROUND_BUDGET => {}
                Ok(_) => break Ok(false),
                Err(e) => break Err(e),
            }
        };
        // A property re-read inside the step counts for the watchers too.
        self.note_values(cam);
        match r {
            Ok(false) => {}
            Ok(true) => {
                let (token, job) = self.queue.pop_front().expect("a job is running");
                out.push((token, finish(job, cam)));
            }
            Err(e) => {
                let (token, job) = self.queue.pop_front().expect("a job is running");
                release(cam, &job.release);
                out.push((token, Err(e)));
            }
        }
        out
    }

    /// Ends every queued job with `why` (the camera went away).
    pub fn abort_all(&mut self, why: &str) -> Vec<Done<T>> {
        self.queue
            .drain(..)
            .map(|(t, _)| (t, Err(ControlError::Refused(why.to_string()))))
            .collect()
    }

    /// Runs `req` to its end without live view (the `control` command owning the camera
    /// for its short life).
    pub fn run<L: Link>(cam: &mut Camera<L>, req: Request) -> Result<Outcome, ControlError>
    where
        T: Default,
    {
        let mut c: Controller<T> = Controller::new();
        if let Some((_, r)) = c.submit(cam, req, T::default()) {
            return r;
        }
        loop {
            if let Some((_, r)) = c.step(cam).pop() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Idle with watchers: on a body with events, a re-read only when one of them marked
    /// a property stale; otherwise every [`WATCH_EVERY`].
    fn watch_step<L: Link>(&mut self, cam: &mut Camera<L>) -> Result<(), ControlError> {
        cam.poll_events()?;
        if cam.events_live() {
            if cam.has_stale() {
                self.read(cam)?;
            }
            return Ok(());
        }
        if self.last_read.is_none_or(|t| t.elapsed() >= WATCH_EVERY) {
            self.read(cam)?;
        }
        Ok(())
    }

    fn read<L: Link>(&mut self, cam: &mut Camera<L>) -> Result<(), ControlError> {
        cam.refresh_properties()?;
        self.last_read = Some(Instant::now());
        self.note_values(cam);
        Ok(())
    }

    /// Compares the named settings with what was last seen.
    fn note_values<L: Link>(&mut self, cam: &Camera<L>) {
        let m = cam.properties();
        for s in Setting::ALL {
            let st = state(s, m);
            match self.known.iter_mut().find(|(k, _)| *k == s) {
                Some((_, v)) if *v == st.value => {}
                Some((_, v)) => {
                    *v = st.value.clone();
                    self.changes.push(st);
                }
                None => self.known.push((s, st.value.clone())),
            }
        }
    }
}

/// The re-read of a job waiting for a value: every step on a body without events; on a
/// body with events when one marked a property stale, or after [`EVENT_WAIT`] without.
fn reread<L: Link>(cam: &mut Camera<L>) -> Result<(), CameraError> {
    cam.poll_events()?;
    if !cam.events_live() || cam.has_stale() || cam.since_properties_read() >= EVENT_WAIT {
        cam.refresh_properties()?;
    }
    Ok(())
}

fn model<L: Link>(cam: &Camera<L>) -> Result<&PropModel, ControlError> {
    cam.properties().ok_or_else(|| {
        ControlError::Unsupported("the camera's property list could not be read".into())
    })
}

fn job(goal: Goal, steps: Vec<Step>) -> Job {
    Job {
        goal,
        steps: steps.into(),
        started: Instant::now(),
        release: Vec::new(),
        focused: None,
        still: None,
    }
}

fn button(code: u16, v: u16, what: &'static str) -> Step {
    Step::Control {
        code,
        data: v.to_le_bytes().to_vec(),
        what,
    }
}

fn plan_set<L: Link>(cam: &Camera<L>, s: Setting, text: &str) -> Result<Job, ControlError> {
    let want = s.parse_value(text).map_err(ControlError::Usage)?;
    let m = model(cam)?;
    let Some(p) = s.property(m) else {
        return Err(ControlError::Unsupported(format!(
            "this camera has no {} setting",
            s.label()
        )));
    };
    if !p.settable_now() {
        return Err(ControlError::Refused(settings::why_not_settable(s, p, m)));
    }
    if let Wanted::Kelvin(k) = want {
        return plan_kelvin(m, k);
    }
    let target = match settings::listed(p) {
        Some(now) => match settings::resolve(s, want, &now) {
            Some(v) => v,
            None => {
                let all = settings::shown(p);
                let msg = match settings::resolve(s, want, &all) {
                    Some(v) => format!(
                        "{} {} is not available now; the camera takes: {}",
                        s.label(),
                        s.format(v, Some(m)),
                        list_text(s, &now, m)
                    ),
                    None => format!(
                        "{text} is not a {} this camera offers; it takes: {}",
                        s.label(),
                        list_text(s, &now, m)
                    ),
                };
                return Err(ControlError::Refused(msg));
            }
        },
        None => match want {
            Wanted::Raw(v) if settings::in_range(p, v) => v,
            _ => {
                return Err(ControlError::Refused(format!(
                    "{text} is outside what the camera takes for {}",
                    s.label()
                )))
            }
        },
    };
    let step = match p.write {
        WriteMethod::Notch => Step::Notch {
            setting: s,
            code: p.code,
            target,
            last: None,
            rounds: 0,
        },
        _ => Step::Direct {
            setting: s,
            code: p.code,
            value: target,
        },
    };
    Ok(job(Goal::Set(s), vec![step]))
}

/// White balance by colour temperature: WhiteBalance to "temperature", then ColorTemp.
fn plan_kelvin(m: &PropModel, k: u32) -> Result<Job, ControlError> {
    let wb = Setting::Wb;
    let Some(ct) = m.get(PropCode::COLOR_TEMPERATURE.0) else {
        return Err(ControlError::Unsupported(
            "this camera takes no colour temperature (no ColorTemp property): choose a preset"
                .into(),
        ));
    };
    let p = wb.property(m).expect("checked by the caller");
    if !settings::listed(p).is_some_and(|l| l.contains(&WB_COLOR_TEMP)) {
        return Err(ControlError::Refused(
            "the camera offers no colour-temperature white balance now".into(),
        ));
    }
    // Bodies take ColorTemp only once white balance is on colour temperature.
    if int(&p.current) == Some(WB_COLOR_TEMP) && !ct.settable_now() {
        return Err(ControlError::Refused(
            "the colour temperature cannot be changed now".into(),
        ));
    }
    if !settings::in_range(ct, k as i128) {
        return Err(ControlError::Refused(format!(
            "{k}K is outside what the camera takes: {}",
            settings::choices(wb, ct, m).join(", ")
        )));
    }
    let mut steps = Vec::new();
    if int(&p.current) != Some(WB_COLOR_TEMP) {
        steps.push(Step::Direct {
            setting: wb,
            code: p.code,
            value: WB_COLOR_TEMP,
        });
    }
    steps.push(Step::Direct {
        setting: wb,
        code: PropCode::COLOR_TEMPERATURE.0,
        value: k as i128,
    });
    Ok(job(Goal::Set(wb), steps))
}

fn list_text(s: Setting, values: &[i128], m: &PropModel) -> String {
    let mut v: Vec<String> = values.iter().map(|&r| s.format(r, Some(m))).collect();
    if v.len() > 40 {
        v.truncate(40);
        v.push("…".into());
    }
    if v.is_empty() {
        "nothing now".into()
    } else {
        v.join(", ")
    }
}

fn has_control<L: Link>(cam: &Camera<L>, code: u16) -> bool {
    cam.ext_info().controls.contains(&code)
        || cam.properties().is_some_and(|m| m.get(code).is_some())
}

fn plan_action<L: Link>(cam: &Camera<L>, a: Action) -> Result<Job, ControlError> {
    let m = model(cam)?;
    let cur = |c: u16| m.get(c).and_then(|p| int(&p.current));
    match a {
        Action::Af => {
            let mut j = job(
                Goal::Af,
                vec![
                    button(PropCode::S1.0, DOWN, "a half-press (S1)"),
                    Step::Await {
                        code: PropCode::FOCUS_FOUND.0,
                        until: Until::FocusFound,
                        timeout: Duration::from_secs(2),
                        fail: None,
                        since: None,
                    },
                    button(PropCode::S1.0, UP, "releasing the half-press"),
                ],
            );
            j.release = vec![PropCode::S1.0];
            Ok(j)
        }
        Action::AfPoint { x, y } => {
            if x >= GRID.0 || y >= GRID.1 {
                return Err(ControlError::Usage(format!(
                    "the AF point {x},{y} is off the 640x480 grid"
                )));
            }
            let v = (u32::from(x) << 16) | u32::from(y);
            Ok(job(
                Goal::Done(format!("AF point moved to {x},{y} of 640x480")),
                vec![Step::Control {
                    code: PropCode::AF_POINT.0,
                    data: v.to_le_bytes().to_vec(),
                    what: "moving the AF point (the focus area must be a movable spot)",
                }],
            ))
        }
        Action::FocusStep(n) => {
            if n == 0 || n.abs() > 1000 {
                return Err(ControlError::Usage(
                    "focus-step needs a number of steps from -1000 to 1000, not 0".into(),
                ));
            }
            if let Some(f) = cur(PropCode::FOCUS_MODE.0) {
                if f != 1 && f != 0x8006 {
                    return Err(ControlError::Refused(format!(
                        "manual focus steps need focus mode manual or dmf; it is {} \
                         (run `control set focus manual` first)",
                        Setting::Focus.format(f, Some(m))
                    )));
                }
            }
            let mut steps = Vec::new();
            let mut left = n;
            while left != 0 {
                let s = left.clamp(-7, 7);
                left -= s;
                steps.push(Step::Control {
                    code: PropCode::MANUAL_FOCUS_ADJUST.0,
                    data: (s as i16).to_le_bytes().to_vec(),
                    what: "a manual focus step",
                });
            }
            Ok(job(
                Goal::Done(format!(
                    "focus moved {n} step{}",
                    if n.abs() == 1 { "" } else { "s" }
                )),
                steps,
            ))
        }
        Action::Zoom(z) => {
            if !has_control(cam, PropCode::ZOOM.0)
                && m.get(PropCode::ZOOM_ENABLE_STATUS.0).is_none()
            {
                return Err(ControlError::Unsupported(
                    "this camera has no power zoom".into(),
                ));
            }
            // ZoomEnableStatus's values are not known for sure: the body's own answer to
            // the zoom decides.
            let (v, said): (i8, &str) = match z {
                Zoom::In => (1, "zooming in (tele) until `zoom stop`"),
                Zoom::Out => (-1, "zooming out (wide) until `zoom stop`"),
                Zoom::Stop => (0, "zoom stopped"),
            };
            Ok(job(
                Goal::Done(said.into()),
                vec![Step::Control {
                    code: PropCode::ZOOM.0,
                    data: vec![v as u8],
                    what: "zoom",
                }],
            ))
        }
        Action::Movie(on) => {
            let want = on as i128;
            if cur(PropCode::MOVIE_RECORDING_STATE.0) == Some(want) {
                return Ok(job(
                    Goal::Done(
                        if on {
                            "already recording"
                        } else {
                            "not recording"
                        }
                        .into(),
                    ),
                    vec![],
                ));
            }
            let mut steps = vec![
                button(PropCode::MOVIE_BUTTON.0, DOWN, "the movie button"),
                button(PropCode::MOVIE_BUTTON.0, UP, "the movie button"),
            ];
            if m.get(PropCode::MOVIE_RECORDING_STATE.0).is_some() {
                steps.push(Step::Await {
                    code: PropCode::MOVIE_RECORDING_STATE.0,
                    until: Until::Eq(want),
                    timeout: Duration::from_secs(3),
                    fail: Some(if on {
                        "the camera did not start recording (is a memory card in, and the \
                         mode dial on a movie-capable mode?)"
                    } else {
                        "the camera did not stop recording"
                    }),
                    since: None,
                });
            }
            Ok(job(
                Goal::Done(if on { "recording" } else { "recording stopped" }.into()),
                steps,
            ))
        }
    }
}

/// S1, S2, (focus unless manual), release, wait for the shot in memory, fetch it.
fn plan_capture<L: Link>(cam: &Camera<L>) -> Job {
    let manual = cam
        .properties()
        .and_then(|m| m.get(PropCode::FOCUS_MODE.0))
        .and_then(|p| int(&p.current))
        == Some(1);
    let mut steps = vec![
        button(PropCode::S1.0, DOWN, "a half-press (S1)"),
        button(PropCode::S2.0, DOWN, "the shutter release (S2)"),
    ];
    if !manual {
        steps.push(Step::Await {
            code: PropCode::FOCUS_FOUND.0,
            until: Until::FocusFound,
            timeout: Duration::from_secs(1),
            fail: None,
            since: None,
        });
    }
    steps.extend([
        button(PropCode::S2.0, UP, "releasing the shutter (S2)"),
        button(PropCode::S1.0, UP, "releasing the half-press (S1)"),
        Step::Await {
            code: PropCode::OBJECT_IN_MEMORY.0,
            until: Until::AtLeast(0x8000),
            timeout: Duration::from_secs(10),
            fail: Some("the camera stored no picture within 10 s (is the shutter blocked, or the card full?)"),
            since: None,
        },
        Step::Fetch,
    ]);
    let mut j = job(Goal::Capture, steps);
    j.release = vec![PropCode::S2.0, PropCode::S1.0];
    j
}

/// Best effort: buttons left pressed by a failed job are let go.
fn release<L: Link>(cam: &mut Camera<L>, buttons: &[u16]) {
    for &b in buttons {
        let r = cam.session_mut().transaction(
            OpCode::SDIO_CONTROL_DEVICE,
            &[b as u32],
            crate::camera::DataPhase::Out(&UP.to_le_bytes()),
        );
        if let Err(e) = r {
            log::debug!("releasing {b:#06x} after a failed job: {e}");
        }
    }
}

fn current<L: Link>(cam: &Camera<L>, c: u16) -> Option<i128> {
    cam.properties()
        .and_then(|m| m.get(c))
        .and_then(|p| int(&p.current))
}

/// Runs the job's next step. Ok(false): it waits for the body (nothing changed yet).
fn run_step<L: Link>(job: &mut Job, cam: &mut Camera<L>) -> Result<bool, ControlError> {
    use crate::camera::DataPhase;
    let Some(step) = job.steps.front_mut() else {
        return Ok(true);
    };
    match step {
        Step::Control { code, data, what } => {
            let r = cam.session_mut().transaction(
                OpCode::SDIO_CONTROL_DEVICE,
                &[*code as u32],
                DataPhase::Out(data),
            )?;
            match r.code {
                ResponseCode::OK => {}
                ResponseCode::ACCESS_DENIED => {
                    return Err(ControlError::Refused(format!(
                        "the camera does not take {what} now"
                    )))
                }
                ResponseCode::DEVICE_PROP_NOT_SUPPORTED | ResponseCode::OPERATION_NOT_SUPPORTED => {
                    return Err(ControlError::Unsupported(format!(
                        "this camera does not support {what}"
                    )))
                }
                code => {
                    return Err(CameraError::Refused {
                        op: OpCode::SDIO_CONTROL_DEVICE,
                        code,
                    }
                    .into())
                }
            }
            job.steps.pop_front();
        }
        Step::Direct {
            setting,
            code,
            value,
        } => {
            let (s, c, v) = (*setting, *code, *value);
            let m = model(cam)?;
            let p = m.get(c).ok_or_else(|| {
                ControlError::Unsupported(format!("this camera has no {} setting", s.label()))
            })?;
            let size = p
                .data_type
                .scalar_size()
                .filter(|_| !p.data_type.is_array())
                .ok_or_else(|| {
                    ControlError::Unsupported(format!("{} has an unknown data type", s.label()))
                })?;
            let bytes = v.to_le_bytes()[..size].to_vec();
            let shown = show(s, c, v, m);
            let r = cam.session_mut().transaction(
                OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
                &[c as u32],
                DataPhase::Out(&bytes),
            )?;
            refusal(r.code, s, &shown, cam)?;
            *step = Step::Confirm {
                setting: s,
                code: c,
                value: v,
                since: None,
            };
        }
        Step::Confirm {
            setting,
            code,
            value,
            since,
        } => {
            let started = *since.get_or_insert_with(Instant::now);
            reread(cam)?;
            let now = current(cam, *code);
            if now == Some(*value) {
                job.steps.pop_front();
            } else if started.elapsed() <= Duration::from_millis(1500) {
                return Ok(false);
            } else {
                let m = model(cam)?;
                return Err(ControlError::Refused(format!(
                    "the camera answered OK but kept {} at {} (asked for {})",
                    setting.label(),
                    now.map_or("nothing".into(), |n| show(*setting, *code, n, m)),
                    show(*setting, *code, *value, m)
                )));
            }
        }
        Step::Notch {
            setting,
            code,
            target,
            last,
            rounds,
        } => {
            let (s, c, t) = (*setting, *code, *target);
            let m = model(cam)?;
            let p = m.get(c).ok_or_else(|| {
                ControlError::Unsupported(format!("this camera has no {} setting", s.label()))
            })?;
            let cur = int(&p.current);
            if cur == Some(t) {
                job.steps.pop_front();
                return Ok(true);
            }
            let list = settings::shown(p);
            let shown_t = show(s, c, t, m);
            let (Some(cur), Some(to)) = (cur, list.iter().position(|&v| v == t)) else {
                return Err(ControlError::Refused(format!(
                    "{shown_t} is not in the camera's list of {}",
                    s.label()
                )));
            };
            if *last == Some(cur) {
                return Err(ControlError::Refused(format!(
                    "the camera lists {} {shown_t} but did not move to it (it stays at {})",
                    s.label(),
                    show(s, c, cur, m)
                )));
            }
            if *rounds >= MAX_NOTCH_ROUNDS {
                return Err(ControlError::Refused(format!(
                    "the camera did not settle on {} {shown_t} after {MAX_NOTCH_ROUNDS} steps \
                     (it is at {})",
                    s.label(),
                    show(s, c, cur, m)
                )));
            }
            // Where the current value is not listed, one notch toward the target.
            let delta = match list.iter().position(|&v| v == cur) {
                Some(from) => (to as i64 - from as i64).clamp(-127, 127),
                None => {
                    let nearer = list.iter().position(|&v| v > cur).unwrap_or(list.len());
                    if to >= nearer {
                        1
                    } else {
                        -1
                    }
                }
            };
            let r = cam.session_mut().transaction(
                OpCode::SDIO_CONTROL_DEVICE,
                &[c as u32],
                DataPhase::Out(&[delta as i8 as u8]),
            )?;
            refusal(r.code, s, &shown_t, cam)?;
            *last = Some(cur);
            *rounds += 1;
            job.steps.push_front(Step::Await {
                code: c,
                until: Until::Changed(cur),
                timeout: Duration::from_secs(3),
                fail: None,
                since: None,
            });
        }
        Step::Await {
            code,
            until,
            timeout,
            fail,
            since,
        } => {
            let started = *since.get_or_insert_with(Instant::now);
            let (c, u, t, f) = (*code, *until, *timeout, *fail);
            reread(cam)?;
            let listed = cam.properties().is_some_and(|m| m.get(c).is_some());
            let v = current(cam, c);
            let held = v.is_some_and(|v| u.holds(v));
            if matches!(u, Until::FocusFound) && (held || !listed) {
                job.focused = Some(held);
            }
            if held || !listed {
                if !listed && f.is_some() {
                    return Err(ControlError::Unsupported(format!(
                        "the camera does not report property {c:#06x}, which this needs"
                    )));
                }
                job.steps.pop_front();
            } else if started.elapsed() <= t {
                return Ok(false);
            } else {
                if matches!(u, Until::FocusFound) {
                    job.focused = Some(false);
                }
                if let Some(f) = f {
                    return Err(ControlError::Timeout(f.into()));
                }
                job.steps.pop_front();
            }
        }
        Step::Fetch => {
            let mut data = Vec::new();
            cam.session_mut().checked(
                OpCode::GET_OBJECT_INFO,
                &[handle::SHOT_IMAGE],
                DataPhase::In(&mut data),
            )?;
            let info = ObjectInfo::parse(&data).map_err(CameraError::from)?;
            data = Vec::with_capacity((info.compressed_size as usize).min(64 << 20));
            let mut over = false;
            let (r, n) = cam.session_mut().transaction_streamed(
                OpCode::GET_OBJECT,
                &[handle::SHOT_IMAGE],
                &mut |b| {
                    if data.len() as u64 + b.len() as u64 > MAX_STILL {
                        over = true;
                        return false;
                    }
                    data.extend_from_slice(b);
                    true
                },
            )?;
            if r.code != ResponseCode::OK {
                return Err(CameraError::Refused {
                    op: OpCode::GET_OBJECT,
                    code: r.code,
                }
                .into());
            }
            if over {
                return Err(ControlError::Refused(format!(
                    "the shot is {n} bytes, more than the {} MiB alpha-bridge holds",
                    MAX_STILL >> 20
                )));
            }
            if data.is_empty() {
                return Err(ControlError::Refused(
                    "the camera sent an empty picture".into(),
                ));
            }
            job.still = Some(Still {
                data,
                info,
                took: job.started.elapsed(),
            });
            job.steps.pop_front();
        }
    }
    Ok(true)
}

/// A value of `s` (or of ColorTemp) for messages.
fn show(s: Setting, c: u16, v: i128, m: &PropModel) -> String {
    if c == PropCode::COLOR_TEMPERATURE.0 {
        format!("{v}K")
    } else {
        s.format(v, Some(m))
    }
}

/// The body's answer to a write, in words.
fn refusal<L: Link>(
    code: ResponseCode,
    s: Setting,
    shown: &str,
    cam: &Camera<L>,
) -> Result<(), ControlError> {
    match code {
        ResponseCode::OK => Ok(()),
        ResponseCode::INVALID_DEVICE_PROP_VALUE => Err(ControlError::Refused(format!(
            "the camera refused {} {shown}: not a value it takes now",
            s.label()
        ))),
        ResponseCode::ACCESS_DENIED => {
            let why = cam
                .properties()
                .and_then(|m| s.property(m).map(|p| settings::why_not_settable(s, p, m)))
                .unwrap_or_else(|| format!("{} cannot be changed now", s.label()));
            Err(ControlError::Refused(format!("the camera refused: {why}")))
        }
        code => Err(CameraError::Refused {
            op: OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
            code,
        }
        .into()),
    }
}

fn finish<L: Link>(job: Job, cam: &Camera<L>) -> Result<Outcome, ControlError> {
    Ok(match job.goal {
        Goal::Set(s) => Outcome::Value(state(s, cam.properties())),
        Goal::Done(msg) => Outcome::Done(msg),
        Goal::Af => Outcome::Done(match job.focused {
            Some(true) => "focused".into(),
            Some(false) => "no focus found (the half-press was released)".into(),
            None => "half-press done".into(),
        }),
        Goal::Capture => match job.still {
            Some(s) => Outcome::Still(Box::new(s)),
            None => return Err(ControlError::Refused("no picture was fetched".into())),
        },
    })
}

#[cfg(test)]
mod tests;
