//! The emulated camera's list of paired computers: what a real Sony body stores when it
//! receives ForceRegistHostNetInfo (docs/protocol/pairing.md#registration-block), shared by
//! the Mass Storage front (which registers) and the Wi-Fi front (which accepts only
//! registered GUIDs in the PTP/IP Init Command Request).
//!
//! A cheap clonable handle; optionally backed by a file in a state directory, written
//! atomically (temp + rename) and re-read on every query, so a registration made by
//! one process (say the USB gadget) is seen by another (the Wi-Fi emulator). Names come
//! from a USB host and are sanitized before they reach the file. Nothing from the host's
//! pairing or config modules here: the emulator is an independent implementation.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// File name inside the state directory.
pub const REGISTRY_FILE: &str = "registered-hosts";

/// How many computers the emulated body remembers; the oldest is forgotten when a new
/// one is registered beyond that. (A real body's slot count is UNCONFIRMED,
/// docs/protocol/pairing.md#extcmd-sub-commands, sub-command 6.)
pub const MAX_HOSTS: usize = 8;

/// Longest stored host name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        err: std::io::Error,
    },
    /// A line of the registry file does not parse.
    #[error("{path}:{line}: not a registered host line; delete the file to start over")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
}

/// One paired computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredHost {
    /// The host's GUID.
    pub guid: [u8; 16],
    /// The host name it gave.
    pub host_name: String,
}

/// The paired computers of one emulated camera.
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    path: Option<PathBuf>,
    hosts: Vec<RegisteredHost>,
}

impl Registry {
    /// A registry that lives only in this process.
    pub fn in_memory() -> Registry {
        Registry {
            inner: Arc::new(Mutex::new(Inner {
                path: None,
                hosts: Vec::new(),
            })),
        }
    }

    /// The registry kept in `state_dir/registered-hosts` (created on first
    /// registration; the directory is created if missing).
    pub fn open(state_dir: &Path) -> Result<Registry, RegistryError> {
        let path = state_dir.join(REGISTRY_FILE);
        let hosts = read_file(&path)?;
        Ok(Registry {
            inner: Arc::new(Mutex::new(Inner {
                path: Some(path),
                hosts,
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent data (every
        // mutation is a single push/remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Picks up registrations another process wrote; keeps the cached list when the
    /// file can't be read.
    fn refresh(inner: &mut Inner) {
        if let Some(path) = &inner.path {
            match read_file(path) {
                Ok(h) => inner.hosts = h,
                Err(e) => log::warn!("registry: {e}; using the last list read"),
            }
        }
    }

    /// Stores `guid` with `host_name` (replacing an earlier entry with the same GUID)
    /// and persists the list.
    pub fn register(&self, guid: [u8; 16], host_name: &str) -> Result<(), RegistryError> {
        let mut inner = self.lock();
        Self::refresh(&mut inner);
        inner.hosts.retain(|h| h.guid != guid);
        if inner.hosts.len() >= MAX_HOSTS {
            let gone = inner.hosts.remove(0);
            log::info!("registry full: forgetting {}", hex(&gone.guid));
        }
        inner.hosts.push(RegisteredHost {
            guid,
            host_name: sanitize(host_name),
        });
        log::info!("registered {} as {:?}", hex(&guid), sanitize(host_name));
        Self::persist(&inner)
    }

    /// Changes the stored name of a registered GUID (a real body replaces it with the
    /// name from the first PTP/IP Init Command Request,
    /// docs/protocol/pairing.md#registration-block). Returns whether the GUID was
    /// registered.
    pub fn set_host_name(&self, guid: &[u8; 16], host_name: &str) -> Result<bool, RegistryError> {
        let mut inner = self.lock();
        Self::refresh(&mut inner);
        let Some(h) = inner.hosts.iter_mut().find(|h| &h.guid == guid) else {
            return Ok(false);
        };
        h.host_name = sanitize(host_name);
        Self::persist(&inner)?;
        Ok(true)
    }

    /// Whether `guid` may connect.
    pub fn is_registered(&self, guid: &[u8; 16]) -> bool {
        let mut inner = self.lock();
        Self::refresh(&mut inner);
        inner.hosts.iter().any(|h| &h.guid == guid)
    }

    /// The stored name of a registered GUID.
    pub fn host_name(&self, guid: &[u8; 16]) -> Option<String> {
        let mut inner = self.lock();
        Self::refresh(&mut inner);
        inner
            .hosts
            .iter()
            .find(|h| &h.guid == guid)
            .map(|h| h.host_name.clone())
    }

    /// All registered computers, oldest first.
    pub fn hosts(&self) -> Vec<RegisteredHost> {
        let mut inner = self.lock();
        Self::refresh(&mut inner);
        inner.hosts.clone()
    }

    /// The backing file, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.lock().path.clone()
    }

    fn persist(inner: &Inner) -> Result<(), RegistryError> {
        let Some(path) = &inner.path else {
            return Ok(());
        };
        let mut text =
            String::from("# alpha-bridge emulated camera: registered hosts (GUID, tab, name)\n");
        for h in &inner.hosts {
            text.push_str(&hex(&h.guid));
            text.push('\t');
            text.push_str(&h.host_name);
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())
    }
}

fn hex(g: &[u8; 16]) -> String {
    g.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut g = [0u8; 16];
    for (i, b) in g.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(g)
}

/// Printable, single-line, bounded.
fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect()
}

fn read_file(path: &Path) -> Result<Vec<RegisteredHost>, RegistryError> {
    let io = |err| RegistryError::Io {
        path: path.to_path_buf(),
        err,
    };
    let mut text = String::new();
    match fs::File::open(path) {
        Ok(f) => {
            f.take(MAX_FILE_BYTES)
                .read_to_string(&mut text)
                .map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    }
    let mut hosts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (g, name) = line.split_once('\t').unwrap_or((line, ""));
        let guid = unhex(g.trim()).ok_or(RegistryError::Corrupt {
            path: path.to_path_buf(),
            line: i + 1,
        })?;
        hosts.retain(|h: &RegisteredHost| h.guid != guid);
        hosts.push(RegisteredHost {
            guid,
            host_name: sanitize(name),
        });
    }
    if hosts.len() > MAX_HOSTS {
        hosts.drain(..hosts.len() - MAX_HOSTS);
    }
    Ok(hosts)
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), RegistryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .and_then(|()| crate::fsutil::write_atomic(path, data))
        .map_err(|err| RegistryError::Io {
            path: path.to_path_buf(),
            err,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn in_memory() {
        let r = Registry::in_memory();
        assert!(!r.is_registered(&g(1)));
        r.register(g(1), "linux").unwrap();
        assert!(r.is_registered(&g(1)));
        assert!(!r.is_registered(&g(2)));
        assert_eq!(r.host_name(&g(1)).as_deref(), Some("linux"));
        assert!(r.set_host_name(&g(1), "WIN7-VM").unwrap());
        assert!(!r.set_host_name(&g(2), "x").unwrap());
        assert_eq!(r.host_name(&g(1)).as_deref(), Some("WIN7-VM"));
        assert_eq!(r.path(), None);
    }

    #[test]
    fn persisted_and_seen_by_a_second_handle() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let a = Registry::open(&state).unwrap();
        let b = Registry::open(&state).unwrap();
        a.register(g(7), "bad\nname\t!").unwrap();
        // b was opened before the registration: it re-reads the file.
        assert!(b.is_registered(&g(7)));
        assert_eq!(b.host_name(&g(7)).as_deref(), Some("badname!"));
        let c = Registry::open(&state).unwrap();
        assert_eq!(c.hosts().len(), 1);
        // Only the file itself, no temp files.
        assert_eq!(fs::read_dir(&state).unwrap().count(), 1);
    }

    #[test]
    fn bounded_and_reregistering_moves_to_newest() {
        let r = Registry::in_memory();
        for i in 0..MAX_HOSTS as u8 {
            r.register(g(i), "h").unwrap();
        }
        r.register(g(0), "again").unwrap();
        r.register(g(100), "new").unwrap();
        assert!(r.is_registered(&g(0)));
        assert!(!r.is_registered(&g(1)), "oldest forgotten");
        assert_eq!(r.hosts().len(), MAX_HOSTS);
    }

    #[test]
    fn corrupt_file_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(REGISTRY_FILE), "# c\nnot-a-guid\tx\n").unwrap();
        let e = Registry::open(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
    }
}
