//! USB PTP container stream (src/ptp/container.rs): `peek` framing as a host reader uses
//! it, then Command/Response/Event parsing of every whole container. The first input byte
//! picks how the stream is cut into transfers; the containers found must not depend on it.
#![no_main]

use alpha_bridge::ptp::container::{peek, Command, Event, Kind, Response};
use libfuzzer_sys::fuzz_target;

const MAX_LEN: usize = 1 << 20;

/// Containers found when `stream` arrives in `step`-byte transfers; stops at the first
/// framing error (a reader must drop everything after a corrupt header).
fn frame(stream: &[u8], step: usize) -> (Vec<Vec<u8>>, bool) {
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(step) {
        pending.extend_from_slice(chunk);
        loop {
            match peek(&pending, MAX_LEN) {
                Ok(Some(h)) => {
                    let len = h.length as usize;
                    assert!(len <= pending.len() && len >= 12);
                    out.push(pending[..len].to_vec());
                    pending.drain(..len);
                }
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fn check(raw: &[u8]) {
    let Ok(Some(h)) = peek(raw, MAX_LEN) else {
        panic!("a framed container must peek again");
    };
    match h.kind {
        Kind::Command => {
            if let Ok(c) = Command::parse(raw) {
                let mut v = Vec::new();
                c.encode(&mut v);
                assert_eq!(Command::parse(&v), Ok(c));
            }
        }
        Kind::Response => {
            if let Ok(r) = Response::parse(raw) {
                let mut v = Vec::new();
                r.encode(&mut v);
                assert_eq!(Response::parse(&v), Ok(r));
            }
        }
        Kind::Event => {
            if let Ok(e) = Event::parse(raw) {
                let mut v = Vec::new();
                e.encode(&mut v);
                assert_eq!(Event::parse(&v), Ok(e));
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    // Any container kind parser on any bytes: must not panic.
    let _ = Command::parse(stream);
    let _ = Response::parse(stream);
    let _ = Event::parse(stream);
    let whole = frame(stream, stream.len().max(1));
    let split = frame(stream, usize::from(sel % 64) + 1);
    assert_eq!(whole, split, "framing depends on transfer boundaries");
    for c in &whole.0 {
        check(c);
    }
});
