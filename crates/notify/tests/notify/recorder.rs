//! The in-memory recorder, as offline commands and the server's tests use it.

use crate::notification;
use tenet_notify::{BreakerState, Delivery, DeliveryError, Notifier, Recorder};

#[tokio::test]
async fn the_recorder_keeps_what_it_is_sent_in_order_duplicates_included() {
    let r = Recorder::new();
    for id in ["a", "b", "a"] {
        assert_eq!(
            r.send(&notification(id)).await,
            Delivery::Delivered { attempts: 1 }
        );
    }
    let ids: Vec<_> = r.sent().into_iter().map(|n| n.id).collect();
    assert_eq!(ids, ["a", "b", "a"]);
    assert_eq!(r.take().len(), 3);
    assert!(r.sent().is_empty());
    let stats = r.stats();
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (3, 0, 3));
    assert_eq!(stats.breaker, BreakerState::Closed);
    assert_eq!(r.target(), "recorder (in memory)");
}

#[tokio::test]
async fn a_failing_recorder_plays_a_receiver_that_is_down() {
    let r = Recorder::new();
    r.fail_with(Some("receiver down"));

    let d = r.send(&notification("a")).await;

    assert_eq!(
        d,
        Delivery::Failed {
            attempts: 1,
            error: DeliveryError::Scripted {
                message: "receiver down".into()
            }
        }
    );
    assert!(r.sent().is_empty(), "a failed notification is not kept");
    let stats = r.stats();
    assert_eq!(stats.failed, 1);
    assert!(stats.degraded());
    assert_eq!(
        stats.last_error.as_deref(),
        Some("notification `a`: receiver down (1 attempt)")
    );

    r.fail_with(None);
    assert!(r.send(&notification("b")).await.is_delivered());
    assert!(!r.stats().degraded());
}

#[test]
fn notifications_read_back_and_refuse_unknown_fields() {
    let n = notification("a");
    let text = serde_json::to_string(&n).unwrap();
    assert_eq!(
        serde_json::from_str::<tenet_notify::Notification>(&text).unwrap(),
        n
    );
    let e = serde_json::from_str::<tenet_notify::Notification>(
        r#"{"id":"a","module":"m","kind":"k","subject":"s","severity":"high","created_at":"2026-12-04","level":"x"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `level`"), "{e}");
}
