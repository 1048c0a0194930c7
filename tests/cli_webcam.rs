//! Runs the real binary on the built-in emulated camera (ripgrep `tests/util.rs` style)
//! and lets ffmpeg judge the recording.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"));
    c.env("RUST_LOG", "info");
    c
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Frames ffmpeg decodes from `path` with every error fatal; panics on any error.
fn ffmpeg_strict_frames(path: &Path, demuxer: &str) -> u64 {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-xerror",
            "-err_detect",
            "explode",
            "-f",
            demuxer,
            "-i",
        ])
        .arg(path)
        .args(["-f", "null", "-", "-progress", "pipe:1", "-nostats"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffmpeg reported errors: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("frame="))
        .next_back()
        .and_then(|n| n.trim().parse().ok())
        .expect("ffmpeg printed a frame count")
}

fn recorded_count(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("recorded ")
                .and_then(|r| r.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no 'recorded N frames' line in: {stdout}"))
}

/// Runs `webcam --camera emulated --device none --frames N --record FILE [extra…]`,
/// asserts it succeeded, and returns its standard output.
fn record_emulated(file: &Path, frames: u32, extra: &[&std::ffi::OsStr]) -> String {
    let out = bin()
        .args([
            "webcam", "--camera", "emulated", "--device", "none", "--frames",
        ])
        .arg(frames.to_string())
        .arg("--record")
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn webcam_records_the_emulated_camera_and_ffmpeg_decodes_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.mjpeg");
    let stdout = record_emulated(&file, 45, &[]);
    assert_eq!(recorded_count(&stdout), 45);
    assert!(
        !dir.path().join("out.mjpeg.partial").exists(),
        "no partial file is left behind"
    );
    if !have("ffmpeg") {
        eprintln!("ffmpeg missing: skipping the decode check");
        return;
    }
    assert_eq!(ffmpeg_strict_frames(&file, "mjpeg"), 45);
}

#[test]
fn webcam_records_avi_that_ffmpeg_reads() {
    if !have("ffmpeg") {
        eprintln!("ffmpeg missing: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.avi");
    let stdout = record_emulated(&file, 20, &[]);
    assert_eq!(recorded_count(&stdout), 20);
    assert!(ffmpeg_strict_frames(&file, "avi") >= 20);
}

#[test]
fn no_camera_says_how_to_try_the_emulator() {
    let out = bin()
        .args(["webcam", "--device", "none", "--record", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--camera emulated") || err.contains("USB"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = bin().args(["webcam", "--fps", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stats_json_is_written_with_real_figures() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    record_emulated(
        &dir.path().join("x.mjpeg"),
        30,
        &["--stats-json".as_ref(), stats.as_os_str()],
    );
    let j = std::fs::read_to_string(&stats).unwrap();
    assert!(j.contains("\"captured\":30"), "{j}");
    let fps: f64 = j
        .split("\"fps_in\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        fps > 0.5 && fps < 40.0,
        "live view is never polled past the camera's 30 fps, got {fps}"
    );
}
