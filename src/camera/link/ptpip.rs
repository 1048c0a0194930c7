//! The PTP/IP link (docs/protocol/ptpip.md#connections): the engine over two TCP connections.
//!
//! What only PTP/IP has, and stays here: the Init handshake (driven from
//! [`InitHandshake`], which decides what to send; this opens the sockets in the order
//! the camera expects: command, Init Command, event, Init Event), Probe Requests
//! answered on whichever connection they arrive, and the event connection, which is
//! polled without blocking before every send and every wait, its events handed to the
//! engine. One whole packet per write (TCP_NODELAY is on); every read bounded by the
//! connection's timeout, so a silent or stalled camera is an error, never a hang.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Link, LinkError};
use crate::camera::CameraError;
use crate::ptp::container::Event;
use crate::ptp::engine::init::{Channel, InitError, InitHandshake, InitTransmit, Responder};
use crate::ptp::engine::ptpip::{self as framer, Item};
use crate::ptp::engine::{Input, Transmit};
use crate::ptp::ptpip::{Decoder, Packet, PacketType, PullError};
use crate::ptp::ParseError;
use crate::transport::tcp::{self, TcpConfig, TcpPipe};
use crate::transport::{ErrorKind, TransportError};

/// Cap on one packet on the event connection (events and probes are a few dozen bytes;
/// the Init Event Ack is 8).
const MAX_EVENT_PACKET: u32 = 4096;
/// Events kept between two transactions.
const MAX_QUEUED_EVENTS: usize = 256;

/// The engine over PTP/IP.
#[derive(Debug)]
pub struct PtpIpLink {
    cmd: TcpPipe,
    event: TcpPipe,
    cmd_dec: Decoder,
    ev_dec: Decoder,
    events: VecDeque<Event>,
    event_closed: bool,
    responder: Responder,
    wbuf: Vec<u8>,
}

fn closed(what: &str) -> TransportError {
    TransportError::new(
        ErrorKind::Disconnected,
        format!("the camera closed the connection while {what}"),
    )
}

/// One packet during the handshake, through the decoder of that connection.
fn pull(pipe: &mut TcpPipe, dec: &mut Decoder, what: &str) -> Result<Packet, CameraError> {
    match dec.pull(|b| pipe.read(b, what)) {
        Ok(Some(p)) => Ok(p),
        Ok(None) | Err(PullError::Truncated(_)) => Err(closed(what).into()),
        Err(PullError::Io(t)) => Err(t.into()),
        Err(PullError::Corrupt(e)) => Err(CameraError::Parse(e)),
    }
}

impl PtpIpLink {
    /// Opens both connections to `addr` (the camera's port 15740) and runs the Init
    /// handshake. `guid` is the initiator GUID the camera was paired with; `name` is
    /// shown on the camera's screen. Init Fail becomes [`CameraError::NotPaired`].
    pub fn connect(
        addr: SocketAddr,
        guid: [u8; 16],
        name: &str,
        cfg: TcpConfig,
    ) -> Result<PtpIpLink, CameraError> {
        let mut cmd = tcp::connect(addr, &cfg, "connecting the command channel")?;
        let mut event: Option<TcpPipe> = None;
        let mut cmd_dec = Decoder::with_max_packet(cfg.max_packet);
        let mut ev_dec = Decoder::with_max_packet(MAX_EVENT_PACKET);
        let mut hs = InitHandshake::new(guid, name);
        let mut wbuf = Vec::with_capacity(64);
        loop {
            while let Some(t) = hs.poll_transmit() {
                match t {
                    InitTransmit::OpenEventChannel => {
                        event = Some(tcp::connect(addr, &cfg, "connecting the event channel")?)
                    }
                    InitTransmit::Send(ch, p) => {
                        wbuf.clear();
                        p.encode(&mut wbuf)?;
                        let (pipe, what) = match ch {
                            Channel::Command => (&mut cmd, "sending the init command request"),
                            Channel::Event => match event.as_mut() {
                                Some(e) => (e, "sending the init event request"),
                                None => continue,
                            },
                        };
                        pipe.write_all(&wbuf, what)?;
                    }
                }
            }
            let Some(ch) = hs.awaiting() else {
                break;
            };
            let p = match ch {
                Channel::Command => {
                    pull(&mut cmd, &mut cmd_dec, "waiting for the init command ack")?
                }
                Channel::Event => match event.as_mut() {
                    Some(e) => pull(e, &mut ev_dec, "waiting for the init event ack")?,
                    None => break,
                },
            };
            hs.handle(ch, p).map_err(|e| match e {
                InitError::Refused { reason } => CameraError::NotPaired { reason },
                other => CameraError::Protocol {
                    op: crate::ptp::OpCode(0),
                    detail: other.to_string(),
                },
            })?;
        }
        let (Some(responder), Some(mut event)) = (hs.responder().cloned(), event) else {
            return Err(CameraError::Protocol {
                op: crate::ptp::OpCode(0),
                detail: "the ptp/ip handshake ended early".into(),
            });
        };
        log::debug!(
            "ptp/ip: connected to {:?} at {addr} (connection {})",
            responder.name,
            responder.connection
        );
        // From here the event connection is only polled, never waited on.
        event.set_nonblocking()?;
        Ok(PtpIpLink {
            cmd,
            event,
            cmd_dec,
            ev_dec,
            events: VecDeque::new(),
            event_closed: false,
            responder,
            wbuf,
        })
    }

    /// What the camera said about itself in its Init Command Ack.
    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    /// Closes both connections (idempotent).
    pub fn shutdown(&mut self) {
        self.cmd.shutdown();
        self.event.shutdown();
        self.event_closed = true;
    }

    /// Reads whatever the event connection has without blocking: events are queued,
    /// Probe Requests answered. A closed event connection is logged, not an error: the
    /// camera closes it right after answering CloseSession, and the command connection
    /// reports a real disconnect on its own.
    fn poll_events(&mut self) {
        while !self.event_closed {
            let (dec, pipe) = (&mut self.ev_dec, &mut self.event);
            // Err(None): nothing more to read right now.
            let r = dec.read_into(|b| match pipe.try_read(b) {
                Ok(Some(n)) => Ok(n),
                Ok(None) => Err(None),
                Err(e) => Err(Some(e)),
            });
            match r {
                Ok(0) => {
                    log::debug!("ptp/ip: the camera closed the event channel");
                    self.event_closed = true;
                }
                Ok(_) => {}
                Err(None) => break,
                Err(Some(e)) => {
                    log::debug!("ptp/ip: event channel: {e}");
                    self.event_closed = true;
                }
            }
        }
        loop {
            match self.ev_dec.decode() {
                Ok(None) => break,
                Ok(Some(Packet::ProbeRequest)) => {
                    log::trace!("ptp/ip: probe on the event channel");
                    // Eight bytes into an idle socket buffer; a full buffer means the
                    // camera stopped reading, which the next command will notice.
                    let mut b = Vec::with_capacity(8);
                    if Packet::ProbeResponse.encode(&mut b).is_err()
                        || self.event.write_all(&b, "answering a probe").is_err()
                    {
                        log::warn!("ptp/ip: could not answer a probe");
                    }
                }
                Ok(Some(Packet::ProbeResponse)) => {}
                Ok(Some(Packet::Event { code, tid, params })) => {
                    if self.events.len() >= MAX_QUEUED_EVENTS {
                        self.events.pop_front();
                    }
                    self.events.push_back(Event { code, tid, params });
                }
                Ok(Some(other)) => {
                    log::debug!(
                        "ptp/ip: ignoring {} on the event channel",
                        other.packet_type()
                    )
                }
                Err(e) if self.ev_dec.is_failed() => {
                    log::warn!("ptp/ip: event channel out of sync ({e}); ignoring it");
                    self.event_closed = true;
                    break;
                }
                Err(e) => log::warn!("ptp/ip: bad packet on the event channel: {e}"),
            }
        }
    }

    fn send(&mut self, what: &str) -> Result<(), LinkError> {
        Ok(self.cmd.write_all(&self.wbuf, what)?)
    }
}

fn corrupt(e: ParseError) -> LinkError {
    LinkError::Corrupt(format!("malformed ptp/ip packet from the camera: {e}"))
}

impl Link for PtpIpLink {
    fn transmit(&mut self, t: &Transmit, payload: &[u8]) -> Result<(), LinkError> {
        self.poll_events();
        self.wbuf.clear();
        framer::encode(t, &mut self.wbuf).map_err(corrupt)?;
        match t {
            Transmit::Cancel { tid } => {
                log::debug!("ptp/ip: transaction {tid} abandoned (no cancel over ptp/ip)");
                Ok(())
            }
            Transmit::Command { .. } => self.send("sending to the camera"),
            Transmit::DataOut { tid, .. } => {
                self.wbuf.extend_from_slice(payload);
                self.wbuf.extend_from_slice(&framer::data_out_end(*tid));
                self.send("sending data to the camera")
            }
        }
    }

    fn next_input(&mut self) -> Result<Input<'_>, LinkError> {
        loop {
            self.poll_events();
            if let Some(e) = self.events.pop_front() {
                return Ok(Input::Event(e));
            }
            if self.cmd_dec.ready() {
                match self.cmd_dec.peek_type() {
                    Some(PacketType::PROBE_REQUEST) => {
                        let _ = self.cmd_dec.decode();
                        log::trace!("ptp/ip: probe on the command channel");
                        self.wbuf.clear();
                        Packet::ProbeResponse
                            .encode(&mut self.wbuf)
                            .map_err(corrupt)?;
                        self.send("answering a probe")?;
                        continue;
                    }
                    Some(PacketType::PROBE_RESPONSE) | Some(PacketType::CANCEL) => {
                        let _ = self.cmd_dec.decode();
                        continue;
                    }
                    _ => break,
                }
            }
            let (dec, pipe) = (&mut self.cmd_dec, &mut self.cmd);
            if dec.read_into(|b| pipe.read(b, "waiting for the camera"))? == 0 {
                return Err(closed("waiting for the camera").into());
            }
        }
        let p = self
            .cmd_dec
            .decode_ref()
            .map_err(corrupt)?
            .ok_or_else(|| LinkError::Corrupt("ptp/ip framing lost".into()))?;
        match framer::classify(p) {
            Item::Input(i) => Ok(i),
            Item::Probe | Item::Ignore => Err(LinkError::Corrupt("ptp/ip framing lost".into())),
            Item::Unexpected(p) => Err(LinkError::Corrupt(format!(
                "unexpected {} on the command channel",
                p.packet_type()
            ))),
        }
    }

    fn reset(&mut self) {
        // Packets are framed by length: whatever is buffered is whole packets or the
        // start of one, which the engine treats as stale when it arrives.
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.cmd.set_timeout(timeout);
    }

    fn poll_event(&mut self) -> Result<Option<Event>, LinkError> {
        self.poll_events();
        Ok(self.events.pop_front())
    }
}

impl Drop for PtpIpLink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
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
        let e = PtpIpLink::connect(addr, [1; 16], "h", cfg()).unwrap_err();
        assert_eq!(e.transport_kind(), Some(ErrorKind::Timeout), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn init_fail_and_hostile_lengths_are_errors() {
        for answer in [
            Packet::InitFail { reason: 1 }.to_bytes().unwrap(),
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
            let e = PtpIpLink::connect(addr, [1; 16], "h", cfg()).unwrap_err();
            assert!(
                matches!(
                    e,
                    CameraError::NotPaired { reason: 1 }
                        | CameraError::Parse(ParseError::TooLarge { .. })
                ),
                "{e}"
            );
            h.join().unwrap();
        }
    }
}
