//! libusb errors as [`TransportError`]s whose message says what to do (permission: the
//! udev rule; busy: who holds the camera; not found: `alpha-bridge list`), and the "no
//! USB access" checks that keep rusb from ever panicking here.

use super::holders::{busy_advice, find_holders, Holder};
use super::UDEV_HINT;
use crate::transport::{ErrorKind, TransportError};
use std::path::Path;

/// Where an error happened, for messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Loc<'a> {
    pub(super) what: &'a str,
    pub(super) bus: u8,
    pub(super) address: u8,
}

/// Maps a libusb error to a [`TransportError`] whose message says what to do. `holders`
/// only matters for `Busy` (see [`find_holders`]).
pub(super) fn map_error(e: rusb::Error, loc: Loc<'_>, holders: &[Holder]) -> TransportError {
    let Loc { what, bus, address } = loc;
    // Bus numbers start at 1; 0 marks errors not tied to one device (listing).
    let dev = if bus == 0 {
        "usb".to_string()
    } else {
        format!("usb bus {bus:03} device {address:03}")
    };
    match e {
        rusb::Error::NoDevice => TransportError::new(
            ErrorKind::Disconnected,
            format!("the camera disconnected ({what}, {dev})"),
        ),
        rusb::Error::Busy => TransportError::new(
            ErrorKind::Busy,
            format!("camera busy while {what} ({dev}): {}", busy_advice(holders)),
        ),
        rusb::Error::Access => TransportError::new(
            ErrorKind::PermissionDenied,
            format!(
                "permission denied while {what} (/dev/bus/usb/{bus:03}/{address:03}): {UDEV_HINT}"
            ),
        ),
        rusb::Error::NotFound => TransportError::new(
            ErrorKind::NotFound,
            format!("not found while {what} ({dev}): the camera may have changed USB mode; run `alpha-bridge list`"),
        ),
        rusb::Error::Timeout => TransportError::new(
            ErrorKind::Timeout,
            format!("timed out while {what} ({dev})"),
        ),
        rusb::Error::Pipe => TransportError::new(
            ErrorKind::Stall,
            format!("endpoint stalled while {what} ({dev})"),
        ),
        rusb::Error::Overflow => TransportError::new(
            ErrorKind::Overflow,
            format!("the camera sent more data than asked for while {what} ({dev})"),
        ),
        rusb::Error::NotSupported => TransportError::new(
            ErrorKind::Unsupported,
            format!("not supported by this system's libusb while {what} ({dev})"),
        ),
        other => TransportError::new(
            ErrorKind::Other,
            format!("usb error while {what} ({dev}): {other}"),
        ),
    }
}

/// [`map_error`] with the `/proc` scan done for `Busy`.
pub(super) fn usb_error(e: rusb::Error, loc: Loc<'_>) -> TransportError {
    let holders = if e == rusb::Error::Busy {
        find_holders(Path::new("/proc"), loc.bus, loc.address, std::process::id())
    } else {
        Vec::new()
    };
    let err = map_error(e, loc, &holders);
    log::debug!("usb: {e:?} -> {:?}: {}", err.kind, err.message);
    err
}

/// Where libusb opens devices on Linux.
pub(super) const USBFS: &str = "/dev/bus/usb";

const NO_USBFS_HINT: &str = "/dev/bus/usb does not exist (no usbfs: in a container pass the \
host's USB devices, e.g. `--device /dev/bus/usb`); to try without a camera use \
`alpha-bridge webcam --camera emulated`";

/// A fresh libusb context, or a clear "no USB access" error (never a panic).
pub(super) fn context() -> Result<rusb::Context, TransportError> {
    rusb::Context::new().map_err(|e| {
        let hint = if Path::new(USBFS).exists() {
            "check that /dev/bus/usb is readable"
        } else {
            NO_USBFS_HINT
        };
        TransportError::new(
            ErrorKind::Unsupported,
            format!("no USB access: libusb could not start ({e}); {hint}"),
        )
    })
}

/// libusb 1.0.26 starts even without usbfs (it assumes /dev/bus/usb under udev) and then
/// finds nothing; an empty list there would read as "no camera" when the truth is "this
/// system cannot see USB at all".
pub(super) fn check_usbfs(found_any: bool, usbfs_exists: bool) -> Result<(), TransportError> {
    if found_any || usbfs_exists {
        return Ok(());
    }
    Err(TransportError::new(
        ErrorKind::Unsupported,
        format!("no USB access: {NO_USBFS_HINT}"),
    ))
}
