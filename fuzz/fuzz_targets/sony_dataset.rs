//! Sony datasets (src/ptp/sony.rs): the 0x9209 all-properties dataset, ExtDeviceInfo
//! (0x9202) and the ExtCmd block, on arbitrary bytes; what parses must round-trip.
#![no_main]

use alpha_bridge::ptp::sony::{encode_all_props, parse_all_props, ExtCmd, ExtDeviceInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(props) = parse_all_props(data) {
        let mut v = Vec::new();
        encode_all_props(&props, &mut v);
        assert_eq!(parse_all_props(&v), Ok(props));
    }
    if let Ok(info) = ExtDeviceInfo::parse(data) {
        let mut v = Vec::new();
        info.encode(&mut v);
        assert_eq!(ExtDeviceInfo::parse(&v), Ok(info));
    }
    if let Ok(cmd) = ExtCmd::parse(data) {
        let mut v = Vec::new();
        cmd.encode(&mut v);
        assert_eq!(ExtCmd::parse(&v), Ok(cmd));
    }
});
