//! The trigger request (`SPEC.md` §1): the request model and its HTTP mapping. The builder,
//! the encoder and the decoder are the submodules.

mod builder;
mod decode;
mod encode;

pub use builder::TriggerRequestBuilder;
pub(crate) use decode::decode_headers;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::encode::MapSink;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::forward::ForwardedHeaders;
use crate::header::ForwardPrefix;
use crate::uri::join;
use crate::values::{CallbackUrl, Label, RunId, WorkflowUrl};

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
}
