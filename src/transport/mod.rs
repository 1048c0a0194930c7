//! Byte pipes that know nothing of PTP: USB bulk/interrupt endpoints (`usb`, the only
//! folder that names rusb), an in-process pair (`memory`), and TCP connections for
//! PTP/IP (`tcp`; the framing and handshake live in `camera::link::ptpip`).
//!
//! A [`Transport`] is the host side of a USB interface with bulk IN, bulk OUT and an
//! optional interrupt IN endpoint; a [`DevicePipe`] is the device side, used by the
//! emulator. Errors carry a [`ErrorKind`] so the CLI can give advice.

pub mod memory;
pub mod tcp;
pub mod usb;

use std::time::Duration;

/// What went wrong on a pipe, coarsely, so callers can decide and advise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The device went away (unplugged, powered off, gadget unbound).
    Disconnected,
    /// Another program or driver holds the device or interface.
    Busy,
    /// The OS refused access (missing udev rule).
    PermissionDenied,
    /// No such device.
    NotFound,
    /// Nothing arrived in time.
    Timeout,
    /// The endpoint stalled (halt condition).
    Stall,
    /// The device sent more than the buffer could hold.
    Overflow,
    /// The operation is not available on this pipe (e.g. no interrupt endpoint).
    Unsupported,
    /// Anything else.
    Other,
}

/// A transport failure with a human message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The details, for people.
    pub message: String,
}

impl TransportError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// The device went away.
    pub fn disconnected() -> Self {
        Self::new(ErrorKind::Disconnected, "the camera disconnected")
    }

    /// Nothing arrived in time; `what` names what was awaited.
    pub fn timeout(what: &str) -> Self {
        Self::new(ErrorKind::Timeout, format!("timed out waiting for {what}"))
    }
}

/// Which bulk endpoint a halt is cleared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    /// The bulk IN endpoint.
    BulkIn,
    /// The bulk OUT endpoint.
    BulkOut,
    /// The interrupt IN endpoint.
    InterruptIn,
}

/// The host side of a USB interface with bulk endpoints.
///
/// `write` is one OUT transfer (the implementation ends it with a zero-length packet
/// when its length is a multiple of the packet size); `read` is one IN transfer, which
/// ends early on a short or zero-length packet and returns the bytes received.
pub trait Transport: Send {
    /// Writes all of `data`, or fails.
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError>;
    /// Reads one transfer into `buf`; returns its length.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// One interrupt IN transfer (events). `Unsupported` when there is no such endpoint.
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Clears a halt (stall) on `pipe`.
    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError>;
    /// A class request to the interface, host to device (bmRequestType 0x21).
    fn class_out(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), TransportError>;
    /// A class request to the interface, device to host (bmRequestType 0xA1).
    fn class_in(
        &mut self,
        request: u8,
        value: u16,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;
    /// wMaxPacketSize of the bulk endpoints.
    fn max_packet_size(&self) -> usize;
}

/// The device side of a USB interface (the emulator's end of a pipe).
pub trait DevicePipe: Send {
    /// Blocks for the next OUT transfer; `Ok(0)` is a zero-length packet.
    /// `Disconnected` when the host went away; `Timeout` after `timeout`.
    fn read_out(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// One IN transfer (with a zero-length packet when the length is a multiple of the
    /// packet size).
    fn write_in(&mut self, data: &[u8]) -> Result<(), TransportError>;
    /// One interrupt IN transfer.
    fn write_event(&mut self, data: &[u8]) -> Result<(), TransportError>;
    /// Largest packet of the bulk IN pipe.
    fn max_packet_size(&self) -> usize;
}

/// Forwards every method to the pointee, for `Box<T>` and `&mut T`.
macro_rules! forward_transport {
    ($($ty:ty),*) => {$(
        impl<T: Transport + ?Sized> Transport for $ty {
            fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
                (**self).write(data, timeout)
            }
            fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
                (**self).read(buf, timeout)
            }
            fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
                (**self).read_event(buf, timeout)
            }
            fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
                (**self).clear_halt(pipe)
            }
            fn class_out(&mut self, request: u8, value: u16, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
                (**self).class_out(request, value, data, timeout)
            }
            fn class_in(&mut self, request: u8, value: u16, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
                (**self).class_in(request, value, buf, timeout)
            }
            fn max_packet_size(&self) -> usize {
                (**self).max_packet_size()
            }
        }
    )*};
}

forward_transport!(Box<T>, &mut T);
