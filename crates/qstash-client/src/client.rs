//! The client, its builder, and one attempt of a request (the retry loop around it is in
//! `retry.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderValue, StatusCode, Uri};
use qstash_protocol::{
    BatchResponseEntry, BulkCancel, BulkCancelResponse, CancelRun, DEFAULT_BASE_URL, ENV_TOKEN,
    ENV_URL, ErrorBody, LogsQuery, LogsResponse, RunId, TriggerBatch, TriggerRequest,
    TriggerResponse, WorkflowUrl,
};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::{Error, ErrorKind};
use crate::logs::LogPages;
use crate::rate_limit::RateLimit;
use crate::replay::Replay;
use crate::retry::{AttemptError, RetryPolicy};
use crate::trigger::TriggerCall;

/// The default timeout of one attempt (request sent and response read).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout of the client's own connection pool.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default deadline of a whole call, across its attempts and the waits between them.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The default limit on the body of a successful response, in bytes (8 MiB): the API's JSON
/// answers are far smaller, so a longer body is a broken or hostile server.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 8 * 1024 * 1024;
/// How much of an error response's body is read, in bytes: enough for the message.
const MAX_ERROR_BODY: usize = 8 * 1024;
/// The longest server message an [`Error`] keeps, in bytes.
const MAX_MESSAGE_LEN: usize = 1024;

/// An async client of the QStash workflow API.
///
/// Cheap to clone (the clones share one connection pool); `Send + Sync`. Every call sends
/// exactly the request of `qstash-protocol` with `Authorization: Bearer <token>`, retries
/// transient failures according to its [`RetryPolicy`], and runs inside a `tracing` span
/// `qstash.request` (fields `op`, `run_id` or `runs`, `attempts`, `status`).
///
/// The token is never shown by `Debug`, never logged and never put in an error.
///
/// ```no_run
/// # async fn demo() -> Result<(), qstash_client::Error> {
/// use qstash_client::Client;
///
/// let client = Client::from_env()?; // QSTASH_TOKEN, QSTASH_URL
/// let run = client
///     .trigger_url("https://example.com/api/workflow")
///     .body(r#"{"order":42}"#)
///     .delay("10s")?
///     .retries(5)
///     .send()
///     .await?;
/// println!("started {}", run.workflow_run_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Uri,
    /// `scheme://authority` of the base.
    origin: String,
    auth: HeaderValue,
    token: Secret,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    max_response_size: usize,
}

/// A token: shown as `"<redacted>"` by `Debug`.
#[derive(Clone, Default)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .field("token", &self.inner.token)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("total_timeout", &self.inner.total_timeout)
            .field("max_response_size", &self.inner.max_response_size)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with `token`, the default base URL (`https://qstash.upstash.io`) and the
    /// defaults of [`ClientBuilder`].
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the token is empty or holds a byte outside visible ASCII,
    /// or the TLS setup fails.
    pub fn new(token: impl Into<String>) -> Result<Client, Error> {
        Client::builder().token(token).build()
    }

    /// A builder with the defaults: base URL `https://qstash.upstash.io`, no token,
    /// [`DEFAULT_TIMEOUT`] per attempt, [`DEFAULT_TOTAL_TIMEOUT`] per call,
    /// [`DEFAULT_MAX_RESPONSE_SIZE`], [`RetryPolicy::default`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: the token from `QSTASH_TOKEN`, the base
    /// URL from `QSTASH_URL` (default `https://qstash.upstash.io`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `QSTASH_TOKEN` is not set or invalid, or `QSTASH_URL`
    /// is not an `http(s)` URL.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env().build()
    }

    /// The base URL.
    #[must_use]
    pub fn base_url(&self) -> &Uri {
        &self.inner.base
    }

    /// The retry policy.
    #[must_use]
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The timeout of one attempt, if any.
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// The deadline of a whole call across its attempts, if any.
    #[must_use]
    pub fn total_timeout(&self) -> Option<Duration> {
        self.inner.total_timeout
    }

    /// The longest body of a successful response the client reads, in bytes.
    #[must_use]
    pub fn max_response_size(&self) -> usize {
        self.inner.max_response_size
    }

    /// Starts a trigger of the workflow at `url` in the fluent form; see [`TriggerCall`].
    /// An invalid URL is reported by [`TriggerCall::send`], before anything is sent.
    pub fn trigger_url<U>(&self, url: U) -> TriggerCall<'_>
    where
        U: TryInto<WorkflowUrl>,
        U::Error: Into<Error>,
    {
        TriggerCall::new(self, url.try_into().map_err(Into::into))
    }

    /// Triggers a workflow run: `POST {base}/v2/trigger/{workflowUrl}`.
    ///
    /// A request without a run id gets a generated one first, so every attempt carries the
    /// same `Upstash-Workflow-RunId` and a retry cannot start a second run; errors carry it
    /// ([`Error::run_id`]).
    ///
    /// # Errors
    /// See [`ErrorKind`]; the request is never sent twice in parallel, and `412` is never
    /// retried.
    pub async fn trigger(&self, mut request: TriggerRequest) -> Result<TriggerResponse, Error> {
        let run_id = request.ensure_run_id().clone();
        let base = &self.inner.base;
        let encode = || request.to_http(base);
        self.execute(Op::Trigger, encode, std::slice::from_ref(&run_id), |body| {
            serde_json::from_slice::<TriggerResponse>(body)
        })
        .await
    }

    /// Triggers several runs in one request: `POST {base}/v2/batch/trigger`.
    ///
    /// Entries without a run id get a generated one first (as [`trigger`](Self::trigger)).
    /// The response has one entry per request entry, in order.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] when an entry cannot travel in JSON
    /// ([`TriggerBatch::new`]); otherwise see [`ErrorKind`]. Errors carry every entry's run
    /// id ([`Error::run_ids`]).
    pub async fn batch_trigger(
        &self,
        requests: Vec<TriggerRequest>,
    ) -> Result<Vec<BatchResponseEntry>, Error> {
        let mut batch = TriggerBatch::new(requests)?;
        batch.ensure_run_ids();
        let run_ids: Vec<RunId> = batch
            .entries()
            .iter()
            .filter_map(|r| r.run_id().cloned())
            .collect();
        let base = &self.inner.base;
        let encode = || batch.to_http(base);
        self.execute(Op::BatchTrigger, encode, &run_ids, |body| {
            serde_json::from_slice::<Vec<BatchResponseEntry>>(body)
        })
        .await
    }

    /// Cancels one run: `DELETE {base}/v2/workflows/runs/{workflowRunId}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown run; otherwise see [`ErrorKind`].
    pub async fn cancel_run(&self, run_id: &RunId) -> Result<(), Error> {
        let cancel = CancelRun::new(run_id.clone());
        let base = &self.inner.base;
        self.execute(
            Op::CancelRun,
            || cancel.to_http(base),
            std::slice::from_ref(run_id),
            |_| Ok(()),
        )
        .await
    }

    /// Cancels the runs matching `filter`:
    /// `DELETE {base}/v2/workflows/runs?workflowRunIds=…&workflowUrl=…&label=…`; returns how
    /// many were cancelled.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn cancel_runs(&self, filter: &BulkCancel) -> Result<u64, Error> {
        let base = &self.inner.base;
        let encode = || filter.to_http(base);
        self.execute(Op::CancelRuns, encode, filter.run_ids(), |body| {
            serde_json::from_slice::<BulkCancelResponse>(body).map(|r| r.cancelled)
        })
        .await
    }

    /// One page of the runs' logs: `GET {base}/v2/workflows/logs?…`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn logs(&self, query: &LogsQuery) -> Result<LogsResponse, Error> {
        let base = &self.inner.base;
        let encode = || query.to_http(base);
        self.execute(Op::Logs, encode, query.run_id.as_slice(), |body| {
            serde_json::from_slice::<LogsResponse>(body)
        })
        .await
    }

    /// Every page of the logs from `query` on, following the cursor; a `Stream` of pages
    /// (see [`LogPages`]).
    pub fn logs_stream(&self, query: LogsQuery) -> LogPages {
        LogPages::new(self.clone(), query)
    }

    /// Sends the request `encode` gives with the token, retrying transient failures, and
    /// parses a successful body with `parse`. Each attempt encodes the request again, so the
    /// first one clones nothing; every encoding of a request is the same.
    async fn execute<T>(
        &self,
        op: Op,
        encode: impl Fn() -> http::Request<Bytes>,
        run_ids: &[RunId],
        parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, Error> {
        self.execute_with(op, Replay::Safe, encode, run_ids, parse)
            .await
    }

    /// As `execute`, retrying only the failures `replay` allows.
    pub(crate) async fn execute_with<T>(
        &self,
        op: Op,
        replay: Replay,
        encode: impl Fn() -> http::Request<Bytes>,
        run_ids: &[RunId],
        parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, Error> {
        let span = tracing::info_span!(
            "qstash.request",
            op = op.name(),
            run_id = Empty,
            runs = Empty,
            attempts = Empty,
            status = Empty,
        );
        match run_ids {
            [] => {}
            [one] => {
                span.record("run_id", one.as_str());
            }
            many => {
                span.record("runs", many.len());
            }
        }
        let inner = &*self.inner;
        let (encode, parse) = (&encode, &parse);
        let (result, attempts) = inner
            .retry
            .run(inner.total_timeout, move || async move {
                match self.attempt(encode, parse).await {
                    Err(AttemptError::Failed(err, _)) if !replay.allows(&err) => {
                        Err(AttemptError::Final(err))
                    }
                    other => other,
                }
            })
            .instrument(span.clone())
            .await;
        span.record("attempts", attempts);
        result.map_err(|e| e.with_run_ids(run_ids).with_attempts(attempts))
    }

    /// One attempt: the request `encode` gives, sent, and a successful body parsed with
    /// `parse`.
    async fn attempt<T>(
        &self,
        encode: impl Fn() -> http::Request<Bytes>,
        parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, AttemptError> {
        let request = self.prepare(encode()).map_err(AttemptError::NotSent)?;
        let (status, body) = self
            .send(request)
            .await
            .map_err(|(err, wait)| AttemptError::Failed(err, wait))?;
        tracing::Span::current().record("status", status.as_u16());
        parse(&body).map_err(|e| {
            let err = Error::new(ErrorKind::UnexpectedResponse)
                .with_status(status)
                .with_message("the response body is not the expected JSON")
                .with_source(e);
            AttemptError::Failed(err, None)
        })
    }

    /// Sends a request: the status and body of a successful response, or the error with the
    /// wait the server asked for. At most [`ClientBuilder::max_response_size`] bytes of a
    /// successful body are read, and the first [`MAX_ERROR_BODY`] of an error's.
    async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<(StatusCode, Bytes), (Error, Option<Duration>)> {
        let mut response = self
            .inner
            .http
            .execute(request)
            .await
            .map_err(|e| (transport_error(e), None))?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "response");
        if status.is_success() {
            let limit = self.inner.max_response_size;
            let too_long = || {
                Error::new(ErrorKind::UnexpectedResponse)
                    .with_status(status)
                    .with_message(format!(
                        "the response body is longer than the client's limit of {limit} bytes (ClientBuilder::max_response_size)"
                    ))
            };
            if response
                .content_length()
                .is_some_and(|len| len > limit as u64)
            {
                return Err((too_long(), None));
            }
            return match read_at_most(&mut response, limit).await {
                Ok(Body::Complete(body)) => Ok((status, body)),
                Ok(Body::Truncated(_)) => Err((too_long(), None)),
                Err(e) => Err((transport_error(e).with_status(status), None)),
            };
        }
        let rate_limit = RateLimit::from_headers(response.headers(), SystemTime::now());
        // An error body that cannot be read still leaves the status to report; only its
        // beginning is read, the message keeps less.
        let body = match read_at_most(&mut response, MAX_ERROR_BODY).await {
            Ok(Body::Complete(body) | Body::Truncated(body)) => body,
            Err(_) => Bytes::new(),
        };
        let kind = ErrorKind::from_status(status).unwrap_or(ErrorKind::UnexpectedResponse);
        let mut err = Error::new(kind).with_status(status);
        if let Some(message) = server_message(&body, &self.inner.token.0) {
            err = err.with_message(message);
        }
        let server_wait = rate_limit.wait();
        if !rate_limit.is_empty() {
            err = err.with_rate_limit(rate_limit);
        }
        Err((err, server_wait))
    }

    /// Turns an encoded request into a `reqwest` one with the token and the timeout, checking
    /// that the HTTP stack sends its target byte for byte.
    fn prepare(&self, request: http::Request<Bytes>) -> Result<reqwest::Request, Error> {
        let (parts, body) = request.into_parts();
        // The encoders join the base's scheme and authority with the target: the same
        // string as `parts.uri.to_string()`, without going through `Display`.
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let mut full = String::with_capacity(self.inner.origin.len() + target.len());
        full.push_str(&self.inner.origin);
        full.push_str(target);
        let url = reqwest::Url::parse(&full).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest)
                .with_message("the request URL is not valid")
                .with_source(e)
        })?;
        if url.path() != parts.uri.path() || url.query() != parts.uri.query() {
            // The `url` crate under reqwest normalises some targets (dot segments, `\`, a few
            // bytes it escapes); sending them would not send the destination verbatim.
            return Err(Error::new(ErrorKind::InvalidRequest).with_message(format!(
                "the HTTP stack would not send the request target verbatim (\"{}\" would be sent as \"{}\")",
                target.escape_debug(),
                path_and_query(&url).escape_debug(),
            )));
        }
        let mut request = reqwest::Request::new(parts.method, url);
        let headers = request.headers_mut();
        *headers = parts.headers;
        headers.insert(AUTHORIZATION, self.inner.auth.clone());
        if body.is_empty() && request.method() == http::Method::POST {
            // hyper sends no length for an empty body; some proxies answer such a POST with
            // 411 Length Required.
            request
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        *request.body_mut() = Some(body.into());
        *request.timeout_mut() = self.inner.timeout;
        Ok(request)
    }
}

/// A response body read up to a limit.
enum Body {
    /// The whole body.
    Complete(Bytes),
    /// The first `limit` bytes of a longer body.
    Truncated(Bytes),
}

/// Reads `response`'s body, stopping after `limit` bytes.
async fn read_at_most(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Body, reqwest::Error> {
    let expected = response.content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(limit).min(limit));
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok(Body::Truncated(body.into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(body.into()))
}

fn path_and_query(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// A `reqwest` error as a timeout or a transport error.
fn transport_error(e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    Error::new(kind).with_source(e)
}

/// The server's message: the `error` field of a JSON body, or the body's text, with every
/// occurrence of the token replaced by `<redacted>` (whatever the token's length), then
/// capped and with control characters escaped. The token is replaced first, so that the cap
/// cannot leave a part of it.
fn server_message(body: &[u8], token: &str) -> Option<String> {
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.error,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let scrubbed;
    let text = if !token.is_empty() && text.contains(token) {
        scrubbed = text.replace(token, REDACTED);
        scrubbed.as_str()
    } else {
        text
    };
    let mut end = text.len().min(MAX_MESSAGE_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let capped = text.get(..end).unwrap_or_default();
    let mut out = String::with_capacity(capped.len() + 3);
    for c in capped.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if end < text.len() {
        out.push('…');
    }
    Some(out)
}

/// What a server message shows in place of the token.
const REDACTED: &str = "<redacted>";

/// The operations, as named in the tracing span.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Trigger,
    BatchTrigger,
    CancelRun,
    CancelRuns,
    Logs,
    Publish,
    PublishBatch,
    Message,
    CancelMessage,
    Events,
    Dlq,
    DlqMessage,
    DeleteDlq,
    RetryDlq,
    SigningKeys,
    RotateSigningKeys,
    FlowControl,
    FlowControls,
    Notify,
    CreateSchedule,
    Schedules,
    Schedule,
    DeleteSchedule,
    PauseSchedule,
    ResumeSchedule,
    AddEndpoints,
    RemoveEndpoints,
    UrlGroups,
    UrlGroup,
    DeleteUrlGroup,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Trigger => "trigger",
            Op::BatchTrigger => "batch_trigger",
            Op::CancelRun => "cancel_run",
            Op::CancelRuns => "cancel_runs",
            Op::Logs => "logs",
            Op::Publish => "publish",
            Op::PublishBatch => "publish_batch",
            Op::Message => "message",
            Op::CancelMessage => "cancel_message",
            Op::Events => "events",
            Op::Dlq => "dlq",
            Op::DlqMessage => "dlq_message",
            Op::DeleteDlq => "delete_dlq",
            Op::RetryDlq => "retry_dlq",
            Op::SigningKeys => "signing_keys",
            Op::RotateSigningKeys => "rotate_signing_keys",
            Op::FlowControl => "flow_control",
            Op::FlowControls => "flow_controls",
            Op::Notify => "notify",
            Op::CreateSchedule => "create_schedule",
            Op::Schedules => "schedules",
            Op::Schedule => "schedule",
            Op::DeleteSchedule => "delete_schedule",
            Op::PauseSchedule => "pause_schedule",
            Op::ResumeSchedule => "resume_schedule",
            Op::AddEndpoints => "add_endpoints",
            Op::RemoveEndpoints => "remove_endpoints",
            Op::UrlGroups => "url_groups",
            Op::UrlGroup => "url_group",
            Op::DeleteUrlGroup => "delete_url_group",
        }
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use qstash_client::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .token("my-token")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Some(Duration::from_secs(5)))
///     .retry_policy(RetryPolicy::new(5))
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080/");
/// assert_eq!(client.retry_policy().max_attempts(), 5);
/// assert!(!format!("{client:?}").contains("my-token"));
/// # Ok::<(), qstash_client::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    base_url: Option<String>,
    token: Option<Secret>,
    timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    connect_timeout: Duration,
    max_response_size: usize,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            base_url: None,
            token: None,
            timeout: Some(DEFAULT_TIMEOUT),
            total_timeout: Some(DEFAULT_TOTAL_TIMEOUT),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            retry: RetryPolicy::default(),
            http: None,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_size", &self.max_response_size)
            .field("retry", &self.retry)
            .field("custom_http_client", &self.http.is_some())
            .finish()
    }
}

impl ClientBuilder {
    /// A builder with the token from `QSTASH_TOKEN` and the base URL from `QSTASH_URL`
    /// (when set and not empty). A missing token is reported by [`build`](Self::build).
    pub fn from_env() -> ClientBuilder {
        ClientBuilder::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables with `lookup`.
    pub(crate) fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> ClientBuilder {
        let mut builder = ClientBuilder::default();
        if let Some(url) = lookup(ENV_URL).filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url);
        }
        builder.token = lookup(ENV_TOKEN).map(Secret);
        builder
    }

    /// Sets the base URL (default `https://qstash.upstash.io`). A path is kept as a prefix
    /// of every endpoint.
    pub fn base_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the token sent as `Authorization: Bearer <token>`. Surrounding whitespace is
    /// removed.
    pub fn token(mut self, token: impl Into<String>) -> ClientBuilder {
        self.token = Some(Secret(token.into()));
        self
    }

    /// Sets the timeout of one attempt, from sending the request to reading the whole
    /// response (default [`DEFAULT_TIMEOUT`]); `None` for no timeout of the client's own.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Sets the deadline of a whole call: its attempts and the waits between them (default
    /// [`DEFAULT_TOTAL_TIMEOUT`]); `None` for none. A call that passes it fails with
    /// [`ErrorKind::Timeout`]; a retry whose wait would pass it is not made, and the last
    /// attempt's error is returned.
    pub fn total_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.total_timeout = timeout;
        self
    }

    /// Sets the longest body of a successful response the client reads, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_SIZE`]). A longer body fails the call with
    /// [`ErrorKind::UnexpectedResponse`] naming the limit, after reading no more than it. Of
    /// an error response only the first KiBs are read, for the message.
    pub fn max_response_size(mut self, bytes: usize) -> ClientBuilder {
        self.max_response_size = bytes;
        self
    }

    /// Sets the connect timeout of the client's own connection pool (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]); a client given with [`http_client`](Self::http_client)
    /// keeps its own.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`]; [`RetryPolicy::none`] turns
    /// retries off).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> ClientBuilder {
        self.retry = policy;
        self
    }

    /// Uses the caller's `reqwest::Client` (its pool, proxy, TLS settings) instead of one of
    /// our own. Keep its redirect policy off: the API never redirects, and following a
    /// redirect could send the request somewhere else.
    pub fn http_client(mut self, client: reqwest::Client) -> ClientBuilder {
        self.http = Some(client);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when no token was given (or `QSTASH_TOKEN` is not set), the
    /// token is empty or holds a byte outside visible ASCII, the base URL is not an absolute
    /// `http(s)` URL without query, or the TLS setup fails.
    pub fn build(self) -> Result<Client, Error> {
        let token = match self.token {
            Some(Secret(t)) => t.trim().to_owned(),
            None => {
                return Err(Error::config(format!(
                    "no token: give one or set {ENV_TOKEN}"
                )));
            }
        };
        if token.is_empty() {
            return Err(Error::config("the token is empty"));
        }
        // Never quote the token: say where the bad byte is, not what it is.
        if let Some(i) = token.bytes().position(|b| !(0x21..=0x7E).contains(&b)) {
            return Err(Error::config(format!(
                "the token holds a byte other than visible ASCII at byte {i}"
            )));
        }
        let mut auth = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Error::config("the token cannot be sent in a header"))?;
        auth.set_sensitive(true);
        let base = parse_base(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let http = match self.http {
            Some(http) => http,
            None => default_http_client(self.connect_timeout)?,
        };
        let origin = match (base.scheme_str(), base.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => return Err(Error::config("the base URL has no scheme or host")),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                origin,
                auth,
                token: Secret(token),
                retry: self.retry,
                timeout: self.timeout,
                total_timeout: self.total_timeout,
                max_response_size: self.max_response_size,
            }),
        })
    }
}

/// Checks a base URL: absolute `http(s)`, with a host, without query or fragment.
fn parse_base(s: &str) -> Result<Uri, Error> {
    let s = s.trim();
    let bad = |why: &str| {
        Error::config(format!(
            "invalid base URL \"{}\": {why}",
            s.chars().take(200).collect::<String>().escape_debug()
        ))
    };
    let uri: Uri = s.parse().map_err(|_| bad("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("a base URL has no query"));
    }
    if s.contains('#') {
        return Err(bad("a base URL has no fragment"));
    }
    // reqwest parses the URLs again; refuse a base it would read differently.
    let url = reqwest::Url::parse(s).map_err(|_| bad("not a URL"))?;
    if url.path().trim_end_matches('/') != uri.path().trim_end_matches('/') {
        return Err(bad("its path would not be sent verbatim"));
    }
    Ok(uri)
}

/// Our own `reqwest` client: rustls with the ring provider and the platform's certificate
/// verifier (no process-wide provider is installed), HTTP/2 or HTTP/1.1 by ALPN, no
/// redirects.
fn default_http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
        Error::config("the platform's certificate verifier could not be set up").with_source(e)
    })?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("TLS setup failed").with_source(e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("qstash-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::config("the HTTP client could not be built").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_capped_escaped_and_redacted() {
        assert_eq!(
            server_message(br#"{"error":"bad delay"}"#, "").as_deref(),
            Some("bad delay")
        );
        assert_eq!(
            server_message(b"plain text\n", "").as_deref(),
            Some("plain text")
        );
        assert_eq!(server_message(b"  ", ""), None);
        assert_eq!(
            server_message(b"a\x1b[31mb", "").as_deref(),
            Some("a\\u{1b}[31mb")
        );
        let long = "é".repeat(MAX_MESSAGE_LEN);
        let m = server_message(long.as_bytes(), "").unwrap();
        assert!(m.ends_with('…'));
        assert!(m.len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
        let token = "eyJVc2VySUQiOiJzZWNyZXQifQ==";
        let m = server_message(
            format!(r#"{{"error":"token {token} is revoked"}}"#).as_bytes(),
            token,
        );
        assert_eq!(m.as_deref(), Some("token <redacted> is revoked"));
    }

    #[test]
    fn tokens_of_every_length_are_redacted() {
        // Letters that "<redacted>" does not hold, so that what remains can be searched.
        let alphabet = b"ZQ7XK9W";
        for len in 1..=64 {
            let token: String = (0..len)
                .map(|i| char::from(alphabet[i % alphabet.len()]))
                .collect();
            let body = format!(r#"{{"error":"{token} is not valid (got {token})"}}"#);
            let m = server_message(body.as_bytes(), &token).unwrap();
            assert_eq!(
                m, "<redacted> is not valid (got <redacted>)",
                "length {len}"
            );
        }
    }

    #[test]
    fn the_cap_does_not_leave_part_of_the_token() {
        let token = "ZQ7XK9WZQ7XK9WZQ7XK9W";
        for pad in MAX_MESSAGE_LEN - token.len()..=MAX_MESSAGE_LEN {
            let body = format!("{}{token} tail", "a".repeat(pad));
            let m = server_message(body.as_bytes(), token).unwrap();
            assert!(!m.contains("ZQ7"), "padding {pad}: {m}");
        }
    }

    #[test]
    fn env_lookup() {
        let vars = |url: Option<&'static str>, token: Option<&'static str>| {
            move |name: &str| match name {
                "QSTASH_URL" => url.map(str::to_owned),
                "QSTASH_TOKEN" => token.map(str::to_owned),
                _ => None,
            }
        };
        let c = ClientBuilder::from_vars(vars(Some("http://127.0.0.1:9/qstash"), Some(" tok \n")))
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9/qstash");
        assert_eq!(c.inner.auth, "Bearer tok");
        assert!(c.inner.auth.is_sensitive());

        let c = ClientBuilder::from_vars(vars(Some(""), Some("tok")))
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "https://qstash.upstash.io/");
        let c = ClientBuilder::from_vars(vars(None, Some("tok")))
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "https://qstash.upstash.io/");

        let err = ClientBuilder::from_vars(vars(None, None))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("QSTASH_TOKEN"), "{err}");
    }

    #[test]
    fn bad_settings() {
        let build = |url: &str, token: &str| Client::builder().base_url(url).token(token).build();
        for url in [
            "ftp://x",
            "/relative",
            "http://",
            "https://h/?q=1",
            "https://h/#f",
            "not a url",
        ] {
            let err = build(url, "tok").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{url}");
            assert!(err.to_string().contains("invalid base URL"), "{err}");
        }
        for token in ["", "   ", "to ken-s3cr3t", "tök-s3cr3t"] {
            let err = build("http://h", token).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(
                !token.trim().is_empty() && !err.to_string().contains(token.trim())
                    || token.trim().is_empty()
            );
        }
        assert!(build("https://h:8443/prefix/", "tok").is_ok());
    }
}
