//! The `Upstash-Delay` grammar (see the crate docs) as `nom` parsers over bytes.
//!
//! ```text
//! delay     = "0" | component { component }
//! component = decimal unit
//! decimal   = digit { digit } [ "." { digit } ] | "." digit { digit }
//! unit      = "d" | "h" | "m" | "s" | "ms" | "us" | "µs" | "μs" | "ns"
//! ```
//!
//! Each grammar rule is a function returning [`IResult`] with a [`Rejection`] error that keeps the
//! remaining input, so the caller can turn it into a byte offset. The hot rules (digits, unit)
//! are written out by hand, one pass over the bytes with no backtracking; `nom`'s combinators
//! classify the cold error paths. The arithmetic is exact `u64` nanoseconds, every step
//! checked.

use nom::bytes::complete::take_while;
use nom::{IResult, Parser};

use crate::{Delay, ErrorKind, ParseError};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;

/// Nineteen decimal digits always fit a `u64`; longer runs are accumulated with checks.
const SAFE_DIGITS: usize = 19;

/// A parse failure: what, where (the input remaining at the fault) and how many bytes.
#[derive(Debug, PartialEq)]
struct Rejection<'a> {
    kind: ErrorKind,
    at: &'a [u8],
    len: usize,
}

impl<'a> nom::error::ParseError<&'a [u8]> for Rejection<'a> {
    fn from_error_kind(at: &'a [u8], _: nom::error::ErrorKind) -> Self {
        Rejection {
            kind: ErrorKind::UnexpectedCharacter,
            at,
            len: char_len(at),
        }
    }

    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

fn fail<T>(kind: ErrorKind, at: &[u8], len: usize) -> IResult<&[u8], T, Rejection<'_>> {
    Err(nom::Err::Error(Rejection { kind, at, len }))
}

/// Bytes that make up a unit: ASCII letters and any non-ASCII byte (`µ`, `μ`, or a typo).
const fn is_unit_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

/// Length of the UTF-8 character at the start of `rest` (1 for a stray byte).
fn char_len(rest: &[u8]) -> usize {
    let n = match rest.first() {
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    };
    if rest
        .get(..n)
        .is_some_and(|c| std::str::from_utf8(c).is_ok())
    {
        n
    } else {
        1
    }
}

/// `digit { digit }` or nothing: the run of ASCII digits and its value (`None` above
/// `u64::MAX`), in one pass.
fn digits(input: &[u8]) -> IResult<&[u8], (&[u8], Option<u64>), Rejection<'_>> {
    let mut value = 0u64;
    let mut len = 0;
    while let Some(&b) = input.get(len) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        len += 1;
    }
    let (run, rest) = input.split_at_checked(len).unwrap_or((input, &[]));
    let value = if len <= SAFE_DIGITS {
        Some(value)
    } else {
        checked_value(run)
    };
    Ok((rest, (run, value)))
}

/// The value of a long run of digits, or `None` above `u64::MAX`.
#[cold]
fn checked_value(run: &[u8]) -> Option<u64> {
    run.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `unit`: its size in nanoseconds. The whole run of letters must be the unit, so `1hm`
/// and `5sec` are unknown units rather than a unit followed by garbage.
fn unit(input: &[u8]) -> IResult<&[u8], u64, Rejection<'_>> {
    let second_is_s = input.get(1) == Some(&b's');
    let (size, len) = match input.first() {
        Some(b's') => (S, 1),
        Some(b'm') if second_is_s => (MS, 2),
        Some(b'm') => (M, 1),
        Some(b'h') => (H, 1),
        Some(b'd') => (D, 1),
        Some(b'u') if second_is_s => (US, 2),
        Some(b'n') if second_is_s => (NS, 2),
        // `µs` (U+00B5 MICRO SIGN) and `μs` (U+03BC GREEK SMALL LETTER MU).
        Some(0xC2 | 0xCE) if matches!(input, [0xC2, 0xB5, b's', ..] | [0xCE, 0xBC, b's', ..]) => {
            (US, 3)
        }
        _ => return not_a_unit(input),
    };
    match input.split_at_checked(len) {
        Some((_, rest)) if !rest.first().is_some_and(|&b| is_unit_byte(b)) => Ok((rest, size)),
        _ => not_a_unit(input),
    }
}

/// Says why `input` does not start with a unit.
#[cold]
fn not_a_unit(input: &[u8]) -> IResult<&[u8], u64, Rejection<'_>> {
    let run: IResult<&[u8], &[u8], Rejection<'_>> = take_while(is_unit_byte).parse(input);
    match (run, input.first()) {
        (Ok((_, word)), _) if !word.is_empty() => fail(ErrorKind::UnknownUnit, input, word.len()),
        (_, None) => fail(ErrorKind::MissingUnit, input, 0),
        (_, Some(b'.')) => fail(ErrorKind::BadNumber, input, 1),
        (_, Some(_)) => fail(ErrorKind::UnexpectedCharacter, input, char_len(input)),
    }
}

/// `floor(unit × 0.digits)`, exactly, for any number of digits.
///
/// Working from the last digit back, each step keeps the integer part of
/// `unit × 0.dᵢ…dₙ`; since `floor((a + floor(x)) / 10) = floor((a + x) / 10)` for an integer
/// `a`, the result is the exact truncation. Every intermediate stays below `10 × unit`.
fn fraction(digits: &[u8], unit: u64) -> u64 {
    digits
        .iter()
        .rev()
        .fold(0u64, |carry, &d| (unit * u64::from(d - b'0') + carry) / 10)
}

/// `component = decimal unit`: its length in nanoseconds.
fn component(input: &[u8]) -> IResult<&[u8], u64, Rejection<'_>> {
    let (rest, (int, int_value)) = digits(input)?;
    let (rest, frac) = match rest {
        [b'.', after @ ..] => {
            let (rest, (frac, _)) = digits(after)?;
            (rest, Some(frac))
        }
        _ => (rest, None),
    };
    if int.is_empty() && frac.is_none_or(<[u8]>::is_empty) {
        return match frac {
            Some(_) => fail(ErrorKind::BadNumber, input, 1),
            None => fail(ErrorKind::UnexpectedCharacter, input, char_len(input)),
        };
    }
    let (rest, size) = unit(rest)?;
    let value = int_value
        .and_then(|v| v.checked_mul(size))
        .and_then(|whole| whole.checked_add(fraction(frac.unwrap_or_default(), size)));
    match value {
        Some(value) => Ok((rest, value)),
        None => fail(ErrorKind::Overflow, input, input.len() - rest.len()),
    }
}

/// Byte classes for [`parse_simple`]: a digit's value, or one of the codes below.
#[allow(clippy::indexing_slicing)] // `b` runs over 0..256, the table's length
const CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = if byte.is_ascii_digit() {
            byte - b'0'
        } else if is_unit_byte(byte) {
            LETTER
        } else {
            OTHER
        };
        b += 1;
    }
    table
};
/// Any byte that can be part of a unit's spelling (see [`is_unit_byte`]).
const LETTER: u8 = 10;
/// Anything else: `.`, signs, whitespace, punctuation.
const OTHER: u8 = 11;

/// The class of the byte at `i`, or [`OTHER`] past the end.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // a `u8` always indexes a 256-entry table
fn class_at(input: &[u8], i: usize) -> u8 {
    match input.get(i) {
        Some(&b) => CLASS[usize::from(b)],
        None => OTHER,
    }
}

/// The straight path for the common shape: ASCII components of whole digits (at most 19)
/// and a unit, with no fraction. Returns `None` for anything else (fractions, `µs`, long
/// numbers, overflow and every error), which the full grammar in [`parse_full`] then reads.
/// Property tests check that both paths agree wherever this one answers.
#[inline(always)]
fn parse_simple(input: &[u8]) -> Option<u64> {
    if input.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut i = 0;
    while i < input.len() {
        let mut value = u64::from(class_at(input, i));
        if value > 9 {
            return None;
        }
        let start = i;
        i += 1;
        loop {
            let class = class_at(input, i);
            if class > 9 {
                break;
            }
            if i - start >= SAFE_DIGITS {
                return None;
            }
            value = value * 10 + u64::from(class);
            i += 1;
        }
        let second_is_s = input.get(i + 1) == Some(&b's');
        let (size, len) = match input.get(i) {
            Some(b's') => (S, 1),
            Some(b'm') if second_is_s => (MS, 2),
            Some(b'm') => (M, 1),
            Some(b'h') => (H, 1),
            Some(b'd') => (D, 1),
            Some(b'u') if second_is_s => (US, 2),
            Some(b'n') if second_is_s => (NS, 2),
            _ => return None,
        };
        i += len;
        if class_at(input, i) == LETTER {
            return None;
        }
        total = total.checked_add(value.checked_mul(size)?)?;
    }
    Some(total)
}

pub(crate) fn parse(input: &[u8]) -> Result<Delay, ParseError> {
    match parse_simple(input) {
        Some(nanos) => Ok(Delay::from_nanos(nanos)),
        None => parse_full(input),
    }
}

/// The whole grammar, with exact errors.
#[cold]
#[inline(never)]
pub(crate) fn parse_full(input: &[u8]) -> Result<Delay, ParseError> {
    if input == b"0" {
        return Ok(Delay::ZERO);
    }
    if input.is_empty() {
        return Err(ParseError::new(ErrorKind::Empty, input, 0, 0));
    }
    let mut total = 0u64;
    let mut rest = input;
    while !rest.is_empty() {
        let fault = match component(rest) {
            Ok((after, value)) => match total.checked_add(value) {
                Some(sum) => {
                    total = sum;
                    rest = after;
                    continue;
                }
                None => Rejection {
                    kind: ErrorKind::Overflow,
                    at: rest,
                    len: rest.len() - after.len(),
                },
            },
            Err(nom::Err::Error(fault) | nom::Err::Failure(fault)) => fault,
            Err(nom::Err::Incomplete(_)) => Rejection {
                kind: ErrorKind::UnexpectedCharacter,
                at: rest,
                len: 1,
            },
        };
        let offset = input.len() - fault.at.len();
        return Err(ParseError::new(fault.kind, input, offset, fault.len));
    }
    Ok(Delay::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_truncates_exactly() {
        // 0.333… of a minute: 19.99…s, never rounded up to 20s.
        assert_eq!(
            fraction(b"3333333333333333333333333333333", M),
            19_999_999_999
        );
        // 1/3 of a minute is exactly 20s; the digits that follow decide.
        assert_eq!(fraction(b"33333333333333333333334", M), 20_000_000_000);
        assert_eq!(fraction(b"5", H), H / 2);
        assert_eq!(fraction(b"999999999", NS), 0);
        assert_eq!(fraction(b"", D), 0);
    }

    #[test]
    fn digits_overflow_is_none() {
        let value = |s: &[u8]| digits(s).map(|(_, (_, v))| v).ok().flatten();
        assert_eq!(value(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(value(b"18446744073709551616"), None);
        assert_eq!(
            value(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(value(b"000000000000000000000000001"), Some(1));
        assert_eq!(digits(b"12x").map(|(rest, _)| rest), Ok(&b"x"[..]));
    }

    proptest::proptest! {
        /// Wherever the straight path answers, the full grammar gives the same value.
        #[test]
        fn straight_path_agrees_with_full_grammar(s in "[0-9]{0,21}[a-z.µ]{0,3}([0-9]{1,4}[dhmsunµ.]{1,2}){0,4}") {
            let full = parse_full(s.as_bytes()).ok().map(Delay::as_nanos);
            if let Some(simple) = parse_simple(s.as_bytes()) {
                proptest::prop_assert_eq!(Some(simple), full, "{:?}", s);
            }
            let ours = parse(s.as_bytes()).ok().map(Delay::as_nanos);
            proptest::prop_assert_eq!(ours, full, "{:?}", s);
        }
    }

    #[test]
    fn straight_path_declines_what_it_does_not_handle() {
        for s in [
            "1.5h",
            "1µs",
            "00000000000000000001s",
            "99999999999999999999s",
            "1d213503d",
            "5sec",
            "",
            "1",
        ] {
            assert_eq!(parse_simple(s.as_bytes()), None, "{s:?}");
        }
        assert_eq!(parse_simple(b"1d10h30m"), Some(D + 10 * H + 30 * M));
        assert_eq!(
            parse_simple(b"9999999999999999999ns"),
            Some(9_999_999_999_999_999_999)
        );
    }

    #[test]
    fn unit_takes_the_whole_letter_run() {
        assert_eq!(unit(b"ms5"), Ok((&b"5"[..], MS)));
        assert_eq!(unit(b"m5"), Ok((&b"5"[..], M)));
        assert!(unit(b"mss").is_err());
        assert!(unit(b"hm").is_err());
        assert!(unit(b"u").is_err());
    }
}
