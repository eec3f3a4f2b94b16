//! Publishing a message: `POST /v2/publish/{destination}` (`SERVER.md` §3), its builder, and
//! its mapping to and from HTTP.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::decode::{decode_forward, once};
use crate::encode::{LabelList, MapSink, Sink, Val};
use crate::error::{
    BuildError, BuildErrorKind, DecodeError, DecodeErrorKind, HeaderError, ValueError,
    ValueErrorKind,
};
use crate::forward::append_forward;
use crate::forward::{ForwardedHeaders, MAX_FORWARDED_HEADERS, check_forward_value};
use crate::header::{CONTENT_TYPE_CANONICAL, ForwardPrefix, Known};
use crate::uri::join;
use crate::values::{
    CallbackUrl, DeduplicationId, Label, WorkflowUrl, check_header_value, first_not, is_tchar,
    parse_label_list, parse_u64,
};

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

    /// An upper bound of the number of header lines.
    fn header_count(&self) -> usize {
        16 + self.forwarded.len()
            + self.callback.as_ref().map_or(0, |cb| cb.forwarded.len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| cb.forwarded.len())
            + self.extra.len()
    }

    /// About the bytes of the values [`MapSink`] writes.
    fn value_capacity(&self) -> usize {
        64 + self
            .labels
            .iter()
            .map(|l| l.as_str().len() + 1)
            .sum::<usize>()
            + self
                .flow_control
                .as_ref()
                .map_or(0, |(k, _)| k.as_str().len() + 48)
            + self.callback.as_ref().map_or(0, |c| c.url.as_str().len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |c| c.url.as_str().len())
            + self
                .deduplication_id
                .as_ref()
                .map_or(0, |d| d.as_str().len())
            + self.retry_delay.as_ref().map_or(0, |r| r.as_str().len())
    }

    /// Feeds every header to `sink`, in a fixed order: the modelled ones, the forwarded ones,
    /// then the extras in their order.
    pub(crate) fn encode(&self, sink: &mut impl Sink) {
        if let Some(ct) = &self.content_type {
            sink.known(Known::ContentType, Val::Header(ct));
        }
        if let Some(m) = &self.method {
            sink.known(Known::Method, Val::Str(m.as_str()));
        }
        if let Some(n) = self.retries {
            sink.known(Known::Retries, Val::Num(u64::from(n)));
        }
        if let Some(d) = &self.delay {
            sink.known(Known::Delay, Val::Display(d));
        }
        if let Some(t) = self.not_before {
            sink.known(Known::NotBefore, Val::Num(t));
        }
        if let Some(d) = &self.timeout {
            sink.known(Known::Timeout, Val::Display(d));
        }
        if let Some(rd) = &self.retry_delay {
            sink.known(Known::RetryDelay, Val::Str(rd.as_str()));
        }
        match self.labels.as_slice() {
            [] => {}
            [one] => sink.known(Known::Label, Val::Str(one.as_str())),
            many => sink.known(Known::Label, Val::Display(&LabelList(many))),
        }
        if let Some((key, value)) = &self.flow_control {
            sink.known(Known::FlowControlKey, Val::Str(key.as_str()));
            sink.known(Known::FlowControlValue, Val::Display(value));
        }
        if let Some(cb) = &self.callback {
            sink.known(Known::Callback, Val::Str(cb.url.as_str()));
        }
        if let Some(cb) = &self.failure_callback {
            sink.known(Known::FailureCallback, Val::Str(cb.url.as_str()));
        }
        if let Some(id) = &self.deduplication_id {
            sink.known(Known::DeduplicationId, Val::Str(id.as_str()));
        }
        if let Some(b) = self.content_based_deduplication {
            sink.known(
                Known::ContentBasedDeduplication,
                Val::Str(if b { "true" } else { "false" }),
            );
        }
        for (full, bare, value) in self.forwarded.wire() {
            sink.forwarded(ForwardPrefix::Destination, full, bare, value);
        }
        if let Some(cb) = &self.callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Callback, full, bare, value);
            }
        }
        if let Some(cb) = &self.failure_callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Failure, full, bare, value);
            }
        }
        for (name, value) in &self.extra {
            sink.extra(name, value);
        }
    }

    /// How many forwarded and extra header lines the message carries.
    fn free_header_count(&self) -> usize {
        self.forwarded.len()
            + self.callback.as_ref().map_or(0, |cb| cb.forwarded.len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| cb.forwarded.len())
            + self.extra.len()
    }
}

fn destination_error(e: ValueError) -> DecodeError {
    DecodeError::invalid("destination", e).into_kind(DecodeErrorKind::WorkflowUrl)
}

/// What a header name (lowercase) is to a message, read from the tables in [`header`].
enum Kind<'a> {
    /// Not an `Upstash-*` header, nor `Content-Type`: ignored.
    Other,
    /// A known header a message carries.
    Known(Known),
    /// A forwarded header: its prefix and the name after it.
    Forward(ForwardPrefix, &'a str),
    /// Any other `Upstash-*` header (a trigger's included): kept.
    Extra,
}

fn classify(name: &str) -> Kind<'_> {
    if let Some(k) = Known::from_name(name)
        && k.scope().message()
    {
        return Kind::Known(k);
    }
    if let Some((prefix, bare)) = ForwardPrefix::split(name)
        && prefix.scope().message()
    {
        return Kind::Forward(prefix, bare);
    }
    if name.starts_with("upstash-") {
        Kind::Extra
    } else {
        Kind::Other
    }
}

/// Parses `Upstash-Method`: a non-empty method token (RFC 9110), case kept.
fn parse_method(v: &[u8]) -> Result<Method, ValueError> {
    const WHAT: &str = "method";
    if v.is_empty() {
        return Err(ValueError::new(WHAT, ValueErrorKind::Empty, v, 0, 0));
    }
    if let Some(i) = first_not(v, is_tchar) {
        return Err(ValueError::new(WHAT, ValueErrorKind::InvalidByte, v, i, 1));
    }
    Method::from_bytes(v)
        .map_err(|_| ValueError::new(WHAT, ValueErrorKind::InvalidByte, v, 0, v.len()))
}

/// Parses `Upstash-Content-Based-Deduplication`: `true` or `false`, in any case.
fn parse_bool(v: &[u8]) -> Result<bool, ValueError> {
    if v.eq_ignore_ascii_case(b"true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case(b"false") {
        Ok(false)
    } else if v.is_empty() {
        Err(ValueError::new("boolean", ValueErrorKind::Empty, v, 0, 0))
    } else {
        Err(ValueError::new(
            "boolean",
            ValueErrorKind::UnknownValue,
            v,
            0,
            v.len(),
        ))
    }
}

/// Decodes the headers of a message into a request.
fn decode_publish_headers(
    headers: &HeaderMap,
    destination: WorkflowUrl,
    body: Bytes,
) -> Result<PublishRequest, DecodeError> {
    let mut content_type = None;
    let mut method = None;
    let mut forwarded = ForwardedHeaders::new(ForwardPrefix::Destination);
    let mut retries = None;
    let mut delay = None;
    let mut not_before = None;
    let mut timeout = None;
    let mut retry_delay = None;
    let mut labels = Vec::new();
    let mut flow_key = None;
    let mut flow_value = None;
    let mut callback = None;
    let mut failure = None;
    let mut callback_forwarded = ForwardedHeaders::new(ForwardPrefix::Callback);
    let mut failure_forwarded = ForwardedHeaders::new(ForwardPrefix::Failure);
    let mut first_callback_forward: Option<&str> = None;
    let mut first_failure_forward: Option<&str> = None;
    let mut deduplication_id = None;
    let mut content_based = None;
    let mut extra = Vec::new();

    for (name, value) in headers {
        let v = value.as_bytes();
        match classify(name.as_str()) {
            Kind::Other => {}
            Kind::Extra => extra.push((name.clone(), value.clone())),
            Kind::Forward(prefix, bare) => {
                let (map, first) = match prefix {
                    ForwardPrefix::Callback => {
                        (&mut callback_forwarded, Some(&mut first_callback_forward))
                    }
                    ForwardPrefix::Failure => {
                        (&mut failure_forwarded, Some(&mut first_failure_forward))
                    }
                    _ => (&mut forwarded, None),
                };
                decode_forward(map, prefix, name, bare, value)?;
                if let Some(first) = first
                    && first.is_none()
                {
                    *first = Some(bare);
                }
            }
            Kind::Known(k) => match k {
                Known::ContentType => once(&mut content_type, k, || {
                    check_header_value("header value", v)?;
                    Ok(value.clone())
                })?,
                Known::Method => once(&mut method, k, || Ok(parse_method(v)?))?,
                Known::Retries => once(&mut retries, k, || {
                    let n = parse_u64("retries", v, u64::from(u32::MAX))?;
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                })?,
                Known::Delay => once(&mut delay, k, || {
                    Delay::parse(v).map_err(HeaderError::Delay)
                })?,
                Known::NotBefore => once(&mut not_before, k, || {
                    Ok(parse_u64("unix time", v, u64::MAX)?)
                })?,
                Known::Timeout => once(&mut timeout, k, || {
                    Delay::parse(v).map_err(HeaderError::Delay)
                })?,
                Known::RetryDelay => once(&mut retry_delay, k, || {
                    check_header_value("header value", v)?;
                    RetryDelay::compile_bytes(v).map_err(HeaderError::RetryDelay)
                })?,
                Known::Label => parse_label_list(v, &mut labels)
                    .map_err(|e| DecodeError::invalid(k.canonical(), e))?,
                Known::FlowControlKey => once(&mut flow_key, k, || {
                    FlowControlKey::parse(v).map_err(HeaderError::FlowControlKey)
                })?,
                Known::FlowControlValue => once(&mut flow_value, k, || {
                    FlowControl::parse(v).map_err(HeaderError::FlowControl)
                })?,
                Known::Callback => once(&mut callback, k, || Ok(CallbackUrl::parse(v)?))?,
                Known::FailureCallback => once(&mut failure, k, || Ok(CallbackUrl::parse(v)?))?,
                Known::DeduplicationId => {
                    once(&mut deduplication_id, k, || Ok(DeduplicationId::parse(v)?))?
                }
                Known::ContentBasedDeduplication => {
                    once(&mut content_based, k, || Ok(parse_bool(v)?))?;
                }
                // `classify` only returns the headers a message carries.
                _ => {}
            },
        }
    }

    let flow_control = match (flow_key, flow_value) {
        (Some(k), Some(v)) => Some((k, v)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(DecodeError::at(
                DecodeErrorKind::FlowControlKeyWithoutValue,
                Known::FlowControlKey.canonical(),
            ));
        }
        (None, Some(_)) => {
            return Err(DecodeError::at(
                DecodeErrorKind::FlowControlValueWithoutKey,
                Known::FlowControlValue.canonical(),
            ));
        }
    };
    let callback = pair_callback(
        callback,
        callback_forwarded,
        first_callback_forward,
        ForwardPrefix::Callback,
    )?;
    let failure_callback = pair_callback(
        failure,
        failure_forwarded,
        first_failure_forward,
        ForwardPrefix::Failure,
    )?;
    let req = PublishRequest {
        destination,
        body,
        content_type,
        method,
        forwarded,
        retries,
        delay,
        not_before,
        timeout,
        retry_delay,
        labels,
        flow_control,
        callback,
        failure_callback,
        deduplication_id,
        content_based_deduplication: content_based,
        extra,
    };
    if req.free_header_count() > MAX_FORWARDED_HEADERS {
        return Err(DecodeError::new(DecodeErrorKind::TooManyForwardedHeaders));
    }
    Ok(req)
}

fn pair_callback(
    url: Option<CallbackUrl>,
    forwarded: ForwardedHeaders,
    first_forward: Option<&str>,
    prefix: ForwardPrefix,
) -> Result<Option<MessageCallback>, DecodeError> {
    match (url, first_forward) {
        (Some(url), _) => Ok(Some(MessageCallback { url, forwarded })),
        (None, None) => Ok(None),
        (None, Some(name)) => Err(DecodeError::at(
            DecodeErrorKind::CallbackForwardWithoutCallback,
            format!("{}{name}", prefix.canonical()),
        )),
    }
}

/// Builds a [`PublishRequest`], checking every value.
///
/// Setters that take typed values cannot fail; setters that take strings remember the first
/// problem, which [`build`](Self::build) returns.
#[derive(Debug, Clone)]
#[must_use]
pub struct PublishRequestBuilder {
    req: PublishRequest,
    callback_url: Option<CallbackUrl>,
    callback_forwarded: ForwardedHeaders,
    failure_url: Option<CallbackUrl>,
    failure_forwarded: ForwardedHeaders,
    error: Option<BuildError>,
}

impl PublishRequestBuilder {
    /// Sets the body (empty by default).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.req.body = body.into();
        self
    }

    /// Sets the body's `Content-Type`.
    pub fn content_type(mut self, value: impl AsRef<[u8]>) -> Self {
        if self.error.is_none() {
            match check_forward_value(value.as_ref()) {
                Ok(v) => self.req.content_type = Some(v),
                Err(e) => self.error = Some(BuildError::value(CONTENT_TYPE_CANONICAL, e)),
            }
        }
        self
    }

    /// Sets `Upstash-Method`, the method the message is delivered with (`POST` when unset).
    pub fn method(mut self, method: Method) -> Self {
        self.req.method = Some(method);
        self
    }

    /// Adds a header forwarded to the destination as `name: value`
    /// (`Upstash-Forward-<name>: value`); a name may be given several times.
    ///
    /// The name must be a valid, non-empty header name; the value must not hold a control
    /// byte other than tab, DEL, or leading or trailing whitespace.
    pub fn forward(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        if self.error.is_none()
            && let Err(e) = append_forward(
                &mut self.req.forwarded,
                ForwardPrefix::Destination,
                name.as_ref(),
                value.as_ref(),
            )
        {
            self.error = Some(e);
        }
        self
    }

    /// Sets `Upstash-Retries`.
    pub fn retries(mut self, retries: u32) -> Self {
        self.req.retries = Some(retries);
        self
    }

    /// Sets `Upstash-Delay`.
    pub fn delay(mut self, delay: Delay) -> Self {
        self.req.delay = Some(delay);
        self
    }

    /// Sets `Upstash-Not-Before` (unix seconds, UTC).
    pub fn not_before(mut self, unix_secs: u64) -> Self {
        self.req.not_before = Some(unix_secs);
        self
    }

    /// Sets `Upstash-Timeout`, the bound of each delivery attempt.
    pub fn timeout(mut self, timeout: Delay) -> Self {
        self.req.timeout = Some(timeout);
        self
    }

    /// Sets `Upstash-Retry-Delay`.
    pub fn retry_delay(mut self, expr: RetryDelay) -> Self {
        self.req.retry_delay = Some(expr);
        self
    }

    /// Adds a label (`Upstash-Label`).
    pub fn label(mut self, label: Label) -> Self {
        self.req.labels.push(label);
        self
    }

    /// Adds labels (`Upstash-Label`).
    pub fn labels(mut self, labels: impl IntoIterator<Item = Label>) -> Self {
        self.req.labels.extend(labels);
        self
    }

    /// Sets `Upstash-Flow-Control-Key` and `Upstash-Flow-Control-Value`.
    pub fn flow_control(mut self, key: FlowControlKey, value: FlowControl) -> Self {
        self.req.flow_control = Some((key, value));
        self
    }

    /// Sets `Upstash-Callback`, called after every delivery attempt.
    pub fn callback(mut self, url: CallbackUrl) -> Self {
        self.callback_url = Some(url);
        self
    }

    /// Adds a header forwarded to the callback (`Upstash-Callback-Forward-<name>: value`);
    /// same rules as [`forward`](Self::forward). [`build`](Self::build) fails without a
    /// callback.
    pub fn callback_forward(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        if self.error.is_none()
            && let Err(e) = append_forward(
                &mut self.callback_forwarded,
                ForwardPrefix::Callback,
                name.as_ref(),
                value.as_ref(),
            )
        {
            self.error = Some(e);
        }
        self
    }

    /// Sets `Upstash-Failure-Callback`, called once the message failed for good. Unlike a
    /// trigger's, a message's failure callback is always a URL (an empty value does not
    /// decode).
    pub fn failure_callback(mut self, url: CallbackUrl) -> Self {
        self.failure_url = Some(url);
        self
    }

    /// Adds a header forwarded to the failure callback
    /// (`Upstash-Failure-Callback-Forward-<name>: value`); same rules as
    /// [`forward`](Self::forward). [`build`](Self::build) fails without a failure callback.
    pub fn failure_callback_forward(
        mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Self {
        if self.error.is_none()
            && let Err(e) = append_forward(
                &mut self.failure_forwarded,
                ForwardPrefix::Failure,
                name.as_ref(),
                value.as_ref(),
            )
        {
            self.error = Some(e);
        }
        self
    }

    /// Sets `Upstash-Deduplication-Id`.
    pub fn deduplication_id(mut self, id: DeduplicationId) -> Self {
        self.req.deduplication_id = Some(id);
        self
    }

    /// Sets `Upstash-Content-Based-Deduplication` (sent as `true` or `false`).
    pub fn content_based_deduplication(mut self, on: bool) -> Self {
        self.req.content_based_deduplication = Some(on);
        self
    }

    /// Adds an extra `Upstash-*` header, kept with the message and never forwarded
    /// (`Upstash-Workflow-RunId`, …). A name given several times keeps its values in order.
    ///
    /// The name must be a valid header name starting with `Upstash-` that this type does not
    /// model (not `Upstash-Delay`, nor a forwarded one); the value follows the rules of
    /// [`forward`](Self::forward).
    pub fn extra_header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        if self.error.is_none()
            && let Err(e) = push_extra(&mut self.req.extra, name.as_ref(), value.as_ref())
        {
            self.error = Some(e);
        }
        self
    }

    /// Checks the whole message.
    ///
    /// # Errors
    /// The first invalid value given to a setter; callback forwarded headers without their
    /// callback; more than [`MAX_FORWARDED_HEADERS`] forwarded and extra headers together; a
    /// retry-delay expression whose source a header cannot carry.
    pub fn build(self) -> Result<PublishRequest, BuildError> {
        let PublishRequestBuilder {
            mut req,
            callback_url,
            callback_forwarded,
            failure_url,
            failure_forwarded,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        req.callback = match callback_url {
            Some(url) => Some(MessageCallback {
                url,
                forwarded: callback_forwarded,
            }),
            None if callback_forwarded.is_empty() => None,
            None => {
                return Err(BuildError::new(
                    BuildErrorKind::CallbackForwardWithoutCallback,
                    Some(Known::Callback.canonical().into()),
                ));
            }
        };
        req.failure_callback = match failure_url {
            Some(url) => Some(MessageCallback {
                url,
                forwarded: failure_forwarded,
            }),
            None if failure_forwarded.is_empty() => None,
            None => {
                return Err(BuildError::new(
                    BuildErrorKind::CallbackForwardWithoutCallback,
                    None,
                ));
            }
        };
        if req.free_header_count() > MAX_FORWARDED_HEADERS {
            return Err(BuildError::new(
                BuildErrorKind::TooManyForwardedHeaders,
                None,
            ));
        }
        if let Some(rd) = &req.retry_delay {
            check_header_value("header value", rd.as_str().as_bytes())
                .map_err(|e| BuildError::value(Known::RetryDelay.canonical(), e))?;
        }
        group_by_name(&mut req.extra);
        Ok(req)
    }
}

/// Checks and appends an extra header.
fn push_extra(
    extra: &mut Vec<(HeaderName, HeaderValue)>,
    name: &[u8],
    value: &[u8],
) -> Result<(), BuildError> {
    let shown = || String::from_utf8_lossy(name).into_owned();
    let header_name = HeaderName::from_bytes(name).map_err(|_| {
        let at = first_not(name, is_tchar).unwrap_or(0);
        let kind = if name.is_empty() {
            ValueErrorKind::Empty
        } else {
            ValueErrorKind::InvalidByte
        };
        BuildError::name(shown(), ValueError::new("header name", kind, name, at, 1))
    })?;
    if !matches!(classify(header_name.as_str()), Kind::Extra) {
        return Err(BuildError::new(
            BuildErrorKind::NotAnExtraHeader,
            Some(shown().into()),
        ));
    }
    let value = check_forward_value(value).map_err(|e| BuildError::value(shown(), e))?;
    extra.push((header_name, value));
    Ok(())
}

/// Orders pairs as an `http::HeaderMap` iterates them: names in the order of their first
/// value, each name's values together and in order.
fn group_by_name(pairs: &mut [(HeaderName, HeaderValue)]) {
    let mut rank: HashMap<HeaderName, usize> = HashMap::with_capacity(pairs.len());
    for (n, _) in pairs.iter() {
        let next = rank.len();
        rank.entry(n.clone()).or_insert(next);
    }
    if rank.len() == pairs.len() {
        return;
    }
    // A stable sort keeps each name's values in order.
    pairs.sort_by_key(|(n, _)| rank.get(n).copied().unwrap_or(0));
}
