//! USB class requests (bRequest values) of the two interfaces a Sony body offers: the
//! Still Image class (USB Still Image Capture Device Definition §5.2) and Bulk-Only mass
//! storage (BOT 1.0 §3.1, §3.2). The one place these numbers are written: the host's
//! links, the pairing code, the emulated gadget and the in-process pipe all use these
//! names. wIndex is always the claimed interface number, which the transport fills in.

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
