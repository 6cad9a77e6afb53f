//! The fan-out engine: an [`ActionRun`] moved forward one step at a time,
//! with no I/O and no clock reads. The server's driver asks [`due`] what
//! to do now (pushes, gate measurements, smoke tests), persists [`mark`]
//! before it calls out, makes the calls, and hands what came back to
//! [`record`]; [`advance`] then moves waves, stages and the run.
//!
//! Semantics (`docs/control-plane.md`, decision 55):
//! - **Waves.** A stage pushes its clusters `max_parallel` at a time (the
//!   plan's waves). The next wave starts when every cluster of the earlier
//!   ones is settled: pushed (and smoke-tested), failed or quarantined.
//! - **Bake.** When every cluster of a stage is settled the stage bakes
//!   for its `bake`; its gates are measured on each pushed cluster every
//!   gate `interval` from the push until the bake ends, at least once. Then
//!   the stage's pushed clusters succeed and the next stage starts. A stage
//!   that selects no cluster is skipped and says so.
//! - **Gates** (Argo Rollouts' limits): a measurement the gate's
//!   `fail_when` holds on is a failure, one it cannot decide (missing data,
//!   `on_no_data inconclusive`) is inconclusive, a metrics endpoint that
//!   does not answer is an error. More failures than `failure_limit` fail
//!   the cluster and apply the rollout's `on_fail`; more inconclusive
//!   measurements than `inconclusive_limit` apply its `on_inconclusive`,
//!   and more consecutive errors than `error_limit` its `on_error` (both
//!   `pause` by default: no data is not a bad bundle, and not a good one).
//! - **What an outcome does** (`on_fail`, `on_inconclusive`, `on_error`,
//!   from the pack): `pause` stops the run, resumable; `rollback` pushes
//!   every pushed cluster's previous bundle back, then fails the run;
//!   `freeze` fails the run and leaves every cluster as it is (not
//!   resumable).
//! - **Push errors** (refused, timed out, or a cluster that acknowledges a
//!   push but does not report the bundle) are retried after a backoff that
//!   doubles from `retry_backoff`; after `breaker_failures` in a row the
//!   circuit breaker quarantines the cluster, which is reported and no
//!   longer waited for. A stage whose share of quarantined clusters passes
//!   its `pause_on_error_rate` pauses the run.
//! - **Windows**: a new push starts only while the rollout's and the
//!   stage's windows allow it; the run says what it waits for.
//! - **Resume** retries the failed and quarantined clusters and measures
//!   the baking ones afresh; a cluster that succeeded is never pushed
//!   again. A cluster found `pushing` (the server stopped mid-push) is
//!   checked before it is pushed again, with the same idempotency key.

use crate::action::{ActionRun, Bundle, ClusterRun, ClusterState, GateCount, RunState, StageRun};
use crate::plan::{get, text, windows, Plan};
use serde::Serialize;
use std::collections::BTreeMap;
use tenet_runtime::clock::Timestamp;
use tenet_runtime::decision::DecideOptions;
use tenet_runtime::dsl::window::{self, Window};
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// A gate as the run applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    /// The block's full name (`policy-bundle/canary/decision-errors`).
    pub name: String,
    pub interval_ms: i64,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub error_limit: u32,
}

/// A stage as the run applies it.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub bake_ms: i64,
    /// A percentage (0 to 100).
    pub pause_on_error_rate: Option<f64>,
    /// The rollout's gates, then the stage's.
    pub gates: Vec<GateSpec>,
    /// The remote command each cluster runs after the push.
    pub smoke: Option<String>,
    /// The rollout's windows, then the stage's.
    pub windows: Vec<Window>,
}

/// A pack's `rollout`, read once per run step.
#[derive(Debug, Clone)]
pub struct RolloutSpec {
    pub name: String,
    /// What a failed gate, push or smoke test does: `pause`, `rollback`
    /// or `freeze`.
    pub on_fail: String,
    /// What a gate past its `inconclusive_limit` does.
    pub on_inconclusive: String,
    /// What a gate past its `error_limit` does.
    pub on_error: String,
    pub breaker_failures: u32,
    pub retry_backoff_ms: i64,
    pub dry_run: bool,
    pub stages: Vec<StageSpec>,
    /// How long a push marked `pushing` may be in flight (from the
    /// driver's call timeouts). Until then no one checks or pushes that
    /// cluster again: a replica that took the sweep's lease over waits for
    /// the one that may still be calling. 0 (what the pack gives): no
    /// fence, a `pushing` cluster is checked at once.
    pub in_flight_ms: i64,
}

fn uint(v: &Value, default: u32) -> u32 {
    match v {
        Value::Int(i) if *i >= 0 => u32::try_from(*i).unwrap_or(u32::MAX),
        _ => default,
    }
}

fn millis(v: &Value, default: i64) -> i64 {
    match v {
        Value::Duration(ms) if *ms >= 0 => *ms,
        _ => default,
    }
}

impl RolloutSpec {
    /// The rollout `name` of the pack.
    pub fn from_pack(pack: &PackHandle, name: &str) -> Result<RolloutSpec, String> {
        let r = pack
            .compiled()
            .blocks
            .iter()
            .find(|b| b.kind == "rollout" && b.name == name)
            .ok_or_else(|| format!("no rollout `{name}` in the control_plane pack"))?;
        let gate = |b: &tenet_runtime::ir::CBlock| GateSpec {
            name: b.name.clone(),
            interval_ms: millis(&get(pack, b, "interval"), 60_000).max(1),
            failure_limit: uint(&get(pack, b, "failure_limit"), 0),
            inconclusive_limit: uint(&get(pack, b, "inconclusive_limit"), 0),
            error_limit: uint(&get(pack, b, "error_limit"), 4),
        };
        let rollout_gates: Vec<GateSpec> = pack
            .nested(name, "gate")
            .into_iter()
            .filter(|g| g.name.matches('/').count() == 1)
            .map(gate)
            .collect();
        let rollout_windows = windows(pack, name)?;
        let mut stages = Vec::new();
        for s in pack.nested(name, "stage") {
            let mut gates = rollout_gates.clone();
            gates.extend(pack.nested(&s.name, "gate").into_iter().map(gate));
            let mut ws = rollout_windows.clone();
            ws.extend(windows(pack, &s.name)?);
            stages.push(StageSpec {
                name: s.name.rsplit('/').next().unwrap_or(&s.name).to_string(),
                bake_ms: millis(&get(pack, s, "bake"), 0),
                pause_on_error_rate: match get(pack, s, "pause_on_error_rate") {
                    Value::Percent(p) => Some(p),
                    _ => None,
                },
                gates,
                smoke: match get(pack, s, "smoke") {
                    Value::Str(c) if !c.is_empty() => Some(c.to_string()),
                    _ => None,
                },
                windows: ws,
            });
        }
        // Each defaults to `pause`, as the schema says.
        let outcome = |field: &str| match text(&get(pack, r, field)) {
            t if t.is_empty() => "pause".to_string(),
            t => t,
        };
        Ok(RolloutSpec {
            name: name.to_string(),
            on_fail: outcome("on_fail"),
            on_inconclusive: outcome("on_inconclusive"),
            on_error: outcome("on_error"),
            breaker_failures: uint(&get(pack, r, "breaker_failures"), 3).max(1),
            retry_backoff_ms: millis(&get(pack, r, "retry_backoff"), 1_000),
            dry_run: matches!(get(pack, r, "dry_run"), Value::Bool(true)),
            stages,
            in_flight_ms: 0,
        })
    }

    fn stage(&self, name: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// A cluster as a run starts it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The cluster as gates read it (`cluster.*`).
    pub cluster: serde_json::Value,
    /// `{endpoints.admin}`.
    pub admin: Option<String>,
    /// The bundle it reported before the run.
    pub fingerprint: Option<String>,
}

/// A new run of `bundle` from an allowed `plan`, over `members`.
pub fn start(
    id: &str,
    bundle: &Bundle,
    plan: &Plan,
    members: &BTreeMap<String, Member>,
    actor: &serde_json::Value,
    now: i64,
) -> ActionRun {
    let mut clusters = BTreeMap::new();
    let mut stages = Vec::new();
    for st in &plan.stages {
        for (w, wave) in st.waves.iter().enumerate() {
            for c in wave {
                let m = members.get(c);
                clusters.insert(
                    c.clone(),
                    ClusterRun {
                        id: c.clone(),
                        stage: st.name.clone(),
                        wave: w + 1,
                        state: ClusterState::Pending,
                        attempts: 0,
                        consecutive_failures: 0,
                        last_error: None,
                        next_try_at: None,
                        pushed_at: None,
                        from_fingerprint: m.and_then(|m| m.fingerprint.clone()),
                        admin: m.and_then(|m| m.admin.clone()),
                        cluster: m
                            .map(|m| m.cluster.clone())
                            .unwrap_or(serde_json::Value::Null),
                        gates: BTreeMap::new(),
                        because: None,
                        smoke: None,
                        rollback_failed: false,
                    },
                );
            }
        }
        stages.push(StageRun {
            name: st.name.clone(),
            clusters: st.clusters.clone(),
            per_wave: st.per_wave,
            bake_until: None,
            skipped: st.skipped.clone(),
            done: false,
        });
    }
    ActionRun {
        id: id.to_string(),
        bundle: bundle.clone(),
        rollout: plan.rollout.clone(),
        actor: actor.clone(),
        state: RunState::Pending,
        created_at: now,
        updated_at: now,
        fleet_size: plan.fleet_size,
        stages,
        unmatched: plan.unmatched.clone(),
        clusters,
        reason: None,
        waiting: None,
        frozen: false,
        rolling_back: false,
    }
}

/// One call the driver makes now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// `POST {admin}/bundles` with the bundle (or, for a rollback, the
    /// previous fingerprint) and `Idempotency-Key: key`, then
    /// `GET {admin}/inventory` to verify the fingerprint. With
    /// `check_first`, the inventory is read first: a cluster that already
    /// reports the fingerprint is not pushed again.
    Push {
        cluster: String,
        admin: String,
        key: String,
        fingerprint: String,
        check_first: bool,
        rollback: bool,
    },
    /// `GET {admin}/metrics`: the gates' input.
    Measure { cluster: String, admin: String },
    /// `POST {admin}/exec` with the stage's smoke command.
    Exec {
        cluster: String,
        admin: String,
        command: String,
    },
}

impl Work {
    pub fn cluster(&self) -> &str {
        match self {
            Work::Push { cluster, .. }
            | Work::Measure { cluster, .. }
            | Work::Exec { cluster, .. } => cluster,
        }
    }
}

/// What a call came back with.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The cluster reports the pushed fingerprint.
    Pushed {
        cluster: String,
    },
    PushFailed {
        cluster: String,
        why: String,
    },
    /// The metrics the cluster answered, or why it did not.
    Measured {
        cluster: String,
        metrics: Result<serde_json::Value, String>,
    },
    /// The smoke test's exit code and output, or why it could not run.
    Executed {
        cluster: String,
        result: Result<(i64, String), String>,
    },
    RolledBack {
        cluster: String,
        result: Result<(), String>,
    },
}

/// A change worth an audit event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The audit event's outcome (`cluster_pushed`, `action_paused`...).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub detail: serde_json::Value,
}

fn ev(outcome: &'static str, cluster: Option<&str>, detail: serde_json::Value) -> Event {
    Event {
        outcome,
        cluster: cluster.map(str::to_string),
        detail,
    }
}

fn current_stage(run: &ActionRun) -> Option<usize> {
    run.stages.iter().position(|s| !s.done)
}

fn fmt_time(ms: i64) -> String {
    Timestamp::from_millis(ms).rfc3339()
}

/// What the driver should do now, and what the run waits for if it can
/// do nothing.
pub fn due(run: &ActionRun, spec: &RolloutSpec, now: i64) -> (Vec<Work>, Option<String>) {
    let mut out = Vec::new();
    if !run.state.active() {
        return (out, None);
    }
    let fp = |c: &ClusterRun, n: u32| format!("{}/{}/{}", run.id, c.id, n);
    if run.rolling_back {
        for c in run.clusters.values().filter(|c| needs_rollback(c)) {
            if c.next_try_at.is_some_and(|t| t > now) {
                continue;
            }
            {
                if let (Some(from), Some(admin)) = (&c.from_fingerprint, &c.admin) {
                    out.push(Work::Push {
                        cluster: c.id.clone(),
                        admin: admin.clone(),
                        key: format!("{}/{}/rollback", run.id, c.id),
                        fingerprint: from.clone(),
                        check_first: true,
                        rollback: true,
                    });
                }
            }
        }
        return (out, None);
    }
    let Some(si) = current_stage(run) else {
        return (out, None);
    };
    let stage = &run.stages[si];
    let Some(sspec) = spec.stage(&stage.name) else {
        return (
            out,
            Some(format!(
                "stage `{}` is no longer in the rollout",
                stage.name
            )),
        );
    };
    let mine: Vec<&ClusterRun> = stage
        .clusters
        .iter()
        .filter_map(|c| run.clusters.get(c))
        .collect();
    let open_wave = mine
        .iter()
        .filter(|c| !c.state.settled())
        .map(|c| c.wave)
        .min();
    let mut waiting = None;
    if let Some(w) = open_wave {
        let mut pushes = Vec::new();
        let mut starts_new = false;
        for c in mine.iter().filter(|c| c.wave == w) {
            let Some(admin) = c.admin.clone() else {
                continue;
            };
            match c.state {
                ClusterState::Pending if c.next_try_at.is_none_or(|t| t <= now) => {
                    starts_new = true;
                    pushes.push(Work::Push {
                        cluster: c.id.clone(),
                        admin,
                        key: fp(c, c.attempts + 1),
                        fingerprint: run.bundle.fingerprint.clone(),
                        check_first: c.attempts > 0,
                        rollback: false,
                    });
                }
                // A push in flight (a restart, or another replica): checked
                // first, once it can no longer be in flight.
                ClusterState::Pushing if c.next_try_at.is_none_or(|t| t <= now) => {
                    pushes.push(Work::Push {
                        cluster: c.id.clone(),
                        admin,
                        key: fp(c, c.attempts.max(1)),
                        fingerprint: run.bundle.fingerprint.clone(),
                        check_first: true,
                        rollback: false,
                    })
                }
                ClusterState::Pushing => {
                    if let Some(t) = c.next_try_at {
                        waiting = Some(format!(
                            "a push to {} may still be in flight; it is checked at {}",
                            c.id,
                            fmt_time(t)
                        ));
                    }
                }
                ClusterState::Smoke if c.next_try_at.is_none_or(|t| t <= now) => {
                    if let Some(cmd) = c.smoke.as_ref().or(sspec.smoke.as_ref()) {
                        out.push(Work::Exec {
                            cluster: c.id.clone(),
                            admin,
                            command: cmd.clone(),
                        });
                    }
                }
                ClusterState::Pending => {
                    if let Some(t) = c.next_try_at {
                        waiting = Some(format!("{} retries its push at {}", c.id, fmt_time(t)));
                    }
                }
                _ => {}
            }
        }
        if starts_new {
            let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
            match window::allows(&sspec.windows, at) {
                Ok(v) if !v.allowed => {
                    let next = window::next_allowed(&sspec.windows, at)
                        .ok()
                        .flatten()
                        .map(|t| {
                            format!(
                                "; it opens at {}",
                                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                            )
                        })
                        .unwrap_or_default();
                    waiting = Some(format!("stage `{}` waits: {}{next}", stage.name, v.reason));
                    // Only a push already in flight (a restart) is checked.
                    pushes.retain(|p| {
                        run.clusters
                            .get(p.cluster())
                            .is_some_and(|c| c.state == ClusterState::Pushing)
                    });
                }
                Err(e) => {
                    waiting = Some(format!(
                        "stage `{}` waits: its windows cannot be read: {e}",
                        stage.name
                    ));
                    pushes.retain(|p| {
                        run.clusters
                            .get(p.cluster())
                            .is_some_and(|c| c.state == ClusterState::Pushing)
                    });
                }
                Ok(_) => {}
            }
        }
        out.extend(pushes);
    }
    // Gates, on every pushed cluster of the stage until its bake ends.
    for c in mine.iter().filter(|c| c.state == ClusterState::Baking) {
        let Some(admin) = &c.admin else { continue };
        let is_due = sspec.gates.iter().any(|g| {
            c.gates
                .get(&g.name)
                .and_then(|n| n.last_at)
                .is_none_or(|t| now >= t + g.interval_ms)
        });
        let bake_over = stage.bake_until.is_some_and(|t| now >= t);
        let all_measured = sspec
            .gates
            .iter()
            .all(|g| c.gates.get(&g.name).is_some_and(|n| n.measured > 0));
        if is_due && !(bake_over && all_measured) {
            out.push(Work::Measure {
                cluster: c.id.clone(),
                admin: admin.clone(),
            });
        }
    }
    if out.is_empty() && waiting.is_none() {
        if let Some(t) = stage.bake_until.filter(|t| *t > now) {
            waiting = Some(format!(
                "stage `{}` bakes until {}",
                stage.name,
                fmt_time(t)
            ));
        }
    }
    (out, waiting)
}

/// Marks the pushes of `works` as started (persist this before calling
/// out): a cluster becomes `pushing` (in flight for the spec's
/// `in_flight_ms`), and a new push counts an attempt.
pub fn mark(run: &mut ActionRun, spec: &RolloutSpec, works: &[Work], now: i64) -> Vec<Event> {
    let in_flight = (spec.in_flight_ms > 0).then(|| now + spec.in_flight_ms);
    let mut events = Vec::new();
    for w in works {
        if let Work::Push {
            cluster,
            key,
            rollback: false,
            ..
        } = w
        {
            if let Some(c) = run.clusters.get_mut(cluster) {
                if c.state == ClusterState::Pushing {
                    // Checked again: in flight again (saved before the call).
                    c.next_try_at = in_flight;
                    events.push(ev(
                        "push_rechecked",
                        Some(cluster),
                        serde_json::json!({"attempt": c.attempts, "key": key}),
                    ));
                } else if c.state == ClusterState::Pending {
                    c.state = ClusterState::Pushing;
                    c.attempts += 1;
                    c.next_try_at = in_flight;
                    events.push(ev(
                        "push_started",
                        Some(cluster),
                        serde_json::json!({"attempt": c.attempts, "key": key}),
                    ));
                }
            }
        }
    }
    if !events.is_empty() {
        run.updated_at = now;
    }
    events
}

/// The gates of `stage` a decision on `metrics` fails and leaves
/// inconclusive.
fn judge(
    pack: &PackHandle,
    run: &ActionRun,
    c: &ClusterRun,
    metrics: &serde_json::Value,
    now: i64,
) -> (Vec<String>, Vec<String>) {
    let input = serde_json::json!({
        "plan": {
            "fleet_size": run.fleet_size,
            "clusters": [c.cluster],
            "stage": c.stage,
            "rollout": run.rollout,
        },
        "actor": run.actor,
        "cluster": c.cluster,
        "metrics": metrics,
    });
    let opts = DecideOptions {
        now: Some(Timestamp::from_millis(now).rfc3339()),
        ..Default::default()
    };
    let d = pack.decide(&Value::from_json(&input), &opts);
    (
        d.matched
            .iter()
            .filter(|m| m.kind == "gate" && !m.dry_run)
            .map(|m| m.block.clone())
            .collect(),
        d.inconclusive.clone(),
    )
}

/// Applies what the pack says an outcome does (`on_fail`,
/// `on_inconclusive`, `on_error`): `rollback`, `freeze`, or else `pause`.
fn apply(run: &mut ActionRun, action: &str, because: &str, now: i64, events: &mut Vec<Event>) {
    match action {
        "rollback" => {
            if !run.rolling_back && !run.frozen {
                run.rolling_back = true;
                run.reason = Some(format!("rolling back because {because}"));
                run.waiting = None;
                // A pause in the same step does not stop the rollback.
                if run.state == RunState::Paused {
                    let _ = run.become_(RunState::Running, now);
                }
                events.push(ev(
                    "rollback_started",
                    None,
                    serde_json::json!({"because": because}),
                ));
            }
        }
        "freeze" if !run.rolling_back && !run.frozen => {
            run.frozen = true;
            run.reason = Some(format!(
                "frozen because {because}; every cluster is left as it is and the run cannot be resumed"
            ));
            let _ = run.become_(RunState::Failed, now);
            events.push(ev(
                "action_frozen",
                None,
                serde_json::json!({"because": because}),
            ));
        }
        "freeze" => {}
        _ => pause(run, because, now, events),
    }
}

/// Whether a rollback still has to restore `c`: it was pushed (or may
/// have been: a push that failed or timed out may have landed), and its
/// rollback has not given up.
fn needs_rollback(c: &ClusterRun) -> bool {
    c.attempts > 0 && c.state != ClusterState::RolledBack && !c.rollback_failed
}

fn pause(run: &mut ActionRun, because: &str, now: i64, events: &mut Vec<Event>) {
    // A rollback or a freeze under way is not paused.
    if run.rolling_back || run.frozen {
        return;
    }
    if run.state == RunState::Running && run.become_(RunState::Paused, now).is_ok() {
        run.reason = Some(format!("paused because {because}"));
        run.waiting = None;
        events.push(ev(
            "action_paused",
            None,
            serde_json::json!({"because": because}),
        ));
    }
}

/// Whether the quarantined clusters of `stage` pass its
/// `pause_on_error_rate`; the sentence that says so.
fn error_rate(run: &ActionRun, spec: &RolloutSpec, stage: &str) -> Option<String> {
    let threshold = spec.stage(stage)?.pause_on_error_rate?;
    let st = run.stages.iter().find(|s| s.name == stage)?;
    let tried: Vec<&ClusterRun> = st
        .clusters
        .iter()
        .filter_map(|c| run.clusters.get(c))
        .filter(|c| c.attempts > 0)
        .collect();
    let bad: Vec<&ClusterRun> = tried
        .iter()
        .copied()
        .filter(|c| matches!(c.state, ClusterState::Quarantined | ClusterState::Failed))
        .collect();
    // Of the clusters tried so far: a first wave that all fails trips it.
    let n = tried.len().max(1);
    let rate = bad.len() as f64 * 100.0 / n as f64;
    (rate > threshold).then(|| {
        let first = bad.first().map(|c| {
            format!(
                ": {} {} ({})",
                c.id,
                if c.state == ClusterState::Failed {
                    "failed"
                } else {
                    "was quarantined"
                },
                c.because.clone().unwrap_or_default()
            )
        });
        format!(
            "stage `{stage}`'s error rate is {} of the {n} cluster(s) tried ({}), above its pause_on_error_rate of {}{}",
            bad.len(),
            pct(rate),
            pct(threshold),
            first.unwrap_or_default()
        )
    })
}

fn pct(p: f64) -> String {
    let s = format!("{p:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// The wait before retry `n` (1-based) of a failed call.
fn backoff(spec: &RolloutSpec, n: u32) -> i64 {
    spec.retry_backoff_ms
        .saturating_mul(1 << n.saturating_sub(1).min(10))
        .min(300_000)
}

/// Records what came back from the calls.
pub fn record(
    run: &mut ActionRun,
    spec: &RolloutSpec,
    pack: &PackHandle,
    outcomes: Vec<Outcome>,
    now: i64,
) -> Vec<Event> {
    let mut events = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Pushed { cluster } => {
                let smoke = run
                    .clusters
                    .get(&cluster)
                    .and_then(|c| spec.stage(&c.stage))
                    .and_then(|s| s.smoke.clone());
                if let Some(c) = run.clusters.get_mut(&cluster) {
                    if c.state != ClusterState::Pushing {
                        continue;
                    }
                    c.state = if smoke.is_some() {
                        ClusterState::Smoke
                    } else {
                        ClusterState::Baking
                    };
                    c.pushed_at = Some(now);
                    c.next_try_at = None;
                    c.smoke = smoke.clone();
                    c.consecutive_failures = 0;
                    c.last_error = None;
                    events.push(ev(
                        "cluster_pushed",
                        Some(&cluster),
                        serde_json::json!({"attempt": c.attempts, "fingerprint": run.bundle.fingerprint}),
                    ));
                }
            }
            Outcome::PushFailed { cluster, why } => {
                let Some(c) = run.clusters.get_mut(&cluster) else {
                    continue;
                };
                if c.state != ClusterState::Pushing {
                    continue;
                }
                c.consecutive_failures += 1;
                c.last_error = Some(why.clone());
                if c.consecutive_failures >= spec.breaker_failures {
                    c.state = ClusterState::Quarantined;
                    c.next_try_at = None;
                    let because = format!(
                        "{} failed push(es) in a row, the circuit breaker's limit; last: {why}",
                        c.consecutive_failures
                    );
                    c.because = Some(because.clone());
                    let stage = c.stage.clone();
                    events.push(ev(
                        "cluster_quarantined",
                        Some(&cluster),
                        serde_json::json!({"attempts": c.attempts, "because": because}),
                    ));
                    if let Some(reason) = error_rate(run, spec, &stage) {
                        pause(run, &reason, now, &mut events);
                    }
                } else {
                    let backoff = backoff(spec, c.consecutive_failures);
                    c.state = ClusterState::Pending;
                    c.next_try_at = Some(now + backoff);
                    events.push(ev(
                        "push_failed",
                        Some(&cluster),
                        serde_json::json!({"attempt": c.attempts, "why": why, "retry_at": fmt_time(now + backoff)}),
                    ));
                }
            }
            Outcome::Executed { cluster, result } => {
                let Some(c) = run.clusters.get_mut(&cluster) else {
                    continue;
                };
                if c.state != ClusterState::Smoke {
                    continue;
                }
                match result {
                    Ok((0, _)) => {
                        c.state = ClusterState::Baking;
                        c.consecutive_failures = 0;
                        c.next_try_at = None;
                        events.push(ev("smoke_passed", Some(&cluster), serde_json::json!({})));
                    }
                    Ok((code, output)) => {
                        let because = format!(
                            "the smoke test on {cluster} exited {code}: {}",
                            output.trim().chars().take(200).collect::<String>()
                        );
                        c.state = ClusterState::Failed;
                        c.because = Some(because.clone());
                        events.push(ev(
                            "cluster_failed",
                            Some(&cluster),
                            serde_json::json!({"because": because}),
                        ));
                        apply(run, &spec.on_fail, &because, now, &mut events);
                    }
                    Err(why) => {
                        // The smoke test could not run: an error of the
                        // cluster, counted by the breaker like a push's.
                        c.consecutive_failures += 1;
                        c.last_error = Some(why.clone());
                        if c.consecutive_failures >= spec.breaker_failures {
                            c.state = ClusterState::Quarantined;
                            let because = format!(
                                "its smoke test could not run {} time(s) in a row; last: {why}",
                                c.consecutive_failures
                            );
                            c.because = Some(because.clone());
                            let stage = c.stage.clone();
                            events.push(ev(
                                "cluster_quarantined",
                                Some(&cluster),
                                serde_json::json!({"because": because}),
                            ));
                            if let Some(reason) = error_rate(run, spec, &stage) {
                                pause(run, &reason, now, &mut events);
                            }
                        } else {
                            let backoff = backoff(spec, c.consecutive_failures);
                            c.next_try_at = Some(now + backoff);
                            events.push(ev(
                                "smoke_error",
                                Some(&cluster),
                                serde_json::json!({"why": why, "retry_at": fmt_time(now + backoff)}),
                            ));
                        }
                    }
                }
            }
            Outcome::Measured { cluster, metrics } => {
                let Some(c) = run.clusters.get(&cluster) else {
                    continue;
                };
                if c.state != ClusterState::Baking {
                    continue;
                }
                let Some(sspec) = spec.stage(&c.stage) else {
                    continue;
                };
                let verdict = metrics
                    .as_ref()
                    .map(|m| judge(pack, run, c, m, now))
                    .map_err(Clone::clone);
                let mut failed = None;
                // What a gate past its inconclusive or error limit does.
                let mut held: Option<(&str, String)> = None;
                let c = match run.clusters.get_mut(&cluster) {
                    Some(c) => c,
                    None => continue,
                };
                let mut measured = Vec::new();
                for g in &sspec.gates {
                    let n = c
                        .gates
                        .entry(g.name.clone())
                        .or_insert_with(GateCount::default);
                    if n.last_at.is_some_and(|t| now < t + g.interval_ms) {
                        continue;
                    }
                    n.last_at = Some(now);
                    if verdict.is_ok() {
                        // Only an answer counts as a measurement.
                        n.measured += 1;
                    }
                    let short = g.name.rsplit('/').next().unwrap_or(&g.name).to_string();
                    let result = match &verdict {
                        Err(why) => {
                            n.errors += 1;
                            if n.errors > g.error_limit && held.is_none() {
                                held = Some((&spec.on_error, format!(
                                    "gate `{short}` could not be measured on {cluster}: {} consecutive error(s), more than its error_limit of {} (last: {why})",
                                    n.errors, g.error_limit
                                )));
                            }
                            "error"
                        }
                        Ok((fails, inconclusive)) => {
                            n.errors = 0;
                            if fails.contains(&g.name) {
                                n.failures += 1;
                                if n.failures > g.failure_limit && failed.is_none() {
                                    failed = Some(format!(
                                        "gate `{short}` failed on {cluster}: {} failed measurement(s), more than its failure_limit of {}",
                                        n.failures, g.failure_limit
                                    ));
                                }
                                "failure"
                            } else if inconclusive.contains(&g.name) {
                                n.inconclusive += 1;
                                if n.inconclusive > g.inconclusive_limit && held.is_none() {
                                    held = Some((&spec.on_inconclusive, format!(
                                        "gate `{short}` was inconclusive on {cluster}: {} measurement(s) without data, more than its inconclusive_limit of {}",
                                        n.inconclusive, g.inconclusive_limit
                                    )));
                                }
                                "inconclusive"
                            } else {
                                "pass"
                            }
                        }
                    };
                    measured.push(serde_json::json!({"gate": short, "result": result}));
                }
                events.push(ev(
                    "gates_measured",
                    Some(&cluster),
                    serde_json::json!({"gates": measured}),
                ));
                if let Some(because) = failed {
                    c.state = ClusterState::Failed;
                    c.because = Some(because.clone());
                    events.push(ev(
                        "cluster_failed",
                        Some(&cluster),
                        serde_json::json!({"because": because}),
                    ));
                    apply(run, &spec.on_fail, &because, now, &mut events);
                } else if let Some((action, because)) = held {
                    apply(run, action, &because, now, &mut events);
                }
            }
            Outcome::RolledBack { cluster, result } => {
                let Some(c) = run.clusters.get_mut(&cluster) else {
                    continue;
                };
                match result {
                    Ok(()) => {
                        c.state = ClusterState::RolledBack;
                        c.next_try_at = None;
                        events.push(ev(
                            "cluster_rolled_back",
                            Some(&cluster),
                            serde_json::json!({"to": c.from_fingerprint}),
                        ));
                    }
                    Err(why) => {
                        c.consecutive_failures += 1;
                        c.last_error = Some(why.clone());
                        events.push(ev(
                            "rollback_failed",
                            Some(&cluster),
                            serde_json::json!({"why": why}),
                        ));
                        if c.consecutive_failures >= spec.breaker_failures {
                            c.rollback_failed = true;
                            c.because = Some(format!(
                                "its rollback failed {} time(s) in a row; last: {why}",
                                c.consecutive_failures
                            ));
                        } else {
                            c.next_try_at = Some(now + backoff(spec, c.consecutive_failures));
                        }
                    }
                }
            }
        }
    }
    if !events.is_empty() {
        run.updated_at = now;
    }
    events
}

/// Moves the run, its stages and their clusters as far as `now` allows.
pub fn advance(run: &mut ActionRun, spec: &RolloutSpec, now: i64) -> Vec<Event> {
    let mut events = Vec::new();
    if run.state == RunState::Pending && run.become_(RunState::Running, now).is_ok() {
        events.push(ev(
            "action_started",
            None,
            serde_json::json!({"bundle": run.bundle.reference(), "clusters": run.clusters.len()}),
        ));
    }
    if run.state != RunState::Running {
        return events;
    }
    if run.rolling_back {
        let left = run
            .clusters
            .values()
            .any(|c| needs_rollback(c) && c.from_fingerprint.is_some() && c.admin.is_some());
        if !left {
            let unknown: Vec<String> = run
                .clusters
                .values()
                .filter(|c| needs_rollback(c))
                .map(|c| c.id.clone())
                .collect();
            let gave_up: Vec<String> = run
                .clusters
                .values()
                .filter(|c| c.rollback_failed)
                .map(|c| c.id.clone())
                .collect();
            let because = run.reason.clone().unwrap_or_default();
            let mut r = because.clone();
            if unknown.is_empty() && gave_up.is_empty() {
                r.push_str("; every pushed cluster has its previous bundle back");
            }
            if !unknown.is_empty() {
                r.push_str(&format!(
                    "; cannot roll back {} (their previous bundle is unknown)",
                    unknown.join(", ")
                ));
            }
            if !gave_up.is_empty() {
                r.push_str(&format!(
                    "; the rollback of {} failed: they may still run the bundle",
                    gave_up.join(", ")
                ));
            }
            run.reason = Some(r);
            let _ = run.become_(RunState::Failed, now);
            events.push(ev(
                "action_failed",
                None,
                serde_json::json!({"because": run.reason}),
            ));
        }
        return events;
    }
    loop {
        let Some(si) = current_stage(run) else {
            let quarantined: Vec<String> = run
                .clusters
                .values()
                .filter(|c| c.state == ClusterState::Quarantined)
                .map(|c| c.id.clone())
                .collect();
            let ok = run
                .clusters
                .values()
                .filter(|c| c.state == ClusterState::Succeeded)
                .count();
            run.reason = (!quarantined.is_empty()).then(|| {
                format!(
                    "succeeded on {ok} of {} cluster(s); quarantined, the bundle not verified on them: {} (resume retries them)",
                    run.clusters.len(),
                    quarantined.join(", ")
                )
            });
            run.waiting = None;
            let _ = run.become_(RunState::Succeeded, now);
            events.push(ev(
                "action_succeeded",
                None,
                serde_json::json!({"succeeded": ok, "quarantined": quarantined}),
            ));
            return events;
        };
        if spec.stage(&run.stages[si].name).is_none() && run.stages[si].skipped.is_none() {
            let because = format!(
                "stage `{}` is no longer in rollout `{}` of the served pack",
                run.stages[si].name, run.rollout
            );
            pause(run, &because, now, &mut events);
            return events;
        }
        let bake = spec
            .stage(&run.stages[si].name)
            .map(|s| s.bake_ms)
            .unwrap_or(0);
        let gates: Vec<String> = spec
            .stage(&run.stages[si].name)
            .map(|s| s.gates.iter().map(|g| g.name.clone()).collect())
            .unwrap_or_default();
        let stage = run.stages[si].clone();
        if let Some(why) = &stage.skipped {
            run.stages[si].done = true;
            events.push(ev(
                "stage_skipped",
                None,
                serde_json::json!({"stage": stage.name, "because": why}),
            ));
            continue;
        }
        let mine: Vec<&ClusterRun> = stage
            .clusters
            .iter()
            .filter_map(|c| run.clusters.get(c))
            .collect();
        if !mine.iter().all(|c| c.state.settled()) {
            return events;
        }
        let Some(until) = stage.bake_until else {
            run.stages[si].bake_until = Some(now + bake);
            events.push(ev(
                "stage_baking",
                None,
                serde_json::json!({"stage": stage.name, "until": fmt_time(now + bake)}),
            ));
            continue;
        };
        let measured = mine
            .iter()
            .filter(|c| c.state == ClusterState::Baking)
            .all(|c| {
                gates
                    .iter()
                    .all(|g| c.gates.get(g).is_some_and(|n| n.measured > 0))
            });
        if now < until || !measured {
            return events;
        }
        let baked: Vec<String> = mine
            .iter()
            .filter(|c| c.state == ClusterState::Baking)
            .map(|c| c.id.clone())
            .collect();
        for id in &baked {
            if let Some(c) = run.clusters.get_mut(id) {
                c.state = ClusterState::Succeeded;
                events.push(ev("cluster_succeeded", Some(id), serde_json::json!({})));
            }
        }
        run.stages[si].done = true;
        run.waiting = None;
        events.push(ev(
            "stage_done",
            None,
            serde_json::json!({"stage": stage.name, "succeeded": baked.len()}),
        ));
    }
}

/// Resumes a paused run (or one that finished with quarantined
/// clusters): the failed and quarantined clusters are pushed again from
/// their cursor, the baking ones measured afresh; the succeeded ones are
/// left alone.
pub fn resume(run: &mut ActionRun, now: i64) -> Result<Vec<Event>, String> {
    let retry: Vec<String> = run
        .clusters
        .values()
        .filter(|c| matches!(c.state, ClusterState::Failed | ClusterState::Quarantined))
        .map(|c| c.id.clone())
        .collect();
    let why_not = match run.state {
        RunState::Running | RunState::Paused if run.rolling_back => Some(format!(
            "is rolling back ({}) and cannot be resumed",
            run.reason.clone().unwrap_or_default()
        )),
        RunState::Paused if run.frozen => {
            Some("was frozen by `on_fail freeze`; start a new apply".to_string())
        }
        RunState::Paused => None,
        RunState::Succeeded if !retry.is_empty() => None,
        RunState::Succeeded => {
            Some("succeeded on every cluster: there is nothing to resume".to_string())
        }
        RunState::Pending | RunState::Running => Some("is already running".to_string()),
        RunState::Failed if run.frozen => Some(format!(
            "was frozen by `on_fail freeze` and cannot be resumed ({}); start a new apply",
            run.reason.clone().unwrap_or_default()
        )),
        RunState::Failed => Some(format!(
            "failed and cannot be resumed ({}); start a new apply",
            run.reason.clone().unwrap_or_default()
        )),
    };
    if let Some(w) = why_not {
        return Err(format!("action {} {w}", run.id));
    }
    let mut stages_back = Vec::new();
    for c in run.clusters.values_mut() {
        match c.state {
            ClusterState::Failed | ClusterState::Quarantined => {
                c.state = ClusterState::Pending;
                c.consecutive_failures = 0;
                c.next_try_at = None;
                c.because = None;
                c.smoke = None;
                c.gates.clear();
                stages_back.push(c.stage.clone());
            }
            ClusterState::Baking => {
                c.gates.clear();
            }
            _ => {}
        }
    }
    for s in run.stages.iter_mut() {
        if stages_back.contains(&s.name) {
            s.done = false;
            s.bake_until = None;
        }
    }
    let was = run.reason.take();
    run.waiting = None;
    run.become_(RunState::Running, now)?;
    Ok(vec![ev(
        "action_resumed",
        None,
        serde_json::json!({"retry": retry, "was": was}),
    )])
}
