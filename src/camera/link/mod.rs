//! Links: what carries the transaction engine ([`crate::ptp::engine`]) to a camera.
//!
//! A [`Link`] sends what the engine asks for and hands back, one at a time, the inputs
//! its framer decodes from what the camera sent. It keeps the quirks of its wire and
//! nothing else: [`usb::UsbLink`] the zero-length packets, halted endpoints and the
//! class-request cancel; [`ptpip::PtpIpLink`] the two TCP connections, the Init
//! handshake, probes and the event channel. Transaction rules live in the engine, so
//! both links apply the same ones.
//!
//! Events sent between transactions (the USB interrupt pipe, the PTP/IP event
//! connection) are fetched with [`Link::poll_event`], which never waits: the session
//! driver calls it between live-view polls and hands what it gets to the engine, the
//! same path as an event that arrives during a transaction
//! (docs/protocol/sony-usb.md#events).

pub mod ptpip;
pub mod usb;

use std::time::Duration;

use crate::ptp::container::Event;
use crate::ptp::engine::{Input, Transmit};
use crate::transport::TransportError;

pub use ptpip::PtpIpLink;
pub use usb::UsbLink;

/// Why a link could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The byte pipe under the link failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The camera's bytes are not valid framing; the link has to be reset.
    #[error("{0}")]
    Corrupt(String),
}

/// A wire to one camera, driven by [`crate::camera::session::Session`].
pub trait Link: Send {
    /// Sends `t`; `payload` is the data-out bytes of a [`Transmit::DataOut`].
    fn transmit(&mut self, t: &Transmit, payload: &[u8]) -> Result<(), LinkError>;
    /// Blocks (at most the link's timeout per read) for the next input.
    fn next_input(&mut self) -> Result<Input<'_>, LinkError>;
    /// Forgets whatever is buffered (after a failed transaction).
    fn reset(&mut self);
    /// How long one read or write may take.
    fn set_timeout(&mut self, timeout: Duration);
    /// One event the camera sent outside a transaction, without waiting (USB: one read
    /// of the interrupt pipe with the shortest timeout; PTP/IP: what the event
    /// connection holds). `Ok(None)` when there is none now, when the link has no event
    /// pipe, or when what arrived was not a valid event (logged and dropped). `Err` only
    /// when the camera is gone.
    fn poll_event(&mut self) -> Result<Option<Event>, LinkError> {
        Ok(None)
    }
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn transmit(&mut self, t: &Transmit, payload: &[u8]) -> Result<(), LinkError> {
        (**self).transmit(t, payload)
    }
    fn next_input(&mut self) -> Result<Input<'_>, LinkError> {
        (**self).next_input()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn set_timeout(&mut self, timeout: Duration) {
        (**self).set_timeout(timeout)
    }
    fn poll_event(&mut self) -> Result<Option<Event>, LinkError> {
        (**self).poll_event()
    }
}
