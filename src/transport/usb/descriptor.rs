//! Pure decisions over descriptor summaries (docs/protocol/sony-usb.md#usb-modes,
//! docs/protocol/ptp-usb.md#interface-and-endpoints): the USB
//! mode a device is in, which interface and endpoints to use, when a write needs a
//! zero-length packet. No rusb here: testable on a machine without USB.

use crate::transport::{ErrorKind, TransportError};
use std::fmt;

const USB_CLASS_HID: u8 = 0x03;
const USB_CLASS_VIDEO: u8 = 0x0E;

/// What a Sony device offers, judged from the interfaces of all its configurations
/// (docs/protocol/sony-usb.md#usb-modes). PC Remote and MTP both show as [`UsbMode::Ptp`]; only DeviceInfo's
/// VendorExtensionID tells them apart, which is above this layer.
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

    pub(super) fn name(self) -> &'static str {
        match self {
            InterfaceClass::Ptp => "PTP (06/01/01)",
            InterfaceClass::MassStorage => "mass storage (08/06/50)",
        }
    }
}

/// Transfer type of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// Control endpoint.
    Control,
    /// Isochronous endpoint.
    Isochronous,
    /// Bulk endpoint.
    Bulk,
    /// Interrupt endpoint.
    Interrupt,
}

/// One endpoint descriptor, reduced to what the transport needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSummary {
    /// bEndpointAddress (bit 7 set = IN).
    pub address: u8,
    /// Transfer type.
    pub kind: EndpointKind,
    /// wMaxPacketSize as in the descriptor (bits 11..12 may carry a multiplier).
    pub max_packet_size: u16,
}

impl EndpointSummary {
    /// Whether the endpoint is IN (device to host).
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
    /// Interface class.
    pub class: u8,
    /// Interface subclass.
    pub subclass: u8,
    /// Interface protocol.
    pub protocol: u8,
    /// Its endpoints.
    pub endpoints: Vec<EndpointSummary>,
}

impl InterfaceSummary {
    /// Class, subclass and protocol.
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
pub(super) fn interfaces_of(interfaces: &[InterfaceSummary], config_value: u8) -> Vec<u8> {
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
    /// Bulk IN endpoint address.
    pub bulk_in: u8,
    /// Bulk OUT endpoint address.
    pub bulk_out: u8,
    /// Interrupt IN (PTP events); mass storage has none.
    pub interrupt_in: Option<u8>,
    /// wMaxPacketSize of bulk IN: reads are sized in multiples of it.
    pub in_packet_size: u16,
    /// wMaxPacketSize of bulk OUT: a write of a multiple of it gets a zero-length packet.
    pub out_packet_size: u16,
    /// Largest packet of the interrupt endpoint, if there is one.
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
/// sees where the transfer ends (docs/protocol/ptp-usb.md#short-packets-and-the-zlp-rule). An empty write is itself the ZLP.
pub fn needs_zlp(len: usize, packet_size: u16) -> bool {
    packet_size != 0 && len != 0 && len.is_multiple_of(usize::from(packet_size))
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
