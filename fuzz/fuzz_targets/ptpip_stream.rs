//! PTP/IP packet stream (src/ptp/ptpip.rs): the streaming Decoder fed in arbitrary
//! pieces must yield the same packets and errors as the whole buffer at once, and every
//! packet must re-encode to bytes that decode to the same packet.
#![no_main]

use alpha_bridge::ptp::ptpip::{Decoder, Packet};
use libfuzzer_sys::fuzz_target;

const MAX_PACKET: u32 = 1 << 20;

fn run(stream: &[u8], step: usize) -> Vec<Result<Packet, String>> {
    let mut d = Decoder::with_max_packet(MAX_PACKET);
    let mut out = Vec::new();
    'feed: for chunk in stream.chunks(step) {
        d.feed(chunk);
        loop {
            match d.decode() {
                Ok(Some(p)) => out.push(Ok(p)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    if d.is_failed() {
                        break 'feed;
                    }
                }
            }
            if out.len() > 10_000 {
                break 'feed;
            }
        }
    }
    let _ = d.finish();
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let _ = Packet::parse(stream);
    let whole = run(stream, stream.len().max(1));
    let split = run(stream, usize::from(sel % 97) + 1);
    assert_eq!(whole, split, "decoding depends on read boundaries");
    for p in whole.into_iter().flatten() {
        let mut v = Vec::new();
        p.encode(&mut v).expect("a decoded packet fits its length field");
        let mut d = Decoder::with_max_packet(u32::MAX);
        d.feed(&v);
        assert_eq!(
            d.decode(),
            Ok(Some(p)),
            "re-encoded packet decodes differently"
        );
    }
});
