//! Sony PC Remote: the connect handshake (sony-usb.md §3) and live-view polling (§5),
//! over any [`Link`]. [`Camera`] owns the session; dropping it closes the session.
//! [`SonyCamera`] is the USB one; [`Camera::connect_ptpip`] reaches a body in PC Remote
//! over Wi-Fi or Ethernet, with the sequence published for the network
//! ([`Handshake::Network`]); the live-view loop is the same on both.

use super::link::{Link, PtpIpLink, UsbLink};
use super::pacing::Pacer;
use super::session::{DataPhase, Session};
use super::CameraError;
use crate::ptp::codes::{handle, vendor};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::sony::{self as sony_ds, ExtDeviceInfo, PropValue};
use crate::ptp::{OpCode, PropCode, ResponseCode};
use crate::transport::tcp::TcpConfig;
use crate::transport::Transport;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bodies that enumerate in PC Remote mode but give no live view over USB
/// (libgphoto2's capability flags, sony-usb.md §5.6). A6000 live view has also been
/// reported to wedge the session.
const NO_USB_LIVE_VIEW: &[&str] = &["ILCE-6000", "ILCE-7", "ILCE-7R"];

/// Which connect sequence a body expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handshake {
    /// USB (sony-usb.md §3): OpenSession, GetDeviceInfo, SDIO_Connect 1 and 2,
    /// SDIO_GetExtDeviceInfo, SDIO_Connect 3, PC priority (0x9205), 0x9209.
    #[default]
    Usb,
    /// PTP/IP, as published for PC Remote over the network: OpenSession, SDIO_Connect 1
    /// and 2, GetDeviceInfo, SDIO_GetExtDeviceInfo(0x12C), SDIO_Connect 3, 0x9209.
    Network,
}

/// How the handshake and polling behave.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The connect sequence (set by the connect function of each link).
    pub handshake: Handshake,
    /// Per-transfer timeout once live view runs (a wireless link wants more).
    pub live_timeout: Duration,
    /// Cap on live-view requests per second (at most 30).
    pub max_fps: u32,
    /// Give up on live view after this long without a frame.
    pub stall_timeout: Duration,
    /// Tries of SDIO_GetExtDeviceInfo while its data phase is empty.
    pub ext_info_tries: u32,
    /// Pause between those tries.
    pub ext_info_pause: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            handshake: Handshake::Usb,
            live_timeout: Duration::from_secs(2),
            max_fps: 30,
            stall_timeout: Duration::from_secs(10),
            ext_info_tries: 30,
            ext_info_pause: Duration::from_millis(100),
        }
    }
}

/// What the live-view loop has seen, for the stats line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveViewCounters {
    pub requests: u64,
    pub frames: u64,
    pub not_ready: u64,
    pub empty: u64,
}

/// A connected Sony body in PC Remote mode.
pub struct Camera<L: Link> {
    /// `None` only after `close` consumed the camera.
    s: Option<Session<L>>,
    info: DeviceInfo,
    ext: ExtDeviceInfo,
    opts: ConnectOptions,
    pacer: Pacer,
    last_frame: Instant,
    counters: LiveViewCounters,
}

/// A Sony body over USB.
pub type SonyCamera<T> = Camera<UsbLink<T>>;

impl<T: Transport> Camera<UsbLink<T>> {
    /// Runs the whole connect handshake over a USB transport.
    pub fn connect(t: T, opts: ConnectOptions) -> Result<SonyCamera<T>, CameraError> {
        let opts = ConnectOptions {
            handshake: Handshake::Usb,
            ..opts
        };
        Camera::connect_link(UsbLink::new(t), opts)
    }
}

impl Camera<PtpIpLink> {
    /// Connects to a body in PC Remote over the network at `addr` (port 15740): the
    /// PTP/IP Init handshake with the paired `guid` (an unpaired computer gets
    /// [`CameraError::NotPaired`]), then the network connect sequence.
    pub fn connect_ptpip(
        addr: SocketAddr,
        guid: [u8; 16],
        host_name: &str,
        tcp: TcpConfig,
        opts: ConnectOptions,
    ) -> Result<Camera<PtpIpLink>, CameraError> {
        let link = PtpIpLink::connect(addr, guid, host_name, tcp)?;
        log::info!(
            "ptp/ip: connected to {:?} at {addr}",
            link.responder().name
        );
        let opts = ConnectOptions {
            handshake: Handshake::Network,
            ..opts
        };
        Camera::connect_link(link, opts)
    }
}

impl<L: Link> Camera<L> {
    /// Runs the whole connect handshake over `link`. On failure the session is closed
    /// again.
    pub fn connect_link(link: L, opts: ConnectOptions) -> Result<Camera<L>, CameraError> {
        let mut s = Session::over(link);
        s.open_session()?;
        match Self::handshake(&mut s, &opts) {
            Ok((info, ext)) => {
                s.set_timeout(opts.live_timeout);
                Ok(Camera {
                    s: Some(s),
                    info,
                    ext,
                    pacer: Pacer::new(opts.max_fps),
                    opts,
                    last_frame: Instant::now(),
                    counters: LiveViewCounters::default(),
                })
            }
            Err(e) => {
                s.close_session();
                Err(e)
            }
        }
    }

    fn handshake(
        s: &mut Session<L>,
        opts: &ConnectOptions,
    ) -> Result<(DeviceInfo, ExtDeviceInfo), CameraError> {
        let mut buf = Vec::new();
        let (info, ext) = match opts.handshake {
            Handshake::Usb => {
                let info = Self::identify(s, check_pc_remote)?;
                Self::connect_phases(s, &mut buf)?;
                let ext = Self::ext_device_info(s, opts, &[sony_ds::SDIO_VERSION_3 as u32, 1], &mut buf)?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                // "PC priority" so the host may change settings; bodies that refuse
                // still stream.
                match s.transaction(
                    OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
                    &[PropCode::PRIORITY_MODE.0 as u32],
                    DataPhase::Out(&[1]),
                ) {
                    Ok(r) if r.code == ResponseCode::OK => {}
                    Ok(r) => log::debug!("priority mode not accepted: {}", r.code),
                    Err(e) => return Err(e),
                }
                (info, ext)
            }
            Handshake::Network => {
                Self::connect_phases(s, &mut buf)?;
                let info = Self::identify(s, check_network_pc_remote)?;
                let ext = Self::ext_device_info(s, opts, &[sony_ds::SDIO_VERSION_3 as u32], &mut buf)?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                (info, ext)
            }
        };
        s.checked(
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO,
            &[],
            DataPhase::In(&mut buf),
        )?;
        match sony_ds::parse_all_props(&buf) {
            Ok(props) => {
                let lv = props
                    .iter()
                    .find(|p| p.code == PropCode::LIVE_VIEW_STATUS.0);
                log::debug!(
                    "{} properties; live view status {:?}",
                    props.len(),
                    lv.map(|p| &p.current)
                );
                if let Some(p) = lv {
                    if p.current == PropValue::Int(0) {
                        log::info!("the camera reports live view as off; waiting for frames");
                    }
                }
            }
            // The dump is informational here; a body with an odd descriptor still streams.
            Err(e) => log::warn!("could not read the camera's property list: {e}"),
        }
        Ok((info, ext))
    }

    /// GetDeviceInfo, logged and checked with `check`.
    fn identify(
        s: &mut Session<L>,
        check: fn(&DeviceInfo) -> Result<(), CameraError>,
    ) -> Result<DeviceInfo, CameraError> {
        let info = s.device_info()?;
        log::info!(
            "connected to {} {} (serial {}, firmware {})",
            info.manufacturer,
            info.model,
            info.serial_number,
            info.device_version
        );
        check(&info)?;
        Ok(info)
    }

    /// SDIO_Connect phases 1 and 2.
    fn connect_phases(s: &mut Session<L>, buf: &mut Vec<u8>) -> Result<(), CameraError> {
        for phase in [1, 2] {
            s.checked(OpCode::SDIO_CONNECT, &[phase, 0, 0], DataPhase::In(buf))?;
        }
        Ok(())
    }

    fn ext_device_info(
        s: &mut Session<L>,
        opts: &ConnectOptions,
        params: &[u32],
        buf: &mut Vec<u8>,
    ) -> Result<ExtDeviceInfo, CameraError> {
        for attempt in 1..=opts.ext_info_tries.max(1) {
            s.checked(OpCode::SDIO_GET_EXT_DEVICE_INFO, params, DataPhase::In(buf))?;
            if !buf.is_empty() {
                let ext = ExtDeviceInfo::parse(buf)?;
                log::debug!(
                    "SDIO version {:#x}: {} properties, {} controls (attempt {attempt})",
                    ext.version,
                    ext.properties.len(),
                    ext.controls.len()
                );
                return Ok(ext);
            }
            std::thread::sleep(opts.ext_info_pause);
        }
        Err(CameraError::Unsupported(
            "the camera never finished connecting (empty SDIO_GetExtDeviceInfo): \
             wake it up, close any menu on its screen, and try again"
                .into(),
        ))
    }

    pub fn device_info(&self) -> &DeviceInfo {
        &self.info
    }

    pub fn ext_info(&self) -> &ExtDeviceInfo {
        &self.ext
    }

    pub fn counters(&self) -> LiveViewCounters {
        self.counters
    }

    /// Blocks until the next live-view object is in `buf` (non-empty), pacing requests
    /// and retrying "not ready" answers with bounded backoff. `Err(Stalled)` after
    /// `stall_timeout` without a frame; `stop` is checked between requests.
    pub fn next_live_view(
        &mut self,
        buf: &mut Vec<u8>,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), CameraError> {
        loop {
            if stop() {
                return Err(CameraError::Unsupported("stopped".into()));
            }
            let now = Instant::now();
            if now.duration_since(self.last_frame) > self.opts.stall_timeout {
                self.last_frame = now;
                return Err(CameraError::Stalled(self.opts.stall_timeout));
            }
            let at = self.pacer.next_request_at(now);
            if at > now {
                std::thread::sleep(at - now);
            }
            let sent = Instant::now();
            self.pacer.sent(sent);
            self.counters.requests += 1;
            let r = self.session().transaction(
                OpCode::GET_OBJECT,
                &[handle::LIVE_VIEW],
                DataPhase::In(buf),
            )?;
            match r.code {
                ResponseCode::OK if !buf.is_empty() => {
                    self.pacer.frame(sent);
                    self.counters.frames += 1;
                    self.last_frame = Instant::now();
                    return Ok(());
                }
                ResponseCode::OK => {
                    self.counters.empty += 1;
                    self.pacer.not_ready(Instant::now());
                }
                ResponseCode::ACCESS_DENIED
                | ResponseCode::INVALID_OBJECT_HANDLE
                | ResponseCode::DEVICE_BUSY => {
                    if buf.is_empty() {
                        self.counters.not_ready += 1;
                    } else {
                        self.counters.empty += 1;
                    }
                    self.pacer.not_ready(Instant::now());
                }
                code => {
                    return Err(CameraError::Refused {
                        op: OpCode::GET_OBJECT,
                        code,
                    })
                }
            }
        }
    }

    fn session(&mut self) -> &mut Session<L> {
        self.s.as_mut().expect("session present until close")
    }

    /// Drops the camera without CloseSession (the link is gone or stalled: a
    /// CloseSession would only wait for its timeout) and returns the link.
    pub fn abandon(mut self) -> L {
        let mut s = self.s.take().expect("session present until close");
        s.forget_session();
        s.into_link()
    }

    /// Closes the session and returns the link.
    pub fn close(mut self) -> L {
        let mut s = self.s.take().expect("session present until close");
        s.close_session();
        s.into_link()
    }
}

impl<L: Link> Drop for Camera<L> {
    fn drop(&mut self) {
        if let Some(s) = self.s.as_mut() {
            s.close_session();
        }
    }
}

/// Checks DeviceInfo for Sony PC Remote mode with USB live view; the error says what
/// to change on the camera.
pub fn check_pc_remote(info: &DeviceInfo) -> Result<(), CameraError> {
    if info.vendor_extension_id != vendor::SONY || !info.supports(OpCode::SDIO_GET_EXT_DEVICE_INFO)
    {
        return Err(CameraError::Unsupported(format!(
            "the {} is not in PC Remote mode (it answers as {}): on the camera open MENU → \
             Network (or Setup) → USB Connection and choose \"PC Remote\" (2020+ bodies: \
             PC Remote Function On, PC Remote Cnct Method USB, USB Connection Mode PC Remote), \
             then reconnect the cable",
            display_model(info),
            if info.vendor_extension_id == vendor::MTP {
                "an MTP device"
            } else {
                "a plain PTP device"
            }
        )));
    }
    if NO_USB_LIVE_VIEW.contains(&info.model.as_str()) {
        return Err(CameraError::Unsupported(format!(
            "the {} gives no live view over USB (a firmware limit of this body, also seen by \
             libgphoto2); alpha-bridge needs a body with USB live view, such as the a6100/a6400/a7 III or later",
            info.model
        )));
    }
    Ok(())
}

/// Checks DeviceInfo of a body reached over the network: a Sony camera that knows the
/// SDIO connect operations (Sony bodies may report the MTP vendor id over PTP/IP, so
/// the vendor id alone does not decide).
pub fn check_network_pc_remote(info: &DeviceInfo) -> Result<(), CameraError> {
    let sony = info.vendor_extension_id == vendor::SONY || info.manufacturer.starts_with("Sony");
    if !sony {
        return Err(CameraError::Unsupported(format!(
            "the device at this address is not a Sony camera (it says {:?} {:?})",
            info.manufacturer, info.model
        )));
    }
    if !info.supports(OpCode::SDIO_CONNECT) && !info.operations_supported.is_empty() {
        return Err(CameraError::Unsupported(format!(
            "the {} is not in PC Remote mode over the network: on the camera set Network → \
             PC Remote Function → On and PC Remote Cnct Method to Wi-Fi or wired LAN, then \
             connect again",
            display_model(info)
        )));
    }
    Ok(())
}

fn display_model(info: &DeviceInfo) -> &str {
    if info.model.is_empty() {
        "camera"
    } else {
        &info.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::container::{data_header, Command, Params, Response};
    use crate::ptp::sony::ExtDeviceInfo;
    use crate::transport::{memory, DevicePipe};

    fn info(model: &str, vendor_id: u32, ops: &[u16]) -> DeviceInfo {
        DeviceInfo {
            vendor_extension_id: vendor_id,
            model: model.into(),
            manufacturer: "Sony Corporation".into(),
            operations_supported: ops.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn wrong_mode_and_bodies_without_live_view_say_what_to_do() {
        let e = check_pc_remote(&info("ILCE-6400", vendor::MTP, &[0x1001])).unwrap_err();
        assert!(e.to_string().contains("PC Remote"), "{e}");
        let e = check_pc_remote(&info("ILCE-6000", vendor::SONY, &[0x9202])).unwrap_err();
        assert!(e.to_string().contains("no live view over USB"), "{e}");
        check_pc_remote(&info("ILCE-6400", vendor::SONY, &[0x9202])).unwrap();
    }

    /// A minimal scripted body: answers the handshake, with 0x9202 empty twice.
    fn scripted_body(mut dev: memory::DeviceEnd, seen: std::sync::mpsc::Sender<(u16, Vec<u32>)>) {
        let mut buf = vec![0u8; 4096];
        let mut empty_9202 = 2;
        loop {
            let Ok(n) = dev.read_out(&mut buf, Duration::from_secs(5)) else {
                return;
            };
            let Ok(cmd) = Command::parse(&buf[..n]) else {
                continue;
            };
            let _ = seen.send((cmd.code.0, cmd.params.as_slice().to_vec()));
            let mut payload = Vec::new();
            match cmd.code {
                OpCode::GET_DEVICE_INFO => {
                    info("ILCE-6400", vendor::SONY, &[0x1001, 0x9201, 0x9202]).encode(&mut payload)
                }
                OpCode::SDIO_CONNECT => payload = vec![0; 8],
                OpCode::SDIO_GET_EXT_DEVICE_INFO if empty_9202 > 0 => empty_9202 -= 1,
                OpCode::SDIO_GET_EXT_DEVICE_INFO => ExtDeviceInfo {
                    version: 0x12C,
                    properties: vec![0x5005],
                    controls: vec![0xD2C1],
                }
                .encode(&mut payload),
                OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE => {
                    let _ = dev.read_out(&mut buf, Duration::from_secs(5));
                }
                OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO => payload = vec![0; 8],
                _ => {}
            }
            let data_in = matches!(
                cmd.code,
                OpCode::GET_DEVICE_INFO
                    | OpCode::SDIO_CONNECT
                    | OpCode::SDIO_GET_EXT_DEVICE_INFO
                    | OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO
            );
            if data_in {
                let mut c = data_header(cmd.code, cmd.tid, payload.len()).to_vec();
                c.extend_from_slice(&payload);
                let _ = dev.write_in(&c);
            }
            let mut r = Vec::new();
            Response {
                code: ResponseCode::OK,
                tid: cmd.tid,
                params: Params::default(),
            }
            .encode(&mut r);
            let _ = dev.write_in(&r);
        }
    }

    #[test]
    fn handshake_runs_in_order_and_repeats_an_empty_ext_device_info() {
        let (host, dev, _) = memory::pair(512);
        let (tx, rx) = std::sync::mpsc::channel();
        let body = std::thread::spawn(move || scripted_body(dev, tx));
        let opts = ConnectOptions {
            ext_info_pause: Duration::from_millis(1),
            ..Default::default()
        };
        let cam = SonyCamera::connect(host, opts).unwrap();
        assert_eq!(cam.ext_info().controls, vec![0xD2C1]);
        drop(cam.close());
        body.join().unwrap();
        let ops: Vec<(u16, Vec<u32>)> = rx.try_iter().collect();
        let expected: Vec<(u16, Vec<u32>)> = vec![
            (0x1002, vec![1]),
            (0x1001, vec![]),
            (0x9201, vec![1, 0, 0]),
            (0x9201, vec![2, 0, 0]),
            (0x9202, vec![0x12C, 1]),
            (0x9202, vec![0x12C, 1]),
            (0x9202, vec![0x12C, 1]),
            (0x9201, vec![3, 0, 0]),
            (0x9205, vec![0xD25A]),
            (0x9209, vec![]),
            (0x1003, vec![]),
        ];
        assert_eq!(ops, expected);
    }
}
