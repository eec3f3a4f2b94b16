//! Every example of the crate docs' grammar, every error kind, the limits and the public
//! API's promises.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use qstash_retry_delay::{CompileError, ErrorKind, EvalError, Limits, RetryDelay};

fn compile(s: &str) -> RetryDelay {
    RetryDelay::compile(s).unwrap_or_else(|e| panic!("{s:?} should compile: {e}"))
}

/// The values of `s` for `retried = 0..=10`.
fn values(s: &str) -> Vec<f64> {
    let p = compile(s);
    (0..=10).map(|n| p.eval(n)).collect()
}

#[test]
fn upstream_examples_exact_values() {
    assert_eq!(values("1000"), [1000.0; 11]);
    assert_eq!(
        values("1000 * (1 + retried)"),
        [
            1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0, 8000.0, 9000.0, 10000.0,
            11000.0
        ]
    );
    assert_eq!(
        values("pow(2, retried) * 1000"),
        [
            1e3, 2e3, 4e3, 8e3, 16e3, 32e3, 64e3, 128e3, 256e3, 512e3, 1024e3
        ]
    );
    assert_eq!(
        values("max(1000, pow(2, retried) * 100)"),
        [
            1000.0, 1000.0, 1000.0, 1000.0, 1600.0, 3200.0, 6400.0, 12800.0, 25600.0, 51200.0,
            102400.0
        ]
    );
    assert_eq!(
        values("max(10, pow(2, retried))"),
        [
            10.0, 10.0, 10.0, 10.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0
        ]
    );
}

#[test]
fn upstream_examples_as_delays() {
    let p = compile("max(1000, pow(2, retried) * 100)");
    let delays: Vec<u64> = p
        .schedule(8)
        .map(|d| d.unwrap().as_millis() as u64)
        .collect();
    assert_eq!(delays, [1000, 1000, 1000, 1000, 1600, 3200, 6400, 12800]);
    // 2^20 s is past a day: capped.
    assert_eq!(
        compile("pow(2, retried) * 1000").delay(20),
        Ok(RetryDelay::DEFAULT_CAP)
    );
    assert_eq!(compile("1000").delay(u32::MAX), Ok(Duration::from_secs(1)));
}

#[test]
fn default_backoff_matches_the_upstream_description() {
    let p = RetryDelay::default_backoff();
    assert_eq!(p.as_str(), RetryDelay::DEFAULT_BACKOFF);
    assert_eq!(p, compile("min(86400, exp(2.5 * (retried + 1))) * 1000"));
    for n in 0..=30u32 {
        let expected = (2.5 * (f64::from(n) + 1.0)).exp().min(86400.0) * 1000.0;
        assert_eq!(p.eval(n), expected, "retried = {n}");
    }
    // About 12 s, 2m28s, 30m8s, 6h7m, then a day.
    let ms: Vec<u128> = p.schedule(6).map(|d| d.unwrap().as_millis()).collect();
    assert_eq!(
        ms,
        [
            12_182, 148_413, 1_808_042, 22_026_466, 86_400_000, 86_400_000
        ]
    );
    assert_eq!(RetryDelay::default(), p);
}

#[test]
fn functions_and_operators() {
    let v = |s: &str, n: u32| compile(s).eval(n);
    assert_eq!(v("pow(3, retried)", 4), 81.0);
    assert_eq!(v("pow(retried, 0.5)", 9), 3.0);
    assert_eq!(v("exp(retried)", 0), 1.0);
    assert_eq!(v("exp(retried)", 1), std::f64::consts::E);
    assert_eq!(v("sqrt(retried)", 16), 4.0);
    assert_eq!(v("abs(1 - retried)", 5), 4.0);
    assert_eq!(v("floor(retried / 2)", 5), 2.0);
    assert_eq!(v("ceil(retried / 2)", 5), 3.0);
    assert_eq!(v("round(retried / 2)", 5), 3.0, "2.5 rounds away from zero");
    assert_eq!(
        v("round(-retried / 2)", 5),
        -3.0,
        "-2.5 rounds away from zero"
    );
    assert_eq!(v("min(retried, 3)", 5), 3.0);
    assert_eq!(v("max(retried, 3)", 5), 5.0);
    assert_eq!(v("retried % 3", 7), 1.0);
    assert_eq!(v("-retried % 3", 7), -1.0, "fmod keeps the dividend's sign");
    assert_eq!(v("7.5 % retried", 2), 1.5);
    assert_eq!(v("1 + 2 * 3 - 4 / 2", 0), 5.0, "precedence");
    assert_eq!(v("2 * 3 % 4", 0), 2.0, "left to right");
    assert_eq!(v("10 - 2 - 3", 0), 5.0, "left associative");
    assert_eq!(v("-2 * -retried", 3), 6.0);
    assert_eq!(v("+-+-retried", 3), 3.0);
    assert_eq!(
        v("\t retried\n*\r2 ", 3),
        6.0,
        "ASCII whitespace between tokens"
    );
    assert_eq!(v("1e3 * .5 + 1.e1 + 2E-1", 0), 510.2);
    assert_eq!(v(".5e-3 + 1.E+2 + 1.", 0), 101.0005);
    assert_eq!(
        v(&format!("{}e-300", "1".repeat(320)), 0),
        1.111_111_111_111_111e19
    );
    assert_eq!(v("123456789012345678", 0), 123_456_789_012_345_678.0);
}

#[test]
fn ieee_edge_cases_never_error() {
    let v = |s: &str| compile(s).eval(0);
    assert_eq!(v("1 / retried"), f64::INFINITY);
    assert_eq!(v("-1 / retried"), f64::NEG_INFINITY);
    assert!(v("retried / retried").is_nan());
    assert!(v("sqrt(retried - 1)").is_nan());
    assert!(
        v("max(1, 0 / 0)").is_nan(),
        "max is NaN when either argument is"
    );
    assert!(
        v("min(0 / 0, 1)").is_nan(),
        "min is NaN when either argument is"
    );
    assert!(v("1 % retried").is_nan());
    assert_eq!(v("1e308 * 10"), f64::INFINITY);
    assert_eq!(v("max(-0, 0)").to_bits(), 0.0f64.to_bits());
    assert_eq!(v("min(0, -0)").to_bits(), (-0.0f64).to_bits());
    // A literal below the smallest subnormal fits (it is 0); only overflow is an error.
    assert_eq!(v("1e-400"), 0.0);
}

#[test]
fn delay_follows_spec_3_2() {
    let p = compile("retried - 5.5");
    assert_eq!(p.delay(0), Ok(Duration::ZERO), "negative gives zero");
    assert_eq!(
        p.delay(6),
        Ok(Duration::from_millis(1)),
        "0.5 rounds away from zero"
    );
    assert_eq!(p.delay(10), Ok(Duration::from_millis(5)), "4.5 rounds to 5");
    let nan = compile("sqrt(-1 - retried)");
    assert_eq!(nan.delay(3), Err(EvalError::NotANumber { retried: 3 }));
    assert_eq!(compile("1 / retried").delay(0), Ok(RetryDelay::DEFAULT_CAP));
    assert_eq!(compile("-1 / retried").delay(0), Ok(Duration::ZERO));
    let cap = Duration::from_millis(1500);
    let linear = compile("1000 * retried");
    assert_eq!(linear.delay_with_cap(1, cap), Ok(Duration::from_secs(1)));
    assert_eq!(linear.delay_with_cap(2, cap), Ok(cap));
    assert_eq!(
        linear.delay_with_cap(u32::MAX, Duration::MAX),
        Ok(Duration::from_millis(4_294_967_295_000))
    );
}

#[test]
fn schedule_is_exact_size_and_reversible() {
    let p = compile("retried * 1000");
    let mut s = p.schedule(4);
    assert_eq!(s.len(), 4);
    assert_eq!(s.next_back(), Some(Ok(Duration::from_secs(3))));
    assert_eq!(s.next(), Some(Ok(Duration::ZERO)));
    assert_eq!(s.len(), 2);
    assert_eq!(s.by_ref().count(), 2);
    assert_eq!(s.next(), None);
    assert_eq!(p.schedule(0).count(), 0);
}

#[test]
fn constants_fold() {
    assert!(compile("1000").is_constant());
    assert!(compile("max(1000, pow(2, 10) * 100) + sqrt(16)").is_constant());
    assert_eq!(
        compile("max(1000, pow(2, 10) * 100) + sqrt(16)").program_len(),
        1
    );
    assert!(!compile("retried").is_constant());
    assert!(
        !compile("retried * 0").is_constant(),
        "not simplified: 0 * inf is NaN"
    );
    assert!(compile("retried * 0").eval(7) == 0.0);
}

#[test]
fn display_is_the_source_and_equality_follows_it() {
    let src = "max( 1000 ,pow(2,retried)*100 )";
    let p = compile(src);
    assert_eq!(p.to_string(), src);
    assert_eq!(p.as_str(), src);
    assert_eq!(AsRef::<str>::as_ref(&p), src);
    assert_eq!(format!("[{p:>34}]"), format!("[{src:>34}]"));
    assert_eq!(src.parse::<RetryDelay>().unwrap(), p);
    assert_eq!(RetryDelay::try_from(src).unwrap(), p);
    assert_eq!(RetryDelay::compile_bytes(src.as_bytes()).unwrap(), p);
    // Same value, other spelling: not equal, since the source is what travels.
    let other = compile("max(1000, pow(2, retried) * 100)");
    assert_ne!(p, other);
    let set: HashSet<RetryDelay> = [p.clone(), other.clone(), p.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    let debug = format!("{p:?}");
    assert!(debug.contains("max( 1000"), "{debug}");
}

#[test]
fn clones_are_cheap_and_shareable() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + Eq + std::hash::Hash>() {}
    assert_traits::<RetryDelay>();
    fn assert_error<T: std::error::Error + Clone + PartialEq + Eq + Send + Sync + 'static>() {}
    assert_error::<CompileError>();
    assert_error::<EvalError>();

    let long = compile(RetryDelay::DEFAULT_BACKOFF);
    let short = compile("retried");
    for p in [long, short] {
        let q = p.clone();
        assert_eq!(p, q);
        let handle = std::thread::spawn(move || q.eval(3));
        assert_eq!(handle.join().unwrap().to_bits(), p.eval(3).to_bits());
    }
}

#[track_caller]
fn fails(input: &str, kind: ErrorKind, offset: usize, message: &str) {
    let err = RetryDelay::compile(input).unwrap_err();
    assert_eq!(err.kind(), kind, "kind for {input:?}: {err}");
    assert_eq!(err.offset(), offset, "offset for {input:?}: {err}");
    assert_eq!(err.to_string(), message, "message for {input:?}");
    assert!(err.span().end <= input.len().max(err.offset()));
}

#[test]
fn every_error_kind() {
    fails(
        "",
        ErrorKind::Empty,
        0,
        r#"invalid retry delay "": empty expression"#,
    );
    fails(
        " \t",
        ErrorKind::Empty,
        0,
        r#"invalid retry delay " \t": empty expression"#,
    );
    fails(
        &"1".repeat(1025),
        ErrorKind::TooLong,
        1024,
        &format!(
            r#"invalid retry delay "{}…": too long: 1025 bytes, the limit is 1024 at byte 1024"#,
            "1".repeat(128)
        ),
    );
    fails(
        &format!("{}1{}", "(".repeat(65), ")".repeat(65)),
        ErrorKind::TooDeep,
        64,
        &format!(
            r#"invalid retry delay "{}1{}…": parentheses nest deeper than 64 levels at byte 64"#,
            "(".repeat(65),
            ")".repeat(62)
        ),
    );
    fails(
        "1 + #",
        ErrorKind::UnexpectedCharacter,
        4,
        r##"invalid retry delay "1 + #": unexpected character "#" (expected a number, `retried`, a function call or `(`) at byte 4"##,
    );
    fails(
        "(1 2)",
        ErrorKind::UnexpectedCharacter,
        3,
        r#"invalid retry delay "(1 2)": unexpected character "2" (expected `)` or an operator) at byte 3"#,
    );
    fails(
        "max(1 2)",
        ErrorKind::UnexpectedCharacter,
        6,
        r#"invalid retry delay "max(1 2)": unexpected character "2" (expected `,` or an operator) at byte 6"#,
    );
    fails(
        "1e+",
        ErrorKind::UnexpectedEnd,
        3,
        r#"invalid retry delay "1e+": unexpected end (expected a digit of the exponent) at byte 3"#,
    );
    fails(
        ".e5",
        ErrorKind::UnexpectedCharacter,
        1,
        r#"invalid retry delay ".e5": unexpected character "e" (expected a digit) at byte 1"#,
    );
    fails(
        "1 +",
        ErrorKind::UnexpectedEnd,
        3,
        r#"invalid retry delay "1 +": unexpected end (expected a number, `retried`, a function call or `(`) at byte 3"#,
    );
    fails(
        "max(1, 2",
        ErrorKind::UnexpectedEnd,
        8,
        r#"invalid retry delay "max(1, 2": unexpected end (expected `)` or an operator) at byte 8"#,
    );
    fails(
        "sqrt 4",
        ErrorKind::UnexpectedCharacter,
        5,
        r#"invalid retry delay "sqrt 4": unexpected character "4" (expected `(` after the function name) at byte 5"#,
    );
    fails(
        "log(retried)",
        ErrorKind::UnknownName,
        0,
        r#"invalid retry delay "log(retried)": unknown name "log" (valid names: retried, pow, exp, sqrt, abs, floor, ceil, round, min, max) at byte 0"#,
    );
    fails(
        "Retried",
        ErrorKind::UnknownName,
        0,
        r#"invalid retry delay "Retried": unknown name "Retried" (valid names: retried, pow, exp, sqrt, abs, floor, ceil, round, min, max) at byte 0"#,
    );
    fails(
        "pow(2)",
        ErrorKind::WrongArity,
        0,
        r#"invalid retry delay "pow(2)": pow takes 2 arguments, got 1 at byte 0"#,
    );
    fails(
        "1 + abs(1, 2, 3)",
        ErrorKind::WrongArity,
        4,
        r#"invalid retry delay "1 + abs(1, 2, 3)": abs takes 1 argument, got 3 at byte 4"#,
    );
    fails(
        "min()",
        ErrorKind::WrongArity,
        0,
        r#"invalid retry delay "min()": min takes 2 arguments, got 0 at byte 0"#,
    );
    fails(
        "2 ^ retried",
        ErrorKind::PowerOperator,
        2,
        r#"invalid retry delay "2 ^ retried": "^" is not an operator, use pow(x, y) at byte 2"#,
    );
    fails(
        "2**retried",
        ErrorKind::PowerOperator,
        1,
        r#"invalid retry delay "2**retried": "**" is not an operator, use pow(x, y) at byte 1"#,
    );
    fails(
        "1e400",
        ErrorKind::LiteralOutOfRange,
        0,
        r#"invalid retry delay "1e400": literal "1e400" does not fit a finite f64 at byte 0"#,
    );
    fails(
        "1 2",
        ErrorKind::TrailingInput,
        2,
        r#"invalid retry delay "1 2": unexpected "2" after a complete expression (expected an operator or the end) at byte 2"#,
    );
    fails(
        "retried)",
        ErrorKind::TrailingInput,
        7,
        r#"invalid retry delay "retried)": unexpected ")" after a complete expression (expected an operator or the end) at byte 7"#,
    );
}

#[test]
fn error_spans_and_details() {
    let err = RetryDelay::compile("max(1, log(retried))").unwrap_err();
    assert_eq!(err.span(), 7..10);
    let err = RetryDelay::compile("1 + pow(2, 3, 4)").unwrap_err();
    assert_eq!(err.span(), 4..16, "the whole call");
    let err = RetryDelay::compile("1 + 1e999").unwrap_err();
    assert_eq!(err.span(), 4..9, "the whole literal");
    let err = RetryDelay::compile("1 + µ").unwrap_err();
    assert_eq!(err.span(), 4..6, "a whole UTF-8 character");
    assert_eq!(
        err.to_string(),
        r#"invalid retry delay "1 + µ": unexpected character "µ" (expected a number, `retried`, a function call or `(`) at byte 4"#
    );
    let err = RetryDelay::compile_bytes(b"1 + \xff\xfe").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedCharacter);
    assert_eq!(err.span(), 4..5);
    assert_eq!(
        err.to_string(),
        "invalid retry delay \"1 + \u{fffd}\u{fffd}\": unexpected character \"\u{fffd}\" (expected a number, `retried`, a function call or `(`) at byte 4"
    );
    let err = RetryDelay::compile("\"\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid retry delay "\"\n": unexpected character "\"" (expected a number, `retried`, a function call or `(`) at byte 0"#,
        "quotes and control characters are escaped"
    );
    assert_eq!(
        ErrorKind::WrongArity.to_string(),
        "wrong number of arguments"
    );
}

#[test]
fn depth_limit_is_exact() {
    let nested = |n: usize| format!("{}retried{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(compile(&nested(64)).eval(5), 5.0);
    assert_eq!(
        RetryDelay::compile(&nested(65)).unwrap_err().kind(),
        ErrorKind::TooDeep
    );
    let calls = |n: usize| format!("{}retried{}", "abs(".repeat(n), ")".repeat(n));
    assert_eq!(compile(&calls(64)).eval(5), 5.0);
    let err = RetryDelay::compile(&calls(65)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooDeep);
    assert_eq!(err.offset(), 64 * 4 + 3, "the `(` that goes too deep");
    // Signs do not nest: they are counted.
    assert_eq!(
        compile(&format!("{}retried", "-".repeat(1000))).eval(5),
        5.0
    );
}

#[test]
fn hostile_inputs_fail_fast() {
    let huge = Limits::default()
        .with_max_len(usize::MAX)
        .with_max_depth(usize::MAX);
    assert_eq!(
        huge.max_depth(),
        Limits::MAX_DEPTH,
        "the depth limit is clamped"
    );
    for unit in ["(", "-", "abs(", "max(1,", "pow(2,"] {
        let input = unit.repeat(100_000);
        let start = Instant::now();
        let err = RetryDelay::compile(&input).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLong, "{unit}");
        let err = RetryDelay::compile_with(&input, huge).unwrap_err();
        let expected = if unit == "-" {
            ErrorKind::UnexpectedEnd
        } else {
            ErrorKind::TooDeep
        };
        assert_eq!(err.kind(), expected, "{unit}: {err}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{unit}: {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn the_largest_stack_programs_run() {
    // Every level keeps three values pending: a call argument, a sum and a product.
    let level = "max(sqrt(retried), sqrt(retried) + sqrt(retried) * ";
    let huge = Limits::default()
        .with_max_len(usize::MAX)
        .with_max_depth(usize::MAX);
    // The innermost `sqrt(` is one level deeper than its `max(`.
    let n = Limits::MAX_DEPTH - 1;
    let src = format!("{}sqrt(retried){}", level.repeat(n), ")".repeat(n));
    // The deepest program the limits allow compiles and runs on a thread with the default
    // stack of a spawned thread.
    let handle = std::thread::spawn(move || {
        let p = RetryDelay::compile_with(&src, huge).unwrap();
        (p.eval(1), p.eval(0))
    });
    let (one, zero) = handle.join().unwrap();
    // With retried = 1 each level is max(1, 1 + 1 * inner) = 1 + inner.
    assert_eq!(one, (n + 1) as f64);
    assert_eq!(zero, 0.0);
}

#[test]
fn limits_builders() {
    assert_eq!(Limits::default(), Limits::DEFAULT);
    assert_eq!(Limits::DEFAULT.max_len(), 1024);
    assert_eq!(Limits::DEFAULT.max_depth(), 64);
    let l = Limits::default().with_max_len(10).with_max_depth(0);
    assert_eq!(
        RetryDelay::compile_with("(1)", l).unwrap_err().kind(),
        ErrorKind::TooDeep
    );
    assert!(RetryDelay::compile_with("-retried*2", l).is_ok());
    assert_eq!(
        RetryDelay::compile_with("retried * 2", l)
            .unwrap_err()
            .kind(),
        ErrorKind::TooLong
    );
    assert_eq!(
        RetryDelay::compile_bytes_with(b"retried * 2", l)
            .unwrap_err()
            .offset(),
        10
    );
}

#[cfg(feature = "serde")]
#[test]
fn serde_uses_the_source() {
    let p = compile("max(1000, pow(2, retried) * 100)");
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(json, r#""max(1000, pow(2, retried) * 100)""#);
    let back: RetryDelay = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let err = serde_json::from_str::<RetryDelay>(r#""2 ^ retried""#).unwrap_err();
    assert!(err.to_string().contains("use pow(x, y)"), "{err}");
}
