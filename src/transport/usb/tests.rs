//! Tests of the pure USB decisions and of the rusb glue that runs without a camera.

use super::descriptor::interfaces_of;
use super::error::{check_usbfs, map_error, Loc};
use super::transport::MAX_TRANSFER;
use super::*;
use crate::transport::ErrorKind;
use std::time::Duration;

fn ep(address: u8, kind: EndpointKind, mps: u16) -> EndpointSummary {
    EndpointSummary {
        address,
        kind,
        max_packet_size: mps,
    }
}

fn iface(cfg: u8, number: u8, triple: (u8, u8, u8), eps: Vec<EndpointSummary>) -> InterfaceSummary {
    InterfaceSummary {
        config_value: cfg,
        number,
        alt_setting: 0,
        class: triple.0,
        subclass: triple.1,
        protocol: triple.2,
        endpoints: eps,
    }
}

fn ptp_eps() -> Vec<EndpointSummary> {
    vec![
        ep(0x81, EndpointKind::Bulk, 512),
        ep(0x02, EndpointKind::Bulk, 512),
        ep(0x83, EndpointKind::Interrupt, 32),
    ]
}

fn info(bus: u8, address: u8, pid: u16, ifaces: Vec<InterfaceSummary>) -> UsbDeviceInfo {
    UsbDeviceInfo {
        bus,
        address,
        port: port_path(bus, &[2]),
        vendor_id: SONY_VID,
        product_id: pid,
        manufacturer: Some("Sony".into()),
        product: Some("ILCE-7M3".into()),
        serial: Some("D0123456789".into()),
        mode: classify(&ifaces),
        active_config: Some(1),
        interfaces: ifaces,
        open_error: None,
    }
}

#[test]
fn classification_table() {
    let hid_only = vec![iface(
        1,
        0,
        (0x03, 0, 0),
        vec![ep(0x81, EndpointKind::Interrupt, 8)],
    )];
    let uvc = vec![
        iface(1, 0, (0x0E, 0x01, 0x00), vec![]),
        iface(1, 1, (0x0E, 0x02, 0x00), vec![]),
        iface(1, 2, (0x01, 0x01, 0x00), vec![]),
    ];
    let cases: Vec<(Vec<InterfaceSummary>, UsbMode)> = vec![
        (
            vec![iface(1, 0, (0x06, 0x01, 0x01), ptp_eps())],
            UsbMode::Ptp,
        ),
        (
            vec![iface(1, 0, (0x08, 0x06, 0x50), vec![])],
            UsbMode::MassStorage,
        ),
        (hid_only, UsbMode::SelectMode),
        (uvc, UsbMode::UvcStreaming),
        (vec![], UsbMode::Unknown),
        (
            vec![iface(1, 0, (0xFF, 0xFF, 0x00), vec![])],
            UsbMode::Unknown,
        ),
        // HID plus something else is not the placeholder.
        (
            vec![
                iface(1, 0, (0x03, 0, 0), vec![]),
                iface(1, 1, (0xFF, 0, 0), vec![]),
            ],
            UsbMode::Unknown,
        ),
        // Still Image class with another protocol is not PTP.
        (
            vec![iface(1, 0, (0x06, 0x01, 0x02), vec![])],
            UsbMode::Unknown,
        ),
        // Several configurations: PTP in the second one still counts.
        (
            vec![
                iface(1, 0, (0x08, 0x06, 0x50), vec![]),
                iface(2, 0, (0x06, 0x01, 0x01), ptp_eps()),
            ],
            UsbMode::Ptp,
        ),
    ];
    for (ifaces, want) in cases {
        assert_eq!(classify(&ifaces), want, "{ifaces:?}");
    }
}

#[test]
fn interface_choice_prefers_active_configuration() {
    let ifaces = vec![
        iface(1, 0, (0x08, 0x06, 0x50), vec![]),
        iface(2, 0, (0x06, 0x01, 0x01), ptp_eps()),
        iface(3, 1, (0x06, 0x01, 0x01), ptp_eps()),
    ];
    let f = |active| find_interface(&ifaces, InterfaceClass::Ptp, active).map(|i| i.config_value);
    assert_eq!(f(Some(3)), Some(3));
    assert_eq!(f(Some(1)), Some(2));
    assert_eq!(f(None), Some(2));
    assert_eq!(
        find_interface(&ifaces, InterfaceClass::MassStorage, Some(2)).map(|i| i.config_value),
        Some(1)
    );
    let hid = vec![iface(1, 0, (0x03, 0, 0), vec![])];
    assert!(find_interface(&hid, InterfaceClass::MassStorage, Some(1)).is_none());
    let mut alt = iface(3, 1, (0x06, 0x01, 0x01), vec![]);
    alt.alt_setting = 1;
    let mut with_alt = ifaces.clone();
    with_alt.push(alt);
    assert_eq!(interfaces_of(&with_alt, 3), vec![1]);
    assert_eq!(interfaces_of(&with_alt, 9), Vec::<u8>::new());
}

#[test]
fn endpoints_come_from_descriptors() {
    // Unusual addresses and order: nothing may be assumed about 0x81/0x02/0x83.
    let i = iface(
        1,
        2,
        (0x06, 0x01, 0x01),
        vec![
            ep(0x85, EndpointKind::Interrupt, 16),
            ep(0x04, EndpointKind::Bulk, 1024),
            ep(0x86, EndpointKind::Bulk, 1024),
        ],
    );
    let e = select_endpoints(&i).unwrap();
    assert_eq!(e.bulk_in, 0x86);
    assert_eq!(e.bulk_out, 0x04);
    assert_eq!(e.interrupt_in, Some(0x85));
    assert_eq!(e.in_packet_size, 1024);
    assert_eq!(e.out_packet_size, 1024);
    assert_eq!(e.interrupt_packet_size, Some(16));

    // Mass storage: two bulk endpoints, no interrupt.
    let msc = iface(
        1,
        0,
        (0x08, 0x06, 0x50),
        vec![
            ep(0x81, EndpointKind::Bulk, 512),
            ep(0x02, EndpointKind::Bulk, 512),
        ],
    );
    let e = select_endpoints(&msc).unwrap();
    assert_eq!((e.bulk_in, e.bulk_out, e.interrupt_in), (0x81, 0x02, None));

    // High-bandwidth multiplier bits are not part of the packet size.
    let hb = iface(
        1,
        0,
        (0x06, 0x01, 0x01),
        vec![
            ep(0x81, EndpointKind::Bulk, 0x1200),
            ep(0x01, EndpointKind::Bulk, 512),
        ],
    );
    assert_eq!(select_endpoints(&hb).unwrap().in_packet_size, 512);

    // The HID placeholder cannot be driven.
    let hid = iface(
        1,
        0,
        (0x03, 0, 0),
        vec![ep(0x81, EndpointKind::Interrupt, 8)],
    );
    let err = select_endpoints(&hid).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("no bulk IN"), "{}", err.message);

    let zero = iface(
        1,
        0,
        (0x06, 0x01, 0x01),
        vec![
            ep(0x81, EndpointKind::Bulk, 0),
            ep(0x02, EndpointKind::Bulk, 512),
        ],
    );
    assert!(select_endpoints(&zero).is_err());
}

#[test]
fn zlp_rule() {
    assert!(needs_zlp(512, 512));
    assert!(needs_zlp(1024, 512));
    assert!(!needs_zlp(513, 512));
    assert!(!needs_zlp(12, 512));
    assert!(!needs_zlp(0, 512));
    assert!(needs_zlp(64, 64));
    assert!(!needs_zlp(512, 0));
    assert!(InterfaceClass::Ptp.ends_writes_with_zlp());
    assert!(!InterfaceClass::MassStorage.ends_writes_with_zlp());
    // Splitting writes at MAX_TRANSFER never makes a short packet mid-transfer.
    for mps in [64usize, 512, 1024] {
        assert_eq!(MAX_TRANSFER % mps, 0);
    }
}

#[test]
fn port_paths() {
    assert_eq!(port_path(1, &[2]), "1-2");
    assert_eq!(port_path(3, &[1, 4, 2]), "3-1.4.2");
    assert_eq!(port_path(2, &[]), "usb2");
}

#[test]
fn selectors() {
    let p = |s: &str| s.parse::<Selector>().unwrap();
    assert_eq!(p("auto"), Selector::First);
    assert_eq!(p(""), Selector::First);
    assert_eq!(p("first"), Selector::First);
    assert_eq!(p("1:5"), Selector::BusAddress { bus: 1, address: 5 });
    assert_eq!(
        p("usb:001:012"),
        Selector::BusAddress {
            bus: 1,
            address: 12
        }
    );
    assert_eq!(p("3/7"), Selector::BusAddress { bus: 3, address: 7 });
    assert_eq!(p("D0123456789"), Selector::Serial("D0123456789".into()));
    assert_eq!(p("serial:1:5"), Selector::Serial("1:5".into()));
    assert_eq!(p("999:1"), Selector::Serial("999:1".into()));

    let ptp = info(
        1,
        5,
        0x0C34,
        vec![iface(1, 0, (0x06, 0x01, 0x01), ptp_eps())],
    );
    let msc = info(1, 6, 0x0C02, vec![iface(1, 0, (0x08, 0x06, 0x50), vec![])]);
    assert!(Selector::First.matches(&ptp, InterfaceClass::Ptp));
    assert!(!Selector::First.matches(&msc, InterfaceClass::Ptp));
    assert!(Selector::First.matches(&msc, InterfaceClass::MassStorage));
    assert!(p("1:6").matches(&msc, InterfaceClass::Ptp));
    assert!(p("d0123456789").matches(&ptp, InterfaceClass::Ptp));
    assert!(p("00000000D0123456789").matches(&ptp, InterfaceClass::Ptp));
    assert!(!p("X999").matches(&ptp, InterfaceClass::Ptp));
    assert!(!serial_matches("", "abc"));
}

fn loc() -> Loc<'static> {
    Loc {
        what: "claiming the camera's interface",
        bus: 1,
        address: 5,
    }
}

#[test]
fn error_mapping() {
    let cases = [
        (
            rusb::Error::NoDevice,
            ErrorKind::Disconnected,
            "disconnected",
        ),
        (
            rusb::Error::Busy,
            ErrorKind::Busy,
            "gvfs-gphoto2-volume-monitor",
        ),
        (rusb::Error::Access, ErrorKind::PermissionDenied, "udev"),
        (
            rusb::Error::NotFound,
            ErrorKind::NotFound,
            "alpha-bridge list",
        ),
        (rusb::Error::Timeout, ErrorKind::Timeout, "timed out"),
        (rusb::Error::Pipe, ErrorKind::Stall, "stalled"),
        (rusb::Error::Overflow, ErrorKind::Overflow, "more data"),
        (rusb::Error::Io, ErrorKind::Other, "usb error"),
    ];
    for (e, kind, needle) in cases {
        let err = map_error(e, loc(), &[]);
        assert_eq!(err.kind, kind, "{e:?}");
        assert!(err.message.contains(needle), "{e:?}: {}", err.message);
        assert!(
            err.message.contains("001"),
            "names the device: {}",
            err.message
        );
        assert_eq!(err.message, err.message.trim_end_matches('.'));
        assert!(err.message.chars().next().unwrap().is_lowercase());
    }
    let access = map_error(rusb::Error::Access, loc(), &[]);
    assert!(access.message.contains("/dev/bus/usb/001/005"));
    assert!(access
        .message
        .contains("sudo cp udev/60-alpha-bridge.rules /etc/udev/rules.d/"));
    assert!(access.message.contains("udevadm trigger"));
}

#[test]
fn busy_names_the_holder() {
    let holders = vec![Holder {
        pid: 4242,
        name: "gvfs-gphoto2-volume-monitor".into(),
    }];
    let err = map_error(rusb::Error::Busy, loc(), &holders);
    assert!(err.message.contains("pid 4242"), "{}", err.message);
    assert!(err
        .message
        .contains("systemctl --user stop gvfs-gphoto2-volume-monitor"));
    assert!(err.message.contains("gio mount -s gphoto2"));

    let other = busy_advice(&[
        Holder {
            pid: 7,
            name: "gphoto2".into(),
        },
        Holder {
            pid: 8,
            name: "alpha-bridge".into(),
        },
    ]);
    assert!(
        other.contains("gphoto2 (pid 7): close it (kill 7)"),
        "{other}"
    );
    assert!(other.contains("another alpha-bridge is running"), "{other}");
}

#[test]
fn proc_scan_finds_holders() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mk = |pid: u32, cmdline: &[u8], comm: &str, links: &[&str]| {
        let p = root.join(pid.to_string());
        std::fs::create_dir_all(p.join("fd")).unwrap();
        std::fs::write(p.join("cmdline"), cmdline).unwrap();
        std::fs::write(p.join("comm"), comm).unwrap();
        for (i, l) in links.iter().enumerate() {
            symlink(l, p.join("fd").join(i.to_string())).unwrap();
        }
    };
    mk(
        100,
        b"/usr/libexec/gvfs-gphoto2-volume-monitor\0",
        "gvfs-gphoto2-vo\n",
        &["/dev/null", "/dev/bus/usb/001/005"],
    );
    mk(
        200,
        b"gphoto2\0--capture-preview\0",
        "gphoto2\n",
        &["/dev/bus/usb/001/006"],
    );
    // Kernel thread: empty cmdline, name from comm.
    mk(300, b"", "kworker\n", &["/dev/bus/usb/001/005"]);
    // Ourselves: excluded.
    mk(
        400,
        b"alpha-bridge\0",
        "alpha-bridge\n",
        &["/dev/bus/usb/001/005"],
    );
    // Not a pid, no fd dir: ignored.
    std::fs::create_dir_all(root.join("self")).unwrap();
    std::fs::create_dir_all(root.join("500")).unwrap();

    let h = find_holders(root, 1, 5, 400);
    assert_eq!(
        h,
        vec![
            Holder {
                pid: 100,
                name: "gvfs-gphoto2-volume-monitor".into()
            },
            Holder {
                pid: 300,
                name: "kworker".into()
            },
        ]
    );
    assert_eq!(find_holders(root, 1, 6, 0)[0].name, "gphoto2");
    assert!(find_holders(root, 2, 5, 0).is_empty());
    assert!(find_holders(&root.join("missing"), 1, 5, 0).is_empty());
}

#[test]
fn sysfs_strings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("1-2");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("product"), "ILCE-7M3\n").unwrap();
    std::fs::write(d.join("serial"), "D0123456789\n").unwrap();
    std::fs::write(d.join("manufacturer"), "\n").unwrap();
    let s = read_sysfs_strings(dir.path(), "1-2");
    assert_eq!(s.product.as_deref(), Some("ILCE-7M3"));
    assert_eq!(s.serial.as_deref(), Some("D0123456789"));
    assert_eq!(s.manufacturer, None);
    assert_eq!(
        read_sysfs_strings(dir.path(), "9-9"),
        SysfsStrings::default()
    );
}

#[test]
fn device_diff() {
    let a = info(1, 5, 0x0C34, vec![]);
    let b = info(1, 6, 0x0C02, vec![]);
    let ev = diff_devices(&[], std::slice::from_ref(&a));
    assert!(matches!(&ev[..], [UsbEvent::Arrived(i)] if i.address == 5));
    let ev = diff_devices(std::slice::from_ref(&a), std::slice::from_ref(&b));
    assert!(
        matches!(&ev[..], [UsbEvent::Left(l), UsbEvent::Arrived(r)] if l.address == 5 && r.address == 6)
    );
    assert!(diff_devices(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
}

#[test]
fn watcher_starts_and_stops() {
    // Without USB it either refuses to start with a message or watches an empty bus;
    // either way dropping it joins its thread.
    match UsbWatcher::start() {
        Ok(w) => {
            let _ = w.uses_hotplug();
            match w.recv_timeout(Duration::from_millis(20)) {
                Ok(None) | Ok(Some(UsbEvent::Arrived(_))) => {}
                other => panic!("unexpected {other:?}"),
            }
            drop(w);
        }
        Err(e) => assert!(e.message.starts_with("no USB access"), "{}", e.message),
    }
}

#[test]
fn missing_usbfs_is_no_usb_access() {
    assert!(check_usbfs(true, false).is_ok());
    assert!(check_usbfs(false, true).is_ok());
    let e = check_usbfs(false, false).unwrap_err();
    assert!(e
        .message
        .starts_with("no USB access: /dev/bus/usb does not exist"));
    assert!(e.message.contains("alpha-bridge webcam --camera emulated"));
    assert!(!e.message.contains('\n'));
}

#[test]
fn no_usb_is_an_error_not_a_panic() {
    // On machines without usbfs (this CI), these must fail cleanly; with USB they work.
    match list_sony() {
        Ok(list) => assert!(list.iter().all(|i| i.vendor_id == SONY_VID)),
        Err(e) => assert!(e.message.starts_with("no USB access"), "{}", e.message),
    }
    let _ = hotplug_supported();
    if let Err(e) = open(&Selector::First, InterfaceClass::Ptp) {
        assert!(!e.message.is_empty());
    }
}

/// An interface of a test configuration: class triple, endpoint count.
type TestInterface = ((u8, u8, u8), u8);

/// The raw bytes of a sysfs `descriptors` file: a device descriptor, then one
/// configuration per entry, each with its interfaces.
fn raw_descriptors(pid: u16, configs: &[&[TestInterface]]) -> Vec<u8> {
    let mut b = vec![18, 1, 0, 2, 0, 0, 0, 64, 0x4C, 0x05];
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&[0, 1, 1, 2, 3, configs.len() as u8]);
    for (c, ifaces) in configs.iter().enumerate() {
        let start = b.len();
        b.extend_from_slice(&[9, 2, 0, 0, ifaces.len() as u8, c as u8 + 1, 0, 0xC0, 1]);
        for (n, ((class, sub, proto), eps)) in ifaces.iter().enumerate() {
            b.extend_from_slice(&[9, 4, n as u8, 0, *eps, *class, *sub, *proto, 0]);
            for e in 0..*eps {
                let (addr, attr) = match e {
                    0 => (0x81, 2),
                    1 => (0x02, 2),
                    _ => (0x83, 3),
                };
                b.extend_from_slice(&[7, 5, addr, attr, 0, 2, 0]);
            }
        }
        let total = (b.len() - start) as u16;
        b[start + 2..start + 4].copy_from_slice(&total.to_le_bytes());
    }
    b
}

#[test]
fn descriptors_file_is_parsed_into_interfaces() {
    let b = raw_descriptors(
        0x0C34,
        &[&[((6, 1, 1), 3)], &[((8, 6, 0x50), 2), ((0x0E, 1, 0), 0)]],
    );
    let (vid, pid, ifaces) = sysfs::parse_descriptors(&b).unwrap();
    assert_eq!((vid, pid), (SONY_VID, 0x0C34));
    assert_eq!(ifaces.len(), 3);
    assert_eq!((ifaces[0].config_value, ifaces[0].triple()), (1, (6, 1, 1)));
    assert_eq!(
        ifaces[0].endpoints,
        ptp_eps()
            .iter()
            .map(|e| ep(e.address, e.kind, 512))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        (ifaces[1].config_value, ifaces[1].triple()),
        (2, (8, 6, 0x50))
    );
    assert_eq!((ifaces[2].number, ifaces[2].class), (1, 0x0E));
    // Truncated anywhere: never a panic, what was whole is kept.
    for cut in 0..b.len() {
        let r = sysfs::parse_descriptors(&b[..cut]);
        assert_eq!(r.is_some(), cut >= 18, "cut {cut}");
    }
    let mut bad = b.clone();
    bad[18] = 0; // a zero-length descriptor ends the walk
    assert!(sysfs::parse_descriptors(&bad).unwrap().2.is_empty());
    assert!(sysfs::parse_descriptors(&[0u8; 40]).is_none());
}

/// A fake `/sys/bus/usb/devices` with one Sony device at `port`.
fn fake_sysfs_device(root: &std::path::Path, port: &str, devnum: u8, raw: &[u8], product: &str) {
    let d = root.join(port);
    std::fs::create_dir_all(&d).unwrap();
    let w = |n: &str, v: &str| std::fs::write(d.join(n), v).unwrap();
    w("idVendor", "054c\n");
    w("busnum", "1\n");
    w("devnum", &format!("{devnum}\n"));
    w("bConfigurationValue", "1\n");
    w("product", &format!("{product}\n"));
    w("serial", "D0123456789\n");
    std::fs::write(d.join("descriptors"), raw).unwrap();
}

#[test]
fn sony_devices_in_each_mode_are_read_from_sysfs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fake_sysfs_device(
        root,
        "1-1",
        3,
        &raw_descriptors(0x0CAA, &[&[((6, 1, 1), 3)]]),
        "ILCE-6400",
    );
    fake_sysfs_device(
        root,
        "1-2",
        4,
        &raw_descriptors(0x0C02, &[&[((8, 6, 0x50), 2)]]),
        "ILCE-7M3",
    );
    fake_sysfs_device(
        root,
        "1-3",
        5,
        &raw_descriptors(
            0x0DA8,
            &[&[((0x0E, 1, 0), 0), ((0x0E, 2, 0), 0), ((1, 1, 0), 0)]],
        ),
        "ILCE-7M4",
    );
    fake_sysfs_device(
        root,
        "1-4",
        6,
        &raw_descriptors(
            0x0DA8,
            &[&[((0x0E, 1, 0), 0), ((0x0E, 2, 0), 0), ((6, 1, 1), 3)]],
        ),
        "ZV-E1",
    );
    // Not Sony, an interface directory, and a Sony device with a garbage file: skipped.
    std::fs::create_dir_all(root.join("1-5")).unwrap();
    std::fs::write(root.join("1-5/idVendor"), "046d\n").unwrap();
    std::fs::create_dir_all(root.join("1-1:1.0")).unwrap();
    fake_sysfs_device(root, "1-6", 8, b"garbage", "ILCE-6000");
    let list = list_sony_sysfs(root);
    let got: Vec<(&str, UsbMode, bool)> = list
        .iter()
        .map(|i| (i.port.as_str(), i.mode, i.offers_video()))
        .collect();
    assert_eq!(
        got,
        [
            ("1-1", UsbMode::Ptp, false),
            ("1-2", UsbMode::MassStorage, false),
            ("1-3", UsbMode::UvcStreaming, true),
            // USB Streaming with a PTP interface alongside: PTP is what alpha-bridge uses.
            ("1-4", UsbMode::Ptp, true),
        ]
    );
    assert_eq!(list[0].product.as_deref(), Some("ILCE-6400"));
    assert_eq!(
        (list[1].bus, list[1].address, list[1].product_id),
        (1, 4, 0x0C02)
    );
    assert_eq!(list[0].active_config, Some(1));
    assert!(list_sony_sysfs(&root.join("missing")).is_empty());
}

#[test]
fn video_nodes_are_the_interfaces_video4linux_children() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for p in [
        "1-3:1.0/video4linux/video10",
        "1-3:1.0/video4linux/video2",
        "1-3:1.1/video4linux/video3",
        "1-3.1:1.0/video4linux/video7", // another device behind a hub port
        "1-4:1.0/video4linux/notvideo",
    ] {
        std::fs::create_dir_all(root.join(p)).unwrap();
    }
    assert_eq!(
        video_nodes(root, "1-3"),
        ["/dev/video2", "/dev/video3", "/dev/video10"]
    );
    assert_eq!(video_nodes(root, "1-3.1"), ["/dev/video7"]);
    assert!(video_nodes(root, "1-4").is_empty());
    assert!(video_nodes(&root.join("missing"), "1-3").is_empty());
}
