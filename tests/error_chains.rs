//! An error's cause is printed once (issue 12 point 7: "(os error 2): No such file or
//! directory (os error 2)" was seen). The rule across the library's error enums: the
//! message carries the cause's text, and `source()` does not hand the same cause out
//! again, because the CLI prints the whole chain (`{:#}`). Checked two ways: on the
//! source text of every `thiserror` enum, and on real failures whose chain is walked.

use std::error::Error;
use std::path::{Path, PathBuf};

/// The whole chain, as the CLI prints it (`anyhow`'s `{:#}`: messages joined by ": ").
fn report(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn assert_once(e: &dyn Error, what: &str) -> String {
    let r = report(e);
    assert_eq!(r.matches("os error").count(), 1, "{what}: {r}");
    r
}

#[test]
fn real_failures_print_their_os_error_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();

    let e = alpha_bridge::frame::Replay::open("/nonexistent/x.mjpeg").unwrap_err();
    assert_once(&e, "replay");

    let user = tmp.path().join("missing/rec.mjpeg");
    let e = alpha_bridge::sink::record::Recorder::create(&user).unwrap_err();
    let r = assert_once(&e, "recorder");
    assert!(
        r.contains(user.to_str().unwrap()),
        "names the user's path: {r}"
    );
    assert!(!r.contains(".partial"), "not the internal name: {r}");

    let e = alpha_bridge::frame::DumpWriter::new(file.join("dump")).unwrap_err();
    assert_once(&e, "dump");

    let e = alpha_bridge::emulator::registry::Registry::open(&file.join("state")).unwrap_err();
    assert_once(&e, "registry");

    // TEST-NET-1 is on no interface: the bind fails at once, nothing is sent.
    let mut cfg = alpha_bridge::emulator::wifi::WifiConfig::new(tmp.path());
    cfg.bind = "192.0.2.1".parse().unwrap();
    let e = alpha_bridge::emulator::wifi::WifiEmulator::start(cfg)
        .err()
        .expect("binding a foreign address fails");
    assert_once(&e, "wifi emulator bind");
}

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

/// Every field that `thiserror` makes the `source()` (`#[from]`, `#[source]`, or a field
/// named `source`) must not also be written into the variant's message, unless the
/// variant is `transparent` (message and source both forwarded from the inner error).
#[test]
fn no_error_enum_displays_its_source_and_returns_it_too() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
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
            // The field thiserror takes as the source, as it is written in the message.
            let field = if t.contains("#[from]") && t.contains('(') {
                Some("0".to_string())
            } else if let Some(rest) = t.strip_prefix("#[source]") {
                let rest = rest.trim();
                let next = if rest.is_empty() {
                    text.lines().nth(n + 1).unwrap_or("").trim()
                } else {
                    rest
                };
                next.split(':').next().map(|s| s.trim().to_string())
            } else if t.starts_with("source:") || t.starts_with("#[from] source:") {
                Some("source".into())
            } else {
                None
            };
            if let Some(name) = field {
                if attr.contains(&format!("{{{name}}}")) || attr.contains(&format!("{{{name}:")) {
                    bad.push(format!("{}:{}: {attr}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "cause printed twice by {bad:#?}");
}
