//! The USB framer: bulk-IN bytes to engine [`Input`]s, engine [`Transmit`]s to bulk-OUT
//! containers (docs/protocol/ptp-usb.md#containers).
//!
//! Containers may arrive split over transfers or several in one transfer; the framer
//! takes whatever bytes the link has buffered and says how many it used. A data
//! container's payload is handed on piece by piece as it arrives (never buffered here),
//! so its declared length is checked by the engine before a byte of it is stored. A data
//! container of unknown length (0xFFFFFFFF) ends at the end of its transfer, which only
//! the link can see: it calls [`UsbFramer::end_of_transfer`].

use super::{Input, Transmit};
use crate::ptp::container::{self, Event, Header, Kind, Response, HEADER_LEN, UNKNOWN_LENGTH};
use crate::ptp::{OpCode, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Header,
    /// Inside a data container: `left` payload bytes still to come (`None` = to the
    /// end of the transfer).
    Data { tid: u32, left: Option<u64> },
}

/// Decodes the bulk-IN byte stream of one PTP interface.
#[derive(Debug, Default, Clone)]
pub struct UsbFramer {
    state: State,
}

impl UsbFramer {
    /// A framer with nothing buffered.
    pub fn new() -> UsbFramer {
        UsbFramer::default()
    }

    /// Forgets a partly decoded container (after a cancel the link drops its bytes).
    pub fn reset(&mut self) {
        self.state = State::Header;
    }

    /// True inside a data container of unknown length: only the end of the transfer
    /// ends it.
    pub fn reads_to_end_of_transfer(&self) -> bool {
        matches!(self.state, State::Data { left: None, .. })
    }

    /// Whether [`decode`](UsbFramer::decode) has something to return for `buf` (an
    /// input or an error), so a link knows when to read more.
    pub fn ready(&self, buf: &[u8]) -> bool {
        match self.state {
            State::Data { left: Some(0), .. } => true,
            State::Data { .. } => !buf.is_empty(),
            State::Header => match Header::parse(buf) {
                Err(_) => buf.len() >= HEADER_LEN,
                Ok(h) if h.kind == Kind::Data => true,
                Ok(h) => buf.len() >= h.length as usize,
            },
        }
    }

    /// Bytes still needed to finish the current container (0 when unknown).
    pub fn needed(&self, buffered: usize) -> usize {
        match self.state {
            State::Data { left, .. } => {
                left.map_or(0, |l| usize::try_from(l).unwrap_or(usize::MAX))
            }
            State::Header => {
                if buffered < HEADER_LEN {
                    return HEADER_LEN - buffered;
                }
                0
            }
        }
    }

    /// The next input from the buffered bytes, with how many bytes it used; `Ok(None)`
    /// when more bytes are needed. An `Err` means the stream is corrupt (the link drops
    /// its buffer and the engine abandons the transaction).
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Input<'a>, usize)>, ParseError> {
        match self.state {
            State::Data { tid, left: Some(0) } => {
                self.state = State::Header;
                Ok(Some((
                    Input::Data {
                        tid,
                        bytes: &[],
                        end: true,
                    },
                    0,
                )))
            }
            State::Data { tid, left } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = match left {
                    Some(l) => buf.len().min(usize::try_from(l).unwrap_or(usize::MAX)),
                    None => buf.len(),
                };
                let rest = left.map(|l| l - n as u64);
                let end = rest == Some(0);
                self.state = if end {
                    State::Header
                } else {
                    State::Data { tid, left: rest }
                };
                Ok(Some((
                    Input::Data {
                        tid,
                        bytes: &buf[..n],
                        end,
                    },
                    n,
                )))
            }
            State::Header => {
                if buf.len() < HEADER_LEN {
                    return Ok(None);
                }
                let h = Header::parse(buf)?;
                match h.kind {
                    Kind::Data => {
                        let total = (h.length != UNKNOWN_LENGTH)
                            .then(|| (h.length as usize - HEADER_LEN) as u64);
                        self.state = State::Data {
                            tid: h.tid,
                            left: total,
                        };
                        Ok(Some((
                            Input::DataStart {
                                tid: h.tid,
                                op: Some(OpCode(h.code)),
                                total,
                            },
                            HEADER_LEN,
                        )))
                    }
                    Kind::Response | Kind::Event => {
                        let len = h.length as usize;
                        if buf.len() < len {
                            return Ok(None);
                        }
                        let input = if h.kind == Kind::Response {
                            Input::Response(Response::parse(&buf[..len])?)
                        } else {
                            Input::Event(Event::parse(&buf[..len])?)
                        };
                        Ok(Some((input, len)))
                    }
                    Kind::Command => Err(ParseError::Invalid {
                        what: "container",
                        reason: "a command container from the camera".into(),
                    }),
                }
            }
        }
    }

    /// The transfer ended (a short or zero-length packet): ends a data container of
    /// unknown length. `None` in any other state.
    pub fn end_of_transfer(&mut self) -> Option<Input<'static>> {
        match self.state {
            State::Data { tid, left: None } => {
                self.state = State::Header;
                Some(Input::Data {
                    tid,
                    bytes: &[],
                    end: true,
                })
            }
            _ => None,
        }
    }
}

/// Appends the bulk-OUT bytes of `t` to `out`: a command container, or the header of a
/// data container (the caller appends the payload, so one write carries both). Nothing
/// for a cancel, which is a class request on the control pipe ([`container::cancel_request`]).
pub fn encode(t: &Transmit, out: &mut Vec<u8>) {
    match t {
        Transmit::Command { cmd, .. } => cmd.encode(out),
        Transmit::DataOut { op, tid, len } => {
            let len = usize::try_from(*len).unwrap_or(usize::MAX);
            out.extend_from_slice(&container::data_header(*op, *tid, len));
        }
        Transmit::Cancel { .. } => {}
    }
}
