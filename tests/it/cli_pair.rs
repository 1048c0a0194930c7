//! `alpha-bridge pair` run as a binary, config in a temporary XDG_CONFIG_HOME: the
//! identity changes only on success (a failed pairing, `--show` and bad GUIDs leave the
//! config file byte-identical), pairing with the emulated camera stores the GUID while
//! keeping the rest of the file, and unknown keys are reported.

use crate::support::cli::{stderr, stdout};
use std::path::{Path, PathBuf};
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

/// The value after `label` on its line of `--show` output.
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {out}"))
        .trim()
        .to_string()
}

fn config_file(home: &Path) -> PathBuf {
    home.join("alpha-bridge/config.toml")
}

/// A hand-written config: comments, odd spacing, literal strings, an unknown key and
/// a section, a stored pairing.
const USER_CONFIG: &str = "\
# my alpha-bridge settings
host_name =   'studio'   # what the camera shows
guid = \"0000000000000000ffff080027f5164f\"  # paired with the a6400
future_key = true

[offload]
dest = '/srv/photos'
";

fn write_user_config(home: &Path) -> PathBuf {
    let f = config_file(home);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, USER_CONFIG).unwrap();
    f
}

/// Content, inode and mtime: "not touched" rather than "rewritten with the same bytes".
fn snapshot(f: &Path) -> (Vec<u8>, u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(f).unwrap();
    (std::fs::read(f).unwrap(), m.ino(), m.modified().unwrap())
}

#[test]
fn show_prints_both_forms_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // Never paired: what `pair` would register, and nothing created.
    let a = run(tmp.path(), &["pair", "--show"]);
    assert!(a.status.success(), "{a:?}");
    let out = stdout(&a);
    assert!(out.contains("not paired yet: nothing is stored"), "{out}");
    let guid = field(&out, "GUID:");
    if guid != "none stored" {
        // PlayMemories shape: 8 zero bytes, FF FF, then this computer's MAC.
        assert!(guid.starts_with("0000000000000000ffff"), "{guid}");
        assert_eq!(guid.len(), 32, "{out}");
        let pairs: Vec<String> = guid
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(
            field(&out, "gphoto2 setting:"),
            format!("ptp2_ip=guid={}", pairs.join(":"))
        );
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "--show created files"
    );

    // Paired: the stored GUID, in the form it is stored, file untouched.
    let f = write_user_config(tmp.path());
    let before = snapshot(&f);
    let b = run(tmp.path(), &["pair", "--show"]);
    assert!(b.status.success(), "{b:?}");
    let out = stdout(&b);
    assert_eq!(field(&out, "GUID:"), "0000000000000000ffff080027f5164f");
    assert_eq!(
        field(&out, "gphoto2 setting:"),
        "ptp2_ip=guid=00:00:00:00:00:00:00:00:ff:ff:08:00:27:f5:16:4f"
    );
    assert_eq!(field(&out, "host name:"), "studio");
    assert!(!out.contains("not paired"), "{out}");
    assert_eq!(snapshot(&f), before);
}

#[test]
fn bad_guids_are_usage_errors_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_user_config(tmp.path());
    let before = snapshot(&f);
    let state = tmp.path().join("camera-state");
    let state = state.to_str().unwrap();
    for (guid, why) in [
        ("00000000000000000000000000000000", "all zero"),
        ("00000000-0000-0000-0000-000000000000", "all zero"),
        ("12345", "5 hex digits"),
        ("ffff525400b6fda9ffff523c2807a93", "31 hex digits"),
        (
            "ffff525400b6fda9ffff523c2807a93a00",
            "more than 32 hex digits",
        ),
        ("xfff525400b6fda9ffff523c2807a93a", "'x' is not a hex digit"),
    ] {
        for args in [
            vec!["pair", "--guid", guid],
            vec![
                "pair",
                "--guid",
                guid,
                "--camera",
                "emulated",
                "--emulator-state",
                state,
            ],
            vec![
                "offload",
                "--once",
                "--camera",
                "127.0.0.1:9",
                "--guid",
                guid,
            ],
            vec![
                "emulate",
                "--wifi",
                "--files",
                "/nonexistent",
                "--guid",
                guid,
            ],
        ] {
            let o = run(tmp.path(), &args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
            assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
        }
    }
    // --show never takes a GUID to store (it only shows).
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--show",
            "--guid",
            "ffff525400b6fda9ffff523c2807a93a",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    assert_eq!(snapshot(&f), before);
    assert!(!Path::new(state).exists(), "the camera was never reached");
}

#[test]
fn a_failed_pairing_leaves_the_config_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    // No config at all: none is created by a pairing that failed.
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--guid",
            "ffff525400b6fda9ffff523c2807a93a",
            "--camera",
            "NO-SUCH-SERIAL-0000",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        stderr(&o).lines().any(|l| l.starts_with("error: ")),
        "{o:?}"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // A stored pairing: a new GUID that no camera accepted is not stored.
    let f = write_user_config(tmp.path());
    let before = snapshot(&f);
    for args in [
        vec![
            "pair",
            "--guid",
            "ffff525400b6fda9ffff523c2807a93a",
            "--camera",
            "NO-SUCH-SERIAL-0000",
        ],
        vec!["pair", "--camera", "NO-SUCH-SERIAL-0000"],
    ] {
        let o = run(tmp.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
        assert_eq!(snapshot(&f), before, "{args:?}");
    }
    // The emulated camera's state dir cannot be created: refused before the camera is
    // touched (a usage error since the path checks run first), and the file kept.
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let bad_state = blocker.join("state");
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--guid",
            "ffff525400b6fda9ffff523c2807a93a",
            "--camera",
            "emulated",
            "--emulator-state",
            bad_state.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(snapshot(&f), before);
}

#[test]
fn a_confirmed_pairing_stores_the_guid_and_keeps_the_rest_of_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("camera-state");
    let state = state.to_str().unwrap();
    // Never paired, no file: the default GUID is registered, then stored.
    let o = run(
        tmp.path(),
        &["pair", "--camera", "emulated", "--emulator-state", state],
    );
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    let guid = field(&stdout(&run(tmp.path(), &["pair", "--show"])), "GUID:");
    assert!(out.contains(&format!("stored GUID {guid} in ")), "{out}");
    let text = std::fs::read_to_string(config_file(tmp.path())).unwrap();
    assert!(text.starts_with("# alpha-bridge settings (TOML)"), "{text}");
    assert!(text.contains(&format!("guid = \"{guid}\"")), "{text}");

    // The user's own file: only the GUID's value changes, byte for byte.
    let f = write_user_config(tmp.path());
    let o = run(
        tmp.path(),
        &[
            "pair",
            "--guid",
            "FFFF5254-00B6-FDA9-FFFF-523C2807A93A",
            "--camera",
            "emulated",
            "--emulator-state",
            state,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    assert!(out.starts_with("paired: "), "{out}");
    assert!(out.contains("ffff525400b6fda9ffff523c2807a93a"), "{out}");
    assert!(out.contains("Send to Computer"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        USER_CONFIG.replace(
            "0000000000000000ffff080027f5164f",
            "ffff525400b6fda9ffff523c2807a93a"
        )
    );
    let reg = std::fs::read_to_string(Path::new(state).join("registered-hosts")).unwrap();
    assert!(reg.contains("ffff525400b6fda9ffff523c2807a93a\t"), "{reg}");
    // offload and `--show` now use it.
    let show = stdout(&run(tmp.path(), &["pair", "--show"]));
    assert_eq!(field(&show, "GUID:"), "ffff525400b6fda9ffff523c2807a93a");

    // Pairing again with the stored GUID: accepted, the file not even rewritten.
    let before = snapshot(&f);
    let o = run(
        tmp.path(),
        &["pair", "--camera", "emulated", "--emulator-state", state],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(!stdout(&o).contains("stored GUID"), "{}", stdout(&o));
    assert_eq!(snapshot(&f), before);
}

#[test]
fn unknown_keys_and_broken_files_are_reported_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write_user_config(tmp.path());
    let o = run(tmp.path(), &["pair", "--show"]);
    assert!(o.status.success(), "{o:?}");
    let err = stderr(&o);
    let file = f.display().to_string();
    assert!(
        err.contains(&format!("{file}:4: unknown key `future_key` ignored (known keys, all at the top: guid, host_name)")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:6: unknown section [offload] ignored")),
        "{err}"
    );

    // A file that is not TOML: one line naming the place, exit 1, the file kept.
    std::fs::write(
        &f,
        "guid = \"ffff525400b6fda9ffff523c2807a93a\"\nhost_name = 'unclosed\n",
    )
    .unwrap();
    let before = snapshot(&f);
    for args in [
        vec!["pair", "--show"],
        vec!["pair", "--camera", "emulated"],
        vec![
            "offload",
            "--once",
            "--camera",
            "127.0.0.1:9",
            "--dest",
            "/tmp",
        ],
    ] {
        let o = run(tmp.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
        let err = stderr(&o);
        assert!(err.contains(&format!("{file}:2:")), "{args:?}: {err}");
        assert!(!stdout(&o).contains("paired:"), "{o:?}");
        assert_eq!(snapshot(&f), before);
    }
}

#[test]
fn emulator_state_without_the_emulated_camera_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(tmp.path(), &["pair", "--emulator-state", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr(&o).contains("--emulator-state only applies to --camera emulated"));
}

#[test]
fn a_camera_that_is_not_there_is_a_runtime_failure_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    // No camera can be reached here (no USB support yet, or no camera plugged in).
    let o = run(tmp.path(), &["pair", "--camera", "NO-SUCH-SERIAL-0000"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().any(|l| l.starts_with("error: ")), "{err}");
}
