//! An in-process USB pipe pair: [`HostEnd`] implements [`Transport`], [`DeviceEnd`]
//! implements [`DevicePipe`]. It keeps USB's transfer semantics that PTP relies on:
//! a read never spans two transfers, a transfer whose length is a multiple of the
//! packet size is followed by a zero-length packet, a read buffer that is not a
//! multiple of the packet size overflows. [`Faults`] lets tests pull the cable or stall
//! an endpoint at any moment.

use super::usb::request;
use super::{DevicePipe, ErrorKind, Pipe, Transport, TransportError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Switches shared by both ends; flip them from a test or the emulator.
#[derive(Debug, Default)]
pub struct Faults {
    disconnected: AtomicBool,
    stall_in: AtomicBool,
    status: AtomicU16,
}

impl Faults {
    /// Pulls the cable: both ends fail with `Disconnected` from now on.
    pub fn disconnect(&self) {
        self.disconnected.store(true, Ordering::SeqCst);
    }

    /// Whether the cable has been pulled.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected.load(Ordering::SeqCst)
    }

    /// Halts bulk IN until the host clears it.
    pub fn stall_bulk_in(&self) {
        self.stall_in.store(true, Ordering::SeqCst);
    }

    /// The code Get Device Status reports (0 means OK, 0x2001).
    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

struct Transfer {
    data: Vec<u8>,
    pos: usize,
    zlp: bool,
}

/// The host's end.
pub struct HostEnd {
    out: Sender<Vec<u8>>,
    bulk_in: Receiver<Vec<u8>>,
    events: Receiver<Vec<u8>>,
    current: Option<Transfer>,
    pending_zlp: bool,
    mps: usize,
    faults: Arc<Faults>,
}

/// The device's end.
pub struct DeviceEnd {
    out: Receiver<Vec<u8>>,
    bulk_in: Sender<Vec<u8>>,
    events: Sender<Vec<u8>>,
    mps: usize,
    faults: Arc<Faults>,
}

/// A connected pair with bulk packet size `mps` (512 for high speed).
pub fn pair(mps: usize) -> (HostEnd, DeviceEnd, Arc<Faults>) {
    let (out_tx, out_rx) = bounded(64);
    let (in_tx, in_rx) = bounded(64);
    let (ev_tx, ev_rx) = bounded(64);
    let faults = Arc::new(Faults::default());
    (
        HostEnd {
            out: out_tx,
            bulk_in: in_rx,
            events: ev_rx,
            current: None,
            pending_zlp: false,
            mps,
            faults: faults.clone(),
        },
        DeviceEnd {
            out: out_rx,
            bulk_in: in_tx,
            events: ev_tx,
            mps,
            faults: faults.clone(),
        },
        faults,
    )
}

fn recv(rx: &Receiver<Vec<u8>>, timeout: Duration, what: &str) -> Result<Vec<u8>, TransportError> {
    match rx.recv_timeout(timeout) {
        Ok(v) => Ok(v),
        Err(RecvTimeoutError::Timeout) => Err(TransportError::timeout(what)),
        Err(RecvTimeoutError::Disconnected) => Err(TransportError::disconnected()),
    }
}

impl HostEnd {
    /// The pipe's fault switches, for a test holding only the host end (e.g. one from
    /// `UsbEmulator::connect`).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    fn check(&self) -> Result<(), TransportError> {
        if self.faults.is_disconnected() {
            return Err(TransportError::disconnected());
        }
        Ok(())
    }
}

impl Transport for HostEnd {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        self.check()?;
        self.out.send_timeout(data.to_vec(), timeout).map_err(|e| {
            if e.is_timeout() {
                TransportError::timeout("bulk OUT")
            } else {
                TransportError::disconnected()
            }
        })
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.check()?;
        if self.faults.stall_in.load(Ordering::SeqCst) {
            return Err(TransportError::new(
                ErrorKind::Stall,
                "bulk IN endpoint stalled",
            ));
        }
        if self.pending_zlp {
            self.pending_zlp = false;
            return Ok(0);
        }
        let t = match self.current.as_mut() {
            Some(t) => t,
            None => {
                // Poll in slices so a disconnect is noticed promptly.
                let deadline = std::time::Instant::now() + timeout;
                let data = loop {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    match recv(
                        &self.bulk_in,
                        left.min(Duration::from_millis(50)),
                        "bulk IN",
                    ) {
                        Ok(d) => break d,
                        Err(e) if e.kind == ErrorKind::Timeout && !left.is_zero() => {
                            self.check()?
                        }
                        Err(e) => return Err(e),
                    }
                };
                let zlp = !data.is_empty() && data.len() % self.mps == 0;
                self.current.insert(Transfer { data, pos: 0, zlp })
            }
        };
        let left = t.data.len() - t.pos;
        if left > buf.len() && !buf.len().is_multiple_of(self.mps) {
            self.current = None;
            return Err(TransportError::new(
                ErrorKind::Overflow,
                "bulk IN overflow: read size is not a multiple of the packet size",
            ));
        }
        let n = left.min(buf.len());
        buf[..n].copy_from_slice(&t.data[t.pos..t.pos + n]);
        t.pos += n;
        if t.pos == t.data.len() {
            // The ZLP is only seen as its own transfer when the buffer filled exactly.
            self.pending_zlp = t.zlp && n == buf.len();
            self.current = None;
        }
        Ok(n)
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.check()?;
        let ev = recv(&self.events, timeout, "an event")?;
        let n = ev.len().min(buf.len());
        buf[..n].copy_from_slice(&ev[..n]);
        Ok(n)
    }

    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
        self.check()?;
        if pipe == Pipe::BulkIn {
            self.faults.stall_in.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    fn class_out(
        &mut self,
        request: u8,
        _value: u16,
        _data: &[u8],
        _timeout: Duration,
    ) -> Result<(), TransportError> {
        self.check()?;
        match request {
            // Cancel and Device Reset: drop whatever the device had queued for us.
            request::PTP_CANCEL | request::PTP_DEVICE_RESET => {
                self.current = None;
                self.pending_zlp = false;
                while self.bulk_in.try_recv().is_ok() {}
                Ok(())
            }
            _ => Err(TransportError::new(
                ErrorKind::Stall,
                format!("class request {request:#x} not supported"),
            )),
        }
    }

    fn class_in(
        &mut self,
        request: u8,
        _value: u16,
        buf: &mut [u8],
        _timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.check()?;
        if request != request::PTP_GET_DEVICE_STATUS || buf.len() < 4 {
            return Err(TransportError::new(
                ErrorKind::Stall,
                format!("class request {request:#x} not supported"),
            ));
        }
        let code = match self.faults.status.load(Ordering::SeqCst) {
            0 => 0x2001,
            c => c,
        };
        buf[..4].copy_from_slice(&[4, 0, code as u8, (code >> 8) as u8]);
        Ok(4)
    }

    fn max_packet_size(&self) -> usize {
        self.mps
    }
}

impl DevicePipe for DeviceEnd {
    fn read_out(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if self.faults.is_disconnected() {
            return Err(TransportError::disconnected());
        }
        let data = recv(&self.out, timeout, "bulk OUT")?;
        if data.len() > buf.len() {
            return Err(TransportError::new(
                ErrorKind::Overflow,
                "bulk OUT transfer larger than the device buffer",
            ));
        }
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn write_in(&mut self, data: &[u8]) -> Result<(), TransportError> {
        if self.faults.is_disconnected() {
            return Err(TransportError::disconnected());
        }
        self.bulk_in
            .send(data.to_vec())
            .map_err(|_| TransportError::disconnected())
    }

    fn write_event(&mut self, data: &[u8]) -> Result<(), TransportError> {
        if self.faults.is_disconnected() {
            return Err(TransportError::disconnected());
        }
        // Events are best effort: a host that never reads them must not block the device.
        let _ = self.events.try_send(data.to_vec());
        Ok(())
    }

    fn max_packet_size(&self) -> usize {
        self.mps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    #[test]
    fn reads_end_at_transfer_boundaries_and_zlps_show_when_the_buffer_fills() {
        let (mut host, mut dev, _) = pair(512);
        dev.write_in(&[7u8; 1024]).unwrap();
        dev.write_in(&[9u8; 12]).unwrap();
        let mut buf = vec![0u8; 4096];
        assert_eq!(host.read(&mut buf, T).unwrap(), 1024);
        assert_eq!(host.read(&mut buf, T).unwrap(), 12);
        dev.write_in(&[1u8; 1024]).unwrap();
        assert_eq!(host.read(&mut buf[..1024], T).unwrap(), 1024);
        assert_eq!(host.read(&mut buf, T).unwrap(), 0, "leftover ZLP");
    }

    #[test]
    fn disconnect_and_stall() {
        let (mut host, mut dev, faults) = pair(512);
        faults.stall_bulk_in();
        let mut buf = [0u8; 512];
        assert_eq!(host.read(&mut buf, T).unwrap_err().kind, ErrorKind::Stall);
        host.clear_halt(Pipe::BulkIn).unwrap();
        dev.write_in(b"hi").unwrap();
        assert_eq!(host.read(&mut buf, T).unwrap(), 2);
        faults.disconnect();
        assert_eq!(
            host.write(b"x", T).unwrap_err().kind,
            ErrorKind::Disconnected
        );
        assert_eq!(
            dev.read_out(&mut buf, T).unwrap_err().kind,
            ErrorKind::Disconnected
        );
    }

    #[test]
    fn dropping_the_device_is_a_disconnect() {
        let (mut host, dev, _) = pair(512);
        drop(dev);
        let mut buf = [0u8; 512];
        assert_eq!(
            host.read(&mut buf, T).unwrap_err().kind,
            ErrorKind::Disconnected
        );
    }
}
