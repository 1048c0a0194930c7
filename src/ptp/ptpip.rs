//! Sans-IO PTP/IP packets (CIPA DC-X005 as Sony bodies speak it; docs/protocol/ptpip.md):
//! every packet type, encoded into a caller-owned `Vec` and decoded from a byte stream.
//!
//! Framing is `u32 length` (whole packet, header included), `u32 type`, payload. The
//! [`Decoder`] follows the tokio-util convention: `Ok(None)` = need more bytes, `Err` =
//! corrupt. Every declared length is checked against a per-type cap (control packets are
//! a few dozen bytes, Init packets at most [`MAX_INIT_LEN`], Data/End Data at most the
//! decoder's `max_packet`, 64 MiB by default) before a single byte of it is buffered.
//! No sockets, threads or clocks here: the host's link (`camera::link::ptpip`) and the
//! emulated camera own the I/O and read through [`Decoder::pull`].

use super::codec::{Reader, Writer};
use super::codes::{EventCode, OpCode, ResponseCode};
use super::container::{Params, MAX_PARAMS};
use super::ParseError;

/// Bytes in a PTP/IP packet header (u32 length + u32 type).
pub const HEADER_LEN: usize = 8;
/// TCP port of the camera's PTP/IP server (both connections).
pub const PORT: u16 = 15740;
/// Protocol version 1.0 as sent after the friendly name (`00 00 01 00`).
pub const PROTOCOL_VERSION: u32 = 0x0001_0000;
/// Default cap on one Data / End Data packet (the decoder refuses larger declared lengths).
pub const DEFAULT_MAX_PACKET: u32 = 64 << 20;
/// Cap on Init Command Request/Ack packets: header, connection number, GUID, a friendly
/// name of up to 255 UTF-16 units plus NUL, version.
pub const MAX_INIT_LEN: u32 = (HEADER_LEN + 4 + 16 + 2 * 256 + 4) as u32;
/// Start Data's total length when the sender does not know it.
pub const UNKNOWN_TOTAL: u64 = u64::MAX;
/// Most UTF-16 units of a friendly name we encode (longer names are cut).
const MAX_NAME_UNITS: usize = 255;

/// The packet type field. Unknown types survive as `PacketType(n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketType(pub u32);

impl PacketType {
    /// Init Command Request (initiator to responder).
    pub const INIT_COMMAND_REQUEST: PacketType = PacketType(1);
    /// Init Command Ack.
    pub const INIT_COMMAND_ACK: PacketType = PacketType(2);
    /// Init Event Request.
    pub const INIT_EVENT_REQUEST: PacketType = PacketType(3);
    /// Init Event Ack.
    pub const INIT_EVENT_ACK: PacketType = PacketType(4);
    /// Init Fail.
    pub const INIT_FAIL: PacketType = PacketType(5);
    /// Operation Request.
    pub const OPERATION_REQUEST: PacketType = PacketType(6);
    /// Operation Response.
    pub const OPERATION_RESPONSE: PacketType = PacketType(7);
    /// Event.
    pub const EVENT: PacketType = PacketType(8);
    /// Start Data.
    pub const START_DATA: PacketType = PacketType(9);
    /// Data.
    pub const DATA: PacketType = PacketType(10);
    /// Cancel.
    pub const CANCEL: PacketType = PacketType(11);
    /// End Data.
    pub const END_DATA: PacketType = PacketType(12);
    /// Probe Request.
    pub const PROBE_REQUEST: PacketType = PacketType(13);
    /// Probe Response.
    pub const PROBE_RESPONSE: PacketType = PacketType(14);

    /// The Wireshark / CIPA name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "InitCommandRequest",
            2 => "InitCommandAck",
            3 => "InitEventRequest",
            4 => "InitEventAck",
            5 => "InitFail",
            6 => "OperationRequest",
            7 => "OperationResponse",
            8 => "Event",
            9 => "StartData",
            10 => "Data",
            11 => "Cancel",
            12 => "EndData",
            13 => "ProbeRequest",
            14 => "ProbeResponse",
            _ => return None,
        })
    }

    /// The largest declared packet length accepted for this type (header included);
    /// `max_packet` applies to the payload-carrying types.
    pub fn max_len(self, max_packet: u32) -> u32 {
        let h = HEADER_LEN as u32;
        let p = 4 * MAX_PARAMS as u32;
        match self.0 {
            1 | 2 => MAX_INIT_LEN,
            3 | 5 | 11 => h + 4,
            4 | 13 | 14 => h,
            6 => h + 10 + p,
            7 | 8 => h + 6 + p,
            9 => h + 12,
            10 | 12 => max_packet.max(h + 4),
            // Unknown types are skipped by length; keep them small.
            _ => h + 64,
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "packet type {}", self.0),
        }
    }
}

/// Init Fail reasons (docs/protocol/ptpip.md#packet-layouts).
pub mod fail_reason {
    /// The responder does not accept this initiator (not paired).
    pub const REJECTED_INITIATOR: u32 = 1;
    /// The responder is busy with another initiator.
    pub const BUSY: u32 = 2;
    /// No reason given.
    pub const UNSPECIFIED: u32 = 3;
}

/// DataPhaseInfo of an Operation Request.
pub mod data_phase {
    /// Unknown (PlayMemories sends this for every request).
    pub const UNKNOWN: u32 = 0;
    /// No data phase, or data from the responder.
    pub const NO_DATA_OR_IN: u32 = 1;
    /// Data from the initiator.
    pub const OUT: u32 = 2;
}

/// One PTP/IP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Opens the command connection.
    InitCommandRequest {
        /// The initiator's GUID.
        guid: [u8; 16],
        /// The initiator's friendly name.
        name: String,
        /// Absent in some implementations; encoded only when `Some`.
        version: Option<u32>,
    },
    /// Accepts the command connection.
    InitCommandAck {
        /// Connection number for the Init Event Request.
        connection: u32,
        /// The responder's GUID.
        guid: [u8; 16],
        /// The responder's friendly name.
        name: String,
        /// A DSC-RX100M7 ends the ack right after the name.
        version: Option<u32>,
    },
    /// Opens the event connection.
    InitEventRequest {
        /// The connection number from the Init Command Ack.
        connection: u32,
    },
    /// Accepts the event connection.
    InitEventAck,
    /// Refuses a connection.
    InitFail {
        /// Why (see [`fail_reason`]).
        reason: u32,
    },
    /// An operation request.
    OperationRequest {
        /// Data phase info (see [`data_phase`]).
        data_phase: u32,
        /// Operation code.
        code: OpCode,
        /// Transaction id.
        tid: u32,
        /// Parameters.
        params: Params,
    },
    /// An operation response.
    OperationResponse {
        /// Response code.
        code: ResponseCode,
        /// Transaction id it answers.
        tid: u32,
        /// Parameters.
        params: Params,
    },
    /// An event (on the event connection).
    Event {
        /// Event code.
        code: EventCode,
        /// Transaction id.
        tid: u32,
        /// Parameters.
        params: Params,
    },
    /// A data phase begins.
    StartData {
        /// Transaction id.
        tid: u32,
        /// Total bytes of the data phase; [`UNKNOWN_TOTAL`] when not known.
        total: u64,
    },
    /// A middle chunk of a data phase.
    Data {
        /// Transaction id.
        tid: u32,
        /// The chunk.
        payload: Vec<u8>,
    },
    /// Cancels a transaction.
    Cancel {
        /// The transaction to cancel.
        tid: u32,
    },
    /// The last chunk of a data phase; the payload may be empty.
    EndData {
        /// Transaction id.
        tid: u32,
        /// The chunk.
        payload: Vec<u8>,
    },
    /// Are you alive? (either side may ask).
    ProbeRequest,
    /// Yes.
    ProbeResponse,
}

impl Packet {
    /// The packet type on the wire.
    pub fn packet_type(&self) -> PacketType {
        PacketType(match self {
            Packet::InitCommandRequest { .. } => 1,
            Packet::InitCommandAck { .. } => 2,
            Packet::InitEventRequest { .. } => 3,
            Packet::InitEventAck => 4,
            Packet::InitFail { .. } => 5,
            Packet::OperationRequest { .. } => 6,
            Packet::OperationResponse { .. } => 7,
            Packet::Event { .. } => 8,
            Packet::StartData { .. } => 9,
            Packet::Data { .. } => 10,
            Packet::Cancel { .. } => 11,
            Packet::EndData { .. } => 12,
            Packet::ProbeRequest => 13,
            Packet::ProbeResponse => 14,
        })
    }

    /// The transaction id, for packets that carry one.
    pub fn tid(&self) -> Option<u32> {
        match *self {
            Packet::OperationRequest { tid, .. }
            | Packet::OperationResponse { tid, .. }
            | Packet::Event { tid, .. }
            | Packet::StartData { tid, .. }
            | Packet::Data { tid, .. }
            | Packet::Cancel { tid }
            | Packet::EndData { tid, .. } => Some(tid),
            _ => None,
        }
    }

    /// Appends the whole packet (header included) to `out`. The only packets that can
    /// fail are Data / End Data whose payload does not fit a u32 length; `out` is then
    /// left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        if let Packet::Data { tid, payload } | Packet::EndData { tid, payload } = self {
            let end = matches!(self, Packet::EndData { .. });
            out.extend_from_slice(&data_header(end, *tid, payload.len())?);
            out.extend_from_slice(payload);
            return Ok(());
        }
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        let mut w = Writer::new(out);
        w.u32(self.packet_type().0);
        match self {
            Packet::InitCommandRequest {
                guid,
                name,
                version,
            } => {
                w.bytes(guid);
                utf16z(&mut w, name);
                if let Some(v) = version {
                    w.u32(*v);
                }
            }
            Packet::InitCommandAck {
                connection,
                guid,
                name,
                version,
            } => {
                w.u32(*connection).bytes(guid);
                utf16z(&mut w, name);
                if let Some(v) = version {
                    w.u32(*v);
                }
            }
            Packet::InitEventRequest { connection } => {
                w.u32(*connection);
            }
            Packet::InitFail { reason } => {
                w.u32(*reason);
            }
            Packet::OperationRequest {
                data_phase,
                code,
                tid,
                params,
            } => {
                w.u32(*data_phase).u16(code.0).u32(*tid);
                for &p in params.as_slice() {
                    w.u32(p);
                }
            }
            Packet::OperationResponse { code, tid, params } => {
                w.u16(code.0).u32(*tid);
                for &p in params.as_slice() {
                    w.u32(p);
                }
            }
            Packet::Event { code, tid, params } => {
                w.u16(code.0).u32(*tid);
                for &p in params.as_slice() {
                    w.u32(p);
                }
            }
            Packet::StartData { tid, total } => {
                w.u32(*tid).u64(*total);
            }
            Packet::Cancel { tid } => {
                w.u32(*tid);
            }
            Packet::Data { .. }
            | Packet::EndData { .. }
            | Packet::InitEventAck
            | Packet::ProbeRequest
            | Packet::ProbeResponse => {}
        }
        // Everything but Data is a few hundred bytes at most (names are capped).
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// The packet as bytes (see [`encode`](Packet::encode)).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ParseError> {
        let mut v = Vec::new();
        self.encode(&mut v)?;
        Ok(v)
    }

    /// Parses one complete packet: `b` must be exactly the declared length.
    pub fn parse(b: &[u8]) -> Result<Packet, ParseError> {
        let h = Header::parse(b, u32::MAX)?.ok_or(ParseError::Truncated {
            what: "PTP/IP packet",
            field: "header",
            offset: 0,
            need: HEADER_LEN,
            have: b.len(),
        })?;
        if h.length as usize != b.len() {
            return Err(invalid(
                "PTP/IP packet",
                format!("declared length {} but {} bytes given", h.length, b.len()),
            ));
        }
        parse_body(h.kind, &b[HEADER_LEN..])
    }
}

/// The 12-byte head of a Data (or, with `end`, End Data) packet carrying `payload_len`
/// bytes, so a caller can send a payload it streams from elsewhere without building a
/// [`Packet`]. The one Data-header encoder of the crate: an error, never a panic, when
/// the packet would not fit a u32 length.
pub fn data_header(end: bool, tid: u32, payload_len: usize) -> Result<[u8; 12], ParseError> {
    let len = payload_len
        .checked_add(HEADER_LEN + 4)
        .and_then(|l| u32::try_from(l).ok())
        .ok_or(ParseError::TooLarge {
            what: "PTP/IP data packet",
            declared: payload_len as u64,
            max: u64::from(u32::MAX) - (HEADER_LEN as u64 + 4),
        })?;
    let kind = if end {
        PacketType::END_DATA
    } else {
        PacketType::DATA
    };
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&kind.0.to_le_bytes());
    h[8..].copy_from_slice(&tid.to_le_bytes());
    Ok(h)
}

fn utf16z(w: &mut Writer<'_>, s: &str) {
    for u in super::codec::utf16_prefix(s, MAX_NAME_UNITS) {
        w.u16(u);
    }
    w.u16(0);
}

fn invalid(what: &'static str, reason: String) -> ParseError {
    ParseError::Invalid { what, reason }
}

/// A parsed packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Declared length including the 8 header bytes.
    pub length: u32,
    /// Packet type.
    pub kind: PacketType,
}

impl Header {
    /// Parses the first 8 bytes of `b`: `Ok(None)` if fewer are present. Checks the
    /// declared length against the type's bounds and `max_packet` (see
    /// [`PacketType::max_len`]) so nothing is buffered for a hostile length.
    pub fn parse(b: &[u8], max_packet: u32) -> Result<Option<Header>, ParseError> {
        if b.len() < HEADER_LEN {
            return Ok(None);
        }
        let length = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let kind = PacketType(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
        if (length as usize) < HEADER_LEN {
            return Err(invalid(
                "PTP/IP packet",
                format!("{kind} with declared length {length}, shorter than the 8-byte header"),
            ));
        }
        let max = kind.max_len(max_packet);
        if length > max {
            return Err(ParseError::TooLarge {
                what: kind.name().unwrap_or("PTP/IP packet of unknown type"),
                declared: length as u64,
                max: max as u64,
            });
        }
        Ok(Some(Header { length, kind }))
    }

    /// Bytes after the header.
    pub fn payload_len(&self) -> usize {
        self.length as usize - HEADER_LEN
    }
}

fn params(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<Params, ParseError> {
    let rest = r.rest();
    if !rest.len().is_multiple_of(4) {
        return Err(invalid(
            what,
            format!("{} parameter bytes, not a multiple of 4", rest.len()),
        ));
    }
    let n = rest.len() / 4;
    if n > max {
        return Err(invalid(what, format!("{n} parameters (at most {max})")));
    }
    let mut v = [0u32; MAX_PARAMS];
    for slot in v.iter_mut().take(n) {
        *slot = r.u32("Parameter")?;
    }
    Params::new(&v[..n])
}

/// A NUL-terminated UTF-16LE name followed by an optional u32 version.
fn name_and_version(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<(String, Option<u32>), ParseError> {
    let rest = r.rest();
    let mut units = Vec::new();
    let mut end = None;
    for (i, c) in rest.chunks_exact(2).enumerate() {
        let u = u16::from_le_bytes([c[0], c[1]]);
        if u == 0 {
            end = Some(2 * (i + 1));
            break;
        }
        units.push(u);
    }
    let Some(end) = end else {
        return Err(invalid(
            what,
            "friendly name without a NUL terminator".into(),
        ));
    };
    r.take(end, "FriendlyName")?;
    let name = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let version = match r.remaining() {
        0 => None,
        4 => Some(r.u32("ProtocolVersion")?),
        n => {
            return Err(invalid(
                what,
                format!("{n} bytes after the friendly name (expected 0 or 4)"),
            ))
        }
    };
    Ok((name, version))
}

fn guid(r: &mut Reader<'_>) -> Result<[u8; 16], ParseError> {
    let mut g = [0u8; 16];
    g.copy_from_slice(r.take(16, "GUID")?);
    Ok(g)
}

fn expect_end(r: &Reader<'_>, what: &'static str) -> Result<(), ParseError> {
    match r.remaining() {
        0 => Ok(()),
        n => Err(invalid(what, format!("{n} unexpected trailing bytes"))),
    }
}

/// A decoded packet whose Data / End Data payload still lies in the decoder's buffer
/// (no copy; the bytes live until the decoder is next fed or read into).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketRef<'a> {
    /// A middle chunk of a data phase.
    Data {
        /// Transaction id.
        tid: u32,
        /// The chunk, in the decoder's buffer.
        payload: &'a [u8],
    },
    /// The last chunk of a data phase.
    EndData {
        /// Transaction id.
        tid: u32,
        /// The chunk, in the decoder's buffer.
        payload: &'a [u8],
    },
    /// Any other packet, owned.
    Other(Packet),
}

impl PacketRef<'_> {
    /// Copies the payload out of the decoder's buffer.
    pub fn into_owned(self) -> Packet {
        match self {
            PacketRef::Data { tid, payload } => Packet::Data {
                tid,
                payload: payload.to_vec(),
            },
            PacketRef::EndData { tid, payload } => Packet::EndData {
                tid,
                payload: payload.to_vec(),
            },
            PacketRef::Other(p) => p,
        }
    }
}

/// Parses a payload of the given type (the bytes after the 8-byte header).
fn parse_body(kind: PacketType, p: &[u8]) -> Result<Packet, ParseError> {
    parse_body_ref(kind, p).map(PacketRef::into_owned)
}

fn parse_body_ref(kind: PacketType, p: &[u8]) -> Result<PacketRef<'_>, ParseError> {
    let what = kind.name().unwrap_or("PTP/IP packet");
    let mut r = Reader::new(p, what);
    let pk = match kind.0 {
        1 => {
            let guid = guid(&mut r)?;
            let (name, version) = name_and_version(&mut r, what)?;
            Packet::InitCommandRequest {
                guid,
                name,
                version,
            }
        }
        2 => {
            let connection = r.u32("ConnectionNumber")?;
            let guid = guid(&mut r)?;
            let (name, version) = name_and_version(&mut r, what)?;
            Packet::InitCommandAck {
                connection,
                guid,
                name,
                version,
            }
        }
        3 => Packet::InitEventRequest {
            connection: r.u32("ConnectionNumber")?,
        },
        4 => Packet::InitEventAck,
        5 => Packet::InitFail {
            reason: r.u32("Reason")?,
        },
        6 => {
            let data_phase = r.u32("DataPhaseInfo")?;
            let code = OpCode(r.u16("OperationCode")?);
            let tid = r.u32("TransactionID")?;
            Packet::OperationRequest {
                data_phase,
                code,
                tid,
                params: params(&mut r, what, MAX_PARAMS)?,
            }
        }
        7 => {
            let code = ResponseCode(r.u16("ResponseCode")?);
            let tid = r.u32("TransactionID")?;
            Packet::OperationResponse {
                code,
                tid,
                params: params(&mut r, what, MAX_PARAMS)?,
            }
        }
        8 => {
            let code = EventCode(r.u16("EventCode")?);
            let tid = r.u32("TransactionID")?;
            // The spec allows 3; accept up to 5 like the USB event container.
            Packet::Event {
                code,
                tid,
                params: params(&mut r, what, MAX_PARAMS)?,
            }
        }
        9 => {
            let tid = r.u32("TransactionID")?;
            let total = r.u64("TotalDataLength")?;
            Packet::StartData { tid, total }
        }
        10 | 12 => {
            let tid = r.u32("TransactionID")?;
            let payload = r.rest();
            return Ok(if kind.0 == 10 {
                PacketRef::Data { tid, payload }
            } else {
                PacketRef::EndData { tid, payload }
            });
        }
        11 => Packet::Cancel {
            tid: r.u32("TransactionID")?,
        },
        13 => Packet::ProbeRequest,
        14 => Packet::ProbeResponse,
        n => return Err(invalid("PTP/IP packet", format!("unknown packet type {n}"))),
    };
    expect_end(&r, what)?;
    Ok(PacketRef::Other(pk))
}

/// Decodes the first packet of `buf` without keeping state.
///
/// `Ok(None)`: more bytes needed. `Ok(Some((packet, used)))`: `used` bytes were one packet.
/// A header error (length out of bounds) means the stream has lost its framing; a body
/// error is returned as [`DecodeError::Body`] with the length to skip, since the
/// framing is still intact.
pub fn decode(buf: &[u8], max_packet: u32) -> Result<Option<(Packet, usize)>, DecodeError> {
    let Some(h) = Header::parse(buf, max_packet).map_err(DecodeError::Framing)? else {
        return Ok(None);
    };
    let len = h.length as usize;
    if buf.len() < len {
        return Ok(None);
    }
    match parse_body(h.kind, &buf[HEADER_LEN..len]) {
        Ok(p) => Ok(Some((p, len))),
        Err(e) => Err(DecodeError::Body {
            error: e,
            skip: len,
        }),
    }
}

/// Why [`decode`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The header is unusable (length below the minimum or above the cap): the stream
    /// cannot be resynchronised and the connection should be dropped.
    #[error("{0}")]
    Framing(ParseError),
    /// A well-framed packet with a bad payload; `skip` bytes belong to it.
    #[error("{error}")]
    Body {
        /// What was wrong.
        error: ParseError,
        /// Bytes to skip to the next packet.
        skip: usize,
    },
}

impl DecodeError {
    /// The parse error inside, whichever kind.
    pub fn parse_error(&self) -> &ParseError {
        match self {
            DecodeError::Framing(e) | DecodeError::Body { error: e, .. } => e,
        }
    }
}

/// Why [`Decoder::pull`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError<E> {
    /// The caller's read failed.
    #[error("{0}")]
    Io(E),
    /// The bytes are not PTP/IP.
    #[error("{0}")]
    Corrupt(ParseError),
    /// The stream ended inside a packet.
    #[error("the connection closed inside a ptp/ip packet ({0} bytes of it received)")]
    Truncated(usize),
}

/// Bytes a read asks for at most, so one huge Data packet is read in pieces the
/// caller can overlap with its own work (and a buffer grows in steps).
const MAX_READ: usize = 1 << 20;

/// A streaming decoder: feed bytes as they arrive (or let it read them, see
/// [`read_into`](Decoder::read_into) and [`pull`](Decoder::pull)), take packets out.
///
/// This is the one PTP/IP reader of the crate: the host's link, the emulated camera and
/// the test fakes all decode through it, whatever they read from.
///
/// After a body error the bad packet has been consumed and decoding can go on; a
/// framing error is sticky (returned again on every call) because the stream has lost
/// its packet boundaries.
#[derive(Debug)]
pub struct Decoder {
    /// Zero-initialised space; `start..end` holds undecoded bytes. Grows only, so a
    /// read into it never re-zeroes memory.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_packet: u32,
    failed: Option<ParseError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default packet cap.
    pub fn new() -> Decoder {
        Decoder::with_max_packet(DEFAULT_MAX_PACKET)
    }

    /// `max_packet` caps a Data/End Data packet (header included).
    pub fn with_max_packet(max_packet: u32) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            end: 0,
            max_packet,
            failed: None,
        }
    }

    /// The largest Data/End Data packet accepted.
    pub fn max_packet(&self) -> u32 {
        self.max_packet
    }

    /// True after a framing error: the stream is unusable and should be dropped.
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Makes room for `n` more bytes after `end`, moving undecoded bytes to the front
    /// first so memory stays bounded by the largest packet, not by the stream.
    fn reserve(&mut self, n: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.end + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end + n > self.buf.len() {
            self.buf.resize(self.end + n, 0);
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Lets `read` write straight into the decoder's buffer (no copy through a
    /// temporary): it is given room for exactly the bytes the packet being assembled
    /// still needs (at most 1 MiB), so it never reads past that packet, and returns how
    /// many bytes it wrote (0 = end of stream).
    pub fn read_into<E>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let want = self.needed().clamp(1, MAX_READ);
        self.reserve(want);
        let n = read(&mut self.buf[self.end..self.end + want])?.min(want);
        self.end += n;
        Ok(n)
    }

    /// Bytes buffered but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// How many more bytes the packet being assembled needs (at least 1 when the header
    /// itself is incomplete, 0 when a packet is ready or after a framing error). Lets a
    /// socket reader size its next read so it never reads past one packet.
    pub fn needed(&self) -> usize {
        let b = self.pending();
        match Header::parse(b, self.max_packet) {
            Ok(None) => HEADER_LEN - b.len(),
            Ok(Some(h)) => (h.length as usize).saturating_sub(b.len()),
            Err(_) => 0,
        }
    }

    /// The type of the next packet, once all of it is buffered (`None` before).
    pub fn peek_type(&self) -> Option<PacketType> {
        let b = self.pending();
        match Header::parse(b, self.max_packet) {
            Ok(Some(h)) if b.len() >= h.length as usize => Some(h.kind),
            _ => None,
        }
    }

    /// Whether [`decode_ref`](Decoder::decode_ref) returns something other than
    /// `Ok(None)`: a whole packet is buffered, or the stream is corrupt.
    pub fn ready(&self) -> bool {
        self.failed.is_some()
            || match Header::parse(self.pending(), self.max_packet) {
                Ok(None) => false,
                Ok(Some(h)) => self.buffered() >= h.length as usize,
                Err(_) => true,
            }
    }

    /// The next packet, `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<Packet>, ParseError> {
        Ok(self.decode_ref()?.map(PacketRef::into_owned))
    }

    /// The next packet with a Data payload borrowed from the buffer.
    pub fn decode_ref(&mut self) -> Result<Option<PacketRef<'_>>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let h = match Header::parse(self.pending(), self.max_packet) {
            Ok(None) => return Ok(None),
            Ok(Some(h)) => h,
            Err(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
        };
        let len = h.length as usize;
        if self.buffered() < len {
            return Ok(None);
        }
        let at = self.start;
        self.start += len;
        parse_body_ref(h.kind, &self.buf[at + HEADER_LEN..at + len]).map(Some)
    }

    /// Reads with `read` until a whole packet is buffered and returns it: the blocking
    /// loop every PTP/IP peer needs, with the I/O left to the caller. `Ok(None)` is a
    /// clean end of stream between packets.
    pub fn pull<E>(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Option<Packet>, PullError<E>> {
        Ok(self.pull_ref(&mut read)?.map(PacketRef::into_owned))
    }

    /// [`pull`](Decoder::pull), with the Data payload borrowed from the buffer.
    pub fn pull_ref<E>(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Option<PacketRef<'_>>, PullError<E>> {
        while !self.ready() {
            if self.read_into(&mut read).map_err(PullError::Io)? == 0 {
                return match self.buffered() {
                    0 => Ok(None),
                    n => Err(PullError::Truncated(n)),
                };
            }
        }
        self.decode_ref().map_err(PullError::Corrupt)
    }

    /// At end of stream: an error if a partial packet is left over.
    pub fn finish(&self) -> Result<(), ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.buffered() {
            0 => Ok(()),
            have => Err(ParseError::Truncated {
                what: "PTP/IP packet",
                field: "stream end",
                offset: 0,
                need: have + self.needed().max(1),
                have,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(v: &[u32]) -> Params {
        Params::new(v).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn vectors() -> Option<std::path::PathBuf> {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
        if d.is_dir() {
            Some(d)
        } else {
            eprintln!("note: {} is absent, vector test skipped", d.display());
            None
        }
    }

    /// Decodes a whole buffer with a fresh decoder, in pieces of `step` bytes.
    fn decode_all(b: &[u8], step: usize) -> Vec<Result<Packet, String>> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in b.chunks(step.max(1)) {
            d.feed(chunk);
            loop {
                match d.decode() {
                    Ok(Some(p)) => out.push(Ok(p)),
                    Ok(None) => break,
                    Err(e) if d.is_failed() => {
                        out.push(Err(e.to_string()));
                        return out;
                    }
                    Err(e) => out.push(Err(e.to_string())),
                }
            }
        }
        if let Err(e) = d.finish() {
            out.push(Err(e.to_string()));
        }
        out
    }

    fn one(b: &[u8]) -> Packet {
        let v = decode_all(b, b.len());
        assert_eq!(v.len(), 1, "{v:?}");
        let pk = v.into_iter().next().unwrap().unwrap();
        let mut re = Vec::new();
        pk.encode(&mut re).unwrap();
        assert_eq!(re, b, "re-encoding {pk:?}");
        pk
    }

    fn opreq(dp: u32, code: u16, tid: u32, params: &[u32]) -> Packet {
        Packet::OperationRequest {
            data_phase: dp,
            code: OpCode(code),
            tid,
            params: p(params),
        }
    }

    #[test]
    fn sony_send_to_computer_vectors() {
        let Some(dir) = vectors() else { return };
        let dir = dir.join("ptpip-sony");
        let ext = |sub: u16, payload: &[u8]| {
            let mut v = Vec::new();
            crate::ptp::sony::ExtCmd {
                sub_command: sub,
                direction: 0,
                payload,
            }
            .encode(&mut v);
            v
        };
        let mut guid = [0u8; 16];
        guid[8..].copy_from_slice(&hex("ffff080027f5164f"));
        let table: Vec<(&str, Packet)> = vec![
            (
                "pmh_init_cmd_req.bin",
                Packet::InitCommandRequest {
                    guid,
                    name: "WIN7-VM".into(),
                    version: Some(PROTOCOL_VERSION),
                },
            ),
            ("start_9280_opreq.bin", opreq(0, 0x9280, 0x23, &[4])),
            (
                "start_9280_startdata.bin",
                Packet::StartData {
                    tid: 0x23,
                    total: 18,
                },
            ),
            (
                "start_9280_data.bin",
                Packet::Data {
                    tid: 0x23,
                    payload: ext(2, &[1, 1]),
                },
            ),
            (
                "start_9280_enddata.bin",
                Packet::EndData {
                    tid: 0x23,
                    payload: vec![],
                },
            ),
            ("stop_9281_opreq.bin", opreq(0, 0x9281, 0x2c6, &[4])),
            ("stop_9280_opreq.bin", opreq(0, 0x9280, 0x2c7, &[4])),
            (
                "stop_9280_startdata.bin",
                Packet::StartData {
                    tid: 0x2c7,
                    total: 16,
                },
            ),
            (
                "stop_9280_data.bin",
                Packet::Data {
                    tid: 0x2c7,
                    payload: ext(5, &[]),
                },
            ),
            (
                "stop_9280_enddata.bin",
                Packet::EndData {
                    tid: 0x2c7,
                    payload: vec![],
                },
            ),
            ("pmh_9280_subcmd1_opreq.bin", opreq(0, 0x9280, 0x15, &[4])),
            (
                "pmh_9280_subcmd1_data.bin",
                Packet::Data {
                    tid: 0x15,
                    payload: ext(1, &[]),
                },
            ),
        ];
        for (file, want) in &table {
            let b = std::fs::read(dir.join(file)).unwrap();
            assert_eq!(&one(&b), want, "{file}");
        }
        // Every file is exactly one packet that re-encodes to the same bytes; the
        // concatenations are the expected packet sequences.
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".bin"))
            .collect();
        names.sort();
        assert!(names.len() >= 20, "{names:?}");
        for n in &names {
            let b = std::fs::read(dir.join(n)).unwrap();
            if n.contains("sequence") {
                let v = decode_all(&b, 7);
                assert!(v.iter().all(|r| r.is_ok()), "{n}: {v:?}");
                let types: Vec<u32> = v
                    .iter()
                    .map(|r| r.as_ref().unwrap().packet_type().0)
                    .collect();
                let want: &[u32] = if n.starts_with("start") {
                    &[6, 9, 10, 12]
                } else {
                    &[6, 6, 9, 10, 12]
                };
                assert_eq!(types, want, "{n}");
            } else {
                let pk = one(&b);
                if n.contains("opreq") {
                    assert_eq!(pk.packet_type(), PacketType::OPERATION_REQUEST, "{n}");
                }
            }
        }
        let ext_of = |f: &str| match one(&std::fs::read(dir.join(f)).unwrap()) {
            Packet::Data { payload, .. } => payload,
            other => panic!("{other:?}"),
        };
        for (f, want) in [
            ("start_9280_data.bin", (2u16, vec![1u8, 1])),
            ("stop_9280_data.bin", (5, vec![])),
            ("pmh_9280_subcmd1_data.bin", (1, vec![])),
        ] {
            let d = ext_of(f);
            let e = crate::ptp::sony::ExtCmd::parse(&d).unwrap();
            assert_eq!(
                (e.sub_command, e.direction, e.payload.to_vec()),
                (want.0, 0, want.1)
            );
        }
    }

    /// Value of `"key": ...` in one line of the flat decoded.jsonl (no nesting but the
    /// params list), as raw text without quotes.
    fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let pat = format!("\"{key}\": ");
        let at = line.find(&pat)? + pat.len();
        let rest = &line[at..];
        let end = if rest.starts_with('[') {
            rest.find(']')? + 1
        } else if let Some(r) = rest.strip_prefix('"') {
            r.find('"')? + 2
        } else {
            rest.find([',', '}'])?
        };
        Some(rest[..end].trim_matches('"'))
    }

    fn num(s: &str) -> u64 {
        match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).unwrap(),
            None => s.parse().unwrap(),
        }
    }

    /// Every `"data": "hex"` string of a rocc flow, in file order (initialPacket first,
    /// then each step's sent packet and responses). Scanning the text rather than
    /// parsing JSON also copes with TakePic's trailing commas.
    fn flow_data(text: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("\"data\": \"") {
            rest = &rest[i + 9..];
            let end = rest.find('"').unwrap();
            out.push(hex(&rest[..end]));
            rest = &rest[end..];
        }
        out
    }

    fn describe(r: &Result<Packet, String>) -> String {
        match r {
            Err(_) => "error".into(),
            Ok(pk) => {
                let mut s = pk.packet_type().name().unwrap().to_string();
                match pk {
                    Packet::InitCommandRequest { name, version, .. } => {
                        s += &format!(" name={name} version={version:?}")
                    }
                    Packet::InitCommandAck {
                        connection,
                        name,
                        version,
                        ..
                    } => s += &format!(" conn={connection} name={name} version={version:?}"),
                    Packet::InitEventRequest { connection } => s += &format!(" value={connection}"),
                    Packet::OperationRequest {
                        data_phase,
                        code,
                        tid,
                        params,
                    } => {
                        s += &format!(
                            " dp={data_phase} code={:#06x} tid={tid} params={:?}",
                            code.0,
                            params.as_slice()
                        )
                    }
                    Packet::OperationResponse { code, tid, params } => {
                        s += &format!(
                            " code={:#06x} tid={tid} params={:?}",
                            code.0,
                            params.as_slice()
                        )
                    }
                    Packet::Event { code, tid, params } => {
                        s += &format!(
                            " code={:#06x} tid={tid} params={:?}",
                            code.0,
                            params.as_slice()
                        )
                    }
                    Packet::StartData { tid, total } => s += &format!(" tid={tid} total={total}"),
                    Packet::Data { tid, payload } | Packet::EndData { tid, payload } => {
                        s += &format!(" tid={tid} len={}", payload.len())
                    }
                    _ => {}
                }
                s
            }
        }
    }

    fn expected(line: &str) -> String {
        if field(line, "error").is_some() {
            return "error".into();
        }
        let t = field(line, "type_name").unwrap();
        let mut s = t.to_string();
        let params = || -> Vec<u32> {
            let l = field(line, "params").unwrap();
            l.trim_matches(['[', ']'])
                .split(',')
                .map(|x| x.trim().trim_matches('"'))
                .filter(|x| !x.is_empty())
                .map(|x| num(x) as u32)
                .collect()
        };
        let version = || match field(line, "version").unwrap() {
            "null" => "None".to_string(),
            v => format!("Some({})", num(v)),
        };
        match t {
            "InitCommandRequest" => {
                s += &format!(
                    " name={} version={}",
                    field(line, "name").unwrap(),
                    version()
                )
            }
            "InitCommandAck" => {
                s += &format!(
                    " conn={} name={} version={}",
                    field(line, "conn").unwrap(),
                    field(line, "name").unwrap(),
                    version()
                )
            }
            "InitEventRequest" => s += &format!(" value={}", field(line, "value").unwrap()),
            "OperationRequest" => {
                s += &format!(
                    " dp={} code={} tid={} params={:?}",
                    field(line, "dataphase").unwrap(),
                    field(line, "code").unwrap(),
                    field(line, "tid").unwrap(),
                    params()
                )
            }
            "OperationResponse" | "Event" => {
                s += &format!(
                    " code={} tid={} params={:?}",
                    field(line, "code").unwrap(),
                    field(line, "tid").unwrap(),
                    params()
                )
            }
            "StartData" => {
                s += &format!(
                    " tid={} total={}",
                    field(line, "tid").unwrap(),
                    field(line, "total").unwrap()
                )
            }
            "Data" | "EndData" => {
                s += &format!(
                    " tid={} len={}",
                    field(line, "tid").unwrap(),
                    field(line, "payload_len").unwrap()
                )
            }
            _ => {}
        }
        s
    }

    #[test]
    fn rocc_flows_match_the_decoded_expectations() {
        let Some(dir) = vectors() else { return };
        let dir = dir.join("rocc");
        let mut flows = 0;
        let mut errors = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let Some(stem) = name.strip_suffix(".decoded.jsonl") else {
                continue;
            };
            let jsonl = std::fs::read_to_string(&path).unwrap();
            let flow = std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap();
            let want: Vec<String> = jsonl.lines().map(expected).collect();
            let mut got = Vec::new();
            for data in flow_data(&flow) {
                // Each hex string is one TCP read of the original client, possibly
                // several packets; decode it on its own stream.
                got.extend(decode_all(&data, data.len()).iter().map(describe));
                // And split at every byte boundary: the same result.
                for cut in 1..data.len().min(64) {
                    let mut d = Decoder::new();
                    let mut a = Vec::new();
                    for part in [&data[..cut], &data[cut..]] {
                        d.feed(part);
                        loop {
                            match d.decode() {
                                Ok(Some(p)) => a.push(Ok(p)),
                                Ok(None) => break,
                                Err(e) => {
                                    a.push(Err(e.to_string()));
                                    assert!(!d.is_failed(), "{stem}: framing lost");
                                }
                            }
                        }
                    }
                    if d.finish().is_err() {
                        a.push(Err(String::new()));
                    }
                    let a: Vec<String> = a.iter().map(describe).collect();
                    let whole: Vec<String> =
                        decode_all(&data, data.len()).iter().map(describe).collect();
                    assert_eq!(a, whole, "{stem} cut {cut}");
                }
            }
            assert_eq!(got, want, "{stem}");
            errors += want.iter().filter(|w| *w == "error").count();
            flows += 1;
        }
        assert!(flows >= 8, "found {flows} flows");
        assert_eq!(errors, 3, "GetEvent and TakePic step 9 fragments");
    }

    fn sample_packets() -> Vec<Packet> {
        vec![
            Packet::InitCommandRequest {
                guid: *b"8810B99668841894",
                name: "iPhone Xs Max".into(),
                version: Some(PROTOCOL_VERSION),
            },
            Packet::InitCommandAck {
                connection: 1,
                guid: [7; 16],
                name: "DSC-RX100M7".into(),
                version: None,
            },
            Packet::InitEventRequest { connection: 1 },
            Packet::InitEventAck,
            Packet::InitFail {
                reason: fail_reason::REJECTED_INITIATOR,
            },
            opreq(1, 0x1007, 9, &[0x10001, 0, 0xFFFF_FFFF]),
            Packet::OperationResponse {
                code: ResponseCode(0x2001),
                tid: 9,
                params: p(&[12]),
            },
            Packet::Event {
                code: EventCode(0xC203),
                tid: 0xFFFF_FFFF,
                params: p(&[0x5004]),
            },
            Packet::StartData {
                tid: 9,
                total: 5 << 30,
            },
            Packet::Data {
                tid: 9,
                payload: (0..300u32).map(|x| x as u8).collect(),
            },
            Packet::Cancel { tid: 9 },
            Packet::EndData {
                tid: 9,
                payload: vec![],
            },
            Packet::EndData {
                tid: 9,
                payload: vec![0x18, 0x01],
            },
            Packet::ProbeRequest,
            Packet::ProbeResponse,
        ]
    }

    #[test]
    fn every_packet_split_at_every_byte_boundary_parses_the_same() {
        let pks = sample_packets();
        let mut stream = Vec::new();
        for pk in &pks {
            pk.encode(&mut stream).unwrap();
        }
        for pk in &pks {
            let mut b = Vec::new();
            pk.encode(&mut b).unwrap();
            for cut in 0..=b.len() {
                let mut d = Decoder::new();
                d.feed(&b[..cut]);
                let first = d.decode().unwrap();
                if cut < b.len() {
                    assert_eq!(first, None, "{pk:?} cut {cut}");
                    assert!(d.needed() > 0);
                    d.feed(&b[cut..]);
                    assert_eq!(d.decode().unwrap().as_ref(), Some(pk));
                } else {
                    assert_eq!(first.as_ref(), Some(pk));
                }
                assert_eq!(d.decode().unwrap(), None);
                d.finish().unwrap();
            }
        }
        for step in 1..40 {
            let got: Vec<Packet> = decode_all(&stream, step)
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got, pks, "step {step}");
        }
    }

    #[test]
    fn hostile_lengths_are_refused_before_buffering() {
        // A Data packet declaring 4 GiB.
        let mut d = Decoder::new();
        d.feed(&hex("ffffffff 0a000000 01000000"));
        let e = d.decode().unwrap_err();
        assert!(
            matches!(
                e,
                ParseError::TooLarge {
                    declared: 0xFFFF_FFFF,
                    ..
                }
            ),
            "{e}"
        );
        // Sticky: the stream has lost its framing.
        assert!(d.decode().is_err());
        // An Init ack declaring 1 MiB; a response declaring 100 bytes.
        for h in ["00001000 02000000", "64000000 07000000"] {
            let mut d = Decoder::new();
            d.feed(&hex(h));
            assert!(
                matches!(d.decode(), Err(ParseError::TooLarge { .. })),
                "{h}"
            );
        }
        // Lengths below the header or the type's minimum.
        for h in ["00000000 0d000000", "07000000 0d000000"] {
            let mut d = Decoder::new();
            d.feed(&hex(h));
            assert!(matches!(d.decode(), Err(ParseError::Invalid { .. })), "{h}");
            assert!(d.is_failed());
        }
        // Below the type's minimum but framed: reported, skipped, stream kept.
        let mut d = Decoder::new();
        d.feed(&hex("0a000000 06000000 0100 08000000 0d000000"));
        assert!(matches!(d.decode(), Err(ParseError::Truncated { .. })));
        assert_eq!(d.decode().unwrap(), Some(Packet::ProbeRequest));
        // A caller-chosen cap.
        let mut d = Decoder::with_max_packet(1024);
        d.feed(&hex("01040000 0a000000"));
        assert!(matches!(
            d.decode(),
            Err(ParseError::TooLarge { max: 1024, .. })
        ));
    }

    #[test]
    fn body_errors_skip_the_packet_and_keep_the_stream() {
        let mut b = hex("0c000000 08000000 03c20400"); // rocc TakePic: a 12-byte "Event"
        Packet::ProbeRequest.encode(&mut b).unwrap();
        let v = decode_all(&b, 3);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].as_ref().unwrap_err().contains("Event"), "{v:?}");
        assert_eq!(v[1], Ok(Packet::ProbeRequest));
        // A response with a half parameter, an ack name without NUL, junk after a name.
        for h in [
            "10000000 07000000 0120 00000000 0000",
            "20000000 02000000 01000000 00000000000000000000000000000000 4100 4200",
            "22000000 01000000 00000000000000000000000000000000 4100 0000 010203040506",
        ] {
            let b = hex(h);
            assert_eq!(b.len(), b[0] as usize, "{h}");
            let v = decode_all(&b, 5);
            assert!(v.len() == 1 && v[0].is_err(), "{h}: {v:?}");
        }
    }

    #[test]
    fn start_data_keeps_all_64_bits_and_probe_is_8_bytes() {
        let mut b = Vec::new();
        Packet::StartData {
            tid: 1,
            total: 0x1_2345_6789,
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(b, hex("14000000 09000000 01000000 8967452301000000"));
        let mut b = Vec::new();
        Packet::ProbeResponse.encode(&mut b).unwrap();
        assert_eq!(b, hex("08000000 0e000000"));
        let mut b = Vec::new();
        b.extend_from_slice(&data_header(true, 5, 2).unwrap());
        b.extend_from_slice(&[0x18, 0x01]);
        assert_eq!(
            Packet::parse(&b).unwrap(),
            Packet::EndData {
                tid: 5,
                payload: vec![0x18, 0x01]
            }
        );
    }

    fn arb_params(max: usize) -> impl Strategy<Value = Params> {
        proptest::collection::vec(any::<u32>(), 0..=max).prop_map(|v| Params::new(&v).unwrap())
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let name = "[a-zA-Z0-9 äöü€-]{0,40}";
        prop_oneof![
            (any::<[u8; 16]>(), name, any::<Option<u32>>()).prop_map(|(guid, name, version)| {
                Packet::InitCommandRequest {
                    guid,
                    name,
                    version,
                }
            }),
            (any::<u32>(), any::<[u8; 16]>(), name, any::<Option<u32>>()).prop_map(
                |(connection, guid, name, version)| Packet::InitCommandAck {
                    connection,
                    guid,
                    name,
                    version
                }
            ),
            any::<u32>().prop_map(|connection| Packet::InitEventRequest { connection }),
            Just(Packet::InitEventAck),
            any::<u32>().prop_map(|reason| Packet::InitFail { reason }),
            (any::<u32>(), any::<u16>(), any::<u32>(), arb_params(5)).prop_map(
                |(data_phase, c, tid, params)| Packet::OperationRequest {
                    data_phase,
                    code: OpCode(c),
                    tid,
                    params
                }
            ),
            (any::<u16>(), any::<u32>(), arb_params(5)).prop_map(|(c, tid, params)| {
                Packet::OperationResponse {
                    code: ResponseCode(c),
                    tid,
                    params,
                }
            }),
            (any::<u16>(), any::<u32>(), arb_params(3)).prop_map(|(c, tid, params)| {
                Packet::Event {
                    code: EventCode(c),
                    tid,
                    params,
                }
            }),
            (any::<u32>(), any::<u64>()).prop_map(|(tid, total)| Packet::StartData { tid, total }),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..600))
                .prop_map(|(tid, payload)| Packet::Data { tid, payload }),
            any::<u32>().prop_map(|tid| Packet::Cancel { tid }),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..600))
                .prop_map(|(tid, payload)| Packet::EndData { tid, payload }),
            Just(Packet::ProbeRequest),
            Just(Packet::ProbeResponse),
        ]
    }

    /// The name is cut at its unit limit between characters, never inside a surrogate
    /// pair (same writer bug as the PTP string one found by fuzz target ptp_dataset).
    #[test]
    fn long_names_are_cut_between_characters() {
        let p = Packet::InitCommandRequest {
            guid: [1; 16],
            name: format!("{}\u{1F4F7}", "a".repeat(254)),
            version: Some(PROTOCOL_VERSION),
        };
        let mut v = Vec::new();
        p.encode(&mut v).unwrap();
        let (back, used) = decode(&v, DEFAULT_MAX_PACKET).unwrap().unwrap();
        assert_eq!(used, v.len());
        let Packet::InitCommandRequest { name, .. } = back else {
            panic!("{back:?}")
        };
        assert_eq!(name, "a".repeat(254));
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(pks in proptest::collection::vec(arb_packet(), 1..8), step in 1usize..97) {
            let mut b = Vec::new();
            for pk in &pks {
                pk.encode(&mut b).unwrap();
            }
            let got: Vec<Result<Packet, String>> = decode_all(&b, step);
            let want: Vec<Result<Packet, String>> = pks.into_iter().map(Ok).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..50) {
            let _ = decode_all(&b, step);
            let _ = Packet::parse(&b);
        }

        #[test]
        fn random_bodies_after_valid_headers_never_panic(t in 1u32..16, body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut b = Vec::new();
            b.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&body);
            let _ = decode_all(&b, 1);
        }
    }
}
