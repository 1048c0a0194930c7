//! TCP byte pipes for PTP/IP (docs/protocol/ptpip.md#connections): a connection with TCP_NODELAY (otherwise
//! Nagle holds small requests back ~40 ms each), a bounded connect (retried when
//! refused, as libgphoto2 does for slow event sockets), a timeout on every blocking
//! read and write, and a non-blocking mode for the event connection, which is only ever
//! polled. Errors carry a [`ErrorKind`] and say what was being done.
//!
//! This knows nothing of PTP or PTP/IP: the link in `camera::link::ptpip` frames packets
//! and runs the Init handshake over two of these pipes.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::{ErrorKind, TransportError};

/// Default cap on one PTP/IP Data packet a peer may announce (64 MiB).
const DEFAULT_MAX_PACKET: u32 = 64 << 20;

/// Timeouts and limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct TcpConfig {
    /// Per TCP connect (libgphoto2 uses 2.5 s; Wi-Fi cameras can be slower to accept).
    pub connect_timeout: Duration,
    /// Per read or write call: how long the camera may be silent.
    pub io_timeout: Duration,
    /// Largest packet the peer may announce (header included); enforced by the framing
    /// above, kept here with the other limits of a connection.
    pub max_packet: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(15),
            max_packet: DEFAULT_MAX_PACKET,
        }
    }
}

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    /// The socket failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl TcpError {
    /// The transport kind, if this is a transport error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            TcpError::Transport(t) => Some(t.kind),
        }
    }
}

/// Maps an I/O error to a transport error that says what was being done.
pub fn io_error(e: std::io::Error, what: &str) -> TransportError {
    let kind = match e.kind() {
        IoKind::TimedOut | IoKind::WouldBlock => ErrorKind::Timeout,
        IoKind::ConnectionRefused | IoKind::NotFound => ErrorKind::NotFound,
        IoKind::ConnectionReset
        | IoKind::ConnectionAborted
        | IoKind::BrokenPipe
        | IoKind::UnexpectedEof
        | IoKind::NotConnected => ErrorKind::Disconnected,
        IoKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    let msg = match kind {
        ErrorKind::Timeout => format!("timed out {what}"),
        ErrorKind::Disconnected => format!("the camera closed the connection while {what}"),
        _ => format!("{what}: {e}"),
    };
    TransportError::new(kind, msg)
}

/// One TCP connection to a camera.
#[derive(Debug)]
pub struct TcpPipe {
    s: TcpStream,
    peer: SocketAddr,
}

/// Connects to `addr` with the timeouts of `cfg`; `what` names the connection in
/// errors ("connecting the command channel").
pub fn connect(addr: SocketAddr, cfg: &TcpConfig, what: &str) -> Result<TcpPipe, TransportError> {
    // libgphoto2 retries a refused event connection (Ricoh Theta); do the same for both.
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout) {
            Ok(s) => {
                let setup = || -> std::io::Result<()> {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(cfg.io_timeout))?;
                    s.set_write_timeout(Some(cfg.io_timeout))
                };
                setup().map_err(|e| io_error(e, what))?;
                return Ok(TcpPipe { s, peer: addr });
            }
            Err(e) if e.kind() == IoKind::ConnectionRefused => last = Some(e),
            Err(e) => return Err(io_error(e, &format!("{what} to {addr}"))),
        }
    }
    log::debug!("{what} to {addr}: {last:?}");
    Err(TransportError::new(
        ErrorKind::NotFound,
        format!(
            "the camera at {addr} refused the connection: is it still waiting for this computer?"
        ),
    ))
}

impl TcpPipe {
    /// The camera's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Writes all of `b` (one call, so a whole packet goes out together).
    pub fn write_all(&mut self, b: &[u8], what: &str) -> Result<(), TransportError> {
        self.s.write_all(b).map_err(|e| io_error(e, what))
    }

    /// One blocking read (at most the I/O timeout); `Ok(0)` when the camera closed the
    /// connection.
    pub fn read(&mut self, buf: &mut [u8], what: &str) -> Result<usize, TransportError> {
        loop {
            match self.s.read(buf) {
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                r => return r.map_err(|e| io_error(e, what)),
            }
        }
    }

    /// One read on a non-blocking pipe: `Ok(None)` when nothing is there now.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, TransportError> {
        loop {
            match self.s.read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == IoKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(e) => return Err(io_error(e, "reading the event channel")),
            }
        }
    }

    /// From here on reads and writes never wait (the event channel is only polled).
    pub fn set_nonblocking(&mut self) -> Result<(), TransportError> {
        self.s
            .set_nonblocking(true)
            .map_err(|e| io_error(e, "configuring the connection"))
    }

    /// How long a blocking read or write may wait.
    pub fn set_timeout(&mut self, timeout: Duration) {
        let t = Some(timeout.max(Duration::from_millis(1)));
        if let Err(e) = self
            .s
            .set_read_timeout(t)
            .and_then(|()| self.s.set_write_timeout(t))
        {
            log::debug!("tcp: cannot set a timeout: {e}");
        }
    }

    /// Closes both directions (idempotent; errors ignored: the peer may be gone).
    pub fn shutdown(&self) {
        let _ = self.s.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_time_out_and_a_closed_peer_reads_zero() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(400));
            s.write_all(b"hi").unwrap();
        });
        let cfg = TcpConfig {
            io_timeout: Duration::from_millis(100),
            ..TcpConfig::default()
        };
        let mut p = connect(addr, &cfg, "connecting").unwrap();
        let mut b = [0u8; 8];
        let e = p.read(&mut b, "waiting").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(e.message, "timed out waiting");
        p.set_timeout(Duration::from_secs(2));
        assert_eq!(p.read(&mut b, "waiting").unwrap(), 2);
        h.join().unwrap();
        assert_eq!(p.read(&mut b, "waiting").unwrap(), 0);
    }

    #[test]
    fn a_refused_connection_says_so() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = connect(addr, &TcpConfig::default(), "connecting").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    }
}
