//! An error's cause is printed once (issue 12 point 7: "(os error 2): No such file or
//! directory (os error 2)" was seen). The rule across the library's error enums: the
//! message carries the cause's text, and `source()` does not hand the same cause out
//! again, because the CLI prints the whole chain (`{:#}`). Checked here on real failures
//! whose chain is walked, and on the source text of every `thiserror` enum in
//! `tests/it/layering.rs::no_error_enum_displays_its_source_and_returns_it_too`.

use std::error::Error;

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
