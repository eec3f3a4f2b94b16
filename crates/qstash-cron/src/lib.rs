//! The `Upstash-Cron` grammar of QStash schedules: five cron fields in UTC, with an optional
//! `CRON_TZ=<IANA zone> ` prefix.
//!
//! ```
//! use qstash_cron::Cron;
//!
//! let cron = Cron::parse("CRON_TZ=America/New_York 0 9 * * mon-fri")?;
//! assert_eq!(cron.to_string(), "CRON_TZ=America/New_York 0 9 * * MON-FRI");
//! assert_eq!(cron.zone(), Some("America/New_York"));
//!
//! // Saturday 2026-03-07 12:00 UTC: the next tick is Monday 09:00 in New York, which is
//! // 13:00 UTC (EDT from March 8).
//! let saturday = 1_772_884_800_000;
//! assert_eq!(cron.next_after(saturday), Some(1_773_061_200_000));
//!
//! let err = Cron::parse("0 25 * * *").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"invalid cron "0 25 * * *": the hour field "25" is out of range 0-23 at byte 2"#
//! );
//! # Ok::<(), qstash_cron::Error>(())
//! ```
//!
//! # The grammar
//!
//! ```text
//! expression = [ "CRON_TZ=" zone " " ] minute " " hour " " day-of-month " " month " " day-of-week
//! field      = item { "," item }
//! item       = ( "*" | value | value "-" value ) [ "/" step ]      ; a step needs * or a range
//! value      = number | name                                      ; names: months and weekdays
//! ```
//!
//! | field        | values | names                |
//! |--------------|--------|----------------------|
//! | minute       | 0-59   |                      |
//! | hour         | 0-23   |                      |
//! | day of month | 1-31   |                      |
//! | month        | 1-12   | `JAN`…`DEC`          |
//! | day of week  | 0-7    | `SUN`…`SAT` (7 = Sunday) |
//!
//! Fields are separated by ASCII whitespace (leading and trailing whitespace is ignored, as
//! upstream does: the official SDK's tests send `"*/10 * * * * "` and read back
//! `"*/10 * * * *"`). Names are case-insensitive; [`Display`](std::fmt::Display) gives the
//! canonical form, fields joined by one space and names in upper case, which parses back to
//! the same schedule. When both day fields are restricted, a day matches if either matches
//! (standard cron); a `*` day field leaves the other alone to decide.
//!
//! Refused, each with an [`Error`] that names the [`Field`] and the byte:
//! - six or seven fields (seconds, years) and macros (`@hourly`, `@every 5m`): SERVER.md §12
//!   says five fields, and nothing in the official SDKs sends anything else;
//! - the Quartz extensions `L`, `W`, `#`, `?` and steps after a single value (`5/15`);
//! - a `TZ=` or other prefix than `CRON_TZ=`, and zones not in the IANA database;
//! - expressions that never fire, such as `0 0 30 2 *` (February has no 30th);
//! - input longer than [`MAX_LEN`] bytes.
//!
//! # What does the work
//!
//! The fields' meaning and the next-tick search are [`croner`]'s (MIT, maintained, 5-field
//! patterns with names, ranges, lists and steps, and documented DST rules that follow the Open
//! Cron Pattern Specification); `cron` and `jiff-cron` need a seconds field, `saffron` is
//! unmaintained. Time zones come from [`chrono_tz`], which compiles the IANA database into the
//! binary, so nothing is read from `/usr/share/zoneinfo`. This crate only splits the
//! expression, checks each field closely enough to say what is wrong where, and hands the
//! fields to `croner`.
//!
//! # Daylight saving time
//!
//! Per `croner`'s rules, in the schedule's zone:
//! - a time skipped by a spring-forward: an expression with a fixed minute and hour fires at
//!   the first instant after the gap (`30 2 * * *` in New York on the second Sunday of March
//!   fires at 03:00 EDT); one with `*` or a step in the minute or hour fires at the
//!   matching times that exist;
//! - a repeated hour (fall back): a fixed minute and hour fires once, at the first pass;
//!   `*` or a step in the minute or hour fires at every matching instant of both passes
//!   (`*/15 * * * *` fires every 15 real minutes).
//!
//! Without `CRON_TZ`, the zone is UTC, which has no such changes.
//!
//! # Features
//! - `serde`: `Serialize`/`Deserialize` for [`Cron`] in its canonical string form.
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

mod error;
mod parse;
#[cfg(feature = "serde")]
mod serde_impl;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

pub use error::{Error, ErrorKind};

/// The longest expression accepted, in bytes.
pub const MAX_LEN: usize = 256;

/// A part of an expression that an [`Error`] can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The minute, 0-59.
    Minute,
    /// The hour, 0-23.
    Hour,
    /// The day of the month, 1-31.
    DayOfMonth,
    /// The month, 1-12 or `JAN`-`DEC`.
    Month,
    /// The day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`.
    DayOfWeek,
    /// The zone of the `CRON_TZ=` prefix.
    Zone,
}

impl Field {
    /// The five fields in order.
    pub const FIVE: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The field's name as error messages give it: `minute`, `hour`, `day of month`, `month`,
    /// `day of week`, `CRON_TZ zone`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day of month",
            Field::Month => "month",
            Field::DayOfWeek => "day of week",
            Field::Zone => "CRON_TZ zone",
        }
    }

    /// The smallest and largest value the field accepts (`(0, 0)` for the zone).
    #[must_use]
    pub const fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
            Field::Zone => (0, 0),
        }
    }

    /// Whether the field accepts names.
    const fn has_names(self) -> bool {
        matches!(self, Field::Month | Field::DayOfWeek)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed `Upstash-Cron` expression: when a schedule ticks.
///
/// Equality and hashing follow the canonical form.
#[derive(Clone)]
pub struct Cron {
    /// The canonical form: the prefix, if any, then the five fields.
    text: Box<str>,
    /// Where the fields start in `text`.
    fields_at: usize,
    zone: Option<Tz>,
    inner: croner::Cron,
}

impl Cron {
    /// Parses an expression.
    ///
    /// ```
    /// use qstash_cron::{Cron, ErrorKind, Field};
    ///
    /// assert_eq!(Cron::parse(" */10 * * * * ")?.to_string(), "*/10 * * * *");
    /// let err = Cron::parse("CRON_TZ=Mars/Olympus 0 9 * * *").unwrap_err();
    /// assert_eq!((err.kind(), err.field()), (ErrorKind::UnknownZone, Some(Field::Zone)));
    /// assert_eq!(Cron::parse("0 0 30 2 *").unwrap_err().kind(), ErrorKind::NeverFires);
    /// assert_eq!(Cron::parse("0 0 * * * *").unwrap_err().kind(), ErrorKind::FieldCount);
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    ///
    /// # Errors
    /// An [`Error`] naming the field and byte when `input` is not in the grammar, names an
    /// unknown zone, never fires, or is longer than [`MAX_LEN`].
    pub fn parse(input: &str) -> Result<Cron, Error> {
        let checked = parse::check(input)?;
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .alternative_weekdays(false)
            .sloppy_ranges(false)
            .build();
        let inner = parser.parse(&checked.numeric).map_err(|e| {
            let start = input.len() - input.trim_start().len();
            Error::new(
                ErrorKind::Rejected,
                None,
                input,
                start,
                input.trim().len(),
                format!("the cron crate refused the expression: {e}"),
            )
        })?;
        let mut text = String::with_capacity(checked.fields.len() + 40);
        if let Some(zone) = checked.zone {
            text.push_str(parse::ZONE_PREFIX);
            text.push_str(zone.name());
            text.push(' ');
        }
        let fields_at = text.len();
        text.push_str(&checked.fields);
        Ok(Cron {
            text: text.into_boxed_str(),
            fields_at,
            zone: checked.zone,
            inner,
        })
    }

    /// The canonical form (same as [`Display`](fmt::Display)).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The five fields of the canonical form, without the `CRON_TZ=` prefix.
    ///
    /// ```
    /// let cron = qstash_cron::Cron::parse("CRON_TZ=Europe/Berlin 0 9 * * 1")?;
    /// assert_eq!(cron.fields(), "0 9 * * 1");
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    #[must_use]
    pub fn fields(&self) -> &str {
        self.text.get(self.fields_at..).unwrap_or_default()
    }

    /// The IANA name of the `CRON_TZ` zone, or `None` for UTC without a prefix.
    #[must_use]
    pub fn zone(&self) -> Option<&'static str> {
        self.zone.map(|z| z.name())
    }

    /// The values a field matches, ascending (a day of week of 7 shows as 0, Sunday); empty
    /// for [`Field::Zone`].
    ///
    /// ```
    /// let cron = qstash_cron::Cron::parse("*/20 9-11 * * MON-FRI")?;
    /// assert_eq!(cron.values(qstash_cron::Field::Minute), [0, 20, 40]);
    /// assert_eq!(cron.values(qstash_cron::Field::DayOfWeek), [1, 2, 3, 4, 5]);
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    #[must_use]
    pub fn values(&self, field: Field) -> Vec<u32> {
        let p = &self.inner.pattern;
        let component = match field {
            Field::Minute => &p.minutes,
            Field::Hour => &p.hours,
            Field::DayOfMonth => &p.days,
            Field::Month => &p.months,
            Field::DayOfWeek => &p.days_of_week,
            Field::Zone => return Vec::new(),
        };
        component.values().into_iter().map(u32::from).collect()
    }

    /// The first tick strictly after `after_ms` (milliseconds since the Unix epoch), in
    /// milliseconds since the epoch; `None` when there is none before the year 5000 (the cron
    /// crate's search limit) or `after_ms` is beyond the calendar.
    ///
    /// ```
    /// let cron = qstash_cron::Cron::parse("0 * * * *")?;
    /// assert_eq!(cron.next_after(0), Some(3_600_000));
    /// assert_eq!(cron.next_after(3_600_000), Some(7_200_000));
    /// assert_eq!(cron.next_after(3_599_999), Some(3_600_000));
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    #[must_use]
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        let next = match self.zone {
            Some(zone) => self
                .inner
                .find_next_occurrence(&after.with_timezone(&zone), false)
                .ok()?
                .timestamp_millis(),
            None => self
                .inner
                .find_next_occurrence(&after, false)
                .ok()?
                .timestamp_millis(),
        };
        // The search moves forward in whole seconds from `after`'s second; a tick in the
        // same second as `after` cannot be one (ticks fall on whole minutes), but guard the
        // promise anyway.
        u64::try_from(next).ok().filter(|&n| n > after_ms)
    }

    /// The ticks strictly after `after_ms`, in order: [`next_after`](Self::next_after)
    /// repeated.
    ///
    /// ```
    /// let cron = qstash_cron::Cron::parse("0 9 * * MON-FRI")?;
    /// // Thursday 2026-01-01 00:00 UTC.
    /// let ticks: Vec<u64> = cron.ticks_after(1_767_225_600_000).take(3).collect();
    /// let day = 86_400_000;
    /// let nine = 9 * 3_600_000;
    /// assert_eq!(
    ///     ticks,
    ///     [1_767_225_600_000 + nine, 1_767_225_600_000 + day + nine, 1_767_225_600_000 + 4 * day + nine]
    /// );
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    #[must_use]
    pub fn ticks_after(&self, after_ms: u64) -> Ticks<'_> {
        Ticks {
            cron: self,
            after: Some(after_ms),
        }
    }

    /// `at_ms` as local time in the schedule's zone (UTC without `CRON_TZ`), RFC 3339 with
    /// the offset: `2026-03-09T09:00:00-04:00`; `None` beyond the calendar.
    ///
    /// ```
    /// let cron = qstash_cron::Cron::parse("CRON_TZ=Europe/Berlin 0 9 * * *")?;
    /// assert_eq!(cron.local_time(0).as_deref(), Some("1970-01-01T01:00:00+01:00"));
    /// # Ok::<(), qstash_cron::Error>(())
    /// ```
    #[must_use]
    pub fn local_time(&self, at_ms: u64) -> Option<String> {
        let at = DateTime::<Utc>::from_timestamp_millis(i64::try_from(at_ms).ok()?)?;
        let zone = self.zone.unwrap_or(Tz::UTC);
        Some(
            at.with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        )
    }
}

/// The ticks of a [`Cron`] after an instant; see [`Cron::ticks_after`].
#[derive(Clone)]
pub struct Ticks<'a> {
    cron: &'a Cron,
    /// The last tick returned (or the start); `None` once the ticks ran out.
    after: Option<u64>,
}

impl Iterator for Ticks<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let next = self.cron.next_after(self.after?);
        self.after = next;
        next
    }
}

impl std::iter::FusedIterator for Ticks<'_> {}

impl fmt::Debug for Ticks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticks")
            .field("cron", &self.cron.as_str())
            .field("after", &self.after)
            .finish()
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cron").field(&self.as_str()).finish()
    }
}

impl PartialEq for Cron {
    fn eq(&self, other: &Cron) -> bool {
        self.text == other.text
    }
}

impl Eq for Cron {}

impl std::hash::Hash for Cron {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl FromStr for Cron {
    type Err = Error;

    /// Same as [`Cron::parse`].
    fn from_str(s: &str) -> Result<Cron, Error> {
        Cron::parse(s)
    }
}

impl TryFrom<&str> for Cron {
    type Error = Error;

    fn try_from(s: &str) -> Result<Cron, Error> {
        Cron::parse(s)
    }
}
