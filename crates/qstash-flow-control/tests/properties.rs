//! Property tests: canonical round trip, every key order with any optional whitespace, and
//! agreement with a simple reference parser written here from the grammar in the crate docs.

use std::num::NonZeroU32;

use proptest::prelude::*;
use qstash_flow_control::{Delay, ErrorKind, FlowControl, FlowControlKey};

const SECOND: u64 = 1_000_000_000;
const MAX_PERIOD: u64 = 7 * 24 * 3600 * SECOND;

// ---- the reference parser -------------------------------------------------------------------

/// What the reference parser finds: (parallelism, rate, period in nanoseconds if given).
type Parts = (Option<u32>, Option<u32>, Option<u64>);

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The spec read as plainly as possible: trim, split on `,`, split each pair on its first `=`.
fn reference(input: &str) -> Option<Parts> {
    let input = input.trim_matches(is_ows);
    if input.is_empty() {
        return None;
    }
    let (mut parallelism, mut rate, mut period) = (None, None, None);
    for piece in input.split(',') {
        let (key, value) = piece.split_once('=')?;
        let value = value.trim_matches(is_ows);
        match key.trim_matches(is_ows) {
            "parallelism" if parallelism.is_none() => parallelism = Some(reference_limit(value)?),
            "rate" if rate.is_none() => rate = Some(reference_limit(value)?),
            "period" if period.is_none() => period = Some(reference_period(value)?),
            _ => return None,
        }
    }
    if parallelism.is_none() && rate.is_none() {
        return None;
    }
    Some((parallelism, rate, period))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn reference_limit(value: &str) -> Option<u32> {
    if !all_digits(value) {
        return None;
    }
    let significant = value.trim_start_matches('0');
    if significant.is_empty() {
        return None;
    }
    significant.parse::<u32>().ok()
}

fn reference_period(value: &str) -> Option<u64> {
    let nanos = if all_digits(value) {
        let significant = value.trim_start_matches('0');
        if significant.len() > 7 {
            return None;
        }
        significant.parse::<u64>().unwrap_or(0) * SECOND
    } else {
        value.parse::<Delay>().ok()?.as_nanos()
    };
    (1..=MAX_PERIOD).contains(&nanos).then_some(nanos)
}

fn parts(value: FlowControl) -> Parts {
    (
        value.parallelism().map(NonZeroU32::get),
        value.rate().map(NonZeroU32::get),
        value.period_is_set().then(|| value.period().as_nanos()),
    )
}

// ---- strategies -------------------------------------------------------------------------------

fn limit() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![
        (1u32..=1000).prop_map(|n| NonZeroU32::new(n).unwrap()),
        any::<NonZeroU32>(),
        Just(NonZeroU32::MAX),
    ]
}

fn period() -> impl Strategy<Value = Delay> {
    prop_oneof![
        (1u64..=604_800).prop_map(|s| Delay::from_nanos(s * SECOND)),
        (1u64..=10_080).prop_map(|m| Delay::from_nanos(m * 60 * SECOND)),
        (1u64..=MAX_PERIOD).prop_map(Delay::from_nanos),
        Just(Delay::from_nanos(SECOND)),
        Just(Delay::from_nanos(MAX_PERIOD)),
    ]
}

prop_compose! {
    fn flow_control()(
        (parallelism, rate) in prop_oneof![
            limit().prop_map(|p| (Some(p), None)),
            limit().prop_map(|r| (None, Some(r))),
            (limit(), limit()).prop_map(|(p, r)| (Some(p), Some(r))),
        ],
        period in proptest::option::of(period()),
    ) -> FlowControl {
        let mut value = FlowControl::new(parallelism, rate).unwrap();
        if let Some(p) = period {
            value.set_period(p).unwrap();
        }
        value
    }
}

/// Optional whitespace: nothing, or a few spaces and tabs.
fn ows() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[ \t]{1,3}"]
}

/// The ways a limit may be written: with 0 to 3 leading zeros.
fn spell_limit(n: NonZeroU32, zeros: usize) -> String {
    format!("{}{}", "0".repeat(zeros), n)
}

/// The ways a period may be written: canonical, whole seconds, nanoseconds, milliseconds or
/// the sum of two delay components.
fn spell_period(p: Delay, how: usize) -> String {
    let n = p.as_nanos();
    match how % 5 {
        1 if n.is_multiple_of(SECOND) => format!("{}", n / SECOND),
        2 => format!("{n}ns"),
        3 if n.is_multiple_of(1_000_000) => format!("{}ms", n / 1_000_000),
        4 if n > 1 => format!("{}ns{}", n / 2, Delay::from_nanos(n - n / 2)),
        _ => p.to_string(),
    }
}

/// All orders of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// Soup of the grammar's pieces, valid and not, for the reference comparison.
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "parallelism",
        "rate",
        "period",
        "Rate",
        "par",
        "x",
        "=",
        "=",
        "=",
        ",",
        ",",
        ", ",
        " ",
        "\t",
        "\n",
        "0",
        "1",
        "5",
        "007",
        "60",
        "604800",
        "604801",
        "4294967295",
        "4294967296",
        "1m",
        "1.5s",
        "7d",
        "7d1ns",
        "0s",
        "1x",
        ".",
        "µs",
        "-",
        "+",
        ";",
        "1h30m",
        "99999999999d",
    ])
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..14).prop_map(|t| t.concat())
}

/// A valid value written as tokens, with at most one token swapped for one from a list of
/// faults (which holds some valid tokens too).
fn near_valid() -> impl Strategy<Value = String> {
    let keys = Just(vec!["parallelism", "rate", "period"]).prop_shuffle();
    let limit = prop::sample::select(vec!["1", "2", "10", "007", "4294967295"]);
    let period = prop::sample::select(vec![
        "1m", "60", "7d", "604800", "604800s", "168h", "1s", "1.5s", "90m", "1", "1ms", "1m1s",
    ]);
    let eq = prop::sample::select(vec!["=", " = ", "\t=", "= "]);
    let sep = prop::sample::select(vec![",", ", ", " ,", "\t,\t"]);
    let fault = prop::sample::select(vec![
        "169h",
        "10081m",
        "0d",
        "1M",
        "1mm",
        "Period",
        "",
        "rates",
        "rate",
        "period",
        "0",
        "00",
        "4294967296",
        "8d",
        "7d1ns",
        "604801",
        "0s",
        "1.5",
        "x",
        "1 s",
        "+1",
        ":",
        "==",
        ",,",
        " ",
        ";",
        ",",
        "\n",
        "=",
        "1m",
    ]);
    (
        keys,
        1usize..=3,
        prop::collection::vec((eq, limit, period, sep), 3),
        proptest::option::weighted(0.7, (any::<prop::sample::Index>(), fault)),
    )
        .prop_map(|(keys, n, parts, fault)| {
            let mut tokens: Vec<&str> = Vec::new();
            for (i, (key, (eq, limit, period, sep))) in keys.iter().zip(&parts).take(n).enumerate()
            {
                if i > 0 {
                    tokens.push(sep);
                }
                tokens.push(key);
                tokens.push(eq);
                tokens.push(if *key == "period" { period } else { limit });
            }
            tokens.push("");
            if let Some((at, bad)) = fault {
                *at.get_mut(&mut tokens) = bad;
            }
            tokens.concat()
        })
}

// ---- properties -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn canonical_form_round_trips(value in flow_control()) {
        let shown = value.to_string();
        let again = FlowControl::parse(shown.as_bytes()).unwrap();
        prop_assert_eq!(again, value);
        prop_assert_eq!(again.to_string(), shown.clone());
        prop_assert_eq!(shown.parse::<FlowControl>().unwrap(), value);
        prop_assert_eq!(reference(&shown), Some(parts(value)));
    }

    #[test]
    fn every_key_order_with_any_whitespace_parses_to_the_same_value(
        value in flow_control(),
        spaces in prop::collection::vec(ows(), 48),
        zeros in prop::collection::vec(0usize..4, 2),
        how in 0usize..5,
    ) {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(n) = value.parallelism() {
            pairs.push(("parallelism", spell_limit(n, zeros[0])));
        }
        if let Some(n) = value.rate() {
            pairs.push(("rate", spell_limit(n, zeros[1])));
        }
        if value.period_is_set() {
            pairs.push(("period", spell_period(value.period(), how)));
        }
        let mut ws = spaces.iter().cycle();
        for order in permutations(&pairs) {
            let mut input = ws.next().unwrap().clone();
            for (i, (key, spelt)) in order.iter().enumerate() {
                if i > 0 {
                    input.push_str(ws.next().unwrap());
                    input.push(',');
                    input.push_str(ws.next().unwrap());
                }
                input.push_str(key);
                input.push_str(ws.next().unwrap());
                input.push('=');
                input.push_str(ws.next().unwrap());
                input.push_str(spelt);
            }
            input.push_str(ws.next().unwrap());
            let parsed = FlowControl::parse(input.as_bytes());
            prop_assert_eq!(parsed, Ok(value), "input {:?}", input);
        }
    }

    #[test]
    fn agrees_with_the_reference_on_token_soup(input in soup()) {
        let ours = FlowControl::parse(input.as_bytes()).map(parts).ok();
        prop_assert_eq!(ours, reference(&input), "input {:?}", input);
    }

    #[test]
    fn agrees_with_the_reference_on_near_valid_values(input in near_valid()) {
        let ours = FlowControl::parse(input.as_bytes());
        prop_assert_eq!(ours.as_ref().map(|v| parts(*v)).ok(), reference(&input), "input {:?}: {:?}", input, ours);
    }

    #[test]
    fn agrees_with_the_reference_on_any_string(input in "\\PC{0,40}") {
        let ours = FlowControl::parse(input.as_bytes()).map(parts).ok();
        prop_assert_eq!(ours, reference(&input), "input {:?}", input);
    }

    #[test]
    fn any_bytes_give_a_value_or_an_error_inside_the_input(data in prop::collection::vec(any::<u8>(), 0..64)) {
        match FlowControl::parse(&data) {
            Ok(value) => {
                prop_assert!(value.parallelism().is_some() || value.rate().is_some());
                let shown = value.to_string();
                prop_assert_eq!(FlowControl::parse(shown.as_bytes()), Ok(value));
            }
            Err(err) => {
                prop_assert!(err.span().end <= data.len(), "{}", err);
                let msg = err.to_string();
                if err.kind() != ErrorKind::Empty {
                    let tail = format!(" at byte {}", err.offset());
                    prop_assert!(msg.ends_with(&tail), "{}", msg);
                }
                prop_assert_eq!(err.kind() == ErrorKind::BadPeriod && err.period_error().is_none(), false);
            }
        }
        match FlowControlKey::parse(&data) {
            Ok(key) => {
                prop_assert_eq!(key.as_str().as_bytes(), &data[..]);
                prop_assert!((1..=256).contains(&data.len()));
            }
            Err(err) => prop_assert!(err.span().end <= data.len().max(FlowControlKey::MAX_LEN)),
        }
    }

    #[test]
    fn keys_of_visible_ascii_are_accepted_and_others_refused(key in "[!-~]{1,256}", bad in "[!-~]{0,20}[ \t\u{7f}é][!-~]{0,20}") {
        let parsed = FlowControlKey::new(key.clone()).unwrap();
        prop_assert_eq!(parsed.as_str(), key.as_str());
        prop_assert_eq!(parsed.to_string().parse::<FlowControlKey>().unwrap(), parsed);
        prop_assert!(FlowControlKey::new(bad).is_err());
    }
}
