//! The real NATS JetStream server of this machine (`nats://127.0.0.1:4222`,
//! started by `.ci/run` when down) as tests use it: each test gets its own
//! stream and subjects ([`TestStream::new`]), so tests run side by side,
//! and reads back what the stream holds, headers included.

use async_nats::jetstream;
use std::time::Duration;

/// Where the test server listens.
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// One message as the stream stored it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub subject: String,
    /// The `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    pub payload: String,
}

/// A stream name and subject prefix no other test uses.
pub struct TestStream {
    /// The JetStream stream name (`T<hex>`).
    pub stream: String,
    /// The first token of every subject (`t<hex>`).
    pub prefix: String,
    client: async_nats::Client,
    js: jetstream::Context,
}

impl TestStream {
    /// Fresh names and a client; the stream itself is left to Rebound to
    /// create.
    pub async fn new() -> TestStream {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let client = async_nats::connect(NATS_URL)
            .await
            .expect("NATS JetStream at nats://127.0.0.1:4222 (.ci/run starts it)");
        let js = jetstream::new(client.clone());
        TestStream {
            stream: format!("T{id}"),
            prefix: format!("t{id}"),
            client,
            js,
        }
    }

    /// `t<hex>.{dataset}.{status}`.
    pub fn subject_template(&self) -> String {
        format!("{}.{{dataset}}.{{status}}", self.prefix)
    }

    /// `t<hex>.ack`.
    pub fn ack_subject(&self) -> String {
        format!("{}.ack", self.prefix)
    }

    /// A `[handoff.sinks.NAME]` table for this stream, its URL from
    /// `${url_var}`, with a 1-hour max_age so forgotten streams empty
    /// themselves.
    pub fn sink_toml(&self, name: &str, url_var: &str) -> String {
        format!(
            "\n[handoff.sinks.{name}]\nkind = \"nats\"\nurl = \"${{{url_var}}}\"\nsubject = \"{}\"\nstream = \"{}\"\nmax_age = \"1h\"\nack_subject = \"{}\"\ntimeout = \"2s\"\n",
            self.subject_template(),
            self.stream,
            self.ack_subject()
        )
    }

    /// Every message the stream holds, in order; empty when the stream
    /// does not exist.
    pub async fn messages(&self) -> Vec<StoredMessage> {
        let Ok(mut stream) = self.js.get_stream(&self.stream).await else {
            return Vec::new();
        };
        let state = stream.info().await.expect("stream info").state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else {
                continue;
            };
            out.push(StoredMessage {
                subject: message.subject.to_string(),
                msg_id: message
                    .headers
                    .get("Nats-Msg-Id")
                    .map(|v| v.as_str().to_string()),
                payload: String::from_utf8_lossy(&message.payload).into_owned(),
            });
        }
        out
    }

    /// Publishes `body` on the ack subject (core NATS, as a consumer would).
    pub async fn send_ack(&self, body: &str) {
        self.client
            .publish(self.ack_subject(), body.to_string().into())
            .await
            .expect("publish ack");
        self.client.flush().await.expect("flush");
    }

    /// Creates the stream taking only `subjects`, as someone else might
    /// have made it before Rebound.
    pub async fn create_with_subjects(&self, subjects: Vec<String>) {
        self.js
            .create_stream(jetstream::stream::Config {
                name: self.stream.clone(),
                subjects,
                max_age: std::time::Duration::from_secs(3_600),
                ..Default::default()
            })
            .await
            .expect("create the stream");
    }

    /// The stream's config as the server has it (`None`: no such stream).
    pub async fn config(&self) -> Option<jetstream::stream::Config> {
        let mut stream = self.js.get_stream(&self.stream).await.ok()?;
        Some(stream.info().await.ok()?.config.clone())
    }

    /// Waits (real time, at most `limit`) until `check` holds on the
    /// stream's messages; returns them.
    pub async fn wait_for(
        &self,
        limit: Duration,
        check: impl Fn(&[StoredMessage]) -> bool,
    ) -> Vec<StoredMessage> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let messages = self.messages().await;
            if check(&messages) || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes the stream (tests call it at their end).
    pub async fn delete(&self) {
        let _ = self.js.delete_stream(&self.stream).await;
    }
}
