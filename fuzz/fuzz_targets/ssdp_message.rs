//! SSDP datagrams (src/ssdp/message.rs) and the LOCATION URL parser; a parsed message
//! must format to one that parses the same.
#![no_main]

use alpha_bridge::ssdp::message::{HttpUrl, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let _ = (
            m.nt(),
            m.nts(),
            m.st(),
            m.usn(),
            m.target(),
            m.is_mtp_alive(),
        );
        if let Some(loc) = m.location() {
            let _ = HttpUrl::parse(loc);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = HttpUrl::parse(s);
    }
});
