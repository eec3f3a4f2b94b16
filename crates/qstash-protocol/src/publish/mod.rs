//! Publishing a message: `POST /v2/publish/{destination}` (`SERVER.md` §3), its builder, and
//! its mapping to and from HTTP.
//!
//! The request model is here; the builder, the encoder and the decoder are the submodules.

mod builder;
mod decode;
mod encode;

pub use builder::PublishRequestBuilder;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::encode::MapSink;
use crate::error::{DecodeError, DecodeErrorKind, ValueError};
use crate::forward::ForwardedHeaders;
use crate::header::ForwardPrefix;
use crate::uri::join;
use crate::values::{CallbackUrl, DeduplicationId, Label, WorkflowUrl};

use decode::decode_publish_headers;

/// The path prefix of a publish: `POST {base}/v2/publish/{destination}`.
pub const PUBLISH_PATH: &str = "/v2/publish/";

/// A callback of a message (`Upstash-Callback` or `Upstash-Failure-Callback`): where it goes
/// and the headers forwarded to it (`Upstash-Callback-Forward-<Name>`,
/// `Upstash-Failure-Callback-Forward-<Name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCallback {
    url: CallbackUrl,
    forwarded: ForwardedHeaders,
}

impl MessageCallback {
    /// Where the callback goes.
    #[must_use]
    pub fn url(&self) -> &CallbackUrl {
        &self.url
    }

    /// The headers forwarded to the callback, without their prefix.
    #[must_use]
    pub fn forwarded(&self) -> &ForwardedHeaders {
        &self.forwarded
    }
}

/// A message: `POST {base}/v2/publish/{destination}` with its headers and body
/// (`SERVER.md` §3).
///
/// Built with [`PublishRequest::builder`], which checks every value, so that any
/// `PublishRequest` encodes ([`to_http`](Self::to_http)) without error; decoded with
/// [`from_http`](Self::from_http) or, for a batch entry or a stored message,
/// [`from_parts`](Self::from_parts). `from_http(&r.to_http(base)) == Ok(r)` for every request.
///
/// The destination is a [`WorkflowUrl`]: the same type as a trigger's destination, with the
/// same rules (an absolute `http(s)` URL kept byte for byte, only bytes a request target
/// carries verbatim), because it travels the same way, appended to the path.
///
/// Besides the headers it models, a message keeps every other `Upstash-*` header it was given,
/// in order ([`extra_headers`](Self::extra_headers)): workflow messages carry
/// `Upstash-Workflow-*` headers that the server needs. They are stored with the message and
/// never forwarded to the destination. Other headers than `Content-Type` are ignored.
///
/// ```
/// use http::{Method, Uri};
/// use qstash_delay::Delay;
/// use qstash_protocol::{CallbackUrl, PublishRequest, WorkflowUrl};
///
/// let msg = PublishRequest::builder(WorkflowUrl::new("https://example.com/hook?x=1")?)
///     .method(Method::PUT)
///     .body("hello")
///     .forward("Authorization", "Bearer s3cret")
///     .timeout("30s".parse::<Delay>()?)
///     .callback(CallbackUrl::new("https://example.com/cb")?)
///     .extra_header("Upstash-Workflow-RunId", "wfr_1")
///     .build()?;
/// let http = msg.to_http(&Uri::from_static("https://qstash.upstash.io"));
/// assert_eq!(http.uri().path(), "/v2/publish/https://example.com/hook");
/// assert_eq!(http.headers()["upstash-method"], "PUT");
/// assert_eq!(http.headers()["upstash-workflow-runid"], "wfr_1");
/// let back = PublishRequest::from_http(&http)?;
/// assert_eq!(back, msg);
/// assert_eq!(back.method(), &Method::PUT);
/// assert_eq!(back.extra_headers()[0].0.as_str(), "upstash-workflow-runid");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    destination: WorkflowUrl,
    body: Bytes,
    content_type: Option<HeaderValue>,
    method: Option<Method>,
    forwarded: ForwardedHeaders,
    retries: Option<u32>,
    delay: Option<Delay>,
    not_before: Option<u64>,
    timeout: Option<Delay>,
    retry_delay: Option<RetryDelay>,
    labels: Vec<Label>,
    flow_control: Option<(FlowControlKey, FlowControl)>,
    callback: Option<MessageCallback>,
    failure_callback: Option<MessageCallback>,
    deduplication_id: Option<DeduplicationId>,
    content_based_deduplication: Option<bool>,
    extra: Vec<(HeaderName, HeaderValue)>,
}

impl PublishRequest {
    /// Starts a message to `destination`, with an empty body and no headers.
    pub fn builder(destination: WorkflowUrl) -> PublishRequestBuilder {
        PublishRequestBuilder {
            req: PublishRequest {
                destination,
                body: Bytes::new(),
                content_type: None,
                method: None,
                forwarded: ForwardedHeaders::new(ForwardPrefix::Destination),
                retries: None,
                delay: None,
                not_before: None,
                timeout: None,
                retry_delay: None,
                labels: Vec::new(),
                flow_control: None,
                callback: None,
                failure_callback: None,
                deduplication_id: None,
                content_based_deduplication: None,
                extra: Vec::new(),
            },
            callback_url: None,
            callback_forwarded: ForwardedHeaders::new(ForwardPrefix::Callback),
            failure_url: None,
            failure_forwarded: ForwardedHeaders::new(ForwardPrefix::Failure),
            error: None,
        }
    }

    /// A builder holding this message's values, to change some of them.
    pub fn into_builder(mut self) -> PublishRequestBuilder {
        let (callback_url, callback_forwarded) = match self.callback.take() {
            Some(cb) => (Some(cb.url), cb.forwarded),
            None => (None, ForwardedHeaders::new(ForwardPrefix::Callback)),
        };
        let (failure_url, failure_forwarded) = match self.failure_callback.take() {
            Some(cb) => (Some(cb.url), cb.forwarded),
            None => (None, ForwardedHeaders::new(ForwardPrefix::Failure)),
        };
        PublishRequestBuilder {
            req: self,
            callback_url,
            callback_forwarded,
            failure_url,
            failure_forwarded,
            error: None,
        }
    }

    /// The destination, exactly as given (query included).
    #[must_use]
    pub fn destination(&self) -> &WorkflowUrl {
        &self.destination
    }

    /// The body, delivered as is.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body's `Content-Type`, if set.
    #[must_use]
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }

    /// The method the message is delivered with: `Upstash-Method`, `POST` when absent.
    #[must_use]
    pub fn method(&self) -> &Method {
        self.method.as_ref().unwrap_or(&Method::POST)
    }

    /// `Upstash-Method` as given, `None` when absent.
    #[must_use]
    pub fn method_header(&self) -> Option<&Method> {
        self.method.as_ref()
    }

    /// Headers forwarded to the destination (`Upstash-Forward-<Name>`), without the prefix.
    #[must_use]
    pub fn forwarded(&self) -> &ForwardedHeaders {
        &self.forwarded
    }

    /// `Upstash-Retries`, if set.
    #[must_use]
    pub fn retries(&self) -> Option<u32> {
        self.retries
    }

    /// `Upstash-Delay`, if set.
    #[must_use]
    pub fn delay(&self) -> Option<Delay> {
        self.delay
    }

    /// `Upstash-Not-Before` in unix seconds, if set; it wins over [`delay`](Self::delay)
    /// at the server, both are kept here.
    #[must_use]
    pub fn not_before(&self) -> Option<u64> {
        self.not_before
    }

    /// `Upstash-Timeout`: the bound of each delivery attempt, if set.
    #[must_use]
    pub fn timeout(&self) -> Option<Delay> {
        self.timeout
    }

    /// `Upstash-Retry-Delay`, if set.
    #[must_use]
    pub fn retry_delay(&self) -> Option<&RetryDelay> {
        self.retry_delay.as_ref()
    }

    /// `Upstash-Label`: the labels, in order (empty when unset).
    #[must_use]
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// `Upstash-Flow-Control-Key` and `Upstash-Flow-Control-Value`, which come together.
    #[must_use]
    pub fn flow_control(&self) -> Option<(&FlowControlKey, FlowControl)> {
        self.flow_control.as_ref().map(|(k, v)| (k, *v))
    }

    /// The callback called after every attempt (`Upstash-Callback`), if any.
    #[must_use]
    pub fn callback(&self) -> Option<&MessageCallback> {
        self.callback.as_ref()
    }

    /// The callback called once the message failed for good (`Upstash-Failure-Callback`),
    /// if any.
    #[must_use]
    pub fn failure_callback(&self) -> Option<&MessageCallback> {
        self.failure_callback.as_ref()
    }

    /// `Upstash-Deduplication-Id`, if set.
    #[must_use]
    pub fn deduplication_id(&self) -> Option<&DeduplicationId> {
        self.deduplication_id.as_ref()
    }

    /// `Upstash-Content-Based-Deduplication`, if sent (`Some(false)` when sent as `false`).
    #[must_use]
    pub fn content_based_deduplication(&self) -> Option<bool> {
        self.content_based_deduplication
    }

    /// The other `Upstash-*` headers, names lowercase, in the order received (the values of a
    /// name that is repeated follow its first value, as in an `http::HeaderMap`). They are
    /// kept with the message and never forwarded.
    #[must_use]
    pub fn extra_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.extra
    }

    /// The first value of the extra header `name` (case-insensitive), if any.
    ///
    /// ```
    /// use qstash_protocol::{PublishRequest, WorkflowUrl};
    ///
    /// let msg = PublishRequest::builder(WorkflowUrl::new("https://example.com/wf")?)
    ///     .extra_header("Upstash-Workflow-Init", "true")
    ///     .build()?;
    /// assert_eq!(msg.extra_header("upstash-workflow-init").unwrap(), "true");
    /// assert!(msg.extra_header("upstash-workflow-runid").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn extra_header(&self, name: &str) -> Option<&HeaderValue> {
        self.extra
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The message's headers, as [`to_http`](Self::to_http) sends them: every header it
    /// carries, extras included.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.header_count());
        self.encode(&mut MapSink::new(&mut map, self.value_capacity()));
        map
    }

    /// Encodes the message as `POST {base}/v2/publish/{destination}` with its headers and
    /// body. A path on `base` is kept as a prefix; its query is dropped. Neither
    /// `Authorization` nor `Content-Length` is set.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut req = Request::new(self.body.clone());
        *req.method_mut() = Method::POST;
        let mut tail = String::with_capacity(PUBLISH_PATH.len() + self.destination.as_str().len());
        tail.push_str(PUBLISH_PATH);
        tail.push_str(self.destination.as_str());
        *req.uri_mut() = join(base, tail);
        let headers = req.headers_mut();
        headers.reserve(self.header_count());
        self.encode(&mut MapSink::new(headers, self.value_capacity()));
        req
    }

    /// Decodes `POST …/v2/publish/{destination}` (`SERVER.md` §3).
    ///
    /// The destination is the rest of the path after `/v2/publish/` plus `?` and the query
    /// when there is one, byte for byte. Header names are case-insensitive; unknown
    /// `Upstash-*` headers are kept ([`extra_headers`](Self::extra_headers)); other headers
    /// are ignored, except `Content-Type`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use qstash_protocol::PublishRequest;
    ///
    /// let http = http::Request::post("https://qstash.upstash.io/v2/publish/https://example.com/hook?id=7")
    ///     .header("Upstash-Method", "PATCH")
    ///     .header("Upstash-Deduplication-Id", "order-7")
    ///     .header("Upstash-Workflow-RunId", "wfr_7")
    ///     .header("X-Ignored", "yes")
    ///     .body(Bytes::from_static(b"{}"))
    ///     .unwrap();
    /// let msg = PublishRequest::from_http(&http)?;
    /// assert_eq!(msg.destination().as_str(), "https://example.com/hook?id=7");
    /// assert_eq!(msg.method(), "PATCH");
    /// assert_eq!(msg.deduplication_id().unwrap().as_str(), "order-7");
    /// assert_eq!(msg.extra_headers().len(), 1);
    /// # Ok::<(), qstash_protocol::DecodeError>(())
    /// ```
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, an invalid destination, a malformed or
    /// repeated known header, an empty forwarded name, a flow-control key without value (or
    /// the reverse), or callback forwarded headers without their callback.
    pub fn from_http(req: &Request<Bytes>) -> Result<PublishRequest, DecodeError> {
        if req.method() != Method::POST {
            return Err(DecodeError::new(DecodeErrorKind::Method)
                .with_detail(format!("expected POST, found {}", req.method())));
        }
        let path = req.uri().path();
        let Some(dest) = path.strip_prefix(PUBLISH_PATH) else {
            return Err(DecodeError::new(DecodeErrorKind::Path).with_detail(format!(
                "expected {PUBLISH_PATH}{{destination}}, found \"{}\"",
                path.escape_debug()
            )));
        };
        let url = match req.uri().query() {
            None => WorkflowUrl::parse(dest.as_bytes()),
            Some(query) => {
                let mut s = String::with_capacity(dest.len() + 1 + query.len());
                s.push_str(dest);
                s.push('?');
                s.push_str(query);
                WorkflowUrl::new(s)
            }
        }
        .map_err(destination_error)?;
        decode_publish_headers(req.headers(), url, req.body().clone())
    }

    /// Decodes a message from its destination, headers and body: a batch entry, or a message
    /// a server stored and reads back. The rules are those of [`from_http`](Self::from_http).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::HeaderMap;
    /// use qstash_protocol::PublishRequest;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("upstash-retries", "2".parse()?);
    /// let msg = PublishRequest::from_parts("https://example.com/hook", &headers, Bytes::new())?;
    /// assert_eq!(msg.retries(), Some(2));
    /// assert_eq!(msg.headers(), headers);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_http`](Self::from_http), but for the method and path.
    pub fn from_parts(
        destination: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<PublishRequest, DecodeError> {
        let url = WorkflowUrl::parse(destination.as_bytes()).map_err(destination_error)?;
        decode_publish_headers(headers, url, body)
    }
}

/// What a message's destination is called in errors (a trigger's is a "workflow URL").
pub(crate) const DESTINATION_URL: &str = "destination URL";

fn destination_error(e: ValueError) -> DecodeError {
    DecodeError::invalid("destination", e.read_as(DESTINATION_URL))
        .into_kind(DecodeErrorKind::WorkflowUrl)
}
