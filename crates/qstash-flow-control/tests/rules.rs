//! One test per rule of the crate docs (value and key), and one per error kind.

use std::collections::HashSet;
use std::num::NonZeroU32;

use qstash_flow_control::{
    Delay, ErrorKind, FlowControl, FlowControlKey, KeyErrorKind, ParseError,
};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn ok(input: &str) -> FlowControl {
    FlowControl::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn err(input: &str) -> ParseError {
    match FlowControl::parse(input.as_bytes()) {
        Ok(v) => panic!("{input:?} parsed as {v}"),
        Err(e) => e,
    }
}

/// Asserts kind, span and the tail of the message of the error on `input`.
#[track_caller]
fn assert_err(input: &str, kind: ErrorKind, span: std::ops::Range<usize>, message_tail: &str) {
    let e = err(input);
    assert_eq!(e.kind(), kind, "{input:?}: {e}");
    assert_eq!(e.span(), span, "{input:?}: {e}");
    assert_eq!(e.offset(), span.start);
    let msg = e.to_string();
    let head = format!("invalid flow control {:?}: ", input);
    assert!(msg.starts_with(&head), "{msg}");
    assert_eq!(&msg[head.len()..], message_tail, "{input:?}");
}

fn secs(n: u64) -> Delay {
    Delay::checked_from_secs(n).unwrap()
}

// ---- the forms real clients send -------------------------------------------------------

#[test]
fn client_form_all_three_keys() {
    let v = ok("parallelism=2, rate=5, period=1m");
    assert_eq!(v.parallelism(), Some(nz(2)));
    assert_eq!(v.rate(), Some(nz(5)));
    assert_eq!(v.period(), secs(60));
    assert!(v.period_is_set());
    assert_eq!(v.to_string(), "parallelism=2, rate=5, period=1m");
}

#[test]
fn client_form_reordered_without_spaces() {
    let v = ok("rate=10,parallelism=1");
    assert_eq!(v.parallelism(), Some(nz(1)));
    assert_eq!(v.rate(), Some(nz(10)));
    assert_eq!(v.period(), FlowControl::DEFAULT_PERIOD);
    assert!(!v.period_is_set());
    assert_eq!(v.to_string(), "parallelism=1, rate=10");
}

#[test]
fn client_form_parallelism_only() {
    let v = ok("parallelism=1");
    assert_eq!(v, FlowControl::with_parallelism(nz(1)));
    assert_eq!(v.rate(), None);
    assert_eq!(v.to_string(), "parallelism=1");
}

#[test]
fn client_form_rate_with_bare_seconds_period() {
    let v = ok("rate=100, period=60");
    assert_eq!(v.parallelism(), None);
    assert_eq!(v.rate(), Some(nz(100)));
    assert_eq!(v.period(), secs(60));
    assert_eq!(v.to_string(), "rate=100, period=1m");
}

// ---- grammar and semantics ----------------------------------------------------------------

#[test]
fn every_key_order_is_accepted() {
    let expected = ok("parallelism=3, rate=4, period=5s");
    for input in [
        "parallelism=3,rate=4,period=5s",
        "parallelism=3,period=5s,rate=4",
        "rate=4,parallelism=3,period=5s",
        "rate=4,period=5s,parallelism=3",
        "period=5s,parallelism=3,rate=4",
        "period=5s,rate=4,parallelism=3",
    ] {
        assert_eq!(ok(input), expected, "{input}");
    }
}

#[test]
fn whitespace_around_value_separators_and_equals_is_ignored() {
    let expected = ok("parallelism=3, rate=4");
    for input in [
        "  parallelism=3, rate=4  ",
        "\tparallelism = 3 ,\trate =\t4\t",
        "parallelism=3 ,rate=4",
        "parallelism =3,  rate= 4",
        "parallelism\t=\t3\t,\trate\t=\t4",
    ] {
        assert_eq!(ok(input), expected, "{input:?}");
    }
}

#[test]
fn only_space_and_tab_are_whitespace() {
    assert_err(
        "rate=1,\nparallelism=2",
        ErrorKind::MissingKey,
        7..8,
        r#"expected a key (parallelism, rate or period), found "\n" at byte 7"#,
    );
    assert_err(
        "\rrate=1",
        ErrorKind::MissingKey,
        0..1,
        r#"expected a key (parallelism, rate or period), found "\r" at byte 0"#,
    );
}

#[test]
fn limits_span_one_to_u32_max() {
    assert_eq!(ok("rate=1").rate(), Some(nz(1)));
    assert_eq!(ok("rate=4294967295").rate(), Some(NonZeroU32::MAX));
    assert_eq!(
        ok("parallelism=4294967295").parallelism(),
        Some(NonZeroU32::MAX)
    );
    // Leading zeros are accepted; display drops them.
    assert_eq!(ok("parallelism=007").to_string(), "parallelism=7");
    assert_eq!(ok("rate=0004294967295").rate(), Some(NonZeroU32::MAX));
}

#[test]
fn period_accepts_delays_and_bare_seconds() {
    let period = |s: &str| ok(&format!("rate=1, period={s}")).period();
    assert_eq!(period("1"), secs(1));
    assert_eq!(period("60"), secs(60));
    assert_eq!(period("604800"), secs(604_800));
    assert_eq!(period("0000000000000000000000000001"), secs(1));
    assert_eq!(period("1m"), secs(60));
    assert_eq!(period("1h30m"), secs(5400));
    assert_eq!(period("1.5s"), Delay::from_nanos(1_500_000_000));
    assert_eq!(period("1ns"), Delay::from_nanos(1));
    assert_eq!(period("500ms"), Delay::from_nanos(500_000_000));
    assert_eq!(period("7d"), FlowControl::MAX_PERIOD);
    assert_eq!(period("168h"), FlowControl::MAX_PERIOD);
    assert_eq!(
        period("6d23h59m59s999ms999us999ns"),
        Delay::from_nanos(604_800 * 1_000_000_000 - 1)
    );
    assert_eq!(period("2µs"), Delay::from_nanos(2000));
}

#[test]
fn period_alone_is_not_enough() {
    assert_err(
        "period=1m",
        ErrorKind::MissingLimit,
        0..9,
        "neither parallelism nor rate is given (at least one of them is required) at byte 0",
    );
    let e = err("  period=1m ");
    assert_eq!(e.kind(), ErrorKind::MissingLimit);
    assert_eq!(e.span(), 2..11);
}

#[test]
fn display_is_canonical() {
    assert_eq!(
        ok("period=2m, rate=5, parallelism=2").to_string(),
        "parallelism=2, rate=5, period=2m"
    );
    assert_eq!(ok("rate=5,period=1s").to_string(), "rate=5, period=1s");
    assert_eq!(
        ok("period=90,parallelism=9").to_string(),
        "parallelism=9, period=1m30s"
    );
    assert_eq!(ok("rate=5, period=1d").to_string(), "rate=5, period=1d");
    assert_eq!(ok("rate=5, period=7d").to_string(), "rate=5, period=7d");
    assert_eq!(
        ok("rate=4294967295, parallelism=4294967295, period=6d23h59m59s999ms999us999ns")
            .to_string(),
        "parallelism=4294967295, rate=4294967295, period=6d23h59m59s999ms999us999ns"
    );
    assert_eq!(format!("{:<12}|", ok("rate=5")), "rate=5      |");
}

#[test]
fn a_given_default_period_is_kept_apart_from_an_unset_one() {
    let given = ok("rate=5, period=1s");
    let unset = ok("rate=5");
    assert_eq!(given.period(), unset.period());
    assert_ne!(given, unset);
    assert_eq!(given.to_string(), "rate=5, period=1s");
    assert_eq!(unset.to_string(), "rate=5");
    let mut cleared = given;
    cleared.clear_period();
    assert_eq!(cleared, unset);
    let set: HashSet<FlowControl> = [given, unset, ok("rate=5,period=1000ms")]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 2);
}

#[test]
fn from_str_and_try_from_agree_with_parse() {
    let a: FlowControl = "rate=5".parse().unwrap();
    let b = FlowControl::try_from("rate=5").unwrap();
    let c = FlowControl::try_from(&b"rate=5"[..]).unwrap();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(
        "rate=0".parse::<FlowControl>().unwrap_err().kind(),
        ErrorKind::Zero
    );
}

#[test]
fn debug_shows_the_parts() {
    assert_eq!(
        format!("{:?}", ok("rate=5, period=1m")),
        "FlowControl { parallelism: None, rate: Some(5), period: Some(Delay(1m)) }"
    );
    assert_eq!(
        format!("{:?}", ok("parallelism=2")),
        "FlowControl { parallelism: Some(2), rate: None, period: None }"
    );
}

// ---- constructors and setters -------------------------------------------------------------

#[test]
fn constructors_build_what_parse_builds() {
    assert_eq!(FlowControl::with_parallelism(nz(2)), ok("parallelism=2"));
    assert_eq!(FlowControl::with_rate(nz(5)), ok("rate=5"));
    assert_eq!(
        FlowControl::new(Some(nz(2)), Some(nz(5))),
        Some(ok("rate=5,parallelism=2"))
    );
    assert_eq!(FlowControl::new(None, Some(nz(5))), Some(ok("rate=5")));
    assert_eq!(FlowControl::new(None, None), None);
    let mut built = FlowControl::with_rate(nz(5));
    built.set_parallelism(nz(2));
    built.set_period(secs(60)).unwrap();
    assert_eq!(built, ok("parallelism=2, rate=5, period=1m"));
    assert_eq!(built.given_period(), Some(secs(60)));
    built.set_rate(nz(6));
    assert_eq!(built.rate(), Some(nz(6)));
    built.set_parallelism(nz(7));
    assert_eq!(built.parallelism(), Some(nz(7)));
}

#[test]
fn period_setter_refuses_zero_and_above_seven_days() {
    let mut v = FlowControl::with_rate(nz(1));
    let zero = v.set_period(Delay::ZERO).unwrap_err();
    assert_eq!(zero.period(), Delay::ZERO);
    assert_eq!(
        zero.to_string(),
        "period 0s is outside the allowed range: above zero and at most 7d"
    );
    let long = v
        .set_period(Delay::from_nanos(FlowControl::MAX_PERIOD.as_nanos() + 1))
        .unwrap_err();
    assert_eq!(long.period().to_string(), "7d1ns");
    assert!(v.set_period(Delay::MAX).is_err());
    // A refused period leaves the value as it was.
    assert_eq!(v, FlowControl::with_rate(nz(1)));
    v.set_period(FlowControl::MAX_PERIOD).unwrap();
    assert_eq!(v.period(), FlowControl::MAX_PERIOD);
    v.set_period(Delay::from_nanos(1)).unwrap();
    assert_eq!(v.period(), Delay::from_nanos(1));
}

#[test]
fn constants() {
    assert_eq!(FlowControl::DEFAULT_PERIOD.to_string(), "1s");
    assert_eq!(FlowControl::MAX_PERIOD.to_string(), "7d");
}

// ---- every error kind ---------------------------------------------------------------------

#[test]
fn error_empty() {
    assert_err("", ErrorKind::Empty, 0..0, "empty input");
    assert_err(" \t ", ErrorKind::Empty, 0..0, "empty input");
}

#[test]
fn error_unknown_key_lists_the_valid_ones() {
    let tail = |k: &str, at: usize| {
        format!("unknown key \"{k}\" (valid keys: parallelism, rate, period) at byte {at}")
    };
    assert_err(
        "concurrency=2",
        ErrorKind::UnknownKey,
        0..11,
        &tail("concurrency", 0),
    );
    // Keys are case-sensitive.
    assert_err("Rate=5", ErrorKind::UnknownKey, 0..4, &tail("Rate", 0));
    assert_err(
        "rate=5, PERIOD=1m",
        ErrorKind::UnknownKey,
        8..14,
        &tail("PERIOD", 8),
    );
    assert_err(
        "parallel=2",
        ErrorKind::UnknownKey,
        0..8,
        &tail("parallel", 0),
    );
    assert_err(
        "rate_limit=2",
        ErrorKind::UnknownKey,
        0..10,
        &tail("rate_limit", 0),
    );
    assert_err(
        "pärallelism=2",
        ErrorKind::UnknownKey,
        0..12,
        &tail("pärallelism", 0),
    );
    assert_err("ratex", ErrorKind::UnknownKey, 0..5, &tail("ratex", 0));
}

#[test]
fn error_missing_key() {
    let tail = |found: &str, at: usize| {
        format!("expected a key (parallelism, rate or period), found \"{found}\" at byte {at}")
    };
    assert_err(",rate=5", ErrorKind::MissingKey, 0..1, &tail(",", 0));
    assert_err("=5", ErrorKind::MissingKey, 0..1, &tail("=", 0));
    assert_err(
        "rate=1,,period=2",
        ErrorKind::MissingKey,
        7..8,
        &tail(",", 7),
    );
    assert_err(
        "rate=1, ;period=2",
        ErrorKind::MissingKey,
        8..9,
        &tail(";", 8),
    );
    assert_err("\"rate\"=1", ErrorKind::MissingKey, 0..1, &tail("\\\"", 0));
}

#[test]
fn error_duplicate_key() {
    assert_err(
        "rate=1, rate=2",
        ErrorKind::DuplicateKey,
        8..12,
        "duplicate key \"rate\" (first given at byte 0) at byte 8",
    );
    assert_err(
        "period=1s,parallelism=1,period=1s",
        ErrorKind::DuplicateKey,
        24..30,
        "duplicate key \"period\" (first given at byte 0) at byte 24",
    );
    // Reported even when the second value is bad: the key comes first.
    assert_eq!(
        err(" parallelism=1,parallelism=x").kind(),
        ErrorKind::DuplicateKey
    );
}

#[test]
fn error_missing_equals() {
    assert_err(
        "rate",
        ErrorKind::MissingEquals,
        4..4,
        "expected \"=\" after rate at byte 4",
    );
    assert_err(
        "rate 5",
        ErrorKind::MissingEquals,
        5..6,
        "expected \"=\" after rate, found \"5\" at byte 5",
    );
    assert_err(
        "rate:5",
        ErrorKind::MissingEquals,
        4..5,
        "expected \"=\" after rate, found \":\" at byte 4",
    );
    assert_err(
        "parallelism=1, period , rate=1",
        ErrorKind::MissingEquals,
        22..23,
        "expected \"=\" after period, found \",\" at byte 22",
    );
    assert_err(
        "parallelism",
        ErrorKind::MissingEquals,
        11..11,
        "expected \"=\" after parallelism at byte 11",
    );
}

#[test]
fn error_bad_number() {
    let tail = |v: &str, key: &str, at: usize| {
        format!(
            "bad number \"{v}\" for {key} (expected a whole number from 1 to 4294967295) at byte {at}"
        )
    };
    assert_err(
        "rate=1.5",
        ErrorKind::BadNumber,
        5..8,
        &tail("1.5", "rate", 5),
    );
    assert_err(
        "rate=-1",
        ErrorKind::BadNumber,
        5..7,
        &tail("-1", "rate", 5),
    );
    assert_err(
        "rate=+1",
        ErrorKind::BadNumber,
        5..7,
        &tail("+1", "rate", 5),
    );
    assert_err(
        "parallelism=two",
        ErrorKind::BadNumber,
        12..15,
        &tail("two", "parallelism", 12),
    );
    assert_err(
        "rate=5s",
        ErrorKind::BadNumber,
        5..7,
        &tail("5s", "rate", 5),
    );
    assert_err(
        "rate=1e3",
        ErrorKind::BadNumber,
        5..8,
        &tail("1e3", "rate", 5),
    );
    assert_err(
        "rate=5=6",
        ErrorKind::BadNumber,
        5..8,
        &tail("5=6", "rate", 5),
    );
    assert_err(
        "rate=5;period=1s",
        ErrorKind::BadNumber,
        5..16,
        &tail("5;period=1s", "rate", 5),
    );
    assert_err(
        "rate=, parallelism=1",
        ErrorKind::BadNumber,
        5..5,
        "missing value for rate (expected a whole number from 1 to 4294967295) at byte 5",
    );
    assert_err(
        "parallelism= ",
        ErrorKind::BadNumber,
        12..12,
        "missing value for parallelism (expected a whole number from 1 to 4294967295) at byte 12",
    );
}

#[test]
fn error_zero() {
    assert_err(
        "rate=0",
        ErrorKind::Zero,
        5..6,
        "rate must be above zero, found \"0\" at byte 5",
    );
    assert_err(
        "parallelism=000",
        ErrorKind::Zero,
        12..15,
        "parallelism must be above zero, found \"000\" at byte 12",
    );
    assert_err(
        "rate=1, period=0",
        ErrorKind::Zero,
        15..16,
        "period must be above zero, found \"0\" at byte 15",
    );
    assert_err(
        "rate=1, period=0s",
        ErrorKind::Zero,
        15..17,
        "period must be above zero, found \"0s\" at byte 15",
    );
    assert_eq!(err("rate=1, period=0.0000000001s").kind(), ErrorKind::Zero);
}

#[test]
fn error_out_of_range() {
    assert_err(
        "rate=4294967296",
        ErrorKind::OutOfRange,
        5..15,
        "rate \"4294967296\" is above the maximum of 4294967295 at byte 5",
    );
    assert_err(
        "parallelism=99999999999999999999999",
        ErrorKind::OutOfRange,
        12..35,
        "parallelism \"99999999999999999999999\" is above the maximum of 4294967295 at byte 12",
    );
}

#[test]
fn error_bad_period_carries_the_delay_error_at_the_whole_input_offset() {
    let hint = "(expected a delay such as 30s or 1m, or whole seconds)";
    let e = err("rate=1, period=1x");
    assert_eq!(e.kind(), ErrorKind::BadPeriod);
    assert_eq!(e.span(), 16..17);
    let inner = e.period_error().unwrap();
    assert_eq!(inner.kind(), qstash_delay::ErrorKind::UnknownUnit);
    assert_eq!(inner.span(), 1..2);
    assert_eq!(
        e.to_string(),
        format!(
            "invalid flow control \"rate=1, period=1x\": bad period: unknown unit \"x\" {hint} at byte 16"
        )
    );
    // Our message says what the delay error says, so `source()` does not repeat it (see
    // `a_report_shows_the_periods_error_once`); `period_error()` gives it.
    assert!(std::error::Error::source(&e).is_none());

    assert_err(
        "period=1.5, rate=1",
        ErrorKind::BadPeriod,
        10..10,
        &format!("bad period: missing unit {hint} at byte 10"),
    );
    assert_err(
        "rate=1,period=-1s",
        ErrorKind::BadPeriod,
        14..15,
        &format!("bad period: unexpected character \"-\" {hint} at byte 14"),
    );
    assert_err(
        "rate=1,period=1.2.3s",
        ErrorKind::BadPeriod,
        17..18,
        &format!("bad period: bad number \".\" {hint} at byte 17"),
    );
    assert_err(
        "rate=1, period=5sec",
        ErrorKind::BadPeriod,
        16..19,
        &format!("bad period: unknown unit \"sec\" {hint} at byte 16"),
    );
    assert_err(
        "rate=1, period=",
        ErrorKind::BadPeriod,
        15..15,
        &format!("missing value for period {hint} at byte 15"),
    );
    assert_eq!(
        err("rate=1, period=").period_error().unwrap().kind(),
        qstash_delay::ErrorKind::Empty
    );
    // Units are case-sensitive, as in the delay grammar.
    assert_eq!(err("rate=1, period=1M").kind(), ErrorKind::BadPeriod);
}

#[test]
fn error_period_too_long() {
    assert_err(
        "rate=1, period=8d",
        ErrorKind::PeriodTooLong,
        15..17,
        "period \"8d\" is above the maximum of 7d at byte 15",
    );
    assert_err(
        "rate=1, period=604801",
        ErrorKind::PeriodTooLong,
        15..21,
        "period \"604801\" is above the maximum of 7d at byte 15",
    );
    assert_eq!(err("rate=1, period=7d1ns").kind(), ErrorKind::PeriodTooLong);
    assert_eq!(err("rate=1, period=169h").kind(), ErrorKind::PeriodTooLong);
    let huge = err("rate=1, period=999999999999999999999999");
    assert_eq!(huge.kind(), ErrorKind::PeriodTooLong);
    assert_eq!(huge.period_error(), None);
    // A delay too large for the delay type itself is too long too, and keeps the delay error.
    let overflow = err("rate=1, period=9999999999999d");
    assert_eq!(overflow.kind(), ErrorKind::PeriodTooLong);
    assert_eq!(overflow.span(), 15..29);
    assert_eq!(
        overflow.period_error().map(|e| e.kind()),
        Some(qstash_delay::ErrorKind::Overflow)
    );
}

#[test]
fn error_trailing_separator() {
    assert_err(
        "rate=5,",
        ErrorKind::TrailingSeparator,
        6..7,
        "trailing \",\" with no pair after it at byte 6",
    );
    assert_err(
        "rate=5 , \t",
        ErrorKind::TrailingSeparator,
        7..8,
        "trailing \",\" with no pair after it at byte 7",
    );
}

#[test]
fn error_missing_separator() {
    assert_err(
        "parallelism=2 rate=5",
        ErrorKind::MissingSeparator,
        14..15,
        "expected \",\" or the end of the value, found \"r\" at byte 14",
    );
    assert_err(
        "rate=1, period=1m 30s",
        ErrorKind::MissingSeparator,
        18..19,
        "expected \",\" or the end of the value, found \"3\" at byte 18",
    );
    assert_err(
        "rate=5 \u{e9}",
        ErrorKind::MissingSeparator,
        7..9,
        "expected \",\" or the end of the value, found \"\u{e9}\" at byte 7",
    );
}

#[test]
fn the_first_problem_in_input_order_is_reported() {
    assert_eq!(err("rate=0, foo=1").kind(), ErrorKind::Zero);
    assert_eq!(err("foo=1, rate=0").kind(), ErrorKind::UnknownKey);
    assert_eq!(err("period=8d,").kind(), ErrorKind::PeriodTooLong);
    assert_eq!(err("period=1s,").kind(), ErrorKind::TrailingSeparator);
}

#[test]
fn messages_quote_long_inputs_capped_and_escaped() {
    let long = format!("rate=1, {}=2", "x".repeat(300));
    let e = err(&long);
    assert_eq!(e.kind(), ErrorKind::UnknownKey);
    assert_eq!(e.span(), 8..308);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("invalid flow control \"{}…\"", &long[..128])),
        "{msg}"
    );
    // The offending token is quoted up to 32 bytes.
    assert!(
        msg.contains(&format!("unknown key \"{}\"", "x".repeat(32))),
        "{msg}"
    );
    assert!(msg.ends_with("at byte 8"));

    let e = FlowControl::parse(b"rate=\xff").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadNumber);
    assert!(e.to_string().contains("\u{fffd}"), "{e}");
}

#[test]
fn error_kinds_describe_themselves() {
    assert_eq!(
        ErrorKind::MissingLimit.to_string(),
        "neither parallelism nor rate"
    );
    assert_eq!(ErrorKind::BadPeriod.description(), "bad period");
    assert_eq!(
        ErrorKind::TrailingSeparator.description(),
        "trailing separator"
    );
}

// ---- the key ------------------------------------------------------------------------------

#[test]
fn key_accepts_visible_ascii_up_to_256_bytes() {
    let all_visible: String = (b'!'..=b'~').map(char::from).collect();
    let key = FlowControlKey::new(all_visible.clone()).unwrap();
    assert_eq!(key.as_str(), all_visible);
    assert_eq!(
        FlowControlKey::new("k".repeat(256)).unwrap().as_str().len(),
        256
    );
    assert_eq!(FlowControlKey::new("a").unwrap().to_string(), "a");
    assert_eq!(
        "user-42".parse::<FlowControlKey>().unwrap().as_ref(),
        "user-42"
    );
    assert_eq!(FlowControlKey::try_from(String::from("x")).unwrap(), "x");
    assert_eq!(FlowControlKey::try_from("x").unwrap().into_string(), "x");
    assert_eq!(String::from(FlowControlKey::parse(b"abc").unwrap()), "abc");
    assert_eq!(
        format!("{:?}", FlowControlKey::new("q").unwrap()),
        "FlowControlKey(\"q\")"
    );
    assert_eq!(format!("{:>3}", FlowControlKey::new("q").unwrap()), "  q");
}

#[test]
fn key_can_be_looked_up_by_str() {
    let set: HashSet<FlowControlKey> = ["a", "b"].into_iter().map(|k| k.parse().unwrap()).collect();
    assert!(set.contains("a"));
    assert!(!set.contains("c"));
}

#[test]
fn key_errors() {
    let e = FlowControlKey::new("").unwrap_err();
    assert_eq!(e.kind(), KeyErrorKind::Empty);
    assert_eq!(e.offset(), 0);
    assert_eq!(e.to_string(), "invalid flow control key \"\": empty key");

    let e = FlowControlKey::new("k".repeat(257)).unwrap_err();
    assert_eq!(e.kind(), KeyErrorKind::TooLong);
    assert_eq!(e.offset(), 256);
    assert_eq!(e.span(), 256..257);
    assert_eq!(
        e.to_string(),
        format!(
            "invalid flow control key \"{}…\": key of 257 bytes is longer than the maximum of 256 at byte 256",
            "k".repeat(128)
        )
    );

    for (key, at, found) in [
        (" lead", 0, " "),
        ("trail ", 5, " "),
        ("a b", 1, " "),
        ("tab\t", 3, "\\t"),
        ("nl\n", 2, "\\n"),
        ("del\u{7f}", 3, "\\u{7f}"),
        ("café", 3, "é"),
    ] {
        let e = FlowControlKey::new(key).unwrap_err();
        assert_eq!(e.kind(), KeyErrorKind::InvalidCharacter, "{key:?}");
        assert_eq!(e.offset(), at, "{key:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "invalid flow control key \"{}\": invalid character \"{found}\" (only visible ASCII is allowed) at byte {at}",
                key.escape_debug()
            ),
            "{key:?}"
        );
    }
    assert_eq!(FlowControlKey::new("café").unwrap_err().span(), 3..5);

    // An invalid byte before the limit is reported before the length.
    let e = FlowControlKey::new(format!("a b{}", "k".repeat(300))).unwrap_err();
    assert_eq!(e.kind(), KeyErrorKind::InvalidCharacter);
    assert_eq!(e.offset(), 1);
    // An invalid byte after the limit: the length comes first.
    let e = FlowControlKey::new(format!("{} ", "k".repeat(300))).unwrap_err();
    assert_eq!(e.kind(), KeyErrorKind::TooLong);

    let e = FlowControlKey::parse(b"ab\xff").unwrap_err();
    assert_eq!(e.kind(), KeyErrorKind::InvalidCharacter);
    assert_eq!(e.span(), 2..3);
    assert_eq!(KeyErrorKind::TooLong.to_string(), "key too long");
}

// ---- serde --------------------------------------------------------------------------------

#[cfg(feature = "serde")]
#[test]
fn serde_uses_the_string_forms() {
    let v = ok("rate=5,parallelism=2");
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, "\"parallelism=2, rate=5\"");
    assert_eq!(serde_json::from_str::<FlowControl>(&json).unwrap(), v);
    assert_eq!(
        serde_json::from_str::<FlowControl>("\"rate=10,parallelism=1\"").unwrap(),
        ok("parallelism=1, rate=10")
    );
    let e = serde_json::from_str::<FlowControl>("\"rate=0\"").unwrap_err();
    assert!(e.to_string().contains("rate must be above zero"), "{e}");
    assert!(serde_json::from_str::<FlowControl>("5").is_err());

    let key = FlowControlKey::new("tenant-1").unwrap();
    assert_eq!(serde_json::to_string(&key).unwrap(), "\"tenant-1\"");
    assert_eq!(
        serde_json::from_str::<FlowControlKey>("\"tenant-1\"").unwrap(),
        key
    );
    let e = serde_json::from_str::<FlowControlKey>("\"a b\"").unwrap_err();
    assert!(e.to_string().contains("invalid character"), "{e}");
}

#[test]
fn single_unit_periods_at_the_limits() {
    let period = |s: &str| FlowControl::parse(format!("rate=1, period={s}").as_bytes());
    for ok in [
        "604800s", "10080m", "168h", "7d", "604800", "0007d", "1s", "1m", "1h", "1d",
    ] {
        let value = period(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(
            Some(value.period()),
            ok.parse::<Delay>().ok().or(Some(secs(604_800))),
            "{ok}"
        );
    }
    for long in [
        "604801s",
        "10081m",
        "169h",
        "8d",
        "604801",
        "99999999999999999999m",
    ] {
        assert_eq!(
            period(long).unwrap_err().kind(),
            ErrorKind::PeriodTooLong,
            "{long}"
        );
    }
    for zero in ["0s", "0m", "0h", "0d", "00", "0"] {
        assert_eq!(period(zero).unwrap_err().kind(), ErrorKind::Zero, "{zero}");
    }
    for bad in ["1x", "1M", "1mm", "m", "1 m", "1m,"] {
        let e = period(bad).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::BadPeriod | ErrorKind::MissingSeparator | ErrorKind::TrailingSeparator
            ),
            "{bad}: {e}"
        );
    }
    assert_eq!(
        period("1ms").unwrap().period(),
        Delay::from_nanos(1_000_000)
    );
    assert_eq!(period("1m1s").unwrap().period(), secs(61));
    assert_eq!(period("1d\t").unwrap().period(), secs(86_400));
}

/// A report that walks the `source()` chain shows the period's error once: the message says
/// it already, so the chain does not return it again.
#[test]
fn a_report_shows_the_periods_error_once() {
    let err = FlowControl::parse(b"rate=5, period=1x").unwrap_err();
    let mut report = err.to_string();
    let mut next = std::error::Error::source(&err);
    while let Some(cause) = next {
        report.push_str(": ");
        report.push_str(&cause.to_string());
        next = cause.source();
    }
    assert_eq!(report.matches("unknown unit \"x\"").count(), 1, "{report}");
    assert_eq!(err.period_error().unwrap().offset(), 1);
}
