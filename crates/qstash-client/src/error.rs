//! The client's error type.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use qstash_protocol::RunId;

use crate::rate_limit::RateLimit;

/// What went wrong, in one word (see [`Error::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `401`: the token is missing or wrong.
    Unauthorized,
    /// `400`: the server rejected the request; [`Error::message`] says why.
    BadRequest,
    /// `404`: no such run (run management) or endpoint.
    NotFound,
    /// `412`: the plan's quota is exceeded. Never retried.
    QuotaExceeded,
    /// `429`: rate limited; [`Error::rate_limit`] tells when to come back.
    RateLimited,
    /// `5xx`: the server failed.
    Server,
    /// No response within the timeout.
    Timeout,
    /// The request could not be sent or the response not read (connect, TLS, I/O).
    Transport,
    /// The request is invalid; nothing was sent. [`Error::get_ref`] is the codec's error.
    InvalidRequest,
    /// A response the API does not send: another status, or a body that is not the expected
    /// JSON.
    UnexpectedResponse,
    /// The client could not be set up: no token, an invalid base URL or token, TLS setup.
    Config,
}

impl ErrorKind {
    /// A short description (`"rate limited"`).
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::NotFound => "not found",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Server => "server error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Transport => "transport error",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::UnexpectedResponse => "unexpected response",
            ErrorKind::Config => "client configuration error",
        }
    }

    /// The kind of an error status (a status below 400 gives `None`).
    ///
    /// ```
    /// use http::StatusCode;
    /// use qstash_client::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::from_status(StatusCode::PRECONDITION_FAILED), Some(ErrorKind::QuotaExceeded));
    /// assert_eq!(ErrorKind::from_status(StatusCode::BAD_GATEWAY), Some(ErrorKind::Server));
    /// assert_eq!(ErrorKind::from_status(StatusCode::CONFLICT), Some(ErrorKind::UnexpectedResponse));
    /// assert_eq!(ErrorKind::from_status(StatusCode::OK), None);
    /// ```
    #[must_use]
    pub fn from_status(status: StatusCode) -> Option<ErrorKind> {
        Some(match status.as_u16() {
            0..=399 => return None,
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            412 => ErrorKind::QuotaExceeded,
            429 => ErrorKind::RateLimited,
            500.. => ErrorKind::Server,
            _ => ErrorKind::UnexpectedResponse,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of the client: its [`kind`](Self::kind), the HTTP status and the server's
/// message when there was a response, the run id(s) the request carried, the rate-limit
/// headers of a `429`, and how many attempts were made.
///
/// Neither `Display` nor `Debug` ever shows the token.
///
/// ```
/// use qstash_client::{Client, ErrorKind};
///
/// let client = Client::builder().token("t").base_url("http://127.0.0.1:1").build()?;
/// let err = client.trigger_url("not a url").body("x").build().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidRequest);
/// assert_eq!(err.attempts(), 0); // nothing was sent
/// assert!(err.to_string().starts_with("invalid request: "));
/// # Ok::<(), qstash_client::Error>(())
/// ```
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    status: Option<StatusCode>,
    message: Option<Box<str>>,
    run_ids: Vec<RunId>,
    rate_limit: Option<RateLimit>,
    attempts: u32,
    source: Option<Source>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            status: None,
            message: None,
            run_ids: Vec::new(),
            rate_limit: None,
            attempts: 0,
            source: None,
        }))
    }

    pub(crate) fn invalid(source: impl Into<Source>) -> Error {
        Error::new(ErrorKind::InvalidRequest).with_source(source)
    }

    pub(crate) fn config(message: impl Into<Box<str>>) -> Error {
        Error::new(ErrorKind::Config).with_message(message)
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Error {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn with_message(mut self, message: impl Into<Box<str>>) -> Error {
        self.0.message = Some(message.into());
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<Source>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    pub(crate) fn with_rate_limit(mut self, rate_limit: RateLimit) -> Error {
        self.0.rate_limit = Some(rate_limit);
        self
    }

    pub(crate) fn with_run_ids(mut self, run_ids: &[RunId]) -> Error {
        self.0.run_ids = run_ids.to_vec();
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Error {
        self.0.attempts = attempts;
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The response's status, when there was a response.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// The server's message (the `error` field of its JSON body, or the body's text, at most
    /// 1 KiB), or for [`ErrorKind::UnexpectedResponse`] and [`ErrorKind::Config`] what was
    /// wrong.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The run id the request carried, when it carried exactly one (a trigger, generated id
    /// included, or a cancel).
    #[must_use]
    pub fn run_id(&self) -> Option<&RunId> {
        match self.0.run_ids.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Every run id the request carried (the entries of a batch, in order).
    #[must_use]
    pub fn run_ids(&self) -> &[RunId] {
        &self.0.run_ids
    }

    /// The rate-limit headers of the response, when it had any.
    #[must_use]
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.0.rate_limit.as_ref()
    }

    /// How long the server asked to wait before trying again ([`RateLimit::wait`]).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.rate_limit.as_ref().and_then(RateLimit::wait)
    }

    /// When the server said a new request may succeed ([`RateLimit::reset_at`]).
    #[must_use]
    pub fn reset_at(&self) -> Option<SystemTime> {
        self.0.rate_limit.as_ref().and_then(RateLimit::reset_at)
    }

    /// The underlying error whose message ends this one's: the codec's error of an
    /// [`ErrorKind::InvalidRequest`], the HTTP stack's of a transport error or timeout, the
    /// JSON parser's of an unexpected response. [`std::error::Error::source`] goes on with
    /// this error's own cause, so that each message shows once in a report.
    #[must_use]
    pub fn get_ref(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.0.source.as_deref()
    }

    /// How many attempts were made (0 when nothing was sent).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// Whether the same request may succeed later: timeouts, transport errors, `429`, `502`,
    /// `503` and `504` (the failures the client retries itself).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self.0.kind {
            ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::RateLimited => true,
            ErrorKind::Server => matches!(self.0.status.map(|s| s.as_u16()), Some(502..=504)),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        f.write_str(e.kind.description())?;
        if let Some(status) = e.status {
            write!(f, " (HTTP {})", status.as_u16())?;
        }
        if let Some(message) = &e.message {
            write!(f, ": {message}")?;
        }
        if let Some(source) = &e.source {
            write!(f, ": {source}")?;
        }
        if let Some(wait) = self.retry_after() {
            write!(f, "; retry after {}", DisplayDuration(wait))?;
        }
        match e.run_ids.as_slice() {
            [] => {}
            [one] => write!(f, " [run {one}]")?,
            many => write!(f, " [{} runs]", many.len())?,
        }
        if e.attempts > 1 {
            write!(f, " after {} attempts", e.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &e.kind);
        if let Some(status) = e.status {
            d.field("status", &status);
        }
        if let Some(message) = &e.message {
            d.field("message", message);
        }
        if !e.run_ids.is_empty() {
            d.field("run_ids", &e.run_ids);
        }
        if let Some(rl) = &e.rate_limit {
            d.field("rate_limit", rl);
        }
        d.field("attempts", &e.attempts);
        if let Some(source) = &e.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    /// The message already ends with the underlying error's ([`Error::get_ref`]), so the chain
    /// goes on with that error's cause: a report that walks the chain shows each message once.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().and_then(std::error::Error::source)
    }
}

/// Whole seconds when the duration is whole, else milliseconds.
pub(crate) struct DisplayDuration(pub(crate) Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

macro_rules! invalid_from {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            /// An [`ErrorKind::InvalidRequest`] caused by the codec's error.
            fn from(e: $ty) -> Error {
                Error::invalid(e)
            }
        }
    )*};
}

invalid_from!(
    qstash_protocol::ValueError,
    qstash_protocol::BuildError,
    qstash_delay::ParseError,
    qstash_delay::TryFromDurationError,
    qstash_flow_control::ParseError,
    qstash_flow_control::KeyError,
    qstash_retry_delay::CompileError,
    serde_json::Error,
);

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Error {
        match e {}
    }
}
