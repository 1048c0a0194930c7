//! `alpha-bridge control` as a user runs it: against `webcam --camera emulated` through
//! the control socket (a private XDG_RUNTIME_DIR per test), and its exit codes.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin(rt: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"));
    c.env("XDG_RUNTIME_DIR", rt).env("RUST_LOG", "info");
    c
}

struct Webcam(Child);

impl Drop for Webcam {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn usage_mistakes_exit_2_before_any_camera_is_touched() {
    let rt = tempfile::tempdir().unwrap();
    for args in [
        &["control", "set", "iso", "lots"][..],
        &["control", "get", "warp"],
        &["control", "set", "mode", "M"],
        &["control", "focus-step", "0"],
        &["control", "af-point", "50%", "12"],
        &["control", "zoom", "sideways"],
    ] {
        let out = bin(rt.path()).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("USB") && !err.contains("emulated"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn control_through_the_running_webcam_and_with_its_own_camera() {
    let rt = tempfile::tempdir().unwrap();
    let stills = tempfile::tempdir().unwrap();
    let w = Webcam(
        bin(rt.path())
            .args([
                "webcam",
                "--camera",
                "emulated",
                "--emulated-model",
                "DSC-RX100M7",
            ])
            .args(["--device", "null", "--duration", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while !std::fs::read_dir(rt.path().join("alpha-bridge"))
        .is_ok_and(|mut d| d.any(|e| e.unwrap().path().extension().is_some_and(|x| x == "sock")))
    {
        assert!(t.elapsed() < Duration::from_secs(30), "no control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = |args: &[&str]| bin(rt.path()).args(args).output().unwrap();
    let out = run(&["control", "set", "iso", "800"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "iso 800\n");
    let out = run(&["control", "--json", "get", "iso"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["ok"], &v["value"]),
        (&Value::Bool(true), &Value::from("800"))
    );
    // A value the body does not list: a refusal, exit 1, the choices named.
    let out = run(&["control", "set", "iso", "300"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("it takes: auto, 100"));
    let out = run(&[
        "control",
        "capture",
        "--stills",
        stills.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("saved "));
    assert_eq!(std::fs::read_dir(stills.path()).unwrap().count(), 1);
    drop(w);
    // Without a webcam, `control` owns the (emulated) camera itself.
    let out = run(&["control", "--camera", "emulated", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("iso"));
}
