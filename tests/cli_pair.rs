//! `alpha-bridge pair` run as a binary: identity shown and kept in a temporary
//! XDG_CONFIG_HOME, `--guid` stored for offload, pairing with the emulated camera.

use std::path::Path;
use std::process::{Command, Output};

fn run(config_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        // Keep a stray HOME config out of the picture.
        .env("HOME", config_home)
        .env_remove("RUST_LOG")
        .output()
        .expect("run alpha-bridge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value after `label` on its line of `--show` output.
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {out}"))
        .trim()
        .to_string()
}

#[test]
fn show_creates_one_identity_and_prints_both_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), &["pair", "--show"]);
    assert!(a.status.success(), "{a:?}");
    let out = stdout(&a);
    let guid = field(&out, "GUID:");
    assert_eq!(guid.len(), 32, "{out}");
    assert!(guid.chars().all(|c| c.is_ascii_hexdigit()));
    // PlayMemories shape: 8 zero bytes, FF FF, then a MAC (real or random).
    assert!(guid.starts_with("0000000000000000ffff"), "{guid}");
    let setting = field(&out, "gphoto2 setting:");
    let pairs: Vec<String> = guid
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(setting, format!("ptp2_ip=guid={}", pairs.join(":")));
    let file = tmp.path().join("alpha-bridge/config.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("guid = \"{guid}\"")), "{text}");

    // Generated once: a second run shows the same GUID.
    let b = run(tmp.path(), &["pair", "--show"]);
    assert_eq!(field(&stdout(&b), "GUID:"), guid);
}

#[test]
fn guid_override_is_stored_and_bad_guids_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--guid",
            "FFFF5254-00B6-FDA9-FFFF-523C2807A93A",
            "--show",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        field(&stdout(&o), "GUID:"),
        "ffff525400b6fda9ffff523c2807a93a"
    );
    // sony-pm-alt's gphoto-settings line for the sony-guid-setter GUID.
    assert_eq!(
        field(&stdout(&o), "gphoto2 setting:"),
        "ptp2_ip=guid=ff:ff:52:54:00:b6:fd:a9:ff:ff:52:3c:28:07:a9:3a"
    );
    let o = run(tmp.path(), &["pair", "--show"]);
    assert_eq!(
        field(&stdout(&o), "GUID:"),
        "ffff525400b6fda9ffff523c2807a93a"
    );

    let o = run(tmp.path(), &["pair", "--guid", "12345", "--show"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("hex digits"));
}

#[test]
fn pairs_with_the_emulated_camera() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("camera-state");
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--guid",
            "0000000000000000ffff080027f5164f",
            "--camera",
            "emulated",
            "--emulator-state",
            state.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    assert!(out.starts_with("paired: "), "{out}");
    assert!(out.contains("0000000000000000ffff080027f5164f"), "{out}");
    assert!(out.contains("Send to Computer"), "{out}");
    let reg = std::fs::read_to_string(state.join("registered-hosts")).unwrap();
    assert!(reg.contains("0000000000000000ffff080027f5164f\t"), "{reg}");
}

#[test]
fn failures_exit_1_with_an_error_line_and_usage_errors_2() {
    let tmp = tempfile::tempdir().unwrap();
    // No camera can be reached here (no USB support yet, or no camera plugged in).
    let o = run(tmp.path(), &["pair", "--camera", "NO-SUCH-SERIAL-0000"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().any(|l| l.starts_with("error: ")), "{err}");
    // An option that only applies to `--camera emulated` is a usage error (issue 12).
    let o = run(tmp.path(), &["pair", "--emulator-state", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
