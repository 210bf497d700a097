//! `keep_running` transforms: the command is started once per scraper and
//! answers one document after another over its stdin and stdout, so a
//! parser whose start-up (an interpreter, its imports) costs more than its
//! work pays it once, not per document.
//!
//! The frames (docs/documents.md, "Long-running transforms"), all lengths
//! in bytes, in ASCII decimal:
//! - Rebound writes `document N\n` and the document's N bytes;
//! - the command answers `output N\n` and N bytes (the call's primary
//!   output), or `error N\n` and N bytes of UTF-8 text (this document
//!   cannot be transformed; the process goes on serving);
//! - Rebound closes stdin (or kills the process) when the engine goes.
//!
//! A process is never trusted past a fault: an answer that is not a frame,
//! an output over `max_body_bytes`, a timeout or an exit each fail the
//! call with kind `transform` and end the process (killed, reaped, its
//! stderr read to the end for the message); the next document starts a
//! new one. So does a call dropped with its document in hand (a run's
//! deadline): the process's late answer would otherwise be read as the
//! next document's. Documents of one scraper queue for its process (one at a
//! time, first come first served), which is what keeps its answers in the
//! order of its documents. The stderr of a running process is drained all
//! the time (a full pipe would block it); the message quotes only what it
//! wrote while the failed document was in hand.

use super::{ProcessGroup, keep_tail, spawn, stderr_tail};
use bytes::Bytes;
use rebound_domain::document::Transform;
use rebound_domain::duration::format_duration;
use rebound_domain::redact::Redactor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

/// Longest answer header read: `output ` and twenty digits fit.
const HEADER_MAX: u64 = 40;

/// Longest `error` message taken from a command (the call's message quotes
/// its first 500 bytes).
const ERROR_MAX: u64 = 64 * 1024;

/// How long a failed process gets to finish writing its stderr after it
/// was killed or exited (the pipe closes with the process; this only
/// bounds a grandchild that inherited it).
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// The running processes of the `keep_running` transforms, one per
/// scraper, each behind its own queue.
#[derive(Default)]
pub(crate) struct KeptTransforms {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Process>>>>>,
}

impl KeptTransforms {
    /// Transforms `input` with `scraper`'s process (started if none runs):
    /// its output, or why not.
    pub(crate) async fn run(
        &self,
        scraper: &str,
        transform: &Transform,
        input: &Bytes,
        max_output: u64,
        redactor: &Redactor,
    ) -> Result<Bytes, String> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            match slots.get(scraper) {
                Some(slot) => slot.clone(),
                None => slots.entry(scraper.to_string()).or_default().clone(),
            }
        };
        let mut slot = slot.lock().await;
        let name = transform.command.first().map_or("", String::as_str);
        // A call dropped mid-exchange (its run's deadline, a shutdown) left
        // its process with a document in hand: its next answer would be
        // that document's, taken for this one's. It goes.
        if let Some(stale) = slot.take_if(|p| p.in_flight) {
            stale.stop(0).await;
        }
        let process = match &mut *slot {
            Some(process) => process,
            empty => empty.insert(Process::start(transform)?),
        };
        let since = process.stderr_written();
        process.in_flight = true;
        let answer =
            tokio::time::timeout(transform.timeout, process.exchange(input, max_output)).await;
        if let Ok(Ok(_)) = &answer {
            process.in_flight = false;
        }
        let failure = match answer {
            Ok(Ok(Answer::Output(output))) => return Ok(output),
            Ok(Ok(Answer::Error(text))) => {
                let text = redactor.redact(text.trim());
                return Err(format!(
                    "transform {name} could not transform the document: {}",
                    rebound_domain::message::escape_controls(&cut(&text), false)
                ));
            }
            Ok(Err(fault)) => fault,
            Err(_) => Fault::TimedOut,
        };
        // Nothing after a fault is trusted: the process goes, and with it
        // whatever it still had to say on stdout.
        let Some(process) = slot.take() else {
            return Err(format!("transform {name} failed"));
        };
        let (status, stderr) = process.stop(since).await;
        let tail = stderr_tail(&stderr, redactor);
        let with_tail = |text: String| {
            if tail.is_empty() {
                text
            } else {
                format!("{text}; stderr: {tail}")
            }
        };
        Err(match failure {
            Fault::TimedOut => format!(
                "transform {name} timed out after {} and was killed",
                format_duration(transform.timeout)
            ),
            Fault::Ended => with_tail(format!("transform {name} {status} before answering")),
            // What it wrote may echo a secret (its document is masked,
            // but not what it read elsewhere): masked like its stderr.
            Fault::NotAFrame(seen) => with_tail(format!(
                "transform {name} answered {:?} where \"output N\" or \"error N\" was expected (keep_running), and was stopped",
                redactor.redact(&seen)
            )),
            Fault::TooLong(announced) => with_tail(format!(
                "transform {name} wrote more than max_body_bytes {max_output} ({announced} bytes announced), and was stopped"
            )),
        })
    }
}

/// What a process answered for a document.
enum Answer {
    Output(Bytes),
    Error(String),
}

/// Why a process is stopped.
enum Fault {
    TimedOut,
    /// Its stdout closed (it exited, or closed it) before a whole answer.
    Ended,
    /// The header it wrote instead of a frame's, as text.
    NotAFrame(String),
    /// An output longer than the call may keep.
    TooLong(u64),
}

/// What a process wrote on stderr: the last `STDERR_KEPT_BYTES` and how
/// many bytes in all.
#[derive(Default)]
struct StderrTail {
    kept: Vec<u8>,
    written: u64,
}

struct Process {
    child: Child,
    /// Killed whole when the process is stopped or dropped.
    group: ProcessGroup,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<StderrTail>>,
    drain: JoinHandle<()>,
    /// A document was sent and its answer not read yet.
    in_flight: bool,
}

impl Process {
    fn start(transform: &Transform) -> Result<Process, String> {
        let (mut child, group, name) = spawn(transform)?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(format!("transform {name} started without its pipes"));
        };
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let drain = tokio::spawn(drain(stderr, tail.clone()));
        Ok(Process {
            child,
            group,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            drain,
            in_flight: false,
        })
    }

    fn stderr_written(&self) -> u64 {
        self.stderr.lock().map_or(0, |t| t.written)
    }

    /// One document out, one answer back.
    async fn exchange(&mut self, input: &Bytes, max_output: u64) -> Result<Answer, Fault> {
        // A process that is gone makes these writes fail; its closed
        // stdout then says so below, with its status.
        let header = format!("document {}\n", input.len());
        if self.stdin.write_all(header.as_bytes()).await.is_ok()
            && self.stdin.write_all(input).await.is_ok()
        {
            let _ = self.stdin.flush().await;
        }
        let mut line = Vec::new();
        (&mut self.stdout)
            .take(HEADER_MAX)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| Fault::Ended)?;
        if line.is_empty() {
            return Err(Fault::Ended);
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let (kind, length) = frame(&text).ok_or_else(|| Fault::NotAFrame(text.clone()))?;
        let limit = if kind == "output" {
            max_output
        } else {
            ERROR_MAX
        };
        if length > limit {
            return Err(if kind == "output" {
                Fault::TooLong(length)
            } else {
                Fault::NotAFrame(text)
            });
        }
        // Read as it comes, never allocated up front: the length is the
        // command's word, and `max_body_bytes` may be set far above memory.
        let mut body = Vec::new();
        (&mut self.stdout)
            .take(length)
            .read_to_end(&mut body)
            .await
            .map_err(|_| Fault::Ended)?;
        if (body.len() as u64) < length {
            return Err(Fault::Ended);
        }
        Ok(if kind == "output" {
            Answer::Output(Bytes::from(body))
        } else {
            Answer::Error(String::from_utf8_lossy(&body).into_owned())
        })
    }

    /// Ends the process (killed if still running, reaped) and reads its
    /// stderr to the end: how it ended, and what it wrote on stderr since
    /// `since` bytes.
    async fn stop(mut self, since: u64) -> (String, Vec<u8>) {
        // An exited process is reaped as it is; a live one is killed.
        let status = match tokio::time::timeout(Duration::from_millis(50), self.child.wait()).await
        {
            Ok(status) => status.ok(),
            Err(_) => {
                self.group.kill();
                let _ = self.child.start_kill();
                self.child.wait().await.ok()
            }
        };
        let how = match status.and_then(|s| s.code()) {
            Some(code) => format!("exited with status {code}"),
            None => "was killed".to_string(),
        };
        drop(self.stdin);
        let _ = tokio::time::timeout(STDERR_DRAIN, &mut self.drain).await;
        self.drain.abort();
        let tail = self.stderr.lock().map_or_else(
            |_| Vec::new(),
            |t| {
                let new = usize::try_from(t.written.saturating_sub(since)).unwrap_or(usize::MAX);
                let start = t.kept.len().saturating_sub(new);
                t.kept.get(start..).unwrap_or_default().to_vec()
            },
        );
        (how, tail)
    }
}

/// `output N\n` or `error N\n`: the kind and N.
fn frame(line: &str) -> Option<(&'static str, u64)> {
    let line = line.strip_suffix('\n')?;
    let (kind, length) = line.split_once(' ')?;
    let kind = match kind {
        "output" => "output",
        "error" => "error",
        _ => return None,
    };
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, length.parse().ok()?))
}

/// A command's own message, cut to the length quoted from stderr.
fn cut(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = one_line.len().min(super::STDERR_TAIL_BYTES);
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    one_line.get(..end).unwrap_or_default().to_string()
}

/// Reads `pipe` to its end, keeping the last `STDERR_KEPT_BYTES`.
async fn drain(mut pipe: tokio::process::ChildStderr, tail: Arc<Mutex<StderrTail>>) {
    let mut chunk = [0u8; 8 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let Ok(mut tail) = tail.lock() else { return };
                keep_tail(&mut tail.kept, chunk.get(..n).unwrap_or_default());
                tail.written += n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_frame_header_is_one() {
        assert_eq!(frame("output 12\n"), Some(("output", 12)));
        assert_eq!(frame("error 0\n"), Some(("error", 0)));
        for bad in [
            "output 12",
            "output\n",
            "output \n",
            "output -1\n",
            "output +1\n",
            "output 1 2\n",
            "Output 1\n",
            "{\"records\": []}\n",
            "output 99999999999999999999999\n",
        ] {
            assert_eq!(frame(bad), None, "{bad:?}");
        }
    }

    /// Before: dropping a kept process killed only the command, not what
    /// it had started in the background.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_dropped_process_takes_its_background_children_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        let transform = crate::transform::tests::forking(&pid_file, Duration::from_secs(5));
        let process = Process::start(&transform).expect("it starts");
        // Its pid file is written once the shell has started the sleep.
        for _ in 0..200 {
            if std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(process);
        assert!(
            crate::transform::tests::gone(&pid_file).await,
            "the background sleep outlived its transform"
        );
    }

    /// A call dropped while its document is in hand (a deadline) must not
    /// leave its answer to be read as the next document's.
    #[tokio::test]
    async fn a_dropped_exchange_is_not_answered_to_the_next_document() {
        let dir = std::env::temp_dir();
        let script = "import sys, time\n\
            while header := sys.stdin.buffer.readline():\n\
            \x20   doc = sys.stdin.buffer.read(int(header.split()[1]))\n\
            \x20   if doc == b'slow':\n\
            \x20       time.sleep(0.5)\n\
            \x20   sys.stdout.buffer.write(b'output %d\\n' % len(doc) + doc)\n\
            \x20   sys.stdout.buffer.flush()\n";
        let transform = Transform {
            command: vec!["python3".into(), "-c".into(), script.into()],
            dir,
            timeout: Duration::from_secs(20),
            format: Default::default(),
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            keep_running: true,
        };
        let kept = KeptTransforms::default();
        let redactor = Redactor::default();
        let dropped = tokio::time::timeout(
            Duration::from_millis(100),
            kept.run(
                "s",
                &transform,
                &Bytes::from_static(b"slow"),
                1000,
                &redactor,
            ),
        )
        .await;
        assert!(dropped.is_err(), "the slow document was cut off");
        let next = kept
            .run(
                "s",
                &transform,
                &Bytes::from_static(b"next"),
                1000,
                &redactor,
            )
            .await;
        assert_eq!(next, Ok(Bytes::from_static(b"next")));
    }

    #[test]
    fn a_message_is_cut_on_a_character() {
        assert_eq!(cut("bad\n  page"), "bad page");
        let long = "é".repeat(400);
        let cut = cut(&long);
        assert!(cut.len() <= 500 && long.starts_with(&cut), "{}", cut.len());
    }
}
