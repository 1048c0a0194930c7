//! The checks of each Sony body: its USB mode (judged exactly as `alpha-bridge list`
//! does), access to its device node, and a program holding it (the `/proc` scan the USB
//! transport uses for "camera busy"). `--camera emulated` puts the built-in emulated
//! body on the same path: its DeviceInfo is read through the real session code over a
//! memory pipe, and it sits at bus 001 device 002 for the node and holder checks.

use super::super::list::{self, Mode, Row};
use super::system::plain_os_error;
use super::{can_read_write, Check, Probe};
use alpha_bridge::camera;
use alpha_bridge::emulator::gadget::GadgetConfig;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::transport::usb::{
    self, EndpointKind, EndpointSummary, InterfaceSummary, UsbDeviceInfo,
};
use alpha_bridge::transport::ErrorKind;

/// Where the emulated body pretends to be plugged in.
const EMULATED_BUS: u8 = 1;
const EMULATED_ADDRESS: u8 = 2;

/// The emulated body's USB face: the interface the USB gadget front offers (Still Image
/// 06/01/01 with bulk IN, bulk OUT and interrupt IN); names come from its DeviceInfo.
fn emulated_info() -> UsbDeviceInfo {
    let gadget = GadgetConfig::default();
    let ep = |address, kind, max_packet_size| EndpointSummary {
        address,
        kind,
        max_packet_size,
    };
    let interfaces = vec![InterfaceSummary {
        config_value: 1,
        number: 0,
        alt_setting: 0,
        class: 6,
        subclass: 1,
        protocol: 1,
        endpoints: vec![
            ep(0x81, EndpointKind::Bulk, 512),
            ep(0x02, EndpointKind::Bulk, 512),
            ep(0x83, EndpointKind::Interrupt, 64),
        ],
    }];
    UsbDeviceInfo {
        bus: EMULATED_BUS,
        address: EMULATED_ADDRESS,
        port: "1-1".into(),
        vendor_id: gadget.vid,
        product_id: gadget.pid,
        manufacturer: Some(gadget.manufacturer),
        product: None,
        serial: None,
        mode: usb::classify(&interfaces),
        active_config: Some(1),
        interfaces,
        open_error: None,
    }
}

/// The bodies to check, described as `list` describes them; `Err` is a FAIL line
/// (no USB access).
fn rows(camera: &str) -> Result<Vec<Row>, Check> {
    if camera == "emulated" {
        let emu = UsbEmulator::new(Body::ilce_6400());
        let read = |_: &UsbDeviceInfo| {
            let mut t = emu.connect().map_err(|e| e.to_string())?;
            camera::read_device_info(&mut t).map_err(|e| e.to_string())
        };
        return Ok(vec![list::describe_with(emulated_info(), Some(&read))]);
    }
    let found = usb::list_sony().map_err(|e| {
        Check::fail(
            "camera",
            format!("cannot look for cameras: {e}"),
            "on a machine without USB, try alpha-bridge doctor --camera emulated",
        )
    })?;
    let wanted = (camera != "auto").then_some(camera);
    Ok(found
        .into_iter()
        .filter(|i| {
            wanted.is_none_or(|w| {
                i.serial
                    .as_deref()
                    .is_some_and(|s| usb::serial_matches(w, s))
            })
        })
        .map(|i| list::describe_with(i, Some(&list::read_over_usb)))
        .collect())
}

/// The camera lines: mode, access and holders for each body (or why there is none).
/// `rule_installed` says whether the udev access rule was found, for the advice.
pub(crate) fn cameras(probe: &Probe, camera: &str, rule_installed: bool) -> Vec<Check> {
    let rows = match rows(camera) {
        Ok(r) => r,
        Err(c) => return vec![c],
    };
    if rows.is_empty() {
        return vec![if camera == "auto" {
            Check::warn(
                "camera",
                "no Sony camera on USB",
                "connect the camera, switch it on with USB Connection set to PC Remote, and \
                 run alpha-bridge doctor again (alpha-bridge list shows what is connected)",
            )
        } else {
            Check::fail(
                "camera",
                format!("no Sony camera with serial {camera} on USB"),
                "alpha-bridge list shows the connected cameras and their serial numbers",
            )
        }];
    }
    let mut out = Vec::new();
    for r in &rows {
        out.push(mode_check(r, camera == "emulated"));
        out.push(access_check(probe, r, camera == "emulated", rule_installed));
        out.push(holder_check(probe, r));
    }
    out
}

fn name_of(r: &Row, emulated: bool) -> String {
    let i = &r.info;
    let place = if emulated {
        "emulated, in-process".to_string()
    } else {
        format!("usb {:03}/{:03}", i.bus, i.address)
    };
    format!(
        "{} serial {} ({place})",
        r.model,
        r.serial.as_deref().unwrap_or("unknown")
    )
}

/// PC Remote is ready; Mass Storage is ready for pairing only; anything else needs a
/// change on the camera, which `list`'s advice names.
pub(crate) fn mode_check(r: &Row, emulated: bool) -> Check {
    const WHAT: &str = "camera";
    let name = name_of(r, emulated);
    let advice = r.mode.advice().unwrap_or_default();
    let problem = r
        .problem
        .as_ref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    match r.mode {
        Mode::PcRemote => Check::ok(
            WHAT,
            format!("{name}: PC Remote, ready for alpha-bridge webcam"),
        ),
        Mode::MassStorage => Check::warn(
            WHAT,
            format!("{name}: Mass Storage, ready for alpha-bridge pair, not for the webcam"),
            advice,
        ),
        // Could not read DeviceInfo: the access and holder lines say why.
        Mode::PtpUnchecked => {
            Check::warn(WHAT, format!("{name}: {}{problem}", r.mode.label()), advice)
        }
        _ => Check::fail(WHAT, format!("{name}: {}{problem}", r.mode.label()), advice),
    }
}

/// Read/write access to `/dev/bus/usb/BBB/DDD`, which libusb needs to open the body.
pub(crate) fn access_check(probe: &Probe, r: &Row, emulated: bool, rule_installed: bool) -> Check {
    const WHAT: &str = "usb access";
    let dev = r.info.dev_node();
    let fix = if rule_installed {
        "the udev rule is installed: replug the camera (or sudo udevadm trigger), and use \
         alpha-bridge from a session logged in at this computer (uaccess gives access to \
         the local session only)"
            .to_string()
    } else {
        usb::UDEV_HINT.to_string()
    };
    if let Some(e) = &r.info.open_error {
        if e.kind == ErrorKind::PermissionDenied {
            return Check::fail(WHAT, format!("no read/write access to {dev}"), fix);
        }
    }
    match can_read_write(&probe.at(&dev)) {
        Ok(()) => Check::ok(WHAT, format!("read/write access to {dev}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && emulated => Check::ok(
            WHAT,
            format!("no {dev} to check (the emulated body is in-process)"),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::warn(
            WHAT,
            format!("{dev} does not exist (the camera was unplugged, or /dev is not mounted)"),
            "replug the camera and run alpha-bridge doctor again",
        ),
        Err(e) => Check::fail(
            WHAT,
            format!("no read/write access to {dev} ({})", plain_os_error(&e)),
            fix,
        ),
    }
}

/// Another program with the device node open (gvfs, gphoto2, another alpha-bridge).
pub(crate) fn holder_check(probe: &Probe, r: &Row) -> Check {
    const WHAT: &str = "in use";
    let holders = usb::find_holders(
        &probe.at("/proc"),
        r.info.bus,
        r.info.address,
        probe.self_pid,
    );
    if holders.is_empty() {
        return Check::ok(WHAT, "no other program holds the camera");
    }
    let ours = |n: &str| n.contains("alpha-bridge") || n.contains("alpha_bridge");
    if holders.iter().all(|h| ours(&h.name)) {
        let pids: Vec<String> = holders.iter().map(|h| h.pid.to_string()).collect();
        return Check::warn(
            WHAT,
            format!("alpha-bridge (pid {}) is using the camera", pids.join(", ")),
            "fine if that is your webcam; stop it before pairing or a second webcam",
        );
    }
    let names: Vec<String> = holders
        .iter()
        .map(|h| format!("{} (pid {})", h.name, h.pid))
        .collect();
    Check::fail(
        WHAT,
        format!("held by {}", names.join(", ")),
        usb::busy_advice(&holders),
    )
}
