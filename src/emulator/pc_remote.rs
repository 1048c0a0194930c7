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
use super::liveview::{self, Layout};
use crate::ptp::codes::{handle, vendor};
use crate::ptp::container::{Command, Params};
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::sony::{self, ExtDeviceInfo, Generation, PropDesc, PropForm, PropValue};
use crate::ptp::{DataType, ObjectFormat, OpCode, PropCode, ResponseCode};
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
    props: Vec<PropDesc>,
    controls: Vec<u16>,
    /// The version answered in 0x9202 (it lays out 0x9209).
    answered_version: Option<u16>,
    /// When live view started (connect phase 3).
    lv_start: Option<Duration>,
    last_served: Option<u64>,
    last_dataset_len: usize,
    /// Properties changed by the host, to announce with 0xC203 events.
    pub changed: Vec<u16>,
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
            props: default_props(body),
            controls: vec![
                0xD2C1, 0xD2C2, 0xD2C3, 0xD2C8, 0xD2C5, 0xD2C7, 0xD2D1, 0xD2D2, 0xD2DC, 0xD2DD,
            ],
            answered_version: None,
            lv_start: None,
            last_served: None,
            last_dataset_len: 0,
            changed: Vec::new(),
            data: Vec::new(),
            tx: Vec::new(),
        }
    }

    /// Answers one operation; `data_out` is its data-out payload, if it had one.
    pub(crate) fn transact(&mut self, cmd: &Command, data_out: Option<&[u8]>) -> Answer {
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
        ExtDeviceInfo {
            version,
            properties: self.props.iter().map(|p| p.code).collect(),
            controls: self.controls.clone(),
        }
        .encode(&mut self.data);
        Answer::data_ok()
    }

    /// The 0x9209 layout of the version answered in 0x9202 (the body's own before that).
    fn generation(&self) -> Generation {
        Generation::of_version(self.answered_version.unwrap_or(self.body.sdio_version))
    }

    fn find(&self, code: u32) -> Option<usize> {
        self.props.iter().position(|p| p.code as u32 == code)
    }

    fn prop_desc(&mut self, code: u32) -> Answer {
        match self.find(code) {
            Some(i) => {
                self.props[i].encode(self.generation(), &mut self.data);
                Answer::data_ok()
            }
            None => Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED),
        }
    }

    fn prop_value(&mut self, code: u32) -> Answer {
        let Some(i) = self.find(code) else {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        let p = &self.props[i];
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
        sony::encode_all_props(&self.props, self.generation(), &mut self.data);
        Answer::data_ok()
    }

    fn set_prop(&mut self, code: u32, value: &[u8]) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        let Some(i) = self.find(code) else {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        let p = &self.props[i];
        if p.get_set != 1 || p.is_enabled != 1 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        let Some(size) = p
            .data_type
            .scalar_size()
            .filter(|_| !p.data_type.is_array())
        else {
            return Answer::code(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        };
        if value.len() != size {
            return Answer::code(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        }
        let v = decode_int(value, p.data_type.0 & 1 == 1);
        let allowed = match &p.form {
            PropForm::None => true,
            PropForm::Enum { values, settable } => settable
                .as_ref()
                .unwrap_or(values)
                .contains(&PropValue::Int(v)),
            PropForm::Range { min, max, .. } => match (min, max) {
                (PropValue::Int(lo), PropValue::Int(hi)) => (*lo..=*hi).contains(&v),
                _ => true,
            },
        };
        if !allowed {
            return Answer::code(ResponseCode::INVALID_DEVICE_PROP_VALUE);
        }
        let changed = p.current != PropValue::Int(v);
        self.props[i].current = PropValue::Int(v);
        if changed {
            self.changed.push(code as u16);
            if code == PropCode::LIVE_VIEW_IMAGE_QUALITY.0 as u32 {
                if let Some((w, h)) = quality_size(v) {
                    self.body.faults().request_frame_size(w, h);
                }
            }
        }
        Answer::ok()
    }

    fn control(&mut self, code: u32, value: &[u8]) -> Answer {
        if self.phase < 2 {
            return Answer::code(ResponseCode::ACCESS_DENIED);
        }
        if !self.controls.iter().any(|&c| c as u32 == code) {
            return Answer::code(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        }
        if value.is_empty() || value.len() > 4 {
            return Answer::code(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        }
        Answer::ok()
    }

    fn live_view_ready(&self) -> bool {
        self.body.usb_live_view && self.phase >= 3
    }

    fn object_info(&mut self, h: u32) -> Answer {
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

    fn get_object(&mut self, h: u32) -> Answer {
        if h != handle::LIVE_VIEW {
            // No captured images in this emulator (0xFFFFC001 is never announced).
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
        let mut content = self.body.content();
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

fn decode_int(b: &[u8], signed: bool) -> i128 {
    let mut a = [0u8; 16];
    a[..b.len()].copy_from_slice(b);
    let v = i128::from_le_bytes(a);
    if signed && !b.is_empty() && b.len() < 16 {
        let shift = 128 - 8 * b.len() as u32;
        (v << shift) >> shift
    } else {
        v
    }
}

/// Operations listed in DeviceInfo (the Sony ones are the basic set; docs/protocol/sony-usb.md).
const SUPPORTED_OPS: &[u16] = &[
    0x1001, 0x1002, 0x1003, 0x1004, 0x1008, 0x1009, 0x9201, 0x9202, 0x9203, 0x9204, 0x9205, 0x9207,
    0x9209,
];

fn int(v: i128) -> PropValue {
    PropValue::Int(v)
}

fn enum_of(vals: &[i128]) -> PropForm {
    PropForm::Enum {
        values: vals.iter().map(|&v| int(v)).collect(),
        settable: None,
    }
}

fn desc(code: u16, t: DataType, get_set: u8, enabled: u8, cur: i128, form: PropForm) -> PropDesc {
    PropDesc {
        code,
        data_type: t,
        get_set,
        is_enabled: enabled,
        default: int(cur),
        current: int(cur),
        form,
    }
}

/// A plausible property set for a mid-range Alpha (values from docs/protocol/sony-usb.md and the
/// a5000/a5100/ZV-E10 dumps it cites).
fn default_props(body: &Body) -> Vec<PropDesc> {
    use DataType as T;
    let lv = body.usb_live_view as i128;
    vec![
        desc(
            0x5004,
            T::UINT8,
            1,
            1,
            0x02,
            enum_of(&[0x02, 0x03, 0x10, 0x13]),
        ),
        desc(
            0x5005,
            T::UINT16,
            1,
            1,
            2,
            enum_of(&[
                2, 4, 6, 7, 0x8001, 0x8002, 0x8003, 0x8004, 0x8010, 0x8011, 0x8012,
            ]),
        ),
        desc(
            0x5007,
            T::UINT16,
            1,
            1,
            400,
            enum_of(&[
                350, 400, 450, 500, 560, 630, 710, 800, 900, 1000, 1100, 1300, 1400, 1600, 1800,
                2000, 2200,
            ]),
        ),
        desc(
            0x500A,
            T::UINT16,
            1,
            1,
            2,
            enum_of(&[1, 2, 0x8004, 0x8005, 0x8006]),
        ),
        desc(
            0x500B,
            T::UINT16,
            1,
            1,
            0x8001,
            enum_of(&[0x8001, 0x8002, 0x8003]),
        ),
        desc(0x500C, T::UINT16, 1, 0, 2, enum_of(&[2])),
        desc(0x500E, T::UINT16, 0, 2, 2, enum_of(&[1, 2, 3, 4, 0x8000])),
        desc(
            0x5010,
            T::INT16,
            1,
            1,
            0,
            enum_of(&[
                -3000, -2700, -2300, -2000, -1700, -1300, -1000, -700, -300, 0, 300, 700, 1000,
                1300, 1700, 2000, 2300, 2700, 3000,
            ]),
        ),
        desc(0x5013, T::UINT16, 1, 1, 1, enum_of(&[1, 0x8012, 0x8013])),
        desc(
            0xD20D,
            T::UINT32,
            1,
            1,
            0x0001_007D,
            enum_of(&[
                0x0001_0032,
                0x0001_003C,
                0x0001_0064,
                0x0001_007D,
                0x0001_00FA,
                0x0001_01F4,
                0x0001_03E8,
            ]),
        ),
        desc(
            0xD20F,
            T::UINT16,
            1,
            1,
            5500,
            PropForm::Range {
                min: int(2500),
                max: int(9900),
                step: int(100),
            },
        ),
        desc(0xD213, T::UINT8, 0, 1, 1, PropForm::None),
        desc(0xD215, T::UINT16, 0, 1, 0, PropForm::None),
        desc(
            0xD218,
            T::INT8,
            0,
            1,
            82,
            PropForm::Range {
                min: int(-1),
                max: int(100),
                step: int(1),
            },
        ),
        desc(0xD21D, T::UINT8, 0, 1, 0, PropForm::None),
        desc(
            0xD21E,
            T::UINT32,
            1,
            1,
            0x00FF_FFFF,
            enum_of(&[0x00FF_FFFF, 100, 200, 400, 800, 1600, 3200, 6400, 12800]),
        ),
        desc(0xD221, T::UINT8, 0, 1, lv, PropForm::None),
        desc(0xD222, T::UINT16, 1, 1, 1, enum_of(&[1, 16, 17])),
        desc(0xD231, T::UINT8, 1, 1, 1, enum_of(&[1, 2])),
        desc(0xD25A, T::INT8, 1, 1, 0, enum_of(&[0, 1])),
        desc(0xD26A, T::UINT8, 1, 1, 2, enum_of(&[1, 2])),
    ]
}
