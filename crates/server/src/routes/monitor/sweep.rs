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
    let mut sends: Vec<Outgoing> = Vec::new();
    let redue = redue_undelivered(state)?;
    let changed = evaluate_and_page(state, now, &mut sends)? + redue;
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
                None,
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
    sends: &mut Vec<Outgoing>,
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
                    sends.push((
                        Arc::clone(channel),
                        Some((p.incident.clone(), p.kind)),
                        page_notification(p, now),
                    ));
                }
            }
        }
    }
    Ok(changed)
}

/// A notification to send: its channel, the incident and kind of a page
/// (so an undelivered one is made due again), the notification.
type Outgoing = (
    Arc<dyn Notifier>,
    Option<(Incident, &'static str)>,
    Notification,
);

/// Sends after the commit, on the runtime (the sweep may run on it at
/// start-up, where it must not block). A page the channel does not take
/// (after its own retries) is remembered for the next sweep.
fn send_later(state: &AppState, sends: Vec<Outgoing>) {
    if sends.is_empty() {
        return;
    }
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let counts = state.metrics.monitor_notices.clone();
        let undelivered = Arc::clone(&state.monitor.undelivered);
        handle.spawn(async move {
            for (channel, page, n) in sends {
                let d = channel.send(&n).await;
                counts
                    .get_or_create(&crate::metrics::NoticeLabels {
                        kind: n.kind.clone(),
                        result: d.outcome().into(),
                    })
                    .inc();
                if let (false, Some(p)) = (d.is_delivered(), page) {
                    match undelivered.lock() {
                        Ok(mut g) => g.push(p),
                        Err(e) => e.into_inner().push(p),
                    }
                }
            }
        });
    }
}

/// Makes the pages the channel did not take due again: each incident
/// still as it was paged (same version) is written back with that page
/// undone, audited `page_undelivered`, so this sweep pages it anew.
/// Returns how many it wrote.
fn redue_undelivered(state: &AppState) -> Result<u64, tenet_store::StoreError> {
    let failed: Vec<(Incident, &'static str)> = match state.monitor.undelivered.lock() {
        Ok(mut g) => std::mem::take(&mut *g),
        Err(e) => std::mem::take(&mut *e.into_inner()),
    };
    let fp = state.fingerprint();
    let mut n = 0;
    for (paged, kind) in failed {
        let Some(now) = ms::incident(&state.monitor.store(), &paged.id)? else {
            continue;
        };
        if now.version != paged.version {
            continue;
        }
        let Some(next) = incidents::undelivered(&now, kind) else {
            continue;
        };
        let written = ms::write_incidents(&mut state.monitor.store(), &[], &[next], &|i, new| {
            let mut e = incident_event(i, new, &fp);
            e.outcome = "page_undelivered".into();
            e.details = json!({"watcher": i.watcher, "page": kind, "version": i.version});
            e
        })?;
        n += written.len() as u64;
    }
    Ok(n)
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
