//! The error returned when a cron expression does not parse: what, which field, and where.

use std::fmt;

use qstash_delay::quote::Quote;

use crate::Field;

/// What went wrong while parsing a cron expression.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was empty or only whitespace.
    Empty,
    /// The input is longer than [`MAX_LEN`](crate::MAX_LEN) bytes.
    TooLong,
    /// Not exactly five fields (a seconds or years field, or a missing field).
    FieldCount,
    /// A macro such as `@hourly` or `@every 5m` instead of the five fields.
    Macro,
    /// A `NAME=value` prefix other than `CRON_TZ=` (`TZ=UTC 0 9 * * *`).
    UnknownPrefix,
    /// The `CRON_TZ=` zone is missing or is not in the IANA time-zone database.
    UnknownZone,
    /// A character a field may not hold, including the Quartz extensions `L`, `W`, `#`, `?`.
    UnexpectedCharacter,
    /// Letters that are not a month (`JAN`…`DEC`) or weekday (`SUN`…`SAT`) name of the field.
    UnknownName,
    /// An empty list item, range end or step (`1,,2`, `1-`, `*/`).
    MissingValue,
    /// A number outside the field's range (`25` as an hour).
    OutOfRange,
    /// A range whose start is after its end (`5-1`).
    ReversedRange,
    /// A step of zero, or a step after a single value (`*/0`, `5/15`).
    BadStep,
    /// The expression is well-formed but matches no instant (`0 0 30 2 *`).
    NeverFires,
    /// The cron crate refused the expression for a reason the checks above did not catch.
    Rejected,
}

impl ErrorKind {
    /// A short, lowercase description of the kind, without the input.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty expression",
            ErrorKind::TooLong => "expression too long",
            ErrorKind::FieldCount => "wrong number of fields",
            ErrorKind::Macro => "macros are not supported",
            ErrorKind::UnknownPrefix => "unknown prefix",
            ErrorKind::UnknownZone => "unknown time zone",
            ErrorKind::UnexpectedCharacter => "unexpected character",
            ErrorKind::UnknownName => "unknown name",
            ErrorKind::MissingValue => "missing value",
            ErrorKind::OutOfRange => "value out of range",
            ErrorKind::ReversedRange => "reversed range",
            ErrorKind::BadStep => "bad step",
            ErrorKind::NeverFires => "never fires",
            ErrorKind::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An input that is not a valid `Upstash-Cron` expression.
///
/// It tells what went wrong ([`kind`](Self::kind)), in which field ([`field`](Self::field)),
/// and where ([`offset`](Self::offset), [`span`](Self::span)); its message quotes the input:
///
/// ```
/// use qstash_cron::{Cron, ErrorKind, Field};
///
/// let err = Cron::parse("0 25 * * *").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::OutOfRange);
/// assert_eq!(err.field(), Some(Field::Hour));
/// assert_eq!(err.span(), 2..4);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid cron "0 25 * * *": the hour field "25" is out of range 0-23 at byte 2"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    field: Option<Field>,
    offset: usize,
    len: usize,
    quote: Quote,
    detail: Box<str>,
}

impl Error {
    /// Builds the error for `kind` at `input[offset..offset + len]`; `detail` is the message
    /// after the quoted input, without the position.
    #[cold]
    #[inline(never)]
    pub(crate) fn new(
        kind: ErrorKind,
        field: Option<Field>,
        input: &str,
        offset: usize,
        len: usize,
        detail: String,
    ) -> Error {
        Error {
            kind,
            field,
            offset,
            len,
            quote: Quote::new(input.as_bytes(), offset, len),
            detail: detail.into_boxed_str(),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The field at fault, when the error is about one field (or the `CRON_TZ` zone).
    #[must_use]
    pub fn field(&self) -> Option<Field> {
        self.field
    }

    /// The byte offset in the input where the problem starts (the input's length when
    /// something is missing at the end).
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (input, _) = self.quote.parts();
        write!(
            f,
            "invalid cron \"{}{}\": {} at byte {}",
            input.escape_debug(),
            self.quote.ellipsis(),
            self.detail,
            self.offset
        )
    }
}

impl std::error::Error for Error {}
