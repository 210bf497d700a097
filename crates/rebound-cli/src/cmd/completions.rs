//! `rebound completions bash|zsh|fish`: the shell completion script,
//! generated from the same clap definition that parses the arguments, so
//! it can never list a command or flag that does not exist.

use crate::Failure;
use clap::{Args, CommandFactory, ValueEnum};
use std::io::Write;
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
    // Into memory first: clap_complete panics when its writer fails (a
    // closed pipe, a full disk); a write error here is ours to report.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "rebound", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::from(crate::BROKEN_PIPE_EXIT as u8))
        }
        Err(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write the completion script: {e}"
        ))),
    }
}
