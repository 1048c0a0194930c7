//! Runs one ignored test of this test binary inside a namespace it creates
//! (`unshare`), after a setup shell snippet: network tests touch only loopback or a
//! namespace of their own. Root only; anywhere else the caller's test is skipped.
//!
//! The inner test is named as the harness knows it in this binary (`module::name`,
//! e.g. `webcam_ptpip::netem_inner`) and run with `--exact`; it checks [`inside`] and
//! does nothing when run any other way.

/// Set in the environment of an inner test run by [`run_inside`].
const MARK: &str = "AB_IN_NETNS";

/// Loopback up with a multicast route on it: SSDP works and nothing can leave.
pub(crate) const LOOPBACK_MULTICAST: &str = "ip link set lo up && ip route add 239.0.0.0/8 dev lo";

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True inside a namespace made by [`run_inside`].
pub(crate) fn inside() -> bool {
    std::env::var_os(MARK).is_some()
}

/// Runs `test` in a new network namespace set up with [`LOOPBACK_MULTICAST`]. False
/// (skipped, with a note) when that is not possible here.
pub(crate) fn in_netns(test: &str, env: &[(&str, &str)]) -> bool {
    run_inside(&["-n"], LOOPBACK_MULTICAST, test, env).is_some()
}

/// A veth pair whose both ends stay in the namespace, one end multicast-capable with an
/// address and the SSDP route: discovery over a non-loopback interface, nothing leaves.
pub(crate) const VETH_MULTICAST: &str =
    "ip link set lo up && ip link add ab0 type veth peer name ab1 && \
     ip link set ab1 up && ip link set ab0 multicast on up && \
     ip addr add 10.231.0.1/24 dev ab0 && ip route add 239.0.0.0/8 dev ab0";

/// Runs `test` in a private mount namespace with a 4 MiB tmpfs mounted over a fresh
/// temporary directory, whose path it finds in `AB_TMPFS`: a disk that fills up.
pub(crate) fn on_small_tmpfs(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().to_str().unwrap().to_string();
    run_inside(
        &["-m", "--propagation", "private"],
        "mount -t tmpfs -o size=4m tmpfs \"$AB_TMPFS\"",
        test,
        &[("AB_TMPFS", &mnt)],
    );
}

/// Runs `test` (an `#[ignore]`d test of this binary, `module::name`) inside
/// `unshare ARGS` after `setup`; returns its output, or `None` (skip) when that is not
/// possible here.
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
        .arg(&exe)
        .env(MARK, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A kernel without sch_netem (this CI's): shaping cannot be had here. Only a
    // setup that shapes may be skipped for it; anything else failing is a failure.
    let shaping = setup.contains("tc qdisc");
    let unsupported = |t: &str| {
        t.contains("Operation not permitted")
            || shaping && (t.contains("RTNETLINK answers") || t.contains("qdisc kind is unknown"))
    };
    if !out.status.success() && unsupported(&text) {
        eprintln!("note: namespace or shaping not permitted here, {test} skipped:\n{text}");
        return None;
    }
    assert!(
        out.status.success(),
        "{test} failed in its namespace:\n{text}"
    );
    assert!(text.contains("1 passed"), "{test} did not run:\n{text}");
    Some(text)
}
