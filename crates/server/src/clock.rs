//! The server's wall clock (read here, per request, through
//! [`tenet_runtime::clock`], which holds the one civil-date conversion),
//! and action ids.

use std::sync::atomic::{AtomicU64, Ordering};
use tenet_runtime::clock::system_now;

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    system_now().date()
}

/// Now, RFC 3339 in UTC with milliseconds: sorts as text in time order.
pub fn now_rfc3339() -> String {
    system_now().rfc3339()
}

/// A unique action id: the kind of action, the time, the process id and
/// a counter (unique across restarts, since the time moves on).
pub fn new_action_id(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let now = system_now();
    let (secs, nanos) = (now.unix_secs(), now.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = *PID.get_or_init(std::process::id);
    format!("{kind}-{secs:x}{nanos:08x}-{pid:x}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_are_unique() {
        let a = new_action_id("eval");
        let b = new_action_id("eval");
        assert_ne!(a, b);
        assert!(a.starts_with("eval-"));
    }

    #[test]
    fn times_are_utc_text() {
        let (d, t) = (today(), now_rfc3339());
        assert_eq!(d.len(), "2026-12-04".len(), "{d}");
        assert!(
            t.ends_with('Z') && t.len() == "2026-12-04T10:00:00.000Z".len(),
            "{t}"
        );
    }
}
