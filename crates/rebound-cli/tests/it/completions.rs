//! `rebound completions SHELL` prints a script that knows the commands.

use super::{rebound, text};

#[test]
fn completions_for_bash_zsh_and_fish_name_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef rebound"),
        ("fish", "complete -c rebound"),
    ] {
        let out = rebound(&["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["init", "backup", "health", "serve"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let out = rebound(&["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));
}
