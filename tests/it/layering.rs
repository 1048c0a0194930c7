//! Keeps the layering rules of STYLE.md honest by reading the source tree.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        // Test modules may use anything: skip `tests.rs` files and keep only the code
        // above an inline `mod tests`; comments (doc examples included) are not code.
        .filter(|p| p.file_name().is_none_or(|n| n != "tests.rs"))
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let code: String = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            (rel, code)
        })
        .collect()
}

fn violations(allowed: impl Fn(&str) -> bool, needles: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|(path, _)| !allowed(path))
        .flat_map(|(path, code)| {
            needles
                .iter()
                .filter(|n| code.contains(*n))
                .map(|n| format!("{path} uses `{n}`"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The files of `src/transport/usb/` that hold pure decisions (testable without USB).
const USB_PURE: &[&str] = &[
    "src/transport/usb/mod.rs",
    "src/transport/usb/descriptor.rs",
    "src/transport/usb/device.rs",
    "src/transport/usb/holders.rs",
    "src/transport/usb/request.rs",
];

#[test]
fn only_transport_usb_names_rusb() {
    // Within the folder, only the glue files do: the decisions stay pure.
    let v = violations(
        |p| p.starts_with("src/transport/usb/") && !USB_PURE.contains(&p),
        &["rusb::", "use rusb", "extern crate rusb"],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn the_usb_transport_uses_rusb_safely() {
    // rusb's safe API only: no raw libusb calls, no unsafe blocks.
    let v = violations(
        |p| !p.starts_with("src/transport/usb/"),
        &["rusb::ffi", "libusb1_sys", "unsafe"],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn transport_knows_no_ptp() {
    // Byte pipes only: framing, the Init handshake and transactions live above.
    let v = violations(
        |p| !p.starts_with("src/transport/"),
        &["crate::ptp", "crate::camera", "crate::offload"],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn one_ptp_engine_one_ptpip_reader() {
    // Transactions run on ptp::engine; PTP/IP bytes are read through ptpip::Decoder.
    // Nobody else parses PTP/IP headers by hand or drives transaction ids.
    let v = violations(
        |p| p.starts_with("src/ptp/"),
        &[
            "ptpip::Header::parse",
            "TransactionIds::new",
            "read_exact(&mut h",
        ],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn ptp_layer_has_no_io_threads_or_clocks() {
    let v = violations(
        |p| !p.starts_with("src/ptp/"),
        &[
            "std::net",
            "std::fs",
            "std::thread",
            "Instant",
            "SystemTime",
            "std::io::Read",
            "std::io::Write",
            "rusb",
        ],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn emulator_never_reuses_host_session_code() {
    let v = violations(
        |p| !p.starts_with("src/emulator/"),
        &[
            "crate::camera",
            "crate::control",
            "crate::pipeline",
            "crate::offload",
            "crate::pair",
            "alpha_bridge::camera",
        ],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn cli_crates_stay_in_the_cli() {
    let v = violations(
        |p| p.starts_with("src/cli/") || p == "src/main.rs",
        &[
            "clap::",
            "clap_complete",
            "clap_mangen",
            "anyhow::",
            "env_logger",
            "ctrlc::",
        ],
    );
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn the_library_never_prints() {
    let v = violations(
        |p| p.starts_with("src/cli/") || p == "src/main.rs",
        &["println!", "eprintln!", "print!(", "dbg!("],
    );
    assert!(v.is_empty(), "{v:#?}");
}

/// An error's cause is printed once (issue 12): every field that `thiserror` makes the
/// `source()` (`#[from]`, `#[source]`, or a field
/// named `source`) must not also be written into the variant's message, unless the
/// variant is `transparent` (message and source both forwarded from the inner error).
#[test]
fn no_error_enum_displays_its_source_and_returns_it_too() {
    let bad: Vec<String> = sources()
        .iter()
        .flat_map(|(f, text)| cause_printed_twice(f, text))
        .collect();
    assert!(bad.is_empty(), "cause printed twice by {bad:#?}");
}

/// The scan itself finds each way of writing the mistake, and only those.
#[test]
fn the_cause_printed_twice_scan_finds_each_form() {
    let text = r#"
pub enum E {
    #[error("{path}: {source}")]
    A { path: PathBuf, source: io::Error },
    #[error("{path}: {err}")]
    B { path: PathBuf, #[source] err: io::Error },
    #[error("{what}: {err}")]
    C {
        what: String,
        #[source]
        err: io::Error,
    },
    #[error("emulated camera: {0}")]
    D(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Fine1(#[from] Inner),
    #[error("{path}: {err}")]
    Fine2 { path: PathBuf, err: io::Error },
    #[error("could not: {0}")]
    Fine3(String),
}
"#;
    let bad = cause_printed_twice("x.rs", text);
    assert_eq!(bad.len(), 4, "{bad:#?}");
    assert!(bad[0].contains("{path}: {source}"), "{bad:#?}");
    assert!(bad[3].contains("emulated camera"), "{bad:#?}");
}

/// `file: attribute` for every variant of `text` whose message writes the field that
/// thiserror also returns from `source()`.
fn cause_printed_twice(f: &str, text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut attr = String::new();
    let mut in_attr = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if line.starts_with('}') {
            // The end of a top-level item: the enum (if any) is over.
            attr.clear();
        }
        if t.starts_with("#[error(") {
            attr.clear();
            in_attr = true;
        }
        if in_attr {
            attr.push_str(t);
            if t.ends_with(")]") {
                in_attr = false;
            }
            continue;
        }
        if attr.is_empty() || attr.contains("transparent") {
            continue;
        }
        // The fields thiserror takes as the source, as they are written in the message.
        let mut fields = Vec::new();
        for marker in ["#[from]", "#[source]"] {
            if let Some(i) = t.find(marker) {
                let mut rest = t[i + marker.len()..].trim();
                if rest.is_empty() {
                    rest = text.lines().nth(n + 1).unwrap_or("").trim();
                }
                // `name: Type` for a named field, a bare type (maybe a `path::Type`)
                // in a tuple variant.
                let ident_len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let after = rest[ident_len..].trim_start();
                fields.push(if after.starts_with(':') && !after.starts_with("::") {
                    rest[..ident_len].to_string()
                } else {
                    "0".to_string()
                });
            }
        }
        // A field named `source` is the source without any attribute.
        let named_source = t
            .match_indices("source:")
            .any(|(i, _)| !t[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.'));
        if named_source {
            fields.push("source".into());
        }
        for name in fields {
            if attr.contains(&format!("{{{name}}}")) || attr.contains(&format!("{{{name}:")) {
                bad.push(format!("{f}: {attr}"));
            }
        }
    }
    bad
}
