//! A scripted fake Sony body in "Send to Computer" mode, speaking PTP/IP on a real
//! 127.0.0.1 TcpListener (ptpip.md §2–§5). Test code only: it checks the host's order
//! (Sony start before storage, power-off then CloseSession), refuses an unknown GUID
//! with Init Fail, sends probes on both channels, and can drop the connection in the
//! middle of an object.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use alpha_bridge::ptp::codec::Writer;
use alpha_bridge::ptp::container::Params;
use alpha_bridge::ptp::dataset::{DeviceInfo, ObjectInfo};
use alpha_bridge::ptp::ptpip::{data_header, Decoder, Packet};
use alpha_bridge::ptp::sony::ExtCmd;
use alpha_bridge::ptp::{EventCode, ObjectFormat, OpCode, ResponseCode};

pub(crate) const GUID: [u8; 16] = *b"alpha-bridge-tst";

/// Object bytes: literal, or a generated stream of any length (no memory needed).
#[derive(Clone)]
pub(crate) enum Content {
    Bytes(Vec<u8>),
    Pattern { len: u64, seed: u8 },
}

const PRIME: usize = 65521;

fn pattern_block(seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ seed as u32;
    (0..PRIME)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 11) as u8
        })
        .collect()
}

impl Content {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Pattern { len, .. } => *len,
        }
    }

    /// Fills `out` with the bytes at `off..`.
    pub(crate) fn fill(&self, off: u64, out: &mut [u8], block: &[u8]) {
        match self {
            Content::Bytes(b) => out.copy_from_slice(&b[off as usize..off as usize + out.len()]),
            Content::Pattern { .. } => {
                let mut pos = (off % PRIME as u64) as usize;
                let mut done = 0;
                while done < out.len() {
                    let n = (PRIME - pos).min(out.len() - done);
                    out[done..done + n].copy_from_slice(&block[pos..pos + n]);
                    done += n;
                    pos = 0;
                }
            }
        }
    }

    /// Compares a file with this content without holding either in memory.
    pub(crate) fn matches_file(&self, path: &std::path::Path) -> bool {
        let block = self.block();
        let mut f = std::fs::File::open(path).unwrap();
        let mut a = vec![0u8; 1 << 20];
        let mut b = vec![0u8; 1 << 20];
        let mut off = 0u64;
        loop {
            let n = read_full(&mut f, &mut a);
            if n == 0 {
                return off == self.len();
            }
            if off + n as u64 > self.len() {
                return false;
            }
            self.fill(off, &mut b[..n], &block);
            if a[..n] != b[..n] {
                return false;
            }
            off += n as u64;
        }
    }

    pub(crate) fn block(&self) -> Vec<u8> {
        match self {
            Content::Pattern { seed, .. } => pattern_block(*seed),
            Content::Bytes(_) => Vec::new(),
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

#[derive(Clone)]
pub(crate) struct FakeObject {
    pub handle: u32,
    pub storage: u32,
    pub name: String,
    pub capture_date: String,
    /// ObjectCompressedSize to report instead of the real length (e.g. 0xFFFFFFFF).
    pub declared: Option<u32>,
    pub content: Content,
    pub folder: bool,
}

impl FakeObject {
    pub(crate) fn file(handle: u32, name: &str, content: Content) -> FakeObject {
        FakeObject {
            handle,
            storage: 0x0001_0001,
            name: name.into(),
            capture_date: "20261125T101112".into(),
            declared: None,
            content,
            folder: false,
        }
    }

    pub(crate) fn folder(handle: u32, name: &str) -> FakeObject {
        FakeObject {
            handle,
            storage: 0x0001_0001,
            name: name.into(),
            capture_date: String::new(),
            declared: None,
            content: Content::Bytes(Vec::new()),
            folder: true,
        }
    }
}

#[derive(Clone)]
pub(crate) struct FakeConfig {
    pub guid: [u8; 16],
    pub objects: Vec<FakeObject>,
    /// Close both sockets once after this many data bytes of this handle were sent.
    pub drop_after: Option<(u32, u64)>,
    /// libgphoto2 style (last chunk inside End Data) instead of Sony's empty End Data.
    pub last_chunk_in_end_data: bool,
    /// Bytes per Data packet.
    pub data_packet: usize,
    pub list_partial: bool,
    pub serial: String,
    /// Answer the first OpenSession with SessionAlreadyOpen (0x201E).
    pub session_already_open: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            guid: GUID,
            objects: Vec::new(),
            drop_after: None,
            last_chunk_in_end_data: false,
            data_packet: 256 << 10,
            list_partial: true,
            serial: "00000000000000003282933003547562".into(),
            session_already_open: false,
        }
    }
}

pub(crate) struct FakeCamera {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
    done: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeCamera {
    pub(crate) fn start(cfg: FakeConfig) -> FakeCamera {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done2 = done.clone();
        let thread = std::thread::Builder::new()
            .name("fake-camera".into())
            .spawn(move || {
                let mut cam = Cam {
                    cfg,
                    log: log2,
                    dropped: false,
                    started: false,
                    block: Vec::new(),
                    wbuf: Vec::new(),
                };
                while !stop2.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).unwrap();
                            cam.activation(s, &l, &stop2);
                            done2.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .unwrap();
        FakeCamera {
            addr,
            log,
            done,
            stop,
            thread: Some(thread),
        }
    }

    /// The log, once `n` activations have ended (the camera notices the host's
    /// close a moment after the host returns; waits at most 20 s).
    pub(crate) fn log_after(&self, n: usize) -> Vec<String> {
        for _ in 0..2000 {
            if self.done.load(Ordering::SeqCst) >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log()
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Cam {
    cfg: FakeConfig,
    log: Arc<Mutex<Vec<String>>>,
    dropped: bool,
    started: bool,
    block: Vec<u8>,
    wbuf: Vec<u8>,
}

/// One packet through the crate's PTP/IP reader: it never reads past the packet, so a
/// fresh decoder per call loses nothing.
fn read_packet(s: &mut TcpStream) -> Option<Packet> {
    Decoder::with_max_packet(64 << 20)
        .pull(|b| s.read(b))
        .ok()?
}

fn resp(code: ResponseCode, tid: u32, params: &[u32]) -> Packet {
    Packet::OperationResponse {
        code,
        tid,
        params: Params::new(params).unwrap(),
    }
}

impl Cam {
    fn note(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }

    fn send(&mut self, s: &mut TcpStream, p: &Packet) -> bool {
        self.wbuf.clear();
        p.encode(&mut self.wbuf).unwrap();
        s.write_all(&self.wbuf).is_ok()
    }

    /// One "Send to Computer" activation: a command connection, then an event
    /// connection, then operations until CloseSession or a drop.
    fn activation(&mut self, mut cmd: TcpStream, l: &TcpListener, stop: &AtomicBool) {
        cmd.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let Some(Packet::InitCommandRequest { guid, name, .. }) = read_packet(&mut cmd) else {
            self.note("bad init".into());
            return;
        };
        if guid != self.cfg.guid {
            self.note("init-fail".into());
            self.send(&mut cmd, &Packet::InitFail { reason: 1 });
            return;
        }
        self.note(format!("init {name}"));
        self.send(
            &mut cmd,
            &Packet::InitCommandAck {
                connection: 7,
                guid: [0x42; 16],
                name: "ILCE-7M3".into(),
                version: None,
            },
        );
        // The event connection must come second.
        let mut ev = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        ev.set_nonblocking(false).unwrap();
        ev.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        match read_packet(&mut ev) {
            Some(Packet::InitEventRequest { connection: 7 }) => {}
            other => {
                self.note(format!("bad init event {other:?}"));
                return;
            }
        }
        self.send(&mut ev, &Packet::InitEventAck);
        // An event and a probe the host must answer on the event channel.
        self.send(
            &mut ev,
            &Packet::Event {
                code: EventCode(0xC201),
                tid: 0xFFFF_FFFF,
                params: Params::new(&[1]).unwrap(),
            },
        );
        self.send(&mut ev, &Packet::ProbeRequest);
        self.started = false;
        let mut probed_cmd = false;
        loop {
            let Some(p) = read_packet(&mut cmd) else {
                self.note("host closed".into());
                break;
            };
            let Packet::OperationRequest {
                code, tid, params, ..
            } = p
            else {
                self.note(format!("unexpected {p:?}"));
                break;
            };
            let ps = params.as_slice().to_vec();
            self.note(format!("op {:#06x} {:x?}", code.0, ps));
            if !probed_cmd {
                // A probe on the command channel before the first answer.
                probed_cmd = true;
                self.send(&mut cmd, &Packet::ProbeRequest);
                match read_packet(&mut cmd) {
                    Some(Packet::ProbeResponse) => self.note("cmd-probe-answered".into()),
                    other => {
                        self.note(format!("no probe response: {other:?}"));
                        break;
                    }
                }
            }
            match self.op(&mut cmd, code, tid, &ps) {
                Flow::Go => {}
                Flow::End => break,
                Flow::Drop => {
                    self.note("dropped".into());
                    let _ = cmd.shutdown(std::net::Shutdown::Both);
                    let _ = ev.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
        ev.set_nonblocking(true).unwrap();
        let mut b = [0u8; 64];
        if let Ok(n) = ev.read(&mut b) {
            if n >= 8 && b[4] == 14 {
                self.note("event-probe-answered".into());
            }
        }
    }

    fn device_info(&self) -> Vec<u8> {
        let mut ops = vec![
            0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1007, 0x1008, 0x1009, 0x9280, 0x9281,
        ];
        if self.cfg.list_partial {
            ops.push(0x101B);
        }
        let d = DeviceInfo {
            standard_version: 100,
            vendor_extension_id: 0xFFFF_FFFF,
            vendor_extension_version: 100,
            vendor_extension_desc: String::new(),
            functional_mode: 0,
            operations_supported: ops,
            events_supported: vec![0x4002],
            device_properties_supported: vec![],
            capture_formats: vec![],
            image_formats: vec![0x3801, 0xB101],
            manufacturer: "Sony Corporation".into(),
            model: "ILCE-7M3".into(),
            device_version: "3.01".into(),
            serial_number: self.cfg.serial.clone(),
        };
        let mut v = Vec::new();
        d.encode(&mut v);
        v
    }

    fn object(&self, h: u32) -> Option<&FakeObject> {
        self.cfg.objects.iter().find(|o| o.handle == h)
    }

    fn op(&mut self, s: &mut TcpStream, code: OpCode, tid: u32, p: &[u32]) -> Flow {
        let ok = |me: &mut Cam, s: &mut TcpStream, params: &[u32]| {
            if me.send(s, &resp(ResponseCode::OK, tid, params)) {
                Flow::Go
            } else {
                Flow::End
            }
        };
        let storage_op = matches!(code.0, 0x1004 | 0x1005 | 0x1007 | 0x1008 | 0x1009 | 0x101B);
        if storage_op && !self.started {
            // Newer bodies refuse storage requests until the Sony start (ptpip.md §4.1).
            self.send(s, &resp(ResponseCode(0x2019), tid, &[]));
            return Flow::Go;
        }
        match code.0 {
            0x1002 if self.cfg.session_already_open => {
                self.cfg.session_already_open = false;
                self.send(s, &resp(ResponseCode(0x201E), tid, &[]));
                Flow::Go
            }
            // The activation ends when the host closes the connection.
            0x1002 | 0x1003 => ok(self, s, &[]),
            0x1001 => {
                let d = self.device_info();
                self.data_in(s, tid, &Content::Bytes(d), 0, None)
            }
            0x9280 => {
                // data-out: Start Data, Data…, End Data
                let mut data = Vec::new();
                loop {
                    match read_packet(s) {
                        Some(Packet::StartData { .. }) => {}
                        Some(Packet::Data { payload, .. }) => data.extend(payload),
                        Some(Packet::EndData { payload, .. }) => {
                            data.extend(payload);
                            break;
                        }
                        other => {
                            self.note(format!("bad data-out {other:?}"));
                            return Flow::End;
                        }
                    }
                }
                match ExtCmd::parse(&data) {
                    Ok(e) => {
                        self.note(format!("ext {} {:02x?}", e.sub_command, e.payload));
                        if e.sub_command == 2 && e.payload == [1, 1] && p == [4] {
                            self.started = true;
                        }
                    }
                    Err(e) => self.note(format!("bad ext {e}")),
                }
                ok(self, s, &[])
            }
            0x9281 => self.data_in(s, tid, &Content::Bytes(vec![0; 8192]), 0, None),
            0x1004 => {
                let mut v = Vec::new();
                // The second id has no medium (low 16 bits 0): must not be used.
                Writer::new(&mut v).u32_array(&[0x0001_0001, 0x0002_0000]);
                self.data_in(s, tid, &Content::Bytes(v), 0, None)
            }
            0x1007 => {
                if p.len() != 3 || p[0] == 0x0002_0000 {
                    self.note(format!("bad GetObjectHandles {p:x?}"));
                    self.send(s, &resp(ResponseCode(0x2008), tid, &[]));
                    return Flow::Go;
                }
                let hs: Vec<u32> = self
                    .cfg
                    .objects
                    .iter()
                    .filter(|o| o.storage == p[0])
                    .map(|o| o.handle)
                    .collect();
                let mut v = Vec::new();
                Writer::new(&mut v).u32_array(&hs);
                self.data_in(s, tid, &Content::Bytes(v), 0, None)
            }
            0x1008 => {
                let Some(o) = self.object(p[0]).cloned() else {
                    self.send(s, &resp(ResponseCode(0x2009), tid, &[]));
                    return Flow::Go;
                };
                let info = ObjectInfo {
                    storage_id: o.storage,
                    format: if o.folder {
                        ObjectFormat::ASSOCIATION
                    } else {
                        ObjectFormat::EXIF_JPEG
                    },
                    compressed_size: o.declared.unwrap_or(o.content.len() as u32),
                    filename: o.name.clone(),
                    capture_date: o.capture_date.clone(),
                    modification_date: o.capture_date.clone(),
                    ..Default::default()
                };
                let mut v = Vec::new();
                info.encode(&mut v);
                self.data_in(s, tid, &Content::Bytes(v), 0, None)
            }
            0x1009 | 0x101B => {
                let Some(o) = self.object(p[0]).cloned() else {
                    self.send(s, &resp(ResponseCode(0x2009), tid, &[]));
                    return Flow::Go;
                };
                let (off, len) = if code.0 == 0x101B {
                    let off = p[1] as u64;
                    let len = (p[2] as u64).min(o.content.len().saturating_sub(off));
                    self.note(format!("partial {} {} {}", o.handle, off, len));
                    (off, len)
                } else {
                    self.note(format!("whole {}", o.handle));
                    (0, o.content.len())
                };
                if self.block.is_empty() {
                    self.block = o.content.block();
                }
                let drop_at = match self.cfg.drop_after {
                    Some((h, n)) if h == o.handle && !self.dropped => Some(n),
                    _ => None,
                };
                self.data_range(s, tid, &o.content, off, len, drop_at, code.0 == 0x101B)
            }
            _ => {
                self.send(s, &resp(ResponseCode(0x2005), tid, &[]));
                Flow::Go
            }
        }
    }

    fn data_in(
        &mut self,
        s: &mut TcpStream,
        tid: u32,
        c: &Content,
        _off: u64,
        _drop: Option<u64>,
    ) -> Flow {
        let len = c.len();
        self.data_range(s, tid, c, 0, len, None, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn data_range(
        &mut self,
        s: &mut TcpStream,
        tid: u32,
        c: &Content,
        off: u64,
        len: u64,
        drop_at: Option<u64>,
        partial: bool,
    ) -> Flow {
        if !self.send(s, &Packet::StartData { tid, total: len }) {
            return Flow::End;
        }
        if let Content::Pattern { seed, .. } = c {
            if self.block.len() != PRIME || self.block[..4] != pattern_block(*seed)[..4] {
                self.block = pattern_block(*seed);
            }
        }
        let mut sent = 0u64;
        let mut buf = Vec::new();
        let chunk = self.cfg.data_packet as u64;
        loop {
            let n = (len - sent).min(chunk);
            let last = sent + n == len;
            let in_end = last && self.cfg.last_chunk_in_end_data;
            buf.clear();
            buf.extend_from_slice(&data_header(in_end, tid, n as usize).unwrap());
            let start = buf.len();
            buf.resize(start + n as usize, 0);
            c.fill(off + sent, &mut buf[start..], &self.block);
            if let Some(d) = drop_at {
                if off + sent + n > d {
                    // Send what fits before the drop point, then vanish.
                    let keep = d.saturating_sub(off + sent) as usize;
                    let mut part = Vec::new();
                    part.extend_from_slice(&data_header(false, tid, keep).unwrap());
                    part.extend_from_slice(&buf[start..start + keep]);
                    let _ = s.write_all(&part);
                    self.dropped = true;
                    return Flow::Drop;
                }
            }
            if s.write_all(&buf).is_err() {
                return Flow::End;
            }
            sent += n;
            if last {
                break;
            }
        }
        if !self.cfg.last_chunk_in_end_data {
            buf.clear();
            buf.extend_from_slice(&data_header(true, tid, 0).unwrap());
            if s.write_all(&buf).is_err() {
                return Flow::End;
            }
        }
        let params: &[u32] = if partial { &[len as u32] } else { &[] };
        if self.send(s, &resp(ResponseCode::OK, tid, params)) {
            Flow::Go
        } else {
            Flow::End
        }
    }
}

enum Flow {
    Go,
    End,
    Drop,
}
