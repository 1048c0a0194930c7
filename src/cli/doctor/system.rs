//! The checks of this computer: udev rules, gvfs, v4l2loopback (and Secure Boot), the
//! pairing in the config file, free space for offload.

use super::{access, can_read_write, human_bytes, Check, Probe, Status};
use alpha_bridge::config;
use alpha_bridge::sink::MODPROBE_LINE;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// A rules file we ship, as the binary was built with it.
struct Rule {
    name: &'static str,
    shipped: &'static str,
    /// A line of a working copy names one of these (besides vendor 054c).
    needs_any: &'static [&'static str],
}

const ACCESS_RULE: Rule = Rule {
    name: "60-alpha-bridge.rules",
    shipped: include_str!("../../../udev/60-alpha-bridge.rules"),
    needs_any: &["uaccess", "MODE", "GROUP"],
};

const GVFS_RULE: Rule = Rule {
    name: "70-alpha-bridge-gvfs.rules",
    shipped: include_str!("../../../udev/70-alpha-bridge-gvfs.rules"),
    needs_any: &["ID_GPHOTO2"],
};

/// Where udev reads rules, highest priority first: a file in /etc hides a file of the
/// same name in /run, which hides one in /usr/local/lib and /usr/lib (/lib).
const RULE_DIRS: [&str; 5] = [
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/usr/local/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/lib/udev/rules.d",
];

/// Sony Corporation's USB vendor id, as udev rules write it.
const SONY_VID_HEX: &str = "054c";

/// Rules files are small; never read more than this.
const MAX_RULES_BYTES: u64 = 64 * 1024;

const INSTALL_RULES: &str = "from the alpha-bridge folder: sudo cp udev/60-alpha-bridge.rules \
udev/70-alpha-bridge-gvfs.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo \
udevadm trigger, then replug the camera";

/// What udev would use for `rule`: the first file of that name in [`RULE_DIRS`].
fn find_rule(probe: &Probe, name: &str) -> Option<PathBuf> {
    RULE_DIRS
        .iter()
        .map(|d| probe.at(d).join(name))
        .find(|p| p.symlink_metadata().is_ok())
}

/// The system path a user recognises, for a file found under the probe's root.
fn shown(probe: &Probe, p: &Path) -> String {
    match p.strip_prefix(&probe.root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => p.display().to_string(),
    }
}

fn read_capped(p: &Path, cap: u64) -> std::io::Result<String> {
    let mut s = String::new();
    fs::File::open(p)?.take(cap).read_to_string(&mut s)?;
    Ok(s)
}

/// Whether a rules file's text matches Sony bodies and does what `rule` is for: a rule
/// line (not a comment) with vendor 054c, and one naming what the rule sets.
fn matches_sony(rule: &Rule, text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let vendor = lines
        .iter()
        .any(|l| l.contains("idVendor") && l.to_ascii_lowercase().contains(SONY_VID_HEX));
    vendor
        && lines
            .iter()
            .any(|l| rule.needs_any.iter().any(|n| l.contains(n)))
}

/// How one of our rules files stands: `Ok` installed as shipped, `Warn` a different copy
/// that still matches Sony, `Fail` missing, masked or not matching.
fn rule_check(probe: &Probe, rule: &Rule, what: &'static str) -> Check {
    let Some(path) = find_rule(probe, rule.name) else {
        return Check::fail(
            what,
            format!("{} is not installed", rule.name),
            INSTALL_RULES,
        );
    };
    let shown_path = shown(probe, &path);
    let masked = fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
    if masked {
        return Check::fail(
            what,
            format!("{shown_path} is masked (a link to /dev/null)"),
            format!("sudo rm {shown_path}; then {INSTALL_RULES}"),
        );
    }
    let text = match read_capped(&path, MAX_RULES_BYTES) {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                what,
                format!("cannot read {shown_path}: {e}"),
                format!("check the file's permissions (sudo chmod 644 {shown_path})"),
            )
        }
    };
    if text.trim_end() == rule.shipped.trim_end() {
        return Check::ok(what, format!("{shown_path} installed"));
    }
    if matches_sony(rule, &text) {
        return Check::warn(
            what,
            format!("{shown_path} differs from this version's file but matches Sony (vendor {SONY_VID_HEX})"),
            format!("to use this version's rule: {INSTALL_RULES}"),
        );
    }
    Check::fail(
        what,
        format!("{shown_path} does not match Sony cameras (USB vendor {SONY_VID_HEX})"),
        INSTALL_RULES,
    )
}

/// The access rule (FAIL when missing). The gvfs rule is judged in [`gvfs`].
pub(crate) fn udev_rule(probe: &Probe) -> Check {
    rule_check(probe, &ACCESS_RULE, "udev rule")
}

/// Names of running programs whose `comm` says gvfs's gphoto2 monitor (the kernel keeps
/// 15 characters of the name, so `gvfs-gphoto2-vo`).
fn gvfs_gphoto2_running(probe: &Probe) -> Option<u32> {
    let entries = fs::read_dir(probe.at("/proc")).ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != probe.self_pid)
        .find(|pid| {
            read_capped(&probe.at(&format!("/proc/{pid}/comm")), 64).is_ok_and(|c| {
                let c = c.trim();
                c.starts_with("gvfs-gphoto2-vo") || c.starts_with("gvfsd-gphoto2")
            })
        })
}

/// The gvfs rule: needed when GNOME's gphoto2 volume monitor runs (it opens every PTP
/// camera and keeps it busy), optional otherwise.
pub(crate) fn gvfs(probe: &Probe) -> Check {
    let rule = rule_check(probe, &GVFS_RULE, "gvfs");
    if rule.status != Status::Fail {
        return Check {
            detail: format!(
                "{} (keeps the desktop's camera monitor off Sony bodies)",
                rule.detail
            ),
            ..rule
        };
    }
    match gvfs_gphoto2_running(probe) {
        Some(pid) => Check::fail(
            "gvfs",
            format!(
                "gvfs-gphoto2-volume-monitor is running (pid {pid}) and will hold the camera \
                 as soon as it is connected; {}",
                rule.detail
            ),
            INSTALL_RULES,
        ),
        None => Check::ok(
            "gvfs",
            format!(
                "gvfs-gphoto2-volume-monitor is not running ({}; install it if your desktop \
                 starts gvfs)",
                rule.detail
            ),
        ),
    }
}

/// A v4l2loopback video node: `/sys/class/video4linux/NAME` with the `max_openers`
/// attribute only v4l2loopback creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoopbackNode {
    /// `video10`
    pub name: String,
    pub number: u32,
    /// The card label apps show.
    pub label: String,
}

pub(crate) fn loopback_nodes(probe: &Probe) -> Vec<LoopbackNode> {
    let Ok(entries) = fs::read_dir(probe.at("/sys/class/video4linux")) else {
        return Vec::new();
    };
    let mut nodes: Vec<LoopbackNode> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_str()?.to_string();
            let number = name.strip_prefix("video")?.parse::<u32>().ok()?;
            let dir = e.path();
            dir.join("max_openers").exists().then(|| LoopbackNode {
                label: read_capped(&dir.join("name"), 256)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                name,
                number,
            })
        })
        .collect();
    nodes.sort_by_key(|n| n.number);
    nodes
}

/// A module parameter array as sysfs prints it (`Y,N,N` or `10,-1,-1`).
fn param_array(probe: &Probe, name: &str) -> Option<Vec<String>> {
    let text = read_capped(
        &probe.at(&format!("/sys/module/v4l2loopback/parameters/{name}")),
        4096,
    )
    .ok()?;
    Some(
        text.trim()
            .split(',')
            .map(|v| v.trim().to_string())
            .collect(),
    )
}

/// `exclusive_caps` for each node, from the module parameters: a node whose number is in
/// `video_nr` takes that slot, the others the slots in creation (number) order.
/// `None` where the parameters cannot be read.
fn exclusive_caps(probe: &Probe, nodes: &[LoopbackNode]) -> Vec<Option<bool>> {
    let caps = param_array(probe, "exclusive_caps").unwrap_or_default();
    let nrs = param_array(probe, "video_nr").unwrap_or_default();
    let mut taken = vec![false; caps.len().max(nrs.len())];
    let mut slot_of: Vec<Option<usize>> = nodes
        .iter()
        .map(|n| {
            let slot = nrs.iter().position(|v| v == &n.number.to_string());
            if let Some(s) = slot {
                taken[s] = true;
            }
            slot
        })
        .collect();
    let mut free = (0..taken.len()).filter(|&i| !taken[i]);
    for s in slot_of.iter_mut().filter(|s| s.is_none()) {
        *s = free.next();
    }
    slot_of
        .into_iter()
        .map(|slot| {
            let v = caps.get(slot?)?;
            match v.as_str() {
                "Y" | "y" | "1" => Some(true),
                "N" | "n" | "0" => Some(false),
                _ => None,
            }
        })
        .collect()
}

/// The module file for the running kernel, from `modules.dep`.
fn module_file(probe: &Probe) -> Option<PathBuf> {
    if probe.kernel_release.is_empty() {
        return None;
    }
    for base in ["/lib/modules", "/usr/lib/modules"] {
        let dir = probe.at(&format!("{base}/{}", probe.kernel_release));
        let Ok(dep) = read_capped(&dir.join("modules.dep"), 16 * 1024 * 1024) else {
            continue;
        };
        if let Some(m) = dep
            .lines()
            .filter_map(|l| l.split(':').next())
            .find(|m| m.contains("/v4l2loopback.ko"))
        {
            return Some(dir.join(m));
        }
    }
    None
}

/// Whether an uncompressed module carries a signature (the kernel's trailer);
/// `None` for compressed modules and unreadable files.
fn module_signed(path: &Path) -> Option<bool> {
    const MAGIC: &[u8] = b"~Module signature appended~\n";
    if path.extension()? != "ko" {
        return None;
    }
    use std::io::{Seek, SeekFrom};
    let mut f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    if len < MAGIC.len() as u64 {
        return Some(false);
    }
    f.seek(SeekFrom::Start(len - MAGIC.len() as u64)).ok()?;
    let mut tail = [0u8; 28];
    f.read_exact(&mut tail).ok()?;
    Some(tail == MAGIC)
}

const INSTALL_MODULE: &str =
    "Debian/Ubuntu: sudo apt install v4l2loopback-dkms; Fedora: sudo dnf install v4l2loopback";

const KEEP_LOADED: &str = "to load it at every boot: sudo cp udev/v4l2loopback.conf \
/etc/modprobe.d/ && sudo cp udev/alpha-bridge-v4l2loopback.conf /etc/modules-load.d/";

const SIGN_MODULE: &str = "enrol the key dkms signs modules with (Debian: sudo mokutil \
--import /var/lib/dkms/mok.pub; Ubuntu: sudo mokutil --import /var/lib/shim-signed/mok/MOK.der), \
reboot and confirm it in the blue MOK manager screen, reinstall the v4l2loopback-dkms package \
so the module is signed; or turn Secure Boot off in the firmware settings";

/// The module (loaded? else why not: not installed, Secure Boot), then, when loaded,
/// `exclusive_caps` and access to each of its devices.
pub(crate) fn v4l2loopback(probe: &Probe) -> Vec<Check> {
    const WHAT: &str = "v4l2loopback";
    let module = probe.module();
    if !module.loaded() {
        let release = if probe.kernel_release.is_empty() {
            "the running kernel".to_string()
        } else {
            format!("kernel {}", probe.kernel_release)
        };
        if module.installed() == Some(false) {
            return vec![Check::fail(
                WHAT,
                format!("not installed for {release}"),
                format!("{INSTALL_MODULE}; then {MODPROBE_LINE}"),
            )];
        }
        if probe.secure_boot() == Some(true) {
            let signed = module_file(probe).and_then(|f| module_signed(&f));
            let detail = match signed {
                Some(false) => "not loaded, and Secure Boot is on while the module is not \
                                signed: the kernel refuses it (\"Key was rejected by service\")"
                    .to_string(),
                Some(true) => "not loaded; Secure Boot is on and the module is signed (if \
                               modprobe says \"Key was rejected by service\", its key is not \
                               enrolled)"
                    .to_string(),
                None => "not loaded; Secure Boot is on, so the kernel loads it only if it is \
                         signed with an enrolled key (else modprobe says \"Key was rejected \
                         by service\")"
                    .to_string(),
            };
            return vec![Check::fail(
                WHAT,
                detail,
                format!("{MODPROBE_LINE}; if the key is rejected: {SIGN_MODULE}"),
            )];
        }
        return vec![Check::fail(
            WHAT,
            "not loaded",
            format!("{MODPROBE_LINE}; {KEEP_LOADED}"),
        )];
    }

    let nodes = loopback_nodes(probe);
    if nodes.is_empty() {
        return vec![Check::fail(
            WHAT,
            "loaded, but it has no video device",
            format!("sudo modprobe -r v4l2loopback && {MODPROBE_LINE}"),
        )];
    }
    let list = nodes
        .iter()
        .map(|n| format!("/dev/{} \"{}\"", n.name, n.label))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![Check::ok(WHAT, format!("loaded: {list}"))];

    let caps = exclusive_caps(probe, &nodes);
    let off: Vec<String> = nodes
        .iter()
        .zip(&caps)
        .filter(|(_, c)| **c == Some(false))
        .map(|(n, _)| format!("/dev/{}", n.name))
        .collect();
    let on: Vec<String> = nodes
        .iter()
        .zip(&caps)
        .filter(|(_, c)| **c == Some(true))
        .map(|(n, _)| format!("/dev/{}", n.name))
        .collect();
    out.push(if !on.is_empty() {
        let mut c = Check::ok("exclusive_caps", format!("on for {}", on.join(", ")));
        if !off.is_empty() {
            c.detail
                .push_str(&format!(" (off for {}: alpha-bridge uses the first free device, pass --device {})", off.join(", "), on[0]));
        }
        c
    } else if !off.is_empty() {
        Check::fail(
            "exclusive_caps",
            format!(
                "off for {}: Chrome, Zoom and other WebRTC apps do not list the device",
                off.join(", ")
            ),
            format!(
                "close the apps using it, then sudo modprobe -r v4l2loopback && {MODPROBE_LINE}; \
                 {KEEP_LOADED}"
            ),
        )
    } else {
        Check::warn(
            "exclusive_caps",
            "cannot read /sys/module/v4l2loopback/parameters/exclusive_caps",
            format!("if browsers do not list the camera, reload the module: sudo modprobe -r v4l2loopback && {MODPROBE_LINE}"),
        )
    });

    if let Some(n) = module.max_buffers() {
        out.push(match module.few_buffers() {
            None => Check::ok("buffers", format!("max_buffers={n}")),
            Some(why) => Check::warn(
                "buffers",
                why,
                format!(
                    "close the apps using it, then sudo modprobe -r v4l2loopback && \
                     {MODPROBE_LINE}; {KEEP_LOADED}"
                ),
            ),
        });
    }

    for n in &nodes {
        let node = probe.at(&format!("/dev/{}", n.name));
        let dev = format!("/dev/{}", n.name);
        out.push(match can_read_write(&node) {
            Ok(()) => Check::ok("video device", format!("read/write access to {dev}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::fail(
                "video device",
                format!("{dev} does not exist although v4l2loopback made {}", n.name),
                format!("sudo modprobe -r v4l2loopback && {MODPROBE_LINE}"),
            ),
            Err(e) => Check::fail(
                "video device",
                format!("no read/write access to {dev} ({})", plain_os_error(&e)),
                "sudo usermod -aG video $USER, then log out and back in",
            ),
        });
    }
    out
}

/// "permission denied" instead of "Permission denied (os error 13)".
pub(crate) fn plain_os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// The pairing in the config file (read only: never created or rewritten here).
pub(crate) fn pairing(dir: Result<PathBuf, String>) -> Check {
    const WHAT: &str = "pairing";
    let dir = match dir {
        Ok(d) => d,
        Err(e) => {
            return Check::fail(
                WHAT,
                format!("no config folder: {e}"),
                "set HOME (or XDG_CONFIG_HOME) to your home folder",
            )
        }
    };
    let file = dir.join(config::CONFIG_FILE);
    match config::load(&dir) {
        Ok(Some(id)) => Check::ok(
            WHAT,
            format!(
                "this computer's GUID {} (name \"{}\") is in {}; offload needs the camera paired with it",
                id.guid_hex(),
                id.host_name,
                file.display()
            ),
        ),
        Ok(None) => Check::warn(
            WHAT,
            format!("not paired yet (no GUID in {})", file.display()),
            "for Wi-Fi offload: camera in Mass Storage mode (USB Connection), then alpha-bridge pair",
        ),
        Err(e) => Check::fail(
            WHAT,
            format!("{e}"),
            format!("correct or remove {} (alpha-bridge pair writes it again)", file.display()),
        ),
    }
}

/// Less than this free at the offload destination fails the check: a few minutes of
/// 4K video.
pub(crate) const MIN_FREE: u64 = 1024 * 1024 * 1024;
/// Less than this warns: one long card's worth of RAW photos.
pub(crate) const LOW_FREE: u64 = 8 * 1024 * 1024 * 1024;

/// The nearest folder of `p` (itself or an ancestor) that exists.
fn nearest_existing(p: &Path) -> Option<&Path> {
    p.ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
}

/// Free bytes for an unprivileged user on the filesystem of `p`.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub(crate) fn free_bytes(p: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: statvfs is plain old data; zero is a valid value; `c` outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// How much room `free` bytes make at `dest`.
pub(crate) fn judge_space(dest: &Path, free: u64) -> Check {
    const WHAT: &str = "offload space";
    let detail = format!("{} free at {}", human_bytes(free), dest.display());
    if free < MIN_FREE {
        Check::fail(
            WHAT,
            detail,
            format!(
                "make room (at least {}) or pick another folder: alpha-bridge offload --dest DIR",
                human_bytes(MIN_FREE)
            ),
        )
    } else if free < LOW_FREE {
        Check::warn(
            WHAT,
            format!("{detail}: a full card of photos or videos may not fit"),
            "make room, or pick another folder: alpha-bridge offload --dest DIR",
        )
    } else {
        Check::ok(WHAT, detail)
    }
}

/// Free space and write access where offload puts pictures (`dest`, or the folder it
/// would create it in).
pub(crate) fn free_space(dest: Result<PathBuf, String>) -> Check {
    const WHAT: &str = "offload space";
    let dest = match dest {
        Ok(d) => d,
        Err(e) => return Check::fail(WHAT, e, "pass --dest DIR"),
    };
    if dest.exists() && !dest.is_dir() {
        return Check::fail(
            WHAT,
            format!("{} is not a folder", dest.display()),
            "pick a folder: alpha-bridge offload --dest DIR",
        );
    }
    let Some(existing) = nearest_existing(&dest) else {
        return Check::fail(
            WHAT,
            format!("no part of {} exists", dest.display()),
            "pick a folder that exists: alpha-bridge offload --dest DIR",
        );
    };
    if let Err(e) = access(existing, libc::W_OK | libc::X_OK) {
        return Check::fail(
            WHAT,
            format!(
                "cannot write in {} ({})",
                existing.display(),
                plain_os_error(&e)
            ),
            "pick a folder you can write to: alpha-bridge offload --dest DIR",
        );
    }
    match free_bytes(existing) {
        Ok(free) => judge_space(&dest, free),
        Err(e) => Check::warn(
            WHAT,
            format!(
                "cannot tell the free space at {} ({})",
                existing.display(),
                plain_os_error(&e)
            ),
            "check it with df",
        ),
    }
}
