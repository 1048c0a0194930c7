//! A host transport in front of another that lets a watcher see (and, for a test that
//! plays a hung camera, swallow) the bulk transfers, passing every other call straight
//! through, except that a watcher may play scripted interrupt transfers (events tests).
//! The fault matrix, the events tests and `examples/fuzz_seeds.rs` (which includes this
//! file by path) use it instead of each forwarding the whole `Transport` trait.

use alpha_bridge::transport::{Pipe, Transport, TransportError};
use std::time::Duration;

/// What an [`Observed`] transport tells its watcher.
pub(crate) trait Watch: Send {
    /// An OUT transfer about to be sent; `false` swallows it (the device never hears
    /// it and the write succeeds).
    fn write(&mut self, _data: &[u8]) -> bool {
        true
    }
    /// An IN transfer just received.
    fn read(&mut self, _data: &[u8]) {}
    /// An interrupt transfer to hand out instead of reading the inner transport's;
    /// `None` reads it.
    fn read_event(&mut self) -> Option<Result<Vec<u8>, TransportError>> {
        None
    }
    /// A halt about to be cleared on `pipe`.
    fn clear_halt(&mut self, _pipe: Pipe) {}
}

/// `inner` with `watch` looking on.
pub(crate) struct Observed<T, W> {
    pub(crate) inner: T,
    pub(crate) watch: W,
}

impl<T: Transport, W: Watch> Transport for Observed<T, W> {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        if !self.watch.write(data) {
            return Ok(());
        }
        self.inner.write(data, timeout)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let n = self.inner.read(buf, timeout)?;
        self.watch.read(&buf[..n]);
        Ok(n)
    }
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        match self.watch.read_event() {
            Some(Ok(b)) => {
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                Ok(n)
            }
            Some(Err(e)) => Err(e),
            None => self.inner.read_event(buf, timeout),
        }
    }
    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
        self.watch.clear_halt(pipe);
        self.inner.clear_halt(pipe)
    }
    fn class_out(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), TransportError> {
        self.inner.class_out(request, value, data, timeout)
    }
    fn class_in(
        &mut self,
        request: u8,
        value: u16,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        self.inner.class_in(request, value, buf, timeout)
    }
    fn max_packet_size(&self) -> usize {
        self.inner.max_packet_size()
    }
}
