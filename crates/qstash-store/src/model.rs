//! The data model shared by every backend: messages and their states, claims, finishes,
//! events, dead letters, workflow runs and their steps, waiters, flow control, signing keys and
//! retention. Plain values, no I/O.

use std::fmt;

#[cfg(doc)]
use crate::Store;

/// Milliseconds since the unix epoch.
pub type Millis = u64;

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

/// Filters of [`Store::list_events`]; every filter that is set must match, and a list filter
/// matches when any of its values does (an empty list filters nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only the events of these messages.
    pub message_ids: Vec<String>,
    /// Only events in these states.
    pub states: Vec<String>,
    /// Only events of messages to exactly one of these URLs.
    pub urls: Vec<String>,
    /// Only events of messages that carry one of these labels.
    pub labels: Vec<String>,
    /// Only events of messages with one of these flow-control keys (messages still stored).
    pub flow_keys: Vec<String>,
    /// Only events at or after this time.
    pub from: Option<Millis>,
    /// Only events at or before this time.
    pub to: Option<Millis>,
}

/// Which messages [`Store::cancel_messages`] cancels: those not yet final that match every
/// filter that is set (a list filter matches when any of its values does). The default
/// filter matches every message of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only these messages.
    pub message_ids: Vec<String>,
    /// Only messages to exactly one of these URLs.
    pub urls: Vec<String>,
    /// Only messages that carry one of these labels.
    pub labels: Vec<String>,
    /// Only messages with one of these flow-control keys.
    pub flow_keys: Vec<String>,
    /// Only messages created at or after this time.
    pub from: Option<Millis>,
    /// Only messages created at or before this time.
    pub to: Option<Millis>,
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

/// Filters of [`Store::list_dlq`]; every filter that is set must match, and a list filter
/// matches when any of its values does (an empty list filters nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DlqFilter {
    /// Only these dead letters.
    pub dlq_ids: Vec<String>,
    /// Only dead letters of these messages.
    pub message_ids: Vec<String>,
    /// Only dead letters of messages to exactly one of these URLs.
    pub urls: Vec<String>,
    /// Only dead letters of messages that carry one of these labels.
    pub labels: Vec<String>,
    /// Only dead letters whose last response had one of these statuses.
    pub response_statuses: Vec<u16>,
    /// Only dead letters of messages with one of these flow-control keys.
    pub flow_keys: Vec<String>,
    /// Only dead letters added at or after this time.
    pub from: Option<Millis>,
    /// Only dead letters added at or before this time.
    pub to: Option<Millis>,
    /// Only dead letters of messages of these workflow runs.
    pub run_ids: Vec<String>,
    /// Only dead letters of messages to URLs starting with this one (exactly this one with
    /// [`workflow_url_exact`](Self::workflow_url_exact)).
    pub workflow_url: Option<String>,
    /// [`workflow_url`](Self::workflow_url) must match whole.
    pub workflow_url_exact: bool,
    /// Only dead letters whose failure callback ended in one of these states
    /// (`CALLBACK_SUCCESS`, `CALLBACK_FAIL`).
    pub failure_callback_states: Vec<String>,
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

/// A schedule to store (`POST /v2/schedules/{destination}`): a cron expression and the
/// request each tick publishes, kept as received.
///
/// The store keeps the cron text and never reads it: the caller computes tick times (the
/// server with `qstash-cron`) and passes them in ([`NewSchedule::next_at`],
/// [`ScheduleTick`]), so that the store stays free of calendars and time zones.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSchedule {
    /// The schedule id, unique per tenant.
    pub id: String,
    /// The tenant that owns it.
    pub tenant: String,
    /// The cron expression, as given.
    pub cron: String,
    /// Where each tick publishes to (a URL, or a URL group's name).
    pub destination: String,
    /// The HTTP method of the published messages.
    pub method: String,
    /// The publish request's headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body of every published message.
    pub body: Vec<u8>,
    /// When it was created.
    pub created_at: Millis,
    /// When its next tick is due, or `None` when the cron expression has no further tick.
    pub next_at: Option<Millis>,
    /// Whether it is paused (a paused schedule publishes nothing).
    pub paused: bool,
}

impl fmt::Debug for NewSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers can carry credentials that are forwarded to the destination.
        f.debug_struct("NewSchedule")
            .field("id", &self.id)
            .field("cron", &self.cron)
            .field("destination", &self.destination)
            .field("method", &self.method)
            .field("headers", &format_args!("[{} headers]", self.headers.len()))
            .field("body_len", &self.body.len())
            .field("created_at", &self.created_at)
            .field("next_at", &self.next_at)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    /// What it was stored with (`next_at` and `paused` as they are now).
    pub schedule: NewSchedule,
    /// The time of the last tick that published, if any.
    pub last_at: Option<Millis>,
    /// The messages the last tick published, in order.
    pub last_message_ids: Vec<String>,
}

/// One tick of a schedule, for [`Store::fire_schedule`]: the messages it publishes and the
/// schedule's next tick, committed together only if the schedule is still due as seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTick {
    /// The schedule's tenant.
    pub tenant: String,
    /// The schedule's id.
    pub schedule_id: String,
    /// The `next_at` the caller read (the tick is fired only if it is still the schedule's).
    pub expected_next_at: Millis,
    /// The tick's time (the latest tick at or before now: missed ticks collapse into it).
    pub tick_at: Millis,
    /// The tick after this one, or `None` when there is none.
    pub next_at: Option<Millis>,
    /// The messages this tick publishes.
    pub messages: Vec<NewMessage>,
}

/// One endpoint of a URL group: a URL and an optional name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlGroupEndpoint {
    /// Its name, if it has one (unique in the group).
    pub name: Option<String>,
    /// Its URL (unique in the group).
    pub url: String,
}

/// Which endpoints a removal takes out of a URL group: those with this name, or this URL
/// (both given: both must match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMatch {
    /// The endpoint's name.
    pub name: Option<String>,
    /// The endpoint's URL.
    pub url: Option<String>,
}

impl EndpointMatch {
    /// Whether `e` is one of the endpoints this match names (a match naming nothing matches
    /// nothing).
    pub fn matches(&self, e: &UrlGroupEndpoint) -> bool {
        if self.name.is_none() && self.url.is_none() {
            return false;
        }
        self.name
            .as_ref()
            .is_none_or(|n| e.name.as_ref() == Some(n))
            && self.url.as_ref().is_none_or(|u| &e.url == u)
    }
}

/// A URL group (upstream: a topic) of a tenant: a name and the endpoints a publish to it
/// fans out to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlGroup {
    /// The tenant that owns it.
    pub tenant: String,
    /// Its name, unique per tenant.
    pub name: String,
    /// When it was created.
    pub created_at: Millis,
    /// When its endpoints last changed.
    pub updated_at: Millis,
    /// Its endpoints, in the order they were added.
    pub endpoints: Vec<UrlGroupEndpoint>,
}

impl UrlGroup {
    /// Adds endpoints: one with the URL or the name of an endpoint already there replaces it
    /// (in its place); the others are appended.
    pub fn add(&mut self, endpoints: Vec<UrlGroupEndpoint>, now: Millis) {
        for e in endpoints {
            let same = self
                .endpoints
                .iter()
                .position(|x| x.url == e.url || (e.name.is_some() && x.name == e.name));
            match same {
                Some(i) => self.endpoints[i] = e,
                None => self.endpoints.push(e),
            }
        }
        self.updated_at = now;
    }

    /// Removes the endpoints any of `matches` names.
    pub fn remove(&mut self, matches: &[EndpointMatch], now: Millis) {
        self.endpoints
            .retain(|e| !matches.iter().any(|m| m.matches(e)));
        self.updated_at = now;
    }
}
