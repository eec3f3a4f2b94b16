//! The error returned when a delay does not parse.

use std::fmt;

use crate::quote::Quote;

/// What went wrong while parsing a delay.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was empty.
    Empty,
    /// A number was not followed by a unit (`10`, `1h30`).
    MissingUnit,
    /// A number was followed by letters that are not a unit (`5sec`, `1H`).
    UnknownUnit,
    /// A number is malformed: a lone `.` or a second decimal point (`.s`, `1.2.3s`).
    BadNumber,
    /// A byte that cannot start a component: a sign, whitespace or other punctuation (`-5s`, `5s 1m`).
    UnexpectedCharacter,
    /// The value is above `u64::MAX` nanoseconds (about 584 years).
    Overflow,
}

impl ErrorKind {
    /// A short, lowercase description of the kind, without the input.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty input",
            ErrorKind::MissingUnit => "missing unit",
            ErrorKind::UnknownUnit => "unknown unit",
            ErrorKind::BadNumber => "bad number",
            ErrorKind::UnexpectedCharacter => "unexpected character",
            ErrorKind::Overflow => "overflow",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An input that is not a valid `Upstash-Delay` value.
///
/// It tells what went wrong ([`kind`](Self::kind)) and where
/// ([`offset`](Self::offset), [`span`](Self::span)), and its message quotes the input:
///
/// ```
/// use qstash_delay::{Delay, ErrorKind};
///
/// let err = Delay::parse(b"1d10x").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownUnit);
/// assert_eq!(err.offset(), 4);
/// assert_eq!(err.to_string(), r#"invalid delay "1d10x": unknown unit "x" at byte 4"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: ErrorKind,
    offset: usize,
    len: usize,
    quote: Quote,
}

impl ParseError {
    /// Builds the error for `kind` at `input[offset..offset + len]`.
    #[cold]
    #[inline(never)]
    pub(crate) fn new(kind: ErrorKind, input: &[u8], offset: usize, len: usize) -> ParseError {
        ParseError {
            kind,
            offset,
            len,
            quote: Quote::new(input, offset, len),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the input where the problem starts.
    ///
    /// For [`ErrorKind::Empty`] and [`ErrorKind::MissingUnit`] this is where something was
    /// expected, which may be the input's length.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The byte range of the input at fault (empty when something is missing).
    #[must_use]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (input, found) = self.quote.parts();
        write!(
            f,
            "invalid delay \"{}{}\": ",
            input.escape_debug(),
            self.quote.ellipsis()
        )?;
        let found = found.escape_debug();
        match self.kind {
            ErrorKind::Empty => return f.write_str("empty input"),
            ErrorKind::MissingUnit => {
                f.write_str("missing unit (one of d, h, m, s, ms, us, ns)")?;
            }
            ErrorKind::UnknownUnit => write!(f, "unknown unit \"{found}\"")?,
            ErrorKind::BadNumber => write!(f, "bad number: misplaced \"{found}\"")?,
            ErrorKind::UnexpectedCharacter => {
                write!(f, "unexpected character \"{found}\" (expected a digit)")?;
            }
            ErrorKind::Overflow => write!(
                f,
                "overflow: \"{found}\" takes the total above the maximum of {}",
                crate::Delay::MAX
            )?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}

/// A [`std::time::Duration`] too long to be a [`Delay`](crate::Delay)
/// (above `u64::MAX` nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("duration of {secs}s is above the maximum delay of {max}", max = crate::Delay::MAX)]
pub struct TryFromDurationError {
    secs: u64,
}

impl TryFromDurationError {
    pub(crate) fn new(secs: u64) -> TryFromDurationError {
        TryFromDurationError { secs }
    }
}
