//! The durable store behind a QStash-compatible server.
//!
//! A server accepts messages, delivers them over HTTP when they are due, retries them, and keeps
//! what happened (events, dead letters). Everything that must survive a crash lives behind the
//! [`Store`] trait; the engine above it holds nothing that a restart could lose.
//!
//! # The model
//! - A **message** ([`NewMessage`], [`StoredMessage`]) belongs to one tenant and is in one of the
//!   [`MessageState`]s. While it is [`Pending`](MessageState::Pending) it has a **due time**; it is
//!   delivered at or after that time.
//! - **Claims with leases.** [`Store::claim_due`] hands out pending messages whose due time has
//!   come, oldest due first, and moves each one's due time to the end of its lease
//!   (`now + lease_ms`) under a new **claim number**. A process that dies while holding a claim
//!   simply never finishes it: the message becomes due again when the lease ends, and another
//!   claim (in any process sharing the store) makes the attempt again with the same message id.
//! - **Idempotent transitions.** [`Store::finish`] applies an attempt's outcome only when the
//!   claim number still matches and the message is still pending; a stale or repeated finish is a
//!   no-op that says so ([`FinishOutcome::Stale`]). A finish commits, in one transaction, the
//!   message's new state, its event, the messages it spawns (callbacks), and an optional dead
//!   letter.
//! - **Waiters** ([`Store::register_waiter`], [`Store::list_waiters`], [`Store::release_waiter`])
//!   are a workflow run's waits for an event: a step message due when the wait times out, that a
//!   release (a notify) makes due at once with a new body. A release applies only while the
//!   message was never claimed, so a wait is delivered once, with the event or with its timeout.
//! - **Events** are an append-only log per tenant with increasing ids; a cursor is an id, and a
//!   walk from newest to oldest sees every event once even while new ones arrive.
//! - **A 2xx means committed.** Every write method returns only after its transaction is
//!   durable (fsync for the embedded store, a committed transaction on a database server).
//!   Backends may let concurrent callers share one commit.
//! - **Bounded waiting.** The writes waiting for a backend are bounded
//!   ([`sqlite::SqliteOptions::max_queued`], [`postgres::PgOptions::max_queued`]): when the
//!   bound is reached, an accept fails at once with [`StoreError::Overloaded`] (nothing done),
//!   and other writes wait for room.
//!
//! Times are milliseconds since the unix epoch ([`Millis`]); the caller passes `now`, so that
//! the store never reads a clock of its own.
//!
//! # Backends
//! - [`sqlite::SqliteStore`] (feature `sqlite`, on by default): one file in a data directory,
//!   WAL journal, `synchronous=FULL`, one writer thread that groups concurrent writes into one
//!   commit, and schema migrations applied when it opens.
//! - [`postgres::PgStore`] (feature `postgres`): a PostgreSQL database shared by any number of
//!   server processes: a connection pool, group commit of accepts, claims with
//!   `FOR UPDATE SKIP LOCKED`, versioned migrations under an advisory lock, and wake-ups across
//!   processes with `LISTEN`/`NOTIFY` ([`Store::due_wakeups`]).
//!
//! Any backend must pass the [`conformance`] suite (feature `conformance`).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;

pub use async_trait::async_trait;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod flow;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Milliseconds since the unix epoch.
pub type Millis = u64;

/// The error of every store operation. [`kind`](StoreError::kind) says what a caller may do
/// about it; an error of the database driver is [`StoreError::Backend`], with the driver's
/// error as its [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or written now (disk full, database down, pool closed); the
    /// operation did not take effect and may be tried again.
    Unavailable(String),
    /// The data on disk is not what this version understands (a newer schema, a corrupt row).
    Corrupt(String),
    /// The operation was refused because an argument breaks a documented rule (for example an
    /// id that exists already).
    Invalid(String),
    /// Too many writes are waiting for the store already (its write queue is full): the
    /// operation was refused before anything was done, and may be tried again shortly. Only
    /// accepts (storing new messages, creating runs, registering waiters) are refused so;
    /// other writes wait for room.
    Overloaded(String),
    /// The database driver failed; `kind` is decided from the driver's error code (SQLSTATE
    /// for PostgreSQL, the result code for SQLite), never from its message text.
    Backend {
        /// What kind of failure it is.
        kind: StoreErrorKind,
        /// What failed (never a secret such as a password).
        message: String,
        /// The driver's error.
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m)
            | StoreError::Corrupt(m)
            | StoreError::Invalid(m)
            | StoreError::Overloaded(m) => {
                write!(f, "{}: {m}", self.kind().describe())
            }
            StoreError::Backend { kind, message, .. } => {
                write!(f, "{}: {message}", kind.describe())
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The driver's error itself, not the `Arc` around it, so that callers can downcast.
            StoreError::Backend { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl StoreError {
    /// What kind of failure it is.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Unavailable(_) => StoreErrorKind::Unavailable,
            StoreError::Corrupt(_) => StoreErrorKind::Corrupt,
            StoreError::Invalid(_) => StoreErrorKind::Invalid,
            StoreError::Overloaded(_) => StoreErrorKind::Overloaded,
            StoreError::Backend { kind, .. } => *kind,
        }
    }

    /// A driver error of `kind`.
    pub fn backend(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Backend {
            kind,
            message: message.into(),
            source: std::sync::Arc::new(source),
        }
    }
}

/// What kind of failure a [`StoreError`] is, and so what a caller may do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached or used now (database down, connection cut, pool or store
    /// closed): nothing took effect; try again later.
    Unavailable,
    /// The store has no room (disk full, quota): nothing took effect; try again after space was
    /// freed.
    Full,
    /// The operation lost a race with concurrent work (a deadlock, a serialization failure, a
    /// busy database) and was rolled back: running it again at once may succeed.
    Busy,
    /// An argument breaks a rule (a constraint, a value out of range): trying again will not
    /// help.
    Invalid,
    /// Stored data is not what this version understands (a newer schema, a corrupt row).
    Corrupt,
    /// Too many writes are waiting for the store (its write queue is full): nothing took
    /// effect; try again shortly.
    Overloaded,
    /// Anything else.
    Other,
}

impl StoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "store unavailable",
            StoreErrorKind::Full => "store full",
            StoreErrorKind::Busy => "store busy",
            StoreErrorKind::Invalid => "invalid store operation",
            StoreErrorKind::Corrupt => "store data is corrupt or from a newer version",
            StoreErrorKind::Overloaded => "store overloaded",
            StoreErrorKind::Other => "store error",
        }
    }
}

/// The result of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageState {
    /// Waiting for its due time, or claimed and being attempted.
    Pending,
    /// An attempt answered 2xx.
    Delivered,
    /// Every attempt failed, or one failed for good.
    Failed,
    /// Cancelled before it was delivered.
    Cancelled,
}

impl MessageState {
    /// The state's name as stored and as shown in logs: `PENDING`, `DELIVERED`, `FAILED`,
    /// `CANCELLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "PENDING",
            MessageState::Delivered => "DELIVERED",
            MessageState::Failed => "FAILED",
            MessageState::Cancelled => "CANCELLED",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<MessageState> {
        Some(match name {
            "PENDING" => MessageState::Pending,
            "DELIVERED" => MessageState::Delivered,
            "FAILED" => MessageState::Failed,
            "CANCELLED" => MessageState::Cancelled,
            _ => return None,
        })
    }

    /// Whether the message will never be attempted again.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageState::Pending)
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message to store: everything the engine needs to deliver it later, and the columns the
/// store indexes.
///
/// `headers` and `extra` are opaque to the store: it keeps them byte for byte and in order.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The message id (`msg_…`), unique across the store.
    pub id: String,
    /// The tenant that owns it.
    pub tenant: String,
    /// The URL to call.
    pub destination: String,
    /// The HTTP method.
    pub method: String,
    /// The request headers kept with the message, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// When it was accepted.
    pub created_at: Millis,
    /// When its first attempt is due.
    pub due_at: Millis,
    /// How many retries after the first attempt it may have.
    pub max_retries: u32,
    /// How long a claim on one of its attempts lasts before another process may make it again.
    pub lease_ms: u64,
    /// Its labels, for filtering logs and dead letters.
    pub labels: Vec<String>,
    /// Its deduplication id and until when that id is remembered.
    pub dedup: Option<Dedup>,
    /// Its flow-control key, if any: the key (per tenant) whose limits its attempts obey.
    pub flow_key: Option<String>,
    /// The limits sent with the key (with `flow_key` only): when the message is stored they
    /// become the key's limits, replacing earlier ones (see [Flow control](Store#flow-control)).
    /// `None` leaves the key's limits as they are.
    pub flow_limits: Option<FlowLimits>,
    /// The engine's own bookkeeping (what kind of message this is, what it answers to), kept as
    /// given.
    pub extra: Vec<u8>,
    /// The workflow run this message belongs to, if any.
    pub run: Option<RunLink>,
}

/// The limits of a flow-control key (`Upstash-Flow-Control-Value`).
///
/// `parallelism` caps the key's attempts in flight at once, `rate` caps the attempts started
/// per window of `period_ms`. Limits that are set are at least 1 (a store treats 0 as 1), and
/// `period_ms` is at least 1 when `rate` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowLimits {
    /// At most this many attempts in flight at once.
    pub parallelism: Option<u32>,
    /// At most this many attempts started per window.
    pub rate: Option<u32>,
    /// The length of a rate window, in milliseconds.
    pub period_ms: u64,
}

/// The live state of one flow-control key, as `GET /v2/flowControl/{key}` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowControlInfo {
    /// The key.
    pub key: String,
    /// How many of the key's pending messages are due and not in flight (waiting for a claim,
    /// most of them because a limit holds them back).
    pub wait_list_size: u64,
    /// The key's parallelism limit, if it has one.
    pub parallelism_max: Option<u32>,
    /// How many of the key's attempts are in flight now (claimed, lease not ended, not
    /// finished).
    pub parallelism_count: u64,
    /// The key's rate limit, if it has one.
    pub rate_max: Option<u32>,
    /// How many attempts started in the open rate window (0 when none is open).
    pub rate_count: u64,
    /// The key's rate window length, in milliseconds.
    pub rate_period_ms: u64,
    /// When the open rate window started, or `None` when none is open.
    pub rate_period_start: Option<Millis>,
}

/// How a message belongs to a workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLink {
    /// The run's id (unique per tenant).
    pub run_id: String,
    /// Whether the message is one of the run's steps: its body is appended to the run's step
    /// list (the next sequence number) when it is stored, and it is stored only while the run is
    /// [`RunState::Started`].
    pub step: bool,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers can carry credentials that are forwarded to the destination.
        f.debug_struct("NewMessage")
            .field("id", &self.id)
            .field("destination", &self.destination)
            .field("method", &self.method)
            .field("headers", &format_args!("[{} headers]", self.headers.len()))
            .field("body_len", &self.body.len())
            .field("created_at", &self.created_at)
            .field("due_at", &self.due_at)
            .field("max_retries", &self.max_retries)
            .field("labels", &self.labels)
            .field("flow_key", &self.flow_key)
            .field("flow_limits", &self.flow_limits)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

/// A deduplication id and until when the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    /// The id, unique per tenant while it is remembered.
    pub id: String,
    /// Until when (exclusive) a second message with this id is refused.
    pub until: Millis,
}

/// What [`Store::insert_messages`] did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored under the id it was given.
    Inserted,
    /// Not stored: the tenant's deduplication id is still remembered for this earlier message.
    Deduplicated {
        /// The earlier message's id.
        existing_id: String,
    },
    /// Not stored: it is a step of a run that does not exist or has ended (with its state).
    RunNotActive(Option<RunState>),
}

/// A message as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// What it was stored with.
    pub message: NewMessage,
    /// Where it is in its life.
    pub state: MessageState,
    /// How many attempts were finished as retries so far (0 before the first retry).
    pub retried: u32,
    /// When it is next due (while pending; the end of the lease while an attempt is claimed).
    pub due_at: Millis,
    /// The current claim number (0 before the first claim).
    pub claim: u64,
    /// The last attempt's response, if any attempt finished.
    pub last_response: Option<AttemptResponse>,
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("message", &self.message)
            .field("state", &self.state)
            .field("retried", &self.retried)
            .field("due_at", &self.due_at)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// A claimed attempt: the message and the claim number that [`Store::finish`] must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The message, with `retried` counting the retries made before this attempt.
    pub message: StoredMessage,
    /// The claim number of this attempt.
    pub claim: u64,
    /// When the lease ends.
    pub lease_until: Millis,
}

/// What an attempt got back (or, for a transport error, no status and the error's text as the
/// body).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AttemptResponse {
    /// The HTTP status, or `None` when no response arrived.
    pub status: Option<u16>,
    /// The response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The first bytes of the response body (the engine bounds it).
    pub body: Vec<u8>,
}

impl fmt::Debug for AttemptResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttemptResponse")
            .field("status", &self.status)
            .field("headers", &format_args!("[{} headers]", self.headers.len()))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// How an attempt ended, as [`Store::finish`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Delivered: the message becomes [`MessageState::Delivered`].
    Delivered,
    /// Failed, to be tried again at `at`: `retried` goes up by one and the message stays pending.
    Retry {
        /// When the next attempt is due.
        at: Millis,
    },
    /// Failed for good: the message becomes [`MessageState::Failed`].
    Failed,
}

/// The details of the event a [`Store::finish`] appends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventDetail {
    /// The event's state name (`DELIVERED`, `RETRY`, `ERROR`, `FAILED`, …).
    pub state: String,
    /// The attempt's HTTP status, if it got one.
    pub response_status: Option<u16>,
    /// A short description of what went wrong.
    pub error: Option<String>,
    /// When the next attempt is due, for a retry.
    pub next_delivery_time: Option<Millis>,
}

/// Everything one finished attempt changes, applied in one transaction.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The tenant that owns the message.
    pub tenant: String,
    /// The message.
    pub message_id: String,
    /// The claim number the attempt was made under.
    pub claim: u64,
    /// When the attempt finished.
    pub now: Millis,
    /// The message's new state.
    pub transition: Transition,
    /// The attempt's response, kept as the message's last response.
    pub response: Option<AttemptResponse>,
    /// The event to append.
    pub event: EventDetail,
    /// Messages to insert with it (callbacks); they are inserted only if the finish applies.
    pub spawn: Vec<NewMessage>,
    /// A dead letter to add (with [`Transition::Failed`]).
    pub dlq: Option<NewDlq>,
    /// A dead letter whose failure-callback state this attempt settles (the attempt is that
    /// failure callback): `(dlq_id, state)` with `CALLBACK_SUCCESS` or `CALLBACK_FAIL`. It is set
    /// only if the finish applies.
    pub dlq_callback_state: Option<(String, String)>,
    /// Ends the message's workflow run (a run's message failed for good): `(run_id, end)` of
    /// the finish's tenant. Applied only if the finish applies, in the same transaction: a
    /// started run ends as with [`Store::end_run`] (its other pending messages are cancelled).
    /// When the run has ended already, the run keeps its state and the messages of `spawn` are
    /// not inserted (a run has one failure callback); the rest of the finish still applies. When
    /// the tenant has no such run, nothing is ended and `spawn` is inserted.
    pub end_run: Option<(String, EndRun)>,
}

/// What [`Store::finish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishOutcome {
    /// The transition was applied.
    Applied,
    /// Nothing changed: the claim is not the current one (the lease ended and another claim
    /// took the message), or the message is no longer pending (cancelled, or finished before).
    Stale,
}

/// What [`Store::cancel_message`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The message was pending and is now cancelled (an attempt in flight may still finish,
    /// but its finish is stale and nothing is retried).
    Cancelled,
    /// The message exists but had already ended in this state.
    AlreadyFinal(MessageState),
    /// No such message for this tenant.
    NotFound,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its position in the log: increasing, unique across the store; a cursor.
    pub id: u64,
    /// When it happened.
    pub time: Millis,
    /// The message it is about.
    pub message_id: String,
    /// The state name: `CREATED`, `ACTIVE`, `RETRY`, `ERROR`, `DELIVERED`, `FAILED`,
    /// `CANCEL_REQUESTED`, `CANCELLED`.
    pub state: String,
    /// The message's destination.
    pub url: String,
    /// The message's labels.
    pub labels: Vec<String>,
    /// The attempt's HTTP status, if any.
    pub response_status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// When the next attempt is due, for a retry.
    pub next_delivery_time: Option<Millis>,
}

/// Filters of [`Store::list_events`]; every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this message's events.
    pub message_id: Option<String>,
    /// Only events in this state.
    pub state: Option<String>,
    /// Only events of messages to exactly this URL.
    pub url: Option<String>,
    /// Only events of messages that carry this label.
    pub label: Option<String>,
}

/// A page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next (older) page, or `None` when this is the last one.
    pub next: Option<u64>,
}

/// A dead letter to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDlq {
    /// Its id (unique across the store).
    pub dlq_id: String,
    /// When it was added.
    pub created_at: Millis,
    /// The last attempt's response.
    pub response: AttemptResponse,
    /// The failure callback URL, if the message has one.
    pub failure_callback: Option<String>,
}

/// A dead letter as stored, with the message it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqEntry {
    /// Its id.
    pub dlq_id: String,
    /// When it was added.
    pub created_at: Millis,
    /// The failed message, as stored.
    pub message: StoredMessage,
    /// The last attempt's response.
    pub response: AttemptResponse,
    /// The failure callback URL, if any.
    pub failure_callback: Option<String>,
    /// `CALLBACK_SUCCESS` or `CALLBACK_FAIL` once the failure callback ended; `None` before.
    pub failure_callback_state: Option<String>,
    /// Its position in the DLQ list (a cursor).
    pub seq: u64,
}

/// Filters of [`Store::list_dlq`]; every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DlqFilter {
    /// Only dead letters of messages to exactly this URL.
    pub url: Option<String>,
    /// Only dead letters of messages that carry this label.
    pub label: Option<String>,
    /// Only dead letters whose last response had this status.
    pub response_status: Option<u16>,
    /// `Some(true)`: only dead letters of workflow runs' messages (stored with a
    /// [`NewMessage::run`]); `Some(false)`: only of other messages; `None`: both.
    pub workflow: Option<bool>,
}

/// Where a workflow run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunState {
    /// Running: steps are being executed.
    Started,
    /// Ended with the workflow's return value.
    Success,
    /// A message of the run failed for good.
    Failed,
    /// Cancelled.
    Canceled,
}

impl RunState {
    /// The upstream name: `RUN_STARTED`, `RUN_SUCCESS`, `RUN_FAILED`, `RUN_CANCELED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Started => "RUN_STARTED",
            RunState::Success => "RUN_SUCCESS",
            RunState::Failed => "RUN_FAILED",
            RunState::Canceled => "RUN_CANCELED",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<RunState> {
        Some(match name {
            "RUN_STARTED" => RunState::Started,
            "RUN_SUCCESS" => RunState::Success,
            "RUN_FAILED" => RunState::Failed,
            "RUN_CANCELED" => RunState::Canceled,
            _ => return None,
        })
    }
}

/// A workflow run to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The tenant that owns it.
    pub tenant: String,
    /// Its id, unique per tenant.
    pub run_id: String,
    /// The workflow endpoint.
    pub workflow_url: String,
    /// When it was created.
    pub created_at: Millis,
    /// The trigger's body.
    pub initial_body: Vec<u8>,
    /// Its labels, for filtering.
    pub labels: Vec<String>,
    /// The engine's configuration of the run (applied to every later message), kept as given.
    pub config: Vec<u8>,
}

impl fmt::Debug for NewRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRun")
            .field("run_id", &self.run_id)
            .field("workflow_url", &self.workflow_url)
            .field("created_at", &self.created_at)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// A run to create in [`Store::write_batch`]: the run, the completed steps it starts with
/// (none for a new run; see [`Store::create_run_with_steps`]) and its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunToCreate {
    /// The run.
    pub run: NewRun,
    /// The steps it starts with.
    pub steps: Vec<RunStep>,
    /// Its first message.
    pub first: NewMessage,
}

/// What [`Store::write_batch`] did: one outcome per run, then one per message, in the order
/// given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The outcome of each run.
    pub runs: Vec<CreateRunOutcome>,
    /// The outcome of each message.
    pub messages: Vec<InsertOutcome>,
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndRun {
    /// The final state (not [`RunState::Started`]).
    pub state: RunState,
    /// The workflow's return value (for [`RunState::Success`]).
    pub response: Option<Vec<u8>>,
    /// Why it failed or was cancelled, when known.
    pub reason: Option<String>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// What it was created with.
    pub run: NewRun,
    /// Its state.
    pub state: RunState,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// The workflow's return value.
    pub response: Option<Vec<u8>>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Its position in the list of runs (a cursor).
    pub seq: u64,
}

/// One step message of a run, in step order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    /// Its position: 0 for the first (the Init message), then 1, 2, …
    pub seq: u64,
    /// The step message's id.
    pub message_id: String,
    /// The step message's body.
    pub body: Vec<u8>,
    /// When it was stored.
    pub created_at: Millis,
}

/// What [`Store::create_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per run creation; boxing would only add an allocation"
)]
pub enum CreateRunOutcome {
    /// The run and its first message were stored.
    Created,
    /// The tenant has a run with this id already; nothing was stored.
    Exists(StoredRun),
}

/// What [`Store::end_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndRunOutcome {
    /// The run ended now; its pending messages were cancelled.
    Ended,
    /// The run had ended before, in this state; nothing changed.
    AlreadyEnded(RunState),
    /// No such run for this tenant.
    NotFound,
}

/// Filters of [`Store::list_runs`]; every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this run.
    pub run_id: Option<String>,
    /// Only runs of this workflow URL.
    pub workflow_url: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs that carry this label.
    pub label: Option<String>,
}

/// A workflow run's wait for an event (`context.waitForEvent`), as [`Store::list_waiters`]
/// shows it.
///
/// A waiter is a step message of its run (its [`RunLink`] says `step: true`) that is due when
/// the wait times out; [`Store::release_waiter`] makes it due at once with a new body (the
/// event's data). Its run is `message.message.run`, its deadline `message.due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// The event id it waits for (unique only together with the tenant).
    pub event_id: String,
    /// Its step message, as stored: pending and never claimed.
    pub message: StoredMessage,
}

/// The signing keys the server signs deliveries with.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    /// The key every delivery is signed with.
    pub current: String,
    /// The key that becomes current at the next rotation.
    pub next: String,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKeys { current: <redacted>, next: <redacted> }")
    }
}

/// What [`Store::purge`] removes: everything finished before these times (see
/// [Retention](Store#retention)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Finished messages (delivered, failed, cancelled) with their events, and finished runs
    /// with their steps, that ended before this time are removed.
    pub finished_before: Millis,
    /// Dead letters added before this time are removed (with their failed message once that
    /// is older than `finished_before`).
    pub dlq_before: Millis,
    /// The time of the call: deduplication ids remembered until this time or earlier (expired)
    /// are removed.
    pub now: Millis,
}

/// What one [`Store::purge`] call removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Finished messages removed.
    pub messages: u64,
    /// Events removed (of the messages removed).
    pub events: u64,
    /// Finished runs removed.
    pub runs: u64,
    /// Steps removed (of the runs removed).
    pub run_steps: u64,
    /// Expired deduplication ids removed.
    pub dedup_ids: u64,
    /// Dead letters removed.
    pub dead_letters: u64,
}

impl PurgeCounts {
    /// Whether a kind reached `batch_limit` in this call, so that another call may find more.
    pub fn may_have_more(&self, batch_limit: usize) -> bool {
        let limit = batch_limit.max(1) as u64;
        self.messages >= limit
            || self.runs >= limit
            || self.dedup_ids >= limit
            || self.dead_letters >= limit
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &PurgeCounts) {
        self.messages += other.messages;
        self.events += other.events;
        self.runs += other.runs;
        self.run_steps += other.run_steps;
        self.dedup_ids += other.dedup_ids;
        self.dead_letters += other.dead_letters;
    }

    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        *self == PurgeCounts::default()
    }
}

/// The durable store behind a server: every method is one transaction.
///
/// Implementations are shared by many tasks (`Send + Sync`) and, for a database server, by
/// several processes. The [`conformance`] suite states the contract as tests.
///
/// # Flow control
/// Messages that share a flow-control key ([`NewMessage::flow_key`], per tenant) obey the
/// key's limits ([`FlowLimits`]) across every process sharing the store. The store, not the
/// engine, keeps the state, so that it holds across processes:
///
/// - **The key and its limits.** Storing a message with a key registers the key for the tenant
///   (it is then listed by [`list_flow_control`](Store::list_flow_control) for good). When the
///   message carries limits, they replace the key's limits in the same transaction: the most
///   recently stored message's limits apply, to every pending message of the key (a SQL
///   backend keeps one row per `(tenant, key)`: `parallelism, rate, period_ms, window_start,
///   window_count`, upserted on insert, read and updated under a row lock inside
///   [`claim_due`](Store::claim_due)). A message that is not stored (deduplicated, a step of an
///   ended run) changes nothing. A key without limits limits nothing.
/// - **In flight** means claimed and neither finished nor past its lease: `state = PENDING`,
///   the claim open, and `due_at > now`. It is counted from the messages, never kept as a
///   counter, so a process that dies frees its share when its leases end. A finish (any
///   transition), a cancel or a run's end closes the attempt at once.
/// - **Parallelism.** A claim leaves a key's due messages alone while the key has
///   `parallelism` attempts in flight.
/// - **Rate.** Windows are fixed: a claim of one of the key's messages when no window is open
///   (`window_start + period_ms <= now`) opens one at `now` with a count of 0; each claim of
///   the key's messages adds 1; while the open window's count has reached `rate`, the key's
///   messages are left alone until the window ends.
/// - **Waiting is free.** A message held back stays pending and due, keeps its place (earliest
///   due first, once its key allows), gets no claim number, no event and no retry. A claim
///   call skips the held-back messages and goes on with the later due ones, so a blocked key
///   never starves other messages.
/// - [`next_due`](Store::next_due) does not report a held-back message as due: a message held
///   by a rate window counts at the window's end, one held by parallelism not at all (the
///   key's attempts in flight count at their lease ends, and the engine wakes itself when it
///   finishes one).
///
/// # Retention
/// A message is *finished* when it becomes delivered, failed or cancelled; the store keeps the
/// time (`finished_at`). [`purge`](Store::purge) removes, in one transaction and at most
/// `batch_limit` of each kind:
/// - dead letters added before [`PurgeCutoffs::dlq_before`];
/// - finished messages that ended before [`PurgeCutoffs::finished_before`] and have no dead
///   letter left, with all their events (and their waiter rows);
/// - runs that ended before `finished_before`, with their steps;
/// - deduplication ids remembered until [`PurgeCutoffs::now`] or earlier.
///
/// A removed item is gone as if it never existed: reads answer `None`, lists skip it. Pending
/// messages, started runs and flow-control keys are never removed. Several processes may purge
/// the same store at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the store answers now (for `GET /health`).
    async fn ping(&self) -> Result<()>;

    /// Stores messages, all or none, and appends a `CREATED` event for each one stored.
    ///
    /// A message whose deduplication id the tenant used before, and that is still remembered
    /// (`until` later than `now`), is not stored: its outcome names the earlier message. Two
    /// messages of the same call with the same deduplication id: the first is stored, the second
    /// deduplicated against it. The outcomes are in the order of `messages`.
    ///
    /// A step of a workflow run ([`RunLink::step`]) is stored only while the tenant's run with
    /// that id exists and is [`RunState::Started`]; its body is then appended to the run's steps
    /// (the next sequence number, from 0) in the same transaction. Otherwise its outcome is
    /// [`InsertOutcome::RunNotActive`] and nothing of it is stored (no event, no deduplication
    /// id); like a deduplicated message, this is an outcome and not an error, so the other
    /// messages of the call are still stored. A message linked with `step: false` is only linked
    /// to its run (for [`Store::end_run`] and [`DlqFilter::workflow`]), whatever the run's state.
    async fn insert_messages(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>>;

    /// Claims up to `limit` pending messages due at or before `now`, earliest due first, for one
    /// attempt each: each gets a new claim number and its due time becomes `now + lease_ms`
    /// (the message's own lease). An `ACTIVE` event is appended for each.
    ///
    /// Messages whose flow-control key is at its parallelism or has a full rate window are
    /// skipped (they stay due, untouched), and the claims made in this call count against
    /// their keys' limits as they are made (see [Flow control](Store#flow-control)); the call
    /// still claims up to `limit` of the other due messages.
    async fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<Claimed>>;

    /// When [`claim_due`](Self::claim_due) may next find something to claim, seen at `now`: the
    /// earliest due time of any pending message (claimed ones count at their lease end), or
    /// `None` when nothing is pending.
    ///
    /// A due message held back by flow control counts at the end of its key's rate window when
    /// the rate holds it back (and its parallelism does not), and not at all when the key's
    /// parallelism does (the key's attempts in flight count at their lease ends). So when every
    /// due message is held back, the answer is later than `now`, and a scheduler that sleeps
    /// until then does not spin.
    async fn next_due(&self, now: Millis) -> Result<Option<Millis>>;

    /// How many pending messages are due at or before `now` and not claimed (or whose claim's
    /// lease has ended): the backlog the engines have yet to start, for metrics.
    async fn due_count(&self, now: Millis) -> Result<u64>;

    /// Applies the outcomes of finished attempts, each only if its claim is still current (see
    /// [`Finish`]); the results are in the order of `finishes`. Several finishes may share one
    /// commit.
    async fn finish(&self, finishes: Vec<Finish>) -> Result<Vec<FinishOutcome>>;

    /// One message of a tenant.
    async fn get_message(&self, tenant: &str, id: &str) -> Result<Option<StoredMessage>>;

    /// Cancels a pending message of a tenant, appending `CANCEL_REQUESTED` and `CANCELLED`
    /// events.
    async fn cancel_message(&self, tenant: &str, id: &str, now: Millis) -> Result<CancelOutcome>;

    /// A page of a tenant's events, newest first, older than `cursor` when one is given.
    async fn list_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<Event>>;

    /// A page of a tenant's dead letters, newest first, older than `cursor` when one is given.
    async fn list_dlq(
        &self,
        tenant: &str,
        filter: &DlqFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<DlqEntry>>;

    /// One dead letter of a tenant.
    async fn get_dlq(&self, tenant: &str, dlq_id: &str) -> Result<Option<DlqEntry>>;

    /// Deletes dead letters of a tenant; ids that are unknown or another tenant's are skipped.
    /// Returns how many were deleted.
    async fn delete_dlq(&self, tenant: &str, dlq_ids: &[String]) -> Result<u64>;

    /// The signing keys, storing `proposed` first when the store has none yet (so that every
    /// process sharing the store signs alike).
    async fn signing_keys_or_init(&self, proposed: SigningKeys) -> Result<SigningKeys>;

    /// Makes the next key current and `new_next` the next one; returns the new pair.
    async fn rotate_signing_keys(&self, new_next: String) -> Result<SigningKeys>;

    /// A tenant's own signing keys, storing `proposed` first when the tenant has none yet (so
    /// that every process sharing the store signs the tenant's deliveries alike). Each tenant's
    /// pair is its own: it is neither another tenant's nor the store-wide pair of
    /// [`signing_keys_or_init`](Self::signing_keys_or_init).
    async fn tenant_signing_keys_or_init(
        &self,
        tenant: &str,
        proposed: SigningKeys,
    ) -> Result<SigningKeys>;

    /// Rotates a tenant's keys: its next key becomes current and `new_next` the next one;
    /// returns the new pair. Other tenants' keys are untouched. A tenant without keys yet is
    /// [`StoreError::Invalid`].
    async fn rotate_tenant_signing_keys(
        &self,
        tenant: &str,
        new_next: String,
    ) -> Result<SigningKeys>;

    /// Creates a workflow run (state [`RunState::Started`]) and stores its first message, both
    /// or neither. A run id the tenant used before is [`CreateRunOutcome::Exists`]; another
    /// tenant's run with the same id is a different run.
    ///
    /// The first message is stored as [`insert_messages`](Self::insert_messages) stores one, so
    /// it is the run's step 0 when its [`RunLink`] says `step: true` for this run. When it would
    /// not be stored (its deduplication id is still remembered, or it is a step of a run that is
    /// not started), or it belongs to another tenant than the run, the call fails with
    /// [`StoreError::Invalid`] and nothing is stored.
    async fn create_run(
        &self,
        run: NewRun,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome>;

    /// One run of a tenant.
    async fn get_run(&self, tenant: &str, run_id: &str) -> Result<Option<StoredRun>>;

    /// The step messages of a run in step order; with `up_to`, only those up to and including
    /// that step message (none when it is not a step of the run).
    async fn run_steps(
        &self,
        tenant: &str,
        run_id: &str,
        up_to: Option<&str>,
    ) -> Result<Vec<RunStep>>;

    /// Ends a started run and cancels its pending messages (appending `CANCELLED` events).
    ///
    /// The run's state becomes `end.state`, `ended_at` becomes `now`, and `end.response` and
    /// `end.reason` are kept. Every pending message of the tenant linked to the run, claimed or
    /// not, becomes [`MessageState::Cancelled`] (an attempt in flight then finishes
    /// [`FinishOutcome::Stale`]). An `end.state` of [`RunState::Started`] is
    /// [`StoreError::Invalid`].
    async fn end_run(
        &self,
        tenant: &str,
        run_id: &str,
        end: EndRun,
        now: Millis,
    ) -> Result<EndRunOutcome>;

    /// A page of a tenant's runs, newest first, older than `cursor` when one is given.
    async fn list_runs(
        &self,
        tenant: &str,
        filter: &RunFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<StoredRun>>;

    /// A signal that messages may have become due because of another process sharing the
    /// store (it stored or retried a message), or `None` (the default) when the store has no
    /// such signal: a store used by one process only, like the embedded one.
    ///
    /// The scheduler waits on it beside its timer and, when notified, looks at
    /// [`next_due`](Self::next_due) again. Notifications are hints: several may be merged into
    /// one, and one may come with nothing due. A backend also notifies after it reconnects to
    /// its source of notifications, when some may have been missed.
    fn due_wakeups(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// The live state of a tenant's flow-control key at `now`, or `None` when the tenant never
    /// stored a message with this key (another tenant's key of the same name is another key).
    ///
    /// The counts are computed at `now`: `parallelism_count` the key's attempts in flight,
    /// `wait_list_size` its pending messages due at `now` and not in flight, `rate_count` and
    /// `rate_period_start` those of the window open at `now` (0 and `None` when none is open).
    /// A key stays known with zero counts once idle.
    async fn flow_control(
        &self,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<FlowControlInfo>>;

    /// Every flow-control key the tenant has used, ordered by key, each as
    /// [`flow_control`](Self::flow_control) reports it.
    async fn list_flow_control(&self, tenant: &str, now: Millis) -> Result<Vec<FlowControlInfo>>;
    /// Creates a run as [`create_run`](Self::create_run) does, with `steps` recorded as its
    /// first steps before `first` is stored, all or nothing.
    ///
    /// The steps take the sequence numbers 0, 1, … in the order given (their own `seq` is
    /// ignored) and keep their `message_id`, `body` and `created_at`; no message is stored for
    /// them (nothing is delivered for them, no event is appended). `first` is then stored as
    /// `create_run` stores it: when it is a step of the run it takes the next number
    /// (`steps.len()`). With no `steps` this is exactly `create_run`. This is how a run resumes
    /// from a failed one: the completed steps are copied, and the first delivery goes on from
    /// there.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn create_run_with_steps(
        &self,
        run: NewRun,
        steps: Vec<RunStep>,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        let _ = (run, steps, first, now);
        Err(StoreError::Invalid(
            "this store does not implement create_run_with_steps".into(),
        ))
    }

    /// Creates runs and stores messages in one transaction, all or nothing: each run as
    /// [`create_run_with_steps`](Self::create_run_with_steps) creates it (in the order given),
    /// then the messages as [`insert_messages`](Self::insert_messages) stores them. A run whose
    /// id the tenant used before (also earlier in the same call) is
    /// [`CreateRunOutcome::Exists`]; any error (a run's first message that would not be stored,
    /// a message id used twice) fails the whole call and nothing of it is stored.
    ///
    /// This is how a batch of several writes (`/v2/batch`, `/v2/batch/trigger`, a DLQ restart
    /// of several dead letters) is accepted whole or not at all.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn write_batch(
        &self,
        runs: Vec<RunToCreate>,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<BatchOutcome> {
        let _ = (runs, messages, now);
        Err(StoreError::Invalid(
            "this store does not implement write_batch".into(),
        ))
    }

    /// Ends several runs of a tenant in one transaction, all or nothing, each as
    /// [`end_run`](Self::end_run) ends it; the outcomes are in the order of `run_ids`.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn end_runs(
        &self,
        tenant: &str,
        run_ids: &[String],
        end: EndRun,
        now: Millis,
    ) -> Result<Vec<EndRunOutcome>> {
        let _ = (tenant, run_ids, end, now);
        Err(StoreError::Invalid(
            "this store does not implement end_runs".into(),
        ))
    }

    /// Stores `message` as a waiter for the tenant's event `event_id`, in one transaction.
    ///
    /// `message` must be a step of a run (`run: Some(RunLink { step: true, .. })`), else the call
    /// fails with [`StoreError::Invalid`] and nothing is stored. It is stored exactly as
    /// [`insert_messages`](Self::insert_messages) stores one message (a `CREATED` event, the
    /// run's next step with its body, or [`InsertOutcome::RunNotActive`] /
    /// [`InsertOutcome::Deduplicated`] with nothing stored), and when it is stored it is also
    /// recorded as a waiter for `(message.tenant, event_id)`. Its `due_at` is the wait's
    /// deadline: when nobody releases it, it is claimed and delivered then like any message (the
    /// timeout). Several waiters may wait for the same event id, also in one run.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn register_waiter(
        &self,
        event_id: &str,
        message: NewMessage,
        now: Millis,
    ) -> Result<InsertOutcome> {
        let _ = (event_id, message, now);
        Err(StoreError::Invalid(
            "this store does not implement register_waiter".into(),
        ))
    }

    /// The tenant's waiters for `event_id` that can still be released, oldest registration
    /// first; with `run_id`, only those of that run.
    ///
    /// A waiter can be released while its message is [`MessageState::Pending`] and has never
    /// been claimed (claim number 0). A waiter that was released, whose message was claimed
    /// (its wait timed out), cancelled (its run ended) or otherwise ended is not listed. Another
    /// tenant's waiters are never listed.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn list_waiters(
        &self,
        tenant: &str,
        event_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<Waiter>> {
        let _ = (tenant, event_id, run_id);
        Err(StoreError::Invalid(
            "this store does not implement list_waiters".into(),
        ))
    }

    /// Releases the tenant's waiter whose message is `message_id` (a notify): in one
    /// transaction, only if that message is a waiter of the tenant that can still be released
    /// (see [`list_waiters`](Self::list_waiters)), its body becomes `body` (in the message and in
    /// its run's step list), its due time becomes `now`, and it stops being a waiter. Returns
    /// whether it was released; otherwise nothing changed.
    ///
    /// A waiter is released at most once, and never after its timeout: the claim that delivers
    /// the timeout and the release exclude each other (whichever commits first wins), so a
    /// wait ends with exactly one delivery of its message, either the event's or the timeout's.
    /// The message keeps its id, claim number 0 and retry count; no event is appended.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn release_waiter(
        &self,
        tenant: &str,
        message_id: &str,
        body: Vec<u8>,
        now: Millis,
    ) -> Result<bool> {
        let _ = (tenant, message_id, body, now);
        Err(StoreError::Invalid(
            "this store does not implement release_waiter".into(),
        ))
    }

    /// Removes what is older than the retention `cutoffs`, at most `batch_limit` items of each
    /// kind, in one transaction (see [Retention](Store#retention)); returns what it removed.
    /// A caller that wants everything removed calls again while
    /// [`PurgeCounts::may_have_more`] says so.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn purge(&self, cutoffs: PurgeCutoffs, batch_limit: usize) -> Result<PurgeCounts> {
        let _ = (cutoffs, batch_limit);
        Err(StoreError::Invalid(
            "this store does not implement purge".into(),
        ))
    }
}
