//! PTP-over-USB bulk containers (docs/protocol/ptp-usb.md#containers): a 12-byte header,
//! then parameters or a dataset. Encoding writes into caller-owned buffers; decoding
//! borrows.
//!
//! `peek` is the streaming entry point (tokio-util `Decoder` style): `Ok(None)` means
//! "need more bytes", `Err` means corrupt, and a declared length above the caller's
//! cap is refused before anything is allocated.

use super::codes::{EventCode, OpCode, ResponseCode};
use super::ParseError;

/// Bytes in a container header.
pub const HEADER_LEN: usize = 12;
/// Declared length meaning "unknown, read until a short packet"
/// (docs/protocol/ptp-usb.md#container-header).
pub const UNKNOWN_LENGTH: u32 = 0xFFFF_FFFF;
/// Most parameters a command, response or event may carry.
pub const MAX_PARAMS: usize = 5;

/// Container type field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Container type 1: an operation request.
    Command,
    /// Container type 2: a data phase.
    Data,
    /// Container type 3: a response.
    Response,
    /// Container type 4: an event.
    Event,
}

impl Kind {
    /// The container type on the wire.
    pub fn to_u16(self) -> u16 {
        match self {
            Kind::Command => 1,
            Kind::Data => 2,
            Kind::Response => 3,
            Kind::Event => 4,
        }
    }

    /// The kind for a container type; `None` for unknown types.
    pub fn from_u16(v: u16) -> Option<Kind> {
        Some(match v {
            1 => Kind::Command,
            2 => Kind::Data,
            3 => Kind::Response,
            4 => Kind::Event,
            _ => return None,
        })
    }
}

/// A parsed container header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Declared total length including the header (`UNKNOWN_LENGTH` allowed for data).
    pub length: u32,
    /// Container type.
    pub kind: Kind,
    /// Operation, response or event code.
    pub code: u16,
    /// Transaction id.
    pub tid: u32,
}

impl Header {
    /// Parses the first 12 bytes. Checks the type and that the length is at least 12.
    pub fn parse(b: &[u8]) -> Result<Header, ParseError> {
        if b.len() < HEADER_LEN {
            return Err(ParseError::Truncated {
                what: "container",
                field: "header",
                offset: 0,
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        let length = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let raw_kind = u16::from_le_bytes([b[4], b[5]]);
        let code = u16::from_le_bytes([b[6], b[7]]);
        let tid = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let kind = Kind::from_u16(raw_kind).ok_or(ParseError::Invalid {
            what: "container",
            reason: format!("unknown container type {raw_kind}"),
        })?;
        if (length as usize) < HEADER_LEN {
            return Err(ParseError::Invalid {
                what: "container",
                reason: format!("declared length {length} is shorter than the 12-byte header"),
            });
        }
        if length == UNKNOWN_LENGTH && kind != Kind::Data {
            return Err(ParseError::Invalid {
                what: "container",
                reason: format!("{kind:?} container with unknown length"),
            });
        }
        if kind != Kind::Data && length as usize > HEADER_LEN + 4 * MAX_PARAMS {
            return Err(ParseError::Invalid {
                what: "container",
                reason: format!("{kind:?} container of {length} bytes (at most 32 allowed)"),
            });
        }
        Ok(Header {
            length,
            kind,
            code,
            tid,
        })
    }

    /// The 12 header bytes on the wire.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&self.length.to_le_bytes());
        h[4..6].copy_from_slice(&self.kind.to_u16().to_le_bytes());
        h[6..8].copy_from_slice(&self.code.to_le_bytes());
        h[8..12].copy_from_slice(&self.tid.to_le_bytes());
        h
    }

    /// Payload length, if the length is known.
    pub fn payload_len(&self) -> Option<usize> {
        (self.length != UNKNOWN_LENGTH).then(|| self.length as usize - HEADER_LEN)
    }
}

/// Up to five u32 parameters, stored inline (no allocation).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    vals: [u32; MAX_PARAMS],
    len: u8,
}

impl Params {
    /// Takes at most five values; more is a caller bug reported as an error.
    pub fn new(p: &[u32]) -> Result<Params, ParseError> {
        if p.len() > MAX_PARAMS {
            return Err(ParseError::Invalid {
                what: "parameters",
                reason: format!("{} parameters (at most 5)", p.len()),
            });
        }
        let mut vals = [0u32; MAX_PARAMS];
        vals[..p.len()].copy_from_slice(p);
        Ok(Params {
            vals,
            len: p.len() as u8,
        })
    }

    /// The parameters present.
    pub fn as_slice(&self) -> &[u32] {
        &self.vals[..self.len as usize]
    }

    /// Parameter `i` (0-based), or 0 if absent, as devices treat omitted parameters.
    pub fn get(&self, i: usize) -> u32 {
        self.as_slice().get(i).copied().unwrap_or(0)
    }

    fn parse(b: &[u8], what: &'static str) -> Result<Params, ParseError> {
        if !b.len().is_multiple_of(4) || b.len() > 4 * MAX_PARAMS {
            return Err(ParseError::Invalid {
                what,
                reason: format!("{} parameter bytes is not 0..=5 whole u32 values", b.len()),
            });
        }
        let mut p = Params::default();
        for (i, c) in b.chunks_exact(4).enumerate() {
            p.vals[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        p.len = (b.len() / 4) as u8;
        Ok(p)
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.as_slice().iter().map(|v| format!("{v:#x}")))
            .finish()
    }
}

/// A command container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// Operation code.
    pub code: OpCode,
    /// Transaction id.
    pub tid: u32,
    /// Parameters (up to five).
    pub params: Params,
}

/// A response container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// Response code.
    pub code: ResponseCode,
    /// Transaction id it answers.
    pub tid: u32,
    /// Parameters (up to five).
    pub params: Params,
}

/// An event container (interrupt endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Event code.
    pub code: EventCode,
    /// Transaction id.
    pub tid: u32,
    /// Parameters.
    pub params: Params,
}

fn encode_small(kind: Kind, code: u16, tid: u32, params: &Params, out: &mut Vec<u8>) {
    let len = HEADER_LEN + 4 * params.as_slice().len();
    out.extend_from_slice(
        &Header {
            length: len as u32,
            kind,
            code,
            tid,
        }
        .encode(),
    );
    for p in params.as_slice() {
        out.extend_from_slice(&p.to_le_bytes());
    }
}

fn parse_small(b: &[u8], want: Kind, what: &'static str) -> Result<(Header, Params), ParseError> {
    let h = Header::parse(b)?;
    if h.kind != want {
        return Err(ParseError::Invalid {
            what,
            reason: format!("expected a {want:?} container, got {:?}", h.kind),
        });
    }
    let len = h.length as usize;
    if b.len() < len {
        return Err(ParseError::Truncated {
            what,
            field: "parameters",
            offset: b.len(),
            need: len,
            have: b.len(),
        });
    }
    let params = Params::parse(&b[HEADER_LEN..len], what)?;
    Ok((h, params))
}

impl Command {
    /// Appends the container to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_small(Kind::Command, self.code.0, self.tid, &self.params, out)
    }

    /// Reads a command container.
    pub fn parse(b: &[u8]) -> Result<Command, ParseError> {
        let (h, params) = parse_small(b, Kind::Command, "command container")?;
        Ok(Command {
            code: OpCode(h.code),
            tid: h.tid,
            params,
        })
    }
}

impl Response {
    /// Appends the container to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_small(Kind::Response, self.code.0, self.tid, &self.params, out)
    }

    /// Reads a response container.
    pub fn parse(b: &[u8]) -> Result<Response, ParseError> {
        let (h, params) = parse_small(b, Kind::Response, "response container")?;
        Ok(Response {
            code: ResponseCode(h.code),
            tid: h.tid,
            params,
        })
    }
}

impl Event {
    /// Writes the event with at most its first 3 parameters: an event container holds no
    /// more (PTP 1.0 section 9.3.1), and [`Event::parse`] refuses one that does.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let p = self.params.as_slice();
        let first3 = Params::new(&p[..p.len().min(3)]).unwrap_or_default();
        encode_small(Kind::Event, self.code.0, self.tid, &first3, out)
    }

    /// Reads an event container.
    pub fn parse(b: &[u8]) -> Result<Event, ParseError> {
        let (h, params) = parse_small(b, Kind::Event, "event container")?;
        if params.as_slice().len() > 3 {
            return Err(ParseError::Invalid {
                what: "event container",
                reason: "more than 3 parameters".into(),
            });
        }
        Ok(Event {
            code: EventCode(h.code),
            tid: h.tid,
            params,
        })
    }
}

/// The header of a data container carrying `payload_len` bytes. Payloads that do not
/// fit a u32 length use `UNKNOWN_LENGTH` (the receiver then reads to a short packet).
pub fn data_header(code: OpCode, tid: u32, payload_len: usize) -> [u8; HEADER_LEN] {
    let length = payload_len
        .checked_add(HEADER_LEN)
        .and_then(|l| u32::try_from(l).ok())
        .filter(|&l| l != UNKNOWN_LENGTH)
        .unwrap_or(UNKNOWN_LENGTH);
    Header {
        length,
        kind: Kind::Data,
        code: code.0,
        tid,
    }
    .encode()
}

/// The data of a PTP Cancel Request (class request 0x64, docs/protocol/ptp-usb.md#class-requests): the
/// CancelTransaction event code and the transaction id.
pub fn cancel_request(tid: u32) -> [u8; 6] {
    let mut d = [0u8; 6];
    d[..2].copy_from_slice(&EventCode::CANCEL_TRANSACTION.0.to_le_bytes());
    d[2..].copy_from_slice(&tid.to_le_bytes());
    d
}

/// The transaction id a Cancel Request's data names, if it is one.
pub fn parse_cancel_request(d: &[u8]) -> Option<u32> {
    match d {
        [a, b, t @ ..] if u16::from_le_bytes([*a, *b]) == EventCode::CANCEL_TRANSACTION.0 => {
            Some(u32::from_le_bytes(t.get(..4)?.try_into().ok()?))
        }
        _ => None,
    }
}

/// The reply to Get Device Status (class request 0x67): u16 length, u16 code, optional
/// u32 parameters. This is the reply for a bare code.
pub fn device_status(code: ResponseCode) -> [u8; 4] {
    let c = code.0.to_le_bytes();
    [4, 0, c[0], c[1]]
}

/// The code of a Get Device Status reply, if it has one.
pub fn parse_device_status(d: &[u8]) -> Option<ResponseCode> {
    match d {
        [_, _, a, b, ..] => Some(ResponseCode(u16::from_le_bytes([*a, *b]))),
        _ => None,
    }
}

/// Streaming decode: if `buf` starts with a whole container, returns its header.
///
/// `Ok(None)`: need more bytes. A declared length above `max_len` is an error before
/// any allocation. Unknown-length data containers return `Err` here; the transport
/// layer must read them to a short packet instead.
pub fn peek(buf: &[u8], max_len: usize) -> Result<Option<Header>, ParseError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let h = Header::parse(buf)?;
    if h.length == UNKNOWN_LENGTH {
        return Err(ParseError::Invalid {
            what: "container",
            reason: "unknown-length data container in a length-framed stream".into(),
        });
    }
    if h.length as usize > max_len {
        return Err(ParseError::TooLarge {
            what: "container",
            declared: h.length as u64,
            max: max_len as u64,
        });
    }
    Ok((buf.len() >= h.length as usize).then_some(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn vectors_from_ptp_usb_md() {
        let open = Command {
            code: OpCode::OPEN_SESSION,
            tid: 0,
            params: Params::new(&[1]).unwrap(),
        };
        let mut v = Vec::new();
        open.encode(&mut v);
        assert_eq!(v, hex("10 00 00 00 01 00 02 10 00 00 00 00 01 00 00 00"));
        assert_eq!(Command::parse(&v).unwrap(), open);

        let ok = Response::parse(&hex("0c 00 00 00 03 00 01 20 00 00 00 00")).unwrap();
        assert_eq!(ok.code, ResponseCode::OK);
        assert!(ok.params.as_slice().is_empty());

        let h = Header::parse(&hex("03 01 00 00 02 00 01 10 01 00 00 00")).unwrap();
        assert_eq!(
            (h.length, h.kind, h.code, h.tid),
            (0x103, Kind::Data, 0x1001, 1)
        );
        assert_eq!(
            data_header(OpCode::GET_DEVICE_INFO, 1, 0x103 - 12),
            h.encode()
        );
    }

    #[test]
    fn cancel_request_and_device_status() {
        let d = cancel_request(0x0102_0304);
        assert_eq!(d, [0x01, 0x40, 4, 3, 2, 1]);
        assert_eq!(parse_cancel_request(&d), Some(0x0102_0304));
        assert_eq!(parse_cancel_request(&d[..5]), None);
        assert_eq!(parse_cancel_request(&[0x02, 0x40, 0, 0, 0, 0]), None);
        let s = device_status(ResponseCode::DEVICE_BUSY);
        assert_eq!(s, [4, 0, 0x19, 0x20]);
        assert_eq!(parse_device_status(&s), Some(ResponseCode::DEVICE_BUSY));
        assert_eq!(parse_device_status(&s[..3]), None);
        assert_eq!(
            data_header(OpCode::GET_OBJECT, 1, usize::MAX)[..4],
            [0xff; 4]
        );
    }

    #[test]
    fn sony_event_vector() {
        let e = Event::parse(&hex("10 00 00 00 04 00 03 c2 ff ff ff ff 04 50 00 00")).unwrap();
        assert_eq!(e.code, EventCode::SONY_DEVICE_PROP_CHANGED);
        assert_eq!(e.tid, 0xFFFF_FFFF);
        assert_eq!(e.params.as_slice(), &[0x5004]);
    }

    #[test]
    fn an_event_encodes_at_most_three_parameters_so_it_parses_back() {
        let e = Event {
            code: EventCode::SONY_DEVICE_PROP_CHANGED,
            tid: 7,
            params: Params::new(&[1, 2, 3, 4, 5]).unwrap(),
        };
        let mut out = Vec::new();
        e.encode(&mut out);
        assert_eq!(out.len(), 12 + 3 * 4);
        let back = Event::parse(&out).unwrap();
        assert_eq!((back.code, back.tid), (e.code, 7));
        assert_eq!(back.params.as_slice(), &[1, 2, 3]);
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(Header::parse(&hex("0b 00 00 00 03 00 01 20 00 00 00 00")).is_err());
        assert!(Header::parse(&hex("0c 00 00 00 09 00 01 20 00 00 00 00")).is_err());
        assert!(Header::parse(&hex("ff ff ff ff 03 00 01 20 00 00 00 00")).is_err());
        assert!(Header::parse(&hex("40 00 00 00 03 00 01 20 00 00 00 00")).is_err());
        assert!(Response::parse(&hex("0e 00 00 00 03 00 01 20 00 00 00 00 01 00")).is_err());
    }

    #[test]
    fn peek_caps_before_allocating() {
        let big = data_header(OpCode::GET_OBJECT, 3, 100 << 20);
        assert!(matches!(
            peek(&big, 1 << 20),
            Err(ParseError::TooLarge { .. })
        ));
        assert_eq!(peek(&big[..5], 1 << 20).unwrap(), None);
    }

    #[test]
    fn every_split_of_a_stream_decodes_the_same() {
        let mut stream = Vec::new();
        let payload: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        stream.extend_from_slice(&data_header(OpCode::GET_OBJECT, 5, payload.len()));
        stream.extend_from_slice(&payload);
        Response {
            code: ResponseCode::OK,
            tid: 5,
            params: Params::new(&[600]).unwrap(),
        }
        .encode(&mut stream);
        for split in 0..=stream.len() {
            let mut buf: Vec<u8> = stream[..split].to_vec();
            let mut got = Vec::new();
            let mut rest = &stream[split..];
            loop {
                while let Some(h) = peek(&buf, 1 << 20).unwrap() {
                    got.push((h, buf[HEADER_LEN..h.length as usize].to_vec()));
                    buf.drain(..h.length as usize);
                }
                if rest.is_empty() {
                    break;
                }
                let n = rest.len().min(97);
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            assert!(buf.is_empty(), "split {split}");
            assert_eq!(got.len(), 2, "split {split}");
            assert_eq!(got[0].1, payload);
            assert_eq!(Response::parse(&stream[612..]).unwrap().params.get(0), 600);
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn params() -> impl Strategy<Value = Params> {
            params_upto(MAX_PARAMS)
        }

        /// Events carry at most 3 parameters (docs/protocol/ptp-usb.md#events); commands
        /// and responses 5.
        fn params_upto(n: usize) -> impl Strategy<Value = Params> {
            proptest::collection::vec(any::<u32>(), 0..=n).prop_map(|v| Params::new(&v).unwrap())
        }

        /// One encoded container of any kind, data containers with a payload.
        fn container() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                (any::<u16>(), any::<u32>(), params()).prop_map(|(c, tid, params)| {
                    let mut v = Vec::new();
                    Command {
                        code: OpCode(c),
                        tid,
                        params,
                    }
                    .encode(&mut v);
                    v
                }),
                (any::<u16>(), any::<u32>(), params()).prop_map(|(c, tid, params)| {
                    let mut v = Vec::new();
                    Response {
                        code: ResponseCode(c),
                        tid,
                        params,
                    }
                    .encode(&mut v);
                    v
                }),
                (any::<u16>(), any::<u32>(), params_upto(3)).prop_map(|(c, tid, params)| {
                    let mut v = Vec::new();
                    Event {
                        code: EventCode(c),
                        tid,
                        params,
                    }
                    .encode(&mut v);
                    v
                }),
                (
                    any::<u16>(),
                    any::<u32>(),
                    proptest::collection::vec(any::<u8>(), 0..700)
                )
                    .prop_map(|(c, tid, p)| {
                        let mut v = data_header(OpCode(c), tid, p.len()).to_vec();
                        v.extend_from_slice(&p);
                        v
                    }),
            ]
        }

        proptest! {
            #[test]
            fn every_kind_round_trips(code: u16, tid: u32, p in params(), ep in params_upto(3)) {
                let mut v = Vec::new();
                let c = Command { code: OpCode(code), tid, params: p };
                c.encode(&mut v);
                prop_assert_eq!(Command::parse(&v), Ok(c));
                v.clear();
                let r = Response { code: ResponseCode(code), tid, params: p };
                r.encode(&mut v);
                prop_assert_eq!(Response::parse(&v), Ok(r));
                v.clear();
                let e = Event { code: EventCode(code), tid, params: ep };
                e.encode(&mut v);
                prop_assert_eq!(Event::parse(&v), Ok(e));
                let h = Header::parse(&data_header(OpCode(code), tid, 77)).unwrap();
                prop_assert_eq!((h.kind, h.code, h.tid, h.payload_len()), (Kind::Data, code, tid, Some(77)));
                prop_assert_eq!(Header::parse(&h.encode()), Ok(h));
            }

            #[test]
            fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..100) {
                let _ = Header::parse(&b);
                let _ = Command::parse(&b);
                let _ = Response::parse(&b);
                let _ = Event::parse(&b);
                if let Ok(Some(h)) = peek(&b, max) {
                    prop_assert!(h.length as usize <= b.len() && h.length as usize <= max);
                }
            }

            /// A host reads containers out of transfers of any size: where the stream is
            /// cut must not change what `peek` frames.
            #[test]
            fn stream_split_anywhere_frames_the_same(
                cs in proptest::collection::vec(container(), 1..8),
                cuts in proptest::collection::vec(1usize..300, 1..40),
            ) {
                let stream = cs.concat();
                let mut buf = Vec::new();
                let mut got = Vec::new();
                let mut rest = &stream[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let n = cuts[i % cuts.len()].min(rest.len());
                    i += 1;
                    buf.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    while let Some(h) = peek(&buf, 1 << 20).unwrap() {
                        got.push(buf[..h.length as usize].to_vec());
                        buf.drain(..h.length as usize);
                    }
                }
                prop_assert!(buf.is_empty());
                prop_assert_eq!(got, cs);
            }
        }
    }
}
