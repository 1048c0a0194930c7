//! One PTP transaction engine for both links (quinn-proto style: no I/O, no clock).
//!
//! The engine owns what makes a PTP transaction a transaction, whatever carries it:
//! transaction ids, the order of the phases (command, optional data, response), the cap
//! on a data phase, which late or surplus answers are skipped and which are protocol
//! violations, and the events that arrive meanwhile. It never touches a socket or an
//! endpoint: the caller starts a transaction with [`Engine::begin`], sends whatever
//! [`Engine::poll_transmit`] hands out, and feeds what the camera sent through
//! [`Engine::handle`] until it returns [`Step::Done`]. Two framers turn bytes into
//! [`Input`]s and [`Transmit`]s into bytes: [`usb`] (bulk containers) and [`ptpip`]
//! (PTP/IP packets; [`init`] is its connection handshake).
//!
//! # The rules, one per case (the same over USB and PTP/IP)
//!
//! | case | rule |
//! | --- | --- |
//! | response with an older transaction id (stale) | skipped, at most [`MAX_STALE`] per transaction: it answers a transaction the host gave up on |
//! | data phase with an older transaction id | skipped whole (counts as stale) |
//! | response or data with any other id | protocol error (the stream is not ours to guess) |
//! | data container for another operation (USB) | protocol error |
//! | response with id 0 to CloseSession | accepted (bodies that reset their numbering) |
//! | response that is not OK | returned as a response: the caller's *refusal*, never a protocol error |
//! | error response instead of the data phase | the transaction ends with that response, no data |
//! | OK response while a data phase is still open | protocol error; a refusal ends the phase early |
//! | data phase where none was asked for | read and discarded (capped like any data phase) |
//! | a second data phase, or more bytes than declared | protocol error ("more data than announced") |
//! | fewer bytes than declared when the phase ends | protocol error |
//! | declared or received length above the cap | protocol error before anything is buffered |
//! | End Data with no data phase open (PTP/IP) | skipped (libgphoto2 does the same) |
//! | event, at any moment (even mid data phase) | queued for [`Engine::poll_event`], never disturbs the transaction; at most [`MAX_EVENTS`] kept, the oldest dropped |
//! | transaction abandoned (timeout, protocol error) | the caller may ask for a cancel ([`Transmit::Cancel`]); whatever still arrives for it is stale |
//!
//! SessionAlreadyOpen is handled above the engine, by the session driver, in one way
//! for both links: close the old session and open a fresh one.

pub mod init;
pub mod ptpip;
pub mod usb;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use super::container::{Command, Event, Params, Response};
use super::{OpCode, TransactionIds};

/// Stale answers (older transaction ids) skipped in one transaction before giving up.
pub const MAX_STALE: u32 = 8;
/// Events kept for [`Engine::poll_event`]; older ones are dropped (and counted) first.
pub const MAX_EVENTS: usize = 256;

/// Which way a transaction's data phase goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDir {
    /// No data phase (the camera may still send one; it is discarded).
    None,
    /// Camera to host.
    In,
    /// Host to camera: the caller sends `len` bytes after the command.
    Out {
        /// Bytes the caller sends.
        len: u64,
    },
}

/// What the caller must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// The operation request (USB command container, PTP/IP Operation Request).
    Command {
        /// The operation request.
        cmd: Command,
        /// Its data phase.
        dir: DataDir,
    },
    /// The data-out phase: a header for `len` bytes, then the caller's payload.
    DataOut {
        /// The operation the data belongs to.
        op: OpCode,
        /// Its transaction id.
        tid: u32,
        /// Payload bytes.
        len: u64,
    },
    /// Ask the camera to cancel transaction `tid` (USB: the class request; PTP/IP has
    /// no cancel Sony bodies honour, so the caller drops the connection instead).
    Cancel {
        /// The transaction to cancel.
        tid: u32,
    },
}

/// Something the camera sent, as a framer decoded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A data phase begins. `op` is known over USB only; `total` is the declared length
    /// of the payload, `None` when the camera did not say (read to the end marker).
    DataStart {
        /// The transaction id in the data header.
        tid: u32,
        /// The operation code in the data header (USB only).
        op: Option<OpCode>,
        /// Declared payload length.
        total: Option<u64>,
    },
    /// Payload of the open data phase; `end` marks its last piece (which may be empty).
    Data {
        /// The transaction id.
        tid: u32,
        /// Payload bytes.
        bytes: &'a [u8],
        /// Whether this is the last piece.
        end: bool,
    },
    /// A response arrived.
    Response(Response),
    /// An event arrived.
    Event(Event),
}

/// What [`Engine::handle`] made of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// Nothing for the caller; feed the next input.
    Continue,
    /// Payload for the caller's data buffer (handed straight back so the caller copies
    /// each byte once, from its receive buffer into its own).
    Deliver(&'a [u8]),
    /// The transaction is over; the response may be a refusal (not OK).
    Done(Response),
}

/// The camera broke the protocol (as opposed to refusing an operation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ProtocolError {
    /// The operation that was running.
    pub op: OpCode,
    /// What was wrong.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the data phase (if any) or the response.
    Waiting,
    /// Inside the data phase.
    Data {
        total: Option<u64>,
        got: u64,
        discard: bool,
    },
    /// The data phase ended; waiting for the response.
    AfterData,
}

#[derive(Debug, Clone)]
struct Txn {
    op: OpCode,
    tid: u32,
    dir: DataDir,
    max_data: u64,
    phase: Phase,
    stale: u32,
    /// The data phase of an older transaction being skipped.
    skipping: Option<u32>,
}

/// The transaction state machine. One transaction at a time.
#[derive(Debug, Default)]
pub struct Engine {
    tids: TransactionIds,
    txn: Option<Txn>,
    transmit: VecDeque<Transmit>,
    events: VecDeque<Event>,
    events_dropped: u64,
}

/// Whether `tid` was handed out before `current` (within half the id space, skipping
/// the event id 0xFFFFFFFF).
fn is_older(tid: u32, current: u32) -> bool {
    tid != 0xFFFF_FFFF && (1..=0x8000_0000).contains(&current.wrapping_sub(tid))
}

impl Engine {
    /// An engine with no transaction under way.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Starts a transaction and queues its command (and data-out header) for
    /// [`poll_transmit`](Engine::poll_transmit). OpenSession restarts the numbering at 0.
    /// Returns the transaction id. A transaction still running is abandoned first.
    ///
    /// `max_data` caps the data phase the camera may send (declared or received).
    pub fn begin(
        &mut self,
        op: OpCode,
        params: &[u32],
        dir: DataDir,
        max_data: u64,
    ) -> Result<u32, ProtocolError> {
        let params = Params::new(params).map_err(|e| ProtocolError {
            op,
            detail: e.to_string(),
        })?;
        if self.txn.is_some() {
            self.abandon(false);
        }
        if op == OpCode::OPEN_SESSION {
            self.tids = TransactionIds::new();
        }
        let tid = self.tids.next_id();
        self.transmit.push_back(Transmit::Command {
            cmd: Command {
                code: op,
                tid,
                params,
            },
            dir,
        });
        if let DataDir::Out { len } = dir {
            self.transmit.push_back(Transmit::DataOut { op, tid, len });
        }
        self.txn = Some(Txn {
            op,
            tid,
            dir,
            max_data,
            phase: Phase::Waiting,
            stale: 0,
            skipping: None,
        });
        Ok(tid)
    }

    /// The next thing to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.pop_front()
    }

    /// The next event the camera sent, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Events dropped because nobody took them (the queue holds [`MAX_EVENTS`]).
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// The running transaction: (operation, id).
    pub fn current(&self) -> Option<(OpCode, u32)> {
        self.txn.as_ref().map(|t| (t.op, t.tid))
    }

    /// Gives up on the running transaction (the link failed or the camera broke the
    /// protocol). With `cancel`, a [`Transmit::Cancel`] is queued for it. Whatever the
    /// camera still sends for it afterwards is stale.
    pub fn abandon(&mut self, cancel: bool) {
        if let Some(t) = self.txn.take() {
            if cancel {
                self.transmit.push_back(Transmit::Cancel { tid: t.tid });
            }
        }
    }

    /// Feeds one input. After an error the transaction is over for the caller, who
    /// calls [`abandon`](Engine::abandon) (with or without a cancel); events never end
    /// a transaction.
    pub fn handle<'a>(&mut self, input: Input<'a>) -> Result<Step<'a>, ProtocolError> {
        if let Input::Event(e) = input {
            if self.events.len() >= MAX_EVENTS {
                self.events.pop_front();
                self.events_dropped += 1;
            }
            log::debug!("event {:?} {:?}", e.code, e.params);
            self.events.push_back(e);
            return Ok(Step::Continue);
        }
        let Some(t) = self.txn.as_mut() else {
            log::debug!("ignoring {} with no transaction running", describe(&input));
            return Ok(Step::Continue);
        };
        let r = t.handle(input);
        if let Ok(Step::Done(_)) = r {
            self.txn = None;
        }
        r
    }
}

fn describe(i: &Input<'_>) -> String {
    match i {
        Input::DataStart { tid, .. } => format!("a data phase (tid {tid})"),
        Input::Data { tid, bytes, .. } => format!("{} data bytes (tid {tid})", bytes.len()),
        Input::Response(r) => format!("a response {:?} (tid {})", r.code, r.tid),
        Input::Event(e) => format!("an event {:?}", e.code),
    }
}

impl Txn {
    fn error<T>(&self, detail: String) -> Result<T, ProtocolError> {
        Err(ProtocolError {
            op: self.op,
            detail,
        })
    }

    fn stale<'a>(&mut self, what: String) -> Result<Step<'a>, ProtocolError> {
        self.stale += 1;
        if self.stale > MAX_STALE {
            return self.error(format!(
                "more than {MAX_STALE} stale answers while waiting for {:?} tid {} (last: {what})",
                self.op, self.tid
            ));
        }
        log::debug!("discarding a stale {what}");
        Ok(Step::Continue)
    }

    fn handle<'a>(&mut self, input: Input<'a>) -> Result<Step<'a>, ProtocolError> {
        match input {
            Input::Event(_) => Ok(Step::Continue),
            Input::Response(r) => self.response(r),
            Input::DataStart { tid, op, total } => self.data_start(tid, op, total),
            Input::Data { tid, bytes, end } => self.data(tid, bytes, end),
        }
    }

    fn response<'a>(&mut self, r: Response) -> Result<Step<'a>, ProtocolError> {
        let ours = r.tid == self.tid || (self.op == OpCode::CLOSE_SESSION && r.tid == 0);
        if !ours {
            if is_older(r.tid, self.tid) {
                return self.stale(format!("response {:?} tid {}", r.code, r.tid));
            }
            return self.error(format!(
                "response with transaction id {} (expected {})",
                r.tid, self.tid
            ));
        }
        if let Phase::Data { total, got, .. } = self.phase {
            if r.code == super::ResponseCode::OK {
                return self.error(match total {
                    Some(t) => {
                        format!("response before the end of the data phase ({got} of {t} bytes)")
                    }
                    None => format!("response before the end of the data phase ({got} bytes)"),
                });
            }
            log::debug!(
                "{:?}: the camera ended the data phase with {}",
                self.op,
                r.code
            );
        }
        Ok(Step::Done(r))
    }

    fn data_start<'a>(
        &mut self,
        tid: u32,
        op: Option<OpCode>,
        total: Option<u64>,
    ) -> Result<Step<'a>, ProtocolError> {
        if tid != self.tid {
            if is_older(tid, self.tid) {
                self.skipping = Some(tid);
                return self.stale(format!("data phase tid {tid}"));
            }
            return self.error(format!(
                "data container with transaction id {tid} (expected {})",
                self.tid
            ));
        }
        if let Some(op) = op {
            if op != self.op {
                return self.error(format!(
                    "data container for {op:?} while waiting for {:?}",
                    self.op
                ));
            }
        }
        if self.phase != Phase::Waiting {
            return self
                .error("the camera sent more data than it announced (a second data phase)".into());
        }
        if let Some(n) = total {
            if n > self.max_data {
                return self.error(format!(
                    "data phase of {n} bytes exceeds the limit of {}",
                    self.max_data
                ));
            }
        }
        let discard = self.dir != DataDir::In;
        if discard {
            log::warn!(
                "{:?}: the camera sent a data phase nobody asked for; discarding it",
                self.op
            );
        }
        self.phase = Phase::Data {
            total,
            got: 0,
            discard,
        };
        Ok(Step::Continue)
    }

    fn data<'a>(
        &mut self,
        tid: u32,
        bytes: &'a [u8],
        end: bool,
    ) -> Result<Step<'a>, ProtocolError> {
        if tid != self.tid {
            if self.skipping == Some(tid) {
                if end {
                    self.skipping = None;
                }
                return Ok(Step::Continue);
            }
            if is_older(tid, self.tid) {
                // Not counted again when its start was already counted.
                return self.stale(format!("data packet tid {tid}"));
            }
            return self.error(format!(
                "data with transaction id {tid} (expected {})",
                self.tid
            ));
        }
        let Phase::Data {
            total,
            got,
            discard,
        } = self.phase
        else {
            if end && bytes.is_empty() {
                log::debug!("{:?}: skipping a stray end of data", self.op);
                return Ok(Step::Continue);
            }
            if self.phase == Phase::AfterData {
                return self.error("the camera sent more data than it announced".into());
            }
            return self.error("data without the start of a data phase".into());
        };
        let got = got.saturating_add(bytes.len() as u64);
        if let Some(t) = total {
            if got > t {
                return self.error(format!(
                    "the camera sent more data than the {t} bytes it announced"
                ));
            }
        }
        if got > self.max_data {
            return self.error(format!("data phase exceeds {} bytes", self.max_data));
        }
        if end {
            if let Some(t) = total.filter(|&t| t != got) {
                return self.error(format!("the camera announced {t} bytes but sent {got}"));
            }
            self.phase = Phase::AfterData;
        } else {
            self.phase = Phase::Data {
                total,
                got,
                discard,
            };
        }
        if discard || bytes.is_empty() {
            Ok(Step::Continue)
        } else {
            Ok(Step::Deliver(bytes))
        }
    }
}
