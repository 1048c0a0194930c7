//! The local control socket: `$XDG_RUNTIME_DIR/alpha-bridge/<serial>.sock` (without
//! XDG_RUNTIME_DIR: `/tmp/alpha-bridge-<uid>/`), directory 0700, socket 0600. A stale
//! socket of a dead process is replaced, a live one refused. One thread per client
//! (at most [`MAX_CLIENTS`]), lines of at most [`wire::MAX_LINE`] bytes; every thread
//! ends when its client leaves or the server stops.

use super::wire::{self, Line, MAX_LINE};
use super::{stills, Asked, Msg, Reply};
use crate::camera::control::Outcome;
use crossbeam_channel::{RecvTimeoutError, SendTimeoutError, Sender};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Clients served at once; more get an error line and are closed.
pub const MAX_CLIENTS: usize = 32;
/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// A request whose reply takes longer than this is answered with a timeout.
const REPLY_LIMIT: Duration = Duration::from_secs(90);

/// Why the control socket cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// A live process already listens on this socket.
    #[error("another alpha-bridge already controls this camera through {0}")]
    InUse(PathBuf),
    /// The socket's directory, or something in the socket's place, is not safe to use.
    #[error("{path}: {why}")]
    Unsafe {
        /// The directory or file at fault.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Creating the directory or binding the socket failed.
    #[error("cannot create the control socket {path}: {err}")]
    Io {
        /// The socket's path.
        path: PathBuf,
        /// The system's error.
        err: io::Error,
    },
}

/// Where control sockets live.
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() => d.join("alpha-bridge"),
        _ => PathBuf::from(format!("/tmp/alpha-bridge-{}", my_uid())),
    }
}

/// This process's user id (the owner of `/proc/self`), without FFI.
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// The socket of the camera with this serial number.
pub fn socket_path(serial: &str) -> PathBuf {
    let safe: String = serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    runtime_dir().join(format!(
        "{}.sock",
        if safe.is_empty() { "camera" } else { &safe }
    ))
}

/// Creates the directory 0700, or checks that an existing one is ours and private.
fn private_dir(dir: &Path) -> Result<(), SocketError> {
    let io = |err| SocketError::Io {
        path: dir.to_path_buf(),
        err,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let m = std::fs::symlink_metadata(dir).map_err(io)?;
    let uid = my_uid();
    let why = if !m.is_dir() {
        Some("is not a directory".to_string())
    } else if m.uid() != uid {
        Some(format!("belongs to user {}, not to you", m.uid()))
    } else if m.mode() & 0o077 != 0 {
        Some(format!(
            "is open to other users (mode {:o}); run `chmod 700` on it",
            m.mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(SocketError::Unsafe {
            path: dir.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

/// Binds `path`: a socket a live process listens on is refused, a stale one replaced.
pub fn bind(path: &Path) -> Result<UnixListener, SocketError> {
    let io = |err| SocketError::Io {
        path: path.to_path_buf(),
        err,
    };
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            if !m.file_type().is_socket() {
                return Err(SocketError::Unsafe {
                    path: path.to_path_buf(),
                    why: "is in the way and is not a socket; remove it".into(),
                });
            }
            match UnixStream::connect(path) {
                Ok(_) => return Err(SocketError::InUse(path.to_path_buf())),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    log::debug!("replacing the stale control socket {}", path.display());
                    std::fs::remove_file(path).map_err(io)?;
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let l = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(l)
}

/// A running control socket; dropping it stops every thread and removes the socket.
pub struct Server {
    path: PathBuf,
    ino: u64,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener`: requests go to `tx`; stills are saved in the request's `dir`
    /// or in `stills`.
    pub fn start(
        listener: UnixListener,
        path: PathBuf,
        tx: Sender<Msg>,
        stills: PathBuf,
    ) -> io::Result<Server> {
        let ino = std::fs::metadata(&path)?.ino();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let accept = std::thread::Builder::new()
            .name("control-socket".into())
            .spawn(move || accept_loop(listener, tx, stills, s))?;
        Ok(Server {
            path,
            ino,
            stop,
            accept: Some(accept),
        })
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        // Only our own socket: a later process may have replaced it.
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn accept_loop(l: UnixListener, tx: Sender<Msg>, stills: PathBuf, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for conn in l.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        threads.retain(|t| !t.is_finished());
        let Ok(mut stream) = conn else {
            continue;
        };
        if active.load(Ordering::SeqCst) >= MAX_CLIENTS {
            let _ = stream.set_write_timeout(Some(TICK));
            let _ = write_line(
                &mut stream,
                &wire::error_json(None, "busy", "too many control clients; try again later"),
            );
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (tx, stills, stop, a) = (tx.clone(), stills.clone(), stop.clone(), active.clone());
        match std::thread::Builder::new()
            .name("control-client".into())
            .spawn(move || {
                client(stream, &tx, &stills, &stop);
                a.fetch_sub(1, Ordering::SeqCst);
            }) {
            Ok(t) => threads.push(t),
            Err(e) => {
                active.fetch_sub(1, Ordering::SeqCst);
                log::warn!("cannot start a thread for a control client: {e}");
            }
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

fn write_line(s: &mut UnixStream, v: &Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(v).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)
}

/// Serves one client until it leaves, breaks the protocol badly, or the server stops.
fn client(mut s: UnixStream, tx: &Sender<Msg>, stills: &Path, stop: &AtomicBool) {
    if s.set_read_timeout(Some(TICK)).is_err()
        || s.set_write_timeout(Some(Duration::from_secs(5))).is_err()
    {
        return;
    }
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            if !answer(&mut s, text.trim(), tx, stills, stop) {
                return;
            }
            continue;
        }
        if buf.len() >= MAX_LINE {
            let _ = write_line(
                &mut s,
                &wire::error_json(
                    None,
                    "usage",
                    &format!("request longer than {MAX_LINE} bytes; closing"),
                ),
            );
            // Closing with unread bytes would reset the connection before the client
            // reads the error: the rest is read and dropped first (bounded).
            let _ = s.shutdown(std::net::Shutdown::Write);
            let until = Instant::now() + Duration::from_secs(1);
            let mut dropped = 0usize;
            while Instant::now() < until && dropped < (1 << 20) {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => dropped += n,
                }
            }
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Answers one line; false when the connection should end.
fn answer(
    s: &mut UnixStream,
    line: &str,
    tx: &Sender<Msg>,
    stills: &Path,
    stop: &AtomicBool,
) -> bool {
    let (id, asked, dir) = match wire::parse(line) {
        Err(bad) => {
            return write_line(s, &wire::error_json(bad.id.as_ref(), "usage", &bad.error)).is_ok()
        }
        Ok(Line::Subscribe { id }) => {
            subscribe(s, id, tx, stop);
            return false;
        }
        Ok(Line::Ask { id, asked, dir }) => (id, asked, dir),
    };
    let capture = matches!(
        asked,
        Asked::Camera(crate::camera::control::Request::Capture)
    );
    let (rtx, rrx) = crossbeam_channel::bounded::<Reply>(1);
    let refused = |why: &str| wire::error_json(id.as_ref(), "busy", why);
    match tx.send_timeout(
        Msg::Request {
            req: asked,
            reply: rtx,
        },
        Duration::from_secs(2),
    ) {
        Ok(()) => {}
        Err(SendTimeoutError::Timeout(_)) => {
            return write_line(
                s,
                &refused("the camera is busy with other requests; try again"),
            )
            .is_ok()
        }
        Err(SendTimeoutError::Disconnected(_)) => {
            let _ = write_line(s, &refused("the webcam is stopping"));
            return false;
        }
    }
    let started = Instant::now();
    let reply = loop {
        match rrx.recv_timeout(TICK) {
            Ok(r) => break r,
            Err(RecvTimeoutError::Timeout)
                if started.elapsed() < REPLY_LIMIT && !stop.load(Ordering::SeqCst) => {}
            Err(_) => {
                let _ = write_line(
                    s,
                    &wire::error_json(id.as_ref(), "timeout", "no answer from the camera"),
                );
                return false;
            }
        }
    };
    // The still is saved even when the client has left: a photo is never lost.
    let saved = match (&reply.result, capture) {
        (Ok(Outcome::Still(still)), true) => {
            let d = dir.as_deref().unwrap_or(stills);
            Some(stills::save(d, still).map_err(|e| {
                log::warn!("could not save a still in {}: {e}", d.display());
                format!("the still could not be saved in {}: {e}", d.display())
            }))
        }
        _ => None,
    };
    if let Some(Ok(p)) = &saved {
        log::info!("saved a still to {}", p.display());
    }
    write_line(s, &wire::reply_json(id.as_ref(), &reply, saved.as_ref())).is_ok()
}

fn subscribe(s: &mut UnixStream, id: Option<Value>, tx: &Sender<Msg>, stop: &AtomicBool) {
    let (etx, erx) = crossbeam_channel::bounded(64);
    if tx
        .send_timeout(Msg::Subscribe(etx), Duration::from_secs(2))
        .is_err()
    {
        let _ = write_line(
            s,
            &wire::error_json(id.as_ref(), "busy", "the camera is busy; try again"),
        );
        return;
    }
    let mut ok = serde_json::Map::new();
    ok.insert("ok".into(), true.into());
    if let Some(id) = id {
        ok.insert("id".into(), id);
    }
    ok.insert("subscribed".into(), true.into());
    if write_line(s, &Value::Object(ok)).is_err()
        || s.set_read_timeout(Some(Duration::from_millis(20))).is_err()
    {
        return;
    }
    let mut sink = [0u8; 256];
    while !stop.load(Ordering::SeqCst) {
        match erx.recv_timeout(TICK) {
            Ok(st) => {
                if write_line(s, &wire::event_json(&st)).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Whatever the client sends now is ignored; its leaving ends the thread.
        match s.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Which running webcam to talk to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FindError {
    /// More than one webcam is live and none was named; the text lists their serials.
    #[error("several webcams are running ({0}); pick one with --camera SERIAL")]
    Several(String),
}

/// The live control socket for `serial` (any, when `None` and exactly one is live).
pub fn find(serial: Option<&str>) -> Result<Option<PathBuf>, FindError> {
    let live = |p: &Path| UnixStream::connect(p).is_ok();
    if let Some(s) = serial {
        let p = socket_path(s);
        return Ok(live(&p).then_some(p));
    }
    let Ok(rd) = std::fs::read_dir(runtime_dir()) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock") && live(p))
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(FindError::Several(
            found
                .iter()
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// A connection to a control socket.
pub struct Client {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to the control socket at `path`.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let s = UnixStream::connect(path)?;
        Ok(Client { s, buf: Vec::new() })
    }

    /// Sends one request line.
    pub fn send(&mut self, v: &Value) -> io::Result<()> {
        write_line(&mut self.s, v)
    }

    /// The next line from the server, as JSON (`None` when it closed).
    pub fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<Value>> {
        self.s.set_read_timeout(timeout)?;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&line)
                    .map(Some)
                    .map_err(io::Error::other);
            }
            match self.s.read(&mut chunk)? {
                0 => return Ok(None),
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One request, one reply.
    pub fn ask(&mut self, v: &Value) -> io::Result<Value> {
        self.send(v)?;
        self.next(Some(REPLY_LIMIT + Duration::from_secs(5)))?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the webcam closed the control socket",
                )
            })
    }
}
