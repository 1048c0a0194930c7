//! Which device the user meant: a Sony device's description, the selectors of
//! `--camera` (first, serial, bus:address) and the strings the kernel keeps in sysfs.
//! No rusb here.

use super::descriptor::{find_interface, InterfaceClass, InterfaceSummary, UsbMode};
use crate::transport::TransportError;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// One Sony device on the bus, as `list_sony` found it.
#[derive(Debug, Clone)]
pub struct UsbDeviceInfo {
    /// Bus number.
    pub bus: u8,
    /// Device address on the bus.
    pub address: u8,
    /// Linux sysfs port path, e.g. `1-2.3`.
    pub port: String,
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// Manufacturer string, when it could be read.
    pub manufacturer: Option<String>,
    /// Product string, when it could be read.
    pub product: Option<String>,
    /// Serial number, when it could be read.
    pub serial: Option<String>,
    /// What the camera's USB setting makes it (PTP, mass storage, ...).
    pub mode: UsbMode,
    /// bConfigurationValue of the active configuration, when known.
    pub active_config: Option<u8>,
    /// Every interface alternate setting of every configuration.
    pub interfaces: Vec<InterfaceSummary>,
    /// Why the device could not be opened to read its strings (usually permission: the
    /// strings then come from sysfs when readable). Not fatal for listing.
    pub open_error: Option<TransportError>,
}

impl UsbDeviceInfo {
    /// Whether any configuration offers `class`.
    pub fn offers(&self, class: InterfaceClass) -> bool {
        find_interface(&self.interfaces, class, self.active_config).is_some()
    }

    /// `/dev/bus/usb/BBB/DDD`, the node the udev rule must make accessible.
    pub fn dev_node(&self) -> String {
        format!("/dev/bus/usb/{:03}/{:03}", self.bus, self.address)
    }

    /// Short human name: product string, else `Sony 054c:PPPP`.
    pub fn display_name(&self) -> String {
        match &self.product {
            Some(p) if !p.trim().is_empty() => p.trim().to_string(),
            _ => format!("Sony {:04x}:{:04x}", self.vendor_id, self.product_id),
        }
    }
}

/// Which device `open` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The first Sony device (in bus order) that offers the wanted interface.
    First,
    /// By USB serial string (case-insensitive; a Sony DeviceInfo serial that ends with the
    /// USB one, or the reverse, also matches, since bodies pad one of them).
    Serial(String),
    /// By bus number and device address, as `lsusb` shows them.
    BusAddress {
        /// Bus number.
        bus: u8,
        /// Device address.
        address: u8,
    },
}

impl FromStr for Selector {
    type Err = std::convert::Infallible;

    /// `first`/`auto`/empty; `BUS:ADDR` or `usb:BUS:ADDR` (decimal, as lsusb prints);
    /// `serial:S`; anything else is a serial.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("first") || s.eq_ignore_ascii_case("auto") {
            return Ok(Selector::First);
        }
        if let Some(serial) = s.strip_prefix("serial:") {
            return Ok(Selector::Serial(serial.to_string()));
        }
        let rest = s.strip_prefix("usb:").unwrap_or(s);
        if let Some((b, a)) = rest.split_once(':').or_else(|| rest.split_once('/')) {
            if let (Ok(bus), Ok(address)) = (b.parse::<u8>(), a.parse::<u8>()) {
                return Ok(Selector::BusAddress { bus, address });
            }
        }
        Ok(Selector::Serial(s.to_string()))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::First => f.write_str("first"),
            Selector::Serial(s) => write!(f, "serial {s}"),
            Selector::BusAddress { bus, address } => {
                write!(f, "bus {bus:03} device {address:03}")
            }
        }
    }
}

/// Whether two serial strings name the same body.
pub fn serial_matches(wanted: &str, have: &str) -> bool {
    let w = wanted.trim().to_ascii_lowercase();
    let h = have.trim().to_ascii_lowercase();
    if w.is_empty() || h.is_empty() {
        return false;
    }
    w == h || w.ends_with(&h) || h.ends_with(&w)
}

impl Selector {
    /// Whether `info` is the device this selector names (for `First`, any device that
    /// offers `class`).
    pub fn matches(&self, info: &UsbDeviceInfo, class: InterfaceClass) -> bool {
        match self {
            Selector::First => info.offers(class),
            Selector::Serial(s) => info.serial.as_deref().is_some_and(|h| serial_matches(s, h)),
            Selector::BusAddress { bus, address } => info.bus == *bus && info.address == *address,
        }
    }
}

/// Strings the kernel cached in sysfs (readable without access to the device node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysfsStrings {
    /// Manufacturer string from sysfs.
    pub manufacturer: Option<String>,
    /// Product string from sysfs.
    pub product: Option<String>,
    /// Serial number from sysfs.
    pub serial: Option<String>,
}

/// Reads `manufacturer`, `product`, `serial` of `port` under `sys_root`
/// (normally `/sys/bus/usb/devices`). Missing files are `None`.
pub fn read_sysfs_strings(sys_root: &Path, port: &str) -> SysfsStrings {
    let dir = sys_root.join(port);
    let read = |name: &str| {
        let s = read_small(&dir.join(name), 256)?;
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    SysfsStrings {
        manufacturer: read("manufacturer"),
        product: read("product"),
        serial: read("serial"),
    }
}

/// Reads at most `cap` bytes of a small text file, lossily.
pub(super) fn read_small(path: &Path, cap: u64) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(cap).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}
