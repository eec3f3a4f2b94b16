//! The dead-letter queue (`SERVER.md` §7): its entries, the list query, bulk delete and
//! retry.

use serde::{Deserialize, Serialize};

use crate::error::{BuildError, BuildErrorKind, DecodeError, DecodeErrorKind};
use crate::events::{parse_count, strip_question_mark, token};
use crate::filters::{Keys, ListFilter};
use crate::message::{CallbackState, HeaderLists, join_body, split_body};
use crate::runs::{Query, param};
use crate::uri::{decode_component, query_pairs};
use crate::values::{Label, check_token, parse_u64};

/// The path of the DLQ: `GET`/`DELETE {base}/v2/dlq`, `GET`/`DELETE {base}/v2/dlq/{dlqId}`.
pub const DLQ_PATH: &str = "/v2/dlq";
/// The path prefix of a retry from the DLQ: `POST {base}/v2/dlq/retry/{dlqId}` (and, upstream,
/// `POST {base}/v2/dlq/retry?dlqIds=…`).
pub const DLQ_RETRY_PATH: &str = "/v2/dlq/retry";

/// A message in the DLQ (`SERVER.md` §7, `DlqMessage` of `@upstash/qstash`): the message as
/// [`Message`](crate::Message) shows it, with the last failed response and the failure
/// callback's outcome.
///
/// Bodies are `body`/`responseBody` when UTF-8, else `bodyBase64`/`responseBodyBase64`
/// (standard base64); the `set_*` and `*_bytes` methods choose.
///
/// ```
/// use qstash_protocol::DlqMessage;
///
/// let mut m = DlqMessage::new("dlq_1", "msg_1", "https://example.com/hook", 1_767_225_600_000);
/// m.response_status = Some(500);
/// m.set_response_body(b"oops");
/// let json = serde_json::to_string(&m)?;
/// assert_eq!(
///     json,
///     r#"{"dlqId":"dlq_1","messageId":"msg_1","url":"https://example.com/hook","createdAt":1767225600000,"responseStatus":500,"responseBody":"oops"}"#
/// );
/// assert_eq!(serde_json::from_str::<DlqMessage>(&json)?, m);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DlqMessage {
    /// The entry's id in the DLQ.
    pub dlq_id: String,
    /// The message's id.
    pub message_id: String,
    /// The destination.
    pub url: String,
    /// The delivery method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The headers sent with the message.
    #[serde(default, skip_serializing_if = "HeaderLists::is_empty")]
    pub header: HeaderLists,
    /// The body when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in standard base64 when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The retries after the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Not delivered before this time, in milliseconds since the unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// When the message was created, in milliseconds since the unix epoch.
    pub created_at: u64,
    /// The callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// The failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// The flow-control key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    /// The flow-control parallelism sent with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// The flow-control rate sent with the message: attempts per `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// The flow-control rate's period, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// The first label (upstream's deprecated single label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Every label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The URL group it was published to, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The name of the URL group's endpoint it goes to, if that endpoint has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// The status of the last response, absent after a transport error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// The headers of the last response.
    #[serde(default, skip_serializing_if = "HeaderLists::is_empty")]
    pub response_header: HeaderLists,
    /// The last response's body (first 64 KiB) when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// The last response's body in standard base64 when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_base64: Option<String>,
    /// The outcome of the failure callback, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback_state: Option<CallbackState>,
    /// The failure callback's outcome as the workflow DLQ shows it (`{"state": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback_info: Option<FailureCallbackInfo>,
    /// For a message of a workflow run: the run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
    /// For a message of a workflow run: the workflow's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_url: Option<String>,
    /// For a message of a workflow run: when the run was created, in milliseconds since the
    /// unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_created_at: Option<u64>,
}

/// The failure callback's outcome of a workflow run's dead letter (upstream's
/// `failureCallbackInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FailureCallbackInfo {
    /// `CALLBACK_SUCCESS` or `CALLBACK_FAIL` once the failure callback ended; absent before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CallbackState>,
}

impl FailureCallbackInfo {
    /// The info of a failure callback in `state`.
    #[must_use]
    pub fn new(state: Option<CallbackState>) -> FailureCallbackInfo {
        FailureCallbackInfo { state }
    }
}

impl DlqMessage {
    /// An entry with its ids, destination and creation time (ms); every other field absent.
    #[must_use]
    pub fn new(
        dlq_id: impl Into<String>,
        message_id: impl Into<String>,
        url: impl Into<String>,
        created_at: u64,
    ) -> DlqMessage {
        DlqMessage {
            dlq_id: dlq_id.into(),
            message_id: message_id.into(),
            url: url.into(),
            created_at,
            ..DlqMessage::default()
        }
    }

    /// Sets `body` (UTF-8) or `bodyBase64`; an empty body sets neither.
    pub fn set_body(&mut self, bytes: &[u8]) {
        (self.body, self.body_base64) = split_body(bytes);
    }

    /// The message body's bytes.
    ///
    /// # Errors
    /// `bodyBase64` is not standard base64.
    pub fn body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        join_body(self.body.as_deref(), self.body_base64.as_deref())
    }

    /// Sets `responseBody` (UTF-8) or `responseBodyBase64`; an empty body sets neither.
    pub fn set_response_body(&mut self, bytes: &[u8]) {
        (self.response_body, self.response_body_base64) = split_body(bytes);
    }

    /// The last response body's bytes.
    ///
    /// # Errors
    /// `responseBodyBase64` is not standard base64.
    pub fn response_body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        join_body(
            self.response_body.as_deref(),
            self.response_body_base64.as_deref(),
        )
    }

    /// Sets `labels`, and `label` to the first one.
    pub fn set_labels(&mut self, labels: impl IntoIterator<Item = impl Into<String>>) {
        self.labels = labels.into_iter().map(Into::into).collect();
        self.label = self.labels.first().cloned();
    }
}

/// The DLQ list query: `GET /v2/dlq?cursor=…&count=…&url=…&label=…&responseStatus=…`.
///
/// An empty parameter reads as absent; a repeated key or a comma list is a list of values
/// (any matches); an unknown parameter is an error naming it.
///
/// ```
/// use qstash_protocol::DlqQuery;
///
/// let q = DlqQuery::new().with_cursor("42").with_response_status(500);
/// assert_eq!(q.to_query_string(), "cursor=42&responseStatus=500");
/// assert_eq!(DlqQuery::from_query("?cursor=42&responseStatus=500")?, q);
/// assert_eq!(DlqQuery::from_query("responseStatus=5000").unwrap_err().field(), Some("responseStatus"));
/// # Ok::<(), qstash_protocol::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct DlqQuery {
    /// Where the previous page stopped ([`DlqListResponse::cursor`]).
    pub cursor: Option<String>,
    /// How many entries per page.
    pub count: Option<u32>,
    /// Only entries of messages to this destination.
    pub url: Option<String>,
    /// Only entries of messages with this label.
    pub label: Option<Label>,
    /// Only entries whose last response had this status (100..=599).
    pub response_status: Option<u16>,
    /// Only entries of workflow runs (`source=workflow`, as the workflow SDK lists them).
    pub workflow: bool,
    /// Every filter as lists (repeated keys, comma lists, dates, `dlqIds`, the workflow
    /// filters); the single fields above hold the first value of theirs.
    pub filter: ListFilter,
}

impl DlqQuery {
    /// No filter.
    #[must_use]
    pub fn new() -> DlqQuery {
        DlqQuery::default()
    }

    /// Starts where the previous page stopped.
    #[must_use]
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> DlqQuery {
        self.cursor = Some(cursor.into());
        self
    }

    /// `count` entries per page.
    #[must_use]
    pub fn with_count(mut self, count: u32) -> DlqQuery {
        self.count = Some(count);
        self
    }

    /// Only entries of messages to `url`.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> DlqQuery {
        let url = url.into();
        self.filter.urls.push(url.clone());
        self.url = Some(url);
        self
    }

    /// Only entries of messages with `label`.
    #[must_use]
    pub fn with_label(mut self, label: Label) -> DlqQuery {
        self.filter.labels.push(label.clone());
        self.label = Some(label);
        self
    }

    /// Only entries whose last response had `status`.
    #[must_use]
    pub fn with_response_status(mut self, status: u16) -> DlqQuery {
        self.filter.response_statuses.push(status);
        self.response_status = Some(status);
        self
    }

    /// The query string (without `?`) of the parameters that are set, in the order of the
    /// fields.
    #[must_use]
    pub fn to_query_string(&self) -> String {
        let mut q = Query::new("");
        if let Some(c) = &self.cursor {
            q.pair("cursor", c);
        }
        if let Some(n) = self.count {
            q.pair("count", &n.to_string());
        }
        if let Some(u) = &self.url {
            q.pair("url", u);
        }
        if let Some(l) = &self.label {
            q.pair("label", l.as_str());
        }
        if let Some(s) = self.response_status {
            q.pair("responseStatus", &s.to_string());
        }
        if self.workflow {
            q.pair("source", "workflow");
        }
        strip_question_mark(q.0)
    }

    /// Decodes a query string (with or without a leading `?`).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the parameter that is repeated or malformed.
    pub fn from_query(query: &str) -> Result<DlqQuery, DecodeError> {
        let mut out = DlqQuery::default();
        for (key, value) in query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            if value.is_empty() {
                continue;
            }
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            match key.as_str() {
                "cursor" => param(&mut out.cursor, "cursor", value, |s| token("cursor", s))?,
                "count" => param(&mut out.count, "count", value, parse_count)?,
                // Other sources list every entry.
                "source" => out.workflow |= value == "workflow",
                other => out.filter.take(other, value, Keys::Dlq)?,
            }
        }
        out.url = out.filter.urls.first().cloned();
        out.label = out.filter.labels.first().cloned();
        out.response_status = out.filter.response_statuses.first().copied();
        Ok(out)
    }
}

/// The DLQ list answer: `{"messages": [DlqMessage], "cursor": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqListResponse {
    /// The entries of this page.
    #[serde(default)]
    pub messages: Vec<DlqMessage>,
    /// Where the next page starts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl DlqListResponse {
    /// A page of entries and the cursor of the next one.
    #[must_use]
    pub fn new(messages: Vec<DlqMessage>, cursor: Option<String>) -> DlqListResponse {
        DlqListResponse { messages, cursor }
    }
}

/// Deleting DLQ entries by id: `DELETE /v2/dlq?dlqIds=a&dlqIds=b` (one parameter per id).
///
/// Decoding also accepts ids separated by commas in one parameter.
///
/// ```
/// use qstash_protocol::DlqDelete;
///
/// let del = DlqDelete::new(["dlq_a", "dlq_b"])?;
/// assert_eq!(del.to_query_string(), "dlqIds=dlq_a&dlqIds=dlq_b");
/// assert_eq!(DlqDelete::from_query("dlqIds=dlq_a,dlq_b")?, del);
/// assert!(DlqDelete::new(Vec::<String>::new()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DlqDelete {
    dlq_ids: Vec<String>,
}

impl DlqDelete {
    /// Deletes the entries `ids`: at least one, each 1..=256 bytes of visible ASCII without
    /// `,`.
    ///
    /// # Errors
    /// [`BuildErrorKind::MissingFilter`] for no id, [`BuildErrorKind::InvalidValue`] for an
    /// invalid one.
    pub fn new(ids: impl IntoIterator<Item = impl Into<String>>) -> Result<DlqDelete, BuildError> {
        let dlq_ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        if dlq_ids.is_empty() {
            return Err(BuildError::new(
                BuildErrorKind::MissingFilter,
                Some("dlqIds".into()),
            ));
        }
        for id in &dlq_ids {
            check_token("DLQ id", id).map_err(|e| BuildError::value("dlqIds", e))?;
        }
        Ok(DlqDelete { dlq_ids })
    }

    /// The ids.
    #[must_use]
    pub fn dlq_ids(&self) -> &[String] {
        &self.dlq_ids
    }

    /// The query string: `dlqIds=a&dlqIds=b`.
    #[must_use]
    pub fn to_query_string(&self) -> String {
        let mut q = Query::new("");
        for id in &self.dlq_ids {
            q.pair("dlqIds", id);
        }
        strip_question_mark(q.0)
    }

    /// Decodes a query string (with or without a leading `?`); other parameters are ignored.
    ///
    /// # Errors
    /// A [`DecodeError`] naming `dlqIds` for an invalid id, or
    /// [`DecodeErrorKind::MissingFilter`] when there is none.
    pub fn from_query(query: &str) -> Result<DlqDelete, DecodeError> {
        let mut ids = Vec::new();
        for (key, value) in query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            if key != "dlqIds" && key != "dlqIds[]" {
                continue;
            }
            let value =
                decode_component("DLQ id", value).map_err(|e| DecodeError::invalid("dlqIds", e))?;
            for id in value.split(',') {
                check_token("DLQ id", id).map_err(|e| DecodeError::invalid("dlqIds", e))?;
                ids.push(id.to_owned());
            }
        }
        if ids.is_empty() {
            return Err(DecodeError::at(DecodeErrorKind::MissingFilter, "dlqIds"));
        }
        Ok(DlqDelete { dlq_ids: ids })
    }
}

/// The answer of a bulk DLQ delete: `{"deleted": n}` (upstream adds a `cursor` when a filter
/// deletes page by page).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqDeleteResponse {
    /// How many entries were deleted.
    pub deleted: u64,
    /// Where the next page starts, for a paged delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl DlqDeleteResponse {
    /// `{"deleted": n}`.
    #[must_use]
    pub fn new(deleted: u64) -> DlqDeleteResponse {
        DlqDeleteResponse {
            deleted,
            cursor: None,
        }
    }
}

/// The answer of `POST /v2/dlq/retry/{dlqId}`: `{"messageId": "msg_…"}`, the new message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DlqRetryResponse {
    /// The new message's id.
    pub message_id: String,
}

impl DlqRetryResponse {
    /// `{"messageId": id}`.
    #[must_use]
    pub fn new(message_id: impl Into<String>) -> DlqRetryResponse {
        DlqRetryResponse {
            message_id: message_id.into(),
        }
    }
}

/// The upstream answer of `POST /v2/dlq/retry?dlqIds=…` (`@upstash/qstash` 2.x):
/// `{"cursor"?: …, "responses": [{"messageId": …}]}`.
///
/// ```
/// use qstash_protocol::DlqBulkRetryResponse;
///
/// let r: DlqBulkRetryResponse = serde_json::from_str(r#"{"responses":[{"messageId":"msg_2"}]}"#)?;
/// assert_eq!(r.responses[0].message_id, "msg_2");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqBulkRetryResponse {
    /// Where the next page starts, for a paged retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// One new message per entry retried.
    #[serde(default)]
    pub responses: Vec<DlqRetryResponse>,
}

impl DlqBulkRetryResponse {
    /// The new messages.
    #[must_use]
    pub fn new(responses: Vec<DlqRetryResponse>, cursor: Option<String>) -> DlqBulkRetryResponse {
        DlqBulkRetryResponse { cursor, responses }
    }
}

/// What a retry from the DLQ changes in the retried messages, from the request's headers
/// (`Upstash-Retries`, `Upstash-Delay`); absent headers keep the dead letter's values (and
/// the new message is due at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DlqRetryOverrides {
    /// `Upstash-Retries`: the retries after the first attempt.
    pub retries: Option<u32>,
    /// `Upstash-Delay`: how long after the retry the first attempt is due.
    pub delay: Option<qstash_delay::Delay>,
}

impl DlqRetryOverrides {
    /// Reads the overrides from a request's headers.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the header whose value is invalid.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<DlqRetryOverrides, DecodeError> {
        let mut out = DlqRetryOverrides::default();
        if let Some(v) = headers.get("upstash-retries") {
            let n = parse_u64("retries", v.as_bytes(), u64::from(u32::MAX))
                .map_err(|e| DecodeError::invalid("Upstash-Retries", e))?;
            out.retries = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(v) = headers.get("upstash-delay") {
            let d = qstash_delay::Delay::parse(v.as_bytes()).map_err(|_| {
                DecodeError::at(DecodeErrorKind::InvalidValue, "Upstash-Delay")
                    .with_detail("not a duration such as 10s, 5m or 1h")
            })?;
            out.delay = Some(d);
        }
        Ok(out)
    }
}
