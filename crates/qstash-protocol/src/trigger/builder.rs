//! The builder of a trigger, which checks every value.

use bytes::Bytes;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::error::{BuildError, BuildErrorKind};
use crate::forward::{
    ForwardedHeaders, MAX_FORWARDED_HEADERS, append_forward, check_forward_value,
};
use crate::header::{CONTENT_TYPE_CANONICAL, ForwardPrefix, Known};
use crate::values::{CallbackUrl, Label, RunId, check_header_value};

use super::{FailureCallback, FailureTarget, TriggerRequest};

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
    pub(super) req: TriggerRequest,
    pub(super) callback_target: Option<FailureTarget>,
    pub(super) callback_forwarded: ForwardedHeaders,
    pub(super) error: Option<BuildError>,
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

pub(super) fn forwarded_count(req: &TriggerRequest) -> usize {
    req.forwarded.len()
        + req
            .failure_callback
            .as_ref()
            .map_or(0, |cb| cb.forwarded.len())
}
