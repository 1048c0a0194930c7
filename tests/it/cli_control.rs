//! `alpha-bridge control` as a user runs it: against `webcam --camera emulated` (one
//! body, or several with `emulated:N`) and `webcam --camera ptpip:HOST` through the
//! control socket (a private XDG_RUNTIME_DIR per test), and its exit codes.

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

impl Webcam {
    /// Ctrl-C, then what it printed on standard output (its summary).
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    fn stop(mut self) -> String {
        // SAFETY: kill on our own child's pid, which has not been waited for yet.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let t = Instant::now();
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "webcam ignored Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            std::io::Read::read_to_string(&mut o, &mut out).unwrap();
        }
        out
    }
}

/// The serials of the live control sockets in `rt`, once there are `n`.
fn wait_for_sockets(rt: &std::path::Path, n: usize) -> Vec<String> {
    let t = Instant::now();
    loop {
        let mut found: Vec<String> = std::fs::read_dir(rt.join("alpha-bridge"))
            .map(|d| {
                d.filter_map(|e| {
                    let p = e.ok()?.path();
                    (p.extension()? == "sock")
                        .then(|| p.file_stem().unwrap().to_string_lossy().into())
                })
                .collect()
            })
            .unwrap_or_default();
        if found.len() >= n {
            found.sort();
            return found;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{} control sockets, want {n}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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

#[test]
fn each_camera_of_a_several_camera_webcam_has_its_own_socket_and_one_is_picked_by_serial() {
    let rt = tempfile::tempdir().unwrap();
    let w = Webcam(
        bin(rt.path())
            .args(["webcam", "--camera", "emulated:2", "--device", "null"])
            .args(["--duration", "90s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (one, two) = ("0000000000000001", "0000000000000002");
    assert_eq!(wait_for_sockets(rt.path(), 2), [one, two]);
    let run = |args: &[&str]| bin(rt.path()).args(args).output().unwrap();
    // Several and none picked: a usage error naming them, before anything is asked.
    let out = run(&["control", "set", "iso", "400"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(one) && err.contains(two) && err.contains("--camera"),
        "{err}"
    );
    let out = run(&["control", "--camera", one, "set", "iso", "400"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "iso 400\n");
    // Each socket reaches its own body: the other one kept its setting.
    let get = |serial: &str| {
        let out = run(&["control", "--camera", serial, "get", "iso"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(get(one), "iso 400\n");
    assert_ne!(get(two), "iso 400\n");
    let summary = w.stop();
    // The summary counts each camera's requests under that camera.
    let section = |serial: &str| -> String {
        let mut lines = summary.lines();
        lines
            .find(|l| l.starts_with(&format!("ILCE-6400 {serial} ")))
            .unwrap_or_else(|| panic!("no summary for {serial}: {summary}"));
        lines
            .take_while(|l| l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        section(one).contains("camera control: 2 requests, 0 failed"),
        "{summary}"
    );
    assert!(
        section(two).contains("camera control: 1 request, 0 failed"),
        "{summary}"
    );
    // Every socket is gone with the webcam.
    assert_eq!(
        std::fs::read_dir(rt.path().join("alpha-bridge"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn control_reaches_a_body_over_ptpip_through_the_webcam() {
    use alpha_bridge::emulator::wifi::{WifiConfig, WifiEmulator};
    use alpha_bridge::emulator::Body;
    let body = Body::ilce_6400();
    let served = body.stats().clone();
    let serial = body.serial.clone();
    let emu = WifiEmulator::start(WifiConfig::pc_remote(body).for_tests(None)).unwrap();
    let rt = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let stills = tempfile::tempdir().unwrap();
    let w = Webcam(
        bin(rt.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .args(["webcam", "--camera", &format!("ptpip:{}", emu.ptpip_addr())])
            .args(["--device", "null", "--duration", "90s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert_eq!(wait_for_sockets(rt.path(), 1), [serial]);
    let run = |args: &[&str]| bin(rt.path()).args(args).output().unwrap();
    // One webcam: its socket is found without --camera.
    let out = run(&["control", "set", "ev", "-1.0"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ev -1.0\n");
    let out = run(&["control", "get", "ev"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ev -1.0\n");
    let out = run(&[
        "control",
        "--json",
        "capture",
        "--stills",
        stills.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let saved = std::fs::read(v["path"].as_str().unwrap()).unwrap();
    assert_eq!(served.stills_served(), 1);
    assert!(
        Some(&saved) == served.last_still().as_ref(),
        "the saved still ({} bytes) is not the one the body served",
        saved.len()
    );
    eprintln!(
        "over PTP/IP: still of {} bytes in {} ms, live-view gap {} ms",
        saved.len(),
        v["ms"],
        v["live_view_gap_ms"]
    );
    let summary = w.stop();
    assert!(
        summary.contains("camera control: 3 requests, 0 failed, 1 still taken"),
        "{summary}"
    );
    drop(emu);
}
