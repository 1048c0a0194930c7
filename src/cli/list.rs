//! `alpha-bridge list`: every Sony device on USB with its model, serial and USB mode, and
//! for any mode other than PC Remote exactly what to change in the camera menu
//! (docs/protocol/sony-usb.md#usb-modes). A PTP interface is opened briefly and its
//! DeviceInfo read to tell PC Remote (VendorExtensionID 0x11) from MTP; everything else is
//! judged from the interface classes alone. It never selects by product id. A body in
//! USB Streaming mode (a UVC interface) is already a webcam: its `/dev/videoN` is named
//! from sysfs, and a PTP interface next to it is still offered for control.
//!
//! With `-v`, each PC Remote body is connected (without asking for PC priority) and its
//! property model read and printed (src/cli/list_props.rs).
//!
//! Unless `--no-network`, bodies on the LAN are searched for meanwhile (SSDP, for
//! `--network-wait`, 1.5 s by default) and listed after the USB ones with the exact
//! `--camera ptpip:HOST:PORT` to use (src/cli/list_net.rs).
//!
//! It must not hold the camera: the interface is released before printing. Exit codes:
//! 0 listed (also when no camera is attached), 1 no USB access or a listing failure (what
//! the network search found is printed first).

use alpha_bridge::camera;
use alpha_bridge::camera::usb_mode::{mass_storage_steps, pc_remote_steps, ptp_face, PtpFace};
use alpha_bridge::ptp::dataset::DeviceInfo;
use alpha_bridge::transport::usb::{self, Selector, UsbDeviceInfo, UsbMode};
use alpha_bridge::transport::ErrorKind;
use anyhow::Context as _;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    /// Do not search the network (only USB is listed)
    #[arg(long, conflicts_with = "network_wait")]
    pub no_network: bool,
    /// How long to wait for cameras on the network to answer (default 1.5s; e.g. 3s,
    /// 500ms)
    #[arg(long, value_name = "DURATION", value_parser = super::list_net::parse_wait)]
    pub network_wait: Option<std::time::Duration>,
    /// Test-only: read USB devices from DIR/sys/bus/usb/devices (sysfs alone, nothing
    /// is opened) instead of libusb.
    #[arg(long, value_name = "DIR", hide = true)]
    pub root: Option<PathBuf>,
}

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

/// PC Remote announces Sony's vendor extension 0x11 and the SDIO operations; MTP does
/// not (docs/protocol/sony-usb.md#telling-pc-remote-from-mtp).
fn mode_of(usb: UsbMode, device_info: Option<&DeviceInfo>) -> Mode {
    match usb {
        UsbMode::Ptp => match device_info.map(ptp_face) {
            Some(PtpFace::PcRemote) => Mode::PcRemote,
            Some(PtpFace::Mtp) => Mode::Mtp,
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
}

/// What to change on the camera for a body in `mode` (`model` picks the menu path;
/// `video` are the nodes of a USB Streaming body); `None` when nothing needs changing.
pub(super) fn advice(mode: Mode, model: &str, video: &[String]) -> Option<String> {
    let to_pc_remote = pc_remote_steps(model);
    Some(match mode {
        Mode::PcRemote => return None,
        Mode::Mtp => format!(
            "MTP gives file access only, no live view or control; for the webcam, {to_pc_remote}"
        ),
        Mode::PtpUnchecked => format!(
            "if `alpha-bridge webcam` does not work, the camera may be in MTP mode; {to_pc_remote}"
        ),
        Mode::MassStorage => format!(
            "Mass Storage is the mode `alpha-bridge pair` uses (ready for it); for the webcam, \
             {to_pc_remote}"
        ),
        Mode::Chooser => format!(
            "the camera is waiting for a USB mode choice (or only charging): pick \"PC Remote\" \
             on the camera screen for the webcam, or \"Mass Storage\" for pairing; if no chooser \
             shows, {to_pc_remote}"
        ),
        Mode::UvcStreaming => format!(
            "the camera is already a webcam ({}): alpha-bridge is not needed for video; for \
             control or alpha-bridge's own webcam, {to_pc_remote}",
            video_phrase(video)
        ),
        Mode::Unknown => format!(
            "unrecognised USB interfaces; for the webcam, {to_pc_remote}; {}",
            mass_storage_steps(model)
        ),
    })
}

/// Where a USB Streaming body's video is, in words.
pub(super) fn video_phrase(video: &[String]) -> String {
    if video.is_empty() {
        "USB Streaming, but no /dev/video node yet: is the uvcvideo module loaded? \
         `v4l2-ctl --list-devices` shows the webcams"
            .to_string()
    } else {
        format!("USB Streaming at {}", video.join(", "))
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
    /// A USB Streaming (UVC) body's `/dev/videoN`, from sysfs.
    pub(super) video: Vec<String>,
    /// With `-v`, the property model of a PC Remote body.
    pub(super) props: Option<alpha_bridge::ptp::props::PropModel>,
}

/// Reads a body's PTP DeviceInfo (over USB for `list`; `doctor` also reads the emulated
/// body's over a memory pipe).
pub(super) type ReadDeviceInfo<'a> = &'a dyn Fn(&UsbDeviceInfo) -> Result<DeviceInfo, String>;

impl Row {
    /// What to change on the camera; `None` when nothing needs changing.
    pub(super) fn advice(&self) -> Option<String> {
        advice(self.mode, &self.model, &self.video)
    }

    /// With a UVC interface next to a PTP one, what each is for.
    pub(super) fn streaming_note(&self) -> Option<String> {
        if !self.info.offers_video() || self.mode == Mode::UvcStreaming {
            return None;
        }
        let control = match self.mode {
            Mode::PcRemote => "its PTP interface (PC Remote) still gives control: \
                               `alpha-bridge list -v` reads the settings"
                .to_string(),
            _ => "alpha-bridge uses the PTP interface offered alongside (control, and live \
                  view where the body allows it)"
                .to_string(),
        };
        Some(format!(
            "the camera is also a webcam ({}): alpha-bridge is not needed for video; {control}",
            video_phrase(&self.video)
        ))
    }
}

/// The Sony devices: from libusb, or with the hidden `--root` from a fake sysfs.
pub(super) fn devices(root: Option<&Path>) -> anyhow::Result<(Vec<UsbDeviceInfo>, PathBuf)> {
    Ok(match root {
        Some(r) => {
            let sys = r.join(usb::SYS_USB_DEVICES.trim_start_matches('/'));
            (usb::list_sony_sysfs(&sys), sys)
        }
        None => (
            usb::list_sony().context("cannot list USB devices")?,
            PathBuf::from(usb::SYS_USB_DEVICES),
        ),
    })
}

pub(crate) fn run(args: &ListArgs, verbose: bool) -> anyhow::Result<()> {
    // The network search runs while USB is listed.
    let search = if args.no_network {
        None
    } else {
        let wait = args.network_wait.unwrap_or(super::list_net::DEFAULT_WAIT);
        Some(super::list_net::start(wait)?)
    };
    let usb = devices(args.root.as_deref()).map(|(devices, sys)| {
        // A fake sysfs has nothing behind it to open.
        let probe = !args.no_probe && args.root.is_none();
        devices
            .into_iter()
            .map(|info| describe_with(info, probe.then_some(&read_over_usb), &sys))
            .map(|row| with_props(row, verbose && probe))
            .collect::<Vec<Row>>()
    });
    let net = search.map(super::list_net::Pending::finish);
    let rows = match usb {
        Ok(rows) => rows,
        Err(e) => {
            // What the network gave is still worth printing; USB decides the exit code.
            if let Some(net) = net.filter(|n| !n.bodies.is_empty()) {
                if args.json {
                    println!("{}", to_json(&[], Some(&net)));
                } else {
                    print!("{}", net.to_text().trim_start());
                }
            }
            return Err(e);
        }
    };
    if args.json {
        println!("{}", to_json(&rows, net.as_ref()));
    } else {
        print!("{}", to_text(&rows));
        if let Some(net) = &net {
            print!("{}", net.to_text());
        }
    }
    Ok(())
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
/// model and serial from DeviceInfo when `read` is given, and the video nodes of a UVC
/// interface from the sysfs tree `sys` (normally /sys/bus/usb/devices).
pub(super) fn describe_with(
    info: UsbDeviceInfo,
    read: Option<ReadDeviceInfo<'_>>,
    sys: &Path,
) -> Row {
    let mut row = Row {
        video: if info.offers_video() {
            usb::video_nodes(sys, &info.port)
        } else {
            Vec::new()
        },
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
            row.mode = mode_of(row.info.mode, Some(&di));
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

/// What `webcam` makes of the Sony devices it found, before opening one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A device that `wanted` names (any, when `None`) offers a PTP interface.
    Usable,
    /// As [`Verdict::Usable`], and that device also streams as a UVC webcam: the note
    /// says where, and that alpha-bridge is not needed for video.
    AlsoStreaming(String),
    /// The devices `wanted` names are all in modes without PTP: what to change.
    WrongMode(String),
}

/// Whether the webcam can go on with `devices`, judged from their interfaces (DeviceInfo
/// is read later, when the body is opened: MTP is refused then, with the same menu
/// path). `wanted` is a serial; no device matching it is left to the opener's message.
pub(super) fn usb_mode_verdict(
    devices: &[UsbDeviceInfo],
    wanted: Option<&str>,
    sys: &Path,
) -> Verdict {
    let named: Vec<&UsbDeviceInfo> = devices.iter().filter(|i| i.is_named_by(wanted)).collect();
    if let Some(i) = named.iter().find(|i| i.offers(usb::InterfaceClass::Ptp)) {
        let row = describe_with((*i).clone(), None, sys);
        return match row.streaming_note() {
            Some(n) => Verdict::AlsoStreaming(format!("the {}: {n}", row.model)),
            None => Verdict::Usable,
        };
    }
    let Some(first) = named.first() else {
        return Verdict::Usable;
    };
    let row = describe_with((*first).clone(), None, sys);
    let advice = row.advice().unwrap_or_default();
    Verdict::WrongMode(format!(
        "the {} has no PTP interface for live view (USB mode: {}): {advice}",
        row.model,
        row.mode.label()
    ))
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
        if let Some(v) = r.streaming_note() {
            let _ = writeln!(s, "  video    {v}");
        }
        if let Some(a) = r.advice() {
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

pub(super) fn json_str(out: &mut String, v: &str) {
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

pub(super) fn json_opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(v) => json_str(out, v),
        None => out.push_str("null"),
    }
}

/// The USB rows, then the bodies on the network (`net`), as one JSON array.
fn to_json(rows: &[Row], net: Option<&super::list_net::Found>) -> String {
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
        json_opt(&mut o, r.advice().as_deref());
        o.push_str(",\"video_devices\":[");
        for (k, v) in r.video.iter().enumerate() {
            if k > 0 {
                o.push(',');
            }
            json_str(&mut o, v);
        }
        o.push(']');
        o.push_str(",\"problem\":");
        json_opt(&mut o, r.problem.as_deref());
        if let Some(m) = &r.props {
            let _ = write!(o, ",\"properties\":{}", super::list_props::json(m));
        }
        o.push_str(",\"transport\":\"usb\"}");
    }
    if let Some(net) = net {
        net.json(&mut o, !rows.is_empty());
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

    fn di(vendor_id: u32, desc: &str) -> DeviceInfo {
        DeviceInfo {
            vendor_extension_id: vendor_id,
            vendor_extension_desc: desc.into(),
            operations_supported: vec![0x1001, 0x9201, 0x9202],
            ..Default::default()
        }
    }

    #[test]
    fn pc_remote_is_told_from_mtp_by_device_info() {
        let pc_remote = di(0x11, "Sony PTP Extensions");
        assert_eq!(mode_of(UsbMode::Ptp, Some(&pc_remote)), Mode::PcRemote);
        assert_eq!(mode_of(UsbMode::Ptp, Some(&di(0xFFFF_FFFF, ""))), Mode::Mtp);
        assert_eq!(
            mode_of(UsbMode::Ptp, Some(&di(0x06, "microsoft.com: 1.0"))),
            Mode::Mtp
        );
        assert_eq!(mode_of(UsbMode::Ptp, None), Mode::PtpUnchecked);
        assert_eq!(mode_of(UsbMode::MassStorage, None), Mode::MassStorage);
        assert_eq!(mode_of(UsbMode::SelectMode, None), Mode::Chooser);
        assert_eq!(mode_of(UsbMode::UvcStreaming, None), Mode::UvcStreaming);
        assert_eq!(mode_of(UsbMode::Unknown, None), Mode::Unknown);
        // A vendor extension never turns a non-PTP device into PC Remote.
        assert_eq!(
            mode_of(UsbMode::MassStorage, Some(&pc_remote)),
            Mode::MassStorage
        );
    }

    #[test]
    fn every_mode_but_pc_remote_says_what_to_change() {
        for model in ["ILCE-6400", "ILCE-7M4", ""] {
            for m in ALL {
                match advice(m, model, &[]) {
                    None => assert_eq!(m, Mode::PcRemote),
                    Some(a) => {
                        assert!(
                            a.contains("change the USB Connection setting to PC Remote"),
                            "{m:?}: {a}"
                        );
                        assert!(a.contains("(menu names vary by model)"), "{m:?}: {a}");
                        assert!(a.contains("\"PC Remote\""), "{m:?}: {a}");
                    }
                }
            }
        }
        // The menu path follows the body's generation.
        let old = advice(Mode::Mtp, "ILCE-6400", &[]).unwrap();
        assert!(old.contains("MENU → Setup → USB Connection →"), "{old}");
        assert!(!old.contains("Transfer/Remote"), "{old}");
        let new = advice(Mode::MassStorage, "ILCE-7M4", &[]).unwrap();
        assert!(
            new.contains("Network → Transfer/Remote → PC Remote Function"),
            "{new}"
        );
        assert!(new.contains("USB Connection Mode"), "{new}");
        assert!(new.contains("the mode `alpha-bridge pair` uses"), "{new}");
        let chooser = advice(Mode::Chooser, "", &[]).unwrap();
        assert!(chooser.contains("on the camera screen"), "{chooser}");
        assert!(chooser.contains("\"Mass Storage\""), "{chooser}");
        assert_eq!(Mode::PcRemote.ready_for(), &["webcam"]);
        assert_eq!(Mode::MassStorage.ready_for(), &["pair"]);
    }

    #[test]
    fn usb_streaming_names_its_video_node() {
        let v = vec!["/dev/video2".to_string()];
        let a = advice(Mode::UvcStreaming, "ILCE-7M4", &v).unwrap();
        assert!(
            a.starts_with("the camera is already a webcam (USB Streaming at /dev/video2)"),
            "{a}"
        );
        assert!(a.contains("alpha-bridge is not needed for video"), "{a}");
        let a = advice(Mode::UvcStreaming, "ILCE-7M4", &[]).unwrap();
        assert!(
            a.contains("no /dev/video node yet: is the uvcvideo module loaded?"),
            "{a}"
        );
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
            video: Vec::new(),
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
        assert!(
            t.contains("change   Mass Storage is the mode `alpha-bridge pair` uses"),
            "{t}"
        );
        assert!(t.contains("problem  permission denied"), "{t}");
    }

    fn device(port: &str, serial: &str, product: &str, triples: &[(u8, u8, u8)]) -> UsbDeviceInfo {
        let interfaces: Vec<InterfaceSummary> = triples
            .iter()
            .enumerate()
            .map(|(n, t)| InterfaceSummary {
                config_value: 1,
                number: n as u8,
                alt_setting: 0,
                class: t.0,
                subclass: t.1,
                protocol: t.2,
                endpoints: Vec::new(),
            })
            .collect();
        UsbDeviceInfo {
            bus: 1,
            address: 9,
            port: port.into(),
            vendor_id: 0x054C,
            product_id: 0x0DA8,
            manufacturer: Some("Sony".into()),
            product: Some(product.into()),
            serial: Some(serial.into()),
            mode: usb::classify(&interfaces),
            active_config: Some(1),
            interfaces,
            open_error: None,
        }
    }

    const PTP: (u8, u8, u8) = (6, 1, 1);
    const MSC: (u8, u8, u8) = (8, 6, 0x50);
    const UVC: [(u8, u8, u8); 2] = [(0x0E, 1, 0), (0x0E, 2, 0)];

    #[test]
    fn webcam_verdict_per_usb_mode() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        std::fs::create_dir_all(sys.join("1-3:1.0/video4linux/video2")).unwrap();
        let msc = device("1-1", "MSC1", "ILCE-6400", &[MSC]);
        let uvc = device("1-3", "UVC1", "ILCE-7M4", &UVC);
        let both = device("1-3", "BOTH", "ZV-E1", &[UVC[0], UVC[1], PTP]);
        let ptp = device("1-4", "PTP1", "ILCE-6400", &[PTP]);

        let Verdict::WrongMode(m) = usb_mode_verdict(std::slice::from_ref(&msc), None, sys) else {
            panic!("mass storage is not usable")
        };
        assert!(
            m.starts_with(
                "the ILCE-6400 has no PTP interface for live view (USB mode: Mass Storage)"
            ),
            "{m}"
        );
        assert!(
            m.contains("`alpha-bridge pair`") && m.contains("MENU → Setup → USB Connection →"),
            "{m}"
        );
        let Verdict::WrongMode(m) = usb_mode_verdict(std::slice::from_ref(&uvc), None, sys) else {
            panic!("UVC alone is not usable")
        };
        assert!(
            m.contains("already a webcam (USB Streaming at /dev/video2)"),
            "{m}"
        );
        assert!(
            m.contains("Transfer/Remote"),
            "2020 menu for the a7 IV: {m}"
        );
        // Any device with PTP will do; a serial picks one.
        assert_eq!(
            usb_mode_verdict(&[msc.clone(), ptp.clone()], None, sys),
            Verdict::Usable
        );
        assert!(matches!(
            usb_mode_verdict(&[msc.clone(), ptp.clone()], Some("MSC1"), sys),
            Verdict::WrongMode(_)
        ));
        assert_eq!(
            usb_mode_verdict(&[msc.clone(), ptp], Some("PTP1"), sys),
            Verdict::Usable
        );
        // No device with that serial: the opener says so.
        assert_eq!(usb_mode_verdict(&[msc], Some("NONE"), sys), Verdict::Usable);
        let Verdict::AlsoStreaming(n) = usb_mode_verdict(&[both], None, sys) else {
            panic!("PTP next to UVC is usable")
        };
        assert!(
            n.starts_with("the ZV-E1: the camera is also a webcam (USB Streaming at /dev/video2)"),
            "{n}"
        );
        assert!(n.contains("alpha-bridge is not needed for video"), "{n}");
        assert!(n.contains("PTP interface offered alongside"), "{n}");
    }

    #[test]
    fn text_for_usb_streaming_with_and_without_ptp() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        std::fs::create_dir_all(sys.join("1-3:1.0/video4linux/video5")).unwrap();
        let t = to_text(&[describe_with(
            device("1-3", "U", "ILCE-7M4", &UVC),
            None,
            sys,
        )]);
        assert!(t.contains("mode     USB Streaming"), "{t}");
        assert!(
            t.contains("change   the camera is already a webcam (USB Streaming at /dev/video5)"),
            "{t}"
        );
        assert!(!t.contains("  ready    "), "{t}");
        let read = |_: &UsbDeviceInfo| Ok(di(0x11, "Sony PTP Extensions"));
        let both = device("1-3", "B", "ZV-E1", &[UVC[0], UVC[1], PTP]);
        let r = describe_with(both, Some(&read), sys);
        assert_eq!(r.mode, Mode::PcRemote);
        let t = to_text(&[r]);
        assert!(t.contains("ready    alpha-bridge webcam --camera B"), "{t}");
        assert!(
            t.contains("video    the camera is also a webcam (USB Streaming at /dev/video5)"),
            "{t}"
        );
        assert!(
            t.contains("its PTP interface (PC Remote) still gives control"),
            "{t}"
        );
        assert!(!t.contains("change"), "{t}");
        let j = to_json(
            &[describe_with(
                device("1-3", "U", "ILCE-7M4", &UVC),
                None,
                sys,
            )],
            None,
        );
        assert!(j.contains("\"mode\":\"uvc_streaming\""), "{j}");
        assert!(j.contains("\"video_devices\":[\"/dev/video5\"]"), "{j}");
    }

    #[test]
    fn json_output() {
        assert_eq!(to_json(&[], None), "[]");
        let mut r = row(Mode::PcRemote, UsbMode::Ptp, Some("D\"0\\1\n"));
        r.problem = Some("\u{1}".into());
        let j = to_json(&[r, row(Mode::Chooser, UsbMode::SelectMode, None)], None);
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
