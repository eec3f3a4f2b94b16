//! Header names of the trigger request (§1), lowercase as `http` stores them, with their
//! canonical spellings for messages and JSON batch entries.
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

/// Prefix of headers forwarded to the workflow (`Upstash-Forward-<Name>`), lowercase.
pub const FORWARD_PREFIX: &str = "upstash-forward-";
/// Prefix of headers forwarded to the failure callback
/// (`Upstash-Failure-Callback-Forward-<Name>`), lowercase.
pub const FAILURE_CALLBACK_FORWARD_PREFIX: &str = "upstash-failure-callback-forward-";

/// [`FORWARD_PREFIX`] in its canonical spelling.
pub const FORWARD_PREFIX_CANONICAL: &str = "Upstash-Forward-";
/// [`FAILURE_CALLBACK_FORWARD_PREFIX`] in its canonical spelling.
pub const FAILURE_CALLBACK_FORWARD_PREFIX_CANONICAL: &str = "Upstash-Failure-Callback-Forward-";

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
        "content-type" => CONTENT_TYPE_CANONICAL,
        _ => return None,
    })
}
