//! USB mass-storage Bulk-Only wrappers (src/pair/bot.rs): CBW and CSW decoding, and the
//! host's check of a CSW against the CBW it sent; decoded wrappers must re-encode to the
//! same bytes' meaning.
#![no_main]

use alpha_bridge::pair::bot::{Cbw, Csw};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cbw = Cbw::decode(data);
    if let Ok(c) = &cbw {
        assert_eq!(Cbw::decode(&c.encode()).as_ref(), Ok(c));
    }
    if let Ok(s) = Csw::decode(data) {
        assert_eq!(Csw::decode(&s.encode()), Ok(s));
    }
    // The CSW that follows a CBW in the same input.
    if let (Ok(c), Some(rest)) = (cbw, data.get(31..)) {
        let _ = Csw::decode_for(rest, &c);
    }
});
