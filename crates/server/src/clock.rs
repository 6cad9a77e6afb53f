//! Wall-clock time as the audit log and the API write it, and action ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

fn epoch() -> (u64, u32) {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0))
}

/// Days since the epoch → (year, month, day), UTC.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    let (secs, _) = epoch();
    let (y, m, d) = civil((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Now, RFC 3339 in UTC with milliseconds: sorts as text in time order.
pub fn now_rfc3339() -> String {
    let (secs, nanos) = epoch();
    let (y, m, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        nanos / 1_000_000
    )
}

/// A unique action id: the kind of action, the time, the process id and
/// a counter (unique across restarts, since the time moves on).
pub fn new_action_id(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (secs, nanos) = epoch();
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = *PID.get_or_init(std::process::id);
    format!("{kind}-{secs:x}{nanos:08x}-{pid:x}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
        assert_eq!(civil(20_513), (2026, 3, 1));
    }

    #[test]
    fn action_ids_are_unique() {
        let a = new_action_id("eval");
        let b = new_action_id("eval");
        assert_ne!(a, b);
        assert!(a.starts_with("eval-"));
    }
}
