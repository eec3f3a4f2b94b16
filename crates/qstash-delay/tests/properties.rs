//! Property tests: round trips, agreement with an independent reference parser, no panics.

use proptest::prelude::*;
use qstash_delay::Delay;

/// An independent reading of the grammar in the crate docs: a plain loop over the bytes with `u128` arithmetic,
/// no `nom`, no shared code. Returns `None` for any input outside the grammar or above
/// `u64::MAX` nanoseconds. Fractions are limited to 24 digits so that `u128` stays exact;
/// the generators below respect that.
fn reference(input: &[u8]) -> Option<u64> {
    if input == b"0" {
        return Some(0);
    }
    if input.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    let mut i = 0;
    while i < input.len() {
        let mut int: u128 = 0;
        let mut int_digits = 0;
        while i < input.len() && input[i].is_ascii_digit() {
            int = (int * 10 + u128::from(input[i] - b'0')).min(u128::from(u64::MAX) + 1);
            int_digits += 1;
            i += 1;
        }
        let mut frac: u128 = 0;
        let mut frac_digits = 0u32;
        if i < input.len() && input[i] == b'.' {
            i += 1;
            while i < input.len() && input[i].is_ascii_digit() {
                frac = frac * 10 + u128::from(input[i] - b'0');
                frac_digits += 1;
                i += 1;
            }
        }
        if int_digits == 0 && frac_digits == 0 {
            return None;
        }
        let units: [(&str, u128); 9] = [
            ("ns", 1),
            ("us", 1_000),
            ("µs", 1_000),
            ("μs", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
        ];
        let start = i;
        while i < input.len() && (input[i].is_ascii_alphabetic() || input[i] >= 0x80) {
            i += 1;
        }
        let word = &input[start..i];
        let (_, unit) = units.iter().find(|(name, _)| name.as_bytes() == word)?;
        total += int * unit + frac * unit / 10u128.pow(frac_digits);
        if total > u128::from(u64::MAX) {
            return None;
        }
    }
    u64::try_from(total).ok()
}

/// Strings over the grammar's alphabet plus a few wrong bytes: mostly near-misses.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => "[0-9]{1,3}",
        2 => Just(".".to_string()),
        3 => prop::sample::select(vec!["d", "h", "m", "s", "ms", "us", "µs", "μs", "ns"])
            .prop_map(str::to_string),
        1 => prop::sample::select(vec!["x", " ", "-", "S", "H", "sec", "e", "+", "0"])
            .prop_map(str::to_string),
    ];
    // At most 8 tokens of at most 3 digits: fractions stay within the reference's 24 digits.
    prop::collection::vec(token, 0..9).prop_map(|tokens| tokens.concat())
}

/// Well-formed delays: 1–5 components with optional fractions (at most 24 digits).
fn valid_delay() -> impl Strategy<Value = String> {
    let component = (
        prop_oneof!["[0-9]{1,6}", "[0-9]{0,20}"],
        prop::option::of("[0-9]{0,24}"),
        prop::sample::select(vec!["d", "h", "m", "s", "ms", "us", "µs", "μs", "ns"]),
    )
        .prop_filter_map("a number needs a digit", |(int, frac, unit)| {
            let has_digit = !int.is_empty() || frac.as_ref().is_some_and(|f| !f.is_empty());
            has_digit.then(|| match frac {
                Some(frac) => format!("{int}.{frac}{unit}"),
                None => format!("{int}{unit}"),
            })
        });
    prop::collection::vec(component, 1..6).prop_map(|c| c.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn display_parse_round_trip(nanos in any::<u64>()) {
        let delay = Delay::from_nanos(nanos);
        let shown = delay.to_string();
        prop_assert_eq!(Delay::parse(shown.as_bytes()), Ok(delay), "{}", shown);
    }

    #[test]
    fn round_trip_near_unit_boundaries(base in 0u64..100_000, unit in 0usize..7, delta in -3i64..=3) {
        let sizes = [1u64, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000, 86_400_000_000_000];
        let nanos = base.saturating_mul(sizes[unit]).saturating_add_signed(delta);
        let delay = Delay::from_nanos(nanos);
        prop_assert_eq!(delay.to_string().parse::<Delay>(), Ok(delay));
    }

    #[test]
    fn agrees_with_reference_on_token_soup(s in token_soup()) {
        let ours = Delay::parse(s.as_bytes()).ok().map(Delay::as_nanos);
        prop_assert_eq!(ours, reference(s.as_bytes()), "input {:?}", s);
    }

    #[test]
    fn agrees_with_reference_on_valid_shapes(s in valid_delay()) {
        let ours = Delay::parse(s.as_bytes()).ok().map(Delay::as_nanos);
        prop_assert_eq!(ours, reference(s.as_bytes()), "input {:?}", s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match Delay::parse(&bytes) {
            Ok(delay) => {
                let shown = delay.to_string();
                prop_assert_eq!(Delay::parse(shown.as_bytes()), Ok(delay));
            }
            Err(err) => {
                prop_assert!(err.span().end <= bytes.len());
                prop_assert!(err.to_string().starts_with("invalid delay \""));
            }
        }
    }

    #[test]
    fn errors_point_inside_the_input(s in token_soup()) {
        if let Err(err) = Delay::parse(s.as_bytes()) {
            prop_assert!(err.span().end <= s.len(), "{:?}: {}", s, err);
            let at = format!("at byte {}", err.offset());
            prop_assert!(s.is_empty() || err.to_string().ends_with(&at), "{}", err);
        }
    }
}
