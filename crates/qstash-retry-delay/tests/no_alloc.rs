//! `eval` and `delay` allocate nothing: a counting global allocator watches them.
//!
//! This file holds a single test, so that no other test of the same binary allocates while
//! it counts. The test harness's own thread may still allocate at any moment, so each
//! measured region runs up to three times and the quietest run counts: an allocation of the
//! code under test shows in every run, a stray one of another thread in one.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use qstash_retry_delay::{Limits, RetryDelay};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Runs `f` up to three times and returns the allocator's change over the quietest run
/// (the first whose allocations are at most `expected`, else the last).
fn quietest(expected: usize, mut f: impl FnMut()) -> stats_alloc::Stats {
    let mut change = stats_alloc::Stats::default();
    for _ in 0..3 {
        let region = Region::new(GLOBAL);
        f();
        change = region.change();
        if change.allocations <= expected && change.reallocations == 0 {
            break;
        }
    }
    change
}

#[test]
fn eval_and_delay_allocate_nothing() {
    let huge = Limits::default().with_max_len(1 << 20);
    let deep_stack = format!(
        "{}retried{}",
        "max(sqrt(retried), sqrt(retried) + sqrt(retried) * ".repeat(40),
        ")".repeat(40)
    );
    let sources = [
        "1000",
        "1000 * (1 + retried)",
        "pow(2, retried) * 1000",
        "max(1000, pow(2, retried) * 100)",
        "max(10, pow(2, retried))",
        RetryDelay::DEFAULT_BACKOFF,
        "retried * 2 + sqrt(retried) - pow(retried, 1.5) % 7 + round(retried / 3)",
        "sqrt(retried - 3)",
        deep_stack.as_str(),
    ];
    let programs: Vec<RetryDelay> = sources
        .iter()
        .map(|s| RetryDelay::compile_with(s, huge).unwrap())
        .collect();
    let cap = Duration::from_secs(60);

    // The check is meaningful: compiling a long program is seen allocating it.
    let region = Region::new(GLOBAL);
    let compiled = black_box(RetryDelay::compile(black_box(RetryDelay::DEFAULT_BACKOFF)).unwrap());
    assert!(region.change().allocations > 0, "the allocator counts");
    drop(compiled);

    // An error costs one allocation: its quote of the source (freed within the run).
    let change = quietest(1, || {
        drop(black_box(RetryDelay::compile(black_box("2 ^ retried"))))
    });
    assert_eq!(change.allocations, 1, "one allocation per error");

    // A short program lives inline: once the thread's scratch buffer exists, compiling it
    // allocates nothing either.
    let mut short = None;
    let change = quietest(0, || {
        short = Some(black_box(
            RetryDelay::compile(black_box("max(1000, pow(2, retried) * 100)")).unwrap(),
        ));
    });
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "{change:?}"
    );
    assert_eq!(short.expect("compiled").eval(5), 3200.0);

    let mut sum = 0.0f64;
    let mut ok = 0u32;
    let change = quietest(0, || {
        for program in &programs {
            for retried in (0..=64).chain([1000, 5000, u32::MAX]) {
                sum += black_box(program).eval(black_box(retried));
                ok += u32::from(black_box(program).delay(black_box(retried)).is_ok());
                ok += u32::from(
                    black_box(program)
                        .delay_with_cap(black_box(retried), cap)
                        .is_ok(),
                );
                // A NaN error is built without allocating too.
                if let Err(e) = program.delay(retried) {
                    black_box(e);
                }
            }
            for delay in program.schedule(20) {
                ok += u32::from(black_box(delay).is_ok());
            }
            // Cloning shares the program.
            let clone = black_box(program.clone());
            sum += clone.eval(3);
        }
    });
    black_box((sum, ok));
    assert_eq!(change.allocations, 0, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert_eq!(change.bytes_allocated, 0, "{change:?}");
}
