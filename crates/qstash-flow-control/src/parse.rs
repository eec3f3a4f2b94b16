//! The `Upstash-Flow-Control-Value` grammar (see the crate docs), lexed with `nom` over bytes.
//!
//! ```text
//! value = pair { OWS "," OWS pair }
//! pair  = key OWS "=" OWS number-or-duration
//! key   = "parallelism" | "rate" | "period"
//! OWS   = { SP | HTAB }
//! ```
//!
//! Each piece of a pair is a small `nom` parser: [`key`] recognises the three keys, [`ows`] and
//! [`value_token`] split on byte classes, [`byte`] takes one separator. The walk goes through
//! the input once, left to right, and reports the first rule broken; on an unknown key,
//! [`key_token`] takes the whole misspelt word so that the message can quote it.

use std::num::NonZeroU32;

use nom::{IResult, Input};
use qstash_delay::Delay;

use crate::{ErrorKind, FlowControl, MAX_PERIOD_SECS, ParseError, SECOND};

/// One of the three keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Parallelism,
    Rate,
    Period,
}

impl Key {
    /// The key as spelt on the wire.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Key::Parallelism => "parallelism",
            Key::Rate => "rate",
            Key::Period => "period",
        }
    }
}

/// Optional whitespace as in HTTP: space or horizontal tab.
#[inline]
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Byte class: may be part of a key token, valid or not (letters, digits, `_`, `-`, non-ASCII).
const KEY: u8 = 1;
/// Byte class: ends a value token (`,`, space, tab).
const END: u8 = 2;

/// The class bits of every byte, so that a test is one load instead of a chain of compares.
#[allow(clippy::indexing_slicing)] // `b` runs over 0..256, the table's length
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80 {
            table[b] = KEY;
        } else if c == b',' || c == b' ' || c == b'\t' {
            table[b] = END;
        }
        b += 1;
    }
    table
};

#[inline]
#[allow(clippy::indexing_slicing)] // a `u8` always indexes a 256-entry table
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// Bytes that may make up a key token, valid or not.
#[inline]
fn is_key_byte(b: u8) -> bool {
    class(b) & KEY != 0
}

/// Bytes that end a value token.
#[inline]
fn ends_value(b: u8) -> bool {
    class(b) & END != 0
}

type Lexed<'a, O = &'a [u8]> = IResult<&'a [u8], O, ()>;

// The lexers below call `Input::split_at_position_complete` directly: it is what
// `take_while`/`take_till` do, minus a call per token to a `nom` helper that is not inlined
// across crates (a quarter of the parse time on the canonical form).

/// `OWS`: any run of spaces and tabs, possibly empty (`take_while(is_ows)`).
#[inline]
fn ows(input: &[u8]) -> Lexed<'_> {
    match input.first() {
        Some(&b) if is_ows(b) => input.split_at_position_complete(|b| !is_ows(b)),
        // The common case, no whitespace at all, without the loop.
        _ => Ok((input, &[])),
    }
}

/// A run of key bytes, possibly empty: what the user meant as a key (`take_while(is_key_byte)`).
fn key_token(input: &[u8]) -> Lexed<'_> {
    input.split_at_position_complete(|b| !is_key_byte(b))
}

/// A value: everything up to the next `,`, space or tab, possibly empty (`take_till(ends_value)`).
#[inline]
fn value_token(input: &[u8]) -> Lexed<'_> {
    input.split_at_position_complete(ends_value)
}

/// The separator byte `B`.
#[inline]
fn byte<const B: u8>(input: &[u8]) -> Lexed<'_, u8> {
    match input {
        [b, rest @ ..] if *b == B => Ok((rest, B)),
        _ => Err(nom::Err::Error(())),
    }
}

/// One of the three keys, as a whole word (`rates` is not `rate`).
#[inline]
fn key(input: &[u8]) -> Lexed<'_, Key> {
    let (key, rest) = match input.first() {
        Some(b'r') => (Key::Rate, input.strip_prefix(b"rate")),
        Some(b'p') if input.get(1) == Some(&b'a') => {
            (Key::Parallelism, input.strip_prefix(b"parallelism"))
        }
        Some(b'p') => (Key::Period, input.strip_prefix(b"period")),
        _ => return Err(nom::Err::Error(())),
    };
    match rest {
        Some(rest) if !rest.first().is_some_and(|&b| is_key_byte(b)) => Ok((rest, key)),
        _ => Err(nom::Err::Error(())),
    }
}

/// Runs a lexer that cannot fail; the fallback keeps the input untouched and is never taken.
#[inline]
fn lex<'a>(lexer: impl Fn(&'a [u8]) -> Lexed<'a>, input: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    lexer(input).unwrap_or((input, &[]))
}

/// Length of the UTF-8 character starting `rest` (1 for a stray byte, 0 at the end).
fn char_len(rest: &[u8]) -> usize {
    let n = match rest.first() {
        None => return 0,
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        Some(_) => 1,
    };
    match rest.get(..n) {
        Some(c) if std::str::from_utf8(c).is_ok() => n,
        _ => 1,
    }
}

/// A run of ASCII digits, possibly empty, with its value saturated at `cap`
/// (`digit0` that also folds the value, so that the digits are read once).
#[inline]
fn digits(input: &[u8], cap: u64) -> Lexed<'_, (u64, usize)> {
    let mut n = 0u64;
    let mut len = 0;
    for &b in input {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // `n <= cap < u64::MAX / 10`, so this cannot overflow.
        n = (n * 10 + u64::from(d)).min(cap);
        len += 1;
    }
    Ok((input.get(len..).unwrap_or_default(), (n, len)))
}

/// Whether a value ends at the start of `rest`: at a `,`, a space, a tab or the end.
#[inline]
fn at_value_end(rest: &[u8]) -> bool {
    rest.first().is_none_or(|&b| ends_value(b))
}

/// A whole value that is a non-empty run of digits, with the rest of the input.
#[inline]
fn integer(input: &[u8], cap: u64) -> Option<(&[u8], u64)> {
    match digits(input, cap) {
        Ok((rest, (n, len))) if len > 0 && at_value_end(rest) => Some((rest, n)),
        _ => None,
    }
}

/// Above every valid limit: `u32::MAX + 1`.
const LIMIT_CAP: u64 = u32::MAX as u64 + 1;
/// Above every valid period in whole seconds.
const SECONDS_CAP: u64 = MAX_PERIOD_SECS + 1;

/// The parser's walk over one input.
struct Walk<'a> {
    input: &'a [u8],
    /// Where the value ends once trailing whitespace is cut.
    end: usize,
}

impl Walk<'_> {
    /// The offset in the whole input of `rest`, a suffix of the trimmed value.
    #[inline]
    fn at(&self, rest: &[u8]) -> usize {
        self.end - rest.len()
    }

    #[cold]
    fn error(&self, kind: ErrorKind, offset: usize, len: usize) -> ParseError {
        ParseError::new(kind, self.input, offset, len)
    }

    /// `OWS "=" OWS` after `key`; returns the input after it.
    #[inline]
    fn equals<'i>(&self, key: Key, input: &'i [u8]) -> Result<&'i [u8], ParseError> {
        let (r, _) = lex(ows, input);
        match byte::<b'='>(r) {
            Ok((r, _)) => Ok(lex(ows, r).0),
            Err(_) => Err(self.missing_equals(key, r)),
        }
    }

    /// The error for a key not followed by `=`.
    #[cold]
    fn missing_equals(&self, key: Key, rest: &[u8]) -> ParseError {
        self.error(ErrorKind::MissingEquals, self.at(rest), char_len(rest))
            .for_key(key)
    }

    /// A `parallelism` or `rate` value at the start of `input`: a whole number from 1 to
    /// `u32::MAX`. Returns it with the rest of the input.
    #[inline]
    fn limit<'i>(&self, key: Key, input: &'i [u8]) -> Result<(&'i [u8], NonZeroU32), ParseError> {
        if let Some((rest, n)) = integer(input, LIMIT_CAP)
            && let Some(n) = u32::try_from(n).ok().and_then(NonZeroU32::new)
        {
            return Ok((rest, n));
        }
        Err(self.bad_limit(key, input))
    }

    /// The error for a `parallelism` or `rate` value that is not from 1 to `u32::MAX`.
    #[cold]
    fn bad_limit(&self, key: Key, input: &[u8]) -> ParseError {
        let at = self.at(input);
        let (_, value) = lex(value_token, input);
        let kind = match integer(input, LIMIT_CAP) {
            None => ErrorKind::BadNumber,
            Some((_, 0)) => ErrorKind::Zero,
            Some(_) => ErrorKind::OutOfRange,
        };
        self.error(kind, at, value.len()).for_key(key)
    }

    /// A `period` value at the start of `input`: whole seconds or a delay, within (0, 7 days].
    /// Returns it with the rest of the input.
    ///
    /// The forms nearly every client sends, whole seconds (`60`) and one whole component in
    /// `s`, `m`, `h` or `d` (`1m`), are read here; every other form, and every value out of
    /// range, goes to [`Walk::any_period`], which gives the same value or the precise error.
    #[inline]
    fn period<'i>(&self, input: &'i [u8]) -> Result<(&'i [u8], Delay), ParseError> {
        if let Ok((rest, (n, len))) = digits(input, SECONDS_CAP)
            && len > 0
        {
            let (rest, unit) = match rest {
                [b's', tail @ ..] => (tail, SECOND),
                [b'm', tail @ ..] => (tail, 60 * SECOND),
                [b'h', tail @ ..] => (tail, 3600 * SECOND),
                [b'd', tail @ ..] => (tail, 86_400 * SECOND),
                _ => (rest, SECOND),
            };
            let nanos = n.saturating_mul(unit);
            if at_value_end(rest) && nanos != 0 && nanos <= FlowControl::MAX_PERIOD.as_nanos() {
                return Ok((rest, Delay::from_nanos(nanos)));
            }
        }
        self.any_period(input)
    }

    /// Any `period` value: whole seconds or a delay parsed by [`Delay::parse`].
    #[inline(never)]
    fn any_period<'i>(&self, input: &'i [u8]) -> Result<(&'i [u8], Delay), ParseError> {
        let at = self.at(input);
        let (rest, value, delay) = match integer(input, SECONDS_CAP) {
            Some((rest, secs)) => {
                let value = input.get(..input.len() - rest.len()).unwrap_or_default();
                (rest, value, Ok(Delay::from_nanos(secs * SECOND)))
            }
            None => {
                let (rest, value) = lex(value_token, input);
                (rest, value, Delay::parse(value))
            }
        };
        match delay {
            Ok(delay) if !delay.is_zero() && delay <= FlowControl::MAX_PERIOD => Ok((rest, delay)),
            Ok(delay) => Err(self.period_out_of_range(delay, value, at, None)),
            Err(err) => Err(self.bad_period(err, value, at)),
        }
    }

    /// The error for a well-formed period of zero or above 7 days.
    #[cold]
    fn period_out_of_range(
        &self,
        delay: Delay,
        value: &[u8],
        at: usize,
        err: Option<qstash_delay::ParseError>,
    ) -> ParseError {
        let kind = if delay.is_zero() {
            ErrorKind::Zero
        } else {
            ErrorKind::PeriodTooLong
        };
        let error = self.error(kind, at, value.len()).for_key(Key::Period);
        match err {
            Some(err) => error.with_period_error(err),
            None => error,
        }
    }

    /// The error for a period the delay parser refused, at the whole input's offsets.
    #[cold]
    fn bad_period(&self, err: qstash_delay::ParseError, value: &[u8], at: usize) -> ParseError {
        if err.kind() == qstash_delay::ErrorKind::Overflow {
            // Well-formed, only far too long.
            return self.period_out_of_range(Delay::MAX, value, at, Some(err));
        }
        let span = err.span();
        self.error(ErrorKind::BadPeriod, at + span.start, span.len())
            .for_key(Key::Period)
            .with_period_error(err)
    }

    /// The error for a key given twice.
    #[cold]
    fn duplicate(&self, key: Key, at: usize, first: usize) -> ParseError {
        self.error(ErrorKind::DuplicateKey, at, key.name().len())
            .first_at(first)
    }

    /// The error for a pair that does not start with a key.
    #[cold]
    fn not_a_key(&self, rest: &[u8]) -> ParseError {
        let at = self.at(rest);
        match lex(key_token, rest).1 {
            [] => self.error(ErrorKind::MissingKey, at, char_len(rest)),
            word => self.error(ErrorKind::UnknownKey, at, word.len()),
        }
    }
}

pub(crate) fn parse(input: &[u8]) -> Result<FlowControl, ParseError> {
    let (body, _) = lex(ows, input);
    let lead = input.len() - body.len();
    let trail = body.iter().rev().take_while(|&&b| is_ows(b)).count();
    let end = input.len() - trail;
    let Some(body) = body.get(..body.len() - trail).filter(|b| !b.is_empty()) else {
        return Err(ParseError::new(ErrorKind::Empty, input, 0, 0));
    };
    let walk = Walk { input, end };

    let mut parallelism: Option<NonZeroU32> = None;
    let mut rate: Option<NonZeroU32> = None;
    let mut period: Option<Delay> = None;
    // Where each key was given, for duplicate errors.
    let (mut parallelism_at, mut rate_at, mut period_at) = (0, 0, 0);

    let mut rest = body;
    loop {
        let key_at = walk.at(rest);
        let Ok((after_key, key)) = key(rest) else {
            return Err(walk.not_a_key(rest));
        };
        // A duplicate is reported at its key, before anything that follows it.
        let r = match key {
            Key::Parallelism => {
                if parallelism.is_some() {
                    return Err(walk.duplicate(key, key_at, parallelism_at));
                }
                let (r, n) = walk.limit(key, walk.equals(key, after_key)?)?;
                (parallelism, parallelism_at) = (Some(n), key_at);
                r
            }
            Key::Rate => {
                if rate.is_some() {
                    return Err(walk.duplicate(key, key_at, rate_at));
                }
                let (r, n) = walk.limit(key, walk.equals(key, after_key)?)?;
                (rate, rate_at) = (Some(n), key_at);
                r
            }
            Key::Period => {
                if period.is_some() {
                    return Err(walk.duplicate(key, key_at, period_at));
                }
                let (r, p) = walk.period(walk.equals(key, after_key)?)?;
                (period, period_at) = (Some(p), key_at);
                r
            }
        };

        let (r, _) = lex(ows, r);
        if r.is_empty() {
            break;
        }
        let Ok((after_comma, _)) = byte::<b','>(r) else {
            return Err(walk.error(ErrorKind::MissingSeparator, walk.at(r), char_len(r)));
        };
        let (next, _) = lex(ows, after_comma);
        if next.is_empty() {
            return Err(walk.error(ErrorKind::TrailingSeparator, walk.at(r), 1));
        }
        rest = next;
    }

    if parallelism.is_none() && rate.is_none() {
        return Err(walk.error(ErrorKind::MissingLimit, lead, body.len()));
    }
    Ok(FlowControl::from_checked_parts(parallelism, rate, period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_len_handles_utf8_and_stray_bytes() {
        assert_eq!(char_len(b""), 0);
        assert_eq!(char_len(b"a"), 1);
        assert_eq!(char_len("µs".as_bytes()), 2);
        assert_eq!(char_len("€".as_bytes()), 3);
        assert_eq!(char_len("𝄞".as_bytes()), 4);
        assert_eq!(char_len(b"\xff"), 1);
        assert_eq!(char_len(b"\xe2\x82"), 1);
    }

    #[test]
    fn integer_saturates_at_the_cap_and_refuses_non_digits() {
        let value = |s: &'static [u8], cap| integer(s, cap).map(|(_, n)| n);
        assert_eq!(value(b"4294967295", LIMIT_CAP), Some(4_294_967_295));
        assert_eq!(value(b"4294967296", LIMIT_CAP), Some(LIMIT_CAP));
        assert_eq!(
            value(b"99999999999999999999999999", LIMIT_CAP),
            Some(LIMIT_CAP)
        );
        assert_eq!(value(b"0000000000000000000000042", LIMIT_CAP), Some(42));
        assert_eq!(value(b"000", SECONDS_CAP), Some(0));
        assert_eq!(value(b"604801", SECONDS_CAP), Some(SECONDS_CAP));
        assert_eq!(value(b"", LIMIT_CAP), None);
        assert_eq!(value(b"12a", LIMIT_CAP), None);
        assert_eq!(value(b"99999999999999999999x", LIMIT_CAP), None);
        assert_eq!(value(b"/", LIMIT_CAP), None);
        assert_eq!(value(b":", LIMIT_CAP), None);
        assert_eq!(integer(b"12, rate", LIMIT_CAP), Some((&b", rate"[..], 12)));
        assert_eq!(integer(b"12\t", LIMIT_CAP), Some((&b"\t"[..], 12)));
        assert_eq!(digits(b"12x", LIMIT_CAP), Ok((&b"x"[..], (12, 2))));
        assert_eq!(digits(b"x", LIMIT_CAP), Ok((&b"x"[..], (0, 0))));
    }

    #[test]
    fn key_recognises_whole_words_only() {
        assert_eq!(key(b"rate=1"), Ok((&b"=1"[..], Key::Rate)));
        assert_eq!(key(b"period "), Ok((&b" "[..], Key::Period)));
        assert_eq!(key(b"parallelism"), Ok((&b""[..], Key::Parallelism)));
        assert!(key(b"rates=1").is_err());
        assert!(key(b"rat").is_err());
        assert!(key(b"pa").is_err());
        assert!(key("periodé".as_bytes()).is_err());
        assert!(key(b"Rate").is_err());
        assert!(key(b"").is_err());
    }

    #[test]
    fn lexers_split_tokens() {
        assert_eq!(lex(key_token, b"rate=5"), (&b"=5"[..], &b"rate"[..]));
        assert_eq!(lex(key_token, b"=5"), (&b"=5"[..], &b""[..]));
        assert_eq!(
            lex(value_token, b"1m30s, rate"),
            (&b", rate"[..], &b"1m30s"[..])
        );
        assert_eq!(lex(value_token, b"5\trate"), (&b"\trate"[..], &b"5"[..]));
        assert_eq!(lex(ows, b" \t x"), (&b"x"[..], &b" \t "[..]));
        assert!(byte::<b'='>(b"x").is_err());
        assert!(byte::<b'='>(b"").is_err());
        assert_eq!(byte::<b','>(b",x"), Ok((&b"x"[..], b',')));
    }
}
