//! An emulated Sony body in USB Mass Storage mode (interface 08/06/50), device side of
//! Bulk-Only Transport over a [`DevicePipe`]: it answers the SCSI commands a pairing
//! host sends (TEST UNIT READY, INQUIRY, REQUEST SENSE, READ CAPACITY and READ(10) of
//! a tiny blank read-only disk, plus the few commands a kernel host probes with in
//! gadget mode) and Sony's vendor command `0x7A` with ExtCmd plugin 4 / sub-command 8
//! (ForceRegistHostNetInfo), storing the GUID and host name in a [`Registry`]
//! (docs/protocol/pairing.md; USB MSC BOT 1.0 §6).
//!
//! It checks every wrapper and block the host sends and keeps the host honest: an
//! invalid CBW is counted and gets no CSW (a real device would stall both pipes until a
//! Bulk-Only reset, which an in-process pipe cannot carry); a direction or length
//! disagreement is a phase error. This is an independent implementation of the device
//! side: it must not use the host's pairing code (nor camera, pipeline, offload), so a
//! misreading of the protocol on one side cannot hide the same misreading on the other.

use super::registry::{Registry, RegistryError};
use crate::transport::{DevicePipe, ErrorKind, TransportError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CBW_LEN: usize = 31;
/// The biggest single OUT transfer we take; the pairing block is 8192 bytes.
const MAX_OUT_TRANSFER: usize = 64 * 1024;
/// The part of an OUT data phase we keep; the rest is read and dropped.
const MAX_KEPT_DATA: usize = 0x2000;
const POLL: Duration = Duration::from_millis(100);
const BLOCK_SIZE: u32 = 512;
/// Largest fake disk (in blocks) a READ(10) may be served from: 8 MiB.
const MAX_BLOCKS: u32 = 16 * 1024;

/// What the emulated body says about itself, and test switches.
#[derive(Debug, Clone)]
pub struct MscConfig {
    /// INQUIRY vendor (8 characters max); real bodies say "Sony".
    pub vendor: String,
    /// INQUIRY product (16 characters max); real bodies say "DSC".
    pub product: String,
    /// INQUIRY revision (4 characters max).
    pub revision: String,
    /// Size of the blank fake disk in 512-byte blocks (capped at 16384, 8 MiB).
    pub blocks: u32,
    /// Answer this many pairing commands with Sony's "busy" sense before accepting one.
    pub busy_pairing_commands: u32,
}

impl Default for MscConfig {
    fn default() -> Self {
        MscConfig {
            vendor: "Sony".into(),
            product: "DSC".into(),
            revision: "1.00".into(),
            blocks: 2048,
            busy_pairing_commands: 0,
        }
    }
}

/// Counters a test or the `emulate` command can report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MscStats {
    /// Valid CBWs handled.
    pub commands: u64,
    /// Transfers rejected as CBWs (wrong length, signature, reserved bits).
    pub invalid_cbws: u64,
    /// Commands answered with status 1.
    pub failed: u64,
    /// Commands answered with status 2.
    pub phase_errors: u64,
    /// Successful pairing writes.
    pub registrations: u64,
}

/// Why the emulator stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MscError {
    /// The USB pipe failed.
    #[error("mass storage emulator: {0}")]
    Transport(TransportError),
}

// By hand, not `#[from]`: that would also make the transport error the `source()`,
// and a report of the whole chain would print its text twice.
impl From<TransportError> for MscError {
    fn from(e: TransportError) -> Self {
        MscError::Transport(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cbw {
    tag: u32,
    length: u32,
    data_in: bool,
    lun: u8,
    cdb: [u8; 16],
    cdb_len: usize,
}

/// Checks a CBW is valid and meaningful (BOT §6.2.1, §6.2.2); the reason otherwise.
fn parse_cbw(b: &[u8]) -> Result<Cbw, String> {
    if b.len() != CBW_LEN {
        return Err(format!("{} bytes instead of 31", b.len()));
    }
    if &b[0..4] != b"USBC" {
        return Err(format!("signature {:02x?}", &b[0..4]));
    }
    if b[12] & 0x7F != 0 {
        return Err(format!("reserved flag bits {:#04x}", b[12]));
    }
    if b[13] & 0xF0 != 0 {
        return Err(format!("reserved LUN bits {:#04x}", b[13]));
    }
    let cdb_len = b[14] as usize;
    if !(1..=16).contains(&cdb_len) {
        return Err(format!("command block length {cdb_len}"));
    }
    let mut cdb = [0u8; 16];
    cdb.copy_from_slice(&b[15..31]);
    Ok(Cbw {
        tag: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        length: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        data_in: b[12] & 0x80 != 0,
        lun: b[13],
        cdb,
        cdb_len,
    })
}

fn csw(tag: u32, residue: u32, status: u8) -> [u8; 13] {
    let mut b = [0u8; 13];
    b[0..4].copy_from_slice(b"USBS");
    b[4..8].copy_from_slice(&tag.to_le_bytes());
    b[8..12].copy_from_slice(&residue.to_le_bytes());
    b[12] = status;
    b
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sense {
    key: u8,
    asc: u8,
    ascq: u8,
}

const NO_SENSE: Sense = Sense {
    key: 0,
    asc: 0,
    ascq: 0,
};
const ILLEGAL_OPCODE: Sense = Sense {
    key: 0x5,
    asc: 0x20,
    ascq: 0,
};
const INVALID_CDB_FIELD: Sense = Sense {
    key: 0x5,
    asc: 0x24,
    ascq: 0,
};
const LUN_NOT_SUPPORTED: Sense = Sense {
    key: 0x5,
    asc: 0x25,
    ascq: 0,
};
const LBA_OUT_OF_RANGE: Sense = Sense {
    key: 0x5,
    asc: 0x21,
    ascq: 0,
};
const INVALID_PARAMETER: Sense = Sense {
    key: 0x5,
    asc: 0x26,
    ascq: 0,
};
/// Sony's "busy, try again" (Sony-PMCA-RE, docs/protocol/pairing.md#sense-and-retries).
const SONY_BUSY: Sense = Sense {
    key: 0x9,
    asc: 0x81,
    ascq: 0x81,
};

/// The data phase a command wants.
enum Want {
    None,
    /// Device to host: these bytes (before truncation to the host's length).
    In(Vec<u8>),
    /// Host to device.
    Out,
}

/// The emulated body.
pub struct MscEmulator {
    config: MscConfig,
    registry: Registry,
    sense: Sense,
    busy_left: u32,
    stats: MscStats,
}

impl MscEmulator {
    /// An emulated disk with the given identity, writing registrations to `registry`.
    pub fn new(mut config: MscConfig, registry: Registry) -> MscEmulator {
        config.blocks = config.blocks.min(MAX_BLOCKS);
        MscEmulator {
            busy_left: config.busy_pairing_commands,
            config,
            registry,
            sense: NO_SENSE,
            stats: MscStats::default(),
        }
    }

    /// The hosts registered so far.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What the emulator has seen so far.
    pub fn stats(&self) -> MscStats {
        self.stats
    }

    /// Serves the host until it disconnects.
    pub fn serve(&mut self, pipe: &mut dyn DevicePipe) -> Result<MscStats, MscError> {
        self.serve_until(pipe, &AtomicBool::new(false))
    }

    /// Serves the host until it disconnects or `stop` is set.
    pub fn serve_until(
        &mut self,
        pipe: &mut dyn DevicePipe,
        stop: &AtomicBool,
    ) -> Result<MscStats, MscError> {
        let mut buf = vec![0u8; MAX_OUT_TRANSFER];
        while !stop.load(Ordering::SeqCst) {
            let n = match pipe.read_out(&mut buf, POLL) {
                Ok(n) => n,
                Err(e) if e.kind == ErrorKind::Timeout => continue,
                Err(e) if e.kind == ErrorKind::Disconnected => break,
                Err(e) if e.kind == ErrorKind::Overflow => {
                    self.invalid_cbw("an oversized transfer");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match parse_cbw(&buf[..n]) {
                Ok(cbw) => match self.execute(pipe, &cbw, &mut buf) {
                    Ok(()) => {}
                    Err(e) if e.kind == ErrorKind::Disconnected => break,
                    Err(e) => return Err(e.into()),
                },
                Err(why) => self.invalid_cbw(&why),
            }
        }
        log::debug!("mass storage emulator done: {:?}", self.stats);
        Ok(self.stats)
    }

    fn invalid_cbw(&mut self, why: &str) {
        self.stats.invalid_cbws += 1;
        log::warn!("emulated camera: invalid CBW ({why}); waiting for the next one");
    }

    fn execute(
        &mut self,
        pipe: &mut dyn DevicePipe,
        cbw: &Cbw,
        buf: &mut [u8],
    ) -> Result<(), TransportError> {
        self.stats.commands += 1;
        let cdb = &cbw.cdb[..cbw.cdb_len];
        let op = cdb[0];
        log::debug!(
            "emulated camera: op {op:#04x} tag {} len {} {}",
            cbw.tag,
            cbw.length,
            if cbw.data_in { "in" } else { "out" }
        );
        let len = cbw.length as usize;

        // What the command wants, decided before any data moves.
        let (want, mut outcome): (Want, Result<(), Sense>) = if cbw.lun != 0 {
            (Want::None, Err(LUN_NOT_SUPPORTED))
        } else {
            match op {
                0x00 => (Want::None, Ok(())),
                0x03 => {
                    let s = self.sense;
                    self.sense = NO_SENSE;
                    let mut d = vec![0u8; 18];
                    d[0] = 0x70;
                    d[2] = s.key;
                    d[7] = 10;
                    d[12] = s.asc;
                    d[13] = s.ascq;
                    d.truncate(cdb.get(4).copied().unwrap_or(0) as usize);
                    (Want::In(d), Ok(()))
                }
                0x12 => {
                    if cdb.get(1).is_some_and(|b| b & 0x01 != 0) {
                        // Vital product data pages: not emulated.
                        (Want::None, Err(INVALID_CDB_FIELD))
                    } else {
                        let alloc = u16::from_be_bytes([
                            cdb.get(3).copied().unwrap_or(0),
                            cdb.get(4).copied().unwrap_or(0),
                        ]) as usize;
                        let mut d = self.inquiry();
                        d.truncate(alloc);
                        (Want::In(d), Ok(()))
                    }
                }
                0x25 => {
                    let mut d = Vec::with_capacity(8);
                    d.extend_from_slice(&self.config.blocks.saturating_sub(1).to_be_bytes());
                    d.extend_from_slice(&BLOCK_SIZE.to_be_bytes());
                    (Want::In(d), Ok(()))
                }
                // READ(10) of the blank fake disk: what a kernel host reads when it
                // probes for a partition table (gadget mode).
                0x28 if cdb.len() >= 10 => {
                    let lba = u32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]) as u64;
                    let count = u16::from_be_bytes([cdb[7], cdb[8]]) as u64;
                    if lba + count > self.config.blocks as u64 {
                        (Want::None, Err(LBA_OUT_OF_RANGE))
                    } else {
                        // At most the whole disk (MscConfig::blocks is capped) and never
                        // more than the host asked for.
                        let n = (count * BLOCK_SIZE as u64).min(len as u64) as usize;
                        (Want::In(vec![0u8; n]), Ok(()))
                    }
                }
                // MODE SENSE(6): a bare header, write-protected (WRITE is not emulated).
                0x1A => (Want::In(vec![3, 0, 0x80, 0]), Ok(())),
                // PREVENT/ALLOW MEDIUM REMOVAL, START STOP UNIT, SYNCHRONIZE CACHE(10).
                0x1E | 0x1B | 0x35 => (Want::None, Ok(())),
                0x7A if !cbw.data_in && len > 0 => (Want::Out, Ok(())),
                0x7A => (Want::None, Err(INVALID_CDB_FIELD)),
                _ => (Want::None, Err(ILLEGAL_OPCODE)),
            }
        };

        // Data phase, following the host's CBW and judging it against `want`.
        let mut phase_error = false;
        let mut residue = cbw.length;
        let mut kept = Vec::new();
        match (&want, cbw.data_in, len) {
            (_, _, 0) => {
                // Hn: the host expects no data. If we wanted some, that's case 2/3.
                phase_error = match &want {
                    Want::None => false,
                    Want::In(d) => !d.is_empty(),
                    Want::Out => true,
                };
            }
            (Want::In(d), true, _) => {
                let n = d.len().min(len);
                // A short or zero-length transfer ends the data phase early.
                pipe.write_in(&d[..n])?;
                residue = (len - n) as u32;
            }
            (Want::Out, false, _) => {
                let got = read_data_out(pipe, len, buf, &mut kept)?;
                residue = (len - got) as u32;
            }
            (_, true, _) => {
                // Hi > Dn or Hi <> Do: end the data phase empty.
                pipe.write_in(&[])?;
                phase_error = !matches!(want, Want::None);
            }
            (_, false, _) => {
                // Ho > Dn or Ho <> Di: take the host's data and drop it.
                read_data_out(pipe, len, buf, &mut Vec::new())?;
                phase_error = !matches!(want, Want::None);
            }
        }

        if !phase_error && outcome.is_ok() && matches!(want, Want::Out) && op == 0x7A {
            outcome = self.ext_cmd(cdb, &kept, len - residue as usize);
        }

        let status = if phase_error {
            self.stats.phase_errors += 1;
            2
        } else {
            match outcome {
                Ok(()) => {
                    if op != 0x03 {
                        self.sense = NO_SENSE;
                    }
                    0
                }
                Err(s) => {
                    self.sense = s;
                    self.stats.failed += 1;
                    1
                }
            }
        };
        pipe.write_in(&csw(cbw.tag, residue, status))
    }

    fn inquiry(&self) -> Vec<u8> {
        let mut d = vec![0u8; 36];
        d[0] = 0x00; // direct-access block device
        d[1] = 0x80; // removable medium (the memory card)
        d[2] = 0x02;
        d[3] = 0x02;
        d[4] = 31;
        let put = |d: &mut Vec<u8>, at: usize, width: usize, s: &str| {
            let mut field = vec![b' '; width];
            for (i, c) in s
                .bytes()
                .filter(|c| (0x20..0x7F).contains(c))
                .take(width)
                .enumerate()
            {
                field[i] = c;
            }
            d[at..at + width].copy_from_slice(&field);
        };
        put(&mut d, 8, 8, &self.config.vendor);
        put(&mut d, 16, 16, &self.config.product);
        put(&mut d, 32, 4, &self.config.revision);
        d
    }

    /// `0x7A` with data OUT: ExtCmd plugin in CDB bytes 1..5, request block in `data`.
    fn ext_cmd(&mut self, cdb: &[u8], data: &[u8], received: usize) -> Result<(), Sense> {
        if cdb.len() < 5 {
            return Err(INVALID_CDB_FIELD);
        }
        let plugin = u32::from_le_bytes([cdb[1], cdb[2], cdb[3], cdb[4]]);
        if plugin != 4 {
            log::warn!("emulated camera: ExtCmd plugin {plugin} is not emulated");
            return Err(INVALID_CDB_FIELD);
        }
        if self.busy_left > 0 {
            self.busy_left -= 1;
            log::debug!("emulated camera: busy ({} more)", self.busy_left);
            return Err(SONY_BUSY);
        }
        let (guid, name) = match parse_regist_block(data, received) {
            Ok(v) => v,
            Err(why) => {
                log::warn!("emulated camera: rejected pairing block: {why}");
                return Err(INVALID_PARAMETER);
            }
        };
        match self.registry.register(guid, &name) {
            Ok(()) => {
                self.stats.registrations += 1;
                Ok(())
            }
            Err(e @ RegistryError::Io { .. }) | Err(e @ RegistryError::Corrupt { .. }) => {
                log::error!("emulated camera: cannot store the pairing: {e}");
                // "Write error" is the closest SCSI answer.
                Err(Sense {
                    key: 0x3,
                    asc: 0x0C,
                    ascq: 0,
                })
            }
        }
    }
}

/// Reads an OUT data phase of `len` bytes, keeping up to [`MAX_KEPT_DATA`] of it in
/// `kept`; stops early at a short packet. Returns the bytes received.
fn read_data_out(
    pipe: &mut dyn DevicePipe,
    len: usize,
    buf: &mut [u8],
    kept: &mut Vec<u8>,
) -> Result<usize, TransportError> {
    let mps = pipe.max_packet_size().max(1);
    let mut got = 0usize;
    while got < len {
        let want = (len - got).min(buf.len());
        let n = match pipe.read_out(&mut buf[..want], Duration::from_secs(5)) {
            Ok(n) => n,
            Err(e) if e.kind == ErrorKind::Overflow => {
                // The host sent more than it announced: what it sent is lost to us.
                log::warn!("emulated camera: data phase longer than the CBW said");
                return Ok(got);
            }
            // The host stopped short on a packet boundary without a zero-length packet.
            Err(e) if e.kind == ErrorKind::Timeout => {
                log::warn!("emulated camera: data phase ended after {got} of {len} bytes");
                return Ok(got);
            }
            Err(e) => return Err(e),
        };
        let keep = n.min(MAX_KEPT_DATA.saturating_sub(kept.len()));
        kept.extend_from_slice(&buf[..keep]);
        got += n;
        if n == 0 || n % mps != 0 {
            break;
        }
    }
    Ok(got)
}

/// Checks the ForceRegistHostNetInfo block (docs/protocol/pairing.md#registration-block)
/// and returns the GUID and host name in it.
fn parse_regist_block(b: &[u8], received: usize) -> Result<([u8; 16], String), String> {
    if received != 0x2000 || b.len() != 0x2000 {
        return Err(format!("{received} bytes instead of 8192"));
    }
    let u32at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let size = u32at(0) as usize;
    let command = u16at(4);
    let direction = u16at(6);
    if command != 8 {
        return Err(format!("ExtCmd sub-command {command} is not emulated"));
    }
    if direction != 0 {
        return Err(format!("direction {direction} in a request"));
    }
    // The payload must reach at least the end of the GUID (abs. 197).
    if !(197 - 16..=0x2000 - 16).contains(&size) {
        return Err(format!("dataSize {size:#x}"));
    }
    if u32at(177) != 16 {
        return Err(format!("id length {} instead of 16", u32at(177)));
    }
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&b[181..197]);
    if guid == [0u8; 16] {
        return Err("all-zero GUID".into());
    }
    // Name: UTF-16LE from abs. 17 up to a NUL, inside the zero area before the id.
    let units: Vec<u16> = b[17..177]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    let name = String::from_utf16_lossy(&units);
    Ok((guid, name))
}

/// Fuzzing entry point (fuzz/fuzz_targets/msc_cbw.rs): runs the CBW check and the
/// pairing-block parser over arbitrary host bytes. Both must refuse, never panic.
#[doc(hidden)]
pub fn fuzz_host_bytes(b: &[u8]) {
    let _ = parse_cbw(b);
    // The block parser only looks at whole 8 KiB blocks; pad or cut to one.
    let mut block = vec![0u8; 0x2000];
    let n = b.len().min(block.len());
    block[..n].copy_from_slice(&b[..n]);
    let _ = parse_regist_block(&block, 0x2000);
    let _ = parse_regist_block(b, b.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::memory;
    use crate::transport::Transport;

    const T: Duration = Duration::from_secs(5);

    fn cbw(tag: u32, len: u32, data_in: bool, lun: u8, cdb: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 31];
        b[0..4].copy_from_slice(b"USBC");
        b[4..8].copy_from_slice(&tag.to_le_bytes());
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b[12] = if data_in { 0x80 } else { 0 };
        b[13] = lun;
        b[14] = cdb.len() as u8;
        b[15..15 + cdb.len()].copy_from_slice(cdb);
        b
    }

    /// The sony-guid-setter block, written out by hand from
    /// docs/protocol/pairing.md#registration-block.
    fn sgs_block() -> Vec<u8> {
        let mut b = vec![0u8; 8192];
        b[0] = 0x25;
        b[1] = 0x01;
        b[4] = 8;
        b[17..27].copy_from_slice(&[0x6C, 0, 0x69, 0, 0x6E, 0, 0x75, 0, 0x78, 0]);
        b[177] = 16;
        b[181..197].copy_from_slice(&[
            0xFF, 0xFF, 0x52, 0x54, 0x00, 0xB6, 0xFD, 0xA9, 0xFF, 0xFF, 0x52, 0x3C, 0x28, 0x07,
            0xA9, 0x3A,
        ]);
        b
    }

    fn start(config: MscConfig) -> (memory::HostEnd, std::thread::JoinHandle<MscStats>, Registry) {
        let (host, mut dev, _) = memory::pair(512);
        let registry = Registry::in_memory();
        let r2 = registry.clone();
        let h = std::thread::spawn(move || MscEmulator::new(config, r2).serve(&mut dev).unwrap());
        (host, h, registry)
    }

    fn read_csw(host: &mut memory::HostEnd) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        let n = host.read(&mut b, T).unwrap();
        b.truncate(n);
        b
    }

    #[test]
    fn sony_guid_setter_bytes_register_the_guid() {
        let (mut host, h, reg) = start(MscConfig::default());
        // The exact CBW of docs/protocol/pairing.md#command-block-wrapper.
        let c = cbw(1, 0x2000, false, 0, &[0x7A, 4, 0, 0, 0, 0, 0, 0, 0]);
        host.write(&c, T).unwrap();
        host.write(&sgs_block(), T).unwrap();
        assert_eq!(read_csw(&mut host), csw(1, 0, 0));
        let guid: [u8; 16] = sgs_block()[181..197].try_into().unwrap();
        assert!(reg.is_registered(&guid));
        assert_eq!(reg.host_name(&guid).as_deref(), Some("linux"));
        drop(host);
        let stats = h.join().unwrap();
        assert_eq!(stats.registrations, 1);
    }

    #[test]
    fn invalid_cbws_get_no_answer_and_are_counted() {
        let (mut host, h, _) = start(MscConfig::default());
        let good = cbw(5, 0, false, 0, &[0; 6]);
        let mut bad_sig = good.clone();
        bad_sig[0] = b'X';
        let mut bad_flags = good.clone();
        bad_flags[12] = 0x40;
        let mut bad_len = good.clone();
        bad_len[14] = 0;
        for bad in [&bad_sig[..], &bad_flags, &bad_len, &good[..30]] {
            host.write(bad, T).unwrap();
        }
        host.write(&good, T).unwrap();
        // The first answer is for the good CBW.
        assert_eq!(read_csw(&mut host), csw(5, 0, 0));
        drop(host);
        let s = h.join().unwrap();
        assert_eq!(s.invalid_cbws, 4);
        assert_eq!(s.commands, 1);
    }

    #[test]
    fn inquiry_sense_capacity_and_bad_lun() {
        let (mut host, h, _) = start(MscConfig::default());
        let mut b = vec![0u8; 36];
        host.write(&cbw(1, 36, true, 0, &[0x12, 0, 0, 0, 36, 0]), T)
            .unwrap();
        assert_eq!(host.read(&mut b, T).unwrap(), 36);
        assert_eq!(&b[8..16], b"Sony    ");
        assert_eq!(&b[16..19], b"DSC");
        assert_eq!(read_csw(&mut host), csw(1, 0, 0));

        host.write(&cbw(2, 8, true, 0, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), T)
            .unwrap();
        assert_eq!(host.read(&mut b[..8], T).unwrap(), 8);
        assert_eq!(&b[..8], &[0, 0, 0x07, 0xFF, 0, 0, 0x02, 0]);
        assert_eq!(read_csw(&mut host), csw(2, 0, 0));

        // LUN 1 does not exist: failed, then sense says so.
        host.write(&cbw(3, 0, false, 1, &[0; 6]), T).unwrap();
        assert_eq!(read_csw(&mut host), csw(3, 0, 1));
        host.write(&cbw(4, 18, true, 0, &[3, 0, 0, 0, 18, 0]), T)
            .unwrap();
        assert_eq!(host.read(&mut b[..18], T).unwrap(), 18);
        assert_eq!((b[2], b[12]), (0x5, 0x25));
        assert_eq!(read_csw(&mut host), csw(4, 0, 0));

        // READ(10) of block 2047 (the last): 512 zero bytes.
        let mut blk = vec![0xAAu8; 1024];
        host.write(
            &cbw(6, 512, true, 0, &[0x28, 0, 0, 0, 0x07, 0xFF, 0, 0, 1, 0]),
            T,
        )
        .unwrap();
        assert_eq!(host.read(&mut blk, T).unwrap(), 512);
        assert!(blk[..512].iter().all(|&b| b == 0));
        assert_eq!(read_csw(&mut host), csw(6, 0, 0));
        // ... and one past the end is refused.
        host.write(
            &cbw(7, 1024, true, 0, &[0x28, 0, 0, 0, 0x07, 0xFF, 0, 0, 2, 0]),
            T,
        )
        .unwrap();
        assert_eq!(host.read(&mut blk, T).unwrap(), 0);
        assert_eq!(read_csw(&mut host), csw(7, 1024, 1));

        // Unknown opcode with a data-in phase: empty data, failed, full residue.
        host.write(
            &cbw(5, 64, true, 0, &[0xA8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
            T,
        )
        .unwrap();
        assert_eq!(host.read(&mut b[..36], T).unwrap(), 0);
        assert_eq!(read_csw(&mut host), csw(5, 64, 1));
        drop(host);
        h.join().unwrap();
    }

    #[test]
    fn direction_mismatch_is_a_phase_error() {
        let (mut host, h, reg) = start(MscConfig::default());
        // The pairing command announced as data-in.
        host.write(&cbw(1, 0x2000, true, 0, &[0x7A, 4, 0, 0, 0]), T)
            .unwrap();
        let mut b = vec![0u8; 0x2000];
        assert_eq!(host.read(&mut b, T).unwrap(), 0);
        assert_eq!(read_csw(&mut host), csw(1, 0x2000, 1));
        // INQUIRY announced as data-out: the device drops the data, phase error.
        host.write(&cbw(2, 36, false, 0, &[0x12, 0, 0, 0, 36, 0]), T)
            .unwrap();
        host.write(&[0u8; 36], T).unwrap();
        assert_eq!(read_csw(&mut host)[12], 2);
        drop(host);
        assert_eq!(h.join().unwrap().phase_errors, 1);
        assert!(reg.hosts().is_empty());
    }

    #[test]
    fn bad_blocks_are_refused_with_sense() {
        type Edit = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("sub-command", Box::new(|b| b[4] = 9)),
            ("direction", Box::new(|b| b[6] = 1)),
            ("id length", Box::new(|b| b[177] = 8)),
            (
                "dataSize",
                Box::new(|b| b[0..4].copy_from_slice(&[0x10, 0, 0, 0])),
            ),
            ("zero guid", Box::new(|b| b[181..197].fill(0))),
            ("short", Box::new(|b| b.truncate(4000))),
        ];
        for (what, edit) in cases {
            let (mut host, h, reg) = start(MscConfig::default());
            let mut blk = sgs_block();
            edit(&mut blk);
            host.write(
                &cbw(1, 0x2000, false, 0, &[0x7A, 4, 0, 0, 0, 0, 0, 0, 0]),
                T,
            )
            .unwrap();
            host.write(&blk, T).unwrap();
            let c = read_csw(&mut host);
            assert_eq!(c[12], 1, "{what}");
            host.write(&cbw(2, 18, true, 0, &[3, 0, 0, 0, 18, 0]), T)
                .unwrap();
            let mut s = [0u8; 18];
            host.read(&mut s, T).unwrap();
            assert_eq!(s[2], 0x5, "{what}");
            assert!(reg.hosts().is_empty(), "{what}");
            drop(host);
            h.join().unwrap();
        }
    }

    #[test]
    fn busy_first_then_accepts() {
        let (mut host, h, reg) = start(MscConfig {
            busy_pairing_commands: 1,
            ..MscConfig::default()
        });
        for (tag, status) in [(1u32, 1u8), (3, 0)] {
            host.write(
                &cbw(tag, 0x2000, false, 0, &[0x7A, 4, 0, 0, 0, 0, 0, 0, 0]),
                T,
            )
            .unwrap();
            host.write(&sgs_block(), T).unwrap();
            assert_eq!(read_csw(&mut host), csw(tag, 0, status));
            if status == 1 {
                host.write(&cbw(2, 18, true, 0, &[3, 0, 0, 0, 18, 0]), T)
                    .unwrap();
                let mut s = [0u8; 18];
                host.read(&mut s, T).unwrap();
                assert_eq!((s[2], s[12], s[13]), (9, 0x81, 0x81));
                read_csw(&mut host);
            }
        }
        assert_eq!(reg.hosts().len(), 1);
        drop(host);
        h.join().unwrap();
    }

    proptest::proptest! {
        #[test]
        fn random_block_and_cbw_never_panic(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            at in 0usize..8192,
        ) {
            let _ = parse_cbw(&b);
            // Splice the random bytes into a valid block at a random place.
            let mut blk = sgs_block();
            let n = b.len().min(8192 - at);
            blk[at..at + n].copy_from_slice(&b[..n]);
            let _ = parse_regist_block(&blk, 8192);
            let _ = parse_regist_block(&b, b.len());
        }
    }

    #[test]
    fn garbage_transfers_do_not_stop_the_emulator() {
        let (mut host, h, _) = start(MscConfig::default());
        let mut x = 0x9E37_79B9u32;
        for i in 0..200usize {
            let len = [0, 1, 13, 30, 31, 32, 511, 512, 4096][i % 9];
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            // Random bytes that happen to be a valid CBW would expect an answer;
            // make sure they never start with the signature.
            if v.starts_with(b"USBC") {
                continue;
            }
            host.write(&v, T).unwrap();
        }
        host.write(&cbw(9, 0, false, 0, &[0; 6]), T).unwrap();
        assert_eq!(read_csw(&mut host), csw(9, 0, 0));
        drop(host);
        assert_eq!(h.join().unwrap().commands, 1);
    }
}
