//! Time as tenet writes and reads it: one civil-date conversion for every
//! crate, and no I/O.
//!
//! An instant is a [`Timestamp`]: seconds and nanoseconds since the Unix
//! epoch, UTC. It is written as RFC 3339 in UTC with milliseconds
//! (`2026-12-04T10:00:00.123Z`, which sorts as text in time order) or as a
//! date (`2026-12-04`), and read back from either form: an RFC 3339 time
//! with any offset, or a date, meaning its midnight UTC.
//!
//! Nothing below the edges reads the wall clock: a decision's `now`, a
//! bundle's `created_at` and a report's time are arguments. [`system_now`]
//! is the one place the wall clock is read; the binary, the server, the
//! pre-commit hook and the GitHub client call it and pass the time down.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant: whole seconds since 1970-01-01T00:00:00Z (negative before)
/// and the nanoseconds past them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

const NANOS_PER_SEC: u32 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// The wall clock, now. The only clock read in tenet: the edges call it
/// once per piece of work and pass the time down.
pub fn system_now() -> Timestamp {
    Timestamp::from_system(SystemTime::now())
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// `secs` since the epoch plus `nanos` (whole seconds in `nanos` carry
    /// over).
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs.saturating_add(i64::from(nanos / NANOS_PER_SEC)),
            nanos: nanos % NANOS_PER_SEC,
        }
    }

    /// Milliseconds since the epoch (the modules' `Ms`).
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp::from_unix(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )
    }

    /// Milliseconds since the epoch (rounded down).
    pub fn millis(self) -> i64 {
        self.secs
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanos / 1_000_000))
    }

    /// A [`SystemTime`], as an instant (saturating far outside ±292 billion
    /// years).
    pub fn from_system(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::from_unix(
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => Timestamp::from_unix(-secs, 0),
                    n => Timestamp::from_unix(-secs - 1, NANOS_PER_SEC - n),
                }
            }
        }
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_secs(self) -> i64 {
        self.secs
    }

    /// The nanoseconds past [`Self::unix_secs`].
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// The UTC calendar date: (year, month 1–12, day 1–31).
    pub fn civil_date(self) -> (i64, u32, u32) {
        civil_from_days(self.secs.div_euclid(SECS_PER_DAY))
    }

    /// `YYYY-MM-DD`, UTC.
    pub fn date(self) -> String {
        let (y, m, d) = self.civil_date();
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// RFC 3339 in UTC with milliseconds (rounded down):
    /// `2026-12-04T10:00:00.123Z`.
    pub fn rfc3339(self) -> String {
        let s = self.secs.rem_euclid(SECS_PER_DAY);
        format!(
            "{}T{:02}:{:02}:{:02}.{:03}Z",
            self.date(),
            s / 3600,
            (s / 60) % 60,
            s % 60,
            self.nanos / 1_000_000
        )
    }

    /// Reads an RFC 3339 time (`2026-12-04T10:00:00Z`, `...T11:00:00.5+01:00`)
    /// or a date (`2026-12-04`, its midnight UTC).
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        parse(s).ok_or_else(|| {
            format!("`{s}` is not a date `YYYY-MM-DD` or an RFC 3339 time such as `2026-11-25T10:00:00Z`")
        })
    }
}

/// RFC 3339, as [`Timestamp::rfc3339`].
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number since 1970-01-01:
/// (year, month, day); the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `n` ASCII digits at the front of `s`, as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, s.get(n..)?))
}

fn parse(s: &str) -> Option<Timestamp> {
    let (y, rest) = digits(s, 4)?;
    let (m, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let (d, rest) = digits(rest.strip_prefix('-')?, 2)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return None;
    }
    let day = days_from_civil(i64::from(y), m, d);
    if rest.is_empty() {
        return Some(Timestamp::from_unix(day * SECS_PER_DAY, 0));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hh, rest) = digits(rest, 2)?;
    let (mm, rest) = digits(rest.strip_prefix(':')?, 2)?;
    let (ss, mut rest) = digits(rest.strip_prefix(':')?, 2)?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let kept = frac.get(..n.min(9))?;
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        rest = frac.get(n..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let (oh, r) = digits(rest.get(1..)?, 2)?;
            let (om, r) = digits(r.strip_prefix(':')?, 2)?;
            if !r.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * i64::from(oh * 3600 + om * 60)
        }
    };
    let secs = day * SECS_PER_DAY + i64::from(hh * 3600 + mm * 60 + ss) - offset;
    Some(Timestamp::from_unix(secs, nanos))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn the_epoch() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(Timestamp::UNIX_EPOCH.rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::UNIX_EPOCH.date(), "1970-01-01");
        assert_eq!(ts("1970-01-01"), Timestamp::UNIX_EPOCH);
        assert_eq!(Timestamp::from_system(UNIX_EPOCH), Timestamp::UNIX_EPOCH);
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        // 2000 is a leap year (divisible by 400), 2100 is not (by 100).
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
            1
        );
        assert_eq!(ts("2000-02-29").date(), "2000-02-29");
        assert!(Timestamp::parse("2100-02-29").is_err());
        assert!(Timestamp::parse("2026-02-29").is_err());
        assert_eq!(ts("2024-02-29").date(), "2024-02-29");
        // Every day of four centuries round-trips.
        let (from, to) = (days_from_civil(1900, 1, 1), days_from_civil(2300, 1, 1));
        for day in from..to {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
        assert_eq!(to - from, 146_097, "400 years are 146,097 days");
    }

    #[test]
    fn known_instants() {
        assert_eq!(days_from_civil(2026, 12, 4), 20_791);
        let t = Timestamp::from_unix(20_791 * 86_400 + 36_000, 123_456_789);
        assert_eq!(t.rfc3339(), "2026-12-04T10:00:00.123Z");
        assert_eq!(t.to_string(), "2026-12-04T10:00:00.123Z");
        assert_eq!(t.date(), "2026-12-04");
        assert_eq!(ts("2026-12-04T10:00:00.123456789Z"), t);
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            Timestamp::from_unix(-1, 500_000_000).rfc3339(),
            "1969-12-31T23:59:59.500Z"
        );
    }

    #[test]
    fn milliseconds_round_down_and_nanoseconds_carry() {
        let t = Timestamp::from_unix(0, 999_999_999);
        assert_eq!(t.rfc3339(), "1970-01-01T00:00:00.999Z");
        assert_eq!(
            Timestamp::from_unix(0, 1_000_000_001),
            Timestamp::from_unix(1, 1)
        );
        let t = Timestamp::from_system(UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(t.rfc3339(), "1970-01-01T00:00:01.500Z");
        let t = Timestamp::from_system(UNIX_EPOCH - Duration::from_millis(1_500));
        assert_eq!(t.rfc3339(), "1969-12-31T23:59:58.500Z");
    }

    #[test]
    fn written_text_reads_back_and_sorts_in_time_order() {
        let times: Vec<Timestamp> = [0, 1, 59, 86_399, 951_782_400, 4_107_542_400, 1_796_378_400]
            .iter()
            .flat_map(|&s| [0, 7_000_000, 999_000_000].map(|n| Timestamp::from_unix(s, n)))
            .collect();
        for t in &times {
            assert_eq!(ts(&t.rfc3339()), *t, "{t}");
        }
        let mut by_text: Vec<String> = times.iter().map(|t| t.rfc3339()).collect();
        by_text.sort();
        let mut by_time = times.clone();
        by_time.sort();
        let by_time: Vec<String> = by_time.iter().map(|t| t.rfc3339()).collect();
        assert_eq!(by_text, by_time);
    }

    #[test]
    fn offsets_and_bad_text() {
        assert_eq!(ts("2026-11-25T11:00:00+01:00"), ts("2026-11-25T10:00:00Z"));
        assert_eq!(ts("2026-11-25T00:30:00-01:00"), ts("2026-11-25T01:30:00z"));
        assert_eq!(ts("2026-11-25 10:00:00Z"), ts("2026-11-25T10:00:00Z"));
        for bad in [
            "",
            "notadate",
            "2026-13-01",
            "2026-02-30",
            "2026-1-5",
            "2026-11-25T25:00:00Z",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+0100",
            "2026-11-25X",
        ] {
            let e = Timestamp::parse(bad).unwrap_err();
            assert!(e.contains("is not a date `YYYY-MM-DD`"), "{bad}: {e}");
        }
    }

    #[test]
    fn reads_what_the_dsl_reads() {
        // A decision's `now` is read by the language (chrono); both
        // readers must agree on every text either accepts here.
        for text in [
            "2026-11-25",
            "2000-02-29",
            "2026-11-25T10:00:00Z",
            "2026-11-25T11:00:00+01:00",
            "2026-11-25T10:00:00.25-03:30",
            "1969-07-20T20:17:40Z",
            "2026-02-30",
            "2026-13-01",
            "2026-11-25T25:00:00Z",
            "2026-1-5",
            "2026-11-25T10:00:00",
        ] {
            let ours = Timestamp::parse(text).ok();
            let dsl = tenet_dsl::window::parse_time(text)
                .ok()
                .map(|t| Timestamp::from_unix(t.timestamp(), t.timestamp_subsec_nanos()));
            assert_eq!(ours, dsl, "{text}");
        }
    }
}
