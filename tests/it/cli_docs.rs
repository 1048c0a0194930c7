//! What command-line users expect around the commands themselves: shell completions that
//! bash accepts and that complete every subcommand and option, manual pages that groff
//! renders and that name every subcommand and option, and examples in every `--help`.
//! The lists of subcommands and options are read from the binary's own `--help`, so a
//! new option that the completions or the man page miss fails here.

use std::path::Path;
use std::process::{Command, Output};

fn ab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpha-bridge"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = ab(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `alpha-bridge --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let mut in_list = false;
    let mut out = Vec::new();
    for l in help.lines() {
        if l == "Commands:" {
            in_list = true;
            continue;
        }
        if in_list {
            let Some(rest) = l.strip_prefix("  ") else {
                break;
            };
            let name = rest.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                out.push(name);
            }
        }
    }
    assert!(out.len() >= 8, "{help}");
    out
}

/// The long options `alpha-bridge SUB --help` lists.
fn options(sub: &str) -> Vec<String> {
    let help = stdout_of(&[sub, "--help"]);
    let mut out = Vec::new();
    for l in help.lines() {
        let t = l.trim_start();
        let t = match t.split_once(", ") {
            Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
            _ => t,
        };
        if let Some(rest) = t.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() && l.starts_with("  ") {
                out.push(format!("--{name}"));
            }
        }
    }
    assert!(out.contains(&"--help".to_string()), "{sub}: {help}");
    out
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Missing tools skip a test on a developer's machine; under CI (where
/// `scripts/setup.sh --test` installed them) they fail it.
fn require(tool: &str, arg: &str, package: &str) -> bool {
    if have(tool, arg) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{tool} is missing: scripts/setup.sh --test installs {package}"
    );
    eprintln!("skipped: {tool} is not installed ({package})");
    false
}

/// Runs bash's completion function for a command line ending at `words`' last word.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        "source '{}'\n\
         f=$(complete -p alpha-bridge | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n\
         [ -n \"$f\" ] || {{ echo 'no completion function' >&2; exit 1; }}\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         \"$f\" alpha-bridge \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash").arg("-c").arg(prog).output().unwrap();
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completion_is_valid_and_completes_every_subcommand_and_option() {
    if !require("bash", "--version", "bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("alpha-bridge.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let top = bash_complete(&script, &["alpha-bridge", ""]);
    for sub in subcommands() {
        assert!(top.contains(&sub), "{sub} not completed: {top:?}");
        // After the subcommand, `--` completes each of its options.
        let opts = bash_complete(&script, &["alpha-bridge", &sub, "--"]);
        for o in options(&sub) {
            assert!(
                opts.contains(&o),
                "alpha-bridge {sub} {o} not completed: {opts:?}"
            );
        }
    }
    let shells = bash_complete(&script, &["alpha-bridge", "completions", ""]);
    for s in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(shells.contains(&s.to_string()), "{shells:?}");
    }
    assert_eq!(
        bash_complete(&script, &["alpha-bridge", "webcam", "--rec"]),
        ["--record"]
    );
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    let subs = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for sub in &subs {
            assert!(script.contains(sub.as_str()), "{shell}: no {sub}");
        }
        assert!(script.contains("--dump-objects"), "{shell}");
    }
    // Syntax checks where the shell is installed (none of them is required).
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if !have(shell, "--version") {
            eprintln!("{shell} not installed: syntax not checked");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("script");
        std::fs::write(&file, stdout_of(&["completions", shell])).unwrap();
        let out = Command::new(shell).arg(check).arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A page as a person reads it: groff's man macros, UTF-8 terminal, no hyphenation,
/// wide lines; groff's warnings are errors.
fn render_man(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rHY=0", "-rLL=250n", "-P-c"])
        .arg(page)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "groff on {}: {stderr}",
        page.display()
    );
    // groff prints ASCII hyphens as U+2010 and minus signs as U+2212 on UTF-8 terminals;
    // strip bold/underline overstrikes in case -P-c was not honoured.
    let text = String::from_utf8(out.stdout).unwrap();
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        clean.push(match c {
            '\u{2010}' | '\u{2212}' => '-',
            c => c,
        });
    }
    clean
}

#[test]
fn man_pages_render_and_name_every_subcommand_and_option() {
    if !require("groff", "--version", "groff-base") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let msg = stdout_of(&["man", "--dir", dir.path().to_str().unwrap()]);
    let subs = subcommands();
    assert_eq!(
        msg.trim(),
        format!(
            "wrote {} manual pages to {}",
            subs.len() + 1,
            dir.path().display()
        )
    );

    let main = render_man(&dir.path().join("alpha-bridge.1"));
    assert!(
        main.contains("alpha-bridge - Sony Alpha cameras on Linux"),
        "{main}"
    );
    for sub in &subs {
        assert!(
            main.contains(&format!("alpha-bridge-{sub}(1)")),
            "main page does not name {sub}: {main}"
        );
        let page = dir.path().join(format!("alpha-bridge-{sub}.1"));
        let text = render_man(&page);
        for o in options(sub) {
            assert!(text.contains(&o), "alpha-bridge-{sub}(1) lacks {o}: {text}");
        }
        assert!(text.contains("EXAMPLES"), "alpha-bridge-{sub}(1): {text}");
        assert!(
            text.contains(&format!("  alpha-bridge {sub}")),
            "alpha-bridge-{sub}(1): {text}"
        );
        // `man SUBCOMMAND` prints the same page.
        assert_eq!(
            stdout_of(&["man", sub]).into_bytes(),
            std::fs::read(&page).unwrap()
        );
    }
    assert_eq!(
        stdout_of(&["man"]).into_bytes(),
        std::fs::read(dir.path().join("alpha-bridge.1")).unwrap()
    );
    // No temporary file left behind.
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        subs.len() + 1
    );

    // man itself, where installed, reads the page as users will.
    if have("man", "--version") {
        let out = Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(dir.path().join("alpha-bridge-doctor.1"))
            .env("MANWIDTH", "200")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("doctor"));
    }
}

#[test]
fn every_help_has_examples_and_the_shared_option_names_say_what_they_mean_there() {
    for sub in subcommands() {
        let help = stdout_of(&[&sub, "--help"]);
        let examples = help.split("Examples:").nth(1).unwrap_or_else(|| {
            panic!("{sub} --help has no examples: {help}");
        });
        let n = examples
            .lines()
            .filter(|l| {
                l.trim_start()
                    .trim_start_matches("sudo ")
                    .starts_with(&format!("alpha-bridge {sub}"))
            })
            .count();
        assert!((2..=4).contains(&n), "{sub}: {n} examples: {help}");
    }
    let webcam = stdout_of(&["webcam", "--help"]);
    assert!(
        webcam.contains("null (decode every frame and write it nowhere"),
        "{webcam}"
    );
    assert!(webcam.contains("replay:PATH"), "{webcam}");
    let offload = stdout_of(&["offload", "--help"]);
    assert!(offload.contains("--camera <IP[:PORT]>"), "{offload}");
    assert!(offload.contains("network address"), "{offload}");
    for sub in ["pair", "doctor"] {
        let help = stdout_of(&[sub, "--help"]);
        assert!(help.contains("USB serial number"), "{sub}: {help}");
        assert!(help.contains("emulated"), "{sub}: {help}");
    }
}
