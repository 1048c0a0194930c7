//! The device-description HTTP server behind the SSDP LOCATION
//! (docs/protocol/ssdp.md#device-description). Hosts only require the body to contain "Sony
//! Corporation"; the rest of the XML is a plausible UPnP description (the real one is
//! UNCONFIRMED: no public copy exists).
//!
//! One short-lived thread per request, request head capped at 8 KiB, 2 s timeouts; it
//! serves nothing but `/DeviceDescription.xml`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::ssdp::message::{MTP_DEVICE as NT_DEVICE, MTP_NULL_SERVICE as NT_SERVICE};

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
    match (method, path) {
        ("GET", "/DeviceDescription.xml") => respond(
            &mut stream,
            "200 OK",
            "text/xml; charset=\"utf-8\"",
            &description(&shared.identity.model, &shared.uuid),
        ),
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
