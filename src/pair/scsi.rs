//! SCSI command blocks and replies the pairing needs, and Sony's pairing block, sans-IO:
//! TEST UNIT READY, INQUIRY, REQUEST SENSE (SPC fixed-format sense), and the vendor
//! command `0x7A` carrying ExtCmd plugin 4 / sub-command 8 "ForceRegistHostNetInfo"
//! with its 8192-byte block (docs/protocol/pairing.md#the-0x7a-command).
//!
//! No I/O here. The block layout is byte-exact to
//! docs/protocol/pairing.md#registration-block; fields marked UNCONFIRMED there are left
//! zero exactly as sony-guid-setter sends them.

use crate::config::GUID_LEN;

/// Sony's vendor opcode for ExtCmd over Mass Storage.
pub const OP_SONY_EXT_CMD: u8 = 0x7A;
/// TEST UNIT READY.
pub const OP_TEST_UNIT_READY: u8 = 0x00;
/// REQUEST SENSE.
pub const OP_REQUEST_SENSE: u8 = 0x03;
/// INQUIRY.
pub const OP_INQUIRY: u8 = 0x12;

/// ExtCmd plugin 4, ExtBackupCommunicator.
pub const PLUGIN_BACKUP_COMMUNICATOR: u32 = 4;
/// Sub-command 8 of plugin 4, ForceRegistHostNetInfo: the pairing write.
pub const CMD_FORCE_REGIST_HOST_NET_INFO: u16 = 8;

/// Size of the ExtCmd data block.
pub const EXT_BLOCK_LEN: usize = 0x2000;
/// ExtCmd header: u32 dataSize, u16 command, u16 direction, 8 reserved bytes.
pub const EXT_HEADER_LEN: usize = 16;
/// `dataSize` of the registration payload (docs/protocol/pairing.md#registration-block).
pub const REGIST_PAYLOAD_LEN: usize = 0x125;
/// Absolute offsets inside the block (docs/protocol/pairing.md#registration-block).
pub const OFF_HOST_NAME: usize = 17;
/// Bytes of the host name field.
pub const HOST_NAME_FIELD_LEN: usize = 16;
/// Offset of the identifier length field.
pub const OFF_ID_LEN: usize = 177;
/// Offset of the GUID.
pub const OFF_GUID: usize = 181;
/// UTF-16 units of host name that fit the 16 bytes sony-guid-setter used, with a NUL.
pub const MAX_HOST_NAME_UNITS: usize = HOST_NAME_FIELD_LEN / 2 - 1;

/// Bytes of standard INQUIRY data we ask for.
pub const INQUIRY_LEN: u8 = 36;
/// Bytes of fixed-format sense data we ask for.
pub const SENSE_LEN: u8 = 18;

/// `0x7A` with the plugin id, 9 bytes as sony-guid-setter sends it
/// (docs/protocol/pairing.md#the-0x7a-command).
pub fn ext_cmd_cdb(plugin: u32) -> [u8; 9] {
    let p = plugin.to_le_bytes();
    [OP_SONY_EXT_CMD, p[0], p[1], p[2], p[3], 0, 0, 0, 0]
}

/// The TEST UNIT READY command block.
pub fn test_unit_ready_cdb() -> [u8; 6] {
    [OP_TEST_UNIT_READY, 0, 0, 0, 0, 0]
}

/// The REQUEST SENSE command block (18 bytes of sense data).
pub fn request_sense_cdb() -> [u8; 6] {
    [OP_REQUEST_SENSE, 0, 0, 0, SENSE_LEN, 0]
}

/// The INQUIRY command block (36 bytes of standard data).
pub fn inquiry_cdb() -> [u8; 6] {
    [OP_INQUIRY, 0, 0, 0, INQUIRY_LEN, 0]
}

/// The host name as it goes into the block: at most 7 UTF-16 units (no surrogate pair
/// split), control characters dropped; `linux` if nothing is left.
pub fn block_host_name(name: &str) -> String {
    let mut out = String::new();
    let mut units = 0;
    for c in name.chars().filter(|c| !c.is_control()) {
        let n = c.len_utf16();
        if units + n > MAX_HOST_NAME_UNITS {
            break;
        }
        units += n;
        out.push(c);
    }
    if out.is_empty() {
        out.push_str("linux");
    }
    out
}

/// The 8192-byte ForceRegistHostNetInfo block
/// (docs/protocol/pairing.md#registration-block): header, one unknown zero byte, the
/// UTF-16LE host name (see [`block_host_name`]), zeros, the id length 16, the 16 GUID bytes
/// in wire order, zero padding.
pub fn regist_host_block(host_name: &str, guid: &[u8; GUID_LEN]) -> Vec<u8> {
    let mut b = vec![0u8; EXT_BLOCK_LEN];
    b[0..4].copy_from_slice(&(REGIST_PAYLOAD_LEN as u32).to_le_bytes());
    b[4..6].copy_from_slice(&CMD_FORCE_REGIST_HOST_NET_INFO.to_le_bytes());
    // direction (u16 at 6) and reserved (8..16) stay zero for a request.
    let name = block_host_name(host_name);
    for (i, u) in name.encode_utf16().enumerate() {
        let o = OFF_HOST_NAME + 2 * i;
        b[o..o + 2].copy_from_slice(&u.to_le_bytes());
    }
    b[OFF_ID_LEN..OFF_ID_LEN + 4].copy_from_slice(&(GUID_LEN as u32).to_le_bytes());
    b[OFF_GUID..OFF_GUID + GUID_LEN].copy_from_slice(guid);
    b
}

/// SCSI sense keys we act on.
pub const SENSE_NOT_READY: u8 = 0x2;
/// Sense key ILLEGAL REQUEST.
pub const SENSE_ILLEGAL_REQUEST: u8 = 0x5;
/// Sense key UNIT ATTENTION.
pub const SENSE_UNIT_ATTENTION: u8 = 0x6;
/// Sony uses the vendor-specific key with ASC/ASCQ 0x81/0x81 for "busy, try again"
/// (Sony-PMCA-RE, docs/protocol/pairing.md#sense-and-retries).
pub const SENSE_VENDOR_SPECIFIC: u8 = 0x9;

/// The parts of fixed-format sense data that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
}

impl Sense {
    /// Parses fixed-format sense (response code 0x70/0x71); `None` if it is not that.
    pub fn parse(data: &[u8]) -> Option<Sense> {
        if data.len() < 14 || !matches!(data[0] & 0x7F, 0x70 | 0x71) {
            return None;
        }
        Some(Sense {
            key: data[2] & 0x0F,
            asc: data[12],
            ascq: data[13],
        })
    }

    /// 18 bytes of fixed-format current sense.
    pub fn encode(&self) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[0] = 0x70;
        b[2] = self.key & 0x0F;
        b[7] = 10;
        b[12] = self.asc;
        b[13] = self.ascq;
        b
    }

    /// Worth retrying after a pause: Sony's busy, "becoming ready", unit attention.
    pub fn is_transient(&self) -> bool {
        matches!(
            (self.key, self.asc, self.ascq),
            (SENSE_VENDOR_SPECIFIC, 0x81, 0x81)
                | (SENSE_NOT_READY, 0x04, 0x01)
                | (SENSE_UNIT_ATTENTION, _, _)
        )
    }

    /// Plain words for an error message.
    pub fn describe(&self) -> String {
        let what = match (self.key, self.asc, self.ascq) {
            (0, _, _) => "no sense data",
            (SENSE_VENDOR_SPECIFIC, 0x81, 0x81) => "the camera is busy",
            (SENSE_NOT_READY, 0x04, 0x01) => "the camera is becoming ready",
            (SENSE_NOT_READY, 0x3A, _) => "no memory card",
            (SENSE_NOT_READY, _, _) => "the camera is not ready",
            (SENSE_ILLEGAL_REQUEST, 0x20, _) => "the camera does not know this command",
            (SENSE_ILLEGAL_REQUEST, 0x24, _) => "the camera rejected a field of the command",
            (SENSE_ILLEGAL_REQUEST, 0x26, _) => "the camera rejected the pairing data",
            (SENSE_ILLEGAL_REQUEST, _, _) => "the camera refused the command",
            (SENSE_UNIT_ATTENTION, _, _) => "the camera was reset or its card changed",
            _ => "the camera reported an error",
        };
        format!(
            "{what} (sense key {:#x}, ASC {:#04x}, ASCQ {:#04x})",
            self.key, self.asc, self.ascq
        )
    }
}

/// Vendor and product from standard INQUIRY data (trimmed ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    /// Vendor identification, trimmed.
    pub vendor: String,
    /// Product identification, trimmed.
    pub product: String,
    /// Product revision, trimmed.
    pub revision: String,
}

impl Inquiry {
    /// Reads standard INQUIRY data; `None` when it is too short.
    pub fn parse(data: &[u8]) -> Option<Inquiry> {
        if data.len() < 32 {
            return None;
        }
        let text = |r: std::ops::Range<usize>| {
            data[r]
                .iter()
                .map(|&c| {
                    if (0x20..0x7F).contains(&c) {
                        c as char
                    } else {
                        '?'
                    }
                })
                .collect::<String>()
                .trim()
                .to_string()
        };
        Some(Inquiry {
            vendor: text(8..16),
            product: text(16..32),
            revision: if data.len() >= 36 {
                text(32..36)
            } else {
                String::new()
            },
        })
    }

    /// Whether the vendor is Sony.
    pub fn is_sony(&self) -> bool {
        self.vendor.eq_ignore_ascii_case("sony")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGS_GUID: [u8; 16] = [
        0xFF, 0xFF, 0x52, 0x54, 0x00, 0xB6, 0xFD, 0xA9, 0xFF, 0xFF, 0x52, 0x3C, 0x28, 0x07, 0xA9,
        0x3A,
    ];

    #[test]
    fn cdb_matches_the_document() {
        assert_eq!(ext_cmd_cdb(4), [0x7A, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(request_sense_cdb(), [3, 0, 0, 0, 0x12, 0]);
    }

    /// docs/protocol/pairing.md#registration-block: the sony-guid-setter block, field by
    /// field.
    #[test]
    fn block_matches_sony_guid_setter() {
        let b = regist_host_block("linux", &SGS_GUID);
        assert_eq!(b.len(), 8192);
        assert_eq!(&b[0..4], &[0x25, 0x01, 0, 0]);
        assert_eq!(&b[4..6], &[0x08, 0x00]);
        assert_eq!(&b[6..16], &[0u8; 10]);
        assert_eq!(b[16], 0);
        assert_eq!(
            &b[17..33],
            &[0x6C, 0, 0x69, 0, 0x6E, 0, 0x75, 0, 0x78, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(b[33..177].iter().all(|&x| x == 0));
        assert_eq!(&b[177..181], &[0x10, 0, 0, 0]);
        assert_eq!(
            &b[181..189],
            &[0xFF, 0xFF, 0x52, 0x54, 0x00, 0xB6, 0xFD, 0xA9]
        );
        assert_eq!(
            &b[189..197],
            &[0xFF, 0xFF, 0x52, 0x3C, 0x28, 0x07, 0xA9, 0x3A]
        );
        assert!(b[197..].iter().all(|&x| x == 0));
        // The payload ends where dataSize says.
        assert_eq!(EXT_HEADER_LEN + REGIST_PAYLOAD_LEN, 309);
    }

    #[test]
    fn host_names_fit_the_field() {
        assert_eq!(block_host_name("workstation"), "worksta");
        assert_eq!(block_host_name("\u{7}"), "linux");
        // A character outside the BMP takes two units and is never split.
        assert_eq!(block_host_name("abcdef😀"), "abcdef");
        assert_eq!(block_host_name("abcde😀"), "abcde😀");
        let b = regist_host_block("abcdefghijk", &[0; 16]);
        assert_eq!(&b[31..33], &[0, 0], "NUL terminator kept");
    }

    #[test]
    fn sense_parsing() {
        let busy = Sense {
            key: 9,
            asc: 0x81,
            ascq: 0x81,
        };
        let b = busy.encode();
        assert_eq!(Sense::parse(&b), Some(busy));
        assert!(busy.is_transient());
        assert!(!Sense {
            key: 5,
            asc: 0x24,
            ascq: 0
        }
        .is_transient());
        assert_eq!(Sense::parse(&b[..13]), None);
        assert_eq!(Sense::parse(&[0u8; 18]), None);
        assert!(busy.describe().starts_with("the camera is busy"));
    }

    #[test]
    fn inquiry_parsing() {
        let mut d = [0x20u8; 36];
        d[..8].copy_from_slice(&[0, 0x80, 0, 2, 31, 0, 0, 0]);
        d[8..12].copy_from_slice(b"Sony");
        d[16..19].copy_from_slice(b"DSC");
        d[32..36].copy_from_slice(b"1.00");
        let i = Inquiry::parse(&d).unwrap();
        assert_eq!(
            (i.vendor.as_str(), i.product.as_str(), i.revision.as_str()),
            ("Sony", "DSC", "1.00")
        );
        assert!(i.is_sony());
        assert_eq!(Inquiry::parse(&d[..20]), None);
    }
}
