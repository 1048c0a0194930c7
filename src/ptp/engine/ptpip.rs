//! The PTP/IP framer (docs/protocol/ptpip.md#packet-framing): packets from the command or event channel to engine
//! [`Input`]s, engine [`Transmit`]s to packets.
//!
//! Bytes are framed by [`Decoder`](crate::ptp::ptpip::Decoder) (one per channel); this
//! module says what each packet means to a transaction. Probe Requests are the link's
//! business ([`Item::Probe`]: answer on the same channel); the Init packets belong to
//! the handshake ([`super::init`]) and are protocol errors afterwards.

use super::{DataDir, Input, Transmit};
use crate::ptp::container::{Event, Response};
use crate::ptp::ptpip::{self, data_phase, Packet, PacketRef, UNKNOWN_TOTAL};
use crate::ptp::ParseError;

/// What one received packet is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// For the engine.
    Input(Input<'a>),
    /// A Probe Request: send a Probe Response on the channel it came from.
    Probe,
    /// Nothing to do (a Probe Response, a Cancel from the camera).
    Ignore,
    /// A valid packet that has no place after the handshake.
    Unexpected(Packet),
}

/// Classifies a decoded packet.
pub fn classify(p: PacketRef<'_>) -> Item<'_> {
    match p {
        PacketRef::Data { tid, payload } => Item::Input(Input::Data {
            tid,
            bytes: payload,
            end: false,
        }),
        PacketRef::EndData { tid, payload } => Item::Input(Input::Data {
            tid,
            bytes: payload,
            end: true,
        }),
        PacketRef::Other(p) => match p {
            Packet::StartData { tid, total } => Item::Input(Input::DataStart {
                tid,
                op: None,
                total: (total != UNKNOWN_TOTAL).then_some(total),
            }),
            Packet::OperationResponse { code, tid, params } => {
                Item::Input(Input::Response(Response { code, tid, params }))
            }
            Packet::Event { code, tid, params } => {
                Item::Input(Input::Event(Event { code, tid, params }))
            }
            Packet::ProbeRequest => Item::Probe,
            Packet::ProbeResponse => Item::Ignore,
            Packet::Cancel { tid } => {
                log::debug!("ptp/ip: the camera sent Cancel for tid {tid}");
                Item::Ignore
            }
            other => Item::Unexpected(other),
        },
    }
}

/// Appends the command-channel bytes of `t`. A data-out phase is sent PlayMemories
/// style: Start Data, one Data packet header (the caller appends the payload right
/// after it, so header and payload go in one write), and [`data_out_end`] after the
/// payload. A cancel is not sent over PTP/IP (the caller drops the connection).
pub fn encode(t: &Transmit, out: &mut Vec<u8>) -> Result<(), ParseError> {
    match t {
        Transmit::Command { cmd, dir } => Packet::OperationRequest {
            data_phase: match dir {
                DataDir::Out { .. } => data_phase::OUT,
                DataDir::None | DataDir::In => data_phase::NO_DATA_OR_IN,
            },
            code: cmd.code,
            tid: cmd.tid,
            params: cmd.params,
        }
        .encode(out),
        Transmit::DataOut { tid, len, .. } => {
            Packet::StartData {
                tid: *tid,
                total: *len,
            }
            .encode(out)?;
            let len = usize::try_from(*len).unwrap_or(usize::MAX);
            out.extend_from_slice(&ptpip::data_header(false, *tid, len)?);
            Ok(())
        }
        Transmit::Cancel { .. } => Ok(()),
    }
}

/// The empty End Data that closes a data-out phase of `tid`.
pub fn data_out_end(tid: u32) -> [u8; 12] {
    // An empty payload always fits.
    ptpip::data_header(true, tid, 0).unwrap_or_default()
}
