//! The `alpha-bridge offload` binary against the scripted fake camera over loopback:
//! `--camera ADDR --once --dest DIR --guid G` downloads everything and exits 0; an
//! unpaired GUID exits 1 with the pairing advice.

use crate::support::fake_ptpip::{Content, FakeCamera, FakeConfig, FakeObject, GUID};

fn hex(g: &[u8]) -> String {
    g.iter().map(|b| format!("{b:02x}")).collect()
}

fn offload(cam: &FakeCamera, dest: &std::path::Path, guid: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(["offload", "--once", "--camera"])
        .arg(cam.addr.to_string())
        .arg("--dest")
        .arg(dest)
        .args(["--guid", guid])
        .output()
        .unwrap()
}

#[test]
fn offload_once_downloads_and_exits_zero() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let cam = FakeCamera::start(FakeConfig {
        objects: vec![FakeObject::file(
            2,
            "DSC00001.JPG",
            Content::Bytes(data.clone()),
        )],
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = offload(&cam, dir.path(), &hex(&GUID));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("2026-11-25/DSC00001.JPG")).unwrap(),
        data
    );
    assert!(
        err.contains("session done: 1 file downloaded (293.0 KiB), 0 skipped"),
        "{err}"
    );
}

#[test]
fn an_unpaired_guid_exits_one_with_advice() {
    let cam = FakeCamera::start(FakeConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let out = offload(&cam, dir.path(), "00000000000000000000000000000001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("this camera is not paired with this computer: run `alpha-bridge pair`"),
        "{err}"
    );
}

/// The old offload created and stored a random GUID when none was stored; only a
/// confirmed `pair` may store one. Without a pairing it tries the default GUID (or says
/// to pair) and leaves the config directory as it was: here, absent.
#[test]
fn offload_without_a_pairing_stores_nothing() {
    let cam = FakeCamera::start(FakeConfig::default());
    let home = tempfile::tempdir().unwrap();
    let dest = home.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(["offload", "--once", "--camera"])
        .arg(cam.addr.to_string())
        .arg("--dest")
        .arg(&dest)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("cfg"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // The fake camera knows only its own GUID: refused either way.
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no pairing stored in") && err.contains("alpha-bridge pair"),
        "{err}"
    );
    assert!(!home.path().join("cfg").exists(), "the config was created");
}
