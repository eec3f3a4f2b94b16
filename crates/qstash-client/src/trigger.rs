//! The fluent form of a trigger.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{
    CallbackUrl, Label, RunId, TriggerRequest, TriggerRequestBuilder, TriggerResponse, WorkflowUrl,
};
use qstash_retry_delay::RetryDelay;

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

    fn map(mut self, f: impl FnOnce(TriggerRequestBuilder) -> TriggerRequestBuilder) -> Self {
        self.builder = self.builder.map(f);
        self
    }

    fn try_map<T, E: Into<Error>>(
        self,
        value: Result<T, E>,
        f: impl FnOnce(TriggerRequestBuilder, T) -> TriggerRequestBuilder,
    ) -> Result<Self, Error> {
        let value = value.map_err(Into::into)?;
        Ok(self.map(|b| f(b, value)))
    }

    /// Sets the body, passed to the workflow as is.
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        self.map(|b| b.body(body))
    }

    /// Sets the body to `value` as JSON, with `Content-Type: application/json`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `value` cannot
    /// be serialised.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)?;
        Ok(self.map(|b| b.body(body).content_type("application/json")))
    }

    /// Sets the body's `Content-Type`.
    pub fn content_type(self, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.content_type(value))
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

    /// Adds a header forwarded to the workflow (`Upstash-Forward-<name>: value`).
    pub fn forward(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.forward(name, value))
    }

    /// Sets how many times QStash retries a failed delivery (`Upstash-Retries`).
    pub fn retries(self, retries: u32) -> Self {
        self.map(|b| b.retries(retries))
    }

    /// Sets the delay before the run starts (`Upstash-Delay`): `"10s"`, `"1d10h30m"`, a
    /// [`Delay`] or a [`std::time::Duration`].
    ///
    /// # Errors
    /// A delay that does not parse or does not fit.
    pub fn delay<D>(self, delay: D) -> Result<Self, Error>
    where
        D: TryInto<Delay>,
        D::Error: Into<Error>,
    {
        self.try_map(delay.try_into(), TriggerRequestBuilder::delay)
    }

    /// Sets when the run starts, in unix seconds (`Upstash-Not-Before`); wins over
    /// [`delay`](Self::delay).
    pub fn not_before(self, unix_secs: u64) -> Self {
        self.map(|b| b.not_before(unix_secs))
    }

    /// Adds a label (`Upstash-Label`).
    ///
    /// # Errors
    /// An invalid label.
    pub fn label<L>(self, label: L) -> Result<Self, Error>
    where
        L: TryInto<Label>,
        L::Error: Into<Error>,
    {
        self.try_map(label.try_into(), TriggerRequestBuilder::label)
    }

    /// Sets flow control (`Upstash-Flow-Control-Key` and `Upstash-Flow-Control-Value`),
    /// e.g. `("tenant-7", "rate=5, parallelism=2")`.
    ///
    /// # Errors
    /// An invalid key or value.
    pub fn flow_control<K, V>(self, key: K, value: V) -> Result<Self, Error>
    where
        K: TryInto<FlowControlKey>,
        K::Error: Into<Error>,
        V: TryInto<FlowControl>,
        V::Error: Into<Error>,
    {
        let key = key.try_into().map_err(Into::into)?;
        self.try_map(value.try_into(), |b, value| b.flow_control(key, value))
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

    /// Sets the delay between QStash's delivery retries (`Upstash-Retry-Delay`), e.g.
    /// `"pow(2, retried) * 1000"`.
    ///
    /// # Errors
    /// An expression that does not compile.
    pub fn retry_delay<R>(self, expr: R) -> Result<Self, Error>
    where
        R: TryInto<RetryDelay>,
        R::Error: Into<Error>,
    {
        self.try_map(expr.try_into(), TriggerRequestBuilder::retry_delay)
    }

    /// The request, without sending it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest): an invalid
    /// workflow URL, forwarded header or content type.
    pub fn build(self) -> Result<TriggerRequest, Error> {
        Ok(self.builder?.build()?)
    }

    /// Sends the trigger ([`Client::trigger`]).
    ///
    /// # Errors
    /// As [`build`](Self::build), then as [`Client::trigger`].
    pub async fn send(self) -> Result<TriggerResponse, Error> {
        let client = self.client;
        let request = self.build()?;
        client.trigger(request).await
    }
}

impl<'c> IntoFuture for TriggerCall<'c> {
    type Output = Result<TriggerResponse, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'c>>;

    /// `call.await` is `call.send().await`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
