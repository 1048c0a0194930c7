//! Camera events end to end (issue 14 item 2, issue 15): the host's camera driver, run
//! the way the webcam runs it (a live-view poll, then a step of camera control with a
//! watcher), against the emulated bodies over USB in process and over PTP/IP on
//! loopback. A change made on the body (its mode dial) reaches the watcher through the
//! 0xC203 event; with events, an idle watcher costs fewer 0x9209 reads than the polling
//! the ILCE-5100 (no interrupt endpoint) still gets. Bad events and failing interrupt
//! reads (played by an [`Observed`] transport) are dropped, never fatal. Times and rates
//! are printed, never asserted.

use alpha_bridge::camera::control::{Controller, Outcome, Request};
use alpha_bridge::camera::link::{Link, UsbLink};
use alpha_bridge::camera::settings::Setting;
use alpha_bridge::camera::{Camera, ConnectOptions, SonyCamera};
use alpha_bridge::emulator::wifi::{WifiConfig, WifiEmulator};
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::ptp::container::{Event, Params};
use alpha_bridge::ptp::{EventCode, OpCode};
use alpha_bridge::transport::tcp::TcpConfig;
use alpha_bridge::transport::{memory, DevicePipe, ErrorKind, Pipe, TransportError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::observed::{Observed, Watch};

const IDLE: Duration = Duration::from_millis(2000);

/// What one run measured.
#[derive(Debug)]
struct Run {
    events: bool,
    /// 0x9209 reads while nothing changed, over [`IDLE`].
    idle_reads: usize,
    /// From the turn of the dial to the watcher's change.
    dial_seen: Duration,
    /// From the set request to its confirmed answer.
    set_confirmed: Duration,
}

fn reads(body: &Body) -> usize {
    body.stats()
        .ops()
        .iter()
        .filter(|&&o| o == OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO)
        .count()
}

/// One round as the webcam does it: a live-view poll, then camera control.
fn round<L: Link>(cam: &mut Camera<L>, c: &mut Controller<u32>, buf: &mut Vec<u8>) -> Vec<u32> {
    cam.poll_live_view(buf).expect("live view goes on");
    c.step(cam)
        .into_iter()
        .map(|(t, r)| {
            r.expect("the set is confirmed");
            t
        })
        .collect()
}

fn watch<L: Link>(mut cam: Camera<L>, body: &Body) -> Run {
    let mut c: Controller<u32> = Controller::new();
    c.set_watch(true);
    let mut buf = Vec::new();
    // The handshake's own settings may still be announced: let that settle. The first
    // change the body announces makes it event-driven for the host; the idle count
    // starts after it.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        round(&mut cam, &mut c, &mut buf);
    }
    c.take_changes();
    body.turn_mode_dial(3).unwrap();
    let t = Instant::now();
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|s: &alpha_bridge::camera::control::State| s.setting == Setting::Mode)
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the dial was never seen"
        );
        round(&mut cam, &mut c, &mut buf);
        seen.extend(c.take_changes());
    }
    let dial_seen = t.elapsed();
    let mode = seen
        .iter()
        .rev()
        .find(|s| s.setting == Setting::Mode)
        .unwrap();
    assert_eq!(mode.raw, Some(3), "{mode:?}");

    let before = reads(body);
    let t = Instant::now();
    while t.elapsed() < IDLE {
        round(&mut cam, &mut c, &mut buf);
    }
    let idle_reads = reads(body) - before;
    assert!(c.take_changes().is_empty(), "nothing changed");

    let t = Instant::now();
    let immediate = c.submit(&mut cam, Request::Set(Setting::Wb, "daylight".into()), 9);
    assert!(immediate.is_none(), "{immediate:?}");
    while round(&mut cam, &mut c, &mut buf).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the set never finished"
        );
    }
    let set_confirmed = t.elapsed();
    match Controller::<()>::run(&mut cam, Request::Get(Setting::Wb)).unwrap() {
        Outcome::Value(v) => assert_eq!(v.value.as_deref(), Some("daylight")),
        o => panic!("{o:?}"),
    }
    let events = cam.events_live();
    drop(cam.close());
    Run {
        events,
        idle_reads,
        dial_seen,
        set_confirmed,
    }
}

fn report(what: &str, r: &Run) {
    let per_min = r.idle_reads as f64 * 60.0 / IDLE.as_secs_f64();
    eprintln!(
        "{what}: events {}; idle 0x9209 reads {} in {:?} ({per_min:.0}/min); dial seen after \
         {:?}; wb set confirmed after {:?}",
        r.events, r.idle_reads, IDLE, r.dial_seen, r.set_confirmed
    );
}

fn usb(body: Body) -> Run {
    let emu = UsbEmulator::new(body);
    let cam = SonyCamera::connect(emu.connect().unwrap(), ConnectOptions::default()).unwrap();
    watch(cam, emu.body())
}

#[test]
fn over_usb_changes_come_by_event_and_an_idle_watcher_reads_less_than_polling() {
    let with = usb(Body::ilce_6400());
    report("usb ILCE-6400", &with);
    let without = usb(Body::ilce_5100());
    report("usb ILCE-5100", &without);
    assert!(with.events, "the a6400 sends events");
    assert!(!without.events, "the a5100 has no interrupt endpoint");
    assert_eq!(with.idle_reads, 0, "{with:?}");
    assert!(
        without.idle_reads >= 2,
        "watchers still poll the a5100: {without:?}"
    );
}

#[test]
fn over_ptpip_changes_come_by_event_on_the_event_channel() {
    let body = Arc::new(Body::ilce_6400());
    let mut cfg = WifiConfig::pc_remote(Body::ilce_6400()).for_tests(None);
    cfg.pc_remote = Some(body.clone());
    let emu = WifiEmulator::start(cfg).expect("the emulator starts");
    let tcp = TcpConfig {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(3),
        ..TcpConfig::default()
    };
    let cam = Camera::connect_ptpip(
        emu.ptpip_addr(),
        *b"alpha-bridge-net",
        "alpha-bridge test",
        tcp,
        ConnectOptions::default(),
    )
    .unwrap();
    let r = watch(cam, &body);
    report("ptp/ip ILCE-6400", &r);
    assert!(r.events, "events came on the event channel");
    assert_eq!(r.idle_reads, 0, "{r:?}");
}

fn event(code: u16, params: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    Event {
        code: EventCode(code),
        tid: 0xFFFF_FFFF,
        params: Params::new(params).unwrap(),
    }
    .encode(&mut b);
    b
}

/// Plays interrupt transfers (bytes or an error kind), then lets the real pipe answer;
/// notes the halts cleared.
#[derive(Clone, Default)]
struct Script(Arc<Mutex<Played>>);

type Transfer = Result<Vec<u8>, ErrorKind>;

#[derive(Default)]
struct Played {
    transfers: VecDeque<Transfer>,
    cleared: Vec<Pipe>,
}

impl Script {
    fn new(items: Vec<Transfer>) -> Script {
        Script(Arc::new(Mutex::new(Played {
            transfers: items.into(),
            cleared: Vec::new(),
        })))
    }
    fn cleared(&self) -> Vec<Pipe> {
        self.0.lock().unwrap().cleared.clone()
    }
}

impl Watch for Script {
    fn read_event(&mut self) -> Option<Result<Vec<u8>, TransportError>> {
        let next = self.0.lock().unwrap().transfers.pop_front()?;
        Some(next.map_err(|k| TransportError::new(k, "scripted")))
    }
    fn clear_halt(&mut self, pipe: Pipe) {
        self.0.lock().unwrap().cleared.push(pipe);
    }
}

fn polled(link: &mut impl Link, tries: usize) -> Vec<u16> {
    (0..tries)
        .filter_map(|_| link.poll_event().unwrap())
        .map(|e| e.code.0)
        .collect()
}

#[test]
fn interrupt_read_errors_end_in_polling_never_in_a_failure() {
    // A timeout is "no event"; a stall is cleared once; the event behind them arrives.
    let (host, mut dev, _) = memory::pair(512);
    dev.write_event(&event(0xC203, &[0xD21E])).unwrap();
    let script = Script::new(vec![
        Err(ErrorKind::Timeout),
        Err(ErrorKind::Stall),
        Err(ErrorKind::Overflow),
    ]);
    let watch = script.clone();
    let mut link = UsbLink::new(Observed { inner: host, watch });
    assert_eq!(polled(&mut link, 4), vec![0xC203]);
    assert_eq!(script.cleared(), vec![Pipe::InterruptIn]);

    // Three failures in a row: the pipe is given up on for this connection.
    let (host, mut dev, _) = memory::pair(512);
    let script = Script::new(vec![
        Err(ErrorKind::Other),
        Err(ErrorKind::Stall),
        Err(ErrorKind::Overflow),
    ]);
    let mut link = UsbLink::new(Observed {
        inner: host,
        watch: script,
    });
    assert!(polled(&mut link, 3).is_empty());
    dev.write_event(&event(0xC203, &[0xD21E])).unwrap();
    assert!(polled(&mut link, 3).is_empty(), "not read again");
}

#[test]
fn malformed_events_are_dropped_and_the_session_goes_on() {
    let emu = UsbEmulator::new(Body::ilce_6400());
    let mut lying = event(0xC203, &[0xD21E]);
    lying[0] = 40; // the length says 40, 16 bytes came
    let bad = |b: Vec<u8>| Ok(b);
    let script = Script::new(vec![
        bad(vec![0x10, 0, 0]),
        bad(lying),
        bad(event(0xC203, &[])),            // no property code
        bad(event(0xC203, &[0x0001_D21E])), // not a 16-bit code
        bad(event(0xC2FF, &[0xD21E])),      // an event nobody knows
        bad(event(0x4008, &[])),            // DeviceInfoChanged: not for the model
        bad(vec![0xA5; 64]),                // noise
        Err(ErrorKind::Other),
    ]);
    let t = Observed {
        inner: emu.connect().unwrap(),
        watch: script,
    };
    // Nothing set by the handshake: the body itself has nothing to announce.
    let opts = ConnectOptions {
        live_view_quality: None,
        priority_mode: false,
        ..ConnectOptions::default()
    };
    let mut cam = SonyCamera::connect(t, opts).unwrap();
    for _ in 0..12 {
        assert_eq!(cam.poll_events().unwrap(), 0);
        std::thread::sleep(Duration::from_millis(6));
    }
    assert!(!cam.events_live() && !cam.has_stale());
    // The pipe and the session still work after all that.
    emu.body().turn_mode_dial(2).unwrap();
    let t = Instant::now();
    while !cam.has_stale() && t.elapsed() < Duration::from_secs(2) {
        cam.poll_events().unwrap();
        std::thread::sleep(Duration::from_millis(6));
    }
    assert!(cam.has_stale() && cam.events_live());
    let mut buf = Vec::new();
    cam.next_live_view(&mut buf, &|| false).unwrap();
    drop(cam.close());
}
