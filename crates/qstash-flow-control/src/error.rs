//! The errors returned when a flow-control value does not parse or a period is out of range.

use std::fmt;

use qstash_delay::Delay;
use qstash_delay::quote::Quote;

use crate::parse::Key;

/// What a period must look like, for messages.
const PERIOD_HINT: &str = "expected a delay such as 30s or 1m, or whole seconds";

/// What went wrong while parsing a flow-control value.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The value was empty or only spaces and tabs.
    Empty,
    /// A key that is not `parallelism`, `rate` or `period` (`concurrency=2`, `Rate=5`).
    UnknownKey,
    /// A key was expected but something else came first (`,rate=5`, `=5`, `rate=1,,period=2`).
    MissingKey,
    /// A key that was already given (`rate=1, rate=2`).
    DuplicateKey,
    /// A key not followed by `=` (`rate 5`, `rate:5`, `parallelism`).
    MissingEquals,
    /// A `parallelism` or `rate` that is missing or not a whole number (`rate=`, `rate=1.5`, `rate=-1`).
    BadNumber,
    /// A limit or period of zero (`rate=0`, `period=0s`).
    Zero,
    /// A `parallelism` or `rate` above `u32::MAX` (`rate=4294967296`).
    OutOfRange,
    /// A `period` that is not a delay nor a whole number of seconds (`period=1x`, `period=1.5`);
    /// [`ParseError::period_error`] holds the delay parser's error.
    BadPeriod,
    /// A `period` above 7 days (`period=8d`, `period=604801`).
    PeriodTooLong,
    /// Neither `parallelism` nor `rate` was given (`period=1m`).
    MissingLimit,
    /// A `,` with no pair after it (`rate=5,`).
    TrailingSeparator,
    /// Something other than `,` or the end after a pair (`rate=5 period=1m`, `rate=5;period=1m`).
    MissingSeparator,
}

impl ErrorKind {
    /// A short, lowercase description of the kind, without the input.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty input",
            ErrorKind::UnknownKey => "unknown key",
            ErrorKind::MissingKey => "missing key",
            ErrorKind::DuplicateKey => "duplicate key",
            ErrorKind::MissingEquals => "missing \"=\"",
            ErrorKind::BadNumber => "bad number",
            ErrorKind::Zero => "zero",
            ErrorKind::OutOfRange => "out of range",
            ErrorKind::BadPeriod => "bad period",
            ErrorKind::PeriodTooLong => "period too long",
            ErrorKind::MissingLimit => "neither parallelism nor rate",
            ErrorKind::TrailingSeparator => "trailing separator",
            ErrorKind::MissingSeparator => "missing separator",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An input that is not a valid `Upstash-Flow-Control-Value`.
///
/// It tells what went wrong ([`kind`](Self::kind)) and where ([`offset`](Self::offset),
/// [`span`](Self::span), both in bytes of the whole input), and its message quotes the input:
///
/// ```
/// use qstash_flow_control::{ErrorKind, FlowControl};
///
/// let err = FlowControl::parse(b"rate=5, Period=1m").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownKey);
/// assert_eq!(err.span(), 8..14);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid flow control "rate=5, Period=1m": unknown key "Period" (valid keys: parallelism, rate, period) at byte 8"#
/// );
///
/// // A bad period carries the delay parser's error; the offset counts from the whole input.
/// let err = FlowControl::parse(b"rate=5, period=1x").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BadPeriod);
/// assert_eq!(err.offset(), 16);
/// assert_eq!(err.period_error().unwrap().offset(), 1);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid flow control "rate=5, period=1x": bad period: unknown unit "x" (expected a delay such as 30s or 1m, or whole seconds) at byte 16"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: ErrorKind,
    offset: usize,
    len: usize,
    key: Option<Key>,
    /// For [`ErrorKind::DuplicateKey`], where the key was first given.
    first: usize,
    quoted: Quote,
    period: Option<qstash_delay::ParseError>,
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
            key: None,
            first: 0,
            quoted: Quote::new(input, offset, len),
            period: None,
        }
    }

    /// Records which key the faulty value or `=` belongs to.
    #[cold]
    pub(crate) fn for_key(mut self, key: Key) -> ParseError {
        self.key = Some(key);
        self
    }

    /// Records where a duplicated key was first given.
    #[cold]
    pub(crate) fn first_at(mut self, first: usize) -> ParseError {
        self.first = first;
        self
    }

    /// Attaches the delay parser's error on the period.
    #[cold]
    pub(crate) fn with_period_error(mut self, err: qstash_delay::ParseError) -> ParseError {
        self.period = Some(err);
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the whole input where the problem starts.
    ///
    /// Where something is missing ([`ErrorKind::Empty`], an empty value, a `=` at the end) this
    /// is where it was expected, which may be the input's length.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The byte range of the whole input at fault (empty when something is missing).
    #[must_use]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// For [`ErrorKind::BadPeriod`], and for [`ErrorKind::PeriodTooLong`] when the period
    /// overflowed the delay type itself, the delay parser's error on the period's value.
    ///
    /// Its offsets count from the start of the period's value, not of the whole input; this
    /// error's [`offset`](Self::offset) is the same position in the whole input.
    ///
    /// ```
    /// use qstash_flow_control::FlowControl;
    /// use qstash_delay::ErrorKind;
    ///
    /// let err = FlowControl::parse(b"parallelism=1, period=1.5").unwrap_err();
    /// let inner = err.period_error().unwrap();
    /// assert_eq!(inner.kind(), ErrorKind::MissingUnit);
    /// assert_eq!(err.offset(), "parallelism=1, period=".len() + inner.offset());
    /// ```
    #[must_use]
    pub fn period_error(&self) -> Option<&qstash_delay::ParseError> {
        self.period.as_ref()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (input, found) = self.quoted.parts();
        let ellipsis = self.quoted.ellipsis();
        write!(
            f,
            "invalid flow control \"{}{ellipsis}\": ",
            input.escape_debug()
        )?;
        let found_is_empty = found.is_empty();
        let found = found.escape_debug();
        let key = self.key.map_or("value", Key::name);
        match self.kind {
            ErrorKind::Empty => return f.write_str("empty input"),
            ErrorKind::UnknownKey => write!(
                f,
                "unknown key \"{found}\" (valid keys: parallelism, rate, period)"
            )?,
            ErrorKind::MissingKey => write!(
                f,
                "expected a key (parallelism, rate or period), found \"{found}\""
            )?,
            ErrorKind::DuplicateKey => write!(
                f,
                "duplicate key \"{found}\" (first given at byte {})",
                self.first
            )?,
            ErrorKind::MissingEquals => {
                write!(f, "expected \"=\" after {key}")?;
                if !found_is_empty {
                    write!(f, ", found \"{found}\"")?;
                }
            }
            ErrorKind::BadNumber if found_is_empty => write!(
                f,
                "missing value for {key} (expected a whole number from 1 to {})",
                u32::MAX
            )?,
            ErrorKind::BadNumber => write!(
                f,
                "bad number \"{found}\" for {key} (expected a whole number from 1 to {})",
                u32::MAX
            )?,
            ErrorKind::Zero => write!(f, "{key} must be above zero, found \"{found}\"")?,
            ErrorKind::OutOfRange => {
                write!(f, "{key} \"{found}\" is above the maximum of {}", u32::MAX)?
            }
            ErrorKind::BadPeriod => match self.period.as_ref().map(|e| e.kind()) {
                Some(qstash_delay::ErrorKind::Empty) | None => {
                    write!(f, "missing value for period ({PERIOD_HINT})")?;
                }
                Some(inner) => {
                    write!(f, "bad period: {inner}")?;
                    if !found_is_empty {
                        write!(f, " \"{found}\"")?;
                    }
                    write!(f, " ({PERIOD_HINT})")?;
                }
            },
            ErrorKind::PeriodTooLong => write!(
                f,
                "period \"{found}\" is above the maximum of {}",
                crate::FlowControl::MAX_PERIOD
            )?,
            ErrorKind::MissingLimit => f.write_str(
                "neither parallelism nor rate is given (at least one of them is required)",
            )?,
            ErrorKind::TrailingSeparator => f.write_str("trailing \",\" with no pair after it")?,
            ErrorKind::MissingSeparator => write!(
                f,
                "expected \",\" or the end of the value, found \"{found}\""
            )?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {
    /// The message already says what the period's error says
    /// ([`period_error`](Self::period_error)), so the chain goes on with that error's cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.period.as_ref().and_then(std::error::Error::source)
    }
}

/// A period outside (0, 7 days], refused by [`FlowControl::set_period`](crate::FlowControl::set_period).
///
/// ```
/// use std::num::NonZeroU32;
/// use qstash_flow_control::{Delay, FlowControl};
///
/// let err = FlowControl::with_rate(NonZeroU32::MIN)
///     .set_period(Delay::checked_from_secs(8 * 86_400).unwrap())
///     .unwrap_err();
/// assert_eq!(err.period().to_string(), "8d");
/// assert_eq!(err.to_string(), "period 8d is outside the allowed range: above zero and at most 7d");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error(
    "period {period} is outside the allowed range: above zero and at most {max}",
    max = crate::FlowControl::MAX_PERIOD
)]
pub struct PeriodError {
    period: Delay,
}

impl PeriodError {
    pub(crate) const fn new(period: Delay) -> PeriodError {
        PeriodError { period }
    }

    /// The period that was refused.
    #[must_use]
    pub const fn period(&self) -> Delay {
        self.period
    }
}
