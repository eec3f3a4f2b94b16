//! The `Upstash-Delay` grammar: `50s`, `1.5h`, `1d10h30m`.
//!
//! A [`Delay`] is an exact whole number of nanoseconds (`u64`). It parses the Go-style duration
//! syntax that QStash accepts, extended with days, and prints one canonical form:
//!
//! ```
//! use qstash_delay::Delay;
//!
//! let delay: Delay = "1d10h30m".parse()?;
//! assert_eq!(delay.as_nanos(), (24 + 10) * 3_600_000_000_000 + 30 * 60_000_000_000);
//! assert_eq!(delay.to_string(), "1d10h30m");
//!
//! // Any order, repeats and fractions are accepted; display is canonical.
//! let delay = Delay::parse(b"90m1.5s")?;
//! assert_eq!(delay.to_string(), "1h30m1s500ms");
//! # Ok::<(), qstash_delay::ParseError>(())
//! ```
//!
//! The grammar:
//!
//! ```text
//! delay     = "0" | component { component }
//! component = decimal unit
//! decimal   = digit { digit } [ "." { digit } ] | "." digit { digit }
//! unit      = "d" | "h" | "m" | "s" | "ms" | "us" | "µs" | "μs" | "ns"
//! ```
//!
//! No sign, whitespace or exponent; units are case-sensitive; the arithmetic is exact integer
//! arithmetic with every step checked, and fraction digits below a nanosecond are truncated.
//! Every input either parses or returns a [`ParseError`] that says what is wrong and at which
//! byte; no input panics, and parsing allocates only when it fails.
//!
//! # Features
//! - `serde`: `Serialize`/`Deserialize` for [`Delay`] in its string form.
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

mod display;
mod error;
mod parse;
/// The quoted input of a parse error, shared with the workspace's other parser crates; not
/// part of the API.
#[doc(hidden)]
pub mod quote;
#[cfg(feature = "serde")]
mod serde_impl;

use std::str::FromStr;
use std::time::Duration;

pub use error::{ErrorKind, ParseError, TryFromDurationError};

/// A non-negative delay with nanosecond precision, as carried by `Upstash-Delay`.
///
/// Ordering, equality and hashing follow the number of nanoseconds, so `90m` and `1h30m` are
/// the same value.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delay(u64);

impl Delay {
    /// No delay; displays as `0s`.
    pub const ZERO: Delay = Delay(0);
    /// The longest delay: `u64::MAX` nanoseconds (`213503d23h34m33s709ms551us615ns`).
    pub const MAX: Delay = Delay(u64::MAX);

    /// Parses a header value.
    ///
    /// ```
    /// use qstash_delay::{Delay, ErrorKind};
    ///
    /// assert_eq!(Delay::parse(b"50s")?.as_nanos(), 50_000_000_000);
    /// assert_eq!(Delay::parse(b"1.5h")?, Delay::parse(b"90m")?);
    /// assert_eq!(Delay::parse(b"0")?, Delay::ZERO);
    /// assert_eq!(Delay::parse(b"10").unwrap_err().kind(), ErrorKind::MissingUnit);
    /// # Ok::<(), qstash_delay::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// A [`ParseError`] when `input` is not in the grammar or exceeds [`Delay::MAX`].
    #[inline]
    pub fn parse(input: &[u8]) -> Result<Delay, ParseError> {
        parse::parse(input)
    }

    /// A delay of exactly `nanos` nanoseconds.
    #[must_use]
    #[inline]
    pub const fn from_nanos(nanos: u64) -> Delay {
        Delay(nanos)
    }

    /// A delay of `millis` milliseconds, or `None` above [`Delay::MAX`].
    #[must_use]
    #[inline]
    pub const fn checked_from_millis(millis: u64) -> Option<Delay> {
        match millis.checked_mul(1_000_000) {
            Some(n) => Some(Delay(n)),
            None => None,
        }
    }

    /// A delay of `secs` seconds, or `None` above [`Delay::MAX`].
    ///
    /// ```
    /// use qstash_delay::Delay;
    ///
    /// assert_eq!(Delay::checked_from_secs(90).unwrap().to_string(), "1m30s");
    /// assert_eq!(Delay::checked_from_secs(u64::MAX), None);
    /// ```
    #[must_use]
    #[inline]
    pub const fn checked_from_secs(secs: u64) -> Option<Delay> {
        match secs.checked_mul(1_000_000_000) {
            Some(n) => Some(Delay(n)),
            None => None,
        }
    }

    /// The whole delay in nanoseconds.
    #[must_use]
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The whole delay in milliseconds, truncated.
    #[must_use]
    #[inline]
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The whole delay in seconds, truncated.
    #[must_use]
    #[inline]
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// Whether this is the zero delay.
    #[must_use]
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The sum, or `None` above [`Delay::MAX`].
    #[must_use]
    #[inline]
    pub const fn checked_add(self, other: Delay) -> Option<Delay> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(Delay(n)),
            None => None,
        }
    }
}

impl FromStr for Delay {
    type Err = ParseError;

    /// Same as [`Delay::parse`] on the string's bytes.
    #[inline]
    fn from_str(s: &str) -> Result<Delay, ParseError> {
        parse::parse(s.as_bytes())
    }
}

impl TryFrom<&str> for Delay {
    type Error = ParseError;

    #[inline]
    fn try_from(s: &str) -> Result<Delay, ParseError> {
        parse::parse(s.as_bytes())
    }
}

impl From<Delay> for Duration {
    #[inline]
    fn from(delay: Delay) -> Duration {
        Duration::from_nanos(delay.0)
    }
}

impl TryFrom<Duration> for Delay {
    type Error = TryFromDurationError;

    /// Exact conversion; fails above [`Delay::MAX`] (about 584 years).
    ///
    /// ```
    /// use std::time::Duration;
    /// use qstash_delay::Delay;
    ///
    /// let delay = Delay::try_from(Duration::from_millis(1500)).unwrap();
    /// assert_eq!(delay.to_string(), "1s500ms");
    /// assert!(Delay::try_from(Duration::MAX).is_err());
    /// ```
    fn try_from(d: Duration) -> Result<Delay, TryFromDurationError> {
        u64::try_from(d.as_nanos())
            .map(Delay)
            .map_err(|_| TryFromDurationError::new(d.as_secs()))
    }
}
