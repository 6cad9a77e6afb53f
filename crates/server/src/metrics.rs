//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text
//! format (which Prometheus scrapes natively).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `tenet_http_requests_total` | `route`, `method`, `status` | answered requests |
//! | `tenet_http_request_duration_seconds` | `route`, `method` | latency histogram |
//! | `tenet_evaluations_total` | `pack`, `outcome` | decisions (`allowed`, `flagged`, `blocked`) |
//! | `tenet_reloads_total` | `trigger`, `result` | bundle reloads (`ok`, `failed`) |
//! | `tenet_reload_failures_total` | | failed reloads |
//! | `tenet_audit_events_total` | `result` | audit writes (`ok`, `failed`) |
//! | `tenet_audit_batch_size` | | events per audit commit (histogram) |
//! | `tenet_bundle_info` | `replica`, `fingerprint` | 1 for the bundle now serving |
//! | `tenet_safety_steps_total` | `step`, `outcome` | safety workflow steps: `preflight`, `review`, `confirm`, `break_glass`, `execute`, `cancel`, `sweep`...; outcomes as audited (`pending`, `approved`, `refused:replay`...) |
//! | `tenet_safety_notices_total` | `kind`, `result` | notices sent to the safety webhooks (`delivered`, `failed`, `refused`) |
//! | `tenet_monitor_state` | `watcher`, `tenant`, `state` | 1 for each watcher's state at the last sweep, 0 for the others (`new`, `up`, `late`, `down`, `paused`, `started`, `exempt`, `suppressed`) |
//! | `tenet_monitor_silent_seconds` | `watcher`, `tenant` | seconds since the watcher's last heartbeat, at the last sweep |
//! | `tenet_monitor_heartbeats_total` | `result` | heartbeat events: `applied`, `duplicate`, `late`, `ignored` |
//! | `tenet_monitor_notices_total` | `kind`, `result` | pages and proofs of life sent (`silence`, `realert`, `recovered`, `proof_of_life`) |
//! | `tenet_benchmark_signals_total` | `result` | tenant benchmark signals: `accepted`, `duplicate` |
//! | `tenet_benchmark_fetches_total` | `result` | pulls of `benchmark.fetch` sources: `ok`, `failed` |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvalLabels {
    pub pack: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub trigger: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub step: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NoticeLabels {
    pub kind: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherLabels {
    pub watcher: String,
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherStateLabels {
    pub watcher: String,
    pub tenant: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BundleLabels {
    pub replica: String,
    pub fingerprint: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 17,
    ))
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub evaluations: Family<EvalLabels, Counter>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub reload_failures: Counter,
    pub audit: Family<ResultLabels, Counter>,
    pub audit_batch: Histogram,
    pub safety_steps: Family<StepLabels, Counter>,
    pub safety_notices: Family<NoticeLabels, Counter>,
    pub monitor_state: Family<WatcherStateLabels, Gauge>,
    pub monitor_silent: Family<WatcherLabels, Gauge>,
    pub monitor_heartbeats: Family<ResultLabels, Counter>,
    pub monitor_notices: Family<NoticeLabels, Counter>,
    pub benchmark_signals: Family<ResultLabels, Counter>,
    pub benchmark_fetches: Family<ResultLabels, Counter>,
    pub inventory_runs: Family<ResultLabels, Counter>,
    pub inventory_resources: Family<ResultLabels, Counter>,
    bundle: Family<BundleLabels, Gauge>,
    current_bundle: Mutex<Option<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tenet");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let evaluations = Family::<EvalLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let reload_failures = Counter::default();
        let audit = Family::<ResultLabels, Counter>::default();
        let audit_batch = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1.0, 2.0, 11),
        );
        let bundle = Family::<BundleLabels, Gauge>::default();
        let safety_steps = Family::<StepLabels, Counter>::default();
        let safety_notices = Family::<NoticeLabels, Counter>::default();
        registry.register(
            "safety_steps",
            "Safety workflow steps, refused ones included",
            safety_steps.clone(),
        );
        registry.register(
            "safety_notices",
            "Notices sent to the safety webhooks",
            safety_notices.clone(),
        );
        let monitor_state = Family::<WatcherStateLabels, Gauge>::default();
        let monitor_silent = Family::<WatcherLabels, Gauge>::default();
        let monitor_heartbeats = Family::<ResultLabels, Counter>::default();
        let monitor_notices = Family::<NoticeLabels, Counter>::default();
        registry.register(
            "monitor_state",
            "1 for each watcher's state at the last sweep, 0 for the others",
            monitor_state.clone(),
        );
        registry.register(
            "monitor_silent_seconds",
            "Seconds since the watcher's last heartbeat, at the last sweep",
            monitor_silent.clone(),
        );
        registry.register(
            "monitor_heartbeats",
            "Heartbeat events by what became of them",
            monitor_heartbeats.clone(),
        );
        registry.register(
            "monitor_notices",
            "Meta-monitor pages and proofs of life sent",
            monitor_notices.clone(),
        );
        let benchmark_signals = Family::<ResultLabels, Counter>::default();
        let benchmark_fetches = Family::<ResultLabels, Counter>::default();
        registry.register(
            "benchmark_signals",
            "Tenant benchmark signals by what became of them",
            benchmark_signals.clone(),
        );
        registry.register(
            "benchmark_fetches",
            "Pulls of the tenant benchmark's fetch sources",
            benchmark_fetches.clone(),
        );
        let inventory_runs = Family::<ResultLabels, Counter>::default();
        let inventory_resources = Family::<ResultLabels, Counter>::default();
        registry.register(
            "inventory_runs",
            "Dark-inventory discovery runs: ingested, duplicate, guarded (a mass vanish closed nothing), refused",
            inventory_runs.clone(),
        );
        registry.register(
            "inventory_resources",
            "Discovered resources by what they were: a finding, registered, ignored",
            inventory_resources.clone(),
        );
        registry.register("http_requests", "Answered HTTP requests", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from the request to the answer",
            latency.clone(),
        );
        registry.register("evaluations", "Decisions made", evaluations.clone());
        registry.register("reloads", "Bundle reloads", reloads.clone());
        registry.register(
            "reload_failures",
            "Bundle reloads that failed",
            reload_failures.clone(),
        );
        registry.register("audit_events", "Audit events written", audit.clone());
        registry.register(
            "audit_batch_size",
            "Events per audit commit",
            audit_batch.clone(),
        );
        registry.register("bundle_info", "The bundle now serving", bundle.clone());
        Metrics {
            registry,
            requests,
            latency,
            evaluations,
            reloads,
            reload_failures,
            audit,
            audit_batch,
            safety_steps,
            safety_notices,
            monitor_state,
            monitor_silent,
            monitor_heartbeats,
            monitor_notices,
            benchmark_signals,
            benchmark_fetches,
            inventory_runs,
            inventory_resources,
            bundle,
            current_bundle: Mutex::new(None),
        }
    }

    /// Marks `fingerprint` as the bundle now serving.
    /// `replica` names this server among the replicas of a fleet, so a
    /// dashboard sees when every replica serves the same bundle.
    pub fn set_bundle(&self, replica: &str, fingerprint: &str) {
        let mut cur = match self.current_bundle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(old) = cur.take() {
            self.bundle.remove(&BundleLabels {
                replica: replica.to_string(),
                fingerprint: old,
            });
        }
        self.bundle
            .get_or_create(&BundleLabels {
                replica: replica.to_string(),
                fingerprint: fingerprint.to_string(),
            })
            .set(1);
        *cur = Some(fingerprint.to_string());
    }

    pub fn reload(&self, trigger: &str, ok: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                trigger: trigger.into(),
                result: if ok { "ok" } else { "failed" }.into(),
            })
            .inc();
        if !ok {
            self.reload_failures.inc();
        }
    }

    /// Counts one safety step.
    pub fn safety_step(&self, step: &str, outcome: &str) {
        self.safety_steps
            .get_or_create(&StepLabels {
                step: step.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Each watcher's state and silence at a sweep.
    pub fn monitor_states(&self, statuses: &[tenet_meta_monitor::model::Status], now: i64) {
        const STATES: [&str; 8] = [
            "new",
            "up",
            "late",
            "down",
            "paused",
            "started",
            "exempt",
            "suppressed",
        ];
        for s in statuses {
            for st in STATES {
                self.monitor_state
                    .get_or_create(&WatcherStateLabels {
                        watcher: s.watcher.clone(),
                        tenant: s.tenant.clone(),
                        state: st.into(),
                    })
                    .set(i64::from(s.state.as_str() == st));
            }
            let silent = s
                .last_seen
                .values()
                .max()
                .map_or(0, |t| (now - t).max(0) / 1000);
            self.monitor_silent
                .get_or_create(&WatcherLabels {
                    watcher: s.watcher.clone(),
                    tenant: s.tenant.clone(),
                })
                .set(silent);
        }
    }

    /// Counts heartbeat events by what became of them.
    pub fn monitor_heartbeats(&self, applied: u64, duplicates: u64, late: u64, ignored: u64) {
        for (result, n) in [
            ("applied", applied),
            ("duplicate", duplicates),
            ("late", late),
            ("ignored", ignored),
        ] {
            if n > 0 {
                self.monitor_heartbeats
                    .get_or_create(&ResultLabels {
                        result: result.into(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// Tenant benchmark signals: new, and already there.
    /// One discovery run's outcome, and what its resources were.
    pub fn inventory_run(&self, result: &str, findings: u64, registered: u64, ignored: u64) {
        self.inventory_runs
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        for (result, n) in [
            ("finding", findings),
            ("registered", registered),
            ("ignored", ignored),
        ] {
            if n > 0 {
                self.inventory_resources
                    .get_or_create(&ResultLabels {
                        result: result.into(),
                    })
                    .inc_by(n);
            }
        }
    }

    pub fn benchmark_signals(&self, accepted: u64, duplicates: u64) {
        for (result, n) in [("accepted", accepted), ("duplicate", duplicates)] {
            if n > 0 {
                self.benchmark_signals
                    .get_or_create(&ResultLabels {
                        result: result.into(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// One pull of a fetch source: `ok` or `failed`.
    pub fn benchmark_fetch(&self, result: &str) {
        self.benchmark_fetches
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
