//! DeviceInfo / ObjectInfo / StorageInfo (src/ptp/dataset.rs) on arbitrary bytes; what
//! parses must survive an encode/parse round trip.
#![no_main]

use alpha_bridge::ptp::dataset::{DeviceInfo, ObjectInfo, PtpDate, StorageInfo};
use libfuzzer_sys::fuzz_target;

/// What a parser accepted must encode to bytes it parses again, and that encoding is a
/// fixed point. (Not plain parse-encode identity: a 255-unit string without its NUL is
/// read leniently but written at the format's 254-unit limit.)
fn stable<T: std::fmt::Debug>(
    enc: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, alpha_bridge::ptp::ParseError>,
    encode: impl Fn(&T, &mut Vec<u8>),
) {
    let back = parse(enc).expect("own encoding parses");
    let mut again = Vec::new();
    encode(&back, &mut again);
    assert_eq!(enc, &again[..], "encoding is not stable: {back:?}");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = DeviceInfo::parse(data) {
        let mut v = Vec::new();
        d.encode(&mut v);
        stable(&v, DeviceInfo::parse, |x, o| x.encode(o));
    }
    if let Ok(o) = ObjectInfo::parse(data) {
        let mut v = Vec::new();
        o.encode(&mut v);
        stable(&v, ObjectInfo::parse, |x, o| x.encode(o));
    }
    if let Ok(s) = StorageInfo::parse(data) {
        let mut v = Vec::new();
        s.encode(&mut v);
        stable(&v, StorageInfo::parse, |x, o| x.encode(o));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(d) = PtpDate::parse(s) {
            let _ = d.format();
        }
    }
});
