//! Server configuration: limits, delivery settings, tokens.

use std::fmt;
use std::time::Duration;

/// Limits on what the server accepts; each one breached is a clear 4xx, never a truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest message body, in bytes (413 above it). Default 1 MiB.
    pub max_body: usize,
    /// The most retries a message may ask for (400 above it). Default 10.
    pub max_retries: u32,
    /// How far ahead a delay or not-before may reach (400 beyond it). Default 365 days.
    pub max_delay: Duration,
    /// How long a deduplication id is remembered. Default 10 minutes.
    pub dedup_window: Duration,
    /// The most entries of one batch request. Default 1 000.
    pub max_batch: usize,
    /// The most steps one workflow run may record after its initial payload (a workflow that
    /// never ends): the step beyond it is refused with 400 and the run ends `RUN_FAILED` with
    /// the reason "the run reached the limit of N steps per run". Default 1 000.
    pub max_run_steps: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 1024 * 1024,
            max_retries: 10,
            max_delay: Duration::from_secs(365 * 24 * 3600),
            dedup_window: Duration::from_secs(600),
            max_batch: 1000,
            max_run_steps: 1000,
        }
    }
}

/// How the engine delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// The timeout of one attempt when the message sets no `Upstash-Timeout`. Default 30 s.
    pub timeout: Duration,
    /// The most attempts in flight at once in this process. Default 256.
    pub concurrency: usize,
    /// What a claim's lease adds to the attempt's timeout before another claim may make the
    /// attempt again. Default 30 s.
    pub lease_grace: Duration,
    /// The most response-body bytes kept from one attempt. Default 64 KiB.
    pub max_response_body: usize,
    /// How long the engine signs with signing keys read from the store before reading them
    /// again, so that a rotation made through another process sharing the store reaches this
    /// one. Default 5 s. (Keys given by configuration are never re-read.)
    pub keys_refresh: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            timeout: Duration::from_secs(30),
            concurrency: 256,
            lease_grace: Duration::from_secs(30),
            max_response_body: 64 * 1024,
            keys_refresh: Duration::from_secs(5),
        }
    }
}

/// An API token: a tenant's secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a token; it must be non-empty visible ASCII.
    pub fn new(token: impl Into<String>) -> Result<Token, InvalidToken> {
        let token = token.into();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidToken);
        }
        Ok(Token(token))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest of the token (what the API compares, in constant time).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The tenant this token stands for: a stable id derived from the token (a hash), so that
    /// the store never holds the token itself.
    pub fn tenant(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.0.as_bytes());
        let mut out = String::with_capacity(20);
        out.push_str("t_");
        for b in digest.iter().take(9) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A token that is empty or has a byte other than visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a token must be non-empty visible ASCII")]
pub struct InvalidToken;

/// Who may read `GET /metrics` on the API listener (SERVER.md §11.2). A separate listener
/// ([`ServerBuilder::metrics_listen`](crate::ServerBuilder::metrics_listen)) serves it to
/// anyone who can reach that address.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsAccess {
    /// Anyone (`qstash dev`; the builder's default).
    Open,
    /// Only a request with `Authorization: Bearer <token>` (compared in constant time); 401
    /// otherwise.
    Bearer(Token),
    /// Nobody: the API listener answers 404 (`qstash serve` without `--metrics-token`).
    Closed,
}

impl fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsAccess::Open => f.write_str("Open"),
            MetricsAccess::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            MetricsAccess::Closed => f.write_str("Closed"),
        }
    }
}
