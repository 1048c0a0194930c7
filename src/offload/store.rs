//! Where downloads land, and how nothing is ever lost or written outside the
//! destination (docs/protocol/offload.md#store): `DIR/YYYY-MM-DD/NAME` from the capture
//! date, a temp file in the same folder (`.NAME.SIZE.part`, so an interrupted download
//! resumes from it), fsync, size check, rename, mtime from the capture date, and a ledger
//! of what each camera already sent so files the user moved or renamed are not fetched
//! again.
//!
//! Camera-supplied names are hostile input: [`sanitize_name`] keeps one plain path
//! component. The only file I/O of `offload` lives here; no network.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use super::OffloadError;
use crate::ptp::dataset::{ObjectInfo, PtpDate};

/// ObjectCompressedSize meaning "4 GiB or more" (the real size comes with the data).
pub const SIZE_UNKNOWN_4G: u32 = 0xFFFF_FFFF;
/// Name of the ledger file inside the destination.
pub const LEDGER_NAME: &str = ".alpha-bridge-ledger";
const MAX_NAME_BYTES: usize = 200;
const MAX_LEDGER_BYTES: u64 = 64 << 20;

/// Makes a camera-supplied file name safe as one path component: path separators,
/// NUL, control characters and backslashes become `_`, leading dots are removed (no
/// `..`, no hidden files), the length is capped; empty results become `unnamed`.
pub fn sanitize_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = s.trim_start_matches(['.', ' ']).trim_end().to_string();
    s = trimmed;
    if s.len() > MAX_NAME_BYTES {
        let mut end = MAX_NAME_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    if s.is_empty() {
        s = "unnamed".into();
    }
    s
}

/// The `YYYY-MM-DD` folder for an object: capture date, else modification date.
pub fn date_folder(info: &ObjectInfo) -> String {
    match capture_date(info) {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        None => "undated".into(),
    }
}

fn capture_date(info: &ObjectInfo) -> Option<PtpDate> {
    PtpDate::parse(&info.capture_date).or_else(|| PtpDate::parse(&info.modification_date))
}

/// The camera's local wall-clock time as a `SystemTime`, read in this computer's time
/// zone (the camera sends no zone).
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn to_system_time(d: &PtpDate) -> Option<SystemTime> {
    // SAFETY: `tm` is a plain C struct, zeroed then filled; mktime only reads/normalises it.
    let t = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = d.year as i32 - 1900;
        tm.tm_mon = d.month as i32 - 1;
        tm.tm_mday = d.day as i32;
        tm.tm_hour = d.hour as i32;
        tm.tm_min = d.minute as i32;
        tm.tm_sec = d.second as i32;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    if t < 0 {
        return None;
    }
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
}

/// What the ledger remembers of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    /// The camera's serial number.
    pub serial: String,
    /// The file name on the camera.
    pub name: String,
    /// The size the camera declared.
    pub size: u32,
    /// The capture date string from ObjectInfo.
    pub capture_date: String,
}

impl LedgerKey {
    /// The key of an object from this camera.
    pub fn new(serial: &str, info: &ObjectInfo) -> LedgerKey {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { '_' } else { c })
                .collect()
        };
        LedgerKey {
            serial: clean(serial),
            name: clean(&info.filename),
            size: info.compressed_size,
            capture_date: clean(&info.capture_date),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\n",
            self.serial, self.name, self.size, self.capture_date
        )
    }

    fn parse(line: &str) -> Option<LedgerKey> {
        let mut f = line.split('\t');
        let k = LedgerKey {
            serial: f.next()?.to_string(),
            name: f.next()?.to_string(),
            size: f.next()?.parse().ok()?,
            capture_date: f.next()?.to_string(),
        };
        f.next().is_none().then_some(k)
    }
}

/// Why an object is not downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A file with the same name and size is already in place.
    Exists(PathBuf),
    /// The ledger says this camera already sent it (the user may have moved it).
    InLedger,
    /// A folder, not a file.
    Folder,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Exists(p) => write!(f, "already present as {}", p.display()),
            Skip::InLedger => write!(f, "already downloaded earlier (ledger)"),
            Skip::Folder => write!(f, "a folder"),
        }
    }
}

/// Where one object goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name the file gets when complete.
    pub final_path: PathBuf,
    /// The partial file the bytes go to first.
    pub temp_path: PathBuf,
    /// Bytes already in the temp file from an earlier, interrupted attempt.
    pub resume_from: u64,
    /// The size the camera declared, `None` for "4 GiB or more".
    pub expected: Option<u64>,
    /// Modification time to set (the capture date), when it can be read.
    pub mtime: Option<SystemTime>,
    key: LedgerKey,
}

/// What to do with an object.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Do not download, and why.
    Skip(Skip),
    /// Download into this target.
    Fetch(Target),
}

/// The destination directory and its ledger.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    ledger: HashSet<LedgerKey>,
    /// Fetch objects again although the ledger or a same-size file has them.
    refetch: bool,
}

fn io(e: std::io::Error, what: &str, p: &Path) -> OffloadError {
    if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT) {
        return OffloadError::DiskFull(p.to_path_buf());
    }
    OffloadError::Io(format!("{what} {}: {e}", p.display()))
}

impl Store {
    /// Opens (creating) the destination and loads its ledger.
    pub fn open(root: &Path) -> Result<Store, OffloadError> {
        std::fs::create_dir_all(root).map_err(|e| io(e, "cannot create", root))?;
        let root = root
            .canonicalize()
            .map_err(|e| io(e, "cannot open", root))?;
        let mut ledger = HashSet::new();
        let lp = root.join(LEDGER_NAME);
        match File::open(&lp) {
            Ok(f) => {
                let r = BufReader::new(f.take(MAX_LEDGER_BYTES));
                for line in r.lines() {
                    let Ok(line) = line else { break };
                    match LedgerKey::parse(&line) {
                        Some(k) => {
                            ledger.insert(k);
                        }
                        None => log::warn!("ignoring a bad ledger line in {}", lp.display()),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e, "cannot read", &lp)),
        }
        Ok(Store {
            root,
            ledger,
            refetch: false,
        })
    }

    /// `offload --force`: objects the ledger knows, or whose same-size file is in
    /// place, are fetched again, saved next to the existing file under a new name
    /// (`NAME_2.EXT`, …); nothing existing is ever overwritten.
    pub fn set_refetch(&mut self, yes: bool) {
        self.refetch = yes;
    }

    /// The destination directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Joins plain components under the root, refusing anything else (defence in
    /// depth behind `sanitize_name`).
    fn under_root(&self, folder: &str, name: &str) -> Result<PathBuf, OffloadError> {
        let rel = Path::new(folder).join(name);
        let mut comps = 0;
        for c in rel.components() {
            match c {
                Component::Normal(_) => comps += 1,
                _ => {
                    return Err(OffloadError::Io(format!(
                        "refusing unsafe path {:?}",
                        rel.display()
                    )))
                }
            }
        }
        if comps != 2 {
            return Err(OffloadError::Io(format!(
                "refusing unsafe path {:?}",
                rel.display()
            )));
        }
        Ok(self.root.join(rel))
    }

    /// Decides what to do with an object of the camera with serial `serial`.
    pub fn plan(&self, serial: &str, info: &ObjectInfo) -> Result<Plan, OffloadError> {
        if info.is_folder() {
            return Ok(Plan::Skip(Skip::Folder));
        }
        let key = LedgerKey::new(serial, info);
        if !self.refetch && self.ledger.contains(&key) {
            return Ok(Plan::Skip(Skip::InLedger));
        }
        let folder = date_folder(info);
        let name = sanitize_name(&info.filename);
        let expected =
            (info.compressed_size != SIZE_UNKNOWN_4G).then_some(info.compressed_size as u64);
        let mut final_path = self.under_root(&folder, &name)?;
        // Same name: same size means the same file (unless fetching again); another
        // size is another photo (counter wrapped, second card) and gets a suffixed name.
        let mut n = 1;
        while let Ok(m) = std::fs::symlink_metadata(&final_path) {
            let same = match expected {
                Some(sz) => m.is_file() && m.len() == sz,
                None => m.is_file() && m.len() >= 1 << 32,
            };
            if same && !self.refetch {
                return Ok(Plan::Skip(Skip::Exists(final_path)));
            }
            n += 1;
            if n > 1000 {
                return Err(OffloadError::Io(format!(
                    "too many files named like {name} in {folder}"
                )));
            }
            let (stem, ext) = match name.rfind('.') {
                Some(i) if i > 0 => (&name[..i], &name[i..]),
                _ => (name.as_str(), ""),
            };
            final_path = self.under_root(&folder, &format!("{stem}_{n}{ext}"))?;
        }
        let fname = final_path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp_name = format!(".{fname}.{}.part", info.compressed_size);
        let temp_path = self.under_root(&folder, &temp_name)?;
        let resume_from = match (expected, std::fs::symlink_metadata(&temp_path)) {
            (Some(sz), Ok(m)) if m.is_file() && m.len() <= sz => m.len(),
            _ => 0,
        };
        Ok(Plan::Fetch(Target {
            final_path,
            temp_path,
            resume_from,
            expected,
            mtime: capture_date(info).and_then(|d| to_system_time(&d)),
            key,
        }))
    }

    /// Opens the temp file positioned at `resume_from` (0 truncates).
    pub fn begin(&self, t: &Target, resume_from: u64) -> Result<TempFile, OffloadError> {
        let dir = t.temp_path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| io(e, "cannot create", dir))?;
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&t.temp_path)
            .map_err(|e| io(e, "cannot create", &t.temp_path))?;
        f.set_len(resume_from)
            .map_err(|e| io(e, "cannot resize", &t.temp_path))?;
        f.seek(SeekFrom::Start(resume_from))
            .map_err(|e| io(e, "cannot seek", &t.temp_path))?;
        Ok(TempFile {
            file: f,
            path: t.temp_path.clone(),
            written: resume_from,
        })
    }

    /// Finishes a download: fsync, size check, mtime, rename (never over an existing
    /// file), directory fsync, ledger entry.
    pub fn commit(&mut self, t: &Target, f: TempFile, size: u64) -> Result<PathBuf, OffloadError> {
        let TempFile {
            file,
            path,
            written,
        } = f;
        if written != size {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(OffloadError::Protocol(format!(
                "{}: got {written} bytes, expected {size}; the partial file was removed",
                t.final_path.display()
            )));
        }
        file.sync_all().map_err(|e| io(e, "cannot sync", &path))?;
        if let Some(m) = t.mtime {
            if let Err(e) = file.set_modified(m) {
                log::warn!("cannot set the date of {}: {e}", path.display());
            }
        }
        drop(file);
        // link + unlink instead of rename: fails rather than replaces if a file with
        // that name appeared meanwhile.
        std::fs::hard_link(&path, &t.final_path)
            .map_err(|e| io(e, "cannot create", &t.final_path))?;
        std::fs::remove_file(&path).map_err(|e| io(e, "cannot remove", &path))?;
        if let Some(dir) = t.final_path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.remember(&t.key)?;
        Ok(t.final_path.clone())
    }

    /// Deletes a temp file (disk full, bad data).
    pub fn discard(&self, t: &Target) {
        if let Err(e) = std::fs::remove_file(&t.temp_path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("cannot remove {}: {e}", t.temp_path.display());
            }
        }
    }

    fn remember(&mut self, key: &LedgerKey) -> Result<(), OffloadError> {
        if self.ledger.contains(key) {
            // Fetched again with --force: already remembered.
            return Ok(());
        }
        let lp = self.root.join(LEDGER_NAME);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lp)
            .map_err(|e| io(e, "cannot open", &lp))?;
        f.write_all(key.line().as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(|e| io(e, "cannot write", &lp))?;
        self.ledger.insert(key.clone());
        Ok(())
    }

    /// True if the ledger has this key (tests, diagnostics).
    pub fn knows(&self, key: &LedgerKey) -> bool {
        self.ledger.contains(key)
    }
}

/// An open temp file being written.
#[derive(Debug)]
pub struct TempFile {
    file: File,
    path: PathBuf,
    written: u64,
}

impl TempFile {
    /// Appends bytes to the partial file.
    pub fn write(&mut self, b: &[u8]) -> Result<(), OffloadError> {
        self.file
            .write_all(b)
            .map_err(|e| io(e, "cannot write", &self.path))?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Bytes in the partial file so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes what was written durable, so a later resume can trust it.
    pub fn sync(&self) -> Result<(), OffloadError> {
        self.file
            .sync_data()
            .map_err(|e| io(e, "cannot sync", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_one_plain_component() {
        for (raw, want) in [
            ("DSC00001.JPG", "DSC00001.JPG"),
            ("../../etc/passwd", "_.._etc_passwd"),
            ("/abs/path", "_abs_path"),
            ("..", "unnamed"),
            (".", "unnamed"),
            ("", "unnamed"),
            ("a\0b", "a_b"),
            ("x\ny\u{1b}[31m", "x_y_[31m"),
            ("..\\..\\win", "_.._win"),
            (".hidden", "hidden"),
        ] {
            assert_eq!(sanitize_name(raw), want, "{raw:?}");
            let p = Path::new(&sanitize_name(raw)).components().count();
            assert_eq!(p, 1, "{raw:?}");
        }
        let long = "é".repeat(300);
        assert!(sanitize_name(&long).len() <= MAX_NAME_BYTES);
    }

    fn info(name: &str, size: u32) -> ObjectInfo {
        ObjectInfo {
            storage_id: 0x10001,
            format: crate::ptp::ObjectFormat::EXIF_JPEG,
            compressed_size: size,
            filename: name.into(),
            capture_date: "20261125T101112".into(),
            ..Default::default()
        }
    }

    #[test]
    fn plan_commit_skip_and_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let i = info("DSC1.JPG", 3);
        let Plan::Fetch(t) = s.plan("SER", &i).unwrap() else {
            panic!()
        };
        assert!(t.final_path.ends_with("2026-11-25/DSC1.JPG"));
        let mut f = s.begin(&t, 0).unwrap();
        f.write(b"abc").unwrap();
        let p = s.commit(&t, f, 3).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
        assert!(!t.temp_path.exists());
        // Ledger: skipped even after the user moves the file away.
        std::fs::remove_file(&p).unwrap();
        let s2 = Store::open(dir.path()).unwrap();
        assert!(matches!(
            s2.plan("SER", &i).unwrap(),
            Plan::Skip(Skip::InLedger)
        ));
        // Another camera, same name, same size: present on disk → skip.
        std::fs::write(&p, b"xyz").unwrap();
        assert!(matches!(
            s2.plan("OTHER", &i).unwrap(),
            Plan::Skip(Skip::Exists(_))
        ));
        // Same name, other size: a new file with a suffix.
        let Plan::Fetch(t) = s2.plan("OTHER", &info("DSC1.JPG", 5)).unwrap() else {
            panic!()
        };
        assert!(t.final_path.ends_with("2026-11-25/DSC1_2.JPG"), "{t:?}");
    }

    #[test]
    fn refetch_saves_next_to_the_existing_file_and_never_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let i = info("DSC1.JPG", 3);
        let Plan::Fetch(t) = s.plan("SER", &i).unwrap() else {
            panic!()
        };
        let mut f = s.begin(&t, 0).unwrap();
        f.write(b"abc").unwrap();
        let first = s.commit(&t, f, 3).unwrap();
        assert!(matches!(
            s.plan("SER", &i).unwrap(),
            Plan::Skip(Skip::InLedger)
        ));

        s.set_refetch(true);
        let Plan::Fetch(t) = s.plan("SER", &i).unwrap() else {
            panic!("--force fetches what the ledger has")
        };
        assert!(t.final_path.ends_with("2026-11-25/DSC1_2.JPG"), "{t:?}");
        let mut f = s.begin(&t, 0).unwrap();
        f.write(b"xyz").unwrap();
        let second = s.commit(&t, f, 3).unwrap();
        assert_eq!(
            std::fs::read(&first).unwrap(),
            b"abc",
            "the user's file untouched"
        );
        assert_eq!(std::fs::read(&second).unwrap(), b"xyz");
        // The user moved the first copy away: still never over the second.
        std::fs::remove_file(&first).unwrap();
        let Plan::Fetch(t) = s.plan("SER", &i).unwrap() else {
            panic!()
        };
        assert!(t.final_path.ends_with("2026-11-25/DSC1.JPG"), "{t:?}");
        // One ledger line however often it is fetched.
        let ledger = std::fs::read_to_string(dir.path().join(LEDGER_NAME)).unwrap();
        assert_eq!(ledger.lines().count(), 1, "{ledger}");
    }
}
