//! Sony PC Remote: the connect handshake (docs/protocol/sony-usb.md#connect-handshake)
//! and live-view polling (docs/protocol/sony-usb.md#live-view), over any [`Link`].
//! [`Camera`] owns the session; dropping it closes the session. [`SonyCamera`] is the
//! USB one; [`Camera::connect_ptpip`] reaches a body in PC Remote over Wi-Fi or
//! Ethernet, with the sequence published for the network ([`Handshake::Network`]); the
//! live-view loop is the same on both.

use super::link::{Link, PtpIpLink, UsbLink};
use super::pacing::Pacer;
use super::session::{DataPhase, Session};
use super::CameraError;
use crate::ptp::codes::{handle, vendor};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::props::PropModel;
use crate::ptp::sony::{self as sony_ds, AllProps, ExtDeviceInfo, PropValue};
use crate::ptp::{OpCode, PropCode, ResponseCode};
use crate::transport::tcp::TcpConfig;
use crate::transport::Transport;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bodies that enumerate in PC Remote mode but give no live view over USB
/// (libgphoto2's capability flags, docs/protocol/sony-usb.md#bodies-without-usb-live-view).
/// A6000 live view has also been reported to wedge the session.
const NO_USB_LIVE_VIEW: &[&str] = &["ILCE-6000", "ILCE-7", "ILCE-7R"];

/// LiveViewImageQuality (0xD26A) values: the body sends a larger live view at High
/// (docs/protocol/sony-usb.md#properties-we-touch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveViewQuality {
    /// The smaller live-view picture.
    Low = 1,
    /// The larger live-view picture.
    High = 2,
}

impl LiveViewQuality {
    /// The name shown to people ("low" or "high").
    pub fn label(self) -> &'static str {
        match self {
            LiveViewQuality::Low => "low",
            LiveViewQuality::High => "high",
        }
    }
}

/// Which connect sequence a body expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handshake {
    /// USB (docs/protocol/sony-usb.md#connect-handshake): OpenSession, GetDeviceInfo,
    /// SDIO_Connect 1 and 2, SDIO_GetExtDeviceInfo, SDIO_Connect 3, PC priority
    /// (0x9205), 0x9209.
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
    /// Ask for PC priority (PriorityMode 0xD25A = 1); off for read-only uses like
    /// `alpha-bridge list -v`.
    pub priority_mode: bool,
    /// Set LiveViewImageQuality to this when the body lists it; `None` leaves it.
    pub live_view_quality: Option<LiveViewQuality>,
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
            priority_mode: true,
            live_view_quality: Some(LiveViewQuality::High),
        }
    }
}

/// What the live-view loop has seen, for the stats line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveViewCounters {
    /// GetObject requests for the live-view object.
    pub requests: u64,
    /// Objects that held a picture.
    pub frames: u64,
    /// Answers "not ready yet" (0x200F).
    pub not_ready: u64,
    /// Objects that held no picture.
    pub empty: u64,
}

/// A connected Sony body in PC Remote mode.
pub struct Camera<L: Link> {
    /// `None` only after `close` consumed the camera.
    s: Option<Session<L>>,
    info: DeviceInfo,
    ext: ExtDeviceInfo,
    /// The property model from the handshake's 0x9209; `None` when it was unreadable.
    props: Option<PropModel>,
    /// LiveViewImageQuality as the body has it after the handshake, when it lists it.
    lv_quality: Option<i128>,
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
        log::info!("ptp/ip: connected to {:?} at {addr}", link.responder().name);
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
            Ok((info, ext, props, lv_quality)) => {
                s.set_timeout(opts.live_timeout);
                Ok(Camera {
                    s: Some(s),
                    info,
                    ext,
                    props,
                    lv_quality,
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
    ) -> Result<(DeviceInfo, ExtDeviceInfo, Option<PropModel>, Option<i128>), CameraError> {
        let mut buf = Vec::new();
        let (info, ext) = match opts.handshake {
            Handshake::Usb => {
                let info = Self::identify(s, check_pc_remote)?;
                Self::connect_phases(s, &mut buf)?;
                let ext = Self::ext_device_info(
                    s,
                    opts,
                    &info,
                    &[sony_ds::SDIO_VERSION_3 as u32, 1],
                    &mut buf,
                )?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                // "PC priority" so the host may change settings; bodies that refuse
                // still stream.
                match opts.priority_mode.then(|| {
                    s.transaction(
                        OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
                        &[PropCode::PRIORITY_MODE.0 as u32],
                        DataPhase::Out(&[1]),
                    )
                }) {
                    None => {}
                    Some(Ok(r)) if r.code == ResponseCode::OK => {}
                    Some(Ok(r)) => log::debug!("priority mode not accepted: {}", r.code),
                    Some(Err(e)) => return Err(e),
                }
                (info, ext)
            }
            Handshake::Network => {
                Self::connect_phases(s, &mut buf)?;
                let info = Self::identify(s, check_network_pc_remote)?;
                let ext = Self::ext_device_info(
                    s,
                    opts,
                    &info,
                    &[sony_ds::SDIO_VERSION_3 as u32],
                    &mut buf,
                )?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                (info, ext)
            }
        };
        s.checked(
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO,
            &[],
            DataPhase::In(&mut buf),
        )?;
        let props = match AllProps::parse(&buf, ext.generation(), &ext.announced()) {
            Ok(all) => {
                for sk in all.skipped() {
                    log::debug!(
                        "0x9209: skipped {} bytes at offset {} (code {:04x?}): {}",
                        sk.bytes.len(),
                        sk.offset,
                        sk.code,
                        sk.reason
                    );
                }
                let model = PropModel::from_all_props(&all);
                let lv = model.get(PropCode::LIVE_VIEW_STATUS.0);
                log::debug!(
                    "{} properties ({} skipped, {} declared) read as protocol {}; live view status {:?}",
                    model.properties.len(),
                    model.skipped.len(),
                    all.declared,
                    ext.generation().label(),
                    lv.map(|p| &p.current)
                );
                if lv.is_some_and(|p| p.current == PropValue::Int(0)) {
                    log::info!("the camera reports live view as off; waiting for frames");
                }
                Some(model)
            }
            // The dump is informational here; a body with an odd dataset still streams.
            Err(e) => {
                log::warn!("could not read the camera's property list: {e}");
                None
            }
        };
        let quality = Self::set_live_view_quality(s, opts, props.as_ref())?;
        Ok((info, ext, props, quality))
    }

    /// Asks for `opts.live_view_quality` when the body lists LiveViewImageQuality with
    /// another value (0x9205 with one byte, on both generations, like PriorityMode); a
    /// refusal is logged and streaming goes on. Returns the value the body now has.
    fn set_live_view_quality(
        s: &mut Session<L>,
        opts: &ConnectOptions,
        model: Option<&PropModel>,
    ) -> Result<Option<i128>, CameraError> {
        let Some(p) = model.and_then(|m| m.get(PropCode::LIVE_VIEW_IMAGE_QUALITY.0)) else {
            log::debug!("no LiveViewImageQuality listed: the body keeps its live-view size");
            return Ok(None);
        };
        let current = match p.current {
            PropValue::Int(v) => Some(v),
            _ => None,
        };
        let Some(want) = opts.live_view_quality else {
            return Ok(current);
        };
        if current == Some(want as i128) {
            return Ok(current);
        }
        let r = s.transaction(
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
            &[PropCode::LIVE_VIEW_IMAGE_QUALITY.0 as u32],
            DataPhase::Out(&[want as u8]),
        )?;
        if r.code == ResponseCode::OK {
            Ok(Some(want as i128))
        } else {
            log::debug!(
                "live-view quality {} not accepted: {}",
                want.label(),
                r.code
            );
            Ok(current)
        }
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
        info: &DeviceInfo,
        params: &[u32],
        buf: &mut Vec<u8>,
    ) -> Result<ExtDeviceInfo, CameraError> {
        for attempt in 1..=opts.ext_info_tries.max(1) {
            s.checked(OpCode::SDIO_GET_EXT_DEVICE_INFO, params, DataPhase::In(buf))?;
            if !buf.is_empty() {
                // The data's version decides the layout; Param1 of the response (0x0136
                // seen) is informational.
                let ext = ExtDeviceInfo::parse(buf)?;
                log::debug!(
                    "SDIO version {:#x} (protocol {}): {} properties, {} controls (attempt {attempt})",
                    ext.version,
                    ext.generation().label(),
                    ext.properties.len(),
                    ext.controls.len()
                );
                return Ok(ext);
            }
            std::thread::sleep(opts.ext_info_pause);
        }
        // libgphoto2 goes on in this case too: the codes come from DeviceInfo.
        log::debug!(
            "SDIO_GetExtDeviceInfo stayed empty after {} tries: going on as a protocol 2.00 \
             body with DeviceInfo's {} property codes",
            opts.ext_info_tries.max(1),
            info.device_properties_supported.len()
        );
        Ok(ExtDeviceInfo::fallback(&info.device_properties_supported))
    }

    /// The GetDeviceInfo answer read while connecting.
    pub fn device_info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The Sony extended device info (SDIO) read while connecting.
    pub fn ext_info(&self) -> &ExtDeviceInfo {
        &self.ext
    }

    /// LiveViewImageQuality after the handshake (1 low, 2 high), when the body lists it.
    pub fn live_view_quality(&self) -> Option<i128> {
        self.lv_quality
    }

    /// The property model read during the handshake (`None` when 0x9209 was unreadable).
    /// Keeping it current from 0xC203 events needs the interrupt pipe, which this session
    /// does not read yet: the hook is [`PropModel::on_event`] + [`PropModel::update`].
    pub fn properties(&self) -> Option<&PropModel> {
        self.props.as_ref()
    }

    /// What the live-view loop has seen so far.
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
    fn scripted_body(dev: memory::DeviceEnd, seen: std::sync::mpsc::Sender<(u16, Vec<u32>)>) {
        scripted_body_with(dev, seen, 2)
    }

    fn scripted_body_with(
        mut dev: memory::DeviceEnd,
        seen: std::sync::mpsc::Sender<(u16, Vec<u32>)>,
        mut empty_9202: u32,
    ) {
        let mut buf = vec![0u8; 4096];
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
                OpCode::GET_DEVICE_INFO => DeviceInfo {
                    device_properties_supported: vec![0x5005, 0xD21E],
                    ..info("ILCE-6400", vendor::SONY, &[0x1001, 0x9201, 0x9202])
                }
                .encode(&mut payload),
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
                // One 2.00 descriptor: ISO (UINT32), enabled, no form.
                OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO => {
                    payload = vec![1, 0, 0, 0, 0, 0, 0, 0, 0x1E, 0xD2, 6, 0, 0, 1];
                    payload.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0, 0x90, 1, 0, 0, 0]);
                }
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

    #[test]
    fn an_ext_device_info_that_stays_empty_falls_back_to_2_00() {
        let (host, dev, _) = memory::pair(512);
        let (tx, _rx) = std::sync::mpsc::channel();
        let body = std::thread::spawn(move || scripted_body_with(dev, tx, u32::MAX));
        let opts = ConnectOptions {
            ext_info_tries: 3,
            ext_info_pause: Duration::from_millis(1),
            ..Default::default()
        };
        let cam = SonyCamera::connect(host, opts).unwrap();
        let ext = cam.ext_info();
        assert_eq!(
            (ext.version, &ext.properties[..], &ext.controls[..]),
            (0x00C8, &[0x5005, 0xD21E][..], &[][..])
        );
        let props = cam.properties().expect("0x9209 read as 2.00");
        let iso = props.get(0xD21E).unwrap();
        assert_eq!(
            (iso.name, &iso.current),
            (Some("ISO"), &PropValue::Int(400))
        );
        drop(cam.close());
        body.join().unwrap();
    }

    /// The emulated body resizes its live view with LiveViewImageQuality (it starts at
    /// high): low when asked; the listing path (`None`) leaves it alone.
    #[test]
    fn live_view_quality_is_set_when_streaming_starts() {
        use crate::emulator::{Body, UsbEmulator};
        for (want, got, size) in [
            (None, Some(2), (1024, 680)),
            (Some(LiveViewQuality::Low), Some(1), (640, 424)),
            (Some(LiveViewQuality::High), Some(2), (1024, 680)),
        ] {
            let emu = UsbEmulator::new(Body::ilce_6400());
            let opts = ConnectOptions {
                live_view_quality: want,
                ..Default::default()
            };
            let mut cam = SonyCamera::connect(emu.connect().unwrap(), opts).unwrap();
            assert_eq!(cam.live_view_quality(), got, "{want:?}");
            let mut buf = Vec::new();
            let mut sizes = Vec::new();
            while sizes.len() < 30 && sizes.last() != Some(&size) {
                cam.next_live_view(&mut buf, &|| false).unwrap();
                if let Ok(f) = crate::frame::extract(&buf) {
                    sizes.push((f.width, f.height));
                }
            }
            assert_eq!(sizes.last(), Some(&size), "{want:?}: {sizes:?}");
            drop(cam.close());
        }
    }
}
