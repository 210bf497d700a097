//! Running a scraper's `transform` command: the document on stdin, the
//! primary output on stdout (see docs/documents.md).
//!
//! The command is a program and its arguments, never a shell line, so no
//! parameter or payload can turn into shell syntax. Its environment is
//! cleared down to `PATH`, `HOME` and `LANG` ([`Transform::env`]): the
//! process running Rebound holds API keys and database passwords that a
//! parser has no use for. Its stdout is bounded by the source's
//! `max_body_bytes` (a runaway parser cannot fill memory), and it is killed
//! at its timeout. It runs in a process group of its own, killed whole
//! when the run ends however it ends ([`ProcessGroup`]), so neither it nor
//! anything it started in the background is left running. With
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

/// The process group a transform's command leads. Killing only the
/// command (tokio's `kill_on_drop`) left whatever it started running: a
/// `sh -c "worker & exec parser"` kept its worker, holding the stdout pipe
/// open, after every timeout. Dropping this kills the whole group.
///
/// Also on a normal exit: a group with no process left refuses the signal
/// (ESRCH), and the kernel does not give a new process the id of a group
/// that still has members.
pub(crate) struct ProcessGroup(#[cfg_attr(not(unix), allow(dead_code))] Option<u32>);

impl ProcessGroup {
    pub(crate) fn kill(&self) {
        #[cfg(unix)]
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            // Nothing to do when it fails: the group is already gone.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(id),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `transform`'s command as every run of it is (no shell, the
/// environment cleared down to [`Transform::env`], pipes, its own process
/// group, killed when dropped): the child, its group, and the command's
/// name for messages.
fn spawn(transform: &Transform) -> Result<(tokio::process::Child, ProcessGroup, &str), String> {
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
    #[cfg(unix)]
    command.process_group(0);
    if !transform.dir.as_os_str().is_empty() {
        command.current_dir(&transform.dir);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("transform {name} could not start: {e}"))?;
    // The command leads its group: the group's id is its pid.
    let group = ProcessGroup(child.id());
    Ok((child, group, name))
}

/// Runs `transform` with `input` on stdin; its stdout, or why not.
pub(crate) async fn run(
    transform: &Transform,
    input: &Bytes,
    max_output: u64,
    redactor: &Redactor,
) -> Result<Bytes, String> {
    let (mut child, group, name) = spawn(transform)?;
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
            group.kill();
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
/// line, its control characters escaped: a transform's escape sequences
/// reached the log, `rebound run`, `rebound health` and alert webhooks raw.
pub(super) fn stderr_tail(kept: &[u8], redactor: &Redactor) -> String {
    let text = String::from_utf8_lossy(kept);
    let masked = redactor.redact(&text);
    let masked = masked.trim();
    let mut start = masked.len().saturating_sub(STDERR_TAIL_BYTES);
    while !masked.is_char_boundary(start) {
        start += 1;
    }
    let one_line = masked
        .get(start..)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    rebound_domain::message::escape_controls(&one_line, false)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A transform that starts a background `sleep`, writes its pid to
    /// `pid_file`, and then never answers.
    pub(crate) fn forking(pid_file: &std::path::Path, timeout: std::time::Duration) -> Transform {
        Transform {
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "sleep 1000 & echo $! > {}; exec sleep 1000",
                    pid_file.display()
                ),
            ],
            dir: std::env::temp_dir(),
            timeout,
            format: rebound_domain::document::PayloadFormat::Bytes,
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            keep_running: false,
        }
    }

    /// Whether process `pid` is gone (or a zombie waiting to be reaped),
    /// looked at for up to 2 s.
    pub(crate) async fn gone(pid_file: &std::path::Path) -> bool {
        let mut pid = String::new();
        for _ in 0..200 {
            pid = std::fs::read_to_string(pid_file).unwrap_or_default();
            if !pid.trim().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let stat = format!("/proc/{}/stat", pid.trim());
        for _ in 0..200 {
            match std::fs::read_to_string(&stat) {
                Err(_) => return true,
                Ok(text)
                    if text
                        .rsplit(')')
                        .next()
                        .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
                {
                    return true;
                }
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
        false
    }

    /// Before: only the command was killed at its timeout, and what it had
    /// started in the background kept running (and kept its stdout open).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_timed_out_transform_takes_its_background_children_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        let transform = forking(&pid_file, std::time::Duration::from_millis(300));
        let error = run(
            &transform,
            &Bytes::from_static(b"{}"),
            1024,
            &Redactor::default(),
        )
        .await
        .expect_err("it times out");
        assert!(error.contains("timed out"), "{error}");
        assert!(
            gone(&pid_file).await,
            "the background sleep outlived its transform"
        );
    }

    #[test]
    fn the_stderr_tail_is_masked_before_it_is_cut() {
        let secret = "sk_live_0123456789";
        let redactor = Redactor::new([secret]);
        let text = format!("{}\nerror near {secret}\n", "x".repeat(2_000));
        let tail = stderr_tail(text.as_bytes(), &redactor);
        assert!(tail.len() <= STDERR_TAIL_BYTES, "{}", tail.len());
        assert!(tail.ends_with("error near ***"), "{tail}");
        assert!(!tail.contains("sk_live"));
        // Control characters are escaped (before: written raw).
        let tail = stderr_tail(
            b"bad \x1b[31mRED\x1b[0m \x1b]0;title\x07 done",
            &Redactor::default(),
        );
        assert_eq!(
            tail,
            "bad \\u{1b}[31mRED\\u{1b}[0m \\u{1b}]0;title\\u{7} done"
        );
        // Multi-byte characters are never split.
        let tail = stderr_tail("é".repeat(600).as_bytes(), &Redactor::default());
        assert_eq!(tail, "é".repeat(250));
    }
}
