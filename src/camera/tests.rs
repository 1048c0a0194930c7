//! Events on the host side (docs/protocol/sony-usb.md#events): the USB link's reads of
//! the interrupt pipe, and the camera's stale → re-read logic against the in-process
//! emulated bodies. Scripted interrupt errors and malformed events against a whole
//! session are in tests/it/events.rs.

use super::control::Controller;
use super::link::{Link, UsbLink};
use super::settings::Setting;
use super::sony::{ConnectOptions, SonyCamera};
use crate::emulator::{Body, UsbEmulator};
use crate::ptp::container::{Event, Params};
use crate::ptp::sony::PropValue;
use crate::ptp::{EventCode, OpCode};
use crate::transport::{memory, DevicePipe, Transport};
use std::time::{Duration, Instant};

/// ExposureProgramMode: the mode dial.
const MODE: u16 = 0x500E;

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

fn codes(link: &mut impl Link, tries: usize) -> Vec<(u16, Vec<u32>)> {
    (0..tries)
        .filter_map(|_| link.poll_event().unwrap())
        .map(|e| (e.code.0, e.params.as_slice().to_vec()))
        .collect()
}

#[test]
fn the_usb_link_reads_events_and_drops_bad_bytes_without_waiting() {
    let (host, dev, faults) = memory::pair(512);
    let mut dev = dev;
    let mut link = UsbLink::new(host);
    // Nothing there: no wait, no event.
    let t = Instant::now();
    assert!(link.poll_event().unwrap().is_none());
    assert!(t.elapsed() < Duration::from_millis(500));
    let mut short = event(0xC203, &[0xD21E]);
    short.truncate(7);
    let mut lying = event(0xC203, &[0xD21E]);
    lying[0] = 40; // the length says 40, 16 bytes came
    let mut response = event(0xC203, &[0xD21E]);
    response[4] = 3; // a response container on the interrupt pipe
    for bad in [short, lying, response, vec![0xFF; 64], vec![]] {
        dev.write_event(&bad).unwrap();
    }
    dev.write_event(&event(0xC203, &[0xD21E])).unwrap();
    // An unknown code is a valid container: the link hands it on, the camera drops it.
    dev.write_event(&event(0xC2FF, &[1, 2, 3])).unwrap();
    assert_eq!(
        codes(&mut link, 10),
        vec![(0xC203, vec![0xD21E]), (0xC2FF, vec![1, 2, 3])]
    );
    // The cable pulled: that one is an error.
    faults.disconnect();
    let e = link.poll_event().unwrap_err();
    assert!(e.to_string().contains("disconnected"), "{e}");
}

#[test]
fn an_interface_without_an_interrupt_endpoint_is_asked_once() {
    // ILCE-5100: `Unsupported`, then no more reads (and no error).
    let (host, mut dev, faults) = memory::pair(512);
    faults.remove_interrupt_endpoint();
    let mut link = UsbLink::new(host);
    assert!(link.poll_event().unwrap().is_none());
    assert!(dev.write_event(&event(0xC203, &[1])).is_err());
    faults.disconnect();
    assert!(
        link.poll_event().unwrap().is_none(),
        "not read again, so not even a disconnect shows here"
    );
}

/// No setting changed by the handshake, so the body has nothing to announce at first.
fn quiet() -> ConnectOptions {
    ConnectOptions {
        live_view_quality: None,
        priority_mode: false,
        ..ConnectOptions::default()
    }
}

/// Polls the camera's events until `done` or two seconds.
fn poll_until<T: Transport>(cam: &mut SonyCamera<T>, done: impl Fn(&SonyCamera<T>) -> bool) {
    let t = Instant::now();
    while !done(cam) && t.elapsed() < Duration::from_secs(2) {
        cam.poll_events().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn reads_9209(emu: &UsbEmulator) -> usize {
    emu.stats()
        .ops()
        .iter()
        .filter(|&&o| o == OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO)
        .count()
}

#[test]
fn an_event_marks_stale_and_only_then_is_0x9209_read_again() {
    let emu = UsbEmulator::new(Body::ilce_6400());
    let mut cam = SonyCamera::connect(emu.connect().unwrap(), quiet()).unwrap();
    let before = reads_9209(&emu);
    // Nothing changed: nothing to re-read, however often asked.
    for _ in 0..20 {
        assert!(cam.refresh_stale().unwrap().is_empty());
    }
    assert!(!cam.has_stale());
    // Someone turns the dial on the body: the event marks the mode stale.
    emu.body().turn_mode_dial(3).unwrap();
    poll_until(&mut cam, |c| c.has_stale());
    assert!(cam.events_live(), "the emulated a6400 announces changes");
    let mode = cam.properties().unwrap().get(MODE).unwrap();
    assert!(mode.stale);
    assert_eq!(
        mode.current,
        PropValue::Int(1),
        "the value itself comes with 0x9209"
    );
    let changed = cam.refresh_stale().unwrap();
    assert!(changed.contains(&MODE), "{changed:x?}");
    let mode = cam.properties().unwrap().get(MODE).unwrap();
    assert_eq!((&mode.current, mode.stale), (&PropValue::Int(3), false));
    assert!(cam.refresh_stale().unwrap().is_empty());
    assert_eq!(reads_9209(&emu) - before, 1, "one re-read for one change");
    let (reads, changes) = cam.event_counters();
    assert_eq!(reads, 1);
    assert!(changes >= 1);
    drop(cam.close());
}

#[test]
fn an_ilce_5100_has_no_events_and_is_polled() {
    let emu = UsbEmulator::new(Body::ilce_5100());
    let mut cam = SonyCamera::connect(emu.connect().unwrap(), quiet()).unwrap();
    emu.body().turn_mode_dial(3).unwrap();
    for _ in 0..10 {
        assert_eq!(cam.poll_events().unwrap(), 0);
        std::thread::sleep(Duration::from_millis(6));
    }
    assert!(!cam.events_live());
    // Watchers fall back to the polling schedule: the change is seen by a re-read.
    let mut c: Controller<u32> = Controller::new();
    c.set_watch(true);
    c.step(&mut cam);
    assert!(c.take_changes().is_empty());
    emu.body().turn_mode_dial(4).unwrap();
    let t = Instant::now();
    let mut seen = Vec::new();
    while seen.is_empty() && t.elapsed() < Duration::from_secs(3) {
        c.step(&mut cam);
        seen = c.take_changes();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(seen.iter().any(|s| s.setting == Setting::Mode), "{seen:?}");
    let mode = cam.properties().unwrap().get(MODE).unwrap();
    assert_eq!(mode.current, PropValue::Int(4));
    drop(cam.close());
}
