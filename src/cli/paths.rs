//! Start-up checks of every path the user gave, run at the top of each subcommand
//! before any camera, emulator or device is opened, so a typo costs nothing and is
//! reported in one line that names the user's path and says what to do.
//!
//! What is a usage error (exit 2) and what a runtime failure (exit 1), as the README's
//! exit-code section says: a path that does not exist where it must, a directory where a
//! file is expected, a file (or anything else) where a directory is expected, a device
//! path that is not a video device, are mistakes in the command line (2). A path of the
//! right kind that this user may not write or read (read-only file system, permissions)
//! is the machine refusing a correct command (1).
//!
//! Writability is checked by creating (and at once removing) a hidden empty file in the
//! directory: `access(2)` answers "yes" to root even on read-only places such as /sys.
//! These checks catch what can be known before the run; the writers still handle every
//! error of their own (a disk can fill up later). What a `--record` target may be
//! (FIFO, `-`, symlink, an existing file) is the recorder's policy, not checked here.

use super::usage;
use anyhow::anyhow;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Major number of Linux video4linux character devices (`/dev/videoN`).
const VIDEO4LINUX_MAJOR: u32 = 81;

/// A file this run creates or replaces (`--stats-json FILE`): its folder must exist and
/// be writable, and the path must not be a directory or a special file.
pub(crate) fn file_to_write(opt: &str, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    if let Some(kind) = existing_kind(opt, path)? {
        match kind {
            Kind::Dir => {
                return Err(usage(format!(
                    "{opt} {shown}: this is a directory; give a file name (e.g. {})",
                    path.join("stats.json").display()
                )))
            }
            Kind::File => {}
            other => {
                return Err(usage(format!(
                    "{opt} {shown}: this is {}, not a regular file; give a file name",
                    other.describe()
                )))
            }
        }
    }
    parent_writable(opt, path)
}

/// The `--record` target: `-` (standard output) and FIFOs are written through; anything
/// else needs an existing, writable folder and must not be a directory. With
/// `overwrite` false an existing file is refused here already, not after the camera
/// connected.
pub(crate) fn record_target(path: &Path, overwrite: bool) -> anyhow::Result<()> {
    const OPT: &str = "--record";
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let shown = path.display();
    match existing_kind(OPT, path)? {
        Some(Kind::Fifo) => return Ok(()),
        Some(Kind::Dir) => {
            return Err(usage(format!(
                "{OPT} {shown}: this is a directory; give a file name (e.g. {})",
                path.join("recording.mjpeg").display()
            )))
        }
        Some(Kind::File) if !overwrite => {
            return Err(usage(format!(
                "{OPT} {shown}: the file already exists; choose another name, or add -y to \
                 replace it once the new recording is complete"
            )))
        }
        _ => {}
    }
    parent_writable(OPT, path)
}

/// A directory this run writes into and creates when missing (`--dump-objects`,
/// `--dest`, state directories): if it exists it must be a writable directory; if not,
/// its nearest existing ancestor must be.
pub(crate) fn dir_to_write(opt: &str, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let mut at: PathBuf = path.to_path_buf();
    loop {
        match kind_for(opt, path, &at)? {
            Some(Kind::Dir) => break,
            Some(other) => {
                let what = if at == path {
                    format!(
                        "{opt} {shown}: this is {}, not a directory",
                        other.describe()
                    )
                } else {
                    format!(
                        "{opt} {shown}: {} is {}, not a directory",
                        at.display(),
                        other.describe()
                    )
                };
                return Err(usage(format!("{what}; choose a directory")));
            }
            None => match at.parent() {
                Some(p) if !p.as_os_str().is_empty() => at = p.to_path_buf(),
                _ => {
                    at = PathBuf::from(".");
                    break;
                }
            },
        }
    }
    probe_writable(&at).map_err(|e| {
        anyhow!(
            "{opt} {shown}: cannot create files in {} ({}); choose a place this user may write",
            at.display(),
            os_reason(&e)
        )
    })
}

/// What an input path must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    File,
    Dir,
    /// A file or a directory (`replay:PATH`).
    Any,
}

/// An existing file or directory this run reads (`--camera replay:PATH`, `--files`).
/// An `opt` ending in `:` is a prefix of the value (`--camera replay:`).
pub(crate) fn input(opt: &str, path: &Path, want: Want) -> anyhow::Result<()> {
    let (opt, shown) = match opt.strip_suffix(':') {
        Some(_) => match opt.rsplit_once(' ') {
            Some((o, prefix)) => (o, format!("{prefix}{}", path.display())),
            None => ("", format!("{opt}{}", path.display())),
        },
        None => (opt, path.display().to_string()),
    };
    let kind = existing_kind(opt, path)?
        .ok_or_else(|| usage(format!("{opt} {shown}: no such file or directory")))?;
    let ok = match want {
        Want::File => kind != Kind::Dir,
        Want::Dir => kind == Kind::Dir,
        Want::Any => true,
    };
    if !ok {
        let need = if want == Want::Dir {
            "a directory"
        } else {
            "a file"
        };
        return Err(usage(format!(
            "{opt} {shown}: this is {}, not {need}",
            kind.describe()
        )));
    }
    let readable = if kind == Kind::Dir {
        fs::read_dir(path).map(|_| ())
    } else {
        fs::File::open(path).map(|_| ())
    };
    readable.map_err(|e| anyhow!("{opt} {shown}: cannot read it ({})", os_reason(&e)))
}

/// `--device PATH`: it must exist and be a video4linux device node. Whether it is a
/// v4l2loopback output is found when it is opened.
pub(crate) fn video_device(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(usage(format!(
                "--device {shown}: no such device; list the video devices with \
                 `v4l2-ctl --list-devices`, or use --device auto"
            )))
        }
        Err(e) => return Err(anyhow!("--device {shown}: {}", os_reason(&e))),
    };
    let ft = meta.file_type();
    if !ft.is_char_device() {
        return Err(usage(format!(
            "--device {shown}: this is {}, not a video device (/dev/videoN); use --device auto \
             or the v4l2loopback device's path",
            Kind::of(ft).describe()
        )));
    }
    use std::os::unix::fs::MetadataExt;
    let rdev = meta.rdev();
    let major = libc::major(rdev);
    if major != VIDEO4LINUX_MAJOR {
        return Err(usage(format!(
            "--device {shown}: this is not a video device (character device {major}:{}); \
             use --device auto or the v4l2loopback device's path (/dev/videoN)",
            libc::minor(rdev)
        )));
    }
    Ok(())
}

/// Kinds of things a path can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

impl Kind {
    fn of(ft: fs::FileType) -> Kind {
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_char_device() {
            Kind::CharDevice
        } else if ft.is_block_device() {
            Kind::BlockDevice
        } else if ft.is_socket() {
            Kind::Socket
        } else {
            Kind::Other
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Fifo => "a named pipe",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Socket => "a socket",
            Kind::Other => "a special file",
        }
    }
}

/// What `path` names, following symlinks; `None` when nothing is there (a dangling
/// symlink counts as nothing: it is the target that would be created).
fn existing_kind(opt: &str, path: &Path) -> anyhow::Result<Option<Kind>> {
    kind_for(opt, path, path)
}

/// [`existing_kind`] of `path`, with errors naming `user`, the path the user typed.
fn kind_for(opt: &str, user: &Path, path: &Path) -> anyhow::Result<Option<Kind>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(Kind::of(m.file_type()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // "Not a directory": a file stands where a folder of the path should be.
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(usage(format!(
            "{opt} {}: a part of this path is a file, not a directory",
            user.display()
        ))),
        Err(e) => Err(anyhow!("{opt} {}: {}", user.display(), os_reason(&e))),
    }
}

/// The folder `path` goes into must exist, be a directory and be writable.
fn parent_writable(opt: &str, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match kind_for(opt, path, parent) {
        Ok(Some(Kind::Dir)) => {}
        Ok(None) => {
            return Err(usage(format!(
                "{opt} {shown}: the directory {} does not exist; create it first or choose \
                 another place",
                parent.display()
            )))
        }
        Ok(Some(other)) => {
            return Err(usage(format!(
                "{opt} {shown}: {} is {}, not a directory",
                parent.display(),
                other.describe()
            )))
        }
        Err(e) => return Err(e),
    }
    probe_writable(parent).map_err(|e| {
        anyhow!(
            "{opt} {shown}: cannot create files in {} ({}); choose a place this user may write",
            parent.display(),
            os_reason(&e)
        )
    })
}

/// Creates and removes a hidden empty file in `dir`: the only test that tells the truth
/// for root and for read-only or virtual file systems.
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".alpha-bridge-write-check.{}", std::process::id()));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        // Left by an earlier run with this pid: creating files works.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The OS reason without the "(os error N)" suffix, lowercase like our messages.
fn os_reason(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s.to_string(),
    }
}

// The record-target fixtures the integration tests use too.
#[cfg(test)]
#[path = "../../tests/it/support/files.rs"]
mod files;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::UsageError;

    fn is_usage(r: anyhow::Result<()>) -> String {
        let e = r.expect_err("must fail");
        assert!(e.is::<UsageError>(), "not a usage error: {e:#}");
        e.to_string()
    }

    #[test]
    fn files_to_write() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("s.json");
        file_to_write("--stats-json", &ok).unwrap();
        assert!(!ok.exists(), "the check creates nothing");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0, "no probe left");
        let m = is_usage(file_to_write("--stats-json", d.path()));
        assert!(m.contains("is a directory"), "{m}");
        let m = is_usage(file_to_write("--stats-json", &d.path().join("no/s.json")));
        assert!(m.contains("does not exist") && m.contains("/no"), "{m}");
        let m = is_usage(file_to_write("--stats-json", Path::new("/dev/null")));
        assert!(m.contains("character device"), "{m}");
        fs::write(d.path().join("f"), b"x").unwrap();
        let m = is_usage(file_to_write("--stats-json", &d.path().join("f/s.json")));
        assert!(m.contains("not a directory"), "{m}");
        // Read-only for root too: sysfs refuses new files.
        let e = file_to_write("--stats-json", Path::new("/sys/s.json")).unwrap_err();
        assert!(
            !e.is::<UsageError>(),
            "a refusal is a runtime failure: {e:#}"
        );
        assert!(
            e.to_string().contains("cannot create files in /sys"),
            "{e:#}"
        );
    }

    #[test]
    fn record_targets() {
        let d = tempfile::tempdir().unwrap();
        record_target(Path::new("-"), false).unwrap();
        record_target(&d.path().join("r.mjpeg"), false).unwrap();
        let f = d.path().join("old.mjpeg");
        fs::write(&f, b"x").unwrap();
        let m = is_usage(record_target(&f, false));
        assert!(m.contains("-y"), "{m}");
        record_target(&f, true).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"x");
        let fifo = d.path().join("pipe");
        files::mkfifo(&fifo);
        record_target(&fifo, false).unwrap();
        is_usage(record_target(d.path(), true));
    }

    #[test]
    fn dirs_to_write() {
        let d = tempfile::tempdir().unwrap();
        dir_to_write("--dest", d.path()).unwrap();
        dir_to_write("--dest", &d.path().join("new/deeper")).unwrap();
        assert!(!d.path().join("new").exists(), "the check creates nothing");
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        let m = is_usage(dir_to_write("--dest", &f));
        assert!(m.contains("is a file, not a directory"), "{m}");
        let m = is_usage(dir_to_write("--dest", &f.join("sub")));
        assert!(m.contains("not a directory"), "{m}");
        let e = dir_to_write("--dest", Path::new("/sys/new")).unwrap_err();
        assert!(!e.is::<UsageError>(), "{e:#}");
    }

    #[test]
    fn inputs() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.mjpeg");
        fs::write(&f, b"x").unwrap();
        input("replay:", &f, Want::Any).unwrap();
        input("replay:", d.path(), Want::Any).unwrap();
        is_usage(input("--files", &f, Want::Dir));
        is_usage(input("FILE", d.path(), Want::File));
        let m = is_usage(input("replay:", &d.path().join("none"), Want::Any));
        assert!(m.contains("no such file or directory"), "{m}");
    }

    #[test]
    fn video_devices() {
        let m = is_usage(video_device(Path::new("/nonexistent")));
        assert!(m.contains("no such device"), "{m}");
        let m = is_usage(video_device(Path::new("/dev/null")));
        assert!(
            m.contains("not a video device (character device 1:3)"),
            "{m}"
        );
        let m = is_usage(video_device(Path::new("/tmp")));
        assert!(m.contains("a directory, not a video device"), "{m}");
    }

    #[test]
    fn os_reasons_read_once_and_lowercase() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_reason(&e), "no such file or directory");
    }
}
