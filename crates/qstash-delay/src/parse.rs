//! The `Upstash-Delay` grammar (spec §2), lexed with `nom` over bytes.
//!
//! ```text
//! delay     = "0" | component { component }
//! component = decimal unit
//! decimal   = digit { digit } [ "." { digit } ] | "." digit { digit }
//! unit      = "d" | "h" | "m" | "s" | "ms" | "us" | "µs" | "μs" | "ns"
//! ```
//!
//! `nom` splits each component into its integer digits, its fraction digits and the run of
//! letters after them; the arithmetic is exact `u64` nanoseconds with every step checked.

use nom::bytes::complete::{tag, take_while};
use nom::character::complete::digit0;
use nom::combinator::opt;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::{Delay, ErrorKind, ParseError};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;

/// One lexed component: `int` `.` `frac` `unit`, each possibly empty.
struct Lexed<'a> {
    int: &'a [u8],
    frac: Option<&'a [u8]>,
    unit: &'a [u8],
}

impl Lexed<'_> {
    /// Length of the number, decimal point included.
    fn number_len(&self) -> usize {
        self.int.len() + self.frac.map_or(0, |f| f.len() + 1)
    }
}

/// Bytes that make up a unit: ASCII letters and any non-ASCII byte (`µ`, `μ`, or a typo).
fn is_unit_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

/// Lexes one component. It cannot fail: every part may be empty, and the caller judges.
fn lex(input: &[u8]) -> IResult<&[u8], Lexed<'_>, ()> {
    (
        digit0,
        opt(preceded(tag(&b"."[..]), digit0)),
        take_while(is_unit_byte),
    )
        .map(|(int, frac, unit)| Lexed { int, frac, unit })
        .parse(input)
}

/// The length in nanoseconds of a unit's spelling, if it is one.
fn unit_nanos(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"s" => S,
        b"m" => M,
        b"h" => H,
        b"d" => D,
        b"ms" => MS,
        // `us`, `µs` (U+00B5 MICRO SIGN) and `μs` (U+03BC GREEK SMALL LETTER MU).
        b"us" | [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => US,
        b"ns" => NS,
        _ => return None,
    })
}

/// The decimal digits `digits` as a `u64`, or `None` above `u64::MAX`.
fn integer(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
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

/// Length of the UTF-8 character starting with `b` (1 for a stray byte).
fn char_len(rest: &[u8]) -> usize {
    let n = match rest.first() {
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    };
    if rest.get(..n).is_some_and(|c| std::str::from_utf8(c).is_ok()) {
        n
    } else {
        1
    }
}

pub(crate) fn parse(input: &[u8]) -> Result<Delay, ParseError> {
    if input.is_empty() {
        return Err(ParseError::new(ErrorKind::Empty, input, 0, 0));
    }
    if input == b"0" {
        return Ok(Delay::ZERO);
    }
    let mut total = 0u64;
    let mut rest = input;
    while !rest.is_empty() {
        let start = input.len() - rest.len();
        let Ok((after, lexed)) = lex(rest) else {
            // `lex` accepts every input; this arm is unreachable but must not panic.
            return Err(ParseError::new(ErrorKind::UnexpectedCharacter, input, start, 1));
        };
        let number_len = lexed.number_len();
        let unit_at = start + number_len;
        if lexed.int.is_empty() && lexed.frac.is_none_or(<[u8]>::is_empty) {
            return Err(match lexed.frac {
                Some(_) => ParseError::new(ErrorKind::BadNumber, input, start, 1),
                None => {
                    ParseError::new(ErrorKind::UnexpectedCharacter, input, start, char_len(rest))
                }
            });
        }
        let Some(unit) = unit_nanos(lexed.unit) else {
            return Err(match (lexed.unit, after.first()) {
                ([], None) => ParseError::new(ErrorKind::MissingUnit, input, unit_at, 0),
                ([], Some(b'.')) => ParseError::new(ErrorKind::BadNumber, input, unit_at, 1),
                ([], Some(_)) => ParseError::new(
                    ErrorKind::UnexpectedCharacter,
                    input,
                    unit_at,
                    char_len(after),
                ),
                (unit, _) => ParseError::new(ErrorKind::UnknownUnit, input, unit_at, unit.len()),
            });
        };
        let value = integer(lexed.int)
            .and_then(|int| int.checked_mul(unit))
            .and_then(|whole| whole.checked_add(fraction(lexed.frac.unwrap_or_default(), unit)))
            .and_then(|value| total.checked_add(value));
        let Some(sum) = value else {
            let len = number_len + lexed.unit.len();
            return Err(ParseError::new(ErrorKind::Overflow, input, start, len));
        };
        total = sum;
        rest = after;
    }
    Ok(Delay::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_truncates_exactly() {
        // 0.333… of a minute: 19.99…s, never rounded up to 20s.
        assert_eq!(fraction(b"3333333333333333333333333333333", M), 19_999_999_999);
        // 1/3 of a minute is exactly 20s; the digits that follow decide.
        assert_eq!(fraction(b"33333333333333333333334", M), 20_000_000_000);
        assert_eq!(fraction(b"5", H), H / 2);
        assert_eq!(fraction(b"999999999", NS), 0);
        assert_eq!(fraction(b"", D), 0);
    }

    #[test]
    fn integer_overflow_is_none() {
        assert_eq!(integer(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(integer(b"18446744073709551616"), None);
        assert_eq!(integer(b"000000000000000000000000001"), Some(1));
    }
}
