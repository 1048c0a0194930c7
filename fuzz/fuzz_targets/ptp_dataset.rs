//! DeviceInfo / ObjectInfo / StorageInfo (src/ptp/dataset.rs) on arbitrary bytes; what
//! parses must survive an encode/parse round trip.
#![no_main]

use alpha_bridge::ptp::dataset::{DeviceInfo, ObjectInfo, PtpDate, StorageInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = DeviceInfo::parse(data) {
        let mut v = Vec::new();
        d.encode(&mut v);
        assert_eq!(DeviceInfo::parse(&v), Ok(d));
    }
    if let Ok(o) = ObjectInfo::parse(data) {
        let mut v = Vec::new();
        o.encode(&mut v);
        assert_eq!(ObjectInfo::parse(&v), Ok(o));
    }
    if let Ok(s) = StorageInfo::parse(data) {
        let mut v = Vec::new();
        s.encode(&mut v);
        assert_eq!(StorageInfo::parse(&v), Ok(s));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(d) = PtpDate::parse(s) {
            let _ = d.format();
        }
    }
});
