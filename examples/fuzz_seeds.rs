//! Writes the fuzz seed corpus (`fuzz/corpus/<target>/`) from real traffic: the shared
//! Sony vectors (../shared/vectors) and what crosses `transport::memory` while the host
//! code (camera connect + live view, USB pairing) talks to the emulator in memory.
//!
//! Run from the repository root: `cargo run --example fuzz_seeds`. Deterministic file
//! names (`<source>-<n>`), so a re-run rewrites the same files. Seeds are kept small:
//! anything over `MAX_SEED` is left out, to keep the checked-in corpus a few hundred KB.

use alpha_bridge::camera::sony::{ConnectOptions, SonyCamera};
use alpha_bridge::config::Identity;
use alpha_bridge::emulator::body::Body;
use alpha_bridge::emulator::msc::{MscConfig, MscEmulator};
use alpha_bridge::emulator::registry::Registry;
use alpha_bridge::emulator::usb_camera::UsbEmulator;
use alpha_bridge::pair::bot::{Cbw, Csw, CswStatus, Direction};
use alpha_bridge::ptp::container::{peek, Kind};
use alpha_bridge::ptp::dataset::{ObjectInfo, StorageInfo};
use alpha_bridge::ptp::ptpip::Packet;
use alpha_bridge::ptp::{EventCode, OpCode, ResponseCode};
use alpha_bridge::ssdp::message::Message;
use alpha_bridge::transport::memory;
use std::path::{Path, PathBuf};

const MAX_SEED: usize = 64 << 10;

#[path = "../tests/it/support/observed.rs"]
mod observed;
use observed::{Observed, Watch};

/// Records every bulk transfer that crosses a host transport.
#[derive(Default)]
struct Recorder {
    out: Vec<Vec<u8>>,
    input: Vec<Vec<u8>>,
}

impl Watch for Recorder {
    fn write(&mut self, data: &[u8]) -> bool {
        self.out.push(data.to_vec());
        true
    }
    fn read(&mut self, data: &[u8]) {
        self.input.push(data.to_vec());
    }
}

struct Corpus {
    root: PathBuf,
    bytes: usize,
    files: usize,
}

impl Corpus {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        if data.is_empty() || data.len() > MAX_SEED {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), data).expect("write seed");
        self.bytes += data.len();
        self.files += 1;
    }
}

/// The whole containers of a stream, with their payloads.
fn containers(stream: &[u8]) -> Vec<(Kind, u16, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some(h)) = peek(&stream[pos..], usize::MAX) {
        let len = h.length as usize;
        out.push((h.kind, h.code, &stream[pos..pos + len]));
        pos += len;
    }
    out
}

/// The dataset seeds in the data containers of a stream.
fn datasets(c: &mut Corpus, source: &str, stream: &[u8]) {
    for (i, (kind, code, raw)) in containers(stream).into_iter().enumerate() {
        if kind != Kind::Data {
            continue;
        }
        let payload = &raw[12..];
        let target = match code {
            0x1001 | 0x1005 | 0x1008 => "ptp_dataset",
            0x9202 | 0x9209 | 0x9201 | 0x9205 | 0x9207 => "sony_dataset",
            0x1009 | 0x101B => "liveview",
            _ => continue,
        };
        c.put(target, &format!("{source}-{code:04x}-{i}"), payload);
    }
}

/// The first byte of a stream seed picks the transfer size in the stream targets.
fn stream_seed(sel: u8, stream: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(stream);
    v
}

fn usb_camera(c: &mut Corpus) {
    let emu = UsbEmulator::new(Body::ilce_6400());
    let host = emu.connect().expect("emulator connects");
    let rec = Observed {
        inner: host,
        watch: Recorder::default(),
    };
    let mut cam = SonyCamera::connect(rec, ConnectOptions::default()).expect("handshake");
    let mut buf = Vec::new();
    cam.next_live_view(&mut buf, &|| false)
        .expect("a live-view frame");
    let rec = cam.close().into_transport().watch;
    let host_out: Vec<u8> = rec.out.concat();
    // Live-view objects are large; the container stream seed keeps everything else.
    let cam_in: Vec<u8> = rec.input.concat();
    let small: Vec<u8> = containers(&cam_in)
        .into_iter()
        .filter(|(_, code, raw)| raw.len() <= 4096 || *code != 0x1009)
        .flat_map(|(_, _, raw)| raw.to_vec())
        .collect();
    c.put("ptp_container", "emu-host-out", &stream_seed(7, &host_out));
    c.put("ptp_container", "emu-camera-in", &stream_seed(63, &small));
    for (i, t) in rec.out.iter().enumerate().take(40) {
        c.put("ptp_container", &format!("emu-out-{i}"), &stream_seed(0, t));
    }
    datasets(c, "emu", &cam_in);
    // The frame itself is already a `liveview` seed (its GetObject data container).
    drop(buf);
    let mut si = Vec::new();
    StorageInfo::default().encode(&mut si);
    c.put("ptp_dataset", "storageinfo-default", &si);
    let mut oi = Vec::new();
    ObjectInfo {
        filename: "DSC01234.JPG".into(),
        ..ObjectInfo::default()
    }
    .encode(&mut oi);
    c.put("ptp_dataset", "objectinfo", &oi);
    emu.unplug();
}

fn usb_pairing(c: &mut Corpus) {
    let (host, mut dev, _faults) = memory::pair(512);
    let registry = Registry::in_memory();
    let th = std::thread::spawn(move || {
        let _ = MscEmulator::new(MscConfig::default(), registry).serve(&mut dev);
    });
    let mut rec = Observed {
        inner: host,
        watch: Recorder::default(),
    };
    let id = Identity {
        guid: [0x42; 16],
        host_name: "linux".into(),
    };
    let r = alpha_bridge::pair::pair(&mut rec, &id);
    eprintln!("pairing with the emulator: {r:?}");
    let Observed {
        inner,
        watch: Recorder { out, input },
    } = rec;
    drop(inner);
    let _ = th.join();
    for (i, t) in out.iter().enumerate() {
        c.put("msc_emulator", &format!("pair-out-{i}"), t);
        if t.len() == 31 {
            c.put("bot", &format!("pair-cbw-{i}"), t);
        }
    }
    for (i, t) in input.iter().enumerate() {
        if t.len() == 13 {
            c.put("bot", &format!("pair-csw-{i}"), t);
        }
    }
    let cbw = Cbw::new(9, 36, Direction::In, 0, &[0x12, 0, 0, 0, 36, 0]).unwrap();
    let csw = Csw {
        tag: 9,
        residue: 0,
        status: CswStatus::Passed,
    };
    let mut both = cbw.encode().to_vec();
    both.extend_from_slice(&csw.encode());
    c.put("bot", "inquiry-cbw-csw", &both);
}

/// Hex strings (`"data": "38 00 …"`) and their loop/direction from a rocc flow file.
fn rocc_flow(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    let mut lp = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("\"data\": \"") {
            let hex = rest.trim_end_matches(',').trim_end_matches('"');
            let bytes: Option<Vec<u8>> = hex
                .split_whitespace()
                .map(|t| u8::from_str_radix(t, 16).ok())
                .collect();
            pending = bytes;
        } else if let Some(rest) = l.strip_prefix("\"loop\": \"") {
            lp = rest.trim_end_matches(',').trim_end_matches('"').to_string();
        } else if let Some(rest) = l.strip_prefix("\"direction\": \"") {
            let dir = rest.trim_end_matches(',').trim_end_matches('"');
            if let Some(b) = pending.take() {
                out.push((format!("{lp}-{dir}"), b));
            }
        }
    }
    out
}

fn vectors(c: &mut Corpus, v: &Path) {
    // PTP/IP: rocc flows, one stream seed per loop and direction.
    for name in [
        "Connect",
        "Connect_Already_Open",
        "GetEvent",
        "FunctionPerformSet",
    ] {
        let Ok(text) = std::fs::read_to_string(v.join(format!("rocc/PTPFlow_Sony_{name}.json")))
        else {
            continue;
        };
        let flow = rocc_flow(&text);
        let mut keys: Vec<&String> = flow.iter().map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let stream: Vec<u8> = flow
                .iter()
                .filter(|(kk, _)| kk == k)
                .flat_map(|(_, b)| b.clone())
                .collect();
            c.put(
                "ptpip_stream",
                &format!("rocc-{name}-{k}"),
                &stream_seed(5, &stream),
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir(v.join("ptpip-sony")) {
        let mut names: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        {
            let b = std::fs::read(p).unwrap();
            let n = p.file_stem().unwrap().to_string_lossy();
            c.put("ptpip_stream", &format!("vec-{n}"), &stream_seed(0, &b));
        }
    }
    // USB containers from gphoto2 debug dumps.
    if let Ok(dir) = std::fs::read_dir(v.join("usb-issues")) {
        let mut names: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        {
            let b = std::fs::read(p).unwrap();
            let n = p.file_stem().unwrap().to_string_lossy();
            c.put("ptp_container", &format!("vec-{n}"), &stream_seed(3, &b));
            datasets(c, &format!("vec-{n}"), &b);
        }
    }
    for n in ["rx100m7_multi.ds0.bin", "a9ii.ds0.bin", "a9ii.ds1.bin"] {
        if let Ok(b) = std::fs::read(v.join("liveview").join(n)) {
            c.put("liveview", &format!("vec-{n}"), &b);
        }
    }
}

fn ptpip_synthetic(c: &mut Corpus) {
    let pk = [
        Packet::InitCommandAck {
            connection: 1,
            guid: [7; 16],
            name: "ILCE-6400".into(),
            version: Some(0x0001_0000),
        },
        Packet::InitEventAck,
        Packet::OperationResponse {
            code: ResponseCode(0x2001),
            tid: 3,
            params: alpha_bridge::ptp::container::Params::new(&[1, 2]).unwrap(),
        },
        Packet::Event {
            code: EventCode(0xC203),
            tid: 0xFFFF_FFFF,
            params: alpha_bridge::ptp::container::Params::new(&[0xD20D]).unwrap(),
        },
        Packet::StartData { tid: 4, total: 5 },
        Packet::Data {
            tid: 4,
            payload: b"abc".to_vec(),
        },
        Packet::EndData {
            tid: 4,
            payload: b"de".to_vec(),
        },
        Packet::OperationRequest {
            data_phase: 1,
            code: OpCode(0x1001),
            tid: 2,
            params: Default::default(),
        },
        Packet::InitFail { reason: 1 },
        Packet::ProbeRequest,
    ];
    let mut all = Vec::new();
    for p in &pk {
        p.encode(&mut all).unwrap();
    }
    c.put(
        "ptpip_stream",
        "synthetic-all-kinds",
        &stream_seed(11, &all),
    );
}

fn ssdp(c: &mut Corpus) {
    let loc = "http://192.168.122.1:64321/DeviceDescription.xml";
    let nt = "urn:microsoft-com:service:MtpNullService:1";
    let usn =
        "uuid:00000000-0000-0000-0000-000000000000::urn:microsoft-com:service:MtpNullService:1";
    let msgs = [
        Message::notify_alive(loc, nt, usn, "UPnP/1.0 SonyImagingDevice/1.0"),
        Message::notify_byebye(nt, usn),
        Message::search(nt, 2),
        Message::search_response(loc, nt, usn, "UPnP/1.0 SonyImagingDevice/1.0"),
    ];
    for (i, m) in msgs.iter().enumerate() {
        c.put("ssdp_message", &format!("msg-{i}"), m.format().as_bytes());
    }
    c.put(
        "ssdp_description",
        "ok",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 120\r\n\r\n<?xml version=\"1.0\"?><root><device><manufacturer>Sony Corporation</manufacturer><modelName>ILCE-6400</modelName></device></root>",
    );
    c.put("ssdp_description", "404", b"HTTP/1.1 404 Not Found\r\n\r\n");
    c.put("ssdp_description", "lf-only", b"HTTP/1.0 200 OK\n\nbody");
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Corpus {
        root: manifest.join("fuzz/corpus"),
        bytes: 0,
        files: 0,
    };
    let v = manifest.join("../shared/vectors");
    if v.is_dir() {
        vectors(&mut c, &v);
    } else {
        eprintln!("{} is absent: no vector seeds", v.display());
    }
    usb_camera(&mut c);
    usb_pairing(&mut c);
    ptpip_synthetic(&mut c);
    ssdp(&mut c);
    println!(
        "wrote {} seeds, {} bytes, under {}",
        c.files,
        c.bytes,
        c.root.display()
    );
}
