//! Who holds a busy camera: the `/proc` scan for processes with the device node open,
//! and the advice that names them. No rusb here.

use super::device::read_small;
use std::path::{Path, PathBuf};

/// At most this many processes are named in a "camera is busy" message.
const MAX_HOLDERS: usize = 8;

/// A process that has a device node open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Program name: basename of argv[0], else `comm`.
    pub name: String,
}

/// The processes under `proc_root` (normally `/proc`) with `/dev/bus/usb/BBB/DDD` open,
/// except `exclude_pid` (ourselves). Processes we may not inspect are skipped silently.
pub fn find_holders(proc_root: &Path, bus: u8, address: u8, exclude_pid: u32) -> Vec<Holder> {
    let target = PathBuf::from(format!("/dev/bus/usb/{bus:03}/{address:03}"));
    let mut holders = Vec::new();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return holders;
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != exclude_pid)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        if holders.len() >= MAX_HOLDERS {
            break;
        }
        let dir = proc_root.join(pid.to_string());
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let holds = fds
            .filter_map(|fd| fd.ok())
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if holds {
            holders.push(Holder {
                pid,
                name: process_name(&dir),
            });
        }
    }
    holders
}

fn process_name(proc_dir: &Path) -> String {
    if let Some(cmdline) = read_small(&proc_dir.join("cmdline"), 4096) {
        if let Some(arg0) = cmdline.split('\0').next().filter(|a| !a.is_empty()) {
            let base = arg0.rsplit('/').next().unwrap_or(arg0);
            // Some programs rewrite argv[0] to "name: details".
            let base = base.split_whitespace().next().unwrap_or(base);
            if !base.is_empty() {
                return base.to_string();
            }
        }
    }
    read_small(&proc_dir.join("comm"), 64)
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown program".to_string())
}

/// What to tell a user whose camera is claimed by someone else.
pub fn busy_advice(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "another program holds the camera (often gvfs-gphoto2-volume-monitor: \
                `systemctl --user stop gvfs-gphoto2-volume-monitor` and `gio mount -s gphoto2`; \
                or gphoto2, or another alpha-bridge): close it and try again"
            .to_string();
    }
    let mut parts = Vec::new();
    for h in holders {
        let n = h.name.to_ascii_lowercase();
        let how = if n.starts_with("gvfs") || n.contains("gvfsd-gphoto2") {
            "stop it with `systemctl --user stop gvfs-gphoto2-volume-monitor` and `gio mount -s gphoto2`".to_string()
        } else if n.contains("alpha-bridge") || n.contains("alpha_bridge") {
            format!("another alpha-bridge is running: stop it (kill {})", h.pid)
        } else {
            format!("close it (kill {})", h.pid)
        };
        parts.push(format!("{} (pid {}): {how}", h.name, h.pid));
    }
    format!("the camera is held by {}", parts.join("; "))
}
