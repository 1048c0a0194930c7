//! A one-shot SSDP search for Sony bodies on the LAN (docs/protocol/ssdp.md#searching-once),
//! what `alpha-bridge list` runs: M-SEARCH for the PC Remote service (DigitalImaging) and
//! the Send-to-Computer service (MtpNullService) out of every up IPv4 interface and
//! loopback (an emulator on this machine), listen for answers and NOTIFYs for a bounded
//! time, then read each announcer's description to learn its model.
//!
//! The body's address is the datagram's source and its descriptions are fetched from
//! that source (as in `listener`). Everything is bounded: datagrams by
//! [`MAX_MESSAGE`], distinct announcers by [`MAX_BODIES`], each description fetch by
//! `http_timeout` and [`MAX_DESCRIPTION`](super::listener::MAX_DESCRIPTION). When nothing
//! answers, [`search`] returns after `wait`.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::description::{element_text, resolve, service_scpd};
use super::listener::{fetch_description, up_ipv4_interfaces, SONY_MARKER};
use super::message::{
    HttpUrl, Message, DIGITAL_IMAGING_SERVICE, MAX_MESSAGE, MTP_NULL_SERVICE, MULTICAST_ADDR, PORT,
};

/// Most distinct announcers described in one search; later ones are ignored.
pub const MAX_BODIES: usize = 32;

/// What a body on the network is doing, from the service it announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// PC Remote over Wi-Fi or wired LAN: live view and control over PTP/IP.
    PcRemote,
    /// "Send to Computer": offering its pictures over PTP/IP.
    SendToComputer,
}

impl Service {
    /// The SSDP service type announced in this mode.
    pub fn urn(self) -> &'static str {
        match self {
            Service::PcRemote => DIGITAL_IMAGING_SERVICE,
            Service::SendToComputer => MTP_NULL_SERVICE,
        }
    }

    fn of(m: &Message) -> Option<Service> {
        [Service::PcRemote, Service::SendToComputer]
            .into_iter()
            .find(|s| m.is_alive_for(s.urn()))
    }
}

/// A Sony body that answered or announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetBody {
    /// Source address of its datagram: where its PTP/IP server is.
    pub addr: IpAddr,
    /// The mode its announcement shows.
    pub service: Service,
    /// The LOCATION announced.
    pub location: String,
    /// The USN, when sent.
    pub usn: Option<String>,
    /// The model (X_ModelName, else modelName, else friendlyName).
    pub model: Option<String>,
    /// The device name set in the camera (friendlyName), when it is not the model.
    pub name: Option<String>,
    /// PC Remote: the description says Access Authentication (SSH) is on, so PTP/IP is
    /// only reachable through an SSH tunnel.
    pub ssh_required: bool,
    /// Why the description could not be read (the body is listed anyway).
    pub problem: Option<String>,
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// How long to listen for answers.
    pub wait: Duration,
    /// Multicast group searched.
    pub group: Ipv4Addr,
    /// SSDP port.
    pub port: u16,
    /// `None`: every up IPv4 interface and loopback; `Some`: exactly these addresses.
    pub interfaces: Option<Vec<Ipv4Addr>>,
    /// Timeout of each description fetch.
    pub http_timeout: Duration,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            wait: Duration::from_millis(1500),
            group: MULTICAST_ADDR,
            port: PORT,
            interfaces: None,
            http_timeout: Duration::from_secs(1),
        }
    }
}

/// Searches once; the bodies found, ordered by address. Fails only when no socket can
/// be made at all.
pub fn search(cfg: &SearchConfig) -> io::Result<Vec<NetBody>> {
    let ifaces = cfg.interfaces.clone().unwrap_or_else(|| {
        let mut v = up_ipv4_interfaces();
        v.push(Ipv4Addr::LOCALHOST);
        v
    });
    let searcher = search_socket()?;
    // NOTIFYs arrive on the SSDP port itself; without it, answers to the search still do.
    let notify = match notify_socket(cfg, &ifaces) {
        Ok(s) => Some(s),
        Err(e) => {
            log::debug!("ssdp: not listening for announcements: {e}");
            None
        }
    };
    let start = Instant::now();
    let deadline = start + cfg.wait;
    send_searches(&searcher, cfg, &ifaces);
    let mut resent = cfg.wait < Duration::from_millis(400);
    let mut seen: HashSet<(IpAddr, Service)> = HashSet::new();
    let mut describing: Vec<JoinHandle<Option<NetBody>>> = Vec::new();
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    while Instant::now() < deadline {
        if !resent && start.elapsed() >= cfg.wait / 2 {
            // UDP may drop the first round.
            send_searches(&searcher, cfg, &ifaces);
            resent = true;
        }
        for sock in std::iter::once(&searcher).chain(notify.as_ref()) {
            let Some((n, from)) = receive(sock, &mut buf) else {
                continue;
            };
            let Some((service, msg)) = accept(&buf[..n], from) else {
                continue;
            };
            if seen.len() >= MAX_BODIES || !seen.insert((from.ip(), service)) {
                continue;
            }
            let timeout = cfg.http_timeout;
            let spawned = std::thread::Builder::new()
                .name("ssdp-describe".into())
                .spawn(move || describe(from.ip(), service, &msg, timeout));
            match spawned {
                Ok(h) => describing.push(h),
                Err(e) => log::warn!("ssdp: cannot describe {}: {e}", from.ip()),
            }
        }
    }
    let mut found: Vec<NetBody> = describing
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect();
    found.sort_by_key(|b| (b.addr, b.service));
    Ok(found)
}

fn search_socket() -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    // Searches stay on the local link; loopback ones reach an emulator on this machine.
    s.set_multicast_ttl_v4(1)?;
    s.set_multicast_loop_v4(true)?;
    s.set_read_timeout(Some(Duration::from_millis(20)))?;
    Ok(s)
}

fn notify_socket(cfg: &SearchConfig, ifaces: &[Ipv4Addr]) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SockAddr::from(SocketAddrV4::new(
        Ipv4Addr::UNSPECIFIED,
        cfg.port,
    )))?;
    s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut joined = 0;
    for ifa in ifaces {
        match s.join_multicast_v4(&cfg.group, ifa) {
            Ok(()) => joined += 1,
            Err(e) => log::debug!("ssdp: cannot join {} on {ifa}: {e}", cfg.group),
        }
    }
    if joined == 0 {
        return Err(io::Error::other("no interface joined the ssdp group"));
    }
    Ok(s.into())
}

/// One M-SEARCH per service out of every interface.
fn send_searches(sock: &UdpSocket, cfg: &SearchConfig, ifaces: &[Ipv4Addr]) {
    let to = SocketAddrV4::new(cfg.group, cfg.port);
    for ifa in ifaces {
        if let Err(e) = socket2::SockRef::from(sock).set_multicast_if_v4(ifa) {
            log::debug!("ssdp: cannot search on {ifa}: {e}");
            continue;
        }
        for service in [Service::PcRemote, Service::SendToComputer] {
            let msg = Message::search(service.urn(), 1).format();
            if let Err(e) = sock.send_to(msg.as_bytes(), to) {
                log::debug!("ssdp: m-search on {ifa} failed: {e}");
            }
        }
    }
}

fn receive(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    match sock.recv_from(buf) {
        Ok(x) => Some(x),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            None
        }
        Err(e) => {
            log::debug!("ssdp: receive failed: {e}");
            // Do not spin on a persistent error.
            std::thread::sleep(Duration::from_millis(20));
            None
        }
    }
}

/// An answer or alive NOTIFY for one of the two services, with a usable LOCATION.
fn accept(datagram: &[u8], from: SocketAddr) -> Option<(Service, Message)> {
    let msg = match Message::parse(datagram) {
        Ok(m) => m,
        Err(e) => {
            log::debug!("ssdp: ignoring a datagram from {from}: {e}");
            return None;
        }
    };
    let service = Service::of(&msg)?;
    if HttpUrl::parse(msg.location().unwrap_or_default()).is_none() {
        log::debug!("ssdp: {from} announced an unusable location");
        return None;
    }
    Some((service, msg))
}

/// Reads the body's descriptions (from `ip`, whatever host the URLs name). A
/// Send-to-Computer announcer must be a Sony body; a PC Remote one is listed even when
/// its description cannot be read (the service type is Sony's own).
fn describe(ip: IpAddr, service: Service, msg: &Message, timeout: Duration) -> Option<NetBody> {
    let location = msg.location().unwrap_or_default().to_string();
    let mut body = NetBody {
        addr: ip,
        service,
        location: location.clone(),
        usn: msg.usn().map(str::to_string),
        model: None,
        name: None,
        ssh_required: false,
        problem: None,
    };
    let url = HttpUrl::parse(&location)?;
    let dd = match fetch_text(ip, &url, timeout) {
        Ok(t) => t,
        Err(e) if service == Service::PcRemote => {
            body.problem = Some(format!("could not read its description: {e}"));
            return Some(body);
        }
        Err(e) => {
            log::debug!("ssdp: cannot read the description of {ip}: {e}");
            return None;
        }
    };
    if !dd.contains(SONY_MARKER) {
        log::debug!(
            "ssdp: {ip} announces {} but is not a sony camera",
            service.urn()
        );
        return None;
    }
    let friendly = element_text(&dd, "friendlyName");
    // Some bodies name every model "SonyImagingDevice" here.
    let model_name = element_text(&dd, "modelName").filter(|m| !m.starts_with("SonyImaging"));
    let mut model = None;
    if service == Service::PcRemote {
        if let Some(scpd) = service_scpd(&dd, DIGITAL_IMAGING_SERVICE) {
            match resolve(&url, &scpd).map(|u| fetch_text(ip, &u, timeout)) {
                Some(Ok(desc)) => {
                    model = element_text(&desc, "X_ModelName");
                    body.ssh_required = element_text(&desc, "X_SSH_Support")
                        .is_some_and(|v| v.eq_ignore_ascii_case("enable"));
                }
                Some(Err(e)) => log::debug!("ssdp: cannot read {scpd} of {ip}: {e}"),
                None => log::debug!("ssdp: {ip} names an unusable {scpd:?}"),
            }
        }
    }
    body.model = model.or(model_name).or_else(|| friendly.clone());
    body.name = friendly.filter(|f| Some(f) != body.model.as_ref());
    Some(body)
}

fn fetch_text(ip: IpAddr, url: &HttpUrl, timeout: Duration) -> io::Result<String> {
    fetch_description(ip, url, timeout).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> SocketAddr {
        "192.168.1.7:1900".parse().unwrap()
    }

    #[test]
    fn answers_and_notifies_of_both_services_are_accepted() {
        let loc = "http://192.168.1.7:64321/dd.xml";
        for (m, want) in [
            (
                Message::search_response(loc, DIGITAL_IMAGING_SERVICE, "uuid:a", "s"),
                Service::PcRemote,
            ),
            (
                Message::notify_alive(loc, DIGITAL_IMAGING_SERVICE, "uuid:a", "s"),
                Service::PcRemote,
            ),
            (
                Message::search_response(loc, MTP_NULL_SERVICE, "uuid:a", "s"),
                Service::SendToComputer,
            ),
        ] {
            let (s, _) = accept(m.format().as_bytes(), from()).expect("accepted");
            assert_eq!(s, want);
        }
    }

    #[test]
    fn other_and_bad_datagrams_are_ignored() {
        let loc = "http://192.168.1.7:64321/dd.xml";
        let cases = [
            Message::search_response(loc, "upnp:rootdevice", "uuid:a", "s").format(),
            Message::notify_byebye(DIGITAL_IMAGING_SERVICE, "uuid:a").format(),
            Message::search(DIGITAL_IMAGING_SERVICE, 1).format(),
            Message::search_response("ftp://x/", DIGITAL_IMAGING_SERVICE, "u", "s").format(),
            Message::search_response("", DIGITAL_IMAGING_SERVICE, "u", "s").format(),
            "HTTP/1.1 200 OK\r\nST: urn:schemas-sony-com:service:DigitalImaging:1\r\n\r\n".into(),
            String::from_utf8_lossy(&vec![b'x'; MAX_MESSAGE + 1]).into_owned(),
        ];
        for c in cases {
            assert!(accept(c.as_bytes(), from()).is_none(), "{c:.80}");
        }
        assert!(accept(&[0xff; 100], from()).is_none());
    }

    #[test]
    fn nothing_answering_returns_after_the_wait() {
        // An unused port on loopback only: nobody answers.
        let cfg = SearchConfig {
            wait: Duration::from_millis(300),
            port: 1,
            interfaces: Some(vec![Ipv4Addr::LOCALHOST]),
            ..SearchConfig::default()
        };
        let t = Instant::now();
        assert_eq!(search(&cfg).unwrap(), Vec::new());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
