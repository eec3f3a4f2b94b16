//! The builder of a message, which checks every value.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::error::{BuildError, BuildErrorKind, ValueError, ValueErrorKind};
use crate::forward::{
    ForwardedHeaders, MAX_FORWARDED_HEADERS, append_forward, check_forward_value,
};
use crate::header::{CONTENT_TYPE_CANONICAL, ForwardPrefix, Known};
use crate::values::{CallbackUrl, DeduplicationId, Label, check_header_value, first_not, is_tchar};

use super::decode::{Kind, classify};
use super::{MessageCallback, PublishRequest};

/// Builds a [`PublishRequest`], checking every value.
///
/// Setters that take typed values cannot fail; setters that take strings remember the first
/// problem, which [`build`](Self::build) returns.
#[derive(Debug, Clone)]
#[must_use]
pub struct PublishRequestBuilder {
    pub(super) req: PublishRequest,
    pub(super) callback_url: Option<CallbackUrl>,
    pub(super) callback_forwarded: ForwardedHeaders,
    pub(super) failure_url: Option<CallbackUrl>,
    pub(super) failure_forwarded: ForwardedHeaders,
    pub(super) error: Option<BuildError>,
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
