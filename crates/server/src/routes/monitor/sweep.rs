//! The `meta-monitor.sweep` (under its lease, on one replica): the
//! states of every watcher, the meta-incidents they open, re-alert and
//! resolve, their pages, and the monitor's own proof of life.

use super::*;

/// The `meta-monitor.sweep`: records that the monitor is listening (the
/// watermark after a restart reads it), opens, re-alerts and resolves
/// meta-incidents and sends their pages, sends the monitor's own proof of
/// life, and forgets dedup keys older than seven days. Returns how many
/// incidents it changed.
pub fn sweep(state: &AppState) -> Result<u64, tenet_store::StoreError> {
    let now = now_ms();
    let monitor = &state.monitor;
    let mut sends: Vec<(Arc<dyn Notifier>, Notification)> = Vec::new();
    let changed = evaluate_and_page(state, now, &mut sends)?;
    // Only a sweep that did its work counts as the monitor listening (the
    // watermark and health read it) and proves its life.
    ms::set_meta(&mut monitor.store(), "alive", now)?;
    ms::prune_seen(&mut monitor.store(), now - 7 * 24 * 3600 * 1000)?;
    if let Some(p) = &monitor.proof_of_life {
        let last = monitor.last_proof.load(Ordering::Relaxed);
        if now - last >= monitor.proof_every {
            monitor.last_proof.store(now, Ordering::Relaxed);
            sends.push((
                Arc::clone(p),
                Notification {
                    id: format!("proof-of-life-{now}"),
                    module: tenet_meta_monitor::MODULE.into(),
                    kind: "proof_of_life".into(),
                    tenant: None,
                    subject: "meta-monitor".into(),
                    severity: "info".into(),
                    payload: json!({"replica": state.config.replica, "at": render::rfc3339(now)}),
                    created_at: render::rfc3339(now),
                },
            ));
        }
    }
    send_later(state, sends);
    Ok(changed)
}

/// The sweep's evaluation and meta-incidents; the pages to send go to
/// `sends`. Without a `meta_monitor` pack there is nothing to watch; a
/// pack that cannot be read is an error (the sweep did not run).
fn evaluate_and_page(
    state: &AppState,
    now: Ms,
    sends: &mut Vec<(Arc<dyn Notifier>, Notification)>,
) -> Result<u64, tenet_store::StoreError> {
    let monitor = &state.monitor;
    let mut changed = 0;
    let has_pack = tenet_meta_monitor::pack(&state.bundle.load_full().rules).is_ok();
    if !has_pack {
        return Ok(0);
    }
    let (bundle, watchers) = watchers(state).map_err(|p| {
        tenet_store::StoreError::NotFound(format!("a usable `meta_monitor` pack: {}", p.detail))
    })?;
    {
        let instances = ms::all(&monitor.store())?;
        let exempt = exemptions(state, now)?;
        let cx = Context {
            now,
            watermark: monitor.watermark(now),
            exempt: &exempt,
        };
        let statuses = engine::evaluate(&watchers, &instances, &cx);
        state.metrics.monitor_states(&statuses, now);
        let open = ms::incidents(&monitor.store(), true, None, 1_000_000)?;
        let mut n = 0u64;
        let mut new_id = || {
            n += 1;
            format!("mi-{now:x}-{n}")
        };
        let changes = incidents::step(&watchers, &statuses, &open, now, &mut new_id);
        if !changes.opened.is_empty() || !changes.updated.is_empty() {
            let fp = bundle.fingerprint.clone();
            let written = ms::write_incidents(
                &mut monitor.store(),
                &changes.opened,
                &changes.updated,
                &|i, new| incident_event(i, new, &fp),
            )?;
            changed = written.len() as u64;
            if let Some(channel) = &monitor.notify {
                for p in changes
                    .pages
                    .iter()
                    .filter(|p| written.contains(&p.incident.id))
                {
                    sends.push((Arc::clone(channel), page_notification(p, now)));
                }
            }
        }
    }
    Ok(changed)
}

/// Sends after the commit, on the runtime (the sweep may run on it at
/// start-up, where it must not block).
fn send_later(state: &AppState, sends: Vec<(Arc<dyn Notifier>, Notification)>) {
    if sends.is_empty() {
        return;
    }
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let counts = state.metrics.monitor_notices.clone();
        handle.spawn(async move {
            for (channel, n) in sends {
                let d = channel.send(&n).await;
                counts
                    .get_or_create(&crate::metrics::NoticeLabels {
                        kind: n.kind.clone(),
                        result: d.outcome().into(),
                    })
                    .inc();
            }
        });
    }
}

pub(super) fn incident_event(i: &Incident, new: bool, bundle: &str) -> AuditEvent {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let outcome = if new {
        if i.muted_by.is_some() {
            "incident_opened_muted"
        } else {
            "incident_opened"
        }
    } else if i.state == "resolved" {
        "incident_resolved"
    } else {
        "incident_updated"
    };
    AuditEvent {
        id: 0,
        action_id: format!(
            "sweep-{}-v{}-{}-{}",
            i.id,
            i.version,
            tenet_runtime::clock::system_now().unix_secs(),
            N.fetch_add(1, Ordering::Relaxed)
        ),
        at: now_rfc3339(),
        source: tenet_meta_monitor::MODULE.into(),
        subject: i.id.clone(),
        actor: "sweep".into(),
        scope: "meta-monitor".into(),
        outcome: outcome.into(),
        reason: Some(i.why.clone()),
        latency_ms: 0,
        details: json!({"watcher": i.watcher, "pages": i.pages, "version": i.version, "muted_by": i.muted_by, "suppressed": i.suppressed}),
        tenant: (!i.tenant.is_empty()).then(|| i.tenant.clone()),
        bundle: Some(bundle.to_string()),
    }
}

fn page_notification(p: &incidents::Page, now: Ms) -> Notification {
    let i = &p.incident;
    Notification {
        id: format!("{}-{}-{}", i.id, p.kind, i.pages),
        module: tenet_meta_monitor::MODULE.into(),
        kind: p.kind.into(),
        tenant: (!i.tenant.is_empty()).then(|| i.tenant.clone()),
        subject: i.watcher.clone(),
        severity: i.severity.clone(),
        payload: json!({
            "incident": i.id,
            "watcher": i.watcher,
            "down_at": render::rfc3339(i.down_at),
            "suppressed": i.suppressed,
            "summary": incidents::describe(p),
        }),
        created_at: render::rfc3339(now),
    }
}
