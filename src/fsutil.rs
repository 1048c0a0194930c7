//! Small file-system helpers shared by the layers that write files users rely on.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `data` so readers see either the old or the new file, never a
/// part: a temporary file in the same directory, fsync, rename, then fsync of the
/// directory so the rename itself survives a crash. A file being replaced keeps its
/// permission bits (and, when root replaces it, its owner). The temporary file is
/// removed on failure.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        if let Ok(m) = fs::metadata(path) {
            f.set_permissions(m.permissions())?;
            // Root (`sudo`) replacing a user's file gives it back to that user; for
            // anyone else this is a no-op or refused, and either is fine.
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            }
        }
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The data is safe already; a directory that can't be synced is not an error.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_keeps_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
            write_atomic(&p, b"three").unwrap();
            let mode = fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
            // Tests run as root in CI: a user's file stays the user's.
            use std::os::unix::fs::MetadataExt;
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                std::os::unix::fs::chown(&p, Some(4242), Some(4343)).unwrap();
                write_atomic(&p, b"four").unwrap();
                let m = fs::metadata(&p).unwrap();
                assert_eq!((m.uid(), m.gid()), (4242, 4343));
            }
        }
        assert!(write_atomic(&dir.path().join("missing/f.txt"), b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
