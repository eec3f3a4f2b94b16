//! `Upstash-Retry-Delay` expressions: a sandboxed compiler and an allocation-free evaluator.
//!
//! A retry delay is a small arithmetic expression over the variable `retried` (how many
//! retries were already made, 0 before the first one) whose value is the delay before the
//! next retry, in milliseconds. It is untrusted text, so [`RetryDelay::compile`] bounds every
//! input (at most 1 024 bytes, parentheses nested at most 64 deep, finite literals) and turns
//! it into a flat program; [`RetryDelay::eval`] then runs that program without allocating or
//! recursing, in a few nanoseconds.
//!
//! ```
//! use std::time::Duration;
//! use qstash_retry_delay::RetryDelay;
//!
//! let backoff = RetryDelay::compile("max(1000, pow(2, retried) * 100)")?;
//! assert_eq!(backoff.eval(0), 1000.0);
//! assert_eq!(backoff.eval(5), 3200.0);
//! assert_eq!(backoff.delay(5), Ok(Duration::from_millis(3200)));
//! // The source is kept for display, exactly as given.
//! assert_eq!(backoff.to_string(), "max(1000, pow(2, retried) * 100)");
//! # Ok::<(), qstash_retry_delay::CompileError>(())
//! ```
//!
//! The grammar:
//!
//! ```text
//! expr    = sum
//! sum     = product { ("+" | "-") product }
//! product = unary { ("*" | "/" | "%") unary }
//! unary   = { "-" | "+" } atom
//! atom    = number | "retried" | call | "(" expr ")"
//! call    = name "(" expr { "," expr } ")"
//! number  = digit { digit } [ "." { digit } ] [ ("e" | "E") [ "+" | "-" ] digit { digit } ]
//!         | "." digit { digit } [ exponent ]
//! ```
//!
//! with the functions `pow/2 exp/1 sqrt/1 abs/1 floor/1 ceil/1 round/1 min/2 max/2`, ASCII
//! whitespace between tokens, and IEEE-754 `f64` arithmetic with the C library's `pow`, `exp`
//! and `sqrt`; `%` is `fmod`, `round` goes half away from zero, `min` and `max` give NaN when
//! either argument is NaN (and order `-0` below `+0`), and division by zero gives ±∞ or NaN.
//! [`RetryDelay::delay`] turns the value into a [`Duration`]: NaN is an error, negative values
//! give zero, values above the cap (1 day) give the cap, and the rest round to the nearest
//! millisecond, ties away from zero.
//!
//! Every input either compiles or returns a [`CompileError`] that says what is wrong and at
//! which byte; no input panics, overflows the stack or takes more than linear time.
//!
//! # Features
//! - `serde`: `Serialize`/`Deserialize` for [`RetryDelay`] in its source form.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod compile;
mod error;
mod machine;
mod math;
#[cfg(feature = "serde")]
mod serde_impl;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::FusedIterator;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use error::{CompileError, ErrorKind, EvalError};

use machine::{Op, StackSize, Step};

/// The bounds a source must stay within to compile.
///
/// [`Limits::default()`] is what a QStash server accepts: at most 1 024 bytes and 64 levels of
/// parentheses. Other bounds are for other uses (a server with its own policy, tests):
///
/// ```
/// use qstash_retry_delay::{ErrorKind, Limits, RetryDelay};
///
/// let strict = Limits::default().with_max_len(32).with_max_depth(1);
/// assert!(RetryDelay::compile_with("max(1, retried)", strict).is_ok());
/// let err = RetryDelay::compile_with("max(1, (retried))", strict).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TooDeep);
/// assert_eq!(err.offset(), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    max_len: usize,
    max_depth: usize,
}

impl Limits {
    /// The limits a QStash server applies: 1 024 bytes, 64 levels.
    pub const DEFAULT: Limits = Limits {
        max_len: 1024,
        max_depth: 64,
    };

    /// The highest depth limit that can be set. The parser recurses once per level, so this
    /// bound keeps the compiler well within any thread's stack whatever the limits.
    pub const MAX_DEPTH: usize = 256;

    /// These limits with a maximum source length of `max_len` bytes.
    #[must_use]
    pub const fn with_max_len(self, max_len: usize) -> Limits {
        Limits { max_len, ..self }
    }

    /// These limits with parentheses nested at most `max_depth` deep (clamped to
    /// [`Limits::MAX_DEPTH`]; 0 allows no parentheses and so no calls).
    #[must_use]
    pub const fn with_max_depth(self, max_depth: usize) -> Limits {
        let max_depth = if max_depth > Limits::MAX_DEPTH {
            Limits::MAX_DEPTH
        } else {
            max_depth
        };
        Limits { max_depth, ..self }
    }

    /// The maximum source length in bytes.
    #[must_use]
    pub const fn max_len(self) -> usize {
        self.max_len
    }

    /// The maximum nesting of parentheses (groups and calls).
    #[must_use]
    pub const fn max_depth(self) -> usize {
        self.max_depth
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// A compiled `Upstash-Retry-Delay` expression.
///
/// It keeps its source, which is what it displays, compares and hashes by, and it is
/// `Send + Sync`. Cloning is cheap: a short program and source (up to 3 instructions and 40
/// bytes, which covers the common expressions) live inline and are copied, longer ones are
/// shared behind reference counts.
///
/// ```
/// use qstash_retry_delay::RetryDelay;
///
/// let linear: RetryDelay = "1000 * (1 + retried)".parse()?;
/// let values: Vec<f64> = (0..4).map(|n| linear.eval(n)).collect();
/// assert_eq!(values, [1000.0, 2000.0, 3000.0, 4000.0]);
/// assert_eq!(linear.as_str(), "1000 * (1 + retried)");
/// assert!(!linear.is_constant());
/// # Ok::<(), qstash_retry_delay::CompileError>(())
/// ```
#[derive(Clone)]
pub struct RetryDelay {
    code: Code,
    source: Source,
    stack: StackSize,
    constant: bool,
}

impl RetryDelay {
    /// The longest delay [`delay`](Self::delay) returns: one day. A longer result is cut to it.
    pub const DEFAULT_CAP: Duration = Duration::from_secs(86_400);

    /// The source of [`default_backoff`](Self::default_backoff):
    /// `min(86400, e^(2.5 · (retried + 1)))` seconds, in milliseconds.
    pub const DEFAULT_BACKOFF: &'static str = "min(86400, exp(2.5 * (retried + 1))) * 1000";

    /// Compiles an expression with the default [`Limits`].
    ///
    /// ```
    /// use qstash_retry_delay::{ErrorKind, RetryDelay};
    ///
    /// assert_eq!(RetryDelay::compile("pow(2, retried) * 1000")?.eval(3), 8000.0);
    /// let err = RetryDelay::compile("pow(2)").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WrongArity);
    /// assert_eq!(err.to_string(), r#"invalid retry delay "pow(2)": pow takes 2 arguments, got 1 at byte 0"#);
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// A [`CompileError`] when `source` is not in the grammar or exceeds the limits.
    #[inline]
    pub fn compile(source: &str) -> Result<RetryDelay, CompileError> {
        RetryDelay::compile_with(source, Limits::DEFAULT)
    }

    /// Compiles an expression given as bytes (a raw header value) with the default
    /// [`Limits`]. A valid expression is ASCII, so any other byte is an error.
    ///
    /// ```
    /// use qstash_retry_delay::{ErrorKind, RetryDelay};
    ///
    /// assert_eq!(RetryDelay::compile_bytes(b"1000")?.eval(7), 1000.0);
    /// let err = RetryDelay::compile_bytes(b"1000 \xff").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TrailingInput);
    /// assert_eq!(err.offset(), 5);
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// A [`CompileError`] when `source` is not in the grammar or exceeds the limits.
    #[inline]
    pub fn compile_bytes(source: &[u8]) -> Result<RetryDelay, CompileError> {
        RetryDelay::compile_bytes_with(source, Limits::DEFAULT)
    }

    /// Compiles an expression within other [`Limits`].
    ///
    /// ```
    /// use qstash_retry_delay::{ErrorKind, Limits, RetryDelay};
    ///
    /// let long = format!("{}0", "1 + ".repeat(500));
    /// assert_eq!(RetryDelay::compile(&long).unwrap_err().kind(), ErrorKind::TooLong);
    /// let roomy = Limits::default().with_max_len(4096);
    /// assert_eq!(RetryDelay::compile_with(&long, roomy)?.eval(0), 500.0);
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// A [`CompileError`] when `source` is not in the grammar or exceeds `limits`.
    pub fn compile_with(source: &str, limits: Limits) -> Result<RetryDelay, CompileError> {
        compile::compile(source.as_bytes(), limits, |compiled| {
            RetryDelay::new(compiled, source)
        })
    }

    /// Compiles an expression given as bytes within other [`Limits`].
    ///
    /// ```
    /// use qstash_retry_delay::{ErrorKind, Limits, RetryDelay};
    ///
    /// let tight = Limits::default().with_max_len(8);
    /// assert_eq!(RetryDelay::compile_bytes_with(b"retried", tight)?.eval(3), 3.0);
    /// let err = RetryDelay::compile_bytes_with(b"retried * 2", tight).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLong);
    /// assert_eq!(err.offset(), 8);
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// A [`CompileError`] when `source` is not in the grammar or exceeds `limits`.
    pub fn compile_bytes_with(source: &[u8], limits: Limits) -> Result<RetryDelay, CompileError> {
        compile::compile(source, limits, |compiled| {
            // A source that compiled is ASCII, so the conversion never replaces anything.
            RetryDelay::new(compiled, &String::from_utf8_lossy(source))
        })
    }

    fn new(compiled: compile::Compiled<&[Op]>, source: &str) -> RetryDelay {
        RetryDelay {
            code: Code::new(compiled.code),
            source: Source::new(source),
            stack: compiled.stack,
            constant: compiled.constant,
        }
    }

    /// The default backoff, used when a request has no `Upstash-Retry-Delay`:
    /// [`DEFAULT_BACKOFF`](Self::DEFAULT_BACKOFF), compiled once and shared.
    ///
    /// ```
    /// use std::time::Duration;
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let backoff = RetryDelay::default_backoff();
    /// let secs: Vec<u64> = backoff.schedule(6).map(|d| d.unwrap().as_secs()).collect();
    /// // About 12 s, 2m28s, 30m8s, 6h7m, then a day.
    /// assert_eq!(secs, [12, 148, 1808, 22026, 86400, 86400]);
    /// ```
    #[must_use]
    pub fn default_backoff() -> RetryDelay {
        static DEFAULT: OnceLock<RetryDelay> = OnceLock::new();
        DEFAULT
            .get_or_init(|| match RetryDelay::compile(RetryDelay::DEFAULT_BACKOFF) {
                Ok(program) => program,
                // A constant source that a unit test compiles.
                Err(_) => unreachable!("the default backoff compiles"),
            })
            .clone()
    }

    /// The raw value for `retried`, in milliseconds. It never allocates.
    ///
    /// ```
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let p = RetryDelay::compile("max(10, pow(2, retried))")?;
    /// assert_eq!(p.eval(3), 10.0);
    /// assert_eq!(p.eval(4), 16.0);
    /// assert_eq!(p.eval(2000), f64::INFINITY);
    /// assert!(RetryDelay::compile("0 / 0")?.eval(0).is_nan());
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn eval(&self, retried: u32) -> f64 {
        machine::run(self.code.steps(), self.stack, retried)
    }

    /// The delay before retry number `retried + 1`, capped at
    /// [`DEFAULT_CAP`](Self::DEFAULT_CAP) (the rounding and capping rules are in the crate docs).
    /// It never allocates.
    ///
    /// ```
    /// use std::time::Duration;
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let p = RetryDelay::compile("pow(2, retried) * 1000 - 1997.5")?;
    /// assert_eq!(p.delay(0), Ok(Duration::ZERO)); // -997.5 ms
    /// assert_eq!(p.delay(1), Ok(Duration::from_millis(3))); // 2.5 ms, ties away from zero
    /// assert_eq!(p.delay(2), Ok(Duration::from_millis(2003))); // 2002.5 ms
    /// assert_eq!(p.delay(40), Ok(RetryDelay::DEFAULT_CAP));
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// [`EvalError::NotANumber`] when the value is NaN.
    #[inline]
    pub fn delay(&self, retried: u32) -> Result<Duration, EvalError> {
        // `to_delay` with the cap known: one comparison in milliseconds decides it, since
        // every value below the cap rounds to at most the cap.
        const CAP_MS: f64 = RetryDelay::DEFAULT_CAP.as_millis() as f64;
        let ms = self.eval(retried);
        if ms > 0.0 {
            Ok(if ms < CAP_MS {
                Duration::from_millis(round_below_cap(ms))
            } else {
                RetryDelay::DEFAULT_CAP
            })
        } else if ms.is_nan() {
            Err(EvalError::NotANumber { retried })
        } else {
            Ok(Duration::ZERO)
        }
    }

    /// Like [`delay`](Self::delay), with another cap.
    ///
    /// ```
    /// use std::time::Duration;
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let p = RetryDelay::compile("1000 * retried")?;
    /// let cap = Duration::from_secs(5);
    /// assert_eq!(p.delay_with_cap(3, cap), Ok(Duration::from_secs(3)));
    /// assert_eq!(p.delay_with_cap(9, cap), Ok(cap));
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    ///
    /// # Errors
    /// [`EvalError::NotANumber`] when the value is NaN.
    #[inline]
    pub fn delay_with_cap(&self, retried: u32, cap: Duration) -> Result<Duration, EvalError> {
        to_delay(self.eval(retried), cap).ok_or(EvalError::NotANumber { retried })
    }

    /// The delays for `retried = 0..retries`, for previews: the whole schedule of a message
    /// sent with `Upstash-Retries: retries`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// let p = RetryDelay::compile("pow(2, retried) * 1000")?;
    /// let delays: Result<Vec<Duration>, _> = p.schedule(4).collect();
    /// assert_eq!(delays.unwrap(), [1, 2, 4, 8].map(Duration::from_secs));
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    #[must_use]
    pub fn schedule(&self, retries: u32) -> Schedule<'_> {
        Schedule {
            program: self,
            next: 0,
            end: retries,
        }
    }

    /// Whether the value does not depend on `retried` (the whole expression folded to one
    /// constant).
    ///
    /// ```
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// assert!(RetryDelay::compile("max(1000, pow(2, 10)) * 2")?.is_constant());
    /// assert!(!RetryDelay::compile("retried * 0")?.is_constant());
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    #[must_use]
    pub fn is_constant(&self) -> bool {
        self.constant
    }

    /// The number of instructions of the compiled program: evaluation does this many steps.
    ///
    /// ```
    /// use qstash_retry_delay::RetryDelay;
    ///
    /// // Constant sub-expressions are folded, and the load of `retried` is fused with the
    /// // operation that follows it: this is one instruction, `retried * 3000`.
    /// assert_eq!(RetryDelay::compile("retried * ((1 + 2) * 1000)")?.program_len(), 1);
    /// assert_eq!(RetryDelay::compile("max(1000, pow(2, retried) * 100)")?.program_len(), 2);
    /// # Ok::<(), qstash_retry_delay::CompileError>(())
    /// ```
    #[must_use]
    pub fn program_len(&self) -> usize {
        self.code.steps().len()
    }

    /// The source, exactly as compiled.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.source.as_str()
    }
}

/// How long a source may be to be kept inline, without an allocation of its own. (All the
/// upstream examples are shorter.)
const INLINE_SOURCE: usize = 40;

/// A program's source: short ones inline, longer ones shared.
#[derive(Clone)]
enum Source {
    Inline { bytes: [u8; INLINE_SOURCE], len: u8 },
    Shared(Arc<str>),
}

impl Source {
    fn new(source: &str) -> Source {
        let mut bytes = [0; INLINE_SOURCE];
        match bytes.get_mut(..source.len()) {
            Some(head) => {
                head.copy_from_slice(source.as_bytes());
                Source::Inline {
                    bytes,
                    len: source.len() as u8,
                }
            }
            None => Source::Shared(Arc::from(source)),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a whole `str` that fits, so always valid; the fallback is for release
            // builds, where `Display` must not panic.
            Source::Inline { bytes, len } => {
                let text = bytes
                    .get(..usize::from(*len))
                    .and_then(|b| std::str::from_utf8(b).ok());
                debug_assert!(
                    text.is_some(),
                    "an inline source of {len} bytes is not a str"
                );
                text.unwrap_or_default()
            }
            Source::Shared(source) => source,
        }
    }
}

/// How many steps a program may have to be kept inline, without an allocation of its own.
/// (All the upstream examples take one or two.)
const INLINE_STEPS: usize = 3;

/// A compiled program's steps: short ones inline, longer ones shared.
#[derive(Clone)]
enum Code {
    Inline {
        steps: [Step; INLINE_STEPS],
        len: u8,
    },
    Shared(Arc<[Step]>),
}

impl Code {
    fn new(ops: &[Op]) -> Code {
        if ops.len() <= INLINE_STEPS {
            let mut steps = [Step::from(Op::LoadK(0.0)); INLINE_STEPS];
            for (step, &op) in steps.iter_mut().zip(ops) {
                *step = Step::from(op);
            }
            Code::Inline {
                steps,
                len: ops.len() as u8,
            }
        } else {
            Code::Shared(ops.iter().map(|&op| Step::from(op)).collect())
        }
    }

    #[inline]
    fn steps(&self) -> &[Step] {
        match self {
            Code::Inline { steps, len } => {
                // `len` counts the program's steps, at most `INLINE_STEPS`; the rest is padding
                // that must never run.
                let program = steps.get(..usize::from(*len));
                debug_assert!(program.is_some(), "{len} inline steps of {INLINE_STEPS}");
                program.unwrap_or_default()
            }
            Code::Shared(steps) => steps,
        }
    }
}

/// The delay for a value of `ms` milliseconds under `cap` (the rounding and capping rules of the crate docs); `None` for NaN.
#[inline]
fn to_delay(ms: f64, cap: Duration) -> Option<Duration> {
    if ms.is_nan() {
        return None;
    }
    if ms <= 0.0 {
        return Some(Duration::ZERO);
    }
    // Above this every value is past any `Duration` cap in milliseconds; `+∞` lands here too.
    if ms >= 1.0e19 {
        return Some(cap);
    }
    Some(Duration::from_millis(round_positive(ms)).min(cap))
}

/// [`round_positive`] for `0 < ms` below [`RetryDelay::DEFAULT_CAP`], where a signed conversion
/// (one instruction, against several for `u64`) is enough.
#[inline]
fn round_below_cap(ms: f64) -> u64 {
    let whole = ms as i64;
    let up = ms - whole as f64 >= 0.5;
    whole.unsigned_abs() + u64::from(up)
}

/// `ms.round()` (half away from zero) as a `u64`, for `0 < ms < 1e19`, without a library call:
/// the conversion truncates exactly, and `ms - whole` is exact too (the fraction of an `f64`
/// always fits its mantissa), so comparing it with one half decides the rounding exactly.
#[inline]
fn round_positive(ms: f64) -> u64 {
    let whole = ms as u64;
    if ms - whole as f64 >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

impl Default for RetryDelay {
    /// The [default backoff](RetryDelay::default_backoff).
    fn default() -> RetryDelay {
        RetryDelay::default_backoff()
    }
}

impl PartialEq for RetryDelay {
    /// Equal when the sources are equal.
    fn eq(&self, other: &RetryDelay) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RetryDelay {}

impl Hash for RetryDelay {
    /// Hashes the source, as [`str`] does.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for RetryDelay {
    /// The source, exactly as compiled.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for RetryDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryDelay")
            .field("source", &self.as_str())
            .field("instructions", &self.code.steps().len())
            .finish()
    }
}

impl FromStr for RetryDelay {
    type Err = CompileError;

    /// Same as [`RetryDelay::compile`].
    #[inline]
    fn from_str(s: &str) -> Result<RetryDelay, CompileError> {
        RetryDelay::compile(s)
    }
}

impl TryFrom<&str> for RetryDelay {
    type Error = CompileError;

    #[inline]
    fn try_from(s: &str) -> Result<RetryDelay, CompileError> {
        RetryDelay::compile(s)
    }
}

impl AsRef<str> for RetryDelay {
    fn as_ref(&self) -> &str {
        self.source.as_str()
    }
}

/// The delays of a [`RetryDelay`] for `retried = 0..retries`, from
/// [`RetryDelay::schedule`].
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    program: &'a RetryDelay,
    next: u32,
    end: u32,
}

impl Iterator for Schedule<'_> {
    type Item = Result<Duration, EvalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let retried = self.next;
        self.next += 1;
        Some(self.program.delay(retried))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Schedule<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(self.program.delay(self.end))
    }
}

impl ExactSizeIterator for Schedule<'_> {}

impl FusedIterator for Schedule<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_compiles() {
        assert!(RetryDelay::compile(RetryDelay::DEFAULT_BACKOFF).is_ok());
        assert_eq!(
            RetryDelay::default_backoff().as_str(),
            RetryDelay::DEFAULT_BACKOFF
        );
    }

    #[test]
    fn to_delay_edges() {
        let cap = RetryDelay::DEFAULT_CAP;
        assert_eq!(to_delay(f64::NAN, cap), None);
        assert_eq!(to_delay(-0.0, cap), Some(Duration::ZERO));
        assert_eq!(to_delay(f64::NEG_INFINITY, cap), Some(Duration::ZERO));
        assert_eq!(to_delay(f64::INFINITY, cap), Some(cap));
        assert_eq!(to_delay(0.49, cap), Some(Duration::ZERO));
        assert_eq!(to_delay(0.5, cap), Some(Duration::from_millis(1)));
        assert_eq!(to_delay(86_400_000.4, cap), Some(cap));
        assert_eq!(
            to_delay(86_399_999.4, cap),
            Some(Duration::from_millis(86_399_999))
        );
        assert_eq!(
            to_delay(9.9e18, Duration::MAX),
            Some(Duration::from_millis(9_900_000_000_000_000_000))
        );
        assert_eq!(to_delay(1e19, Duration::MAX), Some(Duration::MAX));
    }

    #[test]
    fn rounding_matches_round() {
        let mut values = vec![
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            9.999999999999998e18,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        // A walk over many magnitudes and fractions.
        let mut x = 1e-3f64;
        while x < 1e19 {
            values.extend([x, x + 0.5, x.next_up(), x.next_down()]);
            x *= 1.37;
        }
        for v in values.into_iter().filter(|v| *v > 0.0 && *v < 1e19) {
            assert_eq!(round_positive(v), v.round() as u64, "{v:?}");
            if v < 86_400_000.0 {
                assert_eq!(round_below_cap(v), v.round() as u64, "{v:?}");
            }
        }
    }

    /// The instructions `source` compiles to, and the stack they need.
    fn ops(source: &str) -> (Vec<Op>, StackSize) {
        compile::compile(source.as_bytes(), Limits::DEFAULT, |c| {
            (c.code.to_vec(), c.stack)
        })
        .unwrap()
    }

    #[test]
    fn programs_use_the_forms_that_need_no_stack() {
        use math::Bin;
        assert_eq!(
            ops("max(1000, pow(2, retried) * 100)"),
            (
                vec![Op::Pow2RetriedOpConst(Bin::Mul, 100.0), Op::MaxK(1000.0)],
                StackSize::None
            )
        );
        assert_eq!(
            ops("1000 - retried").0,
            [Op::ConstOpRetried(Bin::Sub, 1000.0)]
        );
        assert_eq!(
            ops("1000 * (1 + retried)").0,
            [Op::RetriedOpConst(Bin::Add, 1.0), Op::MulK(1000.0)]
        );
        assert_eq!(
            ops("1000 / pow(2, retried)").0,
            [Op::Pow2V, Op::RDivK(1000.0)]
        );
        assert_eq!(
            ops("retried * 2 + sqrt(retried)"),
            (
                vec![
                    Op::RetriedOpConst(Bin::Mul, 2.0),
                    Op::Push,
                    Op::LoadV,
                    Op::Sqrt,
                    Op::AddS
                ],
                StackSize::Small
            )
        );
        assert_eq!(ops("--retried").0, [Op::LoadV]);
        assert_eq!(
            ops("-(-(retried * 3))").0,
            [Op::RetriedOpConst(Bin::Mul, 3.0)]
        );
        assert_eq!(ops("-retried * 3").0, [Op::LoadV, Op::Neg, Op::MulK(3.0)]);
        assert_eq!(ops("2 * 3 + 4").0, [Op::LoadK(10.0)]);
    }

    #[test]
    fn stack_heights_are_exact() {
        // Each level holds a call argument, a sum and a product.
        let (code, _) = ops("max(abs(retried), retried * 2 + abs(retried) * abs(retried))");
        let mut height = 0isize;
        let mut max = 0;
        for op in &code {
            height += op.stack_effect();
            assert!(height >= 0);
            max = max.max(height);
        }
        assert_eq!(height, 0);
        assert_eq!(max, 3);
    }
}
