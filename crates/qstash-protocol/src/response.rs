//! Response bodies of the trigger endpoints and the error body.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::values::RunId;

/// The `200` body of a trigger: `{"workflowRunId": "wfr_…", "workflowCreatedAt": 1767225600000}`.
///
/// ```
/// use qstash_protocol::TriggerResponse;
///
/// let r: TriggerResponse =
///     serde_json::from_str(r#"{"workflowRunId":"wfr_abc","workflowCreatedAt":1767225600000}"#)?;
/// assert_eq!(r.workflow_run_id.as_str(), "wfr_abc");
/// assert_eq!(r.workflow_created_at, 1_767_225_600_000);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TriggerResponse {
    /// The run's id.
    pub workflow_run_id: RunId,
    /// When the run was created, in milliseconds since the unix epoch.
    pub workflow_created_at: u64,
}

impl TriggerResponse {
    /// The answer for the run `workflow_run_id`, created at `workflow_created_at` (ms).
    #[must_use]
    pub fn new(workflow_run_id: RunId, workflow_created_at: u64) -> TriggerResponse {
        TriggerResponse {
            workflow_run_id,
            workflow_created_at,
        }
    }
}

/// One entry of the `200` body of a batch trigger, in the order of the request's entries.
///
/// ```
/// use qstash_protocol::BatchResponseEntry;
///
/// let r: Vec<BatchResponseEntry> = serde_json::from_str(
///     r#"[{"workflowRunId":"wfr_a","workflowCreatedAt":1,"deduplicated":true},
///         {"workflowRunId":"wfr_b","workflowCreatedAt":2}]"#,
/// )?;
/// assert!(r[0].deduplicated);
/// assert!(!r[1].deduplicated); // absent means false
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchResponseEntry {
    /// The run's id.
    pub workflow_run_id: RunId,
    /// When the run was created, in milliseconds since the unix epoch.
    pub workflow_created_at: u64,
    /// Whether a run with this id already existed, so that none was created.
    #[serde(default)]
    pub deduplicated: bool,
}

impl BatchResponseEntry {
    /// The entry for the run `workflow_run_id`, created at `workflow_created_at` (ms);
    /// `deduplicated` when it existed already.
    #[must_use]
    pub fn new(
        workflow_run_id: RunId,
        workflow_created_at: u64,
        deduplicated: bool,
    ) -> BatchResponseEntry {
        BatchResponseEntry {
            workflow_run_id,
            workflow_created_at,
            deduplicated,
        }
    }
}

/// The body of an error response: `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// The server's message.
    pub error: String,
}

impl ErrorBody {
    /// `{"error": message}`.
    ///
    /// ```
    /// use qstash_protocol::ErrorBody;
    ///
    /// let body = ErrorBody::new("invalid Upstash-Delay");
    /// assert_eq!(serde_json::to_string(&body)?, r#"{"error":"invalid Upstash-Delay"}"#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn new(error: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: error.into(),
        }
    }
}

/// What an error status means (§1).
///
/// ```
/// use http::StatusCode;
/// use qstash_protocol::ApiErrorKind;
///
/// assert_eq!(ApiErrorKind::from_status(StatusCode::OK), None);
/// let kind = ApiErrorKind::from_status(StatusCode::PRECONDITION_FAILED).unwrap();
/// assert_eq!(kind, ApiErrorKind::QuotaExceeded);
/// assert!(!kind.is_retryable());
/// assert!(ApiErrorKind::from_status(StatusCode::TOO_MANY_REQUESTS).unwrap().is_retryable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: the token is missing or wrong.
    Unauthorized,
    /// 404: no such resource (a run id, for run management).
    NotFound,
    /// 412: the plan's quota is exceeded; retrying does not help.
    QuotaExceeded,
    /// 429: rate limited; retry later.
    RateLimited,
    /// 5xx: a server error; retry later.
    Server,
    /// Any other 4xx status.
    Other,
}

impl ApiErrorKind {
    /// The kind of an error status, or `None` for a status below 400.
    #[must_use]
    pub fn from_status(status: StatusCode) -> Option<ApiErrorKind> {
        Some(match status.as_u16() {
            0..=399 => return None,
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            404 => ApiErrorKind::NotFound,
            412 => ApiErrorKind::QuotaExceeded,
            429 => ApiErrorKind::RateLimited,
            500.. => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        })
    }

    /// Whether the same request may succeed later: rate limiting and server errors.
    ///
    /// This is a hint about the status, not a retry rule: `qstash-client` retries 429, 502,
    /// 503 and 504 but not 500, which is more often a bug that a retry repeats.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        matches!(self, ApiErrorKind::RateLimited | ApiErrorKind::Server)
    }
}
