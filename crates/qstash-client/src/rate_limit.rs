//! Rate-limit information of a response: `Retry-After`, `RateLimit-*` and
//! `Burst-RateLimit-*`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// One rate-limit window as the server reports it: the daily quota (`RateLimit-Limit`,
/// `RateLimit-Remaining`, `RateLimit-Reset`) or the per-second burst limit
/// (`Burst-RateLimit-*`).
///
/// A header that is absent or not a number is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateLimitWindow {
    /// How many requests the window allows (`…-Limit`).
    pub limit: Option<u64>,
    /// How many are left (`…-Remaining`).
    pub remaining: Option<u64>,
    /// When the window resets (`…-Reset`).
    pub reset: Option<SystemTime>,
}

impl RateLimitWindow {
    /// Reads `{prefix}Limit`, `{prefix}Remaining` and `{prefix}Reset`; `None` when none of
    /// them is present.
    fn from_headers(headers: &HeaderMap, prefix: &str, now: SystemTime) -> Option<RateLimitWindow> {
        let get = |suffix: &str| {
            let mut name = String::with_capacity(prefix.len() + suffix.len());
            name.push_str(prefix);
            name.push_str(suffix);
            headers.get(name.as_str())
        };
        let (limit, remaining, reset) = (get("limit"), get("remaining"), get("reset"));
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return None;
        }
        let number = |v: Option<&http::HeaderValue>| v.and_then(|v| parse_u64(v.as_bytes()));
        Some(RateLimitWindow {
            limit: number(limit),
            remaining: number(remaining),
            reset: number(reset).and_then(|n| reset_time(n, now)),
        })
    }

    /// Whether the window says no request is left.
    #[must_use]
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// What a response says about rate limiting (usually a `429`).
///
/// - `Retry-After` is delay-seconds or an HTTP date (RFC 9110 §10.2.3).
/// - `RateLimit-Reset` and `Burst-RateLimit-Reset` are unix timestamps (upstream). A value of
///   10¹² or more is taken as milliseconds since the epoch, and a value below 10⁹ (before
///   2001) as seconds from now, the form of the IETF `RateLimit` draft, so that either
///   convention gives a sensible time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use qstash_client::RateLimit;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
/// let mut headers = HeaderMap::new();
/// headers.insert("burst-ratelimit-limit", "100".parse()?);
/// headers.insert("burst-ratelimit-remaining", "0".parse()?);
/// headers.insert("burst-ratelimit-reset", "1767225602".parse()?);
/// let rl = RateLimit::from_headers(&headers, now);
/// assert_eq!(rl.burst().unwrap().limit, Some(100));
/// assert_eq!(rl.retry_after(), None);
/// assert_eq!(rl.wait(), Some(Duration::from_secs(2)));
///
/// headers.insert("retry-after", "30".parse()?);
/// let rl = RateLimit::from_headers(&headers, now);
/// assert_eq!(rl.wait(), Some(Duration::from_secs(30))); // Retry-After wins
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateLimit {
    received_at: SystemTime,
    retry_after: Option<Duration>,
    daily: Option<RateLimitWindow>,
    burst: Option<RateLimitWindow>,
}

impl RateLimit {
    /// Reads the rate-limit headers of a response received at `now`.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> RateLimit {
        RateLimit {
            received_at: now,
            retry_after: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(v.as_bytes(), now)),
            daily: RateLimitWindow::from_headers(headers, "ratelimit-", now),
            burst: RateLimitWindow::from_headers(headers, "burst-ratelimit-", now),
        }
    }

    /// Whether the response carried none of the headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.retry_after.is_none() && self.daily.is_none() && self.burst.is_none()
    }

    /// When the response was received.
    #[must_use]
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// `Retry-After`, as a delay from [`received_at`](Self::received_at).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The daily quota (`RateLimit-*`).
    #[must_use]
    pub fn daily(&self) -> Option<&RateLimitWindow> {
        self.daily.as_ref()
    }

    /// The burst limit (`Burst-RateLimit-*`).
    #[must_use]
    pub fn burst(&self) -> Option<&RateLimitWindow> {
        self.burst.as_ref()
    }

    /// When a new request may succeed: [`received_at`](Self::received_at) plus
    /// `Retry-After` when given; otherwise the latest reset of the windows that are exhausted
    /// (`…-Remaining: 0`); otherwise the earliest reset given; `None` without any of them.
    #[must_use]
    pub fn reset_at(&self) -> Option<SystemTime> {
        if let Some(after) = self.retry_after {
            return self.received_at.checked_add(after);
        }
        let windows = [self.burst, self.daily];
        let exhausted = windows
            .iter()
            .flatten()
            .filter(|w| w.is_exhausted())
            .filter_map(|w| w.reset)
            .max();
        exhausted.or_else(|| windows.iter().flatten().filter_map(|w| w.reset).min())
    }

    /// How long to wait from [`received_at`](Self::received_at) until
    /// [`reset_at`](Self::reset_at) (zero for a reset in the past).
    #[must_use]
    pub fn wait(&self) -> Option<Duration> {
        self.reset_at().map(|at| {
            at.duration_since(self.received_at)
                .unwrap_or(Duration::ZERO)
        })
    }
}

/// A decimal `u64` (ASCII digits only, surrounding spaces allowed).
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Retry-After`: delay-seconds, or an HTTP date turned into a delay from `now` (zero when
/// it is in the past).
pub(crate) fn parse_retry_after(bytes: &[u8], now: SystemTime) -> Option<Duration> {
    if let Some(secs) = parse_u64(bytes) {
        return Some(Duration::from_secs(secs));
    }
    let s = std::str::from_utf8(bytes).ok()?.trim();
    let at = httpdate::parse_http_date(s).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A reset value as a time (see [`RateLimit`]).
fn reset_time(n: u64, now: SystemTime) -> Option<SystemTime> {
    const MILLIS_FROM: u64 = 1_000_000_000_000;
    const EPOCH_SECS_FROM: u64 = 1_000_000_000;
    if n >= MILLIS_FROM {
        UNIX_EPOCH.checked_add(Duration::from_millis(n))
    } else if n >= EPOCH_SECS_FROM {
        UNIX_EPOCH.checked_add(Duration::from_secs(n))
    } else {
        now.checked_add(Duration::from_secs(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = at(1_767_225_600); // 2026-01-01T00:00:00Z
        assert_eq!(parse_retry_after(b"0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(b" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(b"Thu, 01 Jan 2026 00:00:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after(b"Wed, 31 Dec 2025 23:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in [&b""[..], b"-1", b"1.5", b"soon", b"1e3", b"+5"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn reset_conventions() {
        let now = at(1_767_225_600);
        assert_eq!(reset_time(1_767_225_660, now), Some(at(1_767_225_660)));
        assert_eq!(
            reset_time(1_767_225_660_500, now),
            Some(at(1_767_225_660) + Duration::from_millis(500))
        );
        assert_eq!(reset_time(60, now), Some(at(1_767_225_660)));
    }

    #[test]
    fn windows_and_wait() {
        let now = at(1_767_225_600);
        let h = headers(&[
            ("RateLimit-Limit", "1000"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "1767312000"),
            ("Burst-RateLimit-Limit", "100"),
            ("Burst-RateLimit-Remaining", "5"),
            ("Burst-RateLimit-Reset", "1767225601"),
        ]);
        let rl = RateLimit::from_headers(&h, now);
        assert_eq!(
            rl.daily(),
            Some(&RateLimitWindow {
                limit: Some(1000),
                remaining: Some(0),
                reset: Some(at(1_767_312_000))
            })
        );
        assert_eq!(rl.burst().unwrap().remaining, Some(5));
        // The daily quota is the exhausted one: wait for its reset.
        assert_eq!(rl.reset_at(), Some(at(1_767_312_000)));
        assert_eq!(rl.wait(), Some(Duration::from_secs(86_400)));

        // Nothing exhausted: the earliest reset.
        let h = headers(&[
            ("RateLimit-Reset", "1767312000"),
            ("Burst-RateLimit-Reset", "1767225601"),
        ]);
        assert_eq!(
            RateLimit::from_headers(&h, now).wait(),
            Some(Duration::from_secs(1))
        );

        // A reset in the past: no wait.
        let h = headers(&[("Burst-RateLimit-Reset", "1767225000")]);
        assert_eq!(
            RateLimit::from_headers(&h, now).wait(),
            Some(Duration::ZERO)
        );

        let rl = RateLimit::from_headers(&HeaderMap::new(), now);
        assert!(rl.is_empty());
        assert_eq!(rl.wait(), None);

        // Garbage values are ignored, the window is still reported.
        let h = headers(&[("Burst-RateLimit-Limit", "many")]);
        let rl = RateLimit::from_headers(&h, now);
        assert_eq!(rl.burst(), Some(&RateLimitWindow::default()));
        assert_eq!(rl.wait(), None);
    }
}
