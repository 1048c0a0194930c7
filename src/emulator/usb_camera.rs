//! The emulated body's USB front: a PTP responder on the device side of a
//! [`DevicePipe`] that behaves like a Sony Alpha in PC Remote mode
//! (docs/protocol/emulator.md#usb-pc-remote-body).
//!
//! [`serve`] reads command containers from bulk OUT (header and payload may arrive in
//! separate transfers; zero-length packets are skipped), reads the data-out container of
//! operations that have one, and answers on bulk IN with at most one data container and
//! one response; events go to interrupt IN. Short packets and zero-length packets are the
//! pipe's job. What it enforces, like a body does: a session for everything but
//! GetDeviceInfo/OpenSession, SDIO_Connect phases in order, live view only after phase 3
//! and no faster than the body's frame rate, increasing transaction ids.
//!
//! It must not use the host side (`camera`, `pipeline`, `offload`); it may only share
//! the sans-IO `ptp` layer. [`UsbEmulator`] runs it on a thread over an in-process pipe.

use super::body::{lock, Body, Stats};
use super::pc_remote::{has_data_out, Answer, Responder};
use super::EmulatorError;
use crate::ptp::codes::handle;
use crate::ptp::container::{self, Command, Event, Header, Kind, Params, Response, HEADER_LEN};
use crate::ptp::{EventCode, OpCode, ResponseCode};
use crate::transport::{memory, DevicePipe, ErrorKind, TransportError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest container accepted from the host (commands are ≤ 32 bytes; data-out phases
/// of the operations this body knows are small).
pub const MAX_OUT_CONTAINER: usize = 1 << 20;
/// How often a blocked read looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// How a [`serve`] run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeEnd {
    /// The stop flag was set.
    Stopped,
    /// The host end went away (cable pulled, host dropped its end).
    HostDisconnected,
    /// The disconnect-mid-frame switch fired: part of a frame was sent, then the
    /// disconnect hook was called.
    PulledMidFrame,
}

/// Answers PTP on `pipe` as `body` until `stop` is set or the host goes away.
pub fn serve(
    pipe: &mut dyn DevicePipe,
    body: &Body,
    stop: &AtomicBool,
) -> Result<ServeEnd, EmulatorError> {
    serve_with_hook(pipe, body, stop, &|| {})
}

/// [`serve`], with `on_disconnect` called when the disconnect-mid-frame switch cuts a
/// frame (for the memory pipe it should call `memory::Faults::disconnect`, so the host
/// sees the cable go).
pub fn serve_with_hook(
    pipe: &mut dyn DevicePipe,
    body: &Body,
    stop: &AtomicBool,
    on_disconnect: &(dyn Fn() + Send + Sync),
) -> Result<ServeEnd, EmulatorError> {
    let stats = body.stats().clone();
    Stats::bump(&stats.connects);
    let mut reader = OutReader::new();
    let mut r = Responder::new(body);
    log::debug!("emulated {} connected", body.model);
    loop {
        let c = match reader.next(pipe, stop, &stats)? {
            Next::Container(c) => c,
            Next::Stopped => return Ok(ServeEnd::Stopped),
            Next::Disconnected => return Ok(ServeEnd::HostDisconnected),
        };
        if c.header.kind != Kind::Command {
            protocol_error(
                &stats,
                format_args!(
                    "{:?} container {:#06x} tid {} where a command was expected; dropped",
                    c.header.kind, c.header.code, c.header.tid
                ),
            );
            continue;
        }
        let cmd = match Command::parse(&c.raw) {
            Ok(cmd) => cmd,
            Err(e) => {
                protocol_error(&stats, format_args!("bad command container: {e}"));
                continue;
            }
        };
        stats.log_op(cmd.code);
        if is_live_view_poll(&cmd) {
            log::trace!("host: {:?} tid {} {:?}", cmd.code, cmd.tid, cmd.params);
        } else {
            log::debug!("host: {:?} tid {} {:?}", cmd.code, cmd.tid, cmd.params);
        }

        let mut data_out = None;
        let mut answer = None;
        if has_data_out(cmd.code) {
            match reader.next(pipe, stop, &stats)? {
                Next::Stopped => return Ok(ServeEnd::Stopped),
                Next::Disconnected => return Ok(ServeEnd::HostDisconnected),
                Next::Container(d) => {
                    if d.header.kind == Kind::Data
                        && d.header.code == cmd.code.0
                        && d.header.tid == cmd.tid
                    {
                        data_out = Some(d.raw[HEADER_LEN..].to_vec());
                    } else if d.header.kind == Kind::Command {
                        // The host skipped the data phase: fail this transaction and
                        // take the new command as the next one.
                        protocol_error(
                            &stats,
                            format_args!(
                                "{:?} tid {} sent without its data phase",
                                cmd.code, cmd.tid
                            ),
                        );
                        answer = Some(Answer::code(ResponseCode::INCOMPLETE_TRANSFER));
                        reader.push_back(d);
                    } else {
                        protocol_error(
                            &stats,
                            format_args!(
                                "{:?} tid {}: data phase is a {:?} container {:#06x} tid {}",
                                cmd.code, cmd.tid, d.header.kind, d.header.code, d.header.tid
                            ),
                        );
                        answer = Some(Answer::code(ResponseCode::GENERAL_ERROR));
                    }
                }
            }
        }

        let answer = match answer {
            Some(a) => a,
            None => r.transact(&cmd, data_out.as_deref()),
        };

        if answer.data {
            let mut tx = std::mem::take(&mut r.tx);
            tx.clear();
            tx.extend_from_slice(&container::data_header(cmd.code, cmd.tid, r.data.len()));
            tx.extend_from_slice(&r.data);
            if answer.cut {
                // Send whole packets only (a short one would end the transfer cleanly),
                // then pull the cable.
                let mps = pipe.max_packet_size().max(1);
                let part = (tx.len() / 2 / mps * mps).max(mps.min(tx.len() / 2));
                log::info!(
                    "emulated {}: pulling the cable after {part} of {} bytes",
                    body.model,
                    tx.len()
                );
                let _ = pipe.write_in(&tx[..part]);
                on_disconnect();
                return Ok(ServeEnd::PulledMidFrame);
            }
            let sent = pipe.write_in(&tx);
            r.tx = tx;
            if let Some(end) = write_result(sent)? {
                return Ok(end);
            }
        }
        let mut resp = Vec::with_capacity(32);
        Response {
            code: answer.code,
            tid: cmd.tid,
            params: answer.params,
        }
        .encode(&mut resp);
        if let Some(end) = write_result(pipe.write_in(&resp))? {
            return Ok(end);
        }
        if answer.code != ResponseCode::OK && !is_live_view_poll(&cmd) {
            log::debug!(
                "answered {:?} tid {} with {:?}",
                cmd.code,
                cmd.tid,
                answer.code
            );
        }
        for prop in r.changed.drain(..) {
            let mut ev = Vec::with_capacity(16);
            Event {
                code: EventCode::SONY_DEVICE_PROP_CHANGED,
                tid: 0xFFFF_FFFF,
                params: Params::new(&[prop as u32]).unwrap_or_default(),
            }
            .encode(&mut ev);
            // Events are best effort: a pipe without an interrupt endpoint (or a host
            // that never polls it) must not end the session.
            match pipe.write_event(&ev) {
                Ok(()) => {}
                Err(e) if e.kind == ErrorKind::Disconnected => {
                    return Ok(ServeEnd::HostDisconnected)
                }
                Err(e) => log::debug!("event {prop:#06x} not sent: {e}"),
            }
        }
    }
}

fn write_result(r: Result<(), TransportError>) -> Result<Option<ServeEnd>, EmulatorError> {
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.kind == ErrorKind::Disconnected => Ok(Some(ServeEnd::HostDisconnected)),
        Err(e) => Err(e.into()),
    }
}

fn protocol_error(stats: &Stats, msg: std::fmt::Arguments<'_>) {
    Stats::bump(&stats.protocol_errors);
    log::warn!("emulated camera: host broke the protocol: {msg}");
}

fn is_live_view_poll(cmd: &Command) -> bool {
    matches!(cmd.code, OpCode::GET_OBJECT | OpCode::GET_OBJECT_INFO)
        && cmd.params.get(0) == handle::LIVE_VIEW
}

fn is_whole_command(t: &[u8]) -> bool {
    Header::parse(t).is_ok_and(|h| h.kind == Kind::Command && h.length as usize == t.len())
}

/// One container from bulk OUT, with its header parsed.
struct Container {
    header: Header,
    raw: Vec<u8>,
}

enum Next {
    Container(Container),
    Stopped,
    Disconnected,
}

/// Reassembles containers from bulk OUT transfers.
struct OutReader {
    buf: Vec<u8>,
    pending: Vec<u8>,
    pushed_back: Option<Container>,
}

impl OutReader {
    fn new() -> Self {
        OutReader {
            buf: vec![0u8; MAX_OUT_CONTAINER],
            pending: Vec::new(),
            pushed_back: None,
        }
    }

    fn push_back(&mut self, c: Container) {
        self.pushed_back = Some(c);
    }

    fn next(
        &mut self,
        pipe: &mut dyn DevicePipe,
        stop: &AtomicBool,
        stats: &Stats,
    ) -> Result<Next, EmulatorError> {
        if let Some(c) = self.pushed_back.take() {
            return Ok(Next::Container(c));
        }
        loop {
            match container::peek(&self.pending, MAX_OUT_CONTAINER) {
                Ok(Some(header)) => {
                    let len = header.length as usize;
                    let raw = self.pending[..len].to_vec();
                    self.pending.drain(..len);
                    return Ok(Next::Container(Container { header, raw }));
                }
                Ok(None) => {}
                Err(e) => {
                    // Nothing after a corrupt header can be trusted to be aligned.
                    protocol_error(
                        stats,
                        format_args!("{e}; dropping {} bytes", self.pending.len()),
                    );
                    self.pending.clear();
                }
            }
            if stop.load(Ordering::SeqCst) {
                return Ok(Next::Stopped);
            }
            match pipe.read_out(&mut self.buf, POLL) {
                Ok(0) => {} // a zero-length packet ending the previous transfer
                Ok(n) => {
                    let t = &self.buf[..n];
                    // Resynchronise: a transfer that is exactly one well-formed command
                    // starts afresh, abandoning a container the host never finished
                    // (otherwise one bad length would swallow every later command).
                    if !self.pending.is_empty() && is_whole_command(t) {
                        protocol_error(
                            stats,
                            format_args!(
                                "abandoned an unfinished container ({} bytes)",
                                self.pending.len()
                            ),
                        );
                        self.pending.clear();
                    }
                    self.pending.extend_from_slice(t);
                }
                Err(e) => match e.kind {
                    ErrorKind::Timeout => {}
                    ErrorKind::Disconnected => return Ok(Next::Disconnected),
                    ErrorKind::Overflow => {
                        protocol_error(stats, format_args!("{e}"));
                        self.pending.clear();
                    }
                    _ => return Err(e.into()),
                },
            }
        }
    }
}

/// A connected emulator cable: the serve thread and the pipe's fault switches.
struct Cable {
    pipe_faults: Arc<memory::Faults>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ServeEnd, EmulatorError>>>,
}

/// The emulated body on an in-process USB pipe, for tests and `--camera emulated`.
///
/// Each [`connect`](UsbEmulator::connect) is a fresh enumeration: a new
/// `memory::pair(512)` with a serve thread behind it (a previous connection is pulled
/// first, as only one host can claim the interface).
pub struct UsbEmulator {
    body: Arc<Body>,
    plugged: AtomicBool,
    cable: Mutex<Option<Cable>>,
    last_end: Mutex<Option<Result<ServeEnd, String>>>,
}

impl std::fmt::Debug for UsbEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbEmulator")
            .field("body", &self.body)
            .field("plugged", &self.plugged.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl UsbEmulator {
    /// A plugged-in emulator for `body`.
    pub fn new(body: Body) -> UsbEmulator {
        UsbEmulator {
            body: Arc::new(body),
            plugged: AtomicBool::new(true),
            cable: Mutex::new(None),
            last_end: Mutex::new(None),
        }
    }

    /// The body this emulator fronts.
    pub fn body(&self) -> &Arc<Body> {
        &self.body
    }

    /// The switches that make the USB side misbehave.
    pub fn faults(&self) -> &Arc<super::Faults> {
        self.body.faults()
    }

    /// What the body has been asked and has sent.
    pub fn stats(&self) -> &Arc<Stats> {
        self.body.stats()
    }

    /// Opens a new connection: the host end of a fresh in-process pipe. `NotFound`
    /// while unplugged.
    pub fn connect(&self) -> Result<memory::HostEnd, TransportError> {
        if !self.plugged.load(Ordering::SeqCst) {
            return Err(TransportError::new(
                ErrorKind::NotFound,
                "the emulated camera is unplugged",
            ));
        }
        self.pull_cable();
        let (host, mut dev, pipe_faults) = memory::pair(512);
        let stop = Arc::new(AtomicBool::new(false));
        let body = self.body.clone();
        let (thread_stop, hook_faults) = (stop.clone(), pipe_faults.clone());
        let thread = std::thread::Builder::new()
            .name("emu-usb-camera".into())
            .spawn(move || {
                let hook = move || hook_faults.disconnect();
                let end = serve_with_hook(&mut dev, &body, &thread_stop, &hook);
                match &end {
                    Ok(e) => log::debug!("emulated {}: connection ended ({e:?})", body.model),
                    Err(e) => log::error!("emulated {}: {e}", body.model),
                }
                end
            })
            .map_err(|e| {
                TransportError::new(
                    ErrorKind::Other,
                    format!("could not start the emulated camera thread: {e}"),
                )
            })?;
        *lock(&self.cable) = Some(Cable {
            pipe_faults,
            stop,
            thread: Some(thread),
        });
        Ok(host)
    }

    /// Pulls the cable: the current host end fails with `Disconnected`, and `connect`
    /// fails with `NotFound` until [`plug`](UsbEmulator::plug).
    pub fn unplug(&self) {
        self.plugged.store(false, Ordering::SeqCst);
        self.pull_cable();
    }

    /// Plugs the cable back in.
    pub fn plug(&self) {
        self.plugged.store(true, Ordering::SeqCst);
    }

    /// Whether the cable is in.
    pub fn is_plugged(&self) -> bool {
        self.plugged.load(Ordering::SeqCst)
    }

    /// How the most recent finished serve run ended (errors as text).
    pub fn last_end(&self) -> Option<Result<ServeEnd, String>> {
        lock(&self.last_end).clone()
    }

    /// Ends the current connection, if any, and waits for its serve thread.
    fn pull_cable(&self) {
        let cable = lock(&self.cable).take();
        if let Some(mut c) = cable {
            c.pipe_faults.disconnect();
            c.stop.store(true, Ordering::SeqCst);
            if let Some(t) = c.thread.take() {
                let end = match t.join() {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err("the emulated camera thread panicked".to_string()),
                };
                *lock(&self.last_end) = Some(end);
            }
        }
    }
}

impl Drop for UsbEmulator {
    fn drop(&mut self) {
        self.pull_cable();
    }
}
