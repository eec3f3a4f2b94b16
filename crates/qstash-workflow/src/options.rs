//! [`Options`]: where the QStash server is, how requests are verified, the settings of the
//! workflow's messages and the failure function.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use qstash_signature::Receiver;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::failure::{Failure, FailureContext};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type FailureFn =
    Arc<dyn Fn(FailureContext, Failure) -> BoxFuture<Result<Value, Error>> + Send + Sync>;

/// The upstream QStash API, used when `QSTASH_URL` is not set.
pub const DEFAULT_QSTASH_URL: &str = "https://qstash.upstash.io";

/// How a workflow endpoint talks to the QStash server and what its messages carry.
///
/// ```
/// use qstash_workflow::Options;
///
/// let options = Options::new("http://127.0.0.1:8080", "my-token")
///     .signing_keys("sig_current", "sig_next")
///     .retries(5)
///     .retry_delay("1000")
///     .flow_control("orders", "parallelism=4");
/// assert!(!format!("{options:?}").contains("my-token"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct Options {
    pub(crate) qstash_url: String,
    token: String,
    pub(crate) receiver: Option<Receiver>,
    pub(crate) base_url: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_delay: Option<String>,
    pub(crate) flow_control: Option<(String, String)>,
    pub(crate) label: Option<String>,
    pub(crate) failure: Option<FailureFn>,
    pub(crate) http: Option<reqwest::Client>,
}

impl Options {
    /// Options for the server at `qstash_url` (`http://127.0.0.1:8080`) with `token`;
    /// requests are not verified until [`signing_keys`](Self::signing_keys) is given.
    pub fn new(qstash_url: impl Into<String>, token: impl Into<String>) -> Options {
        Options {
            qstash_url: qstash_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            receiver: None,
            base_url: None,
            url: None,
            retries: None,
            retry_delay: None,
            flow_control: None,
            label: None,
            failure: None,
            http: None,
        }
    }

    /// Options from the environment, as the official SDK reads it: `QSTASH_URL` (default the
    /// upstream API), `QSTASH_TOKEN` (required), `QSTASH_CURRENT_SIGNING_KEY` with
    /// `QSTASH_NEXT_SIGNING_KEY` (both or neither: with both, every request is verified) and
    /// `UPSTASH_WORKFLOW_URL` (see [`base_url`](Self::base_url)).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] without `QSTASH_TOKEN` or with only one signing key.
    pub fn from_env() -> Result<Options, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = var("QSTASH_TOKEN")
            .ok_or_else(|| Error::new(ErrorKind::Config, "QSTASH_TOKEN is not set"))?;
        let mut options = Options::new(
            var("QSTASH_URL").unwrap_or_else(|| DEFAULT_QSTASH_URL.to_owned()),
            token,
        );
        match (
            var("QSTASH_CURRENT_SIGNING_KEY"),
            var("QSTASH_NEXT_SIGNING_KEY"),
        ) {
            (Some(current), Some(next)) => options = options.signing_keys(current, next),
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "set both QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY, or neither",
                ));
            }
        }
        if let Some(base) = var("UPSTASH_WORKFLOW_URL") {
            options = options.base_url(base);
        }
        Ok(options)
    }

    /// Verifies every request's `Upstash-Signature` with these keys (either may have signed
    /// it); a request that does not verify is answered 401 before any workflow code runs.
    pub fn signing_keys(mut self, current: impl Into<String>, next: impl Into<String>) -> Options {
        self.receiver =
            Some(Receiver::new(current, next).with_clock_tolerance(Duration::from_secs(5)));
        self
    }

    /// Replaces the scheme and host of the workflow URL (taken from the request's `Host`) with
    /// `base` (`https://example.com`), for an endpoint behind a proxy.
    pub fn base_url(mut self, base: impl Into<String>) -> Options {
        self.base_url = Some(base.into().trim_end_matches('/').to_owned());
        self
    }

    /// The workflow's URL, whatever the request says.
    pub fn url(mut self, url: impl Into<String>) -> Options {
        self.url = Some(url.into());
        self
    }

    /// `Upstash-Retries` of the workflow's messages (the server's default is 3).
    pub fn retries(mut self, retries: u32) -> Options {
        self.retries = Some(retries);
        self
    }

    /// `Upstash-Retry-Delay` of the workflow's messages (an expression in milliseconds, such
    /// as `"1000"` or `"pow(2, retried) * 100"`).
    pub fn retry_delay(mut self, expr: impl Into<String>) -> Options {
        self.retry_delay = Some(expr.into());
        self
    }

    /// Flow control of the workflow's messages: the key and its value
    /// (`"parallelism=2, rate=10, period=1s"`).
    pub fn flow_control(mut self, key: impl Into<String>, value: impl Into<String>) -> Options {
        self.flow_control = Some((key.into(), value.into()));
        self
    }

    /// `Upstash-Label` of the runs this endpoint starts.
    pub fn label(mut self, label: impl Into<String>) -> Options {
        self.label = Some(label.into());
        self
    }

    /// The failure function: called once when a run of this workflow fails for good (its
    /// retries are spent), with the run and why it failed. Its value is the answer's
    /// `result`.
    ///
    /// ```
    /// use qstash_workflow::Options;
    ///
    /// let options = Options::new("http://127.0.0.1:8080", "token").failure(|ctx, failure| async move {
    ///     eprintln!("run {} failed: {}", ctx.run_id, failure.message);
    ///     Ok("noted")
    /// });
    /// ```
    pub fn failure<F, Fut, R>(mut self, f: F) -> Options
    where
        F: Fn(FailureContext, Failure) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
        R: Serialize,
    {
        self.failure = Some(Arc::new(move |ctx, failure| {
            let fut = f(ctx, failure);
            Box::pin(async move { Ok(serde_json::to_value(fut.await?)?) })
        }));
        self
    }

    /// The HTTP client for the server's API (default: rustls with the platform's roots).
    pub fn http_client(mut self, client: reqwest::Client) -> Options {
        self.http = Some(client);
        self
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("qstash_url", &self.qstash_url)
            .field("token", &"<redacted>")
            .field("verify", &self.receiver.is_some())
            .field("base_url", &self.base_url)
            .field("url", &self.url)
            .field("retries", &self.retries)
            .field("retry_delay", &self.retry_delay)
            .field("flow_control", &self.flow_control)
            .field("label", &self.label)
            .field("failure", &self.failure.is_some())
            .finish()
    }
}
