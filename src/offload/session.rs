//! A Sony "Send to Computer" session over PTP/IP (docs/protocol/offload.md#session-script):
//! Init handshakes, OpenSession, GetDeviceInfo (must be "Sony Corporation"), the Sony start
//! (0x9280 plugin 4 sub-command 2 payload `01 01`, then 0x9281) before any storage request,
//! enumeration, chunked GetPartialObject downloads streamed to a sink, and the Sony end
//! (0x9280 sub-command 5, then 0x9281) plus CloseSession so the camera powers off.
//!
//! Only ever used over PTP/IP: the power-off must never go to a camera over USB
//! (libgphoto2 #323, #355). Memory is bounded by one Data packet.

use std::net::SocketAddr;

use super::OffloadError;
use crate::ptp::container::Params;
use crate::ptp::dataset::{DeviceInfo, ObjectInfo};
use crate::ptp::ptpip::{data_phase, Packet};
use crate::ptp::sony::{ext_cmd, ExtCmd};
use crate::ptp::{OpCode, ResponseCode, TransactionIds};
use crate::transport::tcp::{PtpIpConnection, TcpConfig, TcpError};

/// Manufacturer string a Sony body reports.
pub const SONY_MANUFACTURER: &str = "Sony Corporation";
/// Cap on small data-in phases (DeviceInfo, ObjectInfo, handle lists, ExtCmd replies).
const MAX_SMALL_DATA: usize = 16 << 20;

/// A response that was not OK, or data the session could not use.
fn refused(op: OpCode, code: ResponseCode) -> OffloadError {
    OffloadError::Refused { op, code }
}

/// An open session with a camera in Send-to-Computer mode.
#[derive(Debug)]
pub struct Session {
    conn: PtpIpConnection,
    tids: TransactionIds,
    device: DeviceInfo,
    started: bool,
}

impl Session {
    /// Connects, opens the PTP session, checks the device and sends the Sony start.
    pub fn open(
        addr: SocketAddr,
        guid: [u8; 16],
        host_name: &str,
        cfg: TcpConfig,
    ) -> Result<Session, OffloadError> {
        let conn = match PtpIpConnection::connect(addr, guid, host_name, cfg) {
            Ok(c) => c,
            Err(TcpError::InitFail { reason }) => {
                log::debug!("init fail reason {reason}");
                return Err(OffloadError::NotPaired);
            }
            Err(e) => return Err(e.into()),
        };
        log::debug!(
            "connected to {:?} at {addr} (connection {})",
            conn.responder().name,
            conn.responder().connection
        );
        let mut s = Session {
            conn,
            tids: TransactionIds::new(),
            device: DeviceInfo::default(),
            started: false,
        };
        match s.simple(OpCode::OPEN_SESSION, &[1]) {
            // Left open by an earlier, interrupted client: close and open again.
            Err(OffloadError::Refused { code, .. })
                if code == ResponseCode::SESSION_ALREADY_OPEN =>
            {
                log::info!("a session was still open; reopening it");
                s.simple(OpCode::CLOSE_SESSION, &[])?;
                s.simple(OpCode::OPEN_SESSION, &[1])?;
            }
            r => {
                r?;
            }
        }
        let raw = s.data_in(OpCode::GET_DEVICE_INFO, &[], MAX_SMALL_DATA)?;
        s.device = DeviceInfo::parse(&raw).map_err(|e| OffloadError::Malformed(e.to_string()))?;
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

    fn request(&mut self, op: OpCode, params: &[u32], dp: u32) -> Result<u32, OffloadError> {
        let tid = self.tids.next_id();
        let params = Params::new(params).map_err(|e| OffloadError::Malformed(e.to_string()))?;
        log::debug!("-> {op} tid {tid} {:?}", params.as_slice());
        self.conn.send(&Packet::OperationRequest {
            data_phase: dp,
            code: op,
            tid,
            params,
        })?;
        Ok(tid)
    }

    /// Waits for the response of `tid`, skipping a stray End Data (libgphoto2 does).
    fn response(&mut self, op: OpCode, tid: u32) -> Result<Params, OffloadError> {
        loop {
            match self.conn.recv()? {
                Packet::OperationResponse {
                    code,
                    tid: t,
                    params,
                } if t == tid => {
                    log::debug!("<- {code} tid {tid}");
                    if code != ResponseCode::OK {
                        return Err(refused(op, code));
                    }
                    return Ok(params);
                }
                Packet::EndData { .. } => continue,
                other => {
                    return Err(OffloadError::Protocol(format!(
                        "{} (tid {:?}) while waiting for the response to {op} tid {tid}",
                        other.packet_type(),
                        other.tid()
                    )))
                }
            }
        }
    }

    /// A transaction without data.
    pub fn simple(&mut self, op: OpCode, params: &[u32]) -> Result<Params, OffloadError> {
        let tid = self.request(op, params, data_phase::NO_DATA_OR_IN)?;
        self.response(op, tid)
    }

    /// A data-out transaction, PlayMemories style: Start Data, one Data packet with
    /// everything, an empty End Data (the camera accepts both styles).
    pub fn data_out(
        &mut self,
        op: OpCode,
        params: &[u32],
        data: &[u8],
    ) -> Result<Params, OffloadError> {
        let tid = self.request(op, params, data_phase::OUT)?;
        self.conn.send(&Packet::StartData {
            tid,
            total: data.len() as u64,
        })?;
        self.conn.send_data(tid, data, false)?;
        self.conn.send_data(tid, &[], true)?;
        self.response(op, tid)
    }

    /// A data-in transaction whose data goes to `sink` chunk by chunk. Returns the
    /// response parameters and the number of data bytes. The camera may skip the data
    /// phase and answer directly (usually with an error).
    pub fn data_in_to(
        &mut self,
        op: OpCode,
        params: &[u32],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), OffloadError>,
    ) -> Result<(Params, u64), OffloadError> {
        let tid = self.request(op, params, data_phase::NO_DATA_OR_IN)?;
        let total = match self.conn.recv()? {
            Packet::StartData { tid: t, total } if t == tid => total,
            Packet::OperationResponse {
                code,
                tid: t,
                params,
            } if t == tid => {
                if code != ResponseCode::OK {
                    return Err(refused(op, code));
                }
                return Ok((params, 0));
            }
            other => {
                return Err(OffloadError::Protocol(format!(
                    "{} while waiting for the data of {op}",
                    other.packet_type()
                )))
            }
        };
        let mut got: u64 = 0;
        let mut sink_err = None;
        loop {
            let (payload, end) = match self.conn.recv()? {
                Packet::Data { tid: t, payload } if t == tid => (payload, false),
                Packet::EndData { tid: t, payload } if t == tid => (payload, true),
                other => {
                    return Err(OffloadError::Protocol(format!(
                        "{} during the data phase of {op}",
                        other.packet_type()
                    )))
                }
            };
            got = got
                .checked_add(payload.len() as u64)
                .filter(|&g| total == u64::MAX || g <= total)
                .ok_or_else(|| {
                    OffloadError::Protocol(format!(
                        "{op}: the camera sent more data than the {total} bytes it announced"
                    ))
                })?;
            // A failing sink (disk full) must not leave the rest of the data phase
            // in the socket: drain it, take the response, then report the failure.
            if !payload.is_empty() && sink_err.is_none() {
                if let Err(e) = sink(&payload) {
                    sink_err = Some(e);
                }
            }
            if end {
                break;
            }
        }
        if let Some(e) = sink_err {
            let _ = self.response(op, tid);
            return Err(e);
        }
        if total != u64::MAX && got != total {
            return Err(OffloadError::Protocol(format!(
                "{op}: the camera announced {total} bytes but sent {got}"
            )));
        }
        let p = self.response(op, tid)?;
        Ok((p, got))
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
        self.conn.shutdown();
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
        self.conn.shutdown();
    }
}
