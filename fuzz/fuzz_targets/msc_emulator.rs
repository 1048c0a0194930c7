//! The mass-storage emulator's side (src/emulator/msc.rs): its CBW check and the Sony
//! pairing-block parser on arbitrary host bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alpha_bridge::emulator::msc::fuzz_host_bytes(data);
});
