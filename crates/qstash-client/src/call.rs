//! What the fluent calls ([`TriggerCall`](crate::TriggerCall),
//! [`PublishCall`](crate::PublishCall)) share: the setters of the headers a trigger and a
//! message both carry, and `.await` as `.send().await`.

/// Implements, for `$call` (a struct with `client: &Client` and
/// `builder: Result<$builder, Error>`), the private `map`/`try_map` helpers, the shared
/// setters, `build` (giving a `$request`), `send` (with `Client::$send`, answering
/// `$output`) and `IntoFuture`.
macro_rules! shared_setters {
    ($call:ident, $builder:ty, $request:ty, $send:ident, $output:ty) => {
        impl<'c> $call<'c> {
            /// The request, without sending it.
            ///
            /// # Errors
            /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest): an invalid
            /// destination, forwarded header or content type, or forwarded callback headers
            /// without their callback.
            pub fn build(self) -> Result<$request, Error> {
                Ok(self.builder?.build()?)
            }

            #[doc = concat!("Sends the request ([`Client::", stringify!($send), "`]).")]
            ///
            /// # Errors
            #[doc = concat!("As [`build`](Self::build), then as [`Client::", stringify!($send), "`].")]
            pub async fn send(self) -> Result<$output, Error> {
                let client = self.client;
                let request = self.build()?;
                client.$send(request).await
            }

            fn map(mut self, f: impl FnOnce($builder) -> $builder) -> Self {
                self.builder = self.builder.map(f);
                self
            }

            fn try_map<T, E: Into<Error>>(
                self,
                value: Result<T, E>,
                f: impl FnOnce($builder, T) -> $builder,
            ) -> Result<Self, Error> {
                let value = value.map_err(Into::into)?;
                Ok(self.map(|b| f(b, value)))
            }

            /// Sets the body, delivered as is.
            pub fn body(self, body: impl Into<bytes::Bytes>) -> Self {
                let body = body.into();
                self.map(|b| b.body(body))
            }

            /// Sets the body to `value` as JSON, with `Content-Type: application/json`.
            ///
            /// # Errors
            /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `value`
            /// cannot be serialised.
            pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
                let body = serde_json::to_vec(value)?;
                Ok(self.map(|b| b.body(body).content_type("application/json")))
            }

            /// Sets the body's `Content-Type`.
            pub fn content_type(self, value: impl AsRef<[u8]>) -> Self {
                self.map(|b| b.content_type(value))
            }

            /// Adds a header forwarded to the destination (`Upstash-Forward-<name>: value`).
            pub fn forward(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
                self.map(|b| b.forward(name, value))
            }

            /// Sets how many times QStash retries a failed delivery (`Upstash-Retries`).
            pub fn retries(self, retries: u32) -> Self {
                self.map(|b| b.retries(retries))
            }

            /// Sets the delay before the delivery (`Upstash-Delay`): `"10s"`, `"1d10h30m"`,
            /// a [`Delay`](qstash_delay::Delay) or a [`std::time::Duration`].
            ///
            /// # Errors
            /// A delay that does not parse or does not fit.
            pub fn delay<D>(self, delay: D) -> Result<Self, Error>
            where
                D: TryInto<qstash_delay::Delay>,
                D::Error: Into<Error>,
            {
                self.try_map(delay.try_into(), |b, d| b.delay(d))
            }

            /// Sets when the delivery happens, in unix seconds (`Upstash-Not-Before`); wins
            /// over [`delay`](Self::delay).
            pub fn not_before(self, unix_secs: u64) -> Self {
                self.map(|b| b.not_before(unix_secs))
            }

            /// Adds a label (`Upstash-Label`).
            ///
            /// # Errors
            /// An invalid label.
            pub fn label<L>(self, label: L) -> Result<Self, Error>
            where
                L: TryInto<qstash_protocol::Label>,
                L::Error: Into<Error>,
            {
                self.try_map(label.try_into(), |b, l| b.label(l))
            }

            /// Sets flow control (`Upstash-Flow-Control-Key` and
            /// `Upstash-Flow-Control-Value`), e.g. `("tenant-7", "rate=5, parallelism=2")`.
            ///
            /// # Errors
            /// An invalid key or value.
            pub fn flow_control<K, V>(self, key: K, value: V) -> Result<Self, Error>
            where
                K: TryInto<qstash_flow_control::FlowControlKey>,
                K::Error: Into<Error>,
                V: TryInto<qstash_flow_control::FlowControl>,
                V::Error: Into<Error>,
            {
                let key = key.try_into().map_err(Into::into)?;
                self.try_map(value.try_into(), |b, value| b.flow_control(key, value))
            }

            /// Sets the delay between QStash's delivery retries (`Upstash-Retry-Delay`),
            /// e.g. `"pow(2, retried) * 1000"`.
            ///
            /// # Errors
            /// An expression that does not compile.
            pub fn retry_delay<R>(self, expr: R) -> Result<Self, Error>
            where
                R: TryInto<qstash_retry_delay::RetryDelay>,
                R::Error: Into<Error>,
            {
                self.try_map(expr.try_into(), |b, r| b.retry_delay(r))
            }
        }

        impl<'c> std::future::IntoFuture for $call<'c> {
            type Output = Result<$output, Error>;
            type IntoFuture =
                std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send + 'c>>;

            /// `call.await` is `call.send().await`.
            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.send())
            }
        }
    };
}

pub(crate) use shared_setters;
