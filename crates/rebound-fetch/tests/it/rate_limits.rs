//! Source-wide pauses and the per-source rate limit, against the simulated
//! upstream over loopback, on a manual clock. The assertions are on counts
//! and on the clock readings the fetcher recorded for each attempt, never
//! on real elapsed time.

use super::{DEFAULT_RETRY, Harness, SECRET, harness, plan};
use chrono::{DateTime, TimeZone, Utc};
use rebound_domain::clock::Clock;
use rebound_domain::clock::ManualClock;
use rebound_domain::outcome::{ErrorKind, ScraperStatus};
use rebound_fetch::{CallResult, CallSpec, Fetcher};
use rebound_upstream_sim::{Reply, UpstreamSim};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// More scrapers on source `up`, appended after its keys.
fn scrapers(source_keys: &str) -> String {
    format!(
        "{source_keys}\n\
         [scrapers.a]\nsource = \"up\"\npath = \"/t/a\"\n\
         [scrapers.b]\nsource = \"up\"\npath = \"/t/b\"\n"
    )
}

const ONE_ATTEMPT: &str = "max_attempts = 1\njitter = \"none\"";

fn ok(n: usize) -> Vec<Reply> {
    vec![Reply::text(200, "ok"); n]
}

/// Runs `n` calls of each scraper concurrently, arriving interleaved
/// (a, b, a, b, …); results come back in that order.
async fn concurrently(h: &Harness, names: &[&str], n: usize) -> Vec<CallResult> {
    let calls = (0..n)
        .flat_map(|_| names.iter().copied())
        .map(|name| h.call(name));
    futures_join_all(calls).await
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    // A hand-rolled join_all: poll every future until all are done.
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

fn starts(results: &[CallResult]) -> Vec<DateTime<Utc>> {
    let mut starts: Vec<_> = results
        .iter()
        .flat_map(|r| r.attempts.iter().map(|a| a.started_at))
        .collect();
    starts.sort();
    starts
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_every_scraper_of_the_source() {
    let h = harness(ONE_ATTEMPT, &scrapers("")).await;
    h.sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "30")],
    );
    h.sim.script("/t/a", ok(3));
    h.sim.script("/t/b", ok(3));
    let throttled = h.call("plain").await;
    assert_eq!(throttled.error_kind, Some(ErrorKind::Throttled));
    let seen_at = throttled.attempts[0].finished_at;
    let results = concurrently(&h, &["a", "b"], 3).await;
    assert!(results.iter().all(|r| r.status == ScraperStatus::Success));
    // No request of any scraper of the source started before the
    // Retry-After had passed on the clock...
    let resume = seen_at + chrono::Duration::seconds(30);
    for start in starts(&results) {
        assert!(start >= resume, "request at {start}, pause until {resume}");
    }
    // ...and the server saw exactly the 429 and then the six calls.
    let paths: Vec<String> = h.sim.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 7);
    assert_eq!(paths[0], "/t/plain");
    // The first caller in line slept the pause; the others found it over.
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
    assert_eq!(
        results.iter().map(|r| r.attempts[0].delay_before).max(),
        Some(Duration::from_secs(30))
    );
}

/// `pause_on_rate_limit = false` (issue 17): the 429's Retry-After is
/// the call's own business; the source's next call goes out at once.
#[tokio::test]
async fn with_pause_on_rate_limit_false_a_429_pauses_nothing_but_its_own_call() {
    let h = harness(ONE_ATTEMPT, &scrapers("pause_on_rate_limit = false")).await;
    h.sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "30")],
    );
    h.sim.script("/t/a", ok(1));
    let throttled = h.call("plain").await;
    assert_eq!(throttled.error_kind, Some(ErrorKind::Throttled));
    let seen_at = throttled.attempts[0].finished_at;
    let next = h.call("a").await;
    assert_eq!(next.status, ScraperStatus::Success);
    assert_eq!(next.attempts[0].started_at, seen_at, "sent at once");
    assert_eq!(next.attempts[0].delay_before, Duration::ZERO);
    assert!(h.clock.sleeps().is_empty(), "{:?}", h.clock.sleeps());
    assert_eq!(h.sim.requests().len(), 2);

    // The call that got the 429 still waits its Retry-After before its
    // own retry (`respect_retry_after`), and nothing else does.
    let h = harness(DEFAULT_RETRY, &scrapers("pause_on_rate_limit = false")).await;
    h.sim.script(
        "/t/plain",
        vec![
            Reply::text(429, "slow down").header("Retry-After", "30"),
            Reply::text(200, "ok"),
        ],
    );
    let retried = h.call("plain").await;
    assert_eq!(retried.status, ScraperStatus::Success);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
    h.sim.script("/t/a", ok(1));
    let after = h.call("a").await;
    assert_eq!(after.attempts[0].delay_before, Duration::ZERO);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
}

/// The default keeps the pause: the same 429 defers the source's next
/// call when the pause is longer than the inline limit.
#[tokio::test]
async fn by_default_a_429_defers_the_sources_next_call() {
    let sim = UpstreamSim::start().await.unwrap();
    let mut plan = plan(&sim.base_url(), ONE_ATTEMPT, &scrapers(""));
    assert!(plan.sources["up"].pause_on_rate_limit);
    plan.scheduler.max_inline_wait = Duration::from_secs(5);
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap();
    let params = BTreeMap::new();
    let call = |name: &str| {
        fetcher.call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers[name],
            params: &params,
        })
    };
    sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "30")],
    );
    sim.script("/t/a", ok(1));
    assert_eq!(call("plain").await.error_kind, Some(ErrorKind::Throttled));
    let next = call("a").await;
    assert!(next.attempts.is_empty(), "not sent");
    assert_eq!(
        next.deferred_until,
        Some(t0 + chrono::Duration::seconds(30))
    );
    assert_eq!(sim.requests().len(), 1);

    // The same with the pause switched off: sent at once, and it succeeds.
    let mut plan = self::plan(
        &sim.base_url(),
        ONE_ATTEMPT,
        &scrapers("pause_on_rate_limit = false"),
    );
    plan.scheduler.max_inline_wait = Duration::from_secs(5);
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap();
    let call = |name: &str| {
        fetcher.call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers[name],
            params: &params,
        })
    };
    sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "30")],
    );
    assert_eq!(call("plain").await.error_kind, Some(ErrorKind::Throttled));
    let next = call("a").await;
    assert_eq!(next.status, ScraperStatus::Success);
    assert_eq!(next.deferred_until, None);
    assert_eq!(sim.requests().len(), 3);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_pause_longer_than_the_inline_limit_defers_without_a_request() {
    let sim = UpstreamSim::start().await.unwrap();
    let mut plan = plan(&sim.base_url(), DEFAULT_RETRY, &scrapers(""));
    plan.scheduler.max_inline_wait = Duration::from_secs(5);
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap();
    let params = BTreeMap::new();
    let call = |name: &str| {
        fetcher.call(CallSpec {
            source: &plan.sources["up"],
            scraper: &plan.scrapers[name],
            params: &params,
        })
    };
    sim.script(
        "/t/plain",
        vec![Reply::text(429, "slow down").header("Retry-After", "120")],
    );
    let first = call("plain").await;
    assert_eq!(
        first.deferred_until,
        Some(t0 + chrono::Duration::seconds(120))
    );
    let second = call("a").await;
    assert_eq!(second.status, ScraperStatus::Failed);
    assert_eq!(second.error_kind, Some(ErrorKind::Throttled));
    assert!(second.attempts.is_empty());
    assert_eq!(
        second.deferred_until,
        Some(t0 + chrono::Duration::seconds(120))
    );
    assert_eq!(
        second.message.as_deref(),
        Some(
            "source up paused until 2026-01-05 05:02:00 EST (-05:00) (HTTP 429 with Retry-After 120s): \
             the wait (120s) exceeds the inline wait limit (5s): retry stored for 2026-01-05 05:02:00 EST (-05:00)"
        )
    );
    assert_eq!(sim.requests().len(), 1, "nothing sent while paused");
    assert!(clock.sleeps().is_empty());
    // Once the pause is over, calls go out again.
    clock.advance(Duration::from_secs(120));
    sim.script("/t/a", ok(1));
    assert_eq!(call("a").await.status, ScraperStatus::Success);
}

#[tokio::test]
async fn x_ratelimit_remaining_zero_pauses_the_source_until_reset() {
    let h = harness(DEFAULT_RETRY, &scrapers("")).await;
    // Reset as delta-seconds.
    h.sim.script(
        "/t/a",
        vec![
            Reply::text(200, "ok")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", "60"),
        ],
    );
    h.sim.script("/t/b", ok(1));
    let first = h.call("a").await;
    assert_eq!(first.status, ScraperStatus::Success);
    let second = h.call("b").await;
    assert_eq!(second.status, ScraperStatus::Success);
    assert!(second.attempts[0].started_at >= first.finished_at + chrono::Duration::seconds(60));
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(60)]);

    // Reset as epoch seconds: detected by its size.
    let reset = (h.clock.now().timestamp() + 45).to_string();
    h.sim.script(
        "/t/a",
        vec![
            Reply::text(200, "ok")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset),
        ],
    );
    h.sim.script("/t/b", ok(1));
    let third = h.call("a").await;
    let fourth = h.call("b").await;
    assert!(fourth.attempts[0].started_at >= third.finished_at + chrono::Duration::seconds(45));
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_secs(60), Duration::from_secs(45)]
    );
    // Remaining above zero pauses nothing.
    h.sim.script(
        "/t/a",
        vec![
            Reply::text(200, "ok")
                .header("x-ratelimit-remaining", "7")
                .header("x-ratelimit-reset", "600"),
        ],
    );
    h.sim.script("/t/b", ok(1));
    h.call("a").await;
    h.call("b").await;
    assert_eq!(h.clock.sleeps().len(), 2);
}

#[tokio::test]
async fn the_ratelimit_header_pauses_the_source() {
    let h = harness(DEFAULT_RETRY, &scrapers("")).await;
    h.sim.script(
        "/t/a",
        vec![Reply::text(200, "ok").header("RateLimit", "\"default\";r=0;t=30")],
    );
    h.sim.script("/t/b", ok(1));
    let first = h.call("a").await;
    let second = h.call("b").await;
    assert!(second.attempts[0].started_at >= first.finished_at + chrono::Duration::seconds(30));
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
}

#[tokio::test]
async fn rate_limit_20_per_minute_over_100_calls() {
    let h = harness(DEFAULT_RETRY, &scrapers("rate_limit = \"20/min\"")).await;
    h.sim.script("/t/a", ok(50));
    h.sim.script("/t/b", ok(50));
    let t0 = h.clock.now();
    let results = concurrently(&h, &["a", "b"], 50).await;
    assert!(results.iter().all(|r| r.status == ScraperStatus::Success));
    assert_eq!(h.sim.requests().len(), 100);
    let starts = starts(&results);
    assert_eq!(starts.len(), 100);
    let mut busiest = 0;
    for (i, start) in starts.iter().enumerate() {
        let window = starts[i..]
            .iter()
            .take_while(|s| **s < *start + chrono::Duration::seconds(60))
            .count();
        busiest = busiest.max(window);
    }
    assert_eq!(busiest, 20, "at most 20 requests in any simulated minute");
    // Evenly spread: 100 requests take 99 intervals of 3 s.
    assert_eq!(
        *starts.last().unwrap() - t0,
        chrono::Duration::seconds(99 * 3)
    );
    // Shared fairly (FIFO in arrival order): each scraper got about half
    // of the first 20 slots.
    let mut first: Vec<(DateTime<Utc>, bool)> = results
        .iter()
        .enumerate()
        .map(|(i, r)| (r.attempts[0].started_at, i % 2 == 0))
        .collect();
    first.sort();
    let a_in_first_20 = first.iter().take(20).filter(|(_, a)| *a).count();
    assert!((5..=15).contains(&a_in_first_20), "{a_in_first_20}");
}

#[tokio::test]
async fn the_quota_remaining_header_is_reported() {
    let h = harness(
        DEFAULT_RETRY,
        &scrapers("quota = { per = \"day\", requests = 100, remaining_header = \"X-Requests-Remaining\" }"),
    )
    .await;
    h.sim.script(
        "/t/a",
        vec![Reply::text(200, "ok").header("x-requests-remaining", "42")],
    );
    assert_eq!(h.call("a").await.quota_remaining, Some(42));
    h.sim.script("/t/a", ok(1));
    assert_eq!(h.call("a").await.quota_remaining, None);
}

/// The second call of the source after an absurd wait was asked for: refused
/// at admission, nothing sent, kind `throttled`, and the pause it names is
/// the clamped one (a year after the response), not an overflow.
async fn refused_after_absurd_pause(h: &Harness, paused_at: DateTime<Utc>, cause: &str) {
    let before = h.sim.requests().len();
    let refused = h.call("b").await;
    assert_eq!(refused.status, ScraperStatus::Failed);
    assert_eq!(refused.error_kind, Some(ErrorKind::Throttled));
    assert!(refused.attempts.is_empty());
    assert_eq!(refused.deferred_until, None);
    let until = paused_at + chrono::Duration::days(365);
    assert_eq!(
        refused.message.as_deref(),
        Some(
            format!(
                "source up paused until {} ({cause}), longer than max_retry_after 10m; not sent",
                rebound_domain::message::when_exact(until, chrono_tz::America::New_York)
            )
            .as_str()
        )
    );
    assert_eq!(h.sim.requests().len(), before, "nothing sent while paused");
    assert!(h.clock.sleeps().is_empty(), "{:?}", h.clock.sleeps());
}

#[tokio::test]
async fn retry_after_1e30_gives_up_with_the_max_retry_after_message() {
    // Once ignored as garbage: the call retried after the normal backoff.
    let h = harness(DEFAULT_RETRY, &scrapers("")).await;
    h.sim.script(
        "/t/a",
        vec![
            Reply::text(429, "slow down").header("Retry-After", "1e30"),
            Reply::text(200, "ok"),
        ],
    );
    let first = h.call("a").await;
    assert_eq!(first.status, ScraperStatus::Failed);
    assert_eq!(first.error_kind, Some(ErrorKind::Throttled));
    assert_eq!(first.attempts.len(), 1, "not retried");
    assert_eq!(
        first.message.as_deref(),
        Some(
            "HTTP 429 after 1 attempt, gave up: server asked to retry after 365d, \
             longer than max_retry_after 10m; body: slow down"
        )
    );
    assert_eq!(h.sim.request_count("/t/a"), 1);
    refused_after_absurd_pause(&h, first.finished_at, "HTTP 429 with Retry-After 31536000s").await;
}

#[tokio::test]
async fn x_ratelimit_reset_1e30_on_a_200_pauses_the_source_clamped() {
    // Once a panic in `Duration::from_secs_f64`; 10^18 (epoch milliseconds)
    // once overflowed `DateTime + TimeDelta`.
    for reset in ["1e30", "1000000000000000000"] {
        let h = harness(DEFAULT_RETRY, &scrapers("")).await;
        h.sim.script(
            "/t/a",
            vec![
                Reply::text(200, "ok")
                    .header("X-RateLimit-Remaining", "0")
                    .header("X-RateLimit-Reset", reset),
            ],
        );
        let first = h.call("a").await;
        assert_eq!(first.status, ScraperStatus::Success, "{reset}");
        refused_after_absurd_pause(
            &h,
            first.finished_at,
            "X-RateLimit-Remaining 0, reset in 31536000s",
        )
        .await;
    }
}

/// Before: a server that sent `RateLimit-Remaining: -1` (a bogus negative
/// count) paused the source with a message quoting `RateLimit-Remaining 0`,
/// a value it never sent. A negative count is read as none left (it is a
/// number, so not warned of as unreadable), and every message quotes the
/// value as the server sent it.
#[tokio::test]
async fn a_negative_remaining_pauses_and_is_quoted_as_sent() {
    let warnings = Warnings::default();
    let _capture = warnings.capture();
    for (headers, cause) in [
        (
            [("RateLimit-Remaining", "-1"), ("RateLimit-Reset", "1e30")],
            "RateLimit-Remaining -1, RateLimit-Reset 31536000s",
        ),
        (
            [
                ("X-RateLimit-Remaining", " -1 "),
                ("X-RateLimit-Reset", "1e30"),
            ],
            "X-RateLimit-Remaining -1, reset in 31536000s",
        ),
        (
            [("RateLimit", "\"default\";r=-1;t=1e30"), ("X-Other", "1")],
            "RateLimit: -1 remaining, reset in 31536000s",
        ),
    ] {
        let h = harness(DEFAULT_RETRY, &scrapers("")).await;
        let mut reply = Reply::text(200, "ok");
        for (name, value) in headers {
            reply = reply.header(name, value);
        }
        h.sim.script("/t/a", vec![reply]);
        let first = h.call("a").await;
        assert_eq!(first.status, ScraperStatus::Success, "{cause}");
        refused_after_absurd_pause(&h, first.finished_at, cause).await;
        let lines = warnings.take();
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("Rate-limit header ignored")),
            "{lines:#?}"
        );
    }
}

/// What the calls of a test log at warn and above, as text.
#[derive(Clone, Default)]
struct Warnings(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Warnings {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Warnings {
    /// Collects this thread's warnings until the guard is dropped (a
    /// `#[tokio::test]` runs its calls on this thread).
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The lines logged since the last take.
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Before: a rate-limit header whose value could not be read was ignored
/// without a word (an upstream that changed its format just stopped
/// pausing the source), while an unreadable quota header got a warning.
/// Now each is ignored the same way, with a warning naming the source,
/// the scraper and the header; its value is shown as the quota warning
/// shows it, with the config's secrets masked.
#[tokio::test]
async fn an_unreadable_rate_limit_header_is_ignored_with_a_warning() {
    let warnings = Warnings::default();
    let _capture = warnings.capture();
    let h = harness(ONE_ATTEMPT, &scrapers("")).await;
    let unreadable = [
        // An upstream echoing the API key where a delay belongs.
        ("Retry-After", SECRET, 429, "retry-after"),
        ("RateLimit", "\"default\";r=0;t=soon", 200, "ratelimit"),
        ("RateLimit-Remaining", "many", 200, "ratelimit-remaining"),
        // Digits, but not ASCII ones: a value that is not visible ASCII
        // was once dropped before any parser saw it.
        ("RateLimit-Reset", "١٢", 200, "ratelimit-reset"),
        ("X-RateLimit-Remaining", "", 200, "x-ratelimit-remaining"),
        ("X-RateLimit-Reset", "-3", 200, "x-ratelimit-reset"),
    ];
    for (name, value, status, header) in unreadable {
        let mut reply = Reply::text(status, "body").header(name, value);
        // A reset's pair, so the reset would pause if it were read.
        for pair in ["RateLimit-Remaining", "X-RateLimit-Remaining"] {
            if pair != name {
                reply = reply.header(pair, "0");
            }
        }
        h.sim.script("/t/plain", vec![reply]);
        let _ = h.call("plain").await;
        let lines = warnings.take();
        let ignored: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("Rate-limit header ignored"))
            .collect();
        // The pair's zero is readable: only the header under test is named.
        assert_eq!(ignored.len(), 1, "{name}: {value:?}: {lines:#?}");
        let line = ignored[0];
        assert!(line.contains(" WARN "), "{line}");
        for part in [
            "source=up".to_string(),
            "scraper=plain".to_string(),
            format!("header=\"{header}\""),
            "expected=".to_string(),
        ] {
            assert!(line.contains(&part), "{name}: {part} missing: {line}");
        }
        assert!(!line.contains(SECRET), "the secret leaked: {line}");
        if value == SECRET {
            assert!(line.contains("value=***"), "{line}");
        } else if !value.is_empty() {
            assert!(line.contains(&format!("value={value}")), "{line}");
        }
    }
    // Ignored as if absent: nothing paused the source, nothing was slept.
    assert!(h.clock.sleeps().is_empty(), "{:?}", h.clock.sleeps());
    h.sim.script("/t/a", ok(1));
    assert_eq!(h.call("a").await.status, ScraperStatus::Success);

    // Readable headers, including a paused source's: no warning.
    h.sim.script(
        "/t/b",
        vec![
            Reply::text(200, "ok")
                .header("RateLimit", "\"default\";r=5;t=30")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", "1"),
        ],
    );
    assert_eq!(h.call("b").await.status, ScraperStatus::Success);
    assert_eq!(warnings.take(), Vec::<String>::new());
}

/// A source that does not pause reads none of the `RateLimit` headers, so
/// an unreadable one is not worth a warning; its Retry-After is still read
/// by the call's retry policy, so an unreadable one still is.
#[tokio::test]
async fn a_source_that_does_not_pause_warns_only_of_an_unreadable_retry_after() {
    let warnings = Warnings::default();
    let _capture = warnings.capture();
    let h = harness(ONE_ATTEMPT, &scrapers("pause_on_rate_limit = false")).await;
    h.sim.script(
        "/t/plain",
        vec![
            Reply::text(429, "slow down")
                .header("Retry-After", "soon")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", "later"),
        ],
    );
    assert_eq!(h.call("plain").await.error_kind, Some(ErrorKind::Throttled));
    let lines = warnings.take();
    let headers: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains("Rate-limit header ignored"))
        .filter_map(|l| l.split("header=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(headers, ["retry-after"], "{lines:#?}");
}

/// Before: an upstream that always sends a malformed header got a warning
/// on every attempt of every call (nine attempts here, nine identical
/// lines), a log flood like the alert floods of the system Rebound
/// replaces. Now each (source, header) warning is logged once, then at
/// most once an hour on the fetcher's clock, saying how many it stands for;
/// another header or another source has its own.
#[tokio::test]
async fn an_unreadable_header_is_warned_of_once_an_hour_per_source_and_header() {
    let warnings = Warnings::default();
    let _capture = warnings.capture();
    let sim = UpstreamSim::start().await.unwrap();
    let other = format!(
        "[sources.other]\nbase_url = \"{}\"\n\
         quota = {{ per = \"day\", requests = 1000, remaining_header = \"X-Left\" }}\n\
         [scrapers.o]\nsource = \"other\"\npath = \"/t/o\"\n",
        sim.base_url()
    );
    let plan = plan(
        &sim.base_url(),
        DEFAULT_RETRY,
        &format!("{}{other}", scrapers("")),
    );
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let fetcher = Fetcher::new(&plan, clock.clone()).unwrap().with_seed(7);
    let h = Harness {
        sim,
        plan,
        clock,
        fetcher,
    };
    let throttled = || Reply::text(429, "slow down").header("Retry-After", "soon");
    // Which ignored-header warnings were logged since the last look, as
    // (source, header, suppressed).
    let logged = |lines: Vec<String>| -> Vec<(String, String, String)> {
        let field = |line: &str, name: &str| {
            let rest = line.split(&format!(" {name}=")).nth(1).unwrap_or("");
            rest.split(' ')
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string()
        };
        lines
            .iter()
            .filter(|l| l.contains("header ignored"))
            .map(|l| {
                (
                    field(l, "source"),
                    field(l, "header"),
                    field(l, "suppressed"),
                )
            })
            .collect()
    };
    let entry = |source: &str, header: &str, suppressed: u64| {
        (
            source.to_string(),
            header.to_string(),
            suppressed.to_string(),
        )
    };

    // Three calls of three attempts, each answered 429 with an unreadable
    // Retry-After (the retries wait their 2 s and 4 s backoff): one warning.
    for _ in 0..3 {
        h.sim.script("/t/plain", vec![throttled(); 3]);
        let result = h.call("plain").await;
        assert_eq!(result.attempts.len(), 3);
    }
    assert_eq!(h.sim.request_count("/t/plain"), 9);
    assert_eq!(logged(warnings.take()), [entry("up", "retry-after", 0)]);

    // Still within the hour on the clock: nothing more.
    h.clock.advance(Duration::from_secs(59 * 60));
    h.sim.script("/t/plain", vec![throttled(); 3]);
    let _ = h.call("plain").await;
    assert_eq!(logged(warnings.take()), []);

    // An hour after the warning: one more, standing for the eleven not logged.
    h.clock.advance(Duration::from_secs(60));
    h.sim.script("/t/plain", vec![throttled(); 3]);
    let _ = h.call("plain").await;
    assert_eq!(logged(warnings.take()), [entry("up", "retry-after", 2 + 9)]);

    // Another header of the same source has its own warning, once.
    let reset = || {
        Reply::text(200, "ok")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", "-3")
    };
    h.sim.script("/t/a", vec![reset(), reset()]);
    let _ = h.call("a").await;
    let _ = h.call("a").await;
    assert_eq!(
        logged(warnings.take()),
        [entry("up", "x-ratelimit-reset", 0)]
    );

    // The same header from another source has its own too, and so has
    // that source's unreadable quota header, each once for three calls.
    for _ in 0..3 {
        h.sim.script(
            "/t/o",
            vec![
                throttled().header("X-Left", "many"),
                Reply::text(200, "ok").header("X-Left", "many"),
            ],
        );
        assert_eq!(h.call("o").await.status, ScraperStatus::Success);
    }
    let mut seen = logged(warnings.take());
    seen.sort();
    assert_eq!(
        seen,
        [
            entry("other", "retry-after", 0),
            entry("other", "x-left", 0)
        ]
    );
}
