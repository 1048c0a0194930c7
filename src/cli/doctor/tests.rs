//! The doctor's checks against fake /sys, /etc, /lib and /proc trees.

use super::camera::{access_check, holder_check, mode_check};
use super::pipewire::{self, Found};
use super::system::{
    free_bytes, free_space, gvfs, judge_space, pairing, udev_rule, v4l2loopback, LOW_FREE, MIN_FREE,
};
use super::*;
use crate::cli::list::{Mode, Row};
use alpha_bridge::transport::usb::{UsbDeviceInfo, UsbMode};
use alpha_bridge::transport::{ErrorKind, TransportError};
use std::fs;

const RELEASE: &str = "6.1.0-test-amd64";
const PW_SOCKET: &str = "/run/user/1000/pipewire-0";
const SHIPPED_60: &str = include_str!("../../../udev/60-alpha-bridge.rules");
const SHIPPED_70: &str = include_str!("../../../udev/70-alpha-bridge-gvfs.rules");

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }

    fn file(&self, p: &str, content: impl AsRef<[u8]>) -> &Tree {
        let path = self.path(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    fn link(&self, p: &str, target: &str) -> &Tree {
        let path = self.path(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }

    fn probe(&self) -> Probe {
        Probe {
            root: self.dir.path().to_path_buf(),
            kernel_release: RELEASE.into(),
            use_mokutil: false,
            self_pid: 1,
            pipewire_built: true,
            pipewire_socket: Some(self.path(PW_SOCKET)),
        }
    }

    /// v4l2loopback loaded with these parameter arrays and loopback nodes.
    fn loopback(&self, exclusive_caps: &str, video_nr: &str, nodes: &[(u32, &str)]) -> &Tree {
        self.file(
            "/sys/module/v4l2loopback/parameters/exclusive_caps",
            format!("{exclusive_caps}\n"),
        );
        self.file(
            "/sys/module/v4l2loopback/parameters/video_nr",
            format!("{video_nr}\n"),
        );
        for (n, label) in nodes {
            self.file(
                &format!("/sys/class/video4linux/video{n}/name"),
                format!("{label}\n"),
            );
            self.file(
                &format!("/sys/class/video4linux/video{n}/max_openers"),
                "10\n",
            );
            self.file(&format!("/dev/video{n}"), "");
        }
        self
    }
}

fn fix(c: &Check) -> &str {
    c.fix.as_deref().unwrap_or("")
}

#[test]
fn a_missing_udev_rule_fails_with_the_install_command() {
    let t = Tree::new();
    let c = &udev_rule(&t.probe());
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail.contains("60-alpha-bridge.rules is not installed"),
        "{c:?}"
    );
    assert!(
        fix(c).contains("sudo cp udev/60-alpha-bridge.rules"),
        "{c:?}"
    );
    assert!(fix(c).contains("udevadm control --reload"), "{c:?}");
}

#[test]
fn the_shipped_rule_is_found_in_every_udev_folder() {
    for dir in [
        "/etc/udev/rules.d",
        "/run/udev/rules.d",
        "/usr/lib/udev/rules.d",
        "/lib/udev/rules.d",
    ] {
        let t = Tree::new();
        t.file(&format!("{dir}/60-alpha-bridge.rules"), SHIPPED_60);
        let c = &udev_rule(&t.probe());
        assert_eq!(c.status, Status::Ok, "{dir}: {c:?}");
        assert_eq!(c.detail, format!("{dir}/60-alpha-bridge.rules installed"));
        assert!(c.fix.is_none());
    }
}

#[test]
fn a_rule_is_judged_by_whether_it_matches_sony() {
    let t = Tree::new();
    let edited = "# mine\nSUBSYSTEM==\"usb\", ATTR{idVendor}==\"054C\", TAG+=\"uaccess\"\n";
    t.file("/etc/udev/rules.d/60-alpha-bridge.rules", edited);
    let c = &udev_rule(&t.probe());
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.contains("matches Sony"), "{c:?}");

    // Another vendor, or Sony's id only in a comment: it does nothing for the camera.
    for text in [
        "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"04a9\", TAG+=\"uaccess\"\n",
        "# ATTR{idVendor}==\"054c\"\nSUBSYSTEM==\"usb\", TAG+=\"uaccess\"\n",
        "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"054c\", ENV{X}=\"1\"\n",
        "",
    ] {
        let t = Tree::new();
        t.file("/etc/udev/rules.d/60-alpha-bridge.rules", text);
        let c = &udev_rule(&t.probe());
        assert_eq!(c.status, Status::Fail, "{text:?}: {c:?}");
        assert!(c.detail.contains("does not match Sony cameras"), "{c:?}");
        assert!(c.detail.contains("054c"), "{c:?}");
    }
}

#[test]
fn a_rule_in_etc_hides_the_one_in_lib_and_a_mask_fails() {
    let t = Tree::new();
    t.file("/lib/udev/rules.d/60-alpha-bridge.rules", SHIPPED_60)
        .link("/etc/udev/rules.d/60-alpha-bridge.rules", "/dev/null");
    let c = &udev_rule(&t.probe());
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail
            .contains("/etc/udev/rules.d/60-alpha-bridge.rules is masked"),
        "{c:?}"
    );
    assert!(
        fix(c).starts_with("sudo rm /etc/udev/rules.d/60-alpha-bridge.rules"),
        "{c:?}"
    );
}

#[test]
fn gvfs_fails_only_when_its_monitor_runs_without_our_rule() {
    let t = Tree::new();
    t.file("/proc/77/comm", "gvfs-gphoto2-vo\n");
    let c = gvfs(&t.probe());
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("running (pid 77)"), "{c:?}");
    assert!(fix(&c).contains("70-alpha-bridge-gvfs.rules"), "{c:?}");

    t.file("/etc/udev/rules.d/70-alpha-bridge-gvfs.rules", SHIPPED_70);
    let c = gvfs(&t.probe());
    assert_eq!(c.status, Status::Ok, "{c:?}");

    let quiet = Tree::new();
    quiet.file("/proc/78/comm", "bash\n");
    let c = gvfs(&quiet.probe());
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c.detail.contains("not running"), "{c:?}");
}

#[test]
fn v4l2loopback_not_installed_says_how_to_install_it() {
    let t = Tree::new();
    t.file(
        &format!("/lib/modules/{RELEASE}/modules.dep"),
        "kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz: kernel/x.ko.xz\n",
    );
    let c = v4l2loopback(&t.probe());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Status::Fail, "{c:?}");
    assert!(
        c[0].detail
            .contains(&format!("not installed for kernel {RELEASE}")),
        "{c:?}"
    );
    assert!(
        fix(&c[0]).contains("sudo apt install v4l2loopback-dkms"),
        "{c:?}"
    );
}

#[test]
fn v4l2loopback_not_loaded_gives_the_modprobe_line() {
    let t = Tree::new();
    t.file(
        &format!("/lib/modules/{RELEASE}/modules.dep"),
        "updates/dkms/v4l2loopback.ko.xz: kernel/drivers/media/v4l2-core/videodev.ko.xz\n",
    );
    let c = &v4l2loopback(&t.probe())[0];
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert_eq!(c.detail, "not loaded");
    assert!(
        fix(c).starts_with(alpha_bridge::sink::MODPROBE_LINE),
        "{c:?}"
    );
    assert!(fix(c).contains("/etc/modprobe.d/"), "{c:?}");
}

/// The EFI variable: 4 attribute bytes, then 1 when Secure Boot is on.
fn secure_boot(t: &Tree, on: bool) {
    t.file(
        "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
        [6, 0, 0, 0, on as u8],
    );
}

#[test]
fn secure_boot_with_an_unsigned_module_says_why_it_will_not_load() {
    let t = Tree::new();
    t.file(
        &format!("/lib/modules/{RELEASE}/modules.dep"),
        "updates/dkms/v4l2loopback.ko:\n",
    )
    .file(
        &format!("/lib/modules/{RELEASE}/updates/dkms/v4l2loopback.ko"),
        b"\x7fELF unsigned module body",
    );
    secure_boot(&t, true);
    let c = &v4l2loopback(&t.probe())[0];
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(
        c.detail
            .contains("Secure Boot is on while the module is not signed"),
        "{c:?}"
    );
    assert!(c.detail.contains("Key was rejected by service"), "{c:?}");
    assert!(fix(c).contains("mokutil --import"), "{c:?}");
    assert!(fix(c).contains("turn Secure Boot off"), "{c:?}");

    // Signed (the kernel's trailer): the key may still be missing from MOK.
    t.file(
        &format!("/lib/modules/{RELEASE}/updates/dkms/v4l2loopback.ko"),
        b"\x7fELF body + signature~Module signature appended~\n",
    );
    let c = &v4l2loopback(&t.probe())[0];
    assert!(c.detail.contains("the module is signed"), "{c:?}");

    // Secure Boot off: a plain "not loaded".
    secure_boot(&t, false);
    let c = &v4l2loopback(&t.probe())[0];
    assert_eq!(c.detail, "not loaded");
}

#[test]
fn v4l2loopback_loaded_with_exclusive_caps_is_ready() {
    let t = Tree::new();
    t.file("/sys/module/v4l2loopback/initstate", "live\n")
        .loopback(
            "Y,N,N,N,N,N,N,N",
            "10,-1,-1,-1,-1,-1,-1,-1",
            &[(10, "Sony Alpha (alpha-bridge)")],
        );
    let c = v4l2loopback(&t.probe());
    assert_eq!(c.len(), 3, "{c:?}");
    assert_eq!(c[0].status, Status::Ok);
    assert_eq!(
        c[0].detail,
        "loaded: /dev/video10 \"Sony Alpha (alpha-bridge)\""
    );
    assert_eq!(c[1].status, Status::Ok, "{c:?}");
    assert_eq!(c[1].what, "exclusive_caps");
    assert_eq!(c[1].detail, "on for /dev/video10");
    assert_eq!(c[2].status, Status::Ok, "{c:?}");
    assert_eq!(c[2].detail, "read/write access to /dev/video10");
}

#[test]
fn exclusive_caps_off_fails_with_the_reload_command() {
    let t = Tree::new();
    t.loopback("N,N,N,N,N,N,N,N", "10,-1,-1,-1,-1,-1,-1,-1", &[(10, "x")]);
    let c = &v4l2loopback(&t.probe())[1];
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("off for /dev/video10"), "{c:?}");
    assert!(c.detail.contains("Chrome, Zoom"), "{c:?}");
    assert!(
        fix(c).contains("sudo modprobe -r v4l2loopback && sudo modprobe"),
        "{c:?}"
    );
}

#[test]
fn too_few_buffers_warn_with_the_reload_command() {
    let t = Tree::new();
    t.loopback("Y", "10", &[(10, "x")]);
    let lines = |t: &Tree| {
        v4l2loopback(&t.probe())
            .into_iter()
            .filter(|c| c.what == "buffers")
            .collect::<Vec<_>>()
    };
    assert!(
        lines(&t).is_empty(),
        "no line when the parameter is unreadable"
    );
    t.file("/sys/module/v4l2loopback/parameters/max_buffers", "2\n");
    let c = &lines(&t)[0];
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.contains("max_buffers=2"), "{c:?}");
    assert!(c.detail.contains("two frames"), "{c:?}");
    assert!(
        fix(c).contains("sudo modprobe -r v4l2loopback && sudo modprobe")
            && fix(c).contains("max_buffers=8"),
        "{c:?}"
    );
    t.file("/sys/module/v4l2loopback/parameters/max_buffers", "8\n");
    let c = &lines(&t)[0];
    assert_eq!((c.status, c.detail.as_str()), (Status::Ok, "max_buffers=8"));
}

#[test]
fn exclusive_caps_follows_video_nr_then_creation_order() {
    // video_nr names video3 for slot 1; video0 was numbered automatically, so slot 0.
    let t = Tree::new();
    t.loopback("Y,N,N", "-1,3,-1", &[(0, "auto"), (3, "named")]);
    let c = &v4l2loopback(&t.probe())[1];
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(
        c.detail
            .starts_with("on for /dev/video0 (off for /dev/video3"),
        "{c:?}"
    );
    assert!(c.detail.contains("--device /dev/video0"), "{c:?}");

    let t = Tree::new();
    t.loopback("N,Y,N", "-1,3,-1", &[(0, "auto"), (3, "named")]);
    let c = &v4l2loopback(&t.probe())[1];
    assert!(
        c.detail
            .starts_with("on for /dev/video3 (off for /dev/video0"),
        "{c:?}"
    );
}

#[test]
fn v4l2loopback_loaded_without_devices_fails() {
    let t = Tree::new();
    t.loopback("Y", "-1", &[]);
    // A real camera's node is not a loopback device.
    t.file("/sys/class/video4linux/video0/name", "Integrated Camera\n");
    let c = v4l2loopback(&t.probe());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Status::Fail);
    assert_eq!(c[0].detail, "loaded, but it has no video device");
}

fn row(mode: Mode, usb_mode: UsbMode) -> Row {
    Row {
        info: UsbDeviceInfo {
            bus: 3,
            address: 7,
            port: "3-1".into(),
            vendor_id: 0x054C,
            product_id: 0x0C34,
            manufacturer: Some("Sony".into()),
            product: Some("ILCE-7M3".into()),
            serial: Some("D01".into()),
            mode: usb_mode,
            active_config: Some(1),
            interfaces: Vec::new(),
            open_error: None,
        },
        mode,
        model: "ILCE-7M3".into(),
        serial: Some("D01".into()),
        vendor_extension: None,
        problem: None,
        props: None,
        video: Vec::new(),
    }
}

#[test]
fn the_camera_line_follows_the_usb_mode() {
    let c = mode_check(&row(Mode::PcRemote, UsbMode::Ptp), false);
    assert_eq!(c.status, Status::Ok);
    assert_eq!(
        c.detail,
        "ILCE-7M3 serial D01 (usb 003/007): PC Remote, ready for alpha-bridge webcam"
    );
    let c = mode_check(&row(Mode::MassStorage, UsbMode::MassStorage), false);
    assert_eq!(c.status, Status::Warn);
    assert!(c.detail.contains("ready for alpha-bridge pair"), "{c:?}");
    for (m, u) in [
        (Mode::Mtp, UsbMode::Ptp),
        (Mode::Chooser, UsbMode::SelectMode),
        (Mode::Unknown, UsbMode::Unknown),
    ] {
        let c = mode_check(&row(m, u), false);
        assert_eq!(c.status, Status::Fail, "{m:?}");
        assert!(c.detail.contains(m.label()), "{c:?}");
        assert!(fix(&c).contains("\"PC Remote\""), "{c:?}");
    }
    // USB Streaming: a webcam already, only a warning; its node is named.
    let mut r = row(Mode::UvcStreaming, UsbMode::UvcStreaming);
    r.video = vec!["/dev/video4".into()];
    let c = mode_check(&r, false);
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(
        fix(&c).contains("already a webcam (USB Streaming at /dev/video4)"),
        "{c:?}"
    );
    assert!(
        fix(&c).contains("alpha-bridge is not needed for video"),
        "{c:?}"
    );
    let mut r = row(Mode::PtpUnchecked, UsbMode::Ptp);
    r.problem = Some("could not read DeviceInfo: camera busy".into());
    let c = mode_check(&r, false);
    assert_eq!(c.status, Status::Warn);
    assert!(
        c.detail
            .contains("(could not read DeviceInfo: camera busy)"),
        "{c:?}"
    );
}

#[test]
fn usb_access_fails_on_permission_and_names_the_node() {
    let t = Tree::new();
    let mut r = row(Mode::PtpUnchecked, UsbMode::Ptp);
    r.info.open_error = Some(TransportError::new(ErrorKind::PermissionDenied, "denied"));
    let c = access_check(&t.probe(), &r, false, false);
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.detail, "no read/write access to /dev/bus/usb/003/007");
    assert!(fix(&c).contains("60-alpha-bridge.rules"), "{c:?}");
    // With the rule installed, the advice is about replugging and the seat.
    let c = access_check(&t.probe(), &r, false, true);
    assert!(fix(&c).contains("replug"), "{c:?}");
    assert!(fix(&c).contains("logged in at this computer"), "{c:?}");

    let r = row(Mode::PcRemote, UsbMode::Ptp);
    let c = access_check(&t.probe(), &r, false, true);
    assert_eq!(c.status, Status::Warn, "no node: {c:?}");
    let c = access_check(&t.probe(), &r, true, true);
    assert_eq!(c.status, Status::Ok, "emulated, no node: {c:?}");
    t.file("/dev/bus/usb/003/007", "");
    let c = access_check(&t.probe(), &r, false, true);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(c.detail, "read/write access to /dev/bus/usb/003/007");
}

#[test]
fn a_program_holding_the_camera_is_named_with_how_to_stop_it() {
    let t = Tree::new();
    let r = row(Mode::PcRemote, UsbMode::Ptp);
    let c = holder_check(&t.probe(), &r);
    assert_eq!(c.status, Status::Ok);

    t.file(
        "/proc/4242/cmdline",
        b"/usr/libexec/gvfs-gphoto2-volume-monitor\0",
    )
    .link("/proc/4242/fd/9", "/dev/bus/usb/003/007")
    // Another device: not ours.
    .file("/proc/4300/cmdline", b"gphoto2\0")
    .link("/proc/4300/fd/3", "/dev/bus/usb/003/008");
    let c = holder_check(&t.probe(), &r);
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert_eq!(c.detail, "held by gvfs-gphoto2-volume-monitor (pid 4242)");
    assert!(
        fix(&c).contains("systemctl --user stop gvfs-gphoto2-volume-monitor"),
        "{c:?}"
    );

    let t = Tree::new();
    t.file(
        "/proc/500/cmdline",
        b"/usr/local/bin/alpha-bridge\0webcam\0",
    )
    .link("/proc/500/fd/4", "/dev/bus/usb/003/007");
    let c = holder_check(&t.probe(), &r);
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.contains("alpha-bridge (pid 500)"), "{c:?}");
}

#[test]
fn pairing_is_read_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let c = pairing(Ok(dir.path().to_path_buf()));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(fix(&c).contains("alpha-bridge pair"), "{c:?}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the check created nothing"
    );

    let file = dir.path().join("config.toml");
    let text = "# mine\nguid = \"00000000-0000-0000-ffff-0242ac110002\"\nhost_name = \"desk\"\n";
    fs::write(&file, text).unwrap();
    let before = fs::metadata(&file).unwrap().modified().unwrap();
    let c = pairing(Ok(dir.path().to_path_buf()));
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(
        c.detail.contains("0000000000000000ffff0242ac110002"),
        "{c:?}"
    );
    assert!(c.detail.contains("(name \"desk\")"), "{c:?}");
    assert_eq!(fs::read_to_string(&file).unwrap(), text);
    assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), before);

    fs::write(&file, "guid = \"xyz\"\n").unwrap();
    let c = pairing(Ok(dir.path().to_path_buf()));
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(fix(&c).contains("config.toml"), "{c:?}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "guid = \"xyz\"\n");

    let c = pairing(Err("HOME is not set".into()));
    assert_eq!(c.status, Status::Fail);
}

#[test]
fn free_space_thresholds() {
    let d = Path::new("/photos");
    assert_eq!(judge_space(d, 0).status, Status::Fail);
    assert_eq!(judge_space(d, MIN_FREE - 1).status, Status::Fail);
    assert_eq!(judge_space(d, MIN_FREE).status, Status::Warn);
    assert_eq!(judge_space(d, LOW_FREE - 1).status, Status::Warn);
    let c = judge_space(d, LOW_FREE);
    assert_eq!(c.status, Status::Ok);
    assert_eq!(c.detail, "8.0 GiB free at /photos");
    assert!(fix(&judge_space(d, 10)).contains("--dest"));
}

#[test]
fn free_space_is_measured_where_the_folder_would_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("not/yet/made");
    let c = free_space(Ok(dest.clone()));
    let expected = judge_space(&dest, free_bytes(dir.path()).unwrap());
    assert_eq!(c.status, expected.status, "{c:?}");
    assert!(c.detail.contains(&dest.display().to_string()), "{c:?}");
    assert!(!dest.exists(), "the check made nothing");

    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    let c = free_space(Ok(file));
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.ends_with("is not a folder"), "{c:?}");
}

#[test]
fn the_checklist_has_one_line_per_check_and_a_fix_under_each_problem() {
    let checks = vec![
        Check::ok("udev rule", "installed"),
        Check::warn("pairing", "not paired yet", "alpha-bridge pair"),
        Check::fail("v4l2loopback", "not loaded", "sudo modprobe v4l2loopback"),
    ];
    let text = render(&checks);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "ok    udev rule     installed");
    assert_eq!(lines[1], "warn  pairing       not paired yet");
    assert_eq!(lines[2], "      fix: alpha-bridge pair");
    assert_eq!(lines[3], "FAIL  v4l2loopback  not loaded");
    assert_eq!(lines[4], "      fix: sudo modprobe v4l2loopback");
    assert_eq!(
        lines.last().unwrap(),
        &"not ready: 1 problem to fix, 1 warning"
    );
    assert!(render(&checks[..1]).ends_with("ready: every check passed\n"));
    assert!(render(&checks[..2]).ends_with("ready (1 warning: see the lines marked warn)\n"));
}

#[test]
fn human_sizes() {
    assert_eq!(human_bytes(512), "512 B");
    assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    assert_eq!(human_bytes(12 * 1024 * 1024 * 1024), "12.0 GiB");
}

/// v4l2loopback installed for the kernel but not loaded.
fn module_not_loaded(t: &Tree) {
    t.file(
        &format!("/lib/modules/{RELEASE}/modules.dep"),
        "updates/dkms/v4l2loopback.ko.xz: kernel/drivers/media/v4l2-core/videodev.ko.xz\n",
    );
}

/// A PipeWire daemon stand-in: a socket that accepts connections at PW_SOCKET.
fn pipewire_daemon(t: &Tree) -> std::os::unix::net::UnixListener {
    let path = t.path(PW_SOCKET);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::net::UnixListener::bind(path).unwrap()
}

#[test]
fn a_running_pipewire_is_ok_and_makes_a_missing_v4l2loopback_a_warning() {
    let t = Tree::new();
    module_not_loaded(&t);
    let _daemon = pipewire_daemon(&t);
    let probe = t.probe();
    let found = pipewire::find(&probe);
    assert_eq!(found, Found::Running(t.path(PW_SOCKET)));
    let c = pipewire::check(&found);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert_eq!(c.what, "pipewire");
    assert!(
        c.detail
            .ends_with("webcam --output pipewire works without v4l2loopback"),
        "{c:?}"
    );

    let v = pipewire::weigh_v4l2(v4l2loopback(&probe), &found);
    assert_eq!(v[0].status, Status::Warn, "{v:?}");
    assert_eq!(v[0].detail, "not loaded");
    assert!(
        fix(&v[0]).starts_with(
            "not needed while PipeWire runs (`alpha-bridge webcam --output pipewire`)"
        ),
        "{v:?}"
    );
    assert!(
        fix(&v[0]).contains(alpha_bridge::sink::MODPROBE_LINE),
        "{v:?}"
    );
}

#[test]
fn no_pipewire_is_a_warning_and_the_v4l2loopback_fail_names_it() {
    let t = Tree::new();
    module_not_loaded(&t);
    let probe = t.probe();
    let found = pipewire::find(&probe);
    let c = pipewire::check(&found);
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert_eq!(
        c.detail,
        format!(
            "not running for this user (no socket at {})",
            t.path(PW_SOCKET).display()
        )
    );
    assert!(
        fix(&c).ends_with("systemctl --user start pipewire wireplumber"),
        "{c:?}"
    );

    let v = pipewire::weigh_v4l2(v4l2loopback(&probe), &found);
    assert_eq!(v[0].status, Status::Fail, "{v:?}");
    assert!(
        fix(&v[0]).starts_with(alpha_bridge::sink::MODPROBE_LINE),
        "{v:?}"
    );
    assert!(
        fix(&v[0]).ends_with(
            "; or, without v4l2loopback: systemctl --user start pipewire wireplumber, \
             then `alpha-bridge webcam --output pipewire`"
        ),
        "{v:?}"
    );
}

#[test]
fn a_socket_nobody_listens_on_is_not_a_running_pipewire() {
    let t = Tree::new();
    drop(pipewire_daemon(&t));
    assert!(t.path(PW_SOCKET).exists());
    let c = pipewire::check(&pipewire::find(&t.probe()));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.ends_with(": connection refused)"), "{c:?}");
}

#[test]
fn pipewire_without_xdg_runtime_dir_or_support_is_a_warning() {
    let t = Tree::new();
    let mut probe = t.probe();
    probe.pipewire_socket = None;
    let c = pipewire::check(&pipewire::find(&probe));
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert_eq!(c.detail, "not reachable: XDG_RUNTIME_DIR is not set");

    // A build without PipeWire never suggests `--output pipewire` on the module's line.
    let _daemon = pipewire_daemon(&t);
    module_not_loaded(&t);
    let mut probe = t.probe();
    probe.pipewire_built = false;
    let found = pipewire::find(&probe);
    assert_eq!(found, Found::NotBuilt);
    let c = pipewire::check(&found);
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.contains("built without PipeWire support"), "{c:?}");
    let plain = v4l2loopback(&probe);
    let v = pipewire::weigh_v4l2(plain.clone(), &found);
    assert_eq!(v[0].status, Status::Fail);
    assert_eq!(v[0].fix, plain[0].fix);
}

#[test]
fn ok_v4l2loopback_lines_are_left_alone_whatever_pipewire_does() {
    let t = Tree::new();
    t.loopback("Y,N,N,N,N,N,N,N", "10,-1,-1,-1,-1,-1,-1,-1", &[(10, "x")]);
    let probe = t.probe();
    let missing = pipewire::find(&probe);
    assert!(
        matches!(missing, Found::NotRunning(Some(_), _)),
        "{missing:?}"
    );
    for found in [missing, Found::Running(t.path(PW_SOCKET))] {
        let v = pipewire::weigh_v4l2(v4l2loopback(&probe), &found);
        assert!(
            v.iter().all(|c| c.status == Status::Ok && c.fix.is_none()),
            "{v:?}"
        );
    }
    // exclusive_caps off: FAIL without PipeWire, warn with it.
    t.loopback("N,N,N,N,N,N,N,N", "10,-1,-1,-1,-1,-1,-1,-1", &[(10, "x")]);
    let fail = pipewire::weigh_v4l2(v4l2loopback(&probe), &pipewire::find(&probe));
    assert_eq!(fail[1].status, Status::Fail, "{fail:?}");
    let _daemon = pipewire_daemon(&t);
    let warn = pipewire::weigh_v4l2(v4l2loopback(&probe), &pipewire::find(&probe));
    assert_eq!(warn[1].status, Status::Warn, "{warn:?}");
    assert_eq!(warn[1].detail, fail[1].detail);
}
