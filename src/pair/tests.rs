//! Session tests: `pair` against the in-process emulated body (memory pipe) and
//! against a scripted fake device that misbehaves on purpose.

use super::*;
use crate::emulator::msc::{MscConfig, MscEmulator};
use crate::emulator::registry::Registry;
use crate::transport::memory;
use std::collections::VecDeque;

const SGS_GUID: [u8; 16] = [
    0xFF, 0xFF, 0x52, 0x54, 0x00, 0xB6, 0xFD, 0xA9, 0xFF, 0xFF, 0x52, 0x3C, 0x28, 0x07, 0xA9, 0x3A,
];

fn id() -> Identity {
    Identity {
        guid: SGS_GUID,
        host_name: "linux".into(),
    }
}

fn fast() -> PairOptions {
    PairOptions {
        timeout: Duration::from_secs(5),
        busy_retries: 3,
        busy_delay: Duration::ZERO,
        stall_retries: 5,
    }
}

/// Runs `pair_with` against a fresh emulated body; returns the result, the registry
/// and the emulator's counters.
fn against_emulator(
    config: MscConfig,
    id: &Identity,
    before: impl FnOnce(&memory::Faults),
) -> (
    Result<PairOutcome, PairError>,
    Registry,
    crate::emulator::msc::MscStats,
) {
    let (mut host, mut dev, faults) = memory::pair(512);
    let registry = Registry::in_memory();
    let r2 = registry.clone();
    let th = std::thread::Builder::new()
        .name("msc-emulator".into())
        .spawn(move || MscEmulator::new(config, r2).serve(&mut dev).unwrap())
        .unwrap();
    before(&faults);
    let r = pair_with(&mut host, id, &fast());
    drop(host);
    let stats = th.join().unwrap();
    (r, registry, stats)
}

#[test]
fn pairing_with_the_emulator_registers_the_guid() {
    let (r, reg, stats) = against_emulator(MscConfig::default(), &id(), |_| {});
    let out = r.unwrap();
    assert_eq!(out.guid, SGS_GUID);
    assert_eq!(out.host_name_sent, "linux");
    assert_eq!(out.max_lun, 0, "memory pipe stalls GET MAX LUN");
    let cam = out.camera.as_ref().unwrap();
    assert_eq!((cam.vendor.as_str(), cam.product.as_str()), ("Sony", "DSC"));
    assert!(reg.is_registered(&SGS_GUID));
    assert!(!reg.is_registered(&[0x11; 16]));
    assert_eq!(reg.host_name(&SGS_GUID).as_deref(), Some("linux"));
    assert_eq!(stats.registrations, 1);
    assert_eq!(stats.invalid_cbws, 0);
    assert_eq!(stats.phase_errors, 0);
    assert!(out.summary().contains("ffff525400b6fda9ffff523c2807a93a"));
    assert!(out
        .next_steps()
        .iter()
        .any(|s| s.contains("Send to Computer")));
}

#[test]
fn long_host_names_are_shortened_and_stored() {
    let id = Identity {
        guid: [
            0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 8, 0, 0x27, 0xF5, 0x16, 0x4F,
        ],
        host_name: "workstation-42".into(),
    };
    let (r, reg, _) = against_emulator(MscConfig::default(), &id, |_| {});
    assert_eq!(r.unwrap().host_name_sent, "worksta");
    assert_eq!(reg.host_name(&id.guid).as_deref(), Some("worksta"));
}

#[test]
fn busy_camera_is_retried_then_accepts() {
    let cfg = MscConfig {
        busy_pairing_commands: 2,
        ..MscConfig::default()
    };
    let (r, reg, stats) = against_emulator(cfg, &id(), |_| {});
    assert_eq!(r.unwrap().busy_retries, 2);
    assert!(reg.is_registered(&SGS_GUID));
    assert_eq!(stats.failed, 2);
}

#[test]
fn camera_busy_forever_gives_up() {
    let cfg = MscConfig {
        busy_pairing_commands: 100,
        ..MscConfig::default()
    };
    let (r, reg, _) = against_emulator(cfg, &id(), |_| {});
    match r {
        Err(PairError::StillBusy { attempts, .. }) => assert_eq!(attempts, 4),
        other => panic!("{other:?}"),
    }
    assert!(reg.hosts().is_empty());
}

#[test]
fn refusal_carries_the_sense() {
    // The emulated body refuses an all-zero GUID.
    let zero = Identity {
        guid: [0; 16],
        host_name: "x".into(),
    };
    let (r, _, _) = against_emulator(MscConfig::default(), &zero, |_| {});
    match r {
        Err(PairError::Refused {
            sense: Some(s),
            reason,
            ..
        }) => {
            assert_eq!((s.key, s.asc), (5, 0x26));
            assert!(reason.contains("rejected the pairing data"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stalled_status_read_is_cleared_and_retried() {
    // Bulk IN is halted before the first status read (TEST UNIT READY's CSW).
    let (r, reg, _) = against_emulator(MscConfig::default(), &id(), |f| f.stall_bulk_in());
    r.unwrap();
    assert!(reg.is_registered(&SGS_GUID));
}

#[test]
fn unplugged_camera_is_a_transport_error() {
    let (mut host, _dev, faults) = memory::pair(512);
    faults.disconnect();
    let e = pair_with(&mut host, &id(), &fast()).unwrap_err();
    assert_eq!(e.transport_kind(), Some(ErrorKind::Disconnected));
    assert!(e.to_string().contains("GET MAX LUN"), "{e}");
}

// ---- scripted fake device ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    ClassOut(u8),
    ClearHalt(Pipe),
    Cbw(u8),
}

type CswHook = Box<dyn FnMut(&Cbw) -> Option<Vec<u8>> + Send>;

/// A device that answers every command with success, except where a test changes it:
/// `csw_hook` may replace the status wrapper for a command; `stall_*` halt endpoints
/// for the next N transfers until cleared; `max_lun` is what GET MAX LUN answers.
struct Fake {
    queue: VecDeque<Vec<u8>>,
    pending_out: Option<Cbw>,
    events: Vec<Event>,
    csw_hook: CswHook,
    stall_next_reads: usize,
    stall_next_writes: usize,
    halted_in: bool,
    halted_out: bool,
    max_lun: Option<u8>,
    block: Option<Vec<u8>>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            queue: VecDeque::new(),
            pending_out: None,
            events: Vec::new(),
            csw_hook: Box::new(|_| None),
            stall_next_reads: 0,
            stall_next_writes: 0,
            halted_in: false,
            halted_out: false,
            max_lun: None,
            block: None,
        }
    }

    fn finish(&mut self, cbw: &Cbw, residue: u32) {
        let csw = (self.csw_hook)(cbw).unwrap_or_else(|| {
            Csw {
                tag: cbw.tag,
                residue,
                status: CswStatus::Passed,
            }
            .encode()
            .to_vec()
        });
        self.queue.push_back(csw);
    }

    fn stall(what: &str) -> TransportError {
        TransportError::new(ErrorKind::Stall, format!("{what} stalled"))
    }
}

impl Transport for Fake {
    fn write(&mut self, data: &[u8], _: Duration) -> Result<(), TransportError> {
        if self.halted_out {
            return Err(Fake::stall("bulk OUT"));
        }
        if self.stall_next_writes > 0 {
            self.stall_next_writes -= 1;
            self.halted_out = true;
            return Err(Fake::stall("bulk OUT"));
        }
        if let Some(cbw) = self.pending_out.take() {
            self.block = Some(data.to_vec());
            self.finish(&cbw, 0);
            return Ok(());
        }
        let cbw = Cbw::decode(data).expect("host sent an invalid CBW");
        self.events.push(Event::Cbw(cbw.cdb()[0]));
        match (cbw.direction, cbw.data_transfer_length) {
            (_, 0) => self.finish(&cbw, 0),
            (Direction::Out, _) => self.pending_out = Some(cbw),
            (Direction::In, n) => {
                let mut d = vec![0u8; n as usize];
                if cbw.cdb()[0] == scsi::OP_INQUIRY {
                    d[8..12].copy_from_slice(b"Sony");
                }
                self.queue.push_back(d);
                self.finish(&cbw, 0);
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], _: Duration) -> Result<usize, TransportError> {
        if self.halted_in {
            return Err(Fake::stall("bulk IN"));
        }
        if self.stall_next_reads > 0 {
            self.stall_next_reads -= 1;
            self.halted_in = true;
            return Err(Fake::stall("bulk IN"));
        }
        let d = self
            .queue
            .pop_front()
            .ok_or_else(|| TransportError::timeout("bulk IN"))?;
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }

    fn read_event(&mut self, _: &mut [u8], _: Duration) -> Result<usize, TransportError> {
        Err(TransportError::new(ErrorKind::Unsupported, "no events"))
    }

    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
        self.events.push(Event::ClearHalt(pipe));
        match pipe {
            Pipe::BulkIn => self.halted_in = false,
            Pipe::BulkOut => self.halted_out = false,
            Pipe::InterruptIn => {}
        }
        Ok(())
    }

    fn class_out(&mut self, req: u8, _: u16, _: &[u8], _: Duration) -> Result<(), TransportError> {
        self.events.push(Event::ClassOut(req));
        self.queue.clear();
        self.pending_out = None;
        Ok(())
    }

    fn class_in(
        &mut self,
        req: u8,
        _: u16,
        buf: &mut [u8],
        _: Duration,
    ) -> Result<usize, TransportError> {
        assert_eq!(req, REQ_GET_MAX_LUN);
        match self.max_lun {
            Some(l) => {
                buf[0] = l;
                Ok(1)
            }
            None => Err(Fake::stall("GET MAX LUN")),
        }
    }

    fn max_packet_size(&self) -> usize {
        512
    }
}

/// A CSW hook that corrupts the status wrapper of the pairing command.
fn on_pairing(f: impl Fn(&Cbw, &mut Vec<u8>) + Send + 'static) -> CswHook {
    Box::new(move |cbw| {
        if cbw.cdb()[0] != scsi::OP_SONY_EXT_CMD {
            return None;
        }
        let mut c = Csw {
            tag: cbw.tag,
            residue: 0,
            status: CswStatus::Passed,
        }
        .encode()
        .to_vec();
        f(cbw, &mut c);
        Some(c)
    })
}

#[test]
fn fake_happy_path_sends_the_documented_block() {
    let mut f = Fake::new();
    f.max_lun = Some(0);
    let out = pair_with(&mut f, &id(), &fast()).unwrap();
    assert_eq!(out.max_lun, 0);
    assert_eq!(
        f.events,
        vec![
            Event::Cbw(scsi::OP_TEST_UNIT_READY),
            Event::Cbw(scsi::OP_INQUIRY),
            Event::Cbw(scsi::OP_SONY_EXT_CMD)
        ]
    );
    assert_eq!(
        f.block.unwrap(),
        scsi::regist_host_block("linux", &SGS_GUID)
    );
}

#[test]
fn hostile_status_wrappers_are_errors_and_trigger_reset_recovery() {
    type Corrupt = fn(&Cbw, &mut Vec<u8>);
    let cases: [(&str, Corrupt); 5] = [
        ("wrong tag", |cbw, c| {
            c[4..8].copy_from_slice(&cbw.tag.wrapping_add(7).to_le_bytes())
        }),
        ("bad signature", |_, c| c[0..4].copy_from_slice(b"USBC")),
        ("residue > length", |_, c| {
            c[8..12].copy_from_slice(&0x2001u32.to_le_bytes())
        }),
        ("reserved status", |_, c| c[12] = 0x42),
        ("too long", |_, c| c.extend_from_slice(&[0; 19])),
    ];
    for (what, corrupt) in cases {
        let mut f = Fake::new();
        f.csw_hook = on_pairing(corrupt);
        let e = pair_with(&mut f, &id(), &fast()).unwrap_err();
        let PairError::Protocol { err: source, .. } = &e else {
            panic!("{what}: {e:?}")
        };
        let ok = match what {
            "wrong tag" => matches!(source, BotError::TagMismatch { .. }),
            "bad signature" => matches!(source, BotError::Signature { .. }),
            "residue > length" => matches!(
                source,
                BotError::Residue {
                    residue: 0x2001,
                    requested: 0x2000
                }
            ),
            "reserved status" => matches!(source, BotError::ReservedStatus(0x42)),
            _ => matches!(source, BotError::Length { got: 32, .. }),
        };
        assert!(ok, "{what}: {source:?}");
        assert!(
            f.events.contains(&Event::ClassOut(REQ_BULK_ONLY_RESET)),
            "{what}: reset recovery"
        );
        assert!(f.events.contains(&Event::ClearHalt(Pipe::BulkIn)), "{what}");
        assert!(
            f.events.contains(&Event::ClearHalt(Pipe::BulkOut)),
            "{what}"
        );
    }
}

#[test]
fn phase_error_status_resets_and_fails() {
    let mut f = Fake::new();
    f.csw_hook = on_pairing(|_, c| c[12] = 2);
    let e = pair_with(&mut f, &id(), &fast()).unwrap_err();
    assert!(matches!(e, PairError::PhaseError { .. }), "{e:?}");
    assert!(f.events.contains(&Event::ClassOut(REQ_BULK_ONLY_RESET)));
}

#[test]
fn stalls_on_both_pipes_are_cleared() {
    let mut f = Fake::new();
    f.stall_next_writes = 1;
    f.stall_next_reads = 1;
    pair_with(&mut f, &id(), &fast()).unwrap();
    assert_eq!(
        &f.events[..4],
        &[
            Event::ClearHalt(Pipe::BulkOut),
            Event::Cbw(scsi::OP_TEST_UNIT_READY),
            Event::ClearHalt(Pipe::BulkIn),
            Event::Cbw(scsi::OP_INQUIRY),
        ]
    );
    assert!(f.block.is_some());
}

#[test]
fn endless_stall_gives_up() {
    let mut f = Fake::new();
    f.stall_next_writes = 100;
    let e = pair_with(&mut f, &id(), &fast()).unwrap_err();
    assert_eq!(e.transport_kind(), Some(ErrorKind::Stall));
    let clears = f
        .events
        .iter()
        .filter(|e| **e == Event::ClearHalt(Pipe::BulkOut))
        .count();
    assert_eq!(clears, 5);
}

#[test]
fn max_lun_is_read() {
    let mut f = Fake::new();
    f.max_lun = Some(1);
    assert_eq!(pair_with(&mut f, &id(), &fast()).unwrap().max_lun, 1);
    let mut f = Fake::new();
    f.max_lun = Some(200);
    assert_eq!(pair_with(&mut f, &id(), &fast()).unwrap().max_lun, 0);
}

#[test]
fn wrong_mode_advice_names_the_setting() {
    assert_eq!(wrong_mode_advice(UsbMode::MassStorage), None);
    for m in [
        UsbMode::PcRemote,
        UsbMode::Mtp,
        UsbMode::Ptp,
        UsbMode::ModeChooser,
        UsbMode::UvcStreaming,
    ] {
        let a = wrong_mode_advice(m).unwrap();
        assert!(a.contains("Mass Storage"), "{a}");
        assert!(a.contains("USB Connection"), "{a}");
        assert!(a.contains("alpha-bridge pair"), "{a}");
    }
    assert!(wrong_mode_advice(UsbMode::PcRemote)
        .unwrap()
        .contains("back to PC Remote"));
    assert!(wrong_mode_advice(UsbMode::Mtp)
        .unwrap()
        .contains("back to MTP"));
    assert_eq!(
        UsbMode::from_interface(8, 6, 0x50),
        Some(UsbMode::MassStorage)
    );
    assert_eq!(UsbMode::from_interface(6, 1, 1), Some(UsbMode::Ptp));
    assert_eq!(UsbMode::from_interface(3, 0, 0), Some(UsbMode::ModeChooser));
    assert_eq!(UsbMode::from_interface(0xFF, 0, 0), None);
}
