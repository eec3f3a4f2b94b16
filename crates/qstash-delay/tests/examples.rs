//! Every example the crate docs give of the grammar, and every error kind.

use std::time::Duration;

use qstash_delay::{Delay, ErrorKind};

const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;

fn nanos(s: &str) -> u64 {
    Delay::parse(s.as_bytes())
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
        .as_nanos()
}

fn canonical(s: &str) -> String {
    s.parse::<Delay>().unwrap().to_string()
}

#[test]
fn upstream_examples() {
    assert_eq!(nanos("50s"), 50 * S);
    assert_eq!(nanos("1d10h30m"), D + 10 * H + 30 * M);
    assert_eq!(nanos("10h"), 10 * H);
    assert_eq!(nanos("1d"), D);
}

#[test]
fn every_unit() {
    assert_eq!(nanos("1d"), 86_400 * S);
    assert_eq!(nanos("1h"), 3_600 * S);
    assert_eq!(nanos("1m"), 60 * S);
    assert_eq!(nanos("1s"), S);
    assert_eq!(nanos("1ms"), 1_000_000);
    assert_eq!(nanos("1us"), 1_000);
    assert_eq!(nanos("1µs"), 1_000, "U+00B5 MICRO SIGN");
    assert_eq!(nanos("1μs"), 1_000, "U+03BC GREEK SMALL LETTER MU");
    assert_eq!(nanos("1ns"), 1);
}

#[test]
fn zero_forms() {
    assert_eq!(nanos("0"), 0);
    assert_eq!(nanos("0s"), 0);
    assert_eq!(nanos("0d0h0ns"), 0);
    assert_eq!(nanos(".0s"), 0);
    assert_eq!(Delay::ZERO.to_string(), "0s");
}

#[test]
fn fractions_are_exact_and_truncated() {
    assert_eq!(nanos("1.5h"), 90 * M);
    assert_eq!(nanos(".5m"), 30 * S);
    assert_eq!(nanos("1.s"), S);
    assert_eq!(nanos("0.000000001s"), 1);
    assert_eq!(nanos("0.0000000019s"), 1, "below a nanosecond truncates");
    assert_eq!(nanos("1.9ns"), 1);
    assert_eq!(nanos("0.1d"), D / 10);
    // A third of a minute written out is never rounded up to 20s.
    assert_eq!(nanos("0.33333333333333333333m"), 19_999_999_999);
}

#[test]
fn components_repeat_and_come_in_any_order() {
    assert_eq!(nanos("1s1s"), 2 * S);
    assert_eq!(nanos("30m1d10h"), nanos("1d10h30m"));
    assert_eq!(
        nanos("1ns1us1ms1s1m1h1d"),
        D + H + M + S + 1_000_000 + 1_000 + 1
    );
}

#[test]
fn display_is_canonical() {
    assert_eq!(canonical("1d10h30m"), "1d10h30m");
    assert_eq!(canonical("90m"), "1h30m");
    assert_eq!(canonical("1.5s"), "1s500ms");
    assert_eq!(canonical("1001us"), "1ms1us");
    assert_eq!(canonical("1µs"), "1us");
    assert_eq!(canonical("48h"), "2d");
    assert_eq!(canonical("0"), "0s");
    assert_eq!(
        Delay::MAX.to_string(),
        "213503d23h34m33s709ms551us615ns",
        "the longest canonical form"
    );
    assert_eq!(format!("[{:>8}]", Delay::from_nanos(S)), "[      1s]");
    assert_eq!(format!("{:?}", Delay::from_nanos(90 * M)), "Delay(1h30m)");
}

#[test]
fn largest_value_parses_and_one_more_overflows() {
    assert_eq!(nanos("18446744073709551615ns"), u64::MAX);
    assert_eq!(nanos("213503d23h34m33s709ms551us615ns"), u64::MAX);
    let err = Delay::parse(b"18446744073709551616ns").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow);
    assert_eq!(err.offset(), 0);
}

#[track_caller]
fn fails(input: &[u8], kind: ErrorKind, offset: usize, message: &str) {
    let err = Delay::parse(input).unwrap_err();
    assert_eq!(err.kind(), kind, "kind for {input:?}");
    assert_eq!(err.offset(), offset, "offset for {input:?}");
    assert_eq!(err.to_string(), message, "message for {input:?}");
}

#[test]
fn every_error_kind() {
    fails(b"", ErrorKind::Empty, 0, r#"invalid delay "": empty input"#);
    fails(
        b"10",
        ErrorKind::MissingUnit,
        2,
        r#"invalid delay "10": missing unit (one of d, h, m, s, ms, us, ns) at byte 2"#,
    );
    fails(
        b"1d10x",
        ErrorKind::UnknownUnit,
        4,
        r#"invalid delay "1d10x": unknown unit "x" at byte 4"#,
    );
    fails(
        b".s",
        ErrorKind::BadNumber,
        0,
        r#"invalid delay ".s": bad number: misplaced "." at byte 0"#,
    );
    fails(
        b"-5s",
        ErrorKind::UnexpectedCharacter,
        0,
        r#"invalid delay "-5s": unexpected character "-" (expected a digit) at byte 0"#,
    );
    fails(
        b"213503d23h34m33s709ms551us616ns",
        ErrorKind::Overflow,
        26,
        r#"invalid delay "213503d23h34m33s709ms551us616ns": overflow: "616ns" takes the total above the maximum of 213503d23h34m33s709ms551us615ns at byte 26"#,
    );
}

#[test]
fn error_offsets_point_at_the_fault() {
    let cases: &[(&[u8], ErrorKind, std::ops::Range<usize>)] = &[
        (b"5sec", ErrorKind::UnknownUnit, 1..4),
        (b"1H", ErrorKind::UnknownUnit, 1..2),
        (b"1hm", ErrorKind::UnknownUnit, 1..3),
        (b"1h30", ErrorKind::MissingUnit, 4..4),
        (b"00", ErrorKind::MissingUnit, 2..2),
        (b".", ErrorKind::BadNumber, 0..1),
        (b"1.2.3s", ErrorKind::BadNumber, 3..4),
        (b"1d 2h", ErrorKind::UnexpectedCharacter, 2..3),
        (b" 5s", ErrorKind::UnexpectedCharacter, 0..1),
        (b"+5s", ErrorKind::UnexpectedCharacter, 0..1),
        (b"s", ErrorKind::UnexpectedCharacter, 0..1),
        ("µs".as_bytes(), ErrorKind::UnexpectedCharacter, 0..2),
        (b"5s\xff", ErrorKind::UnknownUnit, 1..3),
        (b"\xff", ErrorKind::UnexpectedCharacter, 0..1),
        (b"1e3s", ErrorKind::UnknownUnit, 1..2),
        (b"99999999999999999999s", ErrorKind::Overflow, 0..21),
        (b"1d213503d", ErrorKind::Overflow, 2..9),
    ];
    for (input, kind, span) in cases {
        let err = Delay::parse(input).unwrap_err();
        assert_eq!(
            (err.kind(), err.span()),
            (*kind, span.clone()),
            "{input:?}: {err}"
        );
    }
}

#[test]
fn long_input_is_quoted_truncated() {
    let mut input = "1s".repeat(100);
    input.push('x');
    let err = input.parse::<Delay>().unwrap_err();
    // The last component is `1sx`: its unit run `sx` starts at byte 199.
    assert_eq!(err.span(), 199..201);
    let message = err.to_string();
    assert!(message.contains("1s1s…\": "), "{message}");
    assert!(message.len() < 200, "the quote is capped: {message}");
    assert!(
        message.ends_with(r#"unknown unit "sx" at byte 199"#),
        "{message}"
    );
}

#[test]
fn quotes_and_control_bytes_are_escaped() {
    let err = Delay::parse(b"1\"\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid delay "1\"\n": unexpected character "\"" (expected a digit) at byte 1"#
    );
}

#[test]
fn duration_conversions() {
    let delay = Delay::parse(b"1.5s").unwrap();
    assert_eq!(Duration::from(delay), Duration::from_millis(1500));
    assert_eq!(Delay::try_from(Duration::from_millis(1500)).unwrap(), delay);
    assert_eq!(
        Delay::try_from(Duration::from_nanos(u64::MAX)).unwrap(),
        Delay::MAX
    );
    let err =
        Delay::try_from(Duration::from_nanos(u64::MAX) + Duration::from_nanos(1)).unwrap_err();
    assert!(err.to_string().contains("above the maximum delay"), "{err}");
    assert_eq!(Delay::checked_from_secs(60), Some(Delay::from_nanos(M)));
    assert_eq!(Delay::checked_from_millis(u64::MAX), None);
    assert_eq!(Delay::from_nanos(M + 1).as_secs(), 60);
    assert_eq!(Delay::from_nanos(M + 1).as_millis(), 60_000);
    assert_eq!(Delay::MAX.checked_add(Delay::from_nanos(1)), None);
}

#[test]
fn parse_and_from_str_agree() {
    for s in ["50s", "1d10h30m", "bad", "", "1.5h"] {
        assert_eq!(Delay::parse(s.as_bytes()), s.parse::<Delay>());
        assert_eq!(Delay::parse(s.as_bytes()), Delay::try_from(s));
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_uses_the_string_form() {
    let delay: Delay = serde_json::from_str(r#""90m""#).unwrap();
    assert_eq!(delay.to_string(), "1h30m");
    assert_eq!(serde_json::to_string(&delay).unwrap(), r#""1h30m""#);
    let err = serde_json::from_str::<Delay>(r#""5sec""#).unwrap_err();
    assert!(
        err.to_string().contains(r#"unknown unit "sec" at byte 1"#),
        "{err}"
    );
    assert!(serde_json::from_str::<Delay>("5").is_err());
}
