//! Publishing messages: `POST /v2/publish/{destination}` and `POST /v2/batch`, and the
//! fluent form of a publish.

use http::Method;
use qstash_protocol::{
    CallbackUrl, DeduplicationId, PublishBatch, PublishRequest, PublishRequestBuilder,
    PublishResponse, WorkflowUrl,
};

use crate::call::shared_setters;
use crate::client::{Client, Op};
use crate::error::Error;
use crate::replay::Replay;

impl Client {
    /// Starts a message to `url` in the fluent form; see [`PublishCall`]. An invalid URL is
    /// reported by [`PublishCall::send`], before anything is sent.
    pub fn publish_url<U>(&self, url: U) -> PublishCall<'_>
    where
        U: TryInto<WorkflowUrl>,
        U::Error: Into<Error>,
    {
        PublishCall {
            client: self,
            builder: url
                .try_into()
                .map_err(Into::into)
                .map(PublishRequest::builder),
        }
    }

    /// Publishes a message: `POST {base}/v2/publish/{destination}`.
    ///
    /// **Retries.** A publish sent twice may enqueue two messages, so it is retried only
    /// when that cannot happen:
    /// - with a deduplication id (`Upstash-Deduplication-Id`, or
    ///   `Upstash-Content-Based-Deduplication: true`), the server accepts a second copy
    ///   without enqueueing it, so every transient failure is retried as for the other
    ///   calls ([`RetryPolicy`](crate::RetryPolicy));
    /// - without one, only failures after which the server surely did not enqueue anything:
    ///   the connection was never made (connect error or connect timeout, TLS handshake),
    ///   or the server answered `429`. A timeout or a broken connection after the request
    ///   was sent, and `5xx` answers, are returned at once: the message may or may not
    ///   have been accepted (look it up with [`events`](Self::events) by URL or label, or
    ///   publish with a deduplication id to make retries safe).
    ///
    /// A message deduplicated by the server is answered with the first message's id and
    /// [`PublishResponse::deduplicated`] set.
    ///
    /// # Errors
    /// [`ErrorKind::BadRequest`](crate::ErrorKind::BadRequest) for a value the server
    /// refuses (its message says which), otherwise see [`ErrorKind`](crate::ErrorKind).
    pub async fn publish(&self, request: PublishRequest) -> Result<PublishResponse, Error> {
        let base = self.base_url();
        let replay = replay_of(std::slice::from_ref(&request));
        self.execute_with(
            Op::Publish,
            replay,
            || request.to_http(base),
            &[],
            |body| serde_json::from_slice::<PublishResponse>(body),
        )
        .await
    }

    /// Publishes several messages in one request: `POST {base}/v2/batch`. The server
    /// accepts the batch whole or not at all; the answer has one entry per message, in
    /// order.
    ///
    /// Retried as [`publish`](Self::publish): every transient failure when every message
    /// has a deduplication id, else only failures before the request reached the server.
    ///
    /// # Errors
    /// See [`ErrorKind`](crate::ErrorKind).
    pub async fn publish_batch(&self, batch: PublishBatch) -> Result<Vec<PublishResponse>, Error> {
        let base = self.base_url();
        let replay = replay_of(batch.entries());
        self.execute_with(
            Op::PublishBatch,
            replay,
            || batch.to_http(base),
            &[],
            |body| serde_json::from_slice::<Vec<PublishResponse>>(body),
        )
        .await
    }
}

/// Whether messages may be sent again: yes when the server deduplicates every one of them.
fn replay_of(messages: &[PublishRequest]) -> Replay {
    let deduplicated = |m: &PublishRequest| {
        m.deduplication_id().is_some() || m.content_based_deduplication() == Some(true)
    };
    if messages.iter().all(deduplicated) {
        Replay::Safe
    } else {
        Replay::OnlyUnsent
    }
}

/// A message being set up, from [`Client::publish_url`]; [`send`](Self::send) (or `.await`)
/// sends it with [`Client::publish`] (see there when it is retried).
///
/// Setters that parse a value (`delay("10s")`, `label("x")`, …) return the parse error
/// right away, as [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest). An
/// invalid destination, forwarded header or content type is reported by `send` (and
/// [`build`](Self::build)), before anything is sent.
///
/// ```
/// use http::Method;
/// use qstash_client::Client;
///
/// let client = Client::builder().token("t").base_url("http://127.0.0.1:1").build()?;
/// let msg = client
///     .publish_url("https://example.com/hook?id=7")
///     .method(Method::PUT)
///     .body("hello")
///     .delay("10s")?
///     .retries(3)
///     .timeout("30s")?
///     .callback("https://example.com/cb")?
///     .deduplication_id("order-7")?
///     .build()?;
/// assert_eq!(msg.destination().as_str(), "https://example.com/hook?id=7");
/// assert_eq!(msg.method(), Method::PUT);
/// assert_eq!(msg.timeout().map(|t| t.as_secs()), Some(30));
/// assert_eq!(msg.deduplication_id().map(|d| d.as_str()), Some("order-7"));
///
/// assert!(client.publish_url("https://example.com").timeout("30 s").is_err());
/// # Ok::<(), qstash_client::Error>(())
/// ```
#[must_use = "a message does nothing until it is sent"]
#[derive(Debug)]
pub struct PublishCall<'c> {
    client: &'c Client,
    builder: Result<PublishRequestBuilder, Error>,
}

impl<'c> PublishCall<'c> {
    /// Sets the method the message is delivered with (`Upstash-Method`; `POST` when unset).
    pub fn method(self, method: Method) -> Self {
        self.map(|b| b.method(method))
    }

    /// Bounds each delivery attempt (`Upstash-Timeout`): `"30s"`, a
    /// [`Delay`](qstash_delay::Delay) or a [`std::time::Duration`].
    ///
    /// # Errors
    /// A timeout that does not parse or does not fit.
    pub fn timeout<D>(self, timeout: D) -> Result<Self, Error>
    where
        D: TryInto<qstash_delay::Delay>,
        D::Error: Into<Error>,
    {
        self.try_map(timeout.try_into(), PublishRequestBuilder::timeout)
    }

    /// Calls `url` after every delivery attempt (`Upstash-Callback`).
    ///
    /// # Errors
    /// An invalid URL.
    pub fn callback<U>(self, url: U) -> Result<Self, Error>
    where
        U: TryInto<CallbackUrl>,
        U::Error: Into<Error>,
    {
        self.try_map(url.try_into(), PublishRequestBuilder::callback)
    }

    /// Adds a header forwarded to the callback (`Upstash-Callback-Forward-<name>: value`).
    pub fn callback_forward(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.callback_forward(name, value))
    }

    /// Calls `url` once the message failed for good (`Upstash-Failure-Callback`).
    ///
    /// # Errors
    /// An invalid URL.
    pub fn failure_callback<U>(self, url: U) -> Result<Self, Error>
    where
        U: TryInto<CallbackUrl>,
        U::Error: Into<Error>,
    {
        self.try_map(url.try_into(), PublishRequestBuilder::failure_callback)
    }

    /// Adds a header forwarded to the failure callback
    /// (`Upstash-Failure-Callback-Forward-<name>: value`).
    pub fn failure_callback_forward(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.failure_callback_forward(name, value))
    }

    /// Sets the deduplication id (`Upstash-Deduplication-Id`): a second message with the
    /// same id is not enqueued. It also makes the client retry the publish on every
    /// transient failure ([`Client::publish`]).
    ///
    /// # Errors
    /// An invalid id.
    pub fn deduplication_id<I>(self, id: I) -> Result<Self, Error>
    where
        I: TryInto<DeduplicationId>,
        I::Error: Into<Error>,
    {
        self.try_map(id.try_into(), PublishRequestBuilder::deduplication_id)
    }

    /// Deduplicates by content (`Upstash-Content-Based-Deduplication`): the id is a hash
    /// of destination, body and headers. `true` makes retries safe as
    /// [`deduplication_id`](Self::deduplication_id) does.
    pub fn content_based_deduplication(self, on: bool) -> Self {
        self.map(|b| b.content_based_deduplication(on))
    }

    /// Adds another `Upstash-*` header, kept with the message and never forwarded.
    pub fn extra_header(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.map(|b| b.extra_header(name, value))
    }
}

shared_setters!(
    PublishCall,
    PublishRequestBuilder,
    PublishRequest,
    publish,
    PublishResponse
);
