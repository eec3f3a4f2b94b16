//! An async client of the QStash API: it starts workflow runs
//! (`POST /v2/trigger/{workflowUrl}`), in batches too, cancels runs and reads their logs,
//! releases runs waiting for an event ([`Client::notify`]); it
//! publishes messages ([`Client::publish_url`], [`Client::publish`],
//! [`Client::publish_batch`]), reads and cancels them ([`Client::message`],
//! [`Client::cancel_message`]), reads their events ([`Client::events`]), manages the
//! dead-letter queue ([`Client::dlq`], [`Client::dlq_message`], [`Client::retry_dlq`],
//! [`Client::delete_dlq`]), the signing keys ([`Client::signing_keys`],
//! [`Client::rotate_signing_keys`]) and reads the flow-control keys' counters
//! ([`Client::flow_control`], [`Client::flow_controls`]). A publish is resent only when that cannot enqueue it
//! twice (see [`Client::publish`]).
//!
//! - Every request is exactly the one the QStash API defines, encoded by
//!   [`qstash_protocol`], with `Authorization: Bearer <token>`.
//! - Transient failures (transport errors, timeouts, `429`, `502`, `503`, `504`) are retried
//!   with capped exponential backoff and jitter, honouring `Retry-After`, a bounded number
//!   of times ([`RetryPolicy`]). A trigger gets its run id before the first attempt, so a
//!   retry can never start a second run. `412` (quota exceeded) is never retried.
//! - Errors say precisely what went wrong ([`ErrorKind`]), with the server's message, the
//!   run id, and the rate-limit reset time of a `429`.
//! - The token never appears in `Debug`, `Display`, logs or errors. Each call runs in a
//!   `tracing` span `qstash.request`.
//! - HTTP is reqwest on rustls with the *ring* provider: no OpenSSL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), qstash_client::Error> {
//! use qstash_client::{Client, ErrorKind};
//!
//! let client = Client::from_env()?; // QSTASH_TOKEN, QSTASH_URL
//! match client
//!     .trigger_url("https://example.com/api/workflow")
//!     .json(&serde_json::json!({ "order": 42 }))?
//!     .delay("10s")?
//!     .retries(5)
//!     .send()
//!     .await
//! {
//!     Ok(run) => println!("started {}", run.workflow_run_id),
//!     Err(e) if e.kind() == ErrorKind::RateLimited => println!("come back at {:?}", e.reset_at()),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! A request built with [`TriggerRequest::builder`] is sent with [`Client::trigger`];
//! [`Client::batch_trigger`], [`Client::cancel_run`], [`Client::cancel_runs`],
//! [`Client::logs`] and [`Client::logs_stream`] cover the rest.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The workspace README's examples of every crate, checked here because this crate depends
/// on them (`qstash-cron` as a dev-dependency, for this check only).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadmeDoctests;

mod call;
mod client;
mod error;
mod logs;
mod messages;
mod notify;
mod publish;
mod rate_limit;
mod replay;
mod retry;
mod schedules;
mod trigger;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
};
pub use error::{Error, ErrorKind};
pub use logs::{DlqPages, EventPages, LogPages, PagedQuery, Pages};
pub use notify::NotifyResult;
pub use publish::PublishCall;
pub use rate_limit::{RateLimit, RateLimitWindow};
pub use retry::RetryPolicy;
pub use schedules::NewSchedule;
pub use trigger::TriggerCall;

pub use qstash_protocol::{
    Endpoint, EndpointRef, GroupPublishResponse, Schedule, ScheduleCreated, UrlGroup,
};

pub use qstash_protocol::{
    BatchResponseEntry, BulkCancel, CallbackUrl, Label, LogsQuery, LogsResponse, RunId, RunLog,
    RunState, TriggerRequest, TriggerResponse, WorkflowUrl,
};
pub use qstash_protocol::{
    DeduplicationId, DlqListResponse, DlqMessage, DlqQuery, DlqRetryResponse, Event, EventState,
    EventsQuery, EventsResponse, FlowControlInfo, Message, PublishBatch, PublishRequest,
    PublishResponse, SigningKeysResponse,
};
