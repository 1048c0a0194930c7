//! A Sony body driven over a [`Link`](link::Link) (USB or PTP/IP): the session driver
//! that runs the transaction engine ([`session`]), the links ([`link`]), Sony's PC
//! Remote connect handshake and live-view polling ([`sony`]), and camera control
//! between live-view polls ([`control`], with the named settings of [`settings`]).
//!
//! This layer never renders, decodes or writes files; it hands raw live-view objects
//! to the caller. It must not be used by `crate::emulator`
//! (docs/protocol/emulator.md#independence-rule).

pub mod control;
pub mod link;
pub mod pacing;
pub mod session;
pub mod settings;
pub mod sony;
pub mod usb_mode;

#[cfg(test)]
mod tests;

pub use session::{read_device_info, DataPhase, PtpSession, Session};
pub use sony::{Camera, ConnectOptions, SonyCamera};

use crate::ptp::{OpCode, ParseError, ResponseCode};
use crate::transport::{ErrorKind, TransportError};

/// Why talking to the camera failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// The camera answered, but not OK.
    #[error("the camera refused {op:?}: {code}")]
    Refused {
        /// The operation it refused.
        op: OpCode,
        /// The response code it gave.
        code: ResponseCode,
    },
    /// The camera broke the protocol (wrong ids, bad lengths, garbage).
    #[error("protocol error during {op:?}: {detail}")]
    Protocol {
        /// The operation under way.
        op: OpCode,
        /// What was wrong.
        detail: String,
    },
    /// A dataset from the camera did not parse.
    #[error("bad data from the camera: {0}")]
    Parse(ParseError),
    /// The link failed (disconnect, timeout, stall).
    #[error(transparent)]
    Transport(TransportError),
    /// The camera is reachable but can't do what was asked; the text says what to do.
    #[error("{0}")]
    Unsupported(String),
    /// The camera refused the connection at PTP/IP level (Init Fail): it only talks to
    /// computers registered with it.
    #[error(
        "this camera is not paired with this computer (it refused the connection, reason \
         {reason}): run `alpha-bridge pair` once with the camera in mass storage mode"
    )]
    NotPaired {
        /// The Init Fail reason the camera gave.
        reason: u32,
    },
    /// Live view stopped producing frames.
    #[error("no live-view frame for {0:?}: the camera stopped sending live view")]
    Stalled(std::time::Duration),
}

// By hand, not `#[from]`: the message already carries the parse error's text, and a
// `source()` too would print it twice in a report of the chain.
impl From<ParseError> for CameraError {
    fn from(e: ParseError) -> Self {
        CameraError::Parse(e)
    }
}

impl CameraError {
    /// The transport error kind, if this is a transport error.
    pub fn transport_kind(&self) -> Option<ErrorKind> {
        match self {
            CameraError::Transport(t) => Some(t.kind),
            _ => None,
        }
    }

    /// Whether retrying later (after a reconnect) could help.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            CameraError::Unsupported(_) | CameraError::NotPaired { .. }
        ) && !matches!(
            self.transport_kind(),
            Some(ErrorKind::PermissionDenied | ErrorKind::Busy)
        )
    }
}
