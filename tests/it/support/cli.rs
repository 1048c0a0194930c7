//! Running the `alpha-bridge` binary and reading what it printed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Bytes a program printed, as text.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub(crate) fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// Runs `cmd` (the binary, set up by the caller) with
/// `webcam --camera emulated --device DEVICE --frames N --record FILE [extra…]`,
/// asserts it succeeded, and returns its standard output.
pub(crate) fn record_emulated(
    mut cmd: Command,
    device: &str,
    frames: u32,
    file: &Path,
    extra: &[&OsStr],
) -> String {
    let out = cmd
        .args([
            "webcam", "--camera", "emulated", "--device", device, "--frames",
        ])
        .arg(frames.to_string())
        .arg("--record")
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}
