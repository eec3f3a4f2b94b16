//! What the failure function receives: the failed run ([`FailureContext`]) and why it failed
//! ([`Failure`]).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::context::parse_payload;
use crate::error::Error;

/// The failed run, as the failure callback describes it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailureContext {
    /// The run's id (`wfr_…`).
    pub run_id: String,
    /// The workflow's URL.
    pub url: String,
    /// The run's initial payload, as sent.
    pub raw_payload: String,
    /// When the run was created (Unix milliseconds), when the callback says.
    pub created_at: Option<u64>,
}

impl FailureContext {
    /// The initial payload as `T` (JSON, or the raw text for a `String`).
    ///
    /// # Errors
    /// [`ErrorKind::Serde`](crate::ErrorKind::Serde) when the payload is not a `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, Error> {
        parse_payload(self.raw_payload.as_bytes())
    }
}

/// Why the run failed: the last answer of the failing delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Failure {
    /// The HTTP status the workflow endpoint last answered.
    pub status: u16,
    /// The error message of that answer (its `message`).
    pub message: String,
    /// The stack of that answer, when there was one.
    pub stack: Option<String>,
    /// The headers of that answer.
    pub headers: BTreeMap<String, Vec<String>>,
}
