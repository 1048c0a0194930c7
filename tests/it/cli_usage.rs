//! The binary's promises to a person at the command line (issue 12, points 5–7), run on
//! the built-in emulated camera where a camera is needed:
//!
//! - every usage error of every subcommand exits 2, runtime failures exit 1, and a usage
//!   error is found before anything is opened (its error line is the only output);
//! - every path option is checked at start-up: a missing directory, a directory where a
//!   file is expected, a file where a directory is expected, a read-only place;
//! - messages: the default log format (no timestamps, no module paths; `-v` adds them),
//!   plurals, recorded and written counted apart, an OS error printed once, and what a
//!   `--device` path is.

use crate::support::cli::{self, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary with a private HOME and config directory and the default log level.
fn bin(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alpha-bridge"));
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("RUST_LOG");
    c
}

fn run(home: &Path, args: &[&str]) -> Output {
    bin(home).args(args).output().expect("run alpha-bridge")
}

/// Asserts exit `code` with `needle` in an error that came before anything else: the
/// error line (or clap's error block) is all the output there is, so no camera, emulator
/// or device was opened first.
fn assert_early(o: &Output, code: i32, needle: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: exit code\n{err}");
    assert!(
        err.starts_with("error: "),
        "{what}: something came first:\n{err}"
    );
    assert!(err.contains(needle), "{what}: no {needle:?} in\n{err}");
    assert!(stdout(o).is_empty(), "{what}: stdout {}", stdout(o));
    // What opening the emulated camera or a recording logs; a panic.
    for noise in [
        "using the built-in",
        "emulated ILCE",
        "recording to",
        "panicked",
    ] {
        assert!(
            !err.contains(noise),
            "{what}: {noise:?} before the error:\n{err}"
        );
    }
}

#[test]
fn every_usage_error_of_every_subcommand_exits_2_before_anything_is_opened() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let files = tempfile::tempdir().unwrap();
    let fdir = files.path().to_str().unwrap();
    let rec = h.join("r.mjpeg");
    let rec = rec.to_str().unwrap();
    let existing = h.join("old.mjpeg");
    std::fs::write(&existing, b"keep").unwrap();
    let existing = existing.to_str().unwrap();
    let g = "00112233445566778899aabbccddeeff";

    // (arguments, a piece of the message)
    let table: &[(&[&str], &str)] = &[
        // every subcommand: unknown option, missing value
        (&["list", "--bogus"], "unexpected argument"),
        (&["pair", "--bogus"], "unexpected argument"),
        (&["offload", "--bogus"], "unexpected argument"),
        (&["webcam", "--bogus"], "unexpected argument"),
        (&["emulate", "--bogus"], "unexpected argument"),
        (&["testcard-counter"], "required"),
        (&["nosuchcommand"], "unrecognized subcommand"),
        (&["-q", "-v", "list"], "cannot be used with"),
        // webcam: bad values
        (&["webcam", "--fps", "0"], "--fps"),
        (&["webcam", "--fps", "61"], "--fps"),
        (
            &["webcam", "--frames", "0", "--record", rec],
            "0 would stop",
        ),
        (
            &["webcam", "--frames", "x", "--record", rec],
            "not a whole number",
        ),
        (&["webcam", "--duration", "0s", "--record", rec], "is zero"),
        (
            &["webcam", "--duration", "10y", "--record", rec],
            "unknown unit",
        ),
        (&["webcam", "--aspect", "4:3"], "invalid value"),
        (&["webcam", "--format", "h264"], "invalid value"),
        (&["webcam", "--camera", ""], "--camera needs"),
        (&["webcam", "--camera", "replay:"], "--camera needs"),
        (&["webcam", "--device", ""], "--device needs"),
        // webcam: options with no effect in the chosen mode, contradictions
        (
            &["webcam", "--camera", "emulated", "--device", "none"],
            "nothing to do",
        ),
        (
            &[
                "webcam", "--camera", "emulated", "--device", "none", "--record", rec, "--format",
                "mjpeg",
            ],
            "--format only applies to the video device",
        ),
        (
            &[
                "webcam", "--camera", "emulated", "--device", "none", "--record", rec, "--aspect",
                "16:9",
            ],
            "--aspect only applies to the video device",
        ),
        (
            &[
                "webcam",
                "--camera",
                "emulated",
                "--device",
                "none",
                "--record",
                rec,
                "--decoder",
                "zune",
            ],
            "--decoder only applies to the video device",
        ),
        (
            &["webcam", "--camera", "emulated", "--pad"],
            "--pad only works with --aspect 16:9",
        ),
        (
            &[
                "webcam", "--camera", "emulated", "--pad", "--aspect", "native",
            ],
            "--pad only works with --aspect 16:9",
        ),
        (
            &[
                "webcam", "--camera", "emulated", "--format", "mjpeg", "--aspect", "16:9",
            ],
            "--aspect 16:9 needs decoded video",
        ),
        (
            &[
                "webcam",
                "--camera",
                "emulated",
                "--format",
                "mjpeg",
                "--decoder",
                "zune",
            ],
            "--decoder needs decoded video",
        ),
        (&["webcam", "-y"], "--record"),
        (&["webcam", "--dest", fdir], "--offload"),
        (
            &[
                "webcam",
                "--camera",
                "auto",
                "--device",
                "none",
                "--record",
                rec,
                "--emulator-unplug-every",
                "2s",
            ],
            "--emulator-unplug-every needs --camera emulated",
        ),
        (
            &["webcam", "--emulator-unplug-for", "2s"],
            "--emulator-unplug-every",
        ),
        (
            &[
                "webcam", "--camera", "emulated", "--device", "none", "--record", existing,
            ],
            "already exists",
        ),
        // offload
        (&["offload", "--guid", "12"], "--guid"),
        (
            &["offload", "--guid", "zz112233445566778899aabbccddeeff"],
            "not a hex digit",
        ),
        (
            &["offload", "--camera", "not-an-address"],
            "expected an IP address",
        ),
        // pair
        (
            &["pair", "--show", "--camera", "emulated"],
            "cannot be used with",
        ),
        (
            &["pair", "--emulator-state", fdir],
            "only applies to --camera emulated",
        ),
        (&["pair", "--guid", "12"], "GUID"),
        // emulate
        (&["emulate"], "choose --usb-gadget or --wifi"),
        (
            &["emulate", "--usb-gadget", "--wifi"],
            "cannot be used with",
        ),
        (&["emulate", "--wifi"], "--files"),
        (
            &["emulate", "--wifi", "--files", fdir, "--mode", "msc"],
            "--mode only applies to --usb-gadget",
        ),
        (
            &["emulate", "--usb-gadget", "--files", fdir],
            "--files only applies to --wifi",
        ),
        (
            &["emulate", "--usb-gadget", "--bind", "127.0.0.1"],
            "--bind only applies to --wifi",
        ),
        (
            &["emulate", "--usb-gadget", "--guid", g],
            "--guid only applies to --wifi",
        ),
        (
            &["emulate", "--usb-gadget", "--state", fdir],
            "needs --mode msc",
        ),
        (
            &["emulate", "--wifi", "--pc-remote", "--served-stills", fdir],
            "--served-stills only applies to --usb-gadget",
        ),
        (
            &[
                "emulate",
                "--usb-gadget",
                "--mode",
                "msc",
                "--served-stills",
                fdir,
            ],
            "--served-stills needs a body that takes pictures",
        ),
        (
            &["emulate", "--usb-gadget", "--still-size", "100x50"],
            "--still-size 100x50",
        ),
        (
            &["emulate", "--usb-gadget", "--still-size", "big"],
            "expected WxH",
        ),
        (
            &[
                "emulate", "--wifi", "--files", fdir, "--guid", g, "--state", fdir,
            ],
            "give one",
        ),
        (
            &["emulate", "--wifi", "--files", fdir, "--model", "ILCE-9"],
            "unknown model",
        ),
        (
            &["emulate", "--wifi", "--files", fdir, "--guid", "12"],
            "--guid",
        ),
        (
            &["emulate", "--wifi", "--files", fdir, "--bind", "nope"],
            "invalid value",
        ),
        // testcard-counter
        (
            &["testcard-counter", "--size", "10", existing],
            "expected WxH",
        ),
        (
            &["testcard-counter", "--size", "0x10", existing],
            "expected WxH",
        ),
    ];
    for (args, needle) in table {
        let o = run(h, args);
        assert_early(&o, 2, needle, &args.join(" "));
    }
    assert_eq!(std::fs::read(h.join("old.mjpeg")).unwrap(), b"keep");
    assert!(!h.join(".config").exists(), "no usage error wrote a config");
}

#[test]
fn runtime_failures_exit_1() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let rec = h.join("r.mjpeg");
    // A camera by a serial number that is not connected.
    let o = bin(h)
        .args([
            "webcam",
            "--camera",
            "NOSUCHSERIAL",
            "--device",
            "none",
            "--record",
        ])
        .arg(&rec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // An address the Wi-Fi emulator cannot listen on (TEST-NET-1: on no interface; the
    // bind fails at once and nothing is sent).
    let files = tempfile::tempdir().unwrap();
    let o = bin(h)
        .args(["emulate", "--wifi", "--bind", "192.0.2.1", "--files"])
        .arg(files.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!rec.exists());
}

/// One place per kind of wrong path, made for each test.
struct Places {
    _tmp: tempfile::TempDir,
    /// An existing, writable directory.
    dir: PathBuf,
    /// An existing regular file.
    file: PathBuf,
    /// A directory that does not exist (its parent does).
    missing: PathBuf,
}

impl Places {
    fn new() -> Places {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        let file = tmp.path().join("file.txt");
        std::fs::write(&file, b"user data").unwrap();
        let missing = tmp.path().join("missing");
        Places {
            dir,
            file,
            missing,
            _tmp: tmp,
        }
    }
}

/// Read-only for every user, root included (tests run as root, who ignores mode bits):
/// sysfs accepts no new files.
const READ_ONLY_DIR: &str = "/sys";

/// How one option is given a path, and what the rest of its command line is.
struct PathOption {
    name: &'static str,
    /// The command line, words split at spaces, with `{}` where the path goes.
    args: &'static str,
    /// File (true) or directory (false) expected.
    wants_file: bool,
    /// Whether a missing directory is created (output directories) or an error.
    creates_dirs: bool,
}

const FILE: bool = true;
const DIR: bool = false;
const CREATED: bool = true;
const MUST_EXIST: bool = false;

impl PathOption {
    const fn new(
        name: &'static str,
        args: &'static str,
        wants_file: bool,
        creates_dirs: bool,
    ) -> Self {
        PathOption {
            name,
            args,
            wants_file,
            creates_dirs,
        }
    }
}

const PATH_OPTIONS: &[PathOption] = &[
    PathOption::new(
        "webcam --record",
        "webcam --camera emulated --device none --frames 1 --record {}",
        FILE,
        MUST_EXIST,
    ),
    PathOption::new(
        "webcam --stats-json",
        "webcam --camera emulated --device null --frames 1 --stats-json {}",
        FILE,
        MUST_EXIST,
    ),
    PathOption::new(
        "webcam --dump-objects",
        "webcam --camera emulated --device none --frames 1 --dump-objects {}",
        DIR,
        CREATED,
    ),
    PathOption::new(
        "webcam --offload --dest",
        "webcam --camera emulated --device null --frames 1 --offload --dest {}",
        DIR,
        CREATED,
    ),
    PathOption::new(
        "webcam --camera replay:",
        "webcam --device null --frames 1 --camera replay:{}",
        DIR,
        MUST_EXIST,
    ),
    PathOption::new(
        "offload --dest",
        "offload --once --camera 127.0.0.1:9 --dest {}",
        DIR,
        CREATED,
    ),
    PathOption::new(
        "pair --emulator-state",
        "pair --camera emulated --emulator-state {}",
        DIR,
        CREATED,
    ),
    PathOption::new(
        "emulate --files",
        "emulate --wifi --files {}",
        DIR,
        MUST_EXIST,
    ),
    PathOption::new(
        "emulate --state",
        "emulate --wifi --files / --state {}",
        DIR,
        CREATED,
    ),
    PathOption::new(
        "testcard-counter FILE",
        "testcard-counter {}",
        FILE,
        MUST_EXIST,
    ),
];

fn with_path(o: &PathOption, p: &Path) -> Vec<String> {
    o.args
        .split(' ')
        .map(|a| a.replace("{}", p.to_str().unwrap()))
        .collect()
}

fn run_with(home: &Path, o: &PathOption, p: &Path) -> Output {
    bin(home).args(with_path(o, p)).output().unwrap()
}

/// Only what is read: inputs (replay, --files, testcard) are not written.
fn is_input(o: &PathOption) -> bool {
    o.name.contains("replay") || o.name.contains("--files") || o.name.contains("testcard")
}

#[test]
fn every_path_option_is_checked_before_the_camera() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for o in PATH_OPTIONS {
        let p = Places::new();
        let what = |case: &str| format!("{}: {case}", o.name);
        // A missing directory in the path.
        let inside_missing = p.missing.join("x.out");
        if !o.creates_dirs {
            let out = run_with(h, o, &inside_missing);
            assert_early(
                &out,
                2,
                p.missing.to_str().unwrap(),
                &what("missing directory"),
            );
        }
        // The wrong kind of thing: a directory for a file, a file for a directory.
        if o.wants_file {
            let out = run_with(h, o, &p.dir);
            assert_early(&out, 2, "directory", &what("a directory where a file goes"));
            assert_early(&out, 2, p.dir.to_str().unwrap(), &what("names the path"));
        } else if !o.name.contains("replay") {
            let out = run_with(h, o, &p.file);
            assert_early(
                &out,
                2,
                "not a directory",
                &what("a file where a directory goes"),
            );
            assert_early(&out, 2, p.file.to_str().unwrap(), &what("names the path"));
            // A file as a parent of the directory.
            let out = run_with(h, o, &p.file.join("sub"));
            assert_early(&out, 2, "not a directory", &what("a file inside the path"));
        }
        if is_input(o) {
            let out = run_with(h, o, &p.missing);
            assert_early(&out, 2, "no such file or directory", &what("missing input"));
        } else if Path::new(READ_ONLY_DIR).is_dir() {
            // A read-only place: the machine refuses a correct command (1).
            let ro = Path::new(READ_ONLY_DIR).join("alpha-bridge-test");
            let out = run_with(h, o, &ro);
            assert_early(
                &out,
                1,
                "cannot create files in /sys",
                &what("read-only place"),
            );
            assert_early(&out, 1, ro.to_str().unwrap(), &what("names the path"));
        } else {
            eprintln!("no {READ_ONLY_DIR} here: the read-only case is not checked");
        }
        assert_eq!(std::fs::read(&p.file).unwrap(), b"user data", "{}", o.name);
        assert!(!p.missing.exists(), "{}: created a directory", o.name);
    }
}

#[test]
fn device_paths_say_what_they_are() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let cases: &[(&str, &str)] = &[
        ("/nonexistent", "--device /nonexistent: no such device"),
        (
            "/dev/null",
            "--device /dev/null: this is not a video device (character device 1:3)",
        ),
        (
            "/tmp",
            "--device /tmp: this is a directory, not a video device",
        ),
        (
            "/etc/hostname",
            "--device /etc/hostname: this is a file, not a video device",
        ),
    ];
    for (dev, want) in cases {
        let o = run(h, &["webcam", "--camera", "emulated", "--device", dev]);
        assert_early(&o, 2, want, dev);
        assert!(
            !stderr(&o).contains("v4l2loopback is not loaded"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn default_log_lines_have_no_timestamps_or_module_paths_and_v_adds_them() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let rec = h.join("a.mjpeg");
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "webcam", "--camera", "emulated", "--device", "none", "--frames", "2", "-y",
                "--record",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        v.push(rec.to_str().unwrap().to_string());
        v
    };
    let o = bin(h).args(args(&[])).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("recording to"), "{err}");
    for l in err.lines() {
        assert!(
            !l.starts_with('['),
            "timestamp or level at the default level: {l}"
        );
        assert!(
            !l.contains("alpha_bridge::"),
            "module path at the default level: {l}"
        );
        assert!(!l.contains("INFO"), "{l}");
    }
    let o = bin(h).args(args(&["-v"])).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("recording to"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.starts_with("[20"), "-v adds the timestamp: {line}");
    assert!(
        line.contains("alpha_bridge::"),
        "-v adds the module: {line}"
    );
}

/// `webcam --camera emulated --device DEVICE --frames N --record FILE`: its stdout.
fn record_emulated(home: &Path, device: &str, frames: u32, file: &Path) -> String {
    cli::record_emulated(bin(home), device, frames, file, &[])
}

#[test]
fn summary_counts_with_plurals_and_keeps_recorded_apart_from_written() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let one = h.join("one.mjpeg");
    let out = record_emulated(h, "none", 1, &one);
    let size = std::fs::metadata(&one).unwrap().len();
    assert!(out.contains("1 frame captured in "), "{out}");
    assert!(
        out.contains(&format!("recorded 1 frame to {}", one.display())),
        "{out}"
    );
    assert!(out.contains("1 frame served"), "{out}");
    assert!(out.contains("1 connect,"), "{out}");
    // No video device: nothing claims "0 written".
    assert!(!out.contains("written"), "{out}");
    assert!(
        !out.contains(" 1 frames") && !out.contains("1 connects"),
        "{out}"
    );
    assert!(size > 1024, "a whole JPEG: {size}");

    // With a video device (the hidden null device), both are said, apart.
    let three = h.join("three.mjpeg");
    let out = record_emulated(h, "null", 3, &three);
    assert!(out.contains("3 frames captured"), "{out}");
    assert!(out.contains("written to the video device"), "{out}");
    assert!(
        out.contains(&format!("recorded 3 frames to {}", three.display())),
        "{out}"
    );
}

#[test]
fn an_os_error_reaches_the_user_once() {
    let home = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let o = bin(home.path())
        .args(["emulate", "--wifi", "--bind", "192.0.2.1", "--files"])
        .arg(files.path())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert_eq!(
        err.matches("Cannot assign requested address").count(),
        1,
        "{err}"
    );
}
