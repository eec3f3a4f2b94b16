//! The fluent form of a trigger.

use qstash_protocol::{
    CallbackUrl, RunId, TriggerRequest, TriggerRequestBuilder, TriggerResponse, WorkflowUrl,
};

use crate::call::shared_setters;
use crate::client::Client;
use crate::error::Error;

/// A trigger being set up, from [`Client::trigger_url`]; [`send`](Self::send) (or `.await`)
/// sends it.
///
/// Setters that parse a value (`delay("10s")`, `label("x")`, …) return the parse error
/// right away, as [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest). An invalid
/// workflow URL, forwarded header or content type is reported by `send` (and
/// [`build`](Self::build)), before anything is sent.
///
/// ```
/// use qstash_client::Client;
///
/// let client = Client::builder().token("t").base_url("http://127.0.0.1:1").build()?;
/// let req = client
///     .trigger_url("https://example.com/api/wf?tenant=7")
///     .body(r#"{"order":42}"#)
///     .content_type("application/json")
///     .delay("10s")?
///     .retries(5)
///     .label("checkout")?
///     .flow_control("tenant-7", "rate=5, parallelism=2")?
///     .forward("X-Tenant", "7")
///     .build()?;
/// assert_eq!(req.url().as_str(), "https://example.com/api/wf?tenant=7");
/// assert_eq!(req.delay().map(|d| d.as_secs()), Some(10));
/// assert_eq!(req.retries(), Some(5));
///
/// assert!(client.trigger_url("https://example.com").delay("10 s").is_err());
/// # Ok::<(), qstash_client::Error>(())
/// ```
#[must_use = "a trigger does nothing until it is sent"]
#[derive(Debug)]
pub struct TriggerCall<'c> {
    client: &'c Client,
    builder: Result<TriggerRequestBuilder, Error>,
}

impl<'c> TriggerCall<'c> {
    pub(crate) fn new(client: &'c Client, url: Result<WorkflowUrl, Error>) -> TriggerCall<'c> {
        TriggerCall {
            client,
            builder: url.map(TriggerRequest::builder),
        }
    }

    /// Sets the run id (`Upstash-Workflow-RunId`); without one the client generates one.
    ///
    /// # Errors
    /// An invalid run id.
    pub fn run_id<I>(self, id: I) -> Result<Self, Error>
    where
        I: TryInto<RunId>,
        I::Error: Into<Error>,
    {
        self.try_map(id.try_into(), TriggerRequestBuilder::run_id)
    }

    /// Reports a failed run to `url` (`Upstash-Failure-Callback`).
    ///
    /// # Errors
    /// An invalid URL.
    pub fn failure_url<U>(self, url: U) -> Result<Self, Error>
    where
        U: TryInto<CallbackUrl>,
        U::Error: Into<Error>,
    {
        self.try_map(url.try_into(), TriggerRequestBuilder::failure_url)
    }

    /// Reports a failed run to the workflow's own failure function
    /// (`Upstash-Failure-Callback` present and empty).
    pub fn failure_function(self) -> Self {
        self.map(TriggerRequestBuilder::failure_function)
    }

    /// Adds a header forwarded to the failure callback
    /// (`Upstash-Failure-Callback-Forward-<name>: value`).
    pub fn failure_forward(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.failure_forward(name, value))
    }
}

shared_setters!(
    TriggerCall,
    TriggerRequestBuilder,
    TriggerRequest,
    trigger,
    TriggerResponse
);
