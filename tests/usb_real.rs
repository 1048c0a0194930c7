//! The rusb transport against real USB devices: a Linux USB gadget on `dummy_hcd` in a
//! QEMU guest (the shared vmrig: a FunctionFS Still Image gadget that answers every
//! command with a data container, an OK response and an event; the legacy
//! `g_mass_storage` and `g_webcam` gadgets; a configfs HID-only gadget), all with Sony's
//! vendor id. Every test here needs such a device, so all are `#[ignore]`d; the guest
//! script runs them one by one with `--ignored --exact`, setting `EXPECT_*` variables.
//!
//! What they prove that the unit tests cannot: classification from real descriptors,
//! endpoints read back after the UDC renumbered them, the ZLP after a write of a
//! multiple of wMaxPacketSize (the gadget logs a 0-byte command), usb-storage detached
//! and re-attached, a stalled class request mapped to `Stall`, `Busy` naming the other
//! process, `PermissionDenied` for a user without the udev rule, and the watcher.

use alpha_bridge::transport::usb::{self, InterfaceClass, Selector, UsbEvent, UsbMode};
use alpha_bridge::transport::{ErrorKind, Pipe, Transport};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn container(kind: u16, code: u16, tid: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    v[4..6].copy_from_slice(&kind.to_le_bytes());
    v[6..8].copy_from_slice(&code.to_le_bytes());
    v[8..12].copy_from_slice(&tid.to_le_bytes());
    v
}

fn header(b: &[u8]) -> (u32, u16, u16, u32) {
    (
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        u16::from_le_bytes(b[4..6].try_into().unwrap()),
        u16::from_le_bytes(b[6..8].try_into().unwrap()),
        u32::from_le_bytes(b[8..12].try_into().unwrap()),
    )
}

#[test]
#[ignore = "needs a Sony-VID USB device (tests run in the VM rig)"]
fn real_list_sees_mode() {
    let want = env("EXPECT_MODE").expect("EXPECT_MODE");
    let list = usb::list_sony().expect("list_sony");
    for d in &list {
        eprintln!("{d:#?}");
    }
    assert_eq!(list.len(), 1, "{list:#?}");
    let d = &list[0];
    assert_eq!(d.vendor_id, usb::SONY_VID);
    assert_eq!(d.mode.as_str(), want);
    assert!(!d.port.is_empty());
    if let Some(p) = env("EXPECT_PRODUCT") {
        assert_eq!(d.product.as_deref(), Some(p.as_str()));
    }
    if let Some(s) = env("EXPECT_SERIAL") {
        assert_eq!(d.serial.as_deref(), Some(s.as_str()));
    }
    assert!(d.open_error.is_none(), "{:?}", d.open_error);
    if d.mode == UsbMode::SelectMode {
        let e = usb::open(&Selector::First, InterfaceClass::Ptp).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("alpha-bridge list"), "{}", e.message);
    }
}

#[test]
#[ignore = "needs the vmrig PTP gadget with a Sony VID"]
fn real_ptp_transfers() {
    let mut t = usb::open(&Selector::First, InterfaceClass::Ptp).expect("open");
    let ep = t.endpoints();
    eprintln!("endpoints {ep:x?}");
    assert!(ep.bulk_in & 0x80 != 0 && ep.bulk_out & 0x80 == 0);
    assert!(ep.interrupt_in.is_some_and(|a| a & 0x80 != 0));
    let mps = t.max_packet_size();
    assert!(mps == 512 || mps == 64, "{mps}");
    assert!(!t.kernel_driver_detached());

    // GetDeviceInfo: data, response, event.
    t.write(&container(1, 0x1001, 1, 12), T).unwrap();
    let mut buf = vec![0u8; 64 * mps];
    let n = t.read(&mut buf, T).unwrap();
    let (len, kind, code, tid) = header(&buf[..n]);
    assert_eq!((len as usize, kind, code, tid), (n, 2, 0x1001, 1));
    assert!(buf[12..n].starts_with(b"FAKE-PTP-CAMERA"));
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]), (12, 3, 0x2001, 1));
    let mut ev = [0u8; 64];
    let n = t.read_event(&mut ev, T).unwrap();
    assert_eq!(header(&ev[..n]), (12, 4, 0x4002, 1));

    // A command of exactly one packet is followed by a ZLP: the gadget reads 512, then 0
    // (it logs "short command (0 bytes)"), and answers the first.
    t.write(&container(1, 0x1002, 2, mps), T).unwrap();
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]).3, 2);
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]), (12, 3, 0x2001, 2));
    let _ = t.read_event(&mut ev, T).unwrap();

    // Nothing pending: a timeout, not a hang.
    let e = t.read(&mut buf, Duration::from_millis(300)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");

    // The gadget stalls class requests: Get Device Status maps to Stall, and the
    // control pipe recovers by itself.
    let mut st = [0u8; 16];
    let e = t
        .class_in(usb::request::PTP_GET_DEVICE_STATUS, 0, &mut st, T)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stall, "{e}");
    let e = t
        .class_out(usb::request::PTP_DEVICE_RESET, 0, &[], T)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Stall, "{e}");
    t.clear_halt(Pipe::BulkIn).unwrap();
    t.clear_halt(Pipe::BulkOut).unwrap();

    // Still usable afterwards.
    t.write(&container(1, 0x1001, 3, 12), T).unwrap();
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]).3, 3);
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]), (12, 3, 0x2001, 3));
}

#[test]
#[ignore = "needs g_mass_storage with a Sony VID and usb-storage bound"]
fn real_mass_storage() {
    let mut t = usb::open(&Selector::First, InterfaceClass::MassStorage).expect("open");
    let ep = t.endpoints();
    eprintln!("endpoints {ep:x?}");
    assert_eq!(ep.interrupt_in, None);
    if env("EXPECT_DETACH").is_some() {
        assert!(t.kernel_driver_detached(), "usb-storage was bound");
    }
    let mut lun = [0xAAu8; 1];
    let n = t
        .class_in(usb::request::MSC_GET_MAX_LUN, 0, &mut lun, T)
        .unwrap();
    assert_eq!((n, lun[0]), (1, 0));
    // TEST UNIT READY: CBW out, no data, CSW in.
    let mut cbw = vec![0u8; 31];
    cbw[0..4].copy_from_slice(b"USBC");
    cbw[4..8].copy_from_slice(&7u32.to_le_bytes());
    cbw[14] = 6; // CDB length; CDB all zero = TEST UNIT READY
    t.write(&cbw, T).unwrap();
    let mut csw = vec![0u8; t.max_packet_size()];
    let n = t.read(&mut csw, T).unwrap();
    assert_eq!(n, 13);
    assert_eq!(&csw[0..4], b"USBS");
    assert_eq!(u32::from_le_bytes(csw[4..8].try_into().unwrap()), 7);
    assert_eq!(csw[12], 0, "status passed");
}

/// Holds the PTP interface for `HOLD_SECS` so `real_busy` can be run from another process.
#[test]
#[ignore = "helper for real_busy"]
fn real_hold() {
    let secs: u64 = env("HOLD_SECS").and_then(|s| s.parse().ok()).unwrap_or(5);
    let _t = usb::open(&Selector::First, InterfaceClass::Ptp).expect("open");
    println!("HOLDING");
    std::thread::sleep(Duration::from_secs(secs));
}

#[test]
#[ignore = "needs another process holding the camera (real_hold)"]
fn real_busy() {
    let e = usb::open(&Selector::First, InterfaceClass::Ptp).unwrap_err();
    eprintln!("{e}");
    assert_eq!(e.kind, ErrorKind::Busy, "{e}");
    let holder = env("EXPECT_HOLDER").expect("EXPECT_HOLDER");
    assert!(e.message.contains(&holder), "{e}");
    assert!(e.message.contains("pid "), "{e}");
}

#[test]
#[ignore = "run as a user without access to /dev/bus/usb"]
fn real_permission_denied() {
    let list = usb::list_sony().expect("listing works without access to the node");
    assert_eq!(list.len(), 1);
    let oe = list[0].open_error.clone().expect("open error recorded");
    assert_eq!(oe.kind, ErrorKind::PermissionDenied, "{oe}");
    // sysfs still gives the strings.
    assert!(list[0].product.is_some(), "{:?}", list[0]);
    let e = usb::open(&Selector::First, InterfaceClass::Ptp).unwrap_err();
    eprintln!("{e}");
    assert_eq!(e.kind, ErrorKind::PermissionDenied);
    assert!(e.message.contains("udev/60-alpha-bridge.rules"), "{e}");
}

/// Expects the device present at start, then its departure (the guest script unbinds
/// the gadget after printing WATCHING).
#[test]
#[ignore = "needs the guest script to unplug the gadget"]
fn real_watcher() {
    let w = usb::UsbWatcher::start().expect("watcher");
    eprintln!("hotplug: {}", w.uses_hotplug());
    let first = w.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(matches!(first, Some(UsbEvent::Arrived(_))), "{first:?}");
    println!("WATCHING");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    let next = w.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(matches!(next, Some(UsbEvent::Left(_))), "{next:?}");
}
