//! The body in PC Remote mode, with no I/O: what it answers to each operation
//! (docs/protocol/sony-usb.md): session, DeviceInfo, the SDIO handshake phases in order,
//! properties and their events, and live view at the body's pace, wrapped in Sony
//! live-view datasets around the picture source. Both fronts feed it: the USB front
//! ([`super::usb_camera`]) from containers, the Wi-Fi front ([`super::wifi`], PC Remote
//! mode) from PTP/IP packets, so the same body answers on either wire.
//!
//! Rules it enforces, like a body does: a session for everything but GetDeviceInfo and
//! OpenSession, increasing transaction ids, SDIO_Connect phases in order, live view
//! only after phase 3 and never faster than the body's frame rate.

use super::body::{Body, Stats};
use super::control::{BodyEvent, CAPTURED_OBJECT};
use super::liveview::{self, Layout};
use crate::ptp::codes::{handle, vendor};
use crate::ptp::container::{Command, Params};
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::sony::{ExtDeviceInfo, Generation, PropValue};
use crate::ptp::{ObjectFormat, OpCode, PropCode, ResponseCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Operations whose data phase goes host → device.
pub(crate) fn has_data_out(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE
            | OpCode::SDIO_CONTROL_DEVICE
            | OpCode::SET_DEVICE_PROP_VALUE
            | OpCode::SONY_EXT_CMD_WRITE
    ) || op.0 == 0x100C // SendObjectInfo
        || op.0 == 0x100D // SendObject
}

/// What to send back for one transaction. The data phase (if any) is in
/// [`Responder::data`].
pub(crate) struct Answer {
    /// A data phase goes first.
    pub data: bool,
    /// The disconnect-mid-frame switch fired: send part of the data, then drop the link.
    pub cut: bool,
    pub code: ResponseCode,
    pub params: Params,
}

impl Answer {
    pub(crate) fn code(code: ResponseCode) -> Answer {
        Answer {
            data: false,
            cut: false,
            code,
            params: Params::default(),
        }
    }

    fn ok() -> Answer {
        Answer::code(ResponseCode::OK)
    }

    fn data_ok() -> Answer {
        Answer {
            data: true,
            ..Answer::ok()
        }
    }
}

/// Sizes LiveViewImageQuality (0xD26A) selects: 1 = low, 2 = high (docs/protocol/sony-usb.md).
fn quality_size(q: i128) -> Option<(u32, u32)> {
    match q {
        1 => Some((640, 424)),
        2 => Some((1024, 680)),
        _ => None,
    }
}

/// Per-connection state of the body.
pub(crate) struct Responder<'a> {
    body: &'a Body,
    session: Option<u32>,
    last_tid: Option<u32>,
    /// SDIO_Connect phases completed (0..=3).
    phase: u8,
    /// The version answered in 0x9202 (it lays out 0x9209).
    answered_version: Option<u16>,
    /// When live view started (connect phase 3).
    lv_start: Option<Duration>,
    last_served: Option<u64>,
    last_dataset_len: usize,
    /// Events to send (0xC203 property changed, 0xC201 object added), oldest first.
    pub events: Vec<BodyEvent>,
    /// The data phase of the last answer.
    pub data: Vec<u8>,
    /// A send buffer the front may reuse.
    pub tx: Vec<u8>,
}

impl<'a> Responder<'a> {
    pub(crate) fn new(body: &'a Body) -> Self {
        let left_open = body.faults().session_left_open();
        Responder {
            body,
            session: left_open.then_some(1),
            last_tid: None,
            phase: 0,
            answered_version: None,
            lv_start: None,
            last_served: None,
            last_dataset_len: 0,
            events: Vec::new(),
            data: Vec::new(),
            tx: Vec::new(),
        }
    }

    /// Answers one operation; `data_out` is its data-out payload, if it had one.
    /// Events the body has for the host are in [`events`](Responder::events) afterwards.
    pub(crate) fn transact(&mut self, cmd: &Command, data_out: Option<&[u8]>) -> Answer {
        self.idle();
        let a = self.answer(cmd, data_out);
        self.events.extend(self.body.take_events());
        a
    }

    /// Time passes with no request: pictures taken get stored, the mode dial's
    /// changes become events.
    pub(crate) fn idle(&mut self) {
        let now = self.body.clock().now();
        let mut st = self.body.state();
        st.tick(now);
        self.events.extend(st.take_events());
    }

    fn answer(&mut self, cmd: &Command, data_out: Option<&[u8]>) -> Answer {
        self.data.clear();
        let op = cmd.code;
        let supported = SUPPORTED_OPS.contains(&op.0) || op.0 == 0x920D;
        // In MTP mode the body knows no vendor (0x9xxx) operation.
        if !supported || (self.body.mtp && op.0 >= 0x9000) {
            return Answer::code(ResponseCode::OPERATION_NOT_SUPPORTED);
        }
        if op == OpCode::OPEN_SESSION {
            return self.open_session(cmd);
        }
        if self.session.is_some() {
            if !self.tid_ok(cmd.tid) {
                return Answer::code(ResponseCode::INVALID_TRANSACTION_ID);
            }
            self.last_tid = Some(cmd.tid);
        }
        if op == OpCode::GET_DEVICE_INFO {
            // Allowed outside a session too (docs/protocol/ptp-usb.md).
            return self.device_info();
        }
        if self.session.is_none() {
            if op == OpCode::CLOSE_SESSION {
                Stats::bump(&self.body.stats().close_session_seen);
            }
            return Answer::code(ResponseCode::SESSION_NOT_OPEN);
        }
        let p = |i| cmd.params.get(i);
        match op {
            OpCode::CLOSE_SESSION => self.close_session(),
            OpCode::GET_STORAGE_IDS => {
                // PC Remote mode gives no file access (docs/protocol/sony-usb.md): no storages.
                self.data.extend_from_slice(&0u32.to_le_bytes());
                Answer::data_ok()
            }
            OpCode::SDIO_CONNECT => self.sdio_connect(p(0)),
            OpCode::SDIO_GET_EXT_DEVICE_INFO => self.ext_device_info(p(0)),
            OpCode::SONY_GET_DEVICE_PROP_DESC => self.prop_desc(p(0)),
            OpCode::SONY_GET_DEVICE_PROP_VALUE => self.prop_value(p(0)),
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE => self.set_prop(p(0), data_out.unwrap_or(&[])),
            OpCode::SDIO_CONTROL_DEVICE => self.control(p(0), data_out.unwrap_or(&[])),
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO => self.all_props(),
            OpCode::GET_OBJECT_INFO => self.object_info(p(0)),
            OpCode::GET_OBJECT => self.get_object(p(0)),
            // 0x920D: sent after phase 3 by a Sony client; meaning unknown, answered OK.
            _ => Answer::ok(),
        }
    }

    /// Transaction ids must grow within a session (gaps are tolerated, as a host may
    /// abandon a transaction after a timeout); 0xFFFFFFFF is reserved for events.
    fn tid_ok(&self, tid: u32) -> bool {
        if self.body.faults().lenient_tids() {
            return true;
        }
        if tid == 0xFFFF_FFFF {
            return false;
        }
        match self.last_tid {
            None => true,
            Some(last) => tid > last || (last >= 0xFFFF_0000 && tid < 0x1_0000),
        }
    }

    fn device_info(&mut self) -> Answer {
        let b = self.body;
        let (vendor_id, vendor_desc, ops) = if b.mtp {
            let standard = SUPPORTED_OPS.iter().copied().filter(|&o| o < 0x9000);
            (vendor::MTP, "microsoft.com: 1.0", standard.collect())
        } else {
            (vendor::SONY, "Sony PTP Extensions", SUPPORTED_OPS.to_vec())
        };
        DeviceInfo {
            standard_version: 100,
            vendor_extension_id: vendor_id,
            vendor_extension_version: 100,
            vendor_extension_desc: vendor_desc.into(),
            functional_mode: 0,
            operations_supported: ops,
            events_supported: vec![0xC201, 0xC202, 0xC203],
            device_properties_supported: vec![],
            capture_formats: vec![ObjectFormat::EXIF_JPEG.0],
            image_formats: vec![
                ObjectFormat::EXIF_JPEG.0,
                ObjectFormat::SONY_ARW.0,
                ObjectFormat::JFIF.0,
            ],
            manufacturer: "Sony Corporation".into(),
            model: b.model.clone(),
            device_version: b.device_version.clone(),
            serial_number: b.serial.clone(),
        }
        .encode(&mut self.data);
        Answer::data_ok()
    }

    fn open_session(&mut self, cmd: &Command) -> Answer {
        // Whatever the outcome, the host's numbering restarts here (libgphoto2 sends
        // OpenSession with tid 0 and carries on with 1, 2… after SessionAlreadyOpen).
        self.last_tid = Some(cmd.tid);
        let id = cmd.params.get(0);
        if let Some(open) = self.session {
            let mut a = Answer::code(ResponseCode::SESSION_ALREADY_OPEN);
            a.params = Params::new(&[open]).unwrap_or_default();
            return a;
        }
        if id == 0 {
            return Answer::code(ResponseCode::INVALID_PARAMETER);
        }
        self.session = Some(id);
        self.phase = 0;
        self.lv_start = None;
        self.last_served = None;
        Stats::bump(&self.body.stats().sessions_opened);
        log::info!("emulated {}: session {id} opened", self.body.model);
        Answer::ok()
    }

    fn close_session(&mut self) -> Answer {
        let stats = self.body.stats();
        Stats::bump(&stats.close_session_seen);
        Stats::bump(&stats.sessions_closed);
        log::info!("emulated {}: session closed", self.body.model);
        self.session = None;
        self.last_tid = None;
        self.phase = 0;
        self.lv_start = None;
        self.last_served = None;
        Answer::ok()
    }

    fn sdio_connect(&mut self, phase: u32) -> Answer {
        if !(1..=3).contains(&phase) {
            return Answer::code(ResponseCode::PARAMETER_NOT_SUPPORTED);
        }
        // Phases go 1, 2, 3. Phase 1 may restart the handshake within a session:
        // libgphoto2 re-runs it after re-reading DeviceInfo (fixup_cached_deviceinfo)
        // and real USB bodies accept that. Out-of-order phases are refused with Sony's
        // AuthenticationFailed (the answer an RX100M7 gave in rocc's
        // PTPFlow_Sony_Connect_Already_Open, a PTP/IP flow).
        if phase != 1 && phase != self.phase as u32 + 1 {
            return Answer::code(ResponseCode::SONY_AUTHENTICATION_FAILED);
        }
        self.phase = phase as u8;
        if phase == 3 {
            self.lv_start = Some(self.body.clock().now());
            self.last_served = None;
        }
        self.data.extend_from_slice(&[0u8; 8]);
        Answer::data_ok()
    }

    fn ext_device_info(&mut self, requested: u32) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        if self.body.faults().take_ext_info_not_ready() {
            // Not ready yet: an empty data phase, and OK
            // (docs/protocol/sony-usb.md#connect-handshake step 5).
            return Answer::data_ok();
        }
        let version = (requested.min(self.body.sdio_version as u32)) as u16;
        self.answered_version = Some(version);
        let (properties, controls) = self.body.state().store.codes();
        ExtDeviceInfo {
            version,
            properties,
            controls,
        }
        .encode(&mut self.data);
        let mut a = Answer::data_ok();
        // 3.00 bodies repeat the version as response parameter 1; 2.00 bodies send none.
        if Generation::of_version(version) == Generation::V3 {
            a.params = Params::new(&[version as u32]).unwrap_or_default();
        }
        a
    }

    /// The 0x9209 layout of the version answered in 0x9202 (the body's own before that).
    fn generation(&self) -> Generation {
        Generation::of_version(self.answered_version.unwrap_or(self.body.sdio_version))
    }

    fn prop_desc(&mut self, code: u32) -> Answer {
        let g = self.generation();
        let st = self.body.state();
        match u16::try_from(code).ok().and_then(|c| st.store.get(c)) {
            Some(p) => {
                p.encode(g, &mut self.data);
                Answer::data_ok()
            }
            None => Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED),
        }
    }

    fn prop_value(&mut self, code: u32) -> Answer {
        let st = self.body.state();
        let Some(p) = u16::try_from(code).ok().and_then(|c| st.store.get(c)) else {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        if let PropValue::Int(v) = p.current {
            let size = p.data_type.scalar_size().unwrap_or(0);
            self.data.extend_from_slice(&v.to_le_bytes()[..size]);
        }
        Answer::data_ok()
    }

    fn all_props(&mut self) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        let g = self.generation();
        self.body.state().store.encode_all(g, &mut self.data);
        Answer::data_ok()
    }

    fn set_prop(&mut self, code: u32, value: &[u8]) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        let Ok(code) = u16::try_from(code) else {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        let g = self.generation();
        let mut st = self.body.state();
        let before = st.store.value(code);
        if let Err(e) = st.set_prop(g, code, value) {
            return Answer::code(e);
        }
        let after = st.store.value(code);
        drop(st);
        if code == PropCode::LIVE_VIEW_IMAGE_QUALITY.0 && before != after {
            if let Some((w, h)) = after.and_then(quality_size) {
                self.body.faults().request_frame_size(w, h);
            }
        }
        Answer::ok()
    }

    fn control(&mut self, code: u32, value: &[u8]) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        let Ok(code) = u16::try_from(code) else {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        let (g, now) = (self.generation(), self.body.clock().now());
        match self.body.state().control(g, now, code, value) {
            Ok(()) => Answer::ok(),
            Err(e) => Answer::code(e),
        }
    }

    fn live_view_ready(&self) -> bool {
        self.body.usb_live_view && self.phase >= 3
    }

    fn object_info(&mut self, h: u32) -> Answer {
        if h == CAPTURED_OBJECT {
            return self.still_info();
        }
        if h != handle::LIVE_VIEW || !self.live_view_ready() {
            return Answer::code(ResponseCode::INVALID_OBJECT_HANDLE);
        }
        let (w, hgt) = self.body.content().size();
        ObjectInfo {
            storage_id: 0,
            format: ObjectFormat::EXIF_JPEG,
            compressed_size: self.last_dataset_len as u32,
            image_pix_width: w,
            image_pix_height: hgt,
            image_bit_depth: 24,
            filename: "LiveView.JPG".into(),
            ..ObjectInfo::default()
        }
        .encode(&mut self.data);
        Answer::data_ok()
    }

    fn denied(&self) -> Answer {
        Stats::bump(&self.body.stats().live_view_denied);
        Answer::code(ResponseCode::ACCESS_DENIED)
    }

    /// GetObjectInfo(0xFFFFC001): the oldest picture in memory; AccessDenied while
    /// ObjectInMemory is below 0x8000.
    fn still_info(&mut self) -> Answer {
        let st = self.body.state();
        let Some(s) = st.still().filter(|_| st.has_still()) else {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        };
        ObjectInfo {
            storage_id: 0,
            format: ObjectFormat::EXIF_JPEG,
            compressed_size: s.jpeg.len() as u32,
            image_pix_width: s.width,
            image_pix_height: s.height,
            image_bit_depth: 24,
            filename: format!("DSC{:05}.JPG", s.number % 100_000),
            ..ObjectInfo::default()
        }
        .encode(&mut self.data);
        Answer::data_ok()
    }

    /// GetObject(0xFFFFC001): the oldest picture, handed over.
    fn take_still(&mut self) -> Answer {
        let mut st = self.body.state();
        if !st.has_still() {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        match st.take_still() {
            Some(s) => {
                self.body.stats().still_served(&s.jpeg);
                self.data = s.jpeg;
                Answer::data_ok()
            }
            None => Answer::code(ResponseCode::ACCESS_DENIED),
        }
    }

    fn get_object(&mut self, h: u32) -> Answer {
        if h == CAPTURED_OBJECT {
            return self.take_still();
        }
        if h != handle::LIVE_VIEW {
            return Answer::code(ResponseCode::INVALID_OBJECT_HANDLE);
        }
        if !self.live_view_ready() {
            return self.denied();
        }
        let faults = self.body.faults();
        if faults.take_access_denied() {
            return self.denied();
        }
        if let Some(code) = faults.take_refuse() {
            if code == ResponseCode::ACCESS_DENIED.0 {
                return self.denied();
            }
            return Answer::code(ResponseCode(code));
        }
        if faults.take_empty_denied() {
            Stats::bump(&self.body.stats().live_view_denied);
            return Answer {
                data: true,
                ..Answer::code(ResponseCode::ACCESS_DENIED)
            };
        }
        if faults.take_empty_ok() {
            return Answer::data_ok();
        }
        if faults.take_zero_size_denied() {
            Stats::bump(&self.body.stats().live_view_denied);
            let layout = Layout {
                image_offset: self.body.image_offset,
                ..Layout::default()
            };
            let _ = liveview::wrap(&[], 0, &layout, &mut self.data);
            // Header fields only: image size 0, nothing at the offset.
            self.data[4..8].copy_from_slice(&0u32.to_le_bytes());
            let offset = self.data.len().min(layout.image_offset as usize);
            self.data.truncate(offset);
            return Answer {
                data: true,
                ..Answer::code(ResponseCode::ACCESS_DENIED)
            };
        }

        // Pacing: frame k exists from start + k * interval; each frame is served once.
        let start = self.lv_start.unwrap_or_default();
        let elapsed = self.body.clock().now().saturating_sub(start);
        let interval = self.body.frame_interval.as_nanos().max(1);
        let newest = u64::try_from(elapsed.as_nanos() / interval).unwrap_or(u64::MAX);
        if self.last_served.is_some_and(|last| newest <= last) {
            return self.denied();
        }
        let skipped = match self.last_served {
            Some(last) => newest - last - 1,
            None => newest,
        };

        let layout = Layout {
            image_offset: self.body.image_offset,
            stray_soi: faults.stray_soi(),
            align: faults.align(),
        };
        let look = self.body.state().look();
        let mut content = self.body.content();
        content.set_look(&look);
        if let Some((w, h)) = faults.frame_size() {
            if content.size() != (w, h) {
                match content.set_size(w, h) {
                    Ok(()) => log::info!("emulated live view now {w}x{h}"),
                    Err(e) => log::warn!("{e}"),
                }
            }
        }
        let raw = content.raw_datasets();
        let wrapped = content.next_jpeg(newest).and_then(|bytes| {
            if raw {
                self.data.clear();
                self.data.extend_from_slice(bytes);
                Ok(0)
            } else {
                liveview::wrap(bytes, newest, &layout, &mut self.data)
            }
        });
        drop(content);
        if let Err(e) = wrapped {
            log::warn!("emulated live view frame {newest}: {e}");
            self.data.clear();
            return Answer::code(ResponseCode::GENERAL_ERROR);
        }
        self.last_served = Some(newest);
        self.last_dataset_len = self.data.len();
        let stats = self.body.stats();
        if faults.take_disconnect_mid_frame() {
            return Answer {
                cut: true,
                ..Answer::data_ok()
            };
        }
        Stats::bump(&stats.frames_served);
        stats.frames_skipped.fetch_add(skipped, Ordering::SeqCst);
        stats.last_frame.store(newest + 1, Ordering::SeqCst);
        Answer::data_ok()
    }
}

/// Operations listed in DeviceInfo (the Sony ones are the basic set; docs/protocol/sony-usb.md).
const SUPPORTED_OPS: &[u16] = &[
    0x1001, 0x1002, 0x1003, 0x1004, 0x1008, 0x1009, 0x9201, 0x9202, 0x9203, 0x9204, 0x9205, 0x9207,
    0x9209,
];
