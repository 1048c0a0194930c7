//! The emulated memory card: one storage (0x00010001) built from a directory of files,
//! laid out the way a Sony body shows it in Send to Computer mode
//! (docs/protocol/offload.md#enumeration): date folders `YYYY-MM-DD` (associations, format
//! 0x3001, empty capture date) derived from each file's mtime, the files inside them, and
//! ObjectInfo datasets (docs/protocol/ptp-usb.md#objectinfo).
//!
//! File contents are never held in memory: readers open the file and seek, so a
//! multi-GiB object costs nothing until it is streamed. Dates use UTC (the emulator has
//! no time-zone database); a real body uses its own clock setting.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ptp::codes::ObjectFormat;
use crate::ptp::dataset::{ObjectInfo, StorageInfo};

/// The only storage id the emulated body reports.
pub const STORAGE_ID: u32 = 0x0001_0001;

/// Objects beyond this are ignored (with a warning) to keep the model bounded.
const MAX_OBJECTS: usize = 200_000;

/// An extra object that is not backed by a file: used for fault injection (hostile file
/// names, a declared size that does not match the bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeObject {
    /// The name reported in ObjectInfo, sent verbatim (e.g. "../../evil.jpg").
    pub name: String,
    /// The bytes GetObject returns.
    pub data: Vec<u8>,
    /// The size ObjectInfo reports when it should lie; `None` reports `data.len()`.
    /// 4 GiB and more is reported as 0xFFFFFFFF. Start Data still declares the real size.
    pub declared_size: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) enum Source {
    Disk(PathBuf),
    Memory(Arc<[u8]>),
}

#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub handle: u32,
    /// 0 for the date folders (they sit at the root).
    pub parent: u32,
    pub name: String,
    pub format: ObjectFormat,
    /// `None` for folders.
    pub source: Option<Source>,
    /// Real byte count available to GetObject.
    pub size: u64,
    /// What ObjectInfo / Start Data claim.
    pub declared_size: u64,
    /// `YYYYMMDDThhmmss`, empty for folders.
    pub date: String,
}

impl Object {
    pub(crate) fn is_folder(&self) -> bool {
        self.source.is_none()
    }

    pub(crate) fn object_info(&self) -> ObjectInfo {
        ObjectInfo {
            storage_id: STORAGE_ID,
            format: self.format,
            protection_status: 0,
            compressed_size: u32::try_from(self.declared_size).unwrap_or(u32::MAX),
            parent: self.parent,
            association_type: if self.is_folder() { 1 } else { 0 },
            filename: self.name.clone(),
            capture_date: self.date.clone(),
            modification_date: self.date.clone(),
            ..ObjectInfo::default()
        }
    }

    /// A reader over `len` bytes starting at `offset` (the caller has checked the range).
    pub(crate) fn open_range(&self, offset: u64, len: u64) -> io::Result<Box<dyn Read + Send>> {
        match &self.source {
            Some(Source::Disk(p)) => {
                let mut f = File::open(p)?;
                f.seek(SeekFrom::Start(offset))?;
                Ok(Box::new(f.take(len)))
            }
            Some(Source::Memory(m)) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(m.len());
                let data = Arc::clone(m);
                let mut c = io::Cursor::new(data);
                c.set_position(start as u64);
                Ok(Box::new(c.take(len)))
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a folder has no contents",
            )),
        }
    }
}

/// The object tree. Handle `h` lives at index `h - 1`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Storage {
    objects: Vec<Object>,
}

/// Object format from a file extension (docs/protocol/ptp-usb.md#object-formats).
pub fn format_for_name(name: &str) -> ObjectFormat {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_uppercase())
        .unwrap_or_default();
    match ext.as_str() {
        "JPG" | "JPEG" => ObjectFormat::EXIF_JPEG,
        "ARW" => ObjectFormat::SONY_ARW,
        "HIF" | "HEIF" | "HEIC" => ObjectFormat::HEIF,
        "MP4" => ObjectFormat::MP4,
        "MTS" | "M2TS" | "MPG" | "MPEG" => ObjectFormat::MPEG,
        _ => ObjectFormat::UNDEFINED,
    }
}

/// Civil date-time in UTC from seconds since the epoch (Howard Hinnant's algorithm).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        (sod % 3600 / 60) as u32,
        (sod % 60) as u32,
    )
}

/// `(folder name YYYY-MM-DD, PTP date YYYYMMDDThhmmss)` for a modification time.
pub(super) fn dates_for(mtime: SystemTime) -> (String, String) {
    let secs = match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(0),
    };
    let (y, mo, d, h, mi, s) = civil(secs);
    let y = y.clamp(0, 9999);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}"),
    )
}

struct Found {
    path: PathBuf,
    name: String,
    size: u64,
    folder: String,
    date: String,
}

fn walk(dir: &Path, depth: u32, out: &mut Vec<Found>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Follow symlinks like a card reader would show their targets; skip broken ones.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                log::warn!("emulator: skipping {}: {e}", path.display());
                continue;
            }
        };
        if meta.is_dir() {
            if depth < 8 {
                walk(&path, depth + 1, out)?;
            }
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        if out.len() >= MAX_OBJECTS {
            log::warn!(
                "emulator: more than {MAX_OBJECTS} files under the files directory, ignoring the rest"
            );
            return Ok(());
        }
        let (folder, date) = dates_for(meta.modified().unwrap_or(UNIX_EPOCH));
        out.push(Found {
            name: entry.file_name().to_string_lossy().into_owned(),
            path,
            size: meta.len(),
            folder,
            date,
        });
    }
    Ok(())
}

impl Storage {
    /// No card (PC Remote mode).
    pub(crate) fn empty() -> Storage {
        Storage {
            objects: Vec::new(),
        }
    }

    /// Scans `dir` (recursively; sub-directories are flattened into date folders) and
    /// appends the fake objects to the first date folder.
    pub(crate) fn scan(dir: &Path, fakes: &[FakeObject]) -> io::Result<Storage> {
        let mut found = Vec::new();
        walk(dir, 0, &mut found)?;
        found.sort_by(|a, b| (&a.folder, &a.name).cmp(&(&b.folder, &b.name)));
        let mut folders: Vec<String> = found.iter().map(|f| f.folder.clone()).collect();
        folders.dedup();
        if folders.is_empty() && !fakes.is_empty() {
            folders.push(dates_for(SystemTime::now()).0);
        }
        let mut objects = Vec::with_capacity(folders.len() + found.len() + fakes.len());
        for f in &folders {
            objects.push(Object {
                handle: objects.len() as u32 + 1,
                parent: 0,
                name: f.clone(),
                format: ObjectFormat::ASSOCIATION,
                source: None,
                size: 0,
                declared_size: 0,
                date: String::new(),
            });
        }
        let folder_handle = |name: &str| -> u32 {
            folders
                .iter()
                .position(|f| f == name)
                .map(|i| i as u32 + 1)
                .unwrap_or(0)
        };
        for f in found {
            objects.push(Object {
                handle: objects.len() as u32 + 1,
                parent: folder_handle(&f.folder),
                format: format_for_name(&f.name),
                name: f.name,
                source: Some(Source::Disk(f.path)),
                size: f.size,
                declared_size: f.size,
                date: f.date,
            });
        }
        for fake in fakes {
            let data: Arc<[u8]> = fake.data.clone().into();
            objects.push(Object {
                handle: objects.len() as u32 + 1,
                parent: 1,
                name: fake.name.clone(),
                format: format_for_name(&fake.name),
                source: Some(Source::Memory(data)),
                size: fake.data.len() as u64,
                declared_size: fake.declared_size.unwrap_or(fake.data.len() as u64),
                date: dates_for(SystemTime::now()).1,
            });
        }
        Ok(Storage { objects })
    }

    pub(crate) fn get(&self, handle: u32) -> Option<&Object> {
        let i = usize::try_from(handle).ok()?.checked_sub(1)?;
        self.objects.get(i)
    }

    #[cfg(test)]
    pub(crate) fn objects(&self) -> &[Object] {
        &self.objects
    }

    pub(crate) fn storage_info(&self) -> StorageInfo {
        let used: u64 = self.objects.iter().map(|o| o.size).sum();
        StorageInfo {
            storage_type: 4,    // removable RAM (a memory card)
            filesystem_type: 3, // DCF
            access_capability: 0,
            max_capacity: used.saturating_add(64 << 30),
            free_space_bytes: 64 << 30,
            free_space_images: 9999,
            description: "Memory Card 1".into(),
            volume_label: String::new(),
        }
    }

    /// Handles for GetObjectHandles / GetNumObjects. `parent` 0 = every object,
    /// 0xFFFFFFFF = root objects only, else the children of that folder.
    pub(crate) fn handles(&self, format: u16, parent: u32) -> Result<Vec<u32>, HandlesError> {
        let want_parent = match parent {
            0 => None,
            0xFFFF_FFFF => Some(0),
            h => match self.get(h) {
                None => return Err(HandlesError::NoSuchParent),
                Some(o) if !o.is_folder() => return Err(HandlesError::NotAFolder),
                Some(_) => Some(h),
            },
        };
        Ok(self
            .objects
            .iter()
            .filter(|o| want_parent.is_none_or(|p| o.parent == p))
            .filter(|o| format == 0 || o.format.0 == format)
            .map(|o| o.handle)
            .collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlesError {
    NoSuchParent,
    NotAFolder,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates() {
        assert_eq!(
            dates_for(UNIX_EPOCH),
            ("1970-01-01".into(), "19700101T000000".into())
        );
        // 2026-11-25 17:33:12 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_627_992);
        assert_eq!(
            dates_for(t),
            ("2026-11-25".into(), "20261125T173312".into())
        );
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(dates_for(t).0, "2000-02-29");
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(format_for_name("DSC00001.JPG"), ObjectFormat::EXIF_JPEG);
        assert_eq!(format_for_name("dsc00001.arw"), ObjectFormat::SONY_ARW);
        assert_eq!(format_for_name("A.HIF"), ObjectFormat::HEIF);
        assert_eq!(format_for_name("C0001.MP4"), ObjectFormat::MP4);
        assert_eq!(format_for_name("00001.MTS"), ObjectFormat::MPEG);
        assert_eq!(format_for_name("README"), ObjectFormat::UNDEFINED);
    }

    fn touch(dir: &Path, name: &str, body: &[u8], secs: u64) {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        let f = File::options().write(true).open(&p).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn tree_from_a_directory() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "DSC00002.JPG", b"two", 86_400 * 2);
        touch(d.path(), "DSC00001.ARW", b"one", 86_400 * 2 + 5);
        std::fs::create_dir(d.path().join("sub")).unwrap();
        touch(&d.path().join("sub"), "C0001.MP4", b"movie", 0);
        let s = Storage::scan(
            d.path(),
            &[FakeObject {
                name: "../../evil.jpg".into(),
                data: b"x".to_vec(),
                declared_size: Some(5 << 30),
            }],
        )
        .unwrap();
        let names: Vec<_> = s.objects().iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "1970-01-01",
                "1970-01-03",
                "C0001.MP4",
                "DSC00001.ARW",
                "DSC00002.JPG",
                "../../evil.jpg"
            ]
        );
        assert_eq!(s.handles(0, 0xFFFF_FFFF).unwrap(), [1, 2]);
        assert_eq!(s.handles(0, 2).unwrap(), [4, 5]);
        assert_eq!(s.handles(0, 0).unwrap().len(), 6);
        assert_eq!(s.handles(ObjectFormat::SONY_ARW.0, 0).unwrap(), [4]);
        assert_eq!(s.handles(0, 3), Err(HandlesError::NotAFolder));
        assert_eq!(s.handles(0, 99), Err(HandlesError::NoSuchParent));
        let folder = s.get(1).unwrap().object_info();
        assert_eq!(folder.format, ObjectFormat::ASSOCIATION);
        assert_eq!(folder.capture_date, "");
        let evil = s.get(6).unwrap().object_info();
        assert_eq!(evil.compressed_size, 0xFFFF_FFFF);
        let mut r = s.get(5).unwrap().open_range(1, 2).unwrap();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        assert_eq!(v, b"wo");
        assert!(s.get(0).is_none());
    }
}
