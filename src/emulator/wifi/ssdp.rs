//! The body's SSDP side (docs/protocol/ssdp.md#the-emulated-announcer): NOTIFY ssdp:alive
//! for the four NT values while waiting for a session, unicast 200 OK answers to M-SEARCH,
//! ssdp:byebye at power-off and stop. In PC Remote mode the service announced is Sony's
//! DigitalImaging (docs/protocol/ssdp.md#pc-remote-over-the-network) instead of the MTP
//! pair.
//!
//! Multicast leaves only through the bind address's interface (IP_MULTICAST_IF, TTL 1),
//! and M-SEARCHes are only answered when they come from that address's scope (a
//! loopback-bound emulator never answers a LAN host), so no packet leaves through a
//! real interface unless the user bound one. Message text comes from
//! `crate::ssdp::message`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::{Activation, Error, Shared, SsdpConfig};

pub(super) use crate::ssdp::message::MULTICAST_ADDR;
use crate::ssdp::message::{
    Kind, Message, DIGITAL_IMAGING_SERVICE, MTP_DEVICE, MTP_NULL_SERVICE, ROOT_DEVICE,
};

/// What an A7S sends (docs/protocol/ssdp.md#announcements).
const SERVER: &str = "FedoraCore/2 UPnP/1.0 MINT-X/1.8.1";

/// Creates the UDP socket (bound, group joined, multicast interface set).
pub(super) fn socket(bind: IpAddr, cfg: &SsdpConfig) -> Result<UdpSocket, Error> {
    let IpAddr::V4(bind4) = bind else {
        return Err(Error::Ssdp(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ssdp needs an ipv4 bind address",
        )));
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(Error::Ssdp)?;
    s.set_reuse_address(true).map_err(Error::Ssdp)?;
    s.set_reuse_port(true).map_err(Error::Ssdp)?;
    // Multicast to the group only reaches a socket bound to the wildcard address; with
    // an ephemeral port (tests) nobody multicasts to it, so bind the address itself.
    let local = if cfg.listen_port != 0 {
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, cfg.listen_port)
    } else {
        SocketAddrV4::new(bind4, 0)
    };
    s.bind(&SocketAddr::V4(local).into())
        .map_err(|source| Error::Bind {
            what: "ssdp",
            addr: SocketAddr::V4(local),
            err: source,
        })?;
    if !bind4.is_unspecified() {
        s.set_multicast_if_v4(&bind4).map_err(Error::Ssdp)?;
    }
    s.set_multicast_ttl_v4(1).map_err(Error::Ssdp)?;
    s.set_multicast_loop_v4(true).map_err(Error::Ssdp)?;
    if cfg.listen_port != 0 {
        if let Err(e) = s.join_multicast_v4(&MULTICAST_ADDR, &bind4) {
            log::warn!("emulator: cannot join the ssdp group on {bind4}: {e}; only unicast M-SEARCH will be answered");
        }
    }
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(Error::Ssdp)?;
    Ok(s.into())
}

/// The (NT, USN) pairs announced: the uuid, the root device, and the mode's own types.
fn nts(uuid: &str, pc_remote: bool) -> Vec<(String, String)> {
    let own: &[&str] = if pc_remote {
        &[DIGITAL_IMAGING_SERVICE]
    } else {
        &[MTP_DEVICE, MTP_NULL_SERVICE]
    };
    let mut v = vec![
        (uuid.to_string(), uuid.to_string()),
        (ROOT_DEVICE.into(), format!("{uuid}::{ROOT_DEVICE}")),
    ];
    v.extend(own.iter().map(|t| (t.to_string(), format!("{uuid}::{t}"))));
    v
}

/// The ST of an M-SEARCH (which must carry `MAN: "ssdp:discover"`), or `None`.
pub(crate) fn search_target(datagram: &[u8]) -> Option<String> {
    let m = Message::parse(datagram).ok()?;
    if m.kind != Kind::Search || m.get("MAN")?.trim().trim_matches('"') != "ssdp:discover" {
        return None;
    }
    m.st().map(|s| s.trim().to_string())
}

/// Same scope as the bind address: loopback answers loopback only.
fn in_scope(bind: IpAddr, from: IpAddr) -> bool {
    if bind.is_loopback() {
        from.is_loopback()
    } else {
        true
    }
}

/// The first ssdp:alive burst, sent before `start` returns so that an initiator can
/// never reach the body before it has announced itself.
pub(super) fn announce_now(shared: &Shared, sock: &UdpSocket) -> Instant {
    let mut n = 0;
    for (nt, usn) in nts(&shared.uuid, shared.pc_remote.is_some()) {
        let m = Message::notify_alive(&shared.location, &nt, &usn, SERVER).format();
        match sock.send_to(m.as_bytes(), shared.ssdp.target) {
            Ok(_) => n += 1,
            Err(e) => log::debug!("emulator: ssdp send to {} failed: {e}", shared.ssdp.target),
        }
    }
    shared.bump(|s| s.notifies_sent += n);
    Instant::now()
}

pub(super) fn run(shared: Arc<Shared>, sock: UdpSocket, first_alive: Instant) {
    let bind = sock
        .local_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    // The scope is that of the configured address; the socket may be bound to 0.0.0.0.
    let scope = match shared
        .location
        .split("//")
        .nth(1)
        .and_then(|r| r.split(':').next())
    {
        Some(h) => h.parse().unwrap_or(bind),
        None => bind,
    };
    let target = shared.ssdp.target;
    let pairs = nts(&shared.uuid, shared.pc_remote.is_some());
    let send_all = |msgs: &[String]| -> u32 {
        let mut n = 0;
        for m in msgs {
            match sock.send_to(m.as_bytes(), target) {
                Ok(_) => n += 1,
                Err(e) => log::debug!("emulator: ssdp send to {target} failed: {e}"),
            }
        }
        n
    };
    let byes: Vec<String> = pairs
        .iter()
        .map(|(nt, usn)| Message::notify_byebye(nt, usn).format())
        .collect();
    let alives: Vec<String> = pairs
        .iter()
        .map(|(nt, usn)| Message::notify_alive(&shared.location, nt, usn, SERVER).format())
        .collect();
    let mut last_alive: Option<Instant> = Some(first_alive);
    let mut announced = true;
    let mut buf = [0u8; 2048];
    loop {
        let act = shared.lock().activation;
        if shared.stopping() {
            if announced {
                let n = send_all(&byes);
                shared.bump(|s| s.byebyes_sent += n);
            }
            return;
        }
        match act {
            Activation::Waiting => {
                if last_alive.is_none_or(|t| t.elapsed() >= shared.ssdp.interval) {
                    let n = send_all(&alives);
                    shared.bump(|s| s.notifies_sent += n);
                    last_alive = Some(Instant::now());
                    announced = true;
                }
            }
            Activation::PoweredOff => {
                if announced {
                    let n = send_all(&byes);
                    shared.bump(|s| s.byebyes_sent += n);
                    announced = false;
                }
                last_alive = None;
            }
            Activation::InSession | Activation::Used => last_alive = None,
        }
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                log::warn!("emulator: ssdp receive failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(st) = search_target(&buf[..n]) else {
            continue;
        };
        if act == Activation::PoweredOff || !in_scope(scope, from.ip()) {
            continue;
        }
        let mut answered = 0;
        for (nt, usn) in &pairs {
            if st == "ssdp:all" || st == *nt {
                let msg = Message::search_response(&shared.location, nt, usn, SERVER).format();
                if sock.send_to(msg.as_bytes(), from).is_ok() {
                    answered += 1;
                }
            }
        }
        if answered > 0 {
            log::debug!("emulator: answered M-SEARCH for {st} from {from}");
            shared.bump(|s| s.searches_answered += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_parsing() {
        let m = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nST: urn:microsoft-com:service:MtpNullService:1\r\nMX: 1\r\n\r\n";
        assert_eq!(search_target(m).as_deref(), Some(MTP_NULL_SERVICE));
        assert_eq!(search_target(b"NOTIFY * HTTP/1.1\r\nST: x\r\n\r\n"), None);
        assert_eq!(
            search_target(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n"),
            None,
            "MAN is required"
        );
        assert_eq!(search_target(&[0xff, 0xfe]), None);
    }

    #[test]
    fn alive_matches_the_captured_layout() {
        let a = Message::notify_alive(
            "http://192.168.1.209:1900/DeviceDescription.xml",
            MTP_NULL_SERVICE,
            "uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1",
            SERVER,
        )
        .format();
        assert_eq!(
            a,
            "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n\
             LOCATION: http://192.168.1.209:1900/DeviceDescription.xml\r\n\
             NT: urn:microsoft-com:service:MtpNullService:1\r\nNTS: ssdp:alive\r\n\
             SERVER: FedoraCore/2 UPnP/1.0 MINT-X/1.8.1\r\n\
             USN: uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1\r\n\r\n"
        );
    }
}
