//! The host's SSDP listener (docs/protocol/ssdp.md#finding-the-camera): joins
//! 239.255.255.250:1900 on every up IPv4 interface (re-joining as interfaces come and go),
//! sends an M-SEARCH at start so a camera that is already waiting answers, and reports each
//! camera that announces `MtpNullService` with `ssdp:alive` and whose LOCATION description
//! (fetched with a small HTTP/1.1 GET, timeout and size cap) contains "Sony Corporation".
//!
//! The camera's address is the datagram's source, never the LOCATION host (a camera on
//! a link-local address may announce another one, and the description is fetched from
//! that same source so a datagram cannot send us to a third host). Bad datagrams are
//! logged and ignored; socket errors are logged and the thread carries on — it is meant
//! to run for days. Tests restrict it to 127.0.0.1 with multicast loop on, on another
//! port, inside a network namespace.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::message::{HttpUrl, Message, MAX_MESSAGE, MTP_NULL_SERVICE, MULTICAST_ADDR, PORT};

/// M-SEARCH rounds after the first one, and the gap between them.
const SEARCH_REPEATS: u32 = 2;
const SEARCH_INTERVAL: Duration = Duration::from_secs(2);

/// What the description must contain for the announcer to count as a Sony body.
pub const SONY_MARKER: &str = "Sony Corporation";
/// Most (source, location) pairs remembered within the repeat window (a flood of
/// distinct announcements must not grow memory or the per-datagram scan).
const MAX_RECENT: usize = 256;
/// Largest device description read.
pub const MAX_DESCRIPTION: usize = 64 << 10;

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Multicast group to join.
    pub group: Ipv4Addr,
    /// UDP port to listen on.
    pub port: u16,
    /// `None`: every up, multicast-capable IPv4 interface (re-read periodically).
    /// `Some(list)`: exactly these interface addresses (tests: `[127.0.0.1]`).
    pub interfaces: Option<Vec<Ipv4Addr>>,
    /// IP_MULTICAST_LOOP (tests on one host need it).
    pub multicast_loop: bool,
    /// Send an M-SEARCH when starting.
    pub search_on_start: bool,
    /// Timeout of the whole description fetch.
    pub http_timeout: Duration,
    /// How often the interface list is re-read.
    pub rescan_interval: Duration,
    /// Ignore repeats from the same source within this time.
    pub repeat_window: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            group: MULTICAST_ADDR,
            port: PORT,
            interfaces: None,
            multicast_loop: false,
            search_on_start: true,
            http_timeout: Duration::from_secs(4),
            rescan_interval: Duration::from_secs(10),
            repeat_window: Duration::from_secs(5),
        }
    }
}

impl ListenerConfig {
    /// Loopback only, multicast loop on, on `port`: for tests in a network namespace.
    pub fn loopback(port: u16) -> ListenerConfig {
        ListenerConfig {
            port,
            interfaces: Some(vec![Ipv4Addr::LOCALHOST]),
            multicast_loop: true,
            rescan_interval: Duration::from_secs(3600),
            ..ListenerConfig::default()
        }
    }
}

/// A camera that announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Source address of the announcement: where the PTP/IP server is.
    pub addr: IpAddr,
    /// The LOCATION header: the device description URL.
    pub location: String,
    /// The USN header, when sent.
    pub usn: Option<String>,
}

/// A running listener thread.
#[derive(Debug)]
pub struct Listener {
    rx: Receiver<Found>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    local_port: u16,
}

impl Listener {
    /// Binds and joins, sends the initial M-SEARCH, and starts the thread. Fails only
    /// when the socket cannot be set up at all.
    pub fn start(cfg: ListenerConfig) -> std::io::Result<Listener> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        // Other SSDP users (e.g. a desktop's media sharing) may hold the port too.
        sock.set_reuse_port(true)?;
        sock.bind(&SockAddr::from(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            cfg.port,
        )))?;
        sock.set_multicast_loop_v4(cfg.multicast_loop)?;
        // Announcements and searches stay on the local link.
        sock.set_multicast_ttl_v4(1)?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let local_port = sock
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .unwrap_or(cfg.port);
        let (tx, rx) = crossbeam_channel::bounded(16);
        let stop = Arc::new(AtomicBool::new(false));
        let mut state = State {
            sock: sock.into(),
            cfg,
            joined: HashSet::new(),
            last_scan: None,
            recent: Vec::new(),
            tx,
            searches_left: 0,
            next_search: Instant::now(),
        };
        state.rescan();
        if state.joined.is_empty() {
            log::warn!("ssdp: no usable ipv4 interface yet; will retry");
        }
        if state.cfg.search_on_start {
            state.search();
            state.searches_left = SEARCH_REPEATS;
            state.next_search = Instant::now() + SEARCH_INTERVAL;
        }
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ssdp-listener".into())
            .spawn(move || state.run(&stop2))?;
        Ok(Listener {
            rx,
            stop,
            thread: Some(thread),
            local_port,
        })
    }

    /// The next camera found, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Found> {
        if timeout.is_zero() {
            return self.rx.try_recv().ok();
        }
        self.rx.recv_timeout(timeout).ok()
    }

    /// The UDP port the listener is bound to.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    /// Set up with socket2, then used as a std socket (recv into `&mut [u8]`).
    sock: std::net::UdpSocket,
    cfg: ListenerConfig,
    joined: HashSet<Ipv4Addr>,
    last_scan: Option<Instant>,
    recent: Vec<(IpAddr, String, Instant)>,
    tx: Sender<Found>,
    /// Further M-SEARCH rounds (UDP may drop one; airnef sends three).
    searches_left: u32,
    next_search: Instant,
}

impl State {
    fn run(mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        let mut errors_logged = 0u32;
        while !stop.load(Ordering::Relaxed) {
            if self
                .last_scan
                .is_none_or(|t| t.elapsed() >= self.cfg.rescan_interval)
            {
                let before = self.joined.len();
                self.rescan();
                if before == 0 && !self.joined.is_empty() && self.cfg.search_on_start {
                    self.search();
                }
            }
            if self.searches_left > 0 && Instant::now() >= self.next_search {
                self.searches_left -= 1;
                self.next_search = Instant::now() + SEARCH_INTERVAL;
                self.search();
            }
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    errors_logged = 0;
                    self.handle(&buf[..n], from);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // Keep going; log once per episode, not once per loop.
                    if errors_logged == 0 {
                        log::warn!("ssdp: receive failed: {e}; still listening");
                    }
                    errors_logged += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    fn handle(&mut self, b: &[u8], from: SocketAddr) {
        let msg = match Message::parse(b) {
            Ok(m) => m,
            Err(e) => {
                log::debug!("ssdp: ignoring a datagram from {from}: {e}");
                return;
            }
        };
        if !msg.is_mtp_alive() {
            log::trace!("ssdp: {:?} {:?} from {from}", msg.kind, msg.target());
            return;
        }
        let ip = from.ip();
        let location = msg.location().unwrap_or_default().to_string();
        // One description fetch per (source, location) and window: cameras repeat. A
        // source whose announcement led nowhere (unusable location, failed or timed-out
        // fetch) is ignored whole for the window (an empty location matches any), so a
        // flood of distinct locations from one host costs one slow fetch per window
        // instead of hiding the camera behind thousands of them. A quick "not Sony"
        // answer costs little and does not silence its source.
        self.recent
            .retain(|(_, _, t)| t.elapsed() < self.cfg.repeat_window);
        if self
            .recent
            .iter()
            .any(|(a, l, _)| *a == ip && (*l == location || l.is_empty()))
        {
            return;
        }
        if self.recent.len() >= MAX_RECENT {
            self.recent.remove(0);
        }
        self.recent.push((ip, location.clone(), Instant::now()));
        let mut ignore_source = || {
            if let Some(e) = self.recent.last_mut() {
                e.1.clear();
            }
        };
        let Some(url) = HttpUrl::parse(&location) else {
            ignore_source();
            log::warn!("ssdp: {from} announced an unusable location {location:?}");
            return;
        };
        let fetched = fetch_description(ip, &url, self.cfg.http_timeout);
        if fetched.is_err() {
            ignore_source();
        }
        match fetched {
            Ok(body) if contains(&body, SONY_MARKER.as_bytes()) => {
                let found = Found {
                    addr: ip,
                    location,
                    usn: msg.usn().map(str::to_string),
                };
                log::info!("ssdp: sony camera at {ip}");
                if self.tx.try_send(found).is_err() {
                    log::debug!("ssdp: announcement dropped (consumer busy)");
                }
            }
            Ok(_) => log::info!("ssdp: {ip} announces {MTP_NULL_SERVICE} but is not a sony camera"),
            Err(e) => log::warn!("ssdp: cannot read the description of {ip}: {e}"),
        }
    }

    fn interfaces(&self) -> Vec<Ipv4Addr> {
        match &self.cfg.interfaces {
            Some(v) => v.clone(),
            None => up_ipv4_interfaces(),
        }
    }

    /// Joins the group on new interfaces and forgets vanished ones.
    fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        let now: HashSet<Ipv4Addr> = self.interfaces().into_iter().collect();
        for gone in self.joined.difference(&now).copied().collect::<Vec<_>>() {
            // Fails when the address is already gone with its interface; that is fine.
            let _ = self.sock.leave_multicast_v4(&self.cfg.group, &gone);
            self.joined.remove(&gone);
            log::info!("ssdp: interface {gone} went away");
        }
        for new in now.difference(&self.joined).copied().collect::<Vec<_>>() {
            match self.sock.join_multicast_v4(&self.cfg.group, &new) {
                Ok(()) => {
                    log::info!("ssdp: listening on {new}");
                    self.joined.insert(new);
                }
                // EADDRINUSE: already joined (e.g. after an address change back).
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                    self.joined.insert(new);
                }
                Err(e) => log::warn!("ssdp: cannot join {} on {new}: {e}", self.cfg.group),
            }
        }
    }

    /// One M-SEARCH for the MtpNullService out of every joined interface.
    fn search(&mut self) {
        let msg = Message::search(MTP_NULL_SERVICE, 1).format();
        let to = SocketAddrV4::new(self.cfg.group, self.cfg.port);
        for ifa in self.joined.iter().copied().collect::<Vec<_>>() {
            let r = socket2::SockRef::from(&self.sock)
                .set_multicast_if_v4(&ifa)
                .and_then(|_| self.sock.send_to(msg.as_bytes(), to));
            if let Err(e) = r {
                log::warn!("ssdp: m-search on {ifa} failed: {e}");
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every up, multicast-capable IPv4 interface address (getifaddrs).
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub fn up_ipv4_interfaces() -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            log::warn!(
                "ssdp: getifaddrs failed: {}",
                std::io::Error::last_os_error()
            );
            return out;
        }
        let mut p = head;
        while !p.is_null() {
            let ifa = &*p;
            let flags = ifa.ifa_flags;
            let wanted = flags & libc::IFF_UP as u32 != 0
                && flags & libc::IFF_MULTICAST as u32 != 0
                && flags & libc::IFF_LOOPBACK as u32 == 0;
            if wanted
                && !ifa.ifa_addr.is_null()
                && (*ifa.ifa_addr).sa_family as i32 == libc::AF_INET
            {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
            p = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// A minimal HTTP/1.1 GET of the device description from `ip` (the announcer), with
/// an overall deadline and a size cap. Returns the body (or whatever arrived before the
/// cap); non-200 answers are errors.
pub fn fetch_description(ip: IpAddr, url: &HttpUrl, timeout: Duration) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::new(ip, url.port);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    let left = |d: Instant| {
        d.checked_duration_since(Instant::now())
            .filter(|x| !x.is_zero())
            .ok_or_else(|| Error::new(ErrorKind::TimedOut, "description fetch timed out"))
    };
    s.set_write_timeout(Some(left(deadline)?))?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nUser-Agent: alpha-bridge\r\nAccept: */*\r\n\r\n",
        url.path, url.host, url.port
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let cap = MAX_DESCRIPTION + 8192;
    loop {
        s.set_read_timeout(Some(left(deadline)?))?;
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => {
                let room = cap - buf.len();
                buf.extend_from_slice(&tmp[..n.min(room)]);
                if buf.len() >= cap {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    "description fetch timed out",
                ))
            }
            Err(e) => return Err(e),
        }
    }
    parse_description_response(buf)
}

/// Splits a raw HTTP answer (as read off the socket, already capped) into its body,
/// which is at most [`MAX_DESCRIPTION`] bytes; an answer without a header end or with
/// a status other than 200 is an error. Pure, so it can be fuzzed.
pub fn parse_description_response(mut buf: Vec<u8>) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let Some(head_end) = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
    else {
        return Err(Error::new(ErrorKind::InvalidData, "no http header end"));
    };
    let status_line = buf[..head_end]
        .split(|&c| c == b'\n')
        .next()
        .unwrap_or_default();
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok());
    if status != Some(200) {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "http answer {:?}",
                String::from_utf8_lossy(&status_line[..status_line.len().min(60)])
            ),
        ));
    }
    let mut body = buf.split_off(head_end);
    body.truncate(MAX_DESCRIPTION);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static [u8]) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let mut req = [0u8; 1024];
                let _ = c.read(&mut req);
                let _ = c.write_all(answer);
            }
        });
        port
    }

    #[test]
    fn http_get_reads_the_body_and_refuses_errors() {
        let port = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<manufacturer>Sony Corporation</manufacturer>",
        );
        let url = HttpUrl::parse(&format!("http://10.9.9.9:{port}/DeviceDescription.xml")).unwrap();
        // The host in the URL is ignored: the fetch goes to the announcer's address.
        let body = fetch_description(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &url,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(contains(&body, SONY_MARKER.as_bytes()));
        let port = serve_once(b"HTTP/1.1 404 Not Found\r\n\r\n");
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        assert!(fetch_description(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &url,
            Duration::from_secs(5)
        )
        .is_err());
    }

    #[test]
    fn http_get_times_out_on_a_silent_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let c = l.accept();
            std::thread::sleep(Duration::from_millis(800));
            drop(c);
        });
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        let e = fetch_description(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &url,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        h.join().unwrap();
    }

    #[test]
    fn description_answers_are_split_without_the_network() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<a/>".to_vec();
        assert_eq!(parse_description_response(ok).unwrap(), b"<a/>");
        assert_eq!(
            parse_description_response(b"HTTP/1.0 200 OK\n\nbody".to_vec()).unwrap(),
            b"body"
        );
        for bad in [
            &b"HTTP/1.1 404 Not Found\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n",
            b"",
            b"\n\n",
        ] {
            assert!(parse_description_response(bad.to_vec()).is_err());
        }
        let mut big = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        big.resize(MAX_DESCRIPTION * 2, b'x');
        assert_eq!(
            parse_description_response(big).unwrap().len(),
            MAX_DESCRIPTION
        );
    }

    proptest::proptest! {
        #[test]
        fn random_answers_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(body) = parse_description_response(b.clone()) {
                proptest::prop_assert!(body.len() < b.len());
            }
        }
    }

    #[test]
    fn interface_listing_does_not_panic() {
        for ip in up_ipv4_interfaces() {
            assert!(!ip.is_loopback());
        }
    }
}
