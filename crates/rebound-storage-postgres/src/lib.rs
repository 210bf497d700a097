//! The PostgreSQL backend of the history [`Store`], for teams that already
//! run a database server or want several machines to share one history.
//!
//! Each scraper call with all its attempts is written by a single
//! statement (a data-modifying CTE that inserts the call and `UNNEST`s the
//! attempts), so recording a call is one round trip and atomic without an
//! explicit transaction. Times are truncated to milliseconds before they
//! are written, matching the SQLite backend, so both read back the same
//! instants.
//!
//! The scheduler's queue ([`scheduler`]) is shared by every process using
//! the database, so its rules are enforced by statements: a unique slot
//! key, `FOR UPDATE SKIP LOCKED` claims, owner-guarded lease updates.
//!
//! [`PostgresStore::connect_with_schema`] keeps a whole history inside one
//! schema; tests use it to get a fresh, isolated database each.
//!
//! Messages never contain the URL's password ([`redact`]).

mod alerts;
mod breakers;
mod due;
mod events;
mod health;
mod limits;
mod lockouts;
mod metrics;
mod quota;
mod redact;
mod retention;
mod runs;
mod scheduler;
mod timeouts;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use rebound_storage::{
    AttemptRow, BreakerChange, BreakerRow, BreakerState, BreakerTransitionRow, CallFilter,
    CallHourRow, CallOutput, CollectedAsk, DateClaim, DecisionOutcome, DecisionRow, LatestPayload,
    LockoutRow, NewCompletionEvent, NewDecision, NewLockout, NewScheduledRun, NewScraperCall,
    NewWorkflowExecution, OutputRole, PayloadRef, RunFailure, RunFilter, RunHourRow, RunStart,
    RunningExecution, ScheduledRunRow, ScraperCallRow, SlotRow, Store, StoreError, Validators,
    WorkflowExecutionRow,
};
use redact::Redactor;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Executor, PgPool, Row};
use std::sync::Arc;
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!();

/// Enough connections for the engine's concurrent calls to overlap their
/// round trips, few enough to leave the server room for other clients.
const MAX_CONNECTIONS: u32 = 16;

/// How many connections a store may open: see [`PostgresStore::connect_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connections {
    /// Up to 16, for the engine and `rebound serve`, whose concurrent calls
    /// overlap their round trips.
    #[default]
    Pool,
    /// One, for a command that runs its queries one after another and
    /// exits (`rebound health`, `status`, ...). With a larger pool such a
    /// command still opened four or five: a connection just released is
    /// not back in the idle queue when the next query asks, so the pool
    /// opens another. Each costs a TCP and TLS set-up, about 90 ms on
    /// loopback because sqlx 0.9.0 leaves Nagle's algorithm on and two
    /// small handshake writes each wait out the server's delayed ACK
    /// (sqlx issue 4335); that was most of a one-shot command's time.
    One,
}

impl Connections {
    fn max(self) -> u32 {
        match self {
            Connections::Pool => MAX_CONNECTIONS,
            Connections::One => 1,
        }
    }
}

/// How long to wait for a connection (including the first one) before
/// reporting the database unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening a store waits for the server to answer, unless the
/// caller (`[pipeline] connect_timeout`) or the URL (`connect_timeout=N`,
/// seconds, as libpq spells it) says otherwise. Without a bound, a port
/// that accepts connections and never answers (a hung server, a firewall
/// that drops packets after the handshake) made every command wait forever.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server-side `statement_timeout` of every connection, unless the
/// URL sets one (`options[statement_timeout]=30s`). No statement Rebound
/// makes needs minutes (purges and history inserts go in small batches),
/// so one that runs this long is stuck behind a lock or a sick server,
/// and failing it beats holding a worker's lease forever.
pub const DEFAULT_STATEMENT_TIMEOUT: &str = "5min";

// Macros rather than consts so that `concat!` can build each query as one
// `&'static str` (which sqlx accepts as safe SQL without wrapping).
macro_rules! call_columns {
    () => {
        "id, execution_id, workflow_name, scraper_name, source_name, params, target_date, \
         status, attempts, http_status, error_kind, error_message, started_at, finished_at, \
         duration_ms, bytes, output_uri, content_hash, unchanged, pages, record_count"
    };
}

macro_rules! execution_columns {
    () => {
        "execution_id, workflow_name, target_date, execution_time, finished_at, status, \
         scrapers_requested, scrapers_succeeded, scrapers_failed, scrapers_no_data, \
         scrapers_skipped, error_message, duration_ms, error_kind"
    };
}

// After the column macros, which it uses.
mod dashboard;

/// The call, its attempts, its outputs beyond the row (`$38`-`$43`, a
/// transform's output and document) and, when `$31` (its event id) is not null, its
/// completion event in one statement: PostgreSQL runs every data-modifying
/// CTE to completion and checks the keys at the end of the statement, so
/// either all rows land or none does.
const INSERT_CALL: &str = "WITH call AS (
        INSERT INTO scraper_execution_log (execution_id, workflow_name, scraper_name,
            source_name, params, target_date, status, attempts, http_status, error_kind,
            error_message, started_at, finished_at, duration_ms, bytes, output_uri,
            content_hash, unchanged, pages, record_count, etag, last_modified)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
            $17, $18, $27, $28, $36, $37)
        RETURNING id
    ), attempts AS (
        INSERT INTO scraper_attempts (scraper_execution_id, attempt, started_at,
            finished_at, http_status, outcome, error_kind, error_message, delay_before_ms,
            page, proxy)
        SELECT call.id, a.attempt, a.started_at, a.finished_at, a.http_status, a.outcome,
            a.error_kind, a.error_message, a.delay_before_ms, a.page, a.proxy
        FROM call, UNNEST($19::bigint[], $20::timestamptz[], $21::timestamptz[],
            $22::integer[], $23::text[], $24::text[], $25::text[], $26::bigint[],
            $29::integer[], $30::integer[])
            AS a(attempt, started_at, finished_at, http_status, outcome, error_kind,
                error_message, delay_before_ms, page, proxy)
    ), event AS (
        INSERT INTO completion_events (scraper_execution_id, event_id, created_at, dataset,
            status, payload, next_attempt_at)
        SELECT call.id, $31, $32, $33, $34, $35, $32 FROM call WHERE $31::text IS NOT NULL
    ), outputs AS (
        INSERT INTO call_outputs (execution_log_id, position, role, uri, content_hash,
            bytes, content_type)
        SELECT call.id, o.position, o.role, o.uri, o.content_hash, o.bytes, o.content_type
        FROM call, UNNEST($38::integer[], $39::text[], $40::text[], $41::text[],
            $42::bigint[], $43::text[])
            AS o(position, role, uri, content_hash, bytes, content_type)
    )
    SELECT id FROM call";

/// A call's outputs: its `call_outputs` rows, or else its one payload as
/// the primary (most calls store one payload and have no rows there).
const CALL_OUTPUTS: &str = "SELECT position::bigint, role, uri, content_hash, bytes, content_type
    FROM call_outputs WHERE execution_log_id = $1
    UNION ALL
    SELECT 1::bigint, 'primary', output_uri, content_hash, bytes, NULL
    FROM scraper_execution_log
    WHERE id = $1 AND output_uri IS NOT NULL AND content_hash IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM call_outputs WHERE execution_log_id = $1)
    ORDER BY 1";

/// The history in a PostgreSQL database. Cheap to share behind an `Arc`;
/// every method may be called from many tasks at once.
pub struct PostgresStore {
    pool: PgPool,
    redactor: Redactor,
    schema: Option<String>,
    /// For the `LISTEN` connection, opened at the first subscription.
    options: PgConnectOptions,
    set_path: Option<Arc<str>>,
    /// This schema's `NOTIFY` channel ([`due::channel`]), and this store's
    /// name as the payload ([`due::store_id`]).
    channel: String,
    store_id: String,
    /// Wakes this process's idle workers ([`due`]).
    due: rebound_storage::DueSignal,
    listener: tokio::sync::Mutex<Option<due::ListenerTask>>,
    /// How long any one answer may take ([`timeouts::reply_within`]).
    reply_within: Option<Duration>,
}

/// A driver future bounded by the store's reply time, its error made a
/// store error: `query.execute(&pool).within(store, "what").await`.
pub(crate) trait Within<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    fn within(
        self,
        store: &PostgresStore,
        what: &str,
    ) -> impl Future<Output = Result<T, StoreError>> + Send;
}

impl<T: Send, F> Within<T> for F
where
    F: Future<Output = Result<T, sqlx::Error>> + Send,
{
    // Written out rather than as an `async fn`: that form sends rustc
    // into a cycle computing the future's type against the trait's.
    #[allow(clippy::manual_async_fn)]
    fn within(
        self,
        store: &PostgresStore,
        what: &str,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        async move {
            let Some(bound) = store.reply_within else {
                return self.await.map_err(|e| store.error(what, e));
            };
            match tokio::time::timeout(bound, self).await {
                Ok(result) => result.map_err(|e| store.error(what, e)),
                Err(_) => Err(StoreError::Unavailable(format!(
                    "PostgreSQL at {}: {what}: no answer within {} (the statement timeout and a \
                     margin): the server or the network path to it is not answering",
                    timeouts::server_address(&store.options),
                    rebound_domain::duration::format_duration(bound)
                ))),
            }
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    /// Hand-written because the pool's own `Debug` would print the connect
    /// options, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.redactor.url())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and
    /// brings the schema up to date, in the server's default search path
    /// (normally `public`).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, None, Connections::Pool).await
    }

    /// [`PostgresStore::connect`] (or, with `schema`,
    /// [`PostgresStore::connect_with_schema`]) with a chosen pool size.
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        connections: Connections,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, schema, connections).await
    }

    /// [`PostgresStore::connect_with`], waiting at most `connect_timeout`
    /// for the server to answer (`None`: [`DEFAULT_CONNECT_TIMEOUT`]). A
    /// `connect_timeout=N` (seconds) in the URL wins over both.
    pub async fn connect_with_timeout(
        url: &str,
        schema: Option<&str>,
        connections: Connections,
        connect_timeout: Option<Duration>,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_bounded(url, schema, connections, connect_timeout).await
    }

    /// Like [`PostgresStore::connect`], but keeps everything in `schema`,
    /// created if missing: every pooled connection gets it as its only
    /// search path, so the tables (and sqlx's migration record) live there
    /// and nothing outside it is seen.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, Some(schema), Connections::Pool).await
    }

    /// The pool, for tests and tools that need raw SQL; with
    /// `connect_with_schema` its connections already use that schema.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn open(
        url: &str,
        schema: Option<&str>,
        connections: Connections,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_bounded(url, schema, connections, None).await
    }

    async fn open_bounded(
        url: &str,
        schema: Option<&str>,
        connections: Connections,
        connect_timeout: Option<Duration>,
    ) -> Result<PostgresStore, StoreError> {
        let redactor = Redactor::new(url);
        let unavailable = |e: &dyn std::fmt::Display| {
            StoreError::Unavailable(redactor.scrub(format!("{}: {e}", redactor.url())))
        };
        let (options, url_timeout) = timeouts::parse_url(url).map_err(|e| unavailable(&e))?;
        let connect_timeout = url_timeout
            .or(connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let options = timeouts::with_statement_timeout(options);
        let reply_within = timeouts::reply_within(&options);

        // One plain connection first: when the server is down or refuses
        // us, it fails at once with the real reason, where the pool would
        // retry until its timeout and then only say that it timed out.
        // sqlx itself waits for an answer without end, hence the bound.
        let mut first =
            match tokio::time::timeout(connect_timeout, PgConnection::connect_with(&options)).await
            {
                Ok(connected) => connected.map_err(|e| unavailable(&e))?,
                Err(_) => {
                    return Err(StoreError::Unavailable(redactor.scrub(format!(
                        "cannot connect to PostgreSQL at {}: no answer within {}",
                        timeouts::server_address(&options),
                        rebound_domain::duration::format_duration(connect_timeout)
                    ))));
                }
            };
        if let Some(schema) = schema {
            let create = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
            if let Err(e) = first.execute(AssertSqlSafe(create)).await {
                // Two processes creating the same schema at once: the loser
                // sees a duplicate, which is what it wanted anyway.
                let duplicate = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|code| code == "23505" || code == "42P06");
                if !duplicate {
                    return Err(StoreError::Migration(redactor.scrub(format!(
                        "{}: creating schema {schema:?}: {e}",
                        redactor.url()
                    ))));
                }
            }
        }
        // Closing is a courtesy to the server; failing to is harmless.
        let _ = first.close().await;

        // The pool's connects are bounded by its acquire timeout, which
        // is never shorter than the connect timeout.
        let mut pool_options = PgPoolOptions::new()
            .max_connections(connections.max())
            .acquire_timeout(ACQUIRE_TIMEOUT.max(connect_timeout));
        let set_path: Option<Arc<str>> =
            schema.map(|schema| format!("SET search_path TO {}", quote_ident(schema)).into());
        if let Some(set_path) = set_path.clone() {
            // A session setting, applied to each new connection before the
            // pool hands it out.
            pool_options = pool_options.after_connect(move |conn, _meta| {
                let set_path = Arc::clone(&set_path);
                Box::pin(async move {
                    conn.execute(AssertSqlSafe(set_path)).await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&e))?;

        // sqlx holds a database-wide advisory lock while migrating, so
        // processes starting together do not apply a migration twice.
        // Bounded like every statement: a path that died after the
        // connect would otherwise hold the command here forever.
        let migrated = match reply_within {
            Some(bound) => tokio::time::timeout(bound, MIGRATOR.run(&pool))
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "PostgreSQL at {}: applying migrations: no answer within {}",
                        timeouts::server_address(&options),
                        rebound_domain::duration::format_duration(bound)
                    ))
                })?,
            None => MIGRATOR.run(&pool).await,
        };
        migrated.map_err(|e| {
            // A schema ahead of this binary's: a newer Rebound wrote it.
            let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
            if let sqlx::migrate::MigrateError::VersionMissing(found) = e
                && let Some(newer) = rebound_storage::newer_schema(redactor.url(), found, known)
            {
                return newer;
            }
            StoreError::Migration(redactor.scrub(format!("{}: {e}", redactor.url())))
        })?;

        Ok(PostgresStore {
            pool,
            redactor,
            schema: schema.map(str::to_string),
            options,
            set_path,
            channel: due::channel(schema),
            store_id: due::store_id(),
            due: rebound_storage::DueSignal::new(),
            listener: tokio::sync::Mutex::new(None),
            reply_within,
        })
    }

    /// Driver errors become store errors: connection-level failures are
    /// `Unavailable` and name the server (with several processes and
    /// databases, "pool timed out" alone does not say which one is away),
    /// everything else a failed `Query`.
    fn error(&self, what: &str, error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(self.redactor.scrub(format!(
                "PostgreSQL at {}: {what}: {error}",
                timeouts::server_address(&self.options)
            ))),
            _ => StoreError::Query(self.redactor.scrub(format!("{what}: {error}"))),
        }
    }
}

/// `"name"`, with embedded quotes doubled, so any schema name is taken
/// literally and cannot change the statement.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Both backends keep milliseconds; PostgreSQL could keep microseconds, but
/// then the same call would read back differently depending on the backend.
fn ms(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(3)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn record_scraper_call(&self, call: &NewScraperCall) -> Result<i64, StoreError> {
        self.record_call_with_event(call, None).await
    }

    async fn record_call_with_event(
        &self,
        call: &NewScraperCall,
        event: Option<&NewCompletionEvent>,
    ) -> Result<i64, StoreError> {
        let a = &call.attempt_rows;
        let o = &call.outputs;
        sqlx::query_scalar(INSERT_CALL)
            .bind(call.execution_id.as_deref())
            .bind(call.workflow_name.as_deref())
            .bind(call.scraper_name.as_str())
            .bind(call.source_name.as_str())
            .bind(call.params.as_str())
            .bind(call.target_date)
            .bind(call.status.as_str())
            .bind(i64::from(call.attempts))
            .bind(call.http_status.map(i32::from))
            .bind(call.error_kind.map(|k| k.as_str()))
            .bind(call.error_message.as_deref())
            .bind(ms(call.started_at))
            .bind(ms(call.finished_at))
            .bind(call.duration_ms)
            .bind(call.bytes)
            .bind(call.output_uri.as_deref())
            .bind(call.content_hash.as_deref())
            .bind(call.unchanged)
            .bind(a.iter().map(|a| i64::from(a.attempt)).collect::<Vec<_>>())
            .bind(a.iter().map(|a| ms(a.started_at)).collect::<Vec<_>>())
            .bind(a.iter().map(|a| ms(a.finished_at)).collect::<Vec<_>>())
            .bind(
                a.iter()
                    .map(|a| a.http_status.map(i32::from))
                    .collect::<Vec<_>>(),
            )
            .bind(a.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>())
            .bind(
                a.iter()
                    .map(|a| a.error_kind.map(|k| k.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(
                a.iter()
                    .map(|a| a.error_message.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(a.iter().map(|a| a.delay_before_ms).collect::<Vec<_>>())
            .bind(call.pages.map(i64::from))
            .bind(call.record_count)
            .bind(
                a.iter()
                    .map(|a| i32::try_from(a.page).unwrap_or(i32::MAX))
                    .collect::<Vec<_>>(),
            )
            .bind(
                a.iter()
                    .map(|a| a.proxy.map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
                    .collect::<Vec<_>>(),
            )
            .bind(event.map(|e| e.event_id.as_str()))
            .bind(event.map(|e| ms(e.created_at)))
            .bind(event.map(|e| e.dataset.as_str()))
            .bind(event.map(|e| e.status.as_str()))
            .bind(event.map(|e| e.payload.as_str()))
            .bind(call.etag.as_deref())
            .bind(call.last_modified.as_deref())
            .bind(
                (1..=o.len())
                    .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                    .collect::<Vec<_>>(),
            )
            .bind(o.iter().map(|o| o.role.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.uri.as_str()).collect::<Vec<_>>())
            .bind(
                o.iter()
                    .map(|o| o.content_hash.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(o.iter().map(|o| o.bytes).collect::<Vec<_>>())
            .bind(
                o.iter()
                    .map(|o| o.content_type.as_deref())
                    .collect::<Vec<_>>(),
            )
            .fetch_one(&self.pool)
            .within(self, "record_scraper_call")
            .await
    }

    async fn record_workflow_execution(
        &self,
        execution: &NewWorkflowExecution,
    ) -> Result<(), StoreError> {
        runs::record_workflow_execution(self, execution).await
    }

    async fn begin_workflow_execution(&self, start: &RunStart) -> Result<(), StoreError> {
        runs::begin_workflow_execution(self, start).await
    }

    async fn claim_target_date(&self, start: &RunStart) -> Result<DateClaim, StoreError> {
        runs::claim_target_date(self, start).await
    }

    async fn renew_workflow_execution(
        &self,
        execution_id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        runs::renew_workflow_execution(self, execution_id, owner, until).await
    }

    async fn running_executions(&self) -> Result<Vec<RunningExecution>, StoreError> {
        runs::running_executions(self).await
    }

    async fn record_run_failure(&self, failure: &RunFailure) -> Result<bool, StoreError> {
        runs::record_run_failure(self, failure).await
    }

    async fn last_payload(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<PayloadRef>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT content_hash, output_uri FROM scraper_execution_log \
             WHERE scraper_name = $1 AND params = $2 \
               AND content_hash IS NOT NULL AND output_uri IS NOT NULL \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(scraper_name)
        .bind(params)
        .fetch_optional(&self.pool)
        .within(self, "last_payload")
        .await?;
        Ok(row.map(|(content_hash, output_uri)| PayloadRef {
            content_hash,
            output_uri,
        }))
    }

    async fn last_validators(
        &self,
        scraper_name: &str,
        params: &str,
    ) -> Result<Option<Validators>, StoreError> {
        let row: Option<(Option<String>, Option<String>, String, String, Option<i64>)> =
            sqlx::query_as(
                "SELECT etag, last_modified, output_uri, content_hash, record_count \
                 FROM scraper_execution_log \
                 WHERE scraper_name = $1 AND params = $2 AND status = 'success' \
                   AND content_hash IS NOT NULL AND output_uri IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(scraper_name)
            .bind(params)
            .fetch_optional(&self.pool)
            .within(self, "last_validators")
            .await?;
        Ok(row.map(
            |(etag, last_modified, output_uri, content_hash, record_count)| Validators {
                etag,
                last_modified,
                output_uri,
                content_hash,
                record_count,
            },
        ))
    }

    async fn call_outputs(&self, execution_log_id: i64) -> Result<Vec<CallOutput>, StoreError> {
        let rows: Vec<(i64, String, String, String, Option<i64>, Option<String>)> =
            sqlx::query_as(CALL_OUTPUTS)
                .bind(execution_log_id)
                .fetch_all(&self.pool)
                .within(self, "call_outputs")
                .await?;
        rows.into_iter()
            .map(|(position, role, uri, content_hash, bytes, content_type)| {
                Ok(CallOutput {
                    position,
                    role: OutputRole::parse(&role).ok_or_else(|| {
                        StoreError::Query(format!(
                            "call_outputs: unknown role \"{role}\" of call {execution_log_id}"
                        ))
                    })?,
                    uri,
                    content_hash,
                    bytes,
                    content_type,
                })
            })
            .collect()
    }

    async fn recent_workflow_executions(
        &self,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions ORDER BY execution_time DESC, execution_id DESC LIMIT $1",
        );
        sqlx::query(SQL)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self, "recent_workflow_executions")
            .await?
            .iter()
            .map(|row| execution_row(row).map_err(|e| self.error("recent_workflow_executions", e)))
            .collect()
    }

    async fn scraper_calls_for_execution(
        &self,
        execution_id: &str,
    ) -> Result<Vec<ScraperCallRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            " FROM scraper_execution_log WHERE execution_id = $1 ORDER BY id",
        );
        sqlx::query(SQL)
            .bind(execution_id)
            .fetch_all(&self.pool)
            .within(self, "scraper_calls_for_execution")
            .await?
            .iter()
            .map(|row| call_row(row).map_err(|e| self.error("scraper_calls_for_execution", e)))
            .collect()
    }

    async fn recent_standalone_calls(&self, limit: u32) -> Result<Vec<ScraperCallRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            " FROM scraper_execution_log WHERE execution_id IS NULL \
              ORDER BY started_at DESC, id DESC LIMIT $1",
        );
        sqlx::query(SQL)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self, "recent_standalone_calls")
            .await?
            .iter()
            .map(|row| call_row(row).map_err(|e| self.error("recent_standalone_calls", e)))
            .collect()
    }

    async fn attempts_for_call(
        &self,
        scraper_execution_id: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        sqlx::query(
            "SELECT scraper_execution_id, attempt, page, proxy, started_at, finished_at, \
                http_status, outcome, error_kind, error_message, delay_before_ms \
             FROM scraper_attempts WHERE scraper_execution_id = $1 ORDER BY attempt",
        )
        .bind(scraper_execution_id)
        .fetch_all(&self.pool)
        .within(self, "attempts_for_call")
        .await?
        .iter()
        .map(|row| attempt_row(row).map_err(|e| self.error("attempts_for_call", e)))
        .collect()
    }

    // ----- Scheduler (see `scheduler` for how claims stay exclusive) -----

    async fn record_decision(
        &self,
        decision: &NewDecision,
        run: Option<&NewScheduledRun>,
    ) -> Result<DecisionOutcome, StoreError> {
        scheduler::record_decision(self, decision, run).await
    }

    async fn decisions_since(
        &self,
        workflow: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        scheduler::decisions_since(self, workflow, since).await
    }

    async fn slot_history(
        &self,
        workflow: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SlotRow>, StoreError> {
        scheduler::slot_history(self, workflow, from, to).await
    }

    async fn slot_facts(
        &self,
        workflow: &str,
        keys: &[(NaiveDate, String)],
    ) -> Result<Vec<SlotRow>, StoreError> {
        scheduler::slot_facts(self, workflow, keys).await
    }

    async fn decision_span(
        &self,
        workflow: &str,
    ) -> Result<rebound_storage::DecisionSpan, StoreError> {
        scheduler::decision_span(self, workflow).await
    }

    async fn claim_run(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ScheduledRunRow>, StoreError> {
        scheduler::claim_run(self, worker, now, lease).await
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        scheduler::renew_lease(self, run_id, worker, until).await
    }

    async fn finish_run(
        &self,
        run_id: &str,
        worker: &str,
        finished_at: DateTime<Utc>,
        status: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        scheduler::finish_run(self, run_id, worker, finished_at, status, error).await
    }

    async fn release_run(
        &self,
        run_id: &str,
        worker: &str,
        run_at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, StoreError> {
        scheduler::release_run(self, run_id, worker, run_at, note).await
    }

    async fn requeue_expired(
        &self,
        now: DateTime<Utc>,
        max_claims: u32,
    ) -> Result<Vec<String>, StoreError> {
        scheduler::requeue_expired(self, now, max_claims).await
    }

    async fn scheduled_runs(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ScheduledRunRow>, StoreError> {
        scheduler::scheduled_runs(self, state, limit).await
    }

    async fn enqueue_run(&self, run: &NewScheduledRun) -> Result<bool, StoreError> {
        scheduler::enqueue_run(self, run).await
    }

    async fn next_run_at(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        scheduler::next_run_at(self, after).await
    }

    async fn due_wakeups(&self) -> Result<Box<dyn rebound_storage::DueWakeups>, StoreError> {
        let mut listener = self.listener.lock().await;
        if listener.as_ref().is_none_or(|task| task.0.is_finished()) {
            let task = due::start_listener(
                &self.options,
                self.set_path.clone(),
                &self.channel,
                self.store_id.clone(),
                self.due.clone(),
                &self.redactor,
                self.reply_within,
            )
            .await?;
            *listener = Some(due::ListenerTask(task));
        }
        Ok(self.due.subscribe())
    }

    // ----- Facts -----

    async fn collected_values(
        &self,
        scrapers: &[String],
        param: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<String>, StoreError> {
        scheduler::collected_values(self, scrapers, param, target_date).await
    }

    async fn collected_values_many(
        &self,
        asks: &[CollectedAsk],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        scheduler::collected_values_many(self, asks).await
    }

    async fn executions_for_date(
        &self,
        workflow: &str,
        target_date: NaiveDate,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions WHERE workflow_name = $1 AND target_date = $2 \
              ORDER BY execution_time, execution_id",
        );
        sqlx::query(SQL)
            .bind(workflow)
            .bind(target_date)
            .fetch_all(&self.pool)
            .within(self, "executions_for_date")
            .await?
            .iter()
            .map(|row| execution_row(row).map_err(|e| self.error("executions_for_date", e)))
            .collect()
    }

    async fn latest_payload(
        &self,
        scrapers: &[String],
        target_date: Option<NaiveDate>,
    ) -> Result<Option<LatestPayload>, StoreError> {
        scheduler::latest_payload(self, scrapers, target_date).await
    }

    // ----- Entity lockouts -----

    async fn entity_streak(
        &self,
        scraper_name: &str,
        param: &str,
        entity: &str,
        limit: u32,
    ) -> Result<u32, StoreError> {
        lockouts::entity_streak(self, scraper_name, param, entity, limit).await
    }

    async fn lock_entity(&self, lock: &NewLockout) -> Result<bool, StoreError> {
        lockouts::lock_entity(self, lock).await
    }

    async fn open_lockouts(
        &self,
        scraper_name: Option<&str>,
    ) -> Result<Vec<LockoutRow>, StoreError> {
        lockouts::open_lockouts(self, scraper_name).await
    }

    async fn release_lockouts(
        &self,
        scraper_name: &str,
        entity: Option<&str>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<u32, StoreError> {
        lockouts::release_lockouts(self, scraper_name, entity, at, reason).await
    }

    // ----- Request quotas -----

    async fn quota_take(
        &self,
        key: &rebound_storage::QuotaKey,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<rebound_storage::QuotaTake, StoreError> {
        quota::take(self, key, limit, now).await
    }

    async fn quota_settle(
        &self,
        key: &rebound_storage::QuotaKey,
        extra_requests: i64,
        remaining_reported: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<rebound_storage::QuotaUsageRow, StoreError> {
        quota::settle(self, key, extra_requests, remaining_reported, now).await
    }

    async fn quota_mark_warned(
        &self,
        key: &rebound_storage::QuotaKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        quota::mark_warned(self, key, now).await
    }

    async fn quota_usage(
        &self,
        source_name: &str,
        period_start: DateTime<Utc>,
    ) -> Result<Option<rebound_storage::QuotaUsageRow>, StoreError> {
        quota::usage(self, source_name, period_start).await
    }

    // ----- Circuit breakers -----

    async fn breaker_state(&self, source: &str) -> Result<Option<BreakerRow>, StoreError> {
        breakers::breaker_state(self, source).await
    }

    async fn update_breaker(
        &self,
        source: &str,
        now: DateTime<Utc>,
        change: BreakerChange<'_>,
    ) -> Result<BreakerState, StoreError> {
        breakers::update_breaker(self, source, now, change).await
    }

    async fn breaker_states(&self) -> Result<Vec<BreakerRow>, StoreError> {
        breakers::breaker_states(self).await
    }

    async fn breaker_transitions(
        &self,
        source: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BreakerTransitionRow>, StoreError> {
        breakers::breaker_transitions(self, source, limit).await
    }

    async fn newest_breaker_transitions(
        &self,
        sources: &[String],
    ) -> Result<Vec<Option<BreakerTransitionRow>>, StoreError> {
        breakers::newest_breaker_transitions(self, sources).await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // The server owns its files and their durability.
        Ok(())
    }

    async fn backup_into(&self, _path: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Query(
            "a PostgreSQL database is backed up with the server's own tools: pg_dump (e.g. `pg_dump -Fc -f rebound.dump DBNAME`), not rebound backup".to_string(),
        ))
    }

    // --- Dashboard (issue 16) ---

    async fn run_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RunHourRow>, StoreError> {
        dashboard::run_hours(self, from, to).await
    }

    async fn call_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CallHourRow>, StoreError> {
        dashboard::call_hours(self, from, to).await
    }

    // --- API (issue 16) ---

    async fn workflow_executions_page(
        &self,
        filter: &RunFilter,
        limit: u32,
    ) -> Result<Vec<WorkflowExecutionRow>, StoreError> {
        const WHAT: &str = "workflow_executions_page";
        // Only the filters given become conditions, so the planner can
        // pick the index that fits (by time, or by workflow and date).
        let mut page = Conditions::new(format!(
            "SELECT {} FROM workflow_executions WHERE TRUE",
            execution_columns!()
        ));
        if let Some(workflow) = &filter.workflow {
            page.push(" AND workflow_name = ", Bind::Text(workflow.clone()));
        }
        if let Some(status) = &filter.status {
            page.push(" AND status = ", Bind::Text(status.clone()));
        }
        if let Some(from) = filter.from {
            page.push(" AND execution_time >= ", Bind::Time(ms(from)));
        }
        if let Some(to) = filter.to {
            page.push(" AND execution_time < ", Bind::Time(ms(to)));
        }
        if let Some((at, id)) = &filter.before {
            page.push(
                " AND (execution_time, execution_id) < (",
                Bind::Time(ms(*at)),
            );
            page.push(", ", Bind::Text(id.clone()));
            page.sql.push(')');
        }
        page.sql.push_str(&format!(
            " ORDER BY execution_time DESC, execution_id DESC LIMIT {limit}"
        ));
        page.query()
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?
            .iter()
            .map(|row| execution_row(row).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn workflow_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<WorkflowExecutionRow>, StoreError> {
        const WHAT: &str = "workflow_execution";
        const SQL: &str = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM workflow_executions WHERE execution_id = $1",
        );
        sqlx::query(SQL)
            .bind(execution_id)
            .fetch_optional(&self.pool)
            .within(self, WHAT)
            .await?
            .as_ref()
            .map(|row| execution_row(row).map_err(|e| self.error(WHAT, e)))
            .transpose()
    }

    async fn scraper_calls_page(
        &self,
        filter: &CallFilter,
        limit: u32,
    ) -> Result<Vec<ScraperCallRow>, StoreError> {
        const WHAT: &str = "scraper_calls_page";
        let mut page = Conditions::new(format!(
            "SELECT {} FROM scraper_execution_log WHERE TRUE",
            call_columns!()
        ));
        if let Some(scraper) = &filter.scraper {
            page.push(" AND scraper_name = ", Bind::Text(scraper.clone()));
        }
        if let Some(status) = &filter.status {
            page.push(" AND status = ", Bind::Text(status.clone()));
        }
        if let Some(from) = filter.from {
            page.push(" AND started_at >= ", Bind::Time(ms(from)));
        }
        if let Some(to) = filter.to {
            page.push(" AND started_at < ", Bind::Time(ms(to)));
        }
        if let Some((at, id)) = filter.before {
            page.push(" AND (started_at, id) < (", Bind::Time(ms(at)));
            page.push(", ", Bind::Int(id));
            page.sql.push(')');
        }
        page.sql
            .push_str(&format!(" ORDER BY started_at DESC, id DESC LIMIT {limit}"));
        page.query()
            .fetch_all(&self.pool)
            .within(self, WHAT)
            .await?
            .iter()
            .map(|row| call_row(row).map_err(|e| self.error(WHAT, e)))
            .collect()
    }

    async fn decisions_between(
        &self,
        workflow: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        scheduler::decisions_between(self, workflow, from, to).await
    }
}

/// A value bound to a `$n` of [`Conditions`].
enum Bind {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}

/// A query whose conditions depend on the filters given; values are always
/// bound, never spliced into the text.
struct Conditions {
    sql: String,
    binds: Vec<Bind>,
}

impl Conditions {
    fn new(sql: String) -> Conditions {
        Conditions {
            sql,
            binds: Vec::new(),
        }
    }

    /// Appends `text` followed by the next placeholder, bound to `value`.
    fn push(&mut self, text: &str, value: Bind) {
        self.binds.push(value);
        self.sql.push_str(text);
        self.sql.push_str(&format!("${}", self.binds.len()));
    }

    fn query(self) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql));
        for value in self.binds {
            query = match value {
                Bind::Text(text) => query.bind(text),
                Bind::Time(time) => query.bind(time),
                Bind::Int(int) => query.bind(int),
            };
        }
        query
    }
}

fn execution_row(row: &PgRow) -> Result<WorkflowExecutionRow, sqlx::Error> {
    Ok(WorkflowExecutionRow {
        execution_id: row.try_get("execution_id")?,
        workflow_name: row.try_get("workflow_name")?,
        target_date: row.try_get("target_date")?,
        execution_time: row.try_get("execution_time")?,
        finished_at: row.try_get("finished_at")?,
        status: row.try_get("status")?,
        scrapers_requested: row.try_get("scrapers_requested")?,
        scrapers_succeeded: row.try_get("scrapers_succeeded")?,
        scrapers_failed: row.try_get("scrapers_failed")?,
        scrapers_no_data: row.try_get("scrapers_no_data")?,
        scrapers_skipped: row.try_get("scrapers_skipped")?,
        error_message: row.try_get("error_message")?,
        duration_ms: row.try_get("duration_ms")?,
        error_kind: row.try_get("error_kind")?,
    })
}

fn call_row(row: &PgRow) -> Result<ScraperCallRow, sqlx::Error> {
    Ok(ScraperCallRow {
        id: row.try_get("id")?,
        execution_id: row.try_get("execution_id")?,
        workflow_name: row.try_get("workflow_name")?,
        scraper_name: row.try_get("scraper_name")?,
        source_name: row.try_get("source_name")?,
        params: row.try_get("params")?,
        target_date: row.try_get("target_date")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        http_status: row.try_get::<Option<i32>, _>("http_status")?.map(i64::from),
        error_kind: row.try_get("error_kind")?,
        error_message: row.try_get("error_message")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        duration_ms: row.try_get("duration_ms")?,
        bytes: row.try_get("bytes")?,
        output_uri: row.try_get("output_uri")?,
        content_hash: row.try_get("content_hash")?,
        unchanged: row.try_get("unchanged")?,
        pages: row.try_get("pages")?,
        record_count: row.try_get("record_count")?,
    })
}

fn attempt_row(row: &PgRow) -> Result<AttemptRow, sqlx::Error> {
    Ok(AttemptRow {
        scraper_execution_id: row.try_get("scraper_execution_id")?,
        attempt: row.try_get("attempt")?,
        page: row.try_get::<i32, _>("page").map(i64::from)?,
        proxy: row.try_get::<Option<i32>, _>("proxy")?.map(i64::from),
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        http_status: row.try_get::<Option<i32>, _>("http_status")?.map(i64::from),
        outcome: row.try_get("outcome")?,
        error_kind: row.try_get("error_kind")?,
        error_message: row.try_get("error_message")?,
        delay_before_ms: row.try_get("delay_before_ms")?,
    })
}
