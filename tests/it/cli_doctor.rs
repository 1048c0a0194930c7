//! `alpha-bridge doctor` run as a binary against fake /sys, /etc, /lib, /proc and /dev
//! trees (the hidden `--root`) and the built-in emulated camera (`--camera emulated`,
//! read through the real session code): a ready system exits 0, each problem is a FAIL
//! line with its fix and exits 1, and nothing is written.

use crate::support::cli::text;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RELEASE: &str = "6.1.0-test-amd64";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

struct Fake {
    root: tempfile::TempDir,
    config: tempfile::TempDir,
    dest: tempfile::TempDir,
}

impl Fake {
    /// An empty system: no rules, no module, no config.
    fn bare() -> Fake {
        let f = Fake {
            root: tempfile::tempdir().unwrap(),
            config: tempfile::tempdir().unwrap(),
            dest: tempfile::tempdir().unwrap(),
        };
        f.file("/proc/sys/kernel/osrelease", format!("{RELEASE}\n"));
        f.file(
            &format!("/lib/modules/{RELEASE}/modules.dep"),
            "kernel/drivers/usb/gadget/udc/dummy_hcd.ko.xz:\n",
        );
        f
    }

    /// Everything a first run needs: both rules as shipped, v4l2loopback loaded with
    /// exclusive_caps at /dev/video10, a paired config.
    fn ready() -> Fake {
        let f = Fake::bare();
        for rule in ["60-alpha-bridge.rules", "70-alpha-bridge-gvfs.rules"] {
            f.file(
                &format!("/etc/udev/rules.d/{rule}"),
                fs::read(repo(&format!("udev/{rule}"))).unwrap(),
            );
        }
        f.file(
            "/sys/module/v4l2loopback/parameters/exclusive_caps",
            "Y,N,N,N,N,N,N,N\n",
        );
        f.file(
            "/sys/module/v4l2loopback/parameters/video_nr",
            "10,-1,-1,-1,-1,-1,-1,-1\n",
        );
        f.file("/sys/module/v4l2loopback/parameters/max_buffers", "8\n");
        f.file(
            "/sys/class/video4linux/video10/name",
            "Sony Alpha (alpha-bridge)\n",
        );
        f.file("/sys/class/video4linux/video10/max_openers", "10\n");
        f.file("/dev/video10", "");
        fs::create_dir_all(f.config.path().join("alpha-bridge")).unwrap();
        fs::write(
            f.config.path().join("alpha-bridge/config.toml"),
            "guid = \"0000000000000000ffff0242ac110002\"\nhost_name = \"desk\"\n",
        )
        .unwrap();
        f
    }

    fn file(&self, p: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.path().join(p.trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    fn link(&self, p: &str, target: &str) {
        let path = self.root.path().join(p.trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn command(&self, prefix: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_alpha-bridge");
        let mut c = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        c.arg("doctor")
            .arg("--camera")
            .arg("emulated")
            .arg("--root")
            .arg(self.root.path())
            .arg("--dest")
            .arg(self.dest.path())
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("RUST_LOG", "warn");
        c
    }

    fn run(&self) -> Output {
        self.command(&[]).output().unwrap()
    }
}

/// The checklist's lines as (status, what, detail, fix).
fn lines(stdout: &str) -> Vec<(String, String, String, Option<String>)> {
    let mut out: Vec<(String, String, String, Option<String>)> = Vec::new();
    for l in stdout.lines() {
        if let Some(fix) = l.strip_prefix("      fix: ") {
            let last = out.last_mut().expect("a fix line follows a check line");
            assert!(last.3.is_none(), "one fix per line: {stdout}");
            last.3 = Some(fix.to_string());
            continue;
        }
        if l.is_empty() || l.starts_with("ready") || l.starts_with("not ready") {
            continue;
        }
        let (status, rest) = l.split_once("  ").expect(l);
        assert!(
            ["ok  ", "warn", "FAIL"].contains(&format!("{status:<4}").as_str()),
            "{l}"
        );
        let rest = rest.trim_start();
        let (what, detail) = rest.split_once("  ").expect(l);
        out.push((
            status.trim().to_string(),
            what.trim().to_string(),
            detail.trim().to_string(),
            None,
        ));
    }
    for (status, what, _, fix) in &out {
        assert_eq!(
            status == "ok",
            fix.is_none(),
            "a fix under every line that is not ok, and only there ({what}): {stdout}"
        );
    }
    out
}

fn find<'a>(
    lines: &'a [(String, String, String, Option<String>)],
    what: &str,
) -> &'a (String, String, String, Option<String>) {
    lines
        .iter()
        .find(|l| l.1 == what)
        .unwrap_or_else(|| panic!("no '{what}' line in {lines:#?}"))
}

#[test]
fn a_ready_system_with_the_emulated_camera_passes_every_check() {
    let f = Fake::ready();
    let out = f.run();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{stderr}");
    let l = lines(&stdout);
    assert!(
        l.iter().all(|c| c.0 != "FAIL"),
        "no FAIL line: {stdout}{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("ready"),
        "{stdout}"
    );

    let cam = find(&l, "camera");
    assert_eq!(cam.0, "ok");
    assert!(cam.2.starts_with("ILCE-6400 serial "), "{cam:?}");
    assert!(
        cam.2.ends_with("PC Remote, ready for alpha-bridge webcam"),
        "{cam:?}"
    );
    assert_eq!(find(&l, "usb access").0, "ok");
    assert_eq!(find(&l, "in use").0, "ok");
    assert_eq!(
        find(&l, "udev rule").2,
        "/etc/udev/rules.d/60-alpha-bridge.rules installed"
    );
    assert_eq!(find(&l, "gvfs").0, "ok");
    let v = find(&l, "v4l2loopback");
    assert_eq!(
        (v.0.as_str(), v.2.as_str()),
        ("ok", "loaded: /dev/video10 \"Sony Alpha (alpha-bridge)\"")
    );
    assert_eq!(find(&l, "exclusive_caps").0, "ok");
    let b = find(&l, "buffers");
    assert_eq!((b.0.as_str(), b.2.as_str()), ("ok", "max_buffers=8"));
    assert_eq!(find(&l, "video device").0, "ok");
    let p = find(&l, "pairing");
    assert_eq!(p.0, "ok");
    assert!(p.2.contains("0000000000000000ffff0242ac110002"), "{p:?}");
    let s = find(&l, "offload space");
    assert_ne!(s.0, "FAIL", "{s:?}");
    assert!(s.2.contains(&f.dest.path().display().to_string()), "{s:?}");
}

#[test]
fn each_problem_is_a_fail_line_with_its_fix_and_the_exit_code_is_1() {
    let f = Fake::bare();
    // gvfs runs and holds the emulated body's node (bus 001, device 002).
    f.file("/proc/4242/comm", "gvfs-gphoto2-vo\n");
    f.file(
        "/proc/4242/cmdline",
        b"/usr/libexec/gvfs-gphoto2-volume-monitor\0",
    );
    f.link("/proc/4242/fd/11", "/dev/bus/usb/001/002");
    // Exclusive caps off is a separate problem only once the module is loaded: here
    // it is not even installed.
    let out = f.run();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let l = lines(&stdout);

    let udev = find(&l, "udev rule");
    assert_eq!(udev.0, "FAIL");
    assert!(udev
        .3
        .as_ref()
        .unwrap()
        .contains("sudo cp udev/60-alpha-bridge.rules"));
    let gvfs = find(&l, "gvfs");
    assert_eq!(gvfs.0, "FAIL");
    assert!(gvfs.2.contains("running (pid 4242)"), "{gvfs:?}");
    let v = find(&l, "v4l2loopback");
    assert_eq!(v.0, "FAIL");
    assert_eq!(v.2, format!("not installed for kernel {RELEASE}"));
    assert!(v.3.as_ref().unwrap().contains("v4l2loopback-dkms"), "{v:?}");
    assert!(
        !l.iter().any(|c| c.1 == "exclusive_caps"),
        "no exclusive_caps line without the module: {stdout}"
    );
    let held = find(&l, "in use");
    assert_eq!(held.0, "FAIL");
    assert_eq!(held.2, "held by gvfs-gphoto2-volume-monitor (pid 4242)");
    assert!(held
        .3
        .as_ref()
        .unwrap()
        .contains("systemctl --user stop gvfs-gphoto2-volume-monitor"));
    // Without PipeWire either, the module's fix names the PipeWire way too.
    assert!(
        v.3.as_ref().unwrap().ends_with(
            "or, without v4l2loopback: systemctl --user start pipewire wireplumber, then \
             `alpha-bridge webcam --output pipewire`"
        ),
        "{v:?}"
    );
    // The camera itself is fine; not pairing yet and no PipeWire are only warnings.
    assert_eq!(find(&l, "camera").0, "ok");
    assert_eq!(find(&l, "pairing").0, "warn");
    let pw = find(&l, "pipewire");
    assert_eq!(pw.0, "warn");
    assert!(
        pw.2.starts_with("not running for this user (no socket at "),
        "{pw:?}"
    );

    let fails = l.iter().filter(|c| c.0 == "FAIL").count();
    assert!(
        stdout.contains(&format!("not ready: {fails} problems to fix, 2 warnings")),
        "{stdout}"
    );
    let err: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        err,
        [format!(
            "error: {fails} of {} checks failed: do what the fix under each FAIL line says, then run `alpha-bridge doctor` again",
            l.len()
        )],
        "{stderr}"
    );
    assert_eq!(
        fs::read_dir(f.config.path()).unwrap().count(),
        0,
        "doctor wrote no config"
    );
}

#[test]
fn exclusive_caps_off_fails() {
    let f = Fake::ready();
    f.file(
        "/sys/module/v4l2loopback/parameters/exclusive_caps",
        "N,N,N,N,N,N,N,N\n",
    );
    let out = f.run();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let l = lines(&stdout);
    let c = find(&l, "exclusive_caps");
    assert_eq!(c.0, "FAIL");
    assert!(c.2.starts_with("off for /dev/video10"), "{c:?}");
    assert_eq!(l.iter().filter(|c| c.0 == "FAIL").count(), 1, "{stdout}");
}

#[test]
fn with_pipewire_running_a_missing_v4l2loopback_is_only_a_warning() {
    use std::os::unix::fs::MetadataExt;
    let f = Fake::ready();
    fs::remove_dir_all(f.root.path().join("sys/module/v4l2loopback")).unwrap();
    // A daemon stand-in where doctor looks under --root: run/user/UID/pipewire-0.
    let uid = fs::metadata(f.root.path()).unwrap().uid();
    let socket = f.file(&format!("/run/user/{uid}/pipewire-0"), "");
    fs::remove_file(&socket).unwrap();
    let _daemon = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let out = f.run();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let l = lines(&stdout);
    let pw = find(&l, "pipewire");
    assert_eq!(pw.0, "ok", "{pw:?}");
    assert!(pw.2.contains("works without v4l2loopback"), "{pw:?}");
    let v = find(&l, "v4l2loopback");
    assert_eq!(v.0, "warn", "{v:?}");
    assert!(
        v.3.as_ref()
            .unwrap()
            .starts_with("not needed while PipeWire runs"),
        "{v:?}"
    );
    assert!(l.iter().all(|c| c.0 != "FAIL"), "{stdout}");
}

/// Root may open anything, so the permission check is run as `nobody` (setpriv).
#[test]
fn no_access_to_the_camera_node_fails_for_a_user() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    let drop = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let can_drop = is_root
        && Command::new(drop[0])
            .args(&drop[1..])
            .arg(env!("CARGO_BIN_EXE_alpha-bridge"))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !can_drop {
        eprintln!("skipped: needs root and setpriv to run the check as another user");
        return;
    }
    let f = Fake::ready();
    for d in [f.root.path(), f.config.path(), f.dest.path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let node = f.file("/dev/bus/usb/001/002", "");
    fs::set_permissions(&node, fs::Permissions::from_mode(0o600)).unwrap();
    let out = f.command(&drop).output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let l = lines(&stdout);
    let c = find(&l, "usb access");
    assert_eq!(c.0, "FAIL", "{stdout}");
    assert_eq!(
        c.2,
        "no read/write access to /dev/bus/usb/001/002 (permission denied)"
    );
    // The rule is installed, so the advice is to replug and use the local session.
    assert!(c.3.as_ref().unwrap().contains("replug"), "{c:?}");

    fs::set_permissions(&node, fs::Permissions::from_mode(0o666)).unwrap();
    let out = f.command(&drop).output().unwrap();
    let l = lines(&text(&out.stdout));
    assert_eq!(find(&l, "usb access").0, "ok");
}

#[test]
fn on_this_machine_it_prints_a_checklist_and_never_panics() {
    let out = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .arg("doctor")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{stderr}");
    let l = lines(&stdout);
    for what in [
        "udev rule",
        "v4l2loopback",
        "camera",
        "pairing",
        "offload space",
    ] {
        find(&l, what);
    }
    match out.status.code() {
        Some(0) => assert!(l.iter().all(|c| c.0 != "FAIL"), "{stdout}"),
        Some(1) => {
            assert!(l.iter().any(|c| c.0 == "FAIL"), "{stdout}");
            assert!(stderr.trim().starts_with("error: "), "{stderr}");
        }
        other => panic!("exit {other:?}: {stdout}{stderr}"),
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["doctor", "--no-such-flag"][..],
        &["doctor", "--dest"],
        &["completions"],
        &["completions", "tcsh"],
        &["man", "no-such-subcommand"],
        &["man", "--dir", "/nonexistent/alpha-bridge-man"],
        &["man", "webcam", "--dir", "/tmp"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
