//! Bodies of the message API (`SERVER.md` §3, §5–§7): the publish answer, a message as
//! `GET /v2/messages/{id}` shows it, the callback body, the signing keys.
//!
//! These types grow with the upstream API, so they are `#[non_exhaustive]`: make one with
//! `Default::default()` (or its `new`) and set the public fields.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// The path of a message: `GET`/`DELETE {base}/v2/messages/{messageId}`.
pub const MESSAGES_PATH: &str = "/v2/messages";
/// The path of the signing keys: `GET {base}/v2/keys`.
pub const KEYS_PATH: &str = "/v2/keys";
/// The path that rotates the signing keys: `POST {base}/v2/keys/rotate`.
pub const KEYS_ROTATE_PATH: &str = "/v2/keys/rotate";

/// Headers as the message API shows them: each name with its values, in order.
///
/// A `BTreeMap`, so that names come out sorted and a body is the same for the same headers.
/// Names are as the producer spelled them (see [`header_lists`] for the spelling this crate
/// gives to an `http::HeaderMap`).
pub type HeaderLists = BTreeMap<String, Vec<String>>;

/// The headers of `map` as [`HeaderLists`], names in `Title-Case` (`content-type` →
/// `Content-Type`), values in order; a value that is not UTF-8 is converted lossily.
///
/// ```
/// use http::HeaderMap;
/// use qstash_protocol::header_lists;
///
/// let mut map = HeaderMap::new();
/// map.append("content-type", "text/plain".parse()?);
/// map.append("x-a", "1".parse()?);
/// map.append("x-a", "2".parse()?);
/// let lists = header_lists(&map);
/// assert_eq!(lists["Content-Type"], ["text/plain"]);
/// assert_eq!(lists["X-A"], ["1", "2"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn header_lists(map: &HeaderMap) -> HeaderLists {
    let mut out = HeaderLists::new();
    for (name, value) in map {
        out.entry(title_case(name.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out
}

/// `content-type` → `Content-Type`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}

/// A body that travels as a UTF-8 string when it is one, else as standard base64 in a
/// second field (`body`/`bodyBase64`, `responseBody`/`responseBodyBase64`).
pub(crate) fn split_body(bytes: &[u8]) -> (Option<String>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (Some(s.to_owned()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}

/// The bytes of a body split by [`split_body`].
pub(crate) fn join_body(
    text: Option<&str>,
    base64: Option<&str>,
) -> Result<Vec<u8>, base64::DecodeError> {
    match (text, base64) {
        (_, Some(b64)) => STANDARD.decode(b64),
        (Some(s), None) => Ok(s.as_bytes().to_vec()),
        (None, None) => Ok(Vec::new()),
    }
}

/// The answer to a publish, and each entry of the answer to a batch (upstream):
/// `{"messageId": "msg_…"}`, with `"deduplicated": true` when a message with the same
/// deduplication id was accepted before (its id is then the first message's).
///
/// ```
/// use qstash_protocol::PublishResponse;
///
/// let r = PublishResponse::new("msg_1");
/// assert_eq!(serde_json::to_string(&r)?, r#"{"messageId":"msg_1"}"#);
/// let r: PublishResponse = serde_json::from_str(r#"{"messageId":"msg_1","deduplicated":true}"#)?;
/// assert!(r.deduplicated);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PublishResponse {
    /// The message's id.
    pub message_id: String,
    /// Whether an earlier message had the same deduplication id (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deduplicated: bool,
    /// The destination, as upstream answers for URL-group publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl PublishResponse {
    /// The answer for a new message `message_id`.
    #[must_use]
    pub fn new(message_id: impl Into<String>) -> PublishResponse {
        PublishResponse {
            message_id: message_id.into(),
            ..PublishResponse::default()
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// A message as `GET /v2/messages/{messageId}` shows it (upstream names, `Message` of
/// `@upstash/qstash`).
///
/// The body is `body` when it is UTF-8, else `bodyBase64` (standard alphabet);
/// [`set_body`](Self::set_body) and [`body_bytes`](Self::body_bytes) do the choosing.
/// `label` is upstream's deprecated single label (the first one), `labels` every label.
///
/// ```
/// use qstash_protocol::Message;
///
/// let mut m = Message::new("msg_1", "https://example.com/hook", 1_767_225_600_000);
/// m.method = Some("POST".into());
/// m.set_body(&[0xFF, 0x00]);
/// assert_eq!(m.body_base64.as_deref(), Some("/wA="));
/// let json = serde_json::to_string(&m)?;
/// assert_eq!(
///     json,
///     r#"{"messageId":"msg_1","url":"https://example.com/hook","method":"POST","bodyBase64":"/wA=","createdAt":1767225600000}"#
/// );
/// let back: Message = serde_json::from_str(&json)?;
/// assert_eq!(back.body_bytes().unwrap(), [0xFF, 0x00]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// The message's id.
    pub message_id: String,
    /// The destination.
    pub url: String,
    /// The delivery method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The headers sent with the message (forwarded headers without their prefix).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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
    /// The retry-delay expression, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// Not delivered before this time, in milliseconds since the unix epoch (0 or absent:
    /// none).
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
    /// The schedule whose tick published it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// The URL group it was published to, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The name of the URL group's endpoint it goes to, if that endpoint has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
}

impl Message {
    /// A message with its id, destination and creation time (ms), every other field absent.
    #[must_use]
    pub fn new(message_id: impl Into<String>, url: impl Into<String>, created_at: u64) -> Message {
        Message {
            message_id: message_id.into(),
            url: url.into(),
            created_at,
            ..Message::default()
        }
    }

    /// Sets `body` (UTF-8) or `bodyBase64` (anything else); an empty body sets neither.
    pub fn set_body(&mut self, bytes: &[u8]) {
        (self.body, self.body_base64) = split_body(bytes);
    }

    /// The body's bytes, from `bodyBase64` when present, else `body`.
    ///
    /// # Errors
    /// `bodyBase64` is not standard base64.
    pub fn body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        join_body(self.body.as_deref(), self.body_base64.as_deref())
    }

    /// Sets `labels`, and `label` to the first one.
    pub fn set_labels(&mut self, labels: impl IntoIterator<Item = impl Into<String>>) {
        self.labels = labels.into_iter().map(Into::into).collect();
        self.label = self.labels.first().cloned();
    }
}

/// The outcome of a failure callback, kept on the DLQ entry (`SERVER.md` §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallbackState {
    /// `CALLBACK_SUCCESS`: the failure callback was delivered.
    #[serde(rename = "CALLBACK_SUCCESS")]
    Success,
    /// `CALLBACK_FAIL`: the failure callback failed for good.
    #[serde(rename = "CALLBACK_FAIL")]
    Fail,
}

/// The body of a callback and of a failure callback (`SERVER.md` §6, §9), sent as
/// `Content-Type: application/json`.
///
/// `body` and `sourceBody` are standard base64 ([`set_body`](Self::set_body),
/// [`set_source_body`](Self::set_source_body) encode them); a transport error has `status` 0
/// and the error's text as `body`. `dlqId` is only on a failure callback; `workflowRunId` and
/// `workflowCreatedAt` only on a workflow run's failure callback.
///
/// ```
/// use qstash_protocol::CallbackBody;
///
/// let mut cb = CallbackBody::default();
/// cb.status = 500;
/// cb.set_body(b"oops");
/// cb.source_message_id = "msg_1".into();
/// cb.url = "https://example.com/hook".into();
/// cb.method = "POST".into();
/// cb.set_source_body(b"{}");
/// cb.dlq_id = Some("dlq_1".into());
/// let json = serde_json::to_string(&cb)?;
/// assert!(json.starts_with(r#"{"status":500,"header":{},"body":"b29wcw==","retried":0"#));
/// assert!(json.ends_with(r#""dlqId":"dlq_1"}"#));
/// assert_eq!(serde_json::from_str::<CallbackBody>(&json)?, cb);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallbackBody {
    /// The status of the attempt's response, 0 for a transport error.
    pub status: u16,
    /// The response's headers.
    #[serde(default)]
    pub header: HeaderLists,
    /// The response's body (or the transport error's text), standard base64.
    #[serde(default)]
    pub body: String,
    /// Retries made before this attempt.
    #[serde(default)]
    pub retried: u32,
    /// The message's retries.
    #[serde(default)]
    pub max_retries: u32,
    /// The message's id.
    pub source_message_id: String,
    /// The message's destination.
    pub url: String,
    /// The message's method.
    pub method: String,
    /// The message's headers.
    #[serde(default)]
    pub source_header: HeaderLists,
    /// The message's body, standard base64.
    #[serde(default)]
    pub source_body: String,
    /// When the message was created, in milliseconds since the unix epoch.
    #[serde(default)]
    pub created_at: u64,
    /// The message's not-before time in milliseconds since the unix epoch, 0 for none.
    #[serde(default)]
    pub not_before: u64,
    /// The DLQ entry of the message (failure callback only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_id: Option<String>,
    /// The workflow run (a run's failure callback only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
    /// When the workflow run was created, in milliseconds (a run's failure callback only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_created_at: Option<u64>,
}

impl CallbackBody {
    /// Sets `body` to the standard base64 of `bytes`.
    pub fn set_body(&mut self, bytes: &[u8]) {
        self.body = STANDARD.encode(bytes);
    }

    /// Sets `sourceBody` to the standard base64 of `bytes`.
    pub fn set_source_body(&mut self, bytes: &[u8]) {
        self.source_body = STANDARD.encode(bytes);
    }

    /// The bytes of `body`.
    ///
    /// # Errors
    /// `body` is not standard base64.
    pub fn body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(&self.body)
    }

    /// The bytes of `sourceBody`.
    ///
    /// # Errors
    /// `sourceBody` is not standard base64.
    pub fn source_body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(&self.source_body)
    }
}

/// The signing keys (`GET /v2/keys`, `POST /v2/keys/rotate`): `{"current": "sig_…", "next":
/// "sig_…"}`. `Debug` does not show them.
///
/// ```
/// use qstash_protocol::SigningKeysResponse;
///
/// let keys: SigningKeysResponse = serde_json::from_str(r#"{"current":"sig_a","next":"sig_b"}"#)?;
/// assert_eq!(keys.current, "sig_a");
/// assert!(!format!("{keys:?}").contains("sig_a"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SigningKeysResponse {
    /// The key that signs now.
    pub current: String,
    /// The key that signs after the next rotation.
    pub next: String,
}

impl SigningKeysResponse {
    /// Both keys.
    #[must_use]
    pub fn new(current: impl Into<String>, next: impl Into<String>) -> SigningKeysResponse {
        SigningKeysResponse {
            current: current.into(),
            next: next.into(),
        }
    }
}

impl fmt::Debug for SigningKeysResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeysResponse")
            .field("current", &"<redacted>")
            .field("next", &"<redacted>")
            .finish()
    }
}
