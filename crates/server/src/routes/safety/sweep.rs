//! The `safety.sweep`: time-driven work on safety actions.

use super::*;

/// The safety sweep: expiry, escalation, overdue break-glass reviews, for
/// every action due. Runs under its lease on one replica at a time; each
/// change is still conditional on the version read, so a late second
/// sweeper writes nothing twice.
pub fn sweep(state: &AppState) -> Result<u64, tenet_store::StoreError> {
    let now = now_ms();
    let fingerprint = state.fingerprint();
    let due = sw::due(&state.safety.store(), now, 500)?;
    let mut changed = 0;
    let mut notices = Vec::new();
    for rec in due {
        let Some(c) = engine::sweep(&rec, now) else {
            continue;
        };
        // Lost to another writer: that one did it, or the next round will.
        if sw::update(
            &mut state.safety.store(),
            &c.record,
            &sweep_event(&rec.id, &fingerprint, &c),
        )? {
            changed += 1;
            state.metrics.safety_step("sweep", c.outcome);
            notices.push((
                c.record.tenant.clone(),
                c.record.requirements.risk.clone().unwrap_or_default(),
                c.notices,
            ));
        }
    }
    if !notices.is_empty() {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.block_on(async {
                for (tenant, severity, ns) in notices {
                    send_all(state, &ns, tenant, &severity).await;
                }
            });
        }
    }
    Ok(changed)
}

fn sweep_event(id: &str, bundle: &str, c: &Change) -> AuditEvent {
    let (outcome, details) = (
        c.outcome.to_string(),
        super::with_subject(
            json!({"step": "sweep", "state": c.record.state, "version": c.record.version}),
            &c.record.action,
        ),
    );
    AuditEvent {
        id: 0,
        action_id: format!("sweep-{id}-{}", random_suffix()),
        at: now_rfc3339(),
        source: "safety-workflows".into(),
        subject: id.to_string(),
        actor: "sweep".into(),
        scope: "safety".into(),
        outcome,
        reason: None,
        latency_ms: 0,
        details,
        tenant: c.record.tenant.clone(),
        bundle: Some(bundle.to_string()),
    }
}
