//! The hand-off publisher's NATS sinks (issue 14) against the real NATS
//! JetStream server of this machine, each test on its own stream and
//! subjects: the stream is created with the sink's settings, every event
//! lands once with `Nats-Msg-Id` = event id on its subject (dots in dataset
//! names mapped), a redelivery is dropped by the server's duplicate window,
//! a NATS that is down leaves events pending without its address in any
//! error, and acknowledgements published on the ack subject reach the
//! outbox.

use super::handoff::{publisher, record_events, setup};
use rebound_domain::clock::Clock;
use rebound_domain::handoff::nats::SubjectTemplate;
use rebound_domain::handoff::{EVENT_STATUSES, HandoffSink, HandoffSinkKind, NatsSink};
use rebound_service::handoff::nats::{AckListener, NatsPublisher, ack_listeners};
use rebound_testkit::nats::{NATS_URL, TestStream};
use std::collections::BTreeMap;
use std::time::Duration;

fn nats_sink(name: &str, url: &str, stream: &TestStream) -> HandoffSink {
    HandoffSink {
        name: name.to_string(),
        kind: HandoffSinkKind::Nats,
        url: url.to_string(),
        signing_secret: None,
        datasets: Vec::new(),
        statuses: EVENT_STATUSES.to_vec(),
        timeout: Duration::from_secs(2),
        nats: Some(NatsSink {
            subject: SubjectTemplate::parse(&stream.subject_template()).unwrap(),
            stream: stream.stream.clone(),
            max_age: Duration::from_secs(3_600),
            dedupe_window: Duration::from_secs(600),
            ack_subject: stream.ack_subject(),
        }),
    }
}

#[tokio::test]
async fn every_event_lands_once_with_its_msg_id_on_its_subject_in_order() {
    let s = setup().await;
    let stream = TestStream::new().await;
    let events = record_events(s.store.as_ref(), 12, s.clock.now()).await;
    // The events are a millisecond apart, from now: let them all be due.
    s.clock.advance(Duration::from_secs(1));
    let sink = nats_sink("bus", NATS_URL, &stream);
    let p = publisher(&s, vec![sink.clone()]);
    let round = p.publish_due().await.unwrap();
    assert_eq!((round.claimed, round.published), (12, 12), "{round:?}");

    // Created by Rebound with the sink's settings.
    let config = stream.config().await.expect("the stream was created");
    assert_eq!(config.subjects, vec![format!("{}.*.*", stream.prefix)]);
    assert_eq!(config.max_age, Duration::from_secs(3_600));
    assert_eq!(config.duplicate_window, Duration::from_secs(600));

    let stored = stream.messages().await;
    assert_eq!(stored.len(), 12);
    for (event_id, dataset, status) in &events {
        let message = stored
            .iter()
            .find(|m| m.msg_id.as_deref() == Some(event_id.as_str()))
            .unwrap_or_else(|| panic!("{event_id} not in the stream"));
        let token = dataset.replace('.', "_");
        assert_eq!(
            message.subject,
            format!("{}.{token}.{status}", stream.prefix)
        );
        let body: serde_json::Value = serde_json::from_str(&message.payload).unwrap();
        assert_eq!(body["event_id"], event_id.as_str());
    }
    // Each dataset's events in call order (the publisher's order rule).
    for dataset in ["boxscores", "odds.events", "injuries"] {
        let want: Vec<&str> = events
            .iter()
            .filter(|e| e.1 == dataset)
            .map(|e| e.0.as_str())
            .collect();
        let got: Vec<&str> = stored
            .iter()
            .filter(|m| {
                m.subject
                    .contains(&format!(".{}.", dataset.replace('.', "_")))
            })
            .filter_map(|m| m.msg_id.as_deref())
            .collect();
        assert_eq!(got, want, "{dataset}");
    }
    assert!(
        s.store
            .completion_events(Some("pending"), 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A redelivery (a lost acknowledgement, a publish taken over after a
    // crash) is acknowledged by JetStream and dropped by its duplicate
    // window: the stream still holds each event once.
    let rows = s.store.completion_events(None, 100).await.unwrap();
    let again = NatsPublisher::new();
    for row in &rows[..4] {
        again.publish(&sink, row).await.unwrap();
    }
    assert_eq!(stream.messages().await.len(), 12);
    stream.delete().await;
}

#[tokio::test]
async fn a_down_nats_leaves_events_pending_and_never_names_its_address() {
    let s = setup().await;
    let stream = TestStream::new().await;
    record_events(s.store.as_ref(), 3, s.clock.now()).await;
    s.clock.advance(Duration::from_secs(1));
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let down_url = format!("nats://127.0.0.1:{port}");
    let p = publisher(&s, vec![nats_sink("bus", &down_url, &stream)]);
    let started = std::time::Instant::now();
    let round = p.publish_due().await.unwrap();
    // One dataset's first event is tried, the rest wait behind it.
    assert_eq!(round.published, 0, "{round:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pending = s
        .store
        .completion_events(Some("pending"), 100)
        .await
        .unwrap();
    assert_eq!(pending.len(), 3);
    let errors: Vec<&str> = pending
        .iter()
        .filter_map(|e| e.last_error.as_deref())
        .collect();
    assert!(!errors.is_empty());
    for error in errors {
        assert!(
            error.contains("sink bus: cannot connect to NATS"),
            "{error}"
        );
        assert!(!error.contains(&port.to_string()), "{error}");
    }

    // Back up (the right server): the next publisher sends them all.
    s.clock.advance(Duration::from_secs(600));
    let p = publisher(&s, vec![nats_sink("bus", NATS_URL, &stream)]);
    let round = p.publish_due().await.unwrap();
    assert_eq!(round.published, 3, "{round:?}");
    assert_eq!(stream.messages().await.len(), 3);
    stream.delete().await;
}

/// A loopback server that answers every connection with `reply` and hangs
/// up: something other than NATS at a sink's address.
async fn not_nats(reply: &'static [u8]) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(reply).await;
            let _ = socket.shutdown().await;
        }
    });
    (port, task)
}

/// Before: a sink whose URL led to something other than NATS (an HTTP
/// server) failed with "cannot connect to NATS: IO error", which reads as
/// a network fault. Now the error says the server did not answer as a
/// NATS server and quotes the start of what it sent, escaped; the address
/// stays out of it (the URL is a secret).
#[tokio::test]
async fn a_server_that_does_not_speak_nats_is_named_as_such() {
    let s = setup().await;
    let stream = TestStream::new().await;
    record_events(s.store.as_ref(), 1, s.clock.now()).await;
    s.clock.advance(Duration::from_secs(1));
    let (port, server) = not_nats(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let url = format!("nats://127.0.0.1:{port}");
    let p = publisher(&s, vec![nats_sink("bus", &url, &stream)]);
    let round = p.publish_due().await.unwrap();
    assert_eq!(round.published, 0, "{round:?}");
    let pending = s
        .store
        .completion_events(Some("pending"), 100)
        .await
        .unwrap();
    let error = pending
        .iter()
        .find_map(|e| e.last_error.clone())
        .expect("an error");
    assert_eq!(
        error,
        "sink bus: cannot connect to NATS: the server did not answer as a NATS server (it sent \"HTTP/1.1 400 Bad Request\")",
    );
    assert!(!error.contains(&port.to_string()), "{error}");

    // Control characters and bidi controls in what it sent are escaped.
    let (port, control) = not_nats(b"\x1b[2J\xe2\x80\xaeoops\x00 and more\r\n").await;
    let error = rebound_service::handoff::nats::connect(
        &format!("nats://127.0.0.1:{port}"),
        Duration::from_secs(2),
    )
    .await
    .expect_err("not NATS");
    assert_eq!(
        error,
        "cannot connect to NATS: the server did not answer as a NATS server (it sent \"\\u{1b}[2J\\u{202e}oops\\u{0} and more\")",
    );
    // The real server still connects.
    rebound_service::handoff::nats::connect(NATS_URL, Duration::from_secs(2))
        .await
        .expect("the real NATS server");
    server.abort();
    control.abort();
    stream.delete().await;
}

/// A stream of the sink's name made elsewhere, taking only some of the
/// sink's subjects: the events stay pending with an error that says which
/// subjects the stream takes, instead of each publish failing with "no
/// stream found for given subject".
#[tokio::test]
async fn a_stream_that_misses_the_sinks_subjects_is_named_with_its_subjects() {
    let s = setup().await;
    let stream = TestStream::new().await;
    let narrow = format!("{}.other.*", stream.prefix);
    stream.create_with_subjects(vec![narrow.clone()]).await;
    record_events(s.store.as_ref(), 2, s.clock.now()).await;
    s.clock.advance(Duration::from_secs(1));
    let p = publisher(&s, vec![nats_sink("bus", NATS_URL, &stream)]);
    let round = p.publish_due().await.unwrap();
    assert_eq!(round.published, 0, "{round:?}");
    let pending = s
        .store
        .completion_events(Some("pending"), 100)
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    let error = pending
        .iter()
        .find_map(|e| e.last_error.clone())
        .expect("an error");
    assert!(
        error.contains(&format!(
            "exists but takes only {narrow}, not all of this sink's subjects ({}.*.*)",
            stream.prefix
        )),
        "{error}"
    );
    assert!(stream.messages().await.is_empty());
    stream.delete().await;
}

#[tokio::test]
async fn acks_on_the_ack_subject_acknowledge_events_and_unknown_ids_do_no_harm() {
    let s = setup().await;
    let stream = TestStream::new().await;
    let events = record_events(s.store.as_ref(), 3, s.clock.now()).await;
    let sinks: BTreeMap<String, HandoffSink> = [
        nats_sink("a", NATS_URL, &stream),
        // A second sink on the same server and subject: one subscription.
        nats_sink("b", NATS_URL, &stream),
    ]
    .into_iter()
    .map(|k| (k.name.clone(), k))
    .collect();
    let listeners: Vec<AckListener> = ack_listeners(s.store.clone(), &sinks, s.clock.clone());
    assert_eq!(listeners.len(), 1);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(listeners.into_iter().next().unwrap().run(stopped));

    // Core NATS drops what nobody listens to yet, so the consumer's acks
    // are sent again until the subscription is up (acks are idempotent).
    let one = format!("\"{}\"", events[0].0);
    let list = format!(r#"["{}", "no-such-event", "{}"]"#, events[1].0, events[2].0);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        stream.send_ack(&one).await;
        stream.send_ack(&list).await;
        stream.send_ack("not an id").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let acked = s
            .store
            .completion_events(Some("acknowledged"), 100)
            .await
            .unwrap();
        if acked.len() == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of 3 acknowledged",
            acked.len()
        );
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the listener stops")
        .unwrap();
}
