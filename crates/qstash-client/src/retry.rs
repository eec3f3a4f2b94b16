//! The client's own retries of transient failures: the policy and the loop every request
//! goes through.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{DisplayDuration, Error, ErrorKind};

/// How the client retries a request that failed for a transient reason: a connect or other
/// transport error, a timeout, `429`, `502`, `503` or `504`. Everything else (`412` quota
/// exceeded in particular) is returned at once.
///
/// The wait before retry `n` (1, 2, …) is the server's when it gave one (`Retry-After`, or
/// the reset of an exhausted `RateLimit-*` / `Burst-RateLimit-*` window), otherwise a capped
/// exponential backoff `min(max_backoff, initial_backoff · 2ⁿ⁻¹)` with "equal jitter": half
/// of it fixed, the other half random. A server wait longer than
/// [`max_wait`](Self::with_max_wait) is not honoured by sleeping: the error is returned
/// at once, with the wait in [`Error::rate_limit`](crate::Error::rate_limit).
///
/// Retrying is safe: a trigger without a run id gets a generated one before the first
/// attempt, so every attempt carries the same `Upstash-Workflow-RunId` and a retry can never
/// start a second run.
///
/// ```
/// use std::time::Duration;
/// use qstash_client::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts(), 3);
/// assert_eq!(policy.backoff(1), Duration::from_millis(100));
/// assert_eq!(policy.backoff(2), Duration::from_millis(200));
/// assert_eq!(policy.backoff(20), Duration::from_secs(5)); // capped
///
/// assert_eq!(RetryPolicy::none().max_attempts(), 1);
/// let patient = RetryPolicy::new(6).with_max_backoff(Duration::from_secs(30));
/// assert_eq!(patient.max_attempts(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_wait: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// [`DEFAULT_ATTEMPTS`](Self::DEFAULT_ATTEMPTS) attempts, backoff from 100 ms doubling up
    /// to 5 s with jitter, server waits honoured up to 60 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: RetryPolicy::DEFAULT_ATTEMPTS,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_wait: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The default number of attempts (the first one included).
    pub const DEFAULT_ATTEMPTS: u32 = 3;

    /// The default policy with at most `max_attempts` attempts, the first one included
    /// (`0` counts as `1`).
    #[must_use]
    pub fn new(max_attempts: u32) -> RetryPolicy {
        RetryPolicy::default().with_max_attempts(max_attempts)
    }

    /// No retry: one attempt.
    #[must_use]
    pub fn none() -> RetryPolicy {
        RetryPolicy::new(1)
    }

    /// Sets the most attempts, the first one included (`0` counts as `1`).
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> RetryPolicy {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Sets the backoff before the first retry.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> RetryPolicy {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest backoff.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> RetryPolicy {
        self.max_backoff = backoff;
        self
    }

    /// Sets the longest wait the server may ask for (`Retry-After`, rate-limit resets) that
    /// the client sleeps through; a longer one ends the retries.
    #[must_use]
    pub fn with_max_wait(mut self, wait: Duration) -> RetryPolicy {
        self.max_wait = wait;
        self
    }

    /// Turns the random half of the backoff on (the default) or off.
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> RetryPolicy {
        self.jitter = jitter;
        self
    }

    /// The most attempts, the first one included.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff before the first retry.
    #[must_use]
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The longest backoff.
    #[must_use]
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest server-requested wait that is honoured.
    #[must_use]
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Whether the backoff has a random half.
    #[must_use]
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The nominal backoff before retry `retry` (1 for the first retry), without jitter:
    /// `min(max_backoff, initial_backoff · 2^(retry - 1))`.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The wait before retry `retry`, or `None` when the server asked for more than
    /// [`max_wait`](Self::max_wait).
    pub(crate) fn wait_before(
        &self,
        retry: u32,
        server_wait: Option<Duration>,
    ) -> Option<Duration> {
        match server_wait {
            Some(w) if w > self.max_wait => None,
            Some(w) => Some(w),
            None => {
                let nominal = self.backoff(retry);
                Some(if self.jitter {
                    equal_jitter(nominal, random_u64())
                } else {
                    nominal
                })
            }
        }
    }
}

/// Why one attempt did not give a result.
pub(crate) enum AttemptError {
    /// The request could not be prepared: nothing was sent, nothing is retried.
    NotSent(Error),
    /// The attempt failed, with the wait the server asked for; retried when the error
    /// [is retryable](Error::is_retryable).
    Failed(Error, Option<Duration>),
    /// The attempt failed and the request must not be sent again (it may have done
    /// something that a second copy would do twice).
    Final(Error),
}

impl RetryPolicy {
    /// The retry loop: runs `attempt` until it succeeds, fails for good, or the policy's
    /// attempts run out; returns the result and the number of attempts that sent a request.
    /// With `total_timeout`, every attempt and every wait between two ends at the call's
    /// deadline: an attempt still running then fails with [`ErrorKind::Timeout`], and a retry
    /// whose wait would pass it is not made (the last attempt's error is returned).
    pub(crate) async fn run<T, F>(
        &self,
        total_timeout: Option<Duration>,
        mut attempt: impl FnMut() -> F,
    ) -> (Result<T, Error>, u32)
    where
        F: Future<Output = Result<T, AttemptError>>,
    {
        let deadline = total_timeout.map(|total| (total, tokio::time::Instant::now() + total));
        let mut made = 0;
        loop {
            let outcome = match deadline {
                None => attempt().await,
                Some((total, at)) => match tokio::time::timeout_at(at, attempt()).await {
                    Ok(outcome) => outcome,
                    Err(_) => return (Err(total_timeout_error(total)), made + 1),
                },
            };
            let (err, server_wait, again) = match outcome {
                Ok(value) => return (Ok(value), made + 1),
                Err(AttemptError::NotSent(err)) => return (Err(err), made),
                Err(AttemptError::Failed(err, wait)) => (err, wait, true),
                Err(AttemptError::Final(err)) => (err, None, false),
            };
            made += 1;
            if let Some(status) = err.status() {
                tracing::Span::current().record("status", status.as_u16());
            }
            if !again || !err.is_retryable() || made >= self.max_attempts {
                return (Err(err), made);
            }
            let Some(wait) = self.wait_before(made, server_wait) else {
                tracing::info!(attempt = made, error = %err, "not retrying: the server asks to wait longer than the retry policy allows");
                return (Err(err), made);
            };
            if deadline.is_some_and(|(_, at)| tokio::time::Instant::now() + wait >= at) {
                tracing::info!(attempt = made, error = %err, "not retrying: the wait would pass the call's deadline");
                return (Err(err), made);
            }
            tracing::info!(attempt = made, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// The error of a call that passed its deadline.
fn total_timeout_error(total: Duration) -> Error {
    Error::new(ErrorKind::Timeout).with_message(format!(
        "the call took longer than its total timeout of {} (ClientBuilder::total_timeout)",
        DisplayDuration(total)
    ))
}

/// Half of `d` plus a random part of the other half chosen by `random`.
fn equal_jitter(d: Duration, random: u64) -> Duration {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let half = nanos / 2;
    let span = nanos - half;
    let extra = if span == 0 { 0 } else { random % (span + 1) };
    Duration::from_nanos(half + extra)
}

/// 64 random-enough bits for jitter: std's randomly keyed hasher over a process-wide counter.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default()
            .with_initial_backoff(Duration::from_millis(250))
            .with_max_backoff(Duration::from_secs(2));
        let got: Vec<_> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(got, [250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(p.backoff(0), Duration::from_millis(250));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(2));
        let huge = RetryPolicy::default()
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::from_secs(9));
        assert_eq!(huge.backoff(3), Duration::from_secs(9));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let d = Duration::from_millis(800);
        assert_eq!(equal_jitter(d, 0), Duration::from_millis(400));
        assert_eq!(equal_jitter(d, 400_000_000), Duration::from_millis(800));
        for _ in 0..1000 {
            let j = equal_jitter(d, random_u64());
            assert!(j >= Duration::from_millis(400) && j <= d, "{j:?}");
        }
        assert_eq!(equal_jitter(Duration::ZERO, 17), Duration::ZERO);
        // The random source is not constant.
        let first = random_u64();
        assert!((0..10).any(|_| random_u64() != first));
    }

    #[test]
    fn server_wait_is_honoured_up_to_the_limit() {
        let p = RetryPolicy::default()
            .with_max_wait(Duration::from_secs(10))
            .with_jitter(false);
        assert_eq!(
            p.wait_before(1, Some(Duration::from_secs(10))),
            Some(Duration::from_secs(10))
        );
        assert_eq!(p.wait_before(1, Some(Duration::from_secs(11))), None);
        assert_eq!(p.wait_before(2, None), Some(Duration::from_millis(200)));
    }

    #[test]
    fn attempts_are_at_least_one() {
        assert_eq!(RetryPolicy::new(0).max_attempts(), 1);
        assert_eq!(RetryPolicy::none().max_attempts(), 1);
        assert_eq!(RetryPolicy::new(7).max_attempts(), 7);
    }
}
