//! Small file-system helpers shared by the layers that write files users rely on: an
//! atomic replace, a rename that never replaces, moving a file aside under a free name,
//! and an advisory lock that tells a live writer from a file a crashed run left behind.

use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

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

/// Renames `from` to `to` only if nothing is at `to` (`AlreadyExists` otherwise), in one
/// step where the file system can (`renameat2` with `RENAME_NOREPLACE`), else by link and
/// unlink, so a file that appears at `to` meanwhile is never replaced.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
    };
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // Not supported by this file system or kernel: link + unlink fails the same way
        // on a taken name.
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        _ => Err(e),
    }
}

/// Moves `path` aside to the first free `PATH.1`, `PATH.2`, … (never replacing anything)
/// and returns the new name.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let mut last = None;
    for n in 1..=1000u32 {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".{n}"));
        let to = PathBuf::from(name);
        match rename_noreplace(path, &to) {
            Ok(()) => return Ok(to),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// Opens the FIFO at `path` for writing. Waits (logging that it does) until a program
/// opens it for reading, as a shell redirection would; refuses to follow a symbolic link
/// and fails if what it opened is not a FIFO after all (the path changed since it was
/// checked). Writes to the returned file block, as on any pipe.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub fn open_fifo(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let open = |flags| {
        fs::OpenOptions::new()
            .write(true)
            .custom_flags(flags | libc::O_NOFOLLOW)
            .open(path)
    };
    let file = match open(libc::O_NONBLOCK) {
        Ok(f) => {
            // SAFETY: fcntl on a descriptor this File owns.
            let fd = f.as_raw_fd();
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0
            {
                return Err(io::Error::last_os_error());
            }
            f
        }
        // No reader yet.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            log::info!("waiting for a program to read {}", path.display());
            open(0)?
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.file_type().is_fifo() {
        return Err(io::Error::other(
            "changed while opening it: no longer a FIFO",
        ));
    }
    Ok(file)
}

/// Takes an exclusive advisory lock (`flock`) on `file` without waiting: `Ok(false)` when
/// another open file holds it. The lock goes with the file's last descriptor, so a
/// killed process never leaves it behind.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub fn try_lock(file: &fs::File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor this File owns.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
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

    #[test]
    fn rename_noreplace_and_move_aside_never_replace() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"a").unwrap();
        fs::write(&b, b"b").unwrap();
        let e = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).unwrap(), b"b");
        let c = dir.path().join("c");
        rename_noreplace(&a, &c).unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(&c).unwrap(), b"a");

        let p = dir.path().join("x.partial");
        fs::write(&p, b"one").unwrap();
        fs::write(dir.path().join("x.partial.1"), b"older").unwrap();
        let to = move_aside(&p).unwrap();
        assert_eq!(to, dir.path().join("x.partial.2"));
        assert_eq!(fs::read(&to).unwrap(), b"one");
        assert_eq!(fs::read(dir.path().join("x.partial.1")).unwrap(), b"older");
        assert!(!p.exists());
    }

    #[test]
    fn a_lock_is_held_until_its_file_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let a = fs::File::create(&p).unwrap();
        assert!(try_lock(&a).unwrap());
        let b = fs::File::open(&p).unwrap();
        assert!(!try_lock(&b).unwrap());
        drop(a);
        assert!(try_lock(&b).unwrap());
    }
}
