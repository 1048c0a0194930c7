//! Live-view objects (src/frame): dataset extraction, the JPEG marker walk and the
//! back-to-back dataset splitter. Whatever they return must lie inside the input.
#![no_main]

use alpha_bridge::frame::{dataset_len, extract, jpeg_info, split_datasets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = extract(data);
    if let Ok(info) = jpeg_info(data) {
        assert!(info.len <= data.len());
    }
    let _ = dataset_len(data, 0);
    let mut split = split_datasets(data);
    let mut total = 0usize;
    for item in split.by_ref() {
        match item {
            Ok(ds) => total += ds.len(),
            Err(_) => break,
        }
    }
    assert!(total <= data.len() && split.position() <= data.len());
});
