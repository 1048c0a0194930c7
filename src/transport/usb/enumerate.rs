//! Listing Sony devices: every configuration's interfaces summarised, names read from
//! the device (or from sysfs when the node is not ours to open).

use super::descriptor::{classify, port_path, EndpointKind, EndpointSummary, InterfaceSummary};
use super::device::{read_sysfs_strings, UsbDeviceInfo};
use super::error::{check_usbfs, context, usb_error, Loc, USBFS};
use super::SONY_VID;
use crate::transport::TransportError;
use rusb::UsbContext;
use std::path::Path;
use std::time::Duration;

/// Timeout for descriptor and string reads while listing.
const STRING_TIMEOUT: Duration = Duration::from_millis(500);

fn summarize_interfaces(dev: &rusb::Device<rusb::Context>, n_configs: u8) -> Vec<InterfaceSummary> {
    let mut out = Vec::new();
    for index in 0..n_configs {
        let cfg = match dev.config_descriptor(index) {
            Ok(c) => c,
            Err(e) => {
                log::debug!(
                    "usb {:03}/{:03}: configuration index {index} unreadable: {e}",
                    dev.bus_number(),
                    dev.address()
                );
                continue;
            }
        };
        for iface in cfg.interfaces() {
            for d in iface.descriptors() {
                let endpoints = d
                    .endpoint_descriptors()
                    .map(|e| EndpointSummary {
                        address: e.address(),
                        kind: match e.transfer_type() {
                            rusb::TransferType::Control => EndpointKind::Control,
                            rusb::TransferType::Isochronous => EndpointKind::Isochronous,
                            rusb::TransferType::Bulk => EndpointKind::Bulk,
                            rusb::TransferType::Interrupt => EndpointKind::Interrupt,
                        },
                        max_packet_size: e.max_packet_size(),
                    })
                    .collect();
                out.push(InterfaceSummary {
                    config_value: cfg.number(),
                    number: d.interface_number(),
                    alt_setting: d.setting_number(),
                    class: d.class_code(),
                    subclass: d.sub_class_code(),
                    protocol: d.protocol_code(),
                    endpoints,
                });
            }
        }
    }
    out
}

/// Builds the info for one device; `None` when it is not Sony's. A device already in
/// `known` (same bus, address and product id) is taken from there, so a watcher polling
/// every second does not send string requests to a camera that is streaming.
fn describe(dev: &rusb::Device<rusb::Context>, known: &[UsbDeviceInfo]) -> Option<UsbDeviceInfo> {
    let desc = dev.device_descriptor().ok()?;
    if desc.vendor_id() != SONY_VID {
        return None;
    }
    let (bus, address) = (dev.bus_number(), dev.address());
    if let Some(k) = known
        .iter()
        .find(|k| k.bus == bus && k.address == address && k.product_id == desc.product_id())
    {
        return Some(k.clone());
    }
    let port = port_path(bus, &dev.port_numbers().unwrap_or_default());
    let interfaces = summarize_interfaces(dev, desc.num_configurations());
    let active_config = dev.active_config_descriptor().ok().map(|c| c.number());
    let mode = classify(&interfaces);
    let mut info = UsbDeviceInfo {
        bus,
        address,
        port,
        vendor_id: desc.vendor_id(),
        product_id: desc.product_id(),
        manufacturer: None,
        product: None,
        serial: None,
        mode,
        active_config,
        interfaces,
        open_error: None,
    };
    match dev.open() {
        Ok(h) => {
            let lang = h
                .read_languages(STRING_TIMEOUT)
                .ok()
                .and_then(|l| l.first().copied());
            let read = |index: Option<u8>| {
                let index = index?;
                let s = match lang {
                    Some(l) => h.read_string_descriptor(l, index, STRING_TIMEOUT).ok(),
                    None => h.read_string_descriptor_ascii(index).ok(),
                }?;
                let s = s.trim_end_matches('\0').trim().to_string();
                (!s.is_empty()).then_some(s)
            };
            info.manufacturer = read(desc.manufacturer_string_index());
            info.product = read(desc.product_string_index());
            info.serial = read(desc.serial_number_string_index());
        }
        Err(e) => {
            let loc = Loc {
                what: "opening the camera to read its name",
                bus,
                address,
            };
            info.open_error = Some(usb_error(e, loc));
        }
    }
    // sysfs keeps the strings readable for everyone: fill what the device node refused.
    if info.manufacturer.is_none() || info.product.is_none() || info.serial.is_none() {
        let s = read_sysfs_strings(Path::new(super::SYS_USB_DEVICES), &info.port);
        info.manufacturer = info.manufacturer.take().or(s.manufacturer);
        info.product = info.product.take().or(s.product);
        info.serial = info.serial.take().or(s.serial);
    }
    log::debug!(
        "usb {:03}/{:03} port {} {:04x}:{:04x} {:?} serial {:?}: mode {}, active configuration {:?}, {} interface settings",
        bus,
        address,
        info.port,
        info.vendor_id,
        info.product_id,
        info.product,
        info.serial,
        info.mode.as_str(),
        info.active_config,
        info.interfaces.len()
    );
    Some(info)
}

pub(super) fn list_with(
    ctx: &rusb::Context,
    known: &[UsbDeviceInfo],
) -> Result<Vec<UsbDeviceInfo>, TransportError> {
    let devices = ctx.devices().map_err(|e| {
        usb_error(
            e,
            Loc {
                what: "listing usb devices",
                bus: 0,
                address: 0,
            },
        )
    })?;
    let mut out: Vec<UsbDeviceInfo> = devices.iter().filter_map(|d| describe(&d, known)).collect();
    out.sort_by_key(|i| (i.bus, i.address));
    Ok(out)
}

/// Every device with Sony's vendor id, in bus/address order. Permission problems with a
/// single device are recorded in its `open_error`, not returned.
///
/// Fails with "no USB access" when libusb cannot start or the system has no usbfs at all.
pub fn list_sony() -> Result<Vec<UsbDeviceInfo>, TransportError> {
    let ctx = context()?;
    let list = list_with(&ctx, &[])?;
    check_usbfs(!list.is_empty(), Path::new(USBFS).exists())?;
    Ok(list)
}
