//! `alpha-bridge completions SHELL`: the shell completion script (clap_complete) for
//! bash, zsh, fish, elvish or PowerShell, on stdout. It is generated from the same
//! command definition that parses the arguments, so it can never offer an option that
//! does not exist.

use clap::CommandFactory;

/// Options of `alpha-bridge completions`.
#[derive(clap::Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub(crate) fn run(a: &CompletionsArgs) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "alpha-bridge", &mut out);
    super::man::write_stdout(&out)
}
