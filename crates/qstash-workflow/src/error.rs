//! The crate's one error type, [`Error`], and what kind of failure it is ([`ErrorKind`]).

use std::fmt;
use std::time::Duration;

/// What went wrong, broadly: decides how the endpoint answers the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The options are incomplete or inconsistent (a missing token, one signing key of two).
    Config,
    /// A request's `Upstash-Signature` is missing or does not verify (answered 401).
    Signature,
    /// A request does not follow the step protocol (a missing run id, an undecodable step).
    Protocol,
    /// On replay the workflow took a different path than the recorded steps: a step's name
    /// or kind differs from the one the server recorded at that position.
    ReplayMismatch,
    /// A step's own code failed; the delivery is answered 500 and the server retries it.
    Step,
    /// The workflow failed for good: answered 489 with `Upstash-NonRetryable-Error: true`.
    NonRetryable,
    /// The workflow asks to be retried later: answered 429 with `Retry-After`.
    RetryAfter,
    /// The QStash server could not be reached or answered an error.
    Server,
    /// A value could not be serialized or a memoised output not deserialized.
    Serde,
    /// A step was started inside another step's code.
    NestedStep,
    /// Not a failure: this request's step was handed to the server (or the run was
    /// cancelled), so the workflow stops here and continues in a later request. Propagate it
    /// with `?`.
    Suspended,
    /// Any other failure of the workflow's own code.
    Workflow,
}

/// The error of every fallible call of this crate.
///
/// Inside a workflow, propagate it with `?`: a step that was just handed to the server ends
/// the request with an error of kind [`ErrorKind::Suspended`], which is how the workflow
/// pauses until the server delivers the next step.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    step: Option<String>,
    retry_after: Option<Duration>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            step: None,
            retry_after: None,
        }
    }

    /// A failure of the workflow's own code (answered 500, so the server retries).
    pub fn msg(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Workflow, message.to_string())
    }

    /// A failure that retrying cannot fix: the endpoint answers 489 with
    /// `Upstash-NonRetryable-Error: true` and the run fails at once.
    pub fn non_retryable(message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::NonRetryable, message.to_string())
    }

    /// Asks the server to deliver this step again after `after` (429 with `Retry-After`).
    pub fn retry_after(after: Duration, message: impl fmt::Display) -> Error {
        let mut e = Error::new(ErrorKind::RetryAfter, message.to_string());
        e.retry_after = Some(after);
        e
    }

    pub(crate) fn suspended() -> Error {
        Error::new(
            ErrorKind::Suspended,
            "the workflow is suspended until its next step",
        )
    }

    pub(crate) fn with_step(mut self, step: &str) -> Error {
        if self.step.is_none() {
            self.step = Some(step.to_owned());
        }
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the step name.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The step whose code failed, when a step's code failed.
    pub fn step_name(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The delay of an [`ErrorKind::RetryAfter`] error.
    pub fn retry_after_delay(&self) -> Option<Duration> {
        self.retry_after
    }

    /// True for [`ErrorKind::Suspended`]: not a failure, the workflow continues later.
    pub fn is_suspended(&self) -> bool {
        self.kind == ErrorKind::Suspended
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("step", &self.step)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "step '{step}': {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::new(ErrorKind::Serde, e.to_string())
    }
}
