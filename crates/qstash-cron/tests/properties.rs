//! Random expressions against an independent reference: the value sets are computed here from
//! the generated items, and the next tick is found by walking the minutes after the instant
//! (skipping whole days that cannot match) with a civil calendar written in this file.

use proptest::prelude::*;
use qstash_cron::{Cron, ErrorKind, Field};

const MONTHS: [&str; 12] = [
    "jan", "FEB", "Mar", "APR", "may", "JUN", "JUL", "aug", "SEP", "OCT", "Nov", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "mon", "TUE", "Wed", "THU", "fri", "SAT"];

/// One list item of a field, as generated.
#[derive(Debug, Clone)]
enum Item {
    Star,
    StarStep(u32),
    Value(u32, bool),
    Range(u32, u32, bool),
    RangeStep(u32, u32, u32),
}

/// A field: its items.
#[derive(Debug, Clone)]
struct Spec {
    items: Vec<Item>,
}

fn item(min: u32, max: u32) -> impl Strategy<Value = Item> {
    prop_oneof![
        1 => Just(Item::Star),
        2 => (1..=max).prop_map(Item::StarStep),
        4 => (min..=max, any::<bool>()).prop_map(|(v, n)| Item::Value(v, n)),
        3 => (min..=max, min..=max, any::<bool>()).prop_map(|(a, b, n)| Item::Range(a.min(b), a.max(b), n)),
        2 => (min..=max, min..=max, 1..=max).prop_map(|(a, b, s)| Item::RangeStep(a.min(b), a.max(b), s)),
    ]
}

fn spec(min: u32, max: u32) -> impl Strategy<Value = Spec> {
    prop_oneof![
        1 => Just(Spec { items: vec![Item::Star] }),
        // `*` alone is a field of its own: a list may not hold it.
        3 => proptest::collection::vec(item(min, max), 1..4).prop_map(move |items| Spec {
            items: if items.len() > 1 {
                let rest: Vec<Item> = items.into_iter().filter(|i| !matches!(i, Item::Star)).collect();
                if rest.is_empty() { vec![Item::Value(min, false)] } else { rest }
            } else {
                items
            },
        }),
    ]
}

/// Renders a value, as a name where the field has names and `named` says so.
fn show(field: Field, v: u32, named: bool) -> String {
    match field {
        Field::Month if named => MONTHS[(v - 1) as usize].to_owned(),
        Field::DayOfWeek if named && v < 7 => DAYS[v as usize].to_owned(),
        _ => v.to_string(),
    }
}

impl Spec {
    fn render(&self, field: Field) -> String {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|i| match *i {
                Item::Star => "*".to_owned(),
                Item::StarStep(s) => format!("*/{s}"),
                Item::Value(v, n) => show(field, v, n),
                Item::Range(a, b, n) => {
                    format!("{}-{}", show(field, a, n), show(field, b, n))
                }
                Item::RangeStep(a, b, s) => format!("{a}-{b}/{s}"),
            })
            .collect();
        items.join(",")
    }

    /// The values matched, as a set of bits (a day of week of 7 counts as 0).
    fn set(&self, field: Field) -> u64 {
        let (min, max) = field.range();
        let mut set = 0u64;
        for i in &self.items {
            let (lo, hi, step) = match *i {
                Item::Star => (min, max, 1),
                Item::StarStep(s) => (min, max, s),
                Item::Value(v, _) => (v, v, 1),
                Item::Range(a, b, _) => (a, b, 1),
                Item::RangeStep(a, b, s) => (a, b, s),
            };
            let mut v = lo;
            while v <= hi {
                set |= 1
                    << if field == Field::DayOfWeek && v == 7 {
                        0
                    } else {
                        v
                    };
                v += step;
            }
        }
        set
    }

    fn is_star(&self) -> bool {
        matches!(self.items.as_slice(), [Item::Star])
    }
}

/// Civil date of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The reference: the first minute strictly after `after_ms` whose wall-clock time at
/// `offset_min` minutes east of UTC matches, searching at most `max_days` days.
fn reference(
    sets: &[u64; 5],
    stars: (bool, bool),
    offset_min: i64,
    after_ms: u64,
    max_days: i64,
) -> Option<u64> {
    let [minutes, hours, doms, months, dows] = *sets;
    let offset_ms = offset_min * 60_000;
    let local_after = after_ms as i64 + offset_ms;
    let first_day = local_after.div_euclid(86_400_000);
    for day in first_day..first_day + max_days {
        let (_, m, d) = civil(day);
        let dow = (day + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let dom_ok = doms & (1 << d) != 0;
        let dow_ok = dows & (1 << dow) != 0;
        let day_ok = match stars {
            (true, true) => true,
            (true, false) => dow_ok,
            (false, true) => dom_ok,
            (false, false) => dom_ok || dow_ok,
        };
        if months & (1 << m) == 0 || !day_ok {
            continue;
        }
        for minute_of_day in 0..1440i64 {
            let (h, mi) = (minute_of_day / 60, minute_of_day % 60);
            if hours & (1 << h) == 0 || minutes & (1 << mi) == 0 {
                continue;
            }
            let local = day * 86_400_000 + minute_of_day * 60_000;
            if local > local_after {
                return Some((local - offset_ms) as u64);
            }
        }
    }
    None
}

/// Zones without daylight saving time since 1971, and their offset in minutes.
const ZONES: [(Option<&str>, i64); 4] = [
    (None, 0),
    (Some("UTC"), 0),
    (Some("Asia/Tokyo"), 540),
    (Some("Asia/Kolkata"), 330),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn next_after_is_the_first_matching_minute(
        specs in (spec(0, 59), spec(0, 23), spec(1, 31), spec(1, 12), spec(0, 7)),
        zone in 0..ZONES.len(),
        after in 31_536_000_000u64..4_102_444_800_000, // 1971 to 2100
    ) {
        let specs = [specs.0, specs.1, specs.2, specs.3, specs.4];
        let fields: Vec<String> = Field::FIVE.iter().zip(&specs).map(|(f, s)| s.render(*f)).collect();
        let (name, offset) = ZONES[zone];
        let expr = match name {
            Some(z) => format!("CRON_TZ={z} {}", fields.join(" ")),
            None => fields.join(" "),
        };
        let sets: [u64; 5] = std::array::from_fn(|i| specs[i].set(Field::FIVE[i]));
        let stars = (specs[2].is_star(), specs[4].is_star());
        // Fires on some day of some month? (Only the day of month decides when the day of
        // week is `*`.)
        let fires = !stars.0 && stars.1 && !(1..=12u32).any(|m| {
            let days = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize];
            sets[3] & (1 << m) != 0 && (1..=days).any(|d| sets[2] & (1 << d) != 0)
        });
        let cron = match Cron::parse(&expr) {
            Ok(cron) => cron,
            Err(e) => {
                prop_assert!(fires && e.kind() == ErrorKind::NeverFires, "{expr}: {e}");
                return Ok(());
            }
        };
        prop_assert!(!fires, "{expr} never fires but parsed");
        for (i, field) in Field::FIVE.iter().enumerate() {
            let want: Vec<u32> = (0..64).filter(|v| sets[i] & (1 << v) != 0).collect();
            prop_assert_eq!(cron.values(*field), want, "{} of {}", field, expr);
        }
        let again = Cron::parse(&cron.to_string()).unwrap();
        prop_assert_eq!(&again, &cron);
        // Feb 29 alone may wait 8 years (2096 → 2104).
        let want = reference(&sets, stars, offset, after, 366 * 9);
        let got = cron.next_after(after);
        prop_assert_eq!(got, want, "{} after {}", expr, after);
        // The iterator continues from each tick.
        if let Some(first) = got {
            let two: Vec<u64> = cron.ticks_after(after).take(2).collect();
            prop_assert_eq!(two[0], first);
            if let Some(second) = two.get(1) {
                prop_assert_eq!(Some(*second), reference(&sets, stars, offset, first, 366 * 9));
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        if let Err(e) = Cron::parse(&s) {
            prop_assert!(e.span().end <= s.len());
        }
    }

    #[test]
    fn cron_like_text_parses_or_names_a_field(s in "(CRON_TZ=[A-Za-z/_]{0,20} )?[0-9*/,LW#?a-zA-Z-]{1,8}( [0-9*/,LW#?a-zA-Z-]{1,8}){3,5}") {
        match Cron::parse(&s) {
            Ok(cron) => prop_assert_eq!(Cron::parse(&cron.to_string()).unwrap(), cron),
            Err(e) => {
                prop_assert!(e.span().end <= s.len());
                prop_assert!(
                    e.field().is_some() || matches!(e.kind(), ErrorKind::FieldCount | ErrorKind::Macro | ErrorKind::UnknownPrefix),
                    "{}", e
                );
            }
        }
    }
}
