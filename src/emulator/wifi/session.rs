//! What the emulated body answers to each operation in Send to Computer mode, with no
//! I/O: the responder feeds it requests (and any data-out payload) and streams whatever
//! it returns (docs/protocol/offload.md, docs/protocol/ptp-usb.md#datasets).
//!
//! Rules it enforces, as a Sony body does: storage requests are refused with DeviceBusy
//! until the Sony start (0x9280 plugin 4 sub-command 2, then 0x9281); every 0x9280 must be
//! followed by a 0x9281 or everything else is DeviceBusy; the end (0x9280 sub-command 5,
//! then 0x9281, or CloseSession after it in PlayMemories' order) powers the body off.
//! It must not know about sockets: the responder owns those.

use crate::ptp::codes::{ObjectFormat, OpCode, ResponseCode};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::sony::{ext_cmd, ExtCmd};

use super::storage::{HandlesError, Storage, STORAGE_ID};

/// Size of the 0x9281 reply block seen from real bodies
/// (docs/protocol/sony-usb.md#extcmd-over-ptp).
pub(super) const EXT_CMD_REPLY_LEN: usize = 8192;

/// The operations listed in DeviceInfo.
pub(super) const OPERATIONS: &[u16] = &[
    0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006, 0x1007, 0x1008, 0x1009, 0x101B, 0x1016, 0x9280,
    0x9281,
];

/// The data phase a reply carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataIn {
    None,
    Bytes(Vec<u8>),
    /// `len` bytes of object `handle` from `offset`; `total` is what Start Data declares.
    Object {
        handle: u32,
        offset: u64,
        len: u64,
        total: u64,
    },
}

/// What happens to the session after the response has been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Continue,
    /// CloseSession: the client will close the sockets.
    Closed,
    /// The Sony end was completed: close everything and stop announcing.
    PowerOff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: ResponseCode,
    pub params: Vec<u32>,
    pub data: DataIn,
    pub after: After,
}

impl Reply {
    fn code(code: ResponseCode) -> Reply {
        Reply {
            code,
            params: Vec::new(),
            data: DataIn::None,
            after: After::Continue,
        }
    }

    fn ok_data(data: DataIn) -> Reply {
        Reply {
            data,
            ..Reply::code(ResponseCode::OK)
        }
    }
}

/// Identity strings the body reports.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub model: String,
    pub serial: String,
    pub version: String,
}

/// One PTP session's state (one per activation).
#[derive(Debug, Default)]
pub(crate) struct Session {
    open: bool,
    /// The Sony start has completed: storage is reachable.
    started: bool,
    /// A 0x9280 was received and its 0x9281 has not arrived yet: (plugin, sub-command).
    pending_ext: Option<(u32, u16)>,
    /// Sub-command 5 was written (power off after the read, or at CloseSession).
    power_off_requested: bool,
}

/// Operations that carry a data-out phase even when DataPhaseInfo says 0 (PlayMemories
/// sends 0 in every request, docs/protocol/ptpip.md#data-out).
pub(crate) fn expects_data_out(op: u16, data_phase: u32) -> bool {
    data_phase == 2 || matches!(op, 0x9280 | 0x1016 | 0x100C | 0x100D)
}

fn is_storage_op(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::GET_STORAGE_IDS
            | OpCode::GET_STORAGE_INFO
            | OpCode::GET_NUM_OBJECTS
            | OpCode::GET_OBJECT_HANDLES
            | OpCode::GET_OBJECT_INFO
            | OpCode::GET_OBJECT
            | OpCode::GET_THUMB
            | OpCode::DELETE_OBJECT
            | OpCode::GET_PARTIAL_OBJECT
            | OpCode::SDIO_GET_PARTIAL_LARGE_OBJECT
    )
}

pub(crate) fn device_info(id: &Identity) -> DeviceInfo {
    DeviceInfo {
        standard_version: 100,
        // Sony bodies report the MTP vendor id over PTP/IP
        // (docs/protocol/offload.md#session-script).
        vendor_extension_id: 0xFFFF_FFFF,
        vendor_extension_version: 100,
        vendor_extension_desc: String::new(),
        functional_mode: 0,
        operations_supported: OPERATIONS.to_vec(),
        events_supported: vec![0x4002, 0x4003],
        device_properties_supported: Vec::new(),
        capture_formats: Vec::new(),
        image_formats: vec![
            ObjectFormat::ASSOCIATION.0,
            ObjectFormat::EXIF_JPEG.0,
            ObjectFormat::SONY_ARW.0,
            ObjectFormat::HEIF.0,
            ObjectFormat::MPEG.0,
            ObjectFormat::MP4.0,
        ],
        manufacturer: "Sony Corporation".into(),
        model: id.model.clone(),
        device_version: id.version.clone(),
        serial_number: id.serial.clone(),
    }
}

impl Session {
    pub(super) fn new() -> Session {
        Session::default()
    }

    pub(super) fn started(&self) -> bool {
        self.started
    }

    /// Answers one operation. `data_out` is the received data-out payload (if the
    /// operation had one).
    pub(super) fn handle(
        &mut self,
        storage: &Storage,
        id: &Identity,
        op: OpCode,
        params: &[u32],
        data_out: Option<&[u8]>,
    ) -> Reply {
        let p = |i: usize| params.get(i).copied();
        // airnef: a 0x9280 that is not followed by 0x9281 leaves the body busy.
        if self.pending_ext.is_some()
            && op != OpCode::SONY_EXT_CMD_READ
            && op != OpCode::CLOSE_SESSION
        {
            return Reply::code(ResponseCode::DEVICE_BUSY);
        }
        match op {
            OpCode::GET_DEVICE_INFO => {
                // Allowed before OpenSession (airnef asks first).
                let mut v = Vec::new();
                device_info(id).encode(&mut v);
                return Reply::ok_data(DataIn::Bytes(v));
            }
            OpCode::OPEN_SESSION => {
                if self.open {
                    return Reply {
                        params: vec![1],
                        ..Reply::code(ResponseCode::SESSION_ALREADY_OPEN)
                    };
                }
                if p(0).unwrap_or(0) == 0 {
                    return Reply::code(ResponseCode::INVALID_PARAMETER);
                }
                self.open = true;
                return Reply::code(ResponseCode::OK);
            }
            _ => {}
        }
        if !self.open {
            return Reply::code(ResponseCode::SESSION_NOT_OPEN);
        }
        if is_storage_op(op) && !self.started {
            // Newer bodies sit on "Connecting…" until the start command
            // (docs/protocol/offload.md#sony-start).
            return Reply::code(ResponseCode::DEVICE_BUSY);
        }
        match op {
            OpCode::CLOSE_SESSION => {
                self.open = false;
                let power_off = self.power_off_requested || self.pending_ext == Some((4, 5));
                self.pending_ext = None;
                Reply {
                    after: if power_off {
                        After::PowerOff
                    } else {
                        After::Closed
                    },
                    ..Reply::code(ResponseCode::OK)
                }
            }
            OpCode::SONY_EXT_CMD_WRITE => self.ext_write(p(0), data_out),
            OpCode::SONY_EXT_CMD_READ => {
                let pending = self.pending_ext.take();
                match (p(0), pending) {
                    (Some(1 | 4), _) => {}
                    _ => return Reply::code(ResponseCode::PARAMETER_NOT_SUPPORTED),
                }
                let mut after = After::Continue;
                match pending {
                    Some((4, ext_cmd::NOTIFY_BACKUP_TYPE)) => self.started = true,
                    Some((4, ext_cmd::FORCE_POWER_OFF)) => after = After::PowerOff,
                    _ => {}
                }
                Reply {
                    after,
                    ..Reply::ok_data(DataIn::Bytes(vec![0; EXT_CMD_REPLY_LEN]))
                }
            }
            OpCode::SET_DEVICE_PROP_VALUE => {
                // PlayMemories sets 0xD406 (session initiator info); accepted and ignored.
                Reply::code(ResponseCode::OK)
            }
            OpCode::GET_STORAGE_IDS => {
                let mut v = Vec::new();
                crate::ptp::codec::Writer::new(&mut v).u32_array(&[STORAGE_ID]);
                Reply::ok_data(DataIn::Bytes(v))
            }
            OpCode::GET_STORAGE_INFO => {
                if p(0) != Some(STORAGE_ID) {
                    return Reply::code(ResponseCode::INVALID_STORAGE_ID);
                }
                let mut v = Vec::new();
                storage.storage_info().encode(&mut v);
                Reply::ok_data(DataIn::Bytes(v))
            }
            OpCode::GET_OBJECT_HANDLES | OpCode::GET_NUM_OBJECTS => {
                // airnef: Sony bodies want all three parameters.
                let (Some(sid), Some(format), Some(parent)) = (p(0), p(1), p(2)) else {
                    return Reply::code(ResponseCode::PARAMETER_NOT_SUPPORTED);
                };
                if sid != STORAGE_ID && sid != 0xFFFF_FFFF {
                    return Reply::code(ResponseCode::INVALID_STORAGE_ID);
                }
                let Ok(format) = u16::try_from(format) else {
                    return Reply::code(ResponseCode::INVALID_OBJECT_FORMAT_CODE);
                };
                match storage.handles(format, parent) {
                    Err(HandlesError::NoSuchParent) => {
                        Reply::code(ResponseCode::INVALID_OBJECT_HANDLE)
                    }
                    Err(HandlesError::NotAFolder) => {
                        Reply::code(ResponseCode::INVALID_PARENT_OBJECT)
                    }
                    Ok(h) if op == OpCode::GET_NUM_OBJECTS => Reply {
                        params: vec![h.len() as u32],
                        ..Reply::code(ResponseCode::OK)
                    },
                    Ok(h) => {
                        let mut v = Vec::new();
                        crate::ptp::codec::Writer::new(&mut v).u32_array(&h);
                        Reply::ok_data(DataIn::Bytes(v))
                    }
                }
            }
            OpCode::GET_OBJECT_INFO => match p(0).and_then(|h| storage.get(h)) {
                None => Reply::code(ResponseCode::INVALID_OBJECT_HANDLE),
                Some(o) => {
                    let mut v = Vec::new();
                    o.object_info().encode(&mut v);
                    Reply::ok_data(DataIn::Bytes(v))
                }
            },
            OpCode::GET_OBJECT => match p(0).and_then(|h| storage.get(h)) {
                None => Reply::code(ResponseCode::INVALID_OBJECT_HANDLE),
                Some(o) if o.is_folder() => Reply::code(ResponseCode::INVALID_OBJECT_HANDLE),
                Some(o) => Reply::ok_data(DataIn::Object {
                    handle: o.handle,
                    offset: 0,
                    len: o.size,
                    total: o.size,
                }),
            },
            OpCode::GET_PARTIAL_OBJECT => {
                let Some(o) = p(0).and_then(|h| storage.get(h)) else {
                    return Reply::code(ResponseCode::INVALID_OBJECT_HANDLE);
                };
                if o.is_folder() {
                    return Reply::code(ResponseCode::INVALID_OBJECT_HANDLE);
                }
                let offset = u64::from(p(1).unwrap_or(0));
                let max = u64::from(p(2).unwrap_or(u32::MAX));
                if offset > o.size {
                    return Reply::code(ResponseCode::INVALID_PARAMETER);
                }
                let len = max.min(o.size - offset);
                Reply {
                    params: vec![len as u32],
                    ..Reply::ok_data(DataIn::Object {
                        handle: o.handle,
                        offset,
                        len,
                        total: len,
                    })
                }
            }
            _ => Reply::code(ResponseCode::OPERATION_NOT_SUPPORTED),
        }
    }

    fn ext_write(&mut self, plugin: Option<u32>, data: Option<&[u8]>) -> Reply {
        let plugin = match plugin {
            Some(p @ (1 | 4)) => p,
            // PlayMemories saw 0x2006 for plugin 5
            // (docs/protocol/emulator.md#wi-fi-send-to-computer-body).
            _ => return Reply::code(ResponseCode::PARAMETER_NOT_SUPPORTED),
        };
        let Some(cmd) = data.and_then(|d| ExtCmd::parse(d).ok()) else {
            return Reply::code(ResponseCode::INVALID_PARAMETER);
        };
        if plugin == ext_cmd::PLUGIN_BACKUP {
            match cmd.sub_command {
                ext_cmd::NOTIFY_BACKUP_TYPE => {
                    log::info!(
                        "emulator: Sony start received (payload {:02x?})",
                        cmd.payload
                    )
                }
                ext_cmd::FORCE_POWER_OFF => {
                    log::info!("emulator: power-off requested");
                    self.power_off_requested = true;
                }
                ext_cmd::NOTIFY_BACKUP_FINISH => {
                    log::info!("emulator: \"the saving process has been cancelled\"")
                }
                other => log::debug!("emulator: ExtCmd sub-command {other}"),
            }
        }
        self.pending_ext = Some((plugin, cmd.sub_command));
        Reply::code(ResponseCode::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            model: "ILCE-6400".into(),
            serial: "0".into(),
            version: "1.00".into(),
        }
    }

    fn ext(sub: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        ExtCmd {
            sub_command: sub,
            direction: 0,
            payload,
        }
        .encode(&mut v);
        v
    }

    #[test]
    fn busy_until_start_and_busy_without_the_read() {
        let st = Storage::default();
        let mut s = Session::new();
        let c = |r: Reply| r.code;
        assert_eq!(
            c(s.handle(&st, &id(), OpCode::GET_STORAGE_IDS, &[], None)),
            ResponseCode::SESSION_NOT_OPEN
        );
        assert_eq!(
            c(s.handle(&st, &id(), OpCode::OPEN_SESSION, &[1], None)),
            ResponseCode::OK
        );
        assert_eq!(
            c(s.handle(&st, &id(), OpCode::GET_STORAGE_IDS, &[], None)),
            ResponseCode::DEVICE_BUSY
        );
        let start = ext(2, &[1, 1]);
        assert_eq!(
            c(s.handle(&st, &id(), OpCode(0x9280), &[4], Some(&start))),
            ResponseCode::OK
        );
        // Without the 0x9281, even GetDeviceInfo is busy.
        assert_eq!(
            c(s.handle(&st, &id(), OpCode::GET_DEVICE_INFO, &[], None)),
            ResponseCode::DEVICE_BUSY
        );
        let r = s.handle(&st, &id(), OpCode(0x9281), &[4], None);
        assert_eq!(r.code, ResponseCode::OK);
        assert_eq!(r.data, DataIn::Bytes(vec![0; 8192]));
        assert!(s.started());
        assert_eq!(
            c(s.handle(&st, &id(), OpCode::GET_STORAGE_IDS, &[], None)),
            ResponseCode::OK
        );
        let end = ext(5, &[]);
        s.handle(&st, &id(), OpCode(0x9280), &[4], Some(&end));
        assert_eq!(
            s.handle(&st, &id(), OpCode(0x9281), &[4], None).after,
            After::PowerOff
        );
    }

    #[test]
    fn pmh_end_order_powers_off_at_close() {
        let st = Storage::default();
        let mut s = Session::new();
        s.handle(&st, &id(), OpCode::OPEN_SESSION, &[1], None);
        assert_eq!(
            s.handle(&st, &id(), OpCode(0x9281), &[4], None).code,
            ResponseCode::OK
        );
        s.handle(&st, &id(), OpCode(0x9280), &[4], Some(&ext(5, &[])));
        assert_eq!(
            s.handle(&st, &id(), OpCode::CLOSE_SESSION, &[], None).after,
            After::PowerOff
        );
    }

    #[test]
    fn device_info_looks_like_sony_over_ptpip() {
        let d = device_info(&id());
        assert_eq!(d.vendor_extension_id, 0xFFFF_FFFF);
        assert_eq!(d.manufacturer, "Sony Corporation");
        assert!(d.supports(OpCode(0x9280)) && d.supports(OpCode(0x9281)));
    }
}
