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
