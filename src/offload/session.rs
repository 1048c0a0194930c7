//! A Sony "Send to Computer" session over PTP/IP (docs/protocol/offload.md#session-script):
//! Init handshakes, OpenSession, GetDeviceInfo (must be "Sony Corporation"), the Sony start
//! (0x9280 plugin 4 sub-command 2 payload `01 01`, then 0x9281) before any storage request,
//! enumeration, chunked GetPartialObject downloads streamed to a sink, and the Sony end
//! (0x9280 sub-command 5, then 0x9281) plus CloseSession so the camera powers off.
//!
//! It is a script over the session driver (`camera::session`), so its transactions
//! follow the same engine rules as live view (stale answers, caps, refusals). Only ever
//! used over PTP/IP: the power-off must never go to a camera over USB (libgphoto2 #323,
//! #355). Memory is bounded by one Data packet.

use std::net::SocketAddr;

use super::OffloadError;
use crate::camera::link::PtpIpLink;
use crate::camera::session::{DataPhase, Session as PtpSession};
use crate::camera::CameraError;
use crate::ptp::container::Params;
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::sony::{ext_cmd, ExtCmd};
use crate::ptp::{OpCode, ResponseCode};
use crate::transport::tcp::{TcpConfig, TcpError};

/// Manufacturer string a Sony body reports.
pub const SONY_MANUFACTURER: &str = "Sony Corporation";
/// Cap on small data-in phases (DeviceInfo, ObjectInfo, handle lists, ExtCmd replies).
const MAX_SMALL_DATA: usize = 16 << 20;

/// A response that was not OK, or data the session could not use.
fn refused(op: OpCode, code: ResponseCode) -> OffloadError {
    OffloadError::Refused { op, code }
}

impl From<CameraError> for OffloadError {
    fn from(e: CameraError) -> Self {
        match e {
            CameraError::Refused { op, code } => OffloadError::Refused { op, code },
            CameraError::Protocol { op, detail } => {
                OffloadError::Protocol(format!("{op}: {detail}"))
            }
            CameraError::Parse(p) => OffloadError::Malformed(p.to_string()),
            CameraError::Transport(t) => OffloadError::Connection(TcpError::Transport(t)),
            CameraError::NotPaired { reason } => {
                log::debug!("init fail reason {reason}");
                OffloadError::NotPaired
            }
            other => OffloadError::Protocol(other.to_string()),
        }
    }
}

/// An open session with a camera in Send-to-Computer mode: the same session driver
/// and transaction engine as live view, over the PTP/IP link.
pub struct Session {
    s: PtpSession<PtpIpLink>,
    device: DeviceInfo,
    started: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("model", &self.device.model)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects, opens the PTP session, checks the device and sends the Sony start.
    pub fn open(
        addr: SocketAddr,
        guid: [u8; 16],
        host_name: &str,
        cfg: TcpConfig,
    ) -> Result<Session, OffloadError> {
        let link = PtpIpLink::connect(addr, guid, host_name, cfg)?;
        log::debug!(
            "connected to {:?} at {addr} (connection {})",
            link.responder().name,
            link.responder().connection
        );
        let mut s = PtpSession::over(link);
        s.set_max_data(MAX_SMALL_DATA);
        let mut s = Session {
            s,
            device: DeviceInfo::default(),
            started: false,
        };
        // A session left open by an earlier, interrupted client is closed and opened
        // again (the session driver's one rule for every link).
        s.s.open_session()?;
        s.device = s.s.device_info().map_err(|e| match e {
            CameraError::Parse(p) => OffloadError::Malformed(p.to_string()),
            e => e.into(),
        })?;
        if s.device.manufacturer != SONY_MANUFACTURER {
            let m = s.device.manufacturer.clone();
            s.close_quietly();
            return Err(OffloadError::NotSony(m));
        }
        log::debug!(
            "camera: {} {} serial {}",
            s.device.manufacturer,
            s.device.model,
            s.device.serial_number
        );
        if s.device.supports(OpCode::SONY_EXT_CMD_WRITE)
            && s.device.supports(OpCode::SONY_EXT_CMD_READ)
        {
            // Without this the camera never shows "Sending…" and newer bodies refuse
            // every storage request (docs/protocol/offload.md#sony-start).
            s.ext_cmd(ext_cmd::NOTIFY_BACKUP_TYPE, &[1, 1])?;
            s.started = true;
        } else {
            log::warn!("the camera does not list 0x9280/0x9281; continuing without the sony start");
        }
        Ok(s)
    }

    /// The GetDeviceInfo answer read when the session opened.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// True when the camera lists GetPartialObject (resumable, chunked downloads).
    pub fn supports_partial(&self) -> bool {
        self.device.supports(OpCode::GET_PARTIAL_OBJECT)
    }

    /// 0x9280(plugin 4) with an ExtCmd block, then 0x9281(plugin 4) whose reply is
    /// read and dropped (every write must be followed by a read, airnef).
    fn ext_cmd(&mut self, sub: u16, payload: &[u8]) -> Result<(), OffloadError> {
        let mut block = Vec::with_capacity(ExtCmd::HEADER_LEN + payload.len());
        ExtCmd {
            sub_command: sub,
            direction: 0,
            payload,
        }
        .encode(&mut block);
        self.data_out(
            OpCode::SONY_EXT_CMD_WRITE,
            &[ext_cmd::PLUGIN_BACKUP],
            &block,
        )?;
        self.data_in(
            OpCode::SONY_EXT_CMD_READ,
            &[ext_cmd::PLUGIN_BACKUP],
            MAX_SMALL_DATA,
        )?;
        Ok(())
    }

    /// A transaction without data.
    pub fn simple(&mut self, op: OpCode, params: &[u32]) -> Result<Params, OffloadError> {
        Ok(self.s.checked(op, params, DataPhase::None)?.params)
    }

    /// A data-out transaction, PlayMemories style: Start Data, one Data packet with
    /// everything, an empty End Data (the camera accepts both styles).
    pub fn data_out(
        &mut self,
        op: OpCode,
        params: &[u32],
        data: &[u8],
    ) -> Result<Params, OffloadError> {
        Ok(self.s.checked(op, params, DataPhase::Out(data))?.params)
    }

    /// A data-in transaction whose data goes to `sink` chunk by chunk. Returns the
    /// response parameters and the number of data bytes. The camera may skip the data
    /// phase and answer directly (usually with an error). A failing sink (disk full)
    /// does not leave the rest of the data phase in the socket: the phase is drained
    /// and the response taken, then the sink's error is returned.
    pub fn data_in_to(
        &mut self,
        op: OpCode,
        params: &[u32],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), OffloadError>,
    ) -> Result<(Params, u64), OffloadError> {
        let mut sink_err = None;
        let (r, got) = self
            .s
            .transaction_streamed(op, params, &mut |b| match sink(b) {
                Ok(()) => true,
                Err(e) => {
                    sink_err = Some(e);
                    false
                }
            })?;
        if let Some(e) = sink_err {
            return Err(e);
        }
        if r.code != ResponseCode::OK {
            return Err(refused(op, r.code));
        }
        Ok((r.params, got))
    }

    /// A data-in transaction collected into memory, at most `cap` bytes.
    pub fn data_in(
        &mut self,
        op: OpCode,
        params: &[u32],
        cap: usize,
    ) -> Result<Vec<u8>, OffloadError> {
        let mut v = Vec::new();
        self.data_in_to(op, params, &mut |b| {
            if v.len() + b.len() > cap {
                return Err(OffloadError::Protocol(format!(
                    "{op}: more than {cap} bytes of data"
                )));
            }
            v.extend_from_slice(b);
            Ok(())
        })?;
        Ok(v)
    }

    fn u32_array(&mut self, op: OpCode, params: &[u32]) -> Result<Vec<u32>, OffloadError> {
        let raw = self.data_in(op, params, MAX_SMALL_DATA)?;
        crate::ptp::codec::Reader::new(&raw, "handle list")
            .u32_array("values")
            .map_err(|e| OffloadError::Malformed(e.to_string()))
    }

    /// Storage ids with a medium (ids whose low 16 bits are 0 have none; libgphoto2).
    pub fn storage_ids(&mut self) -> Result<Vec<u32>, OffloadError> {
        let ids = self.u32_array(OpCode::GET_STORAGE_IDS, &[])?;
        Ok(ids.into_iter().filter(|id| id & 0xFFFF != 0).collect())
    }

    /// Every object of a storage (flat: parent 0), with all three parameters sent
    /// because some Sony bodies require the optional ones (airnef).
    pub fn object_handles(&mut self, storage: u32) -> Result<Vec<u32>, OffloadError> {
        self.u32_array(OpCode::GET_OBJECT_HANDLES, &[storage, 0, 0])
    }

    /// GetObjectInfo for `handle`.
    pub fn object_info(&mut self, handle: u32) -> Result<ObjectInfo, OffloadError> {
        let raw = self.data_in(OpCode::GET_OBJECT_INFO, &[handle], MAX_SMALL_DATA)?;
        ObjectInfo::parse(&raw).map_err(|e| OffloadError::Malformed(e.to_string()))
    }

    /// GetPartialObject: up to `max` bytes from `offset`, streamed to `sink`. Returns
    /// the byte count (checked against the response's parameter 1 when present).
    pub fn read_partial(
        &mut self,
        handle: u32,
        offset: u32,
        max: u32,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), OffloadError>,
    ) -> Result<u64, OffloadError> {
        let mut got = 0u64;
        let (p, n) = self.data_in_to(
            OpCode::GET_PARTIAL_OBJECT,
            &[handle, offset, max],
            &mut |b| {
                got += b.len() as u64;
                if got > max as u64 {
                    return Err(OffloadError::Protocol(format!(
                        "GetPartialObject returned more than the {max} bytes asked for"
                    )));
                }
                sink(b)
            },
        )?;
        if !p.as_slice().is_empty() && p.get(0) as u64 != n {
            log::warn!(
                "GetPartialObject says {} bytes but sent {n}; trusting the data",
                p.get(0)
            );
        }
        Ok(n)
    }

    /// GetObject: the whole object in one data phase (its Start Data carries a 64-bit
    /// total, so this also works for objects of 4 GiB and more). Returns the byte count.
    pub fn read_object(
        &mut self,
        handle: u32,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), OffloadError>,
    ) -> Result<u64, OffloadError> {
        Ok(self.data_in_to(OpCode::GET_OBJECT, &[handle], sink)?.1)
    }

    /// The Sony end (power-off) and CloseSession, then both sockets closed.
    pub fn finish(mut self) -> Result<(), OffloadError> {
        let r = self.finish_inner();
        self.s.link().shutdown();
        r
    }

    fn finish_inner(&mut self) -> Result<(), OffloadError> {
        if self.started {
            // Write first, then read: the camera powers off only after the reply to
            // 0x9281 was taken (PR #1220).
            self.ext_cmd(ext_cmd::FORCE_POWER_OFF, &[])?;
            // A body that switches off right after that reply drops the connection
            // before CloseSession: the job is done, so that is not an error.
            if let Err(e) = self.simple(OpCode::CLOSE_SESSION, &[]) {
                log::debug!("CloseSession after power-off: {e} (the camera is already off)");
            }
            return Ok(());
        }
        self.simple(OpCode::CLOSE_SESSION, &[])?;
        Ok(())
    }

    /// Best-effort close after an error (no power-off: the user may want to retry).
    pub fn close_quietly(&mut self) {
        if let Err(e) = self.simple(OpCode::CLOSE_SESSION, &[]) {
            log::debug!("close session after error: {e}");
        }
        self.s.link().shutdown();
    }
}
