//! What Linux keeps about USB devices under `/sys/bus/usb/devices`: the video nodes
//! (`/dev/videoN`) the kernel's uvcvideo driver made for a body in USB Streaming mode,
//! and Sony devices read from sysfs alone (the raw `descriptors` file, which holds the
//! device descriptor and every configuration's descriptors as the device sent them).
//! No rusb and no device access here: every path is under a root the caller gives, so
//! tests build a fake tree.

use super::descriptor::{classify, EndpointKind, EndpointSummary, InterfaceSummary};
use super::device::{read_small, read_sysfs_strings, UsbDeviceInfo};
use super::SONY_VID;
use std::io::Read;
use std::path::Path;

/// The sysfs directory of USB devices on a real system.
pub const SYS_USB_DEVICES: &str = "/sys/bus/usb/devices";

/// A device's `descriptors` file is at most this long (a configuration is at most 64 KiB
/// by wTotalLength; a few of them).
const DESCRIPTORS_CAP: u64 = 256 * 1024;
/// At most this many directories are looked at (a bound against a strange tree).
const MAX_ENTRIES: usize = 4096;

/// The `/dev/videoN` nodes of the device at `port` (e.g. `1-2`): the `video4linux`
/// children of its interfaces (`1-2:1.0/video4linux/video2`), in number order.
pub fn video_nodes(sys_root: &Path, port: &str) -> Vec<String> {
    let prefix = format!("{port}:");
    let Ok(entries) = std::fs::read_dir(sys_root) else {
        return Vec::new();
    };
    let mut nodes: Vec<u32> = Vec::new();
    for e in entries.flatten().take(MAX_ENTRIES) {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(&prefix) {
            continue;
        }
        let Ok(v4l) = std::fs::read_dir(sys_root.join(name).join("video4linux")) else {
            continue;
        };
        for v in v4l.flatten().take(MAX_ENTRIES) {
            let n = v.file_name();
            if let Some(n) = n.to_str().and_then(|n| n.strip_prefix("video")) {
                if let Ok(n) = n.parse::<u32>() {
                    nodes.push(n);
                }
            }
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    nodes
        .into_iter()
        .map(|n| format!("/dev/video{n}"))
        .collect()
}

/// (idVendor, idProduct, every interface setting of every configuration) from the raw
/// bytes of a sysfs `descriptors` file; `None` when it does not start with a device
/// descriptor. A truncated or malformed descriptor ends the walk: what came before it
/// is kept.
pub fn parse_descriptors(b: &[u8]) -> Option<(u16, u16, Vec<InterfaceSummary>)> {
    if b.len() < 18 || b[0] < 18 || b[1] != 1 {
        return None;
    }
    let vid = u16::from_le_bytes([b[8], b[9]]);
    let pid = u16::from_le_bytes([b[10], b[11]]);
    let mut out: Vec<InterfaceSummary> = Vec::new();
    let mut config = 0u8;
    let mut at = usize::from(b[0]);
    while at + 2 <= b.len() {
        let len = usize::from(b[at]);
        if len < 2 || at + len > b.len() {
            break;
        }
        let d = &b[at..at + len];
        match d[1] {
            2 if len >= 9 => config = d[5],
            4 if len >= 9 => out.push(InterfaceSummary {
                config_value: config,
                number: d[2],
                alt_setting: d[3],
                class: d[5],
                subclass: d[6],
                protocol: d[7],
                endpoints: Vec::new(),
            }),
            5 if len >= 7 => {
                if let Some(i) = out.last_mut() {
                    i.endpoints.push(EndpointSummary {
                        address: d[2],
                        kind: match d[3] & 3 {
                            0 => EndpointKind::Control,
                            1 => EndpointKind::Isochronous,
                            2 => EndpointKind::Bulk,
                            _ => EndpointKind::Interrupt,
                        },
                        max_packet_size: u16::from_le_bytes([d[4], d[5]]),
                    });
                }
            }
            _ => {}
        }
        at += len;
    }
    Some((vid, pid, out))
}

fn read_number(dir: &Path, name: &str, radix: u32) -> Option<u32> {
    let s = read_small(&dir.join(name), 32)?;
    u32::from_str_radix(s.trim(), radix).ok()
}

/// Every Sony device under `sys_root` (normally [`SYS_USB_DEVICES`]), judged from sysfs
/// alone, in bus/address order. Nothing is opened: the names are sysfs's, and the
/// active configuration is `bConfigurationValue`.
pub fn list_sony_sysfs(sys_root: &Path) -> Vec<UsbDeviceInfo> {
    let Ok(entries) = std::fs::read_dir(sys_root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten().take(MAX_ENTRIES) {
        let name = e.file_name();
        let Some(port) = name.to_str() else { continue };
        if port.contains(':') {
            continue; // an interface, not a device
        }
        let dir = sys_root.join(port);
        if read_number(&dir, "idVendor", 16) != Some(u32::from(SONY_VID)) {
            continue;
        }
        let mut raw = Vec::new();
        let read = std::fs::File::open(dir.join("descriptors"))
            .and_then(|f| f.take(DESCRIPTORS_CAP).read_to_end(&mut raw));
        let Some((vendor_id, product_id, interfaces)) =
            read.ok().and_then(|_| parse_descriptors(&raw))
        else {
            log::debug!("{}: no readable descriptors", dir.display());
            continue;
        };
        let byte = |n: &str, radix| read_number(&dir, n, radix).and_then(|v| u8::try_from(v).ok());
        let strings = read_sysfs_strings(sys_root, port);
        out.push(UsbDeviceInfo {
            bus: byte("busnum", 10).unwrap_or(0),
            address: byte("devnum", 10).unwrap_or(0),
            port: port.to_string(),
            vendor_id,
            product_id,
            manufacturer: strings.manufacturer,
            product: strings.product,
            serial: strings.serial,
            mode: classify(&interfaces),
            active_config: byte("bConfigurationValue", 10),
            interfaces,
            open_error: None,
        });
    }
    out.sort_by_key(|i| (i.bus, i.address));
    out
}
