//! The trigger request, its builder, and its mapping to and from HTTP.

use std::fmt::{self, Write as _};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::error::{
    BuildError, BuildErrorKind, DecodeError, DecodeErrorKind, HeaderError, ValueError,
    ValueErrorKind,
};
use crate::forward::{
    ForwardedHeaders, MAX_FORWARDED_HEADERS, check_forward_name, check_forward_value,
};
use crate::header::{CONTENT_TYPE_CANONICAL, ForwardPrefix, Known};
use crate::uri::join;
use crate::values::{
    CallbackUrl, Label, RunId, WorkflowUrl, check_header_value, parse_label_list, parse_u64,
};

/// The path prefix of a trigger: `POST {base}/v2/trigger/{workflowUrl}`.
pub const TRIGGER_PATH: &str = "/v2/trigger/";

/// Where a failed run is reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureTarget {
    /// The workflow's own failure function (`Upstash-Failure-Callback` present and empty).
    FailureFunction,
    /// Another endpoint (`Upstash-Failure-Callback: <url>`).
    Url(CallbackUrl),
}

/// The failure callback of a run: where it goes and the headers forwarded to it
/// (`Upstash-Failure-Callback-Forward-<Name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCallback {
    target: FailureTarget,
    forwarded: ForwardedHeaders,
}

impl FailureCallback {
    /// Where the callback goes.
    #[must_use]
    pub fn target(&self) -> &FailureTarget {
        &self.target
    }

    /// The headers forwarded to the callback, without their prefix.
    #[must_use]
    pub fn forwarded(&self) -> &ForwardedHeaders {
        &self.forwarded
    }
}

/// A workflow trigger: `POST {base}/v2/trigger/{workflowUrl}` with its headers and body (§1).
///
/// Built with [`TriggerRequest::builder`], which checks every value, so that any
/// `TriggerRequest` encodes ([`to_http`](Self::to_http)) without error, and decoded from HTTP
/// with [`from_http`](Self::from_http); `from_http(&r.to_http(base)) == Ok(r)` for every
/// request `r`.
///
/// Fields that are absent are not sent, so the server's defaults apply (3 retries, no delay,
/// exponential backoff, a generated run id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRequest {
    url: WorkflowUrl,
    body: Bytes,
    content_type: Option<HeaderValue>,
    run_id: Option<RunId>,
    forwarded: ForwardedHeaders,
    retries: Option<u32>,
    delay: Option<Delay>,
    not_before: Option<u64>,
    labels: Vec<Label>,
    flow_control: Option<(FlowControlKey, FlowControl)>,
    failure_callback: Option<FailureCallback>,
    retry_delay: Option<RetryDelay>,
}

impl TriggerRequest {
    /// Starts a request to trigger the workflow at `url`, with an empty body and no headers.
    pub fn builder(url: WorkflowUrl) -> TriggerRequestBuilder {
        TriggerRequestBuilder {
            req: TriggerRequest {
                url,
                body: Bytes::new(),
                content_type: None,
                run_id: None,
                forwarded: ForwardedHeaders::new(ForwardPrefix::Destination),
                retries: None,
                delay: None,
                not_before: None,
                labels: Vec::new(),
                flow_control: None,
                failure_callback: None,
                retry_delay: None,
            },
            callback_target: None,
            callback_forwarded: ForwardedHeaders::new(ForwardPrefix::Failure),
            error: None,
        }
    }

    /// A builder holding this request's values, to change some of them.
    pub fn into_builder(mut self) -> TriggerRequestBuilder {
        let (callback_target, callback_forwarded) = match self.failure_callback.take() {
            Some(cb) => (Some(cb.target), cb.forwarded),
            None => (None, ForwardedHeaders::new(ForwardPrefix::Failure)),
        };
        TriggerRequestBuilder {
            req: self,
            callback_target,
            callback_forwarded,
            error: None,
        }
    }

    /// The workflow's URL.
    #[must_use]
    pub fn url(&self) -> &WorkflowUrl {
        &self.url
    }

    /// The body, passed to the workflow as is.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body's `Content-Type`, if set.
    #[must_use]
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }

    /// The run id (`Upstash-Workflow-RunId`), if set.
    #[must_use]
    pub fn run_id(&self) -> Option<&RunId> {
        self.run_id.as_ref()
    }

    /// Sets the run id.
    pub fn set_run_id(&mut self, id: RunId) {
        self.run_id = Some(id);
    }

    /// The run id, generating one ([`RunId::generate`]) first when none is set.
    ///
    /// ```
    /// use qstash_protocol::{TriggerRequest, WorkflowUrl};
    ///
    /// let mut req = TriggerRequest::builder(WorkflowUrl::new("https://example.com/wf")?).build()?;
    /// assert!(req.run_id().is_none());
    /// let id = req.ensure_run_id().clone();
    /// assert!(id.as_str().starts_with("wfr_"));
    /// assert_eq!(req.ensure_run_id(), &id); // kept from now on
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ensure_run_id(&mut self) -> &RunId {
        self.run_id.get_or_insert_with(RunId::generate)
    }

    /// Headers forwarded to the workflow (`Upstash-Forward-<Name>`), without the prefix.
    #[must_use]
    pub fn forwarded(&self) -> &ForwardedHeaders {
        &self.forwarded
    }

    /// `Upstash-Retries`, if set (the server's default is 3).
    #[must_use]
    pub fn retries(&self) -> Option<u32> {
        self.retries
    }

    /// `Upstash-Delay`, if set.
    #[must_use]
    pub fn delay(&self) -> Option<Delay> {
        self.delay
    }

    /// `Upstash-Not-Before` in unix seconds, if set. It wins over [`delay`](Self::delay) at
    /// the server when both are set; both are kept here.
    #[must_use]
    pub fn not_before(&self) -> Option<u64> {
        self.not_before
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

    /// The failure callback, if any.
    #[must_use]
    pub fn failure_callback(&self) -> Option<&FailureCallback> {
        self.failure_callback.as_ref()
    }

    /// `Upstash-Retry-Delay`, if set (the server's default is exponential backoff).
    #[must_use]
    pub fn retry_delay(&self) -> Option<&RetryDelay> {
        self.retry_delay.as_ref()
    }

    /// The request's headers, as [`to_http`](Self::to_http) sends them.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.header_count());
        self.encode(&mut MapSink::new(&mut map, self.value_capacity()));
        map
    }

    /// Encodes the request as `POST {base}/v2/trigger/{workflowUrl}` with its headers and
    /// body.
    ///
    /// A path on `base` is kept as a prefix (`https://proxy.example/qstash` gives
    /// `/qstash/v2/trigger/…`); its query is dropped. Neither `Authorization` nor
    /// `Content-Length` is set.
    ///
    /// ```
    /// use http::Uri;
    /// use qstash_protocol::{TriggerRequest, WorkflowUrl};
    ///
    /// let req = TriggerRequest::builder(WorkflowUrl::new("https://example.com/api/wf?x=1")?)
    ///     .retries(5)
    ///     .build()?;
    /// let http = req.to_http(&Uri::from_static("https://qstash.upstash.io"));
    /// assert_eq!(http.method(), "POST");
    /// assert_eq!(
    ///     http.uri().to_string(),
    ///     "https://qstash.upstash.io/v2/trigger/https://example.com/api/wf?x=1"
    /// );
    /// assert_eq!(http.headers()["upstash-retries"], "5");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut req = Request::new(self.body.clone());
        *req.method_mut() = Method::POST;
        let mut tail = String::with_capacity(TRIGGER_PATH.len() + self.url.as_str().len());
        tail.push_str(TRIGGER_PATH);
        tail.push_str(self.url.as_str());
        *req.uri_mut() = join(base, tail);
        let headers = req.headers_mut();
        headers.reserve(self.header_count());
        self.encode(&mut MapSink::new(headers, self.value_capacity()));
        req
    }

    /// Decodes `POST …/v2/trigger/{workflowUrl}` (§1).
    ///
    /// The path must start with `/v2/trigger/`; the destination is the rest of the path plus
    /// `?` and the query when there is one, byte for byte. Header names are case-insensitive;
    /// unknown `Upstash-*` headers and other headers are ignored, except `Content-Type`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use qstash_protocol::TriggerRequest;
    ///
    /// let http = http::Request::post("https://qstash.upstash.io/v2/trigger/https://example.com/wf?id=7")
    ///     .header("Upstash-Delay", "90m")
    ///     .header("Upstash-Forward-Authorization", "Bearer abc")
    ///     .body(Bytes::from_static(b"{}"))
    ///     .unwrap();
    /// let req = TriggerRequest::from_http(&http)?;
    /// assert_eq!(req.url().as_str(), "https://example.com/wf?id=7");
    /// assert_eq!(req.delay().map(|d| d.to_string()).as_deref(), Some("1h30m"));
    /// assert_eq!(req.forwarded().get("authorization").unwrap(), "Bearer abc");
    /// assert_eq!(req.body().as_ref(), b"{}");
    /// # Ok::<(), qstash_protocol::DecodeError>(())
    /// ```
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, an invalid destination, a malformed or
    /// repeated known header, an empty forwarded name, a flow-control key without value (or
    /// the reverse), or failure-callback forwarded headers without a failure callback.
    pub fn from_http(req: &Request<Bytes>) -> Result<TriggerRequest, DecodeError> {
        if req.method() != Method::POST {
            return Err(DecodeError::new(DecodeErrorKind::Method)
                .with_detail(format!("expected POST, found {}", req.method())));
        }
        let path = req.uri().path();
        let Some(dest) = path.strip_prefix(TRIGGER_PATH) else {
            return Err(DecodeError::new(DecodeErrorKind::Path).with_detail(format!(
                "expected {TRIGGER_PATH}{{workflowUrl}}, found \"{}\"",
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
        .map_err(|e| {
            DecodeError::invalid("destination", e).into_kind(DecodeErrorKind::WorkflowUrl)
        })?;
        decode_headers(req.headers(), url, req.body().clone())
    }

    /// An upper bound of the number of header lines.
    fn header_count(&self) -> usize {
        usize::from(self.content_type.is_some())
            + usize::from(self.run_id.is_some())
            + usize::from(self.retries.is_some())
            + usize::from(self.delay.is_some())
            + usize::from(self.not_before.is_some())
            + usize::from(!self.labels.is_empty())
            + 2 * usize::from(self.flow_control.is_some())
            + usize::from(self.retry_delay.is_some())
            + self.forwarded.len()
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| 1 + cb.forwarded.len())
    }

    /// About the bytes of the values [`MapSink`] writes: more than enough for the usual
    /// request, and a guess for a long flow-control or delay value.
    fn value_capacity(&self) -> usize {
        let len = |s: Option<&str>| s.map_or(0, str::len);
        64 + len(self.run_id.as_ref().map(RunId::as_str))
            + self
                .labels
                .iter()
                .map(|l| l.as_str().len() + 1)
                .sum::<usize>()
            + self
                .flow_control
                .as_ref()
                .map_or(0, |(k, _)| k.as_str().len() + 48)
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| match &cb.target {
                    FailureTarget::FailureFunction => 0,
                    FailureTarget::Url(u) => u.as_str().len(),
                })
            + len(self.retry_delay.as_ref().map(RetryDelay::as_str))
    }

    /// Feeds every header to `sink`, in a fixed order.
    pub(crate) fn encode(&self, sink: &mut impl Sink) {
        if let Some(ct) = &self.content_type {
            sink.known(Known::ContentType, Val::Header(ct));
        }
        if let Some(id) = &self.run_id {
            sink.known(Known::WorkflowRunId, Val::Str(id.as_str()));
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
        match self.labels.as_slice() {
            [] => {}
            [one] => sink.known(Known::Label, Val::Str(one.as_str())),
            many => sink.known(Known::Label, Val::Display(&LabelList(many))),
        }
        if let Some((key, value)) = &self.flow_control {
            sink.known(Known::FlowControlKey, Val::Str(key.as_str()));
            sink.known(Known::FlowControlValue, Val::Display(value));
        }
        if let Some(cb) = &self.failure_callback {
            let v = match &cb.target {
                FailureTarget::FailureFunction => "",
                FailureTarget::Url(url) => url.as_str(),
            };
            sink.known(Known::FailureCallback, Val::Str(v));
        }
        if let Some(rd) = &self.retry_delay {
            sink.known(Known::RetryDelay, Val::Str(rd.as_str()));
        }
        for (full, bare, value) in self.forwarded.wire() {
            sink.forwarded(ForwardPrefix::Destination, full, bare, value);
        }
        if let Some(cb) = &self.failure_callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Failure, full, bare, value);
            }
        }
    }
}

/// Labels joined by `,`.
pub(crate) struct LabelList<'a>(pub(crate) &'a [Label]);

impl fmt::Display for LabelList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(label.as_str())?;
        }
        Ok(())
    }
}

/// A header value handed to a [`Sink`].
pub(crate) enum Val<'a> {
    Str(&'a str),
    Display(&'a dyn fmt::Display),
    Num(u64),
    Header(&'a HeaderValue),
}

/// Where [`TriggerRequest::encode`] writes headers: an `http::HeaderMap` or a JSON batch entry.
pub(crate) trait Sink {
    /// A known header (a row of the table in [`header`]) and its value.
    fn known(&mut self, header: Known, value: Val<'_>);
    /// A forwarded header: its prefix, its full name, the name without prefix, its value.
    fn forwarded(
        &mut self,
        prefix: ForwardPrefix,
        full: &HeaderName,
        bare: &str,
        value: &HeaderValue,
    );
    /// Any other header, kept as received (unknown `Upstash-*` headers of a message).
    fn extra(&mut self, name: &HeaderName, value: &HeaderValue);
}

/// Writes headers into an `http::HeaderMap`; values that must be formatted are written into
/// one shared buffer, so that they cost one allocation together.
pub(crate) struct MapSink<'a> {
    map: &'a mut HeaderMap,
    buf: BytesMut,
    /// The capacity to give `buf` when it is first needed.
    capacity: usize,
}

impl<'a> MapSink<'a> {
    pub(crate) fn new(map: &'a mut HeaderMap, capacity: usize) -> MapSink<'a> {
        MapSink {
            map,
            buf: BytesMut::new(),
            capacity,
        }
    }

    fn value(&mut self, value: Val<'_>) -> Option<HeaderValue> {
        if let Val::Header(v) = value {
            return Some(v.clone());
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(self.capacity);
        }
        match value {
            Val::Header(_) => {}
            Val::Str(s) => self.buf.extend_from_slice(s.as_bytes()),
            Val::Num(n) => push_decimal(&mut self.buf, n),
            Val::Display(d) => {
                // Writing into a `BytesMut` cannot fail.
                let _ = write!(self.buf, "{d}");
            }
        }
        HeaderValue::from_maybe_shared(self.buf.split().freeze()).ok()
    }
}

/// Appends the decimal digits of `n`.
fn push_decimal(buf: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.extend_from_slice(digits.get(start..).unwrap_or_default());
}

impl Sink for MapSink<'_> {
    fn known(&mut self, header: Known, value: Val<'_>) {
        // Every value was checked when the request was built or decoded, so the conversion
        // cannot fail; `to_http` being infallible, a failure would drop the header.
        if let Some(value) = self.value(value) {
            let _ = self.map.try_append(header.name(), value);
        }
    }

    fn forwarded(
        &mut self,
        _prefix: ForwardPrefix,
        full: &HeaderName,
        _bare: &str,
        value: &HeaderValue,
    ) {
        let _ = self.map.try_append(full.clone(), value.clone());
    }

    fn extra(&mut self, name: &HeaderName, value: &HeaderValue) {
        let _ = self.map.try_append(name.clone(), value.clone());
    }
}

/// Builds a [`TriggerRequest`], checking every value.
///
/// Setters that take typed values cannot fail; setters that take strings ([`forward`],
/// [`content_type`], [`failure_forward`]) remember the first problem, which
/// [`build`](Self::build) returns.
///
/// [`forward`]: Self::forward
/// [`content_type`]: Self::content_type
/// [`failure_forward`]: Self::failure_forward
#[derive(Debug, Clone)]
#[must_use]
pub struct TriggerRequestBuilder {
    req: TriggerRequest,
    callback_target: Option<FailureTarget>,
    callback_forwarded: ForwardedHeaders,
    error: Option<BuildError>,
}

impl TriggerRequestBuilder {
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

    /// Sets the run id (`Upstash-Workflow-RunId`).
    pub fn run_id(mut self, id: RunId) -> Self {
        self.req.run_id = Some(id);
        self
    }

    /// Adds a header forwarded to the workflow as `name: value`
    /// (`Upstash-Forward-<name>: value`). A name may be given several times; its values keep
    /// their order.
    ///
    /// The name must be a valid, non-empty header name; the value must not hold a control
    /// byte other than tab (CR and LF included), DEL, or leading or trailing whitespace.
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

    /// Sets the failure callback's target.
    pub fn failure_callback(mut self, target: FailureTarget) -> Self {
        self.callback_target = Some(target);
        self
    }

    /// Reports failures to the workflow's own failure function (`Upstash-Failure-Callback`
    /// present and empty).
    pub fn failure_function(self) -> Self {
        self.failure_callback(FailureTarget::FailureFunction)
    }

    /// Reports failures to `url` (`Upstash-Failure-Callback: <url>`).
    pub fn failure_url(self, url: CallbackUrl) -> Self {
        self.failure_callback(FailureTarget::Url(url))
    }

    /// Adds a header forwarded to the failure callback
    /// (`Upstash-Failure-Callback-Forward-<name>: value`); same rules as
    /// [`forward`](Self::forward). [`build`](Self::build) fails if no failure callback is set.
    pub fn failure_forward(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        if self.error.is_none()
            && let Err(e) = append_forward(
                &mut self.callback_forwarded,
                ForwardPrefix::Failure,
                name.as_ref(),
                value.as_ref(),
            )
        {
            self.error = Some(e);
        }
        self
    }

    /// Sets `Upstash-Retry-Delay`.
    pub fn retry_delay(mut self, expr: RetryDelay) -> Self {
        self.req.retry_delay = Some(expr);
        self
    }

    /// Checks the whole request.
    ///
    /// # Errors
    /// The first invalid forwarded name or value or content type that was given;
    /// failure-callback forwarded headers without a failure callback; more than
    /// [`MAX_FORWARDED_HEADERS`] forwarded headers; a retry-delay expression whose source a
    /// header cannot carry (a line break, leading or trailing whitespace).
    pub fn build(self) -> Result<TriggerRequest, BuildError> {
        let TriggerRequestBuilder {
            mut req,
            callback_target,
            callback_forwarded,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        req.failure_callback = match callback_target {
            Some(target) => Some(FailureCallback {
                target,
                forwarded: callback_forwarded,
            }),
            None if callback_forwarded.is_empty() => None,
            None => {
                return Err(BuildError::new(
                    BuildErrorKind::CallbackForwardWithoutCallback,
                    None,
                ));
            }
        };
        if forwarded_count(&req) > MAX_FORWARDED_HEADERS {
            return Err(BuildError::new(
                BuildErrorKind::TooManyForwardedHeaders,
                None,
            ));
        }
        if let Some(rd) = &req.retry_delay {
            check_header_value("header value", rd.as_str().as_bytes())
                .map_err(|e| BuildError::value(Known::RetryDelay.canonical(), e))?;
        }
        Ok(req)
    }
}

fn forwarded_count(req: &TriggerRequest) -> usize {
    req.forwarded.len()
        + req
            .failure_callback
            .as_ref()
            .map_or(0, |cb| cb.forwarded.len())
}

pub(crate) fn append_forward(
    map: &mut ForwardedHeaders,
    prefix: ForwardPrefix,
    name: &[u8],
    value: &[u8],
) -> Result<(), BuildError> {
    let prefix_canonical = prefix.canonical();
    let field = || format!("{prefix_canonical}{}", String::from_utf8_lossy(name));
    check_forward_name(name).map_err(|e| BuildError::name(field(), e))?;
    let full = [prefix.as_str().as_bytes(), name].concat();
    let full = HeaderName::from_bytes(&full).map_err(|_| {
        BuildError::name(
            field(),
            ValueError::new(
                "header name",
                ValueErrorKind::InvalidByte,
                name,
                0,
                name.len(),
            ),
        )
    })?;
    let field = || {
        format!(
            "{prefix_canonical}{}",
            name.to_ascii_lowercase().escape_ascii()
        )
    };
    let value = check_forward_value(value).map_err(|e| BuildError::value(field(), e))?;
    map.push(full, value);
    Ok(())
}

/// Stores a single-valued header, failing when it was already set.
pub(crate) fn once<T>(
    slot: &mut Option<T>,
    header: Known,
    parse: impl FnOnce() -> Result<T, HeaderError>,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::at(
            DecodeErrorKind::Duplicate,
            header.canonical(),
        ));
    }
    *slot = Some(parse().map_err(|e| DecodeError::invalid(header.canonical(), e))?);
    Ok(())
}

/// Decodes the headers of a trigger (or of a batch entry) into a request.
pub(crate) fn decode_headers(
    headers: &HeaderMap,
    url: WorkflowUrl,
    body: Bytes,
) -> Result<TriggerRequest, DecodeError> {
    let mut content_type = None;
    let mut run_id = None;
    let mut forwarded = ForwardedHeaders::new(ForwardPrefix::Destination);
    let mut retries = None;
    let mut delay = None;
    let mut not_before = None;
    let mut labels = Vec::new();
    let mut flow_key = None;
    let mut flow_value = None;
    let mut callback = None;
    let mut callback_forwarded = ForwardedHeaders::new(ForwardPrefix::Failure);
    let mut first_callback_forward: Option<&str> = None;
    let mut retry_delay = None;

    for (name, value) in headers {
        let v = value.as_bytes();
        let Some(known) = Known::from_name(name.as_str()) else {
            if let Some((prefix, bare)) = ForwardPrefix::split(name.as_str()) {
                match prefix {
                    ForwardPrefix::Destination => {
                        decode_forward(&mut forwarded, prefix, name, bare, value)?;
                    }
                    ForwardPrefix::Failure => {
                        decode_forward(&mut callback_forwarded, prefix, name, bare, value)?;
                        if first_callback_forward.is_none() {
                            first_callback_forward = Some(bare);
                        }
                    }
                    // A message's callback: unknown to a trigger, ignored.
                    _ => {}
                }
            }
            // Any other header is unknown and ignored.
            continue;
        };
        let k = known;
        match known {
            Known::ContentType => once(&mut content_type, k, || {
                check_header_value("header value", v)?;
                Ok(value.clone())
            })?,
            Known::WorkflowRunId => once(&mut run_id, k, || Ok(RunId::parse(v)?))?,
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
            Known::Label => parse_label_list(v, &mut labels)
                .map_err(|e| DecodeError::invalid(k.canonical(), e))?,
            Known::FlowControlKey => once(&mut flow_key, k, || {
                FlowControlKey::parse(v).map_err(HeaderError::FlowControlKey)
            })?,
            Known::FlowControlValue => once(&mut flow_value, k, || {
                FlowControl::parse(v).map_err(HeaderError::FlowControl)
            })?,
            Known::FailureCallback => once(&mut callback, k, || {
                if v.is_empty() {
                    Ok(FailureTarget::FailureFunction)
                } else {
                    Ok(FailureTarget::Url(CallbackUrl::parse(v)?))
                }
            })?,
            Known::RetryDelay => once(&mut retry_delay, k, || {
                check_header_value("header value", v)?;
                RetryDelay::compile_bytes(v).map_err(HeaderError::RetryDelay)
            })?,
            // A message's header (`Scope::Message`): unknown to a trigger, ignored.
            _ => {}
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
    let failure_callback = match (callback, first_callback_forward) {
        (Some(target), _) => Some(FailureCallback {
            target,
            forwarded: callback_forwarded,
        }),
        (None, None) => None,
        (None, Some(name)) => {
            return Err(DecodeError::at(
                DecodeErrorKind::CallbackForwardWithoutCallback,
                format!("{}{}", ForwardPrefix::Failure.canonical(), name),
            ));
        }
    };
    let req = TriggerRequest {
        url,
        body,
        content_type,
        run_id,
        forwarded,
        retries,
        delay,
        not_before,
        labels,
        flow_control,
        failure_callback,
        retry_delay,
    };
    if forwarded_count(&req) > MAX_FORWARDED_HEADERS {
        return Err(DecodeError::new(DecodeErrorKind::TooManyForwardedHeaders));
    }
    Ok(req)
}

/// Adds one forwarded header of a decoded request.
pub(crate) fn decode_forward(
    map: &mut ForwardedHeaders,
    prefix: ForwardPrefix,
    full: &HeaderName,
    bare: &str,
    value: &HeaderValue,
) -> Result<(), DecodeError> {
    let prefix_canonical = prefix.canonical();
    if bare.is_empty() {
        return Err(DecodeError::at(
            DecodeErrorKind::EmptyForwardName,
            prefix_canonical,
        ));
    }
    // `bare` is the tail of a valid header name, hence a valid one too.
    check_header_value("header value", value.as_bytes())
        .map_err(|e| DecodeError::invalid(format!("{prefix_canonical}{bare}"), e))?;
    map.push(full.clone(), value.clone());
    Ok(())
}
