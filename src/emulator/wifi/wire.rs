//! PRIVATE STAND-IN for the shared PTP/IP codec (`crate::ptp::ptpip`, being written on
//! the `wifi` branch): just the packet framing the emulated camera needs (ptpip.md §1–§2).
//! To be replaced by the shared codec once it lands; nothing outside `emulator::wifi`
//! uses it. Must not allocate more than the caller's cap for any declared length.

use std::io::{self, Read, Write};

pub const INIT_COMMAND_REQUEST: u32 = 1;
pub const INIT_COMMAND_ACK: u32 = 2;
pub const INIT_EVENT_REQUEST: u32 = 3;
pub const INIT_EVENT_ACK: u32 = 4;
pub const INIT_FAIL: u32 = 5;
pub const OPERATION_REQUEST: u32 = 6;
pub const OPERATION_RESPONSE: u32 = 7;
pub const EVENT: u32 = 8;
pub const START_DATA: u32 = 9;
pub const DATA: u32 = 10;
pub const CANCEL: u32 = 11;
pub const END_DATA: u32 = 12;
pub const PROBE_REQUEST: u32 = 13;
pub const PROBE_RESPONSE: u32 = 14;

/// One PTP/IP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    InitCommandRequest {
        guid: [u8; 16],
        name: String,
        version: Option<u32>,
    },
    InitCommandAck {
        connection: u32,
        guid: [u8; 16],
        name: String,
        version: Option<u32>,
    },
    InitEventRequest {
        connection: u32,
    },
    InitEventAck,
    InitFail {
        reason: u32,
    },
    OperationRequest {
        data_phase: u32,
        op: u16,
        tid: u32,
        params: Vec<u32>,
    },
    OperationResponse {
        code: u16,
        tid: u32,
        params: Vec<u32>,
    },
    Event {
        code: u16,
        tid: u32,
        params: Vec<u32>,
    },
    StartData {
        tid: u32,
        total: u64,
    },
    Data {
        tid: u32,
        payload: Vec<u8>,
    },
    Cancel {
        tid: u32,
    },
    EndData {
        tid: u32,
        payload: Vec<u8>,
    },
    ProbeRequest,
    ProbeResponse,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn u16_at(b: &[u8], at: usize) -> io::Result<u16> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| bad(format!("ptp/ip packet too short for a u16 at {at}")))
}

fn u32_at(b: &[u8], at: usize) -> io::Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| bad(format!("ptp/ip packet too short for a u32 at {at}")))
}

fn params(b: &[u8], at: usize, max: usize) -> io::Result<Vec<u32>> {
    let rest = b.get(at..).unwrap_or(&[]);
    if rest.len() % 4 != 0 || rest.len() / 4 > max {
        return Err(bad(format!(
            "ptp/ip parameter block of {} bytes is not 0..={max} u32s",
            rest.len()
        )));
    }
    Ok(rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A NUL-terminated UTF-16LE name; returns the name and the offset after it.
fn utf16z(b: &[u8], at: usize) -> io::Result<(String, usize)> {
    let mut units = Vec::new();
    let mut i = at;
    loop {
        let u = u16_at(b, i).map_err(|_| bad("ptp/ip friendly name is not NUL-terminated"))?;
        i += 2;
        if u == 0 {
            break;
        }
        units.push(u);
    }
    let s = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Ok((s, i))
}

fn put_utf16z(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out.extend_from_slice(&[0, 0]);
}

fn guid_at(b: &[u8], at: usize) -> io::Result<[u8; 16]> {
    let s = b
        .get(at..at + 16)
        .ok_or_else(|| bad("ptp/ip packet too short for a guid"))?;
    let mut g = [0u8; 16];
    g.copy_from_slice(s);
    Ok(g)
}

impl Packet {
    /// Parses one whole packet (8-byte header included).
    pub fn parse(b: &[u8]) -> io::Result<Packet> {
        let ty = u32_at(b, 4)?;
        Ok(match ty {
            INIT_COMMAND_REQUEST | INIT_COMMAND_ACK => {
                let (connection, g_at) = if ty == INIT_COMMAND_ACK {
                    (u32_at(b, 8)?, 12)
                } else {
                    (0, 8)
                };
                let guid = guid_at(b, g_at)?;
                let (name, end) = utf16z(b, g_at + 16)?;
                let version = u32_at(b, end).ok();
                if ty == INIT_COMMAND_ACK {
                    Packet::InitCommandAck {
                        connection,
                        guid,
                        name,
                        version,
                    }
                } else {
                    Packet::InitCommandRequest {
                        guid,
                        name,
                        version,
                    }
                }
            }
            INIT_EVENT_REQUEST => Packet::InitEventRequest {
                connection: u32_at(b, 8)?,
            },
            INIT_EVENT_ACK => Packet::InitEventAck,
            INIT_FAIL => Packet::InitFail {
                reason: u32_at(b, 8)?,
            },
            OPERATION_REQUEST => Packet::OperationRequest {
                data_phase: u32_at(b, 8)?,
                op: u16_at(b, 12)?,
                tid: u32_at(b, 14)?,
                params: params(b, 18, 5)?,
            },
            OPERATION_RESPONSE => Packet::OperationResponse {
                code: u16_at(b, 8)?,
                tid: u32_at(b, 10)?,
                params: params(b, 14, 5)?,
            },
            EVENT => Packet::Event {
                code: u16_at(b, 8)?,
                tid: u32_at(b, 10)?,
                params: params(b, 14, 3)?,
            },
            START_DATA => {
                let lo = u32_at(b, 12)? as u64;
                let hi = u32_at(b, 16).unwrap_or(0) as u64;
                Packet::StartData {
                    tid: u32_at(b, 8)?,
                    total: lo | (hi << 32),
                }
            }
            DATA | END_DATA => {
                let tid = u32_at(b, 8)?;
                let payload = b[12..].to_vec();
                if ty == DATA {
                    Packet::Data { tid, payload }
                } else {
                    Packet::EndData { tid, payload }
                }
            }
            CANCEL => Packet::Cancel { tid: u32_at(b, 8)? },
            PROBE_REQUEST => Packet::ProbeRequest,
            PROBE_RESPONSE => Packet::ProbeResponse,
            other => return Err(bad(format!("unknown ptp/ip packet type {other}"))),
        })
    }

    /// Encodes the whole packet, header included.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        let ty = match self {
            Packet::InitCommandRequest {
                guid,
                name,
                version,
            } => {
                b.extend_from_slice(guid);
                put_utf16z(&mut b, name);
                if let Some(v) = version {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                INIT_COMMAND_REQUEST
            }
            Packet::InitCommandAck {
                connection,
                guid,
                name,
                version,
            } => {
                b.extend_from_slice(&connection.to_le_bytes());
                b.extend_from_slice(guid);
                put_utf16z(&mut b, name);
                if let Some(v) = version {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                INIT_COMMAND_ACK
            }
            Packet::InitEventRequest { connection } => {
                b.extend_from_slice(&connection.to_le_bytes());
                INIT_EVENT_REQUEST
            }
            Packet::InitEventAck => INIT_EVENT_ACK,
            Packet::InitFail { reason } => {
                b.extend_from_slice(&reason.to_le_bytes());
                INIT_FAIL
            }
            Packet::OperationRequest {
                data_phase,
                op,
                tid,
                params,
            } => {
                b.extend_from_slice(&data_phase.to_le_bytes());
                b.extend_from_slice(&op.to_le_bytes());
                b.extend_from_slice(&tid.to_le_bytes());
                for p in params {
                    b.extend_from_slice(&p.to_le_bytes());
                }
                OPERATION_REQUEST
            }
            Packet::OperationResponse { code, tid, params }
            | Packet::Event { code, tid, params } => {
                b.extend_from_slice(&code.to_le_bytes());
                b.extend_from_slice(&tid.to_le_bytes());
                for p in params {
                    b.extend_from_slice(&p.to_le_bytes());
                }
                if matches!(self, Packet::Event { .. }) {
                    EVENT
                } else {
                    OPERATION_RESPONSE
                }
            }
            Packet::StartData { tid, total } => {
                b.extend_from_slice(&tid.to_le_bytes());
                b.extend_from_slice(&total.to_le_bytes());
                START_DATA
            }
            Packet::Data { tid, payload } | Packet::EndData { tid, payload } => {
                b.extend_from_slice(&tid.to_le_bytes());
                b.extend_from_slice(payload);
                if matches!(self, Packet::Data { .. }) {
                    DATA
                } else {
                    END_DATA
                }
            }
            Packet::Cancel { tid } => {
                b.extend_from_slice(&tid.to_le_bytes());
                CANCEL
            }
            Packet::ProbeRequest => PROBE_REQUEST,
            Packet::ProbeResponse => PROBE_RESPONSE,
        };
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_le_bytes());
        b[4..8].copy_from_slice(&ty.to_le_bytes());
        b
    }
}

/// The 12-byte head of a Data/End Data packet carrying `payload_len` bytes, so a large
/// payload can be streamed from disk without building the packet in memory.
pub fn data_head(end: bool, tid: u32, payload_len: usize) -> io::Result<[u8; 12]> {
    let len = u32::try_from(payload_len)
        .ok()
        .and_then(|n| n.checked_add(12))
        .ok_or_else(|| bad("ptp/ip data chunk too large"))?;
    let mut h = [0u8; 12];
    h[0..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&(if end { END_DATA } else { DATA }).to_le_bytes());
    h[8..12].copy_from_slice(&tid.to_le_bytes());
    Ok(h)
}

/// Reads one packet. `Ok(None)` is a clean end of stream at a packet boundary; a declared
/// length above `max_len` is refused before allocating.
pub fn read_packet(r: &mut impl Read, max_len: usize) -> io::Result<Option<Packet>> {
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len < 8 || len > max_len {
        return Err(bad(format!(
            "ptp/ip packet length {len} outside 8..={max_len}"
        )));
    }
    let mut b = vec![0u8; len];
    b[..8].copy_from_slice(&head);
    r.read_exact(&mut b[8..])?;
    Packet::parse(&b).map(Some)
}

pub fn write_packet(w: &mut impl Write, p: &Packet) -> io::Result<()> {
    w.write_all(&p.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_the_pmh_init_vector() {
        let pmh = [
            0x2c, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 0, 0x27, 0xf5, 0x16,
            0x4f, 0x57, 0, 0x49, 0, 0x4e, 0, 0x37, 0, 0x2d, 0, 0x56, 0, 0x4d, 0, 0, 0, 0, 0, 1, 0,
        ];
        let p = Packet::parse(&pmh).unwrap();
        match &p {
            Packet::InitCommandRequest { name, version, .. } => {
                assert_eq!(name, "WIN7-VM");
                assert_eq!(*version, Some(0x0001_0000));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.encode(), pmh);
        for p in [
            Packet::InitCommandAck {
                connection: 1,
                guid: [7; 16],
                name: "ILCE-6400".into(),
                version: None,
            },
            Packet::OperationRequest {
                data_phase: 1,
                op: 0x1007,
                tid: 3,
                params: vec![1, 0, 0xffff_ffff],
            },
            Packet::StartData {
                tid: 9,
                total: 5 << 32,
            },
            Packet::EndData {
                tid: 9,
                payload: vec![],
            },
        ] {
            assert_eq!(Packet::parse(&p.encode()).unwrap(), p);
        }
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0x7f, 6, 0, 0, 0];
        assert!(read_packet(&mut r, 1 << 20).is_err());
        let mut r: &[u8] = &[4, 0, 0, 0, 6, 0, 0, 0];
        assert!(read_packet(&mut r, 1 << 20).is_err());
        assert!(Packet::parse(&[8, 0, 0, 0, 1, 0, 0, 0]).is_err());
    }
}
