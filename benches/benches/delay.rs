//! `Upstash-Delay` parse and display, beside `humantime`, `jiff` (friendly format) and
//! `go-parse-duration` on the same inputs in the same run.
//!
//! Peers without days (`jiff`'s `SignedDuration`, `go-parse-duration`) get the same length in
//! hours (`1d10h30m` → `34h30m`); `humantime` has no fractions, so it gets `1h30m` for `1.5h`.
//! Before measuring, every peer's result is checked against ours, so a peer is only timed on
//! inputs it reads the same way (or, for the invalid input, rejects too).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qstash_delay::Delay;

/// (name, our input, spelling for peers without days or fractions)
const INPUTS: &[(&str, &str, &str)] = &[
    ("50s", "50s", "50s"),
    ("1d10h30m", "1d10h30m", "34h30m"),
    ("1.5h", "1.5h", "1h30m"),
    ("all-units", "1d1h1m1s1ms1us1ns", "25h1m1s1ms1us1ns"),
    (
        "long-128B",
        "1h2m3s4ms5us6ns7h8m9s10ms11us12ns13h14m15s16ms17us18ns19h20m21s22ms23us24ns25h26m27s28ms29us30ns31h32m33s34ms35us36ns37h38m39s40ms",
        "1h2m3s4ms5us6ns7h8m9s10ms11us12ns13h14m15s16ms17us18ns19h20m21s22ms23us24ns25h26m27s28ms29us30ns31h32m33s34ms35us36ns37h38m39s40ms",
    ),
    ("invalid", "1d10x", "34h10x"),
];

type Peer = fn(&str) -> Option<u128>;

fn humantime(s: &str) -> Option<u128> {
    humantime::parse_duration(s).ok().map(|d| d.as_nanos())
}

fn jiff_friendly(s: &str) -> Option<u128> {
    static PARSER: jiff::fmt::friendly::SpanParser = jiff::fmt::friendly::SpanParser::new();
    PARSER
        .parse_duration(s)
        .ok()
        .and_then(|d| u128::try_from(d.as_nanos()).ok())
}

fn go_parse_duration(s: &str) -> Option<u128> {
    go_parse_duration::parse_duration(s)
        .ok()
        .and_then(|n| u128::try_from(n).ok())
}

const PEERS: &[(&str, Peer)] = &[
    ("humantime", humantime),
    ("jiff", jiff_friendly),
    ("go-parse-duration", go_parse_duration),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("delay/parse");
    for &(name, ours, peer_input) in INPUTS {
        let expected = Delay::parse(ours.as_bytes())
            .ok()
            .map(|d| u128::from(d.as_nanos()));
        group.bench_with_input(BenchmarkId::new("qstash-delay", name), ours, |b, s| {
            b.iter(|| Delay::parse(black_box(s.as_bytes())))
        });
        for &(peer, f) in PEERS {
            // Give each peer the spelling it can read, if any reads it like ours.
            let input = [ours, peer_input].into_iter().find(|s| f(s) == expected);
            match input {
                Some(input) => {
                    group.bench_with_input(BenchmarkId::new(peer, name), input, |b, s| {
                        b.iter(|| f(black_box(s)))
                    });
                }
                None => eprintln!(
                    "note: {peer} does not read {ours:?} or {peer_input:?} as we do; not timed"
                ),
            }
        }
    }
    group.finish();
}

fn display(c: &mut Criterion) {
    let mut group = c.benchmark_group("delay/display");
    for &(name, ours, _) in INPUTS {
        let Ok(delay) = Delay::parse(ours.as_bytes()) else {
            continue;
        };
        let duration = Duration::from(delay);
        group.bench_with_input(BenchmarkId::new("qstash-delay", name), &delay, |b, d| {
            b.iter(|| black_box(d).to_string())
        });
        // The same formatting into a reused buffer: what display costs without the
        // allocator (the figure above includes one allocation and one free).
        let mut buf = String::with_capacity(64);
        group.bench_with_input(
            BenchmarkId::new("qstash-delay-reused-buf", name),
            &delay,
            |b, d| {
                b.iter(|| {
                    buf.clear();
                    let _ = write!(buf, "{}", black_box(d));
                    black_box(buf.len())
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("humantime", name), &duration, |b, d| {
            b.iter(|| humantime::format_duration(*black_box(d)).to_string())
        });
        let signed = jiff::SignedDuration::try_from(duration).expect("fits");
        group.bench_with_input(BenchmarkId::new("jiff", name), &signed, |b, d| {
            b.iter(|| format!("{:#}", black_box(d)))
        });
        group.bench_with_input(
            BenchmarkId::new("humantime-reused-buf", name),
            &duration,
            |b, d| {
                b.iter(|| {
                    buf.clear();
                    let _ = write!(buf, "{}", humantime::format_duration(*black_box(d)));
                    black_box(buf.len())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("jiff-reused-buf", name),
            &signed,
            |b, d| {
                b.iter(|| {
                    buf.clear();
                    let _ = write!(buf, "{:#}", black_box(d));
                    black_box(buf.len())
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, parse, display);
criterion_main!(benches);
