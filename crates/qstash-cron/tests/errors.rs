//! Every refusal names its field and points at the byte at fault.

use qstash_cron::{Cron, ErrorKind, Field, MAX_LEN};

/// Parses `input` and returns the error's kind, field, span and message.
fn fail(input: &str) -> (ErrorKind, Option<Field>, std::ops::Range<usize>, String) {
    let err = Cron::parse(input).expect_err(input);
    assert!(err.span().end <= input.len(), "{err}");
    (err.kind(), err.field(), err.span(), err.to_string())
}

#[test]
fn out_of_range_in_each_field() {
    let cases = [
        (
            "60 * * * *",
            Field::Minute,
            0..2,
            "the minute field \"60\" is out of range 0-59",
        ),
        (
            "0 25 * * *",
            Field::Hour,
            2..4,
            "the hour field \"25\" is out of range 0-23",
        ),
        (
            "0 0 32 * *",
            Field::DayOfMonth,
            4..6,
            "the day of month field \"32\" is out of range 1-31",
        ),
        (
            "0 0 0 * *",
            Field::DayOfMonth,
            4..5,
            "the day of month field \"0\" is out of range 1-31",
        ),
        (
            "0 0 * 13 *",
            Field::Month,
            6..8,
            "the month field \"13\" is out of range 1-12",
        ),
        (
            "0 0 * * 8",
            Field::DayOfWeek,
            8..9,
            "the day of week field \"8\" is out of range 0-7",
        ),
        (
            "0 1-25 * * *",
            Field::Hour,
            4..6,
            "the hour field \"1-25\": \"25\" is out of range 0-23",
        ),
        (
            "0 0 * * 1,99999999999",
            Field::DayOfWeek,
            10..21,
            "is out of range 0-7",
        ),
    ];
    for (input, field, span, message) in cases {
        let (kind, f, s, m) = fail(input);
        assert_eq!(kind, ErrorKind::OutOfRange, "{m}");
        assert_eq!(f, Some(field), "{m}");
        assert_eq!(s, span, "{m}");
        assert!(m.contains(message), "{m}");
        assert!(m.ends_with(&format!(" at byte {}", span.start)), "{m}");
    }
}

#[test]
fn names_belong_to_month_and_day_of_week() {
    let (kind, field, span, m) = fail("0 9 * * MON-FRY");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnknownName, Some(Field::DayOfWeek), 12..15)
    );
    assert_eq!(
        m,
        r#"invalid cron "0 9 * * MON-FRY": the day of week field "MON-FRY": "FRY" is not a day of week name (SUN-SAT) at byte 12"#
    );
    let (kind, field, _, m) = fail("0 9 * JANUARY *");
    assert_eq!((kind, field), (ErrorKind::UnknownName, Some(Field::Month)));
    assert!(m.contains("not a month name (JAN-DEC)"), "{m}");
    let (kind, field, span, m) = fail("MON 9 * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnknownName, Some(Field::Minute), 0..3)
    );
    assert!(
        m.contains("names are for the month and day of week fields"),
        "{m}"
    );
    let (kind, field, _, _) = fail("0 9 * MON *");
    assert_eq!((kind, field), (ErrorKind::UnknownName, Some(Field::Month)));
    let (kind, field, _, _) = fail("0 9 * * JAN");
    assert_eq!(
        (kind, field),
        (ErrorKind::UnknownName, Some(Field::DayOfWeek))
    );
}

#[test]
fn quartz_extensions_and_odd_characters() {
    for (input, field, at) in [
        ("0 0 L * *", Field::DayOfMonth, 4),
        ("0 0 15W * *", Field::DayOfMonth, 6),
        ("0 0 * * 5L", Field::DayOfWeek, 9),
        ("0 0 * * 1#2", Field::DayOfWeek, 9),
        ("0 0 ? * 1", Field::DayOfMonth, 4),
    ] {
        let (kind, f, span, m) = fail(input);
        assert_eq!(
            (kind, f, span.start),
            (ErrorKind::UnexpectedCharacter, Some(field), at),
            "{m}"
        );
        assert!(m.contains("extensions are not supported"), "{m}");
    }
    let (kind, field, span, m) = fail("0 0 * * +1");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnexpectedCharacter, Some(Field::DayOfWeek), 8..9)
    );
    assert!(m.contains("names, *"), "{m}");
    let (kind, field, span, _) = fail("0 é * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnexpectedCharacter, Some(Field::Hour), 2..4)
    );
    let (kind, field, span, _) = fail("*/5/2 * * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnexpectedCharacter, Some(Field::Minute), 3..4)
    );
}

#[test]
fn lists_ranges_and_steps() {
    let (kind, field, span, m) = fail("1,,2 * * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::MissingValue, Some(Field::Minute), 2..2)
    );
    assert!(m.contains("empty list item"), "{m}");
    let (kind, field, span, _) = fail("0 1- * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::MissingValue, Some(Field::Hour), 4..4)
    );
    let (kind, field, _, _) = fail("0 -1 * * *");
    assert_eq!((kind, field), (ErrorKind::MissingValue, Some(Field::Hour)));
    let (kind, field, span, _) = fail("*/ * * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::MissingValue, Some(Field::Minute), 2..2)
    );
    let (kind, field, _, _) = fail("/5 * * * *");
    assert_eq!(
        (kind, field),
        (ErrorKind::MissingValue, Some(Field::Minute))
    );
    let (kind, field, span, m) = fail("0 *,5 * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnexpectedCharacter, Some(Field::Hour), 2..3)
    );
    assert!(m.contains("cannot be one item of a list"), "{m}");
    let (kind, field, span, m) = fail("*/0 * * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::BadStep, Some(Field::Minute), 2..3)
    );
    assert!(m.contains("a step must be at least 1"), "{m}");
    let (kind, field, span, m) = fail("5/15 * * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::BadStep, Some(Field::Minute), 0..4)
    );
    assert!(m.contains("(write \"5-59/15\")"), "{m}");
    let (kind, field, span, m) = fail("0 0 * * 5-1");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::ReversedRange, Some(Field::DayOfWeek), 8..11)
    );
    assert!(m.contains("runs backwards"), "{m}");
    let (kind, field, _, _) = fail("0 0 * DEC-JAN *");
    assert_eq!(
        (kind, field),
        (ErrorKind::ReversedRange, Some(Field::Month))
    );
}

#[test]
fn field_count_macros_and_prefixes() {
    let (kind, field, span, m) = fail("0 0 9 * * MON");
    assert_eq!((kind, field, span), (ErrorKind::FieldCount, None, 10..13));
    assert!(
        m.contains("found 6 fields: seconds and years fields are not supported"),
        "{m}"
    );
    let (kind, _, _, m) = fail("0 0 9 * * MON 2030");
    assert_eq!(kind, ErrorKind::FieldCount);
    assert!(m.contains("found 7 fields"), "{m}");
    let (kind, _, span, m) = fail("0 9 * * ");
    assert_eq!((kind, span), (ErrorKind::FieldCount, 7..7));
    assert!(m.contains("found 4 fields"), "{m}");
    let (kind, _, _, m) = fail("   ");
    assert_eq!(kind, ErrorKind::Empty, "{m}");
    let (kind, _, _, m) = fail("CRON_TZ=UTC");
    assert_eq!(kind, ErrorKind::FieldCount);
    assert!(m.contains("found no fields"), "{m}");
    for input in ["@hourly", "@every 5m", "@daily"] {
        let (kind, _, span, m) = fail(input);
        assert_eq!((kind, span.start), (ErrorKind::Macro, 0), "{m}");
        assert!(m.contains("\"@hourly\" is \"0 * * * *\""), "{m}");
    }
    let (kind, _, span, m) = fail("TZ=UTC 0 9 * * *");
    assert_eq!((kind, span), (ErrorKind::UnknownPrefix, 0..3));
    assert!(m.contains("the only prefix is CRON_TZ=<IANA zone>"), "{m}");
}

#[test]
fn zones() {
    let (kind, field, span, m) = fail("CRON_TZ=Mars/Olympus 0 9 * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnknownZone, Some(Field::Zone), 8..20)
    );
    assert_eq!(
        m,
        "invalid cron \"CRON_TZ=Mars/Olympus 0 9 * * *\": the CRON_TZ zone \"Mars/Olympus\" is \
         not an IANA time zone (such as America/New_York; names are case-sensitive) at byte 8"
    );
    let (kind, field, span, m) = fail("CRON_TZ= 0 9 * * *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::UnknownZone, Some(Field::Zone), 8..8)
    );
    assert!(m.contains("zone is missing"), "{m}");
    let (kind, _, _, _) = fail("CRON_TZ=america/new_york 0 9 * * *");
    assert_eq!(kind, ErrorKind::UnknownZone);
    let cron = Cron::parse("  CRON_TZ=Asia/Kolkata\t30 9 * * *  ").unwrap();
    assert_eq!(cron.to_string(), "CRON_TZ=Asia/Kolkata 30 9 * * *");
    assert_eq!(cron.zone(), Some("Asia/Kolkata"));
    assert_eq!(
        Cron::parse("CRON_TZ=UTC 0 9 * * *").unwrap().zone(),
        Some("UTC")
    );
}

#[test]
fn expressions_that_never_fire() {
    let (kind, field, span, m) = fail("0 0 30 2 *");
    assert_eq!(
        (kind, field, span),
        (ErrorKind::NeverFires, Some(Field::DayOfMonth), 4..6)
    );
    assert_eq!(
        m,
        "invalid cron \"0 0 30 2 *\": the expression never fires: no month of the month field \
         \"2\" has a day of the day of month field \"30\" at byte 4"
    );
    assert_eq!(fail("0 0 31 4,6,9,11 *").0, ErrorKind::NeverFires);
    assert_eq!(fail("0 0 30,31 FEB *").0, ErrorKind::NeverFires);
    // February 29th fires in leap years; a weekday makes the day fields an either-or.
    let leap = Cron::parse("0 0 29 2 *").unwrap();
    assert_eq!(leap.next_after(0), Some(68_169_600_000)); // 1972-02-29
    assert!(Cron::parse("0 0 30 2 MON").is_ok());
    assert!(Cron::parse("0 0 31 * *").is_ok());
}

#[test]
fn length_is_capped() {
    let long = format!("0 0 * * {}", "1,".repeat(200));
    let (kind, field, span, m) = fail(&long);
    assert_eq!((kind, field), (ErrorKind::TooLong, None));
    assert_eq!(span.start, MAX_LEN);
    assert!(m.contains("longer than the limit of 256"), "{m}");
    assert!(m.contains('…'), "{m}");
    let just = format!("0 0 * * {}0", "1,".repeat((MAX_LEN - 9) / 2));
    assert!(just.len() <= MAX_LEN);
    assert!(Cron::parse(&just).is_ok());
}

#[test]
fn accepted_forms_and_canonical_display() {
    for (input, canonical) in [
        ("* * * * *", "* * * * *"),
        (" */10 * * * * ", "*/10 * * * *"),
        ("0 9 * * mon-fri", "0 9 * * MON-FRI"),
        ("0\t9  1,15 jan-jun/2 *", "0 9 1,15 JAN-JUN/2 *"),
        ("0 0 * * FRI-SUN", "0 0 * * FRI-SUN"),
        (
            "0-59/15 0-23/6 1-31/10 1-12/3 0-7/2",
            "0-59/15 0-23/6 1-31/10 1-12/3 0-7/2",
        ),
        ("*/60 * * * 7", "*/60 * * * 7"),
    ] {
        let cron = Cron::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(cron.to_string(), canonical);
        assert_eq!(Cron::parse(canonical).unwrap(), cron);
    }
    let weekend = Cron::parse("0 0 * * FRI-SUN").unwrap();
    assert_eq!(weekend.values(Field::DayOfWeek), [0, 5, 6]);
    assert_eq!(
        Cron::parse("0 0 * * 7").unwrap().values(Field::DayOfWeek),
        [0]
    );
    // Names go to the cron crate as numbers: `SUN-SUN` is Sunday alone, not 0-7.
    let sunday = Cron::parse("0 0 * * SUN-SUN").unwrap();
    assert_eq!(sunday.values(Field::DayOfWeek), [0]);
    assert_eq!(sunday.to_string(), "0 0 * * SUN-SUN");
}

#[cfg(feature = "serde")]
#[test]
fn serde_uses_the_canonical_string() {
    let cron: Cron = serde_json::from_str(r#""CRON_TZ=Europe/Berlin 0 9 * * mon""#).unwrap();
    assert_eq!(
        serde_json::to_string(&cron).unwrap(),
        r#""CRON_TZ=Europe/Berlin 0 9 * * MON""#
    );
    let err = serde_json::from_str::<Cron>(r#""0 25 * * *""#).unwrap_err();
    assert!(err.to_string().contains("the hour field \"25\""), "{err}");
}
