//! The device-description HTTP answer (src/ssdp/listener.rs parse_description_response):
//! status line, header end and body cap on arbitrary bytes.
#![no_main]

use alpha_bridge::ssdp::listener::{parse_description_response, MAX_DESCRIPTION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = parse_description_response(data.to_vec()) {
        assert!(body.len() <= MAX_DESCRIPTION && body.len() <= data.len());
    }
});
