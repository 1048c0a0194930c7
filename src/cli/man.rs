//! `alpha-bridge man`: the manual pages (clap_mangen), one per subcommand as git and
//! cargo do: `alpha-bridge(1)` lists the subcommands, `alpha-bridge-webcam(1)` has the
//! webcam's options and examples. Written to stdout (`alpha-bridge man webcam | man -l -`)
//! or, with `--dir`, every page as `DIR/NAME.1`, each replaced whole (temporary file and
//! rename), so an interrupted install never leaves half a page.

use alpha_bridge::fsutil;
use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;

/// Options of `alpha-bridge man`.
#[derive(clap::Args, Debug)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (default: the main page).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Option<String>,
    /// Write every page (alpha-bridge.1, alpha-bridge-webcam.1, ...) into DIR instead,
    /// e.g. ~/.local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub(crate) fn run(a: &ManArgs) -> anyhow::Result<()> {
    let pages = pages();
    if let Some(dir) = &a.dir {
        if !dir.is_dir() {
            usage_error(format!(
                "--dir {}: no such folder (create it first, e.g. mkdir -p {})",
                dir.display(),
                dir.display()
            ));
        }
        for (name, roff) in &pages {
            let path = dir.join(name);
            fsutil::write_atomic(&path, roff)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("wrote {} manual pages to {}", pages.len(), dir.display());
        return Ok(());
    }
    let wanted = match &a.subcommand {
        None => "alpha-bridge.1".to_string(),
        Some(s) => format!("alpha-bridge-{s}.1"),
    };
    match pages.iter().find(|(name, _)| *name == wanted) {
        Some((_, roff)) => write_stdout(roff),
        None => usage_error(format!(
            "no manual page for '{}': pick one of {}",
            a.subcommand.as_deref().unwrap_or_default(),
            subcommand_names().join(", ")
        )),
    }
}

/// A usage error in clap's own format and exit code (2).
fn usage_error(msg: String) -> ! {
    super::Cli::command()
        .error(clap::error::ErrorKind::InvalidValue, msg)
        .exit()
}

fn subcommand_names() -> Vec<String> {
    super::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

/// Every page as (file name, roff): the main page, then one per visible subcommand.
pub(crate) fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = vec![render(cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(render(sub.clone()));
    }
    out
}

fn render(cmd: clap::Command) -> (String, Vec<u8>) {
    let examples = cmd.get_after_help().map(|h| h.to_string());
    let has_options = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let man = clap_mangen::Man::new(cmd)
        .manual("alpha-bridge manual")
        .source(concat!("alpha-bridge ", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    // clap_mangen's own page, except that the examples are set line by line (its
    // "EXTRA" section would fill them into one paragraph). Rendering into memory
    // cannot fail.
    let _ = (|| -> std::io::Result<()> {
        man.render_title(&mut roff)?;
        man.render_name_section(&mut roff)?;
        man.render_synopsis_section(&mut roff)?;
        man.render_description_section(&mut roff)?;
        if has_options {
            man.render_options_section(&mut roff)?;
        }
        if has_subcommands {
            man.render_subcommands_section(&mut roff)?;
        }
        if let Some(text) = &examples {
            roff.extend_from_slice(examples_section(text).as_bytes());
        }
        man.render_version_section(&mut roff)
    })();
    (man.get_filename(), roff)
}

/// The after-help text as an EXAMPLES section in no-fill mode, escaped for roff.
fn examples_section(text: &str) -> String {
    let mut s = String::from(".SH EXAMPLES\n.nf\n");
    for line in text.lines().filter(|l| l.trim() != "Examples:") {
        let escaped = line.replace('\\', "\\e").replace('-', "\\-");
        if escaped.starts_with('.') || escaped.starts_with('\'') {
            s.push_str("\\&");
        }
        s.push_str(&escaped);
        s.push('\n');
    }
    s.push_str(".fi\n");
    s
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
pub(crate) fn write_stdout(data: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}
