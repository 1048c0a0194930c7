//! The session driver: runs the transaction engine ([`crate::ptp::engine`]) over a
//! [`Link`], one transaction at a time, for any caller (the Sony live-view code over USB
//! or PTP/IP, the Send-to-Computer script). It opens and closes the PTP session (one
//! rule for SessionAlreadyOpen on every link: close the old session, open a fresh one),
//! turns engine and link failures into [`CameraError`]s (a refusal is `Refused`, a
//! broken protocol `Protocol`), and recovers after a failed transaction: buffered bytes
//! are dropped and, where the camera may still be sending (timeout, protocol error), the
//! transaction is cancelled so the next one starts clean.
//!
//! Data phases go straight from the link's receive buffer into the caller's buffer or
//! sink, so polling live view allocates nothing once the buffers have grown.
//!
//! Events take one path whenever they arrive: during a transaction the link hands them
//! to the engine as inputs; between transactions [`Session::poll_events`] fetches them
//! from the link and feeds them to the engine the same way. Either way the caller takes
//! them from the engine's queue with [`Session::take_events`].

use super::link::{Link, LinkError, UsbLink};
use super::CameraError;
use crate::ptp::container::{Event, Response};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::engine::{DataDir, Engine, Input, Step};
use crate::ptp::{OpCode, ResponseCode};
use crate::transport::{ErrorKind, Transport, TransportError};
use std::time::Duration;

/// Largest data phase accepted by default (live-view objects are well under 1 MiB).
pub const DEFAULT_MAX_DATA: usize = 64 << 20;
/// Events fetched from the link in one [`Session::poll_events`] (the rest wait for the
/// next call, so a chatty camera cannot hold up live view).
pub const MAX_EVENTS_PER_POLL: usize = 16;

/// The data phase of a transaction.
pub enum DataPhase<'a> {
    /// No data phase.
    None,
    /// Host to device.
    Out(&'a [u8]),
    /// Device to host; the buffer is cleared and filled (empty when the camera sent none).
    In(&'a mut Vec<u8>),
}

/// One PTP session (or the session-less exchange before OpenSession) over a link.
pub struct Session<L: Link> {
    link: L,
    engine: Engine,
    max_data: usize,
    open: bool,
}

/// A session over a USB transport.
pub type PtpSession<T> = Session<UsbLink<T>>;

impl<T: Transport> Session<UsbLink<T>> {
    /// A session over a USB transport, not yet opened.
    pub fn new(t: T) -> Self {
        Session::over(UsbLink::new(t))
    }

    /// The USB transport underneath.
    pub fn transport(&mut self) -> &mut T {
        self.link.transport()
    }

    /// Gives the transport back without closing the session.
    pub fn into_transport(self) -> T {
        self.link.into_transport()
    }
}

impl<L: Link> Session<L> {
    /// A session over `link` (nothing is sent yet).
    pub fn over(link: L) -> Self {
        Session {
            link,
            engine: Engine::new(),
            max_data: DEFAULT_MAX_DATA,
            open: false,
        }
    }

    /// Per-read and per-write timeout (libgphoto2 uses 8 s while connecting).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.link.set_timeout(timeout);
    }

    /// Cap on a data phase collected into memory ([`DataPhase::In`]).
    pub fn set_max_data(&mut self, max: usize) {
        self.max_data = max;
    }

    /// The link underneath.
    pub fn link(&mut self) -> &mut L {
        &mut self.link
    }

    /// Gives the link back (after closing, or to reuse it).
    pub fn into_link(self) -> L {
        self.link
    }

    /// Whether OpenSession succeeded and CloseSession has not been sent.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Events the camera sent so far (oldest first), removed from the queue.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.engine.poll_event()).collect()
    }

    /// Fetches the events the camera sent between transactions (at most
    /// [`MAX_EVENTS_PER_POLL`], without waiting) into the engine's queue. Errors only when
    /// the link is gone.
    pub fn poll_events(&mut self) -> Result<(), CameraError> {
        for _ in 0..MAX_EVENTS_PER_POLL {
            let e = match self.link.poll_event() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(LinkError::Transport(t)) => return Err(CameraError::Transport(t)),
                Err(LinkError::Corrupt(detail)) => {
                    log::debug!("ignoring a malformed event: {detail}");
                    break;
                }
            };
            // Never an error: events are queued whatever the transaction state.
            let _ = self.engine.handle(Input::Event(e));
        }
        Ok(())
    }

    /// OpenSession(1) with transaction id 0. A session left open by an earlier host
    /// (SessionAlreadyOpen) is closed and a fresh one opened, on every link: that way no
    /// state of the earlier host (a half-done handshake, a pending Sony command) carries
    /// over. A body that still says SessionAlreadyOpen then is taken at its word.
    pub fn open_session(&mut self) -> Result<(), CameraError> {
        let r = self.transaction(OpCode::OPEN_SESSION, &[1], DataPhase::None)?;
        match r.code {
            ResponseCode::OK => {}
            ResponseCode::SESSION_ALREADY_OPEN => {
                log::info!("a session was still open; closing it and opening a fresh one");
                let c = self.transaction(OpCode::CLOSE_SESSION, &[], DataPhase::None)?;
                log::debug!("CloseSession of the old session answered {}", c.code);
                let r = self.transaction(OpCode::OPEN_SESSION, &[1], DataPhase::None)?;
                match r.code {
                    ResponseCode::OK => {}
                    ResponseCode::SESSION_ALREADY_OPEN => {
                        log::debug!("the session is still open after CloseSession; reusing it")
                    }
                    code => {
                        return Err(CameraError::Refused {
                            op: OpCode::OPEN_SESSION,
                            code,
                        })
                    }
                }
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

    /// Forgets the session without CloseSession (the link is gone).
    pub fn forget_session(&mut self) {
        self.open = false;
    }

    /// GetDeviceInfo: what the camera is and which operations it supports.
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
        match data {
            DataPhase::None => Ok(self
                .run(op, params, DataDir::None, &[], &mut |_| true, 0)?
                .0),
            DataPhase::Out(payload) => {
                let dir = DataDir::Out {
                    len: payload.len() as u64,
                };
                Ok(self.run(op, params, dir, payload, &mut |_| true, 0)?.0)
            }
            DataPhase::In(buf) => {
                buf.clear();
                let max = self.max_data as u64;
                Ok(self
                    .run(
                        op,
                        params,
                        DataDir::In,
                        &[],
                        &mut |b| {
                            buf.extend_from_slice(b);
                            true
                        },
                        max,
                    )?
                    .0)
            }
        }
    }

    /// A data-in transaction whose payload goes to `sink` piece by piece, as it arrives
    /// (no cap but the camera's own declared length: for objects of any size). When
    /// `sink` returns false the rest of the data phase is read and dropped, so the
    /// response is still taken and the link stays usable. Returns the response, whatever
    /// its code, and the payload bytes received.
    pub fn transaction_streamed(
        &mut self,
        op: OpCode,
        params: &[u32],
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(Response, u64), CameraError> {
        self.run(op, params, DataDir::In, &[], sink, u64::MAX)
    }

    fn run(
        &mut self,
        op: OpCode,
        params: &[u32],
        dir: DataDir,
        payload: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> bool,
        max_data: u64,
    ) -> Result<(Response, u64), CameraError> {
        // The camera may send a data phase nobody asked for; it is read and dropped, but
        // still bounded.
        let max_data = if dir == DataDir::In {
            max_data
        } else {
            self.max_data as u64
        };
        let tid =
            self.engine
                .begin(op, params, dir, max_data)
                .map_err(|e| CameraError::Protocol {
                    op,
                    detail: e.detail,
                })?;
        log::debug!("-> {op:?} tid {tid} {params:x?}");
        let result = self.exchange(op, payload, sink);
        match &result {
            Ok((r, n)) => log::debug!(
                "<- {:?} tid {} {:?} ({n} data bytes)",
                r.code,
                r.tid,
                r.params
            ),
            Err(e) => {
                log::debug!("<- {op:?} tid {tid} failed: {e}");
                self.recover(e);
            }
        }
        result
    }

    fn exchange(
        &mut self,
        op: OpCode,
        payload: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(Response, u64), CameraError> {
        let link_err = |e: LinkError| match e {
            LinkError::Transport(t) => CameraError::Transport(t),
            LinkError::Corrupt(detail) => CameraError::Protocol { op, detail },
        };
        while let Some(t) = self.engine.poll_transmit() {
            self.link.transmit(&t, payload).map_err(link_err)?;
        }
        let mut got = 0u64;
        let mut keep = true;
        loop {
            let input = self.link.next_input().map_err(link_err)?;
            match self.engine.handle(input) {
                Ok(Step::Continue) => {}
                Ok(Step::Deliver(b)) => {
                    got += b.len() as u64;
                    if keep {
                        keep = sink(b);
                    }
                }
                Ok(Step::Done(r)) => return Ok((r, got)),
                Err(e) => {
                    return Err(CameraError::Protocol {
                        op: e.op,
                        detail: e.detail,
                    })
                }
            }
        }
    }

    /// After a failed transaction: drop buffered bytes and, where the camera may still
    /// be sending, cancel the transaction so the next one starts clean.
    fn recover(&mut self, e: &CameraError) {
        let cancel = match e {
            CameraError::Transport(t) => t.kind == ErrorKind::Timeout,
            CameraError::Protocol { .. } | CameraError::Parse(_) => true,
            _ => false,
        };
        self.engine.abandon(cancel);
        self.link.reset();
        while let Some(t) = self.engine.poll_transmit() {
            if let Err(err) = self.link.transmit(&t, &[]) {
                log::debug!("cancel failed: {err}");
            }
        }
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
    use crate::ptp::container::{data_header, Command, Header, Params, Response};
    use crate::transport::Pipe;
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
        assert_eq!(s.link().buffered(), 0);
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
        // One rule on every link (issue 13): the old session is closed, a fresh one opened.
        let mut s = PtpSession::new(Fake::new(vec![
            Step::Write(OpCode::OPEN_SESSION),
            Step::Read(resp(ResponseCode::SESSION_ALREADY_OPEN, 0, &[])),
            Step::Write(OpCode::CLOSE_SESSION),
            Step::Read(resp(ResponseCode::OK, 1, &[])),
            Step::Write(OpCode::OPEN_SESSION),
            Step::Read(resp(ResponseCode::OK, 0, &[])),
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
        assert!(s.link().rx_capacity() < 1 << 20);

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
