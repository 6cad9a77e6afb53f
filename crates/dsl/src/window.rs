//! Time windows: cron + duration + time zone, allow or deny.
//!
//! The semantics follow Argo CD sync windows, used by change windows,
//! maintenance, quiet hours and holds alike:
//! - a window is open at `t` when the cron fires at some `o` with
//!   `o <= t < o + duration` (cron evaluated in the window's time zone);
//! - any open `deny` window denies (deny wins);
//! - otherwise, if allow windows exist, one of them must be open;
//! - with no windows at all, or only deny windows that are closed,
//!   everything is allowed.
//!
//! DESIGN.md's "no window matched = allowed" is Argo CD's "no window matches
//! the application": the windows that apply are the ones a block carries
//! (or that are passed to `windows_allow`). Being outside every window of a
//! block that has allow windows is denied — otherwise a change window
//! (`mode allow`) would have no effect. See `docs/decisions.md` (7).

use crate::value::Value;
use chrono::{DateTime, Duration, NaiveDate, Utc};

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub mode: Mode,
    pub cron: String,
    pub duration_ms: i64,
    pub tz: String,
}

/// Whether the windows allow `at`, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    pub reason: String,
}

/// A window from its map form `{mode, cron, duration, tz}` (as a block's
/// fields or a constant map).
pub fn from_value(v: &Value) -> Result<Window, String> {
    let mode = match v.get("mode") {
        Value::Str(s) if &*s == "allow" => Mode::Allow,
        Value::Str(s) if &*s == "deny" => Mode::Deny,
        other => {
            return Err(format!(
                "a window's `mode` is `allow` or `deny`, found {}",
                other.type_name()
            ))
        }
    };
    let cron = match v.get("cron") {
        Value::Str(s) => s.to_string(),
        _ => return Err("a window needs a `cron` string".into()),
    };
    crate::cron::Schedule::parse(&cron)
        .map_err(|e| format!("a window's `cron` `{cron}`: {}", e.message))?;
    let duration_ms = match v.get("duration") {
        Value::Duration(d) => d,
        Value::Str(s) => crate::syntax::read_duration(&s)
            .map_err(|e| format!("a window's `duration` is not a duration: {e}"))?,
        Value::Null => return Err("a window needs a `duration`, such as `4h`".into()),
        other => {
            return Err(format!(
                "a window's `duration` is a duration such as `4h`, found {}",
                other.type_name()
            ))
        }
    };
    if duration_ms <= 0 {
        return Err(format!(
            "a window's `duration` must be longer than zero, found `{}`",
            crate::value::format_duration(duration_ms)
        ));
    }
    let tz = match v.get("tz") {
        Value::Str(s) => s.to_string(),
        Value::Null => "UTC".to_string(),
        _ => return Err("a window's `tz` is a time zone name".into()),
    };
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(format!("a window's `tz` `{tz}` is not an IANA time zone"));
    }
    Ok(Window {
        mode,
        cron,
        duration_ms,
        tz,
    })
}

/// A calendar date written exactly `YYYY-MM-DD` (a real day: no month 13,
/// no February 30).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if shape => Ok(d),
        _ => Err(format!("`{s}` is not a date `YYYY-MM-DD`")),
    }
}

/// A point in time from `YYYY-MM-DD` (midnight UTC) or RFC 3339
/// (`2026-11-25T10:00:00Z`, `2026-11-25T11:00:00+01:00`).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    parse_date(s)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
        .ok_or_else(|| {
            format!("`{s}` is not a date `YYYY-MM-DD` or an RFC 3339 time such as `2026-11-25T10:00:00Z`")
        })
}

/// Whether a waiver that `expires` on a day still applies at `now`: until
/// the start of that day (midnight UTC); from then on the rule is live again.
pub fn before_day(now: DateTime<Utc>, expires: NaiveDate) -> bool {
    now.date_naive() < expires
}

/// Whether one window is open at `at`: the cron fires at some `o` with
/// `at - duration < o <= at` (fire times as in [`crate::cron`]).
pub fn is_open(w: &Window, at: DateTime<Utc>) -> Result<bool, String> {
    let tz: chrono_tz::Tz =
        w.tz.parse()
            .map_err(|_| format!("`{}` is not an IANA time zone", w.tz))?;
    let cron = crate::cron::Schedule::parse(&w.cron)
        .map_err(|e| format!("cron `{}`: {}", w.cron, e.message))?;
    let Some(start) = at.checked_sub_signed(Duration::milliseconds(w.duration_ms)) else {
        return Ok(false);
    };
    Ok(cron.next_after(start, tz).is_some_and(|o| o <= at))
}

/// Deny wins; with allow windows, one must be open; no windows, allowed.
pub fn allows(windows: &[Window], at: DateTime<Utc>) -> Result<Verdict, String> {
    for (i, w) in windows.iter().enumerate() {
        if w.mode == Mode::Deny && is_open(w, at)? {
            return Ok(Verdict {
                allowed: false,
                reason: format!(
                    "deny window {} (`{}` for {}) is open",
                    i + 1,
                    w.cron,
                    crate::value::format_duration(w.duration_ms)
                ),
            });
        }
    }
    let allow: Vec<&Window> = windows.iter().filter(|w| w.mode == Mode::Allow).collect();
    if allow.is_empty() {
        return Ok(Verdict {
            allowed: true,
            reason: if windows.is_empty() {
                "no window applies".into()
            } else {
                "no deny window is open and there are no allow windows".into()
            },
        });
    }
    for w in &allow {
        if is_open(w, at)? {
            return Ok(Verdict {
                allowed: true,
                reason: format!("allow window `{}` is open", w.cron),
            });
        }
    }
    Ok(Verdict {
        allowed: false,
        reason: "outside every allow window".into(),
    })
}

/// The first time at or after `at` the windows allow ([`allows`]): `at`
/// itself when they do; otherwise the next moment an allow window opens
/// or the open deny window closes, whichever first lets a change through.
/// `None` when no window ever allows within about a year of events.
pub fn next_allowed(
    windows: &[Window],
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, String> {
    let mut t = at;
    for _ in 0..2000 {
        if allows(windows, t)?.allowed {
            return Ok(Some(t));
        }
        // The next event after `t`: an opening, or the close of a window
        // open now.
        let mut next: Option<DateTime<Utc>> = None;
        for w in windows {
            let tz: chrono_tz::Tz =
                w.tz.parse()
                    .map_err(|_| format!("`{}` is not an IANA time zone", w.tz))?;
            let cron = crate::cron::Schedule::parse(&w.cron)
                .map_err(|e| format!("cron `{}`: {}", w.cron, e.message))?;
            let mut cands = Vec::new();
            if let Some(o) = cron.next_after(t, tz) {
                cands.push(o);
            }
            if let Some(start) = t.checked_sub_signed(Duration::milliseconds(w.duration_ms)) {
                if let Some(o) = cron.next_after(start, tz).filter(|o| *o <= t) {
                    // Open now: it closes at o + duration.
                    cands.push(o + Duration::milliseconds(w.duration_ms));
                }
            }
            for c in cands.into_iter().filter(|c| *c > t) {
                next = Some(next.map_or(c, |n: DateTime<Utc>| n.min(c)));
            }
        }
        match next {
            Some(n) => t = n,
            None => return Ok(None),
        }
    }
    Ok(None)
}
