//! A PTP session over a USB [`Transport`]: one transaction at a time, containers
//! assembled across transfers, and the recovery rules of
//! docs/protocol/ptp-usb.md#reading-a-response (stale responses, leftover zero-length
//! packets, split header and data, surplus bytes after a data container, stalls, cancel on
//! timeout).
//!
//! The receive buffer and the caller's data buffer are reused between transactions,
//! so polling live view allocates nothing once the buffers have grown to frame size.

use super::CameraError;
use crate::ptp::container::{
    self, Command, Header, Kind, Params, Response, HEADER_LEN, UNKNOWN_LENGTH,
};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::{OpCode, ResponseCode, TransactionIds};
use crate::transport::{ErrorKind, Pipe, Transport, TransportError};
use std::time::Duration;

/// Largest data phase accepted by default (live-view objects are well under 1 MiB).
pub const DEFAULT_MAX_DATA: usize = 64 << 20;
/// Bytes asked for per bulk IN transfer when the container length is not known yet.
const FIRST_READ: usize = 64 << 10;
/// Consecutive zero-length reads tolerated before the device is declared broken.
const MAX_ZERO_READS: u32 = 4;
/// Stale responses skipped before giving up on a transaction.
const MAX_STALE: u32 = 8;

/// The data phase of a transaction.
pub enum DataPhase<'a> {
    None,
    /// Host to device.
    Out(&'a [u8]),
    /// Device to host; the buffer is cleared and filled (empty when the camera sent none).
    In(&'a mut Vec<u8>),
}

/// One PTP session (or the session-less exchange before OpenSession).
pub struct PtpSession<T: Transport> {
    t: T,
    tids: TransactionIds,
    rx: Vec<u8>,
    filled: usize,
    last_read_short: bool,
    tx: Vec<u8>,
    timeout: Duration,
    max_data: usize,
    open: bool,
}

impl<T: Transport> PtpSession<T> {
    pub fn new(t: T) -> Self {
        PtpSession {
            t,
            tids: TransactionIds::new(),
            rx: Vec::new(),
            filled: 0,
            last_read_short: false,
            tx: Vec::with_capacity(64),
            timeout: Duration::from_secs(8),
            max_data: DEFAULT_MAX_DATA,
            open: false,
        }
    }

    /// Per-transfer timeout (libgphoto2 uses 8 s while connecting).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn set_max_data(&mut self, max: usize) {
        self.max_data = max;
    }

    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// OpenSession(1) with transaction id 0; SessionAlreadyOpen counts as success.
    pub fn open_session(&mut self) -> Result<(), CameraError> {
        self.tids = TransactionIds::new();
        let r = self.transaction(OpCode::OPEN_SESSION, &[1], DataPhase::None)?;
        match r.code {
            ResponseCode::OK => {}
            ResponseCode::SESSION_ALREADY_OPEN => {
                log::debug!("session was already open; reusing it")
            }
            code => {
                return Err(CameraError::Refused {
                    op: OpCode::OPEN_SESSION,
                    code,
                })
            }
        }
        self.open = true;
        Ok(())
    }

    /// CloseSession; errors are logged, not returned: this runs on every exit path.
    pub fn close_session(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        match self.transaction(OpCode::CLOSE_SESSION, &[], DataPhase::None) {
            Ok(r) if r.code == ResponseCode::OK => log::debug!("session closed"),
            Ok(r) => log::debug!("CloseSession answered {}", r.code),
            Err(e) => log::debug!("CloseSession failed: {e}"),
        }
    }

    pub fn device_info(&mut self) -> Result<DeviceInfo, CameraError> {
        let mut data = Vec::new();
        self.checked(OpCode::GET_DEVICE_INFO, &[], DataPhase::In(&mut data))?;
        Ok(DeviceInfo::parse(&data)?)
    }

    /// A transaction that must answer OK.
    pub fn checked(
        &mut self,
        op: OpCode,
        params: &[u32],
        data: DataPhase<'_>,
    ) -> Result<Response, CameraError> {
        let r = self.transaction(op, params, data)?;
        if r.code != ResponseCode::OK {
            return Err(CameraError::Refused { op, code: r.code });
        }
        Ok(r)
    }

    /// Runs one transaction and returns the camera's response, whatever its code.
    pub fn transaction(
        &mut self,
        op: OpCode,
        params: &[u32],
        data: DataPhase<'_>,
    ) -> Result<Response, CameraError> {
        let tid = self.tids.next_id();
        let params = Params::new(params).map_err(|e| CameraError::Protocol {
            op,
            detail: e.to_string(),
        })?;
        log::debug!("-> {op:?} tid {tid} {params:?}");
        self.tx.clear();
        Command {
            code: op,
            tid,
            params,
        }
        .encode(&mut self.tx);
        self.write_with_retry(op)?;
        let result = match data {
            DataPhase::Out(payload) => {
                self.tx.clear();
                self.tx
                    .extend_from_slice(&container::data_header(op, tid, payload.len()));
                self.tx.extend_from_slice(payload);
                self.write_with_retry(op)?;
                self.read_response(op, tid, None)
            }
            DataPhase::In(buf) => {
                buf.clear();
                self.read_response(op, tid, Some(buf))
            }
            DataPhase::None => self.read_response(op, tid, None),
        };
        match &result {
            Ok(r) => log::debug!("<- {:?} tid {} {:?}", r.code, r.tid, r.params),
            Err(e) => {
                log::debug!("<- {op:?} tid {tid} failed: {e}");
                self.recover(tid, e);
            }
        }
        result
    }

    fn write_with_retry(&mut self, op: OpCode) -> Result<(), CameraError> {
        match self.t.write(&self.tx, self.timeout) {
            Err(e) if e.kind == ErrorKind::Stall => {
                log::warn!("bulk OUT stalled during {op:?}; clearing the halt and retrying once");
                self.t.clear_halt(Pipe::BulkOut)?;
                Ok(self.t.write(&self.tx, self.timeout)?)
            }
            r => Ok(r?),
        }
    }

    /// After a failed transaction: drop buffered bytes and, where the camera may still be
    /// sending, cancel the transaction (class request 0x64) so the next one starts clean.
    fn recover(&mut self, tid: u32, e: &CameraError) {
        self.filled = 0;
        let needs_cancel = match e {
            CameraError::Transport(t) => t.kind == ErrorKind::Timeout,
            CameraError::Protocol { .. } | CameraError::Parse(_) => true,
            _ => false,
        };
        if !needs_cancel {
            return;
        }
        let mut req = [0u8; 6];
        req[..2].copy_from_slice(&0x4001u16.to_le_bytes());
        req[2..].copy_from_slice(&tid.to_le_bytes());
        if let Err(err) = self.t.class_out(0x64, 0, &req, Duration::from_secs(1)) {
            log::debug!("cancel request failed: {err}");
            return;
        }
        for _ in 0..20 {
            let mut st = [0u8; 32];
            match self.t.class_in(0x67, 0, &mut st, Duration::from_secs(1)) {
                Ok(n) if n >= 4 && u16::from_le_bytes([st[2], st[3]]) == 0x2019 => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => break,
            }
        }
    }

    /// Reads transfers until at least `min` bytes are buffered.
    fn fill(&mut self, min: usize, op: OpCode) -> Result<(), CameraError> {
        let mps = self.t.max_packet_size().max(1);
        let mut zero_reads = 0;
        let mut stall_cleared = false;
        while self.filled < min {
            let need = (min - self.filled).max(FIRST_READ.min(self.max_data));
            let want = need.div_ceil(mps) * mps;
            if self.rx.len() < self.filled + want {
                self.rx.resize(self.filled + want, 0);
            }
            let n = match self
                .t
                .read(&mut self.rx[self.filled..self.filled + want], self.timeout)
            {
                Err(e) if e.kind == ErrorKind::Stall && !stall_cleared && self.filled == 0 => {
                    log::warn!(
                        "bulk IN stalled during {op:?}; clearing the halt and retrying once"
                    );
                    self.t.clear_halt(Pipe::BulkIn)?;
                    stall_cleared = true;
                    continue;
                }
                r => r?,
            };
            if n == 0 {
                zero_reads += 1;
                if zero_reads > MAX_ZERO_READS {
                    return Err(CameraError::Protocol {
                        op,
                        detail: "the camera keeps sending empty transfers".into(),
                    });
                }
                continue;
            }
            zero_reads = 0;
            self.filled += n;
            self.last_read_short = n < want;
        }
        Ok(())
    }

    /// Drops the first `len` buffered bytes (one consumed container).
    fn consume(&mut self, len: usize) {
        self.rx.copy_within(len..self.filled, 0);
        self.filled -= len;
    }

    fn read_response(
        &mut self,
        op: OpCode,
        tid: u32,
        mut data: Option<&mut Vec<u8>>,
    ) -> Result<Response, CameraError> {
        let mut stale = 0;
        loop {
            self.fill(HEADER_LEN, op)?;
            let h = Header::parse(&self.rx[..self.filled]).map_err(|e| CameraError::Protocol {
                op,
                detail: e.to_string(),
            })?;
            match h.kind {
                Kind::Data => {
                    if h.code != op.0 {
                        return Err(CameraError::Protocol {
                            op,
                            detail: format!(
                                "data container for {:?} while waiting for {op:?}",
                                OpCode(h.code)
                            ),
                        });
                    }
                    if h.tid != tid {
                        return Err(CameraError::Protocol {
                            op,
                            detail: format!(
                                "data container with transaction id {} (expected {tid})",
                                h.tid
                            ),
                        });
                    }
                    self.read_data(op, h, data.as_deref_mut())?;
                }
                Kind::Response => {
                    self.fill(h.length as usize, op)?;
                    let r = Response::parse(&self.rx[..h.length as usize]).map_err(|e| {
                        CameraError::Protocol {
                            op,
                            detail: e.to_string(),
                        }
                    })?;
                    self.consume(h.length as usize);
                    let close_tid_zero = op == OpCode::CLOSE_SESSION && r.tid == 0;
                    if r.tid == tid || close_tid_zero {
                        return Ok(r);
                    }
                    if r.tid < tid && stale < MAX_STALE {
                        stale += 1;
                        log::debug!("discarding a stale response {:?} tid {}", r.code, r.tid);
                        continue;
                    }
                    return Err(CameraError::Protocol {
                        op,
                        detail: format!("response with transaction id {} (expected {tid})", r.tid),
                    });
                }
                Kind::Event | Kind::Command => {
                    return Err(CameraError::Protocol {
                        op,
                        detail: format!("unexpected {:?} container on bulk IN", h.kind),
                    });
                }
            }
        }
    }

    fn read_data(
        &mut self,
        op: OpCode,
        h: Header,
        data: Option<&mut Vec<u8>>,
    ) -> Result<(), CameraError> {
        let sink = match data {
            Some(d) => d,
            None => {
                log::warn!("{op:?}: the camera sent a data phase nobody asked for; discarding it");
                let mut scratch = Vec::new();
                return self.read_data(op, h, Some(&mut scratch));
            }
        };
        if h.length == UNKNOWN_LENGTH {
            // Read to the short packet that ends the transfer
            // (docs/protocol/ptp-usb.md#reading-a-response).
            while !self.last_read_short {
                let before = self.filled;
                if self.filled - HEADER_LEN > self.max_data {
                    return Err(CameraError::Protocol {
                        op,
                        detail: format!("data phase exceeds {} bytes", self.max_data),
                    });
                }
                self.fill(before + 1, op)?;
            }
            sink.extend_from_slice(&self.rx[HEADER_LEN..self.filled]);
            self.filled = 0;
            return Ok(());
        }
        let len = h.length as usize;
        if len - HEADER_LEN > self.max_data {
            return Err(CameraError::Protocol {
                op,
                detail: format!(
                    "data phase of {} bytes exceeds the limit of {}",
                    len - HEADER_LEN,
                    self.max_data
                ),
            });
        }
        self.fill(len, op)?;
        sink.extend_from_slice(&self.rx[HEADER_LEN..len]);
        self.consume(len);
        Ok(())
    }

    /// Gives the transport back without closing the session.
    pub fn into_transport(self) -> T {
        self.t
    }
}

/// GetDeviceInfo without opening a session (allowed by PTP,
/// docs/protocol/ptp-usb.md#transaction-ids-and-sessions); used by `alpha-bridge list` to
/// tell PC Remote from MTP.
pub fn read_device_info(t: &mut dyn Transport) -> Result<DeviceInfo, CameraError> {
    let mut s = PtpSession::new(t);
    s.set_timeout(Duration::from_secs(3));
    s.device_info()
}

impl From<TransportError> for CameraError {
    fn from(e: TransportError) -> Self {
        CameraError::Transport(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::container::{data_header, Command, Response};
    use std::collections::VecDeque;

    /// A scripted fake device (probe-rs `fake_probe` style): an expectation queue of
    /// writes the host must make and transfers or errors it will read.
    enum Step {
        Write(OpCode),
        Read(Vec<u8>),
        Fail(ErrorKind),
    }

    struct Fake {
        steps: VecDeque<Step>,
        cleared: Vec<Pipe>,
        class_out: Vec<u8>,
    }

    impl Fake {
        fn new(steps: Vec<Step>) -> Self {
            Fake {
                steps: steps.into(),
                cleared: vec![],
                class_out: vec![],
            }
        }
    }

    impl Transport for Fake {
        fn write(&mut self, data: &[u8], _: Duration) -> Result<(), TransportError> {
            match self.steps.pop_front() {
                Some(Step::Write(op)) => {
                    let h = Header::parse(data).unwrap();
                    assert_eq!(OpCode(h.code), op, "host wrote the wrong operation");
                    Ok(())
                }
                Some(Step::Fail(k)) => Err(TransportError::new(k, "scripted")),
                other => panic!("unexpected write, script had {:?}", other.map(|_| ())),
            }
        }
        fn read(&mut self, buf: &mut [u8], _: Duration) -> Result<usize, TransportError> {
            match self.steps.pop_front() {
                Some(Step::Read(d)) => {
                    assert!(d.len() <= buf.len(), "read buffer too small");
                    buf[..d.len()].copy_from_slice(&d);
                    Ok(d.len())
                }
                Some(Step::Fail(k)) => Err(TransportError::new(k, "scripted")),
                None => Err(TransportError::timeout("script end")),
                Some(Step::Write(op)) => {
                    panic!("host read while the script expected a write of {op:?}")
                }
            }
        }
        fn read_event(&mut self, _: &mut [u8], _: Duration) -> Result<usize, TransportError> {
            Err(TransportError::timeout("event"))
        }
        fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
            self.cleared.push(pipe);
            Ok(())
        }
        fn class_out(
            &mut self,
            request: u8,
            _: u16,
            _: &[u8],
            _: Duration,
        ) -> Result<(), TransportError> {
            self.class_out.push(request);
            Ok(())
        }
        fn class_in(
            &mut self,
            _: u8,
            _: u16,
            buf: &mut [u8],
            _: Duration,
        ) -> Result<usize, TransportError> {
            buf[..4].copy_from_slice(&[4, 0, 1, 0x20]);
            Ok(4)
        }
        fn max_packet_size(&self) -> usize {
            512
        }
    }

    fn resp(code: ResponseCode, tid: u32, params: &[u32]) -> Vec<u8> {
        let mut v = Vec::new();
        Response {
            code,
            tid,
            params: Params::new(params).unwrap(),
        }
        .encode(&mut v);
        v
    }

    fn data(op: OpCode, tid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = data_header(op, tid, payload.len()).to_vec();
        v.extend_from_slice(payload);
        v
    }

    fn device_info_bytes() -> Vec<u8> {
        let mut v = Vec::new();
        DeviceInfo {
            model: "ILCE-6400".into(),
            manufacturer: "Sony Corporation".into(),
            ..Default::default()
        }
        .encode(&mut v);
        v
    }

    #[test]
    fn split_header_and_data_leftover_zlp_and_surplus_response() {
        let di = device_info_bytes();
        let whole = data(OpCode::GET_DEVICE_INFO, 0, &di);
        let mut data_and_response = whole[12..].to_vec();
        data_and_response.extend(resp(ResponseCode::OK, 0, &[]));
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::GET_DEVICE_INFO),
            Step::Read(vec![]), // a leftover ZLP from an earlier transfer
            Step::Read(whole[..12].to_vec()),
            Step::Read(data_and_response),
        ]));
        assert_eq!(s.device_info().unwrap().model, "ILCE-6400");
        assert_eq!(s.filled, 0);
    }

    #[test]
    fn stale_response_is_skipped_and_wrong_tid_is_an_error() {
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::OPEN_SESSION),
            Step::Read(resp(ResponseCode::OK, 0, &[])),
            Step::Write(OpCode::SDIO_CONNECT),
            Step::Read(resp(ResponseCode::OK, 0, &[])), // stale, from tid 0
            Step::Read(resp(ResponseCode::OK, 1, &[])),
            Step::Write(OpCode::SDIO_CONNECT),
            Step::Read(resp(ResponseCode::OK, 9, &[])),
        ]));
        s.open_session().unwrap();
        s.checked(OpCode::SDIO_CONNECT, &[1, 0, 0], DataPhase::None)
            .unwrap();
        let e = s
            .checked(OpCode::SDIO_CONNECT, &[2, 0, 0], DataPhase::None)
            .unwrap_err();
        assert!(matches!(e, CameraError::Protocol { .. }), "{e}");
        assert_eq!(
            s.transport().class_out,
            vec![0x64],
            "a desynchronised transaction is cancelled"
        );
    }

    #[test]
    fn session_already_open_is_success_and_error_response_skips_the_data_phase() {
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::OPEN_SESSION),
            Step::Read(resp(ResponseCode::SESSION_ALREADY_OPEN, 0, &[])),
            Step::Write(OpCode::GET_OBJECT),
            Step::Read(resp(ResponseCode::ACCESS_DENIED, 1, &[])),
        ]));
        s.open_session().unwrap();
        let mut buf = vec![1, 2, 3];
        let r = s
            .transaction(OpCode::GET_OBJECT, &[0xFFFF_C002], DataPhase::In(&mut buf))
            .unwrap();
        assert_eq!(r.code, ResponseCode::ACCESS_DENIED);
        assert!(buf.is_empty());
    }

    #[test]
    fn stall_is_cleared_and_retried_once() {
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Fail(ErrorKind::Stall),
            Step::Write(OpCode::OPEN_SESSION),
            Step::Fail(ErrorKind::Stall),
            Step::Read(resp(ResponseCode::OK, 0, &[])),
        ]));
        // First write stalls: the OUT halt is cleared and the command rewritten.
        s.open_session().unwrap();
        assert_eq!(s.transport().cleared, vec![Pipe::BulkOut, Pipe::BulkIn]);
    }

    #[test]
    fn timeout_and_disconnect_mid_data_are_transport_errors() {
        let payload = vec![0xAB; 2000];
        let whole = data(OpCode::GET_OBJECT, 0, &payload);
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::GET_OBJECT),
            Step::Read(whole[..1024].to_vec()),
            Step::Fail(ErrorKind::Disconnected),
        ]));
        let mut buf = Vec::new();
        let e = s
            .transaction(OpCode::GET_OBJECT, &[1], DataPhase::In(&mut buf))
            .unwrap_err();
        assert_eq!(e.transport_kind(), Some(ErrorKind::Disconnected));

        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::GET_OBJECT),
            Step::Fail(ErrorKind::Timeout),
        ]));
        let e = s
            .transaction(OpCode::GET_OBJECT, &[1], DataPhase::In(&mut buf))
            .unwrap_err();
        assert_eq!(e.transport_kind(), Some(ErrorKind::Timeout));
        assert_eq!(s.transport().class_out, vec![0x64]);
    }

    #[test]
    fn oversized_and_mismatched_data_are_refused_before_allocation() {
        let mut hdr = data_header(OpCode::GET_OBJECT, 0, 0).to_vec();
        hdr[..4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::GET_OBJECT),
            Step::Read(hdr),
        ]));
        s.set_max_data(1 << 20);
        let mut buf = Vec::new();
        let e = s
            .transaction(OpCode::GET_OBJECT, &[1], DataPhase::In(&mut buf))
            .unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
        assert!(s.rx.len() < 1 << 20);

        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::GET_OBJECT),
            Step::Read(data(OpCode::GET_DEVICE_INFO, 0, &[1, 2, 3])),
        ]));
        assert!(matches!(
            s.transaction(OpCode::GET_OBJECT, &[1], DataPhase::In(&mut buf)),
            Err(CameraError::Protocol { .. })
        ));
    }

    #[test]
    fn payloads_at_every_packet_boundary_over_the_memory_pipe() {
        use crate::transport::{memory, DevicePipe};
        let (host, mut dev, _) = memory::pair(512);
        let sizes: Vec<usize> = vec![
            0,
            1,
            499,
            500,
            501,
            511,
            512,
            513,
            1012,
            1024,
            4096 - 12,
            65536 - 12,
            65536,
            200_000,
        ];
        let expect = sizes.clone();
        let device = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1024];
            for (i, n) in expect.iter().enumerate() {
                let len = dev.read_out(&mut buf, Duration::from_secs(5)).unwrap();
                let cmd = Command::parse(&buf[..len]).unwrap();
                assert_eq!(cmd.tid, i as u32);
                let payload: Vec<u8> = (0..*n).map(|k| (k % 251) as u8).collect();
                dev.write_in(&data(OpCode::GET_OBJECT, cmd.tid, &payload))
                    .unwrap();
                dev.write_in(&resp(ResponseCode::OK, cmd.tid, &[])).unwrap();
            }
        });
        let mut s = PtpSession::new(host);
        let mut buf = Vec::new();
        for n in sizes {
            s.checked(OpCode::GET_OBJECT, &[1], DataPhase::In(&mut buf))
                .unwrap();
            assert_eq!(buf.len(), n);
            assert!(buf.iter().enumerate().all(|(k, &b)| b == (k % 251) as u8));
        }
        device.join().unwrap();
    }
}
