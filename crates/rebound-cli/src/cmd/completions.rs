//! `rebound completions bash|zsh|fish`: the shell completion script,
//! generated from the same clap definition that parses the arguments, so
//! it can never list a command or flag that does not exist.

use crate::Failure;
use clap::{Args, CommandFactory, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions<C: CommandFactory>(args: CompletionsArgs) -> Result<ExitCode, Failure> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = C::command();
    clap_complete::generate(shell, &mut command, "rebound", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
