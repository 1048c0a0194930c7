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

    // The rig's gadget blocks until its last event is read; `alpha-bridge list` probes
    // before this test and leaves events behind.
    let mut ev = [0u8; 64];
    for _ in 0..8 {
        match t.read_event(&mut ev, Duration::from_millis(300)) {
            Ok(_) => continue,
            Err(e) if e.kind == ErrorKind::Timeout => break,
            Err(e) => panic!("{e}"),
        }
    }

    // GetDeviceInfo: data, response, event.
    t.write(&container(1, 0x1001, 1, 12), T).unwrap();
    let mut buf = vec![0u8; 64 * mps];
    let n = t.read(&mut buf, T).unwrap();
    let (len, kind, code, tid) = header(&buf[..n]);
    assert_eq!((len as usize, kind, code, tid), (n, 2, 0x1001, 1));
    assert!(buf[12..n].starts_with(b"FAKE-PTP-CAMERA"));
    let n = t.read(&mut buf, T).unwrap();
    assert_eq!(header(&buf[..n]), (12, 3, 0x2001, 1));
    let n = t.read_event(&mut ev, T).unwrap();
    assert_eq!(header(&ev[..n]), (12, 4, 0x4002, 1));

    // (The ZLP after a write of a multiple of wMaxPacketSize is not checked here: this
    // single-threaded gadget only reads bulk OUT again after its event was taken, so the
    // ZLP would wait behind its data phase. The emulator's gadget reads OUT continuously.)

    // Nothing pending: a timeout, not a hang.
    let e = t.read(&mut buf, Duration::from_millis(300)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");

    // Class requests reach the gadget (it logs them); the rig's gadget answers them with
    // zero bytes rather than a stall, and a stall would map to `Stall`. Either way the
    // control pipe stays usable.
    let mut st = [0u8; 16];
    match t.class_in(usb::request::PTP_GET_DEVICE_STATUS, 0, &mut st, T) {
        Ok(n) => assert!(n <= st.len()),
        Err(e) => assert_eq!(e.kind, ErrorKind::Stall, "{e}"),
    }
    match t.class_out(usb::request::PTP_DEVICE_RESET, 0, &[], T) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind, ErrorKind::Stall, "{e}"),
    }
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
    let mut tag = 0u32;
    // One Bulk-Only command: CBW out, optional data phase, CSW in; returns the status.
    let mut command =
        |t: &mut usb::UsbTransport, cdb: &[u8], out: Option<&[u8]>, inn: Option<&mut [u8]>| {
            tag += 1;
            let mut cbw = vec![0u8; 31];
            cbw[0..4].copy_from_slice(b"USBC");
            cbw[4..8].copy_from_slice(&tag.to_le_bytes());
            let len = out
                .map(|d| d.len())
                .or(inn.as_ref().map(|b| b.len()))
                .unwrap_or(0);
            cbw[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            cbw[12] = if inn.is_some() { 0x80 } else { 0 };
            cbw[14] = cdb.len() as u8;
            cbw[15..15 + cdb.len()].copy_from_slice(cdb);
            t.write(&cbw, T).unwrap();
            if let Some(d) = out {
                t.write(d, T).unwrap();
            }
            if let Some(b) = inn {
                let n = t.read(b, T).unwrap();
                assert_eq!(n, b.len());
            }
            let mut csw = vec![0u8; t.max_packet_size()];
            let n = t.read(&mut csw, T).unwrap();
            assert_eq!(n, 13);
            assert_eq!(&csw[0..4], b"USBS");
            assert_eq!(u32::from_le_bytes(csw[4..8].try_into().unwrap()), tag);
            csw[12]
        };
    // TEST UNIT READY; the first may report a unit attention (power-on), cleared by
    // REQUEST SENSE.
    let tur = [0u8; 6];
    if command(&mut t, &tur, None, None) == 1 {
        let mut sense = [0u8; 18];
        assert_eq!(
            command(&mut t, &[0x03, 0, 0, 0, 18, 0], None, Some(&mut sense)),
            0
        );
        eprintln!(
            "sense key {:#x} asc {:#x} ascq {:#x}",
            sense[2] & 0xF,
            sense[12],
            sense[13]
        );
    }
    assert_eq!(command(&mut t, &tur, None, None), 0);
    // WRITE(10) of one 512-byte block: a data-out of exactly one packet. A ZLP after it
    // would be taken as the next CBW and break the READ below.
    let block: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    let write10 = [0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0];
    assert_eq!(command(&mut t, &write10, Some(&block), None), 0);
    let mut back = vec![0u8; 512];
    let read10 = [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0];
    assert_eq!(command(&mut t, &read10, None, Some(&mut back)), 0);
    assert_eq!(back, block);
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
