//! `qstash retry-schedule [EXPR] --retries N`: when each retry of a failing delivery happens.

use std::fmt::Write as _;
use std::time::Duration;

use qstash_retry_delay::RetryDelay;

use crate::check::show;
use crate::diagnostic::Diagnostic;

/// The table for `expr` (the default backoff when `None`) over `retries` retries.
///
/// ```text
/// retry-delay: default backoff, min(86400, e^(2.5 * (retried + 1))) seconds
/// attempt  retried  delay        since first failure
///       2        0  12s182ms     12s182ms
/// ```
/// Attempt 1 is the first delivery; each row is a retry: the delay `retried` gives before it,
/// and the time from the first failure until it starts.
pub fn table(expr: Option<&str>, retries: u32) -> Result<String, Diagnostic> {
    let (program, title) = match expr {
        Some(src) => (
            RetryDelay::compile(src).map_err(|e| Diagnostic::at(e.to_string(), src, e.span()))?,
            src.to_string(),
        ),
        None => (
            RetryDelay::default_backoff(),
            "default backoff, min(86400, e^(2.5 * (retried + 1))) seconds".to_string(),
        ),
    };
    let mut out = format!(
        "retry-delay: {title}\n{:>7}  {:>7}  {:<14} {}\n",
        "attempt", "retried", "delay", "since first failure"
    );
    let mut since = Duration::ZERO;
    for (retried, delay) in program.schedule(retries).enumerate() {
        let delay = delay.map_err(|e| Diagnostic::new(format!("{e} (expression {title:?})")))?;
        since = since.saturating_add(delay);
        let _ = writeln!(
            out,
            "{:>7}  {:>7}  {:<14} {}",
            retried + 2,
            retried,
            show(delay),
            show(since)
        );
    }
    if retries == 0 {
        out.push_str("(no retries: a failed delivery is not retried)\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_schedule_accumulates() {
        let out = table(Some("pow(2, retried) * 1000"), 4).unwrap();
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows[0], "retry-delay: pow(2, retried) * 1000");
        assert_eq!(
            rows[1],
            "attempt  retried  delay          since first failure"
        );
        assert_eq!(rows[2], "      2        0  1s             1s");
        assert_eq!(rows[3], "      3        1  2s             3s");
        assert_eq!(rows[4], "      4        2  4s             7s");
        assert_eq!(rows[5], "      5        3  8s             15s");
        assert_eq!(rows.len(), 6);
    }

    #[test]
    fn default_backoff_matches_the_spec() {
        let out = table(None, 5).unwrap();
        // e^2.5 s = 12.182 s, e^5 s = 148.413 s, e^7.5 s = 1808.042 s, e^10 s = 22026.466 s,
        // then the 1-day cap.
        assert!(out.contains("      2        0  12s182ms"), "{out}");
        assert!(out.contains("      3        1  2m28s413ms"), "{out}");
        assert!(out.contains("      4        2  30m8s42ms"), "{out}");
        assert!(out.contains("      5        3  6h7m6s466ms"), "{out}");
        assert!(out.contains("      6        4  1d "), "{out}");
    }

    #[test]
    fn nan_is_an_error_naming_the_retry() {
        let err = table(Some("0 / 0"), 2).unwrap_err().to_string();
        assert!(
            err.contains("retry delay is not a number for retried = 0"),
            "{err}"
        );
    }

    #[test]
    fn compile_error_points_into_the_expression() {
        let err = table(Some("pow(2, retries)"), 2).unwrap_err().to_string();
        assert!(
            err.contains("  | pow(2, retries)\n  |        ^^^^^^^"),
            "{err}"
        );
    }
}
