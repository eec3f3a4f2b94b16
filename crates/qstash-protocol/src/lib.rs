//! The QStash workflow trigger protocol: typed requests and their exact mapping to and from
//! HTTP, so that a client that encodes and a server that decodes can never disagree.
//!
//! A [`TriggerRequest`] is `POST {base}/v2/trigger/{workflowUrl}` with a body and the
//! `Upstash-*` headers of the wire contract (§1). Its [builder](TriggerRequest::builder) checks
//! every value, so [`to_http`](TriggerRequest::to_http) cannot fail, and
//! [`from_http`](TriggerRequest::from_http) gives back the same request:
//!
//! ```
//! use http::Uri;
//! use qstash_delay::Delay;
//! use qstash_flow_control::{FlowControl, FlowControlKey};
//! use qstash_protocol::{CallbackUrl, Label, RunId, TriggerRequest, WorkflowUrl};
//! use qstash_retry_delay::RetryDelay;
//!
//! let req = TriggerRequest::builder(WorkflowUrl::new("https://example.com/api/wf?tenant=7")?)
//!     .body(r#"{"order":42}"#)
//!     .content_type("application/json")
//!     .run_id(RunId::new("wfr_order-42")?)
//!     .forward("Authorization", "Bearer s3cret")
//!     .retries(5)
//!     .delay("1d10h30m".parse::<Delay>()?)
//!     .label(Label::new("checkout")?)
//!     .flow_control(FlowControlKey::new("tenant-7")?, "rate=5,parallelism=2".parse::<FlowControl>()?)
//!     .failure_url(CallbackUrl::new("https://example.com/api/failed")?)
//!     .failure_forward("X-Source", "checkout")
//!     .retry_delay(RetryDelay::compile("pow(2, retried) * 1000")?)
//!     .build()?;
//!
//! let http = req.to_http(&Uri::from_static("https://qstash.upstash.io"));
//! assert_eq!(http.method(), "POST");
//! assert_eq!(
//!     http.uri().to_string(),
//!     "https://qstash.upstash.io/v2/trigger/https://example.com/api/wf?tenant=7"
//! );
//! let h = http.headers();
//! assert_eq!(h["upstash-workflow-runid"], "wfr_order-42");
//! assert_eq!(h["upstash-forward-authorization"], "Bearer s3cret");
//! assert_eq!(h["upstash-delay"], "1d10h30m");
//! assert_eq!(h["upstash-flow-control-value"], "parallelism=2, rate=5");
//! assert_eq!(h["upstash-failure-callback-forward-x-source"], "checkout");
//! assert_eq!(h["upstash-retry-delay"], "pow(2, retried) * 1000");
//!
//! // A server decodes the same request.
//! assert_eq!(TriggerRequest::from_http(&http)?, req);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Around it: [`TriggerBatch`] (`POST /v2/batch/trigger`), the response bodies
//! ([`TriggerResponse`], [`BatchResponseEntry`], [`ErrorBody`]) and run management
//! ([`CancelRun`], [`BulkCancel`], [`LogsQuery`]), each with `serde` in the upstream camelCase
//! names or with `to_http`/`from_http`.
//!
//! The server's message API (`SERVER.md` §3–§7) has the same shape: [`PublishRequest`]
//! (`POST /v2/publish/{destination}`, with a checking builder, `to_http`, `from_http` and
//! [`from_parts`](PublishRequest::from_parts)), [`PublishBatch`] (`POST /v2/batch`), and the
//! bodies [`PublishResponse`], [`Message`], [`Event`] with [`EventsQuery`], [`DlqMessage`] with
//! [`DlqQuery`] and [`DlqDelete`], [`CallbackBody`], [`SigningKeysResponse`] and
//! [`FlowControlInfo`]. The workflow headers of a run's messages are read by [`RunMessage`],
//! the overrides and `dlqIds` of a restart or resume of a run's dead letter by
//! [`RunAgainOverrides`] and [`RunAgainQuery`].
//!
//! # Decoding rules
//! - Header names are case-insensitive; unknown `Upstash-*` headers and other headers are
//!   ignored (only `Content-Type` is kept besides the `Upstash-*` ones).
//! - A malformed known header is a [`DecodeError`] naming the header and carrying the parser's
//!   error ([`HeaderError`]); a single-valued header sent twice is an error. `Upstash-Label`
//!   is a list: several lines add up, and spaces around commas are allowed.
//! - A flow-control key without value (or the reverse), failure-callback forwarded headers
//!   without a failure callback, and a forwarded name that is empty are errors.
//! - Headers another one overrides are kept (a delay beside a not-before), so decoding and
//!   re-encoding gives the same headers back; values re-encode in canonical form (`90m` as
//!   `1h30m`).
//! - The destination is the path after `/v2/trigger/`, plus `?` and the query when there is
//!   one, byte for byte, percent-escapes included.
//!
//! Forwarded values and other free-form header values must be carriable unchanged: no control
//! byte but tab (so no CR or LF), no DEL, no leading or trailing whitespace. The builder
//! rejects others with a [`BuildError`]; they are never sent.
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

mod batch;
mod decode;
mod dlq;
mod encode;
mod error;
mod events;
mod filters;
mod flow_control;
mod forward;
pub mod header;
mod message;
mod publish;
mod publish_batch;
mod response;
mod run_again;
mod run_message;
mod runs;
mod schedules;
mod trigger;
mod uri;
mod url_groups;
mod values;

pub use batch::{BATCH_TRIGGER_PATH, BatchRequestEntry, TriggerBatch};
pub use dlq::{
    DLQ_PATH, DLQ_RETRY_PATH, DlqBulkRetryResponse, DlqDelete, DlqDeleteResponse, DlqListResponse,
    DlqMessage, DlqQuery, DlqRetryOverrides, DlqRetryResponse, FailureCallbackInfo,
};
pub use error::{
    BuildError, BuildErrorKind, DecodeError, DecodeErrorKind, HeaderError, ValueError,
    ValueErrorKind,
};
pub use events::{EVENTS_PATH, Event, EventState, EventsQuery, EventsResponse, LOGS_V2_PATH};
pub use filters::{ListFilter, MessageCancelQuery};
pub use flow_control::{FLOW_CONTROL_PATH, FlowControlInfo};
pub use forward::{ForwardedHeaders, MAX_FORWARD_NAME_LEN, MAX_FORWARDED_HEADERS};
pub use message::{
    CallbackBody, CallbackState, HeaderLists, KEYS_PATH, KEYS_ROTATE_PATH, MESSAGES_PATH, Message,
    PublishResponse, SigningKeysResponse, header_lists,
};
pub use publish::{MessageCallback, PUBLISH_PATH, PublishRequest, PublishRequestBuilder};
pub use publish_batch::{BATCH_PATH, MAX_BATCH_ENTRIES, PublishBatch};
pub use response::{ApiErrorKind, BatchResponseEntry, ErrorBody, TriggerResponse};
pub use run_again::{RunAgainOverrides, RunAgainQuery};
pub use run_message::{
    CallType, FEATURE_SET, FeatureSet, RunMessage, WORKFLOW_CALL_TYPE, WORKFLOW_INIT,
    WORKFLOW_TRIGGER_BY_SDK, WORKFLOW_URL,
};
pub use runs::{
    BulkCancel, BulkCancelResponse, CancelRun, LOGS_PATH, LogsQuery, LogsResponse, RUNS_PATH,
    RunEndQuery, RunLog, RunState,
};
pub use schedules::{CRON_HEADER, SCHEDULE_ID_HEADER, SCHEDULES_PATH, Schedule, ScheduleCreated};
pub use trigger::{
    FailureCallback, FailureTarget, TRIGGER_PATH, TriggerRequest, TriggerRequestBuilder,
};
pub use url_groups::{
    Endpoint, EndpointRef, EndpointsRequest, GroupPublishResponse, URL_GROUPS_PATH, UrlGroup,
};
pub use values::{
    CallbackUrl, DeduplicationId, GENERATED_RUN_ID_CHARS, Label, MAX_ID_LEN, MAX_URL_LEN, RunId,
    WorkflowUrl,
};

/// The default base URL (upstream).
pub const DEFAULT_BASE_URL: &str = "https://qstash.upstash.io";
/// The environment variable that overrides the base URL (upstream).
pub const ENV_URL: &str = "QSTASH_URL";
/// The environment variable holding the token (upstream).
pub const ENV_TOKEN: &str = "QSTASH_TOKEN";
