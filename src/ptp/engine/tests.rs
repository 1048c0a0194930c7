//! The engine's rules, each written once as what the camera says, and run through both
//! framers (USB containers and PTP/IP packets), whole and cut at every byte boundary.

use super::usb::UsbFramer;
use super::*;
use crate::ptp::container::{self, Response, HEADER_LEN, UNKNOWN_LENGTH};
use crate::ptp::ptpip::{Decoder, Packet, UNKNOWN_TOTAL};
use crate::ptp::{EventCode, ResponseCode};

const OP: OpCode = OpCode::GET_OBJECT;
const CAP: u64 = 1 << 20;

/// One thing the camera says.
#[derive(Clone, Debug)]
enum Cam {
    /// A data phase; `declared` overrides the announced length (`Some(None)` = unknown),
    /// `event_mid` sends an event halfway through it.
    Data {
        tid: u32,
        op: OpCode,
        payload: Vec<u8>,
        declared: Option<Option<u64>>,
        event_mid: bool,
    },
    Resp(ResponseCode, u32),
    Event,
}

fn data(tid: u32, n: usize) -> Cam {
    Cam::Data {
        tid,
        op: OP,
        payload: (0..n).map(|i| (i * 7 + tid as usize) as u8).collect(),
        declared: None,
        event_mid: false,
    }
}

fn ok(tid: u32) -> Cam {
    Cam::Resp(ResponseCode::OK, tid)
}

fn event() -> Event {
    Event {
        code: EventCode::SONY_DEVICE_PROP_CHANGED,
        tid: 0xFFFF_FFFF,
        params: Params::new(&[0xD221]).unwrap(),
    }
}

/// What the camera's words become on a wire: bytes (one USB transfer each), or an event
/// that arrives on its own channel (USB interrupt endpoint, PTP/IP event connection).
#[derive(Clone, Debug)]
enum Piece {
    Bytes(Vec<u8>),
    Event,
}

fn resp_bytes(code: ResponseCode, tid: u32) -> Vec<u8> {
    let mut v = Vec::new();
    Response {
        code,
        tid,
        params: Params::default(),
    }
    .encode(&mut v);
    v
}

fn usb_pieces(script: &[Cam]) -> Vec<Piece> {
    let mut out = Vec::new();
    for c in script {
        match c {
            Cam::Data {
                tid,
                op,
                payload,
                declared,
                event_mid,
            } => {
                let mut v = container::data_header(*op, *tid, payload.len()).to_vec();
                match declared {
                    Some(Some(n)) => v[..4].copy_from_slice(&((*n as u32) + 12).to_le_bytes()),
                    Some(None) => v[..4].copy_from_slice(&UNKNOWN_LENGTH.to_le_bytes()),
                    None => {}
                }
                let half = payload.len() / 2;
                if *event_mid {
                    // One transfer read in two pieces, the interrupt endpoint in between.
                    v.extend_from_slice(&payload[..half]);
                    out.push(Piece::Bytes(v));
                    out.push(Piece::Event);
                    out.push(Piece::Bytes(payload[half..].to_vec()));
                } else {
                    v.extend_from_slice(payload);
                    out.push(Piece::Bytes(v));
                }
            }
            Cam::Resp(code, tid) => out.push(Piece::Bytes(resp_bytes(*code, *tid))),
            Cam::Event => {
                let mut v = Vec::new();
                event().encode(&mut v);
                out.push(Piece::Bytes(v));
            }
        }
    }
    out
}

fn pk(p: Packet) -> Vec<u8> {
    p.to_bytes().unwrap()
}

fn ptpip_pieces(script: &[Cam]) -> Vec<Piece> {
    let mut out = Vec::new();
    for c in script {
        match c {
            Cam::Data {
                tid,
                payload,
                declared,
                event_mid,
                ..
            } => {
                let total = match declared {
                    Some(Some(n)) => *n,
                    Some(None) => UNKNOWN_TOTAL,
                    None => payload.len() as u64,
                };
                let half = payload.len() / 2;
                let mut v = pk(Packet::StartData { tid: *tid, total });
                v.extend(pk(Packet::Data {
                    tid: *tid,
                    payload: payload[..half].to_vec(),
                }));
                out.push(Piece::Bytes(v));
                if *event_mid {
                    out.push(Piece::Event);
                }
                out.push(Piece::Bytes(pk(Packet::EndData {
                    tid: *tid,
                    payload: payload[half..].to_vec(),
                })));
            }
            Cam::Resp(code, tid) => out.push(Piece::Bytes(pk(Packet::OperationResponse {
                code: *code,
                tid: *tid,
                params: Params::default(),
            }))),
            Cam::Event => out.push(Piece::Bytes(pk(Packet::Event {
                code: event().code,
                tid: event().tid,
                params: event().params,
            }))),
        }
    }
    out
}

type Outcome = Result<(ResponseCode, Vec<u8>, usize), String>;

/// A host side: the engine plus one framer and its receive buffer, kept across
/// transactions so leftovers of one are seen by the next.
trait Rig {
    fn engine(&mut self) -> &mut Engine;
    /// Feeds `bytes` (part of one transfer, `last` = the transfer ends here) and returns
    /// the outcome once the transaction is done.
    fn feed(&mut self, bytes: &[u8], last: bool, data: &mut Vec<u8>) -> Option<Outcome>;
    /// Keeps bytes that arrived after the end of a transaction, undecoded.
    fn stash(&mut self, bytes: &[u8]);
}

fn step<'a>(e: &mut Engine, input: Input<'a>, data: &mut Vec<u8>) -> Option<Outcome> {
    match e.handle(input) {
        Ok(Step::Continue) => None,
        Ok(Step::Deliver(b)) => {
            data.extend_from_slice(b);
            None
        }
        Ok(Step::Done(r)) => Some(Ok((r.code, std::mem::take(data), 0))),
        Err(err) => Some(Err(err.detail)),
    }
}

#[derive(Default)]
struct UsbRig {
    e: Engine,
    f: UsbFramer,
    buf: Vec<u8>,
}

impl Rig for UsbRig {
    fn engine(&mut self) -> &mut Engine {
        &mut self.e
    }
    fn stash(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    fn feed(&mut self, bytes: &[u8], last: bool, data: &mut Vec<u8>) -> Option<Outcome> {
        self.buf.extend_from_slice(bytes);
        loop {
            let (input, used) = match self.f.decode(&self.buf) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    self.buf.clear();
                    self.f.reset();
                    return Some(Err(e.to_string()));
                }
            };
            let r = step(&mut self.e, input, data);
            self.buf.drain(..used);
            if r.is_some() {
                return r;
            }
        }
        if last && self.buf.is_empty() {
            if let Some(i) = self.f.end_of_transfer() {
                return step(&mut self.e, i, data);
            }
        }
        None
    }
}

#[derive(Default)]
struct PtpIpRig {
    e: Engine,
    d: Decoder,
}

impl Rig for PtpIpRig {
    fn engine(&mut self) -> &mut Engine {
        &mut self.e
    }
    fn stash(&mut self, bytes: &[u8]) {
        self.d.feed(bytes);
    }
    fn feed(&mut self, bytes: &[u8], _last: bool, data: &mut Vec<u8>) -> Option<Outcome> {
        self.d.feed(bytes);
        loop {
            let p = match self.d.decode_ref() {
                Ok(Some(p)) => p,
                Ok(None) => return None,
                Err(e) => return Some(Err(e.to_string())),
            };
            match ptpip::classify(p) {
                ptpip::Item::Input(i) => {
                    if let Some(r) = step(&mut self.e, i, data) {
                        return Some(r);
                    }
                }
                other => return Some(Err(format!("link item {other:?}"))),
            }
        }
    }
}

/// Runs one transaction whose camera side is `pieces`, cutting every transfer at
/// `cut` (0 = whole). Returns the outcome (with the number of events seen).
fn transact(rig: &mut dyn Rig, op: OpCode, dir: DataDir, pieces: &[Piece], cut: usize) -> Outcome {
    rig.engine()
        .begin(op, &[1], dir, CAP)
        .map_err(|e| e.detail)?;
    while rig.engine().poll_transmit().is_some() {}
    let mut data = Vec::new();
    let mut out = None;
    for p in pieces {
        match p {
            Piece::Event => {
                if let Some(r) = step(rig.engine(), Input::Event(event()), &mut data) {
                    out = Some(r);
                }
            }
            Piece::Bytes(b) => {
                let parts: Vec<&[u8]> = if cut == 0 || cut >= b.len() {
                    vec![&b[..]]
                } else {
                    vec![&b[..cut], &b[cut..]]
                };
                let n = parts.len();
                for (i, part) in parts.into_iter().enumerate() {
                    if out.is_none() {
                        out = rig.feed(part, i + 1 == n, &mut data);
                    } else {
                        // Bytes after the end: left for the next transaction.
                        rig.stash(part);
                    }
                }
            }
        }
    }
    let events = std::iter::from_fn(|| rig.engine().poll_event()).count();
    match out {
        Some(Ok((code, d, _))) => Ok((code, d, events)),
        Some(Err(e)) => Err(e),
        None => Err("the transaction did not end".into()),
    }
}

/// Runs `script` (after `before`, a first transaction whose leftovers the second sees)
/// with both framers, whole and cut at every byte of every transfer; every run must give
/// the same outcome, which is returned.
fn both(before: Option<&[Cam]>, dir: DataDir, script: &[Cam]) -> Outcome {
    let mut seen: Option<Outcome> = None;
    for usb in [true, false] {
        let pieces = |s: &[Cam]| if usb { usb_pieces(s) } else { ptpip_pieces(s) };
        let longest = pieces(script)
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Event => 0,
            })
            .max()
            .unwrap_or(0);
        for cut in 0..=longest {
            let mut rig: Box<dyn Rig> = if usb {
                Box::<UsbRig>::default()
            } else {
                Box::<PtpIpRig>::default()
            };
            if let Some(b) = before {
                transact(
                    &mut *rig,
                    OpCode::OPEN_SESSION,
                    DataDir::None,
                    &pieces(b),
                    0,
                )
                .expect("first transaction");
            }
            let got = transact(&mut *rig, OP, dir, &pieces(script), cut);
            let name = if usb { "usb" } else { "ptp/ip" };
            match &seen {
                None => seen = Some(got),
                Some(s) => match (s, &got) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{name} cut {cut}"),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{name} cut {cut}: {got:?} but the first run gave {s:?}"),
                },
            }
        }
    }
    seen.unwrap()
}

/// The first transaction (OpenSession, tid 0): a plain OK.
const OPEN: &[Cam] = &[Cam::Resp(ResponseCode::OK, 0)];

fn payload_of(c: &Cam) -> Vec<u8> {
    match c {
        Cam::Data { payload, .. } => payload.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn a_data_in_transaction_delivers_the_payload_once() {
    for n in [0, 1, 11, 12, 13, 511, 512, 513, 1000] {
        let d = data(1, n);
        let (code, got, events) = both(Some(OPEN), DataDir::In, &[d.clone(), ok(1)]).unwrap();
        assert_eq!((code, events), (ResponseCode::OK, 0));
        assert_eq!(got, payload_of(&d), "{n} bytes");
    }
}

#[test]
fn a_stale_response_is_skipped() {
    let d = data(1, 40);
    let got = both(Some(OPEN), DataDir::In, &[ok(0), d.clone(), ok(1)]).unwrap();
    assert_eq!(got.1, payload_of(&d));
}

#[test]
fn a_stale_data_phase_is_skipped_whole() {
    let d = data(1, 40);
    let got = both(
        Some(OPEN),
        DataDir::In,
        &[data(0, 30), ok(0), d.clone(), ok(1)],
    )
    .unwrap();
    assert_eq!(got.1, payload_of(&d));
}

#[test]
fn a_surplus_response_to_the_previous_transaction_is_skipped() {
    // OpenSession is answered twice; the next transaction sees the second answer first.
    let first = [ok(0), ok(0)];
    let got = both(Some(&first), DataDir::None, &[ok(1)]).unwrap();
    assert_eq!(got.0, ResponseCode::OK);
}

#[test]
fn too_many_stale_answers_are_a_protocol_error() {
    let mut script: Vec<Cam> = (0..=MAX_STALE).map(|_| ok(0)).collect();
    script.push(ok(1));
    let e = both(Some(OPEN), DataDir::None, &script).unwrap_err();
    assert!(e.contains("stale"), "{e}");
}

#[test]
fn a_wrong_transaction_id_is_a_protocol_error() {
    let e = both(Some(OPEN), DataDir::None, &[ok(9)]).unwrap_err();
    assert!(e.contains("transaction id 9 (expected 1)"), "{e}");
    let e = both(Some(OPEN), DataDir::In, &[data(5, 10), ok(1)]).unwrap_err();
    assert!(e.contains("transaction id 5"), "{e}");
    // The event id is never a stale answer.
    let e = both(
        Some(OPEN),
        DataDir::None,
        &[Cam::Resp(ResponseCode::OK, 0xFFFF_FFFF)],
    )
    .unwrap_err();
    assert!(e.contains("transaction id"), "{e}");
}

#[test]
fn an_error_response_is_a_refusal_with_no_data() {
    let (code, got, _) = both(
        Some(OPEN),
        DataDir::In,
        &[Cam::Resp(ResponseCode::ACCESS_DENIED, 1)],
    )
    .unwrap();
    assert_eq!(code, ResponseCode::ACCESS_DENIED);
    assert!(got.is_empty());
}

#[test]
fn data_bigger_than_declared_is_a_protocol_error() {
    // A second data phase in one transaction (both links).
    let e = both(Some(OPEN), DataDir::In, &[data(1, 10), data(1, 10), ok(1)]).unwrap_err();
    assert!(e.contains("more data"), "{e}");
    // A declared length one byte short of what follows.
    let mut d = data(1, 20);
    if let Cam::Data { declared, .. } = &mut d {
        *declared = Some(Some(19));
    }
    both(Some(OPEN), DataDir::In, &[d, ok(1)]).unwrap_err();
}

#[test]
fn a_data_phase_above_the_cap_is_refused_before_any_byte_is_kept() {
    let mut d = data(1, 4);
    if let Cam::Data { declared, .. } = &mut d {
        *declared = Some(Some(CAP + 1));
    }
    let e = both(Some(OPEN), DataDir::In, &[d, ok(1)]).unwrap_err();
    assert!(e.contains("exceeds the limit"), "{e}");
}

#[test]
fn an_event_in_the_middle_of_a_data_phase_is_queued() {
    let mut d = data(1, 300);
    if let Cam::Data { event_mid, .. } = &mut d {
        *event_mid = true;
    }
    let (code, got, events) = both(Some(OPEN), DataDir::In, &[d.clone(), ok(1)]).unwrap();
    assert_eq!((code, events), (ResponseCode::OK, 1));
    assert_eq!(got, payload_of(&d));
    // Events on the data stream itself (USB bulk IN, PTP/IP command channel) too.
    let (_, got, events) = both(
        Some(OPEN),
        DataDir::In,
        &[Cam::Event, d.clone(), Cam::Event, ok(1)],
    )
    .unwrap();
    assert_eq!((got, events), (payload_of(&d), 3));
}

#[test]
fn a_data_phase_nobody_asked_for_is_discarded() {
    let (code, got, _) = both(Some(OPEN), DataDir::None, &[data(1, 50), ok(1)]).unwrap();
    assert_eq!((code, got.len()), (ResponseCode::OK, 0));
}

#[test]
fn a_data_phase_of_unknown_length_ends_at_its_end_marker() {
    let mut d = data(1, 700);
    if let Cam::Data { declared, .. } = &mut d {
        *declared = Some(None);
    }
    let (_, got, _) = both(Some(OPEN), DataDir::In, &[d.clone(), ok(1)]).unwrap();
    assert_eq!(got, payload_of(&d));
}

#[test]
fn a_data_container_for_another_operation_is_a_protocol_error() {
    let d = Cam::Data {
        tid: 1,
        op: OpCode::GET_DEVICE_INFO,
        payload: vec![1, 2, 3],
        declared: None,
        event_mid: false,
    };
    let mut rig = UsbRig::default();
    transact(
        &mut rig,
        OpCode::OPEN_SESSION,
        DataDir::None,
        &usb_pieces(OPEN),
        0,
    )
    .unwrap();
    let e = transact(&mut rig, OP, DataDir::In, &usb_pieces(&[d, ok(1)]), 0).unwrap_err();
    assert!(e.contains("GET_DEVICE_INFO"), "{e}");
}

#[test]
fn close_session_may_be_answered_with_id_zero() {
    let mut e = Engine::new();
    for op in [OpCode::OPEN_SESSION, OpCode::SDIO_CONNECT] {
        let tid = e.begin(op, &[], DataDir::None, CAP).unwrap();
        let r = e.handle(Input::Response(Response {
            code: ResponseCode::OK,
            tid,
            params: Params::default(),
        }));
        assert!(matches!(r, Ok(Step::Done(_))));
    }
    assert_eq!(
        e.begin(OpCode::CLOSE_SESSION, &[], DataDir::None, CAP),
        Ok(2)
    );
    let r = e.handle(Input::Response(Response {
        code: ResponseCode::OK,
        tid: 0,
        params: Params::default(),
    }));
    assert!(matches!(r, Ok(Step::Done(_))), "{r:?}");
}

#[test]
fn ptpip_ok_response_before_end_data_is_an_error_but_a_refusal_ends_the_phase() {
    for (code, is_err) in [
        (ResponseCode::OK, true),
        (ResponseCode::GENERAL_ERROR, false),
    ] {
        let mut rig = PtpIpRig::default();
        transact(
            &mut rig,
            OpCode::OPEN_SESSION,
            DataDir::None,
            &ptpip_pieces(OPEN),
            0,
        )
        .unwrap();
        let mut b = pk(Packet::StartData { tid: 1, total: 10 });
        b.extend(pk(Packet::Data {
            tid: 1,
            payload: vec![0; 5],
        }));
        b.extend(pk(Packet::OperationResponse {
            code,
            tid: 1,
            params: Params::default(),
        }));
        let r = transact(&mut rig, OP, DataDir::In, &[Piece::Bytes(b)], 0);
        assert_eq!(r.is_err(), is_err, "{code}: {r:?}");
    }
}

#[test]
fn ptpip_stray_end_data_is_skipped_and_fewer_bytes_than_announced_is_an_error() {
    let mut rig = PtpIpRig::default();
    transact(
        &mut rig,
        OpCode::OPEN_SESSION,
        DataDir::None,
        &ptpip_pieces(OPEN),
        0,
    )
    .unwrap();
    let mut b = pk(Packet::EndData {
        tid: 1,
        payload: vec![],
    });
    b.extend(pk(Packet::OperationResponse {
        code: ResponseCode::OK,
        tid: 1,
        params: Params::default(),
    }));
    transact(
        &mut rig,
        OpCode::CLOSE_SESSION,
        DataDir::None,
        &[Piece::Bytes(b)],
        0,
    )
    .unwrap();
    let mut d = data(2, 20);
    if let Cam::Data { declared, .. } = &mut d {
        *declared = Some(Some(21));
    }
    let e = transact(&mut rig, OP, DataDir::In, &ptpip_pieces(&[d, ok(2)]), 0).unwrap_err();
    assert!(e.contains("announced 21 bytes but sent 20"), "{e}");
}

#[test]
fn begin_queues_command_and_data_out_and_abandon_queues_a_cancel() {
    let mut e = Engine::new();
    let tid = e
        .begin(
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
            &[0xD25A],
            DataDir::Out { len: 1 },
            CAP,
        )
        .unwrap();
    assert_eq!(tid, 0);
    assert!(
        matches!(e.poll_transmit(), Some(Transmit::Command { cmd, .. }) if cmd.tid == 0 && cmd.params.as_slice() == [0xD25A])
    );
    assert_eq!(
        e.poll_transmit(),
        Some(Transmit::DataOut {
            op: OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
            tid: 0,
            len: 1
        })
    );
    assert_eq!(e.poll_transmit(), None);
    e.abandon(true);
    assert_eq!(e.poll_transmit(), Some(Transmit::Cancel { tid: 0 }));
    assert_eq!(e.current(), None);
    // Six parameters are a caller bug, reported, not a panic.
    assert!(e
        .begin(OP, &[1, 2, 3, 4, 5, 6], DataDir::None, CAP)
        .is_err());
    // Ids go on after an abandoned transaction; OpenSession restarts them.
    assert_eq!(e.begin(OP, &[], DataDir::None, CAP), Ok(1));
    assert_eq!(
        e.begin(OpCode::OPEN_SESSION, &[1], DataDir::None, CAP),
        Ok(0)
    );
}

#[test]
fn the_event_queue_is_bounded_and_drops_the_oldest() {
    let mut e = Engine::new();
    for i in 0..(MAX_EVENTS as u32 + 10) {
        let mut ev = event();
        ev.tid = i;
        e.handle(Input::Event(ev)).unwrap();
    }
    assert_eq!(e.events_dropped(), 10);
    assert_eq!(e.poll_event().unwrap().tid, 10);
}

#[test]
fn stale_ids_wrap_with_the_numbering() {
    assert!(is_older(0, 1));
    assert!(is_older(0xFFFF_FFFE, 1));
    assert!(!is_older(2, 1));
    assert!(!is_older(1, 1));
    assert!(!is_older(0xFFFF_FFFF, 1));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a camera sends, in whatever pieces, the engine and both framers return
        /// errors, never panic, and never deliver more than the cap.
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..64, dir in 0u8..3) {
            let dir = match dir { 0 => DataDir::None, 1 => DataDir::In, _ => DataDir::Out { len: 3 } };
            for usb in [true, false] {
                let mut rig: Box<dyn Rig> = if usb { Box::<UsbRig>::default() } else { Box::<PtpIpRig>::default() };
                let r = transact(&mut *rig, OP, dir, &[Piece::Bytes(b.clone())], cut);
                if let Ok((_, d, _)) = r {
                    prop_assert!(d.len() as u64 <= CAP);
                }
            }
        }

        /// A header in front of random bytes reaches deeper states.
        #[test]
        fn random_payloads_after_a_data_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), len in 0u32..300, cut in 0usize..40) {
            let mut v = container::data_header(OP, 0, len as usize).to_vec();
            v.extend_from_slice(&tail);
            let mut rig = UsbRig::default();
            let _ = transact(&mut rig, OP, DataDir::In, &[Piece::Bytes(v)], cut);
            let mut v = pk(Packet::StartData { tid: 0, total: u64::from(len) });
            v.extend_from_slice(&tail);
            let mut rig = PtpIpRig::default();
            let _ = transact(&mut rig, OP, DataDir::In, &[Piece::Bytes(v)], cut);
        }
    }
}

#[test]
fn header_len_is_twelve() {
    // The USB pieces above rely on it when they rewrite a declared length.
    assert_eq!(HEADER_LEN, 12);
}
