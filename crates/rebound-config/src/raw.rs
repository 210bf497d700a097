//! Serde mirrors of the config file, key for key.
//!
//! These structs only say which keys exist and what TOML type each holds;
//! meaning (durations, URLs, references between sections) is checked later
//! by `resolve`, because `${VAR}` may stand in for any string and can only be
//! read once the environment is known. Every struct denies unknown keys so a
//! typo is an error instead of a silently ignored setting. Integers are read
//! as `i64` (TOML's own integer type) so that a negative or zero value gets
//! a sentence about the allowed range instead of serde's "expected u32".
//!
//! The doc comments here become the descriptions of [`crate::json_schema`],
//! which editors show as hover text: they are written for people editing the
//! file, not for people reading this code.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

mod alerts;
mod handoff;
pub(crate) use alerts::*;
pub(crate) use handoff::*;

/// A Rebound pipeline configuration (`rebound.toml`). Any string value may
/// contain `${VAR}`, replaced by the environment variable VAR when the file
/// is loaded (such values are treated as secrets and masked in output);
/// write `$${` for a literal `${`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Rebound configuration")]
pub(crate) struct RawConfig {
    /// The pipeline's name, time zone and storage locations.
    pub pipeline: RawPipeline,
    /// Default retry policy; each source and scraper may override any key
    /// with its own `retry` table.
    #[serde(default)]
    pub retry: RawRetry,
    /// Upstream APIs, by name.
    #[serde(default)]
    pub sources: BTreeMap<String, RawSource>,
    /// HTTP requests against a source, by name.
    #[serde(default)]
    pub scrapers: BTreeMap<String, RawScraper>,
    /// Scrapers grouped into ordered steps, by name.
    #[serde(default)]
    pub workflows: BTreeMap<String, RawWorkflow>,
    /// Event lists (e.g. the games of each date) read from the latest stored
    /// payload of a dataset, by name. Schedules and `for_each` refer to them.
    #[serde(default)]
    pub calendars: BTreeMap<String, RawCalendar>,
    /// How `rebound serve` evaluates schedules and runs workflows.
    #[serde(default)]
    pub scheduler: RawScheduler,
    /// Incidents and notifications: conditions, rate limits and sinks.
    #[serde(default)]
    pub alerts: RawAlerts,
    /// Freshness and completeness expectations per dataset (a name some
    /// scraper declares with `dataset = ...`), checked by `rebound health`
    /// and `rebound freshness`.
    #[serde(default)]
    pub datasets: BTreeMap<String, RawDataset>,
    /// The HTTP endpoint of `rebound serve` (Prometheus `/metrics`).
    #[serde(default)]
    pub server: RawServer,
    /// Hand-off to downstream: one completion event per recorded call,
    /// sent to these sinks (docs/handoff.md).
    #[serde(default)]
    pub handoff: RawHandoff,
}

/// `[datasets."NAME"]`: when the dataset is stale or incomplete. Every key
/// is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDataset {
    /// Warn when the newest payload that brought new data (records, not
    /// empty, not identical to the previous one) is older than this, e.g.
    /// "26h". Empty, no-data and unchanged answers never make data fresh.
    pub fresh_warn: Option<RawDuration>,
    /// Critical when it is older than this, e.g. "50h"; longer than
    /// `fresh_warn`.
    pub fresh_error: Option<RawDuration>,
    /// For a dataset fanned out over a calendar (`for_each = { calendar,
    /// param }`): every event of the target date must be collected by its
    /// start plus `after_event_start`.
    pub complete_by: Option<RawCompleteBy>,
}

/// `complete_by = { after_event_start = "6h", severity = "critical" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompleteBy {
    /// How long after an event's start its data must have been collected.
    pub after_event_start: RawDuration,
    /// How bad a shortfall past that deadline is: "warning" or "critical".
    /// Default: "warning".
    #[schemars(extend("enum" = ["warning", "critical"]))]
    pub severity: Option<String>,
}

/// `health = { path = "/status", expect_status = 200, timeout = "10s" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealthProbe {
    /// Path appended to `base_url`, starting with "/"; sent as a GET with
    /// the source's headers and query. May use the built-in date
    /// parameters (`{date}`, ...), no others.
    #[schemars(example = "/status")]
    pub path: String,
    /// The HTTP status a healthy source answers (100-599). Default: 200.
    #[schemars(range(min = 100, max = 599))]
    pub expect_status: Option<i64>,
    /// How long to wait for the answer. Default: "10s".
    pub timeout: Option<RawDuration>,
}

/// `[server]`: the HTTP endpoint of `rebound serve`. Without `listen`,
/// `rebound serve` opens no port.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    /// IP address and port on which `rebound serve` answers `/metrics`
    /// (Prometheus) and `/healthz`, e.g. "127.0.0.1:9464"; "0.0.0.0:9464"
    /// listens on every interface. Left out: no HTTP server.
    #[schemars(example = "127.0.0.1:9464")]
    pub listen: Option<String>,
    /// The bearer token of the JSON API under `/api/v1/`, best given as
    /// "${REBOUND_API_TOKEN}" (at least 16 characters; masked in every
    /// output). Mutations need it in `Authorization: Bearer`; without it,
    /// every mutation is refused. On a `listen` address other than
    /// loopback, reads need it too unless `public_read = true`.
    #[schemars(example = "${REBOUND_API_TOKEN}")]
    pub token: Option<String>,
    /// Lets anyone who reaches a non-loopback `listen` read the API and
    /// the dashboard without the token. Default: false (reads need the
    /// token off loopback; on loopback they never do).
    pub public_read: Option<bool>,
}

/// `[scheduler]`: timing of `rebound serve`. Every key is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScheduler {
    /// How long a running job is leased to this process; the lease is
    /// renewed at a third of it while the run works, and a job whose lease
    /// ran out may be taken over. Default: "60s".
    pub lease: Option<RawDuration>,
    /// Slots missed while the scheduler was down are run once, on start,
    /// when they are younger than this. Default: "6h".
    pub catch_up: Option<RawDuration>,
    /// Longest pause between two evaluations of the schedules, even when
    /// nothing is due. Default: "60s".
    pub max_idle: Option<RawDuration>,
    /// On shutdown, how long runs in flight may finish before they are
    /// released. Default: "30s".
    pub shutdown_grace: Option<RawDuration>,
    /// Retry waits longer than this are stored as scheduled work instead of
    /// being slept in place. Default: "5s".
    pub max_inline_wait: Option<RawDuration>,
}

/// `[calendars.NAME]`: the events (games) of each date, read from the
/// latest stored payload of a dataset.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    /// Dataset whose latest payload lists the events; some scraper must
    /// produce it.
    #[schemars(example = "nba_com/schedule")]
    pub dataset: String,
    /// RFC 9535 JSONPath selecting the event objects in that payload.
    #[schemars(example = "$.leagueSchedule.gameDates[*].games[*]")]
    pub events: String,
    /// Member of each event holding its id (a string or a number).
    #[schemars(example = &"gameId")]
    pub id: String,
    /// Member of each event holding its start time (RFC 3339); the event
    /// belongs to the date of that time in the pipeline's time zone.
    #[schemars(example = &"gameDateTimeUTC")]
    pub start: String,
    /// Run a scraper to refresh the dataset before the calendar is used,
    /// when its latest payload is too old.
    pub refresh: Option<RawCalendarRefresh>,
}

/// `refresh = { scraper = "...", max_age = "6h" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendarRefresh {
    /// The scraper that produces the calendar's dataset.
    pub scraper: String,
    /// Refresh when the latest payload is older than this.
    pub max_age: RawDuration,
    /// A different max_age in force until `override_until` (or always, if
    /// that is left out), e.g. "48h" while the schedule host is down.
    pub override_max_age: Option<RawDuration>,
    /// RFC 3339 time at which `override_max_age` stops applying, e.g.
    /// "2026-12-01T00:00:00Z". Needs `override_max_age`.
    #[schemars(example = "2026-12-01T00:00:00Z")]
    pub override_until: Option<String>,
}

/// `[pipeline]`: what this pipeline is called and where its data goes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPipeline {
    /// Name of the pipeline, shown in the CLI and dashboard.
    #[schemars(length(min = 1))]
    pub name: String,
    /// IANA time zone (e.g. "America/New_York") in which target dates such as
    /// `{date}` are computed. Default: "UTC".
    #[schemars(example = "America/New_York")]
    pub timezone: Option<String>,
    /// Where run history is kept: "sqlite://PATH" (relative to this file's
    /// folder), "sqlite:///ABSOLUTE/PATH" or "postgres://USER@HOST:PORT/DB".
    /// Default: "sqlite://rebound.db".
    #[schemars(pattern(r"^(sqlite|postgres|postgresql)://.+"))]
    pub database: Option<String>,
    /// How long opening a PostgreSQL `database` waits for the server to
    /// answer before the command fails, e.g. "5s". A `connect_timeout=N`
    /// (seconds) in the URL wins. Not used for SQLite. Default: "10s".
    #[schemars(example = "10s")]
    pub connect_timeout: Option<RawDuration>,
    /// Where raw response bodies are stored: "file://PATH" (relative to this
    /// file's folder), "s3://BUCKET/PREFIX" or "gs://BUCKET/PREFIX".
    /// Default: "file://raw".
    #[schemars(pattern(r"^(file|s3|gs)://.+"))]
    pub raw_store: Option<String>,
    /// How long history is kept, e.g. "90d": older run, call, attempt,
    /// decision, breaker-transition, lockout and quota rows, and the raw
    /// payloads only they reference, are purged in small batches by
    /// `rebound serve` (hourly) and `rebound purge`. At least "2d", and at
    /// least what the config reads back (a day more than
    /// `[scheduler] catch_up`, the largest `fresh_error`, a calendar's
    /// `max_age`). Default: kept forever.
    #[schemars(example = "90d")]
    pub retention: Option<RawDuration>,
    /// The first day of a season, "MM-DD" (e.g. "10-01"): a target date
    /// belongs to the season that started on or before it, which gives
    /// templates `{season}`, `{season_start_year}` and `{season_end_year}`
    /// (2025, 2026 and "2025-26" for 2025-12-01 and for 2026-03-01). Without
    /// it nothing supplies them.
    #[schemars(pattern(r"^[0-9]{2}-[0-9]{2}$"), example = "10-01")]
    pub season_start: Option<String>,
    /// How `{season}` is written, with `{start}` (2025), `{start2}` (25),
    /// `{end}` (2026) and `{end2}` (26). Needs `season_start`. Default:
    /// "{start}-{end2}" ("2025-26").
    #[schemars(example = "{start}-{end2}")]
    pub season_format: Option<String>,
}

/// A retry policy; every key is optional and falls back to the enclosing
/// level (scraper → source → `[retry]` → built-in default).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    /// Total tries, including the first (at least 1). Default: 3.
    #[schemars(range(min = 1))]
    pub max_attempts: Option<i64>,
    /// Wait before the first retry. Default: "2s".
    pub initial_delay: Option<RawDuration>,
    /// Each wait is the previous one times this (at least 1.0). Default: 2.0.
    #[schemars(range(min = 1.0))]
    pub multiplier: Option<f64>,
    /// Upper bound of the computed wait (not of a server's Retry-After).
    /// Default: "60s".
    pub max_delay: Option<RawDuration>,
    /// How waits are randomised: "full" (0..wait), "equal" (wait/2..wait) or
    /// "none". Default: "full".
    #[schemars(extend("enum" = ["full", "equal", "none"]))]
    pub jitter: Option<String>,
    /// Wait at least as long as a 429/503 response's Retry-After header
    /// asks. Default: true.
    pub respect_retry_after: Option<bool>,
    /// A Retry-After longer than this ends the call instead of waiting.
    /// Default: "10m".
    pub max_retry_after: Option<RawDuration>,
}

/// `[sources.NAME]`: an upstream API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    /// "http://" or "https://" URL that scraper paths are appended to; may
    /// use `{param}`.
    #[schemars(pattern(r"^https?://"))]
    pub base_url: String,
    /// Time limit of one attempt: connect, headers and body. Default: "20s".
    pub timeout: Option<RawDuration>,
    /// Calls to this source in flight at once (at least 1). Default: 4.
    #[schemars(range(min = 1))]
    pub max_concurrency: Option<i64>,
    /// Larger response bodies fail the call (at least 1). Default: 52428800
    /// (50 MiB).
    #[schemars(range(min = 1))]
    pub max_body_bytes: Option<i64>,
    /// Headers sent with every call to this source; values may use `{param}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters sent with every call; values may use `{param}`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Overrides of `[retry]` for this source's scrapers.
    #[serde(default)]
    pub retry: RawRetry,
    /// Most requests to this source per second, minute, hour or day, shared
    /// by all its scrapers and spread evenly ("20/min" = one every 3 s):
    /// "5/s", "20/min", "1000/h", "50000/d". Default: no limit.
    #[schemars(
        example = "20/min",
        pattern(r"^[0-9]+\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)$")
    )]
    pub rate_limit: Option<String>,
    /// Requests allowed per day or month (in the pipeline's time zone):
    /// warn at 80 %, refuse calls (status skipped, quota_exhausted) at 100 %
    /// until the period resets. Default: no quota.
    pub quota: Option<RawQuota>,
    /// Whether rate-limit headers (429 + Retry-After, RateLimit,
    /// X-RateLimit-* with 0 remaining) pause every call to this source
    /// until they say. With false, they pause nothing: only the call that
    /// got them waits, by its own retry policy (`respect_retry_after`).
    /// Default: true.
    pub pause_on_rate_limit: Option<bool>,
    /// The source's circuit breaker: after repeated server errors,
    /// timeouts or refused connections, calls are skipped (no request) for
    /// a growing open period, then one probe call decides.
    #[serde(default)]
    pub breaker: RawBreaker,
    /// At most this much extra load from retries, per source:
    /// `{ ratio = 0.2, min_retries = 10, window = "10m" }`. Past it a
    /// retryable failure fails at once ("retry budget exhausted").
    #[serde(default)]
    pub retry_budget: RawRetryBudget,
    /// A probe `rebound health` sends to tell whether the source is up,
    /// e.g. `{ path = "/status", expect_status = 200 }`.
    pub health: Option<RawHealthProbe>,
    /// Which redirects calls and the health probe follow: "same_host"
    /// (redirects to another scheme, host or port fail the call), "any"
    /// (those are followed without the source's headers, query parameters
    /// or Referer) or "none". Default: "same_host".
    #[schemars(extend("enum" = ["same_host", "any", "none"]))]
    pub follow_redirects: Option<String>,
    /// One proxy every request to this source goes through, e.g.
    /// "${PROXY_URL}": an "http://", "https://", "socks5://" or
    /// "socks5h://" URL, credentials included (always treated as a
    /// secret), or "env" to use the environment's HTTP_PROXY /
    /// HTTPS_PROXY / ALL_PROXY / NO_PROXY. Without it (and without
    /// `proxies`) requests go directly and those variables are ignored.
    pub proxy: Option<String>,
    /// Several proxies, used in turn (`proxy_rotation`); a proxy that
    /// fails (`proxy_retry_on`) is replaced by the next one for the same
    /// attempt. Not together with `proxy`.
    pub proxies: Option<Vec<String>>,
    /// "round_robin" (each request takes the next proxy) or "random".
    /// Default: "round_robin".
    #[schemars(extend("enum" = ["round_robin", "random"]))]
    pub proxy_rotation: Option<String>,
    /// HTTP statuses that mean the proxy is refused: the request is sent
    /// again through the next proxy. Default: [403, 407].
    pub proxy_retry_on: Option<Vec<i64>>,
    /// Each proxy's breaker: after `failures` failures in a row the proxy
    /// is skipped for `open_for`. Default: { failures = 3, open_for = "5m" }.
    #[serde(default)]
    pub proxy_breaker: RawProxyBreaker,
}

/// `proxy_breaker = { failures = 3, open_for = "5m" }`; every key is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProxyBreaker {
    /// Failures of one proxy in a row (no connection, timeout, or a
    /// `proxy_retry_on` status) that open its breaker (at least 1).
    /// Default: 3.
    #[schemars(range(min = 1))]
    pub failures: Option<i64>,
    /// How long a proxy with an open breaker is skipped. Default: "5m".
    pub open_for: Option<RawDuration>,
}

/// `quota = { per = "month", requests = 20000, remaining_header = "x-requests-remaining" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuota {
    /// The quota's period: "day" or "month", in the pipeline's time zone.
    #[schemars(extend("enum" = ["day", "month"]))]
    pub per: String,
    /// Requests allowed per period (at least 1).
    #[schemars(range(min = 1))]
    pub requests: i64,
    /// Response header in which the upstream reports the requests left
    /// (e.g. "x-requests-remaining"); when present it corrects our count.
    pub remaining_header: Option<String>,
}

/// `[sources.NAME.breaker]`; every key is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBreaker {
    /// Default: true.
    pub enabled: Option<bool>,
    /// How far back failures are counted. Default: "10m".
    pub window: Option<RawDuration>,
    /// Calls within the window before the failure rate is judged (at
    /// least 1). Default: 5.
    #[schemars(range(min = 1))]
    pub min_calls: Option<i64>,
    /// Share of failed calls within the window that opens the breaker,
    /// above 0 and at most 1. Default: 0.5.
    pub failure_rate: Option<f64>,
    /// Failed calls in a row that open the breaker (at least 1). Default: 5.
    #[schemars(range(min = 1))]
    pub consecutive_failures: Option<i64>,
    /// First open period; doubled on each trip until the breaker closes.
    /// Default: "1m".
    pub open_for: Option<RawDuration>,
    /// Longest open period. Default: "30m".
    pub max_open_for: Option<RawDuration>,
    /// Whether the source's `health` probe feeds the breaker (a failing
    /// probe keeps it open with no trial call; one that answers ends the
    /// open period). Default: true.
    pub follow_health: Option<bool>,
}

/// `retry_budget = { ... }`; every key is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetryBudget {
    /// Retries allowed per call made within the window (0 or more).
    /// Default: 0.2.
    pub ratio: Option<f64>,
    /// Retries allowed per window on top of the ratio (0 or more).
    /// Default: 10.
    #[schemars(range(min = 0))]
    pub min_retries: Option<i64>,
    /// The sliding window. Default: "10m".
    pub window: Option<RawDuration>,
}

/// `[scrapers.NAME]`: one HTTP request against a source.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScraper {
    /// Name of the source (a key of `[sources]`) this scraper calls.
    pub source: String,
    /// HTTP method. Default: "GET".
    #[schemars(extend("enum" = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))]
    pub method: Option<String>,
    /// Path appended to the source's base_url, starting with "/" ("" calls
    /// base_url itself, for a source whose base_url is the endpoint; "/"
    /// would call base_url with a "/" added); may use
    /// `{param}` (built in: `{date}`, `{target_date}`, `{date_compact}`,
    /// `{day_start_utc}`, `{day_end_utc}`; with `[pipeline] season_start`:
    /// `{season}`, `{season_start_year}`, `{season_end_year}`; in scheduled
    /// runs or with `--slot`: `{slot_hour}`, `{slot_hour12}`, `{slot_ampm}`,
    /// `{slot_minute}`). Date parameters take a strftime filter:
    /// `{date|%Y%m%d}`.
    #[schemars(example = "/sports/basketball_nba/events/{event_id}/odds")]
    pub path: String,
    /// Query parameters, added to the source's; values may use `{param}`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers, merged over the source's; values may use `{param}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON Pointer (RFC 6901) to the array of records in the response, e.g.
    /// "/data"; "" means the whole body is the array. A missing or empty
    /// array means "no data".
    #[schemars(pattern(r"^(/.*)?$"))]
    pub records: Option<String>,
    /// Responses that mean "nothing to collect" rather than failure.
    #[serde(default)]
    pub no_data: RawNoData,
    /// Name under which payloads are stored, may contain "/". Default: the
    /// scraper's name.
    pub dataset: Option<String>,
    /// Overrides of the source's retry policy for this scraper.
    #[serde(default)]
    pub retry: RawRetry,
    /// Make one call per item instead of one call per run: per event of a
    /// calendar (`{ calendar, param }`) or per item of another dataset's
    /// latest payload (`{ dataset, items, value, param }`).
    pub for_each: Option<RawForEach>,
    /// Per-game data published some time after the event starts, e.g.
    /// `{ after_event_start = "6h", deadline = "48h" }`: a "no data" before
    /// the deadline is `not_yet_available` (not a failure, re-checked after
    /// `recheck`), at or after it `overdue` (a failure). Counted from the
    /// start of the call's calendar event; without one, from the local
    /// midnight that starts the target date. Not with `expected_by`.
    pub expected_within: Option<RawExpectedWithin>,
    /// Daily data due by this local time ("HH:MM") on the target date: a
    /// "no data" before it is `not_yet_available`, at or after it
    /// `overdue`. Not with `expected_within`.
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), example = "15:00")]
    pub expected_by: Option<String>,
    /// With `expected_within` or `expected_by`: how long after a
    /// `not_yet_available` call to look again (stored as scheduled work by
    /// `rebound serve`; never later than the deadline). Default: "2h".
    pub recheck: Option<RawDuration>,
    /// Fanned-out scrapers only: lock an entity (e.g. a game id) whose calls
    /// had no data or failed `after` times in a row; it is not called until
    /// `for` has passed or the dataset the fan-out reads gets a new payload.
    pub lockout: Option<RawLockout>,
    // Per-call limits and pagination (issue 13, items 1 and 6): kept
    // together so other additions to this struct merge cleanly.
    /// Time limit of one attempt (connect, headers and body), overriding
    /// the source's `timeout`, e.g. "90s" for one slow endpoint. Default:
    /// the source's.
    pub timeout: Option<RawDuration>,
    /// Follow the API's pages within one call and store them as one
    /// payload (the first page's document with its `records` array holding
    /// every page's records, in order). Needs `records`. Kinds: "cursor"
    /// (`cursor`, `param`), "next_url" (`next`), "link" (the `Link:
    /// rel="next"` header), "page" (`param`, `start`, `total`), "offset"
    /// (`param`, `limit_param`, `limit`, `total`); all take `max_pages`.
    pub paginate: Option<RawPaginate>,
    /// First target date ("YYYY-MM-DD") this scraper is for: a workflow
    /// may list several variants of one dataset's scraper (an API that
    /// changed on a date), and runs the one valid on the target date.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), example = "2025-12-23")]
    pub valid_from: Option<String>,
    /// Last target date ("YYYY-MM-DD", inclusive) this scraper is for.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), example = "2025-12-22")]
    pub valid_until: Option<String>,
    // Documents and conditional requests (issue 13, items 4 and 5): kept
    // together so other additions to this struct merge cleanly.
    /// What the payload is: "json" (default), "pdf", "html", "csv" or
    /// "bytes". A payload whose Content-Type or first bytes say otherwise
    /// (an HTML "Access Denied" page where a PDF was expected) is a
    /// `decode` failure. `records` applies to JSON only.
    #[schemars(extend("enum" = ["json", "pdf", "html", "csv", "bytes"]))]
    pub format: Option<String>,
    /// Formats other than JSON: a payload shorter than this many bytes is
    /// "no data". Default: 1 (an empty body).
    #[schemars(range(min = 1))]
    pub min_bytes: Option<i64>,
    /// Run a command with the payload on stdin; its stdout becomes the
    /// call's primary output (`records` then applies to it), the document
    /// a secondary output. E.g. `{ command = ["python3",
    /// "parsers/injury_report.py"], timeout = "30s", format = "json" }`.
    pub transform: Option<RawTransform>,
    /// Send `If-None-Match` / `If-Modified-Since` from the previous
    /// successful call with the same parameters; a `304 Not Modified` is a
    /// success with the payload unchanged. Default: false.
    pub conditional: Option<bool>,
}

/// `transform`: a command that turns a scraper's document (on stdin) into
/// its primary output (on stdout).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransform {
    /// Program and arguments, run without a shell in the config file's
    /// folder; a program containing "/" is relative to that folder,
    /// otherwise looked up on PATH.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Killed after this long. Default: "30s".
    pub timeout: Option<RawDuration>,
    /// What the command writes: "json" (default), "csv", "html", "pdf" or
    /// "bytes".
    #[schemars(extend("enum" = ["json", "pdf", "html", "csv", "bytes"]))]
    pub format: Option<String>,
    /// Start the command once and send it one document after another in
    /// frames ("document N" and N bytes on stdin; "output N" or "error N"
    /// and N bytes back on stdout) instead of starting it per document.
    /// For parsers whose start-up (an interpreter, imports) costs more
    /// than their work. Default: false.
    pub keep_running: Option<bool>,
}

/// `paginate = { kind = "cursor", cursor = "/meta/next_cursor", param =
/// "cursor" }`. Each page is a request of its own, retried on its own;
/// a page that still fails fails the whole call.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
#[schemars(extend("oneOf" = [
    {"properties": {"kind": {"const": "cursor"}}, "required": ["cursor", "param"]},
    {"properties": {"kind": {"const": "next_url"}}, "required": ["next"]},
    {"properties": {"kind": {"const": "link"}}},
    {"properties": {"kind": {"const": "page"}}, "required": ["param"]},
    {"properties": {"kind": {"const": "offset"}}, "required": ["param", "limit_param", "limit"]}
]))]
pub(crate) struct RawPaginate {
    /// How the next page is found: "cursor", "next_url", "link", "page" or
    /// "offset".
    #[schemars(extend("enum" = ["cursor", "next_url", "link", "page", "offset"]))]
    pub kind: String,
    /// Most pages one call fetches (1 to 10000); a call with more pages
    /// fails with kind `pagination` instead of storing part of them.
    /// Default: 100.
    #[schemars(range(min = 1, max = 10000))]
    pub max_pages: Option<i64>,
    /// kind "cursor": JSON Pointer to the next page's cursor in the body,
    /// e.g. "/meta/next_cursor"; a missing, null or empty cursor ends the
    /// pages.
    #[schemars(pattern(r"^(/.*)?$"), example = "/meta/next_cursor")]
    pub cursor: Option<String>,
    /// kind "next_url": JSON Pointer to the next page's URL in the body,
    /// absolute or relative; only URLs on the source's scheme, host and
    /// port are followed.
    #[schemars(pattern(r"^(/.*)?$"), example = "/next")]
    pub next: Option<String>,
    /// kinds "cursor", "page", "offset": the query parameter that carries
    /// the cursor, page number or offset.
    #[schemars(example = &"cursor")]
    pub param: Option<String>,
    /// kind "page": the number of the first page. Default: 1.
    #[schemars(range(min = 0))]
    pub start: Option<i64>,
    /// kind "offset": the query parameter that carries the page size.
    #[schemars(example = &"limit")]
    pub limit_param: Option<String>,
    /// kind "offset": records per page, sent as `limit_param` (at least 1).
    #[schemars(range(min = 1))]
    pub limit: Option<i64>,
    /// kinds "page", "offset": JSON Pointer to the total number of records
    /// in the body; the pages end once that many are in (they also end on
    /// a page without records).
    #[schemars(pattern(r"^(/.*)?$"), example = "/meta/total")]
    pub total: Option<String>,
    /// Any other key: refused by the resolver, which knows the kind and so
    /// can list the keys that kind allows.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: BTreeMap<String, serde::de::IgnoredAny>,
}

/// `expected_within = { after_event_start = "6h", deadline = "48h" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectedWithin {
    /// When the data is normally published, counted from the event's start.
    pub after_event_start: RawDuration,
    /// When missing data becomes `overdue`, counted from the event's start;
    /// at least `after_event_start`.
    pub deadline: RawDuration,
}

/// `lockout = { after = 3, for = "24h" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLockout {
    /// Consecutive no_data/failed/overdue calls of one entity that lock it
    /// (at least 1). Default: 3.
    #[schemars(range(min = 1))]
    pub after: Option<i64>,
    /// How long a lock lasts at most; a new payload of the fan-out's
    /// dataset releases it sooner. Default: "24h".
    #[serde(rename = "for")]
    pub duration: Option<RawDuration>,
}

/// `for_each`: either `{ calendar = "games", param = "game_id" }` or
/// `{ dataset = "odds_api/events", items = "$[*]", value = "id", param =
/// "event_id" }`; either may bind more parameters from each item with
/// `params`, and the dataset form may bind only through `params`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["calendar", "param"], "not": {"anyOf": [{"required": ["dataset"]}, {"required": ["items"]}, {"required": ["value"]}]}},
    {"required": ["dataset", "items", "value", "param"], "not": {"required": ["calendar"]}},
    {"required": ["dataset", "items", "params"], "not": {"anyOf": [{"required": ["calendar"]}, {"required": ["value"]}, {"required": ["param"]}]}}
]))]
pub(crate) struct RawForEach {
    /// One call per event of this calendar on the target date; the event's
    /// id goes into `param`.
    pub calendar: Option<String>,
    /// One call per item of this dataset's latest payload for the target
    /// date; some scraper must produce it.
    pub dataset: Option<String>,
    /// With `dataset`: RFC 9535 JSONPath selecting the items, e.g. "$[*]"
    /// or "$.data[*]".
    #[schemars(example = "$.data[*]")]
    pub items: Option<String>,
    /// With `dataset`: member of each item whose value goes into `param`.
    #[schemars(example = &"id")]
    pub value: Option<String>,
    /// The `{param}` of this scraper's path, query or headers that receives
    /// each value.
    #[schemars(example = &"game_id")]
    pub param: Option<String>,
    /// More parameters bound from each item (an event of the calendar, an
    /// item of the dataset): parameter = member, or a dotted path of
    /// members, e.g. `{ home = "homeTeam.teamTricode", away =
    /// "awayTeam.teamTricode" }`. In the dataset form without
    /// `value`/`param`, the first one written identifies the item (its
    /// lockouts, its label in messages).
    pub params: Option<RawItemParams>,
}

/// `params = { name = "member.path", ... }`, in the order written (the
/// first may identify the item, so the order is kept).
#[derive(Debug, Default)]
pub(crate) struct RawItemParams(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for RawItemParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawItemParams;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of parameter = \"member.path\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawItemParams, A::Error> {
                let mut pairs = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    pairs.push((key, value));
                }
                Ok(RawItemParams(pairs))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl JsonSchema for RawItemParams {
    fn schema_name() -> Cow<'static, str> {
        "ItemParams".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "Parameter name = member of each item, or a dotted path of members, e.g. { home = \"homeTeam.teamTricode\" }.",
            "additionalProperties": {"type": "string", "minLength": 1},
            "minProperties": 1
        })
    }
}

/// Rules that classify a response as "no data".
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNoData {
    /// HTTP statuses (100-599) that mean no data, e.g. [404].
    #[serde(default)]
    pub status: Vec<i64>,
    /// A body containing any of these strings means no data.
    #[serde(default)]
    pub body_contains: Vec<String>,
}

/// `[workflows.NAME]`: scrapers run in steps. Give exactly one of `steps`
/// or `scrapers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["steps"]}, {"required": ["scrapers"]}]))]
pub(crate) struct RawWorkflow {
    /// Steps run in order; the scrapers of one step run concurrently.
    pub steps: Option<Vec<RawStep>>,
    /// Shorthand for a single step running these scrapers concurrently.
    pub scrapers: Option<Vec<String>>,
    /// When `rebound serve` runs this workflow; without it the workflow
    /// runs only when started by hand.
    pub schedule: Option<RawSchedule>,
}

/// `schedule = { kind = "...", ... }`. Times are "HH:MM" (24-hour) in the
/// pipeline's time zone; every `end` is exclusive and later than `start`.
/// Each kind takes its own keys plus `calendar`, `target_date` and
/// `only_missing`:
/// - `cron`: `cron`;
/// - `window`: `start`, `end` (once per date, between them), `retry_every`,
///   `retry_max`;
/// - `every`: `start`, `end`, `every`, `lead`;
/// - `at`: `at`, `tolerance`, `events_before`, `after_event_start`,
///   `retry_every`, `retry_max`;
/// - `discovery`: `start`, `end`, `every`, `max_attempts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
#[schemars(extend("oneOf" = [
    {"properties": {"kind": {"const": "cron"}}, "required": ["cron"]},
    {"properties": {"kind": {"const": "window"}}, "required": ["start", "end"]},
    {"properties": {"kind": {"const": "every"}}, "required": ["start", "end", "every"]},
    {"properties": {"kind": {"const": "at"}}, "required": ["at"]},
    {"properties": {"kind": {"const": "discovery"}}, "required": ["start", "end", "every"]}
]))]
pub(crate) struct RawSchedule {
    /// "cron", "window", "every", "at" or "discovery".
    #[schemars(extend("enum" = ["cron", "window", "every", "at", "discovery"]))]
    pub kind: String,
    /// kind "cron": five fields (minute hour day-of-month month
    /// day-of-week), in the pipeline's time zone, e.g. "0 5 * * *".
    #[schemars(example = "0 5 * * *")]
    pub cron: Option<String>,
    /// kinds "window", "every", "discovery": first time of day, "HH:MM".
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), example = "08:00")]
    pub start: Option<String>,
    /// kinds "window", "every", "discovery": end of the day's slots,
    /// "HH:MM", exclusive; later than `start`.
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), example = "20:00")]
    pub end: Option<String>,
    /// kinds "every", "discovery": time between slots, e.g. "2h".
    pub every: Option<RawDuration>,
    /// kind "every", with `calendar`: only slots from this long before the
    /// date's first event, e.g. "12h".
    pub lead: Option<RawDuration>,
    /// kind "at": the time of day of the one slot, "HH:MM".
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), example = "01:00")]
    pub at: Option<String>,
    /// kind "at": how late after `at` the slot may still start; it never
    /// starts early (longer than zero). Default: "30m".
    pub tolerance: Option<RawDuration>,
    /// kind "at", with `calendar`: only events starting before this local
    /// time ("HH:MM") count.
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"), example = "19:00")]
    pub events_before: Option<String>,
    /// kind "at", with `calendar`: only events that started at least this
    /// long ago count, e.g. "3h".
    pub after_event_start: Option<RawDuration>,
    /// kind "discovery": most polls per target date (at least 1). Default:
    /// the number of slots between `start` and `end`.
    #[schemars(range(min = 1))]
    pub max_attempts: Option<i64>,
    /// kinds "window" and "at": how long after a failed or partial run
    /// finished it is run again, for what did not succeed; "window" retries
    /// only inside the window, "at" only until the end of that local day.
    /// From "1m" to "24h". Default: "1h".
    pub retry_every: Option<RawDuration>,
    /// kinds "window" and "at": most re-runs of a failed or partial run per
    /// target date (0 turns them off, at most 24). Default: 3.
    #[schemars(range(min = 0, max = 24))]
    pub retry_max: Option<i64>,
    /// A calendar (key of `[calendars]`): dates without events in it are
    /// skipped. Needed by `only_missing`, `lead`, `events_before` and
    /// `after_event_start`.
    pub calendar: Option<String>,
    /// Which date a run collects for, relative to the local date of its
    /// slot: "today" or "yesterday". Default: "today".
    #[schemars(extend("enum" = ["today", "yesterday"]))]
    pub target_date: Option<String>,
    /// Fan out only over the calendar's events not yet collected
    /// successfully for the target date, and skip the run when none are
    /// missing. Needs `calendar`. Default: false.
    pub only_missing: Option<bool>,
    /// Any other key: refused by the resolver, which knows the kind and so
    /// can list the keys that kind allows.
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: BTreeMap<String, serde::de::IgnoredAny>,
}

/// One step of a workflow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    /// Scrapers run concurrently in this step.
    #[schemars(length(min = 1))]
    pub scrapers: Vec<String>,
    /// Scrapers of earlier steps that must have succeeded (not failed or
    /// been skipped) for this step to run.
    #[serde(default)]
    pub after: Vec<String>,
}

/// The text of a duration such as "250ms", "2s", "5m", "1h", "1d" or
/// "1h30m", parsed after `${VAR}` substitution.
#[derive(Debug, Clone)]
pub(crate) struct RawDuration(pub String);

/// The same words as `rebound_domain::duration::parse_duration` uses, so a
/// duration written as a number reads like one written badly as a string.
const DURATION_EXPECTED: &str = "a duration such as \"250ms\", \"2s\", \"5m\" or \"1h\"";

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor only to word the type error: `timeout = 20`
        // is a common slip and deserves "expected a duration", not
        // "expected a string".
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl JsonSchema for RawDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit (ms, s, m, h or d), e.g. \"250ms\", \"2s\", \"5m\", \"1h\", or several, e.g. \"1h30m\".",
            "pattern": r"^([0-9]+(ms|s|m|h|d))+$",
            "examples": ["250ms", "2s", "5m", "1h"]
        })
    }
}
