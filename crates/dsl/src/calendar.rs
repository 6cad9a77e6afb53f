//! OnCalendar schedules: systemd's calendar expressions, read as
//! Healthchecks.io reads them (the Python library `oncalendar` 1.1).
//!
//! In: one expression, `[weekday] [date] [time]`, each part optional, the
//! parts separated by spaces and in that order:
//! - the weekday: names, `Mon` or `Monday` in any case, a list `Mon,Fri`
//!   (a trailing comma is dropped: `Mon, 12:00`), ranges `Mon..Fri` or
//!   `Mon-Fri` (Monday to Sunday, no wrap-around); no numbers, no `*`, no
//!   step. Left out: every day of the week;
//! - the date: `YYYY-MM-DD`, or `MM-DD` for every year. Each component is
//!   `*` alone, a value, a range `a..b`, a step `a/n` (from `a` to the end,
//!   every `n`-th) or `a..b/n` (every `n`-th of the range), or a comma list
//!   of those. Years are 1970-2199; two digits read 70-99 as 1970-1999 and
//!   00-69 as 2000-2069. `~` in place of the `-` before the day counts days
//!   back from the end of the month: `*-*~1` is the last day of every
//!   month, `*-02~3` the third to last of February, `~1..7` the last seven
//!   days, `~7/2` every other day of the last seven ending on the last; a
//!   single `~` value counts back 1 to 28 days. Left out: every day;
//! - the time: `HH:MM` or `HH:MM:SS`, each component as in the date; the
//!   seconds default to 0. Left out: `00:00:00`;
//! - or the whole expression one keyword, any case: `minutely`, `hourly`,
//!   `daily`, `weekly` (Mondays), `monthly`, `yearly` or `annually`,
//!   `quarterly`, `semiannually` (each at the start of its period).
//!
//! Two readings of oncalendar's are kept as they are: a range of one value
//! steps like that value (`5..5/10` is `5/10`: 5, 15, 25, ...), and `~*` is
//! every day. Everything else is an [`Error`] that names the part and the
//! value at fault, and so are three things oncalendar reads:
//! - a time zone at the end (`12:00 Europe/Riga`): the time zone is the
//!   schedule's own, written in its `tz` field;
//! - several lines (Healthchecks.io fires on any of them): a schedule reads
//!   one expression;
//! - an expression that never fires, which oncalendar accepts and never
//!   fires: a day no month has (`2-30`), a date that does not exist
//!   (`2021-02-29`), a weekday that never falls on the date
//!   (`Mon 2020-02-29`).
//!
//! Out: a [`Calendar`], whose fire times are instants, to the second, up
//! to the end of 2199 (where systemd and oncalendar stop too):
//! - a day matches when its weekday **and** its date do (never either);
//! - each matching wall-clock time fires once, at the instant it first
//!   happens in the schedule's time zone: in the repeated autumn hour only
//!   the first pass fires;
//! - a matching wall-clock time that the spring change skips fires when
//!   the clocks skip it, at the first instant after the gap; several
//!   skipped times fire once.
//!
//! That is the rule of tenet's cron (see [`crate::cron`] and
//! `docs/language.md`, "Cron"), and where it parts from oncalendar: in the
//! spring gap oncalendar skips a matching time altogether (`03:30` in
//! Europe/Riga on 2021-03-28 fires next on the 29th there; here at 04:00
//! EEST on the 28th, 01:00Z), and from a start in the second pass of the
//! autumn hour it can answer a time earlier than the start (it drops the
//! fold). Here [`Calendar::next_after`] is always strictly later than the
//! instant it was asked about, and successive fire times strictly
//! increase. Outside those two cases the fire times are oncalendar's.

use crate::cron::Error;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use std::ops::Range;

/// A parsed OnCalendar expression: the set of wall-clock times it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Bit `n`: weekday `n` (0 is Monday, 6 Sunday).
    weekdays: u8,
    /// Bit `y - 1970` (of word `(y - 1970) / 64`): year `y`, 1970-2199.
    years: [u64; 4],
    /// Bit `n`: month `n` (1-12).
    months: u16,
    /// Bit `n`: day of month `n` (1-31).
    days: u32,
    /// Bit `k`: the `k`-th day from the end of the month (1 is the last).
    days_from_end: u32,
    /// Bit `n`: hour `n` (0-23).
    hours: u32,
    /// Bit `n`: minute `n` (0-59).
    minutes: u64,
    /// Bit `n`: second `n` (0-59).
    seconds: u64,
}

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;

/// The keywords and the expressions they stand for.
const KEYWORDS: [(&str, &str); 9] = [
    ("minutely", "*-*-* *:*:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("monthly", "*-*-01 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const SYNTAX: &str = "an OnCalendar expression is `[weekday] [date] [time]`, in that order, \
                      such as `Mon..Fri *-*-* 09:00`, or a keyword such as `daily`";

const WEEKDAY_NAMES: &str =
    "write `Mon`, `Tue`, `Wed`, `Thu`, `Fri`, `Sat` or `Sun`, or the full name, in any case";

const TILDE: &str = "`~` stands for the `-` before the day and counts days back from the end \
                     of the month: `*-02~1` is the last day of February";

/// The components of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Weekday,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Weekday => "weekday",
            Part::Year => "year",
            Part::Month => "month",
            Part::Day => "day",
            Part::Hour => "hour",
            Part::Minute => "minute",
            Part::Second => "second",
        }
    }

    fn range(self) -> (i32, i32) {
        match self {
            Part::Weekday => (0, 6),
            Part::Year => (FIRST_YEAR, LAST_YEAR),
            Part::Month => (1, 12),
            Part::Day => (1, 31),
            Part::Hour => (0, 23),
            Part::Minute | Part::Second => (0, 59),
        }
    }

    fn takes(self) -> String {
        let (min, max) = self.range();
        format!(
            "the {} part takes {min}-{max}, `*` alone, lists `a,b`, ranges `a..b` and steps `a/n` or `a..b/n`",
            self.name()
        )
    }
}

/// What a whitespace-separated token of an expression is, by its look (the
/// way oncalendar tells them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Weekday,
    Date,
    Time,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Weekday => "weekday",
            Kind::Date => "date",
            Kind::Time => "time",
        }
    }
}

fn err(message: String, help: impl Into<String>, at: Range<usize>) -> Error {
    Error {
        message,
        help: help.into(),
        at,
    }
}

impl Calendar {
    /// Read an OnCalendar expression, or say what is wrong with it.
    pub fn parse(text: &str) -> Result<Calendar, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err(
                "the OnCalendar expression is empty".into(),
                "write an expression such as `Mon..Fri *-*-* 09:00`, or a keyword such as `daily`",
                0..text.len(),
            ));
        }
        let start = trimmed.as_ptr() as usize - text.as_ptr() as usize;
        if let Some(nl) = trimmed.find('\n') {
            let rest = trimmed[nl..].trim_start();
            let lines = trimmed.lines().filter(|l| !l.trim().is_empty()).count();
            let end = start + trimmed.len();
            return Err(err(
                format!("a schedule reads one OnCalendar expression, found {lines} lines"),
                "one expression is read per schedule: give each line a schedule of its own",
                end - rest.len()..end,
            ));
        }
        let tokens: Vec<(usize, &str)> = text
            .split_whitespace()
            .map(|t| (t.as_ptr() as usize - text.as_ptr() as usize, t))
            .collect();
        for &(at, tok) in &tokens {
            if let Some(known) = zone(tok) {
                let (message, help) = if known {
                    (
                        format!("the time zone `{tok}` is not read inside the expression"),
                        "write the time zone in the `tz` field".to_string(),
                    )
                } else {
                    (
                        format!("`{tok}` looks like a time zone, which is not read inside the expression"),
                        format!(
                            "write the time zone in the `tz` field (and check its name: `{tok}` is not in the time zone database)"
                        ),
                    )
                };
                return Err(err(message, help, at..at + tok.len()));
            }
        }
        if let [(_, word)] = tokens[..] {
            if let Some((_, same)) = KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)) {
                return Calendar::parse(same);
            }
        }

        // Which token is which part, and are they in order?
        let mut found: [Option<(usize, &str)>; 3] = [None; 3];
        let mut last: Option<(Kind, &str)> = None;
        for &(at, tok) in &tokens {
            let kind = kind(tok, at)?;
            if kind == Kind::Weekday {
                // Say what is wrong with it before where it stands.
                component(Part::Weekday, tok, at)?;
            }
            let span = at..at + tok.len();
            if let Some((_, before)) = found[kind as usize] {
                let help = match kind {
                    Kind::Weekday => format!("list the days in one part: `{before},{tok}`"),
                    Kind::Date => {
                        "write one date, with lists in its components: `*-*-1,15`".to_string()
                    }
                    Kind::Time => "write one time, with lists in its components: `9,17:00`; \
                                   a schedule reads one expression"
                        .to_string(),
                };
                return Err(err(
                    format!("two {} parts, `{before}` and `{tok}`", kind.name()),
                    help,
                    span,
                ));
            }
            if let Some((k, before)) = last.filter(|(k, _)| *k > kind) {
                return Err(err(
                    format!(
                        "the {} `{tok}` comes after the {} `{before}`",
                        kind.name(),
                        k.name()
                    ),
                    "write the parts in the order weekday, date, time, such as `Mon..Fri *-*-* 09:00`",
                    span,
                ));
            }
            found[kind as usize] = Some((at, tok));
            last = Some((kind, tok));
        }

        let mut cal = Calendar {
            weekdays: 0x7f,
            years: [0; 4],
            months: 0x1ffe,
            days: 0xffff_fffe,
            days_from_end: 0,
            hours: 1,
            minutes: 1,
            seconds: 1,
        };
        for y in FIRST_YEAR..=LAST_YEAR {
            cal.set_year(y);
        }
        if let Some((at, tok)) = found[Kind::Weekday as usize] {
            cal.weekdays = bits(&component(Part::Weekday, tok, at)?) as u8;
        }
        if let Some((at, tok)) = found[Kind::Date as usize] {
            cal.read_date(tok, at)?;
        }
        if let Some((at, tok)) = found[Kind::Time as usize] {
            cal.read_time(tok, at)?;
        }
        // An expression that never fires is a mistake: say which part.
        let first = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        if first.and_then(|f| cal.next_wall(f)).is_none() {
            let (at, wd) = found[Kind::Weekday as usize].unwrap_or((0, text));
            let date = found[Kind::Date as usize].map_or("", |(_, d)| d);
            return Err(err(
                format!("the weekday `{wd}` never falls on the date `{date}`, so this schedule never fires"),
                "check the weekday against the date, or leave the weekday out",
                at..at + wd.len(),
            ));
        }
        Ok(cal)
    }

    /// Reads the date part (`tok`, at byte `at`) into the year, month and
    /// day sets, and says so when no such date ever exists.
    fn read_date(&mut self, tok: &str, at: usize) -> Result<(), Error> {
        let span = at..at + tok.len();
        let pieces = date_pieces(tok, at);
        let (year, month, day) = match pieces[..] {
            [m, d] => (None, m, d),
            [y, m, d] => (Some(y), m, d),
            _ => {
                let help = if tok.contains("-~") {
                    "`~` takes the place of the `-` before the day: `*-*~1` is the last day of every month"
                } else {
                    "write `YYYY-MM-DD` or `MM-DD`; a range inside a date is written `a..b`, such as `*-*-1..7`"
                };
                return Err(err(
                    format!(
                        "the date `{tok}` has {} parts: a date is `YYYY-MM-DD` or `MM-DD`",
                        pieces.len()
                    ),
                    help,
                    span,
                ));
            }
        };
        for (part, piece) in [
            (Part::Year, year),
            (Part::Month, Some(month)),
            (Part::Day, Some(day)),
        ] {
            let Some((p_at, p)) = piece else { continue };
            if p.is_empty() {
                return Err(err(
                    format!("the {} of the date `{tok}` is empty", part.name()),
                    format!("write `*` for every {}, or a value", part.name()),
                    span,
                ));
            }
            let values = component(part, p, p_at)?;
            match part {
                Part::Year => {
                    self.years = [0; 4];
                    for y in values {
                        self.set_year(y);
                    }
                }
                Part::Month => self.months = bits(&values) as u16,
                _ => {
                    self.days = 0;
                    for v in values {
                        match v {
                            1..=31 => self.days |= 1 << v,
                            -31..=-1 => self.days_from_end |= 1 << -v,
                            _ => {}
                        }
                    }
                }
            }
        }
        let ((_, month), (d_at, day)) = (month, day);
        let some_month_has_it = (1..=12u32)
            .filter(|m| self.months & (1 << m) != 0)
            .any(|m| (self.days | self.days_from_end) & month_mask(days_in_month(m)) != 0);
        if !some_month_has_it {
            return Err(err(
                format!("day `{day}` never falls in month `{month}`, so this schedule never fires"),
                "choose days the months have (February has 29 days at most; April, June, September and November 30)",
                d_at..d_at + day.len(),
            ));
        }
        let exists = (FIRST_YEAR..=LAST_YEAR)
            .filter(|y| self.has_year(*y))
            .any(|y| (1..=12).any(|m| self.months & (1 << m) != 0 && self.day_mask(y, m) != 0));
        if !exists {
            return Err(err(
                format!("the date `{tok}` never happens, so this schedule never fires"),
                "choose a year, month and day that exist together: 29 February is only in leap years, such as 2028",
                span,
            ));
        }
        Ok(())
    }

    /// Reads the time part (`tok`, at byte `at`) into the hour, minute and
    /// second sets.
    fn read_time(&mut self, tok: &str, at: usize) -> Result<(), Error> {
        let span = at..at + tok.len();
        if let Some(t) = tok.find(['T', 't']) {
            let (date, time) = (&tok[..t], &tok[t + 1..]);
            if date.contains('-') && time.contains(':') {
                return Err(err(
                    format!("`{tok}` joins a date and a time with `{}`", &tok[t..=t]),
                    format!("separate the date and the time with a space: `{date} {time}`"),
                    span,
                ));
            }
        }
        let mut pieces = Vec::new();
        let mut offset = at;
        for p in tok.split(':') {
            pieces.push((offset, p));
            offset += p.len() + 1;
        }
        if pieces.len() != 2 && pieces.len() != 3 {
            return Err(err(
                format!(
                    "the time `{tok}` has {} parts: a time is `HH:MM` or `HH:MM:SS`",
                    pieces.len()
                ),
                "write `HH:MM` or `HH:MM:SS`, such as `09:30` or `*:0/15:00`",
                span,
            ));
        }
        for (part, (p_at, p)) in [Part::Hour, Part::Minute, Part::Second]
            .into_iter()
            .zip(pieces)
        {
            if p.is_empty() {
                return Err(err(
                    format!("the {} of the time `{tok}` is empty", part.name()),
                    format!("write `*` for every {}, or a value", part.name()),
                    span,
                ));
            }
            let b = bits(&component(part, p, p_at)?);
            match part {
                Part::Hour => self.hours = b as u32,
                Part::Minute => self.minutes = b,
                _ => self.seconds = b,
            }
        }
        Ok(())
    }

    /// The first fire time strictly after `t`, read in `tz`; `None` when it
    /// never fires again (past the year 2199).
    pub fn next_after(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Wall times map to instants in the same order, never backwards
        // (see `instant`), and every wall time before the one of `t` fires
        // at or before `t`. So the answer is the first matching wall time,
        // from the one of `t` on, whose instant is after `t`. Only the wall
        // time of `t` itself and, in the second pass of a repeated hour,
        // the rest of that hour are to step over: `first_wall_after` jumps
        // them, and the next match fires after `t`.
        let mut wall = t.with_timezone(&tz).naive_local().with_nanosecond(0)?;
        for _ in 0..4 {
            wall = self.next_wall(wall)?;
            let i = instant(wall, tz)?;
            if i > t {
                return Some(i);
            }
            wall = first_wall_after(wall, t, tz)?;
        }
        None
    }

    fn set_year(&mut self, y: i32) {
        if (FIRST_YEAR..=LAST_YEAR).contains(&y) {
            let i = (y - FIRST_YEAR) as usize;
            self.years[i / 64] |= 1 << (i % 64);
        }
    }

    fn has_year(&self, y: i32) -> bool {
        (FIRST_YEAR..=LAST_YEAR).contains(&y) && {
            let i = (y - FIRST_YEAR) as usize;
            self.years[i / 64] >> (i % 64) & 1 == 1
        }
    }

    /// Bit `d`: day `d` of month `m` of year `y` matches the date part.
    fn day_mask(&self, y: i32, m: u32) -> u32 {
        let last = days_in(y, m);
        let upto = month_mask(last);
        let mut mask = self.days & upto;
        let mut back = self.days_from_end & upto;
        while back != 0 {
            let k = back.trailing_zeros();
            mask |= 1 << (last + 1 - k);
            back &= back - 1;
        }
        mask
    }

    /// The first matching wall-clock time at or after `from`, up to the end
    /// of 2199. It steps over years, months and matching days, never over
    /// the seconds of a day.
    fn next_wall(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let (mut y, mut m, mut d) = (from.year(), from.month(), from.day());
        let mut time = (from.hour(), from.minute(), from.second());
        // Each turn moves on to a later month or year: the months up to
        // 2199 bound it.
        for _ in 0..(13 * (LAST_YEAR - FIRST_YEAR + 2)) {
            if !self.has_year(y) {
                y = (y.max(FIRST_YEAR - 1) + 1..=LAST_YEAR).find(|y| self.has_year(*y))?;
                (m, d, time) = (1, 1, (0, 0, 0));
                continue;
            }
            if self.months & (1 << m) != 0 {
                let mut mask = self.day_mask(y, m) & !((1u32 << d) - 1);
                while mask != 0 {
                    let day = mask.trailing_zeros();
                    mask &= mask - 1;
                    let date = NaiveDate::from_ymd_opt(y, m, day)?;
                    if self.weekdays & (1 << date.weekday().num_days_from_monday()) == 0 {
                        continue;
                    }
                    let from = if day == d { time } else { (0, 0, 0) };
                    if let Some((h, mi, s)) = self.first_time_from(from) {
                        return date.and_hms_opt(h, mi, s);
                    }
                }
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (d, time) = (1, (0, 0, 0));
        }
        None
    }

    /// The first matching time of a day at or after `(h, m, s)`.
    fn first_time_from(&self, (h0, m0, s0): (u32, u32, u32)) -> Option<(u32, u32, u32)> {
        let mut h = next_bit(u64::from(self.hours), h0)?;
        loop {
            let mut from = if h == h0 { m0 } else { 0 };
            while let Some(m) = next_bit(self.minutes, from) {
                let s_from = if (h, m) == (h0, m0) { s0 } else { 0 };
                if let Some(s) = next_bit(self.seconds, s_from) {
                    return Some((h, m, s));
                }
                from = m + 1;
            }
            h = next_bit(u64::from(self.hours), h + 1)?;
        }
    }
}

/// The lowest set bit of `bits` at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let rest = bits.checked_shr(from)?;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// The bits of a set of values from 0 to 63.
fn bits(values: &[i32]) -> u64 {
    values
        .iter()
        .filter(|v| (0..64).contains(*v))
        .fold(0, |b, v| b | 1 << v)
}

/// Bits 1 to `last`.
fn month_mask(last: u32) -> u32 {
    ((1u64 << (last + 1)) - 2) as u32
}

/// The days of month `m` in a leap year (the most it ever has).
fn days_in_month(m: u32) -> u32 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in(y: i32, m: u32) -> u32 {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if m == 2 && !leap {
        28
    } else {
        days_in_month(m)
    }
}

/// The instant a wall-clock time fires at: when it first happens; in a gap,
/// when the clocks skip it (the first wall time after the gap that exists).
fn instant(wall: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let earliest = |w: NaiveDateTime| match tz.from_local_datetime(&w) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc))),
        LocalResult::None => None,
    };
    if let Some(t) = earliest(wall) {
        return Some(t);
    }
    // A gap is an hour or two (Samoa skipped a day in 2011): find its end
    // to the second by doubling the step, then halving the distance.
    let end = first_after(wall, |w| Some(earliest(w).is_some()))?;
    earliest(end)
}

/// The first wall time after `wall` (a match whose instant is not after
/// `t`) whose instant is after `t`.
fn first_wall_after(wall: NaiveDateTime, t: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    first_after(wall, |w| instant(w, tz).map(|i| i > t))
}

/// The first wall time after `from`, to the second, where `is` holds, when
/// it holds from there on for a while (`is` is false at `from`): double the
/// step until it holds, then halve the distance. Within 60 days.
fn first_after(
    from: NaiveDateTime,
    is: impl Fn(NaiveDateTime) -> Option<bool>,
) -> Option<NaiveDateTime> {
    let mut lo = from;
    let mut step = 1;
    let mut hi = loop {
        let probe = lo.checked_add_signed(Duration::seconds(step))?;
        if is(probe)? {
            break probe;
        }
        lo = probe;
        step *= 2;
        if step > 60 * 86_400 {
            return None;
        }
    };
    while (hi - lo).num_seconds() > 1 {
        let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
        if is(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Whether a token is a time zone name (`Some(true)`), looks like one
/// (`Some(false)`: `Europe/Surprise`), or neither.
fn zone(tok: &str) -> Option<bool> {
    if tok.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
        return None;
    }
    if chrono_tz::TZ_VARIANTS
        .iter()
        .any(|z| z.name().eq_ignore_ascii_case(tok))
    {
        return Some(true);
    }
    let (area, _) = tok.split_once('/')?;
    chrono_tz::TZ_VARIANTS
        .iter()
        .any(|z| {
            z.name()
                .split_once('/')
                .is_some_and(|(a, _)| a.eq_ignore_ascii_case(area))
        })
        .then_some(false)
}

/// Which part a token is, by its look, as oncalendar tells them apart: a
/// time has a `:`; a date starts with a digit or `*` and has a `-` or `~`;
/// anything else is a weekday.
fn kind(tok: &str, at: usize) -> Result<Kind, Error> {
    let span = at..at + tok.len();
    if tok.contains(':') {
        return Ok(Kind::Time);
    }
    if tok.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
        if tok.contains(['-', '~']) {
            return Ok(Kind::Date);
        }
        let help = if tok.len() == 4 && tok.bytes().all(|b| b.is_ascii_digit()) {
            format!("a date is `YYYY-MM-DD` or `MM-DD`: `{tok}-*-*` is every day of {tok}")
        } else {
            "a date is `YYYY-MM-DD` or `MM-DD` (`*-*-*` every day), a time `HH:MM` or `HH:MM:SS`"
                .to_string()
        };
        return Err(err(
            format!("`{tok}` is neither a date nor a time"),
            help,
            span,
        ));
    }
    if let Some(word) = tok.strip_prefix('@') {
        let help = match KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)) {
            Some((k, _)) => format!("write `{k}`, without the `@`"),
            None => SYNTAX.to_string(),
        };
        return Err(err(
            format!("the cron macro `{tok}` is not an OnCalendar expression"),
            help,
            span,
        ));
    }
    Ok(Kind::Weekday)
}

/// The year, month and day of a date token, each with where it starts: it
/// splits at each `-`, and before each `~` (oncalendar reads `~` as `-~`).
fn date_pieces(tok: &str, at: usize) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in tok.char_indices() {
        if c == '-' || c == '~' {
            pieces.push((at + start, &tok[start..i]));
            start = if c == '-' { i + 1 } else { i };
        }
    }
    pieces.push((at + start, &tok[start..]));
    pieces
}

/// The values of one component (`text`, not empty, starts at byte `at`);
/// days counted from the end of the month are negative (`~1` is -1).
fn component(part: Part, text: &str, at: usize) -> Result<Vec<i32>, Error> {
    let mut out = Vec::new();
    match text.strip_prefix('~') {
        Some(rest) if part == Part::Day => {
            let span = at..at + text.len();
            if rest.is_empty() {
                return Err(err(
                    "`~` in the day part has no count after it".into(),
                    "`~1` is the last day of the month, `~2` the day before",
                    span,
                ));
            }
            if rest.bytes().all(|b| b.is_ascii_digit()) {
                // A single value: say `~29`, not `29`, when it is too far.
                let v = value(part, rest, at + 1..at + text.len())?;
                if v > 28 {
                    return Err(err(
                        format!("`{text}` in the day part counts back more than 28 days"),
                        "a single `~` value counts back 1 to 28 days: `~1` is the last day of the month",
                        span,
                    ));
                }
            }
            values(part, rest, at + 1, true, &mut out)?;
        }
        _ => values(part, text, at, false, &mut out)?,
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Adds the values of `s` (at byte `at`) to `out`, as oncalendar reads a
/// component: `*`, then a list, then a step, then a range, then a value.
/// `back`: the days count from the end of the month.
fn values(part: Part, s: &str, at: usize, back: bool, out: &mut Vec<i32>) -> Result<(), Error> {
    let span = at..at + s.len();
    let (min, max) = part.range();
    let name = part.name();
    if part != Part::Weekday && s == "*" {
        out.extend(min..=max);
        return Ok(());
    }
    if s.contains('*') {
        return Err(star(part, s, span));
    }
    if part == Part::Weekday {
        let t = s.trim_end_matches(',');
        if t.is_empty() {
            return Err(err(
                format!("`{s}` in the weekday part has no day"),
                WEEKDAY_NAMES,
                span,
            ));
        }
        if t.len() < s.len() {
            return values(part, t, at, back, out);
        }
    }
    if s.contains(',') {
        let mut offset = at;
        for term in s.split(',') {
            if term.is_empty() {
                let example = if part == Part::Weekday {
                    "`Mon,Fri`"
                } else {
                    "`1,15`"
                };
                return Err(err(
                    format!("the {name} part `{s}` has an empty list item"),
                    format!("separate values with single commas: {example}"),
                    span,
                ));
            }
            values(part, term, offset, back, out)?;
            offset += term.len() + 1;
        }
        return Ok(());
    }
    if let Some((term, step)) = s.split_once('/') {
        if part == Part::Weekday {
            return Err(err(
                format!("`{s}` in the weekday part: weekdays take no step"),
                "list the days instead: `Mon,Wed,Fri`",
                span,
            ));
        }
        if term.is_empty() {
            return Err(err(
                format!("`{s}` in the {name} part has no start before `/`"),
                format!("write where the step starts: `{min}{s}`"),
                span,
            ));
        }
        let n = step_of(part, s, step, span)?;
        let mut items = Vec::new();
        values(part, term, at, back, &mut items)?;
        items.sort_unstable();
        items.dedup();
        if let [first] = items[..] {
            // From a single value to the end (from a day counted back, to
            // the last day), as oncalendar does, for `a..a/n` too.
            let end = if back { 0 } else { max };
            out.extend((first..=end).step_by(n));
        } else {
            out.extend(items.into_iter().step_by(n));
        }
        return Ok(());
    }
    if let Some((a, b, b_at)) = split_range(part, s) {
        if a.is_empty() || b.is_empty() {
            let example = if part == Part::Weekday {
                "`Mon..Fri`".to_string()
            } else {
                format!("`{min}..{max}`")
            };
            return Err(err(
                format!("the range `{s}` in the {name} part is missing an end"),
                format!("write both ends: {example}"),
                span,
            ));
        }
        if b.contains("..") || (part == Part::Weekday && b.contains('-')) {
            return Err(err(
                format!("`{s}` in the {name} part has more than one range mark"),
                "a range is `a..b`; for several, write a list: `1..3,7..9`",
                span,
            ));
        }
        let lo = value(part, a, at..at + a.len())?;
        let hi = value(part, b, at + b_at..at + s.len())?;
        if hi < lo {
            let help = if part == Part::Weekday {
                let from = if lo == 6 {
                    a.to_string()
                } else {
                    format!("{a}..Sun")
                };
                let to = if hi == 0 {
                    b.to_string()
                } else {
                    format!("Mon..{b}")
                };
                format!("a range runs from Monday to Sunday and does not wrap around: write `{from},{to}`")
            } else {
                format!("write the smaller value first, `{b}..{a}`; a range does not wrap around")
            };
            return Err(err(
                format!("`{s}` in the {name} part runs backwards"),
                help,
                span,
            ));
        }
        if back {
            out.extend(-hi..=-lo);
        } else {
            out.extend(lo..=hi);
        }
        return Ok(());
    }
    let v = value(part, s, span.clone())?;
    if back && v > 28 {
        return Err(err(
            format!("`~{s}` in the day part counts back more than 28 days"),
            "a single `~` value counts back 1 to 28 days: `~1` is the last day of the month",
            span,
        ));
    }
    out.push(if back { -v } else { v });
    Ok(())
}

/// A range `a..b` (or, in the weekday part, `a-b`): its ends, and where the
/// second starts in `s`.
fn split_range(part: Part, s: &str) -> Option<(&str, &str, usize)> {
    let dots = s.find("..").map(|i| (i, 2));
    let dash = if part == Part::Weekday {
        s.find('-').map(|i| (i, 1))
    } else {
        None
    };
    let (i, len) = match (dots, dash) {
        (Some(d), Some(h)) => d.min(h),
        (d, h) => d.or(h)?,
    };
    Some((&s[..i], &s[i + len..], i + len))
}

/// The step after `/` in `s`: a whole number of at least 1.
fn step_of(part: Part, s: &str, step: &str, span: Range<usize>) -> Result<usize, Error> {
    let name = part.name();
    let (min, _) = part.range();
    let help =
        format!("a step is a whole number of at least 1: `{min}/15` is every 15th from {min}");
    if step.is_empty() {
        return Err(err(
            format!("`{s}` in the {name} part has no step after `/`"),
            help,
            span,
        ));
    }
    if !step.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            format!("the step `{step}` of `{s}` in the {name} part is not a whole number"),
            help,
            span,
        ));
    }
    match step.parse::<u64>() {
        Ok(0) => Err(err(
            format!("`{s}` in the {name} part steps by 0"),
            help,
            span,
        )),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(_) => Ok(usize::MAX),
    }
}

/// `*` anywhere but alone.
fn star(part: Part, s: &str, span: Range<usize>) -> Error {
    let name = part.name();
    let (min, _) = part.range();
    if part == Part::Weekday {
        return err(
            format!("`{s}` in the weekday part: weekdays are names, not `*`"),
            "leave the weekday part out to fire on every day, or write names such as `Mon..Fri`",
            span,
        );
    }
    if let Some(n) = s
        .strip_prefix("*/")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return err(
            format!("`{s}` in the {name} part: `*` takes no step"),
            format!("write `{min}/{n}`: every {n}th {name} from {min}"),
            span,
        );
    }
    err(
        format!("`{s}` in the {name} part: `*` stands alone, not in a list, range or step"),
        format!("write `*` for every {name}, or values, ranges `a..b` and steps `a/n` without `*`"),
        span,
    )
}

/// One value of a component: a weekday name, or digits.
fn value(part: Part, text: &str, span: Range<usize>) -> Result<i32, Error> {
    let (min, max) = part.range();
    let name = part.name();
    if part == Part::Weekday {
        if let Some(i) = WEEKDAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(text) || d[..3].eq_ignore_ascii_case(text))
        {
            return Ok(i as i32);
        }
        if let Some((k, same)) = KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(text)) {
            return Err(err(
                format!("the keyword `{k}` stands alone"),
                format!(
                    "`{k}` is `{same}`: write the parts instead, with the weekday or time you want"
                ),
                span,
            ));
        }
        let (message, help) = if text.bytes().all(|b| b.is_ascii_digit()) {
            (
                format!("`{text}` in the weekday part is a number: weekdays are names"),
                WEEKDAY_NAMES.to_string(),
            )
        } else if text.contains('~') {
            (
                format!("`{text}` is not a day of the week"),
                format!("{TILDE}; weekdays are names such as `Mon`"),
            )
        } else {
            (
                format!("`{text}` is not a day of the week"),
                WEEKDAY_NAMES.to_string(),
            )
        };
        return Err(err(message, help, span));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n = text.parse::<u64>().unwrap_or(u64::MAX);
        let n = match n {
            0..=69 if part == Part::Year => n + 2000,
            70..=99 if part == Part::Year => n + 1900,
            _ => n,
        };
        if n < min as u64 || n > max as u64 {
            let help = match part {
                Part::Year => "the year part takes 1970-2199; two digits are read as 1970-1999 (70-99) or 2000-2069 (00-69)".to_string(),
                Part::Hour if n == 24 => "the hour part takes 0-23: midnight is `00:00`".to_string(),
                Part::Day => "the day part takes 1-31; `~1` is the last day of the month".to_string(),
                _ => format!("the {name} part takes {min}-{max}"),
            };
            return Err(err(
                format!("{name} `{text}` is out of range {min}-{max}"),
                help,
                span,
            ));
        }
        return Ok(n as i32);
    }
    let (message, help) = if text.contains('~') {
        (
            format!("`{text}` in the {name} part is not a number"),
            TILDE.to_string(),
        )
    } else if text.contains('.') {
        let help = if part == Part::Second {
            "fractions of a second are not read: write whole seconds".to_string()
        } else {
            part.takes()
        };
        (format!("{name} `{text}` is not a whole number"), help)
    } else if text.contains('-') {
        (
            format!("`{text}` in the {name} part: a range is written `a..b`"),
            format!("write `{}`", text.replacen('-', "..", 1)),
        )
    } else {
        (
            format!("`{text}` in the {name} part is not a number"),
            part.takes(),
        )
    };
    Err(err(message, help, span))
}
