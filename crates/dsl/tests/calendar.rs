//! OnCalendar expressions (`tenet_dsl::calendar`) as Healthchecks.io's
//! oncalendar 1.1 reads them: the vectors of its tests and of runs of the
//! pinned release, in UTC; where tenet's one DST rule gives another time,
//! the case says what oncalendar gives and why tenet differs.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use tenet_dsl::calendar::Calendar;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The first `n` fire times after `from`, in UTC to the second; `STOP`
/// when there is no next one.
fn fires(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
    let cal = Calendar::parse(expr).unwrap_or_else(|e| panic!("`{expr}`: {e}"));
    let tz: Tz = tz.parse().unwrap();
    let mut t = at(from);
    let mut out = Vec::new();
    for _ in 0..n {
        match cal.next_after(t, tz) {
            Some(next) => {
                assert!(next > t, "`{expr}`: {next} after {t}");
                out.push(next.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                t = next;
            }
            None => {
                out.push("STOP".into());
                break;
            }
        }
    }
    out
}

/// oncalendar's naive start of most vectors, UTC here.
const N: &str = "2020-01-01T00:00:00Z";

/// Checks a table of cases, one a line: `expression | time zone | from |
/// the next fire times` (`STOP`: there is none). A line starting with `#`
/// is a comment.
fn check(table: &str) {
    for line in table.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let [expr, tz, from, want] = cols[..] else {
            panic!("not a case: {line}")
        };
        let want: Vec<&str> = want.split_whitespace().collect();
        assert_eq!(
            fires(expr, tz, from, want.len()),
            want,
            "`{expr}` in {tz} from {from}"
        );
    }
}

#[test]
fn reads_the_vectors_of_oncalendar() {
    // oncalendar's tests (o) and runs (p), from a naive start, UTC here.
    check(
        "
        # o1 .. o7
        *:*:0/5           | UTC | 2020-01-01T00:00:00Z | 2020-01-01T00:00:05Z 2020-01-01T00:00:10Z
        *:*               | UTC | 2020-01-01T00:00:00Z | 2020-01-01T00:01:00Z 2020-01-01T00:02:00Z
        Mon 2-29          | UTC | 2020-01-01T00:00:00Z | 2044-02-29T00:00:00Z 2072-02-29T00:00:00Z
        *~1               | UTC | 2020-01-01T00:00:00Z | 2020-01-31T00:00:00Z 2020-02-29T00:00:00Z 2020-03-31T00:00:00Z
        Sun *~7/1         | UTC | 2020-01-01T00:00:00Z | 2020-01-26T00:00:00Z 2020-02-23T00:00:00Z 2020-03-29T00:00:00Z
        2019-01-01        | UTC | 2020-01-01T00:00:00Z | STOP
        00:00             | UTC | 2020-01-01T01:00:00Z | 2020-01-02T00:00:00Z
        # p1 .. p14 (p11, `2-30`, is an error here: see
        # expressions_that_never_fire_are_errors)
        weekly            | UTC | 2020-01-01T00:00:00Z | 2020-01-06T00:00:00Z 2020-01-13T00:00:00Z
        quarterly         | UTC | 2020-01-01T00:00:00Z | 2020-04-01T00:00:00Z 2020-07-01T00:00:00Z 2020-10-01T00:00:00Z
        semiannually      | UTC | 2020-01-01T00:00:00Z | 2020-07-01T00:00:00Z 2021-01-01T00:00:00Z
        Mon..Fri 09:00    | UTC | 2020-01-01T00:00:00Z | 2020-01-01T09:00:00Z 2020-01-02T09:00:00Z 2020-01-03T09:00:00Z 2020-01-06T09:00:00Z
        Mon-Wed,Fri 1:2:3 | UTC | 2020-01-01T00:00:00Z | 2020-01-01T01:02:03Z 2020-01-03T01:02:03Z 2020-01-06T01:02:03Z
        *-2~3             | UTC | 2020-01-01T00:00:00Z | 2020-02-27T00:00:00Z 2021-02-26T00:00:00Z
        *-*~3/2           | UTC | 2020-01-01T00:00:00Z | 2020-01-29T00:00:00Z 2020-01-31T00:00:00Z 2020-02-27T00:00:00Z
        Mon *-*~1         | UTC | 2020-01-01T00:00:00Z | 2020-08-31T00:00:00Z 2020-11-30T00:00:00Z 2021-05-31T00:00:00Z
        2021..2022-1-1    | UTC | 2020-01-01T00:00:00Z | 2021-01-01T00:00:00Z 2022-01-01T00:00:00Z STOP
        *-2-29/3          | UTC | 2020-01-01T00:00:00Z | 2020-02-29T00:00:00Z 2024-02-29T00:00:00Z
        0..23/6:00        | UTC | 2020-01-01T00:00:00Z | 2020-01-01T06:00:00Z 2020-01-01T12:00:00Z 2020-01-01T18:00:00Z
        *:0/15:30         | UTC | 2020-01-01T00:00:00Z | 2020-01-01T00:00:30Z 2020-01-01T00:15:30Z
        2199-12-31        | UTC | 2020-01-01T00:00:00Z | 2199-12-31T00:00:00Z STOP
        ",
    );
}

#[test]
fn reads_the_forms_oncalendar_reads() {
    // Each checked against oncalendar 1.1, from 2020-01-01T00:00Z.
    check(
        "
        # Weekday names in any case, short or full; lists, `..` and `-`
        # ranges, mixed; a trailing comma.
        MON,wednesday,FRI 12:00     | UTC | 2020-01-01T00:00:00Z | 2020-01-01T12:00:00Z 2020-01-03T12:00:00Z 2020-01-06T12:00:00Z 2020-01-08T12:00:00Z
        Sat, 10:00                  | UTC | 2020-01-01T00:00:00Z | 2020-01-04T10:00:00Z 2020-01-11T10:00:00Z
        mon..WED,Sun 8:00           | UTC | 2020-01-01T00:00:00Z | 2020-01-01T08:00:00Z 2020-01-05T08:00:00Z 2020-01-06T08:00:00Z 2020-01-07T08:00:00Z
        Thursday-saturday 18:30     | UTC | 2020-01-01T00:00:00Z | 2020-01-02T18:30:00Z 2020-01-03T18:30:00Z 2020-01-04T18:30:00Z 2020-01-09T18:30:00Z
        # Two-digit years, leading zeros.
        21-12-25                    | UTC | 2020-01-01T00:00:00Z | 2021-12-25T00:00:00Z STOP
        69-12-31 23:59:59           | UTC | 2020-01-01T00:00:00Z | 2069-12-31T23:59:59Z STOP
        0030-01-01                  | UTC | 2020-01-01T00:00:00Z | 2030-01-01T00:00:00Z STOP
        # Lists, ranges and steps in each component.
        *-*-01,15 06:00             | UTC | 2020-01-01T00:00:00Z | 2020-01-01T06:00:00Z 2020-01-15T06:00:00Z 2020-02-01T06:00:00Z
        *-1..3-1                    | UTC | 2020-01-01T00:00:00Z | 2020-02-01T00:00:00Z 2020-03-01T00:00:00Z 2021-01-01T00:00:00Z
        *-*-1/10                    | UTC | 2020-01-01T00:00:00Z | 2020-01-11T00:00:00Z 2020-01-21T00:00:00Z 2020-01-31T00:00:00Z 2020-02-01T00:00:00Z
        2030/5-1-1                  | UTC | 2020-01-01T00:00:00Z | 2030-01-01T00:00:00Z 2035-01-01T00:00:00Z 2040-01-01T00:00:00Z
        2020..2199/50-1-1           | UTC | 2020-01-01T00:00:00Z | 2070-01-01T00:00:00Z 2120-01-01T00:00:00Z 2170-01-01T00:00:00Z STOP
        8..17:0/20                  | UTC | 2020-01-01T00:00:00Z | 2020-01-01T08:00:00Z 2020-01-01T08:20:00Z 2020-01-01T08:40:00Z 2020-01-01T09:00:00Z
        1..5/2:00                   | UTC | 2020-01-01T00:00:00Z | 2020-01-01T01:00:00Z 2020-01-01T03:00:00Z 2020-01-01T05:00:00Z 2020-01-02T01:00:00Z
        9,17:00                     | UTC | 2020-01-01T00:00:00Z | 2020-01-01T09:00:00Z 2020-01-01T17:00:00Z 2020-01-02T09:00:00Z
        *-*-* 0,12:0:0              | UTC | 2020-01-01T00:00:00Z | 2020-01-01T12:00:00Z 2020-01-02T00:00:00Z
        *:*:*                       | UTC | 2020-01-01T00:00:00Z | 2020-01-01T00:00:01Z 2020-01-01T00:00:02Z
        23:59:59                    | UTC | 2020-01-01T00:00:00Z | 2020-01-01T23:59:59Z 2020-01-02T23:59:59Z
        2024-*-* 00:00:30           | UTC | 2020-01-01T00:00:00Z | 2024-01-01T00:00:30Z 2024-01-02T00:00:30Z
        *-*-31                      | UTC | 2020-01-01T00:00:00Z | 2020-01-31T00:00:00Z 2020-03-31T00:00:00Z 2020-05-31T00:00:00Z
        Tue 2020..2030-*-1..7 3:4:5 | UTC | 2020-01-01T00:00:00Z | 2020-01-07T03:04:05Z 2020-02-04T03:04:05Z 2020-03-03T03:04:05Z
        # The weekday and the date must both match.
        Mon..Fri 2-29               | UTC | 2020-01-01T00:00:00Z | 2024-02-29T00:00:00Z 2028-02-29T00:00:00Z 2036-02-29T00:00:00Z
        Sun 12-25                   | UTC | 2020-01-01T00:00:00Z | 2022-12-25T00:00:00Z 2033-12-25T00:00:00Z
        Fri *-*~7/1 17:00           | UTC | 2020-01-01T00:00:00Z | 2020-01-31T17:00:00Z 2020-02-28T17:00:00Z 2020-03-27T17:00:00Z
        # `~`: ranges, lists and steps count back from the last day.
        *-*~1..3                    | UTC | 2020-01-01T00:00:00Z | 2020-01-29T00:00:00Z 2020-01-30T00:00:00Z 2020-01-31T00:00:00Z 2020-02-27T00:00:00Z
        *~1,15                      | UTC | 2020-01-01T00:00:00Z | 2020-01-17T00:00:00Z 2020-01-31T00:00:00Z 2020-02-15T00:00:00Z 2020-02-29T00:00:00Z
        *-02~1..28/7                | UTC | 2020-01-01T00:00:00Z | 2020-02-02T00:00:00Z 2020-02-09T00:00:00Z 2020-02-16T00:00:00Z 2020-02-23T00:00:00Z
        # oncalendar's readings, kept: a one-value range steps like the
        # value; `~*` is every day.
        *-*-5..5/10                 | UTC | 2020-01-01T00:00:00Z | 2020-01-05T00:00:00Z 2020-01-15T00:00:00Z 2020-01-25T00:00:00Z 2020-02-05T00:00:00Z
        *-*~*                       | UTC | 2020-01-01T00:00:00Z | 2020-01-02T00:00:00Z 2020-01-03T00:00:00Z
        # Keywords, in any case.
        DAILY                       | UTC | 2020-01-01T00:00:00Z | 2020-01-02T00:00:00Z 2020-01-03T00:00:00Z
        Hourly                      | UTC | 2020-01-01T00:00:00Z | 2020-01-01T01:00:00Z 2020-01-01T02:00:00Z
        minutely                    | UTC | 2020-01-01T00:00:00Z | 2020-01-01T00:01:00Z 2020-01-01T00:02:00Z
        monthly                     | UTC | 2020-01-01T00:00:00Z | 2020-02-01T00:00:00Z 2020-03-01T00:00:00Z
        yearly                      | UTC | 2020-01-01T00:00:00Z | 2021-01-01T00:00:00Z 2022-01-01T00:00:00Z
        annually                    | UTC | 2020-01-01T00:00:00Z | 2021-01-01T00:00:00Z 2022-01-01T00:00:00Z
        ",
    );
    // Spaces around the expression.
    assert_eq!(
        fires("  12:00 \n", "UTC", N, 2),
        ["2020-01-01T12:00:00Z", "2020-01-02T12:00:00Z"]
    );
}

#[test]
fn fire_times_in_a_time_zone() {
    // Riga in 2020/2021: the clocks skip 03:00-03:59 on the last Sunday of
    // March (02:59:59+02:00 is followed by 04:00+03:00, at 01:00Z) and
    // repeat 03:00-03:59 on the last Sunday of October (at 01:00Z, 04:00+03
    // becomes 03:00+02). New York in 2021: 02:00-02:59 is skipped on 14
    // March (at 07:00Z), 01:00-01:59 repeated on 7 November (at 06:00Z).
    check(
        "
        # o8, from 2020-01-01T00:00+02:00. oncalendar skips 2020-03-29, where
        # 03:30 falls in the gap, and gives 04-29T00:30Z third; here a
        # skipped time fires when the clocks skip it, 04:00+03:00 (01:00Z).
        *-*-29 3:30 | Europe/Riga | 2019-12-31T22:00:00Z | 2020-01-29T01:30:00Z 2020-02-29T01:30:00Z 2020-03-29T01:00:00Z 2020-04-29T00:30:00Z
        # o9, from 2020-10-01T00:00+03:00: 03:30 on 10-25 fires once, in its
        # first pass (+03:00).
        *-*-25 3:30 | Europe/Riga | 2020-09-30T21:00:00Z | 2020-10-25T00:30:00Z 2020-11-25T01:30:00Z 2020-12-25T01:30:00Z
        # o10, o11: `12:34 Europe/Riga` from UTC and from Berlin. Here the
        # zone is the schedule's, and the start is an instant.
        12:34       | Europe/Riga | 2020-01-01T00:00:00Z | 2020-01-01T10:34:00Z 2020-01-02T10:34:00Z
        12:34       | Europe/Riga | 2019-12-31T23:00:00Z | 2020-01-01T10:34:00Z 2020-01-02T10:34:00Z
        # p15, from 2021-10-31T01:30+03:00: the repeated 03:00 and 03:30
        # fire once, in the first pass; 04:00+02:00 comes next.
        *:0/30      | Europe/Riga | 2021-10-30T22:30:00Z | 2021-10-30T23:00:00Z 2021-10-30T23:30:00Z 2021-10-31T00:00:00Z 2021-10-31T00:30:00Z 2021-10-31T02:00:00Z 2021-10-31T02:30:00Z
        # p16, from 2021-03-28T01:30+02:00. oncalendar skips 03:00 and 03:30
        # and fires 04:00+03:00; here 03:00 and 03:30 fire when the clocks
        # skip them, at 04:00+03:00 too, and once: the same fire times.
        *:0/30      | Europe/Riga | 2021-03-27T23:30:00Z | 2021-03-28T00:00:00Z 2021-03-28T00:30:00Z 2021-03-28T01:00:00Z 2021-03-28T01:30:00Z
        # p17, from 2021-03-28T01:30+02:00. oncalendar skips the day (03:30
        # does not exist on the 28th) and gives 2021-03-29T00:30Z; here
        # 03:30 fires when the clocks skip it, 04:00+03:00 (01:00Z), the rule
        # of tenet's cron.
        03:30       | Europe/Riga | 2021-03-27T23:30:00Z | 2021-03-28T01:00:00Z 2021-03-29T00:30:00Z
        # p18, from 03:10+02:00 (the second pass, 01:10Z). oncalendar drops
        # the fold and answers 03:30+03:00 (00:30Z), before the start; here
        # 03:30 has happened (in the first pass), so the next fire time is
        # 04:00+02:00.
        *:0/30      | Europe/Riga | 2021-10-31T01:10:00Z | 2021-10-31T02:00:00Z 2021-10-31T02:30:00Z
        # p19, `*:0/30 Europe/Riga` from 00:10Z (03:10+03:00, the first
        # pass): the second pass of 03:00 and 03:30 does not fire.
        *:0/30      | Europe/Riga | 2021-10-31T00:10:00Z | 2021-10-31T00:30:00Z 2021-10-31T02:00:00Z
        # p20, `*-*-* 02:30 America/New_York` from 2021-03-13T00:00Z.
        # oncalendar skips 03-14 (02:30 falls in the gap): 03-13T07:30Z, then
        # 03-15T06:30Z; here 02:30 on 03-14 fires when the clocks skip it,
        # 03:00 EDT (07:00Z).
        *-*-* 02:30 | America/New_York | 2021-03-13T00:00:00Z | 2021-03-13T07:30:00Z 2021-03-14T07:00:00Z 2021-03-15T06:30:00Z
        # p24, `hourly` from 2021-03-28T00:30+02:00. oncalendar skips 03:00
        # and fires 04:00+03:00; here 03:00 fires when skipped, at
        # 04:00+03:00, the same instant, once.
        hourly      | Europe/Riga | 2021-03-27T22:30:00Z | 2021-03-27T23:00:00Z 2021-03-28T00:00:00Z 2021-03-28T01:00:00Z 2021-03-28T02:00:00Z
        # p25, `12:00 EST` from UTC.
        12:00       | EST | 2020-01-01T00:00:00Z | 2020-01-01T17:00:00Z
        # Autumn in New York: 01:30 fires once, at 01:30 EDT (05:30Z).
        01:30       | America/New_York | 2021-11-06T12:00:00Z | 2021-11-07T05:30:00Z 2021-11-08T06:30:00Z
        # The last day of the month is the zone's (31 December 23:30 in New
        # York is 04:30Z on 1 January).
        *~1 23:30   | America/New_York | 2020-01-01T00:00:00Z | 2020-01-01T04:30:00Z 2020-02-01T04:30:00Z
        ",
    );
}

#[test]
fn reads_each_line_of_oncalendar_s_multi_line_vectors_alone() {
    // A schedule here reads one expression; oncalendar's multi-line vectors
    // (o12, o13, o14, p21, p22, p23) are the unions of these.
    check(
        "
        00:00         | UTC         | 2020-01-01T00:00:00Z | 2020-01-02T00:00:00Z 2020-01-03T00:00:00Z
        12:34         | UTC         | 2020-01-01T00:00:00Z | 2020-01-01T12:34:00Z 2020-01-02T12:34:00Z
        2020-01-02    | UTC         | 2020-01-01T00:00:00Z | 2020-01-02T00:00:00Z STOP
        2018-01-01    | UTC         | 2020-01-01T00:00:00Z | STOP
        Mon..Fri 9:00 | UTC         | 2020-01-03T10:00:00Z | 2020-01-06T09:00:00Z
        Sat,Sun 12:00 | UTC         | 2020-01-03T10:00:00Z | 2020-01-04T12:00:00Z 2020-01-05T12:00:00Z
        12:00         | UTC         | 2020-01-01T00:00:00Z | 2020-01-01T12:00:00Z 2020-01-02T12:00:00Z
        12:00         | Europe/Riga | 2020-01-01T00:00:00Z | 2020-01-01T10:00:00Z 2020-01-02T10:00:00Z
        ",
    );
}

#[test]
fn stops_after_2199() {
    let utc: Tz = "UTC".parse().unwrap();
    let daily = Calendar::parse("daily").unwrap();
    assert_eq!(
        daily.next_after(at("2199-12-30T12:00:00Z"), utc),
        Some(at("2199-12-31T00:00:00Z"))
    );
    assert_eq!(daily.next_after(at("2199-12-31T00:00:00Z"), utc), None);
    assert_eq!(daily.next_after(at("2250-01-01T00:00:00Z"), utc), None);
    // Before 1970 the first fire time is in 1970.
    assert_eq!(
        daily.next_after(at("1960-06-01T00:00:00Z"), utc),
        Some(at("1970-01-01T00:00:00Z"))
    );
    // The last wall time of 2199 in Tokyo is an instant of 2199 in UTC.
    let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
    let last = Calendar::parse("*-12-31 23:59:59").unwrap();
    assert_eq!(
        last.next_after(at("2199-06-01T00:00:00Z"), tokyo),
        Some(at("2199-12-31T14:59:59Z"))
    );
    // A sparse schedule near the end: Monday 29 February comes in 2112,
    // 2140, 2168 and 2196, then not before 2200.
    let rare = Calendar::parse("Mon 2-29").unwrap();
    assert_eq!(
        rare.next_after(at("2100-01-01T00:00:00Z"), utc),
        Some(at("2112-02-29T00:00:00Z"))
    );
    assert_eq!(
        rare.next_after(at("2168-02-29T00:00:00Z"), utc),
        Some(at("2196-02-29T00:00:00Z"))
    );
    assert_eq!(rare.next_after(at("2196-02-29T00:00:00Z"), utc), None);
}

#[test]
fn errors_name_the_part_and_the_value() {
    // oncalendar's error cases (its message in the comment), then others.
    for (expr, part, message, help) in [
        // Bad second
        (
            "12:00:00.5",
            "00.5",
            "second `00.5` is not a whole number",
            "fractions of a second are not read",
        ),
        // Bad time
        (
            "1:2:3:4",
            "1:2:3:4",
            "the time `1:2:3:4` has 4 parts: a time is `HH:MM` or `HH:MM:SS`",
            "write `HH:MM` or `HH:MM:SS`",
        ),
        // Bad date
        (
            "*-*-*-*",
            "*-*-*-*",
            "the date `*-*-*-*` has 4 parts: a date is `YYYY-MM-DD` or `MM-DD`",
            "a range inside a date is written `a..b`",
        ),
        // Bad day-of-week
        (
            "Fri..Mon",
            "Fri..Mon",
            "`Fri..Mon` in the weekday part runs backwards",
            "write `Fri..Sun,Mon`",
        ),
        (
            "tue..mon",
            "tue..mon",
            "`tue..mon` in the weekday part runs backwards",
            "write `tue..Sun,mon`",
        ),
        (
            "Mo 12:00",
            "Mo",
            "`Mo` is not a day of the week",
            "write `Mon`, `Tue`",
        ),
        (
            "Mon/2",
            "Mon/2",
            "`Mon/2` in the weekday part: weekdays take no step",
            "`Mon,Wed,Fri`",
        ),
        (
            "@daily",
            "@daily",
            "the cron macro `@daily` is not an OnCalendar expression",
            "write `daily`, without the `@`",
        ),
        (
            "12",
            "12",
            "`12` is neither a date nor a time",
            "a date is `YYYY-MM-DD` or `MM-DD`",
        ),
        (
            "2020",
            "2020",
            "`2020` is neither a date nor a time",
            "`2020-*-*` is every day of 2020",
        ),
        (
            "* 1-1",
            "*",
            "`*` is neither a date nor a time",
            "`*-*-*` every day",
        ),
        (
            "Europe/Riga",
            "Europe/Riga",
            "the time zone `Europe/Riga` is not read inside the expression",
            "write the time zone in the `tz` field",
        ),
        (
            "12:00\tEurope/Riga",
            "Europe/Riga",
            "the time zone `Europe/Riga` is not read inside the expression",
            "write the time zone in the `tz` field",
        ),
        (
            "12:00 Europe/Riga",
            "Europe/Riga",
            "the time zone `Europe/Riga` is not read inside the expression",
            "write the time zone in the `tz` field",
        ),
        (
            "daily UTC",
            "UTC",
            "the time zone `UTC` is not read inside the expression",
            "write the time zone in the `tz` field",
        ),
        (
            "12:34 Europe/Surprise",
            "Europe/Surprise",
            "`Europe/Surprise` looks like a time zone, which is not read inside the expression",
            "write the time zone in the `tz` field",
        ),
        (
            "Mon,1 12:00",
            "1",
            "`1` in the weekday part is a number: weekdays are names",
            "write `Mon`",
        ),
        (
            "* 12:00",
            "*",
            "`*` is neither a date nor a time",
            "a date is",
        ),
        (
            "Mon,* 12:00",
            "Mon,*",
            "`Mon,*` in the weekday part: weekdays are names, not `*`",
            "leave the weekday part out",
        ),
        (
            "daily 12:00",
            "daily",
            "the keyword `daily` stands alone",
            "`daily` is `*-*-* 00:00:00`",
        ),
        (
            "daily Mon",
            "daily",
            "the keyword `daily` stands alone",
            "write the parts instead",
        ),
        (
            "Mon--Tue",
            "Mon--Tue",
            "`Mon--Tue` in the weekday part has more than one range mark",
            "write a list",
        ),
        (
            "*-*-~1",
            "*-*-~1",
            "the date `*-*-~1` has 4 parts: a date is `YYYY-MM-DD` or `MM-DD`",
            "`*-*~1` is the last day of every month",
        ),
        (
            "1..2..3:00",
            "1..2..3",
            "`1..2..3` in the hour part has more than one range mark",
            "`1..3,7..9`",
        ),
        // Bad year
        (
            "2200-1-1",
            "2200",
            "year `2200` is out of range 1970-2199",
            "the year part takes 1970-2199",
        ),
        (
            "1969-1-1",
            "1969",
            "year `1969` is out of range 1970-2199",
            "two digits are read as",
        ),
        // Bad hour
        (
            "*-*-* 24:00",
            "24",
            "hour `24` is out of range 0-23",
            "midnight is `00:00`",
        ),
        (
            "*-*-*T12:00",
            "*-*-*T12:00",
            "`*-*-*T12:00` joins a date and a time with `T`",
            "separate the date and the time with a space: `*-*-* 12:00`",
        ),
        // Bad minute
        (
            "*:*/15",
            "*/15",
            "`*/15` in the minute part: `*` takes no step",
            "write `0/15`",
        ),
        (
            "*:*,1:00",
            "*,1",
            "`*,1` in the minute part: `*` stands alone, not in a list, range or step",
            "write `*` for every minute",
        ),
        (
            "*:1..*",
            "1..*",
            "`1..*` in the minute part: `*` stands alone, not in a list, range or step",
            "without `*`",
        ),
        (
            "*:1..1_0",
            "1_0",
            "`1_0` in the minute part is not a number",
            "the minute part takes 0-59",
        ),
        (
            "*:0/0",
            "0/0",
            "`0/0` in the minute part steps by 0",
            "a step is a whole number of at least 1",
        ),
        (
            "*:0/x",
            "0/x",
            "the step `x` of `0/x` in the minute part is not a whole number",
            "at least 1",
        ),
        (
            "1-5:00",
            "1-5",
            "`1-5` in the hour part: a range is written `a..b`",
            "write `1..5`",
        ),
        // Bad day-of-month
        (
            "*~0",
            "0",
            "day `0` is out of range 1-31",
            "`~1` is the last day of the month",
        ),
        (
            "1~29",
            "~29",
            "`~29` in the day part counts back more than 28 days",
            "1 to 28 days",
        ),
        (
            "*-*-5..1",
            "5..1",
            "`5..1` in the day part runs backwards",
            "write the smaller value first, `1..5`",
        ),
        (
            "1-32",
            "32",
            "day `32` is out of range 1-31",
            "the day part takes 1-31",
        ),
        (
            "*-*-1,,2",
            "1,,2",
            "the day part `1,,2` has an empty list item",
            "single commas",
        ),
        (
            "*-*-1..",
            "1..",
            "the range `1..` in the day part is missing an end",
            "`1..31`",
        ),
        (
            "*-*-",
            "*-*-",
            "the day of the date `*-*-` is empty",
            "write `*` for every day",
        ),
        (
            "*-*~",
            "~",
            "`~` in the day part has no count after it",
            "`~1` is the last day",
        ),
        (
            "*-Jan-1",
            "Jan",
            "`Jan` in the month part is not a number",
            "the month part takes 1-12",
        ),
        (
            "2020~1-1",
            "~1",
            "`~1` in the month part is not a number",
            "counts days back from the end of the month",
        ),
        // Wrong number of fields
        (
            "Mon Tue",
            "Tue",
            "two weekday parts, `Mon` and `Tue`",
            "list the days in one part: `Mon,Tue`",
        ),
        (
            "12:00 13:00",
            "13:00",
            "two time parts, `12:00` and `13:00`",
            "a schedule reads one expression",
        ),
        (
            "12:00 Mon",
            "Mon",
            "the weekday `Mon` comes after the time `12:00`",
            "in the order weekday, date, time",
        ),
        (
            "12:00 2020-01-01",
            "2020-01-01",
            "the date `2020-01-01` comes after the time `12:00`",
            "in the order weekday, date, time",
        ),
        (
            "0 0 * * *",
            "0",
            "`0` is neither a date nor a time",
            "a date is",
        ),
        (
            "12:00\n\n13:00",
            "13:00",
            "a schedule reads one OnCalendar expression, found 2 lines",
            "one expression is read per schedule",
        ),
        (
            "Mon 12:00\nTue 13:00\n",
            "Tue 13:00",
            "a schedule reads one OnCalendar expression, found 2 lines",
            "one expression is read per schedule",
        ),
        ("", "", "the OnCalendar expression is empty", "`daily`"),
        (
            "   ",
            "   ",
            "the OnCalendar expression is empty",
            "`daily`",
        ),
    ] {
        let e = Calendar::parse(expr).unwrap_err();
        assert_eq!(e.message, message, "`{expr}`");
        assert_eq!(&expr[e.at.clone()], part, "`{expr}`: {}", e.message);
        assert!(e.help.contains(help), "`{expr}`: {}", e.help);
    }
}

#[test]
fn expressions_that_never_fire_are_errors() {
    // oncalendar reads these and never fires them (p11: `2-30`); here they
    // are mistakes, said where they are.
    for (expr, part, message, help) in [
        ("2-30", "30", "day `30` never falls in month `2`, so this schedule never fires", "February has 29 days at most"),
        ("4-31", "31", "day `31` never falls in month `4`, so this schedule never fires", "November 30"),
        ("*-2-30 12:00", "30", "day `30` never falls in month `2`, so this schedule never fires", "February has 29 days at most"),
        ("*-4,6-31", "31", "day `31` never falls in month `4,6`, so this schedule never fires", "November 30"),
        ("*-2~30..31", "~30..31", "day `~30..31` never falls in month `2`, so this schedule never fires", "February"),
        ("2021-02-29", "2021-02-29", "the date `2021-02-29` never happens, so this schedule never fires", "only in leap years"),
        ("2021..2023-2-29", "2021..2023-2-29", "the date `2021..2023-2-29` never happens, so this schedule never fires", "only in leap years"),
        ("Mon 2020-02-29", "Mon", "the weekday `Mon` never falls on the date `2020-02-29`, so this schedule never fires", "leave the weekday out"),
        ("Sat,Sun 2021-06-01..4", "Sat,Sun", "the weekday `Sat,Sun` never falls on the date `2021-06-01..4`, so this schedule never fires", "check the weekday"),
    ] {
        let e = Calendar::parse(expr).unwrap_err();
        assert_eq!(e.message, message, "`{expr}`");
        assert_eq!(&expr[e.at.clone()], part, "`{expr}`: {}", e.message);
        assert!(e.help.contains(help), "`{expr}`: {}", e.help);
    }
    // Days some months have are fine; and a date in the past fired once.
    for expr in ["2-29", "*-*-31", "1,2-30", "2~29..31", "2019-01-01"] {
        assert!(Calendar::parse(expr).is_ok(), "`{expr}`");
    }
}

/// Start instants: every 10 minutes (and 10 minutes plus 29.5 seconds)
/// from 12 hours before to 12 hours after each DST change of 2021 in Riga
/// and New York.
fn dst_days() -> Vec<(Tz, DateTime<Utc>, Vec<DateTime<Utc>>)> {
    [
        ("Europe/Riga", "2021-03-28T01:00:00Z"),
        ("Europe/Riga", "2021-10-31T01:00:00Z"),
        ("America/New_York", "2021-03-14T07:00:00Z"),
        ("America/New_York", "2021-11-07T06:00:00Z"),
    ]
    .into_iter()
    .map(|(tz, change)| {
        let from = at(change) - Duration::hours(12);
        let starts = (0..=144)
            .flat_map(|k| {
                let t = from + Duration::minutes(10 * k);
                [t, t + Duration::milliseconds(29_500)]
            })
            .collect();
        (tz.parse().unwrap(), from, starts)
    })
    .collect()
}

const DENSE: [&str; 8] = [
    "*:0/30",
    "hourly",
    "02,03:30",
    "*-*-* 1..4:15:30",
    "*:*:0/20",
    "Sun *-*-* 0/3:0,59:0",
    "minutely",
    "03:00",
];

#[test]
fn next_fire_is_always_later_and_fire_times_increase() {
    // Dense and sparse expressions, around the four changes.
    for (tz, from, starts) in dst_days() {
        for expr in DENSE
            .into_iter()
            .chain(["*-*~1 02:30", "Mon 2-29", "2021-*-* 03:59:59"])
        {
            let cal = Calendar::parse(expr).unwrap();
            // Later than the start; and a later start never gets an
            // earlier answer.
            let mut previous = None;
            for &t in &starts {
                let next = cal.next_after(t, tz);
                if let Some(next) = next {
                    assert!(next > t, "`{expr}` in {tz}: next after {t} is {next}");
                }
                assert!(next >= previous, "`{expr}` in {tz} after {t}");
                previous = next;
            }
            // Chained through the whole day of the change, each fire time
            // after the one before.
            let mut t = from;
            while t < from + Duration::hours(24) {
                let Some(next) = cal.next_after(t, tz) else {
                    break;
                };
                assert!(next > t, "`{expr}` in {tz}: next after {t} is {next}");
                t = next;
            }
        }
    }
}

#[test]
fn next_fire_is_when_the_clock_first_reaches_a_matching_time() {
    // The rule, read off the clock second by second: a matching wall time
    // fires at the first instant at which the clock reads it or, having
    // skipped it, a later time. Which wall times match is read in UTC,
    // where every wall time happens once.
    let utc: Tz = "UTC".parse().unwrap();
    for (tz, from, starts) in dst_days() {
        let to = from + Duration::hours(24);
        let wall = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local().and_utc();
        for expr in DENSE {
            let cal = Calendar::parse(expr).unwrap();
            // The matching wall times from the clock at `from` on.
            let mut matching = Vec::new();
            let mut w = wall(from);
            while w < wall(to) + Duration::hours(3) {
                w = cal.next_after(w, utc).unwrap();
                matching.push(w);
            }
            // The fire times: walk the clock.
            let mut fire_times = Vec::new();
            let mut reached = wall(from);
            let mut next = 0;
            let mut t = from;
            while t < to {
                t += Duration::seconds(1);
                let now = wall(t);
                if now > reached {
                    let before = next;
                    while next < matching.len() && matching[next] <= now {
                        next += 1;
                    }
                    if next > before {
                        fire_times.push(t);
                    }
                    reached = now;
                }
            }
            for &t in &starts {
                let want = fire_times.iter().find(|f| **f > t);
                if let Some(&want) = want {
                    assert_eq!(
                        cal.next_after(t, tz),
                        Some(want),
                        "`{expr}` in {tz} after {t}"
                    );
                }
            }
        }
    }
}
