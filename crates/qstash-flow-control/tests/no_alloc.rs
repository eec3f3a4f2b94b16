//! Parsing a valid value and displaying it into a buffer allocate nothing: a counting global
//! allocator watches them.
//!
//! This file holds a single test, so that no other test of the same binary allocates while it
//! counts.

use std::alloc::System;
use std::fmt::Write;
use std::hint::black_box;

use qstash_flow_control::FlowControl;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const VALID: [&str; 8] = [
    "parallelism=2, rate=5, period=1m",
    "rate=10,parallelism=1",
    "parallelism=1",
    "rate=100, period=60",
    " period = 1h30m1.5s ,\trate=4294967295 ",
    "rate=1, period=6d23h59m59s999ms999us999ns",
    "rate=1, period=168h",
    "parallelism=007,rate=1,period=2µs",
];

#[test]
fn parse_and_display_allocate_nothing() {
    let values: Vec<FlowControl> = VALID.iter().map(|v| v.parse().unwrap()).collect();
    let mut out = String::with_capacity(1 << 16);

    // The check is meaningful: an error is seen allocating, once for its quote of the input;
    // a bad period twice, the delay parser's error quoting the period too.
    let region = Region::new(GLOBAL);
    let err = black_box(FlowControl::parse(black_box(b"rate=0")));
    assert_eq!(region.change().allocations, 1, "one allocation per error");
    drop(err);
    let region = Region::new(GLOBAL);
    let err = black_box(FlowControl::parse(black_box(b"rate=1, period=1x")));
    assert_eq!(region.change().allocations, 2);
    drop(err);

    let region = Region::new(GLOBAL);
    let mut ok = 0;
    for _ in 0..10 {
        for input in VALID {
            ok += usize::from(FlowControl::parse(black_box(input.as_bytes())).is_ok());
        }
        for value in &values {
            write!(out, "{value}|{value:>80}|").unwrap();
        }
    }
    let change = region.change();
    assert_eq!(change.allocations, 0, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert_eq!(ok, 10 * VALID.len());
    assert!(
        out.starts_with("parallelism=2, rate=5, period=1m|"),
        "{out}"
    );
}
