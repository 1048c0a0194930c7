//! The PipeWire line, and what it changes on the v4l2loopback lines.
//!
//! `webcam` needs one of two outputs: v4l2loopback or a PipeWire daemon
//! (`--output pipewire`, no kernel module). So FAIL needs both to be missing: a missing
//! PipeWire alone is warn (v4l2loopback users do not need it); v4l2loopback problems are
//! FAIL only while no PipeWire answers, and their fix then names the PipeWire way too;
//! while PipeWire answers they are warn (apps that only open /dev/video devices still
//! need the module).
//!
//! "Answers" is what `webcam --output auto` asks: a connect to the daemon's socket
//! ([`Probe::pipewire_socket`]), nothing sent.

use super::system::plain_os_error;
use super::{Check, Probe, Status};
use std::path::PathBuf;

const WHAT: &str = "pipewire";
const START: &str = "systemctl --user start pipewire wireplumber";
const WEBCAM: &str = "alpha-bridge webcam --output pipewire";

/// What doctor found about PipeWire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A daemon answers on this socket.
    Running(PathBuf),
    /// Nothing answers: the socket (None: no XDG_RUNTIME_DIR) and why.
    NotRunning(Option<PathBuf>, String),
    /// This alpha-bridge was built without the `pipewire` feature.
    NotBuilt,
}

/// Connects to the probe's PipeWire socket, as `webcam --output auto` does.
pub(crate) fn find(probe: &Probe) -> Found {
    if !probe.pipewire_built {
        return Found::NotBuilt;
    }
    let Some(socket) = &probe.pipewire_socket else {
        return Found::NotRunning(None, "XDG_RUNTIME_DIR is not set".into());
    };
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => Found::Running(socket.clone()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Found::NotRunning(
            Some(socket.clone()),
            format!("no socket at {}", socket.display()),
        ),
        Err(e) => Found::NotRunning(
            Some(socket.clone()),
            format!("{}: {}", socket.display(), plain_os_error(&e)),
        ),
    }
}

/// The checklist line: ok when a daemon answers, else warn.
pub(crate) fn check(found: &Found) -> Check {
    match found {
        Found::Running(socket) => Check::ok(
            WHAT,
            format!(
                "running ({}): webcam --output pipewire works without v4l2loopback",
                socket.display()
            ),
        ),
        Found::NotRunning(None, why) => Check::warn(
            WHAT,
            format!("not reachable: {why}"),
            format!(
                "only needed for `{WEBCAM}` (no v4l2loopback): run alpha-bridge in your \
                 desktop session (not over sudo), where XDG_RUNTIME_DIR is set, and start \
                 PipeWire there: {START}"
            ),
        ),
        Found::NotRunning(Some(_), why) => Check::warn(
            WHAT,
            format!("not running for this user ({why})"),
            format!("only needed for `{WEBCAM}` (no v4l2loopback): {START}"),
        ),
        Found::NotBuilt => Check::warn(
            WHAT,
            "this alpha-bridge was built without PipeWire support",
            "only needed for `webcam --output pipewire`: rebuild with `cargo build --release` \
             (it needs libpipewire-0.3-dev)",
        ),
    }
}

/// The v4l2loopback lines (v4l2loopback, exclusive_caps, video device) with PipeWire in
/// mind: their FAILs become warn while PipeWire runs, and name PipeWire as the other way
/// when it could run but does not.
pub(crate) fn weigh_v4l2(mut lines: Vec<Check>, found: &Found) -> Vec<Check> {
    for c in lines.iter_mut().filter(|c| c.status == Status::Fail) {
        let fix = c.fix.take().unwrap_or_default();
        c.fix = Some(match found {
            Found::Running(_) => {
                c.status = Status::Warn;
                format!(
                    "not needed while PipeWire runs (`{WEBCAM}`); for apps that only open \
                     /dev/video devices: {fix}"
                )
            }
            Found::NotRunning(..) => {
                format!("{fix}; or, without v4l2loopback: {START}, then `{WEBCAM}`")
            }
            Found::NotBuilt => fix,
        });
    }
    lines
}
