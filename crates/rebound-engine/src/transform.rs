//! Running a scraper's `transform` command: the document on stdin, the
//! primary output on stdout (see docs/documents.md).
//!
//! The command is a program and its arguments, never a shell line, so no
//! parameter or payload can turn into shell syntax. Its environment is
//! cleared down to `PATH`, `HOME` and `LANG` ([`Transform::env`]): the
//! process running Rebound holds API keys and database passwords that a
//! parser has no use for. Its stdout is bounded by the source's
//! `max_body_bytes` (a runaway parser cannot fill memory), and it is killed
//! at its timeout (`kill_on_drop`, so no path leaves it running). With
//! `keep_running` the command is started once per scraper and sent one
//! framed document after another ([`kept`]). Every
//! failure is an `Err` with a sentence for the call's message, stderr's
//! last 500 bytes masked; nothing here panics on what the command does.

use bytes::Bytes;
use rebound_domain::document::Transform;
use rebound_domain::duration::format_duration;
use rebound_domain::redact::Redactor;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

mod kept;
pub(crate) use kept::KeptTransforms;

/// Bytes of stderr quoted in a failure message.
const STDERR_TAIL_BYTES: usize = 500;

/// Bytes of stderr kept while it is read: more than the quoted tail, so a
/// secret that straddles the cut is still whole when it is masked.
const STDERR_KEPT_BYTES: usize = 4_096;

/// Starts `transform`'s command as every run of it is (no shell, the
/// environment cleared down to [`Transform::env`], pipes, killed when
/// dropped): the child, and the command's name for messages.
fn spawn(transform: &Transform) -> Result<(tokio::process::Child, &str), String> {
    let Some(program) = transform.program() else {
        return Err("transform has no command".to_string());
    };
    let name = transform.command.first().map_or("", String::as_str);
    let mut command = Command::new(&program);
    command
        .args(transform.command.iter().skip(1))
        .env_clear()
        .envs(transform.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !transform.dir.as_os_str().is_empty() {
        command.current_dir(&transform.dir);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("transform {name} could not start: {e}"))?;
    Ok((child, name))
}

/// Runs `transform` with `input` on stdin; its stdout, or why not.
pub(crate) async fn run(
    transform: &Transform,
    input: &Bytes,
    max_output: u64,
    redactor: &Redactor,
) -> Result<Bytes, String> {
    let (mut child, name) = spawn(transform)?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let feed = async {
            if let Some(mut stdin) = stdin {
                // A command that exits without reading all of its input
                // closes the pipe; its exit status says whether that was
                // fine, not this write.
                let _ = stdin.write_all(input).await;
                drop(stdin);
            }
        };
        let (_, out, err) = tokio::join!(feed, read_bounded(stdout, max_output), read_tail(stderr));
        let status = child.wait().await;
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(transform.timeout, work).await {
        Ok(done) => done,
        Err(_) => {
            // Killed and reaped here; dropping the child would kill it too.
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(format!(
                "transform {name} timed out after {} and was killed",
                format_duration(transform.timeout)
            ));
        }
    };
    let tail = stderr_tail(&err, redactor);
    let with_tail = |text: String| {
        if tail.is_empty() {
            text
        } else {
            format!("{text}; stderr: {tail}")
        }
    };
    let output = match out {
        Ok(output) => output,
        Err(seen) => {
            return Err(with_tail(format!(
                "transform {name} wrote more than max_body_bytes {max_output} (at least {seen} bytes)"
            )));
        }
    };
    match status {
        Ok(status) if status.success() => Ok(Bytes::from(output)),
        Ok(status) => {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            Err(with_tail(format!("transform {name} {how}")))
        }
        Err(e) => Err(format!("transform {name}: cannot wait for it: {e}")),
    }
}

/// Reads all of `pipe`, or stops (dropping the pipe, so the command's next
/// write fails) once more than `max` bytes came: `Err` with how many.
async fn read_bounded(pipe: Option<impl AsyncRead + Unpin>, max: u64) -> Result<Vec<u8>, u64> {
    let Some(mut pipe) = pipe else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return Ok(out),
            Ok(n) => {
                let got = chunk.get(..n).unwrap_or_default();
                if out.len() as u64 + n as u64 > max {
                    return Err(out.len() as u64 + n as u64);
                }
                out.extend_from_slice(got);
            }
        }
    }
}

/// The last [`STDERR_KEPT_BYTES`] of `pipe`.
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => keep_tail(&mut kept, chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// Appends `more` to `kept`, keeping only its last [`STDERR_KEPT_BYTES`].
fn keep_tail(kept: &mut Vec<u8>, more: &[u8]) {
    kept.extend_from_slice(more);
    if kept.len() > STDERR_KEPT_BYTES {
        kept.drain(..kept.len() - STDERR_KEPT_BYTES);
    }
}

/// Stderr's last [`STDERR_TAIL_BYTES`], masked (before the cut), on one
/// line.
pub(super) fn stderr_tail(kept: &[u8], redactor: &Redactor) -> String {
    let text = String::from_utf8_lossy(kept);
    let masked = redactor.redact(&text);
    let masked = masked.trim();
    let mut start = masked.len().saturating_sub(STDERR_TAIL_BYTES);
    while !masked.is_char_boundary(start) {
        start += 1;
    }
    masked
        .get(start..)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_is_masked_before_it_is_cut() {
        let secret = "sk_live_0123456789";
        let redactor = Redactor::new([secret]);
        let text = format!("{}\nerror near {secret}\n", "x".repeat(2_000));
        let tail = stderr_tail(text.as_bytes(), &redactor);
        assert!(tail.len() <= STDERR_TAIL_BYTES, "{}", tail.len());
        assert!(tail.ends_with("error near ***"), "{tail}");
        assert!(!tail.contains("sk_live"));
        // Multi-byte characters are never split.
        let tail = stderr_tail("é".repeat(600).as_bytes(), &Redactor::default());
        assert_eq!(tail, "é".repeat(250));
    }
}
