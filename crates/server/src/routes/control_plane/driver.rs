//! The rollout driver: the `control-plane.rollout` sweep moves every
//! pending or running action run with [`tenet_control_plane::rollout`],
//! making the calls it asks for.
//!
//! One step: [`rollout::advance`], then [`rollout::due`]; the pushes about
//! to start are marked and **saved before any call** (a server killed
//! mid-push finds those clusters `pushing` and checks them before pushing
//! again, with the same idempotency key); the calls run at most
//! `control_plane.parallel` at once (smoke tests at most
//! `control_plane.exec_parallel`), each with `control_plane.timeout`; what
//! came back is recorded and saved. Every save is conditional on the
//! run's version with the step's audit events in the same transaction: a
//! resume, or another replica, that moved the run first wins, and this
//! step writes nothing.
//!
//! The calls, on a cluster's `admin` endpoint (what the synthetic
//! clusters of the tests serve):
//! - `POST {admin}/bundles` `{name, version, fingerprint, dependencies,
//!   rollback, action}` with `Idempotency-Key`; then `GET
//!   {admin}/inventory` must report the fingerprint, or the push failed
//!   (a cluster that acknowledges a push it did not apply is caught);
//! - `GET {admin}/metrics`: a JSON object, the gates' `metrics`;
//! - `POST {admin}/exec` `{command, action}` → `{exit_code, output}`.

use crate::clock::now_rfc3339;
use crate::routes::now_ms;
use crate::state::AppState;
use axum::http::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenet_control_plane::action::ActionRun;
use tenet_control_plane::model::Inventory;
use tenet_control_plane::rollout::{self, Event, Outcome, RolloutSpec, Work};
use tenet_control_plane::store as cps;
use tenet_store::{AuditEvent, StoreError};

/// The longest one sweep drives one run: no new round of calls starts
/// after this or after one sweep interval (the sweep's lease lasts three),
/// whichever is shorter.
const STEP_BUDGET: Duration = Duration::from_secs(20);

/// The audit events of a run's step; `version` is the run's version the
/// step starts from (it tells two steps' events apart).
pub fn audit(run: &ActionRun, events: &[Event], bundle: &str, version: i64) -> Vec<AuditEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut details = json!({"action": run.id, "bundle": run.bundle.reference()});
            if let (Some(m), Some(d)) = (details.as_object_mut(), e.detail.as_object()) {
                m.extend(d.clone());
            }
            AuditEvent {
                id: 0,
                action_id: format!("{}-v{version}-{i}-{}", run.id, e.outcome),
                at: now_rfc3339(),
                source: tenet_control_plane::MODULE.into(),
                subject: e.cluster.clone().unwrap_or_else(|| run.id.clone()),
                actor: "control-plane.rollout".into(),
                scope: "fleet".into(),
                outcome: e.outcome.into(),
                reason: e
                    .detail
                    .get("because")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                latency_ms: 0,
                details,
                tenant: None,
                bundle: Some(bundle.to_string()),
            }
        })
        .collect()
}

/// The notifications a step's events make: a paused, failed or frozen run
/// and a quarantined cluster.
pub fn notices(run: &ActionRun, events: &[Event], version: i64) -> Vec<tenet_notify::Notification> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.outcome,
                "action_paused" | "action_failed" | "action_frozen" | "cluster_quarantined"
            )
        })
        .map(|e| tenet_notify::Notification {
            id: format!(
                "{}-v{version}-{}-{}",
                run.id,
                e.outcome,
                e.cluster.clone().unwrap_or_default()
            ),
            module: tenet_control_plane::MODULE.into(),
            kind: e.outcome.into(),
            tenant: None,
            subject: e.cluster.clone().unwrap_or_else(|| run.id.clone()),
            severity: if e.outcome == "cluster_quarantined" {
                "warning".into()
            } else {
                "critical".into()
            },
            payload: json!({
                "action": run.id,
                "bundle": run.bundle.reference(),
                "because": e.detail.get("because"),
                "links": {"self": format!("/v1/actions/{}", run.id)},
            }),
            created_at: now_rfc3339(),
        })
        .collect()
}

/// The notifications of new drifts (`DriftDetected`).
pub fn drift_notices(new: &[tenet_control_plane::model::Drift]) -> Vec<tenet_notify::Notification> {
    new.iter()
        .map(|d| tenet_notify::Notification {
            // The key holds NULs: its digest names the notice (a header).
            id: {
                use sha2::{Digest, Sha256};
                format!(
                    "drift-{}",
                    &hex::encode(Sha256::digest(d.key().as_bytes()))[..24]
                )
            },
            module: tenet_control_plane::MODULE.into(),
            kind: "drift_detected".into(),
            tenant: None,
            subject: d.cluster.clone(),
            severity: "warning".into(),
            payload: serde_json::to_value(d).unwrap_or_default(),
            created_at: now_rfc3339(),
        })
        .collect()
}

/// Sends `notes` on `control_plane.notify`, from any thread; a note that
/// is not delivered is logged and audited (`notify_failed`).
pub fn send_blocking(state: &AppState, notes: Vec<tenet_notify::Notification>) {
    let Some(channel) = state.control_plane.notify.clone() else {
        return;
    };
    if notes.is_empty() {
        return;
    }
    let failed: Vec<(tenet_notify::Notification, String)> = std::thread::scope(|s| {
        s.spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return Vec::new();
            };
            rt.block_on(async {
                let mut failed = Vec::new();
                for n in notes {
                    let d = channel.send(&n).await;
                    if !d.is_delivered() {
                        failed.push((n, d.outcome().to_string()));
                    }
                }
                failed
            })
        })
        .join()
        .unwrap_or_default()
    });
    for (n, outcome) in failed {
        tracing::warn!(kind = %n.kind, subject = %n.subject, outcome = %outcome, "a control-plane notice was not delivered");
        let ev = AuditEvent {
            id: 0,
            action_id: format!("notify-{}", n.id),
            at: now_rfc3339(),
            source: tenet_control_plane::MODULE.into(),
            subject: n.subject.clone(),
            actor: "notify".into(),
            scope: "fleet".into(),
            outcome: "notify_failed".into(),
            reason: Some(format!("{} was not delivered: {outcome}", n.kind)),
            latency_ms: 0,
            details: json!({"kind": n.kind, "delivery": outcome, "target": channel.target()}),
            tenant: None,
            bundle: None,
        };
        let _ = state.control_plane.store().record_audit(&ev);
    }
}

/// The `control-plane.rollout` sweep: drives every pending or running
/// run, oldest first, within one sweep interval (the rest wait for the
/// next sweep); a run that fails to move is logged and the others go on.
pub fn sweep(state: &AppState) -> Result<u64, StoreError> {
    let started = Instant::now();
    let mut active = cps::actions(&state.control_plane.store(), &["pending", "running"], 1000)?;
    active.reverse();
    let mut moved = 0;
    for (_, run) in active {
        if started.elapsed() > state.config.sweeps.interval {
            break;
        }
        match drive(state, &run.id) {
            Ok(n) => moved += n,
            Err(e) => {
                tracing::warn!(action = %run.id, error = %e, "control-plane: a rollout step failed")
            }
        }
    }
    Ok(moved)
}

/// Drives one run as far as it can go now (at most [`STEP_BUDGET`]); the
/// number of steps saved.
pub fn drive(state: &AppState, id: &str) -> Result<u64, StoreError> {
    let bundle = state.bundle.load_full();
    let fingerprint = state.fingerprint();
    let Some((mut version, mut run)) = cps::action(&state.control_plane.store(), id)? else {
        return Ok(0);
    };
    let spec = tenet_control_plane::pack(&bundle.rules)
        .map_err(|e| format!("the served rules have no usable control_plane pack ({e:?})"))
        .and_then(|pack| RolloutSpec::from_pack(&pack, &run.rollout).map(|s| (pack, s)));
    let (pack, mut spec) = match spec {
        Ok(x) => x,
        Err(e) => {
            // The served pack cannot drive it: a person decides.
            use tenet_control_plane::action::RunState;
            let now = now_ms();
            if run.state == RunState::Pending {
                let _ = run.become_(RunState::Running, now);
            }
            if run.state == RunState::Running && run.become_(RunState::Paused, now).is_ok() {
                let because = format!("the served pack cannot drive it: {e}");
                run.reason = Some(format!("paused because {because}"));
                let events = vec![Event {
                    outcome: "action_paused",
                    cluster: None,
                    detail: json!({"because": because}),
                }];
                let evs = audit(&run, &events, &fingerprint, version);
                if cps::save_action(&mut state.control_plane.store(), &run, version, evs)?.is_some()
                {
                    send_blocking(state, notices(&run, &events, version));
                }
            }
            return Ok(0);
        }
    };
    let cfg = state.config.control_plane.clone();
    let started = Instant::now();
    let mut saved = 0;
    loop {
        let now = now_ms();
        let mut events = rollout::advance(&mut run, &spec, now);
        let (works, waiting) = rollout::due(&run, &spec, now);
        let waiting_changed = run.waiting != waiting;
        run.waiting = waiting;
        // Out of time: nothing is marked that will not be called now.
        let out_of_time = started.elapsed() > STEP_BUDGET.min(state.config.sweeps.interval);
        if !out_of_time {
            spec.in_flight_ms = in_flight_ms(&works, &cfg, state.config.sweeps.interval);
            events.extend(rollout::mark(&mut run, &spec, &works, now));
        }
        if !events.is_empty() || waiting_changed {
            let notes = notices(&run, &events, version);
            let evs = audit(&run, &events, &fingerprint, version);
            match cps::save_action(&mut state.control_plane.store(), &run, version, evs)? {
                Some(v) => version = v,
                None => return Ok(saved), // moved by someone else: next sweep
            }
            saved += 1;
            send_blocking(state, notes);
        }
        if works.is_empty() || out_of_time {
            return Ok(saved);
        }
        let only_measures = works.iter().all(|w| matches!(w, Work::Measure { .. }));
        let (outcomes, inventories) = call(&run, &works, &cfg);
        {
            let mut store = state.control_plane.store();
            for (cluster, inv) in &inventories {
                cps::record_inventory(&mut store, cluster, inv)?;
            }
        }
        let events = rollout::record(&mut run, &spec, &pack, outcomes, now_ms());
        let notes = notices(&run, &events, version);
        let evs = audit(&run, &events, &fingerprint, version);
        match cps::save_action(&mut state.control_plane.store(), &run, version, evs)? {
            Some(v) => version = v,
            None => return Ok(saved),
        }
        saved += 1;
        send_blocking(state, notes);
        if only_measures {
            // Gates are measured on their interval: the next sweep goes on.
            let now = now_ms();
            let events = rollout::advance(&mut run, &spec, now);
            if !events.is_empty() {
                let notes = notices(&run, &events, version);
                let evs = audit(&run, &events, &fingerprint, version);
                if let Some(v) =
                    cps::save_action(&mut state.control_plane.store(), &run, version, evs)?
                {
                    version = v;
                    saved += 1;
                    send_blocking(state, notes);
                    let _ = version;
                }
            }
            return Ok(saved);
        }
    }
}

/// Makes the calls of `works`; their outcomes, and the inventories the
/// clusters verified a push with (kept in the registry).
fn call(
    run: &ActionRun,
    works: &[Work],
    cfg: &crate::config::ControlPlaneConfig,
) -> (Vec<Outcome>, Vec<(String, Inventory)>) {
    let body = |fingerprint: &str, rollback: bool| {
        json!({
            "name": run.bundle.name,
            "version": run.bundle.version,
            "fingerprint": fingerprint,
            "dependencies": run.bundle.dependencies,
            "rollback": rollback,
            "action": run.id,
        })
    };
    let jobs: Vec<(Work, Value)> = works
        .iter()
        .map(|w| {
            let b = match w {
                Work::Push {
                    fingerprint,
                    rollback,
                    ..
                } => body(fingerprint, *rollback),
                Work::Exec { command, .. } => json!({"command": command, "action": run.id}),
                Work::Measure { .. } => Value::Null,
            };
            (w.clone(), b)
        })
        .collect();
    let timeout = cfg.timeout;
    let parallel = cfg.parallel.max(1);
    let exec_parallel = cfg.exec_parallel.max(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return (Vec::new(), Vec::new());
            };
            rt.block_on(async move {
                let calls = Arc::new(tokio::sync::Semaphore::new(parallel));
                let execs = Arc::new(tokio::sync::Semaphore::new(exec_parallel));
                let mut set = tokio::task::JoinSet::new();
                for (w, b) in jobs {
                    let (calls, execs) = (Arc::clone(&calls), Arc::clone(&execs));
                    set.spawn(async move {
                        let _slot = calls.acquire_owned().await;
                        let _exec = match &w {
                            Work::Exec { .. } => Some(execs.acquire_owned().await),
                            _ => None,
                        };
                        one(w, b, timeout).await
                    });
                }
                let mut outcomes = Vec::new();
                let mut inventories = Vec::new();
                while let Some(r) = set.join_next().await {
                    if let Ok((o, inv)) = r {
                        outcomes.push(o);
                        inventories.extend(inv);
                    }
                }
                (outcomes, inventories)
            })
        })
        .join()
        .unwrap_or_default()
    })
}

/// The longest the calls of one step may take: the smoke tests queued
/// behind `exec_parallel`; the other calls behind `parallel` — a push is
/// three calls (check, push, verify), a measurement one — each within
/// `timeout`; plus a sweep interval for the save after. A `pushing`
/// cluster is not called by anyone else before that.
fn in_flight_ms(
    works: &[Work],
    cfg: &crate::config::ControlPlaneConfig,
    interval: Duration,
) -> i64 {
    let (mut execs, mut calls) = (0usize, 0usize);
    for w in works {
        match w {
            Work::Exec { .. } => execs += 1,
            Work::Push { .. } => calls += 3,
            Work::Measure { .. } => calls += 1,
        }
    }
    let rounds = execs.div_ceil(cfg.exec_parallel.max(1)) + calls.div_ceil(cfg.parallel.max(1));
    let ms = rounds.max(1) as u128 * cfg.timeout.as_millis() + interval.as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn url(admin: &str, path: &str) -> String {
    format!("{}/{path}", admin.trim_end_matches('/'))
}

async fn inventory(admin: &str, timeout: Duration) -> Result<Inventory, String> {
    let v = tenet_notify::fetch::get_json(&url(admin, "inventory"), timeout).await?;
    serde_json::from_value::<Inventory>(v).map_err(|e| format!("not an inventory: {e}"))
}

/// One call; its outcome and the inventory that verified a push.
async fn one(w: Work, body: Value, timeout: Duration) -> (Outcome, Option<(String, Inventory)>) {
    match w {
        Work::Push {
            cluster,
            admin,
            key,
            fingerprint,
            check_first,
            rollback,
        } => {
            let done = |r: Result<(), String>| match (rollback, r) {
                (true, result) => Outcome::RolledBack {
                    cluster: cluster.clone(),
                    result,
                },
                (false, Ok(())) => Outcome::Pushed {
                    cluster: cluster.clone(),
                },
                (false, Err(why)) => Outcome::PushFailed {
                    cluster: cluster.clone(),
                    why,
                },
            };
            let now = now_ms();
            let verified = |mut inv: Inventory| {
                inv.observed_at = now;
                Some((cluster.clone(), inv))
            };
            if check_first {
                if let Ok(inv) = inventory(&admin, timeout).await {
                    if inv.bundle_fingerprint.as_deref() == Some(fingerprint.as_str()) {
                        return (done(Ok(())), verified(inv));
                    }
                }
            }
            let answer = tenet_notify::fetch::exchange(
                Method::POST,
                &url(&admin, "bundles"),
                &[("Idempotency-Key", key.clone())],
                Some(&body),
                timeout,
            )
            .await;
            match answer {
                Err(e) => (done(Err(e)), None),
                // The answer's body is not kept: an admin endpoint is
                // not trusted to say what operators read.
                Ok(a) if !(200..300).contains(&a.status) => (
                    done(Err(format!(
                        "the cluster answered {} to the push",
                        a.status
                    ))),
                    None,
                ),
                Ok(_) => match inventory(&admin, timeout).await {
                    Err(e) => (
                        done(Err(format!(
                            "the push was answered, but its inventory could not be read: {e}"
                        ))),
                        None,
                    ),
                    Ok(inv) if inv.bundle_fingerprint.as_deref() == Some(fingerprint.as_str()) => {
                        (done(Ok(())), verified(inv))
                    }
                    Ok(inv) => (
                        done(Err(format!(
                            "the cluster acknowledged the push but reports fingerprint {}",
                            inv.bundle_fingerprint.as_deref().unwrap_or("(none)")
                        ))),
                        None,
                    ),
                },
            }
        }
        Work::Measure { cluster, admin } => {
            let metrics = tenet_notify::fetch::get_json(&url(&admin, "metrics"), timeout)
                .await
                .and_then(|v| {
                    if v.is_object() {
                        Ok(v)
                    } else {
                        Err("the metrics are not a JSON object".to_string())
                    }
                });
            (Outcome::Measured { cluster, metrics }, None)
        }
        Work::Exec { cluster, admin, .. } => {
            let answer = tenet_notify::fetch::exchange(
                Method::POST,
                &url(&admin, "exec"),
                &[],
                Some(&body),
                timeout,
            )
            .await;
            let result = answer.and_then(|a| {
                if !(200..300).contains(&a.status) {
                    return Err(format!("the cluster answered {}", a.status));
                }
                let v: Value = serde_json::from_slice(&a.body)
                    .map_err(|e| format!("the exec answer is not JSON: {e}"))?;
                let code = v
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .ok_or("the exec answer has no integer `exit_code`")?;
                Ok((
                    code,
                    v.get("output")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            });
            (Outcome::Executed { cluster, result }, None)
        }
    }
}
