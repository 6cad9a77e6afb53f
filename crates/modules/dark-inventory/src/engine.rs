//! The dark-inventory engine: pure functions from (an [`Inventory`], a
//! source run or a person's action, `now`, the pack's [`Policy`]) to a new
//! inventory and a report of what changed. No I/O and no clock reads: the
//! server passes the wall clock; tests and `tenet inventory correlate`
//! pass `--at`.
//!
//! **Ingest** ([`ingest`]): each resource of a run is correlated
//! ([`crate::correlate`]); a sighting becomes a finding, or joins the one
//! that has any of its keys (one resource, one finding, provenance merged
//! per source; when a key bridges two findings, the older absorbs the
//! newer — DefectDojo's "the original is the oldest"). A closed finding seen
//! again reopens; a finding whose key is now registered and governed
//! closes as `registered`. Then the findings the source saw before and not
//! now count a missed run — unless the run lost more than the source's
//! `max_vanished` share of what it saw last run (a collector failure is
//! not a clean-up) — and one that every source has missed
//! `close_after_runs` times closes as `not_seen`, unless one of its
//! sources is stale.
//!
//! **Status and clocks** are functions of a finding and a time
//! ([`Finding::status_at`], [`sla_at`]): a waiver stops holding at its
//! expiry and the finding is open again; the SLA clock starts at first
//! seen, pauses while waived (and while closed, under `on_reopen resume`),
//! and its margin is frozen at a closure.

use crate::correlate::{self, CatalogIndex, Outcome, Sighting};
use crate::model::{
    Ack, Batch, Closure, Finding, Provenance, SourceState, Status, Task, Waiver, TASK_STATUSES,
};
use crate::policy::{Lifecycle, Policy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tenet_runtime::clock::Timestamp;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// One tenant's findings and sources.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub tenant: String,
    pub findings: BTreeMap<String, Finding>,
    /// Key → the finding that owns it (merged findings own none).
    pub by_key: HashMap<String, String>,
    pub sources: BTreeMap<String, SourceState>,
}

impl Inventory {
    pub fn new(tenant: &str) -> Inventory {
        Inventory {
            tenant: tenant.to_string(),
            ..Default::default()
        }
    }

    /// An inventory of stored findings and sources.
    pub fn from_parts(
        tenant: &str,
        findings: Vec<Finding>,
        sources: Vec<SourceState>,
    ) -> Inventory {
        let mut inv = Inventory::new(tenant);
        for f in findings {
            if f.merged_into.is_none() {
                for k in &f.keys {
                    inv.by_key.insert(k.clone(), f.id.clone());
                }
            }
            inv.findings.insert(f.id.clone(), f);
        }
        for s in sources {
            inv.sources.insert(s.source.clone(), s);
        }
        inv
    }

    fn owner_of(&self, keys: &[String]) -> Vec<String> {
        let mut ids: Vec<String> = keys
            .iter()
            .filter_map(|k| self.by_key.get(k).cloned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Why an action or a run is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Bad input: 422.
    Invalid(String),
    /// Not now, in this state: 409.
    Conflict(String),
    /// No such finding: 404.
    NotFound(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(m) | Refusal::Conflict(m) | Refusal::NotFound(m) => f.write_str(m),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub source: String,
    pub run: String,
    #[serde(with = "crate::model::rfc3339")]
    pub at: i64,
    /// The same run was ingested before: nothing changed.
    pub duplicate: bool,
    pub resources: usize,
    /// No rule of the source is about them.
    pub ignored: usize,
    /// Registered and governed.
    pub registered: usize,
    /// Findings this run saw (each once).
    pub seen: usize,
    pub new: Vec<String>,
    pub reopened: Vec<String>,
    pub merged: Vec<String>,
    /// Closed by this run, with why (`not_seen`, `registered`).
    pub closed: Vec<(String, String)>,
    /// Findings the source saw before and not now.
    pub vanished: usize,
    /// Why this run closed nothing, when a guard held it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// Findings this run changed (ids).
    #[serde(skip)]
    pub changed: BTreeSet<String>,
}

/// Ingests one source run into `inv`. A resource the pack cannot correlate
/// (a key that is not a string...) refuses the whole run, naming it:
/// nothing is half-ingested. ([`Run`] does the same one resource at a
/// time, for batches streamed from a file or a request.)
pub fn ingest(
    pack: &PackHandle,
    policy: &Policy,
    catalog: &CatalogIndex,
    inv: &mut Inventory,
    batch: &Batch,
    now: i64,
) -> Result<RunReport, Refusal> {
    let head = RunHead {
        source: batch.source.clone(),
        run: batch.run.clone(),
        at: batch.at,
    };
    let mut run = Run::begin(pack, policy, catalog, inv, &head, now)?;
    for d in &batch.resources {
        run.add(inv, d)?;
    }
    Ok(run.finish(inv))
}

/// What a run is, before its resources.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHead {
    pub source: String,
    pub run: String,
    pub at: Option<i64>,
}

/// One source run being ingested: [`Run::begin`], [`Run::add`] for each
/// resource (correlated at once, and staged: the inventory is not touched),
/// then [`Run::finish`] applies it all. Memory holds what becomes a
/// finding, not every resource: a run of a million resources that are
/// mostly registered stays small.
pub struct Run<'a> {
    pack: &'a PackHandle<'a>,
    policy: &'a Policy,
    catalog: &'a CatalogIndex,
    facts: Value,
    max_vanished: f64,
    state: SourceState,
    report: RunReport,
    staged: Vec<(crate::model::Discovered, Sighting)>,
    registered: BTreeSet<String>,
    index: usize,
}

impl<'a> Run<'a> {
    /// Starts a run: the source must be declared, the run named, and not
    /// older than the source's last. The same run again is a duplicate
    /// that changes nothing.
    pub fn begin(
        pack: &'a PackHandle<'a>,
        policy: &'a Policy,
        catalog: &'a CatalogIndex,
        inv: &Inventory,
        head: &RunHead,
        now: i64,
    ) -> Result<Run<'a>, Refusal> {
        let Some(src) = policy.sources.get(&head.source) else {
            return Err(Refusal::NotFound(format!(
                "source `{}` is not declared in the pack (declared: {})",
                head.source,
                policy
                    .sources
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if head.run.trim().is_empty() {
            return Err(Refusal::Invalid("`run` must not be empty".into()));
        }
        let at = head.at.unwrap_or(now);
        let report = RunReport {
            source: head.source.clone(),
            run: head.run.clone(),
            at,
            ..Default::default()
        };
        let state = inv
            .sources
            .get(&head.source)
            .cloned()
            .unwrap_or_else(|| SourceState {
                source: head.source.clone(),
                ..Default::default()
            });
        let mut run = Run {
            pack,
            policy,
            catalog,
            facts: Value::from_json(&catalog.facts),
            max_vanished: src.max_vanished,
            state,
            report,
            staged: Vec::new(),
            registered: BTreeSet::new(),
            index: 0,
        };
        if run.state.last_run.as_deref() == Some(head.run.as_str()) {
            run.report.duplicate = true;
            return Ok(run);
        }
        if let Some(last) = run.state.last_run_at {
            if at < last {
                return Err(Refusal::Conflict(format!(
                    "run `{}` of `{}` observed at {} is older than its last run `{}` at {}: runs of a source are ingested in order",
                    head.run,
                    head.source,
                    Timestamp::from_millis(at).rfc3339(),
                    run.state.last_run.clone().unwrap_or_default(),
                    Timestamp::from_millis(last).rfc3339()
                )));
            }
        }
        Ok(run)
    }

    /// Correlates one resource and stages what it is.
    pub fn add(&mut self, inv: &Inventory, d: &crate::model::Discovered) -> Result<(), Refusal> {
        let i = self.index;
        self.index += 1;
        self.report.resources += 1;
        if self.report.duplicate {
            return Ok(());
        }
        let o = correlate::correlate(
            self.pack,
            self.policy,
            self.catalog,
            &self.facts,
            &self.report.source,
            d,
            self.report.at,
        )
        .map_err(|m| {
            Refusal::Invalid(format!(
                "resources[{i}] ({} {}): {m}",
                d.ty,
                d.key.as_deref().unwrap_or("without a key")
            ))
        })?;
        match o {
            Outcome::Ignored => self.report.ignored += 1,
            Outcome::Registered { keys, .. } => {
                self.report.registered += 1;
                self.registered.extend(inv.owner_of(&keys));
            }
            Outcome::Finding(s) => self.staged.push((d.clone(), s)),
        }
        Ok(())
    }

    /// Applies the run to `inv`.
    pub fn finish(self, inv: &mut Inventory) -> RunReport {
        let Run {
            policy,
            max_vanished,
            state,
            mut report,
            staged,
            registered,
            ..
        } = self;
        if report.duplicate {
            return report;
        }
        let at = report.at;
        let (source, run_id) = (report.source.clone(), report.run.clone());
        for id in registered {
            if let Some(f) = inv.findings.get_mut(&id) {
                if !f.is_closed() {
                    close(f, at, "registered", &policy.lifecycle);
                    report.closed.push((id.clone(), "registered".into()));
                    report.changed.insert(id);
                }
            }
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (d, s) in &staged {
            let id = sight(policy, inv, d, s, &mut report);
            seen.insert(id);
        }
        report.seen = seen.len();
        misses(policy, inv, &state, max_vanished, &seen, &mut report);
        let count = report.resources as u64;
        let st = inv.sources.entry(source).or_insert(state);
        st.runs += 1;
        st.last_run = Some(run_id);
        st.last_run_at = Some(at);
        st.last_count = count;
        st.last_findings = seen.len() as u64;
        st.last_guard = report.guard.clone();
        report
    }
}

/// Missed runs, behind the mass-vanish guard; closes what every source has
/// missed often enough, unless one of its sources is stale.
fn misses(
    policy: &Policy,
    inv: &mut Inventory,
    state: &SourceState,
    max_vanished: f64,
    seen: &BTreeSet<String>,
    report: &mut RunReport,
) {
    let (source, at) = (report.source.clone(), report.at);
    let vanished: Vec<String> = inv
        .findings
        .values()
        .filter(|f| f.merged_into.is_none() && !f.is_closed() && !seen.contains(&f.id))
        .filter(|f| {
            f.sources
                .get(&source)
                .is_some_and(|p| Some(&p.last_run) == state.last_run.as_ref())
        })
        .map(|f| f.id.clone())
        .collect();
    report.vanished = vanished.len();
    let share = |lost: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            lost as f64 / of as f64
        }
    };
    let lost_findings = share(vanished.len() as u64, state.last_findings);
    let lost_resources = share(
        state.last_count.saturating_sub(report.resources as u64),
        state.last_count,
    );
    if lost_findings > max_vanished || lost_resources > max_vanished {
        let (what, s) = if lost_findings >= lost_resources {
            ("of the findings it saw", lost_findings)
        } else {
            ("of the resources it reported", lost_resources)
        };
        report.guard = Some(format!(
            "mass vanish: {:.0}% {what} last run are gone (the source allows {:.0}%); a collector failure is not a clean-up, so this run closes nothing",
            s * 100.0,
            max_vanished * 100.0
        ));
        return;
    }
    let ids: Vec<String> = inv
        .findings
        .values()
        .filter(|f| f.merged_into.is_none() && !f.is_closed() && !seen.contains(&f.id))
        .filter(|f| f.sources.contains_key(&source))
        .map(|f| f.id.clone())
        .collect();
    for id in ids {
        let stale: Vec<String> = {
            let f = &inv.findings[&id];
            f.sources
                .keys()
                .filter(|s| **s != source)
                .filter(|s| {
                    let last = inv.sources.get(*s).and_then(|x| x.last_run_at);
                    policy.sources.get(*s).is_none_or(|p| p.stale(last, at))
                })
                .cloned()
                .collect()
        };
        let Some(f) = inv.findings.get_mut(&id) else {
            continue;
        };
        if let Some(p) = f.sources.get_mut(&source) {
            p.missed += 1;
        }
        f.version += 1;
        report.changed.insert(id.clone());
        let gone = f
            .sources
            .values()
            .all(|p| p.missed >= policy.lifecycle.close_after_runs);
        if gone && stale.is_empty() {
            close(f, at, "not_seen", &policy.lifecycle);
            report.closed.push((id.clone(), "not_seen".into()));
        }
    }
}

/// One sighting (by the report's source and run, at its time) into the
/// inventory; the finding's id.
fn sight(
    policy: &Policy,
    inv: &mut Inventory,
    d: &crate::model::Discovered,
    s: &Sighting,
    report: &mut RunReport,
) -> String {
    let (source, run, at) = (report.source.clone(), report.run.clone(), report.at);
    let owners = inv.owner_of(&s.keys);
    let id = match owners.len() {
        0 => {
            let key = s.keys[0].clone();
            let id = Finding::id_for(&inv.tenant, &key);
            let f = Finding {
                id: id.clone(),
                tenant: inv.tenant.clone(),
                key,
                keys: BTreeSet::new(),
                rule: s.rule.clone(),
                catalog: String::new(),
                ty: d.ty.clone(),
                severity: String::new(),
                sla_ms: None,
                remediation: None,
                kind: s.kind.to_string(),
                sources: BTreeMap::new(),
                first_seen: at,
                last_seen: at,
                lineage: Vec::new(),
                clock_start: at,
                ack: None,
                waivers: Vec::new(),
                closures: Vec::new(),
                tasks: Vec::new(),
                merged_into: None,
                merged: Vec::new(),
                explanation: String::new(),
                version: 0,
            };
            inv.findings.insert(id.clone(), f);
            report.new.push(id.clone());
            id
        }
        1 => owners[0].clone(),
        _ => merge(policy, inv, &owners, at, report),
    };
    let Some(f) = inv.findings.get_mut(&id) else {
        return id;
    };
    for k in &s.keys {
        f.keys.insert(k.clone());
        inv.by_key.insert(k.clone(), id.clone());
    }
    if f.is_closed() {
        if let Some(c) = f.closures.last_mut() {
            c.reopened_at = Some(at);
        }
        if policy.lifecycle.restart_on_reopen {
            f.clock_start = at;
        }
        f.ack = None;
        report.reopened.push(id.clone());
    }
    if let Some(rule) = policy.rule(&s.rule) {
        f.rule = rule.name.clone();
        f.catalog = rule.catalog.clone();
        f.severity = rule.severity.clone();
        f.sla_ms = rule.sla_ms;
        if let Some(task) = &rule.task {
            if !f.tasks.iter().any(|t| &t.kind == task) {
                f.tasks.push(Task {
                    kind: task.clone(),
                    status: "open".into(),
                    updated_at: at,
                    by: None,
                });
            }
        }
    }
    f.ty = d.ty.clone();
    f.kind = s.kind.to_string();
    f.remediation = s.remediation.clone();
    f.last_seen = f.last_seen.max(at);
    for l in &d.lineage {
        if !f.lineage.contains(l) {
            f.lineage.push(l.clone());
        }
    }
    let evidence = serde_json::Value::Object(d.attributes.clone());
    f.sources
        .entry(source)
        .and_modify(|p| {
            p.last_seen = at;
            p.last_run = run.clone();
            p.missed = 0;
            p.seen_at = d.seen_at.clone().or(p.seen_at.take());
            p.evidence = evidence.clone();
        })
        .or_insert_with(|| Provenance {
            first_seen: at,
            last_seen: at,
            last_run: run,
            missed: 0,
            seen_at: d.seen_at.clone(),
            evidence: evidence.clone(),
        });
    if let Some((name, owner, justification, until)) = &s.pack_waiver {
        let by = format!("pack:{name}");
        if !f.waivers.iter().any(|w| w.by == by && w.until == *until) && *until > at {
            f.waivers.push(Waiver {
                owner: owner.clone(),
                justification: justification.clone(),
                approver: None,
                by,
                from: at,
                until: *until,
            });
        }
    }
    f.explanation = explain(f, s);
    f.version += 1;
    report.changed.insert(id.clone());
    id
}

/// Merges findings a key bridges: the oldest absorbs the others, which
/// close as `merged`. The survivor's id.
fn merge(
    policy: &Policy,
    inv: &mut Inventory,
    ids: &[String],
    at: i64,
    report: &mut RunReport,
) -> String {
    let mut ids = ids.to_vec();
    ids.sort_by_key(|id| (inv.findings[id].first_seen, id.clone()));
    let survivor = ids[0].clone();
    for other in &ids[1..] {
        let Some(mut o) = inv.findings.remove(other) else {
            continue;
        };
        let Some(s) = inv.findings.get_mut(&survivor) else {
            continue;
        };
        for k in &o.keys {
            s.keys.insert(k.clone());
            inv.by_key.insert(k.clone(), survivor.clone());
        }
        for (src, p) in &o.sources {
            s.sources
                .entry(src.clone())
                .and_modify(|q| {
                    q.first_seen = q.first_seen.min(p.first_seen);
                    if p.last_seen > q.last_seen {
                        q.last_seen = p.last_seen;
                        q.last_run = p.last_run.clone();
                        q.missed = p.missed;
                        q.evidence = p.evidence.clone();
                    }
                })
                .or_insert_with(|| p.clone());
        }
        s.first_seen = s.first_seen.min(o.first_seen);
        s.last_seen = s.last_seen.max(o.last_seen);
        s.waivers.extend(o.waivers.iter().cloned());
        if s.ack.is_none() {
            s.ack = o.ack.clone();
        }
        for l in &o.lineage {
            if !s.lineage.contains(l) {
                s.lineage.push(l.clone());
            }
        }
        s.merged.push(other.clone());
        s.version += 1;
        if !o.is_closed() {
            close(&mut o, at, "merged", &policy.lifecycle);
        }
        o.merged_into = Some(survivor.clone());
        o.version += 1;
        report.merged.push(other.clone());
        report.changed.insert(other.clone());
        inv.findings.insert(other.clone(), o);
    }
    survivor
}

/// The match explanation, in one sentence.
fn explain(f: &Finding, s: &Sighting) -> String {
    let sources: Vec<&str> = f.sources.keys().map(String::as_str).collect();
    let aliases: Vec<&str> = f
        .keys
        .iter()
        .filter(|k| **k != f.key)
        .map(String::as_str)
        .collect();
    let keys = if aliases.is_empty() {
        format!("key={}", f.key)
    } else {
        format!("key={} (aliases: {})", f.key, aliases.join(", "))
    };
    let what = match (&s.entry, &s.governed_when) {
        (Some(e), Some(cond)) => format!(
            "`{}` catalog entry `{e}` has {keys}, but it is not governed: `{cond}` does not hold",
            f.catalog
        ),
        (Some(e), None) => format!(
            "`{}` catalog entry `{e}` has {keys}, but it is not governed",
            f.catalog
        ),
        (None, _) => format!("no `{}` catalog entry has {keys}", f.catalog),
    };
    let merged = if f.merged.is_empty() {
        String::new()
    } else {
        format!("; merged {} because they share a key", f.merged.join(", "))
    };
    format!(
        "{what}; seen by {} (rule `{}`){merged}",
        sources.join(" and "),
        f.rule
    )
}

fn close(f: &mut Finding, at: i64, reason: &str, lc: &Lifecycle) {
    let margin = sla_at(f, at, lc).map(|c| c.margin_ms);
    f.closures.push(Closure {
        at,
        reason: reason.to_string(),
        sla_margin_ms: margin,
        reopened_at: None,
    });
    f.version += 1;
}

/// A finding's SLA clock at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlaClock {
    /// The time to remediate.
    pub sla_ms: i64,
    /// Counted time since the clock started (pauses left out).
    pub elapsed_ms: i64,
    /// `sla - elapsed`: left (or met by, once closed) when positive,
    /// breached by when negative.
    pub margin_ms: i64,
    /// When it is due, if nothing pauses it from now.
    pub due: i64,
    /// Paused now (waived, or closed under `on_reopen resume`).
    pub paused: bool,
    /// Frozen: the finding is closed; the margin is final.
    pub frozen: bool,
}

/// The SLA clock at `t` (`None`: no SLA for it). A closed finding's clock
/// stopped at its closure.
pub fn sla_at(f: &Finding, t: i64, lc: &Lifecycle) -> Option<SlaClock> {
    let sla = f.sla_ms?;
    let start = f.clock_start;
    let closed = f.closure_at(t);
    let end = closed.map_or(t, |c| c.at.min(t)).max(start);
    // Paused spans: waivers, and (when resuming) closed-then-reopened spans.
    let mut spans: Vec<(i64, i64)> = Vec::new();
    if lc.pause_while_waived {
        spans.extend(f.waivers.iter().map(|w| (w.from, w.until)));
    }
    if !lc.restart_on_reopen {
        spans.extend(
            f.closures
                .iter()
                .filter_map(|c| c.reopened_at.map(|r| (c.at, r))),
        );
    }
    let paused_ms = union_within(&mut spans, start, end);
    let elapsed = (end - start - paused_ms).max(0);
    let paused_now =
        closed.is_none() && (lc.pause_while_waived && f.waivers.iter().any(|w| w.holds(t)));
    let margin = sla - elapsed;
    Some(SlaClock {
        sla_ms: sla,
        elapsed_ms: elapsed,
        margin_ms: margin,
        due: end + margin,
        paused: paused_now,
        frozen: closed.is_some(),
    })
}

/// The length of the union of `spans` within `[lo, hi]`.
fn union_within(spans: &mut [(i64, i64)], lo: i64, hi: i64) -> i64 {
    spans.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(i64, i64)> = None;
    for &(a, b) in spans.iter() {
        let (a, b) = (a.max(lo), b.min(hi));
        if a >= b {
            continue;
        }
        cur = match cur {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = cur {
        total += b - a;
    }
    total
}

/// Acknowledges a finding: it stays visible but quiet. Acknowledging an
/// acknowledged finding changes nothing (`Ok(false)`).
pub fn ack(f: &mut Finding, by: &str, note: Option<String>, now: i64) -> Result<bool, Refusal> {
    if by.trim().is_empty() {
        return Err(Refusal::Invalid(
            "an acknowledgement needs who acknowledges it".into(),
        ));
    }
    if f.merged_into.is_some() {
        return Err(Refusal::Conflict(format!(
            "finding `{}` was merged into `{}`: acknowledge that one",
            f.id,
            f.merged_into.clone().unwrap_or_default()
        )));
    }
    if f.status_at(now) == Status::Closed {
        return Err(Refusal::Conflict(format!("finding `{}` is closed", f.id)));
    }
    if f.ack.is_some() {
        return Ok(false);
    }
    f.ack = Some(Ack {
        by: by.to_string(),
        at: now,
        note,
    });
    f.version += 1;
    Ok(true)
}

/// A waiver request.
#[derive(Debug, Clone, PartialEq)]
pub struct WaiveRequest {
    pub owner: String,
    pub justification: String,
    pub approver: Option<String>,
    pub until: i64,
    pub by: String,
}

/// Waives a finding until `until`, which must be in the future and no later
/// than the pack's `max_waiver` from now.
pub fn waive(f: &mut Finding, req: &WaiveRequest, now: i64, lc: &Lifecycle) -> Result<(), Refusal> {
    for (field, v) in [("owner", &req.owner), ("justification", &req.justification)] {
        if v.trim().is_empty() {
            return Err(Refusal::Invalid(format!(
                "a waiver needs a non-empty `{field}`"
            )));
        }
    }
    if req.until <= now {
        return Err(Refusal::Invalid(format!(
            "`until` ({}) must be later than now ({})",
            Timestamp::from_millis(req.until).rfc3339(),
            Timestamp::from_millis(now).rfc3339()
        )));
    }
    if req.until - now > lc.max_waiver_ms {
        return Err(Refusal::Invalid(format!(
            "`until` ({}) is later than the pack allows: a waiver lasts at most {} (until {} at the latest)",
            Timestamp::from_millis(req.until).rfc3339(),
            tenet_runtime::dsl::value::format_duration(lc.max_waiver_ms),
            Timestamp::from_millis(now + lc.max_waiver_ms).rfc3339()
        )));
    }
    if f.merged_into.is_some() {
        return Err(Refusal::Conflict(format!(
            "finding `{}` was merged into `{}`: waive that one",
            f.id,
            f.merged_into.clone().unwrap_or_default()
        )));
    }
    if f.status_at(now) == Status::Closed {
        return Err(Refusal::Conflict(format!("finding `{}` is closed", f.id)));
    }
    f.waivers.push(Waiver {
        owner: req.owner.clone(),
        justification: req.justification.clone(),
        approver: req.approver.clone(),
        by: req.by.clone(),
        from: now,
        until: req.until,
    });
    f.version += 1;
    Ok(())
}

/// Sets a remediation task's status; `Ok(false)` when it already had it.
pub fn set_task(
    f: &mut Finding,
    kind: &str,
    status: &str,
    by: &str,
    now: i64,
) -> Result<bool, Refusal> {
    if !TASK_STATUSES.contains(&status) {
        return Err(Refusal::Invalid(format!(
            "task status `{status}` is not one of {}",
            TASK_STATUSES.join(", ")
        )));
    }
    let id = f.id.clone();
    let Some(t) = f.tasks.iter_mut().find(|t| t.kind == kind) else {
        return Err(Refusal::NotFound(format!(
            "finding `{id}` has no task `{kind}` (its tasks: {})",
            f.tasks
                .iter()
                .map(|t| t.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if t.status == status {
        return Ok(false);
    }
    t.status = status.to_string();
    t.updated_at = now;
    t.by = Some(by.to_string());
    f.version += 1;
    Ok(true)
}

/// Registers catalog entries after the fact: every open finding that has a
/// key of a registered, governed entry closes as `registered`. The ids closed.
pub fn close_registered(
    pack: &PackHandle,
    policy: &Policy,
    catalog: &CatalogIndex,
    inv: &mut Inventory,
    now: i64,
) -> Vec<String> {
    let mut closed = Vec::new();
    let ids: Vec<String> = inv
        .findings
        .values()
        .filter(|f| f.merged_into.is_none() && !f.is_closed())
        .map(|f| f.id.clone())
        .collect();
    for id in ids {
        let f = &inv.findings[&id];
        let keys: Vec<String> = f.keys.iter().cloned().collect();
        let Some(entry) = catalog.lookup(&f.catalog, &keys) else {
            continue;
        };
        if f.kind == "ungoverned" {
            // Governed now? Ask the rule on the entry, with the last evidence.
            let Some(rule) = policy.rule(&f.rule) else {
                continue;
            };
            let evidence = f
                .sources
                .values()
                .max_by_key(|p| p.last_seen)
                .map(|p| p.evidence.clone())
                .unwrap_or_default();
            let mut res = evidence.as_object().cloned().unwrap_or_default();
            res.insert("type".into(), f.ty.clone().into());
            let d = crate::model::Discovered {
                ty: f.ty.clone(),
                key: Some(f.key.clone()),
                attributes: res,
                seen_at: None,
                lineage: Vec::new(),
            };
            let facts = Value::from_json(&catalog.facts);
            let src = rule.sources.first().cloned().unwrap_or_default();
            match correlate::correlate(pack, policy, catalog, &facts, &src, &d, now) {
                Ok(Outcome::Registered { .. }) => {}
                _ => continue,
            }
        }
        let _ = entry;
        if let Some(f) = inv.findings.get_mut(&id) {
            close(f, now, "registered", &policy.lifecycle);
            closed.push(id);
        }
    }
    closed
}

/// A finding as it stood at a time, for people and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub id: String,
    pub key: String,
    pub keys: Vec<String>,
    pub rule: String,
    pub catalog: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub kind: String,
    pub severity: String,
    pub status: Status,
    /// The waiver in force: until when, by whom, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    pub sources: BTreeMap<String, Provenance>,
    pub first_seen: String,
    pub last_seen: String,
    /// Since first seen, in whole seconds.
    pub age_s: i64,
    pub age: String,
    /// When it is due (`None`: no SLA for its severity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_due: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<String>,
    pub explanation: String,
}

/// The SLA clock, as people read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaView {
    pub within: String,
    /// `running`, `paused`, `breached`, `met` or `missed` (the last two:
    /// frozen at the closure).
    pub state: &'static str,
    /// Positive: left (or met by); negative: breached by. In whole seconds.
    pub margin_s: i64,
    /// The same, for people (`-2d 3h` is breached by 2 days 3 hours).
    pub margin: String,
}

/// How `f` stood at `t`.
pub fn view_at(f: &Finding, t: i64, lc: &Lifecycle) -> View {
    let status = f.status_at(t);
    let closure = f.closure_at(t);
    let waiver = f.waiver_at(t).cloned();
    let clock = sla_at(f, t, lc);
    View {
        id: f.id.clone(),
        key: f.key.clone(),
        keys: f.keys.iter().cloned().collect(),
        rule: f.rule.clone(),
        catalog: f.catalog.clone(),
        ty: f.ty.clone(),
        kind: f.kind.clone(),
        severity: f.severity.clone(),
        status,
        waived_until: waiver
            .as_ref()
            .filter(|_| status == Status::Waived)
            .map(|w| Timestamp::from_millis(w.until).rfc3339()),
        waiver: waiver.filter(|_| status == Status::Waived),
        ack: f.ack.clone().filter(|a| a.at <= t),
        sources: f.sources.clone(),
        first_seen: Timestamp::from_millis(f.first_seen).rfc3339(),
        last_seen: Timestamp::from_millis(f.last_seen).rfc3339(),
        age_s: (t - f.first_seen).max(0) / 1000,
        age: human((t - f.first_seen).max(0)),
        sla_due: clock
            .filter(|c| !c.frozen)
            .map(|c| Timestamp::from_millis(c.due).rfc3339()),
        sla: clock.map(|c| SlaView {
            within: human(c.sla_ms),
            state: match (c.frozen, c.margin_ms < 0, c.paused) {
                (true, false, _) => "met",
                (true, true, _) => "missed",
                (false, true, _) => "breached",
                (false, false, true) => "paused",
                (false, false, false) => "running",
            },
            margin_s: c.margin_ms / 1000,
            margin: if c.margin_ms < 0 {
                format!("-{}", human(-c.margin_ms))
            } else {
                human(c.margin_ms)
            },
        }),
        closed_at: closure.map(|c| Timestamp::from_millis(c.at).rfc3339()),
        closed_reason: closure.map(|c| c.reason.clone()),
        lineage: f.lineage.clone(),
        tasks: f.tasks.clone(),
        remediation: f.remediation.clone(),
        merged_into: f.merged_into.clone(),
        merged: f.merged.clone(),
        explanation: f.explanation.clone(),
    }
}

/// A span for people: `3d 4h`, `45m`, `0s`.
pub fn human(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

/// Ingests `batches` in order into a fresh inventory of `tenant` — what
/// `tenet inventory correlate` runs. A batch without `at` is taken at
/// `now`.
pub fn replay(
    pack: &PackHandle,
    policy: &Policy,
    catalog: &CatalogIndex,
    tenant: &str,
    batches: &[Batch],
    now: i64,
) -> Result<(Inventory, Vec<RunReport>), Refusal> {
    let mut inv = Inventory::new(tenant);
    let mut reports = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        let r = ingest(pack, policy, catalog, &mut inv, b, now).map_err(|e| match e {
            Refusal::Invalid(m) => Refusal::Invalid(format!(
                "batch {} (`{}` run `{}`): {m}",
                i + 1,
                b.source,
                b.run
            )),
            Refusal::Conflict(m) => Refusal::Conflict(format!(
                "batch {} (`{}` run `{}`): {m}",
                i + 1,
                b.source,
                b.run
            )),
            other => other,
        })?;
        reports.push(r);
    }
    Ok((inv, reports))
}
