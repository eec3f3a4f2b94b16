//! Ticks across both daylight-saving changes of 2026 in America/New_York and Europe/Berlin.
//!
//! New York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
//! Berlin:   2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.

use chrono::{DateTime, SecondsFormat, Utc};
use qstash_cron::Cron;

/// Milliseconds since the epoch of an RFC 3339 time.
fn ms(s: &str) -> u64 {
    let t = DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    u64::try_from(t.timestamp_millis()).unwrap()
}

/// The first `n` ticks after `from`, in UTC and in the schedule's zone.
fn ticks(expr: &str, from: &str, n: usize) -> Vec<(String, String)> {
    let cron = Cron::parse(expr).unwrap();
    cron.ticks_after(ms(from))
        .take(n)
        .map(|t| {
            let utc = DateTime::<Utc>::from_timestamp_millis(i64::try_from(t).unwrap()).unwrap();
            (
                utc.to_rfc3339_opts(SecondsFormat::Secs, true),
                cron.local_time(t).unwrap(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn new_york_spring_forward_fixed_time_fires_after_the_gap() {
    assert_eq!(
        ticks(
            "CRON_TZ=America/New_York 30 2 * * *",
            "2026-03-07T12:00:00Z",
            3
        ),
        pairs(&[
            ("2026-03-08T07:00:00Z", "2026-03-08T03:00:00-04:00"),
            ("2026-03-09T06:30:00Z", "2026-03-09T02:30:00-04:00"),
            ("2026-03-10T06:30:00Z", "2026-03-10T02:30:00-04:00"),
        ])
    );
}

#[test]
fn new_york_spring_forward_intervals_skip_the_gap() {
    assert_eq!(
        ticks(
            "CRON_TZ=America/New_York */30 * * * *",
            "2026-03-08T06:00:00Z",
            3
        ),
        pairs(&[
            ("2026-03-08T06:30:00Z", "2026-03-08T01:30:00-05:00"),
            ("2026-03-08T07:00:00Z", "2026-03-08T03:00:00-04:00"),
            ("2026-03-08T07:30:00Z", "2026-03-08T03:30:00-04:00"),
        ])
    );
}

#[test]
fn new_york_fall_back_fixed_time_fires_once() {
    assert_eq!(
        ticks(
            "CRON_TZ=America/New_York 30 1 * * *",
            "2026-11-01T04:00:00Z",
            2
        ),
        pairs(&[
            ("2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"),
            ("2026-11-02T06:30:00Z", "2026-11-02T01:30:00-05:00"),
        ])
    );
    // Asked again from inside the repeated hour, it does not fire a second time that day.
    let cron = Cron::parse("CRON_TZ=America/New_York 30 1 * * *").unwrap();
    assert_eq!(
        cron.next_after(ms("2026-11-01T06:15:00Z")),
        Some(ms("2026-11-02T06:30:00Z"))
    );
}

#[test]
fn new_york_fall_back_intervals_fire_in_both_passes() {
    assert_eq!(
        ticks(
            "CRON_TZ=America/New_York 0,30 * * * *",
            "2026-11-01T05:00:00Z",
            4
        ),
        pairs(&[
            ("2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"),
            ("2026-11-01T06:00:00Z", "2026-11-01T01:00:00-05:00"),
            ("2026-11-01T06:30:00Z", "2026-11-01T01:30:00-05:00"),
            ("2026-11-01T07:00:00Z", "2026-11-01T02:00:00-05:00"),
        ])
    );
}

#[test]
fn berlin_spring_forward() {
    assert_eq!(
        ticks(
            "CRON_TZ=Europe/Berlin 30 2 * * *",
            "2026-03-28T12:00:00Z",
            2
        ),
        pairs(&[
            ("2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00"),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00+02:00"),
        ])
    );
    assert_eq!(
        ticks("CRON_TZ=Europe/Berlin 0 * * * *", "2026-03-29T00:00:00Z", 3),
        pairs(&[
            ("2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00"),
            ("2026-03-29T02:00:00Z", "2026-03-29T04:00:00+02:00"),
            ("2026-03-29T03:00:00Z", "2026-03-29T05:00:00+02:00"),
        ])
    );
}

#[test]
fn berlin_fall_back() {
    assert_eq!(
        ticks(
            "CRON_TZ=Europe/Berlin 30 2 * * *",
            "2026-10-24T12:00:00Z",
            2
        ),
        pairs(&[
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00"),
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00+01:00"),
        ])
    );
    assert_eq!(
        ticks(
            "CRON_TZ=Europe/Berlin */30 2 * * *",
            "2026-10-24T23:45:00Z",
            4
        ),
        pairs(&[
            ("2026-10-25T00:00:00Z", "2026-10-25T02:00:00+02:00"),
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00"),
            ("2026-10-25T01:00:00Z", "2026-10-25T02:00:00+01:00"),
            ("2026-10-25T01:30:00Z", "2026-10-25T02:30:00+01:00"),
        ])
    );
}

#[test]
fn utc_without_prefix_and_the_same_in_a_zone() {
    assert_eq!(
        ticks("0 9 * * MON-FRI", "2026-03-06T12:00:00Z", 2),
        pairs(&[
            ("2026-03-09T09:00:00Z", "2026-03-09T09:00:00+00:00"),
            ("2026-03-10T09:00:00Z", "2026-03-10T09:00:00+00:00"),
        ])
    );
    assert_eq!(
        ticks(
            "CRON_TZ=America/New_York 0 9 * * MON-FRI",
            "2026-03-06T12:00:00Z",
            2
        ),
        pairs(&[
            ("2026-03-06T14:00:00Z", "2026-03-06T09:00:00-05:00"),
            ("2026-03-09T13:00:00Z", "2026-03-09T09:00:00-04:00"),
        ])
    );
}

#[test]
fn instants_beyond_the_calendar_have_no_tick() {
    let cron = Cron::parse("* * * * *").unwrap();
    assert_eq!(cron.next_after(u64::MAX), None);
    assert_eq!(cron.ticks_after(u64::MAX).next(), None);
    assert_eq!(cron.local_time(u64::MAX), None);
    // The cron crate searches up to the year 5000.
    let leap = Cron::parse("0 0 29 2 *").unwrap();
    assert_eq!(leap.next_after(ms("4999-01-01T00:00:00Z")), None);
}
