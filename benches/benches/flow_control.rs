//! `Upstash-Flow-Control-Value` parse and display, beside a straightforward
//! `split(',')`/`split_once('=')` parser written here as the baseline (no public crate parses
//! this header), on the same inputs in the same run.
//!
//! The baseline reads the period with `qstash_delay` too, so the comparison is about the
//! structure of the value. Before measuring, the baseline's result is checked against ours.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qstash_delay::Delay;
use qstash_flow_control::FlowControl;

/// (name, input)
const INPUTS: &[(&str, &str)] = &[
    ("canonical", "parallelism=2, rate=5, period=1m"),
    ("reordered-unspaced", "rate=10,period=60,parallelism=1"),
    ("invalid", "parallelism=2, rate=0, period=1m"),
];

/// What the baseline parser produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Baseline {
    parallelism: Option<u32>,
    rate: Option<u32>,
    period: Option<Delay>,
}

const MAX_PERIOD_SECS: u64 = 7 * 24 * 60 * 60;

fn baseline_limit(v: &str) -> Result<u32, &'static str> {
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad number");
    }
    match v.parse::<u32>() {
        Ok(0) => Err("zero"),
        Ok(n) => Ok(n),
        Err(_) => Err("bad number"),
    }
}

fn baseline_period(v: &str) -> Result<Delay, &'static str> {
    let period = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>()
            .ok()
            .and_then(Delay::checked_from_secs)
            .ok_or("period too long")?
    } else {
        v.parse::<Delay>().map_err(|_| "bad period")?
    };
    if period.is_zero() {
        return Err("zero");
    }
    if period > Delay::from_nanos(MAX_PERIOD_SECS * 1_000_000_000) {
        return Err("period too long");
    }
    Ok(period)
}

/// The obvious parser: trim, split on `,`, split each pair on `=`, trim both sides.
fn baseline_parse(s: &str) -> Result<Baseline, &'static str> {
    let s = s.trim_matches([' ', '\t']);
    if s.is_empty() {
        return Err("empty");
    }
    let mut out = Baseline::default();
    for pair in s.split(',') {
        let (key, value) = pair.split_once('=').ok_or("missing =")?;
        let value = value.trim_matches([' ', '\t']);
        match key.trim_matches([' ', '\t']) {
            "parallelism" if out.parallelism.is_none() => {
                out.parallelism = Some(baseline_limit(value)?);
            }
            "rate" if out.rate.is_none() => out.rate = Some(baseline_limit(value)?),
            "period" if out.period.is_none() => out.period = Some(baseline_period(value)?),
            "parallelism" | "rate" | "period" => return Err("duplicate key"),
            _ => return Err("unknown key"),
        }
    }
    if out.parallelism.is_none() && out.rate.is_none() {
        return Err("neither parallelism nor rate");
    }
    Ok(out)
}

/// The obvious display with `write!`.
fn baseline_display(out: &mut String, v: &Baseline) {
    let mut sep = "";
    if let Some(n) = v.parallelism {
        let _ = write!(out, "parallelism={n}");
        sep = ", ";
    }
    if let Some(n) = v.rate {
        let _ = write!(out, "{sep}rate={n}");
        sep = ", ";
    }
    if let Some(p) = v.period {
        let _ = write!(out, "{sep}period={p}");
    }
}

fn as_baseline(v: FlowControl) -> Baseline {
    Baseline {
        parallelism: v.parallelism().map(|n| n.get()),
        rate: v.rate().map(|n| n.get()),
        period: v.period_is_set().then(|| v.period()),
    }
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_control/parse");
    for &(name, input) in INPUTS {
        let ours = FlowControl::parse(input.as_bytes()).ok().map(as_baseline);
        let baseline = baseline_parse(input).ok();
        assert_eq!(ours, baseline, "the baseline reads {input:?} differently");
        group.bench_with_input(
            BenchmarkId::new("qstash-flow-control", name),
            input,
            |b, s| b.iter(|| FlowControl::parse(black_box(s.as_bytes()))),
        );
        group.bench_with_input(BenchmarkId::new("baseline-split", name), input, |b, s| {
            b.iter(|| baseline_parse(black_box(s)))
        });
    }
    group.finish();
}

fn display(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_control/display");
    for &(name, input) in INPUTS {
        let Ok(value) = FlowControl::parse(input.as_bytes()) else {
            continue;
        };
        let baseline = as_baseline(value);
        let mut a = String::new();
        let mut b = String::new();
        write!(a, "{value}").unwrap();
        baseline_display(&mut b, &baseline);
        assert_eq!(a, b, "displays differ for {input:?}");
        let mut out = String::with_capacity(128);
        group.bench_with_input(
            BenchmarkId::new("qstash-flow-control", name),
            &value,
            |bench, v| {
                bench.iter(|| {
                    out.clear();
                    write!(out, "{}", black_box(v)).unwrap();
                    out.len()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("baseline-split", name),
            &baseline,
            |bench, v| {
                bench.iter(|| {
                    out.clear();
                    baseline_display(&mut out, black_box(v));
                    out.len()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, parse, display);
criterion_main!(benches);
