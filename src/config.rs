//! This computer's identity towards Sony cameras (the 16-byte GUID and the host name),
//! generated once per computer and kept in `$XDG_CONFIG_HOME/alpha-bridge/config.toml`.
//!
//! `pair` registers the identity inside the camera (sony-pairing.md §4) and `offload`
//! sends the identical 16 bytes in every PTP/IP Init Command Request (ptpip.md §2,
//! sony-pairing.md §6), so both must read it from here and nowhere else.
//!
//! The default GUID mirrors Sony's PlayMemories Home (sony-pairing.md §6.1): 8 zero
//! bytes, `FF FF`, then the MAC address of the interface holding the default route;
//! without one it is the same shape with a random locally administered MAC. The file
//! is a tiny TOML subset (`key = "value"` lines, comments, `[sections]`) written
//! atomically (temp file + rename) and edited in place, so keys other modules add
//! survive. This module never talks to a camera and never prints.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Length of the PTP/IP initiator GUID.
pub const GUID_LEN: usize = 16;

/// Config file name inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Keys this module owns in the config file.
pub const KEY_GUID: &str = "guid";
pub const KEY_HOST_NAME: &str = "host_name";

/// Longest config file we read; a real one is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Longest host name we keep (the PTP/IP friendly name is a PTP string, ≤ 255 units).
pub const MAX_HOST_NAME_CHARS: usize = 64;

/// Why the identity could not be read, parsed or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot find the config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error(
        "{path}: larger than {MAX_CONFIG_BYTES} bytes, is this really the alpha-bridge config?"
    )]
    TooLarge { path: PathBuf },
    #[error("{path}:{line}: {reason}")]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid GUID {input:?}: {reason} (expected 32 hex digits, dashes or colons allowed)")]
    BadGuid { input: String, reason: String },
    #[error("{path}: invalid {key}: {reason}; fix or delete the line to generate a new one")]
    BadValue {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    #[error("cannot generate a GUID: {0}")]
    Random(std::io::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |err| ConfigError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// Who this computer is to a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Sent as-is (same byte order) in the pairing block and the Init Command Request.
    pub guid: [u8; GUID_LEN],
    /// Friendly name; the camera shows it while connecting.
    pub host_name: String,
}

impl Identity {
    /// The identity in the default config directory, created on first use: what
    /// `pair` registers and `offload` must send.
    pub fn load_default() -> Result<Identity, ConfigError> {
        load_or_create(&default_config_dir()?)
    }

    /// 32 lowercase hex digits, no separators.
    pub fn guid_hex(&self) -> String {
        guid_hex(&self.guid)
    }

    /// The line for gphoto2's settings file (`~/.gphoto/settings`), so gphoto2 can
    /// use the same pairing: `ptp2_ip=guid=ff:ff:...` (16 colon-separated pairs).
    pub fn gphoto2_setting(&self) -> String {
        gphoto2_setting(&self.guid)
    }
}

/// 32 lowercase hex digits, no separators.
pub fn guid_hex(guid: &[u8; GUID_LEN]) -> String {
    let mut s = String::with_capacity(32);
    for b in guid {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `ptp2_ip=guid=xx:xx:...:xx`: libgphoto2's `ptp_nikon_getptpipguid` accepts exactly
/// 47 characters, 16 hex pairs separated by colons.
pub fn gphoto2_setting(guid: &[u8; GUID_LEN]) -> String {
    let pairs: Vec<String> = guid.iter().map(|b| format!("{b:02x}")).collect();
    format!("ptp2_ip=guid={}", pairs.join(":"))
}

/// Parses 32 hex digits; `-`, `:` and spaces between digits are ignored, so the
/// plain, UUID and gphoto2 forms all work.
pub fn parse_guid(input: &str) -> Result<[u8; GUID_LEN], ConfigError> {
    let bad = |reason: String| ConfigError::BadGuid {
        input: input.chars().take(80).collect(),
        reason,
    };
    let mut out = [0u8; GUID_LEN];
    let mut n = 0usize;
    for c in input.trim().chars() {
        if matches!(c, '-' | ':' | ' ') {
            continue;
        }
        let v = c
            .to_digit(16)
            .ok_or_else(|| bad(format!("{c:?} is not a hex digit")))?;
        if n >= 2 * GUID_LEN {
            return Err(bad("more than 32 hex digits".into()));
        }
        out[n / 2] |= (v as u8) << if n % 2 == 0 { 4 } else { 0 };
        n += 1;
    }
    if n != 2 * GUID_LEN {
        let digits = if n == 1 { "digit" } else { "digits" };
        return Err(bad(format!("{n} hex {digits}")));
    }
    Ok(out)
}

/// PlayMemories-style GUID: 8 zero bytes, `FF FF`, the 6-byte MAC.
pub fn guid_from_mac(mac: [u8; 6]) -> [u8; GUID_LEN] {
    let mut g = [0u8; GUID_LEN];
    g[8] = 0xFF;
    g[9] = 0xFF;
    g[10..].copy_from_slice(&mac);
    g
}

/// The interface of the first up IPv4 default route in `/proc/net/route` text.
pub fn default_route_interface(route_table: &str) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    for line in route_table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (iface, dest, flags, mask) = (f[0], f[1], f[3], f[7]);
        let flags = u32::from_str_radix(flags, 16).unwrap_or(0);
        if dest == "00000000" && mask == "00000000" && flags & RTF_UP != 0 {
            // The name becomes part of a /sys path: refuse anything path-like.
            if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
                return None;
            }
            return Some(iface.to_string());
        }
    }
    None
}

/// Parses `aa:bb:cc:dd:ee:ff` (as in `/sys/class/net/IF/address`); an all-zero
/// address (tunnels, loopback) is no address.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    if mac == [0; 6] {
        return None;
    }
    Some(mac)
}

/// The MAC of the interface holding the default route, if there is one.
pub fn default_route_mac() -> Option<[u8; 6]> {
    let table = fs::read_to_string("/proc/net/route").ok()?;
    let iface = default_route_interface(&table)?;
    let addr = fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    let mac = parse_mac(&addr);
    if mac.is_some() {
        log::debug!("default GUID from the MAC of {iface}");
    }
    mac
}

/// `n` bytes from the kernel's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ConfigError> {
    let mut b = [0u8; N];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(ConfigError::Random)?;
    Ok(b)
}

/// Same shape as the MAC form, with a random locally administered unicast MAC: Sony
/// cameras may look at the MAC area (sony-pairing.md §6.1), so keep it plausible.
pub fn random_guid() -> Result<[u8; GUID_LEN], ConfigError> {
    let mut mac: [u8; 6] = random_bytes()?;
    mac[0] = (mac[0] | 0x02) & !0x01;
    Ok(guid_from_mac(mac))
}

/// The GUID a new identity gets: MAC-based like Sony's software, else random.
pub fn default_guid() -> Result<[u8; GUID_LEN], ConfigError> {
    match default_route_mac() {
        Some(mac) => Ok(guid_from_mac(mac)),
        None => {
            log::info!("no default route with a MAC address; using a random GUID");
            random_guid()
        }
    }
}

/// Keeps printable characters only and caps the length, so a name from a file or a
/// peer can go into a config line, a log or a camera screen.
pub fn sanitize_host_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_HOST_NAME_CHARS)
        .collect()
}

/// This computer's name (kernel host name), `linux` when unknown.
pub fn default_host_name() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| sanitize_host_name(&s))
        .unwrap_or_default();
    if name.is_empty() {
        "linux".to_string()
    } else {
        name
    }
}

/// `$XDG_CONFIG_HOME/alpha-bridge`, else `$HOME/.config/alpha-bridge`.
pub fn default_config_dir() -> Result<PathBuf, ConfigError> {
    dir_from_env(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn dir_from_env(
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf, ConfigError> {
    // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    if let Some(x) = xdg.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(x.join("alpha-bridge"));
    }
    match home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(h) => Ok(h.join(".config").join("alpha-bridge")),
        None => Err(ConfigError::NoConfigDir),
    }
}

/// The config file, kept line by line so unknown keys and comments survive edits.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    lines: Vec<Line>,
}

#[derive(Debug, Clone)]
enum Line {
    /// Comment, blank or anything we keep verbatim.
    Other(String),
    Section(String),
    Entry {
        key: String,
        value: String,
    },
}

impl ConfigFile {
    /// Reads `dir/config.toml`; a missing file is an empty config.
    pub fn load(dir: &Path) -> Result<ConfigFile, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = match fs::File::open(&path) {
            Ok(f) => {
                let mut s = String::new();
                f.take(MAX_CONFIG_BYTES + 1)
                    .read_to_string(&mut s)
                    .map_err(io_err(&path))?;
                if s.len() as u64 > MAX_CONFIG_BYTES {
                    return Err(ConfigError::TooLarge { path });
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        Self::parse(path, &text)
    }

    fn parse(path: PathBuf, text: &str) -> Result<ConfigFile, ConfigError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let t = raw.trim();
            let syntax = |reason: &str| ConfigError::Syntax {
                path: path.clone(),
                line: i + 1,
                reason: reason.to_string(),
            };
            if t.is_empty() || t.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
            } else if let Some(rest) = t.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| syntax("unclosed section header"))?;
                lines.push(Line::Section(name.trim().to_string()));
            } else {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| syntax("expected key = value"))?;
                let key = k.trim();
                if key.is_empty()
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(syntax("bad key"));
                }
                let value = parse_value(v.trim()).map_err(|r| syntax(&r))?;
                lines.push(Line::Entry {
                    key: key.to_string(),
                    value,
                });
            }
        }
        Ok(ConfigFile { path, lines })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A value; `key` is `name` at top level or `section.name`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let mut section = String::new();
        for l in &self.lines {
            match l {
                Line::Section(s) => section = s.clone(),
                Line::Entry { key: k, value } => {
                    let full = if section.is_empty() {
                        k.clone()
                    } else {
                        format!("{section}.{k}")
                    };
                    if full == key {
                        return Some(value);
                    }
                }
                Line::Other(_) => {}
            }
        }
        None
    }

    /// Sets a string value, replacing the line if present. New top-level keys go
    /// before the first section; new `section.name` keys go at the end of their
    /// section (created at the end of the file when missing).
    pub fn set(&mut self, key: &str, value: &str) {
        let (sec, name) = match key.rsplit_once('.') {
            Some((s, n)) => (s, n),
            None => ("", key),
        };
        let mut section = String::new();
        let mut insert_at = None;
        for (i, l) in self.lines.iter_mut().enumerate() {
            match l {
                Line::Section(s) => {
                    if section == sec && insert_at.is_none() {
                        insert_at = Some(i);
                    }
                    section = s.clone();
                }
                Line::Entry { key: k, value: v } if section == sec && k == name => {
                    *v = value.to_string();
                    return;
                }
                _ => {}
            }
        }
        let entry = Line::Entry {
            key: name.to_string(),
            value: value.to_string(),
        };
        match insert_at {
            Some(i) => self.lines.insert(i, entry),
            None if section == sec => self.lines.push(entry),
            None => {
                self.lines.push(Line::Section(sec.to_string()));
                self.lines.push(entry);
            }
        }
    }

    /// The file text as it would be written.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Other(s) => out.push_str(s),
                Line::Section(s) => {
                    let _ = write!(out, "[{s}]");
                }
                Line::Entry { key, value } => {
                    let _ = write!(out, "{key} = {}", quote(value));
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically: a temp file in the same directory, fsync, rename.
    pub fn save(&self) -> Result<(), ConfigError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        write_atomic(&self.path, self.render().as_bytes())
    }
}

/// Replaces `path` with `data` so readers see either the old or the new file.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ConfigError> {
    crate::fsutil::write_atomic(path, data).map_err(io_err(path))
}

fn parse_value(v: &str) -> Result<String, String> {
    let Some(body) = v.strip_prefix('"') else {
        // Bare TOML values (numbers, booleans): keep the text, dropping a comment.
        let bare = v.split('#').next().unwrap_or("").trim();
        if bare.is_empty() {
            return Err("missing value".into());
        }
        return Ok(bare.to_string());
    };
    let mut out = String::new();
    let mut chars = body.chars();
    loop {
        match chars.next() {
            None => return Err("unterminated string".into()),
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("bad \\u escape")?;
                    out.push(c);
                }
                _ => return Err("bad escape".into()),
            },
            Some(c) => out.push(c),
        }
    }
    let rest = chars.as_str().trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err("text after the closing quote".into());
    }
    Ok(out)
}

fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The stored identity, if the config has one.
pub fn load(dir: &Path) -> Result<Option<Identity>, ConfigError> {
    let file = ConfigFile::load(dir)?;
    identity_from(&file)
}

fn identity_from(file: &ConfigFile) -> Result<Option<Identity>, ConfigError> {
    let Some(g) = file.get(KEY_GUID) else {
        return Ok(None);
    };
    let guid = parse_guid(g).map_err(|e| ConfigError::BadValue {
        path: file.path().to_path_buf(),
        key: KEY_GUID,
        reason: match e {
            ConfigError::BadGuid { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    let host_name = file
        .get(KEY_HOST_NAME)
        .map(sanitize_host_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(default_host_name);
    Ok(Some(Identity { guid, host_name }))
}

/// Stores `id` (other keys in the file are kept).
pub fn save(dir: &Path, id: &Identity) -> Result<(), ConfigError> {
    let mut file = ConfigFile::load(dir)?;
    file.set(KEY_GUID, &id.guid_hex());
    file.set(KEY_HOST_NAME, &sanitize_host_name(&id.host_name));
    file.save()
}

/// The stored identity, creating and storing the default one on first use.
pub fn load_or_create(dir: &Path) -> Result<Identity, ConfigError> {
    if let Some(id) = load(dir)? {
        return Ok(id);
    }
    let id = Identity {
        guid: default_guid()?,
        host_name: default_host_name(),
    };
    save(dir, &id)?;
    // Two first runs at once each write a GUID; re-read so this process uses the one
    // that won the rename.
    let id = load(dir)?.unwrap_or(id);
    log::info!(
        "created this computer's camera identity {} in {}",
        id.guid_hex(),
        dir.join(CONFIG_FILE).display()
    );
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGS: [u8; 16] = [
        0xFF, 0xFF, 0x52, 0x54, 0x00, 0xB6, 0xFD, 0xA9, 0xFF, 0xFF, 0x52, 0x3C, 0x28, 0x07, 0xA9,
        0x3A,
    ];

    #[test]
    fn guid_forms() {
        for s in [
            "ffff525400b6fda9ffff523c2807a93a",
            "FFFF5254-00B6-FDA9-FFFF-523C2807A93A",
            "ff:ff:52:54:00:b6:fd:a9:ff:ff:52:3c:28:07:a9:3a",
        ] {
            assert_eq!(parse_guid(s).unwrap(), SGS, "{s}");
        }
        for bad in [
            "",
            "ffff525400b6fda9ffff523c2807a93",
            "ffff525400b6fda9ffff523c2807a93a0",
            "gfff525400b6fda9ffff523c2807a93a",
            "ffff525400b6fda9ffff523c2807a9é3",
        ] {
            assert!(parse_guid(bad).is_err(), "{bad:?}");
        }
        // The exact line sony-pm-alt ships in its gphoto-settings file.
        assert_eq!(
            gphoto2_setting(&SGS),
            "ptp2_ip=guid=ff:ff:52:54:00:b6:fd:a9:ff:ff:52:3c:28:07:a9:3a"
        );
        assert_eq!(gphoto2_setting(&SGS).len() - "ptp2_ip=guid=".len(), 47);
        assert_eq!(guid_hex(&SGS), "ffff525400b6fda9ffff523c2807a93a");
    }

    #[test]
    fn playmemories_shape_from_mac() {
        // sony-pm-alt README: PlayMemories on a VirtualBox NIC 08:00:27:f5:16:4f.
        let mac = parse_mac("08:00:27:f5:16:4f\n").unwrap();
        assert_eq!(
            guid_hex(&guid_from_mac(mac)),
            "0000000000000000ffff080027f5164f"
        );
        assert_eq!(parse_mac("00:00:00:00:00:00"), None);
        assert_eq!(parse_mac("08:00:27:f5:16"), None);
        assert_eq!(parse_mac("08:00:27:f5:16:4g"), None);
        let r = random_guid().unwrap();
        assert_eq!(&r[..10], &[0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        assert_eq!(r[10] & 0x03, 0x02, "locally administered unicast");
    }

    #[test]
    fn default_route_from_proc_net_route() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            wlp2s0\t0002A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n\
            docker0\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0\n\
            wlp2s0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n";
        assert_eq!(default_route_interface(table).as_deref(), Some("wlp2s0"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
        assert_eq!(
            default_route_interface("h\n../x\t00000000\t0\t0001\t0\t0\t0\t00000000\n"),
            None
        );
    }

    #[test]
    fn config_dir_follows_xdg() {
        let d = dir_from_env(Some("/x/cfg".into()), Some("/home/u".into())).unwrap();
        assert_eq!(d, Path::new("/x/cfg/alpha-bridge"));
        let d = dir_from_env(Some("rel".into()), Some("/home/u".into())).unwrap();
        assert_eq!(d, Path::new("/home/u/.config/alpha-bridge"));
        assert!(dir_from_env(None, None).is_err());
    }

    #[test]
    fn created_once_then_stable_and_other_keys_survive() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("alpha-bridge");
        let a = load_or_create(&dir).unwrap();
        let b = load_or_create(&dir).unwrap();
        assert_eq!(a, b);

        // Another module's keys and the user's comments are kept across saves.
        let path = dir.join(CONFIG_FILE);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("# mine\n[offload]\ndir = \"/photos\"\n");
        fs::write(&path, text).unwrap();
        let id = Identity {
            guid: SGS,
            host_name: "say \"hi\"".into(),
        };
        save(&dir, &id).unwrap();
        assert_eq!(load(&dir).unwrap().unwrap(), id);
        let f = ConfigFile::load(&dir).unwrap();
        assert_eq!(f.get("offload.dir"), Some("/photos"));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("# mine"));
        assert!(text.find("guid").unwrap() < text.find("[offload]").unwrap());
        // No temp files left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn set_into_sections() {
        let mut f = ConfigFile::parse("c".into(), "a = 1\n[s]\nb = \"x\"\n[t]\n").unwrap();
        f.set("s.c", "y");
        f.set("u.d", "z");
        f.set("a", "2");
        let f2 = ConfigFile::parse("c".into(), &f.render()).unwrap();
        assert_eq!(f2.get("a"), Some("2"));
        assert_eq!(f2.get("s.b"), Some("x"));
        assert_eq!(f2.get("s.c"), Some("y"));
        assert_eq!(f2.get("u.d"), Some("z"));
        assert_eq!(f2.get("t.c"), None);
    }

    #[test]
    fn broken_files_give_line_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CONFIG_FILE), "# ok\nguid = \"abc\n").unwrap();
        let e = load(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(":2: unterminated string"), "{e}");
        fs::write(tmp.path().join(CONFIG_FILE), "guid = \"12\"\n").unwrap();
        let e = load(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("invalid guid"), "{e}");
        fs::write(tmp.path().join(CONFIG_FILE), vec![b'#'; 70_000]).unwrap();
        assert!(matches!(
            load(tmp.path()),
            Err(ConfigError::TooLarge { .. })
        ));
    }

    #[test]
    fn values_round_trip_through_quoting() {
        for v in ["plain", "a\"b\\c", "tab\there", "ünï", "\u{1}"] {
            let f = ConfigFile::parse("c".into(), &format!("k = {}\n", quote(v))).unwrap();
            assert_eq!(f.get("k"), Some(v));
        }
    }
}
