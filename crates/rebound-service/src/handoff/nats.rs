//! NATS JetStream hand-off sinks (`kind = "nats"`) and the acknowledgement
//! listener of `rebound serve` (see `docs/handoff.md`, "NATS").
//!
//! Publishing: one connection per sink, made on first use and kept for the
//! publisher's life (the client reconnects by itself after a drop; a
//! connection that never came up is tried again at the next event). The
//! stream is looked up once per connection and created when missing, with
//! the sink's `max_age` and `dedupe_window`; an existing stream is used as
//! it is. Each event is published with `Nats-Msg-Id: <event_id>` and counts
//! as delivered only once JetStream acknowledges it (a duplicate
//! acknowledgement included: the stream has it). The whole delivery, from
//! connecting to the acknowledgement, is bounded by the sink's `timeout`,
//! so a NATS that is down costs the publisher that much per event and
//! never touches scraping.
//!
//! Errors name what failed in our words: the client's texts can quote the
//! server address, and a sink's URL is a secret.
//!
//! Acknowledgements: for every distinct (URL, `ack_subject`) among the NATS
//! sinks, `rebound serve` subscribes (queue group `rebound`, so one of
//! several serve processes takes each message) and acknowledges the ids a
//! message carries through [`rebound_storage::EventStore::ack_events`], the
//! path `rebound events ack` takes. An unknown id is a log line.

use async_nats::jetstream;
use futures::StreamExt;
use rebound_domain::clock::Clock;
use rebound_domain::handoff::{HandoffSink, HandoffSinkKind, NatsSink};
use rebound_storage::{AckResult, CompletionEventRow, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// The header JetStream deduplicates on.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// The queue group of the acknowledgement subscribers.
pub const ACK_QUEUE_GROUP: &str = "rebound";
/// The longest wait between two attempts to (re)subscribe for acks.
const ACK_RETRY_MAX: Duration = Duration::from_secs(30);

/// One sink's live connection.
struct Connection {
    jetstream: jetstream::Context,
    /// The stream was found or created on this connection.
    stream_ready: bool,
}

/// The NATS connections of one publisher, by sink name.
#[derive(Default)]
pub struct NatsPublisher {
    connections: Mutex<HashMap<String, Connection>>,
}

impl NatsPublisher {
    pub fn new() -> NatsPublisher {
        NatsPublisher::default()
    }

    /// Publishes `event` to `sink` and waits for JetStream's
    /// acknowledgement, all within the sink's timeout. The error names the
    /// step that failed, never the URL.
    pub async fn publish(
        &self,
        sink: &HandoffSink,
        event: &CompletionEventRow,
    ) -> Result<(), String> {
        let Some(nats) = &sink.nats else {
            return Err("not a NATS sink".into());
        };
        match tokio::time::timeout(sink.timeout, self.publish_inner(sink, nats, event)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "NATS did not acknowledge within {}s",
                sink.timeout.as_secs_f64()
            )),
        }
    }

    async fn publish_inner(
        &self,
        sink: &HandoffSink,
        nats: &NatsSink,
        event: &CompletionEventRow,
    ) -> Result<(), String> {
        let context = self.context(sink, nats).await?;
        let subject = subject_of(nats, event);
        let message = jetstream::message::PublishMessage::build()
            .message_id(event.event_id.as_str())
            .payload(event.payload.clone().into_bytes().into());
        let sent = async {
            context
                .send_publish(subject, message)
                .await
                .map_err(|e| e.kind())?
                .await
                .map_err(|e| e.kind())
        }
        .await;
        match sent {
            Ok(_ack) => Ok(()),
            Err(kind) => {
                if matches!(kind, jetstream::context::PublishErrorKind::StreamNotFound) {
                    // Deleted under us: look it up (and create it) again.
                    if let Some(c) = self.connections.lock().await.get_mut(&sink.name) {
                        c.stream_ready = false;
                    }
                }
                Err(format!("JetStream publish failed: {kind}"))
            }
        }
    }

    /// The sink's JetStream context, connecting and making sure of the
    /// stream first when needed.
    async fn context(
        &self,
        sink: &HandoffSink,
        nats: &NatsSink,
    ) -> Result<jetstream::Context, String> {
        // Held while connecting, so datasets published side by side share
        // one connection rather than racing to open several.
        let mut connections = self.connections.lock().await;
        if !connections.contains_key(&sink.name) {
            let client = connect(&sink.url, sink.timeout).await?;
            let mut context = jetstream::new(client);
            context.set_timeout(sink.timeout);
            connections.insert(
                sink.name.clone(),
                Connection {
                    jetstream: context,
                    stream_ready: false,
                },
            );
        }
        let Some(connection) = connections.get_mut(&sink.name) else {
            return Err("NATS connection lost".into());
        };
        if !connection.stream_ready {
            ensure_stream(&connection.jetstream, nats).await?;
            connection.stream_ready = true;
        }
        Ok(connection.jetstream.clone())
    }
}

/// The subject of `event` under the sink's template, from the stored
/// message's fields.
pub fn subject_of(nats: &NatsSink, event: &CompletionEventRow) -> String {
    let message = serde_json::from_str::<serde_json::Value>(&event.payload).unwrap_or_default();
    nats.subject.render(|field| match field {
        // The row's copies, should the payload not parse.
        "dataset" => Some(event.dataset.clone()),
        "status" => Some(event.status.clone()),
        other => message
            .get(other)
            .and_then(|v| v.as_str())
            .map(str::to_string),
    })
}

/// Connects to `url` (a secret) within `timeout`; the error says why in
/// the client's category words, without the address.
pub async fn connect(url: &str, timeout: Duration) -> Result<async_nats::Client, String> {
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        // Publishes are bounded by the sink's timeout, not the client's.
        .request_timeout(Some(timeout))
        .name("rebound");
    // async-nats reads a URL's user and password but does not send them:
    // a server that needs them refused every connection ("authorization
    // violation"). They are taken out and given as the connection's
    // credentials, decoded as a URL's userinfo is.
    let mut address = url.to_string();
    if let Ok(mut parsed) = url::Url::parse(url)
        && (!parsed.username().is_empty() || parsed.password().is_some())
    {
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = decode(parsed.username());
        let password = parsed.password().map(decode).unwrap_or_default();
        options = options.user_and_password(user, password);
        // Both setters only fail for URLs without a host, which a NATS
        // URL always has.
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        address = parsed.to_string();
    }
    let deadline = tokio::time::Instant::now() + timeout;
    match tokio::time::timeout_at(deadline, options.connect(address.as_str())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => {
            // The client says "IO error" of a server that answers in
            // another protocol (an HTTP server at the sink's port), which
            // reads as a network fault; what the server sent says more.
            let why = match error.kind() {
                async_nats::ConnectErrorKind::Io | async_nats::ConnectErrorKind::Tls => {
                    not_nats(&address, deadline).await
                }
                _ => None,
            };
            Err(format!(
                "cannot connect to NATS: {}",
                why.unwrap_or_else(|| error.kind().to_string())
            ))
        }
        Err(_) => Err(format!(
            "cannot connect to NATS: no answer within {}s",
            timeout.as_secs_f64()
        )),
    }
}

/// How much of what a server that is not NATS sent goes into the error.
const NOT_NATS_BYTES: usize = 128;
const NOT_NATS_CHARS: usize = 60;

/// Why the server at `address` (the client's server list, a secret) is not
/// a NATS server, when it is not: a NATS server's first words on a new
/// connection are its `INFO` line (over `tls://` too, unless told to start
/// with TLS), so each server is dialled again and its first bytes read,
/// until `deadline`. `None` when every server that answered sent `INFO`,
/// or none answered (the client's own word stands then). The server is
/// named by its place in the list (`server 2 of 3`), never by address,
/// and what it sent is quoted from its first line, cut short, with
/// control and bidi characters escaped: it is untrusted text on its way
/// to logs, terminals and `last_error`.
async fn not_nats(address: &str, deadline: tokio::time::Instant) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let servers: Vec<&str> = address.split(',').map(str::trim).collect();
    for (index, server) in servers.iter().enumerate() {
        let Some((host, port)) = host_port(server) else {
            continue;
        };
        let dialled =
            tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect((host, port))).await;
        let Ok(Ok(mut stream)) = dialled else {
            continue;
        };
        // One read may return part of a line (a NATS server's "IN", then
        // "FO …"): read on until the first line is whole, the buffer full,
        // the server closed, or the deadline.
        let mut buffer = [0u8; NOT_NATS_BYTES];
        let mut read = 0;
        let mut cut_off = false;
        while read < NOT_NATS_BYTES && !buffer[..read].contains(&b'\n') {
            match tokio::time::timeout_at(deadline, stream.read(&mut buffer[read..])).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => read += n,
                // Reset, or silent until the deadline: judge what came.
                Ok(Err(_)) | Err(_) => {
                    cut_off = true;
                    break;
                }
            }
        }
        if read == 0 && cut_off {
            // Nothing it said to quote.
            continue;
        }
        let first = &buffer[..read];
        if first.len() >= 4 && first[..4].eq_ignore_ascii_case(b"INFO") {
            continue;
        }
        let which = match servers.len() {
            1 => "the server".to_string(),
            n => format!("server {} of {n}", index + 1),
        };
        return Some(match read {
            0 => format!(
                "{which} did not answer as a NATS server (it closed the connection without a word)"
            ),
            _ => {
                let line = first
                    .split(|b| matches!(b, b'\r' | b'\n'))
                    .next()
                    .unwrap_or_default();
                let text = rebound_domain::message::truncate_chars(
                    &String::from_utf8_lossy(line),
                    NOT_NATS_CHARS,
                );
                format!(
                    "{which} did not answer as a NATS server (it sent \"{}\")",
                    rebound_domain::message::escape_controls(&text, false)
                )
            }
        });
    }
    None
}

/// The host and port of one entry of a NATS server list (`nats://host:4222`,
/// `tls://host`, `host:4222`; 4222 when no port is given). WebSocket
/// entries are left out: their first words are HTTP.
fn host_port(server: &str) -> Option<(String, u16)> {
    let with_scheme = match server.contains("://") {
        true => server.to_string(),
        false => format!("nats://{server}"),
    };
    let url = url::Url::parse(&with_scheme).ok()?;
    if !matches!(url.scheme(), "nats" | "tls") {
        return None;
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    Some((host.to_string(), url.port().unwrap_or(4222)))
}

/// Finds the sink's stream, or creates it with the sink's subject filter,
/// `max_age` and `dedupe_window`.
pub async fn ensure_stream(context: &jetstream::Context, nats: &NatsSink) -> Result<(), String> {
    let config = jetstream::stream::Config {
        name: nats.stream.clone(),
        subjects: vec![nats.subject.filter()],
        max_age: nats.max_age,
        duplicate_window: nats.dedupe_window,
        ..Default::default()
    };
    let stream = context
        .get_or_create_stream(config)
        .await
        .map_err(|e| format!("JetStream stream \"{}\" not usable: {e}", nats.stream))?;
    // A stream made elsewhere keeps its own subjects; if they miss some of
    // ours, every publish would fail one by one with "no stream found".
    uncovered(nats, &stream.cached_info().config)
        .map_or(Ok(()), |subjects| Err(uncovered_message(nats, &subjects)))
}

/// The stream's subjects when they do not take all of the sink's.
fn uncovered(nats: &NatsSink, config: &jetstream::stream::Config) -> Option<Vec<String>> {
    let filter = nats.subject.filter();
    // A stream declared without subjects takes its own name.
    let subjects = match config.subjects.is_empty() {
        true => vec![config.name.clone()],
        false => config.subjects.clone(),
    };
    let covered = subjects
        .iter()
        .any(|pattern| rebound_domain::handoff::nats::covers(pattern, &filter));
    (!covered).then_some(subjects)
}

/// Says which subjects a stream takes and which the sink needs.
fn uncovered_message(nats: &NatsSink, subjects: &[String]) -> String {
    let filter = nats.subject.filter();
    format!(
        "JetStream stream \"{}\" exists but takes only {}, not all of this sink's subjects ({filter}): publishing would fail with \"no stream found\"; add \"{filter}\" to its subjects or name another stream",
        nats.stream,
        subjects.join(", "),
    )
}

/// What `rebound check --probe` found for a NATS sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// Reachable, JetStream on, the stream there.
    StreamExists,
    /// Reachable, JetStream on; the stream is created at the first publish.
    StreamMissing,
    /// Reachable, JetStream on, the stream there but its subjects miss
    /// some of the sink's: publishing fails. Says which, in words.
    StreamUncovered(String),
}

/// Whether a NATS sink's server answers, with JetStream on, and whether
/// its stream exists (nothing is created). The error is in words, without
/// the URL.
pub async fn probe(sink: &HandoffSink) -> Result<Probed, String> {
    let Some(nats) = &sink.nats else {
        return Err("not a NATS sink".into());
    };
    let client = connect(&sink.url, sink.timeout).await?;
    let mut context = jetstream::new(client);
    context.set_timeout(sink.timeout);
    match context.get_stream(&nats.stream).await {
        Ok(stream) => Ok(match uncovered(nats, &stream.cached_info().config) {
            Some(subjects) => Probed::StreamUncovered(uncovered_message(nats, &subjects)),
            None => Probed::StreamExists,
        }),
        Err(error) => match error.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(e) if e.code() == 404 => {
                Ok(Probed::StreamMissing)
            }
            jetstream::context::GetStreamErrorKind::JetStream(e) => {
                Err(format!("JetStream refused the stream lookup: {e}"))
            }
            other => Err(format!(
                "NATS answers but JetStream does not ({other}); is it started with -js?"
            )),
        },
    }
}

/// The event ids in an acknowledgement message: one id as text, a JSON
/// string, or a JSON list of strings. `None` when the body is none of
/// these.
pub fn ack_ids(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.starts_with('[') {
        let ids: Vec<String> = serde_json::from_str(text).ok()?;
        return Some(ids.into_iter().map(|id| id.trim().to_string()).collect());
    }
    if text.starts_with('"') {
        let id: String = serde_json::from_str(text).ok()?;
        return Some(vec![id.trim().to_string()]);
    }
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return None;
    }
    Some(vec![text.to_string()])
}

/// One acknowledgement subscription of `rebound serve`.
pub struct AckListener {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    url: String,
    subject: String,
    timeout: Duration,
    /// The sinks listening here, for log lines (the URL is a secret).
    sinks: String,
}

/// One listener per distinct (URL, `ack_subject`) among the NATS sinks.
pub fn ack_listeners(
    store: Arc<dyn Store>,
    sinks: &BTreeMap<String, HandoffSink>,
    clock: Arc<dyn Clock>,
) -> Vec<AckListener> {
    let mut by_target: BTreeMap<(String, String), (Duration, BTreeSet<String>)> = BTreeMap::new();
    for sink in sinks.values().filter(|s| s.kind == HandoffSinkKind::Nats) {
        let Some(nats) = &sink.nats else { continue };
        let entry = by_target
            .entry((sink.url.clone(), nats.ack_subject.clone()))
            .or_insert((sink.timeout, BTreeSet::new()));
        entry.1.insert(sink.name.clone());
    }
    by_target
        .into_iter()
        .map(|((url, subject), (timeout, names))| AckListener {
            store: store.clone(),
            clock: clock.clone(),
            url,
            subject,
            timeout,
            sinks: names.into_iter().collect::<Vec<_>>().join(", "),
        })
        .collect()
}

impl AckListener {
    /// Subscribes and acknowledges until `stop` turns true; a NATS that is
    /// down is tried again (1s, 2s, … 30s apart), never an error.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut wait = Duration::from_secs(1);
        loop {
            if *stop.borrow() {
                return;
            }
            match self.subscribe().await {
                Ok(mut subscriber) => {
                    wait = Duration::from_secs(1);
                    tracing::info!(
                        subject = %self.subject,
                        sinks = %self.sinks,
                        "Listening for completion event acknowledgements."
                    );
                    loop {
                        tokio::select! {
                            message = subscriber.next() => match message {
                                Some(message) => self.handle(&message.payload).await,
                                None => break,
                            },
                            changed = stop.changed() => {
                                if changed.is_err() || *stop.borrow() {
                                    return;
                                }
                            }
                        }
                    }
                    tracing::warn!(subject = %self.subject, sinks = %self.sinks, "Acknowledgement subscription ended; subscribing again.");
                }
                Err(error) => tracing::warn!(
                    subject = %self.subject,
                    sinks = %self.sinks,
                    %error,
                    retry_in_s = wait.as_secs(),
                    "Cannot listen for acknowledgements yet."
                ),
            }
            // Real time: reconnecting paces a live process.
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
            wait = (wait * 2).min(ACK_RETRY_MAX);
        }
    }

    async fn subscribe(&self) -> Result<async_nats::Subscriber, String> {
        let client = connect(&self.url, self.timeout).await?;
        client
            .queue_subscribe(self.subject.clone(), ACK_QUEUE_GROUP.to_string())
            .await
            .map_err(|e| format!("cannot subscribe: {e}"))
    }

    /// Acknowledges the ids of one message; whatever is wrong with it is
    /// logged, since the sender is not waiting for an answer.
    pub async fn handle(&self, body: &[u8]) {
        let Some(ids) = ack_ids(body) else {
            tracing::warn!(
                subject = %self.subject,
                bytes = body.len(),
                "Acknowledgement ignored: the body is neither an event id nor a JSON list of them."
            );
            return;
        };
        match self.store.ack_events(&ids, self.clock.now()).await {
            Ok(results) => {
                for (id, result) in ids.iter().zip(results) {
                    match result {
                        AckResult::Acknowledged => {
                            tracing::debug!(event = %id, "Completion event acknowledged over NATS.");
                        }
                        AckResult::AlreadyAcknowledged => {}
                        AckResult::Unknown => tracing::warn!(
                            event = %id,
                            subject = %self.subject,
                            "Acknowledgement for an unknown event id: no such event; nothing done."
                        ),
                    }
                }
            }
            Err(error) => tracing::error!(
                %error,
                ids = ids.len(),
                "Acknowledgements not recorded; the consumer should send them again."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ack_ids, connect, host_port, not_nats};
    use std::time::Duration;

    /// A NATS server's INFO line that arrives in two pieces is still a NATS
    /// server's: one read took "IN" for a stranger's answer.
    #[tokio::test]
    async fn an_info_line_in_two_pieces_is_a_nats_servers() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(b"IN").await.unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            stream
                .write_all(b"FO {\"server_id\":\"x\"}\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let verdict = not_nats(&format!("nats://127.0.0.1:{port}"), deadline).await;
        assert_eq!(verdict, None);
        server.await.unwrap();
    }

    /// A NATS server of its own that needs a user and password (the
    /// machine's shared one needs none), stopped when dropped.
    struct Guarded {
        child: std::process::Child,
        port: u16,
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    async fn guarded(user: &str, password: &str) -> Guarded {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["--user", user, "--pass", password])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH (.ci/run installs and starts it)");
        let server = Guarded { child, port };
        // Real time: the server takes a moment to listen.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not listen on {port}");
    }

    /// Before: a URL's user and password were read and never sent, so a
    /// server that needs them refused every connection.
    #[tokio::test]
    async fn a_urls_user_and_password_are_sent() {
        let server = guarded("probe", "S3cret/pw").await;
        let url = format!("nats://probe:S3cret%2Fpw@127.0.0.1:{}", server.port);
        let client = connect(&url, Duration::from_secs(5))
            .await
            .expect("authenticated");
        client.flush().await.expect("a round trip");
        let wrong = format!("nats://probe:Wr0ngPassw0rd@127.0.0.1:{}", server.port);
        let refused = connect(&wrong, Duration::from_secs(5))
            .await
            .expect_err("a wrong password is refused");
        assert!(refused.starts_with("cannot connect to NATS: "), "{refused}");
        assert!(!refused.contains("Wr0ng"), "{refused}");
    }

    #[test]
    fn a_server_list_entry_gives_its_host_and_port() {
        let hp = |s: &str| host_port(s).map(|(h, p)| format!("{h} {p}"));
        assert_eq!(
            hp("nats://127.0.0.1:4333").as_deref(),
            Some("127.0.0.1 4333")
        );
        assert_eq!(hp("tls://bus.example").as_deref(), Some("bus.example 4222"));
        assert_eq!(hp("localhost:5222").as_deref(), Some("localhost 5222"));
        assert_eq!(hp("nats://[::1]:4222").as_deref(), Some("::1 4222"));
        assert_eq!(hp("ws://bus.example:80"), None);
    }

    #[test]
    fn an_ack_body_is_an_id_a_json_string_or_a_json_list() {
        assert_eq!(ack_ids(b" abc \n"), Some(vec!["abc".to_string()]));
        assert_eq!(ack_ids(b"\"abc\""), Some(vec!["abc".to_string()]));
        assert_eq!(
            ack_ids(br#"["a", "b"]"#),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(ack_ids(b""), None);
        assert_eq!(ack_ids(b"a b"), None);
        assert_eq!(ack_ids(b"[1, 2]"), None);
        assert_eq!(ack_ids(&[0xff, 0xfe]), None);
    }
}
