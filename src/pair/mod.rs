//! Pairing: registers this computer's identity (GUID + host name) inside a Sony camera
//! in USB Mass Storage mode, so the camera later accepts it for Send to Computer
//! (docs/protocol/pairing.md; the GUID then travels in the PTP/IP Init Command Request,
//! docs/protocol/ptpip.md#init-handshake).
//!
//! This is the host side of Bulk-Only Transport over any [`Transport`]: GET MAX LUN,
//! TEST UNIT READY, INQUIRY, then Sony's vendor command `0x7A` (ExtCmd plugin 4,
//! sub-command 8) with the 8192-byte block. It clears halts and retries on stalls,
//! asks REQUEST SENSE when a command fails, retries a bounded number of times while the
//! camera says busy, and does a Bulk-Only reset recovery after phase errors or invalid
//! status wrappers. It never opens devices itself (the CLI hands it a transport), never
//! prints, and trusts nothing the device sends. The wire formats live in [`bot`] and
//! [`scsi`], without I/O.

pub mod bot;
pub mod scsi;

use crate::config::{Identity, GUID_LEN};
use crate::transport::{ErrorKind, Pipe, Transport, TransportError};
use bot::{BotError, Cbw, Csw, CswStatus, Direction, CSW_LEN};
use scsi::{Inquiry, Sense};
use std::time::Duration;

/// BOT class requests, named as this module always did; the numbers are defined once,
/// with the other class requests, in `transport::usb::request`.
pub use crate::transport::usb::request::{
    MSC_GET_MAX_LUN as REQ_GET_MAX_LUN, MSC_RESET as REQ_BULK_ONLY_RESET,
};

/// Knobs of the pairing exchange; the defaults suit a real camera.
#[derive(Debug, Clone)]
pub struct PairOptions {
    /// Per transfer.
    pub timeout: Duration,
    /// How many times a command is repeated while the camera says it is busy.
    pub busy_retries: u32,
    /// Pause before repeating a command the camera called busy.
    pub busy_delay: Duration,
    /// How many times one transfer is retried after clearing a stall.
    pub stall_retries: u32,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            // sony-guid-setter uses 1 s; a camera writing to flash deserves more.
            timeout: Duration::from_secs(5),
            busy_retries: 10,
            busy_delay: Duration::from_millis(500),
            // sony-guid-setter retries 5 times with CLEAR_HALT.
            stall_retries: 5,
        }
    }
}

/// Why pairing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PairError {
    /// A USB transfer failed.
    #[error("USB transfer failed during {during}: {err}")]
    Transport {
        /// The step under way.
        during: &'static str,
        /// What the transport said.
        err: TransportError,
    },
    /// The camera broke the mass storage protocol.
    #[error("the camera broke the mass storage protocol during {during}: {err}")]
    Protocol {
        /// The step under way.
        during: &'static str,
        /// What was wrong.
        err: BotError,
    },
    /// The camera reported a phase error.
    #[error("the camera reported a phase error during {during}; unplug it, plug it back in and try again")]
    PhaseError {
        /// The step under way.
        during: &'static str,
    },
    /// The camera refused a command.
    #[error("the camera refused {during}: {reason}")]
    Refused {
        /// The step under way.
        during: &'static str,
        /// The refusal in words.
        reason: String,
        /// The sense data, when the camera gave it.
        sense: Option<Sense>,
    },
    /// The camera stayed busy past the retries.
    #[error("the camera stayed busy during {during} after {attempts} attempts; wait until it is idle (no card access, no menu open) and try again")]
    StillBusy {
        /// The step under way.
        during: &'static str,
        /// How many times it was asked.
        attempts: u32,
    },
}

impl PairError {
    /// The transport error kind, if a transfer failed (the CLI turns it into advice).
    pub fn transport_kind(&self) -> Option<ErrorKind> {
        match self {
            PairError::Transport { err, .. } => Some(err.kind),
            _ => None,
        }
    }
}

/// What a successful pairing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairOutcome {
    /// The 16 bytes registered; offload must send exactly these.
    pub guid: [u8; GUID_LEN],
    /// The host name as written into the camera (shortened to fit, see
    /// [`scsi::block_host_name`]).
    pub host_name_sent: String,
    /// INQUIRY answer, when the camera gave one.
    pub camera: Option<Inquiry>,
    /// From GET MAX LUN (0 when the request stalled).
    pub max_lun: u8,
    /// How many times a command was repeated because the camera was busy.
    pub busy_retries: u32,
}

impl PairOutcome {
    /// One line in plain words.
    pub fn summary(&self) -> String {
        let who = match &self.camera {
            Some(i) if !i.product.is_empty() => format!("the camera ({} {})", i.vendor, i.product),
            _ => "the camera".to_string(),
        };
        format!(
            "{who} accepted this computer as \"{}\" with GUID {}",
            self.host_name_sent,
            crate::config::guid_hex(&self.guid)
        )
    }

    /// What the user does next and what the camera should show.
    pub fn next_steps(&self) -> Vec<String> {
        vec![
            "unplug the USB cable; the pairing stays stored in the camera".to_string(),
            "set the camera's USB Connection back to what you use normally (PC Remote for the webcam, or MTP)".to_string(),
            format!(
                "on the camera choose Send to Computer: it should now show \"Connecting\" and the name \"{}\" (or the name alpha-bridge offload sends) instead of asking you to connect the camera to the computer with USB",
                self.host_name_sent
            ),
        ]
    }
}

/// The USB mode a Sony camera shows itself in (docs/protocol/sony-usb.md#usb-modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsbMode {
    /// PTP with Sony's SDIO extension (webcam, remote control).
    PcRemote,
    /// MTP (file access).
    Mtp,
    /// A still-image (06/01/01) interface where PC Remote and MTP can't be told apart yet.
    Ptp,
    /// Mass Storage, Bulk-Only (08/06/50): what pairing needs.
    MassStorage,
    /// The placeholder while the camera asks which USB mode to use, or only charges.
    ModeChooser,
    /// The body's own UVC "USB Streaming" webcam mode.
    UvcStreaming,
}

impl UsbMode {
    /// Classifies a USB interface by class, subclass and protocol.
    pub fn from_interface(class: u8, subclass: u8, protocol: u8) -> Option<UsbMode> {
        match (class, subclass, protocol) {
            (0x08, 0x06, 0x50) => Some(UsbMode::MassStorage),
            (0x06, 0x01, 0x01) => Some(UsbMode::Ptp),
            (0x03, _, _) => Some(UsbMode::ModeChooser),
            (0x0E, _, _) => Some(UsbMode::UvcStreaming),
            _ => None,
        }
    }
}

const TO_MASS_STORAGE: &str = "on the camera open MENU, find USB Connection (on newer bodies: Setup > USB > USB Connection Mode) and choose Mass Storage (MSC), then unplug and replug the cable and run `alpha-bridge pair` again";

/// What the user must change on the camera before pairing can work; `None` when the
/// camera is already in Mass Storage mode. Menu names vary by model
/// (docs/protocol/sony-usb.md#usb-modes).
pub fn wrong_mode_advice(mode: UsbMode) -> Option<String> {
    let (now, back) = match mode {
        UsbMode::MassStorage => return None,
        UsbMode::PcRemote => (
            "the camera is in PC Remote mode, but pairing needs Mass Storage",
            "set USB Connection back to PC Remote to use the camera as a webcam",
        ),
        UsbMode::Mtp => (
            "the camera is in MTP mode, but pairing needs Mass Storage",
            "set USB Connection back to MTP if you use it for file access",
        ),
        UsbMode::Ptp => (
            "the camera is in PC Remote or MTP mode, but pairing needs Mass Storage",
            "set USB Connection back to what you had (PC Remote for the webcam, MTP for files)",
        ),
        UsbMode::UvcStreaming => (
            "the camera is in USB Streaming mode, but pairing needs Mass Storage",
            "set USB Connection back to what you had",
        ),
        UsbMode::ModeChooser => {
            return Some(
                "the camera is waiting for you to choose a USB mode (or is only charging): choose Mass Storage on its screen, or if there is no prompt, "
                    .to_string()
                    + TO_MASS_STORAGE
                    + "; after pairing you can choose PC Remote or MTP again",
            )
        }
    };
    Some(format!("{now}: {TO_MASS_STORAGE}; after pairing, {back}"))
}

/// Registers `id` in the camera behind `t` (an interface 08/06/50), with default options.
pub fn pair(t: &mut dyn Transport, id: &Identity) -> Result<PairOutcome, PairError> {
    pair_with(t, id, &PairOptions::default())
}

/// [`pair`] with explicit options.
pub fn pair_with(
    t: &mut dyn Transport,
    id: &Identity,
    opts: &PairOptions,
) -> Result<PairOutcome, PairError> {
    let mut bot = Bot {
        t,
        opts,
        next_tag: 1,
        lun: 0,
        busy_retries: 0,
    };
    let max_lun = bot.get_max_lun()?;
    // Sony-PMCA-RE starts with TEST UNIT READY; it also absorbs the unit attention a
    // freshly connected device reports. A refusal (no card, say) does not stop pairing.
    match bot.run("TEST UNIT READY", &scsi::test_unit_ready_cdb(), Data::None) {
        Ok(_) => {}
        Err(PairError::Refused { reason, .. }) => log::info!("test unit ready: {reason}"),
        Err(PairError::StillBusy { .. }) => log::info!("test unit ready: still busy"),
        Err(e) => return Err(e),
    }
    let camera = match bot.run(
        "INQUIRY",
        &scsi::inquiry_cdb(),
        Data::In(scsi::INQUIRY_LEN as usize),
    ) {
        Ok(data) => Inquiry::parse(&data),
        Err(e @ (PairError::Transport { .. } | PairError::Protocol { .. })) => return Err(e),
        Err(e) => {
            log::info!("inquiry: {e}");
            None
        }
    };
    match &camera {
        Some(i) if i.is_sony() => log::info!("camera: {} {} {}", i.vendor, i.product, i.revision),
        Some(i) => log::warn!(
            "the device says it is {} {}, not Sony; trying anyway",
            i.vendor,
            i.product
        ),
        None => log::info!("the camera gave no INQUIRY data"),
    }
    let host_name_sent = scsi::block_host_name(&id.host_name);
    let block = scsi::regist_host_block(&id.host_name, &id.guid);
    log::debug!(
        "registering {} as {host_name_sent:?}",
        crate::config::guid_hex(&id.guid)
    );
    bot.run(
        "the pairing command",
        &scsi::ext_cmd_cdb(scsi::PLUGIN_BACKUP_COMMUNICATOR),
        Data::Out(&block),
    )?;
    Ok(PairOutcome {
        guid: id.guid,
        host_name_sent,
        camera,
        max_lun,
        busy_retries: bot.busy_retries,
    })
}

#[derive(Clone, Copy)]
enum Data<'b> {
    None,
    Out(&'b [u8]),
    /// Expected length; our own constant, never device-supplied.
    In(usize),
}

struct Bot<'a> {
    t: &'a mut dyn Transport,
    opts: &'a PairOptions,
    next_tag: u32,
    lun: u8,
    busy_retries: u32,
}

fn transport(during: &'static str) -> impl FnOnce(TransportError) -> PairError {
    move |err| PairError::Transport { during, err }
}

impl Bot<'_> {
    fn get_max_lun(&mut self) -> Result<u8, PairError> {
        let mut b = [0u8; 1];
        match self
            .t
            .class_in(REQ_GET_MAX_LUN, 0, &mut b, self.opts.timeout)
        {
            Ok(1) => {
                if b[0] > bot::MAX_LUN {
                    log::warn!("GET MAX LUN answered {}; using LUN 0", b[0]);
                    return Ok(0);
                }
                Ok(b[0])
            }
            // BOT §3.2: a device with one LUN may stall the request.
            Ok(_) => Ok(0),
            Err(e) if e.kind == ErrorKind::Stall => {
                log::debug!("GET MAX LUN stalled: one LUN");
                Ok(0)
            }
            Err(e) => Err(transport("GET MAX LUN")(e)),
        }
        // The pairing goes to LUN 0 as sony-guid-setter does; `self.lun` stays 0.
    }

    /// One command; on a failed status asks REQUEST SENSE and repeats while the camera
    /// says it is busy.
    fn run(
        &mut self,
        during: &'static str,
        cdb: &[u8],
        data: Data<'_>,
    ) -> Result<Vec<u8>, PairError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (status, received) = self.command(during, cdb, data)?;
            if status == CswStatus::Passed {
                return Ok(received);
            }
            let sense = self.request_sense()?;
            match sense {
                Some(s) if s.is_transient() => {
                    if attempt > self.opts.busy_retries {
                        return Err(PairError::StillBusy {
                            during,
                            attempts: attempt,
                        });
                    }
                    log::debug!("{during}: {}; retrying", s.describe());
                    self.busy_retries += 1;
                    std::thread::sleep(self.opts.busy_delay);
                }
                Some(s) => {
                    return Err(PairError::Refused {
                        during,
                        reason: s.describe(),
                        sense: Some(s),
                    })
                }
                None => {
                    return Err(PairError::Refused {
                        during,
                        reason: "no reason given (no sense data)".into(),
                        sense: None,
                    })
                }
            }
        }
    }

    fn request_sense(&mut self) -> Result<Option<Sense>, PairError> {
        let (status, data) = self.command(
            "REQUEST SENSE",
            &scsi::request_sense_cdb(),
            Data::In(scsi::SENSE_LEN as usize),
        )?;
        if status != CswStatus::Passed {
            log::debug!("REQUEST SENSE itself failed");
            return Ok(None);
        }
        Ok(Sense::parse(&data))
    }

    /// CBW, data phase, CSW. Returns the status (Passed or Failed) and data received.
    fn command(
        &mut self,
        during: &'static str,
        cdb: &[u8],
        data: Data<'_>,
    ) -> Result<(CswStatus, Vec<u8>), PairError> {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        let (len, dir) = match data {
            Data::None => (0, Direction::Out),
            Data::Out(d) => (d.len(), Direction::Out),
            Data::In(n) => (n, Direction::In),
        };
        let len32 = u32::try_from(len).map_err(|_| PairError::Protocol {
            during,
            err: BotError::Length {
                what: "data phase",
                got: len,
                expected: u32::MAX as usize,
            },
        })?;
        let cbw = Cbw::new(tag, len32, dir, self.lun, cdb)
            .map_err(|err| PairError::Protocol { during, err })?;
        log::trace!("CBW {:02x?}", cbw.encode());
        self.write_retrying(&cbw.encode(), during)?;

        let mut received = Vec::new();
        match data {
            Data::None => {}
            Data::Out(d) => match self.t.write(d, self.opts.timeout) {
                Ok(()) => {}
                // The device refused the data; the CSW says how it ended (BOT §6.7.3).
                Err(e) if e.kind == ErrorKind::Stall => {
                    log::debug!("{during}: data OUT stalled");
                    self.t
                        .clear_halt(Pipe::BulkOut)
                        .map_err(transport(during))?;
                }
                Err(e) => return Err(transport(during)(e)),
            },
            Data::In(n) => {
                let mut buf = vec![0u8; n];
                match self.t.read(&mut buf, self.opts.timeout) {
                    Ok(got) => {
                        buf.truncate(got);
                        received = buf;
                    }
                    Err(e) if e.kind == ErrorKind::Stall => {
                        log::debug!("{during}: data IN stalled");
                        self.t.clear_halt(Pipe::BulkIn).map_err(transport(during))?;
                    }
                    Err(e) if e.kind == ErrorKind::Overflow => {
                        self.reset_recovery();
                        return Err(PairError::PhaseError { during });
                    }
                    Err(e) => return Err(transport(during)(e)),
                }
            }
        }

        let csw = match self.read_csw(during)? {
            Ok(bytes) => match Csw::decode_for(&bytes, &cbw) {
                Ok(c) => c,
                Err(source) => {
                    self.reset_recovery();
                    return Err(PairError::Protocol {
                        during,
                        err: source,
                    });
                }
            },
            Err(source) => {
                self.reset_recovery();
                return Err(PairError::Protocol {
                    during,
                    err: source,
                });
            }
        };
        log::trace!("CSW {csw:?}");
        if let Data::In(_) = data {
            // A residue that disagrees with what arrived is worth a note, not a failure:
            // many devices set it wrongly
            // (docs/protocol/pairing.md#command-status-wrapper).
            let expected = len.saturating_sub(received.len());
            if csw.residue as usize != expected {
                log::debug!(
                    "{during}: residue {} but {} bytes missing",
                    csw.residue,
                    expected
                );
            }
        }
        match csw.status {
            CswStatus::PhaseError => {
                self.reset_recovery();
                Err(PairError::PhaseError { during })
            }
            s => Ok((s, received)),
        }
    }

    fn write_retrying(&mut self, bytes: &[u8], during: &'static str) -> Result<(), PairError> {
        let mut tries = 0;
        loop {
            match self.t.write(bytes, self.opts.timeout) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind == ErrorKind::Stall && tries < self.opts.stall_retries => {
                    tries += 1;
                    log::debug!("{during}: command OUT stalled, clearing");
                    self.t
                        .clear_halt(Pipe::BulkOut)
                        .map_err(transport(during))?;
                }
                Err(e) => return Err(transport(during)(e)),
            }
        }
    }

    /// Reads one CSW transfer; the inner error is a malformed wrapper length.
    fn read_csw(&mut self, during: &'static str) -> Result<Result<Vec<u8>, BotError>, PairError> {
        // A packet-sized buffer: a device that babbles more than 13 bytes gives a wrong
        // length we can report instead of an overflow.
        let mut buf = vec![0u8; self.t.max_packet_size().clamp(CSW_LEN, 1024)];
        let mut stalls = 0;
        let mut zlps = 0;
        loop {
            match self.t.read(&mut buf, self.opts.timeout) {
                // A zero-length packet left over from a data phase that filled its
                // buffer exactly; the CSW follows.
                Ok(0) if zlps == 0 => zlps += 1,
                Ok(n) if n == CSW_LEN => return Ok(Ok(buf[..n].to_vec())),
                Ok(n) => {
                    return Ok(Err(BotError::Length {
                        what: "command status wrapper",
                        got: n,
                        expected: CSW_LEN,
                    }))
                }
                Err(e) if e.kind == ErrorKind::Stall && stalls < self.opts.stall_retries => {
                    stalls += 1;
                    log::debug!("{during}: status IN stalled, clearing");
                    self.t.clear_halt(Pipe::BulkIn).map_err(transport(during))?;
                }
                Err(e) => return Err(transport(during)(e)),
            }
        }
    }

    /// BOT §5.3.4: Bulk-Only reset, then clear both halts. Best effort: the command
    /// already failed and that error is what the user needs to see.
    fn reset_recovery(&mut self) {
        log::debug!("bulk-only reset recovery");
        if let Err(e) = self
            .t
            .class_out(REQ_BULK_ONLY_RESET, 0, &[], self.opts.timeout)
        {
            log::debug!("bulk-only reset: {e}");
        }
        for p in [Pipe::BulkIn, Pipe::BulkOut] {
            if let Err(e) = self.t.clear_halt(p) {
                log::debug!("clear halt {p:?}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
