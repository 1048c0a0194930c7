//! Drives the USB responder with hand-built containers over `memory::pair`, as a host
//! would, checking every answer byte-level. Deliberately not using `camera`: these tests
//! pin the emulator's behaviour on their own. Time is a `ManualClock`; nothing sleeps
//! except the thread-level `UsbEmulator` tests, which only wait for the serve thread.

use super::liveview::{DEFAULT_IMAGE_OFFSET, FOCAL_OFFSET, FOCAL_SIZE};
use super::testcard::read_counter_luma;
use super::*;
use crate::ptp::container::{self, Command, Event, Header, Kind, Params, Response};
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::sony::{self, ExtDeviceInfo, PropValue};
use crate::ptp::{OpCode, ResponseCode};
use crate::transport::memory::{self, HostEnd};
use crate::transport::{ErrorKind, Transport};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const FRAME: Duration = Duration::from_nanos(33_333_333);
const LV: u32 = 0xFFFF_C002;

struct Host {
    t: HostEnd,
    buf: Vec<u8>,
    next_tid: u32,
}

struct Reply {
    data: Option<Vec<u8>>,
    resp: Response,
}

impl Reply {
    fn code(&self) -> ResponseCode {
        self.resp.code
    }
    fn data(&self) -> &[u8] {
        self.data.as_deref().expect("a data phase")
    }
}

impl Host {
    fn new(t: HostEnd) -> Host {
        Host {
            t,
            buf: vec![0u8; 1 << 20],
            next_tid: 0,
        }
    }

    fn send_cmd(&mut self, op: u16, tid: u32, params: &[u32]) {
        let mut v = Vec::new();
        Command {
            code: OpCode(op),
            tid,
            params: Params::new(params).unwrap(),
        }
        .encode(&mut v);
        self.t.write(&v, T).unwrap();
    }

    fn send_data(&mut self, op: u16, tid: u32, payload: &[u8]) {
        let mut v = container::data_header(OpCode(op), tid, payload.len()).to_vec();
        v.extend_from_slice(payload);
        self.t.write(&v, T).unwrap();
    }

    /// One container from bulk IN (one transfer, possibly read in pieces; ZLPs skipped).
    fn read_container(&mut self) -> Result<(Header, Vec<u8>), crate::transport::TransportError> {
        let mut got = Vec::new();
        loop {
            let n = self.t.read(&mut self.buf, T)?;
            if n == 0 && got.is_empty() {
                continue; // leftover ZLP
            }
            got.extend_from_slice(&self.buf[..n]);
            if got.len() >= 12 {
                let h = Header::parse(&got).unwrap();
                if got.len() >= h.length as usize {
                    assert_eq!(got.len(), h.length as usize, "one container per transfer");
                    return Ok((h, got));
                }
            }
        }
    }

    fn read_reply(&mut self, op: u16, tid: u32) -> Reply {
        let (h, raw) = self.read_container().unwrap();
        let (data, raw) = if h.kind == Kind::Data {
            assert_eq!((h.code, h.tid), (op, tid), "data container code and tid");
            let data = raw[12..].to_vec();
            let (h2, raw2) = self.read_container().unwrap();
            assert_eq!(h2.kind, Kind::Response);
            (Some(data), raw2)
        } else {
            (None, raw)
        };
        let resp = Response::parse(&raw).unwrap();
        assert_eq!(resp.tid, tid, "response tid");
        Reply { data, resp }
    }

    fn tx_tid(&mut self, op: u16, tid: u32, params: &[u32], out: Option<&[u8]>) -> Reply {
        self.send_cmd(op, tid, params);
        if let Some(d) = out {
            self.send_data(op, tid, d);
        }
        self.read_reply(op, tid)
    }

    fn tx(&mut self, op: u16, params: &[u32], out: Option<&[u8]>) -> Reply {
        let tid = self.next_tid;
        self.next_tid += 1;
        self.tx_tid(op, tid, params, out)
    }

    fn event(&mut self) -> Event {
        let mut b = [0u8; 64];
        let n = self.t.read_event(&mut b, T).unwrap();
        Event::parse(&b[..n]).unwrap()
    }

    /// OpenSession, GetDeviceInfo, connect 1 and 2, 0x9202, connect 3
    /// (docs/protocol/sony-usb.md#connect-handshake).
    fn handshake(&mut self) -> ExtDeviceInfo {
        assert_eq!(self.tx(0x1002, &[1], None).code(), ResponseCode::OK);
        assert_eq!(self.tx(0x1001, &[], None).code(), ResponseCode::OK);
        for phase in [1, 2] {
            let r = self.tx(0x9201, &[phase, 0, 0], None);
            assert_eq!((r.code(), r.data()), (ResponseCode::OK, &[0u8; 8][..]));
        }
        let info = loop {
            let r = self.tx(0x9202, &[0x012C, 1], None);
            assert_eq!(r.code(), ResponseCode::OK);
            if !r.data().is_empty() {
                break ExtDeviceInfo::parse(r.data()).unwrap();
            }
        };
        assert_eq!(self.tx(0x9201, &[3, 0, 0], None).code(), ResponseCode::OK);
        info
    }

    fn get_lv(&mut self) -> Reply {
        self.tx(0x1009, &[LV], None)
    }
}

struct Rig {
    host: Host,
    body: Arc<Body>,
    clock: Arc<ManualClock>,
    pipe: Arc<memory::Faults>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<ServeEnd, EmulatorError>>,
}

fn rig(body: Body) -> Rig {
    let clock = Arc::new(ManualClock::new());
    let body = Arc::new(body.with_clock(clock.clone()));
    let (t, mut dev, pipe) = memory::pair(512);
    if !body.interrupt_endpoint {
        pipe.remove_interrupt_endpoint();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s, f) = (body.clone(), stop.clone(), pipe.clone());
    let thread = std::thread::spawn(move || {
        let hook = move || f.disconnect();
        serve_with_hook(&mut dev, &b, &s, &hook)
    });
    Rig {
        host: Host::new(t),
        body,
        clock,
        pipe,
        stop,
        thread,
    }
}

impl Rig {
    fn finish(self) -> Result<ServeEnd, EmulatorError> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Checks the dataset layout and returns (declared image size, the JPEG's counter).
fn check_dataset(ds: &[u8]) -> (usize, u32, (u32, u32)) {
    let (off, size) = (u32_at(ds, 0) as usize, u32_at(ds, 4) as usize);
    assert_eq!(off, DEFAULT_IMAGE_OFFSET as usize);
    assert_eq!((u32_at(ds, 8), u32_at(ds, 12)), (FOCAL_OFFSET, FOCAL_SIZE));
    assert_eq!(ds.len(), off + size, "dataset ends at offset + size");
    assert_eq!(&ds[off..off + 2], &[0xFF, 0xD8]);
    let region = &ds[off..off + size];
    let opts = zune_core::options::DecoderOptions::default()
        .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::Luma);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(region), opts);
    let luma = d.decode().expect("the declared region decodes");
    let info = d.info().unwrap();
    let (w, h) = (info.width as u32, info.height as u32);
    let counter = read_counter_luma(&luma, w, h).expect("counter strip");
    (size, counter, (w, h))
}

#[test]
fn handshake_answers_like_a_pc_remote_body() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    // GetDeviceInfo works outside a session.
    let di = h.tx_tid(0x1001, 0, &[], None);
    let info = DeviceInfo::parse(di.data()).unwrap();
    assert_eq!(info.vendor_extension_id, 0x11);
    assert_eq!(info.standard_version, 100);
    assert_eq!(info.vendor_extension_version, 100);
    assert_eq!(info.vendor_extension_desc, "Sony PTP Extensions");
    assert_eq!(info.manufacturer, "Sony Corporation");
    assert_eq!(info.model, "ILCE-6400");
    assert!(!info.serial_number.is_empty());
    for op in [
        0x1001, 0x1002, 0x1003, 0x1008, 0x1009, 0x9201, 0x9202, 0x9205, 0x9207, 0x9209,
    ] {
        assert!(info.operations_supported.contains(&op), "{op:#x}");
    }

    let ext = h.handshake();
    assert_eq!(
        ext.version, 0x00C8,
        "an a6400 answers its own highest version"
    );
    for p in [0x5005, 0xD218, 0xD221, 0xD25A, 0xD26A] {
        assert!(ext.properties.contains(&p), "{p:#x}");
    }
    assert!(ext.controls.contains(&0xD2C1));

    // PriorityMode = 1 (INT8), then the change is announced on the interrupt pipe.
    let set = h.tx(0x9205, &[0xD25A], Some(&[1]));
    assert_eq!(set.code(), ResponseCode::OK);
    let ev = h.event();
    assert_eq!(
        (ev.code.0, ev.tid, ev.params.as_slice()),
        (0xC203, 0xFFFF_FFFF, &[0xD25A][..])
    );
    let all = h.tx(0x9209, &[], None);
    let props = sony::parse_all_props(all.data(), ext.generation()).unwrap();
    let cur = |code: u16| {
        props
            .iter()
            .find(|p| p.code == code)
            .unwrap()
            .current
            .clone()
    };
    assert_eq!(cur(0xD221), PropValue::Int(1));
    assert_eq!(cur(0xD25A), PropValue::Int(1));
    assert_eq!(cur(0xD26A), PropValue::Int(2));
    assert_eq!(cur(0x5005), PropValue::Int(2));
    assert_eq!(cur(0xD218), PropValue::Int(82));

    // A button press (S1 half press) through 0x9207.
    assert_eq!(
        h.tx(0x9207, &[0xD2C1], Some(&[2, 0])).code(),
        ResponseCode::OK
    );
    assert_eq!(h.tx(0x1003, &[], None).code(), ResponseCode::OK);

    let stats = r.body.stats().clone();
    assert_eq!(r.finish().unwrap(), ServeEnd::Stopped);
    assert_eq!((stats.sessions_opened(), stats.sessions_closed()), (1, 1));
    assert_eq!(stats.close_session_seen(), 1);
    let ops: Vec<u16> = stats.ops().iter().map(|o| o.0).collect();
    assert_eq!(
        ops,
        vec![
            0x1001, 0x1002, 0x1001, 0x9201, 0x9201, 0x9202, 0x9201, 0x9205, 0x9209, 0x9207, 0x1003
        ]
    );
    assert_eq!(stats.protocol_errors(), 0);
}

#[test]
fn version_3_body_and_requested_version_cap() {
    let mut r = rig(Body::zv_e10());
    let ext = r.host.handshake();
    assert_eq!(ext.version, 0x012C);
    // A host asking for 2.00 gets 2.00.
    let e = r.host.tx(0x9202, &[0xC8], None);
    assert_eq!(ExtDeviceInfo::parse(e.data()).unwrap().version, 0xC8);
    r.finish().unwrap();
}

#[test]
fn sessions_and_unknown_operations() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    assert_eq!(
        h.tx_tid(0x1009, 0, &[LV], None).code(),
        ResponseCode::SESSION_NOT_OPEN
    );
    assert_eq!(
        h.tx_tid(0x9201, 0, &[1, 0, 0], None).code(),
        ResponseCode::SESSION_NOT_OPEN
    );
    assert_eq!(
        h.tx_tid(0x1003, 0, &[], None).code(),
        ResponseCode::SESSION_NOT_OPEN
    );
    assert_eq!(
        h.tx_tid(0x9999, 0, &[], None).code(),
        ResponseCode::OPERATION_NOT_SUPPORTED
    );
    assert_eq!(
        h.tx_tid(0x1002, 0, &[0], None).code(),
        ResponseCode::INVALID_PARAMETER
    );
    assert_eq!(h.tx_tid(0x1002, 0, &[1], None).code(), ResponseCode::OK);
    let again = h.tx_tid(0x1002, 0, &[2], None);
    assert_eq!(again.code(), ResponseCode::SESSION_ALREADY_OPEN);
    assert_eq!(again.resp.params.as_slice(), &[1]);
    assert_eq!(
        h.tx_tid(0x9999, 1, &[], None).code(),
        ResponseCode::OPERATION_NOT_SUPPORTED
    );
    assert_eq!(
        h.tx_tid(0x1009, 2, &[0x1234], None).code(),
        ResponseCode::INVALID_OBJECT_HANDLE
    );
    r.finish().unwrap();
}

#[test]
fn connect_phases_are_enforced_in_order() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    h.tx(0x1002, &[1], None);
    assert_eq!(h.tx(0x9201, &[2, 0, 0], None).code().0, 0xA101);
    assert_eq!(
        h.tx(0x9202, &[0xC8], None).code(),
        ResponseCode::ACCESS_DENIED
    );
    assert_eq!(h.tx(0x9209, &[], None).code(), ResponseCode::ACCESS_DENIED);
    assert_eq!(h.tx(0x9201, &[1, 0, 0], None).code(), ResponseCode::OK);
    assert_eq!(h.tx(0x9201, &[3, 0, 0], None).code().0, 0xA101);
    assert_eq!(
        h.tx(0x9201, &[1, 0, 0], None).code(),
        ResponseCode::OK,
        "phase 1 again restarts the handshake (libgphoto2 does this)"
    );
    assert_eq!(
        h.tx(0x9201, &[4, 0, 0], None).code(),
        ResponseCode::PARAMETER_NOT_SUPPORTED
    );
    let failed = h.tx(0x9201, &[7, 0, 0], None);
    assert!(failed.data.is_none(), "a refused connect has no data phase");
    assert_eq!(h.tx(0x9201, &[2, 0, 0], None).code(), ResponseCode::OK);
    assert_eq!(h.tx(0x9201, &[3, 0, 0], None).code(), ResponseCode::OK);
    // A full second handshake in the same session (libgphoto2's fixup after
    // re-reading DeviceInfo).
    for phase in 1..=3 {
        assert_eq!(h.tx(0x9201, &[phase, 0, 0], None).code(), ResponseCode::OK);
    }
    // After CloseSession the handshake starts over.
    h.tx(0x1003, &[], None);
    h.next_tid = 0;
    h.tx(0x1002, &[1], None);
    assert_eq!(h.tx(0x9201, &[3, 0, 0], None).code().0, 0xA101);
    assert_eq!(h.tx(0x9201, &[1, 0, 0], None).code(), ResponseCode::OK);
    r.finish().unwrap();
}

#[test]
fn ext_device_info_is_empty_while_not_ready() {
    let body = Body::ilce_6400();
    body.faults().set_ext_info_not_ready(3);
    let mut r = rig(body);
    let h = &mut r.host;
    h.tx(0x1002, &[1], None);
    h.tx(0x9201, &[1, 0, 0], None);
    h.tx(0x9201, &[2, 0, 0], None);
    for _ in 0..3 {
        let e = h.tx(0x9202, &[0x012C, 1], None);
        assert_eq!((e.code(), e.data().len()), (ResponseCode::OK, 0));
    }
    let e = h.tx(0x9202, &[0x012C, 1], None);
    assert!(!ExtDeviceInfo::parse(e.data())
        .unwrap()
        .properties
        .is_empty());
    r.finish().unwrap();
}

#[test]
fn transaction_ids_must_grow_within_a_session() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    assert_eq!(h.tx_tid(0x1002, 0, &[1], None).code(), ResponseCode::OK);
    assert_eq!(h.tx_tid(0x1001, 5, &[], None).code(), ResponseCode::OK);
    let dup = h.tx_tid(0x9201, 5, &[1, 0, 0], None);
    assert_eq!(dup.code(), ResponseCode::INVALID_TRANSACTION_ID);
    assert!(dup.data.is_none());
    assert_eq!(
        h.tx_tid(0x9201, 3, &[1, 0, 0], None).code(),
        ResponseCode::INVALID_TRANSACTION_ID
    );
    assert_eq!(
        h.tx_tid(0x9201, 0xFFFF_FFFF, &[1, 0, 0], None).code(),
        ResponseCode::INVALID_TRANSACTION_ID
    );
    assert_eq!(
        h.tx_tid(0x9201, 9, &[1, 0, 0], None).code(),
        ResponseCode::OK,
        "gaps are fine"
    );
    // A refused transaction did not run: phase 1 happened once.
    assert_eq!(
        h.tx_tid(0x9201, 10, &[2, 0, 0], None).code(),
        ResponseCode::OK
    );
    r.body.faults().set_lenient_tids(true);
    assert_eq!(h.tx_tid(0x9202, 10, &[0xC8], None).code(), ResponseCode::OK);
    r.finish().unwrap();
}

#[test]
fn session_left_open_by_a_previous_host() {
    let body = Body::ilce_6400();
    body.faults().leave_session_open(true);
    let mut r = rig(body);
    let h = &mut r.host;
    assert_eq!(
        h.tx(0x1002, &[1], None).code(),
        ResponseCode::SESSION_ALREADY_OPEN
    );
    // Treated as success by hosts; the numbering restarted with it.
    h.handshake_after_open();
    r.finish().unwrap();
}

impl Host {
    fn handshake_after_open(&mut self) {
        for phase in [1, 2] {
            assert_eq!(
                self.tx(0x9201, &[phase, 0, 0], None).code(),
                ResponseCode::OK
            );
        }
        assert_eq!(self.tx(0x9202, &[0x12C], None).code(), ResponseCode::OK);
        assert_eq!(self.tx(0x9201, &[3, 0, 0], None).code(), ResponseCode::OK);
    }
}

#[test]
fn live_view_needs_phase_3() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    h.tx(0x1002, &[1], None);
    h.tx(0x9201, &[1, 0, 0], None);
    h.tx(0x9201, &[2, 0, 0], None);
    r.clock.advance(Duration::from_secs(1));
    assert_eq!(h.get_lv().code(), ResponseCode::ACCESS_DENIED);
    assert_eq!(
        h.tx(0x1008, &[LV], None).code(),
        ResponseCode::INVALID_OBJECT_HANDLE
    );
    h.tx(0x9202, &[0xC8], None);
    h.tx(0x9201, &[3, 0, 0], None);
    let oi = h.tx(0x1008, &[LV], None);
    let info = ObjectInfo::parse(oi.data()).unwrap();
    assert_eq!((info.image_pix_width, info.image_pix_height), (1024, 680));
    let f = h.get_lv();
    assert_eq!(f.code(), ResponseCode::OK);
    assert_eq!(
        check_dataset(f.data()).1,
        0,
        "frame 0 at the start of live view"
    );
    r.finish().unwrap();
}

#[test]
fn live_view_is_paced_by_the_frame_rate() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let h = &mut r.host;
    let f0 = h.get_lv();
    assert_eq!(f0.code(), ResponseCode::OK);
    let (size, counter, wh) = check_dataset(f0.data());
    assert_eq!((counter, wh), (0, (1024, 680)));
    assert_eq!(size % 128, 0);
    let jpeg_region = &f0.data()[136..];
    assert!(
        jpeg_region
            .windows(2)
            .filter(|w| *w == [0xFF, 0xD9])
            .count()
            >= 2,
        "junk has EOI"
    );

    // Polled again before the next frame exists: "too fast".
    let again = h.get_lv();
    assert_eq!(again.code(), ResponseCode::ACCESS_DENIED);
    assert!(again.data.is_none());
    r.clock.advance(FRAME / 2);
    assert_eq!(h.get_lv().code(), ResponseCode::ACCESS_DENIED);
    r.clock.advance(FRAME / 2 + Duration::from_nanos(1));
    assert_eq!(check_dataset(h.get_lv().data()).1, 1);
    // A slow host gets the newest frame; the ones between are skipped.
    r.clock.advance(FRAME * 3 + FRAME / 2);
    assert_eq!(check_dataset(h.get_lv().data()).1, 4);
    assert_eq!(h.get_lv().code(), ResponseCode::ACCESS_DENIED);
    let stats = r.body.stats().clone();
    r.finish().unwrap();
    assert_eq!(stats.frames_served(), 3);
    assert_eq!(stats.frames_skipped(), 2);
    assert_eq!(stats.live_view_denied(), 3);
    assert_eq!(stats.last_frame(), Some(4));
}

#[test]
fn fps_setting_changes_the_pace() {
    let mut r = rig(Body::ilce_6400().with_fps(10.0));
    r.host.handshake();
    let h = &mut r.host;
    assert_eq!(check_dataset(h.get_lv().data()).1, 0);
    r.clock.advance(FRAME * 2);
    assert_eq!(h.get_lv().code(), ResponseCode::ACCESS_DENIED);
    r.clock.set(Duration::from_millis(100));
    assert_eq!(check_dataset(h.get_lv().data()).1, 1);
    r.finish().unwrap();
}

#[test]
fn access_denied_bursts_and_empty_data_phases() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let f = r.body.faults().clone();
    let h = &mut r.host;
    f.deny_next(3);
    for _ in 0..3 {
        let d = h.get_lv();
        assert_eq!(
            (d.code(), d.data.is_none()),
            (ResponseCode::ACCESS_DENIED, true)
        );
    }
    f.refuse_next(0x2019, 2);
    for _ in 0..2 {
        let d = h.get_lv();
        assert_eq!(
            (d.code(), d.data.is_none()),
            (ResponseCode::DEVICE_BUSY, true)
        );
    }
    f.refuse_next(0x2009, 1);
    assert_eq!(h.get_lv().code(), ResponseCode::INVALID_OBJECT_HANDLE);
    f.empty_denied_next(2);
    for _ in 0..2 {
        let d = h.get_lv();
        assert_eq!((d.code(), d.data().len()), (ResponseCode::ACCESS_DENIED, 0));
    }
    f.empty_ok_next(1);
    let d = h.get_lv();
    assert_eq!((d.code(), d.data().len()), (ResponseCode::OK, 0));
    f.zero_size_denied_next(1);
    let d = h.get_lv();
    assert_eq!(d.code(), ResponseCode::ACCESS_DENIED);
    assert_eq!(d.data().len(), 136);
    assert_eq!((u32_at(d.data(), 0), u32_at(d.data(), 4)), (136, 0));
    // The frame that was due all along is still served afterwards.
    assert_eq!(check_dataset(h.get_lv().data()).1, 0);
    r.finish().unwrap();
}

#[test]
fn stray_soi_and_512_byte_sizes() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let f = r.body.faults().clone();
    let h = &mut r.host;
    f.set_stray_soi(true);
    let d = h.get_lv();
    assert_eq!(&d.data()[16..18], &[0xFF, 0xD8]);
    check_dataset(d.data());
    f.set_stray_soi(false);

    f.set_align_512(Align512::Container);
    for _ in 0..3 {
        r.clock.advance(FRAME);
        let d = h.get_lv();
        assert_eq!((12 + d.data().len()) % 512, 0);
        check_dataset(d.data());
    }
    f.set_align_512(Align512::Jpeg);
    r.clock.advance(FRAME);
    let d = h.get_lv();
    let (size, ..) = check_dataset(d.data());
    assert_eq!(size % 512, 0);
    assert_eq!(
        &d.data()[136 + size - 2..],
        &[0xFF, 0xD9],
        "no junk after EOI"
    );
    r.finish().unwrap();
}

#[test]
fn zero_length_packets_reach_a_host_reading_exact_sizes() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    r.body.faults().set_align_512(Align512::Container);
    let h = &mut r.host;
    let tid = h.next_tid;
    h.next_tid += 1;
    h.send_cmd(0x1009, tid, &[LV]);
    // Read the first 512 bytes, then exactly the rest: the ZLP follows as its own read.
    let mut first = vec![0u8; 512];
    assert_eq!(h.t.read(&mut first, T).unwrap(), 512);
    let len = u32_at(&first, 0) as usize;
    assert_eq!(len % 512, 0);
    let mut rest = vec![0u8; len - 512];
    let mut got = 0;
    while got < rest.len() {
        got += h.t.read(&mut rest[got..], T).unwrap();
    }
    let mut zlp = [0u8; 512];
    assert_eq!(h.t.read(&mut zlp, T).unwrap(), 0, "zero-length packet");
    let (rh, raw) = h.read_container().unwrap();
    assert_eq!(
        (rh.kind, Response::parse(&raw).unwrap().code),
        (Kind::Response, ResponseCode::OK)
    );
    r.finish().unwrap();
}

#[test]
fn frame_size_changes_mid_stream() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let h = &mut r.host;
    assert_eq!(check_dataset(h.get_lv().data()).2, (1024, 680));
    r.body.faults().request_frame_size(640, 424);
    r.clock.advance(FRAME);
    let (_, counter, wh) = check_dataset(h.get_lv().data());
    assert_eq!((counter, wh), (1, (640, 424)));
    // LiveViewImageQuality: 1 (low) is 640 wide, 2 (high) brings the big size back.
    assert_eq!(h.tx(0x9205, &[0xD26A], Some(&[1])).code(), ResponseCode::OK);
    assert_eq!(h.event().params.as_slice(), &[0xD26A]);
    r.clock.advance(FRAME);
    assert_eq!(check_dataset(h.get_lv().data()).2, (640, 424));
    assert_eq!(h.tx(0x9205, &[0xD26A], Some(&[2])).code(), ResponseCode::OK);
    assert_eq!(h.event().params.as_slice(), &[0xD26A]);
    r.clock.advance(FRAME);
    let (_, counter, wh) = check_dataset(h.get_lv().data());
    assert_eq!((counter, wh), (3, (1024, 680)));
    r.finish().unwrap();
}

#[test]
fn property_writes_are_checked() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let h = &mut r.host;
    let code = |h: &mut Host, p: u32, v: &[u8]| h.tx(0x9205, &[p], Some(v)).code();
    assert_eq!(code(h, 0x5005, &[4, 0]), ResponseCode::OK);
    assert_eq!(
        code(h, 0x5005, &[4]),
        ResponseCode::INVALID_DEVICE_PROP_FORMAT
    );
    assert_eq!(
        code(h, 0x5005, &[5, 0]),
        ResponseCode::INVALID_DEVICE_PROP_VALUE
    );
    // Colour temperature is settable only with white balance on colour temperature.
    assert_eq!(code(h, 0xD20F, &[0x94, 0x11]), ResponseCode::ACCESS_DENIED);
    assert_eq!(code(h, 0x5005, &[0x12, 0x80]), ResponseCode::OK);
    assert_eq!(
        code(h, 0xD20F, &[0x94, 0x11]),
        ResponseCode::OK,
        "4500 K in range"
    );
    assert_eq!(
        code(h, 0xD20F, &[0x10, 0x27]),
        ResponseCode::INVALID_DEVICE_PROP_VALUE
    );
    assert_eq!(
        code(h, 0xD20F, &[0xC5, 0x11]),
        ResponseCode::INVALID_DEVICE_PROP_VALUE,
        "4549 K is off the 100 K grid"
    );
    // A 2.00 body takes exposure compensation as notch steps: 0x9205 is answered OK
    // and changes nothing; 0x9207 with -3 notches moves it to -1.0 EV.
    assert_eq!(code(h, 0x5010, &[0x18, 0xFC]), ResponseCode::OK);
    assert_eq!(h.tx(0x9204, &[0x5010], None).data(), &[0, 0]);
    assert_eq!(
        h.tx(0x9207, &[0x5010], Some(&[0xFD])).code(),
        ResponseCode::OK
    );
    assert_eq!(
        code(h, 0xD218, &[50]),
        ResponseCode::ACCESS_DENIED,
        "battery is read-only"
    );
    assert_eq!(
        code(h, 0xBEEF, &[1]),
        ResponseCode::DEVICE_PROP_NOT_SUPPORTED
    );
    assert_eq!(
        h.tx(0x9207, &[0xBEEF], Some(&[1, 0])).code(),
        ResponseCode::DEVICE_PROP_NOT_SUPPORTED
    );
    let v = h.tx(0x9204, &[0x5010], None);
    assert_eq!(v.data(), &[0x18, 0xFC]);
    let d = h.tx(0x9203, &[0x5005], None);
    assert_eq!(u16::from_le_bytes([d.data()[0], d.data()[1]]), 0x5005);
    r.finish().unwrap();
}

#[test]
fn split_containers_and_zero_length_packets_from_the_host() {
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    let mut open = Vec::new();
    Command {
        code: OpCode::OPEN_SESSION,
        tid: 0,
        params: Params::new(&[1]).unwrap(),
    }
    .encode(&mut open);
    h.t.write(&open[..12], T).unwrap();
    h.t.write(&[], T).unwrap();
    h.t.write(&open[12..], T).unwrap();
    assert_eq!(h.read_reply(0x1002, 0).code(), ResponseCode::OK);
    h.next_tid = 1;
    h.handshake_after_open();
    // A data-out phase split into header, one byte per transfer, and a ZLP.
    let tid = h.next_tid;
    h.send_cmd(0x9205, tid, &[0x5005]);
    let mut data = container::data_header(OpCode(0x9205), tid, 2).to_vec();
    data.extend_from_slice(&[0x11, 0x80]);
    h.t.write(&data[..12], T).unwrap();
    h.t.write(&data[12..13], T).unwrap();
    h.t.write(&data[13..], T).unwrap();
    h.t.write(&[], T).unwrap();
    assert_eq!(h.read_reply(0x9205, tid).code(), ResponseCode::OK);
    h.next_tid += 1;
    assert_eq!(h.event().params.as_slice(), &[0x5005]);
    let stats = r.body.stats().clone();
    r.finish().unwrap();
    assert_eq!(stats.protocol_errors(), 0);
}

#[test]
fn protocol_violations_are_answered_not_fatal() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    let h = &mut r.host;
    // A data-out operation without its data phase: the next command arrives instead.
    let t1 = h.next_tid;
    h.send_cmd(0x9205, t1, &[0xD25A]);
    h.send_cmd(0x1001, t1 + 1, &[]);
    assert_eq!(
        h.read_reply(0x9205, t1).code(),
        ResponseCode::INCOMPLETE_TRANSFER
    );
    assert_eq!(h.read_reply(0x1001, t1 + 1).code(), ResponseCode::OK);
    // A data phase with the wrong tid.
    h.send_cmd(0x9205, t1 + 2, &[0xD25A]);
    h.send_data(0x9205, t1 + 99, &[1]);
    assert_eq!(
        h.read_reply(0x9205, t1 + 2).code(),
        ResponseCode::GENERAL_ERROR
    );
    // A stray data container, a response container and garbage: dropped.
    h.send_data(0x1001, t1 + 3, &[1, 2, 3]);
    h.t.write(&[0x0c, 0, 0, 0, 3, 0, 1, 0x20, 0, 0, 0, 0], T)
        .unwrap();
    h.t.write(&[0xff; 12], T).unwrap();
    h.t.write(&[0x00, 0x00, 0x00, 0x10, 2, 0, 1, 0x10, 0, 0, 0, 0], T)
        .unwrap();
    assert_eq!(h.tx_tid(0x1001, t1 + 4, &[], None).code(), ResponseCode::OK);
    let stats = r.body.stats().clone();
    r.finish().unwrap();
    assert_eq!(stats.protocol_errors(), 6);
}

#[test]
fn a_body_without_usb_live_view_never_sends_frames() {
    let mut r = rig(Body::ilce_6000());
    let g = r.host.handshake().generation();
    let h = &mut r.host;
    let props = sony::parse_all_props(h.tx(0x9209, &[], None).data(), g).unwrap();
    let lv = props.iter().find(|p| p.code == 0xD221).unwrap();
    assert_eq!(lv.current, PropValue::Int(0));
    for _ in 0..20 {
        r.clock.advance(FRAME * 2);
        assert_eq!(
            h.tx(0x1008, &[LV], None).code(),
            ResponseCode::INVALID_OBJECT_HANDLE
        );
        assert_eq!(h.get_lv().code(), ResponseCode::ACCESS_DENIED);
    }
    let stats = r.body.stats().clone();
    r.finish().unwrap();
    assert_eq!(stats.frames_served(), 0);
}

#[test]
fn disconnect_mid_frame_cuts_the_transfer_and_pulls_the_cable() {
    let mut r = rig(Body::ilce_6400());
    r.host.handshake();
    r.body.faults().disconnect_mid_next_frame();
    let tid = r.host.next_tid;
    r.host.send_cmd(0x1009, tid, &[LV]);
    let end = r.thread.join().unwrap().unwrap();
    assert_eq!(end, ServeEnd::PulledMidFrame);
    assert!(r.pipe.is_disconnected());
    let err = r.host.read_container().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Disconnected);
    assert_eq!(r.body.stats().frames_served(), 0);
}

#[test]
fn host_going_away_ends_the_serve_loop() {
    let r = rig(Body::ilce_6400());
    drop(r.host);
    assert_eq!(
        r.thread.join().unwrap().unwrap(),
        ServeEnd::HostDisconnected
    );
}

#[test]
fn usb_emulator_connects_unplugs_and_replugs() {
    let emu = UsbEmulator::new(Body::ilce_6400().with_fps(200.0));
    let mut h = Host::new(emu.connect().unwrap());
    h.handshake();
    // Real clock here: poll with a pause until a frame comes (bounded).
    let mut frame = None;
    for _ in 0..2000 {
        let f = h.get_lv();
        if f.code() == ResponseCode::OK {
            frame = f.data;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    check_dataset(&frame.expect("a frame within 2000 polls"));

    emu.unplug();
    assert!(!emu.is_plugged());
    assert_eq!(
        h.t.write(&[0; 12], T).unwrap_err().kind,
        ErrorKind::Disconnected
    );
    assert_eq!(
        emu.connect().err().expect("unplugged").kind,
        ErrorKind::NotFound
    );
    assert!(matches!(
        emu.last_end(),
        Some(Ok(ServeEnd::Stopped | ServeEnd::HostDisconnected))
    ));
    emu.plug();
    let mut h = Host::new(emu.connect().unwrap());
    h.handshake();
    assert_eq!(h.tx(0x1003, &[], None).code(), ResponseCode::OK);
    let s = emu.stats();
    assert_eq!(
        (s.connects(), s.sessions_opened(), s.sessions_closed()),
        (2, 2, 1)
    );
    assert!(s.frames_served() >= 1);
    // A second connect replaces the first cable.
    let _newer = emu.connect().unwrap();
    assert_eq!(
        h.t.read(&mut [0u8; 512], T).unwrap_err().kind,
        ErrorKind::Disconnected
    );
}

/// Replays fixed datasets as they are (what a `--dump-objects` replay source does).
struct Raw(Vec<Vec<u8>>);

impl FrameContent for Raw {
    fn next_jpeg(&mut self, index: u64) -> Result<&[u8], EmulatorError> {
        let n = self.0.len() as u64;
        Ok(&self.0[(index % n) as usize])
    }
    fn raw_datasets(&self) -> bool {
        true
    }
}

#[test]
fn raw_dataset_content_is_sent_unchanged() {
    let objs = vec![b"first raw object".to_vec(), vec![0xAB; 1024]];
    let mut r = rig(Body::ilce_6400().with_content(Box::new(Raw(objs.clone()))));
    r.host.handshake();
    assert_eq!(r.host.get_lv().data(), &objs[0][..]);
    r.clock.advance(FRAME);
    assert_eq!(r.host.get_lv().data(), &objs[1][..]);
    r.finish().unwrap();
}

/// ffmpeg, which we did not write, must accept the test card strictly and see 4:2:2.
#[test]
fn ffmpeg_accepts_the_test_card() {
    let ok = std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("ffprobe not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.jpg");
    let mut card = testcard::TestCard::default_size();
    std::fs::write(&path, card.frame(42).unwrap()).unwrap();
    let dec = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-err_detect", "explode", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert!(
        dec.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,pix_fmt",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&probe.stdout);
    assert_eq!(out.trim(), "mjpeg,1024,680,yuvj422p");
}

fn vector(name: &str) -> Option<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/usb-issues/");
    std::fs::read(format!("{dir}{name}")).ok()
}

/// The libgphoto2 handshake as real hosts sent it (gphoto2 debug logs of several
/// bodies), answered byte for byte the way real bodies answered.
#[test]
fn real_host_requests_get_the_answers_real_bodies_gave() {
    let Some(open) = vector("a5100_opensession.bin") else {
        eprintln!("shared/vectors absent; skipping");
        return;
    };
    let v = |n: &str| vector(n).unwrap();
    let mut r = rig(Body::ilce_6400());
    let h = &mut r.host;
    let mut exchange = |req: &[u8], out: Option<&[u8]>| -> Vec<Vec<u8>> {
        h.t.write(req, T).unwrap();
        if let Some(d) = out {
            h.t.write(d, T).unwrap();
        }
        let mut got = vec![h.read_container().unwrap()];
        if got[0].0.kind == Kind::Data {
            got.push(h.read_container().unwrap());
        }
        got.into_iter().map(|(_, raw)| raw).collect()
    };
    let ok = |tid: u8| vec![0x0c, 0, 0, 0, 3, 0, 1, 0x20, tid, 0, 0, 0];

    assert_eq!(exchange(&open, None), vec![ok(0)]);
    let di = exchange(&v("a5100_getdeviceinfo.bin"), None);
    assert_eq!(
        DeviceInfo::parse(&di[0][12..]).unwrap().vendor_extension_id,
        0x11
    );
    assert_eq!(
        exchange(&v("a6400_9201_req.bin"), None),
        vec![v("a6400_9201_data.bin"), v("a5000_9201_resp.bin")]
    );
    assert_eq!(
        exchange(&v("a5000_9201_req_phase2.bin"), None),
        vec![v("a5000_9201_data_phase2.bin"), ok(3)]
    );
    let ext = exchange(&v("lgp93_9202_req.bin"), None);
    let real = v("a5100_9202_data.bin");
    assert_eq!(&ext[0][4..12], &real[4..12], "data header type, code, tid");
    assert_eq!(&ext[0][12..14], &real[12..14], "version 0x00C8 as asked");
    assert_eq!(ext[1], v("a5100_9202_resp.bin"));
    assert_eq!(
        exchange(&v("a7r_9201_req_phase3.bin"), None),
        vec![v("a7r_9201_data_phase3.bin"), ok(5)]
    );
    assert_eq!(
        exchange(&v("zve10_9205_req.bin"), Some(&v("zve10_9205_data.bin"))),
        vec![v("zve10_9205_resp.bin")]
    );
    let all = exchange(&v("a5100_9209_req.bin"), None);
    // Version 0x00C8 answered: one enumeration list per descriptor.
    let props = sony::parse_all_props(&all[0][12..], sony::Generation::V2).unwrap();
    assert!(props.len() > 10);
    assert_eq!(all[1], ok(7));
    r.finish().unwrap();
}

/// A device pipe without an interrupt endpoint (like a gadget configured without one).
struct NoEvents(memory::DeviceEnd);

impl crate::transport::DevicePipe for NoEvents {
    fn read_out(
        &mut self,
        buf: &mut [u8],
        t: Duration,
    ) -> Result<usize, crate::transport::TransportError> {
        self.0.read_out(buf, t)
    }
    fn write_in(&mut self, data: &[u8]) -> Result<(), crate::transport::TransportError> {
        self.0.write_in(data)
    }
    fn write_event(&mut self, _: &[u8]) -> Result<(), crate::transport::TransportError> {
        Err(crate::transport::TransportError::new(
            ErrorKind::Unsupported,
            "no interrupt endpoint",
        ))
    }
    fn max_packet_size(&self) -> usize {
        self.0.max_packet_size()
    }
}

#[test]
fn a_pipe_without_events_does_not_end_the_session() {
    let body = Arc::new(Body::ilce_6400());
    let (t, dev, _) = memory::pair(512);
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s) = (body.clone(), stop.clone());
    let thread = std::thread::spawn(move || serve(&mut NoEvents(dev), &b, &s));
    let mut h = Host::new(t);
    h.handshake();
    assert_eq!(h.tx(0x9205, &[0xD25A], Some(&[1])).code(), ResponseCode::OK);
    assert_eq!(h.tx(0x9209, &[], None).code(), ResponseCode::OK);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(thread.join().unwrap().unwrap(), ServeEnd::Stopped);
}

#[test]
fn models_by_name() {
    let b = Body::for_model("ILCE-6000");
    assert!(!b.usb_live_view);
    assert_eq!(Body::for_model("ZV-E10").sdio_version, 0x012C);
    let b = Body::for_model("ILCE-6400");
    assert!(b.usb_live_view);
    assert_eq!(b.sdio_version, 0x00C8);
}

#[test]
fn stop_flag_ends_serve() {
    let r = rig(Body::ilce_6400());
    assert_eq!(r.finish().unwrap(), ServeEnd::Stopped);
}

mod random_hosts {
    //! Whatever a host sends, the body never panics and keeps answering.

    use super::*;
    use proptest::prelude::*;

    /// One bulk OUT transfer: a plausible container (known op, random params and data)
    /// or raw garbage.
    fn transfer() -> impl Strategy<Value = Vec<u8>> {
        let ops = prop::sample::select(vec![
            0x1001u16, 0x1002, 0x1003, 0x1004, 0x1008, 0x1009, 0x9201, 0x9202, 0x9203, 0x9204,
            0x9205, 0x9207, 0x9209, 0x920D, 0x9999,
        ]);
        let container = (
            1u16..=4,
            ops,
            0u32..8,
            prop::collection::vec(
                prop_oneof![0u32..4, Just(0xFFFF_C002), Just(0xD26A), any::<u32>()],
                0..=5,
            ),
            prop::collection::vec(any::<u8>(), 0..6),
        )
            .prop_map(|(kind, op, tid, params, data)| {
                let mut v = Vec::new();
                if kind == 2 {
                    v.extend_from_slice(&container::data_header(OpCode(op), tid, data.len()));
                    v.extend_from_slice(&data);
                } else {
                    Command {
                        code: OpCode(op),
                        tid,
                        params: Params::new(&params).unwrap(),
                    }
                    .encode(&mut v);
                    v[4] = kind as u8;
                }
                v
            });
        prop_oneof![
            4 => container,
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn random_transfers_never_break_the_body(transfers in prop::collection::vec(transfer(), 1..40)) {
            let mut r = rig(Body::ilce_6400());
            let mut buf = vec![0u8; 1 << 20];
            for t in &transfers {
                r.clock.advance(FRAME);
                r.host.t.write(t, T).unwrap();
                // Drain what the body answered so neither side's queue fills.
                while r.host.t.read(&mut buf, Duration::from_millis(2)).is_ok() {}
            }
            // Still alive and answering: a fresh, well-formed GetDeviceInfo works.
            // (tid 1000 is above every random one, so a session's tid check passes)
            r.host.t.write(&[0x0c, 0, 0, 0, 1, 0, 1, 0x10, 0xe8, 3, 0, 0], T).unwrap();
            let mut answered = false;
            for _ in 0..20 {
                match r.host.read_container() {
                    Ok((h, _)) if h.kind == Kind::Response && h.code == 0x2001 && h.tid == 1000 => {
                        answered = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            prop_assert!(answered);
            prop_assert_eq!(r.finish().unwrap(), ServeEnd::Stopped);
        }
    }
}

mod control;
