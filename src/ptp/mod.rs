//! Sans-IO PTP (ISO 15740) as Sony bodies speak it: wire codes, USB containers, PTP/IP
//! packets, datasets, transaction ids and the transaction engine ([`engine`]) that both
//! links run. No USB, sockets, files, threads or clocks in here; callers own the I/O
//! (docs/protocol/ptp-usb.md, docs/protocol/sony-usb.md,
//! docs/protocol/ptpip.md).

pub mod codec;
pub mod codes;
pub mod container;
pub mod dataset;
pub mod engine;
pub mod props;
pub mod ptpip;
pub mod sony;

pub use codes::{DataType, EventCode, ObjectFormat, OpCode, PropCode, ResponseCode};

/// Why bytes from a device could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than a field needs.
    #[error("{what}.{field}: need {need} bytes at offset {offset}, have {have}")]
    Truncated {
        /// What was being parsed.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes the field needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// A value that is not allowed.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was being parsed.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A declared length above the limit.
    #[error("{what}: declared length {declared} exceeds the limit of {max} bytes")]
    TooLarge {
        /// What was being parsed.
        what: &'static str,
        /// The length declared.
        declared: u64,
        /// The limit.
        max: u64,
    },
}

/// Transaction ids: OpenSession uses 0, then 1, 2, 3…; 0xFFFFFFFF is reserved for
/// events, so the sequence wraps back to 1
/// (docs/protocol/ptp-usb.md#transaction-ids-and-sessions).
#[derive(Debug, Clone, Copy, Default)]
pub struct TransactionIds {
    next: u32,
}

impl TransactionIds {
    /// Ids from 0 (OpenSession's), then 1 upwards, never 0 or 0xFFFFFFFF again.
    pub fn new() -> Self {
        TransactionIds { next: 0 }
    }

    /// The id for the next transaction.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next;
        self.next = match self.next.wrapping_add(1) {
            0xFFFF_FFFF | 0 => 1,
            n => n,
        };
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_start_at_zero_and_skip_the_event_id() {
        let mut t = TransactionIds::new();
        assert_eq!((t.next_id(), t.next_id(), t.next_id()), (0, 1, 2));
        let mut t = TransactionIds { next: 0xFFFF_FFFE };
        assert_eq!((t.next_id(), t.next_id()), (0xFFFF_FFFE, 1));
    }
}
