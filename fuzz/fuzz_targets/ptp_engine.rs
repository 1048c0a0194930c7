//! The transaction engine (src/ptp/engine) fed by each framer: the first byte picks the
//! framer (USB containers or PTP/IP packets), the transaction kind and where transfers
//! are cut; the rest is what the camera sends. Transactions run one after another, as a
//! session does: a finished one starts the next, a failed one is abandoned (with a
//! cancel) and the framer reset. Nothing may panic, no transaction may hand out more
//! data than its cap, and the outcome must not depend on where the bytes were cut.
#![no_main]

use alpha_bridge::ptp::engine::ptpip::{classify, Item};
use alpha_bridge::ptp::engine::usb::UsbFramer;
use alpha_bridge::ptp::engine::{DataDir, Engine, Input, Step, Transmit};
use alpha_bridge::ptp::ptpip::Decoder;
use alpha_bridge::ptp::OpCode;
use libfuzzer_sys::fuzz_target;

const CAP: u64 = 64 << 10;

/// What happened, in order: responses (code), protocol errors, data byte counts.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Done(u16, u64),
    Failed,
    Corrupt,
}

struct Host {
    e: Engine,
    dir: DataDir,
    got: u64,
    seen: Vec<Seen>,
}

impl Host {
    fn begin(&mut self) {
        let n = self.seen.len() as u32;
        let op = if n == 0 { OpCode::OPEN_SESSION } else { OpCode::GET_OBJECT };
        self.e.begin(op, &[n], self.dir, CAP).expect("one parameter");
        while let Some(t) = self.e.poll_transmit() {
            assert!(!matches!(t, Transmit::Cancel { .. }), "no cancel before a failure");
        }
        self.got = 0;
    }

    fn input(&mut self, i: Input<'_>) {
        match self.e.handle(i) {
            Ok(Step::Continue) => {}
            Ok(Step::Deliver(b)) => {
                assert!(!b.is_empty());
                self.got += b.len() as u64;
                assert!(self.got <= CAP, "more than the cap delivered");
                assert_eq!(self.dir, DataDir::In, "data delivered where none was asked for");
            }
            Ok(Step::Done(r)) => {
                self.seen.push(Seen::Done(r.code.0, self.got));
                self.begin();
            }
            Err(_) => {
                self.seen.push(Seen::Failed);
                self.e.abandon(true);
                let cancels = std::iter::from_fn(|| self.e.poll_transmit()).count();
                assert_eq!(cancels, 1);
                self.begin();
            }
        }
        while self.e.poll_event().is_some() {}
    }
}

fn run(usb: bool, dir: DataDir, stream: &[u8], step: usize) -> Vec<Seen> {
    let mut h = Host {
        e: Engine::new(),
        dir,
        got: 0,
        seen: Vec::new(),
    };
    h.begin();
    if usb {
        let mut f = UsbFramer::new();
        let mut buf: Vec<u8> = Vec::new();
        for chunk in stream.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                let used = match f.decode(&buf) {
                    Ok(Some((i, used))) => {
                        h.input(i);
                        used
                    }
                    Ok(None) => break,
                    Err(_) => {
                        h.seen.push(Seen::Corrupt);
                        return h.seen;
                    }
                };
                buf.drain(..used);
                if h.seen.len() > 1000 {
                    return h.seen;
                }
            }
        }
        if let Some(i) = f.end_of_transfer() {
            h.input(i);
        }
    } else {
        let mut d = Decoder::with_max_packet(1 << 20);
        for chunk in stream.chunks(step) {
            d.feed(chunk);
            loop {
                // A bad packet body is skipped and the stream goes on; a framing error
                // ends it (as the link would report them).
                let corrupt = match d.decode_ref() {
                    Ok(Some(p)) => {
                        if let Item::Input(i) = classify(p) {
                            h.input(i);
                        }
                        false
                    }
                    Ok(None) => break,
                    Err(_) => true,
                };
                if corrupt {
                    h.seen.push(Seen::Corrupt);
                    if d.is_failed() {
                        return h.seen;
                    }
                }
                if h.seen.len() > 1000 {
                    return h.seen;
                }
            }
        }
    }
    h.seen
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let usb = sel & 1 == 0;
    let dir = match (sel >> 1) % 3 {
        0 => DataDir::In,
        1 => DataDir::None,
        _ => DataDir::Out { len: 3 },
    };
    let whole = run(usb, dir, stream, stream.len().max(1));
    // USB transfer boundaries end unknown-length containers, so only PTP/IP must be
    // independent of the cut; USB must merely survive it.
    let split = run(usb, dir, stream, usize::from(sel >> 3) + 1);
    if !usb {
        assert_eq!(whole, split, "the outcome depends on where the stream was cut");
    }
});
