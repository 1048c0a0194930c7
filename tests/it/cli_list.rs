//! `alpha-bridge list` run as a binary on whatever machine runs the tests: with no USB
//! stack (CI, containers) it must print one clear "no USB access" line and exit 1; with
//! USB but no camera it says so and points at the emulator; never a panic.

use crate::support::cli::text;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run alpha-bridge")
}

#[test]
fn list_reports_cleanly() {
    let out = run(&["list", "--no-network"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{stderr}");
    match out.status.code() {
        Some(0) => assert!(
            stdout.starts_with("no Sony camera found on USB")
                && stdout.contains("--camera emulated")
                || stdout.contains("Sony device"),
            "{stdout}"
        ),
        Some(1) => {
            assert!(stdout.is_empty(), "{stdout}");
            let lines: Vec<&str> = stderr.trim().lines().collect();
            assert_eq!(lines.len(), 1, "one line: {stderr}");
            assert!(lines[0].starts_with("error: "), "{stderr}");
            assert!(
                lines[0].contains("no USB access") || lines[0].contains("permission denied"),
                "{stderr}"
            );
            assert!(!lines[0].ends_with('.'), "{stderr}");
        }
        other => panic!("exit {other:?}: {stdout}{stderr}"),
    }
}

#[test]
fn list_json_is_an_array_or_an_error() {
    let out = run(&["list", "--json", "--no-probe", "--no-network"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{stderr}");
    match out.status.code() {
        Some(0) => {
            let s = stdout.trim();
            assert!(s.starts_with('[') && s.ends_with(']'), "{s}");
        }
        Some(1) => {
            assert!(
                stdout.is_empty(),
                "nothing half-written on stdout: {stdout}"
            );
            assert!(stderr.starts_with("error: "), "{stderr}");
        }
        other => panic!("exit {other:?}: {stdout}{stderr}"),
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["list", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}
