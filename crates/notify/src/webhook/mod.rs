//! The webhook notifier: each notification is one JSON POST.
//!
//! **The request**: `POST <url>` with the [`Notification`] as its JSON body
//! and these headers:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `Idempotency-Key`, `X-Tenet-Notification-Id` | the notification's id, the same on every retry |
//! | `X-Tenet-Attempt` | 1, 2, ... |
//! | `X-Tenet-Signature-256` | `sha256=<hex HMAC-SHA256 of the body>`, with `signing_secret_env` |
//! | `Authorization` | `Bearer <token>`, with `bearer_token_env` |
//! | `User-Agent` | `tenet-notify/<version>` |
//!
//! plus the configured `headers`. Redirects are not followed.
//!
//! **Retries**: a connection error, a timeout, a 5xx or a 429 is tried
//! again, at most `retries` times, after an exponential backoff with
//! jitter (`backon`: `base`, doubled up to `max`, each wait plus up to
//! itself at random); a `Retry-After` (seconds or a date) on the answer
//! is waited instead when it is longer. All waits of one delivery stay
//! within `max_wait`: one that would pass it ends the delivery at once.
//! Any other answer (4xx, 3xx) is final.
//!
//! **The breaker** (its diagram is in `breaker.rs` and `docs/notify.md`): after
//! `breaker.threshold` failed deliveries in a row that say the receiver is
//! unwell, sends are refused without contacting it; after
//! `breaker.cool_down` one probe (a single attempt) goes through and its
//! outcome closes or reopens the breaker.
//!
//! It needs a Tokio runtime (with the time driver) to run on.

pub(crate) mod attempt;

use crate::breaker::{Admit, Breaker, Health};
use crate::config::{redact_url, ConfigError, Secrets, WebhookConfig};
use crate::{BoxFuture, Delivery, DeliveryError, Notification, Notifier, Stats};
use attempt::{Attempt, Client};
use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Uri};
use sha2::Sha256;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-tenet-signature-256";
/// The notification's id, beside `Idempotency-Key`.
pub const ID_HEADER: &str = "x-tenet-notification-id";
/// The attempt's number, from 1.
pub const ATTEMPT_HEADER: &str = "x-tenet-attempt";

/// Posts notifications to one URL. Cheap to share: hold it in an `Arc`.
pub struct Webhook {
    config: WebhookConfig,
    uri: Uri,
    target: String,
    headers: HeaderMap,
    signing_key: Option<Hmac<Sha256>>,
    client: Client,
    state: Mutex<State>,
}

struct State {
    breaker: Breaker,
    stats: Stats,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("target", &self.target)
            .field("signed", &self.signing_key.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook from checked settings and the secrets they name.
    pub fn new(config: WebhookConfig, secrets: Secrets) -> Result<Webhook, ConfigError> {
        config.check()?;
        let target = redact_url(config.url.trim());
        let uri: Uri = config.url.trim().parse().map_err(|e| {
            ConfigError::one(format!(
                "`url` `{target}` is not a valid URL ({e}); write `https://host/path`"
            ))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("tenet-notify/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in &config.headers {
            // `check` has vetted both.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        if let Some(token) = &secrets.bearer_token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| {
                    ConfigError::one(
                        "the bearer token has a character a header cannot carry; check the variable `bearer_token_env` names",
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let signing_key = match &secrets.signing_secret {
            Some(secret) => Some(
                Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                    .map_err(|_| ConfigError::one("the signing secret cannot key HMAC-SHA256"))?,
            ),
            None => None,
        };
        let client = attempt::client(&uri, config.timeout)?;
        let breaker = Breaker::new(config.breaker.threshold, config.breaker.cool_down);
        Ok(Webhook {
            config,
            uri,
            target,
            headers,
            signing_key,
            client,
            state: Mutex::new(State {
                breaker,
                stats: Stats::default(),
            }),
        })
    }

    /// [`Webhook::new`] with the secrets read from the environment.
    pub fn from_env(config: WebhookConfig) -> Result<Webhook, ConfigError> {
        config.check()?;
        let secrets = Secrets::from_env(&config)?;
        Webhook::new(config, secrets)
    }

    /// The settings it runs with.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sign(&self, body: &[u8]) -> Option<String> {
        let mut mac = self.signing_key.clone()?;
        mac.update(body);
        Some(format!(
            "sha256={}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }

    async fn deliver(&self, n: &Notification) -> Delivery {
        let admit = self.lock().breaker.admit(Instant::now());
        let retries = match admit {
            Admit::Through => self.config.retries,
            Admit::Probe => 0,
            Admit::Refuse { retry_in } => {
                let delivery = Delivery::Refused {
                    retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                };
                self.finish(n, &delivery, None);
                return delivery;
            }
        };
        let mut probe = ProbeGuard {
            webhook: self,
            armed: admit == Admit::Probe,
        };
        let (attempts, result) = self.attempts(n, retries).await;
        probe.armed = false;
        let delivery = match result {
            Ok(()) => Delivery::Delivered { attempts },
            Err(error) => Delivery::Failed { attempts, error },
        };
        let health = match &delivery {
            Delivery::Failed { error, .. } if error.receiver_unwell() => Some(Health::Unwell),
            Delivery::Failed { attempts: 0, .. } => None,
            _ => Some(Health::Up),
        };
        self.finish(n, &delivery, health);
        delivery
    }

    /// Up to `1 + retries` attempts; the count made and how the last went.
    async fn attempts(&self, n: &Notification, retries: u32) -> (u32, Result<(), DeliveryError>) {
        let body = match serde_json::to_vec(n) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                return (
                    0,
                    Err(DeliveryError::Invalid {
                        message: format!("its body could not be written as JSON: {e}"),
                    }),
                )
            }
        };
        let mut headers = self.headers.clone();
        let id = match HeaderValue::from_str(&n.id) {
            Ok(id) => id,
            Err(_) => {
                return (
                    0,
                    Err(DeliveryError::Invalid {
                        message: format!(
                            "its id `{}` has a character a header cannot carry; use printable ASCII ids",
                            n.id.escape_debug()
                        ),
                    }),
                )
            }
        };
        headers.insert(
            http::header::HeaderName::from_static("idempotency-key"),
            id.clone(),
        );
        headers.insert(HeaderName::from_static(ID_HEADER), id);
        if let Some(signature) = self.sign(&body) {
            if let Ok(value) = HeaderValue::from_str(&signature) {
                headers.insert(HeaderName::from_static(SIGNATURE_HEADER), value);
            }
        }
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.config.backoff.base)
            .with_max_delay(self.config.backoff.max)
            .with_factor(2.0)
            .with_max_times(usize::try_from(retries).unwrap_or(usize::MAX))
            .with_jitter()
            .build();
        let mut waited = Duration::ZERO;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            self.lock().stats.attempts += 1;
            let attempt = Attempt {
                client: &self.client,
                uri: &self.uri,
                headers: &headers,
                body: body.clone(),
                number: attempts,
                timeout: self.config.timeout,
                target: &self.target,
            };
            let failure = match attempt.send().await {
                Ok(()) => return (attempts, Ok(())),
                Err(failure) => failure,
            };
            if !failure.error.retryable() {
                return (attempts, Err(failure.error));
            }
            let Some(backoff) = delays.next() else {
                return (attempts, Err(failure.error));
            };
            let wait = failure
                .retry_after
                .map_or(backoff, |asked| asked.max(backoff));
            if waited + wait > self.config.max_wait {
                let error = match (failure.retry_after, &failure.error) {
                    (Some(asked), DeliveryError::Status { status, .. }) if asked > backoff => {
                        DeliveryError::WaitTooLong {
                            target: self.target.clone(),
                            status: *status,
                            wait_ms: millis(asked),
                            max_wait_ms: millis(self.config.max_wait),
                        }
                    }
                    _ => failure.error,
                };
                return (attempts, Err(error));
            }
            tracing::debug!(
                notification = %n.id,
                target = %self.target,
                attempt = attempts,
                error = %failure.error,
                wait_ms = millis(wait),
                "notification attempt failed; retrying"
            );
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    /// Counts the outcome, tells the breaker, and logs what went wrong.
    fn finish(&self, n: &Notification, delivery: &Delivery, health: Option<Health>) {
        let mut state = self.lock();
        if let Some(health) = health {
            state.breaker.record(Instant::now(), health);
        }
        match delivery {
            Delivery::Delivered { .. } => state.stats.delivered += 1,
            Delivery::Failed { .. } => state.stats.failed += 1,
            Delivery::Refused { .. } => state.stats.refused += 1,
        }
        if let Some(reason) = delivery.reason() {
            state.stats.last_error = Some(format!("notification `{}`: {reason}", n.id));
            let breaker = state.breaker.state().as_str();
            drop(state);
            tracing::warn!(
                notification = %n.id,
                module = %n.module,
                kind = %n.kind,
                target = %self.target,
                outcome = delivery.outcome(),
                attempts = delivery.attempts(),
                breaker,
                "notification not delivered: {reason}"
            );
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Opens the breaker again if a half-open probe's future is dropped
/// before it ends.
struct ProbeGuard<'a> {
    webhook: &'a Webhook,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.webhook.lock().breaker.abandon_probe(Instant::now());
        }
    }
}

impl Notifier for Webhook {
    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Delivery> {
        Box::pin(self.deliver(notification))
    }

    fn stats(&self) -> Stats {
        let state = self.lock();
        let mut stats = state.stats.clone();
        stats.breaker = state.breaker.state();
        stats.consecutive_failures = state.breaker.consecutive_failures();
        stats
    }

    fn target(&self) -> String {
        format!("webhook {}", self.target)
    }
}
