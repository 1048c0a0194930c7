//! The device-description HTTP server behind the SSDP LOCATION
//! (docs/protocol/ssdp.md#device-description). Hosts only require the body to contain "Sony
//! Corporation"; the rest of the XML is a plausible UPnP description (the real one is
//! UNCONFIRMED: no public copy exists).
//!
//! In PC Remote mode it serves instead `/dd.xml`, whose serviceList names Sony's
//! DigitalImaging service, and that service's `/DigitalImagingDesc.xml` with the model and
//! the connection facts hosts read (docs/protocol/ssdp.md#pc-remote-over-the-network;
//! the layout follows what third-party clients parse, UNCONFIRMED against a body).
//!
//! One short-lived thread per request, request head capped at 8 KiB, 2 s timeouts; it
//! serves nothing but the mode's description documents.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::ssdp::message::{
    DIGITAL_IMAGING_SERVICE, MTP_DEVICE as NT_DEVICE, MTP_NULL_SERVICE as NT_SERVICE,
};

/// The description path announced in LOCATION, per mode.
pub(crate) fn location_path(pc_remote: bool) -> &'static str {
    if pc_remote {
        "/dd.xml"
    } else {
        "/DeviceDescription.xml"
    }
}

/// PC Remote: the device description (the friendly name is the device name a user may
/// set; the emulated body uses its model).
pub(crate) fn pc_remote_description(model: &str, uuid: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n\
<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\r\n\
<specVersion><major>1</major><minor>0</minor></specVersion>\r\n\
<device>\r\n\
<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>\r\n\
<friendlyName>{model}</friendlyName>\r\n\
<manufacturer>Sony Corporation</manufacturer>\r\n\
<manufacturerURL>http://www.sony.net/</manufacturerURL>\r\n\
<modelName>SonyImagingDevice</modelName>\r\n\
<UDN>{uuid}</UDN>\r\n\
<serviceList><service>\r\n\
<serviceType>{DIGITAL_IMAGING_SERVICE}</serviceType>\r\n\
<serviceId>urn:schemas-sony-com:serviceId:DigitalImaging</serviceId>\r\n\
<SCPDURL>/DigitalImagingDesc.xml</SCPDURL>\r\n\
<controlURL>/upnp/control/DigitalImaging</controlURL>\r\n\
<eventSubURL></eventSubURL>\r\n\
</service></serviceList>\r\n\
</device>\r\n\
</root>\r\n"
    )
}

/// PC Remote: the DigitalImaging service description (model, PTP version, no SSH, no
/// pairing asked).
pub(crate) fn digital_imaging_description(model: &str, version: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n\
<scpd xmlns=\"urn:schemas-upnp-org:service-1-0\">\r\n\
<specVersion><major>1</major><minor>0</minor></specVersion>\r\n\
<X_DigitalImagingDeviceInfo>\r\n\
<X_DeviceInfo><X_ModelName>{model}</X_ModelName><X_FirmwareVersion>{version}</X_FirmwareVersion></X_DeviceInfo>\r\n\
<X_ConnectionInfo><X_SSH_Support>Disable</X_SSH_Support></X_ConnectionInfo>\r\n\
<X_PTP_Information><X_PTP_Versions>3.00</X_PTP_Versions><X_PTP_PairingNecessity>Unnecessary</X_PTP_PairingNecessity></X_PTP_Information>\r\n\
</X_DigitalImagingDeviceInfo>\r\n\
</scpd>\r\n"
    )
}

const MAX_HEAD: usize = 8192;

pub(crate) fn description(model: &str, uuid: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n\
<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\r\n\
<specVersion><major>1</major><minor>0</minor></specVersion>\r\n\
<device>\r\n\
<deviceType>{NT_DEVICE}</deviceType>\r\n\
<friendlyName>{model}</friendlyName>\r\n\
<manufacturer>Sony Corporation</manufacturer>\r\n\
<manufacturerURL>http://www.sony.net/</manufacturerURL>\r\n\
<modelDescription>SONY DSC</modelDescription>\r\n\
<modelName>{model}</modelName>\r\n\
<UDN>{uuid}</UDN>\r\n\
<serviceList><service>\r\n\
<serviceType>{NT_SERVICE}</serviceType>\r\n\
<serviceId>urn:microsoft-com:serviceId:MtpNullService</serviceId>\r\n\
<SCPDURL>/MtpNullService.xml</SCPDURL>\r\n\
<controlURL>/upnp/control/MtpNullService</controlURL>\r\n\
<eventSubURL></eventSubURL>\r\n\
</service></serviceList>\r\n\
</device>\r\n\
</root>\r\n"
    )
}

pub(super) fn serve(shared: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stopping() {
            return;
        }
        let Ok(stream) = conn else { continue };
        let s = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("emu-wifi-http-req".into())
            .spawn(move || {
                if let Err(e) = answer(&s, stream) {
                    log::debug!("emulator: http request failed: {e}");
                }
            });
    }
}

fn answer(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            );
        }
    }
    shared.bump(|s| s.http_requests += 1);
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let id = &shared.identity;
    let doc = match (shared.pc_remote.is_some(), path) {
        (false, "/DeviceDescription.xml") => Some(description(&id.model, &shared.uuid)),
        (true, "/dd.xml") => Some(pc_remote_description(&id.model, &shared.uuid)),
        (true, "/DigitalImagingDesc.xml") => {
            Some(digital_imaging_description(&id.model, &id.version))
        }
        _ => None,
    };
    match (method, doc) {
        ("GET", Some(doc)) => respond(&mut stream, "200 OK", "text/xml; charset=\"utf-8\"", &doc),
        ("GET", _) => respond(&mut stream, "404 Not Found", "text/plain", "not found\n"),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n",
        ),
    }
}

fn respond(stream: &mut TcpStream, status: &str, ctype: &str, body: &str) -> io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(msg.as_bytes())?;
    stream.flush()
}
