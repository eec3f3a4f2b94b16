//! The errors: [`CompileError`] for a source that is not a valid expression, [`EvalError`] for
//! a value that is not a delay.

use std::fmt;

use qstash_delay::quote::Quote;

/// The names an expression may use, as listed in [`ErrorKind::UnknownName`] messages.
pub(crate) const VALID_NAMES: &str = "retried, pow, exp, sqrt, abs, floor, ceil, round, min, max";

/// What went wrong while compiling an expression.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source is empty or only whitespace.
    Empty,
    /// The source is longer than the limit (1 024 bytes unless [`Limits`](crate::Limits) say
    /// otherwise); the offset is the first byte past the limit.
    TooLong,
    /// Parentheses (of groups and calls together) nest deeper than the limit (64 unless
    /// [`Limits`](crate::Limits) say otherwise); the offset is the `(` that goes too deep.
    TooDeep,
    /// A byte that cannot stand where it is (`1 + #`, `(1 2)`, `.e5`, `1e+`).
    UnexpectedCharacter,
    /// The source ends where more was needed (`1 +`, `max(1, 2`).
    UnexpectedEnd,
    /// A name that is neither `retried` nor a function (`e`, `Retried`, `log(2)`).
    UnknownName,
    /// A function called with the wrong number of arguments (`pow(2)`, `abs(1, 2)`).
    WrongArity,
    /// `^` or `**`, which the language does not have: use `pow(x, y)`.
    PowerOperator,
    /// A number literal that does not fit a finite `f64` (`1e400`).
    LiteralOutOfRange,
    /// A complete expression followed by something that cannot continue it (`1 2`, `1)`).
    TrailingInput,
}

impl ErrorKind {
    /// A short, lowercase description of the kind, without the source.
    ///
    /// ```
    /// use qstash_retry_delay::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::PowerOperator.description(), "power operator");
    /// ```
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty expression",
            ErrorKind::TooLong => "too long",
            ErrorKind::TooDeep => "nested too deep",
            ErrorKind::UnexpectedCharacter => "unexpected character",
            ErrorKind::UnexpectedEnd => "unexpected end",
            ErrorKind::UnknownName => "unknown name",
            ErrorKind::WrongArity => "wrong number of arguments",
            ErrorKind::PowerOperator => "power operator",
            ErrorKind::LiteralOutOfRange => "literal out of range",
            ErrorKind::TrailingInput => "trailing input",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// What the parser was looking for when it met an unexpected byte or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// A number, `retried`, a call or `(`.
    Operand,
    /// Digits of a number.
    Digit,
    /// Digits of an exponent.
    ExponentDigit,
    /// `(` after a function name.
    OpenParen,
    /// `)` or an operator.
    CloseParen,
    /// `,` or an operator inside a two-argument call.
    Comma,
    /// `,`, `)` or an operator inside a call.
    CommaOrCloseParen,
    /// An operator or the end of the source.
    OperatorOrEnd,
}

impl Expected {
    fn describe(self) -> &'static str {
        match self {
            Expected::Operand => "a number, `retried`, a function call or `(`",
            Expected::Digit => "a digit",
            Expected::ExponentDigit => "a digit of the exponent",
            Expected::OpenParen => "`(` after the function name",
            Expected::CloseParen => "`)` or an operator",
            Expected::Comma => "`,` or an operator",
            Expected::CommaOrCloseParen => "`,`, `)` or an operator",
            Expected::OperatorOrEnd => "an operator or the end",
        }
    }
}

/// The facts behind a message, beyond the kind and the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Nothing more to say.
    None,
    /// What would have been accepted.
    Expected(Expected),
    /// The limit that was exceeded (bytes or levels) and the actual size.
    Limit { limit: usize, actual: usize },
    /// A call with the wrong number of arguments.
    Arity {
        name: &'static str,
        expected: usize,
        got: usize,
    },
}

/// A source that is not a valid `Upstash-Retry-Delay` expression.
///
/// It tells what went wrong ([`kind`](Self::kind)) and where ([`offset`](Self::offset),
/// [`span`](Self::span)), and its message quotes the source and points at the byte:
///
/// ```
/// use qstash_retry_delay::{ErrorKind, RetryDelay};
///
/// let err = RetryDelay::compile("2 ^ retried").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::PowerOperator);
/// assert_eq!(err.offset(), 2);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid retry delay "2 ^ retried": "^" is not an operator, use pow(x, y) at byte 2"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    kind: ErrorKind,
    offset: usize,
    len: usize,
    detail: Detail,
    quote: Quote,
}

impl CompileError {
    /// Builds the error for `kind` at `input[offset..offset + len]`.
    #[cold]
    #[inline(never)]
    pub(crate) fn new(
        kind: ErrorKind,
        input: &[u8],
        offset: usize,
        len: usize,
        detail: Detail,
    ) -> CompileError {
        CompileError {
            kind,
            offset,
            len,
            detail,
            quote: Quote::new(input, offset, len),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the source where the problem starts.
    ///
    /// For [`ErrorKind::UnexpectedEnd`] this is the source's length; for
    /// [`ErrorKind::TooLong`] it is the limit.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The byte range of the source at fault (empty when something is missing).
    ///
    /// ```
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let err = RetryDelay::compile("max(1, log(retried))").unwrap_err();
    /// assert_eq!(err.span(), 7..10);
    /// ```
    #[must_use]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (source, found) = self.quote.parts();
        write!(
            f,
            "invalid retry delay \"{}{}\": ",
            source.escape_debug(),
            self.quote.ellipsis()
        )?;
        let found = found.escape_debug();
        let expected = match self.detail {
            Detail::Expected(e) => e.describe(),
            _ => "",
        };
        match (self.kind, self.detail) {
            (ErrorKind::Empty, _) => return f.write_str("empty expression"),
            (ErrorKind::TooLong, Detail::Limit { limit, actual }) => {
                write!(f, "too long: {actual} bytes, the limit is {limit}")?;
            }
            (ErrorKind::TooDeep, Detail::Limit { limit, .. }) => {
                write!(f, "parentheses nest deeper than {limit} levels")?;
            }
            (ErrorKind::UnexpectedCharacter, _) => {
                write!(f, "unexpected character \"{found}\" (expected {expected})")?;
            }
            (ErrorKind::UnexpectedEnd, _) => {
                write!(f, "unexpected end (expected {expected})")?;
            }
            (ErrorKind::UnknownName, _) => {
                write!(f, "unknown name \"{found}\" (valid names: {VALID_NAMES})")?;
            }
            (
                ErrorKind::WrongArity,
                Detail::Arity {
                    name,
                    expected,
                    got,
                },
            ) => {
                let s = if expected == 1 { "" } else { "s" };
                write!(f, "{name} takes {expected} argument{s}, got {got}")?;
            }
            (ErrorKind::PowerOperator, _) => {
                write!(f, "\"{found}\" is not an operator, use pow(x, y)")?;
            }
            (ErrorKind::LiteralOutOfRange, _) => {
                write!(f, "literal \"{found}\" does not fit a finite f64")?;
            }
            (ErrorKind::TrailingInput, _) => {
                write!(
                    f,
                    "unexpected \"{found}\" after a complete expression (expected {expected})"
                )?;
            }
            (kind, _) => f.write_str(kind.description())?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for CompileError {}

/// A value that is not a delay: the expression evaluated to NaN.
///
/// ```
/// use qstash_retry_delay::{EvalError, RetryDelay};
///
/// let nan = RetryDelay::compile("sqrt(retried - 2)")?;
/// assert_eq!(nan.delay(1), Err(EvalError::NotANumber { retried: 1 }));
/// assert_eq!(
///     nan.delay(1).unwrap_err().to_string(),
///     "retry delay is not a number for retried = 1"
/// );
/// # Ok::<(), qstash_retry_delay::CompileError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The value was NaN (`sqrt(-1)`, `0 / 0`, `max(x, NaN)`).
    #[error("retry delay is not a number for retried = {retried}")]
    NotANumber {
        /// The value of `retried` that gave NaN.
        retried: u32,
    },
}
