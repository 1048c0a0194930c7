//! The emulated body's USB front: a PTP responder on the device side of a
//! [`DevicePipe`] that behaves like a Sony Alpha in PC Remote mode
//! (docs/protocol/emulator.md#usb-pc-remote-body).
//!
//! [`serve`] reads command containers from bulk OUT (header and payload may arrive in
//! separate transfers; zero-length packets are skipped), reads the data-out container of
//! operations that have one, and answers on bulk IN with at most one data container and
//! one response; events go to interrupt IN. Short packets and zero-length packets are the
//! pipe's job. What it enforces, like a body does: a session for everything but
//! GetDeviceInfo/OpenSession, SDIO_Connect phases in order, live view only after phase 3
//! and no faster than the body's frame rate, increasing transaction ids.
//!
//! It must not use the host side (`camera`, `pipeline`, `offload`); it may only share
//! the sans-IO `ptp` layer. [`UsbEmulator`] runs it on a thread over an in-process pipe.

use super::body::{lock, Body, Stats};
use super::liveview::{self, Layout};
use super::EmulatorError;
use crate::ptp::codes::{handle, vendor};
use crate::ptp::container::{self, Command, Event, Header, Kind, Params, Response, HEADER_LEN};
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::sony::{self, ExtDeviceInfo, Generation, PropDesc, PropForm, PropValue};
use crate::ptp::{DataType, EventCode, ObjectFormat, OpCode, PropCode, ResponseCode};
use crate::transport::{memory, DevicePipe, ErrorKind, TransportError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest container accepted from the host (commands are ≤ 32 bytes; data-out phases
/// of the operations this body knows are small).
pub const MAX_OUT_CONTAINER: usize = 1 << 20;
/// How often a blocked read looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// How a [`serve`] run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeEnd {
    /// The stop flag was set.
    Stopped,
    /// The host end went away (cable pulled, host dropped its end).
    HostDisconnected,
    /// The disconnect-mid-frame switch fired: part of a frame was sent, then the
    /// disconnect hook was called.
    PulledMidFrame,
}

/// Answers PTP on `pipe` as `body` until `stop` is set or the host goes away.
pub fn serve(
    pipe: &mut dyn DevicePipe,
    body: &Body,
    stop: &AtomicBool,
) -> Result<ServeEnd, EmulatorError> {
    serve_with_hook(pipe, body, stop, &|| {})
}

/// [`serve`], with `on_disconnect` called when the disconnect-mid-frame switch cuts a
/// frame (for the memory pipe it should call `memory::Faults::disconnect`, so the host
/// sees the cable go).
pub fn serve_with_hook(
    pipe: &mut dyn DevicePipe,
    body: &Body,
    stop: &AtomicBool,
    on_disconnect: &(dyn Fn() + Send + Sync),
) -> Result<ServeEnd, EmulatorError> {
    let stats = body.stats().clone();
    Stats::bump(&stats.connects);
    let mut reader = OutReader::new();
    let mut r = Responder::new(body);
    log::debug!("emulated {} connected", body.model);
    loop {
        let c = match reader.next(pipe, stop, &stats)? {
            Next::Container(c) => c,
            Next::Stopped => return Ok(ServeEnd::Stopped),
            Next::Disconnected => return Ok(ServeEnd::HostDisconnected),
        };
        if c.header.kind != Kind::Command {
            protocol_error(
                &stats,
                format_args!(
                    "{:?} container {:#06x} tid {} where a command was expected; dropped",
                    c.header.kind, c.header.code, c.header.tid
                ),
            );
            continue;
        }
        let cmd = match Command::parse(&c.raw) {
            Ok(cmd) => cmd,
            Err(e) => {
                protocol_error(&stats, format_args!("bad command container: {e}"));
                continue;
            }
        };
        stats.log_op(cmd.code);
        if is_live_view_poll(&cmd) {
            log::trace!("host: {:?} tid {} {:?}", cmd.code, cmd.tid, cmd.params);
        } else {
            log::debug!("host: {:?} tid {} {:?}", cmd.code, cmd.tid, cmd.params);
        }

        let mut data_out = None;
        let mut answer = None;
        if has_data_out(cmd.code) {
            match reader.next(pipe, stop, &stats)? {
                Next::Stopped => return Ok(ServeEnd::Stopped),
                Next::Disconnected => return Ok(ServeEnd::HostDisconnected),
                Next::Container(d) => {
                    if d.header.kind == Kind::Data
                        && d.header.code == cmd.code.0
                        && d.header.tid == cmd.tid
                    {
                        data_out = Some(d.raw[HEADER_LEN..].to_vec());
                    } else if d.header.kind == Kind::Command {
                        // The host skipped the data phase: fail this transaction and
                        // take the new command as the next one.
                        protocol_error(
                            &stats,
                            format_args!(
                                "{:?} tid {} sent without its data phase",
                                cmd.code, cmd.tid
                            ),
                        );
                        answer = Some(Answer::code(ResponseCode::INCOMPLETE_TRANSFER));
                        reader.push_back(d);
                    } else {
                        protocol_error(
                            &stats,
                            format_args!(
                                "{:?} tid {}: data phase is a {:?} container {:#06x} tid {}",
                                cmd.code, cmd.tid, d.header.kind, d.header.code, d.header.tid
                            ),
                        );
                        answer = Some(Answer::code(ResponseCode::GENERAL_ERROR));
                    }
                }
            }
        }

        let answer = match answer {
            Some(a) => a,
            None => r.transact(&cmd, data_out.as_deref()),
        };

        if answer.data {
            let mut tx = std::mem::take(&mut r.tx);
            tx.clear();
            tx.extend_from_slice(&container::data_header(cmd.code, cmd.tid, r.data.len()));
            tx.extend_from_slice(&r.data);
            if answer.cut {
                // Send whole packets only (a short one would end the transfer cleanly),
                // then pull the cable.
                let mps = pipe.max_packet_size().max(1);
                let part = (tx.len() / 2 / mps * mps).max(mps.min(tx.len() / 2));
                log::info!(
                    "emulated {}: pulling the cable after {part} of {} bytes",
                    body.model,
                    tx.len()
                );
                let _ = pipe.write_in(&tx[..part]);
                on_disconnect();
                return Ok(ServeEnd::PulledMidFrame);
            }
            let sent = pipe.write_in(&tx);
            r.tx = tx;
            if let Some(end) = write_result(sent)? {
                return Ok(end);
            }
        }
        let mut resp = Vec::with_capacity(32);
        Response {
            code: answer.code,
            tid: cmd.tid,
            params: answer.params,
        }
        .encode(&mut resp);
        if let Some(end) = write_result(pipe.write_in(&resp))? {
            return Ok(end);
        }
        if answer.code != ResponseCode::OK && !is_live_view_poll(&cmd) {
            log::debug!(
                "answered {:?} tid {} with {:?}",
                cmd.code,
                cmd.tid,
                answer.code
            );
        }
        for prop in r.changed.drain(..) {
            let mut ev = Vec::with_capacity(16);
            Event {
                code: EventCode::SONY_DEVICE_PROP_CHANGED,
                tid: 0xFFFF_FFFF,
                params: Params::new(&[prop as u32]).unwrap_or_default(),
            }
            .encode(&mut ev);
            // Events are best effort: a pipe without an interrupt endpoint (or a host
            // that never polls it) must not end the session.
            match pipe.write_event(&ev) {
                Ok(()) => {}
                Err(e) if e.kind == ErrorKind::Disconnected => {
                    return Ok(ServeEnd::HostDisconnected)
                }
                Err(e) => log::debug!("event {prop:#06x} not sent: {e}"),
            }
        }
    }
}

fn write_result(r: Result<(), TransportError>) -> Result<Option<ServeEnd>, EmulatorError> {
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.kind == ErrorKind::Disconnected => Ok(Some(ServeEnd::HostDisconnected)),
        Err(e) => Err(e.into()),
    }
}

fn protocol_error(stats: &Stats, msg: std::fmt::Arguments<'_>) {
    Stats::bump(&stats.protocol_errors);
    log::warn!("emulated camera: host broke the protocol: {msg}");
}

fn is_live_view_poll(cmd: &Command) -> bool {
    matches!(cmd.code, OpCode::GET_OBJECT | OpCode::GET_OBJECT_INFO)
        && cmd.params.get(0) == handle::LIVE_VIEW
}

/// Operations whose data phase goes host → device.
fn has_data_out(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE
            | OpCode::SDIO_CONTROL_DEVICE
            | OpCode::SET_DEVICE_PROP_VALUE
            | OpCode::SONY_EXT_CMD_WRITE
    ) || op.0 == 0x100C // SendObjectInfo
        || op.0 == 0x100D // SendObject
}

fn is_whole_command(t: &[u8]) -> bool {
    Header::parse(t).is_ok_and(|h| h.kind == Kind::Command && h.length as usize == t.len())
}

/// One container from bulk OUT, with its header parsed.
struct Container {
    header: Header,
    raw: Vec<u8>,
}

enum Next {
    Container(Container),
    Stopped,
    Disconnected,
}

/// Reassembles containers from bulk OUT transfers.
struct OutReader {
    buf: Vec<u8>,
    pending: Vec<u8>,
    pushed_back: Option<Container>,
}

impl OutReader {
    fn new() -> Self {
        OutReader {
            buf: vec![0u8; MAX_OUT_CONTAINER],
            pending: Vec::new(),
            pushed_back: None,
        }
    }

    fn push_back(&mut self, c: Container) {
        self.pushed_back = Some(c);
    }

    fn next(
        &mut self,
        pipe: &mut dyn DevicePipe,
        stop: &AtomicBool,
        stats: &Stats,
    ) -> Result<Next, EmulatorError> {
        if let Some(c) = self.pushed_back.take() {
            return Ok(Next::Container(c));
        }
        loop {
            match container::peek(&self.pending, MAX_OUT_CONTAINER) {
                Ok(Some(header)) => {
                    let len = header.length as usize;
                    let raw = self.pending[..len].to_vec();
                    self.pending.drain(..len);
                    return Ok(Next::Container(Container { header, raw }));
                }
                Ok(None) => {}
                Err(e) => {
                    // Nothing after a corrupt header can be trusted to be aligned.
                    protocol_error(
                        stats,
                        format_args!("{e}; dropping {} bytes", self.pending.len()),
                    );
                    self.pending.clear();
                }
            }
            if stop.load(Ordering::SeqCst) {
                return Ok(Next::Stopped);
            }
            match pipe.read_out(&mut self.buf, POLL) {
                Ok(0) => {} // a zero-length packet ending the previous transfer
                Ok(n) => {
                    let t = &self.buf[..n];
                    // Resynchronise: a transfer that is exactly one well-formed command
                    // starts afresh, abandoning a container the host never finished
                    // (otherwise one bad length would swallow every later command).
                    if !self.pending.is_empty() && is_whole_command(t) {
                        protocol_error(
                            stats,
                            format_args!(
                                "abandoned an unfinished container ({} bytes)",
                                self.pending.len()
                            ),
                        );
                        self.pending.clear();
                    }
                    self.pending.extend_from_slice(t);
                }
                Err(e) => match e.kind {
                    ErrorKind::Timeout => {}
                    ErrorKind::Disconnected => return Ok(Next::Disconnected),
                    ErrorKind::Overflow => {
                        protocol_error(stats, format_args!("{e}"));
                        self.pending.clear();
                    }
                    _ => return Err(e.into()),
                },
            }
        }
    }
}

/// What to send back for one transaction. The data phase (if any) is in `Responder::data`.
struct Answer {
    data: bool,
    cut: bool,
    code: ResponseCode,
    params: Params,
}

impl Answer {
    fn code(code: ResponseCode) -> Answer {
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

/// Sizes LiveViewImageQuality (0xD26A) selects: 1 = low, 2 = high
/// (docs/protocol/sony-usb.md#frame-size).
fn quality_size(q: i128) -> Option<(u32, u32)> {
    match q {
        1 => Some((640, 424)),
        2 => Some((1024, 680)),
        _ => None,
    }
}

/// Per-connection state of the body.
struct Responder<'a> {
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
    changed: Vec<u16>,
    data: Vec<u8>,
    tx: Vec<u8>,
}

impl<'a> Responder<'a> {
    fn new(body: &'a Body) -> Self {
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

    fn transact(&mut self, cmd: &Command, data_out: Option<&[u8]>) -> Answer {
        self.data.clear();
        let op = cmd.code;
        if !SUPPORTED_OPS.contains(&op.0) && op.0 != 0x920D {
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
            // Allowed outside a session too
            // (docs/protocol/ptp-usb.md#transaction-ids-and-sessions).
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
                // PC Remote mode gives no file access
                // (docs/protocol/sony-usb.md#usb-modes): no storages.
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
        DeviceInfo {
            standard_version: 100,
            vendor_extension_id: vendor::SONY,
            vendor_extension_version: 100,
            vendor_extension_desc: "Sony PTP Extensions".into(),
            functional_mode: 0,
            operations_supported: SUPPORTED_OPS.to_vec(),
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

/// Operations listed in DeviceInfo (the Sony ones are the basic set;
/// docs/protocol/sony-usb.md#telling-pc-remote-from-mtp).
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

/// A plausible property set for a mid-range Alpha (values from the
/// a5000/a5100/ZV-E10 dumps, docs/protocol/sony-usb.md#property-descriptors).
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

/// A connected emulator cable: the serve thread and the pipe's fault switches.
struct Cable {
    pipe_faults: Arc<memory::Faults>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ServeEnd, EmulatorError>>>,
}

/// The emulated body on an in-process USB pipe, for tests and `--camera emulated`.
///
/// Each [`connect`](UsbEmulator::connect) is a fresh enumeration: a new
/// `memory::pair(512)` with a serve thread behind it (a previous connection is pulled
/// first, as only one host can claim the interface).
pub struct UsbEmulator {
    body: Arc<Body>,
    plugged: AtomicBool,
    cable: Mutex<Option<Cable>>,
    last_end: Mutex<Option<Result<ServeEnd, String>>>,
}

impl std::fmt::Debug for UsbEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbEmulator")
            .field("body", &self.body)
            .field("plugged", &self.plugged.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl UsbEmulator {
    /// A plugged-in emulator for `body`.
    pub fn new(body: Body) -> UsbEmulator {
        UsbEmulator {
            body: Arc::new(body),
            plugged: AtomicBool::new(true),
            cable: Mutex::new(None),
            last_end: Mutex::new(None),
        }
    }

    pub fn body(&self) -> &Arc<Body> {
        &self.body
    }

    pub fn faults(&self) -> &Arc<super::Faults> {
        self.body.faults()
    }

    pub fn stats(&self) -> &Arc<Stats> {
        self.body.stats()
    }

    /// Opens a new connection: the host end of a fresh in-process pipe. `NotFound`
    /// while unplugged.
    pub fn connect(&self) -> Result<memory::HostEnd, TransportError> {
        if !self.plugged.load(Ordering::SeqCst) {
            return Err(TransportError::new(
                ErrorKind::NotFound,
                "the emulated camera is unplugged",
            ));
        }
        self.pull_cable();
        let (host, mut dev, pipe_faults) = memory::pair(512);
        let stop = Arc::new(AtomicBool::new(false));
        let body = self.body.clone();
        let (thread_stop, hook_faults) = (stop.clone(), pipe_faults.clone());
        let thread = std::thread::Builder::new()
            .name("emu-usb-camera".into())
            .spawn(move || {
                let hook = move || hook_faults.disconnect();
                let end = serve_with_hook(&mut dev, &body, &thread_stop, &hook);
                match &end {
                    Ok(e) => log::debug!("emulated {}: connection ended ({e:?})", body.model),
                    Err(e) => log::error!("emulated {}: {e}", body.model),
                }
                end
            })
            .map_err(|e| {
                TransportError::new(
                    ErrorKind::Other,
                    format!("could not start the emulated camera thread: {e}"),
                )
            })?;
        *lock(&self.cable) = Some(Cable {
            pipe_faults,
            stop,
            thread: Some(thread),
        });
        Ok(host)
    }

    /// Pulls the cable: the current host end fails with `Disconnected`, and `connect`
    /// fails with `NotFound` until [`plug`](UsbEmulator::plug).
    pub fn unplug(&self) {
        self.plugged.store(false, Ordering::SeqCst);
        self.pull_cable();
    }

    pub fn plug(&self) {
        self.plugged.store(true, Ordering::SeqCst);
    }

    pub fn is_plugged(&self) -> bool {
        self.plugged.load(Ordering::SeqCst)
    }

    /// How the most recent finished serve run ended (errors as text).
    pub fn last_end(&self) -> Option<Result<ServeEnd, String>> {
        lock(&self.last_end).clone()
    }

    /// Ends the current connection, if any, and waits for its serve thread.
    fn pull_cable(&self) {
        let cable = lock(&self.cable).take();
        if let Some(mut c) = cable {
            c.pipe_faults.disconnect();
            c.stop.store(true, Ordering::SeqCst);
            if let Some(t) = c.thread.take() {
                let end = match t.join() {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err("the emulated camera thread panicked".to_string()),
                };
                *lock(&self.last_end) = Some(end);
            }
        }
    }
}

impl Drop for UsbEmulator {
    fn drop(&mut self) {
        self.pull_cable();
    }
}
