//! `list`, `webcam` and `doctor` against Sony bodies in each USB mode, read from a fake
//! sysfs (the hidden `--root`): what each says, and the exit codes. A body in a mode
//! without PTP makes `webcam` fail at once (exit 1) with what to change on the camera.

use crate::support::cli::text;
use crate::support::usb_sysfs::{add_device, HID, MSC, PTP, UVC_CONTROL, UVC_STREAM};
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(args)
        .arg("--root")
        .arg(root)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run alpha-bridge")
}

const UVC: [(u8, u8, u8); 3] = [UVC_CONTROL, UVC_STREAM, (0x01, 0x01, 0x00)];

/// The `list` block of the device with `serial`.
fn block<'a>(out: &'a str, serial: &str) -> &'a str {
    let start = out
        .find(&format!("serial {serial}\n"))
        .unwrap_or_else(|| panic!("no {serial} in {out}"));
    let rest = &out[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

#[test]
fn list_explains_each_usb_mode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    add_device(root, "1-1", 2, "ILCE-6400", "PTP1", &[PTP], &[]);
    add_device(root, "1-2", 3, "ILCE-7M3", "MSC1", &[MSC], &[]);
    add_device(root, "1-3", 4, "ILCE-7M4", "UVC1", &UVC, &[2]);
    add_device(
        root,
        "1-4",
        5,
        "ZV-E1",
        "BOTH",
        &[UVC_CONTROL, UVC_STREAM, PTP],
        &[6],
    );
    add_device(root, "1-5", 6, "", "HID1", &[HID], &[]);
    let out = run(&["list", "--no-network"], root);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("5 Sony devices on USB:"), "{stdout}");

    // Nothing is opened under --root: PTP is "could not check".
    let b = block(&stdout, "PTP1");
    assert!(
        b.contains("mode     PTP (PC Remote or MTP: could not check)"),
        "{b}"
    );
    assert!(b.contains("may be in MTP mode"), "{b}");

    let b = block(&stdout, "MSC1");
    assert!(b.contains("mode     Mass Storage"), "{b}");
    assert!(
        b.contains("Mass Storage is the mode `alpha-bridge pair` uses"),
        "{b}"
    );
    assert!(
        b.contains("MENU → Setup → USB Connection → \"PC Remote\""),
        "{b}"
    );
    assert!(b.contains("(menu names vary by model)"), "{b}");

    let b = block(&stdout, "UVC1");
    assert!(b.contains("mode     USB Streaming"), "{b}");
    assert!(
        b.contains("the camera is already a webcam (USB Streaming at /dev/video2)"),
        "{b}"
    );
    assert!(b.contains("alpha-bridge is not needed for video"), "{b}");
    assert!(
        b.contains("Transfer/Remote → PC Remote Function"),
        "2020 menu: {b}"
    );
    assert!(b.contains("USB Connection Mode"), "{b}");

    let b = block(&stdout, "BOTH");
    assert!(
        b.contains("video    the camera is also a webcam (USB Streaming at /dev/video6)"),
        "{b}"
    );
    assert!(b.contains("PTP interface offered alongside"), "{b}");

    let b = block(&stdout, "HID1");
    assert!(b.contains("waiting for a USB mode choice"), "{b}");

    let out = run(&["list", "--json", "--no-network"], root);
    let j = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert!(j.contains("\"mode\":\"uvc_streaming\""), "{j}");
    assert!(j.contains("\"video_devices\":[\"/dev/video2\"]"), "{j}");
    assert!(j.contains("\"mode\":\"mass_storage\""), "{j}");
    assert!(j.contains("\"ready_for\":[\"pair\"]"), "{j}");
}

#[test]
fn webcam_with_a_body_in_a_wrong_mode_fails_with_the_advice() {
    for (ifaces, video, model, want) in [
        (&[MSC][..], &[][..], "ILCE-7M3", "USB mode: Mass Storage"),
        (
            &UVC[..],
            &[3][..],
            "ILCE-7M4",
            "already a webcam (USB Streaming at /dev/video3)",
        ),
        (
            &[HID][..],
            &[][..],
            "ILCE-6400",
            "waiting for a USB mode choice",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        add_device(dir.path(), "1-1", 2, model, "S1", ifaces, video);
        let out = run(
            &["webcam", "--device", "none", "--record", "/dev/null"],
            dir.path(),
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{model}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let last = stderr.trim().lines().last().unwrap();
        assert!(last.starts_with("error: "), "{stderr}");
        assert!(
            last.contains(&format!("the {model} has no PTP interface for live view")),
            "{last}"
        );
        assert!(last.contains(want), "{last}");
        assert!(
            last.contains("change the USB Connection setting to PC Remote"),
            "{last}"
        );
        assert!(!last.ends_with('.'), "{last}");
    }
    // The serial picks the body: the one in Mass Storage is refused even next to a
    // PTP body.
    let dir = tempfile::tempdir().unwrap();
    add_device(dir.path(), "1-1", 2, "ILCE-6400", "GOOD", &[PTP], &[]);
    add_device(dir.path(), "1-2", 3, "ILCE-7M3", "BAD", &[MSC], &[]);
    let out = run(
        &[
            "webcam",
            "--camera",
            "BAD",
            "--device",
            "none",
            "--record",
            "/dev/null",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the ILCE-7M3 has no PTP interface"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn doctor_warns_that_a_streaming_body_is_a_webcam_already() {
    let dir = tempfile::tempdir().unwrap();
    add_device(dir.path(), "1-1", 2, "ILCE-7M4", "UVC1", &UVC, &[4]);
    let dest = tempfile::tempdir().unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(["doctor", "--root"])
        .arg(dir.path())
        .arg("--dest")
        .arg(dest.path())
        .env("XDG_CONFIG_HOME", cfg.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("ILCE-7M4 serial UVC1"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.trim_start().starts_with("warn"), "{line}");
    assert!(
        stdout.contains("already a webcam (USB Streaming at /dev/video4)"),
        "{stdout}"
    );
}
