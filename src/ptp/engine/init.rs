//! The PTP/IP connection handshake as a state machine (docs/protocol/ptpip.md#init-handshake), initiator side:
//! Init Command Request on the command channel, its Ack, then (and only then) the event
//! channel is opened and gets an Init Event Request, whose Ack ends the handshake.
//! Probe Requests on either channel are answered on that channel; Init Fail is the
//! camera saying no (an unregistered GUID).
//!
//! No sockets here: the link connects, sends what [`InitHandshake::poll_transmit`]
//! returns and feeds back what it reads from the channel [`InitHandshake::awaiting`]
//! names.

use std::collections::VecDeque;

use crate::ptp::ptpip::{Packet, PROTOCOL_VERSION};

/// Which TCP connection a packet travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The command connection.
    Command,
    /// The event connection.
    Event,
}

/// What the camera said about itself in the Init Command Ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    /// Connection number, echoed in the Init Event Request.
    pub connection: u32,
    /// The camera's GUID.
    pub guid: [u8; 16],
    /// The camera's friendly name.
    pub name: String,
    /// Protocol version, when the camera sent one.
    pub version: Option<u32>,
}

/// What the link must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitTransmit {
    /// Open the event connection (to the same address and port).
    OpenEventChannel,
    /// Send this packet on this channel.
    Send(Channel, Packet),
}

/// Why the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The camera answered with Init Fail (it does not know this computer's GUID).
    #[error("the camera refused the connection (init fail, reason {reason})")]
    Refused {
        /// The reason it gave.
        reason: u32,
    },
    /// A valid packet at the wrong moment.
    #[error("unexpected ptp/ip packet from the camera: {0}")]
    Unexpected(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    CommandAck,
    EventAck,
    Done,
    Failed,
}

/// The initiator's handshake.
#[derive(Debug)]
pub struct InitHandshake {
    state: State,
    out: VecDeque<InitTransmit>,
    responder: Option<Responder>,
}

impl InitHandshake {
    /// Starts with the Init Command Request carrying the paired `guid` and the `name`
    /// the camera shows.
    pub fn new(guid: [u8; 16], name: &str) -> InitHandshake {
        let mut out = VecDeque::new();
        out.push_back(InitTransmit::Send(
            Channel::Command,
            Packet::InitCommandRequest {
                guid,
                name: name.to_string(),
                version: Some(PROTOCOL_VERSION),
            },
        ));
        InitHandshake {
            state: State::CommandAck,
            out,
            responder: None,
        }
    }

    /// The next packet to send, if any.
    pub fn poll_transmit(&mut self) -> Option<InitTransmit> {
        self.out.pop_front()
    }

    /// The channel the next answer is expected on; `None` when done (or failed).
    pub fn awaiting(&self) -> Option<Channel> {
        match self.state {
            State::CommandAck => Some(Channel::Command),
            State::EventAck => Some(Channel::Event),
            State::Done | State::Failed => None,
        }
    }

    /// Whether both channels are up.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The camera's Init Command Ack, once received.
    pub fn responder(&self) -> Option<&Responder> {
        self.responder.as_ref()
    }

    /// Feeds a packet read from `channel`.
    pub fn handle(&mut self, channel: Channel, p: Packet) -> Result<(), InitError> {
        let r = self.step(channel, p);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn step(&mut self, channel: Channel, p: Packet) -> Result<(), InitError> {
        match (self.state, p) {
            (_, Packet::ProbeRequest) => {
                self.out
                    .push_back(InitTransmit::Send(channel, Packet::ProbeResponse));
                Ok(())
            }
            (_, Packet::ProbeResponse) => Ok(()),
            (State::CommandAck | State::EventAck, Packet::InitFail { reason }) => {
                Err(InitError::Refused { reason })
            }
            (
                State::CommandAck,
                Packet::InitCommandAck {
                    connection,
                    guid,
                    name,
                    version,
                },
            ) if channel == Channel::Command => {
                self.out.push_back(InitTransmit::OpenEventChannel);
                self.out.push_back(InitTransmit::Send(
                    Channel::Event,
                    Packet::InitEventRequest { connection },
                ));
                self.responder = Some(Responder {
                    connection,
                    guid,
                    name,
                    version,
                });
                self.state = State::EventAck;
                Ok(())
            }
            (State::EventAck, Packet::InitEventAck) if channel == Channel::Event => {
                self.state = State::Done;
                Ok(())
            }
            (state, other) => Err(InitError::Unexpected(format!(
                "{} on the {} channel {}",
                other.packet_type(),
                match channel {
                    Channel::Command => "command",
                    Channel::Event => "event",
                },
                match state {
                    State::CommandAck => "instead of init command ack",
                    State::EventAck => "instead of init event ack",
                    State::Done | State::Failed => "after the handshake",
                }
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(h: &mut InitHandshake) -> Vec<InitTransmit> {
        std::iter::from_fn(|| h.poll_transmit()).collect()
    }

    fn ack() -> Packet {
        Packet::InitCommandAck {
            connection: 7,
            guid: [0x42; 16],
            name: "ILCE-7M3".into(),
            version: None,
        }
    }

    #[test]
    fn the_handshake_opens_the_event_channel_after_the_ack_and_answers_probes() {
        let mut h = InitHandshake::new([1; 16], "host");
        let first = sends(&mut h);
        assert_eq!(
            first,
            vec![InitTransmit::Send(
                Channel::Command,
                Packet::InitCommandRequest {
                    guid: [1; 16],
                    name: "host".into(),
                    version: Some(PROTOCOL_VERSION)
                }
            )]
        );
        assert_eq!(h.awaiting(), Some(Channel::Command));
        h.handle(Channel::Command, Packet::ProbeRequest).unwrap();
        assert_eq!(
            sends(&mut h),
            vec![InitTransmit::Send(Channel::Command, Packet::ProbeResponse)]
        );
        h.handle(Channel::Command, ack()).unwrap();
        assert_eq!(
            sends(&mut h),
            vec![
                InitTransmit::OpenEventChannel,
                InitTransmit::Send(Channel::Event, Packet::InitEventRequest { connection: 7 })
            ]
        );
        assert_eq!(h.responder().unwrap().name, "ILCE-7M3");
        assert_eq!(h.awaiting(), Some(Channel::Event));
        h.handle(Channel::Event, Packet::ProbeRequest).unwrap();
        assert_eq!(
            sends(&mut h),
            vec![InitTransmit::Send(Channel::Event, Packet::ProbeResponse)]
        );
        assert!(!h.is_done());
        h.handle(Channel::Event, Packet::InitEventAck).unwrap();
        assert!(h.is_done());
        assert_eq!(h.awaiting(), None);
    }

    #[test]
    fn init_fail_and_packets_out_of_order_are_errors() {
        let mut h = InitHandshake::new([1; 16], "host");
        assert_eq!(
            h.handle(Channel::Command, Packet::InitFail { reason: 1 }),
            Err(InitError::Refused { reason: 1 })
        );
        assert_eq!(h.awaiting(), None);
        let mut h = InitHandshake::new([1; 16], "host");
        h.handle(Channel::Command, ack()).unwrap();
        assert_eq!(
            h.handle(Channel::Event, Packet::InitFail { reason: 3 }),
            Err(InitError::Refused { reason: 3 })
        );
        for (ch, p) in [
            (Channel::Command, Packet::InitEventAck),
            (Channel::Event, ack()),
            (Channel::Command, Packet::StartData { tid: 1, total: 2 }),
        ] {
            let mut h = InitHandshake::new([1; 16], "host");
            let e = h.handle(ch, p).unwrap_err();
            assert!(matches!(e, InitError::Unexpected(_)), "{e}");
        }
    }
}
