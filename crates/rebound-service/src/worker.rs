//! Workers: claim queued runs under a lease, execute them, mark them done.
//!
//! A claim sets `lease_expires_at = now + lease`; while the engine works, a
//! renewal task extends it every third of the lease. A worker that dies
//! stops renewing, the reaper requeues its run once the lease has expired,
//! and another worker runs it again with the same execution id. Because a
//! raw payload and its history row are written only when a call completes,
//! a call cut off by the crash leaves nothing behind, so the second run
//! stores one payload, not two.
//!
//! An idle worker does not find due runs by polling alone: it subscribes
//! to the store's wake-ups ([`rebound_storage::DueWakeups`]: in-process on
//! SQLite, `LISTEN`/`NOTIFY` on PostgreSQL), so a run queued now is claimed
//! at once, and for runs queued for later it sleeps until the earliest one
//! is due ([`rebound_storage::Store::next_run_at`]). The poll stays as the
//! fallback for anything neither covers (a lost listener connection).
//!
//! On shutdown a worker stops claiming, lets in-flight runs finish within
//! `[scheduler] shutdown_grace`, and releases the rest back to the queue.

use crate::CALENDAR_PREFIX;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use rebound_domain::clock::Clock;
use rebound_domain::handoff::Trigger;
use rebound_domain::outcome::ErrorKind;
use rebound_engine::{Engine, RunOptions};
use rebound_storage::{NewScheduledRun, RunFailure, ScheduledRunRow, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How often an idle worker looks for due runs when nothing wakes it: the
/// fallback for a missed wake-up. Before wake-ups and the timer existed
/// this was the whole mechanism, and a due run waited half of it on
/// average (docs/benchmarks.md).
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Workers poll often; the reaper's sweep need not run that often.
const REAP_EVERY: chrono::Duration = chrono::Duration::seconds(1);

/// A stored wait may be followed up this many times per slot.
const MAX_FOLLOW_UPS: usize = 3;

/// Re-checks of late data per slot, a backstop only: re-checks stop at the
/// scraper's deadline anyway (48h every 2h is 24).
const MAX_RECHECKS: u32 = 100;

/// Why a run stopped without a result.
enum Stop {
    /// It could not run or failed as a whole: recorded as a failed run.
    Failed(ErrorKind, String),
    /// The database went away: nothing more can be recorded, and the run
    /// is left to its lease.
    Away(StoreError),
}

/// What a run asks to be done later.
#[derive(Debug, Default)]
struct Later {
    /// The workflow run's per-status call counts (none for a calendar
    /// refresh or a run that could not start), for the "Run finished." line.
    counts: Option<rebound_domain::outcome::StatusCounts>,
    retry_at: Option<DateTime<Utc>>,
    recheck_at: Option<DateTime<Utc>>,
    recheck_entities: Option<Vec<String>>,
}

/// What one executed run ended as.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: String,
    pub workflow: String,
    pub target_date: chrono::NaiveDate,
    pub slot: String,
    pub execution_id: String,
    /// Workflow status (`success`, `partial`, …) or `failed` when the run
    /// could not start.
    pub status: String,
    /// When the worker started it, against when it was due.
    pub started_at: DateTime<Utc>,
    pub scheduled_for: DateTime<Utc>,
    /// A follow-up run queued for a wait too long to sleep.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// A follow-up run queued to re-check late data (`not_yet_available`).
    pub recheck_at: Option<DateTime<Utc>>,
    /// Per-status call counts of a workflow run (`None` for a calendar
    /// refresh or a run that could not start).
    pub counts: Option<rebound_domain::outcome::StatusCounts>,
    /// When the run finished (on the worker's clock).
    pub finished_at: DateTime<Utc>,
}

/// Executes queued runs.
pub struct Worker {
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    id: String,
    wake: Arc<Notify>,
    /// When this worker last swept for expired leases (on its clock).
    last_reap: std::sync::Mutex<Option<DateTime<Utc>>>,
    /// The fallback poll of `run_loop` ([`IDLE_POLL`] unless set).
    idle_poll: Duration,
    /// How many times `run_loop` found nothing due and went to wait.
    idle: watch::Sender<u64>,
    /// False: the poll alone, as before wake-ups (see `polling_only`).
    wakeups: bool,
}

impl Worker {
    pub fn new(
        engine: Arc<Engine>,
        clock: Arc<dyn Clock>,
        id: String,
        wake: Arc<Notify>,
    ) -> Worker {
        Worker {
            engine,
            clock,
            id,
            wake,
            last_reap: std::sync::Mutex::new(None),
            idle_poll: IDLE_POLL,
            idle: watch::channel(0).0,
            wakeups: true,
        }
    }

    /// Finds due runs by the fallback poll alone: no wake-ups, no timer,
    /// as workers did before 2026-12-02. Only for the schedule-to-start
    /// benchmark, which measures both in one run.
    pub fn polling_only(mut self) -> Worker {
        self.wakeups = false;
        self
    }

    /// Sets the fallback poll of `run_loop`. Tests set it to hours to show
    /// that a wake-up, not the poll, started a run.
    pub fn with_idle_poll(mut self, poll: Duration) -> Worker {
        self.idle_poll = poll;
        self
    }

    /// Counts the times `run_loop` found nothing due and started to wait,
    /// so a test can tell when the worker is idle without sleeping.
    pub fn idle_waits(&self) -> watch::Receiver<u64> {
        self.idle.subscribe()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease(&self) -> Duration {
        self.engine.plan().scheduler.lease
    }

    /// Claims one due run and executes it; `None` when nothing is due.
    pub async fn run_one(&self) -> Result<Option<RunOutcome>, StoreError> {
        let Some(run) = self.claim().await? else {
            return Ok(None);
        };
        Ok(Some(self.execute(run).await?))
    }

    async fn claim(&self) -> Result<Option<ScheduledRunRow>, StoreError> {
        self.claim_at(self.clock.now()).await
    }

    async fn claim_at(&self, now: DateTime<Utc>) -> Result<Option<ScheduledRunRow>, StoreError> {
        let store = self.engine.store();
        let reap = {
            let mut last = self.last_reap.lock().expect("last_reap lock");
            let due = last.is_none_or(|at| now - at >= REAP_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if reap {
            crate::reap(store.as_ref(), now).await?;
        }
        store.claim_run(&self.id, now, self.lease()).await
    }

    /// Executes a claimed run while renewing its lease.
    async fn execute(&self, run: ScheduledRunRow) -> Result<RunOutcome, StoreError> {
        let started_at = self.clock.now();
        tracing::info!(run_id = %run.run_id, workflow = %run.workflow_name, target_date = %run.target_date,
            slot = %run.slot, claims = run.claims, "Run claimed.");
        // Dropping the guard stops renewing, also when this future is
        // cancelled at shutdown or the run panics.
        let renewal = AbortOnDrop(self.spawn_renewal(&run.run_id));
        // A panic in the run is caught here and recorded like any failure to
        // run, instead of killing the task and leaving the run to the
        // reaper three lease expiries later with no run row.
        let result = match std::panic::AssertUnwindSafe(self.execute_inner(&run))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_string());
                let what = self.engine.plan().redactor.redact_string(&what);
                Err(Stop::Failed(
                    ErrorKind::Internal,
                    format!("run panicked: {what}"),
                ))
            }
        };
        drop(renewal);
        let (status, later, error) = match result {
            Ok((status, later)) => (status, later, None),
            Err(Stop::Away(error)) => {
                // Recording a failure now would end the slot for an outage
                // of seconds (and could itself fail). The run keeps its
                // lease, which lapses; the run is then claimed again and
                // makes the calls its execution has not recorded.
                tracing::warn!(run_id = %run.run_id, workflow = %run.workflow_name, %error,
                    "The database went away during the run; it runs again when its lease expires.");
                return Err(error);
            }
            Err(Stop::Failed(kind, message)) => {
                tracing::error!(run_id = %run.run_id, workflow = %run.workflow_name, error = %message, "Run could not start.");
                // Kept on the run's row too: a failed run always says why.
                let note = format!("run could not start: {message}");
                // And as a failed run row, so `status`, `health` and the
                // workflow_failed alert see it like any failed run.
                if !run.workflow_name.starts_with(CALENDAR_PREFIX) {
                    let message = rebound_domain::message::truncate_chars(&message, 1000);
                    self.engine
                        .store()
                        .record_run_failure(&RunFailure {
                            execution_id: run.execution_id.clone(),
                            workflow_name: run.workflow_name.clone(),
                            target_date: run.target_date,
                            at: self.clock.now(),
                            error_kind: kind,
                            message,
                            params: run.params.clone(),
                            only_running_owner: None,
                        })
                        .await?;
                }
                ("failed".to_string(), Later::default(), Some(note))
            }
        };
        let store = self.engine.store();
        let follow_up_at = match later.retry_at {
            Some(at) => self.follow_up(&run, at).await?,
            None => None,
        };
        let recheck_at = match later.recheck_at {
            Some(at) => self.recheck(&run, at, later.recheck_entities).await?,
            None => None,
        };
        let held = store
            .finish_run(
                &run.run_id,
                &self.id,
                self.clock.now(),
                &status,
                error.as_deref(),
            )
            .await?;
        if !held {
            tracing::warn!(run_id = %run.run_id, "Lease was lost while the run worked; another worker may have run it too.");
        }
        // A run is never started before its run_at; scheduled_for is at or
        // before that, so the delay is not negative, but a clock step could
        // make it so.
        let delay = (started_at - run.scheduled_for)
            .to_std()
            .unwrap_or_default();
        self.engine
            .metrics()
            .record_run(&run.workflow_name, &status, delay);
        Ok(RunOutcome {
            run_id: run.run_id,
            workflow: run.workflow_name,
            target_date: run.target_date,
            slot: run.slot,
            execution_id: run.execution_id,
            status,
            started_at,
            scheduled_for: run.scheduled_for,
            follow_up_at,
            recheck_at,
            counts: later.counts,
            finished_at: self.clock.now(),
        })
    }

    /// Runs the workflow (or calendar refresh) a run names. Errors that
    /// prevent the run from starting come back as text with their kind:
    /// `config` when the engine refuses the run (a parameter nothing
    /// supplies, an unknown workflow), `internal` otherwise.
    async fn execute_inner(&self, run: &ScheduledRunRow) -> Result<(String, Later), Stop> {
        let internal = |message: String| Stop::Failed(ErrorKind::Internal, message);
        let engine_error = |e: rebound_engine::EngineError| match e {
            rebound_engine::EngineError::Store(StoreError::Unavailable(detail)) => {
                Stop::Away(StoreError::Unavailable(detail))
            }
            e if e.is_usage() => Stop::Failed(ErrorKind::Config, e.to_string()),
            e => Stop::Failed(ErrorKind::Internal, e.to_string()),
        };
        let params: BTreeMap<String, String> = serde_json::from_str(&run.params)
            .map_err(|e| internal(format!("run {} has unreadable params: {e}", run.run_id)))?;
        if let Some(calendar) = run.workflow_name.strip_prefix(CALENDAR_PREFIX) {
            let plan = self.engine.plan();
            let scraper = plan
                .calendars
                .get(calendar)
                .and_then(|c| c.refresh.as_ref())
                .map(|r| r.scraper.clone())
                .ok_or_else(|| {
                    Stop::Failed(
                        ErrorKind::Config,
                        format!("calendar {calendar} has no refresh scraper"),
                    )
                })?;
            let report = self
                .engine
                .run_scraper_as(&scraper, run.target_date, &params, None, Trigger::Schedule)
                .await
                .map_err(engine_error)?;
            return Ok((report.status.as_str().to_string(), Later::default()));
        }
        let entities: Option<Vec<String>> = serde_json::from_str(&run.entities)
            .map_err(|e| internal(format!("run {} has unreadable entities: {e}", run.run_id)))?;
        // Backfill decisions name their slot `backfill`; every other run
        // came from a schedule (a slot, its retry, or a follow-up).
        let trigger = if run.slot.starts_with("backfill") {
            Trigger::Backfill
        } else {
            Trigger::Schedule
        };
        let options = RunOptions {
            execution_id: Some(run.execution_id.clone()),
            entities,
            slot: Some(slot_time(run, self.engine.plan().pipeline.timezone)),
            trigger,
        };
        let report = self
            .engine
            .run_workflow_with(&run.workflow_name, run.target_date, &params, &options)
            .await
            .map_err(engine_error)?;
        Ok((
            report.status.as_str().to_string(),
            Later {
                counts: Some(report.counts),
                retry_at: report.retry_at,
                recheck_at: report.recheck_at,
                recheck_entities: report.recheck_entities,
            },
        ))
    }

    /// Stores a re-check of late data as a follow-up run due at `at`, in
    /// slot `<slot>+recheckN`, for the not-yet-available entities when the
    /// run can be narrowed to them.
    async fn recheck(
        &self,
        run: &ScheduledRunRow,
        at: DateTime<Utc>,
        entities: Option<Vec<String>>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (base, done) = match run.slot.rsplit_once("+recheck") {
            Some((base, n)) => (base, n.parse::<u32>().unwrap_or(MAX_RECHECKS)),
            None => (run.slot.as_str(), 0),
        };
        if done >= MAX_RECHECKS {
            tracing::warn!(run_id = %run.run_id, max = MAX_RECHECKS, "Not storing another re-check: this slot had the most allowed.");
            return Ok(None);
        }
        let entities = match entities {
            Some(list) => serde_json::to_string(&list).unwrap_or_else(|_| run.entities.clone()),
            None => run.entities.clone(),
        };
        let follow = NewScheduledRun {
            run_id: uuid::Uuid::now_v7().to_string(),
            workflow_name: run.workflow_name.clone(),
            target_date: run.target_date,
            slot: format!("{base}+recheck{}", done + 1),
            params: run.params.clone(),
            entities,
            run_at: at,
            scheduled_for: at,
            execution_id: uuid::Uuid::now_v7().to_string(),
            decision_id: run.decision_id.clone(),
            created_at: self.clock.now(),
        };
        let queued = self.engine.store().enqueue_run(&follow).await?;
        if queued {
            tracing::info!(run_id = %run.run_id, workflow = %run.workflow_name, %at, slot = %follow.slot, "Late data: re-check stored.");
        }
        Ok(queued.then_some(at))
    }

    /// Stores a wait too long to sleep as a follow-up run due at `at`,
    /// under the same execution id.
    async fn follow_up(
        &self,
        run: &ScheduledRunRow,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let count = run.slot.matches("+retry").count();
        if count >= MAX_FOLLOW_UPS {
            tracing::warn!(run_id = %run.run_id, max = MAX_FOLLOW_UPS, "Not storing another follow-up: this slot had the most allowed.");
            return Ok(None);
        }
        let now = self.clock.now();
        let follow = NewScheduledRun {
            run_id: uuid::Uuid::now_v7().to_string(),
            workflow_name: run.workflow_name.clone(),
            target_date: run.target_date,
            slot: format!("{}+retry{}", run.slot, count + 1),
            params: run.params.clone(),
            entities: run.entities.clone(),
            run_at: at,
            scheduled_for: at,
            // The same execution: the follow-up makes only the calls that
            // did not complete (the deferred ones), and finishes the same
            // run row, so nothing is fetched or counted twice.
            execution_id: run.execution_id.clone(),
            decision_id: run.decision_id.clone(),
            created_at: now,
        };
        let queued = self.engine.store().enqueue_run(&follow).await?;
        Ok(queued.then_some(at))
    }

    /// Extends the lease every third of its length, on real time: leases
    /// are about whether this process is alive, not about the schedule.
    fn spawn_renewal(&self, run_id: &str) -> tokio::task::JoinHandle<()> {
        let store = self.engine.store().clone();
        let clock = self.clock.clone();
        let lease = self.lease();
        let run_id = run_id.to_string();
        let worker = self.id.clone();
        tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let until = rebound_domain::duration::add_saturating(clock.now(), lease);
                match store.renew_lease(&run_id, &worker, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%run_id, "Lease lost; the run goes on but may be run again elsewhere.");
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%run_id, %error, "Could not renew the lease; trying again.")
                    }
                }
            }
        })
    }

    /// Claims and executes runs, up to `parallel` at once, until `shutdown`.
    /// When idle it waits for a wake-up, the next queued run's `run_at`, a
    /// run finishing or the idle poll, whichever comes first.
    pub async fn run_loop(self: Arc<Self>, parallel: usize, mut shutdown: watch::Receiver<bool>) {
        let grace = self.engine.plan().scheduler.shutdown_grace;
        let mut in_flight: JoinSet<(String, Result<RunOutcome, StoreError>)> = JoinSet::new();
        // Subscribed before the first claim, so a run queued between an
        // empty claim and the wait still wakes this worker.
        let subscribed = match self.wakeups {
            true => self.engine.store().due_wakeups().await.map(Some),
            false => Ok(None),
        };
        let mut wakeups = match subscribed {
            Ok(wakeups) => wakeups,
            Err(error) => {
                tracing::warn!(%error, poll = ?self.idle_poll, "No wake-ups for queued runs; polling for them instead.");
                None
            }
        };
        // The run_at this worker last slept towards (see `idle_wait`).
        let mut timer_target = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            while let Some(done) = in_flight.try_join_next() {
                log_done(done);
            }
            let mut claimed_any = false;
            let mut empty_at = None;
            while in_flight.len() < parallel.max(1) {
                let now = self.clock.now();
                match self.claim_at(now).await {
                    Ok(Some(run)) => {
                        claimed_any = true;
                        let me = self.clone();
                        let run_id = run.run_id.clone();
                        in_flight.spawn(async move { (run_id, me.execute(run).await) });
                    }
                    Ok(None) => {
                        empty_at = Some(now);
                        break;
                    }
                    Err(error) => {
                        tracing::error!(%error, "Could not claim a run; trying again shortly.");
                        break;
                    }
                }
            }
            if claimed_any {
                continue;
            }
            let wait = match empty_at {
                Some(now) => {
                    let wait = match self.wakeups {
                        true => self.idle_wait(now, &mut timer_target).await,
                        false => self.idle_poll,
                    };
                    self.idle.send_modify(|n| *n += 1);
                    wait
                }
                None => self.idle_poll,
            };
            let woken = async {
                match wakeups.as_mut() {
                    Some(wakeups) => wakeups.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = woken => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => log_done(done),
                _ = shutdown.changed() => {}
            }
        }
        self.drain_on_shutdown(in_flight, grace).await;
    }

    /// How long an idle worker may sleep after finding nothing due at
    /// `now`: until the earliest run queued for later, at most the idle
    /// poll. On a clock that does not follow real time (a manual clock in
    /// tests), sleeping does not bring that run nearer, so a second wait
    /// towards the same `run_at` is a full poll instead of a busy loop.
    async fn idle_wait(&self, now: DateTime<Utc>, target: &mut Option<DateTime<Utc>>) -> Duration {
        let next = match self.engine.store().next_run_at(now).await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "Could not read when the next run is due; polling.");
                return self.idle_poll;
            }
        };
        let Some(at) = next else {
            *target = None;
            return self.idle_poll;
        };
        if *target == Some(at) {
            *target = None;
            return self.idle_poll;
        }
        let wait = (at - self.clock.now()).to_std().unwrap_or_default();
        if wait < self.idle_poll {
            // This wait should reach `at`; remember it to notice if not.
            *target = Some(at);
            wait
        } else {
            *target = None;
            self.idle_poll
        }
    }

    /// Lets in-flight runs finish within `grace`, then releases the rest.
    async fn drain_on_shutdown(
        &self,
        mut in_flight: JoinSet<(String, Result<RunOutcome, StoreError>)>,
        grace: Duration,
    ) {
        if in_flight.is_empty() {
            return;
        }
        tracing::info!(
            runs = in_flight.len(),
            ?grace,
            "Shutting down: letting in-flight runs finish."
        );
        let deadline = tokio::time::Instant::now() + grace;
        while !in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, in_flight.join_next()).await {
                Ok(Some(done)) => log_done(done),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        if in_flight.is_empty() {
            return;
        }
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        // Aborted tasks cannot say which run they held; release by owner.
        let store = self.engine.store();
        match store.scheduled_runs(Some("running"), 10_000).await {
            Ok(runs) => {
                for run in runs
                    .iter()
                    .filter(|r| r.lease_owner.as_deref() == Some(&self.id))
                {
                    let note = format!(
                        "released at shutdown: worker {} stopped before the run finished",
                        self.id
                    );
                    match store
                        .release_run(&run.run_id, &self.id, self.clock.now(), &note)
                        .await
                    {
                        Ok(_) => {
                            tracing::warn!(run_id = %run.run_id, "Released an unfinished run at shutdown.")
                        }
                        Err(error) => {
                            tracing::error!(run_id = %run.run_id, %error, "Could not release a run; it will be requeued when its lease expires.")
                        }
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "Could not list runs to release; they will be requeued when their leases expire.")
            }
        }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn log_done(done: Result<(String, Result<RunOutcome, StoreError>), tokio::task::JoinError>) {
    match done {
        Ok((_, Ok(outcome))) => {
            let delay_ms = (outcome.started_at - outcome.scheduled_for).num_milliseconds();
            let duration_ms = (outcome.finished_at - outcome.started_at).num_milliseconds();
            let c = outcome.counts.unwrap_or_default();
            // Target `rebound::runs`: the one line per run `rebound serve`
            // shows at its default level (the CLI enables this target).
            tracing::info!(target: "rebound::runs", run_id = %outcome.run_id, workflow = %outcome.workflow,
            target_date = %outcome.target_date, slot = %outcome.slot, status = %outcome.status,
            succeeded = c.succeeded, no_data = c.no_data, failed = c.failed, skipped = c.skipped,
            duration_ms, schedule_to_start_ms = delay_ms, "Run finished.")
        }
        Ok((run_id, Err(error))) => {
            tracing::error!(%run_id, %error, "Run finished but could not be marked done; its lease will expire and it will be retried.")
        }
        Err(error) => tracing::error!(%error, "A run task panicked or was cancelled."),
    }
}

/// The local time a scheduled run's slot stands for, which supplies
/// `{slot_hour}` and its kin: the time in its name (`17:00`, also for its
/// follow-ups `17:00+retry1` and `17:00+recheck2`, which redo that slot's
/// work), or, for a slot named otherwise (`window`), the local time it was
/// scheduled for.
fn slot_time(run: &ScheduledRunRow, tz: chrono_tz::Tz) -> chrono::NaiveTime {
    let base = run.slot.split('+').next().unwrap_or("");
    rebound_domain::params::parse_slot(base).unwrap_or_else(|_| {
        let local = run.scheduled_for.with_timezone(&tz).time();
        // Slots are minutes: seconds would make `{slot_minute}` disagree
        // with the slot a person reads in the decision row.
        chrono::Timelike::with_second(&local, 0)
            .and_then(|t| chrono::Timelike::with_nanosecond(&t, 0))
            .unwrap_or(local)
    })
}
