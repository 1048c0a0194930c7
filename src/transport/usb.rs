//! The real USB transport on rusb (libusb): finding Sony bodies, telling their USB mode
//! apart, and claiming a PTP (06/01/01) or mass-storage (08/06/50) interface as a
//! [`Transport`]. This is the only file in the project that names rusb.
//!
//! Rules it keeps (docs/protocol/ptp-usb.md#interface-and-endpoints):
//! devices are chosen by vendor id 0x054C and interface class triple, never by product id
//! (it changes with the camera's USB mode); every configuration is looked at, not just the
//! active one; endpoint addresses and wMaxPacketSize come from the descriptors; the kernel
//! driver is detached before claiming and re-attached on drop; every transfer has a
//! timeout. It always uses an explicit `rusb::Context`: rusb's global functions panic on
//! machines without usbfs (containers, CI), and this module must never panic.
//!
//! It must not know PTP or SCSI: callers pass container bytes and class request numbers.
//! The decisions (mode classification, interface and endpoint choice, error advice, the
//! `/proc` scan for the program holding the camera) are pure functions over small
//! descriptor summaries so they can be tested on a machine without USB.

use super::{ErrorKind, Pipe, Transport, TransportError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError};
use rusb::UsbContext;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sony's USB vendor id.
pub const SONY_VID: u16 = 0x054C;

/// The command that installs the udev rule shipped in `udev/`; quoted in permission errors.
pub const UDEV_HINT: &str = "install the udev rule (sudo cp udev/60-alpha-bridge.rules \
/etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger), then replug \
the camera; or run once as root to test";

/// Class requests this transport's users send (bRequest values); wIndex is always the
/// claimed interface number, which the transport fills in.
pub mod request {
    /// PTP Cancel Request (0x21, 6 bytes: u16 0x4001, u32 transaction id).
    pub const PTP_CANCEL: u8 = 0x64;
    /// PTP Get Extended Event Data (0xA1).
    pub const PTP_GET_EXTENDED_EVENT_DATA: u8 = 0x65;
    /// PTP Device Reset Request (0x21, no data).
    pub const PTP_DEVICE_RESET: u8 = 0x66;
    /// PTP Get Device Status (0xA1, reply u16 length, u16 code, optional u32s).
    pub const PTP_GET_DEVICE_STATUS: u8 = 0x67;
    /// Mass storage Bulk-Only Get Max LUN (0xA1, 1 byte).
    pub const MSC_GET_MAX_LUN: u8 = 0xFE;
    /// Mass storage Bulk-Only Mass Storage Reset (0x21, no data).
    pub const MSC_RESET: u8 = 0xFF;
}

/// bmRequestType for a class request to an interface, host to device.
const CLASS_OUT: u8 = 0x21;
/// bmRequestType for a class request to an interface, device to host.
const CLASS_IN: u8 = 0xA1;

/// One libusb transfer at most this long: a multiple of every bulk packet size (64, 512,
/// 1024), so splitting a write at this size never inserts a short packet, and far below
/// libusb's `int` length.
const MAX_TRANSFER: usize = 16 * 1024 * 1024;

/// libusb treats a 0 ms timeout as "wait forever"; never ask for that by accident.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Timeout for descriptor and string reads while listing.
const STRING_TIMEOUT: Duration = Duration::from_millis(500);

/// At most this many processes are named in a "camera is busy" message.
const MAX_HOLDERS: usize = 8;

const USB_CLASS_HID: u8 = 0x03;
const USB_CLASS_VIDEO: u8 = 0x0E;

// ---------------------------------------------------------------------------------------
// Pure descriptor summaries and decisions
// ---------------------------------------------------------------------------------------

/// What a Sony device offers, judged from the interfaces of all its configurations
/// (docs/protocol/sony-usb.md#usb-modes). PC Remote and MTP both show as [`UsbMode::Ptp`];
/// only DeviceInfo's VendorExtensionID tells them apart, which is above this layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UsbMode {
    /// Still Image class 06/01/01: PC Remote or MTP.
    Ptp,
    /// Mass storage Bulk-Only SCSI 08/06/50: pairing, file access.
    MassStorage,
    /// Only HID (03) interfaces: the "select USB mode" pop-up is unanswered or the body
    /// is charging (PIDs 0x096F / 0x0994 seen).
    SelectMode,
    /// Video class (0x0E): the body's own UVC "USB Streaming" webcam mode.
    UvcStreaming,
    /// None of the above.
    Unknown,
}

impl UsbMode {
    /// A stable lowercase name for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            UsbMode::Ptp => "ptp",
            UsbMode::MassStorage => "mass_storage",
            UsbMode::SelectMode => "select_mode",
            UsbMode::UvcStreaming => "uvc_streaming",
            UsbMode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for UsbMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsbMode::Ptp => "PTP (PC Remote or MTP)",
            UsbMode::MassStorage => "Mass Storage",
            UsbMode::SelectMode => "mode not selected (USB mode chooser or charging)",
            UsbMode::UvcStreaming => "USB Streaming (UVC webcam)",
            UsbMode::Unknown => "unknown",
        })
    }
}

/// The interface a caller wants to claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InterfaceClass {
    /// Still Image 06/01/01 (PTP: PC Remote, MTP).
    Ptp,
    /// Mass storage Bulk-Only SCSI transparent 08/06/50.
    MassStorage,
}

impl InterfaceClass {
    /// (class, subclass, protocol).
    pub fn triple(self) -> (u8, u8, u8) {
        match self {
            InterfaceClass::Ptp => (0x06, 0x01, 0x01),
            InterfaceClass::MassStorage => (0x08, 0x06, 0x50),
        }
    }

    fn name(self) -> &'static str {
        match self {
            InterfaceClass::Ptp => "PTP (06/01/01)",
            InterfaceClass::MassStorage => "mass storage (08/06/50)",
        }
    }
}

/// Transfer type of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    Control,
    Isochronous,
    Bulk,
    Interrupt,
}

/// One endpoint descriptor, reduced to what the transport needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSummary {
    /// bEndpointAddress (bit 7 set = IN).
    pub address: u8,
    pub kind: EndpointKind,
    /// wMaxPacketSize as in the descriptor (bits 11..12 may carry a multiplier).
    pub max_packet_size: u16,
}

impl EndpointSummary {
    pub fn is_in(&self) -> bool {
        self.address & 0x80 != 0
    }

    /// The packet size proper, without the high-bandwidth multiplier bits.
    pub fn packet_size(&self) -> u16 {
        self.max_packet_size & 0x07FF
    }
}

/// One interface alternate setting of one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSummary {
    /// bConfigurationValue of the configuration it belongs to.
    pub config_value: u8,
    /// bInterfaceNumber.
    pub number: u8,
    /// bAlternateSetting.
    pub alt_setting: u8,
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    pub endpoints: Vec<EndpointSummary>,
}

impl InterfaceSummary {
    pub fn triple(&self) -> (u8, u8, u8) {
        (self.class, self.subclass, self.protocol)
    }
}

/// The USB mode of a device from the interfaces of all its configurations. When several
/// are offered (some bodies expose up to four configurations), PTP wins over mass
/// storage over UVC, since that is what this program can use best.
pub fn classify(interfaces: &[InterfaceSummary]) -> UsbMode {
    let has = |t: (u8, u8, u8)| interfaces.iter().any(|i| i.triple() == t);
    if has(InterfaceClass::Ptp.triple()) {
        UsbMode::Ptp
    } else if has(InterfaceClass::MassStorage.triple()) {
        UsbMode::MassStorage
    } else if interfaces.iter().any(|i| i.class == USB_CLASS_VIDEO) {
        UsbMode::UvcStreaming
    } else if !interfaces.is_empty() && interfaces.iter().all(|i| i.class == USB_CLASS_HID) {
        UsbMode::SelectMode
    } else {
        UsbMode::Unknown
    }
}

/// The interface with `class`'s triple, preferring the active configuration (no
/// SET_CONFIGURATION needed), then the lowest configuration value, then alternate
/// setting 0.
pub fn find_interface(
    interfaces: &[InterfaceSummary],
    class: InterfaceClass,
    active_config: Option<u8>,
) -> Option<&InterfaceSummary> {
    let want = class.triple();
    interfaces
        .iter()
        .filter(|i| i.triple() == want)
        .min_by_key(|i| {
            (
                Some(i.config_value) != active_config,
                i.config_value,
                i.alt_setting,
            )
        })
}

/// The distinct interface numbers of configuration `config_value`.
fn interfaces_of(interfaces: &[InterfaceSummary], config_value: u8) -> Vec<u8> {
    let mut n: Vec<u8> = interfaces
        .iter()
        .filter(|i| i.config_value == config_value)
        .map(|i| i.number)
        .collect();
    n.sort_unstable();
    n.dedup();
    n
}

/// The endpoints a bulk-only interface is driven through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub bulk_in: u8,
    pub bulk_out: u8,
    /// Interrupt IN (PTP events); mass storage has none.
    pub interrupt_in: Option<u8>,
    /// wMaxPacketSize of bulk IN: reads are sized in multiples of it.
    pub in_packet_size: u16,
    /// wMaxPacketSize of bulk OUT: a write of a multiple of it gets a zero-length packet.
    pub out_packet_size: u16,
    pub interrupt_packet_size: Option<u16>,
}

/// The first bulk IN, first bulk OUT and first interrupt IN endpoint of an interface.
pub fn select_endpoints(iface: &InterfaceSummary) -> Result<Endpoints, TransportError> {
    let find = |kind: EndpointKind, is_in: bool| {
        iface
            .endpoints
            .iter()
            .find(|e| e.kind == kind && e.is_in() == is_in)
    };
    let bad = |what: &str| {
        TransportError::new(
            ErrorKind::Unsupported,
            format!(
                "usb interface {} (class {:02x}/{:02x}/{:02x}) has {what}: it cannot carry bulk transfers",
                iface.number, iface.class, iface.subclass, iface.protocol
            ),
        )
    };
    let bulk_in = find(EndpointKind::Bulk, true).ok_or_else(|| bad("no bulk IN endpoint"))?;
    let bulk_out = find(EndpointKind::Bulk, false).ok_or_else(|| bad("no bulk OUT endpoint"))?;
    if bulk_in.packet_size() == 0 || bulk_out.packet_size() == 0 {
        return Err(bad("a bulk endpoint with wMaxPacketSize 0"));
    }
    let int_in = find(EndpointKind::Interrupt, true).filter(|e| e.packet_size() > 0);
    Ok(Endpoints {
        bulk_in: bulk_in.address,
        bulk_out: bulk_out.address,
        interrupt_in: int_in.map(|e| e.address),
        in_packet_size: bulk_in.packet_size(),
        out_packet_size: bulk_out.packet_size(),
        interrupt_packet_size: int_in.map(|e| e.packet_size()),
    })
}

/// Whether a bulk write of `len` bytes needs a trailing zero-length packet so the device
/// sees where the transfer ends (docs/protocol/ptp-usb.md#short-packets-and-the-zlp-rule).
/// An empty write is itself the ZLP.
pub fn needs_zlp(len: usize, packet_size: u16) -> bool {
    packet_size != 0 && len != 0 && len % usize::from(packet_size) == 0
}

impl InterfaceClass {
    /// Whether writes end with a ZLP when their length is a multiple of the packet size.
    /// PTP delimits containers by short packets, so yes. Bulk-Only mass storage delimits
    /// by the CBW's length and never sends one: a ZLP after an 8192-byte data-out (the
    /// pairing block) would be read by the device as a (bad) next CBW, as Linux's
    /// usb-storage and sony-guid-setter never send it either.
    pub fn ends_writes_with_zlp(self) -> bool {
        match self {
            InterfaceClass::Ptp => true,
            InterfaceClass::MassStorage => false,
        }
    }
}

/// The Linux sysfs name of a device: `B-P.P.P`, or `usbB` for a root hub.
pub fn port_path(bus: u8, ports: &[u8]) -> String {
    if ports.is_empty() {
        return format!("usb{bus}");
    }
    let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    format!("{bus}-{}", ports.join("."))
}

// ---------------------------------------------------------------------------------------
// Device information
// ---------------------------------------------------------------------------------------

/// One Sony device on the bus, as `list_sony` found it.
#[derive(Debug, Clone)]
pub struct UsbDeviceInfo {
    pub bus: u8,
    pub address: u8,
    /// Linux sysfs port path, e.g. `1-2.3`.
    pub port: String,
    pub vendor_id: u16,
    pub product_id: u16,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
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
    BusAddress { bus: u8, address: u8 },
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
    pub manufacturer: Option<String>,
    pub product: Option<String>,
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
fn read_small(path: &Path, cap: u64) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(cap).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

// ---------------------------------------------------------------------------------------
// Errors and advice
// ---------------------------------------------------------------------------------------

/// A process that has a device node open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Program name: basename of argv[0], else `comm`.
    pub name: String,
}

/// The processes under `proc_root` (normally `/proc`) with `/dev/bus/usb/BBB/DDD` open,
/// except `exclude_pid` (ourselves). Processes we may not inspect are skipped silently.
pub fn find_holders(proc_root: &Path, bus: u8, address: u8, exclude_pid: u32) -> Vec<Holder> {
    let target = PathBuf::from(format!("/dev/bus/usb/{bus:03}/{address:03}"));
    let mut holders = Vec::new();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return holders;
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != exclude_pid)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        if holders.len() >= MAX_HOLDERS {
            break;
        }
        let dir = proc_root.join(pid.to_string());
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let holds = fds
            .filter_map(|fd| fd.ok())
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if holds {
            holders.push(Holder {
                pid,
                name: process_name(&dir),
            });
        }
    }
    holders
}

fn process_name(proc_dir: &Path) -> String {
    if let Some(cmdline) = read_small(&proc_dir.join("cmdline"), 4096) {
        if let Some(arg0) = cmdline.split('\0').next().filter(|a| !a.is_empty()) {
            let base = arg0.rsplit('/').next().unwrap_or(arg0);
            // Some programs rewrite argv[0] to "name: details".
            let base = base.split_whitespace().next().unwrap_or(base);
            if !base.is_empty() {
                return base.to_string();
            }
        }
    }
    read_small(&proc_dir.join("comm"), 64)
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown program".to_string())
}

/// What to tell a user whose camera is claimed by someone else.
pub fn busy_advice(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "another program holds the camera (often gvfs-gphoto2-volume-monitor: \
                `systemctl --user stop gvfs-gphoto2-volume-monitor` and `gio mount -s gphoto2`; \
                or gphoto2, or another alpha-bridge): close it and try again"
            .to_string();
    }
    let mut parts = Vec::new();
    for h in holders {
        let n = h.name.to_ascii_lowercase();
        let how = if n.starts_with("gvfs") || n.contains("gvfsd-gphoto2") {
            "stop it with `systemctl --user stop gvfs-gphoto2-volume-monitor` and `gio mount -s gphoto2`".to_string()
        } else if n.contains("alpha-bridge") || n.contains("alpha_bridge") {
            format!("another alpha-bridge is running: stop it (kill {})", h.pid)
        } else {
            format!("close it (kill {})", h.pid)
        };
        parts.push(format!("{} (pid {}): {how}", h.name, h.pid));
    }
    format!("the camera is held by {}", parts.join("; "))
}

/// Where an error happened, for messages.
#[derive(Debug, Clone, Copy)]
struct Loc<'a> {
    what: &'a str,
    bus: u8,
    address: u8,
}

/// Maps a libusb error to a [`TransportError`] whose message says what to do. `holders`
/// only matters for `Busy` (see [`find_holders`]).
fn map_error(e: rusb::Error, loc: Loc<'_>, holders: &[Holder]) -> TransportError {
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
fn usb_error(e: rusb::Error, loc: Loc<'_>) -> TransportError {
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
const USBFS: &str = "/dev/bus/usb";

const NO_USBFS_HINT: &str = "/dev/bus/usb does not exist (no usbfs: in a container pass the \
host's USB devices, e.g. `--device /dev/bus/usb`); to try without a camera use \
`alpha-bridge webcam --camera emulated`";

/// A fresh libusb context, or a clear "no USB access" error (never a panic).
fn context() -> Result<rusb::Context, TransportError> {
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
fn check_usbfs(found_any: bool, usbfs_exists: bool) -> Result<(), TransportError> {
    if found_any || usbfs_exists {
        return Ok(());
    }
    Err(TransportError::new(
        ErrorKind::Unsupported,
        format!("no USB access: {NO_USBFS_HINT}"),
    ))
}

// ---------------------------------------------------------------------------------------
// Enumeration
// ---------------------------------------------------------------------------------------

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
        let s = read_sysfs_strings(Path::new("/sys/bus/usb/devices"), &info.port);
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

fn list_with(
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

// ---------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------

/// A claimed PTP or mass-storage interface of a Sony body. Writes on a PTP interface end
/// with a zero-length packet when their length is a multiple of wMaxPacketSize; on a
/// mass-storage interface they never do (see [`InterfaceClass::ends_writes_with_zlp`]).
pub struct UsbTransport {
    handle: rusb::DeviceHandle<rusb::Context>,
    info: UsbDeviceInfo,
    class: InterfaceClass,
    interface: u8,
    endpoints: Endpoints,
    /// A kernel driver (usb-storage for mass storage) was detached and is given back on drop.
    reattach: bool,
}

impl fmt::Debug for UsbTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsbTransport")
            .field("bus", &self.info.bus)
            .field("address", &self.info.address)
            .field("class", &self.class)
            .field("interface", &self.interface)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// Opens the device `selector` names and claims its `class` interface.
pub fn open(selector: &Selector, class: InterfaceClass) -> Result<UsbTransport, TransportError> {
    let ctx = context()?;
    let devices = list_with(&ctx, &[])?;
    check_usbfs(!devices.is_empty(), Path::new(USBFS).exists())?;
    let Some(info) = devices.iter().find(|i| selector.matches(i, class)) else {
        return Err(not_found(selector, class, &devices));
    };
    let info = info.clone();
    let loc = Loc {
        what: "opening the camera",
        bus: info.bus,
        address: info.address,
    };
    if !info.offers(class) {
        return Err(TransportError::new(
            ErrorKind::NotFound,
            format!(
                "{} ({}) has no {} interface: it is in {} mode; run `alpha-bridge list` for what to change on the camera",
                info.display_name(),
                info.dev_node(),
                class.name(),
                info.mode
            ),
        ));
    }
    let iface = find_interface(&info.interfaces, class, info.active_config)
        .cloned()
        .ok_or_else(|| TransportError::new(ErrorKind::NotFound, "interface vanished"))?;
    let endpoints = select_endpoints(&iface)?;

    let dev = ctx
        .devices()
        .map_err(|e| usb_error(e, loc))?
        .iter()
        .find(|d| d.bus_number() == info.bus && d.address() == info.address)
        .ok_or_else(|| usb_error(rusb::Error::NoDevice, loc))?;
    let handle = dev.open().map_err(|e| usb_error(e, loc))?;

    let active = handle.active_configuration().ok();
    log::debug!(
        "usb {:03}/{:03}: {} interface {} alt {} in configuration {} (active {:?})",
        info.bus,
        info.address,
        class.name(),
        iface.number,
        iface.alt_setting,
        iface.config_value,
        active
    );
    if active != Some(iface.config_value) {
        log::info!(
            "usb {:03}/{:03}: switching to configuration {}",
            info.bus,
            info.address,
            iface.config_value
        );
        // Linux refuses SET_CONFIGURATION while a kernel driver holds an interface of the
        // current one; the kernel rebinds drivers itself after the switch, so no re-attach.
        if let Some(current) = active {
            for n in interfaces_of(&info.interfaces, current) {
                if handle.kernel_driver_active(n).unwrap_or(false) {
                    log::debug!("usb: detaching kernel driver from interface {n} of configuration {current}");
                    let _ = handle.detach_kernel_driver(n);
                }
            }
        }
        handle
            .set_active_configuration(iface.config_value)
            .map_err(|e| {
                usb_error(
                    e,
                    Loc {
                        what: "selecting the usb configuration",
                        ..loc
                    },
                )
            })?;
    }

    let mut reattach = false;
    match handle.kernel_driver_active(iface.number) {
        Ok(true) => {
            log::debug!(
                "usb {:03}/{:03}: detaching kernel driver from interface {}",
                info.bus,
                info.address,
                iface.number
            );
            handle.detach_kernel_driver(iface.number).map_err(|e| {
                usb_error(
                    e,
                    Loc {
                        what: "detaching the kernel driver",
                        ..loc
                    },
                )
            })?;
            reattach = true;
        }
        Ok(false) => {}
        Err(e) => log::debug!("usb: cannot query kernel driver: {e}"),
    }
    if let Err(e) = handle.claim_interface(iface.number) {
        if reattach {
            let _ = handle.attach_kernel_driver(iface.number);
        }
        return Err(usb_error(
            e,
            Loc {
                what: "claiming the camera's interface",
                ..loc
            },
        ));
    }
    if iface.alt_setting != 0 {
        if let Err(e) = handle.set_alternate_setting(iface.number, iface.alt_setting) {
            let _ = handle.release_interface(iface.number);
            if reattach {
                let _ = handle.attach_kernel_driver(iface.number);
            }
            return Err(usb_error(
                e,
                Loc {
                    what: "selecting the interface setting",
                    ..loc
                },
            ));
        }
    }
    log::debug!(
        "usb {:03}/{:03}: claimed interface {}: bulk IN {:#04x} (mps {}), bulk OUT {:#04x} (mps {}), interrupt IN {} (mps {})",
        info.bus,
        info.address,
        iface.number,
        endpoints.bulk_in,
        endpoints.in_packet_size,
        endpoints.bulk_out,
        endpoints.out_packet_size,
        endpoints
            .interrupt_in
            .map_or("none".to_string(), |a| format!("{a:#04x}")),
        endpoints.interrupt_packet_size.unwrap_or(0)
    );
    log::debug!(
        "opened {} {} at {} ({})",
        info.display_name(),
        info.serial.as_deref().unwrap_or("(no serial)"),
        info.dev_node(),
        class.name()
    );
    Ok(UsbTransport {
        handle,
        info,
        class,
        interface: iface.number,
        endpoints,
        reattach,
    })
}

fn not_found(
    selector: &Selector,
    class: InterfaceClass,
    devices: &[UsbDeviceInfo],
) -> TransportError {
    let msg = if devices.is_empty() {
        "no Sony camera found on USB: check the cable and that the camera is on; \
         to try without a camera use `alpha-bridge webcam --camera emulated`"
            .to_string()
    } else if *selector == Selector::First {
        let seen: Vec<String> = devices
            .iter()
            .map(|d| format!("{} in {} mode", d.display_name(), d.mode))
            .collect();
        format!(
            "no Sony camera offers a {} interface (found {}): run `alpha-bridge list` for what to change on the camera",
            class.name(),
            seen.join(", ")
        )
    } else {
        format!(
            "no Sony camera matches {selector}: run `alpha-bridge list` to see what is connected"
        )
    };
    TransportError::new(ErrorKind::NotFound, msg)
}

impl UsbTransport {
    pub fn info(&self) -> &UsbDeviceInfo {
        &self.info
    }

    pub fn class(&self) -> InterfaceClass {
        self.class
    }

    /// bInterfaceNumber of the claimed interface (wIndex of class requests).
    pub fn interface_number(&self) -> u8 {
        self.interface
    }

    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }

    /// Whether a kernel driver (usb-storage for mass storage) was detached to claim the
    /// interface; it is re-attached on drop.
    pub fn kernel_driver_detached(&self) -> bool {
        self.reattach
    }

    /// USB port reset (re-enumeration may follow; the transport is then unusable).
    pub fn reset_device(&mut self) -> Result<(), TransportError> {
        self.handle
            .reset()
            .map_err(|e| usb_error(e, self.loc("resetting the usb device")))
    }

    fn loc<'a>(&self, what: &'a str) -> Loc<'a> {
        Loc {
            what,
            bus: self.info.bus,
            address: self.info.address,
        }
    }
}

impl Transport for UsbTransport {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let timeout = timeout.max(MIN_TIMEOUT);
        let ep = self.endpoints.bulk_out;
        let mut pieces: Vec<&[u8]> = data.chunks(MAX_TRANSFER).collect();
        let zlp = self.class.ends_writes_with_zlp()
            && needs_zlp(data.len(), self.endpoints.out_packet_size);
        if zlp || data.is_empty() {
            pieces.push(&[]);
        }
        let mut sent = 0usize;
        for piece in pieces {
            let n = self
                .handle
                .write_bulk(ep, piece, timeout)
                .map_err(|e| usb_error(e, self.loc("sending to the camera")))?;
            sent += n;
            if n < piece.len() {
                // rusb reports a timeout after partial progress as a short success.
                return Err(TransportError::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out sending to the camera after {sent} of {} bytes",
                        data.len()
                    ),
                ));
            }
        }
        log::trace!("usb: bulk OUT {:#04x} {} bytes", ep, data.len());
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let timeout = timeout.max(MIN_TIMEOUT);
        let len = buf.len().min(MAX_TRANSFER);
        if len % usize::from(self.endpoints.in_packet_size) != 0 {
            log::trace!(
                "usb: bulk IN read of {len} bytes is not a multiple of {}; the camera may overflow it",
                self.endpoints.in_packet_size
            );
        }
        let n = self
            .handle
            .read_bulk(self.endpoints.bulk_in, &mut buf[..len], timeout)
            .map_err(|e| usb_error(e, self.loc("reading from the camera")))?;
        log::trace!("usb: bulk IN {:#04x} {n} bytes", self.endpoints.bulk_in);
        Ok(n)
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let Some(ep) = self.endpoints.interrupt_in else {
            return Err(TransportError::new(
                ErrorKind::Unsupported,
                "this interface has no interrupt endpoint for events",
            ));
        };
        let timeout = timeout.max(MIN_TIMEOUT);
        let len = buf.len().min(MAX_TRANSFER);
        self.handle
            .read_interrupt(ep, &mut buf[..len], timeout)
            .map_err(|e| usb_error(e, self.loc("reading a camera event")))
    }

    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
        let ep = match pipe {
            Pipe::BulkIn => self.endpoints.bulk_in,
            Pipe::BulkOut => self.endpoints.bulk_out,
            Pipe::InterruptIn => match self.endpoints.interrupt_in {
                Some(ep) => ep,
                None => {
                    return Err(TransportError::new(
                        ErrorKind::Unsupported,
                        "this interface has no interrupt endpoint",
                    ))
                }
            },
        };
        log::debug!("usb: clear halt on {ep:#04x}");
        self.handle
            .clear_halt(ep)
            .map_err(|e| usb_error(e, self.loc("clearing a stalled endpoint")))
    }

    fn class_out(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), TransportError> {
        if data.len() > usize::from(u16::MAX) {
            return Err(TransportError::new(
                ErrorKind::Other,
                "class request data longer than 65535 bytes",
            ));
        }
        log::debug!(
            "usb: class request {request:#04x} OUT value {value} index {} ({} bytes)",
            self.interface,
            data.len()
        );
        let n = self
            .handle
            .write_control(
                CLASS_OUT,
                request,
                value,
                u16::from(self.interface),
                data,
                timeout.max(MIN_TIMEOUT),
            )
            .map_err(|e| usb_error(e, self.loc("sending a class request")))?;
        if n < data.len() {
            return Err(TransportError::new(
                ErrorKind::Other,
                format!(
                    "class request {request:#04x}: the camera took {n} of {} bytes",
                    data.len()
                ),
            ));
        }
        Ok(())
    }

    fn class_in(
        &mut self,
        request: u8,
        value: u16,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        let len = buf.len().min(usize::from(u16::MAX));
        let n = self
            .handle
            .read_control(
                CLASS_IN,
                request,
                value,
                u16::from(self.interface),
                &mut buf[..len],
                timeout.max(MIN_TIMEOUT),
            )
            .map_err(|e| usb_error(e, self.loc("reading a class request")))?;
        log::debug!(
            "usb: class request {request:#04x} IN value {value} index {}: {n} bytes",
            self.interface
        );
        Ok(n)
    }

    fn max_packet_size(&self) -> usize {
        usize::from(self.endpoints.in_packet_size)
    }
}

impl Drop for UsbTransport {
    fn drop(&mut self) {
        if let Err(e) = self.handle.release_interface(self.interface) {
            log::debug!("usb: releasing interface {}: {e}", self.interface);
        }
        if self.reattach {
            match self.handle.attach_kernel_driver(self.interface) {
                Ok(()) => log::debug!(
                    "usb: kernel driver re-attached to interface {}",
                    self.interface
                ),
                Err(e) => log::warn!(
                    "could not give interface {} back to its kernel driver ({e}); replug the camera to restore it",
                    self.interface
                ),
            }
        }
        log::debug!(
            "usb {:03}/{:03}: released interface {}",
            self.info.bus,
            self.info.address,
            self.interface
        );
    }
}

// ---------------------------------------------------------------------------------------
// Hotplug
// ---------------------------------------------------------------------------------------

/// Whether libusb can report arrivals and departures here (else [`UsbWatcher`] polls).
pub fn hotplug_supported() -> bool {
    // rusb::has_hotplug() initialises rusb's global context, which panics without usbfs;
    // libusb_has_capability itself needs no context.
    let cap =
        unsafe { rusb::ffi::libusb_has_capability(rusb::constants::LIBUSB_CAP_HAS_HOTPLUG) != 0 };
    cap && context().is_ok()
}

/// A Sony device came or went. A mode change on the camera shows as `Left` then
/// `Arrived` (the body re-enumerates with a new address and product id).
#[derive(Debug, Clone)]
pub enum UsbEvent {
    Arrived(UsbDeviceInfo),
    Left(UsbDeviceInfo),
}

/// The events that turn device list `before` into `after` (identity: bus, address,
/// product id). Departures come first.
pub fn diff_devices(before: &[UsbDeviceInfo], after: &[UsbDeviceInfo]) -> Vec<UsbEvent> {
    let key = |i: &UsbDeviceInfo| (i.bus, i.address, i.product_id);
    let mut events: Vec<UsbEvent> = before
        .iter()
        .filter(|b| !after.iter().any(|a| key(a) == key(b)))
        .map(|b| UsbEvent::Left(b.clone()))
        .collect();
    events.extend(
        after
            .iter()
            .filter(|a| !before.iter().any(|b| key(a) == key(b)))
            .map(|a| UsbEvent::Arrived(a.clone())),
    );
    events
}

/// Watches for Sony devices coming and going, on its own thread (`usb-watch`). Devices
/// present at start are reported as `Arrived` first. It rescans every second with a
/// fresh libusb context (a long-lived context only learns of changes through udev
/// events, which containers and minimal systems lack) and earlier when libusb hotplug
/// reports a change.
pub struct UsbWatcher {
    rx: Receiver<UsbEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    hotplug: bool,
}

struct HotplugFlag(Arc<AtomicBool>);

impl rusb::Hotplug<rusb::Context> for HotplugFlag {
    // Only raise a flag: synchronous libusb calls are not allowed inside the callback.
    fn device_arrived(&mut self, _device: rusb::Device<rusb::Context>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn device_left(&mut self, _device: rusb::Device<rusb::Context>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

const POLL_INTERVAL: Duration = Duration::from_secs(1);
const WAKE_INTERVAL: Duration = Duration::from_millis(200);

/// One rescan with a fresh context.
fn scan(known: &[UsbDeviceInfo]) -> Result<Vec<UsbDeviceInfo>, TransportError> {
    let ctx = context()?;
    list_with(&ctx, known)
}

impl UsbWatcher {
    /// Starts watching; fails only when there is no USB access at all.
    pub fn start() -> Result<UsbWatcher, TransportError> {
        let initial = scan(&[])?;
        let stop = Arc::new(AtomicBool::new(false));
        let dirty = Arc::new(AtomicBool::new(false));
        let cap = unsafe {
            rusb::ffi::libusb_has_capability(rusb::constants::LIBUSB_CAP_HAS_HOTPLUG) != 0
        };
        let hotplug_ctx = if cap {
            let ctx = context()?;
            let mut b = rusb::HotplugBuilder::new();
            b.vendor_id(SONY_VID);
            match b.register(&ctx, Box::new(HotplugFlag(dirty.clone()))) {
                Ok(r) => Some((ctx, r)),
                Err(e) => {
                    log::debug!("usb: hotplug registration failed ({e}); polling only");
                    None
                }
            }
        } else {
            None
        };
        let hotplug = hotplug_ctx.is_some();
        log::debug!(
            "usb watcher: polling every second{}",
            if hotplug {
                ", woken by libusb hotplug"
            } else {
                ""
            }
        );
        let (tx, rx) = bounded(64);
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("usb-watch".into())
            .spawn(move || {
                let send = |ev: UsbEvent| -> bool {
                    let mut ev = ev;
                    loop {
                        match tx.send_timeout(ev, WAKE_INTERVAL) {
                            Ok(()) => return true,
                            Err(SendTimeoutError::Disconnected(_)) => return false,
                            Err(SendTimeoutError::Timeout(back)) => {
                                if stop2.load(Ordering::SeqCst) {
                                    return false;
                                }
                                ev = back;
                            }
                        }
                    }
                };
                let mut known = Vec::new();
                let mut pending = Some(initial);
                let mut last_scan = Instant::now();
                let mut warned = false;
                while !stop2.load(Ordering::SeqCst) {
                    let now = match pending.take() {
                        Some(list) => Some(list),
                        None => {
                            match &hotplug_ctx {
                                Some((ctx, _registration)) => {
                                    if let Err(e) = ctx.handle_events(Some(WAKE_INTERVAL)) {
                                        log::debug!("usb watcher: handle_events: {e}");
                                        std::thread::sleep(WAKE_INTERVAL);
                                    }
                                }
                                None => std::thread::sleep(WAKE_INTERVAL),
                            }
                            let woken = dirty.swap(false, Ordering::SeqCst);
                            if woken || last_scan.elapsed() >= POLL_INTERVAL {
                                last_scan = Instant::now();
                                match scan(&known) {
                                    Ok(l) => {
                                        warned = false;
                                        Some(l)
                                    }
                                    Err(e) => {
                                        if !warned {
                                            log::warn!("usb watcher: {e}");
                                            warned = true;
                                        }
                                        None
                                    }
                                }
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(now) = now {
                        for ev in diff_devices(&known, &now) {
                            log::debug!("usb watcher: {ev:?}");
                            if !send(ev) {
                                return;
                            }
                        }
                        known = now;
                    }
                }
            })
            .map_err(|e| {
                TransportError::new(ErrorKind::Other, format!("cannot start usb watcher: {e}"))
            })?;
        Ok(UsbWatcher {
            rx,
            stop,
            thread: Some(thread),
            hotplug,
        })
    }

    /// Whether libusb hotplug wakes this watcher early (it polls every second anyway).
    pub fn uses_hotplug(&self) -> bool {
        self.hotplug
    }

    /// The next event, or `None` after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<UsbEvent>, TransportError> {
        match self.rx.recv_timeout(timeout) {
            Ok(ev) => Ok(Some(ev)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(TransportError::new(
                ErrorKind::Other,
                "the usb watcher thread stopped",
            )),
        }
    }

    /// The event channel, for `select!` with other channels.
    pub fn events(&self) -> &Receiver<UsbEvent> {
        &self.rx
    }
}

impl Drop for UsbWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(address: u8, kind: EndpointKind, mps: u16) -> EndpointSummary {
        EndpointSummary {
            address,
            kind,
            max_packet_size: mps,
        }
    }

    fn iface(
        cfg: u8,
        number: u8,
        triple: (u8, u8, u8),
        eps: Vec<EndpointSummary>,
    ) -> InterfaceSummary {
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
        let f =
            |active| find_interface(&ifaces, InterfaceClass::Ptp, active).map(|i| i.config_value);
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
}
