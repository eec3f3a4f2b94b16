//! The `Upstash-Flow-Control-Value` header (`parallelism=2, rate=5, period=1m`) and the
//! `Upstash-Flow-Control-Key` it applies to.
//!
//! A [`FlowControl`] limits the runs that share a [`FlowControlKey`]: how many may be in flight at
//! once (`parallelism`) and how many may start per `period` (`rate`). Clients spell the value in
//! different orders and spacings; every spelling parses, and display prints one canonical form:
//!
//! ```
//! use qstash_flow_control::{FlowControl, FlowControlKey};
//!
//! let value: FlowControl = "rate=10,parallelism=1".parse()?;
//! assert_eq!(value.parallelism().map(|n| n.get()), Some(1));
//! assert_eq!(value.rate().map(|n| n.get()), Some(10));
//! assert_eq!(value.period().as_secs(), 1); // the default period
//! assert_eq!(value.to_string(), "parallelism=1, rate=10");
//!
//! // A bare integer period is a number of seconds.
//! let value = FlowControl::parse(b"rate=100, period=60")?;
//! assert_eq!(value.to_string(), "rate=100, period=1m");
//!
//! let key = FlowControlKey::new("user-42")?;
//! assert_eq!(key.as_str(), "user-42");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The grammar:
//!
//! ```text
//! value = pair { OWS "," OWS pair }
//! pair  = key OWS "=" OWS number-or-duration
//! key   = "parallelism" | "rate" | "period"
//! OWS   = { SP | HTAB }
//! ```
//!
//! * `parallelism` and `rate` are whole numbers from 1 to `u32::MAX`.
//! * `period` is an `Upstash-Delay` value ([`qstash_delay::Delay`]) or a bare number of seconds,
//!   above zero and at most 7 days; it defaults to 1 s.
//! * Keys are lowercase; each appears at most once, in any order; at least one of `parallelism`
//!   and `rate` is required. Spaces and tabs around the whole value are ignored.
//!
//! Every input either parses or returns a [`ParseError`] that says what is wrong and at which
//! byte; no input panics, and parsing a valid value does not allocate.
//!
//! # Features
//! - `serde`: `Serialize`/`Deserialize` for [`FlowControl`] and [`FlowControlKey`] in their
//!   string forms.
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
mod key;
mod parse;
#[cfg(feature = "serde")]
mod serde_impl;

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::str::FromStr;

pub use error::{ErrorKind, ParseError, PeriodError};
pub use key::{FlowControlKey, KeyError, KeyErrorKind};
pub use qstash_delay::Delay;

/// One second in nanoseconds.
const SECOND: u64 = 1_000_000_000;
/// Seven days in seconds.
const MAX_PERIOD_SECS: u64 = 7 * 24 * 60 * 60;

/// A validated `Upstash-Flow-Control-Value`: a `parallelism` limit, a `rate` limit per `period`,
/// or both.
///
/// A value always has at least one of the two limits, and its period is always within
/// (0, 7 days]; the constructors and setters cannot build anything else.
///
/// Equality and hashing compare the limits, the period and whether the period was given: a
/// value with `period=1s` written out differs from one that relies on the 1 s default, because
/// display shows the first and not the second (so `parse(display(x)) == x` always holds).
///
/// ```
/// use std::num::NonZeroU32;
/// use qstash_flow_control::{Delay, FlowControl};
///
/// let two = NonZeroU32::new(2).unwrap();
/// let five = NonZeroU32::new(5).unwrap();
/// let mut value = FlowControl::with_parallelism(two);
/// value.set_rate(five);
/// value.set_period(Delay::checked_from_secs(60).unwrap())?;
/// assert_eq!(value.to_string(), "parallelism=2, rate=5, period=1m");
/// assert_eq!(value, "rate=5,parallelism=2,period=60".parse()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowControl {
    parallelism: Option<NonZeroU32>,
    rate: Option<NonZeroU32>,
    /// The period in nanoseconds, when it was given.
    period: Option<NonZeroU64>,
}

impl FlowControl {
    /// The period used when none is given: 1 s.
    pub const DEFAULT_PERIOD: Delay = Delay::from_nanos(SECOND);
    /// The longest period: 7 days.
    pub const MAX_PERIOD: Delay = Delay::from_nanos(MAX_PERIOD_SECS * SECOND);

    /// Parses a header value.
    ///
    /// ```
    /// use qstash_flow_control::{ErrorKind, FlowControl};
    ///
    /// let value = FlowControl::parse(b"parallelism=2, rate=5, period=1m")?;
    /// assert_eq!(value.parallelism().map(|n| n.get()), Some(2));
    /// assert_eq!(value.period().as_secs(), 60);
    ///
    /// let err = FlowControl::parse(b"rate=5, concurrency=2").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::UnknownKey);
    /// assert_eq!(err.offset(), 8);
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// A [`ParseError`] when `input` is not a valid value; its [`kind`](ParseError::kind) says
    /// which rule was broken and its [`offset`](ParseError::offset) where.
    #[inline]
    pub fn parse(input: &[u8]) -> Result<FlowControl, ParseError> {
        parse::parse(input)
    }

    /// A value with the given limits and the default period, or `None` when both are `None`.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let three = NonZeroU32::new(3);
    /// assert_eq!(FlowControl::new(three, None).unwrap().to_string(), "parallelism=3");
    /// assert_eq!(FlowControl::new(None, three).unwrap().to_string(), "rate=3");
    /// assert_eq!(FlowControl::new(None, None), None);
    /// ```
    #[must_use]
    #[inline]
    pub const fn new(parallelism: Option<NonZeroU32>, rate: Option<NonZeroU32>) -> Option<Self> {
        if parallelism.is_none() && rate.is_none() {
            return None;
        }
        Some(FlowControl {
            parallelism,
            rate,
            period: None,
        })
    }

    /// A value with only a `parallelism` limit.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let value = FlowControl::with_parallelism(NonZeroU32::MIN);
    /// assert_eq!(value.to_string(), "parallelism=1");
    /// assert_eq!(value.rate(), None);
    /// ```
    #[must_use]
    #[inline]
    pub const fn with_parallelism(parallelism: NonZeroU32) -> Self {
        FlowControl {
            parallelism: Some(parallelism),
            rate: None,
            period: None,
        }
    }

    /// A value with only a `rate` limit, per the default period.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let value = FlowControl::with_rate(NonZeroU32::new(100).unwrap());
    /// assert_eq!(value.to_string(), "rate=100");
    /// assert_eq!(value.period(), FlowControl::DEFAULT_PERIOD);
    /// ```
    #[must_use]
    #[inline]
    pub const fn with_rate(rate: NonZeroU32) -> Self {
        FlowControl {
            parallelism: None,
            rate: Some(rate),
            period: None,
        }
    }

    /// Sets the `parallelism` limit, in place.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let mut value = FlowControl::with_rate(NonZeroU32::new(10).unwrap());
    /// value.set_parallelism(NonZeroU32::new(4).unwrap());
    /// assert_eq!(value.to_string(), "parallelism=4, rate=10");
    /// ```
    #[inline]
    pub const fn set_parallelism(&mut self, parallelism: NonZeroU32) {
        self.parallelism = Some(parallelism);
    }

    /// Sets the `rate` limit, in place.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let mut value = FlowControl::with_parallelism(NonZeroU32::MIN);
    /// value.set_rate(NonZeroU32::MIN);
    /// assert_eq!(value.to_string(), "parallelism=1, rate=1");
    /// ```
    #[inline]
    pub const fn set_rate(&mut self, rate: NonZeroU32) {
        self.rate = Some(rate);
    }

    /// Sets the `period`, in place; it then shows in the display even when it equals the
    /// default. A refused period leaves the value as it was.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::{Delay, FlowControl};
    ///
    /// let value = FlowControl::with_rate(NonZeroU32::MIN);
    /// let mut every_second = value;
    /// every_second.set_period(FlowControl::DEFAULT_PERIOD)?;
    /// assert_eq!(every_second.to_string(), "rate=1, period=1s");
    /// assert_ne!(every_second, value);
    /// assert!(every_second.set_period(Delay::ZERO).is_err());
    /// assert!(every_second.set_period("8d".parse()?).is_err());
    /// assert_eq!(every_second.to_string(), "rate=1, period=1s");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`PeriodError`] when `period` is zero or longer than [`FlowControl::MAX_PERIOD`].
    #[inline]
    pub const fn set_period(&mut self, period: Delay) -> Result<(), PeriodError> {
        match NonZeroU64::new(period.as_nanos()) {
            Some(nanos) if nanos.get() <= Self::MAX_PERIOD.as_nanos() => {
                self.period = Some(nanos);
                Ok(())
            }
            _ => Err(PeriodError::new(period)),
        }
    }

    /// Forgets the given period, in place, so that the value uses the default and does not
    /// show one.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use qstash_flow_control::FlowControl;
    ///
    /// let mut value = FlowControl::parse(b"rate=1, period=1s")?;
    /// value.clear_period();
    /// assert_eq!(value, FlowControl::with_rate(NonZeroU32::MIN));
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    #[inline]
    pub const fn clear_period(&mut self) {
        self.period = None;
    }

    /// The most runs of the key in flight at once, if limited.
    #[must_use]
    #[inline]
    pub const fn parallelism(self) -> Option<NonZeroU32> {
        self.parallelism
    }

    /// The most runs of the key started per [`period`](Self::period), if limited.
    #[must_use]
    #[inline]
    pub const fn rate(self) -> Option<NonZeroU32> {
        self.rate
    }

    /// The period of the `rate` limit: the given one, or [`FlowControl::DEFAULT_PERIOD`].
    ///
    /// ```
    /// use qstash_flow_control::FlowControl;
    ///
    /// assert_eq!(FlowControl::parse(b"rate=5")?.period().as_secs(), 1);
    /// assert_eq!(FlowControl::parse(b"rate=5, period=2h")?.period().as_secs(), 7200);
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    #[must_use]
    #[inline]
    pub const fn period(self) -> Delay {
        match self.given_period() {
            Some(period) => period,
            None => Self::DEFAULT_PERIOD,
        }
    }

    /// The period, when it was given (and so is displayed); `None` when it defaults.
    ///
    /// ```
    /// use qstash_flow_control::FlowControl;
    ///
    /// assert_eq!(FlowControl::parse(b"rate=5")?.given_period(), None);
    /// let given = FlowControl::parse(b"rate=5, period=1s")?.given_period();
    /// assert_eq!(given, Some(FlowControl::DEFAULT_PERIOD));
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    #[must_use]
    #[inline]
    pub const fn given_period(self) -> Option<Delay> {
        match self.period {
            Some(nanos) => Some(Delay::from_nanos(nanos.get())),
            None => None,
        }
    }

    /// Whether the period was given (and so is displayed), rather than defaulted.
    ///
    /// ```
    /// use qstash_flow_control::FlowControl;
    ///
    /// assert!(!FlowControl::parse(b"rate=5")?.period_is_set());
    /// assert!(FlowControl::parse(b"rate=5, period=1s")?.period_is_set());
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    #[must_use]
    #[inline]
    pub const fn period_is_set(self) -> bool {
        self.period.is_some()
    }

    /// Builds a value from parts the parser already checked.
    #[inline]
    pub(crate) const fn from_checked_parts(
        parallelism: Option<NonZeroU32>,
        rate: Option<NonZeroU32>,
        period: Option<Delay>,
    ) -> Self {
        FlowControl {
            parallelism,
            rate,
            // The parser refuses a zero period.
            period: match period {
                Some(p) => NonZeroU64::new(p.as_nanos()),
                None => None,
            },
        }
    }
}

impl fmt::Debug for FlowControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = self.given_period();
        f.debug_struct("FlowControl")
            .field("parallelism", &self.parallelism)
            .field("rate", &self.rate)
            .field("period", &period)
            .finish()
    }
}

impl FromStr for FlowControl {
    type Err = ParseError;

    /// Same as [`FlowControl::parse`] on the string's bytes.
    #[inline]
    fn from_str(s: &str) -> Result<FlowControl, ParseError> {
        parse::parse(s.as_bytes())
    }
}

impl TryFrom<&str> for FlowControl {
    type Error = ParseError;

    #[inline]
    fn try_from(s: &str) -> Result<FlowControl, ParseError> {
        parse::parse(s.as_bytes())
    }
}

impl TryFrom<&[u8]> for FlowControl {
    type Error = ParseError;

    #[inline]
    fn try_from(bytes: &[u8]) -> Result<FlowControl, ParseError> {
        parse::parse(bytes)
    }
}
