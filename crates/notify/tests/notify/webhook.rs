//! The webhook against the scripted receiver: what arrives, which answers
//! are retried, how long it waits, and the breaker. Backoff is ms-scale;
//! time is asserted only as generous bounds, and attempts are counted at
//! the receiver.

use crate::notification;
use crate::receiver::{closed_port_url, Receiver, Reply};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenet_notify::config::{Secret, Secrets, WebhookConfig};
use tenet_notify::{BreakerState, Delivery, DeliveryError, Notifier, Recorder, Webhook};

const MS: Duration = Duration::from_millis(1);

/// Fast settings: 2 retries, 5–20 ms backoff, a breaker that does not
/// open unless a test asks it to.
fn config(url: &str) -> WebhookConfig {
    let mut c = WebhookConfig::new(url);
    c.timeout = Duration::from_secs(2);
    c.retries = 2;
    c.backoff.base = 5 * MS;
    c.backoff.max = 20 * MS;
    c.max_wait = Duration::from_secs(5);
    c.breaker.threshold = 100;
    c.breaker.cool_down = 300 * MS;
    c
}

fn webhook(config: WebhookConfig) -> Webhook {
    Webhook::new(config, Secrets::default()).unwrap()
}

fn failed(d: &Delivery) -> &DeliveryError {
    match d {
        Delivery::Failed { error, .. } => error,
        other => panic!("expected a failed delivery, got {other:?}"),
    }
}

#[tokio::test]
async fn a_delivery_posts_the_notification_with_its_headers_and_signature() {
    let rx = Receiver::start(vec![Reply::ok()]).await;
    let mut c = config(&rx.url);
    c.signing_secret_env = Some("SIGN".into());
    c.bearer_token_env = Some("TOKEN".into());
    c.headers.insert("X-Team".into(), "platform".into());
    let secrets = Secrets::lookup(&c, |name| match name {
        "SIGN" => Some("shared-secret".into()),
        "TOKEN" => Some("t0k3n".into()),
        _ => None,
    })
    .unwrap();
    let hook = Webhook::new(c, secrets).unwrap();
    let n = notification("mm-0001");

    let d = hook.send(&n).await;

    assert_eq!(d, Delivery::Delivered { attempts: 1 });
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    // The body is the notification, byte for byte as serialized.
    assert_eq!(
        req.body.as_ref(),
        serde_json::to_vec(&n).unwrap().as_slice()
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["payload"]["budget"], "1h");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("idempotency-key"), Some("mm-0001"));
    assert_eq!(req.header("x-tenet-notification-id"), Some("mm-0001"));
    assert_eq!(req.header("x-tenet-attempt"), Some("1"));
    assert_eq!(req.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(req.header("x-team"), Some("platform"));
    assert!(req
        .header("user-agent")
        .unwrap()
        .starts_with("tenet-notify/"));
    // The signature verifies with the shared secret, as a receiver checks it.
    let signature = req.header("x-tenet-signature-256").unwrap();
    let hex_mac = signature.strip_prefix("sha256=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"shared-secret").unwrap();
    mac.update(&req.body);
    mac.verify_slice(&hex::decode(hex_mac).unwrap()).unwrap();

    let stats = hook.stats();
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (1, 0, 1));
    assert!(!stats.degraded());
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_id_and_body() {
    let rx = Receiver::start(vec![Reply::status(500), Reply::ok()]).await;
    let hook = webhook(config(&rx.url));

    let d = hook.send(&notification("mm-0002")).await;

    assert_eq!(d, Delivery::Delivered { attempts: 2 });
    let seen = rx.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(
        seen[0].header("idempotency-key"),
        seen[1].header("idempotency-key")
    );
    assert_eq!(seen[0].header("x-tenet-signature-256"), None);
    assert_eq!(
        [
            seen[0].header("x-tenet-attempt"),
            seen[1].header("x-tenet-attempt")
        ],
        [Some("1"), Some("2")]
    );
    let stats = hook.stats();
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (1, 0, 2));
    assert_eq!(stats.consecutive_failures, 0);
}

#[tokio::test]
async fn retries_stop_after_the_configured_count_with_the_last_error() {
    let rx = Receiver::start(vec![]).await;
    rx.always(Reply::status(503).body("{\"error\": \"maintenance\"}\n"));
    let hook = webhook(config(&rx.url));

    let d = hook.send(&notification("mm-0003")).await;

    assert_eq!(rx.count(), 3, "one attempt and two retries");
    assert_eq!(d.attempts(), 3);
    let target = format!("{}/…", rx.url.split("/hook").next().unwrap());
    assert_eq!(
        failed(&d),
        &DeliveryError::Status {
            target: target.clone(),
            status: 503,
            body: "{\"error\": \"maintenance\"}".into()
        }
    );
    assert_eq!(
        d.reason().unwrap(),
        format!("{target} answered 503: {{\"error\": \"maintenance\"}} (3 attempts)")
    );
    let stats = hook.stats();
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (0, 1, 3));
    assert_eq!(stats.consecutive_failures, 1);
    assert!(stats.degraded());
    assert!(stats
        .last_error
        .unwrap()
        .starts_with("notification `mm-0003`: "));
}

#[tokio::test]
async fn a_400_is_not_retried_and_does_not_count_towards_the_breaker() {
    let rx = Receiver::start(vec![
        Reply::status(400).body("field `severity` is required"),
        Reply::status(404),
    ])
    .await;
    let mut c = config(&rx.url);
    c.breaker.threshold = 1;
    let hook = webhook(c);

    let first = hook.send(&notification("mm-0004")).await;
    let second = hook.send(&notification("mm-0005")).await;

    assert_eq!(rx.count(), 2, "one attempt each, no retry");
    assert_eq!((first.attempts(), second.attempts()), (1, 1));
    assert!(failed(&first)
        .to_string()
        .ends_with("answered 400: field `severity` is required"));
    assert!(failed(&second).to_string().ends_with("answered 404"));
    let stats = hook.stats();
    assert_eq!(stats.failed, 2);
    assert_eq!(
        stats.breaker,
        BreakerState::Closed,
        "a 4xx says the receiver is up"
    );
    assert_eq!(stats.consecutive_failures, 0);
}

#[tokio::test]
async fn a_429_retry_after_is_waited() {
    let rx = Receiver::start(vec![
        Reply::status(429).header("retry-after", "1"),
        Reply::ok(),
    ])
    .await;
    let hook = webhook(config(&rx.url));
    let start = Instant::now();

    let d = hook.send(&notification("mm-0006")).await;

    assert_eq!(d, Delivery::Delivered { attempts: 2 });
    let seen = rx.seen();
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_secs(1), "waited {gap:?}, asked 1 s");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_past_max_wait_ends_the_delivery_at_once() {
    let rx = Receiver::start(vec![Reply::status(429).header("retry-after", "120")]).await;
    let mut c = config(&rx.url);
    c.max_wait = Duration::from_secs(2);
    let hook = webhook(c);
    let start = Instant::now();

    let d = hook.send(&notification("mm-0007")).await;

    assert_eq!(rx.count(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    let error = failed(&d);
    assert!(matches!(
        error,
        DeliveryError::WaitTooLong {
            status: 429,
            wait_ms: 120_000,
            max_wait_ms: 2_000,
            ..
        }
    ));
    assert!(error.to_string().ends_with(
        "answered 429 and asked to retry in 120000 ms, past the 2000 ms this delivery may wait (`max_wait`)"
    ));
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let rx = Receiver::start(vec![
        Reply::ok().after(Duration::from_secs(10)),
        Reply::ok(),
    ])
    .await;
    let mut c = config(&rx.url);
    c.timeout = 200 * MS;
    let hook = webhook(c);
    let start = Instant::now();

    let d = hook.send(&notification("mm-0008")).await;

    assert_eq!(d, Delivery::Delivered { attempts: 2 });
    assert_eq!(rx.count(), 2);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn every_attempt_timing_out_fails_with_a_timeout() {
    let rx = Receiver::start(vec![]).await;
    rx.always(Reply::ok().after(Duration::from_secs(10)));
    let mut c = config(&rx.url);
    c.timeout = 100 * MS;
    c.retries = 1;
    let hook = webhook(c);

    let d = hook.send(&notification("mm-0009")).await;

    assert_eq!(rx.count(), 2);
    assert!(matches!(
        failed(&d),
        DeliveryError::Timeout {
            timeout_ms: 100,
            ..
        }
    ));
    assert!(d.reason().unwrap().contains("within 100 ms (2 attempts)"));
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error_and_is_retried() {
    let url = closed_port_url().await;
    let hook = webhook(config(&url));

    let d = hook.send(&notification("mm-0010")).await;

    assert_eq!(d.attempts(), 3);
    let error = failed(&d);
    assert!(matches!(error, DeliveryError::Connect { .. }), "{error:?}");
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "{error}"
    );
    let stats = hook.stats();
    assert_eq!((stats.failed, stats.attempts), (1, 3));
}

#[tokio::test]
async fn the_breaker_opens_refuses_without_contact_then_half_opens_and_closes() {
    let rx = Receiver::start(vec![]).await;
    rx.always(Reply::status(500));
    let mut c = config(&rx.url);
    c.retries = 1;
    c.breaker.threshold = 2;
    let cool_down = c.breaker.cool_down;
    let hook = webhook(c);

    assert_eq!(hook.send(&notification("a")).await.attempts(), 2);
    assert_eq!(hook.stats().breaker, BreakerState::Closed);
    assert_eq!(hook.send(&notification("b")).await.attempts(), 2);
    assert_eq!(hook.stats().breaker, BreakerState::Open);
    assert_eq!(rx.count(), 4);

    // Open: refused, the receiver is not contacted.
    let refused = hook.send(&notification("c")).await;
    assert!(matches!(refused, Delivery::Refused { retry_in_ms } if retry_in_ms <= 300));
    assert_eq!(refused.outcome(), "refused");
    assert_eq!(rx.count(), 4);
    let stats = hook.stats();
    assert_eq!((stats.failed, stats.refused), (2, 1));
    assert!(stats.degraded());
    assert!(stats
        .last_error
        .unwrap()
        .contains("circuit breaker is open"));

    // After the cool-down one probe goes through; it succeeds and closes.
    tokio::time::sleep(cool_down + 50 * MS).await;
    rx.always(Reply::ok());
    assert_eq!(
        hook.send(&notification("d")).await,
        Delivery::Delivered { attempts: 1 }
    );
    assert_eq!(rx.count(), 5);
    let stats = hook.stats();
    assert_eq!(stats.breaker, BreakerState::Closed);
    assert!(!stats.degraded());
    assert_eq!(
        hook.send(&notification("e")).await,
        Delivery::Delivered { attempts: 1 }
    );
}

#[tokio::test]
async fn a_failed_probe_is_one_attempt_and_opens_the_breaker_again() {
    let rx = Receiver::start(vec![]).await;
    rx.always(Reply::status(502));
    let mut c = config(&rx.url);
    c.breaker.threshold = 1;
    let cool_down = c.breaker.cool_down;
    let hook = webhook(c);

    assert_eq!(hook.send(&notification("a")).await.attempts(), 3);
    assert_eq!(hook.stats().breaker, BreakerState::Open);
    tokio::time::sleep(cool_down + 50 * MS).await;

    let probe = hook.send(&notification("b")).await;

    assert_eq!(probe.attempts(), 1, "the probe is not retried");
    assert_eq!(rx.count(), 4);
    assert_eq!(hook.stats().breaker, BreakerState::Open);
    assert_eq!(hook.send(&notification("c")).await.outcome(), "refused");
    assert_eq!(rx.count(), 4);
}

#[tokio::test]
async fn while_half_open_only_the_probe_goes_through() {
    let rx = Receiver::start(vec![Reply::status(500)]).await;
    let mut c = config(&rx.url);
    c.retries = 0;
    c.breaker.threshold = 1;
    let cool_down = c.breaker.cool_down;
    let hook = Arc::new(webhook(c));
    hook.send(&notification("a")).await;
    tokio::time::sleep(cool_down + 50 * MS).await;
    rx.always(Reply::ok().after(500 * MS));

    let probe = tokio::spawn({
        let hook = hook.clone();
        async move { hook.send(&notification("probe")).await }
    });
    // The probe is at the receiver, waiting for its answer.
    tokio::time::timeout(Duration::from_secs(5), async {
        while rx.count() < 2 {
            tokio::time::sleep(5 * MS).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(hook.stats().breaker, BreakerState::HalfOpen);
    let other = hook.send(&notification("other")).await;

    assert_eq!(other.outcome(), "refused");
    assert_eq!(probe.await.unwrap(), Delivery::Delivered { attempts: 1 });
    assert_eq!(rx.count(), 2);
    assert_eq!(hook.stats().breaker, BreakerState::Closed);
}

#[tokio::test]
async fn a_dropped_probe_does_not_leave_the_breaker_half_open() {
    let rx = Receiver::start(vec![Reply::status(500)]).await;
    let mut c = config(&rx.url);
    c.retries = 0;
    c.breaker.threshold = 1;
    let cool_down = c.breaker.cool_down;
    let hook = webhook(c);
    hook.send(&notification("a")).await;
    tokio::time::sleep(cool_down + 50 * MS).await;
    rx.always(Reply::ok().after(Duration::from_secs(10)));

    let n = notification("probe");
    let cut = tokio::time::timeout(50 * MS, hook.send(&n)).await;

    assert!(cut.is_err());
    assert_eq!(hook.stats().breaker, BreakerState::Open);
}

#[tokio::test]
async fn concurrent_deliveries_through_a_shared_notifier_all_arrive() {
    let rx = Receiver::start(vec![]).await;
    let hook: Arc<dyn Notifier> = Arc::new(webhook(config(&rx.url)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let hook = hook.clone();
        tasks.spawn(async move { hook.send(&notification(&format!("n-{i}"))).await });
    }
    while let Some(d) = tasks.join_next().await {
        assert!(d.unwrap().is_delivered());
    }
    assert_eq!(rx.count(), 20);
    let mut ids: Vec<_> = rx
        .seen()
        .iter()
        .map(|s| s.header("idempotency-key").unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(hook.stats().delivered, 20);
}

#[tokio::test]
async fn notifiers_are_interchangeable_behind_the_trait() {
    let rx = Receiver::start(vec![]).await;
    let recorder = Arc::new(Recorder::new());
    let notifiers: Vec<Arc<dyn Notifier>> =
        vec![Arc::new(webhook(config(&rx.url))), recorder.clone()];
    for n in &notifiers {
        assert!(n.send(&notification("same")).await.is_delivered());
    }
    assert_eq!(rx.count(), 1);
    assert_eq!(recorder.sent(), [notification("same")]);
    assert!(notifiers[0]
        .target()
        .starts_with("webhook http://127.0.0.1:"));
}

#[tokio::test]
async fn an_id_no_header_can_carry_is_refused_without_contact() {
    let rx = Receiver::start(vec![]).await;
    let mut c = config(&rx.url);
    c.breaker.threshold = 1;
    let hook = webhook(c);

    let d = hook.send(&notification("bad\nid")).await;

    assert_eq!(rx.count(), 0);
    assert_eq!(d.attempts(), 0);
    assert!(failed(&d)
        .to_string()
        .contains("has a character a header cannot carry"));
    assert_eq!(hook.stats().breaker, BreakerState::Closed);
}

#[tokio::test]
async fn secrets_and_the_url_path_are_never_shown() {
    let rx = Receiver::start(vec![]).await;
    rx.always(Reply::status(500));
    let mut c = config(&rx.url);
    c.retries = 0;
    let secrets = Secrets {
        bearer_token: Some(Secret::new("t0k3n")),
        signing_secret: Some(Secret::new("shared-secret")),
    };
    let hook = Webhook::new(c, secrets).unwrap();
    let d = hook.send(&notification("x")).await;

    let shown = [
        format!("{hook:?}"),
        format!("{d:?}"),
        d.reason().unwrap(),
        serde_json::to_string(&hook.stats()).unwrap(),
        serde_json::to_string(&d).unwrap(),
        hook.target(),
    ];
    for text in shown {
        for secret in ["t0k3n", "shared-secret", "secret-path"] {
            assert!(!text.contains(secret), "`{secret}` shown in {text}");
        }
    }
}

#[tokio::test]
async fn an_https_webhook_is_made_with_the_system_roots() {
    // No request is sent: this checks that TLS (rustls with ring, the
    // system's CA certificates) is set up without a process-wide provider.
    let hook = Webhook::new(
        WebhookConfig::new("https://hooks.example.invalid/services/T0/B0/XyZ"),
        Secrets::default(),
    )
    .unwrap();
    assert_eq!(hook.target(), "webhook https://hooks.example.invalid/…");
}

#[tokio::test]
async fn a_bad_configuration_makes_no_webhook() {
    let e = Webhook::new(
        WebhookConfig::new("http://example.com/hook"),
        Secrets::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("use https, or set `allow_insecure_http: true`"),
        "{e}"
    );
    let mut c = WebhookConfig::new("https://example.com/hook");
    c.signing_secret_env = Some("TENET_NOTIFY_TEST_UNSET_VARIABLE".into());
    let e = Webhook::from_env(c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "notify webhook: the environment variable `TENET_NOTIFY_TEST_UNSET_VARIABLE` (named by `signing_secret_env`) is not set or empty; set it, or remove `signing_secret_env`"
    );
}

#[test]
fn deliveries_serialize_for_the_audit_event() {
    let failed = Delivery::Failed {
        attempts: 3,
        error: DeliveryError::Status {
            target: "https://hooks.example.com/…".into(),
            status: 503,
            body: String::new(),
        },
    };
    assert_eq!(
        serde_json::to_value(&failed).unwrap(),
        serde_json::json!({
            "outcome": "failed",
            "attempts": 3,
            "error": { "kind": "status", "target": "https://hooks.example.com/…", "status": 503, "body": "" }
        })
    );
    assert_eq!(
        failed.reason().unwrap(),
        "https://hooks.example.com/… answered 503 (3 attempts)"
    );
    assert_eq!(
        serde_json::to_value(Delivery::Refused { retry_in_ms: 1500 }).unwrap(),
        serde_json::json!({ "outcome": "refused", "retry_in_ms": 1500 })
    );
    assert_eq!(
        serde_json::to_value(Delivery::Delivered { attempts: 1 }).unwrap(),
        serde_json::json!({ "outcome": "delivered", "attempts": 1 })
    );
}
