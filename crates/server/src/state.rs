//! The server's shared state: the bundle now serving, how it is reloaded,
//! and what health reports.
//!
//! The loaded rules ([`Loaded`]) sit behind an `ArcSwap`: a request takes
//! one snapshot and decides on it, so a reload never changes the bundle
//! under a request in flight. Reloads are serialized, compile on a
//! blocking thread (off the request path) and swap in one atomic store.
//! A failed reload keeps the last good bundle serving and is kept for
//! `/v1/bundle` and health (`degraded`) until the next good one. Every
//! reload, good or bad, is an audit event.

use crate::access::Access;
use crate::audit::AuditLog;
use crate::clock::{new_action_id, now_rfc3339};
use crate::config::{Config, RulesSource};
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_runtime::dsl::diag;
use tenet_runtime::load::{self, LoadError, Rules};
use tenet_store::AuditEvent;

/// A loaded bundle: the rules and what identifies them.
pub struct Loaded {
    pub rules: Rules,
    /// The bundle hash (`identity.hash`), as decisions and reports name it.
    pub fingerprint: String,
    /// The whole fingerprint, as a bundle file of these rules carries it.
    pub identity: tenet_runtime::bundle::Fingerprint,
    pub loaded_at: String,
}

/// Why the last reload failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadError {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What set the reload off: `api`, `watch`, `sighup`.
    pub trigger: String,
    pub message: String,
    /// The rendered diagnostics, one line each, with `file:line:col`.
    pub diagnostics: Vec<String>,
}

/// The state of the rules watcher, for health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// Not watching (bundled rules, or `watch: false`).
    Off = 0,
    Watching = 1,
    /// The watcher failed: saved rule files no longer go live.
    Lost = 2,
}

/// What set a reload off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Api,
    Watch,
    Sighup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Watch => "watch",
            Trigger::Sighup => "sighup",
        }
    }
}

/// The shared state of the server.
pub struct AppState {
    pub config: Config,
    pub bundle: ArcSwap<Loaded>,
    last_error: Mutex<Option<ReloadError>>,
    pub audit: AuditLog,
    pub access: Access,
    /// `None`: plain HTTP.
    pub tls: Option<crate::tls::ServerTls>,
    pub metrics: Metrics,
    reloading: tokio::sync::Mutex<()>,
    /// Diffs that may run at once (one per core): a diff is CPU work on a
    /// blocking thread that goes on after its request times out, so without
    /// a bound slow or abandoned diffs could pile up.
    pub diffs: Arc<tokio::sync::Semaphore>,
    watch: AtomicU8,
    /// This replica among the others on the store, and its sweeps.
    pub fleet: crate::fleet::Fleet,
    /// The safety workflows' store connection and channels.
    pub safety: crate::routes::safety::Safety,
    /// The meta-monitor's store connection and uptime.
    pub monitor: crate::routes::monitor::Monitor,
    /// The tenant benchmark's store connection and fetch cache.
    pub benchmark: crate::routes::benchmark::Benchmark,
    /// Autoconfig's store connection and config center.
    pub autoconfig: crate::routes::autoconfig::Autoconfig,
    pub inventory: crate::routes::inventory::Inventory,
    pub control_plane: crate::routes::control_plane::ControlPlane,
    pub rtx: crate::routes::rtx::Rtx,
}

/// A load error as a message and a list of rendered diagnostics.
pub fn describe_load_error(e: &LoadError) -> (String, Vec<String>) {
    match e {
        LoadError::Io(msg) => (msg.clone(), Vec::new()),
        LoadError::Rules { diags, sources } => {
            let text = diag::render_plain(diags, sources);
            let n = diags.len();
            (
                format!("{n} problem{} in the rules", if n == 1 { "" } else { "s" }),
                text.lines().map(str::to_string).collect(),
            )
        }
    }
}

fn load_rules(source: &RulesSource) -> Result<Rules, LoadError> {
    match source {
        RulesSource::Bundled => load::load_bundled(),
        RulesSource::Dir(d) => load::load_path(d),
    }
}

fn load_from(source: &RulesSource) -> Result<Loaded, LoadError> {
    let rules = load_rules(source)?;
    let loaded_at = now_rfc3339();
    let identity = tenet_runtime::bundle::fingerprint_of(&rules, &loaded_at);
    Ok(Loaded {
        fingerprint: identity.hash.clone(),
        identity,
        rules,
        loaded_at,
    })
}

/// A start-up error: the message and the diagnostics, one per line.
fn startup_error(what: &str, e: &LoadError) -> String {
    let (msg, diags) = describe_load_error(e);
    if diags.is_empty() {
        format!("{what}: {msg}")
    } else {
        format!("{what}: {msg}\n{}", diags.join("\n"))
    }
}

impl AppState {
    /// Reads the TLS files, loads the rules and the access pack and opens
    /// the audit log; an error here is a start-up error to print.
    pub fn new(config: Config) -> Result<Arc<AppState>, String> {
        // First, so that a bad certificate creates no store.
        let tls = config
            .tls
            .as_ref()
            .map(crate::tls::ServerTls::load)
            .transpose()?;
        let loaded = load_from(&config.rules).map_err(|e| startup_error("the rules", &e))?;
        let access = Access::load(&config).map_err(|e| startup_error("the access rules", &e))?;
        let metrics = Metrics::new();
        let audit = AuditLog::open(&config.store, metrics.audit_batch.clone())
            .map_err(|e| e.to_string())?;
        metrics.set_bundle(&config.replica, &loaded.fingerprint);
        let fleet = crate::fleet::Fleet::open(&config.store).map_err(|e| e.to_string())?;
        let safety = crate::routes::safety::Safety::open(&config)?;
        let monitor = crate::routes::monitor::Monitor::open(&config)?;
        let benchmark = crate::routes::benchmark::Benchmark::open(&config)?;
        let autoconfig = crate::routes::autoconfig::Autoconfig::open(&config)?;
        let inventory = crate::routes::inventory::Inventory::open(&config)?;
        let control_plane = crate::routes::control_plane::ControlPlane::open(&config)?;
        let rtx = crate::routes::rtx::Rtx::open(&config)?;
        let state = Arc::new(AppState {
            config,
            bundle: ArcSwap::from_pointee(loaded),
            last_error: Mutex::new(None),
            audit,
            access,
            tls,
            metrics,
            reloading: tokio::sync::Mutex::new(()),
            diffs: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            watch: AtomicU8::new(WatchState::Off as u8),
            fleet,
            safety,
            monitor,
            benchmark,
            autoconfig,
            inventory,
            control_plane,
            rtx,
        });
        // The first view, before the first request: this replica is in it.
        crate::fleet::tick(&state);
        Ok(state)
    }

    /// The current bundle's fingerprint.
    pub fn fingerprint(&self) -> String {
        self.bundle.load().fingerprint.clone()
    }

    pub fn last_error(&self) -> Option<ReloadError> {
        match self.last_error.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_last_error(&self, e: Option<ReloadError>) {
        match self.last_error.lock() {
            Ok(mut g) => *g = e,
            Err(p) => *p.into_inner() = e,
        }
    }

    pub fn set_watch(&self, s: WatchState) {
        self.watch.store(s as u8, Ordering::Relaxed);
    }

    pub fn watch_state(&self) -> WatchState {
        match self.watch.load(Ordering::Relaxed) {
            1 => WatchState::Watching,
            2 => WatchState::Lost,
            _ => WatchState::Off,
        }
    }

    /// Reloads the rules off the request path; on failure the last good
    /// bundle keeps serving and the error is kept for `/v1/bundle`. The
    /// reload is an audit event either way (an audit write that fails is
    /// logged; it does not undo the reload).
    pub async fn reload(self: &Arc<Self>, trigger: Trigger) -> Result<(), ReloadError> {
        self.reload_by(trigger, None, None).await
    }

    /// [`AppState::reload`] on behalf of a caller: its identity is the
    /// event's actor and its action id the event's (`POST /v1/bundle/reload`).
    pub async fn reload_by(
        self: &Arc<Self>,
        trigger: Trigger,
        actor: Option<String>,
        action_id: Option<String>,
    ) -> Result<(), ReloadError> {
        let _guard = self.reloading.lock().await;
        let started = Instant::now();
        let source = self.config.rules.clone();
        let previous = self.fingerprint();
        let result = tokio::task::spawn_blocking(move || load_from(&source)).await;
        let outcome = match result {
            Ok(Ok(loaded)) => {
                let fp = loaded.fingerprint.clone();
                self.bundle.store(Arc::new(loaded));
                self.set_last_error(None);
                self.metrics.set_bundle(&self.config.replica, &fp);
                Ok(fp)
            }
            Ok(Err(e)) => {
                let (message, diagnostics) = describe_load_error(&e);
                Err(ReloadError {
                    at: now_rfc3339(),
                    trigger: trigger.as_str().into(),
                    message,
                    diagnostics,
                })
            }
            Err(e) => Err(ReloadError {
                at: now_rfc3339(),
                trigger: trigger.as_str().into(),
                message: format!("the reload task failed: {e}"),
                diagnostics: Vec::new(),
            }),
        };
        self.metrics.reload(trigger.as_str(), outcome.is_ok());
        let serving = self.fingerprint();
        let event = AuditEvent {
            id: 0,
            action_id: action_id.unwrap_or_else(|| new_action_id("reload")),
            at: now_rfc3339(),
            source: "server:reload".into(),
            subject: self.config.rules.describe(),
            actor: actor.unwrap_or_else(|| format!("trigger:{}", trigger.as_str())),
            scope: "bundle".into(),
            outcome: if outcome.is_ok() {
                "reloaded"
            } else {
                "failed"
            }
            .into(),
            reason: outcome.as_ref().err().map(|e| e.message.clone()),
            latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
            details: json!({
                "previous": previous,
                "serving": serving,
                "diagnostics": outcome.as_ref().err().map(|e| e.diagnostics.clone()).unwrap_or_default(),
            }),
            tenant: None,
            bundle: Some(serving.clone()),
        };
        // Health and /v1/bundle show the failure before it is audited.
        if let Err(e) = &outcome {
            self.set_last_error(Some(e.clone()));
        }
        let written = self.audit.record(event).await;
        self.metrics
            .audit
            .get_or_create(&crate::metrics::ResultLabels {
                result: if written.is_ok() { "ok" } else { "failed" }.into(),
            })
            .inc();
        if let Err(e) = written {
            tracing::error!(error = %e, "could not write the reload's audit event");
        }
        match outcome {
            Ok(fp) => {
                tracing::info!(trigger = trigger.as_str(), bundle = %fp, previous = %previous, "rules reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    trigger = trigger.as_str(),
                    serving = %serving,
                    error = %e.message,
                    diagnostics = %e.diagnostics.join("\n"),
                    "reload failed; the last good bundle keeps serving"
                );
                Err(e)
            }
        }
    }
}
