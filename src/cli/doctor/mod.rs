//! `alpha-bridge doctor`: checks what a first run needs and prints a checklist, one line
//! per check (`ok`, `warn` or `FAIL`), with the fix under each line that is not ok:
//! the udev rules (installed, and matching Sony's vendor id), gvfs, v4l2loopback
//! (loaded, `exclusive_caps`, the Secure Boot case, access to its device), whether a
//! PipeWire daemon answers (the other webcam output), every Sony body on USB (its USB
//! mode, access to its device node, a program holding it), the pairing in the config
//! file, and the free space where `offload` puts pictures.
//!
//! FAIL is something the webcam or the offload cannot work without; warn is optional
//! or needs the camera rather than this computer (no camera connected, not paired yet).
//! The webcam needs v4l2loopback or PipeWire, so only both missing is FAIL (see
//! [`pipewire`]). Exit 0 only when no line is FAIL.
//!
//! It changes nothing: it reads files under /sys, /etc, /lib, /proc and /dev, the config
//! file (never written), connects to the PipeWire socket (nothing sent), and opens a PTP
//! body's interface for a moment to read its DeviceInfo, as `alpha-bridge list` does.
//! Every system path is read under [`Probe::root`], so tests build a fake /sys and /etc
//! (the hidden `--root DIR`; the PipeWire socket is then `run/user/UID/pipewire-0` in it), and
//! `--camera emulated` checks the built-in emulated body through the same code.

mod camera;
mod pipewire;
mod system;

use alpha_bridge::config;
use alpha_bridge::sink::v4l2::{parse_sb_state, ModuleProbe};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options of `alpha-bridge doctor`.
#[derive(clap::Args, Debug)]
pub(crate) struct DoctorArgs {
    /// Which camera to check: auto (every Sony body on USB), a USB serial number (only
    /// that body, as `alpha-bridge list` shows it), or emulated (the built-in emulated
    /// camera, to try doctor without one).
    #[arg(long, default_value = "auto", value_name = "CAMERA")]
    pub camera: String,
    /// Where `alpha-bridge offload` puts pictures (its --dest; default
    /// ~/Pictures/alpha-bridge): checked for free space and write access.
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Test-only: read /sys, /etc, /lib, /proc and /dev under DIR instead of /, and
    /// look for PipeWire at DIR/run/user/UID/pipewire-0.
    #[arg(long, value_name = "DIR", hide = true)]
    pub root: Option<PathBuf>,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub status: Status,
    /// What was checked, a few words ("udev rule", "v4l2loopback").
    pub what: &'static str,
    /// What was found.
    pub detail: String,
    /// What to do; every line that is not ok has one.
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn ok(what: &'static str, detail: impl Into<String>) -> Check {
        Check {
            status: Status::Ok,
            what,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn warn(
        what: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Warn,
            what,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn fail(
        what: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            what,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Where the checks look. Everything a test needs to fake is here.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// Filesystem root for /sys, /etc, /lib, /usr/lib, /run, /proc and /dev (normally `/`).
    pub root: PathBuf,
    /// `uname -r`, for /lib/modules.
    pub kernel_release: String,
    /// Ask `mokutil --sb-state` when the EFI variable cannot be read (only on the real root).
    pub use_mokutil: bool,
    /// Our own process, left out of the scan for programs holding the camera.
    pub self_pid: u32,
    /// Whether this build has the PipeWire output (feature `pipewire`).
    pub pipewire_built: bool,
    /// The PipeWire daemon's socket, as `webcam` finds it (None: no XDG_RUNTIME_DIR).
    pub pipewire_socket: Option<PathBuf>,
}

impl Probe {
    /// The running system, or a fake tree under `root`.
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    pub(crate) fn new(root: Option<&Path>) -> Probe {
        let system = ModuleProbe::system();
        match root {
            None => Probe {
                root: PathBuf::from("/"),
                kernel_release: system.kernel_release,
                use_mokutil: true,
                self_pid: std::process::id(),
                pipewire_built: cfg!(feature = "pipewire"),
                pipewire_socket: pipewire_socket(),
            },
            Some(r) => Probe {
                root: r.to_path_buf(),
                // A fake tree says which kernel it is in its own /proc.
                kernel_release: std::fs::read_to_string(r.join("proc/sys/kernel/osrelease"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                use_mokutil: false,
                self_pid: std::process::id(),
                pipewire_built: cfg!(feature = "pipewire"),
                // SAFETY: getuid cannot fail and touches no memory.
                pipewire_socket: Some(
                    r.join(format!("run/user/{}/pipewire-0", unsafe { libc::getuid() })),
                ),
            },
        }
    }

    /// `p` (an absolute system path) under the root.
    pub(crate) fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    pub(crate) fn module(&self) -> ModuleProbe {
        ModuleProbe {
            root: self.root.clone(),
            kernel_release: self.kernel_release.clone(),
            use_mokutil: self.use_mokutil,
        }
    }

    /// Secure Boot from the EFI variable, else (real root only) from `mokutil --sb-state`.
    pub(crate) fn secure_boot(&self) -> Option<bool> {
        self.module().secure_boot().or_else(|| {
            if !self.use_mokutil {
                return None;
            }
            let out = std::process::Command::new("mokutil")
                .arg("--sb-state")
                .output()
                .ok()?;
            parse_sb_state(&format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        })
    }
}

/// Where `webcam` looks for the PipeWire daemon.
#[cfg(feature = "pipewire")]
fn pipewire_socket() -> Option<PathBuf> {
    alpha_bridge::sink::pipewire::socket_path()
}

#[cfg(not(feature = "pipewire"))]
fn pipewire_socket() -> Option<PathBuf> {
    None
}

pub(crate) fn run(a: &DoctorArgs) -> anyhow::Result<()> {
    let probe = Probe::new(a.root.as_deref());
    let dest = match &a.dest {
        Some(d) => Ok(d.clone()),
        None => super::offload::default_dest().map_err(|e| format!("{e:#}")),
    };
    let checks = all_checks(&probe, &a.camera, dest);
    print!("{}", render(&checks));
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} {} failed: do what the fix under each FAIL line says, then run \
             `alpha-bridge doctor` again",
            checks.len(),
            if checks.len() == 1 { "check" } else { "checks" }
        );
    }
    Ok(())
}

/// Every check, in the order a first run meets them.
pub(crate) fn all_checks(probe: &Probe, camera: &str, dest: Result<PathBuf, String>) -> Vec<Check> {
    let mut out = Vec::new();
    let rule = system::udev_rule(probe);
    let access_rule_installed = rule.status != Status::Fail;
    out.push(rule);
    out.push(system::gvfs(probe));
    let pw = pipewire::find(probe);
    out.extend(pipewire::weigh_v4l2(system::v4l2loopback(probe), &pw));
    out.push(pipewire::check(&pw));
    out.extend(camera::cameras(probe, camera, access_rule_installed));
    out.push(system::pairing(
        config::default_config_dir().map_err(|e| e.to_string()),
    ));
    out.push(system::free_space(dest));
    out
}

/// The checklist as printed: `STATUS  WHAT  DETAIL`, then `      fix: ...` under each line
/// that is not ok, then a summary line.
pub(crate) fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        let _ = writeln!(
            s,
            "{:<4}  {:<width$}  {}",
            c.status.label(),
            c.what,
            c.detail
        );
        if let Some(fix) = &c.fix {
            let _ = writeln!(s, "      fix: {fix}");
        }
    }
    let count = |st: Status| checks.iter().filter(|c| c.status == st).count();
    let (fail, warn) = (count(Status::Fail), count(Status::Warn));
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if fail == 0 && warn == 0 {
        s.push_str("\nready: every check passed\n");
    } else if fail == 0 {
        let _ = writeln!(
            s,
            "\nready ({}: see the lines marked warn)",
            plural(warn, "warning", "warnings")
        );
    } else {
        let _ = writeln!(
            s,
            "\nnot ready: {} to fix{}",
            plural(fail, "problem", "problems"),
            if warn > 0 {
                format!(", {}", plural(warn, "warning", "warnings"))
            } else {
                String::new()
            }
        );
    }
    s
}

/// Human size: 512 B, 3.4 MiB, 12.0 GiB.
pub(crate) fn human_bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    if f < K {
        format!("{b} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.1} GiB", f / (K * K * K))
    }
}

/// access(2) with read and write, as opening the device read-write would need
/// (ACLs from udev's `uaccess` count).
pub(crate) fn can_read_write(path: &Path) -> std::io::Result<()> {
    access(path, libc::R_OK | libc::W_OK)
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub(crate) fn access(path: &Path, mode: libc::c_int) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    if unsafe { libc::access(c.as_ptr(), mode) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests;
