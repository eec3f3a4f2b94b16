//! Header names of the trigger request (`SPEC.md` §1) and of a published message
//! (`SERVER.md` §3), lowercase as `http` stores them, with their canonical spellings for
//! messages and JSON batch entries.
//!
//! ```
//! use qstash_protocol::header;
//!
//! assert_eq!(header::DELAY.as_str(), "upstash-delay");
//! assert_eq!(header::canonical(&header::WORKFLOW_RUN_ID), Some("Upstash-Workflow-RunId"));
//! ```

use http::HeaderName;

/// `Upstash-Workflow-RunId`: the run id.
pub const WORKFLOW_RUN_ID: HeaderName = HeaderName::from_static("upstash-workflow-runid");
/// `Upstash-Retries`: retries after the first delivery.
pub const RETRIES: HeaderName = HeaderName::from_static("upstash-retries");
/// `Upstash-Delay`: a §2 delay before the first delivery.
pub const DELAY: HeaderName = HeaderName::from_static("upstash-delay");
/// `Upstash-Not-Before`: unix seconds before which nothing is delivered.
pub const NOT_BEFORE: HeaderName = HeaderName::from_static("upstash-not-before");
/// `Upstash-Label`: comma-separated labels.
pub const LABEL: HeaderName = HeaderName::from_static("upstash-label");
/// `Upstash-Flow-Control-Key`: the flow-control key.
pub const FLOW_CONTROL_KEY: HeaderName = HeaderName::from_static("upstash-flow-control-key");
/// `Upstash-Flow-Control-Value`: the §4 limits of the key.
pub const FLOW_CONTROL_VALUE: HeaderName = HeaderName::from_static("upstash-flow-control-value");
/// `Upstash-Failure-Callback`: empty for the workflow's failure function, or a URL.
pub const FAILURE_CALLBACK: HeaderName = HeaderName::from_static("upstash-failure-callback");
/// `Upstash-Retry-Delay`: a §3 expression.
pub const RETRY_DELAY: HeaderName = HeaderName::from_static("upstash-retry-delay");

/// `Upstash-Method`: the method a message is delivered with.
pub const METHOD: HeaderName = HeaderName::from_static("upstash-method");
/// `Upstash-Timeout`: a §2 delay bounding each delivery attempt of a message.
pub const TIMEOUT: HeaderName = HeaderName::from_static("upstash-timeout");
/// `Upstash-Callback`: the URL called after every delivery attempt of a message.
pub const CALLBACK: HeaderName = HeaderName::from_static("upstash-callback");
/// `Upstash-Deduplication-Id`: a message's deduplication id.
pub const DEDUPLICATION_ID: HeaderName = HeaderName::from_static("upstash-deduplication-id");
/// `Upstash-Content-Based-Deduplication`: `true` to deduplicate by content.
pub const CONTENT_BASED_DEDUPLICATION: HeaderName =
    HeaderName::from_static("upstash-content-based-deduplication");

/// Prefix of headers forwarded to the workflow (`Upstash-Forward-<Name>`), lowercase.
pub const FORWARD_PREFIX: &str = "upstash-forward-";
/// Prefix of headers forwarded to the failure callback
/// (`Upstash-Failure-Callback-Forward-<Name>`), lowercase.
pub const FAILURE_CALLBACK_FORWARD_PREFIX: &str = "upstash-failure-callback-forward-";

/// Prefix of headers forwarded to a message's callback (`Upstash-Callback-Forward-<Name>`),
/// lowercase.
pub const CALLBACK_FORWARD_PREFIX: &str = "upstash-callback-forward-";

/// [`FORWARD_PREFIX`] in its canonical spelling.
pub const FORWARD_PREFIX_CANONICAL: &str = "Upstash-Forward-";
/// [`FAILURE_CALLBACK_FORWARD_PREFIX`] in its canonical spelling.
pub const FAILURE_CALLBACK_FORWARD_PREFIX_CANONICAL: &str = "Upstash-Failure-Callback-Forward-";

/// [`CALLBACK_FORWARD_PREFIX`] in its canonical spelling.
pub const CALLBACK_FORWARD_PREFIX_CANONICAL: &str = "Upstash-Callback-Forward-";

/// `Content-Type` in its canonical spelling.
pub(crate) const CONTENT_TYPE_CANONICAL: &str = "Content-Type";

/// The canonical spelling of a known header (`Upstash-Workflow-RunId`), or `None` for any
/// other name.
#[must_use]
pub fn canonical(name: &HeaderName) -> Option<&'static str> {
    Some(match name.as_str() {
        "upstash-workflow-runid" => "Upstash-Workflow-RunId",
        "upstash-retries" => "Upstash-Retries",
        "upstash-delay" => "Upstash-Delay",
        "upstash-not-before" => "Upstash-Not-Before",
        "upstash-label" => "Upstash-Label",
        "upstash-flow-control-key" => "Upstash-Flow-Control-Key",
        "upstash-flow-control-value" => "Upstash-Flow-Control-Value",
        "upstash-failure-callback" => "Upstash-Failure-Callback",
        "upstash-retry-delay" => "Upstash-Retry-Delay",
        "upstash-method" => "Upstash-Method",
        "upstash-timeout" => "Upstash-Timeout",
        "upstash-callback" => "Upstash-Callback",
        "upstash-deduplication-id" => "Upstash-Deduplication-Id",
        "upstash-content-based-deduplication" => "Upstash-Content-Based-Deduplication",
        "content-type" => CONTENT_TYPE_CANONICAL,
        _ => return None,
    })
}
