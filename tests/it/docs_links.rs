//! Keeps the protocol reference in `docs/protocol/` and the code pointing at it honest,
//! by reading the source tree (no network, no `../shared`):
//!
//! - every `docs/protocol/FILE.md#anchor` mentioned in `src/` or `README.md` names an
//!   existing file and heading;
//! - every relative link inside `docs/protocol/*.md` resolves the same way;
//! - every test the reference names as `src/…rs::name` or `tests/…rs::module::name`
//!   exists in that file;
//! - no comment in `src/` still cites the protocol notes that live outside the
//!   repository (`ptp-usb.md §3` and the like), and every `§` left in `src/` belongs to
//!   a published specification or to the test-data manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// GitHub's anchor for a heading: lowercase; letters, digits, `-` and `_` kept, spaces
/// become `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file (headings outside fenced code), with GitHub's `-1`,
/// `-2` suffixes for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = slug(title);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// The reference: file name → its anchors.
fn reference() -> BTreeMap<String, BTreeSet<String>> {
    let dir = root().join("docs/protocol");
    let mut m = BTreeMap::new();
    for e in fs::read_dir(&dir).expect("docs/protocol exists") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            m.insert(name, anchors(&read(&p)));
        }
    }
    assert!(
        m.contains_key("README.md"),
        "docs/protocol/README.md is the index"
    );
    m
}

/// Checks `file[#anchor]` against the reference; `None` when it resolves.
fn dangling(reference: &BTreeMap<String, BTreeSet<String>>, target: &str) -> Option<String> {
    let (file, anchor) = match target.split_once('#') {
        Some((f, a)) => (f, Some(a)),
        None => (target, None),
    };
    let file = if file.is_empty() { "README.md" } else { file };
    let Some(anchors) = reference.get(file) else {
        return Some(format!("no file docs/protocol/{file}"));
    };
    match anchor {
        Some(a) if !anchors.contains(a) => Some(format!("no heading #{a} in docs/protocol/{file}")),
        _ => None,
    }
}

/// `docs/protocol/…` mentions in `text`: the file (possibly empty for the folder) and
/// anchor, with sentence punctuation trimmed.
fn mentions(text: &str) -> Vec<(usize, String)> {
    const PREFIX: &str = "docs/protocol/";
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(PREFIX) {
            let after = &rest[at + PREFIX.len()..];
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.#".contains(c)))
                .unwrap_or(after.len());
            let target = after[..end].trim_end_matches('.');
            out.push((i + 1, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn links_from_the_code_and_the_readme_resolve() {
    let reference = reference();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.push(root().join("README.md"));
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in &files {
        for (line, target) in mentions(&read(f)) {
            seen += 1;
            if target.is_empty() {
                continue; // the folder itself
            }
            if let Some(why) = dangling(&reference, &target) {
                bad.push(format!("{}:{line}: {why}", f.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "dangling protocol links:\n{}",
        bad.join("\n")
    );
    assert!(seen > 50, "only {seen} links found: is the scan broken?");
}

#[test]
fn links_inside_the_reference_resolve() {
    let reference = reference();
    let dir = root().join("docs/protocol");
    let mut bad = Vec::new();
    for name in reference.keys() {
        let text = read(&dir.join(name));
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("](") {
                let after = &rest[at + 2..];
                let end = after.find(')').unwrap_or(after.len());
                let target = &after[..end];
                rest = &after[end..];
                if target.contains("://") {
                    continue;
                }
                // Relative links: same folder, or up to the repository.
                let resolved = if let Some(t) = target.strip_prefix('#') {
                    dangling(&reference, &format!("{name}#{t}"))
                } else if target.contains('/') {
                    let path = target.split('#').next().unwrap_or_default();
                    (!dir.join(path).exists()).then(|| format!("no file {path}"))
                } else {
                    dangling(&reference, target)
                };
                if let Some(why) = resolved {
                    bad.push(format!("docs/protocol/{name}:{}: {why}", i + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "dangling links:\n{}", bad.join("\n"));
}

/// `path.rs::a::b::name` spans in backticks.
fn named_tests(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            (s.starts_with("src/") || s.starts_with("tests/"))
                && s.contains(".rs::")
                && !s.contains(char::is_whitespace)
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn tests_named_in_the_reference_exist() {
    let reference = reference();
    let dir = root().join("docs/protocol");
    let mut bad = Vec::new();
    let mut seen = 0;
    for name in reference.keys() {
        for t in named_tests(&read(&dir.join(name))) {
            seen += 1;
            let (path, rest) = t.split_once("::").unwrap();
            let file = root().join(path);
            let Ok(src) = fs::read_to_string(&file) else {
                bad.push(format!("{name}: {t}: no file {path}"));
                continue;
            };
            let mut parts: Vec<&str> = rest.split("::").collect();
            let test = parts.pop().unwrap();
            let has = |kw: &str, ident: &str| {
                src.match_indices(&format!("{kw} {ident}")).any(|(i, m)| {
                    let next = src[i + m.len()..].chars().next();
                    matches!(next, Some('(' | '<' | ' ' | '{'))
                })
            };
            if !has("fn", test) {
                bad.push(format!("{name}: {t}: no fn {test} in {path}"));
            }
            for m in parts {
                if !has("mod", m) {
                    bad.push(format!("{name}: {t}: no mod {m} in {path}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "tests named in docs/protocol are missing:\n{}",
        bad.join("\n")
    );
    assert!(
        seen > 100,
        "only {seen} test names found: is the scan broken?"
    );
}

#[test]
fn the_code_cites_no_notes_from_outside_the_repository() {
    // The notes these names refer to live in ../shared, which a clone does not have.
    const OLD_NOTES: &[&str] = &[
        "ptp-usb.md",
        "sony-usb.md",
        "ptpip.md",
        "sony-pairing.md",
        "shared/protocol",
    ];
    // `§` is fine for published specifications and the test-data manifest.
    const SPECS: &[&str] = &[
        "BOT",
        "Bulk-Only",
        "Still Image",
        "PIMA",
        "ISO 15740",
        "MANIFEST.md",
    ];
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut bad = Vec::new();
    for f in &files {
        for (i, line) in read(f).lines().enumerate() {
            let stale_note = OLD_NOTES.iter().any(|n| {
                line.match_indices(n)
                    .any(|(at, _)| !line[..at].ends_with("docs/protocol/"))
            });
            let stale_section = line.contains('§') && !SPECS.iter().any(|s| line.contains(s));
            if stale_note || stale_section {
                bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "point these at docs/protocol/ instead:\n{}",
        bad.join("\n")
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug(" Short packets and the ZLP rule"),
        "short-packets-and-the-zlp-rule"
    );
    assert_eq!(
        slug(" Wi-Fi Send to Computer body"),
        "wi-fi-send-to-computer-body"
    );
    assert_eq!(slug(" The 0x7A command"), "the-0x7a-command");
    let a = anchors("# A\n## Quirks\n```\n# not a heading\n```\n## Quirks\n#nope\n");
    assert_eq!(
        a.into_iter().collect::<Vec<_>>(),
        vec!["a", "quirks", "quirks-1"]
    );
    assert_eq!(
        mentions("see docs/protocol/ptp-usb.md#events. and docs/protocol/"),
        vec![(1, "ptp-usb.md#events".to_string()), (1, String::new())]
    );
}
