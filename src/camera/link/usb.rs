//! The USB link: the engine's containers over a [`Transport`] (docs/protocol/ptp-usb.md#transaction-phases).
//!
//! What only USB has, and stays here: a bulk IN read is one transfer, sized in whole
//! packets and ended by a short or zero-length packet (which also ends a data container
//! of unknown length); a leftover zero-length packet between containers is skipped (a
//! few in a row are tolerated, more mean a broken device); a halted endpoint is cleared
//! and the transfer retried once; a transaction is cancelled with the Still Image class
//! request (0x64) and Get Device Status (0x67) is polled while the camera is busy
//! finishing it.
//!
//! The receive buffer and the send buffer are reused between transactions, so polling
//! live view allocates nothing once they have grown to frame size.
//!
//! Events come on the interrupt pipe. [`Link::poll_event`] reads it once with the
//! shortest timeout the transport allows (libusb: 1 ms), so the caller decides when
//! that millisecond is spent (the live-view loop spends it while it waits anyway). An
//! interface without an interrupt endpoint (ILCE-5100) answers `Unsupported` once and is
//! not asked again: its host polls the properties instead.

use std::time::Duration;

use super::{Link, LinkError};
use crate::ptp::container::{self, Event};
use crate::ptp::engine::usb::{self as framer, UsbFramer};
use crate::ptp::engine::{Input, Transmit};
use crate::ptp::ResponseCode;
use crate::transport::usb::request;
use crate::transport::{ErrorKind, Pipe, Transport};

/// Bytes asked for per bulk IN read when the container length is not known yet.
const FIRST_READ: usize = 64 << 10;
/// At most this much per read: a long data container is read (and handed on) in pieces.
const MAX_READ: usize = 1 << 20;
/// Consecutive zero-length reads tolerated before the device is declared broken.
const MAX_ZERO_READS: u32 = 4;
/// Get Device Status polls while a cancel is being finished.
const CANCEL_POLLS: u32 = 20;
/// One interrupt transfer is read into this many bytes (an event container is 12 to 24).
const EVENT_READ: usize = 64;
/// Failed interrupt reads in a row (other than "nothing yet") before events are given up
/// on for this connection.
const MAX_EVENT_FAILURES: u32 = 3;

/// What is known about the interrupt pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventPipe {
    /// Not given up on: reads are tried.
    Open {
        /// Failed reads in a row.
        failures: u32,
        /// A halt was cleared since the last good read.
        halt_cleared: bool,
    },
    /// No interrupt endpoint, or it kept failing.
    Absent,
}

/// The engine over a USB [`Transport`].
pub struct UsbLink<T: Transport> {
    t: T,
    framer: UsbFramer,
    rx: Vec<u8>,
    /// `rx[pos..filled]` is received and not yet decoded.
    pos: usize,
    filled: usize,
    /// The last read ended its transfer (it came back short).
    last_short: bool,
    zero_reads: u32,
    tx: Vec<u8>,
    timeout: Duration,
    events: EventPipe,
}

impl<T: Transport> From<T> for UsbLink<T> {
    fn from(t: T) -> Self {
        UsbLink::new(t)
    }
}

impl<T: Transport> UsbLink<T> {
    /// Wraps a transport; the framer starts empty.
    pub fn new(t: T) -> UsbLink<T> {
        UsbLink {
            t,
            framer: UsbFramer::new(),
            rx: Vec::new(),
            pos: 0,
            filled: 0,
            last_short: false,
            zero_reads: 0,
            tx: Vec::with_capacity(64),
            timeout: Duration::from_secs(8),
            events: EventPipe::Open {
                failures: 0,
                halt_cleared: false,
            },
        }
    }

    /// The transport underneath, for class requests and recovery.
    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.t
    }

    /// Bytes received and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.filled - self.pos
    }

    /// Size of the receive buffer (it only grows to what reads needed).
    pub fn rx_capacity(&self) -> usize {
        self.rx.len()
    }

    fn write_with_retry(&mut self) -> Result<(), LinkError> {
        match self.t.write(&self.tx, self.timeout) {
            Err(e) if e.kind == ErrorKind::Stall => {
                log::warn!("bulk OUT stalled; clearing the halt and retrying once");
                self.t.clear_halt(Pipe::BulkOut)?;
                Ok(self.t.write(&self.tx, self.timeout)?)
            }
            r => Ok(r?),
        }
    }

    /// One bulk IN read into the buffer.
    fn fill(&mut self) -> Result<(), LinkError> {
        if self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
        }
        let mps = self.t.max_packet_size().max(1);
        let need = self.framer.needed(self.buffered());
        let want = need.clamp(FIRST_READ, MAX_READ).div_ceil(mps) * mps;
        if self.rx.len() < self.filled + want {
            if self.pos > 0 {
                self.rx.copy_within(self.pos..self.filled, 0);
                self.filled -= self.pos;
                self.pos = 0;
            }
            if self.rx.len() < self.filled + want {
                self.rx.resize(self.filled + want, 0);
            }
        }
        let mut stall_cleared = false;
        let n = loop {
            match self
                .t
                .read(&mut self.rx[self.filled..self.filled + want], self.timeout)
            {
                Err(e) if e.kind == ErrorKind::Stall && !stall_cleared && self.buffered() == 0 => {
                    log::warn!("bulk IN stalled; clearing the halt and retrying once");
                    self.t.clear_halt(Pipe::BulkIn)?;
                    stall_cleared = true;
                }
                r => break r?,
            }
        };
        if n == 0 {
            if self.framer.reads_to_end_of_transfer() {
                self.last_short = true;
                return Ok(());
            }
            self.zero_reads += 1;
            if self.zero_reads > MAX_ZERO_READS {
                return Err(LinkError::Corrupt(
                    "the camera keeps sending empty transfers".into(),
                ));
            }
            return Ok(());
        }
        self.zero_reads = 0;
        self.filled += n;
        self.last_short = n < want;
        log::trace!("usb: {n} bytes in");
        Ok(())
    }

    /// The class-request cancel: Cancel Request, then Get Device Status until the
    /// camera is no longer busy. Best effort: failures are logged.
    fn cancel(&mut self, tid: u32) {
        let req = container::cancel_request(tid);
        if let Err(err) = self
            .t
            .class_out(request::PTP_CANCEL, 0, &req, Duration::from_secs(1))
        {
            log::debug!("cancel request failed: {err}");
            return;
        }
        for _ in 0..CANCEL_POLLS {
            let mut st = [0u8; 32];
            match self.t.class_in(
                request::PTP_GET_DEVICE_STATUS,
                0,
                &mut st,
                Duration::from_secs(1),
            ) {
                Ok(n)
                    if container::parse_device_status(&st[..n])
                        == Some(ResponseCode::DEVICE_BUSY) =>
                {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => break,
            }
        }
    }
}

impl<T: Transport> Link for UsbLink<T> {
    fn transmit(&mut self, t: &Transmit, payload: &[u8]) -> Result<(), LinkError> {
        match t {
            Transmit::Cancel { tid } => {
                self.cancel(*tid);
                Ok(())
            }
            Transmit::Command { .. } => {
                self.zero_reads = 0;
                self.tx.clear();
                framer::encode(t, &mut self.tx);
                self.write_with_retry()
            }
            Transmit::DataOut { .. } => {
                self.tx.clear();
                framer::encode(t, &mut self.tx);
                self.tx.extend_from_slice(payload);
                self.write_with_retry()
            }
        }
    }

    fn next_input(&mut self) -> Result<Input<'_>, LinkError> {
        loop {
            if self.framer.ready(&self.rx[self.pos..self.filled]) {
                break;
            }
            if self.buffered() == 0 && self.last_short && self.framer.reads_to_end_of_transfer() {
                self.last_short = false;
                if let Some(i) = self.framer.end_of_transfer() {
                    return Ok(i);
                }
            }
            self.fill()?;
        }
        let (input, used) = self
            .framer
            .decode(&self.rx[self.pos..self.filled])
            .map_err(|e| LinkError::Corrupt(e.to_string()))?
            .ok_or_else(|| LinkError::Corrupt("container framing lost".into()))?;
        self.pos += used;
        Ok(input)
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.filled = 0;
        self.last_short = false;
        self.framer.reset();
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn poll_event(&mut self) -> Result<Option<Event>, LinkError> {
        let EventPipe::Open {
            failures,
            halt_cleared,
        } = self.events
        else {
            return Ok(None);
        };
        let mut b = [0u8; EVENT_READ];
        let e = match self.t.read_event(&mut b, Duration::ZERO) {
            Ok(n) => {
                self.events = EventPipe::Open {
                    failures: 0,
                    halt_cleared: false,
                };
                return match Event::parse(&b[..n]) {
                    Ok(e) => Ok(Some(e)),
                    Err(err) => {
                        log::debug!("usb: ignoring {n} bytes on the interrupt pipe: {err}");
                        Ok(None)
                    }
                };
            }
            Err(e) => e,
        };
        match e.kind {
            ErrorKind::Timeout => Ok(None),
            ErrorKind::Disconnected => Err(e.into()),
            ErrorKind::Unsupported => {
                log::debug!("usb: no interrupt endpoint ({e}); the properties are polled");
                self.events = EventPipe::Absent;
                Ok(None)
            }
            ErrorKind::Stall if !halt_cleared => {
                log::debug!("usb: the interrupt pipe stalled; clearing the halt");
                if let Err(err) = self.t.clear_halt(Pipe::InterruptIn) {
                    log::debug!("usb: clearing the interrupt halt failed: {err}");
                }
                self.events = EventPipe::Open {
                    failures: failures + 1,
                    halt_cleared: true,
                };
                Ok(None)
            }
            _ if failures + 1 >= MAX_EVENT_FAILURES => {
                log::debug!(
                    "usb: the interrupt pipe failed {} times in a row ({e}); \
                     the properties are polled from now on",
                    failures + 1
                );
                self.events = EventPipe::Absent;
                Ok(None)
            }
            _ => {
                log::debug!("usb: reading the interrupt pipe: {e}");
                self.events = EventPipe::Open {
                    failures: failures + 1,
                    halt_cleared,
                };
                Ok(None)
            }
        }
    }
}
