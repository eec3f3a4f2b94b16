//! The service layer: every operation the API offers, as plain async methods that take
//! protocol or domain types and the tenant, between the HTTP handlers (`crate::api`) and the
//! engine and store. It owns the server's rules for each operation (limits, the destination
//! policy, workflow runs' rules) and the writes: after a write that makes work due it wakes
//! the scheduler, here and nowhere else. It knows nothing of HTTP, so other front ends (a
//! console, a CLI, schedules) can call it as the API does.
//!
//! By operation family: [`accept`] (publish, batches), [`runs`] (workflow triggers, the runs
//! API, logs), [`dlq`] (dead letters, retry, restart and resume), [`wait`] (waits and
//! notifies), [`reads`] (messages, events, flow control, signing keys, health, metrics).

pub(crate) mod accept;
pub(crate) mod dlq;
pub(crate) mod invoke;
pub(crate) mod reads;
pub(crate) mod runs;
pub(crate) mod schedules;
pub(crate) mod url_groups;
pub(crate) mod wait;

use std::sync::Arc;

use qstash_store::{
    BatchOutcome, CreateRunOutcome, InsertOutcome, Millis, NewMessage, NewRun, RunStep,
    RunToCreate, StoreError,
};

use crate::config::Limits;
use crate::engine::Engine;
use crate::engine::envelope::Envelope;

/// Why an operation was refused or failed. Each says what and where; the API maps them to
/// statuses (400, 404, 413, 500, and the store's own).
#[derive(Debug)]
pub(crate) enum Error {
    /// The input breaks a rule (a limit, the destination policy, a run's rules).
    Invalid(String),
    /// What the operation names does not exist (for the tenant); the message says what.
    NotFound(String),
    /// A body is larger than the limit.
    TooLarge(String),
    /// Something the server keeps is not as it wrote it.
    Internal(String),
    /// The store failed.
    Store(StoreError),
}

impl Error {
    /// A refusal of bad input.
    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    /// `{what} not found`.
    pub(crate) fn not_found(what: &str) -> Error {
        Error::NotFound(format!("{what} not found"))
    }

    /// The same error with `prefix` before its message (`entry 3: …`).
    pub(crate) fn prefixed(self, prefix: &str) -> Error {
        let with = |mut m: String| {
            m.insert_str(0, prefix);
            m
        };
        match self {
            Error::Invalid(m) => Error::Invalid(with(m)),
            Error::NotFound(m) => Error::NotFound(with(m)),
            Error::TooLarge(m) => Error::TooLarge(with(m)),
            Error::Internal(m) => Error::Internal(with(m)),
            Error::Store(e) => Error::Store(e),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

/// The result of a service operation.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// The operations of the server over its engine and store; see the module docs.
pub(crate) struct Service {
    engine: Arc<Engine>,
    limits: Limits,
}

impl Service {
    /// A service over `engine` (and its store) with the limits on accepted work.
    pub(crate) fn new(engine: Arc<Engine>, limits: Limits) -> Service {
        Service { engine, limits }
    }

    /// The limits on accepted work.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The engine (its store, keys, destination policy and metrics).
    fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The one place that tells the scheduler new work may be due.
    fn made_due(&self) {
        self.engine.wake();
    }

    /// Stores accepted messages (see [`qstash_store::Store::insert_messages`]), counts the ones
    /// stored and wakes the scheduler.
    async fn store_messages(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>> {
        let outcomes = self.engine.store.insert_messages(messages, now).await?;
        let stored = outcomes
            .iter()
            .filter(|o| matches!(o, InsertOutcome::Inserted))
            .count();
        self.engine.metrics.accepted.inc_by(stored as u64);
        self.made_due();
        Ok(outcomes)
    }

    /// Retries dead letters in one transaction (see [`qstash_store::Store::retry_dlq`]),
    /// counts the new messages and wakes the scheduler.
    async fn store_dlq_retries(
        &self,
        tenant: &str,
        retries: Vec<(String, NewMessage)>,
        now: Millis,
    ) -> Result<()> {
        let outcomes = self.engine.store.retry_dlq(tenant, retries, now).await?;
        let stored = outcomes
            .iter()
            .filter(|o| matches!(o, InsertOutcome::Inserted))
            .count();
        self.engine.metrics.accepted.inc_by(stored as u64);
        self.made_due();
        Ok(())
    }

    /// Stores a run's wait for an event (see [`qstash_store::Store::register_waiter`]), counts
    /// it when stored and wakes the scheduler (the wait's timeout is a due time).
    async fn store_waiter(
        &self,
        event_id: &str,
        message: NewMessage,
        now: Millis,
    ) -> Result<InsertOutcome> {
        let outcome = self
            .engine
            .store
            .register_waiter(event_id, message, now)
            .await?;
        if matches!(outcome, InsertOutcome::Inserted) {
            self.engine.metrics.accepted.inc();
        }
        self.made_due();
        Ok(outcome)
    }

    /// Creates a workflow run with its first message (with `steps`, a resumed run that starts
    /// with those completed steps), counts it and wakes the scheduler.
    async fn store_run(
        &self,
        run: NewRun,
        steps: Vec<RunStep>,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        let store = &self.engine.store;
        let outcome = if steps.is_empty() {
            store.create_run(run, first, now).await?
        } else {
            store.create_run_with_steps(run, steps, first, now).await?
        };
        if matches!(outcome, CreateRunOutcome::Created) {
            self.engine.metrics.runs_created.inc();
            self.engine.metrics.accepted.inc();
            self.made_due();
        }
        Ok(outcome)
    }

    /// Creates runs and stores messages in one transaction, all or nothing (see
    /// [`qstash_store::Store::write_batch`]), counts what was stored and wakes the scheduler.
    async fn store_batch(
        &self,
        runs: Vec<RunToCreate>,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<BatchOutcome> {
        let out = self.engine.store.write_batch(runs, messages, now).await?;
        let created = out
            .runs
            .iter()
            .filter(|o| matches!(o, CreateRunOutcome::Created))
            .count() as u64;
        let stored = out
            .messages
            .iter()
            .filter(|o| matches!(o, InsertOutcome::Inserted))
            .count() as u64;
        self.engine.metrics.runs_created.inc_by(created);
        self.engine.metrics.accepted.inc_by(created + stored);
        self.made_due();
        Ok(out)
    }

    /// Checks every URL a message will call (its destination, callback and failure callback)
    /// against the destination policy: a refused one is named with the range and the flag that
    /// opens it. Nothing is written before this passes.
    async fn check_destinations(&self, message: &NewMessage) -> Result<()> {
        let guard = &self.engine.guard;
        if guard.is_open() {
            return Ok(());
        }
        let envelope = Envelope::decode(&message.extra);
        let urls = [
            ("the destination", Some(message.destination.as_str())),
            ("Upstash-Callback", envelope.callback.as_deref()),
            (
                "Upstash-Failure-Callback",
                envelope.failure_callback.as_deref(),
            ),
        ];
        for (what, url) in urls {
            if let Some(url) = url {
                guard
                    .check_url(url)
                    .await
                    .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
            }
        }
        Ok(())
    }
}

/// The default and the largest page of a list.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The page size of a list that asked for `count` items.
fn page_size(count: Option<u32>) -> usize {
    count.map_or(DEFAULT_PAGE, |c| (c as usize).clamp(1, MAX_PAGE))
}

/// A list cursor: the position of the last item of the previous page.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<u64>> {
    cursor
        .map(|c| {
            c.parse::<u64>().map_err(|_| {
                Error::invalid(format!("cursor: {c:?} is not a cursor this server gave"))
            })
        })
        .transpose()
}
