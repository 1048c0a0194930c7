//! Live view from a Sony body in PC Remote over Wi-Fi or Ethernet (PTP/IP): the same
//! Sony code and live-view loop as over USB ([`Camera`] on the PTP/IP link), as a
//! [`FrameSource`] the capture thread reconnects like any other.
//!
//! A wireless link loses packets and stalls: every read and write is bounded (the TCP
//! timeouts of [`TcpConfig`]), so a stall becomes an error the pipeline answers with
//! placeholders and reconnect attempts (with backoff), never a hang. After a transport
//! failure the camera is dropped without CloseSession, which would only wait for the
//! same dead link.

use super::source::{next_with_control, Control, FrameSource, Item, SourceError};
use crate::camera::link::PtpIpLink;
use crate::camera::{Camera, CameraError, ConnectOptions};
use crate::transport::tcp::TcpConfig;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// TCP limits for live view over a wireless link: short enough that a stalled camera is
/// noticed within seconds, long enough for Wi-Fi retransmissions.
pub fn live_view_tcp() -> TcpConfig {
    TcpConfig {
        connect_timeout: Duration::from_secs(3),
        io_timeout: Duration::from_secs(3),
        ..TcpConfig::default()
    }
}

/// A Sony body in PC Remote mode at a network address.
pub struct PtpIpSource {
    addr: SocketAddr,
    guid: [u8; 16],
    host_name: String,
    tcp: TcpConfig,
    opts: ConnectOptions,
    cam: Option<Camera<PtpIpLink>>,
    /// The last failure was the link's: drop the camera without CloseSession.
    link_failed: bool,
    label: String,
    /// The first frame of this connection was announced.
    announced: bool,
    control: Option<Control>,
}

impl PtpIpSource {
    /// `guid` is this computer's identity, which the body must have registered
    /// (`alpha-bridge pair`); `host_name` is shown on the camera.
    pub fn new(
        addr: SocketAddr,
        guid: [u8; 16],
        host_name: impl Into<String>,
        tcp: TcpConfig,
        opts: ConnectOptions,
    ) -> Self {
        PtpIpSource {
            addr,
            guid,
            host_name: host_name.into(),
            tcp,
            opts: ConnectOptions {
                live_timeout: tcp.io_timeout,
                ..opts
            },
            cam: None,
            link_failed: false,
            label: format!("camera at {addr}"),
            announced: false,
            control: None,
        }
    }

    /// Runs camera control between live-view polls, as over USB (the control socket
    /// starts once the body's serial number is known).
    pub fn with_control(mut self, c: Control) -> Self {
        self.control = Some(c);
        self
    }
}

impl FrameSource for PtpIpSource {
    fn connect(&mut self) -> Result<(), SourceError> {
        self.disconnect();
        let cam = Camera::connect_ptpip(
            self.addr,
            self.guid,
            &self.host_name,
            self.tcp,
            self.opts.clone(),
        )?;
        self.label = format!(
            "{} {} at {}",
            cam.device_info().model,
            cam.device_info().serial_number,
            self.addr
        );
        self.link_failed = false;
        let serial = cam.device_info().serial_number.clone();
        self.cam = Some(cam);
        self.announced = false;
        if let Some(c) = self.control.as_mut() {
            c.connected(&serial);
        }
        Ok(())
    }

    fn next(&mut self, buf: &mut Vec<u8>, stop: &AtomicBool) -> Result<Item, SourceError> {
        let cam = self.cam.as_mut().ok_or(SourceError::Stopped)?;
        match next_with_control(cam, self.control.as_mut(), buf, stop) {
            Ok(true) => {
                if !self.announced {
                    self.announced = true;
                    let at = format!(" at {}", self.addr);
                    log::info!("{}", super::source::streaming_line(cam, buf, &at));
                }
                Ok(Item::Object)
            }
            Ok(false) => Err(SourceError::Stopped),
            Err(e) => {
                self.link_failed =
                    matches!(e, CameraError::Transport(_) | CameraError::Protocol { .. });
                Err(e.into())
            }
        }
    }

    fn set_pause_flag(&mut self, flag: Arc<AtomicBool>) {
        if let Some(c) = self.control.as_mut() {
            c.port.set_pause_flag(flag);
        }
    }

    fn disconnect(&mut self) {
        if let Some(c) = self.control.as_mut() {
            c.lost();
        }
        if let Some(cam) = self.cam.take() {
            let link = if self.link_failed {
                cam.abandon()
            } else {
                cam.close()
            };
            drop(link);
        }
    }

    fn name(&self) -> String {
        self.label.clone()
    }
}

impl Drop for PtpIpSource {
    fn drop(&mut self) {
        self.disconnect();
    }
}
