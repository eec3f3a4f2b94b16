//! `Upstash-Cron` parse and next tick, beside `croner` (the crate `qstash-cron` evaluates
//! with) used directly on the same five fields in the same run.
//!
//! `qstash-cron` adds the field checks, the `CRON_TZ=` zone lookup and the canonical form to
//! parsing, and the millisecond conversion to the next-tick search; the peer figures are what
//! those cost on top. Before measuring, croner's answers are checked against ours.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use croner::parser::{CronParser, Seconds, Year};
use qstash_cron::Cron;

/// (name, our input, the zone, croner's input)
const INPUTS: &[(&str, &str, Option<&str>, &str)] = &[
    ("every-minute", "* * * * *", None, "* * * * *"),
    ("weekdays-9am", "0 9 * * MON-FRI", None, "0 9 * * 1-5"),
    (
        "lists-steps",
        "0-59/7 */5 1,15,31 JAN-JUN/2 FRI-SUN",
        None,
        "0-59/7 */5 1,15,31 1-6/2 5-7",
    ),
    (
        "new-york-2:30",
        "CRON_TZ=America/New_York 30 2 * * *",
        Some("America/New_York"),
        "30 2 * * *",
    ),
];

/// 2026-03-07T12:00:00Z, a day before New York's spring-forward.
const AFTER_MS: u64 = 1_772_884_800_000;

fn croner_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// croner's next tick after `after_ms`, in the zone if any.
fn croner_next(cron: &croner::Cron, zone: Option<Tz>, after_ms: u64) -> Option<u64> {
    let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
    let next = match zone {
        Some(zone) => cron
            .find_next_occurrence(&after.with_timezone(&zone), false)
            .ok()?
            .timestamp_millis(),
        None => cron
            .find_next_occurrence(&after, false)
            .ok()?
            .timestamp_millis(),
    };
    u64::try_from(next).ok()
}

fn parse(c: &mut Criterion) {
    let parser = croner_parser();
    let mut group = c.benchmark_group("cron/parse");
    for &(name, ours, _, peer) in INPUTS {
        group.bench_with_input(BenchmarkId::new("qstash-cron", name), ours, |b, s| {
            b.iter(|| Cron::parse(black_box(s)))
        });
        group.bench_with_input(BenchmarkId::new("croner", name), peer, |b, s| {
            b.iter(|| parser.parse(black_box(s)))
        });
    }
    group.finish();
}

fn next_tick(c: &mut Criterion) {
    let parser = croner_parser();
    let mut group = c.benchmark_group("cron/next");
    for &(name, ours, zone, peer) in INPUTS {
        let cron = Cron::parse(ours).expect("ours parses");
        let peer_cron = parser.parse(peer).expect("croner parses");
        let zone: Option<Tz> = zone.map(|z| z.parse().expect("zone"));
        let expected = cron.next_after(AFTER_MS);
        assert!(expected.is_some(), "{ours}");
        assert_eq!(croner_next(&peer_cron, zone, AFTER_MS), expected, "{ours}");
        group.bench_with_input(BenchmarkId::new("qstash-cron", name), &cron, |b, cron| {
            b.iter(|| cron.next_after(black_box(AFTER_MS)))
        });
        group.bench_with_input(
            BenchmarkId::new("croner", name),
            &peer_cron,
            |b, peer_cron| b.iter(|| croner_next(peer_cron, zone, black_box(AFTER_MS))),
        );
    }
    group.finish();
}

criterion_group!(benches, parse, next_tick);
criterion_main!(benches);
