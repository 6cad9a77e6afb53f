//! Cron schedules: the one dialect tenet reads, for windows and schedules
//! alike (`docs/language.md`, "Cron"; `docs/decisions.md`, 17).
//!
//! In: the text of a five-field expression, `minute hour day-of-month month
//! day-of-week`, each field `*`, a value, a range `a-b`, `*/n` or `a-b/n`, or
//! a list of those; month and day-of-week values may be names (`JAN`, `MON`,
//! any case). That is what classic cron, Kubernetes CronJobs and Argo CD
//! sync windows all read the same way. Beyond it, the specials that
//! Healthchecks.io's cron (cronsim) reads, with its meanings: `L` (the last
//! day of the month) and `LW` (its last weekday, Monday to Friday) in the
//! day of month, `nL` (the last weekday `n` of the month) and `n#k` (the
//! `k`-th weekday `n`, `k` from 1 to 5) in the day of week. Everything else
//! — a seconds field, `@daily`, `nW`, `?`, day of week `7`, `5/15` — is an
//! [`Error`] that says which field and value, not a guess.
//!
//! Out: a [`Schedule`], whose fire times are instants:
//! - a day matches when its month does and, if day of month and day of week
//!   are both restricted (neither is written `*`), when *either* matches;
//!   otherwise when both do (the classic rule);
//! - a matching wall-clock minute fires once, at the instant it first
//!   happens in the schedule's time zone: in the repeated autumn hour only
//!   the first pass fires;
//! - a matching wall-clock minute that the clocks skip (the spring gap)
//!   fires when they skip it, at the first instant after the gap; several
//!   skipped minutes fire once.
//!
//! So the fire times only depend on the set of wall-clock minutes that
//! match, never on how a field was written, and [`Schedule::next_after`] is
//! always strictly later than the instant it was asked about.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::ops::Range;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Bit `n` set: minute `n` (0-59) matches.
    minutes: u64,
    /// Bit `n`: hour `n` (0-23).
    hours: u32,
    /// Bit `n`: day of month `n` (1-31).
    days: u32,
    /// Bit `n`: month `n` (1-12).
    months: u16,
    /// Bit `n`: day of week `n` (0-6, 0 is Sunday).
    weekdays: u8,
    /// The day-of-month field is `*`.
    any_day: bool,
    /// The day-of-week field is `*`.
    any_weekday: bool,
    /// `L` in the day of month: its last day.
    last_day: bool,
    /// `LW` in the day of month: its last Monday-to-Friday.
    last_weekday: bool,
    /// Bit `n`: `nL` in the day of week (the last weekday `n` of the month).
    last_of: u8,
    /// `nth[k - 1]` bit `n`: `n#k` (the `k`-th weekday `n` of the month).
    nth: [u8; 5],
}

/// The specials of the two day fields (`L`, `LW`, `nL`, `n#k`).
#[derive(Default)]
struct Specials {
    last_day: bool,
    last_weekday: bool,
    last_of: u8,
    nth: [u8; 5],
}

/// Why a text is not a cron expression of the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// One lowercase sentence: which field, which value, what is wrong.
    pub message: String,
    /// How to write it instead.
    pub help: String,
    /// The bytes of the expression the message is about.
    pub at: Range<usize>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The fields, in order.
const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ...
    names: &'static [&'static str],
}

impl Field {
    fn takes(&self) -> String {
        match self.names.first().zip(self.names.last()) {
            Some((a, b)) => format!("{}-{} or {a}-{b}", self.min, self.max),
            None => format!("{}-{}", self.min, self.max),
        }
    }
}

const SYNTAX: &str = "tenet's cron has five fields, `minute hour day-of-month month day-of-week`, \
                      each `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a list of \
                      those (see docs/language.md, Cron)";

fn err(message: String, help: impl Into<String>, at: Range<usize>) -> Error {
    Error {
        message,
        help: help.into(),
        at,
    }
}

impl Schedule {
    /// Read a cron expression of the dialect, or say what is wrong with it.
    pub fn parse(text: &str) -> Result<Schedule, Error> {
        let all = 0..text.len();
        let fields: Vec<(usize, &str)> = text
            .split_ascii_whitespace()
            .map(|f| (f.as_ptr() as usize - text.as_ptr() as usize, f))
            .collect();
        if fields.is_empty() {
            return Err(err(
                "the cron expression is empty".into(),
                "write five fields, such as `\"0 2 * * SAT\"` (02:00 every Saturday)",
                all,
            ));
        }
        if let Some((at, word)) = fields.first().filter(|(_, f)| f.starts_with('@')) {
            let same = match word.to_ascii_lowercase().as_str() {
                "@yearly" | "@annually" => Some("0 0 1 1 *"),
                "@monthly" => Some("0 0 1 * *"),
                "@weekly" => Some("0 0 * * 0"),
                "@daily" | "@midnight" => Some("0 0 * * *"),
                "@hourly" => Some("0 * * * *"),
                _ => None,
            };
            let help = match same {
                Some(s) => format!("write the five fields: `{word}` is `{s}`"),
                None => SYNTAX.to_string(),
            };
            return Err(err(
                format!("the macro `{word}` is not part of tenet's cron"),
                help,
                *at..at + word.len(),
            ));
        }
        if fields.len() != 5 {
            let help = if fields.len() > 5 {
                "there is no seconds or year field: schedules are to the minute; \
                 write `minute hour day-of-month month day-of-week`"
            } else {
                "write `minute hour day-of-month month day-of-week`, such as `\"0 2 * * SAT\"`"
            };
            return Err(err(
                format!(
                    "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found {} fields",
                    fields.len()
                ),
                help,
                all,
            ));
        }
        let mut bits = [0u64; 5];
        let mut sp = Specials::default();
        for (i, (at, f)) in fields.iter().enumerate() {
            bits[i] = parse_field(&FIELDS[i], f, *at, &mut sp)?;
        }
        let any_day = fields[2].1 == "*";
        let any_weekday = fields[4].1 == "*";
        // Classic cron counts a day field that starts with `*` (`*/2`) as
        // unrestricted, Argo CD and Kubernetes as restricted: refuse the
        // one combination where that changes which days fire.
        for (day, other) in [(2, 4), (4, 2)] {
            let (at, f) = fields[day];
            if f.starts_with('*') && f != "*" && fields[other].1 != "*" {
                let whole = if day == 2 { "1-31" } else { "0-6" };
                return Err(err(
                    format!(
                        "`{f}` in the {} field, with the {} restricted too, means different days in different crons",
                        FIELDS[day].name, FIELDS[other].name
                    ),
                    format!(
                        "write a range, `{}`: then a day fires when either day field matches",
                        f.replacen('*', whole, 1)
                    ),
                    at..at + f.len(),
                ));
            }
        }
        let s = Schedule {
            minutes: bits[0],
            hours: bits[1] as u32,
            days: bits[2] as u32,
            months: bits[3] as u16,
            weekdays: bits[4] as u8,
            any_day,
            any_weekday,
            last_day: sp.last_day,
            last_weekday: sp.last_weekday,
            last_of: sp.last_of,
            nth: sp.nth,
        };
        // With the day of week `*`, only the days of the month decide: a
        // day that no chosen month has never fires.
        if any_weekday && !any_day {
            let possible = s.last_day
                || s.last_weekday
                || (1..=12u32)
                    .filter(|m| s.months & (1 << m) != 0)
                    .any(|m| u64::from(s.days) & ((1u64 << (days_in_month(m) + 1)) - 2) != 0);
            if !possible {
                let (at, f) = fields[2];
                return Err(err(
                    format!(
                        "day of month `{f}` never falls in month `{}`, so this schedule never fires",
                        fields[3].1
                    ),
                    "choose days the months have (February has 29 days at most, April, June, September and November 30)",
                    at..at + f.len(),
                ));
            }
        }
        Ok(s)
    }

    /// The first fire time strictly after `t`, with the schedule read in
    /// `tz`; `None` only past the year 262000 or so.
    pub fn next_after(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Wall times map to instants in the same order (never backwards:
        // see `instant`), and every wall time before the one of `t` fires
        // at or before `t`. So the answer is the first matching wall time,
        // from the one of `t` on, whose instant is after `t`. Only in a
        // repeated hour are there wall times to step over, one per match.
        let local = t.with_timezone(&tz).naive_local();
        let mut wall = local.with_second(0)?.with_nanosecond(0)?;
        for _ in 0..100_000 {
            wall = self.next_wall(wall)?;
            let i = instant(wall, tz)?;
            if i > t {
                return Some(i);
            }
            wall = wall.checked_add_signed(Duration::minutes(1))?;
        }
        None
    }

    /// Whether `t` is a fire time of the schedule in `tz`.
    pub fn matches(&self, t: DateTime<Utc>, tz: Tz) -> bool {
        t.checked_sub_signed(Duration::nanoseconds(1))
            .and_then(|before| self.next_after(before, tz))
            == Some(t)
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let last = last_day_of(d);
        let wd = d.weekday().num_days_from_sunday();
        let dom = self.days & (1 << d.day()) != 0
            || (self.last_day && d.day() == last)
            || (self.last_weekday && d.day() == last_weekday_of(d, last));
        let dow = self.weekdays & (1 << wd) != 0
            || (self.last_of & (1 << wd) != 0 && d.day() + 7 > last)
            || self.nth[((d.day() - 1) / 7) as usize] & (1 << wd) != 0;
        if self.any_day || self.any_weekday {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first matching wall-clock minute at or after `from`.
    fn next_wall(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let mut start = (from.hour(), from.minute());
        // A parsed schedule fires within 28 years (the fifth Monday of a
        // February, `0 0 * 2 1#5`, comes every 28 years); a month that
        // does not match costs one step, so 60 years of steps bound it.
        for _ in 0..(60 * 366) {
            if self.months & (1 << date.month()) == 0 {
                let (y, m) = (date.year(), date.month());
                date = if m == 12 {
                    NaiveDate::from_ymd_opt(y.checked_add(1)?, 1, 1)?
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)?
                };
                start = (0, 0);
                continue;
            }
            if self.day_matches(date) {
                if let Some((h, m)) = self.first_time_from(start) {
                    return date.and_hms_opt(h, m, 0);
                }
            }
            date = date.succ_opt()?;
            start = (0, 0);
        }
        None
    }

    /// The first matching hour and minute of a day at or after `(h, m)`.
    fn first_time_from(&self, (h0, m0): (u32, u32)) -> Option<(u32, u32)> {
        (h0..24)
            .filter(|h| self.hours & (1 << h) != 0)
            .find_map(|h| {
                let from = if h == h0 { m0 } else { 0 };
                let rest = self.minutes.checked_shr(from)?;
                (rest != 0).then(|| (h, from + rest.trailing_zeros()))
            })
            .filter(|(_, m)| *m < 60)
    }
}

/// The instant a wall-clock minute fires at: when it first happens; in a
/// gap, when the clocks skip it (the first wall time after the gap).
fn instant(wall: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let mut w = wall;
    // Gaps are an hour or two; Samoa skipped a whole day in 2011.
    for _ in 0..(48 * 60) {
        match tz.from_local_datetime(&w) {
            chrono::LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(a, b) => {
                return Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc)))
            }
            chrono::LocalResult::None => w = w.checked_add_signed(Duration::minutes(1))?,
        }
    }
    None
}

/// The last day of `d`'s month.
fn last_day_of(d: NaiveDate) -> u32 {
    let (y, m) = (d.year(), d.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .and_then(|f| f.pred_opt())
        .map_or(days_in_month(m), |l| l.day())
}

/// The day of the last Monday-to-Friday of `d`'s month (`last` its last
/// day): a Saturday steps back one day, a Sunday two.
fn last_weekday_of(d: NaiveDate, last: u32) -> u32 {
    let wd = d
        .with_day(last)
        .map_or(1, |l| l.weekday().num_days_from_sunday());
    match wd {
        6 => last - 1,
        0 => last - 2,
        _ => last,
    }
}

fn days_in_month(m: u32) -> u32 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The bits of one field (`text` starts at byte `at` of the expression).
fn parse_field(f: &Field, text: &str, at: usize, sp: &mut Specials) -> Result<u64, Error> {
    let mut bits = 0u64;
    let mut offset = at;
    for item in text.split(',') {
        let span = offset..offset + item.len();
        offset += item.len() + 1;
        if item.is_empty() {
            return Err(err(
                format!("the {} field `{text}` has an empty list item", f.name),
                "separate values with single commas: `1,15`",
                at..at + text.len(),
            ));
        }
        if !special(f, item, &span, sp)? {
            bits |= parse_item(f, item, span)?;
        }
    }
    Ok(bits)
}

/// Reads `item` into `sp` if it is one of the specials of a day field
/// (`L`, `LW`; `nL`, `n#k`): `Ok(true)`; `Ok(false)` for anything else.
fn special(f: &Field, item: &str, span: &Range<usize>, sp: &mut Specials) -> Result<bool, Error> {
    let up = item.to_ascii_uppercase();
    if f.name == "day of month" {
        match up.as_str() {
            "L" => sp.last_day = true,
            "LW" => sp.last_weekday = true,
            _ => return Ok(false),
        }
        return Ok(true);
    }
    if f.name != "day of week" {
        return Ok(false);
    }
    if let Some(n) = up.strip_suffix('L').filter(|n| !n.is_empty()) {
        if !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                format!("`{item}` in the day of week field: `L` follows a day number"),
                "write `5L` for the last Friday of the month (0 is Sunday)",
                span.clone(),
            ));
        }
        let v = value(f, n, span)?;
        sp.last_of |= 1 << v;
        return Ok(true);
    }
    if let Some((d, k)) = item.split_once('#') {
        let v = value(f, d, span)?;
        let count = k
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| k.parse::<usize>());
        let k = match count {
            Some(Ok(k)) if (1..=5).contains(&k) => k,
            _ => {
                return Err(err(
                    format!("`{item}` in the day of week field: the `#` count `{k}` is not 1 to 5"),
                    "write `MON#2` for the second Monday of the month; a month has five of a weekday at most",
                    span.clone(),
                ))
            }
        };
        sp.nth[k - 1] |= 1 << v;
        return Ok(true);
    }
    Ok(false)
}

fn parse_item(f: &Field, item: &str, span: Range<usize>) -> Result<u64, Error> {
    let (l_help, hash_help) = if f.name == "day of month" {
        (
            "`L` stands alone in the day of month (its last day), or as `LW` (its last weekday)",
            "`#` belongs to the day of week: `MON#2` is the second Monday",
        )
    } else if f.name == "day of week" {
        (
            "in the day of week, `L` follows a day number: `5L` is the last Friday",
            SYNTAX,
        )
    } else {
        (
            "`L` belongs to the day fields: `L` or `LW` in the day of month, `5L` in the day of week",
            "`#` belongs to the day of week: `MON#2` is the second Monday",
        )
    };
    for (c, what, help) in [
        ('?', "`?`", "write `*` for any day"),
        ('L', "`L` (last)", l_help),
        (
            'W',
            "`W` (nearest weekday)",
            "tenet's cron, as Healthchecks', reads `W` only in `LW` (the last weekday of the month)",
        ),
        ('#', "`#` (nth weekday of the month)", hash_help),
    ] {
        // Names hold letters too (`JUL`, `WED`): only a lone letter or one
        // next to a digit is the special character.
        let special = if c.is_ascii_alphabetic() {
            item == c.to_string()
                || item
                    .char_indices()
                    .any(|(i, x)| x == c && is_digit_next(item, i))
        } else {
            item.contains(c)
        };
        if special {
            return Err(err(
                format!("{what} in the {} field is not part of tenet's cron", f.name),
                help,
                span,
            ));
        }
    }
    let (base, step) = match item.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (item, None),
    };
    let step = match step {
        None => 1,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n >= 1 && s.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(err(
                    format!(
                        "step `/{s}` in the {} field must be a whole number of at least 1",
                        f.name
                    ),
                    format!("write `*/n` or `a-b/n` with n from 1 to {}", f.max),
                    span,
                ))
            }
        },
    };
    let (lo, hi) = if base == "*" {
        (f.min, f.max)
    } else if let Some((a, b)) = base.split_once('-') {
        let (lo, hi) = (value(f, a, &span)?, value(f, b, &span)?);
        if lo > hi {
            return Err(err(
                format!("range `{base}` in the {} field runs backwards", f.name),
                "write the smaller value first; a range does not wrap around (write `22-23,0-2`)",
                span,
            ));
        }
        (lo, hi)
    } else {
        let v = value(f, base, &span)?;
        if step != 1 || item.contains('/') {
            return Err(err(
                format!(
                    "`{item}` in the {} field: a step needs `*` or a range before it",
                    f.name
                ),
                format!("write `{base}-{}/{step}`", f.max),
                span,
            ));
        }
        (v, v)
    };
    let mut bits = 0u64;
    let mut v = lo;
    while v <= hi {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits)
}

fn is_digit_next(s: &str, i: usize) -> bool {
    let b = s.as_bytes();
    (i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_digit))
        || b.get(i + 1).is_some_and(u8::is_ascii_digit)
}

/// One value of a field: digits or a name.
fn value(f: &Field, text: &str, span: &Range<usize>) -> Result<u32, Error> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n = text.parse::<u32>().unwrap_or(u32::MAX);
        if n < f.min || n > f.max {
            let help = if f.name == "day of week" && n == 7 {
                "Sunday is `0` or `SUN`".to_string()
            } else {
                format!("the {} field takes {}", f.name, f.takes())
            };
            return Err(err(
                format!("{} `{text}` is out of range {}-{}", f.name, f.min, f.max),
                help,
                span.clone(),
            ));
        }
        return Ok(n);
    }
    if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(f.min + i as u32);
    }
    let what = match f.name {
        "day of week" => "a day of the week".to_string(),
        other => format!("a {other}"),
    };
    Err(err(
        format!("`{text}` is not {what}"),
        format!("the {} field takes {}", f.name, f.takes()),
        span.clone(),
    ))
}
