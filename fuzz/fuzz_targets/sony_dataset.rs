//! Sony datasets (src/ptp/sony.rs): the 0x9209 all-properties dataset, ExtDeviceInfo
//! (0x9202) and the ExtCmd block, on arbitrary bytes. What parses must encode to bytes
//! that parse again to the same encoding (see ptp_dataset.rs for why not plain identity).
#![no_main]

use alpha_bridge::ptp::sony::{encode_all_props, parse_all_props, ExtCmd, ExtDeviceInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Real property codes are 0x5xxx/0xDxxx; below 0x200 a code after an enumeration is
    // read as a second enumeration's count (2024+ bodies), so such sets are ambiguous by
    // design and only checked for not panicking.
    let props = parse_all_props(data).ok();
    if let Some(props) = props.filter(|p| p.iter().all(|d| d.code >= 0x200)) {
        let mut v = Vec::new();
        encode_all_props(&props, &mut v);
        let back = parse_all_props(&v).expect("own encoding parses");
        let mut again = Vec::new();
        encode_all_props(&back, &mut again);
        assert_eq!(v, again);
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
