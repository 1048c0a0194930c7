//! USB Mass Storage Bulk-Only Transport wrappers, sans-IO: the 31-byte Command Block
//! Wrapper and the 13-byte Command Status Wrapper (USB MSC BOT 1.0 §5;
//! docs/protocol/pairing.md#command-block-wrapper and the section after it).
//!
//! Encoding and checking only: no transfers, no retries, no clocks. The host checks
//! every CSW it receives against the CBW it sent (signature, length, tag, status,
//! residue), because a camera in the wrong state or a broken device can send anything.

/// `dCBWSignature`, "USBC".
pub const CBW_SIGNATURE: [u8; 4] = *b"USBC";
/// `dCSWSignature`, "USBS".
pub const CSW_SIGNATURE: [u8; 4] = *b"USBS";
/// Size of a command block wrapper.
pub const CBW_LEN: usize = 31;
/// Size of a command status wrapper.
pub const CSW_LEN: usize = 13;
/// Largest command block a CBW can carry.
pub const MAX_CDB_LEN: usize = 16;
/// Largest LUN BOT can address (4 bits).
pub const MAX_LUN: u8 = 15;

/// Why a wrapper is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BotError {
    /// A wrapper of the wrong size.
    #[error("{what} is {got} bytes, expected {expected}")]
    Length {
        /// Which wrapper.
        what: &'static str,
        /// Its size.
        got: usize,
        /// The size it must have.
        expected: usize,
    },
    /// A wrapper with the wrong signature.
    #[error("{what} has signature {got:02x?}, expected {expected:02x?}")]
    Signature {
        /// Which wrapper.
        what: &'static str,
        /// Its signature.
        got: [u8; 4],
        /// The signature it must have.
        expected: [u8; 4],
    },
    /// The status wrapper answers another command.
    #[error("status wrapper tag {got} does not match command tag {expected}")]
    TagMismatch {
        /// The command's tag.
        expected: u32,
        /// The status wrapper's tag.
        got: u32,
    },
    /// The device reports leaving more untransferred than was asked.
    #[error("status wrapper residue {residue} exceeds the {requested} bytes of the command")]
    Residue {
        /// Bytes the device says it did not transfer.
        residue: u32,
        /// Bytes the command asked for.
        requested: u32,
    },
    /// The status byte is not one the standard defines.
    #[error("status wrapper has reserved status {0:#04x}")]
    ReservedStatus(u8),
    /// The command block wrapper has reserved flag bits set.
    #[error("command block wrapper has reserved flag bits set ({0:#04x})")]
    ReservedFlags(u8),
    /// The logical unit number is above 15.
    #[error("command block wrapper LUN {0} is out of range")]
    Lun(u8),
    /// The command block is not 1 to 16 bytes.
    #[error("command block length {0} is not 1 to 16")]
    CdbLength(usize),
}

/// Data phase direction (bit 7 of `bmCBWFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host to device (also used when there is no data phase).
    Out,
    /// Device to host.
    In,
}

/// A Command Block Wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cbw {
    /// Tag the status wrapper must echo.
    pub tag: u32,
    /// Bytes the data phase carries.
    pub data_transfer_length: u32,
    /// Direction of the data phase.
    pub direction: Direction,
    /// Logical unit number.
    pub lun: u8,
    cdb: [u8; MAX_CDB_LEN],
    cdb_len: u8,
}

impl Cbw {
    /// A command block wrapper for `cdb`.
    pub fn new(
        tag: u32,
        data_transfer_length: u32,
        direction: Direction,
        lun: u8,
        cdb: &[u8],
    ) -> Result<Cbw, BotError> {
        if cdb.is_empty() || cdb.len() > MAX_CDB_LEN {
            return Err(BotError::CdbLength(cdb.len()));
        }
        if lun > MAX_LUN {
            return Err(BotError::Lun(lun));
        }
        let mut c = [0u8; MAX_CDB_LEN];
        c[..cdb.len()].copy_from_slice(cdb);
        Ok(Cbw {
            tag,
            data_transfer_length,
            direction,
            lun,
            cdb: c,
            cdb_len: cdb.len() as u8,
        })
    }

    /// The command block (`bCBWCBLength` bytes).
    pub fn cdb(&self) -> &[u8] {
        &self.cdb[..self.cdb_len as usize]
    }

    /// The 31 bytes on the wire.
    pub fn encode(&self) -> [u8; CBW_LEN] {
        let mut b = [0u8; CBW_LEN];
        b[0..4].copy_from_slice(&CBW_SIGNATURE);
        b[4..8].copy_from_slice(&self.tag.to_le_bytes());
        b[8..12].copy_from_slice(&self.data_transfer_length.to_le_bytes());
        b[12] = match self.direction {
            Direction::Out => 0x00,
            Direction::In => 0x80,
        };
        b[13] = self.lun;
        b[14] = self.cdb_len;
        b[15..31].copy_from_slice(&self.cdb);
        b
    }

    /// Decodes and checks that a CBW is valid and meaningful (BOT §6.2): exact length,
    /// signature, no reserved bits, CB length 1..=16.
    pub fn decode(bytes: &[u8]) -> Result<Cbw, BotError> {
        if bytes.len() != CBW_LEN {
            return Err(BotError::Length {
                what: "command block wrapper",
                got: bytes.len(),
                expected: CBW_LEN,
            });
        }
        let sig = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if sig != CBW_SIGNATURE {
            return Err(BotError::Signature {
                what: "command block wrapper",
                got: sig,
                expected: CBW_SIGNATURE,
            });
        }
        let flags = bytes[12];
        if flags & 0x7F != 0 {
            return Err(BotError::ReservedFlags(flags));
        }
        if bytes[13] & 0xF0 != 0 {
            return Err(BotError::Lun(bytes[13]));
        }
        let cdb_len = bytes[14];
        if cdb_len & 0xE0 != 0 || cdb_len == 0 || cdb_len as usize > MAX_CDB_LEN {
            return Err(BotError::CdbLength(cdb_len as usize));
        }
        let mut cdb = [0u8; MAX_CDB_LEN];
        cdb.copy_from_slice(&bytes[15..31]);
        Ok(Cbw {
            tag: le32(&bytes[4..8]),
            data_transfer_length: le32(&bytes[8..12]),
            direction: if flags & 0x80 != 0 {
                Direction::In
            } else {
                Direction::Out
            },
            lun: bytes[13],
            cdb,
            cdb_len,
        })
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// `bCSWStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CswStatus {
    /// 0: the command succeeded.
    Passed,
    /// 1: the command failed; REQUEST SENSE says why.
    Failed,
    /// 2: the device lost track of the phases; the host must do a reset recovery.
    PhaseError,
}

impl CswStatus {
    /// The status byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            CswStatus::Passed => 0,
            CswStatus::Failed => 1,
            CswStatus::PhaseError => 2,
        }
    }
}

/// A Command Status Wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csw {
    /// Tag of the command this status answers.
    pub tag: u32,
    /// Bytes of the data phase the device did not transfer.
    pub residue: u32,
    /// How the command ended.
    pub status: CswStatus,
}

impl Csw {
    /// The 13 bytes on the wire.
    pub fn encode(&self) -> [u8; CSW_LEN] {
        let mut b = [0u8; CSW_LEN];
        b[0..4].copy_from_slice(&CSW_SIGNATURE);
        b[4..8].copy_from_slice(&self.tag.to_le_bytes());
        b[8..12].copy_from_slice(&self.residue.to_le_bytes());
        b[12] = self.status.code();
        b
    }

    /// Decodes a CSW on its own (length, signature, status); see [`Csw::check`].
    pub fn decode(bytes: &[u8]) -> Result<Csw, BotError> {
        if bytes.len() != CSW_LEN {
            return Err(BotError::Length {
                what: "command status wrapper",
                got: bytes.len(),
                expected: CSW_LEN,
            });
        }
        let sig = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if sig != CSW_SIGNATURE {
            return Err(BotError::Signature {
                what: "command status wrapper",
                got: sig,
                expected: CSW_SIGNATURE,
            });
        }
        let status = match bytes[12] {
            0 => CswStatus::Passed,
            1 => CswStatus::Failed,
            2 => CswStatus::PhaseError,
            s => return Err(BotError::ReservedStatus(s)),
        };
        Ok(Csw {
            tag: le32(&bytes[4..8]),
            residue: le32(&bytes[8..12]),
            status,
        })
    }

    /// Decodes a CSW and checks it answers `cbw` (BOT §6.3: valid and meaningful).
    pub fn decode_for(bytes: &[u8], cbw: &Cbw) -> Result<Csw, BotError> {
        let csw = Csw::decode(bytes)?;
        csw.check(cbw)?;
        Ok(csw)
    }

    /// The tag must echo the CBW's; the residue cannot exceed what was asked for.
    pub fn check(&self, cbw: &Cbw) -> Result<(), BotError> {
        if self.tag != cbw.tag {
            return Err(BotError::TagMismatch {
                expected: cbw.tag,
                got: self.tag,
            });
        }
        if self.residue > cbw.data_transfer_length {
            return Err(BotError::Residue {
                residue: self.residue,
                requested: cbw.data_transfer_length,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|t| u8::from_str_radix(t, 16).unwrap())
            .collect()
    }

    /// The whole CBW for tag 1, LUN 0 (docs/protocol/pairing.md#command-block-wrapper).
    const PAIRING_CBW: &str = "55 53 42 43 01 00 00 00 00 20 00 00 00 00 09 7A 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

    #[test]
    fn pairing_cbw_matches_the_document() {
        let cbw = Cbw::new(
            1,
            0x2000,
            Direction::Out,
            0,
            &[0x7A, 0x04, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
        assert_eq!(cbw.encode().to_vec(), hex(PAIRING_CBW));
        let back = Cbw::decode(&hex(PAIRING_CBW)).unwrap();
        assert_eq!(back, cbw);
        assert_eq!(back.cdb(), &[0x7A, 4, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn request_sense_cbw() {
        // docs/protocol/pairing.md#sense-and-retries: CDB 03 00 00 00 12 00, data-in 18
        // bytes.
        let cbw = Cbw::new(2, 18, Direction::In, 0, &[3, 0, 0, 0, 0x12, 0]).unwrap();
        let b = cbw.encode();
        assert_eq!(&b[4..15], &[2, 0, 0, 0, 18, 0, 0, 0, 0x80, 0, 6]);
        assert_eq!(Cbw::decode(&b).unwrap(), cbw);
    }

    #[test]
    fn invalid_cbws() {
        let good = hex(PAIRING_CBW);
        assert!(matches!(
            Cbw::decode(&good[..30]),
            Err(BotError::Length { got: 30, .. })
        ));
        let mut b = good.clone();
        b[3] = b'S';
        assert!(matches!(Cbw::decode(&b), Err(BotError::Signature { .. })));
        let mut b = good.clone();
        b[12] = 0x01;
        assert_eq!(Cbw::decode(&b), Err(BotError::ReservedFlags(1)));
        let mut b = good.clone();
        b[13] = 0x10;
        assert_eq!(Cbw::decode(&b), Err(BotError::Lun(0x10)));
        for len in [0u8, 17, 0x29] {
            let mut b = good.clone();
            b[14] = len;
            assert!(matches!(Cbw::decode(&b), Err(BotError::CdbLength(_))));
        }
        assert!(Cbw::new(1, 0, Direction::Out, 0, &[]).is_err());
        assert!(Cbw::new(1, 0, Direction::Out, 16, &[0]).is_err());
    }

    #[test]
    fn csw_round_trip_and_checks() {
        // docs/protocol/pairing.md#command-status-wrapper: USBS, tag, residue, status.
        let bytes = hex("55 53 42 53 01 00 00 00 00 00 00 00 00");
        let cbw = Cbw::decode(&hex(PAIRING_CBW)).unwrap();
        let csw = Csw::decode_for(&bytes, &cbw).unwrap();
        assert_eq!(
            csw,
            Csw {
                tag: 1,
                residue: 0,
                status: CswStatus::Passed
            }
        );
        assert_eq!(csw.encode().to_vec(), bytes);

        let mut b = bytes.clone();
        b[4] = 2;
        assert_eq!(
            Csw::decode_for(&b, &cbw),
            Err(BotError::TagMismatch {
                expected: 1,
                got: 2
            })
        );
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(matches!(
            Csw::decode_for(&b, &cbw),
            Err(BotError::Signature { .. })
        ));
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&0x2001u32.to_le_bytes());
        assert_eq!(
            Csw::decode_for(&b, &cbw),
            Err(BotError::Residue {
                residue: 0x2001,
                requested: 0x2000
            })
        );
        let mut b = bytes.clone();
        b[12] = 3;
        assert_eq!(Csw::decode(&b), Err(BotError::ReservedStatus(3)));
        assert!(matches!(
            Csw::decode(&bytes[..12]),
            Err(BotError::Length { got: 12, .. })
        ));
        for (code, st) in [(1u8, CswStatus::Failed), (2, CswStatus::PhaseError)] {
            let mut b = bytes.clone();
            b[12] = code;
            assert_eq!(Csw::decode(&b).unwrap().status, st);
        }
    }

    proptest::proptest! {
        #[test]
        fn cbw_round_trips(
            tag: u32,
            len: u32,
            din: bool,
            lun in 0u8..=15,
            cdb in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..=16),
        ) {
            let dir = if din { Direction::In } else { Direction::Out };
            let c = Cbw::new(tag, len, dir, lun, &cdb).unwrap();
            let back = Cbw::decode(&c.encode()).unwrap();
            proptest::prop_assert_eq!(back, c);
            proptest::prop_assert_eq!(back.cdb(), &cdb[..]);
        }

        #[test]
        fn csw_round_trips(tag: u32, residue: u32, st in 0u8..3) {
            let status = [CswStatus::Passed, CswStatus::Failed, CswStatus::PhaseError][st as usize];
            let c = Csw { tag, residue, status };
            proptest::prop_assert_eq!(Csw::decode(&c.encode()).unwrap(), c);
        }

        #[test]
        fn random_bytes_never_panic(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let _ = Cbw::decode(&b);
            if let Ok(c) = Csw::decode(&b) {
                let cbw = Cbw::new(1, 0, Direction::Out, 0, &[0]).unwrap();
                let _ = c.check(&cbw);
            }
            let _ = crate::pair::scsi::Sense::parse(&b);
            let _ = crate::pair::scsi::Inquiry::parse(&b);
        }
    }
}
