//! `qstash check delay|retry-delay|flow-control|cron VALUE`: the canonical form and meaning
//! of a value, or the error with the value echoed and a caret under the fault.

use std::fmt::Write as _;
use std::time::Duration;

use qstash_cron::Cron;
use qstash_delay::Delay;
use qstash_flow_control::FlowControl;
use qstash_retry_delay::RetryDelay;

use crate::diagnostic::Diagnostic;

/// How many retries `check retry-delay` previews.
const PREVIEW: u32 = 5;

/// How many ticks `check cron` lists.
const TICKS: usize = 5;

/// `check delay`.
pub fn delay(value: &str) -> Result<String, Diagnostic> {
    let delay = Delay::parse(value.as_bytes())
        .map_err(|e| Diagnostic::at(e.to_string(), value, e.span()))?;
    Ok(format!(
        "canonical: {delay}\nseconds:   {}\n",
        seconds(delay.as_nanos())
    ))
}

/// `check retry-delay`.
pub fn retry_delay(value: &str) -> Result<String, Diagnostic> {
    let program =
        RetryDelay::compile(value).map_err(|e| Diagnostic::at(e.to_string(), value, e.span()))?;
    let mut out = format!(
        "canonical: {program}\nconstant:  {}\n",
        if program.is_constant() { "yes" } else { "no" }
    );
    let preview: Vec<String> = program
        .schedule(PREVIEW)
        .enumerate()
        .map(|(retried, delay)| match delay {
            Ok(d) => show(d),
            Err(_) => format!("NaN at retried={retried}"),
        })
        .collect();
    let _ = writeln!(
        out,
        "first {PREVIEW} retries: {}  (milliseconds, rounded, capped at 1d)",
        preview.join(", ")
    );
    Ok(out)
}

/// `check flow-control`.
pub fn flow_control(value: &str) -> Result<String, Diagnostic> {
    let fc = FlowControl::parse(value.as_bytes())
        .map_err(|e| Diagnostic::at(e.to_string(), value, e.span()))?;
    let mut out = format!("canonical:   {fc}\n");
    if let Some(p) = fc.parallelism() {
        let _ = writeln!(
            out,
            "parallelism: at most {p} runs of the key in flight at once"
        );
    }
    if let Some(r) = fc.rate() {
        let default = if fc.period_is_set() {
            ""
        } else {
            " (the default period)"
        };
        let _ = writeln!(
            out,
            "rate:        at most {r} starts per {}{default}",
            fc.period()
        );
    }
    Ok(out)
}

/// `check cron`: the canonical form, the zone and the next ticks after `from` (an RFC 3339
/// time; now without it), in UTC and, with a `CRON_TZ` zone, local time.
pub fn cron(value: &str, from: Option<&str>) -> Result<String, Diagnostic> {
    let cron = Cron::parse(value).map_err(|e| Diagnostic::at(e.to_string(), value, e.span()))?;
    let after = match from {
        Some(from) => {
            let ts: jiff::Timestamp = from.parse().map_err(|e| {
                Diagnostic::at(
                    format!("--from: not an RFC 3339 time ({e})"),
                    from,
                    0..from.len(),
                )
            })?;
            u64::try_from(ts.as_millisecond())
                .map_err(|_| Diagnostic::at("--from: before 1970", from, 0..from.len()))?
        }
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let mut out = format!(
        "canonical: {cron}
"
    );
    match cron.zone() {
        Some(zone) => {
            let _ = writeln!(out, "zone:      {zone}");
        }
        None => out.push_str(
            "zone:      UTC (no CRON_TZ)
",
        ),
    }
    let _ = writeln!(
        out,
        "next {TICKS} ticks after {}:",
        crate::show::time(after)
    );
    let mut any = false;
    for tick in cron.ticks_after(after).take(TICKS) {
        any = true;
        let utc = crate::show::time(tick);
        match (cron.zone(), cron.local_time(tick)) {
            (Some(_), Some(local)) => {
                let _ = writeln!(out, "  {utc}  {local}");
            }
            _ => {
                let _ = writeln!(out, "  {utc}");
            }
        }
    }
    if !any {
        out.push_str("  none before the year 5000\n");
    }
    Ok(out)
}

/// A duration in canonical delay form (`2m28s413ms`).
pub fn show(d: Duration) -> String {
    Delay::try_from(d).map_or_else(|_| format!("{d:?}"), |delay| delay.to_string())
}

/// Exact decimal seconds: `124200`, `1.5`, `0.000000001`.
fn seconds(nanos: u64) -> String {
    let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if frac == 0 {
        secs.to_string()
    } else {
        let frac = format!("{frac:09}");
        format!("{secs}.{}", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_shows_canonical_and_seconds() {
        assert_eq!(
            delay("30m1d10h").unwrap(),
            "canonical: 1d10h30m\nseconds:   124200\n"
        );
        assert_eq!(
            delay("1.5s").unwrap(),
            "canonical: 1s500ms\nseconds:   1.5\n"
        );
        assert_eq!(
            delay("1ns").unwrap(),
            "canonical: 1ns\nseconds:   0.000000001\n"
        );
    }

    #[test]
    fn delay_error_points_at_the_unit() {
        let err = delay("1d10x").unwrap_err().to_string();
        assert_eq!(
            err,
            "error: invalid delay \"1d10x\": unknown unit \"x\" at byte 4\n  |\n  | 1d10x\n  |     ^"
        );
    }

    #[test]
    fn retry_delay_previews_the_schedule() {
        let out = retry_delay("pow(2, retried) * 1000").unwrap();
        assert!(
            out.starts_with("canonical: pow(2, retried) * 1000\nconstant:  no\n"),
            "{out}"
        );
        assert!(
            out.contains("first 5 retries: 1s, 2s, 4s, 8s, 16s"),
            "{out}"
        );
        let out = retry_delay("1000").unwrap();
        assert!(out.contains("constant:  yes"), "{out}");
        assert!(out.contains("1s, 1s, 1s, 1s, 1s"), "{out}");
    }

    #[test]
    fn retry_delay_error_has_a_caret() {
        let err = retry_delay("2 ^ retried").unwrap_err().to_string();
        assert!(err.contains("pow(x, y)"), "{err}");
        assert!(err.ends_with("  | 2 ^ retried\n  |   ^"), "{err}");
    }

    #[test]
    fn flow_control_explains_each_limit() {
        let out = flow_control("rate=5,parallelism=2").unwrap();
        assert_eq!(
            out,
            "canonical:   parallelism=2, rate=5\n\
             parallelism: at most 2 runs of the key in flight at once\n\
             rate:        at most 5 starts per 1s (the default period)\n"
        );
        let out = flow_control("rate=100, period=60").unwrap();
        assert!(out.contains("at most 100 starts per 1m\n"), "{out}");
    }

    #[test]
    fn cron_lists_ticks_in_utc_and_local_time() {
        let out = cron(
            "CRON_TZ=America/New_York 0 9 * * mon-fri",
            Some("2026-03-06T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            out,
            "canonical: CRON_TZ=America/New_York 0 9 * * MON-FRI\n\
             zone:      America/New_York\n\
             next 5 ticks after 2026-03-06T12:00:00Z:\n  \
             2026-03-06T14:00:00Z  2026-03-06T09:00:00-05:00\n  \
             2026-03-09T13:00:00Z  2026-03-09T09:00:00-04:00\n  \
             2026-03-10T13:00:00Z  2026-03-10T09:00:00-04:00\n  \
             2026-03-11T13:00:00Z  2026-03-11T09:00:00-04:00\n  \
             2026-03-12T13:00:00Z  2026-03-12T09:00:00-04:00\n"
        );
        let out = cron("*/30 * * * *", Some("2026-01-01T00:00:00Z")).unwrap();
        assert!(out.contains("zone:      UTC (no CRON_TZ)\n"), "{out}");
        assert!(out.ends_with("  2026-01-01T02:30:00Z\n"), "{out}");
    }

    #[test]
    fn cron_errors_point_at_the_field() {
        let err = cron("0 25 * * *", None).unwrap_err().to_string();
        assert_eq!(
            err,
            "error: invalid cron \"0 25 * * *\": the hour field \"25\" is out of range 0-23 at \
             byte 2\n  |\n  | 0 25 * * *\n  |   ^^"
        );
        let err = cron("* * * * *", Some("tomorrow")).unwrap_err().to_string();
        assert!(
            err.starts_with("error: --from: not an RFC 3339 time"),
            "{err}"
        );
    }

    #[test]
    fn flow_control_error_has_a_caret() {
        let err = flow_control("parallelism=0").unwrap_err().to_string();
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains("  | parallelism=0\n"), "{err}");
    }
}
