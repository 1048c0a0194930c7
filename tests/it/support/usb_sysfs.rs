//! A fake `/sys/bus/usb/devices` under a temporary root, for the hidden `--root` of
//! `list`, `webcam` and `doctor`: Sony devices in each USB mode, as the kernel shows
//! them (a `descriptors` file with the raw device and configuration descriptors, the
//! strings, bus and device numbers, and the video4linux children of a UVC interface).

use std::path::Path;

/// Interface class triples.
pub(crate) const PTP: (u8, u8, u8) = (0x06, 0x01, 0x01);
pub(crate) const MSC: (u8, u8, u8) = (0x08, 0x06, 0x50);
pub(crate) const UVC_CONTROL: (u8, u8, u8) = (0x0E, 0x01, 0x00);
pub(crate) const UVC_STREAM: (u8, u8, u8) = (0x0E, 0x02, 0x00);
pub(crate) const HID: (u8, u8, u8) = (0x03, 0x00, 0x00);

/// Raw descriptors: the device descriptor, then one configuration with `ifaces` (a PTP
/// interface gets bulk IN, bulk OUT and interrupt IN; mass storage bulk IN and OUT).
pub(crate) fn descriptors(pid: u16, ifaces: &[(u8, u8, u8)]) -> Vec<u8> {
    let mut b = vec![18, 1, 0, 2, 0, 0, 0, 64, 0x4C, 0x05];
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&[0, 1, 1, 2, 3, 1]);
    let start = b.len();
    b.extend_from_slice(&[9, 2, 0, 0, ifaces.len() as u8, 1, 0, 0xC0, 1]);
    for (n, t) in ifaces.iter().enumerate() {
        let eps: &[(u8, u8)] = match *t {
            PTP => &[(0x81, 2), (0x02, 2), (0x83, 3)],
            MSC => &[(0x81, 2), (0x02, 2)],
            _ => &[],
        };
        b.extend_from_slice(&[9, 4, n as u8, 0, eps.len() as u8, t.0, t.1, t.2, 0]);
        for (addr, attr) in eps {
            b.extend_from_slice(&[7, 5, *addr, *attr, 0, 2, 0]);
        }
    }
    let total = (b.len() - start) as u16;
    b[start + 2..start + 4].copy_from_slice(&total.to_le_bytes());
    b
}

/// Adds a Sony device at `port` (bus 1, device `devnum`) under `root`; `video` names the
/// `/dev/videoN` numbers uvcvideo made for its first interface.
pub(crate) fn add_device(
    root: &Path,
    port: &str,
    devnum: u8,
    product: &str,
    serial: &str,
    ifaces: &[(u8, u8, u8)],
    video: &[u32],
) {
    let sys = root.join("sys/bus/usb/devices");
    let d = sys.join(port);
    std::fs::create_dir_all(&d).unwrap();
    let w = |n: &str, v: String| std::fs::write(d.join(n), v).unwrap();
    w("idVendor", "054c\n".into());
    w("busnum", "1\n".into());
    w("devnum", format!("{devnum}\n"));
    w("bConfigurationValue", "1\n".into());
    w("manufacturer", "Sony\n".into());
    w("product", format!("{product}\n"));
    w("serial", format!("{serial}\n"));
    std::fs::write(d.join("descriptors"), descriptors(0x0DA8, ifaces)).unwrap();
    for n in video {
        std::fs::create_dir_all(sys.join(format!("{port}:1.0/video4linux/video{n}"))).unwrap();
    }
}
