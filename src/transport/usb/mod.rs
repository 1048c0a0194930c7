//! The real USB transport on rusb (libusb): finding Sony bodies, telling their USB mode
//! apart, and claiming a PTP (06/01/01) or mass-storage (08/06/50) interface as a
//! [`Transport`](super::Transport). This folder is the only place in the project that
//! names rusb, and only [`error`], [`enumerate`], [`transport`] and [`hotplug`] do.
//!
//! Rules it keeps (docs/protocol/ptp-usb.md#interface-and-endpoints):
//! devices are chosen by vendor id 0x054C and interface class triple, never by product id
//! (it changes with the camera's USB mode); every configuration is looked at, not just the
//! active one; endpoint addresses and wMaxPacketSize come from the descriptors; the kernel
//! driver is detached before claiming and re-attached when the claim is dropped; every
//! transfer has a timeout. It always uses an explicit `rusb::Context`: rusb's global
//! functions panic on machines without usbfs (containers, CI), and this module must never
//! panic.
//!
//! It must not know PTP or SCSI: callers pass container bytes and class request numbers
//! (named once, in [`request`]). One job per file:
//!
//! - [`descriptor`]: pure decisions over descriptor summaries (mode, interface, endpoints,
//!   zero-length packets);
//! - [`device`]: what a device is and which one the user meant (selectors, sysfs strings);
//! - [`holders`]: the `/proc` scan for the program holding a busy camera, and the advice;
//! - [`error`]: libusb errors to [`TransportError`](super::TransportError)s that say what
//!   to do, and the "no USB access" checks;
//! - [`enumerate`]: listing Sony devices;
//! - [`transport`]: the claimed interface ([`UsbTransport`]);
//! - [`hotplug`]: arrivals and departures ([`UsbWatcher`]);
//! - [`sysfs`]: what the kernel keeps under `/sys/bus/usb/devices` (a USB Streaming
//!   body's `/dev/videoN`, devices read from sysfs alone).
//!
//! The pure files can be tested on a machine without USB, and are.

pub mod descriptor;
pub mod device;
pub mod enumerate;
pub mod error;
pub mod holders;
pub mod hotplug;
pub mod request;
pub mod sysfs;
pub mod transport;

#[cfg(test)]
mod tests;

pub use descriptor::{
    classify, find_interface, needs_zlp, offers_video, port_path, select_endpoints, EndpointKind,
    EndpointSummary, Endpoints, InterfaceClass, InterfaceSummary, UsbMode,
};
pub use device::{read_sysfs_strings, serial_matches, Selector, SysfsStrings, UsbDeviceInfo};
pub use enumerate::list_sony;
pub use holders::{busy_advice, find_holders, Holder};
pub use hotplug::{diff_devices, hotplug_supported, UsbEvent, UsbWatcher};
pub use sysfs::{list_sony_sysfs, video_nodes, SYS_USB_DEVICES};
pub use transport::{open, UsbTransport};

/// Sony's USB vendor id.
pub const SONY_VID: u16 = 0x054C;

/// The command that installs the udev rule shipped in `udev/`; quoted in permission errors.
pub const UDEV_HINT: &str = "install the udev rule (sudo cp udev/60-alpha-bridge.rules \
/etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger), then replug \
the camera; or run once as root to test";
