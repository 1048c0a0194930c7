//! Saving a captured still: never a partial file under a final name, never over an
//! existing file. The bytes go to a hidden temporary file in the destination, are
//! synced, then renamed to the first free name with `rename_noreplace`.

use crate::camera::control::Still;
use crate::fsutil::rename_noreplace;
use crate::offload::store::sanitize_name;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Saves `still` in `dir` (created when missing) under the camera's file name (or `still.JPG`), adding `_2`,
/// `_3` … before the extension when the name is taken. Returns the final path.
pub fn save(dir: &Path, still: &Still) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = if still.info.filename.trim().is_empty() {
        "still.JPG".to_string()
    } else {
        sanitize_name(&still.info.filename)
    };
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    let tmp = dir.join(format!(".{name}.partial.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&still.data)?;
        f.sync_all()?;
        drop(f);
        for n in 1..=9999u32 {
            let candidate = if n == 1 {
                dir.join(&name)
            } else {
                dir.join(format!("{stem}_{n}{ext}"))
            };
            match rename_noreplace(&tmp, &candidate) {
                Ok(()) => {
                    if let Ok(d) = fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                    return Ok(candidate);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("every name from {name} to {stem}_9999{ext} is taken"),
        ))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::dataset::ObjectInfo;
    use std::time::Duration;

    fn still(name: &str, data: &[u8]) -> Still {
        Still {
            data: data.to_vec(),
            info: ObjectInfo {
                filename: name.into(),
                ..ObjectInfo::default()
            },
            took: Duration::ZERO,
        }
    }

    #[test]
    fn saves_under_a_free_name_and_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let a = save(d.path(), &still("DSC00001.JPG", b"one")).unwrap();
        let b = save(d.path(), &still("DSC00001.JPG", b"two")).unwrap();
        let c = save(d.path(), &still("../../etc/passwd", b"three")).unwrap();
        assert_eq!(a, d.path().join("DSC00001.JPG"));
        assert_eq!(b, d.path().join("DSC00001_2.JPG"));
        assert_eq!(c.parent(), Some(d.path()));
        assert_eq!(fs::read(&a).unwrap(), b"one");
        assert_eq!(fs::read(&b).unwrap(), b"two");
        // No temporary file left behind.
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
        let f = d.path().join("file");
        fs::write(&f, b"").unwrap();
        assert!(save(&f.join("sub"), &still("x.JPG", b"x")).is_err());
    }
}
