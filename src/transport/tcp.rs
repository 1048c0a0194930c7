//! PTP/IP over TCP, initiator side (ptpip.md §1, §3): the command/data connection and
//! the event connection, opened in the order the camera expects (command → Init Command
//! handshake → event → Init Event handshake), with TCP_NODELAY and one whole packet per
//! `write` (otherwise Nagle holds small requests back ~40 ms each), timeouts on connect,
//! read and write, Probe Requests answered on whichever socket they arrive, and events
//! drained without blocking before each command.
//!
//! This knows PTP/IP framing (`ptp::ptpip`) but no PTP operations: transactions live
//! with the session that uses them (`offload`).

use std::collections::VecDeque;
use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::{ErrorKind, TransportError};
use crate::ptp::ptpip::{self, Decoder, Header, Packet, HEADER_LEN};
use crate::ptp::ParseError;

/// Timeouts and limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct TcpConfig {
    /// Per TCP connect (libgphoto2 uses 2.5 s; Wi-Fi cameras can be slower to accept).
    pub connect_timeout: Duration,
    /// Per read or write call: how long the camera may be silent.
    pub io_timeout: Duration,
    /// Largest Data packet accepted (header included).
    pub max_packet: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(15),
            max_packet: ptpip::DEFAULT_MAX_PACKET,
        }
    }
}

/// Why a PTP/IP connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The camera answered Init Command/Event Request with Init Fail.
    #[error("the camera refused the connection (init fail, reason {reason})")]
    InitFail { reason: u32 },
    /// The camera sent something that is not valid PTP/IP.
    #[error("malformed ptp/ip packet from the camera: {0}")]
    Parse(#[from] ParseError),
    /// A valid packet at the wrong moment.
    #[error("unexpected ptp/ip packet from the camera: {0}")]
    Unexpected(String),
}

impl TcpError {
    /// The transport kind, if this is a transport error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            TcpError::Transport(t) => Some(t.kind),
            _ => None,
        }
    }
}

/// What the camera said about itself in the Init Command Ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    pub connection: u32,
    pub guid: [u8; 16],
    pub name: String,
    pub version: Option<u32>,
}

fn io_error(e: std::io::Error, what: &str) -> TransportError {
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

fn connect(addr: SocketAddr, cfg: &TcpConfig, what: &str) -> Result<TcpStream, TransportError> {
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
                return Ok(s);
            }
            Err(e) if e.kind() == IoKind::ConnectionRefused => last = Some(e),
            Err(e) => return Err(io_error(e, &format!("{what} to {addr}"))),
        }
    }
    log::debug!("{what} to {addr}: {last:?}");
    Err(TransportError::new(
        ErrorKind::NotFound,
        format!(
            "the camera at {addr} refused the connection: is it still in send to computer mode?"
        ),
    ))
}

/// Reads exactly one packet from a blocking socket: header first, then the declared
/// length (already checked against the caps), so no read ever crosses a packet.
fn read_packet(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    max_packet: u32,
    what: &str,
) -> Result<Packet, TcpError> {
    buf.clear();
    buf.resize(HEADER_LEN, 0);
    s.read_exact(buf).map_err(|e| io_error(e, what))?;
    let h = Header::parse(buf, max_packet)?.ok_or(ParseError::Invalid {
        what: "PTP/IP packet",
        reason: "short header".into(),
    })?;
    // `take` + `read_to_end` fills spare capacity without zeroing it first.
    let body = h.payload_len();
    buf.reserve(body);
    let n = (&mut *s)
        .take(body as u64)
        .read_to_end(buf)
        .map_err(|e| io_error(e, what))?;
    if n != body {
        return Err(io_error(std::io::Error::from(IoKind::UnexpectedEof), what).into());
    }
    Ok(Packet::parse(buf)?)
}

/// An open PTP/IP connection pair (command + event).
#[derive(Debug)]
pub struct PtpIpConnection {
    cmd: TcpStream,
    event: TcpStream,
    event_decoder: Decoder,
    events: VecDeque<Packet>,
    cfg: TcpConfig,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    responder: Responder,
    event_closed: bool,
}

impl PtpIpConnection {
    /// Opens both connections to `addr` (the camera's port 15740) and runs both Init
    /// handshakes. `guid` is the initiator GUID the camera was paired with; `name` is
    /// shown on the camera screen. An Init Fail becomes [`TcpError::InitFail`].
    pub fn connect(
        addr: SocketAddr,
        guid: [u8; 16],
        name: &str,
        cfg: TcpConfig,
    ) -> Result<PtpIpConnection, TcpError> {
        let mut cmd = connect(addr, &cfg, "connecting the command channel")?;
        let mut wbuf = Vec::with_capacity(64);
        let mut rbuf = Vec::new();
        Packet::InitCommandRequest {
            guid,
            name: name.to_string(),
            version: Some(ptpip::PROTOCOL_VERSION),
        }
        .encode(&mut wbuf)?;
        cmd.write_all(&wbuf)
            .map_err(|e| io_error(e, "sending init command request"))?;
        let responder = loop {
            match read_packet(
                &mut cmd,
                &mut rbuf,
                cfg.max_packet,
                "waiting for the init command ack",
            )? {
                Packet::InitCommandAck {
                    connection,
                    guid,
                    name,
                    version,
                } => {
                    break Responder {
                        connection,
                        guid,
                        name,
                        version,
                    }
                }
                Packet::InitFail { reason } => return Err(TcpError::InitFail { reason }),
                Packet::ProbeRequest => {
                    wbuf.clear();
                    Packet::ProbeResponse.encode(&mut wbuf)?;
                    cmd.write_all(&wbuf)
                        .map_err(|e| io_error(e, "answering a probe"))?;
                }
                other => {
                    return Err(TcpError::Unexpected(format!(
                        "{} instead of init command ack",
                        other.packet_type()
                    )))
                }
            }
        };
        log::debug!(
            "ptp/ip: command channel open to {addr}: {:?} connection {}",
            responder.name,
            responder.connection
        );
        let mut event = connect(addr, &cfg, "connecting the event channel")?;
        wbuf.clear();
        Packet::InitEventRequest {
            connection: responder.connection,
        }
        .encode(&mut wbuf)?;
        event
            .write_all(&wbuf)
            .map_err(|e| io_error(e, "sending init event request"))?;
        loop {
            match read_packet(
                &mut event,
                &mut rbuf,
                cfg.max_packet,
                "waiting for the init event ack",
            )? {
                Packet::InitEventAck => break,
                Packet::InitFail { reason } => return Err(TcpError::InitFail { reason }),
                Packet::ProbeRequest => {
                    wbuf.clear();
                    Packet::ProbeResponse.encode(&mut wbuf)?;
                    event
                        .write_all(&wbuf)
                        .map_err(|e| io_error(e, "answering a probe"))?;
                }
                other => {
                    return Err(TcpError::Unexpected(format!(
                        "{} instead of init event ack",
                        other.packet_type()
                    )))
                }
            }
        }
        // From here the event socket is only polled, never waited on.
        event
            .set_nonblocking(true)
            .map_err(|e| io_error(e, "configuring the event channel"))?;
        Ok(PtpIpConnection {
            cmd,
            event,
            event_decoder: Decoder::with_max_packet(4096),
            events: VecDeque::new(),
            cfg,
            wbuf,
            rbuf,
            responder,
            event_closed: false,
        })
    }

    /// What the camera told us in its Init Command Ack.
    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    /// Sends one packet on the command channel as a single write.
    pub fn send(&mut self, pk: &Packet) -> Result<(), TcpError> {
        self.poll_events()?;
        self.wbuf.clear();
        pk.encode(&mut self.wbuf)?;
        self.cmd
            .write_all(&self.wbuf)
            .map_err(|e| io_error(e, "sending to the camera"))?;
        Ok(())
    }

    /// Sends a Data or End Data packet built from `payload` without an intermediate
    /// `Packet` (still one buffer, one write).
    pub fn send_data(&mut self, tid: u32, payload: &[u8], end: bool) -> Result<(), TcpError> {
        self.wbuf.clear();
        self.wbuf
            .extend_from_slice(&ptpip::data_header(end, tid, payload.len())?);
        self.wbuf.extend_from_slice(payload);
        self.cmd
            .write_all(&self.wbuf)
            .map_err(|e| io_error(e, "sending data to the camera"))?;
        Ok(())
    }

    /// The next packet on the command channel. Probe Requests are answered here and
    /// never returned; events are drained first.
    pub fn recv(&mut self) -> Result<Packet, TcpError> {
        loop {
            self.poll_events()?;
            let pk = read_packet(
                &mut self.cmd,
                &mut self.rbuf,
                self.cfg.max_packet,
                "waiting for the camera",
            )?;
            if pk == Packet::ProbeRequest {
                log::trace!("ptp/ip: probe on the command channel");
                self.wbuf.clear();
                Packet::ProbeResponse.encode(&mut self.wbuf)?;
                self.cmd
                    .write_all(&self.wbuf)
                    .map_err(|e| io_error(e, "answering a probe"))?;
                continue;
            }
            return Ok(pk);
        }
    }

    /// Reads whatever the event channel has without blocking: events are queued,
    /// Probe Requests answered. A closed event channel is logged, not an error: the
    /// camera closes it right after answering CloseSession, and the command channel
    /// reports a real disconnect on its own.
    pub fn poll_events(&mut self) -> Result<(), TcpError> {
        if self.event_closed {
            return Ok(());
        }
        let mut tmp = [0u8; 1024];
        loop {
            match self.event.read(&mut tmp) {
                Ok(0) => {
                    log::debug!("ptp/ip: the camera closed the event channel");
                    self.event_closed = true;
                    return Ok(());
                }
                Ok(n) => self.event_decoder.feed(&tmp[..n]),
                Err(e) if e.kind() == IoKind::WouldBlock => break,
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("ptp/ip: event channel: {e}");
                    self.event_closed = true;
                    return Ok(());
                }
            }
        }
        loop {
            match self.event_decoder.decode() {
                Ok(None) => break,
                Ok(Some(Packet::ProbeRequest)) => {
                    log::trace!("ptp/ip: probe on the event channel");
                    let mut b = Vec::with_capacity(8);
                    let _ = Packet::ProbeResponse.encode(&mut b);
                    // Eight bytes into an idle socket buffer; a full buffer means the
                    // camera stopped reading, which the next command will notice.
                    match self.event.write(&b) {
                        Ok(8) => {}
                        Ok(_) | Err(_) => log::warn!("ptp/ip: could not answer a probe"),
                    }
                }
                Ok(Some(Packet::ProbeResponse)) => {}
                Ok(Some(pk @ Packet::Event { .. })) => {
                    log::debug!("ptp/ip: event {pk:?}");
                    if self.events.len() < 256 {
                        self.events.push_back(pk);
                    }
                }
                Ok(Some(other)) => {
                    log::debug!(
                        "ptp/ip: ignoring {} on the event channel",
                        other.packet_type()
                    )
                }
                Err(e) if self.event_decoder.is_failed() => {
                    log::warn!("ptp/ip: event channel out of sync ({e}); ignoring it");
                    self.event_closed = true;
                    break;
                }
                Err(e) => log::warn!("ptp/ip: bad packet on the event channel: {e}"),
            }
        }
        Ok(())
    }

    /// Events received so far (oldest first), removed from the queue.
    pub fn take_events(&mut self) -> Vec<Packet> {
        self.events.drain(..).collect()
    }

    /// Closes both sockets (idempotent; errors ignored: the peer may be gone).
    pub fn shutdown(&mut self) {
        let _ = self.cmd.shutdown(Shutdown::Both);
        let _ = self.event.shutdown(Shutdown::Both);
        self.event_closed = true;
    }
}

impl Drop for PtpIpConnection {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn cfg() -> TcpConfig {
        TcpConfig {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_millis(300),
            max_packet: 1 << 20,
        }
    }

    #[test]
    fn a_silent_camera_times_out_instead_of_hanging() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1000));
            drop(s);
        });
        let e = PtpIpConnection::connect(addr, [1; 16], "h", cfg()).unwrap_err();
        assert_eq!(e.kind(), Some(ErrorKind::Timeout), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn init_fail_and_hostile_lengths_are_errors() {
        for answer in [
            hex_packet(&Packet::InitFail { reason: 1 }),
            // An "Init Command Ack" declaring 1 MiB: refused before reading it.
            vec![0, 0, 0x10, 0, 2, 0, 0, 0],
        ] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let h = std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                let mut b = [0u8; 256];
                let _ = s.read(&mut b);
                s.write_all(&answer).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            });
            let e = PtpIpConnection::connect(addr, [1; 16], "h", cfg()).unwrap_err();
            assert!(
                matches!(
                    e,
                    TcpError::InitFail { reason: 1 } | TcpError::Parse(ParseError::TooLarge { .. })
                ),
                "{e}"
            );
            h.join().unwrap();
        }
    }

    fn hex_packet(p: &Packet) -> Vec<u8> {
        let mut v = Vec::new();
        p.encode(&mut v).unwrap();
        v
    }
}
