//! Splitting an expression into its `CRON_TZ=` zone and five fields, and checking each field
//! closely enough to say which field is wrong and where; the meaning of the fields is then
//! left to the cron crate (see `lib.rs`).

use std::fmt::Write as _;

use chrono_tz::Tz;

use crate::error::{Error, ErrorKind};
use crate::{Field, MAX_LEN};

/// The prefix that names the expression's time zone.
pub(crate) const ZONE_PREFIX: &str = "CRON_TZ=";

/// An expression split and checked, before the cron crate reads it.
pub(crate) struct Checked {
    /// The zone of a `CRON_TZ=` prefix.
    pub zone: Option<Tz>,
    /// The five fields, names in upper case, joined by single spaces.
    pub fields: String,
    /// The same with names replaced by numbers, for the cron crate (whose own name
    /// substitution reads `SUN-SUN` as every day).
    pub numeric: String,
}

/// A token of the input and its byte offset.
#[derive(Clone, Copy)]
struct Token<'a> {
    at: usize,
    text: &'a str,
}

/// Splits `input` on ASCII whitespace, keeping offsets; at most `MAX_LEN / 2 + 1` tokens fit
/// in an input of `MAX_LEN` bytes, so the list is bounded.
fn tokens(input: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in input.bytes().enumerate() {
        let space = b.is_ascii_whitespace();
        match (start, space) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                out.push(Token {
                    at: s,
                    text: input.get(s..i).unwrap_or_default(),
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Token {
            at: s,
            text: input.get(s..).unwrap_or_default(),
        });
    }
    out
}

/// Splits and checks `input`.
pub(crate) fn check(input: &str) -> Result<Checked, Error> {
    if input.len() > MAX_LEN {
        return Err(Error::new(
            ErrorKind::TooLong,
            None,
            input,
            MAX_LEN,
            input.len() - MAX_LEN,
            format!(
                "{} bytes is longer than the limit of {MAX_LEN}",
                input.len()
            ),
        ));
    }
    let tokens = tokens(input);
    let Some(first) = tokens.first().copied() else {
        return Err(Error::new(
            ErrorKind::Empty,
            None,
            input,
            input.len(),
            0,
            "empty expression: expected five fields (minute hour day-of-month month \
             day-of-week)"
                .to_owned(),
        ));
    };
    if first.text.starts_with('@') {
        return Err(Error::new(
            ErrorKind::Macro,
            None,
            input,
            first.at,
            first.text.len(),
            format!(
                "macros such as \"{}\" are not supported: write the five fields \
                 (\"@hourly\" is \"0 * * * *\", \"@daily\" is \"0 0 * * *\")",
                first.text.escape_debug()
            ),
        ));
    }
    let mut fields = tokens.as_slice();
    let mut zone = None;
    if let Some(name) = first.text.strip_prefix(ZONE_PREFIX) {
        zone = Some(parse_zone(input, first.at + ZONE_PREFIX.len(), name)?);
        fields = tokens.get(1..).unwrap_or_default();
    } else if let Some(eq) = first.text.find('=') {
        return Err(Error::new(
            ErrorKind::UnknownPrefix,
            None,
            input,
            first.at,
            eq + 1,
            format!(
                "unknown prefix \"{}\": the only prefix is CRON_TZ=<IANA zone>",
                first.text.get(..=eq).unwrap_or_default().escape_debug()
            ),
        ));
    }
    if fields.len() != 5 {
        return Err(field_count(input, fields));
    }
    let mut out = String::with_capacity(input.len());
    let mut numeric = String::with_capacity(input.len());
    let mut masks = [0u64; 5];
    for ((field, token), mask) in Field::FIVE.iter().zip(fields).zip(masks.iter_mut()) {
        if !out.is_empty() {
            out.push(' ');
            numeric.push(' ');
        }
        *mask = check_field(input, *field, *token, &mut numeric)?;
        out.push_str(&token.text.to_ascii_uppercase());
    }
    let [_, _, dom, month, _] = fields else {
        return Err(field_count(input, fields));
    };
    if dom.text != "*" && fields.get(4).is_some_and(|dow| dow.text == "*") {
        never_fires(input, *dom, *month, masks[2], masks[3])?;
    }
    Ok(Checked {
        zone,
        fields: out,
        numeric,
    })
}

/// The error for `fields.len() != 5`.
fn field_count(input: &str, fields: &[Token<'_>]) -> Error {
    let n = fields.len();
    let why = match n {
        0 => "no fields".to_owned(),
        6 | 7 => format!("{n} fields: seconds and years fields are not supported"),
        _ => format!("{n} fields"),
    };
    let (at, len) = match fields.get(5) {
        Some(extra) => {
            let end = fields.last().map_or(input.len(), |t| t.at + t.text.len());
            (extra.at, end - extra.at)
        }
        None => (input.trim_end().len(), 0),
    };
    Error::new(
        ErrorKind::FieldCount,
        None,
        input,
        at,
        len,
        format!("expected five fields (minute hour day-of-month month day-of-week), found {why}"),
    )
}

/// Looks `name` up in the bundled IANA database; `at` is its offset in `input`.
fn parse_zone(input: &str, at: usize, name: &str) -> Result<Tz, Error> {
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::UnknownZone,
            Some(Field::Zone),
            input,
            at,
            0,
            "the CRON_TZ zone is missing (write CRON_TZ=America/New_York, CRON_TZ=UTC, …)"
                .to_owned(),
        ));
    }
    name.parse::<Tz>().map_err(|_| {
        Error::new(
            ErrorKind::UnknownZone,
            Some(Field::Zone),
            input,
            at,
            name.len(),
            format!(
                "the CRON_TZ zone \"{}\" is not an IANA time zone (such as America/New_York; \
                 names are case-sensitive)",
                name.escape_debug()
            ),
        )
    })
}

/// What a field's item is made of, for the error messages.
struct Ctx<'a> {
    input: &'a str,
    field: Field,
    token: Token<'a>,
}

impl Ctx<'_> {
    /// An error about `input[at..at + len]` (absolute offsets) in this field.
    fn err(&self, kind: ErrorKind, at: usize, len: usize, what: &str) -> Error {
        Error::new(
            kind,
            Some(self.field),
            self.input,
            at,
            len,
            format!(
                "the {} field \"{}\"{what}",
                self.field.name(),
                self.token.text.escape_debug()
            ),
        )
    }
}

/// Checks one field, appends it with numbers for names to `numeric`, and returns its values
/// as a bit set (bit `v` for value `v`; a day of week of 7 is Sunday, bit 0).
fn check_field(
    input: &str,
    field: Field,
    token: Token<'_>,
    numeric: &mut String,
) -> Result<u64, Error> {
    let ctx = Ctx {
        input,
        field,
        token,
    };
    let (min, max) = field.range();
    let mut mask = 0u64;
    let mut at = token.at;
    let listed = token.text.contains(',');
    for (i, item) in token.text.split(',').enumerate() {
        if i > 0 {
            numeric.push(',');
        }
        if listed && item == "*" {
            return Err(ctx.err(
                ErrorKind::UnexpectedCharacter,
                at,
                1,
                ": \"*\" cannot be one item of a list (alone it means every value)",
            ));
        }
        mask |= check_item(&ctx, at, item, min, max, numeric)?;
        at += item.len() + 1;
    }
    if field == Field::DayOfWeek && mask & (1 << 7) != 0 {
        mask = (mask & !(1 << 7)) | 1;
    }
    Ok(mask)
}

/// Checks `item` (at absolute offset `at`): `*`, `a`, `a-b`, `*/n`, `a-b/n`, and appends it
/// with numbers for names to `numeric`.
fn check_item(
    ctx: &Ctx<'_>,
    at: usize,
    item: &str,
    min: u32,
    max: u32,
    numeric: &mut String,
) -> Result<u64, Error> {
    if item.is_empty() {
        return Err(ctx.err(ErrorKind::MissingValue, at, 0, " has an empty list item"));
    }
    let stepped = item.contains('/');
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some((at + base.len() + 1, step))),
        None => (item, None),
    };
    let step = match step {
        None => 1,
        Some((step_at, step)) => {
            if step.is_empty() {
                return Err(ctx.err(
                    ErrorKind::MissingValue,
                    step_at,
                    0,
                    " has \"/\" without a step after it",
                ));
            }
            let n = number(ctx, step_at, step)?;
            if n == 0 {
                return Err(ctx.err(
                    ErrorKind::BadStep,
                    step_at,
                    step.len(),
                    ": a step must be at least 1",
                ));
            }
            n
        }
    };
    let (lo, hi) = if base == "*" {
        (min, max)
    } else if let Some((a, b)) = base.split_once('-') {
        let b_at = at + a.len() + 1;
        if a.is_empty() {
            return Err(ctx.err(
                ErrorKind::MissingValue,
                at,
                0,
                " has a range without a start",
            ));
        }
        if b.is_empty() {
            return Err(ctx.err(
                ErrorKind::MissingValue,
                b_at,
                0,
                " has a range without an end",
            ));
        }
        let lo = value(ctx, at, a, min, max)?;
        let mut hi = value(ctx, b_at, b, min, max)?;
        // `FRI-SUN`: Sunday ends a range as 7 (but `SUN-SUN` is Sunday alone).
        if ctx.field == Field::DayOfWeek && hi == 0 && lo > 0 && b.eq_ignore_ascii_case("SUN") {
            hi = 7;
        }
        if lo > hi {
            return Err(ctx.err(
                ErrorKind::ReversedRange,
                at,
                base.len(),
                &format!(": the range \"{}\" runs backwards", base.escape_debug()),
            ));
        }
        (lo, hi)
    } else {
        if base.is_empty() {
            return Err(ctx.err(
                ErrorKind::MissingValue,
                at,
                0,
                " has a step without * or a range before it",
            ));
        }
        let v = value(ctx, at, base, min, max)?;
        if stepped {
            return Err(ctx.err(
                ErrorKind::BadStep,
                at,
                item.len(),
                &format!(
                    ": a step needs * or a range before it (write \"{}-{max}/{step}\")",
                    base.escape_debug()
                ),
            ));
        }
        (v, v)
    };
    if base == "*" {
        numeric.push('*');
    } else if base.contains('-') {
        let _ = write!(numeric, "{lo}-{hi}");
    } else {
        let _ = write!(numeric, "{lo}");
    }
    if stepped {
        let _ = write!(numeric, "/{step}");
    }
    let mut mask = 0u64;
    let mut v = lo;
    while v <= hi {
        mask |= 1 << v;
        v += step;
    }
    Ok(mask)
}

/// A number or name at absolute offset `at`, checked against `min..=max`.
fn value(ctx: &Ctx<'_>, at: usize, text: &str, min: u32, max: u32) -> Result<u32, Error> {
    let v = if text.bytes().all(|b| b.is_ascii_alphabetic()) {
        name(ctx, at, text)?
    } else {
        number(ctx, at, text)?
    };
    if v < min || v > max {
        let what = if text == ctx.token.text {
            format!(" is out of range {min}-{max}")
        } else {
            format!(": \"{}\" is out of range {min}-{max}", text.escape_debug())
        };
        return Err(ctx.err(ErrorKind::OutOfRange, at, text.len(), &what));
    }
    Ok(v)
}

/// Decimal digits at absolute offset `at`; values above 9999 saturate (they are out of every
/// range anyway).
fn number(ctx: &Ctx<'_>, at: usize, text: &str) -> Result<u32, Error> {
    let mut n: u32 = 0;
    for (i, c) in text.char_indices() {
        let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) else {
            return Err(unexpected(ctx, at + i, c));
        };
        n = (n * 10 + d).min(10_000);
    }
    Ok(n)
}

/// The error for the character `c` at absolute offset `at`.
fn unexpected(ctx: &Ctx<'_>, at: usize, c: char) -> Error {
    let what = match c {
        'L' | 'l' | 'W' | 'w' | '#' | '?' => format!(
            " has \"{c}\": the L, W, # and ? extensions are not supported (standard \
             five-field cron only)"
        ),
        c if c.is_ascii_alphabetic() => {
            format!(" has the letter \"{c}\" where a number was expected")
        }
        c => format!(
            " has \"{}\", which is not allowed (numbers, {}*, a-b ranges, a,b lists and \
             /n steps are)",
            c.escape_debug(),
            if ctx.field.has_names() { "names, " } else { "" }
        ),
    };
    ctx.err(ErrorKind::UnexpectedCharacter, at, c.len_utf8(), &what)
}

/// The month or weekday name `text` (ASCII letters) at absolute offset `at`.
fn name(ctx: &Ctx<'_>, at: usize, text: &str) -> Result<u32, Error> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let (names, first, list): (&[&str], u32, &str) = match ctx.field {
        Field::Month => (&MONTHS, 1, "JAN-DEC"),
        Field::DayOfWeek => (&DAYS, 0, "SUN-SAT"),
        _ => {
            // One of the Quartz letters gets its own message.
            let c = text.chars().next().unwrap_or('?');
            if text.len() == 1 {
                return Err(unexpected(ctx, at, c));
            }
            return Err(ctx.err(
                ErrorKind::UnknownName,
                at,
                text.len(),
                &format!(
                    ": \"{}\" is not a number (names are for the month and day of week fields)",
                    text.escape_debug()
                ),
            ));
        }
    };
    let found = names
        .iter()
        .zip(first..)
        .find(|(n, _)| n.eq_ignore_ascii_case(text));
    match found {
        Some((_, v)) => Ok(v),
        None if text.len() == 1 => Err(unexpected(ctx, at, text.chars().next().unwrap_or('?'))),
        None => Err(ctx.err(
            ErrorKind::UnknownName,
            at,
            text.len(),
            &format!(
                ": \"{}\" is not a {} name ({list})",
                text.escape_debug(),
                ctx.field.name()
            ),
        )),
    }
}

/// Days in each month at most (February: 29).
const MONTH_DAYS: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// With a day-of-week of `*`, the expression fires only on the days of month it names: it
/// must name one that some named month has.
fn never_fires(
    input: &str,
    dom: Token<'_>,
    month: Token<'_>,
    dom_mask: u64,
    month_mask: u64,
) -> Result<(), Error> {
    let fires = (1..=12u32).filter(|m| month_mask & (1 << m) != 0).any(|m| {
        let days = MONTH_DAYS.get(m as usize).copied().unwrap_or(31);
        (1..=days).any(|d| dom_mask & (1 << d) != 0)
    });
    if fires {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::NeverFires,
        Some(Field::DayOfMonth),
        input,
        dom.at,
        dom.text.len(),
        format!(
            "the expression never fires: no month of the month field \"{}\" has a day of the \
             day of month field \"{}\"",
            month.text.escape_debug(),
            dom.text.escape_debug()
        ),
    ))
}
