//! `alpha-bridge list`: every Sony device on USB with its model, serial and USB mode, and
//! for any mode other than PC Remote exactly what to change in the camera menu
//! (docs/protocol/sony-usb.md#usb-modes). A PTP interface is opened briefly and its
//! DeviceInfo read to tell PC Remote (VendorExtensionID 0x11) from MTP; everything else is
//! judged from the interface classes alone. It never selects by product id.
//!
//! With `-v`, each PC Remote body is connected (without asking for PC priority) and its
//! property model read and printed (src/cli/list_props.rs).
//!
//! It must not hold the camera: the interface is released before printing. Exit codes:
//! 0 listed (also when no camera is attached), 1 no USB access or a listing failure.

use alpha_bridge::camera;
use alpha_bridge::ptp::dataset::DeviceInfo;
use alpha_bridge::transport::usb::{self, Selector, UsbDeviceInfo, UsbMode};
use alpha_bridge::transport::ErrorKind;
use anyhow::Context as _;
use std::fmt::Write as _;

/// Options of `alpha-bridge list`.
#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// Print a JSON array (one object per device) for tools; with -v each PC Remote body's
    /// property model too (`properties`).
    #[arg(long)]
    pub json: bool,
    /// Do not open PTP interfaces to tell PC Remote from MTP (only USB descriptors).
    #[arg(long)]
    pub no_probe: bool,
}

/// The menu path to PC Remote (docs/protocol/sony-usb.md#usb-modes; exact names vary by
/// body).
const TO_PC_REMOTE: &str = "on the camera: MENU → Network (or Setup) → USB Connection → \
\"PC Remote\"; on 2020+ bodies (a7 IV, a7S III, a1, ZV-E10, …): PC Remote Function → ON, \
PC Remote Cnct Method → USB, USB Connection Mode → \"PC Remote\"; then replug the cable";

/// The menu path to mass storage, which pairing needs
/// (docs/protocol/pairing.md#preconditions).
const TO_MASS_STORAGE: &str = "for pairing (`alpha-bridge pair`): set USB Connection \
(2020+ bodies: USB Connection Mode) to \"Mass Storage\"";

/// What a device is good for, once DeviceInfo has been read where it could be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    PcRemote,
    Mtp,
    /// PTP interface whose DeviceInfo could not be read.
    PtpUnchecked,
    MassStorage,
    Chooser,
    UvcStreaming,
    Unknown,
}

/// PC Remote announces Sony's vendor extension 0x11; MTP reports 0xFFFFFFFF or another
/// id (docs/protocol/sony-usb.md#telling-pc-remote-from-mtp).
const SONY_PC_REMOTE_EXTENSION: u32 = 0x11;

fn mode_of(usb: UsbMode, vendor_extension: Option<u32>) -> Mode {
    match usb {
        UsbMode::Ptp => match vendor_extension {
            Some(SONY_PC_REMOTE_EXTENSION) => Mode::PcRemote,
            Some(_) => Mode::Mtp,
            None => Mode::PtpUnchecked,
        },
        UsbMode::MassStorage => Mode::MassStorage,
        UsbMode::SelectMode => Mode::Chooser,
        UsbMode::UvcStreaming => Mode::UvcStreaming,
        _ => Mode::Unknown,
    }
}

impl Mode {
    pub(super) fn label(self) -> &'static str {
        match self {
            Mode::PcRemote => "PC Remote",
            Mode::Mtp => "MTP (file transfer)",
            Mode::PtpUnchecked => "PTP (PC Remote or MTP: could not check)",
            Mode::MassStorage => "Mass Storage",
            Mode::Chooser => "no USB mode chosen yet (mode chooser or charging)",
            Mode::UvcStreaming => "USB Streaming (the camera's own UVC webcam)",
            Mode::Unknown => "unknown",
        }
    }

    pub(super) fn key(self) -> &'static str {
        match self {
            Mode::PcRemote => "pc_remote",
            Mode::Mtp => "mtp",
            Mode::PtpUnchecked => "ptp",
            Mode::MassStorage => "mass_storage",
            Mode::Chooser => "select_mode",
            Mode::UvcStreaming => "uvc_streaming",
            Mode::Unknown => "unknown",
        }
    }

    /// alpha-bridge commands that work in this mode.
    pub(super) fn ready_for(self) -> &'static [&'static str] {
        match self {
            Mode::PcRemote => &["webcam"],
            Mode::MassStorage => &["pair"],
            _ => &[],
        }
    }

    /// What to change on the camera; `None` when nothing needs changing.
    pub(super) fn advice(self) -> Option<String> {
        match self {
            Mode::PcRemote => None,
            Mode::Mtp => Some(format!(
                "MTP gives file access only, no live view; for the webcam, {TO_PC_REMOTE}"
            )),
            Mode::PtpUnchecked => Some(format!(
                "if `alpha-bridge webcam` does not work, the camera may be in MTP mode; {TO_PC_REMOTE}"
            )),
            Mode::MassStorage => Some(format!(
                "ready for `alpha-bridge pair`; for the webcam, {TO_PC_REMOTE}"
            )),
            Mode::Chooser => Some(format!(
                "the camera is waiting for a USB mode choice (or only charging): pick \"PC Remote\" \
                 on the camera screen for the webcam, or \"Mass Storage\" for pairing; if no chooser \
                 shows, {TO_PC_REMOTE}"
            )),
            Mode::UvcStreaming => Some(format!(
                "this mode already works as a plain webcam through uvcvideo (see `v4l2-ctl --list-devices`); \
                 for alpha-bridge, {TO_PC_REMOTE}"
            )),
            Mode::Unknown => Some(format!(
                "unrecognised USB interfaces; for the webcam, {TO_PC_REMOTE}; {TO_MASS_STORAGE}"
            )),
        }
    }
}

/// One listed device.
pub(super) struct Row {
    pub(super) info: UsbDeviceInfo,
    pub(super) mode: Mode,
    pub(super) model: String,
    pub(super) serial: Option<String>,
    pub(super) vendor_extension: Option<u32>,
    pub(super) problem: Option<String>,
    /// With `-v`, the property model of a PC Remote body.
    pub(super) props: Option<alpha_bridge::ptp::props::PropModel>,
}

/// Reads a body's PTP DeviceInfo (over USB for `list`; `doctor` also reads the emulated
/// body's over a memory pipe).
pub(super) type ReadDeviceInfo<'a> = &'a dyn Fn(&UsbDeviceInfo) -> Result<DeviceInfo, String>;

pub(crate) fn run(args: &ListArgs, verbose: bool) -> anyhow::Result<()> {
    let devices = usb::list_sony().context("cannot list USB devices")?;
    let rows: Vec<Row> = devices
        .into_iter()
        .map(|info| describe(info, !args.no_probe))
        .map(|row| with_props(row, verbose && !args.no_probe))
        .collect();
    if args.json {
        println!("{}", to_json(&rows));
    } else {
        print!("{}", to_text(&rows));
    }
    Ok(())
}

fn describe(info: UsbDeviceInfo, probe: bool) -> Row {
    describe_with(info, probe.then_some(&read_over_usb))
}

/// Opens the PTP interface briefly and reads DeviceInfo; released on return.
pub(super) fn read_over_usb(info: &UsbDeviceInfo) -> Result<DeviceInfo, String> {
    let selector = Selector::BusAddress {
        bus: info.bus,
        address: info.address,
    };
    usb::open(&selector, usb::InterfaceClass::Ptp)
        .map_err(|e| e.to_string())
        .and_then(|mut t| camera::read_device_info(&mut t).map_err(|e| e.to_string()))
}

/// A [`Row`] for `info`: the mode from its interfaces, and for a PTP body the mode,
/// model and serial from DeviceInfo when `read` is given.
pub(super) fn describe_with(info: UsbDeviceInfo, read: Option<ReadDeviceInfo<'_>>) -> Row {
    let mut row = Row {
        model: info.display_name(),
        serial: info.serial.clone(),
        mode: mode_of(info.mode, None),
        vendor_extension: None,
        problem: info.open_error.as_ref().map(|e| e.message.clone()),
        props: None,
        info,
    };
    let Some(read) = read else {
        return row;
    };
    if row.info.mode != UsbMode::Ptp {
        return row;
    }
    // Opening would only repeat the permission error already recorded.
    if row
        .info
        .open_error
        .as_ref()
        .is_some_and(|e| e.kind == ErrorKind::PermissionDenied)
    {
        return row;
    }
    match read(&row.info) {
        Ok(di) => {
            log::debug!(
                "{}: DeviceInfo vendor extension {:#x} {:?}, model {:?}, serial {:?}",
                row.info.dev_node(),
                di.vendor_extension_id,
                di.vendor_extension_desc,
                di.model,
                di.serial_number
            );
            row.vendor_extension = Some(di.vendor_extension_id);
            row.mode = mode_of(row.info.mode, Some(di.vendor_extension_id));
            if !di.model.trim().is_empty() {
                row.model = di.model.trim().to_string();
            }
            if row.serial.is_none() && !di.serial_number.trim().is_empty() {
                row.serial = Some(di.serial_number.trim().to_string());
            }
        }
        Err(e) => row.problem = Some(format!("could not read DeviceInfo: {e}")),
    }
    row
}

/// Reads the property model of a PC Remote body: the connect handshake without PC
/// priority, so listing changes nothing on the camera.
fn with_props(mut row: Row, wanted: bool) -> Row {
    if !wanted || row.mode != Mode::PcRemote {
        return row;
    }
    let selector = Selector::BusAddress {
        bus: row.info.bus,
        address: row.info.address,
    };
    let opts = camera::sony::ConnectOptions {
        priority_mode: false,
        live_view_quality: None,
        ..Default::default()
    };
    let result = usb::open(&selector, usb::InterfaceClass::Ptp)
        .map_err(|e| e.to_string())
        .and_then(|t| camera::sony::SonyCamera::connect(t, opts).map_err(|e| e.to_string()));
    match result {
        Ok(cam) => {
            row.props = cam.properties().cloned();
            if row.props.is_none() {
                row.problem = Some("could not read the camera's property list".into());
            }
            drop(cam.close());
        }
        Err(e) => row.problem = Some(format!("could not read the properties: {e}")),
    }
    row
}

fn to_text(rows: &[Row]) -> String {
    let mut s = String::new();
    if rows.is_empty() {
        s.push_str(
            "no Sony camera found on USB (check the cable, that the camera is on, and its \
             USB Connection setting)\nto try alpha-bridge without a camera: \
             alpha-bridge webcam --camera emulated\n",
        );
        return s;
    }
    let n = rows.len();
    let _ = writeln!(
        s,
        "{n} Sony {} on USB:",
        if n == 1 { "device" } else { "devices" }
    );
    for r in rows {
        let i = &r.info;
        let _ = writeln!(
            s,
            "\n{}  serial {}",
            r.model,
            r.serial.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            s,
            "  usb      bus {:03} device {:03}, port {}, id {:04x}:{:04x}",
            i.bus, i.address, i.port, i.vendor_id, i.product_id
        );
        let _ = writeln!(s, "  mode     {}", r.mode.label());
        if r.mode == Mode::PcRemote {
            let sel = r.serial.as_deref().unwrap_or("auto");
            let _ = writeln!(s, "  ready    alpha-bridge webcam --camera {sel}");
        }
        if let Some(a) = r.mode.advice() {
            let _ = writeln!(s, "  change   {a}");
        }
        if let Some(p) = &r.problem {
            let _ = writeln!(s, "  problem  {p}");
        }
        if let Some(m) = &r.props {
            s.push_str(&super::list_props::table(m));
        }
    }
    s
}

fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(v) => json_str(out, v),
        None => out.push_str("null"),
    }
}

fn to_json(rows: &[Row]) -> String {
    let mut o = String::from("[");
    for (n, r) in rows.iter().enumerate() {
        let i = &r.info;
        if n > 0 {
            o.push(',');
        }
        let _ = write!(o, "{{\"bus\":{},\"address\":{},\"port\":", i.bus, i.address);
        json_str(&mut o, &i.port);
        let _ = write!(
            o,
            ",\"vendor_id\":\"{:04x}\",\"product_id\":\"{:04x}\",\"manufacturer\":",
            i.vendor_id, i.product_id
        );
        json_opt(&mut o, i.manufacturer.as_deref());
        o.push_str(",\"product\":");
        json_opt(&mut o, i.product.as_deref());
        o.push_str(",\"model\":");
        json_str(&mut o, &r.model);
        o.push_str(",\"serial\":");
        json_opt(&mut o, r.serial.as_deref());
        o.push_str(",\"usb_mode\":");
        json_str(&mut o, i.mode.as_str());
        o.push_str(",\"mode\":");
        json_str(&mut o, r.mode.key());
        o.push_str(",\"vendor_extension_id\":");
        match r.vendor_extension {
            Some(v) => {
                let _ = write!(o, "{v}");
            }
            None => o.push_str("null"),
        }
        o.push_str(",\"ready_for\":[");
        for (k, cmd) in r.mode.ready_for().iter().enumerate() {
            if k > 0 {
                o.push(',');
            }
            json_str(&mut o, cmd);
        }
        o.push_str("],\"change\":");
        json_opt(&mut o, r.mode.advice().as_deref());
        o.push_str(",\"problem\":");
        json_opt(&mut o, r.problem.as_deref());
        if let Some(m) = &r.props {
            let _ = write!(o, ",\"properties\":{}", super::list_props::json(m));
        }
        o.push('}');
    }
    o.push(']');
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpha_bridge::transport::usb::{EndpointKind, EndpointSummary, InterfaceSummary};

    const ALL: [Mode; 7] = [
        Mode::PcRemote,
        Mode::Mtp,
        Mode::PtpUnchecked,
        Mode::MassStorage,
        Mode::Chooser,
        Mode::UvcStreaming,
        Mode::Unknown,
    ];

    #[test]
    fn pc_remote_is_told_from_mtp_by_vendor_extension() {
        assert_eq!(mode_of(UsbMode::Ptp, Some(0x11)), Mode::PcRemote);
        assert_eq!(mode_of(UsbMode::Ptp, Some(0xFFFF_FFFF)), Mode::Mtp);
        assert_eq!(mode_of(UsbMode::Ptp, Some(0x06)), Mode::Mtp);
        assert_eq!(mode_of(UsbMode::Ptp, None), Mode::PtpUnchecked);
        assert_eq!(mode_of(UsbMode::MassStorage, None), Mode::MassStorage);
        assert_eq!(mode_of(UsbMode::SelectMode, None), Mode::Chooser);
        assert_eq!(mode_of(UsbMode::UvcStreaming, None), Mode::UvcStreaming);
        assert_eq!(mode_of(UsbMode::Unknown, None), Mode::Unknown);
        // A vendor extension never turns a non-PTP device into PC Remote.
        assert_eq!(mode_of(UsbMode::MassStorage, Some(0x11)), Mode::MassStorage);
    }

    #[test]
    fn every_mode_but_pc_remote_says_what_to_change() {
        for m in ALL {
            match m.advice() {
                None => assert_eq!(m, Mode::PcRemote),
                Some(a) => {
                    assert!(a.contains("USB Connection"), "{m:?}: {a}");
                    assert!(a.contains("\"PC Remote\""), "{m:?}: {a}");
                    assert!(a.contains("PC Remote Function → ON"), "{m:?}: {a}");
                    assert!(a.contains("PC Remote Cnct Method → USB"), "{m:?}: {a}");
                }
            }
        }
        assert!(Mode::Chooser
            .advice()
            .unwrap()
            .contains("on the camera screen"));
        assert!(Mode::Chooser.advice().unwrap().contains("\"Mass Storage\""));
        assert!(Mode::MassStorage
            .advice()
            .unwrap()
            .contains("alpha-bridge pair"));
        assert_eq!(Mode::PcRemote.ready_for(), &["webcam"]);
        assert_eq!(Mode::MassStorage.ready_for(), &["pair"]);
    }

    fn row(mode: Mode, usb_mode: UsbMode, serial: Option<&str>) -> Row {
        let iface = InterfaceSummary {
            config_value: 1,
            number: 0,
            alt_setting: 0,
            class: 6,
            subclass: 1,
            protocol: 1,
            endpoints: vec![EndpointSummary {
                address: 0x81,
                kind: EndpointKind::Bulk,
                max_packet_size: 512,
            }],
        };
        Row {
            info: UsbDeviceInfo {
                bus: 1,
                address: 5,
                port: "1-2".into(),
                vendor_id: 0x054C,
                product_id: 0x0C34,
                manufacturer: Some("Sony".into()),
                product: Some("ILCE-7M3".into()),
                serial: serial.map(String::from),
                mode: usb_mode,
                active_config: Some(1),
                interfaces: vec![iface],
                open_error: None,
            },
            mode,
            model: "ILCE-7M3".into(),
            serial: serial.map(String::from),
            vendor_extension: (mode == Mode::PcRemote).then_some(0x11),
            problem: None,
            props: None,
        }
    }

    #[test]
    fn text_output() {
        let t = to_text(&[]);
        assert!(t.starts_with("no Sony camera found on USB"));
        assert!(t.contains("alpha-bridge webcam --camera emulated"));

        let t = to_text(&[row(Mode::PcRemote, UsbMode::Ptp, Some("D01"))]);
        assert!(t.contains("1 Sony device on USB"), "{t}");
        assert!(t.contains("ILCE-7M3  serial D01"), "{t}");
        assert!(
            t.contains("bus 001 device 005, port 1-2, id 054c:0c34"),
            "{t}"
        );
        assert!(t.contains("mode     PC Remote\n"), "{t}");
        assert!(t.contains("alpha-bridge webcam --camera D01"), "{t}");
        assert!(!t.contains("change"), "{t}");

        let mut r = row(Mode::MassStorage, UsbMode::MassStorage, None);
        r.problem = Some("permission denied: install the udev rule".into());
        let t = to_text(&[r]);
        assert!(t.contains("serial unknown"), "{t}");
        assert!(t.contains("change   ready for `alpha-bridge pair`"), "{t}");
        assert!(t.contains("problem  permission denied"), "{t}");
    }

    #[test]
    fn json_output() {
        assert_eq!(to_json(&[]), "[]");
        let mut r = row(Mode::PcRemote, UsbMode::Ptp, Some("D\"0\\1\n"));
        r.problem = Some("\u{1}".into());
        let j = to_json(&[r, row(Mode::Chooser, UsbMode::SelectMode, None)]);
        assert!(
            j.starts_with("[{\"bus\":1,\"address\":5,\"port\":\"1-2\""),
            "{j}"
        );
        assert!(j.contains("\"serial\":\"D\\\"0\\\\1\\n\""), "{j}");
        assert!(j.contains("\"problem\":\"\\u0001\""), "{j}");
        assert!(j.contains("\"mode\":\"pc_remote\""), "{j}");
        assert!(j.contains("\"vendor_extension_id\":17"), "{j}");
        assert!(
            j.contains("\"ready_for\":[\"webcam\"],\"change\":null"),
            "{j}"
        );
        assert!(j.contains("\"mode\":\"select_mode\""), "{j}");
        assert!(j.contains("\"serial\":null"), "{j}");
        assert!(j.ends_with("}]"), "{j}");
        // Balanced braces and brackets outside strings: a cheap well-formedness check.
        let (mut depth, mut in_str, mut esc) = (0i32, false, false);
        for c in j.chars() {
            if in_str {
                match (esc, c) {
                    (true, _) => esc = false,
                    (false, '\\') => esc = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0);
        }
        assert_eq!(depth, 0);
        assert!(!in_str);
    }
}
