//! Pure SSDP messages (docs/protocol/ssdp.md#message-parsing): parse and format NOTIFY,
//! M-SEARCH and the `HTTP/1.1 200 OK` search answer. No sockets here (see `listener`).
//!
//! Parsing takes what any host on the LAN may send: the size is capped
//! ([`MAX_MESSAGE`]) before anything else, header names are matched
//! case-insensitively, lines may end in CRLF or LF, and nothing panics. Formatting
//! always writes CRLF and the header order Sony bodies use.

use std::net::Ipv4Addr;

/// The SSDP multicast group.
pub const MULTICAST_ADDR: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The SSDP port.
pub const PORT: u16 = 1900;
/// Largest datagram we parse; real ones are under 500 bytes.
pub const MAX_MESSAGE: usize = 8192;
/// Most header lines accepted in one message.
pub const MAX_HEADERS: usize = 64;
/// The service a Sony body in "Send to Computer" announces.
pub const MTP_NULL_SERVICE: &str = "urn:microsoft-com:service:MtpNullService:1";
/// The service a Sony body in PC Remote over the network (Wi-Fi or wired LAN) is found by
/// (docs/protocol/ssdp.md#pc-remote-over-the-network).
pub const DIGITAL_IMAGING_SERVICE: &str = "urn:schemas-sony-com:service:DigitalImaging:1";
/// The other NT values the camera announces (docs/protocol/ssdp.md#announcements), besides
/// its uuid.
pub const ROOT_DEVICE: &str = "upnp:rootdevice";
/// The search and notification type Sony bodies use.
pub const MTP_DEVICE: &str = "urn:microsoft-com:device:mtp:1";
/// NTS of an alive notification.
pub const NTS_ALIVE: &str = "ssdp:alive";
/// NTS of a byebye notification.
pub const NTS_BYEBYE: &str = "ssdp:byebye";

/// Why a datagram is not an SSDP message we understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The datagram is larger than accepted.
    #[error("ssdp message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message is not UTF-8.
    #[error("ssdp message is not valid utf-8")]
    NotUtf8,
    /// The first line is neither a request nor a response.
    #[error("ssdp message has an unknown start line {0:?}")]
    StartLine(String),
    /// A header line has no colon.
    #[error("ssdp header line without a colon: {0:?}")]
    Header(String),
    /// Too many header lines.
    #[error("ssdp message has more than {0} header lines")]
    TooManyHeaders(usize),
    /// The headers never end.
    #[error("ssdp message has no header end (blank line)")]
    Unterminated,
}

/// What kind of message, from its start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `NOTIFY * HTTP/1.1`
    Notify,
    /// `M-SEARCH * HTTP/1.1`
    Search,
    /// `HTTP/1.1 <status> …` (the unicast answer to a search)
    Response {
        /// Status code.
        status: u16,
    },
}

/// An SSDP message: kind plus headers in their original order and spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or response.
    pub kind: Kind,
    /// Headers in order, as sent.
    pub headers: Vec<(String, String)>,
}

impl Message {
    /// Parses one datagram.
    pub fn parse(b: &[u8]) -> Result<Message, Error> {
        if b.len() > MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: b.len(),
                max: MAX_MESSAGE,
            });
        }
        let text = std::str::from_utf8(b).map_err(|_| Error::NotUtf8)?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start = lines.next().unwrap_or_default().trim();
        let kind = parse_start(start)?;
        let mut headers = Vec::new();
        let mut ended = false;
        for line in lines {
            if line.trim().is_empty() {
                ended = true;
                break;
            }
            if headers.len() == MAX_HEADERS {
                return Err(Error::TooManyHeaders(MAX_HEADERS));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(Error::Header(clip(line)));
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(Error::Header(clip(line)));
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
        // A datagram cut right after the last header (no blank line) is common enough
        // from small stacks; accept it as long as it had headers at all.
        if !ended && headers.is_empty() {
            return Err(Error::Unterminated);
        }
        Ok(Message { kind, headers })
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The NT header.
    pub fn nt(&self) -> Option<&str> {
        self.get("NT")
    }
    /// The NTS header.
    pub fn nts(&self) -> Option<&str> {
        self.get("NTS")
    }
    /// The ST header.
    pub fn st(&self) -> Option<&str> {
        self.get("ST")
    }
    /// The USN header.
    pub fn usn(&self) -> Option<&str> {
        self.get("USN")
    }
    /// The LOCATION header.
    pub fn location(&self) -> Option<&str> {
        self.get("LOCATION")
    }

    /// The service or device type this message is about: NT for NOTIFY, ST otherwise.
    pub fn target(&self) -> Option<&str> {
        match self.kind {
            Kind::Notify => self.nt(),
            _ => self.st(),
        }
    }

    /// A Sony body saying "I'm in Send to Computer, come and get it": a NOTIFY with
    /// `NTS: ssdp:alive` or a 200 search answer, for the MtpNullService, with a LOCATION.
    pub fn is_mtp_alive(&self) -> bool {
        self.is_alive_with(|t| t.contains("MtpNullService"))
    }

    /// A NOTIFY `ssdp:alive` or a 200 search answer for exactly `service` (case-insensitive),
    /// with a LOCATION.
    pub fn is_alive_for(&self, service: &str) -> bool {
        self.is_alive_with(|t| t.trim().eq_ignore_ascii_case(service))
    }

    /// An alive NOTIFY or a 200 answer, with a LOCATION, whose target passes `wanted`.
    fn is_alive_with(&self, wanted: impl Fn(&str) -> bool) -> bool {
        let live = match self.kind {
            Kind::Notify => self
                .nts()
                .is_some_and(|v| v.eq_ignore_ascii_case(NTS_ALIVE)),
            Kind::Response { status } => status == 200,
            Kind::Search => false,
        };
        live && self.target().is_some_and(wanted) && self.location().is_some()
    }

    /// `NOTIFY` with `NTS: ssdp:alive`.
    pub fn notify_alive(location: &str, nt: &str, usn: &str, server: &str) -> Message {
        Message {
            kind: Kind::Notify,
            headers: hdrs(&[
                ("HOST", &host()),
                ("CACHE-CONTROL", "max-age=1800"),
                ("LOCATION", location),
                ("NT", nt),
                ("NTS", NTS_ALIVE),
                ("SERVER", server),
                ("USN", usn),
            ]),
        }
    }

    /// `NOTIFY` with `NTS: ssdp:byebye` (no LOCATION).
    pub fn notify_byebye(nt: &str, usn: &str) -> Message {
        Message {
            kind: Kind::Notify,
            headers: hdrs(&[
                ("HOST", &host()),
                ("NT", nt),
                ("NTS", NTS_BYEBYE),
                ("USN", usn),
            ]),
        }
    }

    /// `M-SEARCH` for `st`, answers wanted within `mx` seconds.
    pub fn search(st: &str, mx: u32) -> Message {
        Message {
            kind: Kind::Search,
            headers: hdrs(&[
                ("HOST", &host()),
                ("MAN", "\"ssdp:discover\""),
                ("ST", st),
                ("MX", &mx.to_string()),
                ("USER-AGENT", "Linux UPnP/1.0 alpha-bridge/0.1"),
            ]),
        }
    }

    /// The unicast `HTTP/1.1 200 OK` answer to a search.
    pub fn search_response(location: &str, st: &str, usn: &str, server: &str) -> Message {
        Message {
            kind: Kind::Response { status: 200 },
            headers: hdrs(&[
                ("CACHE-CONTROL", "max-age=1800"),
                ("EXT", ""),
                ("LOCATION", location),
                ("SERVER", server),
                ("ST", st),
                ("USN", usn),
            ]),
        }
    }

    /// The wire form: start line, headers, blank line, all CRLF.
    pub fn format(&self) -> String {
        let mut s = match self.kind {
            Kind::Notify => "NOTIFY * HTTP/1.1\r\n".to_string(),
            Kind::Search => "M-SEARCH * HTTP/1.1\r\n".to_string(),
            Kind::Response { status } => {
                format!("HTTP/1.1 {status} {}\r\n", reason(status))
            }
        };
        for (n, v) in &self.headers {
            // Headers come from our own code; strip line breaks so a value can never
            // inject another header.
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            if v.is_empty() {
                s += &format!("{n}:\r\n");
            } else {
                s += &format!("{n}: {v}\r\n");
            }
        }
        s += "\r\n";
        s
    }
}

fn host() -> String {
    format!("{MULTICAST_ADDR}:{PORT}")
}

fn hdrs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Unknown",
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn parse_start(line: &str) -> Result<Kind, Error> {
    let mut parts = line.split_whitespace();
    let first = parts.next().unwrap_or_default();
    let bad = || Error::StartLine(clip(line));
    if first.eq_ignore_ascii_case("NOTIFY") || first.eq_ignore_ascii_case("M-SEARCH") {
        let target = parts.next().ok_or_else(bad)?;
        let version = parts.next().ok_or_else(bad)?;
        if target != "*" || !version.to_ascii_uppercase().starts_with("HTTP/1.") {
            return Err(bad());
        }
        return Ok(if first.eq_ignore_ascii_case("NOTIFY") {
            Kind::Notify
        } else {
            Kind::Search
        });
    }
    if first.to_ascii_uppercase().starts_with("HTTP/1.") {
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(bad)?;
        return Ok(Kind::Response { status });
    }
    Err(bad())
}

/// An `http://host[:port]/path` URL, split. Only plain HTTP (the camera serves its
/// description that way); the host may be a name or an IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address.
    pub host: String,
    /// Port (80 when not given).
    pub port: u16,
    /// Path, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Reads an `http://host[:port]/path` URL; `None` for anything else.
    pub fn parse(url: &str) -> Option<HttpUrl> {
        let url = url.trim();
        let scheme_end = url.find("://")?;
        if !url[..scheme_end].eq_ignore_ascii_case("http") {
            return None;
        }
        let rest = &url[scheme_end + 3..];
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || authority.is_empty() {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (authority, 80),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            || path.chars().any(|c| c.is_control() || c == ' ')
        {
            return None;
        }
        Some(HttpUrl {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A7S_NOTIFY: &str = "NOTIFY * HTTP/1.1\r\n\
HOST: 239.255.255.250:1900\r\n\
CACHE-CONTROL: max-age=1800\r\n\
LOCATION: http://192.168.1.209:1900/DeviceDescription.xml\r\n\
NT: urn:microsoft-com:service:MtpNullService:1\r\n\
NTS: ssdp:alive\r\n\
SERVER: FedoraCore/2 UPnP/1.0 MINT-X/1.8.1\r\n\
USN: uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1\r\n\
\r\n";

    const A7S_ANSWER: &str = "HTTP/1.1 200 OK\r\n\
CACHE-CONTROL: max-age=1800\r\n\
EXT:\r\n\
LOCATION: http://192.168.1.209:1900/DeviceDescription.xml\r\n\
SERVER: FedoraCore/2 UPnP/1.0 MINT-X/1.8.1\r\n\
ST: urn:microsoft-com:service:MtpNullService:1\r\n\
USN: uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1\r\n\
\r\n";

    #[test]
    fn a7s_notify_and_answer_parse_and_reformat_byte_identically() {
        let m = Message::parse(A7S_NOTIFY.as_bytes()).unwrap();
        assert_eq!(m.kind, Kind::Notify);
        assert!(m.is_mtp_alive());
        assert_eq!(
            m.location(),
            Some("http://192.168.1.209:1900/DeviceDescription.xml")
        );
        assert_eq!(m.format(), A7S_NOTIFY);
        let a = Message::parse(A7S_ANSWER.as_bytes()).unwrap();
        assert_eq!(a.kind, Kind::Response { status: 200 });
        assert!(a.is_mtp_alive());
        assert_eq!(a.get("ext"), Some(""));
        assert_eq!(a.format(), A7S_ANSWER);
        let built = Message::search_response(
            "http://192.168.1.209:1900/DeviceDescription.xml",
            MTP_NULL_SERVICE,
            "uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1",
            "FedoraCore/2 UPnP/1.0 MINT-X/1.8.1",
        );
        assert_eq!(built.format(), A7S_ANSWER);
        let built = Message::notify_alive(
            "http://192.168.1.209:1900/DeviceDescription.xml",
            MTP_NULL_SERVICE,
            "uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1",
            "FedoraCore/2 UPnP/1.0 MINT-X/1.8.1",
        );
        assert_eq!(built.format(), A7S_NOTIFY);
    }

    #[test]
    fn lf_only_and_lowercase_names_are_accepted() {
        let text = A7S_NOTIFY.replace("\r\n", "\n").replace("NTS:", "nts:");
        let m = Message::parse(text.as_bytes()).unwrap();
        assert!(m.is_mtp_alive());
        assert_eq!(m.get("Nt"), Some(MTP_NULL_SERVICE));
        let lower = A7S_NOTIFY.replacen("NOTIFY", "notify", 1);
        assert_eq!(Message::parse(lower.as_bytes()).unwrap().kind, Kind::Notify);
    }

    #[test]
    fn byebye_other_services_and_searches_are_not_alive() {
        let bye = Message::notify_byebye(MTP_NULL_SERVICE, "uuid:x::y");
        let m = Message::parse(bye.format().as_bytes()).unwrap();
        assert_eq!(m.nts(), Some(NTS_BYEBYE));
        assert!(!m.is_mtp_alive());
        let root = A7S_NOTIFY.replace(MTP_NULL_SERVICE, ROOT_DEVICE);
        assert!(!Message::parse(root.as_bytes()).unwrap().is_mtp_alive());
        let s = Message::search(MTP_NULL_SERVICE, 1);
        let m = Message::parse(s.format().as_bytes()).unwrap();
        assert_eq!(m.kind, Kind::Search);
        assert_eq!(m.st(), Some(MTP_NULL_SERVICE));
        assert_eq!(m.get("man"), Some("\"ssdp:discover\""));
        assert!(!m.is_mtp_alive());
        let no_loc: String = A7S_NOTIFY
            .lines()
            .filter(|l| !l.starts_with("LOCATION"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        assert!(!Message::parse(no_loc.as_bytes()).unwrap().is_mtp_alive());
    }

    #[test]
    fn alive_for_one_service() {
        let pc = A7S_ANSWER.replace(MTP_NULL_SERVICE, DIGITAL_IMAGING_SERVICE);
        let m = Message::parse(pc.as_bytes()).unwrap();
        assert!(m.is_alive_for(DIGITAL_IMAGING_SERVICE));
        assert!(!m.is_alive_for(MTP_NULL_SERVICE));
        assert!(!m.is_mtp_alive());
        let n = Message::parse(A7S_NOTIFY.as_bytes()).unwrap();
        assert!(n.is_alive_for(MTP_NULL_SERVICE));
        let bye = Message::notify_byebye(DIGITAL_IMAGING_SERVICE, "uuid:x");
        assert!(!Message::parse(bye.format().as_bytes())
            .unwrap()
            .is_alive_for(DIGITAL_IMAGING_SERVICE));
        let s = Message::search(DIGITAL_IMAGING_SERVICE, 1);
        assert!(!s.is_alive_for(DIGITAL_IMAGING_SERVICE));
    }

    #[test]
    fn bad_datagrams_are_errors() {
        let big = vec![b'a'; MAX_MESSAGE + 1];
        assert!(matches!(Message::parse(&big), Err(Error::TooLarge { .. })));
        assert_eq!(Message::parse(&[0xff, 0xfe]), Err(Error::NotUtf8));
        assert!(matches!(
            Message::parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(Error::StartLine(_))
        ));
        assert!(matches!(
            Message::parse(b"NOTIFY * HTTP/1.1\r\nno colon here\r\n\r\n"),
            Err(Error::Header(_))
        ));
        assert_eq!(
            Message::parse(b"NOTIFY * HTTP/1.1"),
            Err(Error::Unterminated)
        );
        assert!(matches!(Message::parse(b""), Err(Error::StartLine(_))));
        let many = format!("NOTIFY * HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(100));
        assert_eq!(
            Message::parse(many.as_bytes()),
            Err(Error::TooManyHeaders(MAX_HEADERS))
        );
    }

    #[test]
    fn format_never_lets_a_value_inject_a_header() {
        let m = Message::search("x\r\nEVIL: 1", 1);
        let p = Message::parse(m.format().as_bytes()).unwrap();
        assert_eq!(p.get("EVIL"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            HttpUrl::parse("http://192.168.1.209:1900/DeviceDescription.xml"),
            Some(HttpUrl {
                host: "192.168.1.209".into(),
                port: 1900,
                path: "/DeviceDescription.xml".into()
            })
        );
        assert_eq!(HttpUrl::parse("HTTP://cam").unwrap().port, 80);
        assert_eq!(HttpUrl::parse("HTTP://cam").unwrap().path, "/");
        for bad in [
            "https://x/",
            "http://",
            "http://a:b/",
            "http://u@h/",
            "http://h:99999/",
            "ftp://h/",
            "http://h/a b",
        ] {
            assert_eq!(HttpUrl::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::parse(&b);
        }

        #[test]
        fn random_text_never_panics(s in "[A-Za-z: \r\n*/.0-9-]{0,300}") {
            let _ = Message::parse(s.as_bytes());
            let _ = HttpUrl::parse(&s);
        }

        #[test]
        fn built_messages_round_trip(loc in "[a-z0-9./:]{1,40}", st in "[a-zA-Z0-9:.-]{1,40}", usn in "[a-zA-Z0-9:.-]{1,40}") {
            for m in [
                Message::notify_alive(&loc, &st, &usn, "s"),
                Message::notify_byebye(&st, &usn),
                Message::search(&st, 2),
                Message::search_response(&loc, &st, &usn, "s"),
            ] {
                prop_assert_eq!(Message::parse(m.format().as_bytes()).unwrap(), m);
            }
        }
    }
}
