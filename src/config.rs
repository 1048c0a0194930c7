//! This computer's identity towards Sony cameras (the 16-byte GUID and the host name),
//! kept in `$XDG_CONFIG_HOME/alpha-bridge/config.toml`.
//!
//! `pair` registers the identity inside the camera
//! (docs/protocol/pairing.md#registration-block) and `offload` sends the identical 16 bytes
//! in every PTP/IP Init Command Request (docs/protocol/ptpip.md#init-handshake,
//! docs/protocol/pairing.md#guid), so both must read it from here and nowhere else.
//!
//! The file is real TOML, read with `serde` + `toml`: any TOML quoting, comments and
//! sections work; keys this version does not know are reported (file, line, the known
//! keys) and otherwise left alone. It is written in exactly one case: to store a pairing
//! the camera accepted ([`store_pairing`]). That rewrite goes through `toml_edit`, so
//! comments, key order, quoting and unknown keys survive byte for byte outside the
//! changed key, and it is atomic (temp file + rename, the file's mode kept, a symlinked
//! file written at its target). Nothing else (showing the identity, offload, list)
//! ever creates or changes the file.
//!
//! A GUID not stored yet mirrors Sony's PlayMemories Home (docs/protocol/pairing.md#guid): 8
//! zero bytes, `FF FF`, then the MAC address of the interface holding the default
//! route; without one it is the same shape with a random locally administered MAC.
//! This module never talks to a camera and never prints.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Length of the PTP/IP initiator GUID.
pub const GUID_LEN: usize = 16;

/// Config file name inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// The GUID `pair` registered with the camera (32 hex digits; dashes or colons allowed).
pub const KEY_GUID: &str = "guid";
/// The name the camera shows while connecting (default: the kernel host name).
pub const KEY_HOST_NAME: &str = "host_name";
/// Every key the file may hold, all at the top level.
pub const KNOWN_KEYS: [&str; 2] = [KEY_GUID, KEY_HOST_NAME];

/// Longest config file we read; a real one is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Longest host name we keep (the PTP/IP friendly name is a PTP string, ≤ 255 units).
pub const MAX_HOST_NAME_CHARS: usize = 64;

/// What a new config file starts with.
const NEW_FILE_HEADER: &str = "\
# alpha-bridge settings (TOML). `alpha-bridge pair` stores the GUID here once the
# camera has accepted it; `offload` sends the same GUID. See the README.
";

/// Why the identity could not be read, parsed or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither XDG_CONFIG_HOME nor HOME is set.
    #[error("cannot find the config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    /// The file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        err: std::io::Error,
    },
    /// The file is larger than a config file can be.
    #[error(
        "{}: larger than {MAX_CONFIG_BYTES} bytes, is this really the alpha-bridge config?",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: {reason}; fix the file (it is TOML)", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based).
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// A GUID that is not 32 hex digits.
    #[error("invalid GUID {input:?}: {reason} (expected 32 hex digits, dashes or colons allowed)")]
    BadGuid {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key whose value is of the wrong type or out of range.
    #[error(
        "{}:{line}: invalid {key}: {reason}; fix it, or delete the line and pair again",
        path.display()
    )]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Line of the key (1-based).
        line: usize,
        /// The key.
        key: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// The system random source failed.
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
/// plain, UUID and gphoto2 forms all work. The all-zero GUID is refused.
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
        out[n / 2] |= (v as u8) << if n.is_multiple_of(2) { 4 } else { 0 };
        n += 1;
    }
    if n != 2 * GUID_LEN {
        let digits = if n == 1 { "digit" } else { "digits" };
        return Err(bad(format!("{n} hex {digits}")));
    }
    if out == [0; GUID_LEN] {
        // No camera can tell such a computer from a blank registry slot.
        return Err(bad("all zero".into()));
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
/// cameras may look at the MAC area (docs/protocol/pairing.md#guid), so keep it plausible.
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
/// peer can go into a log or a camera screen.
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

/// The typed settings; everything else in the file is an unknown key.
#[derive(Debug, Default, Deserialize)]
struct Settings {
    guid: Option<Spanned<String>>,
    host_name: Option<Spanned<String>>,
}

/// A key in the file that this version does not know (it is left as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted path (`offload.dest`); a table or array of tables is reported once.
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
    /// A `[section]` (or `[[array]]`, or the head of dotted keys) rather than a value.
    pub section: bool,
}

/// `config.toml` as read; a missing file is an empty config.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    /// The GUID of a confirmed pairing; `None` until `pair` succeeded once.
    pub guid: Option<[u8; GUID_LEN]>,
    /// The host name from the file (sanitised; `None` when absent or empty).
    pub host_name: Option<String>,
    /// Keys ignored by this version, in file order.
    pub unknown: Vec<UnknownKey>,
}

/// 1-based line and column (in characters) of byte `pos` in `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = text.get(..pos).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

impl Config {
    /// Reads `dir/config.toml` (a missing file is an empty config).
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = read_text(&path)?.unwrap_or_default();
        Config::parse(path, &text)
    }

    /// Reads the file in the default config directory.
    pub fn load_default() -> Result<Config, ConfigError> {
        Config::load(&default_config_dir()?)
    }

    /// Parses `text` as the contents of `path`.
    pub fn parse(path: PathBuf, text: &str) -> Result<Config, ConfigError> {
        let syntax = |span: Option<Range<usize>>, message: &str| {
            let (line, column) = line_col(text, span.map_or(0, |s| s.start));
            ConfigError::Syntax {
                path: path.clone(),
                line,
                column,
                // toml's messages may span several lines ("unexpected …\nexpected …").
                reason: message
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        };
        let root = toml::de::DeTable::parse(text).map_err(|e| syntax(e.span(), e.message()))?;
        let mut unknown: Vec<UnknownKey> = root
            .get_ref()
            .iter()
            .filter(|(k, _)| !KNOWN_KEYS.contains(&k.get_ref().as_ref()))
            .map(|(k, v)| UnknownKey {
                key: k.get_ref().to_string(),
                line: line_col(text, k.span().start).0,
                section: v.get_ref().is_table()
                    || v.get_ref()
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(|t| t.get_ref().is_table())),
            })
            .collect();
        unknown.sort_by_key(|u| u.line);
        let settings = Settings::deserialize(toml::de::Deserializer::from(root))
            .map_err(|e| syntax(e.span(), e.message()))?;

        let guid = match &settings.guid {
            None => None,
            Some(g) => Some(parse_guid(g.get_ref()).map_err(|e| ConfigError::BadValue {
                path: path.clone(),
                line: line_col(text, g.span().start).0,
                key: KEY_GUID,
                reason: match e {
                    ConfigError::BadGuid { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?),
        };
        let host_name = settings
            .host_name
            .map(|h| sanitize_host_name(h.get_ref()))
            .filter(|h| !h.is_empty());
        Ok(Config {
            path,
            guid,
            host_name,
            unknown,
        })
    }

    /// The file these settings were read from (or would be written to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The host name to send: the file's, else this computer's.
    pub fn host_name(&self) -> String {
        self.host_name.clone().unwrap_or_else(default_host_name)
    }

    /// The identity of the stored pairing, `None` when this computer never paired.
    pub fn identity(&self) -> Option<Identity> {
        self.guid.map(|guid| Identity {
            guid,
            host_name: self.host_name(),
        })
    }

    /// One line per unknown key: where it is, that it is ignored, what is known.
    pub fn unknown_key_warnings(&self) -> Vec<String> {
        self.unknown
            .iter()
            .map(|u| {
                let hint = KNOWN_KEYS
                    .iter()
                    .find(|k| {
                        let last = u.key.rsplit('.').next().unwrap_or(&u.key);
                        k.eq_ignore_ascii_case(last) || k.eq_ignore_ascii_case(&u.key)
                    })
                    .map(|k| format!("; did you mean `{k}` (top level, lowercase)?"))
                    .unwrap_or_default();
                let what = if u.section {
                    format!("section [{}]", u.key)
                } else {
                    format!("key `{}`", u.key)
                };
                format!(
                    "{}:{}: unknown {what} ignored (known keys, all at the top: {}){hint}",
                    self.path.display(),
                    u.line,
                    KNOWN_KEYS.join(", ")
                )
            })
            .collect()
    }

    /// Logs [`Config::unknown_key_warnings`] at warn level.
    pub fn warn_unknown_keys(&self) {
        for w in self.unknown_key_warnings() {
            log::warn!("{w}");
        }
    }
}

/// The file's text, `None` when it does not exist.
fn read_text(path: &Path) -> Result<Option<String>, ConfigError> {
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut s = String::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut s)
        .map_err(io_err(path))?;
    if s.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(s))
}

/// The stored identity of the config in `dir`, if this computer ever paired.
pub fn load(dir: &Path) -> Result<Option<Identity>, ConfigError> {
    Ok(Config::load(dir)?.identity())
}

/// The identity `pair` registers when nothing is stored yet (not stored by this call).
pub fn new_identity(cfg: &Config) -> Result<Identity, ConfigError> {
    Ok(Identity {
        guid: default_guid()?,
        host_name: cfg.host_name(),
    })
}

/// `text` with `guid` stored, everything else as it was; `None` when the file already
/// holds this GUID (in whatever spelling).
pub fn with_guid(
    path: &Path,
    text: &str,
    guid: &[u8; GUID_LEN],
) -> Result<Option<String>, ConfigError> {
    // Read with the same rules as always first: a file we cannot read we must not edit.
    let cfg = Config::parse(path.to_path_buf(), text)?;
    if cfg.guid.as_ref() == Some(guid) {
        return Ok(None);
    }
    let hex = guid_hex(guid);
    if text.trim().is_empty() {
        return Ok(Some(format!("{NEW_FILE_HEADER}{KEY_GUID} = \"{hex}\"\n")));
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            reason: e.message().to_string(),
        }
    })?;
    match doc.get_mut(KEY_GUID).and_then(|i| i.as_value_mut()) {
        Some(old) => {
            // Keep the spacing and a trailing comment of the line.
            let decor = old.decor().clone();
            *old = toml_edit::Value::from(hex);
            *old.decor_mut() = decor;
        }
        None => {
            doc.insert(KEY_GUID, toml_edit::value(hex));
        }
    }
    let out = doc.to_string();
    // Belt and braces: what we write must read back as this pairing.
    let back = Config::parse(path.to_path_buf(), &out)?;
    if back.guid.as_ref() != Some(guid) {
        return Err(ConfigError::BadValue {
            path: path.to_path_buf(),
            line: 0,
            key: KEY_GUID,
            reason: "the edited file does not read back with the new GUID".into(),
        });
    }
    Ok(Some(out))
}

/// Stores the GUID of a pairing the camera accepted in `dir/config.toml`: the only
/// write this module does. Comments, order and other keys are kept; the file is
/// replaced atomically with its mode kept, and a symlinked file is written at its
/// target. Returns false when the file already held this GUID (nothing written).
pub fn store_pairing(dir: &Path, guid: &[u8; GUID_LEN]) -> Result<bool, ConfigError> {
    let link = dir.join(CONFIG_FILE);
    // Dotfile managers keep config.toml as a symlink: replace the file it points to,
    // never the link.
    let path = match fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(&link).map_err(io_err(&link))?,
        _ => link,
    };
    let text = read_text(&path)?.unwrap_or_default();
    let Some(new) = with_guid(&path, &text, guid)? else {
        return Ok(false);
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    crate::fsutil::write_atomic(&path, new.as_bytes()).map_err(io_err(&path))?;
    Ok(true)
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
        for (bad, why) in [
            ("", "0 hex digits"),
            ("ffff525400b6fda9ffff523c2807a93", "31 hex digits"),
            ("ffff525400b6fda9ffff523c2807a93a0", "more than 32"),
            ("gfff525400b6fda9ffff523c2807a93a", "'g' is not a hex digit"),
            ("ffff525400b6fda9ffff523c2807a9é3", "'é' is not a hex digit"),
            ("00000000000000000000000000000000", "all zero"),
            ("0000-0000-0000-0000-0000-0000-0000-0000", "all zero"),
        ] {
            let e = parse_guid(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
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

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse("/c/config.toml".into(), text)
    }

    #[test]
    fn any_toml_quoting_and_sections_read() {
        for text in [
            "guid = \"ffff525400b6fda9ffff523c2807a93a\"\nhost_name = \"say \\\"hi\\\"\"\n",
            "guid = 'ffff525400b6fda9ffff523c2807a93a'\nhost_name = 'say \"hi\"'\n",
            "guid = \"\"\"ffff525400b6fda9ffff523c2807a93a\"\"\"\nhost_name = '''say \"hi\"'''\n",
            "\"guid\" = \"FFFF5254-00B6-FDA9-FFFF-523C2807A93A\" # uuid form\n\
             'host_name'=\"say \\u0022hi\\u0022\"\n[offload]\ndest = '/x'\n",
            "# only a comment\n[a]\n[b.c]\nx = 1\n\nguid = 1\n\n",
        ] {
            let c = parse(text).unwrap();
            if text.contains("guid = 1") {
                assert_eq!(c.guid, None, "`guid` inside [b.c] is not ours");
                continue;
            }
            assert_eq!(c.guid, Some(SGS), "{text}");
            assert_eq!(c.host_name.as_deref(), Some("say \"hi\""), "{text}");
        }
        let empty = parse("").unwrap();
        assert_eq!(
            (empty.guid, &empty.host_name, empty.unknown.len()),
            (None, &None, 0)
        );
        assert!(empty.identity().is_none());
    }

    #[test]
    fn unknown_keys_are_reported_with_line_and_the_known_keys() {
        let c = parse(
            "# mine\nGUID = \"ffff525400b6fda9ffff523c2807a93a\"\nhost_name = \"h\"\n\
             colour = 3\n\n[offload]\ndest = \"/p\"\n[[cameras]]\nname = \"x\"\n",
        )
        .unwrap();
        assert_eq!(c.guid, None, "keys are case-sensitive in TOML");
        let keys: Vec<(&str, usize)> = c.unknown.iter().map(|u| (u.key.as_str(), u.line)).collect();
        assert_eq!(
            keys,
            [("GUID", 2), ("colour", 4), ("offload", 6), ("cameras", 8)]
        );
        let w = c.unknown_key_warnings();
        assert_eq!(
            w[0],
            "/c/config.toml:2: unknown key `GUID` ignored (known keys, all at the top: guid, \
             host_name); did you mean `guid` (top level, lowercase)?"
        );
        assert_eq!(
            w[1],
            "/c/config.toml:4: unknown key `colour` ignored (known keys, all at the top: guid, \
             host_name)"
        );
        assert!(
            w[2].contains(":6: unknown section [offload] ignored"),
            "{}",
            w[2]
        );
        assert!(
            w[3].contains(":8: unknown section [cameras] ignored"),
            "{}",
            w[3]
        );
        // A known key inside a section is pointed to the top level.
        let c = parse("[identity]\nguid = \"ffff525400b6fda9ffff523c2807a93a\"\n").unwrap();
        assert_eq!(c.guid, None);
        assert!(c.unknown_key_warnings()[0].contains("unknown section [identity]"));
    }

    #[test]
    fn broken_files_give_line_and_column() {
        for (text, want) in [
            ("# ok\nguid = \"abc\n", "/c/config.toml:2:"),
            ("guid = 5\n", "/c/config.toml:1:8: invalid type: integer"),
            ("[x\n", "/c/config.toml:1:"),
            ("a = 1\na = 2\n", "/c/config.toml:2:"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(matches!(e, ConfigError::Syntax { .. }), "{text:?}: {e:?}");
            let e = e.to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        for (text, want) in [
            (
                "\n\nguid = \"12\"\n",
                "/c/config.toml:3: invalid guid: 2 hex digits",
            ),
            (
                "guid = \"00000000000000000000000000000000\"\n",
                "invalid guid: all zero",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CONFIG_FILE), vec![b'#'; 70_000]).unwrap();
        assert!(matches!(
            Config::load(tmp.path()),
            Err(ConfigError::TooLarge { .. })
        ));
    }

    const FULL: &str = "\
# My camera settings.
# The GUID below is what the a6400 knows.

host_name   =   'studio-pc'   # shown on the camera
guid = \"0000000000000000ffff080027f5164f\"  # paired 2026-01-02
colour = \"blue\"   # for a future version

[offload]
# where the pictures go
dest = \"/srv/photos\"
";

    #[test]
    fn storing_a_guid_changes_only_that_value() {
        let path = Path::new("/c/config.toml");
        let out = with_guid(path, FULL, &SGS).unwrap().unwrap();
        let want = FULL.replace(
            "0000000000000000ffff080027f5164f",
            "ffff525400b6fda9ffff523c2807a93a",
        );
        assert_eq!(out, want, "byte for byte, comment on the line kept");
        // The same GUID in another spelling: nothing to write.
        let uuid = FULL.replace(
            "0000000000000000ffff080027f5164f",
            "0000-0000-0000-0000-FFFF-0800-27F5-164F",
        );
        assert_eq!(
            with_guid(path, &uuid, &guid_from_mac([8, 0, 0x27, 0xf5, 0x16, 0x4f])).unwrap(),
            None
        );
        // No GUID yet: added at the end of the top-level keys, the rest untouched.
        let without: String = FULL
            .lines()
            .filter(|l| !l.starts_with("guid"))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = with_guid(path, &without, &SGS).unwrap().unwrap();
        let want = "\
# My camera settings.
# The GUID below is what the a6400 knows.

host_name   =   'studio-pc'   # shown on the camera
colour = \"blue\"   # for a future version
guid = \"ffff525400b6fda9ffff523c2807a93a\"

[offload]
# where the pictures go
dest = \"/srv/photos\"
";
        assert_eq!(out, want);
        // A new file gets a header that says what it is.
        let out = with_guid(path, "", &SGS).unwrap().unwrap();
        assert!(out.starts_with("# alpha-bridge settings (TOML)"), "{out}");
        assert_eq!(parse(&out).unwrap().guid, Some(SGS));
        // A file we cannot read is never edited.
        assert!(with_guid(path, "guid = [\n", &SGS).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn store_pairing_is_atomic_keeps_mode_and_follows_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("alpha-bridge");
        // No directory, no file: both created.
        assert!(store_pairing(&dir, &SGS).unwrap());
        assert_eq!(load(&dir).unwrap().unwrap().guid, SGS);
        // Same GUID again: not written (mtime and inode unchanged).
        let f = dir.join(CONFIG_FILE);
        let ino = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(p).unwrap().ino()
        };
        let before = ino(&f);
        assert!(!store_pairing(&dir, &SGS).unwrap());
        assert_eq!(ino(&f), before);

        // The user's file is mode 600 and lives elsewhere (dotfile manager).
        let real_dir = tmp.path().join("dotfiles");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("ab.toml");
        fs::write(&real, FULL).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink(&real, &f).unwrap();
        assert!(store_pairing(&dir, &SGS).unwrap());
        assert!(fs::symlink_metadata(&f).unwrap().file_type().is_symlink());
        assert_eq!(
            fs::read_to_string(&real).unwrap(),
            FULL.replace(
                "0000000000000000ffff080027f5164f",
                "ffff525400b6fda9ffff523c2807a93a"
            )
        );
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temp files left behind.
        assert_eq!(fs::read_dir(&real_dir).unwrap().count(), 1);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn reading_never_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Config::load(tmp.path()).unwrap();
        assert!(c.identity().is_none());
        let id = new_identity(&c).unwrap();
        assert_eq!(&id.guid[8..10], &[0xFF, 0xFF]);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
