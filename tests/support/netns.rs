//! Runs one ignored test of the current test binary inside a namespace it creates
//! (`unshare`), after a setup shell snippet: network tests touch only loopback or a
//! namespace of their own. Root only; anywhere else the caller's test is skipped.

#![allow(dead_code)]

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `test` (an `#[ignore]`d test of this binary) inside `unshare ARGS` after
/// `setup`; returns its output, or `None` (skip) when that is not possible here.
pub(crate) fn run_inside(
    unshare_args: &[&str],
    setup: &str,
    test: &str,
    env: &[(&str, &str)],
) -> Option<String> {
    if !is_root() {
        eprintln!("note: not root, {test} skipped (needs unshare)");
        return None;
    }
    if std::process::Command::new("unshare")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("note: unshare not found, {test} skipped");
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "{setup} && exec timeout 300 \"$0\" --exact {test} --ignored --nocapture --test-threads=1"
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(unshare_args)
        .arg("sh")
        .arg("-c")
        .arg(&script)
        .arg(&exe);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unsupported = [
        "Operation not permitted",
        "RTNETLINK answers",
        // A kernel without sch_netem (this CI's): shaping cannot be had here.
        "qdisc kind is unknown",
    ];
    if !out.status.success() && unsupported.iter().any(|u| text.contains(u)) {
        eprintln!("note: namespace or shaping not permitted here, {test} skipped:\n{text}");
        return None;
    }
    assert!(
        out.status.success(),
        "{test} failed in its namespace:\n{text}"
    );
    assert!(text.contains("1 passed"), "{text}");
    Some(text)
}
