//! The autoconfig engine's provisioning step: one baseline applied to one
//! tenant, run by [`crate::store::with_tenant`] under the tenant's lock.
//! It reads the live document from the config center, plans
//! ([`crate::plan`]), applies ([`crate::apply`]) and — in `enforce` mode,
//! not a dry run, with something to change — writes the new document
//! whole (the write names the version it replaces), then gives one
//! change-log entry per setting changed. The clock is an argument.

use crate::apply::{apply, Applied};
use crate::baselines::Baseline;
use crate::config_center::ConfigCenter;
use crate::model::{LastApplied, TenantRecord};
use crate::plan::{plan, Document, Plan};
use crate::store::ChangeEntry;
use serde::Serialize;
use tenet_runtime::pack::PackHandle;

/// How a step runs.
#[derive(Debug, Clone)]
pub struct Run {
    pub now: i64,
    /// Write nothing, whatever the mode.
    pub dry_run: bool,
    pub actor: String,
    pub action_id: String,
}

/// What a provisioning step did (or, in advise mode or a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Provisioned {
    pub tenant: String,
    pub baseline: String,
    pub mode: String,
    /// Whether the document was written.
    pub written: bool,
    pub dry_run: bool,
    #[serde(flatten)]
    pub applied: Applied,
    /// The plan the changes come from.
    pub plan: Plan,
    /// The config center's version after (or, unwritten, as read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_version: Option<String>,
}

/// Applies `baseline` to the locked `record` through `center`.
pub fn provision(
    pack: &PackHandle,
    baseline: &Baseline,
    center: &dyn ConfigCenter,
    record: &mut TenantRecord,
    run: &Run,
) -> Result<(Provisioned, Vec<ChangeEntry>), String> {
    let live = center.read(&record.tenant).map_err(|e| e.to_string())?;
    let doc = Document {
        name: "config-center".into(),
        body: live.document.clone(),
    };
    let facts = serde_json::Value::Object(record.facts.clone());
    let p = plan(pack, baseline, &facts, std::slice::from_ref(&doc), run.now)?;
    let applied = apply(&p, &live.document);
    let enforce = baseline.mode == "enforce";
    let write = enforce && !run.dry_run && !applied.changed.is_empty();
    let mut version = live.version.clone();
    let mut entries = Vec::new();
    if write {
        let v = center
            .write(&record.tenant, live.version.as_deref(), &applied.document)
            .map_err(|e| e.to_string())?;
        entries = applied
            .changed
            .iter()
            .map(|c| ChangeEntry {
                id: 0,
                tenant: record.tenant.clone(),
                baseline: baseline.name.clone(),
                pack_version: pack.version().to_string(),
                at: run.now,
                setting: c.setting.clone(),
                from: c.from.clone(),
                to: c.to.clone(),
                risk: c.risk.clone(),
                actor: run.actor.clone(),
                action_id: run.action_id.clone(),
                config_version: v.clone(),
            })
            .collect();
        record.last_applied = Some(LastApplied {
            baseline: baseline.name.clone(),
            at: run.now,
            changed: entries.len(),
        });
        version = Some(v);
    }
    Ok((
        Provisioned {
            tenant: record.tenant.clone(),
            baseline: baseline.name.clone(),
            mode: baseline.mode.clone(),
            written: write,
            dry_run: run.dry_run,
            applied,
            plan: p,
            config_version: version,
        },
        entries,
    ))
}

/// One setting's outcome in a remediation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Remedied {
    pub setting: String,
    /// `fixed` (the re-check passes), `failed` (it does not), `manual`
    /// (the pack leaves it to a person), `exhausted` (attempts used up),
    /// `waiting` (backing off after a failure), `refused` (no change can
    /// be made without lowering something).
    pub outcome: String,
    pub why: String,
}

/// What a remediation did.
#[derive(Debug, Clone, Serialize)]
pub struct Remediation {
    pub tenant: String,
    pub baseline: String,
    pub dry_run: bool,
    pub settings: Vec<Remedied>,
}

/// Remediates `record` against `baseline`: only the deltas the pack marks
/// `remediate auto`, within their attempt budget and back-off, are
/// applied (the stricter of live and baseline, as apply); then the
/// document is read back and planned again, and a setting counts as
/// fixed only when that re-check passes. A failed attempt is counted; a
/// fixed setting's count is cleared.
pub fn remediate(
    pack: &PackHandle,
    baseline: &Baseline,
    center: &dyn ConfigCenter,
    record: &mut TenantRecord,
    run: &Run,
) -> Result<(Remediation, Vec<ChangeEntry>), String> {
    use crate::plan::Action;
    let live = center.read(&record.tenant).map_err(|e| e.to_string())?;
    let facts = serde_json::Value::Object(record.facts.clone());
    let doc = Document {
        name: "config-center".into(),
        body: live.document.clone(),
    };
    let mut p = plan(pack, baseline, &facts, std::slice::from_ref(&doc), run.now)?;
    let mut out = Vec::new();
    // Keep only the deltas remediation may apply now.
    for d in &mut p.deltas {
        let auto = baseline
            .settings
            .iter()
            .any(|s| s.name == d.setting && s.auto);
        let outcome = match d.action {
            Action::None => continue,
            Action::Refuse => Some(("refused", d.why.clone())),
            Action::Tighten if !auto => Some((
                "manual",
                "the baseline leaves this change to a person (`remediate manual`)".to_string(),
            )),
            Action::Tighten => match record.attempts.get(&d.setting) {
                Some(a) if a.failed >= baseline.max_attempts => Some((
                    "exhausted",
                    format!("{} attempts failed; a person decides", a.failed),
                )),
                Some(a) => {
                    let wait = baseline
                        .retry_after
                        .saturating_mul(1i64 << a.failed.saturating_sub(1).min(20));
                    (run.now < a.last_at + wait).then(|| {
                        (
                            "waiting",
                            format!(
                                "backing off after {} failed attempt(s) until {}",
                                a.failed,
                                tenet_runtime::clock::Timestamp::from_millis(a.last_at + wait)
                                    .rfc3339()
                            ),
                        )
                    })
                }
                None => None,
            },
        };
        if let Some((o, why)) = outcome {
            out.push(Remedied {
                setting: d.setting.clone(),
                outcome: o.into(),
                why,
            });
            d.action = Action::None;
        }
    }
    let applied = apply(&p, &live.document);
    let tried: Vec<String> = applied.changed.iter().map(|c| c.setting.clone()).collect();
    let mut entries = Vec::new();
    if !run.dry_run && !applied.changed.is_empty() {
        let v = center
            .write(&record.tenant, live.version.as_deref(), &applied.document)
            .map_err(|e| e.to_string())?;
        entries = applied
            .changed
            .iter()
            .map(|c| ChangeEntry {
                id: 0,
                tenant: record.tenant.clone(),
                baseline: baseline.name.clone(),
                pack_version: pack.version().to_string(),
                at: run.now,
                setting: c.setting.clone(),
                from: c.from.clone(),
                to: c.to.clone(),
                risk: c.risk.clone(),
                actor: run.actor.clone(),
                action_id: run.action_id.clone(),
                config_version: v.clone(),
            })
            .collect();
    }
    // The re-check: what is in the config center now.
    let after = if run.dry_run {
        applied.document.clone()
    } else {
        center
            .read(&record.tenant)
            .map_err(|e| e.to_string())?
            .document
    };
    let again = plan(
        pack,
        baseline,
        &facts,
        &[Document {
            name: "config-center".into(),
            body: after,
        }],
        run.now,
    )?;
    for s in tried {
        let fixed = again
            .deltas
            .iter()
            .any(|d| d.setting == s && d.action == Action::None);
        if fixed {
            record.attempts.remove(&s);
            out.push(Remedied {
                setting: s,
                outcome: "fixed".into(),
                why: "the re-check passes".into(),
            });
        } else {
            let a = record
                .attempts
                .entry(s.clone())
                .or_insert(crate::model::Attempts {
                    failed: 0,
                    last_at: run.now,
                });
            a.failed += 1;
            a.last_at = run.now;
            out.push(Remedied {
                setting: s,
                outcome: "failed".into(),
                why: "written, but the re-check still fails".into(),
            });
        }
    }
    Ok((
        Remediation {
            tenant: record.tenant.clone(),
            baseline: baseline.name.clone(),
            dry_run: run.dry_run,
            settings: out,
        },
        entries,
    ))
}
