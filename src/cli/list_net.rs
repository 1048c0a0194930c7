//! The network half of `alpha-bridge list`: Sony bodies found by one bounded SSDP search
//! (alpha_bridge::ssdp::search, docs/protocol/ssdp.md#searching-once), in PC Remote over
//! Wi-Fi/LAN (ready for `webcam --camera ptpip:HOST:PORT`) or in Send to Computer (ready
//! for `offload --camera HOST`). The search runs on its own thread while USB is listed.

use std::fmt::Write as _;
use std::thread::JoinHandle;
use std::time::Duration;

use alpha_bridge::ptp::ptpip;
use alpha_bridge::ssdp::search::{self, NetBody, SearchConfig, Service};

use super::list::{json_opt, json_str};

/// How long `list` waits for answers unless told otherwise.
pub(super) const DEFAULT_WAIT: Duration = Duration::from_millis(1500);
/// Longest `--network-wait`.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// clap value parser of `--network-wait`: a duration above zero, at most a minute.
pub(super) fn parse_wait(s: &str) -> Result<Duration, String> {
    let d = super::parse_positive_duration(s)?;
    if d > MAX_WAIT {
        return Err(format!(
            "'{s}' is longer than a minute; 2s is plenty on a LAN"
        ));
    }
    Ok(d)
}

/// A search running in the background.
pub(super) struct Pending {
    wait: Duration,
    thread: JoinHandle<std::io::Result<Vec<NetBody>>>,
}

/// Starts the search (every up IPv4 interface and loopback, `wait` long).
pub(super) fn start(wait: Duration) -> anyhow::Result<Pending> {
    let cfg = SearchConfig {
        wait,
        ..SearchConfig::default()
    };
    let thread = std::thread::Builder::new()
        .name("ssdp-search".into())
        .spawn(move || search::search(&cfg))?;
    Ok(Pending { wait, thread })
}

impl Pending {
    /// The bodies found; a search that could not run is logged and gives none (USB
    /// listing goes on).
    pub(super) fn finish(self) -> Found {
        let bodies = match self.thread.join() {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                log::warn!("cannot search the network for cameras: {e}");
                Vec::new()
            }
            Err(_) => {
                log::warn!("the network search failed");
                Vec::new()
            }
        };
        Found {
            bodies,
            wait: self.wait,
        }
    }
}

/// What the search found.
pub(super) struct Found {
    pub(super) bodies: Vec<NetBody>,
    wait: Duration,
}

/// The `--camera` value that reaches a PC Remote body.
fn camera_arg(b: &NetBody) -> String {
    format!("ptpip:{}:{}", b.addr, ptpip::PORT)
}

fn ready(b: &NetBody) -> String {
    match b.service {
        Service::PcRemote => format!("alpha-bridge webcam --camera {}", camera_arg(b)),
        Service::SendToComputer => format!("alpha-bridge offload --camera {}", b.addr),
    }
}

fn mode_label(s: Service) -> &'static str {
    match s {
        Service::PcRemote => "PC Remote over the network (live view and control)",
        Service::SendToComputer => "Send to Computer (offering its pictures)",
    }
}

fn mode_key(s: Service) -> &'static str {
    match s {
        Service::PcRemote => "pc_remote",
        Service::SendToComputer => "send_to_computer",
    }
}

fn ready_for(s: Service) -> &'static str {
    match s {
        Service::PcRemote => "webcam",
        Service::SendToComputer => "offload",
    }
}

/// What to do before `ready` works; `None` when nothing.
fn advice(b: &NetBody) -> Option<String> {
    match b.service {
        Service::PcRemote if b.ssh_required => Some(format!(
            "the camera has Access Authentication (SSH) on and takes PTP/IP only through SSH: \
             turn it off in its network settings, or tunnel with `ssh -N -L \
             15740:localhost:15740 USER@{}` and use --camera ptpip:127.0.0.1:15740",
            b.addr
        )),
        Service::PcRemote => None,
        Service::SendToComputer => Some(
            "for the webcam over the network, choose PC Remote (over Wi-Fi) in the camera's \
             network menu instead of Send to Computer (menu names vary by model)"
                .into(),
        ),
    }
}

impl Found {
    /// The text section: one block per body, or one line saying none answered.
    pub(super) fn to_text(&self) -> String {
        let mut s = String::new();
        let n = self.bodies.len();
        if n == 0 {
            let _ = writeln!(
                s,
                "\nno Sony camera answered on the network within {:.1} s (a camera in PC Remote \
                 over Wi-Fi must be on the same network; --network-wait gives it longer)",
                self.wait.as_secs_f64()
            );
            return s;
        }
        let _ = writeln!(
            s,
            "\n{n} Sony {} on the network:",
            if n == 1 { "camera" } else { "cameras" }
        );
        for b in &self.bodies {
            let _ = write!(s, "\n{}", b.model.as_deref().unwrap_or("unknown model"));
            if let Some(name) = &b.name {
                let _ = write!(s, "  name {name:?}");
            }
            s.push('\n');
            let _ = writeln!(s, "  address  {} (description {})", b.addr, b.location);
            let _ = writeln!(s, "  mode     {}", mode_label(b.service));
            let _ = writeln!(s, "  ready    {}", ready(b));
            if let Some(a) = advice(b) {
                let _ = writeln!(s, "  change   {a}");
            }
            if let Some(p) = &b.problem {
                let _ = writeln!(s, "  problem  {p}");
            }
        }
        s
    }

    /// JSON objects for the bodies, each preceded by a comma when `after_others`.
    pub(super) fn json(&self, o: &mut String, mut after_others: bool) {
        for b in &self.bodies {
            if after_others {
                o.push(',');
            }
            after_others = true;
            o.push_str("{\"transport\":\"network\",\"address\":");
            json_str(o, &b.addr.to_string());
            let _ = write!(o, ",\"port\":{},\"model\":", ptpip::PORT);
            json_opt(o, b.model.as_deref());
            o.push_str(",\"name\":");
            json_opt(o, b.name.as_deref());
            o.push_str(",\"mode\":");
            json_str(o, mode_key(b.service));
            o.push_str(",\"service\":");
            json_str(o, b.service.urn());
            o.push_str(",\"location\":");
            json_str(o, &b.location);
            o.push_str(",\"usn\":");
            json_opt(o, b.usn.as_deref());
            o.push_str(",\"camera\":");
            match b.service {
                Service::PcRemote => json_str(o, &camera_arg(b)),
                Service::SendToComputer => json_str(o, &b.addr.to_string()),
            }
            o.push_str(",\"ready_for\":[");
            json_str(o, ready_for(b.service));
            let _ = write!(o, "],\"ssh_required\":{},\"change\":", b.ssh_required);
            json_opt(o, advice(b).as_deref());
            o.push_str(",\"problem\":");
            json_opt(o, b.problem.as_deref());
            o.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(service: Service) -> NetBody {
        NetBody {
            addr: "192.168.1.23".parse().unwrap(),
            service,
            location: "http://192.168.1.23:64321/dd.xml".into(),
            usn: Some("uuid:x::y".into()),
            model: Some("ILCE-7M4".into()),
            name: Some("Stage \"A\"".into()),
            ssh_required: false,
            problem: None,
        }
    }

    #[test]
    fn text_names_the_command_to_use() {
        let f = Found {
            bodies: vec![body(Service::PcRemote), body(Service::SendToComputer)],
            wait: DEFAULT_WAIT,
        };
        let t = f.to_text();
        assert!(t.contains("2 Sony cameras on the network:"), "{t}");
        assert!(t.contains("ILCE-7M4  name \"Stage \\\"A\\\"\""), "{t}");
        assert!(
            t.contains("  address  192.168.1.23 (description http://192.168.1.23:64321/dd.xml)"),
            "{t}"
        );
        assert!(
            t.contains("  ready    alpha-bridge webcam --camera ptpip:192.168.1.23:15740\n"),
            "{t}"
        );
        assert!(
            t.contains("  ready    alpha-bridge offload --camera 192.168.1.23\n"),
            "{t}"
        );
        assert!(t.contains("choose PC Remote (over Wi-Fi)"), "{t}");
        let none = Found {
            bodies: vec![],
            wait: DEFAULT_WAIT,
        };
        assert!(none
            .to_text()
            .starts_with("\nno Sony camera answered on the network within 1.5 s"));
    }

    #[test]
    fn ssh_and_problems_are_said() {
        let mut b = body(Service::PcRemote);
        b.ssh_required = true;
        b.problem = Some("could not read its description: timed out".into());
        let t = Found {
            bodies: vec![b],
            wait: DEFAULT_WAIT,
        }
        .to_text();
        assert!(t.contains("Access Authentication (SSH) on"), "{t}");
        assert!(t.contains("USER@192.168.1.23"), "{t}");
        assert!(t.contains("problem  could not read its description"), "{t}");
    }

    #[test]
    fn json_entries() {
        let f = Found {
            bodies: vec![body(Service::PcRemote)],
            wait: DEFAULT_WAIT,
        };
        let mut o = String::new();
        f.json(&mut o, true);
        assert!(
            o.starts_with(
                ",{\"transport\":\"network\",\"address\":\"192.168.1.23\",\"port\":15740"
            ),
            "{o}"
        );
        assert!(o.contains("\"camera\":\"ptpip:192.168.1.23:15740\""), "{o}");
        assert!(o.contains("\"mode\":\"pc_remote\""), "{o}");
        assert!(o.contains("\"name\":\"Stage \\\"A\\\"\""), "{o}");
        assert!(
            o.contains("\"ready_for\":[\"webcam\"],\"ssh_required\":false,\"change\":null"),
            "{o}"
        );
        let mut o = String::new();
        f.json(&mut o, false);
        assert!(o.starts_with('{'), "{o}");
    }

    #[test]
    fn wait_option() {
        assert_eq!(parse_wait("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_wait("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_wait("0").is_err());
        assert!(parse_wait("2m").is_err());
        assert!(parse_wait("x").is_err());
    }
}
