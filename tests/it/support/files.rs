//! File-system fixtures shared by the integration tests and the library's own unit
//! tests (`src/sink/record/tests.rs` and `src/cli/paths.rs` include this file by path),
//! for the record-target cases: what a directory holds, and a FIFO to record into.

#![allow(dead_code)]

use std::path::Path;

/// Names in `dir`, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Makes a FIFO at `path`.
#[allow(unsafe_code)] // FFI; the unsafe block says why it is sound
pub(crate) fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path that outlives the call.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}
