//! A private PipeWire session for tests (scripts/pw-session.sh: its own D-Bus bus, a
//! temporary XDG_RUNTIME_DIR, pipewire and wireplumber), never the desktop's, plus
//! helpers to run alpha-bridge and the outside judges in it. Skips with a loud message
//! when the tools are missing, except under CI=true, where that fails.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_alpha-bridge");
const TOOLS: [&str; 6] = [
    "dbus-run-session",
    "pipewire",
    "wireplumber",
    "pw-dump",
    "gst-launch-1.0",
    "ffmpeg",
];

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private PipeWire session; killed (its whole process group) on drop.
pub(crate) struct Session {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Session {
    pub(crate) fn start() -> Option<Session> {
        let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !have(t)).collect();
        if !missing.is_empty() {
            let msg = format!(
                "pipewire tests need {} (run scripts/setup.sh --test)",
                missing.join(", ")
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}");
            }
            eprintln!("\n*** SKIPPED: {msg} ***\n");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pw-session.sh");
        let child = Command::new(script)
            .args(["sleep", "600"])
            .env("PW_SESSION_DIR", dir.path())
            .env_remove("PW_SESSION_INNER")
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start scripts/pw-session.sh");
        let s = Session { dir, child };
        let ready = s.dir.path().join("ready");
        wait_for(
            Duration::from_secs(30),
            "the private PipeWire session",
            || ready.exists(),
        );
        Some(s)
    }

    pub(crate) fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("XDG_RUNTIME_DIR", self.dir.path())
            .env("PIPEWIRE_RUNTIME_DIR", self.dir.path())
            .env_remove("PIPEWIRE_REMOTE")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        c
    }

    pub(crate) fn webcam(&self, extra: &[&str]) -> Webcam {
        let log = self.dir.path().join(format!("webcam-{}.log", extra.len()));
        let child = self
            .cmd(BIN)
            .args(["webcam", "--camera", "emulated", "--output", "pipewire"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start alpha-bridge");
        let mut w = Webcam {
            child: Some(child),
            log,
            node: String::new(),
        };
        wait_for(
            Duration::from_secs(20),
            "the alpha-bridge node in pw-dump",
            || {
                w.node = node_block(&self.pw_dump())
                    .and_then(|b| prop(&b, "node.name"))
                    .unwrap_or_default();
                !w.node.is_empty()
            },
        );
        w
    }

    pub(crate) fn pw_dump(&self) -> String {
        let out = self.cmd("pw-dump").output().expect("run pw-dump");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `gst-launch-1.0 -q pipewiresrc target-object=NODE num-buffers=N ! CAPS ! SINK`.
    pub(crate) fn gst(&self, node: &str, buffers: u32, caps: &str, sink: &str) -> Output {
        let pipeline =
            format!("pipewiresrc target-object={node} num-buffers={buffers} ! {caps} ! {sink}");
        let mut child = self
            .cmd("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split(' '))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("run gst-launch-1.0");
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                kill_group(&child);
                panic!("gst-launch-1.0 got no {buffers} buffers in 60 s: {pipeline}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }
}

impl Session {
    /// [`Session::gst`] into a file `name` in the session's folder; asserts success.
    pub(crate) fn gst_to_file(&self, node: &str, buffers: u32, caps: &str, name: &str) -> PathBuf {
        let file = self.dir.path().join(name);
        let out = self.gst(
            node,
            buffers,
            caps,
            &format!("filesink location={}", file.display()),
        );
        assert!(out.status.success(), "{out:?}");
        file
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill_group(&self.child);
        let _ = self.child.wait();
    }
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub(crate) fn kill_group(child: &Child) {
    // SAFETY: kill(2) on the process group this test created for the child.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGTERM);
    }
}

/// A running `alpha-bridge webcam --output pipewire`; killed on drop if not stopped.
pub(crate) struct Webcam {
    child: Option<Child>,
    log: PathBuf,
    /// Its node's node.name.
    pub node: String,
}

impl Webcam {
    /// Stops alpha-bridge (Ctrl-C) and returns its stdout and log.
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    pub(crate) fn stop(mut self) -> (String, String) {
        let child = self.child.take().unwrap();
        // SAFETY: kill(2) on the process this test started.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let out = child.wait_with_output().expect("wait alpha-bridge");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(out.status.success(), "alpha-bridge failed: {log}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), log)
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pw-dump object (top-level array element) of the alpha-bridge node.
pub(crate) fn node_block(dump: &str) -> Option<String> {
    dump.split("\n  {\n")
        .find(|b| {
            b.contains("\"type\": \"PipeWire:Interface:Node\"")
                && b.contains("\"node.name\": \"alpha-bridge.")
        })
        .map(str::to_string)
}

pub(crate) fn prop(block: &str, key: &str) -> Option<String> {
    let at = block.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let end = block[at..].find('"')?;
    Some(block[at..at + end].to_string())
}
