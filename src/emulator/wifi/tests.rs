//! End-to-end tests of the emulated body over loopback TCP/UDP (or inside a network
//! namespace the test creates), driven by a minimal initiator written here on top of
//! the shared `ptp::ptpip` codec. It deliberately shares nothing with `offload`, so a
//! bug on one side cannot hide a bug on the other; gphoto2 judges the emulator too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use crate::ptp::codec::Reader;
use crate::ptp::codes::{OpCode, ResponseCode};
use crate::ptp::container::Params;
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::ptpip::{Decoder, Packet, PROTOCOL_VERSION};
use crate::ptp::sony::ExtCmd;

use super::*;

const GUID: [u8; 16] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 0, 0x27, 0xf5, 0x16, 0x4f,
];
const OTHER_GUID: [u8; 16] = [9; 16];
/// Bounds a hang; never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(20);

/// How the test initiator sends data-out phases.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutStyle {
    /// PlayMemories: Data packet(s), then an empty End Data.
    EmptyEnd,
    /// libgphoto2: the last chunk inside End Data.
    LastInEnd,
}

struct Client {
    cmd: TcpStream,
    _evt: TcpStream,
    dec: Decoder,
    tid: u32,
    ack: Packet,
    out_style: OutStyle,
    /// Data-in packet types seen in the last data phase (9, 10, 12).
    last_phase: Vec<u32>,
}

/// Through the crate's one PTP/IP reader, as the body itself reads.
fn read_packet(s: &mut TcpStream, dec: &mut Decoder) -> std::io::Result<Option<Packet>> {
    super::wire::read(dec, s)
}

fn try_send(s: &mut TcpStream, p: &Packet) -> std::io::Result<()> {
    let mut v = Vec::new();
    p.encode(&mut v).unwrap();
    s.write_all(&v)
}

fn send(s: &mut TcpStream, p: &Packet) {
    try_send(s, p).unwrap();
}

fn init_command(addr: SocketAddr, guid: [u8; 16]) -> (TcpStream, Decoder, Option<Packet>) {
    let mut cmd = TcpStream::connect(addr).unwrap();
    cmd.set_read_timeout(Some(PATIENCE)).unwrap();
    send(
        &mut cmd,
        &Packet::InitCommandRequest {
            guid,
            name: "test-host".into(),
            version: Some(PROTOCOL_VERSION),
        },
    );
    let mut dec = Decoder::new();
    let p = read_packet(&mut cmd, &mut dec).unwrap();
    (cmd, dec, p)
}

impl Client {
    fn connect(addr: SocketAddr, guid: [u8; 16]) -> Client {
        let (cmd, dec, ack) = init_command(addr, guid);
        let ack = ack.expect("no init ack");
        let Packet::InitCommandAck { connection, .. } = ack else {
            panic!("expected an Init Command Ack, got {ack:?}");
        };
        let mut evt = TcpStream::connect(addr).unwrap();
        evt.set_read_timeout(Some(PATIENCE)).unwrap();
        send(&mut evt, &Packet::InitEventRequest { connection });
        let mut edec = Decoder::new();
        assert_eq!(
            read_packet(&mut evt, &mut edec).unwrap(),
            Some(Packet::InitEventAck)
        );
        send(&mut evt, &Packet::ProbeRequest);
        assert_eq!(
            read_packet(&mut evt, &mut edec).unwrap(),
            Some(Packet::ProbeResponse)
        );
        Client {
            cmd,
            _evt: evt,
            dec,
            tid: 0,
            ack,
            out_style: OutStyle::LastInEnd,
            last_phase: Vec::new(),
        }
    }

    /// One transaction; returns (response code, response params, data-in bytes).
    fn try_op(
        &mut self,
        code: u16,
        params: &[u32],
        data_out: Option<&[u8]>,
    ) -> std::io::Result<(ResponseCode, Vec<u32>, Vec<u8>)> {
        let tid = self.tid;
        self.tid += 1;
        let p = Packet::OperationRequest {
            data_phase: if data_out.is_some() { 2 } else { 1 },
            code: OpCode(code),
            tid,
            params: Params::new(params).unwrap(),
        };
        try_send(&mut self.cmd, &p)?;
        if let Some(d) = data_out {
            try_send(
                &mut self.cmd,
                &Packet::StartData {
                    tid,
                    total: d.len() as u64,
                },
            )?;
            match self.out_style {
                OutStyle::EmptyEnd => {
                    for c in d.chunks(7) {
                        try_send(
                            &mut self.cmd,
                            &Packet::Data {
                                tid,
                                payload: c.to_vec(),
                            },
                        )?;
                    }
                    try_send(
                        &mut self.cmd,
                        &Packet::EndData {
                            tid,
                            payload: vec![],
                        },
                    )?;
                }
                OutStyle::LastInEnd => try_send(
                    &mut self.cmd,
                    &Packet::EndData {
                        tid,
                        payload: d.to_vec(),
                    },
                )?,
            }
        }
        let mut data = Vec::new();
        let mut total = None;
        self.last_phase.clear();
        loop {
            let p = read_packet(&mut self.cmd, &mut self.dec)?
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"))?;
            self.last_phase.push(p.packet_type().0);
            match p {
                Packet::StartData { tid: t, total: n } => {
                    assert_eq!(t, tid);
                    total = Some(n);
                }
                Packet::Data { tid: t, payload } | Packet::EndData { tid: t, payload } => {
                    assert_eq!(t, tid);
                    data.extend_from_slice(&payload);
                }
                Packet::OperationResponse {
                    code,
                    tid: t,
                    params,
                } => {
                    assert_eq!(t, tid);
                    if let Some(n) = total {
                        assert_eq!(n, data.len() as u64, "Start Data total vs bytes");
                    }
                    return Ok((code, params.as_slice().to_vec(), data));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn op(&mut self, code: u16, params: &[u32]) -> (ResponseCode, Vec<u32>, Vec<u8>) {
        self.try_op(code, params, None).unwrap()
    }

    fn ext(&mut self, sub: u16, payload: &[u8]) -> ResponseCode {
        let mut v = Vec::new();
        ExtCmd {
            sub_command: sub,
            direction: 0,
            payload,
        }
        .encode(&mut v);
        self.try_op(0x9280, &[4], Some(&v)).unwrap().0
    }

    fn open_and_start(&mut self) {
        assert_eq!(self.op(0x1002, &[1]).0, ResponseCode::OK);
        assert_eq!(self.op(0x1001, &[]).0, ResponseCode::OK);
        assert_eq!(self.ext(2, &[1, 1]), ResponseCode::OK);
        let (rc, _, block) = self.op(0x9281, &[4]);
        assert_eq!((rc, block.len()), (ResponseCode::OK, 8192));
    }

    fn handles(&mut self, parent: u32) -> Vec<u32> {
        let (rc, _, d) = self.op(0x1007, &[STORAGE_ID, 0, parent]);
        assert_eq!(rc, ResponseCode::OK);
        Reader::new(&d, "handles").u32_array("h").unwrap()
    }

    fn info(&mut self, h: u32) -> ObjectInfo {
        let (rc, _, d) = self.op(0x1008, &[h]);
        assert_eq!(rc, ResponseCode::OK);
        ObjectInfo::parse(&d).unwrap()
    }

    /// Every file as (folder, name, bytes), by walking folders the libgphoto2 way.
    fn download_all(&mut self) -> Vec<(String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for f in self.handles(0xFFFF_FFFF) {
            let fi = self.info(f);
            assert!(fi.is_folder());
            for h in self.handles(f) {
                let oi = self.info(h);
                let (rc, _, d) = self.op(0x1009, &[h]);
                assert_eq!(rc, ResponseCode::OK);
                out.push((fi.filename.clone(), oi.filename, d));
            }
        }
        out
    }
}

fn write_file(dir: &Path, name: &str, data: &[u8], secs: u64) {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A card with sizes around the chunk boundary, an empty file and two days.
fn card() -> (tempfile::TempDir, Vec<(String, String, Vec<u8>)>) {
    let d = tempfile::tempdir().unwrap();
    let day1 = 1_795_627_992; // 2026-11-25
    let day2 = day1 - 86_400 * 30;
    let files = [
        ("DSC00001.JPG", 1000, day1),
        ("DSC00002.ARW", 256 * 1024, day1),
        ("DSC00003.HIF", 256 * 1024 + 1, day1),
        ("C0001.MP4", 700_001, day2),
        ("EMPTY.JPG", 0, day2),
    ];
    let mut want = Vec::new();
    for (i, (name, size, t)) in files.iter().enumerate() {
        let data = pattern(*size, i as u32 + 1);
        write_file(d.path(), name, &data, *t);
        let folder = storage::dates_for(UNIX_EPOCH + Duration::from_secs(*t)).0;
        want.push((folder, name.to_string(), data));
    }
    want.sort();
    (d, want)
}

fn emulator(dir: &Path, tweak: impl FnOnce(&mut WifiConfig)) -> WifiEmulator {
    let mut cfg = WifiConfig::new(dir)
        .for_tests(None)
        .accept_guids(vec![GUID]);
    tweak(&mut cfg);
    WifiEmulator::start(cfg).unwrap()
}

#[test]
fn unregistered_guid_gets_init_fail_and_registered_gets_an_ack() {
    let (d, _) = card();
    let emu = emulator(d.path(), |_| {});
    let (_s, _, p) = init_command(emu.ptpip_addr(), OTHER_GUID);
    assert_eq!(p, Some(Packet::InitFail { reason: 1 }));
    let c = Client::connect(emu.ptpip_addr(), GUID);
    let Packet::InitCommandAck { name, version, .. } = &c.ack else {
        unreachable!()
    };
    assert_eq!((name.as_str(), *version), ("ILCE-6400", None));
    let st = emu.stats();
    assert_eq!((st.init_requests, st.init_fails, st.sessions), (2, 1, 1));

    // The version is switchable, and a registry callback can decide.
    let (d2, _) = card();
    let emu2 = emulator(d2.path(), |c| {
        c.ack_with_version = true;
        c.accept = Box::new(|g| g[15] == 0x4f);
    });
    let c2 = Client::connect(emu2.ptpip_addr(), GUID);
    assert!(matches!(
        c2.ack,
        Packet::InitCommandAck {
            version: Some(PROTOCOL_VERSION),
            ..
        }
    ));
}

#[test]
fn one_session_per_activation() {
    let (d, _) = card();
    let emu = emulator(d.path(), |_| {});
    let mut a = Client::connect(emu.ptpip_addr(), GUID);
    assert_eq!(a.op(0x1002, &[1]).0, ResponseCode::OK);
    // A second initiator is accepted at TCP level and never answered.
    let mut b = TcpStream::connect(emu.ptpip_addr()).unwrap();
    send(
        &mut b,
        &Packet::InitCommandRequest {
            guid: GUID,
            name: "second".into(),
            version: Some(PROTOCOL_VERSION),
        },
    );
    let st = emu.wait_for(PATIENCE, |s| s.unanswered_inits == 1);
    assert_eq!(st.unanswered_inits, 1);
    b.set_nonblocking(true).unwrap();
    let mut x = [0u8; 1];
    assert_eq!(
        b.read(&mut x).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    // The first session is unaffected.
    assert_eq!(a.op(0x1001, &[]).0, ResponseCode::OK);
    // Ending it without the power-off still spends the activation.
    assert_eq!(a.op(0x1003, &[]).0, ResponseCode::OK);
    drop(a);
    assert_eq!(
        emu.wait_for_activation(PATIENCE, Activation::Used),
        Activation::Used
    );
    let mut c = TcpStream::connect(emu.ptpip_addr()).unwrap();
    send(
        &mut c,
        &Packet::InitCommandRequest {
            guid: GUID,
            name: "third".into(),
            version: None,
        },
    );
    let st = emu.wait_for(PATIENCE, |s| s.unanswered_inits == 2);
    assert_eq!(st.unanswered_inits, 2);
    // The user re-enters Send to Computer.
    emu.reactivate();
    let mut d2 = Client::connect(emu.ptpip_addr(), GUID);
    assert_eq!(d2.op(0x1002, &[1]).0, ResponseCode::OK);
}

#[test]
fn storage_is_busy_until_the_sony_start_and_after_an_unread_9280() {
    let (d, _) = card();
    let emu = emulator(d.path(), |_| {});
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    // GetDeviceInfo works before OpenSession (airnef's order).
    let (rc, _, di) = c.op(0x1001, &[]);
    assert_eq!(rc, ResponseCode::OK);
    let di = DeviceInfo::parse(&di).unwrap();
    assert_eq!(di.vendor_extension_id, 0xFFFF_FFFF);
    assert_eq!(di.manufacturer, "Sony Corporation");
    assert_eq!(di.model, "ILCE-6400");
    for op in [
        0x1001, 0x1002, 0x1004, 0x1007, 0x1008, 0x1009, 0x101B, 0x9280, 0x9281,
    ] {
        assert!(di.supports(OpCode(op)), "{op:#x}");
    }
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::SESSION_NOT_OPEN);
    assert_eq!(c.op(0x1002, &[1]).0, ResponseCode::OK);
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::DEVICE_BUSY);
    assert_eq!(
        c.op(0x1007, &[STORAGE_ID, 0, 0xFFFF_FFFF]).0,
        ResponseCode::DEVICE_BUSY
    );
    // The start written, not read: still busy, for everything.
    c.out_style = OutStyle::EmptyEnd;
    assert_eq!(c.ext(2, &[1, 1]), ResponseCode::OK);
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::DEVICE_BUSY);
    assert_eq!(c.op(0x1001, &[]).0, ResponseCode::DEVICE_BUSY);
    let (rc, _, block) = c.op(0x9281, &[4]);
    assert_eq!((rc, block.len()), (ResponseCode::OK, 8192));
    let (rc, _, ids) = c.op(0x1004, &[]);
    assert_eq!(rc, ResponseCode::OK);
    assert_eq!(
        Reader::new(&ids, "ids").u32_array("ids").unwrap(),
        [STORAGE_ID]
    );
    // Another 0x9280 (any sub-command) without its read: busy again until the read.
    assert_eq!(c.ext(1, &[]), ResponseCode::OK);
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::DEVICE_BUSY);
    assert_eq!(c.op(0x9281, &[4]).0, ResponseCode::OK);
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::OK);
    assert!(emu.stats().started);
    // Other plugins are refused as on a real body.
    assert_eq!(
        c.try_op(0x9280, &[5], Some(&[0; 16])).unwrap().0,
        ResponseCode::PARAMETER_NOT_SUPPORTED
    );
    let ops = emu.stats().ops;
    assert_eq!(ops[0], OpCode::GET_DEVICE_INFO);
    assert_eq!(ops[1], OpCode::GET_STORAGE_IDS);
    assert_eq!(*ops.last().unwrap(), OpCode(0x9280));
}

#[test]
fn downloads_are_byte_identical_in_both_data_styles() {
    for style in [DataInStyle::EmptyEndData, DataInStyle::LastChunkInEndData] {
        let (d, want) = card();
        let emu = emulator(d.path(), |c| c.data_in_style = style);
        let mut c = Client::connect(emu.ptpip_addr(), GUID);
        c.open_and_start();
        let mut got = c.download_all();
        got.sort();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.0, &g.1), (&w.0, &w.1));
            assert!(g.2 == w.2, "{} differs", g.1);
        }
        // The last transfer's packet sequence shows the style.
        let mp4 = c.handles(0)[2];
        assert_eq!(c.info(mp4).filename, "C0001.MP4");
        let (rc, _, _) = c.op(0x1009, &[mp4]);
        assert_eq!(rc, ResponseCode::OK);
        let seq = &c.last_phase;
        match style {
            DataInStyle::EmptyEndData => {
                assert_eq!(seq[seq.len() - 2], 12);
                assert_eq!(seq[seq.len() - 3], 10);
            }
            DataInStyle::LastChunkInEndData => {
                assert_eq!(seq[seq.len() - 2], 12);
            }
        }
        // Folders: associations with empty capture dates; files carry their format.
        let roots = c.handles(0xFFFF_FFFF);
        assert_eq!(roots.len(), 2);
        let fi = c.info(roots[0]);
        assert_eq!(
            (fi.format.0, fi.association_type, fi.capture_date.as_str()),
            (0x3001, 1, "")
        );
        let all = c.handles(0);
        assert_eq!(all.len(), 7);
        let formats: Vec<u16> = all.iter().map(|&h| c.info(h).format.0).collect();
        for f in [0xB101, 0xB110, 0xB982, 0x3801] {
            assert!(formats.contains(&f), "{f:#x}");
        }
        let (rc, p, _) = c.op(0x1006, &[STORAGE_ID, 0x3801, 0]);
        assert_eq!((rc, p), (ResponseCode::OK, vec![2]));
        // Bad handles and missing parameters.
        assert_eq!(c.op(0x1008, &[999]).0, ResponseCode::INVALID_OBJECT_HANDLE);
        assert_eq!(
            c.op(0x1007, &[STORAGE_ID]).0,
            ResponseCode::PARAMETER_NOT_SUPPORTED
        );
        assert_eq!(c.op(0x1007, &[7, 0, 0]).0, ResponseCode::INVALID_STORAGE_ID);
        emu.stop();
    }
}

#[test]
fn partial_object_ranges() {
    let (d, want) = card();
    let emu = emulator(d.path(), |c| c.chunk_size = 4096);
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let h = *c
        .handles(0)
        .iter()
        .find(|&&h| c.info(h).filename == "C0001.MP4")
        .unwrap();
    let body = &want.iter().find(|w| w.1 == "C0001.MP4").unwrap().2;
    let size = body.len() as u32;
    for (off, max) in [
        (0, 10),
        (1, 4096),
        (4095, 4097),
        (size - 5, 100),
        (size, 10),
        (0, u32::MAX),
    ] {
        let (rc, p, data) = c.op(0x101B, &[h, off, max]);
        assert_eq!(rc, ResponseCode::OK);
        let end = (off as u64 + max as u64).min(size as u64) as usize;
        assert_eq!(p, vec![data.len() as u32]);
        assert!(data == body[off as usize..end], "range {off}+{max}");
    }
    assert_eq!(
        c.op(0x101B, &[h, size + 1, 10]).0,
        ResponseCode::INVALID_PARAMETER
    );
    // Chunked download in 100 000-byte pieces reassembles the file.
    let mut got = Vec::new();
    while got.len() < body.len() {
        let (_, _, data) = c.op(0x101B, &[h, got.len() as u32, 100_000]);
        got.extend_from_slice(&data);
    }
    assert!(got == *body);
}

#[test]
fn power_off_ends_the_session_and_the_activation() {
    let (d, _) = card();
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut cfg = WifiConfig::new(d.path())
        .for_tests(Some(target.local_addr().unwrap()))
        .accept_guids(vec![GUID]);
    cfg.ssdp.interval = Duration::from_secs(3600);
    let emu = WifiEmulator::start(cfg).unwrap();
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    assert_eq!(c.ext(5, &[]), ResponseCode::OK);
    let (rc, _, block) = c.op(0x9281, &[4]);
    assert_eq!((rc, block.len()), (ResponseCode::OK, 8192));
    // It still takes CloseSession, then closes the connection.
    assert_eq!(c.op(0x1003, &[]).0, ResponseCode::OK);
    let mut x = [0u8; 1];
    assert_eq!(c.cmd.read(&mut x).unwrap(), 0);
    let st = emu.wait_for(PATIENCE, |s| s.powered_off && s.byebyes_sent == 4);
    assert!(st.powered_off);
    assert_eq!(emu.activation(), Activation::PoweredOff);
    assert_eq!(st.byebyes_sent, 4, "{st:?}");
    // The NOTIFYs seen: four alive, then four byebye.
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    while seen.len() < 8 {
        let (n, _) = target.recv_from(&mut buf).unwrap();
        let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
        seen.push((m.nts().unwrap().to_string(), m.nt().unwrap().to_string()));
    }
    assert!(seen[..4].iter().all(|s| s.0 == "ssdp:alive"));
    assert!(seen[4..].iter().all(|s| s.0 == "ssdp:byebye"));
    // A powered-off body answers nobody.
    let mut s = TcpStream::connect(emu.ptpip_addr()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(&[0; 8]);
    assert_eq!(s.read(&mut x).unwrap_or(0), 0);
}

#[test]
fn abrupt_power_off_closes_at_once() {
    let (d, _) = card();
    let emu = emulator(d.path(), |c| c.faults.abrupt_power_off = true);
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    assert_eq!(c.ext(5, &[]), ResponseCode::OK);
    assert_eq!(c.op(0x9281, &[4]).0, ResponseCode::OK);
    assert!(c.try_op(0x1003, &[], None).is_err());
    assert!(emu.stats().powered_off);
}

#[test]
fn drop_mid_object_then_a_new_activation_resumes() {
    let (d, want) = card();
    let emu = emulator(d.path(), |c| {
        c.faults.drop_after_bytes = Some(1000 + 300_000);
        c.chunk_size = 64 * 1024;
    });
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let all = c.handles(0);
    let mut got = Vec::new();
    let mut failed = None;
    for h in all {
        let oi = c.info(h);
        if oi.is_folder() {
            continue;
        }
        match c.try_op(0x1009, &[h], None) {
            Ok((_, _, data)) => got.push((oi.filename, data)),
            Err(_) => {
                failed = Some((h, oi.filename));
                break;
            }
        }
    }
    let (h, name) = failed.expect("the fault fired");
    let st = emu.wait_for(PATIENCE, |s| s.drops_injected == 1);
    assert_eq!(st.drops_injected, 1);
    assert_eq!(st.object_bytes_sent, 301_000);
    assert_eq!(
        emu.wait_for_activation(PATIENCE, Activation::Used),
        Activation::Used
    );
    emu.reactivate();
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let (rc, _, data) = c.op(0x1009, &[h]);
    assert_eq!(rc, ResponseCode::OK);
    let w = &want.iter().find(|w| w.1 == name).unwrap().2;
    assert!(data == *w);
}

#[test]
fn hostile_names_lying_sizes_and_a_slow_link() {
    let (d, want) = card();
    let emu = emulator(d.path(), |c| {
        c.faults.rate_limit = Some(4 << 20);
        c.faults.fake_objects = vec![
            FakeObject {
                name: "../../evil.jpg".into(),
                data: b"evil".to_vec(),
                declared_size: None,
            },
            FakeObject {
                name: "a\u{1}b\nc\u{7f}.JPG".into(),
                data: b"ctl".to_vec(),
                declared_size: None,
            },
            FakeObject {
                name: "HUGE.MP4".into(),
                data: b"tiny".to_vec(),
                declared_size: Some(5 << 30),
            },
        ];
    });
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let mut by_name = std::collections::HashMap::new();
    for h in c.handles(0) {
        let oi = c.info(h);
        by_name.insert(oi.filename.clone(), (h, oi));
    }
    let (h, oi) = &by_name["../../evil.jpg"];
    assert_eq!(oi.compressed_size, 4);
    assert_eq!(c.op(0x1009, &[*h]).2, b"evil");
    assert!(by_name.contains_key("a\u{1}b\nc\u{7f}.JPG"));
    let (h, oi) = &by_name["HUGE.MP4"];
    assert_eq!(oi.compressed_size, 0xFFFF_FFFF);
    assert_eq!(c.op(0x1009, &[*h]).2, b"tiny");
    // The rate cap slows, never corrupts.
    let (h, _) = &by_name["DSC00003.HIF"];
    let w = &want.iter().find(|w| w.1 == "DSC00003.HIF").unwrap().2;
    assert!(c.op(0x1009, &[*h]).2 == *w);
}

#[test]
fn ssdp_unicast_announce_search_and_description() {
    let (d, _) = card();
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target.set_read_timeout(Some(PATIENCE)).unwrap();
    let emu = WifiEmulator::start(
        WifiConfig::new(d.path()).for_tests(Some(target.local_addr().unwrap())),
    )
    .unwrap();
    let mut buf = [0u8; 2048];
    let mut nts = Vec::new();
    let mut location = String::new();
    while nts.len() < 4 {
        let (n, _) = target.recv_from(&mut buf).unwrap();
        let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
        assert_eq!(m.nts(), Some("ssdp:alive"));
        location = m.location().unwrap().to_string();
        nts.push(m.nt().unwrap().to_string());
    }
    assert_eq!(
        nts[1..],
        [
            "upnp:rootdevice",
            "urn:microsoft-com:device:mtp:1",
            "urn:microsoft-com:service:MtpNullService:1"
        ]
    );
    assert!(nts[0].starts_with("uuid:00000000-0001-0010-8000-"));
    assert_eq!(location, emu.location());
    // The description.
    let mut h = TcpStream::connect(emu.http_addr()).unwrap();
    h.write_all(b"GET /DeviceDescription.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    h.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"));
    assert!(body.contains("<manufacturer>Sony Corporation</manufacturer>"));
    assert!(body.contains("<modelName>ILCE-6400</modelName>"));
    // M-SEARCH answers, unicast.
    let q = UdpSocket::bind("127.0.0.1:0").unwrap();
    q.set_read_timeout(Some(PATIENCE)).unwrap();
    let ssdp = emu.ssdp_addr().unwrap();
    let search = crate::ssdp::Message::search(crate::ssdp::MTP_NULL_SERVICE, 1).format();
    q.send_to(search.as_bytes(), ssdp).unwrap();
    let (n, from) = q.recv_from(&mut buf).unwrap();
    assert_eq!(from, ssdp);
    let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
    assert!(m.is_mtp_alive());
    assert_eq!(m.location(), Some(emu.location()));
    q.send_to(
        crate::ssdp::Message::search("ssdp:all", 1)
            .format()
            .as_bytes(),
        ssdp,
    )
    .unwrap();
    for _ in 0..4 {
        q.recv_from(&mut buf).unwrap();
    }
    let st = emu.wait_for(PATIENCE, |s| s.searches_answered == 2);
    assert_eq!(st.searches_answered, 2);
    // Byebye at stop.
    let st = emu.stop();
    assert_eq!(st.byebyes_sent, 4);
    loop {
        let (n, _) = target.recv_from(&mut buf).unwrap();
        let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
        if m.nts() == Some("ssdp:byebye") {
            break;
        }
    }
}

/// Runs `f` on a thread moved into a fresh network namespace with only `lo` up and a
/// multicast route on it, so nothing can leave through a real interface. `None` when
/// the namespace cannot be created (not root): the caller skips.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(move || {
        // SAFETY: unshare only changes this thread's network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            eprintln!(
                "skipping: cannot create a network namespace: {}",
                std::io::Error::last_os_error()
            );
            return None;
        }
        for args in [
            &["link", "set", "lo", "up"][..],
            &["route", "add", "239.0.0.0/8", "dev", "lo"][..],
        ] {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                eprintln!(
                    "skipping: `ip {}` failed in the test namespace",
                    args.join(" ")
                );
                return None;
            }
        }
        Some(f())
    })
    .join()
    .unwrap()
}

#[test]
fn ssdp_multicast_in_a_private_namespace() {
    let (d, _) = card();
    let dir = d.path().to_path_buf();
    in_netns(move || {
        use socket2::{Domain, Protocol, Socket, Type};
        let lo = std::net::Ipv4Addr::LOCALHOST;
        // A host-side listener on 1900, joined on lo.
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::from(([0, 0, 0, 0], 1900)).into())
            .unwrap();
        s.join_multicast_v4(&crate::ssdp::message::MULTICAST_ADDR, &lo)
            .unwrap();
        s.set_multicast_if_v4(&lo).unwrap();
        let host: UdpSocket = s.into();
        host.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut cfg = WifiConfig::new(&dir);
        cfg.ptpip_port = 0;
        cfg.http_port = 0;
        let emu = WifiEmulator::start(cfg).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = loop {
            let (n, from) = host.recv_from(&mut buf).unwrap();
            let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
            if m.is_mtp_alive() {
                break (n, from);
            }
        };
        let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
        assert_eq!(m.location(), Some(emu.location()));
        assert_eq!(from.ip(), std::net::IpAddr::V4(lo));
        // M-SEARCH to the group is answered unicast.
        let q = UdpSocket::bind("127.0.0.1:0").unwrap();
        q.set_read_timeout(Some(PATIENCE)).unwrap();
        let search = crate::ssdp::Message::search(crate::ssdp::MTP_NULL_SERVICE, 1).format();
        q.send_to(search.as_bytes(), "239.255.255.250:1900")
            .unwrap();
        let (n, _) = q.recv_from(&mut buf).unwrap();
        let m = crate::ssdp::Message::parse(&buf[..n]).unwrap();
        assert!(m.is_mtp_alive());
        emu.stop();
    });
}

fn gphoto2_present() -> bool {
    std::process::Command::new("gphoto2")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Debian's gphoto2 (libgphoto2's own PTP/IP initiator) downloads the card from the
/// emulator byte for byte. Runs in a private namespace so port 15740 is ours alone.
#[test]
fn gphoto2_downloads_identical_files() {
    if !gphoto2_present() {
        eprintln!("skipping: gphoto2 is not installed");
        return;
    }
    // Both data-in styles and both Init Command Ack forms.
    for (style, with_version) in [
        (DataInStyle::EmptyEndData, false),
        (DataInStyle::LastChunkInEndData, true),
    ] {
        gphoto2_run(style, with_version, true);
    }
    // An unregistered computer: Init Fail, gphoto2 gives up, nothing is written.
    gphoto2_run(DataInStyle::EmptyEndData, false, false);
}

/// Runs a child to completion, killing it if it outlives `PATIENCE` (a hang guard).
fn run_bounded(mut cmd: std::process::Command) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE * 3;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn gphoto2_run(style: DataInStyle, with_version: bool, registered: bool) {
    let (d, want) = card();
    let dir = d.path().to_path_buf();
    let result = in_netns(move || {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".gphoto")).unwrap();
        let guid: Vec<String> = GUID.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            home.path().join(".gphoto/settings"),
            format!("ptp2_ip=guid={}\n", guid.join(":")),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let accepted = if registered {
            vec![GUID]
        } else {
            vec![OTHER_GUID]
        };
        let mut cfg = WifiConfig::new(&dir).accept_guids(accepted);
        cfg.http_port = 0;
        cfg.ssdp.enabled = false;
        cfg.data_in_style = style;
        cfg.ack_with_version = with_version;
        let emu = WifiEmulator::start(cfg).unwrap();
        let mut cmd = std::process::Command::new("gphoto2");
        cmd.args(["--port", "ptpip:127.0.0.1", "--get-all-files", "--quiet"])
            .env("HOME", home.path())
            .env("LANG", "C")
            .current_dir(out.path());
        let o = run_bounded(cmd);
        let stats = emu.stop();
        let mut got = Vec::new();
        for e in std::fs::read_dir(out.path()).unwrap() {
            let e = e.unwrap();
            got.push((
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
        got.sort();
        (o, stats, got)
    });
    let Some((o, stats, got)) = result else {
        return;
    };
    let log = format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}\nops: {:?}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        stats.ops
    );
    eprintln!("{log}");
    if !registered {
        assert!(!o.status.success(), "{log}");
        assert_eq!((stats.init_fails, stats.sessions), (1, 0), "{log}");
        assert!(got.is_empty(), "{log}");
        return;
    }
    assert!(o.status.success(), "{log}");
    assert!(stats.started, "gphoto2 never sent the Sony start\n{log}");
    let mut want: Vec<(String, Vec<u8>)> = want.into_iter().map(|w| (w.1, w.2)).collect();
    want.sort();
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "{log}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g.1 == w.1, "{} differs\n{log}", g.0);
    }
}

#[test]
fn garbage_from_initiators_never_takes_the_body_down() {
    let (d, _) = card();
    let emu = emulator(d.path(), |_| {});
    let hostile: [&[u8]; 6] = [
        &[0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0],
        &[3, 0, 0, 0, 1, 0, 0, 0],
        &[8, 0, 0, 0, 99, 0, 0, 0],
        &[12, 0, 0, 0, 6, 0, 0, 0, 1, 2, 3, 4],
        &[0x2c, 0, 0, 0, 1, 0, 0, 0, 1, 2],
        b"GET / HTTP/1.1\r\n\r\n",
    ];
    for (i, bytes) in hostile.iter().enumerate() {
        let mut s = TcpStream::connect(emu.ptpip_addr()).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(bytes).unwrap();
        if i != 4 {
            // Complete junk is dropped by the body; the truncated one waits for us.
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
    // A session with an out-of-session garbage packet mid-way ends that session only.
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    assert_eq!(c.op(0x1002, &[1]).0, ResponseCode::OK);
    send(&mut c.cmd, &Packet::StartData { tid: 5, total: 1 });
    let mut x = [0u8; 1];
    assert_eq!(c.cmd.read(&mut x).unwrap_or(0), 0);
    assert_eq!(
        emu.wait_for_activation(PATIENCE, Activation::Used),
        Activation::Used
    );
    emu.reactivate();
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    assert_eq!(c.handles(0xFFFF_FFFF).len(), 2);
    // Finished connections are forgotten (no descriptor leak).
    drop(c);
    let ok = emu.wait_state(PATIENCE, |st| st.conns.is_empty());
    assert!(ok.conns.is_empty());
}

#[test]
fn objects_of_4_gib_and_more() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("C0002.MP4");
    let f = std::fs::File::create(&p).unwrap();
    let size: u64 = (4 << 30) + 1000;
    // Sparse: costs no disk.
    f.set_len(size).unwrap();
    drop(f);
    let tail = b"the end";
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::options().write(true).open(&p).unwrap();
        f.seek(SeekFrom::Start(size - tail.len() as u64)).unwrap();
        f.write_all(tail).unwrap();
    }
    let emu = emulator(d.path(), |_| {});
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let h = c.handles(0)[1];
    let oi = c.info(h);
    assert_eq!(
        (oi.filename.as_str(), oi.compressed_size),
        ("C0002.MP4", u32::MAX)
    );
    // u32 offsets reach only the first 4 GiB.
    let (rc, p, data) = c.op(0x101B, &[h, u32::MAX - 9, 100]);
    assert_eq!((rc, p), (ResponseCode::OK, vec![100]));
    assert!(data.iter().all(|&b| b == 0));
    // A file deleted behind the body's back is refused without a data phase.
    std::fs::remove_file(d.path().join("C0002.MP4")).unwrap();
    let (rc, _, data) = c.op(0x101B, &[h, 0, 100]);
    assert_eq!((rc, data.len()), (ResponseCode::GENERAL_ERROR, 0));
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::OK);
}

#[test]
fn guid_strings() {
    assert_eq!(
        parse_guid("00:00:00:00:00:00:00:00:ff:ff:08:00:27:f5:16:4f"),
        Some(GUID)
    );
    assert_eq!(
        parse_guid("00000000-0000-0000-ffff-080027f5164f"),
        Some(GUID)
    );
    assert_eq!(parse_guid("00:11"), None);
    assert_eq!(parse_guid("zz000000000000000000000000000000"), None);
}

/// Not a test of speed (nothing is asserted about time): prints the loopback rate and
/// the peak memory for one 1 GiB GetObject. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn throughput_1gib_getobject() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("BIG.MP4");
    let data = pattern(1 << 20, 7);
    {
        let mut f = std::fs::File::create(&p).unwrap();
        for _ in 0..1024 {
            f.write_all(&data).unwrap();
        }
    }
    let emu = emulator(d.path(), |c| c.chunk_size = 1 << 20);
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    c.open_and_start();
    let h = c.handles(0)[1];
    let t = std::time::Instant::now();
    // Stream it without keeping it (the test initiator would hold 1 GiB otherwise).
    let tid = c.tid;
    c.tid += 1;
    send(
        &mut c.cmd,
        &Packet::OperationRequest {
            data_phase: 1,
            code: OpCode(0x1009),
            tid,
            params: Params::new(&[h]).unwrap(),
        },
    );
    // Count raw bytes (no decoding) so the debug-build initiator is not the bottleneck:
    // Start Data, 1024 Data packets of 1 MiB, empty End Data, Operation Response.
    let expected: u64 = 20 + 1024 * (12 + (1 << 20)) + 12 + 14;
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while n < expected {
        let k = c.cmd.read(&mut buf).unwrap();
        assert!(k > 0, "closed early");
        n += k as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    eprintln!(
        "1 GiB GetObject over loopback: {n} bytes in {secs:.2} s = {:.0} MiB/s; {hwm} (whole test process)",
        n as f64 / secs / (1 << 20) as f64
    );
    assert_eq!(n, expected);
}

fn vector(name: &str) -> Option<Vec<u8>> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/ptpip-sony"
    ))
    .join(name);
    match std::fs::read(&p) {
        Ok(v) => Some(v),
        Err(_) => {
            eprintln!("skipping: {} is absent", p.display());
            None
        }
    }
}

/// Reads raw bytes until the Operation Response for `tid`; returns how many bytes the
/// body sent for the transaction and the response code.
fn raw_until_response(c: &mut Client, tid: u32) -> (usize, ResponseCode) {
    let mut n = 0;
    loop {
        let p = read_packet(&mut c.cmd, &mut c.dec).unwrap().unwrap();
        let mut v = Vec::new();
        p.encode(&mut v).unwrap();
        n += v.len();
        if let Packet::OperationResponse { code, tid: t, .. } = p {
            assert_eq!(t, tid);
            return (n, code);
        }
    }
}

/// PlayMemories Home's captured bytes (init, start with DataPhaseInfo 0 and an empty End
/// Data, the end in read-then-write order) are understood, and the 0x9281 answer has the
/// captured size: 8250 bytes.
#[test]
fn playmemories_captured_bytes() {
    let (Some(init), Some(start), Some(stop), Some(devinfo)) = (
        vector("pmh_init_cmd_req.bin"),
        vector("start_sequence_host_to_camera.bin"),
        vector("stop_sequence_host_to_camera_pmh_order.bin"),
        vector("pmh_getdeviceinfo_opreq.bin"),
    ) else {
        return;
    };
    let (d, _) = card();
    let emu = emulator(d.path(), |_| {});
    // The captured Init Command Request carries GUID, which we registered.
    assert_eq!(
        Packet::parse(&init).unwrap(),
        Packet::InitCommandRequest {
            guid: GUID,
            name: "WIN7-VM".into(),
            version: Some(PROTOCOL_VERSION)
        }
    );
    let mut c = Client::connect(emu.ptpip_addr(), GUID);
    assert_eq!(c.op(0x1002, &[1]).0, ResponseCode::OK);
    c.cmd.write_all(&devinfo).unwrap();
    assert_eq!(raw_until_response(&mut c, 1).1, ResponseCode::OK);
    c.cmd.write_all(&start).unwrap();
    assert_eq!(raw_until_response(&mut c, 0x23).1, ResponseCode::OK);
    c.tid = 0x24;
    let (rc, _, block) = c.op(0x9281, &[4]);
    assert_eq!((rc, block.len()), (ResponseCode::OK, 8192));
    assert_eq!(c.op(0x1004, &[]).0, ResponseCode::OK);
    // The end, PlayMemories order: read (8250 bytes back), then write sub-command 5.
    c.cmd.write_all(&stop[..22]).unwrap();
    assert_eq!(raw_until_response(&mut c, 0x2c6), (8250, ResponseCode::OK));
    c.cmd.write_all(&stop[22..]).unwrap();
    assert_eq!(raw_until_response(&mut c, 0x2c7).1, ResponseCode::OK);
    assert!(!emu.stats().powered_off);
    c.tid = 0x2c8;
    assert_eq!(c.op(0x1003, &[]).0, ResponseCode::OK);
    let st = emu.wait_for(PATIENCE, |s| s.powered_off);
    assert!(st.powered_off);
}
