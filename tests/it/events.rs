//! Camera events end to end (issue 14 item 2, issue 15): the host's camera driver, run
//! the way the webcam runs it (a live-view poll, then a step of camera control with a
//! watcher), against the emulated bodies over USB in process and over PTP/IP on
//! loopback. A change made on the body (its mode dial) reaches the watcher through the
//! 0xC203 event; with events, an idle watcher costs fewer 0x9209 reads than the polling
//! the ILCE-5100 (no interrupt endpoint) still gets. Times and rates are printed, never
//! asserted.

use alpha_bridge::camera::control::{Controller, Outcome, Request};
use alpha_bridge::camera::link::Link;
use alpha_bridge::camera::settings::Setting;
use alpha_bridge::camera::{Camera, ConnectOptions, SonyCamera};
use alpha_bridge::emulator::wifi::{WifiConfig, WifiEmulator};
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::ptp::OpCode;
use alpha_bridge::transport::tcp::TcpConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
