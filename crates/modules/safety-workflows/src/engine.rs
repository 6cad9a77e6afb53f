//! The safety-workflows engine: pure functions over an action's record,
//! the caller, the `safety` pack and `now`. No I/O and no clock reads:
//! the server passes the wall clock and fresh ids, tests and
//! `tenet safety preflight --offline` pass their own.
//!
//! | step | in | out |
//! |---|---|---|
//! | [`preflight`] | a descriptor, a context, the caller, dependency health | an answer; a record to keep when something is required |
//! | [`review`] | a record, a reviewer, approve/deny | the record with the review counted, maybe approved or denied |
//! | [`confirm`] | a record, the requester's justification / ticket / override | the record with the confirmation |
//! | [`break_glass`] | a record, an allowed identity, a reason | the record approved without reviews, every approver told |
//! | [`execute`] | a record, the descriptor, the nonce | one use consumed and a grant, or a refusal |
//! | [`cancel`] | a record, the requester | the record cancelled |
//! | [`sweep`] | a record, `now` | expiry, escalation, an overdue break-glass review |
//!
//! Each step answers a [`Change`] (the new record with its version
//! bumped, the outcome and detail for its audit event, the notices to
//! send) or a [`Refusal`] (an HTTP status, a code, what to do), which the
//! caller audits too. A refusal may carry a voided record to keep (a
//! changed descriptor voids the approvals).
//!
//! **Counting reviews** follows Teleport's access-request thresholds
//! (`../shared/research/approvals.md`): each enforced `action` is one
//! review set; inside a set any quorum that reaches its `approve` count
//! approves (OR), and every set must approve (AND); any quorum of any set
//! that reaches its `deny` count rejects, checked before approval; a
//! review counts toward the quorums whose filter it matched when it was
//! given; counts are never netted. The requester never reviews, each
//! reviewer reviews once, and a review needs one of the set's
//! `approvers` roles (allowed to review and counting are apart).
//!
//! **Binding**: the digest covers the canonical descriptor, the
//! requester and the requirements the pack derived. Every later step
//! derives the requirements again from the stored descriptor: when the
//! pack now asks for something else, the action is void (decision 38).

pub use crate::answer::{
    answer_of, links, rfc3339, BreakGlassView, ControlState, Matched, PreflightAnswer,
};
use crate::derive::{actor_json, derive, summary};
pub use crate::derive::{
    digest, nonce_hash, DEFAULT_APPROVAL_TTL_MS, DEFAULT_JUSTIFICATION_MIN, DEFAULT_REVIEW_TTL_MS,
    DEFAULT_TICKET,
};
use crate::model::*;
use serde::Serialize;
use std::collections::BTreeMap;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// The health of what a preflight depends on, as the caller sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deps {
    /// The channel that tells approvers a review is needed.
    pub notify: bool,
    /// The escalation channel (`on_dependency_unavailable escalate`).
    pub escalation: bool,
}

impl Deps {
    pub const UP: Deps = Deps {
        notify: true,
        escalation: true,
    };
}

/// Ids the caller drew for a new action (128 random bits each, or more).
#[derive(Debug, Clone)]
pub struct Fresh {
    pub id: String,
    pub nonce: String,
}

/// Who is told what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `review_needed`, `escalation`, `approved`, `denied`, `overridden`,
    /// `break_glass`, `break_glass_overdue`, `expired`.
    pub kind: &'static str,
    pub action_id: String,
    /// Roles to tell (approvers), or empty.
    pub roles: Vec<String>,
    /// Identities to tell (the requester), or empty.
    pub ids: Vec<String>,
    pub summary: String,
}

/// A step that happened.
#[derive(Debug, Clone)]
pub struct Change {
    pub record: ActionRecord,
    /// The audit outcome: `pending`, `approved`, `reviewed`, `denied`,
    /// `confirmed`, `overridden`, `break_glass`, `executed`, `cancelled`,
    /// `expired`, `escalated`, `break_glass_overdue`.
    pub outcome: &'static str,
    pub detail: String,
    pub notices: Vec<Notice>,
    /// What an execution grants (only from [`execute`]).
    pub grant: Option<Grant>,
}

/// What a successful execute answers: the caller presents it downstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub action_id: String,
    pub digest: String,
    pub executed_at_ms: Ms,
    /// This use, counting from 1.
    #[serde(rename = "use")]
    pub use_: u32,
    pub max_uses: u32,
    /// Until when the approval it came from was good.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<Ms>,
}

/// A step refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// 403, 404, 409, 422, or 500 for a pack that fails to evaluate.
    pub status: u16,
    /// `not_found`, `self_review`, `not_a_reviewer`, `already_reviewed`,
    /// `closed`, `expired`, `nonce_mismatch`, `replay`, `descriptor_changed`,
    /// `requirements_changed`, `not_approved`, `missing_confirmation`,
    /// `hold`, `not_requester`, `invalid`, `not_allowed`, `filter_error`.
    pub code: &'static str,
    pub detail: String,
    /// The record to keep anyway: voided (a changed descriptor).
    pub void: Option<Box<ActionRecord>>,
}

impl Refusal {
    fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            detail: detail.into(),
            void: None,
        }
    }
    /// An unknown id, another tenant's action or a forged id.
    pub fn not_found() -> Refusal {
        Refusal::new(404, "not_found", "no such action")
    }
}

/// The body of a preflight.
#[derive(Debug, Clone, Default)]
pub struct PreflightRequest {
    pub action: serde_json::Value,
    pub context: serde_json::Value,
    pub simulate: bool,
}

/// What a preflight produced.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub answer: PreflightAnswer,
    /// The record to keep (none when nothing is required, the action is
    /// blocked, or this is a simulation).
    pub record: Option<ActionRecord>,
    /// The audit outcome: `allowed`, `pending`, `approved`, `escalated`,
    /// `blocked`, `simulated`.
    pub outcome: &'static str,
    pub notices: Vec<Notice>,
}

/// Whether a live action's deadline has passed (the sweep records it).
pub fn lapsed(r: &ActionRecord, now: Ms) -> bool {
    !r.state.is_final() && r.expires_ms.is_some_and(|e| now >= e)
}

/// When the sweep must next look at an action: its deadline, its
/// escalation, its break-glass review's deadline; `None`: never again.
pub fn next_due(r: &ActionRecord) -> Option<Ms> {
    let mut due: Option<Ms> = None;
    let mut at = |t: Option<Ms>| {
        if let Some(t) = t {
            due = Some(due.map_or(t, |d| d.min(t)));
        }
    };
    if !r.state.is_final() {
        at(r.expires_ms);
    }
    if r.state == State::Pending && r.escalated_ms.is_none() {
        at(r.requirements.escalate_after_ms.map(|a| r.created_ms + a));
    }
    if let Some(g) = &r.break_glass {
        if g.reviewed_by.is_none() && g.overdue_notified_ms.is_none() {
            at(Some(g.review_due_ms));
        }
    }
    due
}

/// Whether a break-glass review is overdue.
pub fn overdue(r: &ActionRecord, now: Ms) -> bool {
    r.break_glass
        .as_ref()
        .is_some_and(|g| g.reviewed_by.is_none() && now >= g.review_due_ms)
}

/// Whether `by` holds one of the action's approver roles.
fn is_approver(r: &ActionRecord, by: &Actor) -> bool {
    let allowed = approver_roles(&r.requirements);
    by.roles.iter().any(|x| allowed.contains(x))
}

/// Reviews (of the action, or of its break-glass use) need an approver role.
fn must_be_approver(r: &ActionRecord, by: &Actor) -> Result<(), Refusal> {
    if is_approver(r, by) {
        return Ok(());
    }
    Err(Refusal::new(
        403,
        "not_a_reviewer",
        format!(
            "reviewing this action needs one of the roles {}",
            approver_roles(&r.requirements).join(", ")
        ),
    ))
}

pub(crate) fn approver_roles(req: &Requirements) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for s in &req.reviews {
        for r in &s.approvers {
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
    }
    roles
}

fn notice(kind: &'static str, r: &ActionRecord, roles: Vec<String>, ids: Vec<String>) -> Notice {
    Notice {
        kind,
        action_id: r.id.clone(),
        roles,
        ids,
        summary: r.summary.clone(),
    }
}

// ---------------------------------------------------------------------------
// The steps

/// Decides on a descriptor; a record to keep when something is required.
pub fn preflight(
    pack: &PackHandle,
    caller: &Actor,
    req: &PreflightRequest,
    fresh: &Fresh,
    deps: Deps,
    now: Ms,
) -> Preflight {
    let d = derive(pack, caller, &req.action, &req.context, now);
    let summary = summary(caller, &req.action, &d.matched);
    let mut answer = PreflightAnswer {
        outcome: "nothing_required",
        simulate: req.simulate,
        action_id: None,
        state: None,
        digest: None,
        nonce: None,
        risk: None,
        enforcement: None,
        summary,
        controls: Vec::new(),
        approvals: Vec::new(),
        errors: d.errors.clone(),
        advisories: d.advisories.clone(),
        matched: d.matched.clone(),
        expires_at: None,
        break_glass: None,
        links: BTreeMap::new(),
    };
    let _ = &d.decision;
    let blocked = |mut answer: PreflightAnswer| {
        answer.outcome = "blocked";
        Preflight {
            answer,
            record: None,
            outcome: "blocked",
            notices: Vec::new(),
        }
    };
    // A caller bound to a tenant acts for that tenant: a descriptor that
    // names another is refused (its approvers would be the wrong ones).
    if let (Some(mine), Some(serde_json::Value::String(named))) =
        (&caller.tenant, req.action.get("tenant"))
    {
        if mine != named {
            answer.errors.push(format!(
                "the action names tenant `{named}`, but {} acts for tenant `{mine}`",
                caller.id
            ));
        }
    }
    if !answer.errors.is_empty() {
        return blocked(answer);
    }
    let Some(requirements) = d.requirements else {
        return Preflight {
            answer,
            record: None,
            outcome: if req.simulate { "simulated" } else { "allowed" },
            notices: Vec::new(),
        };
    };
    let needs_reviews = !requirements.reviews.is_empty();
    let mut escalated = None;
    if needs_reviews && !deps.notify {
        let escalate = requirements.on_dependency_unavailable == "escalate";
        if escalate && deps.escalation {
            escalated = Some(now);
        } else {
            answer.errors.push(if escalate {
                "the approvers cannot be told (the notification channel is down) and the escalation channel is down too: refused, try again later".to_string()
            } else {
                "the approvers cannot be told (the notification channel is down) and the pack says `on_dependency_unavailable deny`: refused, try again later".to_string()
            });
            answer.risk = requirements.risk.clone();
            answer.enforcement = Some(requirements.enforcement.clone());
            return blocked(answer);
        }
    }
    let digest = digest(&fresh.id, &req.action, caller, &requirements);
    let (state, expires_ms, approved_ms, hold_until_ms) = if needs_reviews {
        (
            State::Pending,
            Some(now + requirements.review_ttl_ms),
            None,
            None,
        )
    } else {
        (
            State::Approved,
            Some(now + requirements.approval_ttl_ms),
            Some(now),
            Some(now + requirements.hold_ms),
        )
    };
    let record = ActionRecord {
        id: fresh.id.clone(),
        tenant: caller.tenant.clone(),
        requester: caller.clone(),
        action: req.action.clone(),
        context: req.context.clone(),
        digest: digest.clone(),
        nonce_sha256: nonce_hash(&fresh.nonce),
        summary: answer.summary.clone(),
        pack: pack.name().to_string(),
        pack_version: pack.version().to_string(),
        requirements,
        state,
        created_ms: now,
        expires_ms,
        approved_ms,
        hold_until_ms,
        uses: 0,
        reviews: Vec::new(),
        confirmation: Confirmation::default(),
        break_glass: None,
        escalated_ms: escalated,
        history: vec![HistoryEntry {
            at_ms: now,
            by: caller.id.clone(),
            what: "preflight".into(),
            state,
            detail: String::new(),
        }],
        version: 1,
    };
    let mut shown = answer_of(&record, now);
    shown.simulate = req.simulate;
    shown.nonce = Some(fresh.nonce.clone());
    shown.advisories = answer.advisories;
    shown.matched = answer.matched;
    let mut notices = Vec::new();
    if needs_reviews {
        if escalated.is_some() {
            notices.push(notice(
                "escalation",
                &record,
                approver_roles(&record.requirements),
                vec![],
            ));
        } else {
            notices.push(notice(
                "review_needed",
                &record,
                approver_roles(&record.requirements),
                vec![],
            ));
        }
    }
    let outcome = if req.simulate {
        "simulated"
    } else if escalated.is_some() {
        "escalated"
    } else if needs_reviews {
        "pending"
    } else {
        "approved"
    };
    if req.simulate {
        // Nothing is kept: no id, nonce, state, deadline or next step.
        shown.links = BTreeMap::new();
        shown.action_id = None;
        shown.nonce = None;
        shown.state = None;
        shown.digest = None;
        shown.expires_at = None;
        return Preflight {
            answer: shown,
            record: None,
            outcome,
            notices: Vec::new(),
        };
    }
    Preflight {
        answer: shown,
        record: Some(record),
        outcome,
        notices,
    }
}

/// Another tenant's action is not there (404, no existence leak).
///
/// Its code is `other_tenant`, so the audit log tells probing from a
/// typo; the server answers it as a plain `not_found`.
fn visible(r: &ActionRecord, caller: &Actor) -> Result<(), Refusal> {
    let hidden = match (&caller.tenant, &r.tenant) {
        (Some(c), Some(t)) => c != t,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if hidden {
        return Err(Refusal::new(404, "other_tenant", "no such action"));
    }
    Ok(())
}

/// A step on an action that is over: says how it ended.
fn closed(r: &ActionRecord, what: &str) -> Refusal {
    let detail = match r.history.last() {
        Some(h) if h.what == "void" => format!("the action was voided: {}", h.detail),
        _ => format!("the action is {}{what}", r.state.as_str()),
    };
    Refusal::new(409, "closed", detail)
}

fn live(r: &ActionRecord, now: Ms) -> Result<(), Refusal> {
    if lapsed(r, now) {
        return Err(Refusal::new(
            409,
            "expired",
            format!(
                "the action expired at {}",
                rfc3339(r.expires_ms.unwrap_or(now))
            ),
        ));
    }
    Ok(())
}

/// A copy of `r` one version on, with a history entry.
fn stepped(
    r: &ActionRecord,
    by: &str,
    what: &str,
    state: State,
    detail: String,
    now: Ms,
) -> ActionRecord {
    let mut n = r.clone();
    n.state = state;
    n.version += 1;
    n.history.push(HistoryEntry {
        at_ms: now,
        by: by.to_string(),
        what: what.to_string(),
        state,
        detail,
    });
    n
}

/// The action is void when the pack now requires something else of it.
fn still_required(pack: &PackHandle, r: &ActionRecord, by: &str, now: Ms) -> Result<(), Refusal> {
    let d = derive(pack, &r.requester, &r.action, &r.context, now);
    if d.requirements.as_ref() == Some(&r.requirements) && d.errors.is_empty() {
        return Ok(());
    }
    let why = if !d.errors.is_empty() {
        format!(
            "the safety pack now fails on this action: {}",
            d.errors.join("; ")
        )
    } else {
        "the safety pack now requires something else of this action: run the preflight again"
            .to_string()
    };
    let mut refusal = Refusal::new(409, "requirements_changed", why.clone());
    if let Some(state) = next(r.state, Step::Cancel) {
        refusal.void = Some(Box::new(stepped(r, by, "void", state, why, now)));
    }
    Err(refusal)
}

/// Counts a review.
pub fn review(
    pack: &PackHandle,
    r: &ActionRecord,
    reviewer: &Actor,
    decision: Verdict,
    comment: &str,
    now: Ms,
) -> Result<Change, Refusal> {
    visible(r, reviewer)?;
    if next(r.state, Step::Approve).is_none() {
        return Err(closed(r, ": reviews are closed"));
    }
    live(r, now)?;
    if reviewer.id == r.requester.id {
        return Err(Refusal::new(
            403,
            "self_review",
            "the requester cannot review their own action",
        ));
    }
    must_be_approver(r, reviewer)?;
    if r.reviews.iter().any(|v| v.reviewer == reviewer.id) {
        return Err(Refusal::new(
            409,
            "already_reviewed",
            format!("{} has reviewed this action already", reviewer.id),
        ));
    }
    still_required(pack, r, &reviewer.id, now)?;
    // Filters are evaluated once, now.
    let input = Value::from_json(&serde_json::json!({
        "reviewer": actor_json(reviewer),
        "review": {"decision": decision.as_str(), "comment": comment},
        "action": r.action,
        "actor": actor_json(&r.requester),
        "tenant": r.requester.tenant,
        "context": r.context,
    }));
    let compiled = pack.compiled();
    let mut counted = Vec::new();
    for set in &r.requirements.reviews {
        if !reviewer.roles.iter().any(|x| set.approvers.contains(x)) {
            continue;
        }
        for q in &set.quorums {
            let hit = match &q.filter {
                None => true,
                Some(_) => {
                    let Some(b) = compiled.blocks.iter().find(|b| b.name == q.name) else {
                        return Err(Refusal::new(
                            500,
                            "filter_error",
                            format!("the quorum `{}` is gone from the pack", q.name),
                        ));
                    };
                    pack.holds(b, "filter", &input)
                        .map_err(|e| {
                            Refusal::new(
                                500,
                                "filter_error",
                                format!("the filter of quorum `{}` failed: {e}", q.name),
                            )
                        })?
                        .unwrap_or(true)
                }
            };
            if hit {
                counted.push(q.name.clone());
            }
        }
    }
    let mut n = r.clone();
    n.reviews.push(Review {
        reviewer: reviewer.id.clone(),
        decision,
        comment: comment.to_string(),
        at_ms: now,
        counted: counted.clone(),
    });
    let count = |name: &str, v: Verdict| {
        n.reviews
            .iter()
            .filter(|x| x.decision == v && x.counted.iter().any(|c| c == name))
            .count() as u32
    };
    let denied_by = r
        .requirements
        .reviews
        .iter()
        .flat_map(|s| &s.quorums)
        .find(|q| q.deny > 0 && count(&q.name, Verdict::Deny) >= q.deny);
    let approved = r.requirements.reviews.iter().all(|s| {
        s.quorums
            .iter()
            .any(|q| q.approve > 0 && count(&q.name, Verdict::Approve) >= q.approve)
    });
    let detail = if counted.is_empty() {
        format!(
            "{} by {}: counts toward no quorum",
            decision.as_str(),
            reviewer.id
        )
    } else {
        // With where each quorum now stands: `mass-delete/oncall-pair (1 of 2)`.
        let progress: Vec<String> = counted
            .iter()
            .filter_map(|name| {
                let q = r
                    .requirements
                    .reviews
                    .iter()
                    .flat_map(|s| &s.quorums)
                    .find(|q| &q.name == name)?;
                let need = match decision {
                    Verdict::Approve => q.approve,
                    Verdict::Deny => q.deny,
                };
                Some(if need == 0 {
                    format!("{name} (counts nothing: {} 0)", decision.as_str())
                } else {
                    format!("{name} ({} of {need})", count(name, decision))
                })
            })
            .collect();
        format!(
            "{} by {}: counts toward {}",
            decision.as_str(),
            reviewer.id,
            progress.join(", ")
        )
    };
    let (step, outcome) = match (denied_by, approved) {
        (Some(_), _) => (Some(Step::Deny), "denied"),
        (None, true) => (Some(Step::Approve), "approved"),
        (None, false) => (None, "reviewed"),
    };
    let state = step.and_then(|s| next(r.state, s)).unwrap_or(r.state);
    let mut rec = stepped(&n, &reviewer.id, "review", state, detail.clone(), now);
    let mut notices = Vec::new();
    match step {
        Some(Step::Approve) => {
            rec.approved_ms = Some(now);
            rec.hold_until_ms = Some(now + rec.requirements.hold_ms);
            rec.expires_ms = Some(now + rec.requirements.approval_ttl_ms);
            notices.push(notice(
                "approved",
                &rec,
                vec![],
                vec![rec.requester.id.clone()],
            ));
        }
        Some(_) => {
            rec.expires_ms = None;
            notices.push(notice(
                "denied",
                &rec,
                vec![],
                vec![rec.requester.id.clone()],
            ));
        }
        None => {}
    }
    Ok(Change {
        record: rec,
        outcome,
        detail,
        notices,
        grant: None,
    })
}

/// What the requester supplies: a justification, a ticket, and (for a
/// `soft_mandatory` action) an override of the reviews.
#[derive(Debug, Clone, Default)]
pub struct Confirm {
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub override_reviews: bool,
}

fn check_text(what: &str, text: &str, min: usize, patterns: &[String]) -> Result<(), Refusal> {
    let len = text.trim().chars().count();
    if len < min {
        return Err(Refusal::new(
            422,
            "invalid",
            format!("the {what} has {len} characters; the pack asks for at least {min}"),
        ));
    }
    for p in patterns {
        let re = regex::Regex::new(p).map_err(|e| {
            Refusal::new(
                500,
                "filter_error",
                format!("the pack's {what} pattern /{p}/ does not compile: {e}"),
            )
        })?;
        if !re.is_match(text.trim()) {
            return Err(Refusal::new(
                422,
                "invalid",
                format!("the {what} does not match /{p}/"),
            ));
        }
    }
    Ok(())
}

/// Records what the requester supplies.
pub fn confirm(
    pack: &PackHandle,
    r: &ActionRecord,
    by: &Actor,
    c: &Confirm,
    now: Ms,
) -> Result<Change, Refusal> {
    visible(r, by)?;
    if by.id != r.requester.id {
        return Err(Refusal::new(
            403,
            "not_requester",
            "only the requester confirms an action",
        ));
    }
    if r.state.is_final() {
        return Err(closed(r, ""));
    }
    live(r, now)?;
    if c.override_reviews {
        if r.requirements.enforcement != "soft_mandatory" {
            return Err(Refusal::new(
                403,
                "not_allowed",
                "a hard_mandatory action cannot be overridden",
            ));
        }
        if c.justification.is_none() {
            return Err(Refusal::new(
                422,
                "invalid",
                "an override needs a justification",
            ));
        }
    }
    if c.justification.is_none() && c.ticket.is_none() {
        return Err(Refusal::new(
            422,
            "invalid",
            "give a `justification`, a `ticket`, or both",
        ));
    }
    let req = &r.requirements;
    // What is recorded stays recorded: a justification or a ticket
    // cannot be swapped after the reviewers saw it.
    if c.justification.is_some() && r.confirmation.justification.is_some() {
        return Err(Refusal::new(
            409,
            "already_confirmed",
            "the justification is recorded already and cannot be changed",
        ));
    }
    if c.ticket.is_some() && r.confirmation.ticket.is_some() {
        return Err(Refusal::new(
            409,
            "already_confirmed",
            "the ticket is recorded already and cannot be changed",
        ));
    }
    if let Some(j) = &c.justification {
        let rule = req.justification.clone().unwrap_or(TextRule {
            min: DEFAULT_JUSTIFICATION_MIN,
            patterns: Vec::new(),
        });
        check_text("justification", j, rule.min, &rule.patterns)?;
    }
    if let Some(t) = &c.ticket {
        if req.ticket.is_empty() {
            return Err(Refusal::new(
                422,
                "invalid",
                "this action does not ask for a ticket",
            ));
        }
        check_text("ticket", t, 1, &req.ticket)?;
    }
    still_required(pack, r, &by.id, now)?;
    let mut n = r.clone();
    if let Some(j) = &c.justification {
        n.confirmation.justification = Some(j.trim().to_string());
    }
    if let Some(t) = &c.ticket {
        n.confirmation.ticket = Some(t.trim().to_string());
    }
    n.confirmation.at_ms = Some(now);
    let overriding = c.override_reviews && next(r.state, Step::Approve).is_some();
    let state = if overriding { State::Approved } else { r.state };
    let what = if overriding { "override" } else { "confirm" };
    // What was supplied goes in the history and the audit event.
    let mut said = Vec::new();
    if let Some(j) = &c.justification {
        said.push(format!("justification: {}", j.trim()));
    }
    if let Some(t) = &c.ticket {
        said.push(format!("ticket: {}", t.trim()));
    }
    let detail = said.join("; ");
    let mut rec = stepped(&n, &by.id, what, state, detail.clone(), now);
    let mut notices = Vec::new();
    if overriding {
        rec.approved_ms = Some(now);
        rec.hold_until_ms = Some(now + req.hold_ms);
        rec.expires_ms = Some(now + req.approval_ttl_ms);
        notices.push(notice("overridden", &rec, approver_roles(req), vec![]));
    }
    Ok(Change {
        record: rec,
        outcome: if overriding {
            "overridden"
        } else {
            "confirmed"
        },
        detail,
        notices,
        grant: None,
    })
}

/// Skips the reviews along the pack's break-glass path.
pub fn break_glass(
    pack: &PackHandle,
    r: &ActionRecord,
    by: &Actor,
    reason: &str,
    now: Ms,
) -> Result<Change, Refusal> {
    visible(r, by)?;
    if next(r.state, Step::BreakGlass).is_none() {
        return Err(closed(r, ": nothing to break glass for"));
    }
    live(r, now)?;
    let Some(rule) = &r.requirements.break_glass else {
        return Err(Refusal::new(
            403,
            "not_allowed",
            "the pack declares no break-glass path for this action",
        ));
    };
    if !by.roles.iter().any(|x| rule.roles.contains(x)) {
        return Err(Refusal::new(
            403,
            "not_allowed",
            format!(
                "breaking glass needs one of the roles {}",
                rule.roles.join(", ")
            ),
        ));
    }
    check_text("reason", reason, rule.reason_min, &[])?;
    still_required(pack, r, &by.id, now)?;
    let mut rec = stepped(
        r,
        &by.id,
        "break_glass",
        State::Approved,
        reason.trim().to_string(),
        now,
    );
    rec.approved_ms = Some(now);
    // The hold is skipped too: break glass is for when waiting is the harm.
    rec.hold_until_ms = Some(now);
    rec.expires_ms = Some(now + rule.ttl_ms);
    rec.break_glass = Some(BreakGlass {
        by: by.id.clone(),
        reason: reason.trim().to_string(),
        at_ms: now,
        review_due_ms: now + rule.review_within_ms,
        reviewed_by: None,
        reviewed_at_ms: None,
        overdue_notified_ms: None,
    });
    let notices = vec![notice(
        "break_glass",
        &rec,
        approver_roles(&rec.requirements),
        vec![],
    )];
    Ok(Change {
        detail: format!("by {}: {}", by.id, reason.trim()),
        record: rec,
        outcome: "break_glass",
        notices,
        grant: None,
    })
}

/// Runs the action once: the nonce, the state, the deadline, the
/// descriptor's digest, the pack's requirements, every confirmation and
/// the hold, in that order.
pub fn execute(
    pack: &PackHandle,
    r: &ActionRecord,
    by: &Actor,
    action: &serde_json::Value,
    nonce: &str,
    now: Ms,
) -> Result<Change, Refusal> {
    visible(r, by)?;
    if by.id != r.requester.id {
        return Err(Refusal::new(
            403,
            "not_requester",
            "only the requester executes an action",
        ));
    }
    // Without the nonce nobody learns more, and nobody can void the
    // approvals by sending another descriptor.
    if nonce_hash(nonce) != r.nonce_sha256 {
        return Err(Refusal::new(
            409,
            "nonce_mismatch",
            "the nonce is not this action's",
        ));
    }
    match r.state {
        State::Executed => {
            return Err(Refusal::new(
                409,
                "replay",
                format!(
                    "the action was executed already ({} of {} uses)",
                    r.uses, r.requirements.max_uses
                ),
            ))
        }
        State::Pending => {
            return Err(Refusal::new(
                409,
                "not_approved",
                "the action waits for its reviews",
            ))
        }
        s if next(s, Step::Execute { last: true }).is_none() => return Err(closed(r, "")),
        _ => {}
    }
    live(r, now)?;
    if digest(&r.id, action, &r.requester, &r.requirements) != r.digest {
        let why = "the descriptor is not the one approved: the approvals are void; run the preflight again".to_string();
        let mut refusal = Refusal::new(409, "descriptor_changed", why.clone());
        if let Some(state) = next(r.state, Step::Cancel) {
            refusal.void = Some(Box::new(stepped(r, &by.id, "void", state, why, now)));
        }
        return Err(refusal);
    }
    still_required(pack, r, &by.id, now)?;
    let mut missing = Vec::new();
    if r.requirements.justification.is_some() && r.confirmation.justification.is_none() {
        missing.push("justification");
    }
    if !r.requirements.ticket.is_empty() && r.confirmation.ticket.is_none() {
        missing.push("ticket");
    }
    if !missing.is_empty() {
        return Err(Refusal::new(
            409,
            "missing_confirmation",
            format!(
                "confirm first: {} (POST /v1/safety/actions/{}/confirm)",
                missing.join(", "),
                r.id
            ),
        ));
    }
    if let Some(u) = r.hold_until_ms {
        if now < u {
            return Err(Refusal::new(
                409,
                "hold",
                format!("the action is held until {}", rfc3339(u)),
            ));
        }
    }
    let use_ = r.uses + 1;
    let last = use_ >= r.requirements.max_uses;
    let Some(state) = next(r.state, Step::Execute { last }) else {
        return Err(closed(r, ""));
    };
    let detail = format!("use {use_} of {}", r.requirements.max_uses);
    let mut rec = stepped(r, &by.id, "execute", state, detail.clone(), now);
    rec.uses = use_;
    Ok(Change {
        grant: Some(Grant {
            action_id: rec.id.clone(),
            digest: rec.digest.clone(),
            executed_at_ms: now,
            use_,
            max_uses: rec.requirements.max_uses,
            expires_at_ms: rec.expires_ms,
        }),
        record: rec,
        outcome: "executed",
        detail,
        notices: Vec::new(),
    })
}

/// The requester withdraws the action, or one of its approvers stops it
/// (during its hold, say: the cancel window of a time-delayed action).
pub fn cancel(r: &ActionRecord, by: &Actor, now: Ms) -> Result<Change, Refusal> {
    visible(r, by)?;
    if by.id != r.requester.id && !is_approver(r, by) {
        return Err(Refusal::new(
            403,
            "not_allowed",
            "only the requester or one of the action's approvers cancels it",
        ));
    }
    let Some(state) = next(r.state, Step::Cancel) else {
        return Err(closed(r, ""));
    };
    let detail = if by.id == r.requester.id {
        "by the requester".to_string()
    } else {
        format!("by approver {}", by.id)
    };
    Ok(Change {
        record: stepped(r, &by.id, "cancel", state, detail.clone(), now),
        outcome: "cancelled",
        detail,
        notices: Vec::new(),
        grant: None,
    })
}

/// An approver closes the post-hoc review a break-glass use opened.
pub fn review_break_glass(r: &ActionRecord, by: &Actor, now: Ms) -> Result<Change, Refusal> {
    visible(r, by)?;
    let Some(g) = &r.break_glass else {
        return Err(Refusal::new(
            409,
            "closed",
            "the action did not break glass",
        ));
    };
    if g.reviewed_by.is_some() {
        return Err(Refusal::new(
            409,
            "already_reviewed",
            "the break-glass use is reviewed already",
        ));
    }
    if by.id == g.by || by.id == r.requester.id {
        return Err(Refusal::new(
            403,
            "self_review",
            "who broke glass (or asked) cannot review it",
        ));
    }
    must_be_approver(r, by)?;
    let mut rec = stepped(r, &by.id, "break_glass_review", r.state, String::new(), now);
    if let Some(g) = &mut rec.break_glass {
        g.reviewed_by = Some(by.id.clone());
        g.reviewed_at_ms = Some(now);
    }
    Ok(Change {
        record: rec,
        outcome: "break_glass_reviewed",
        detail: String::new(),
        notices: Vec::new(),
        grant: None,
    })
}

/// Time-driven work on one action: expiry, escalation, an overdue
/// break-glass review. Idempotent: `None` when there is nothing to do.
pub fn sweep(r: &ActionRecord, now: Ms) -> Option<Change> {
    if lapsed(r, now) {
        let state = next(r.state, Step::Expire)?;
        let rec = stepped(r, "sweep", "expire", state, String::new(), now);
        let notices = vec![notice(
            "expired",
            &rec,
            vec![],
            vec![rec.requester.id.clone()],
        )];
        return Some(Change {
            record: rec,
            outcome: "expired",
            detail: String::new(),
            notices,
            grant: None,
        });
    }
    if let (State::Pending, Some(after), None) =
        (r.state, r.requirements.escalate_after_ms, r.escalated_ms)
    {
        if now >= r.created_ms + after {
            let mut rec = stepped(r, "sweep", "escalate", r.state, String::new(), now);
            rec.escalated_ms = Some(now);
            let notices = vec![notice(
                "escalation",
                &rec,
                approver_roles(&rec.requirements),
                vec![],
            )];
            return Some(Change {
                record: rec,
                outcome: "escalated",
                detail: String::new(),
                notices,
                grant: None,
            });
        }
    }
    if overdue(r, now)
        && r.break_glass
            .as_ref()
            .is_some_and(|g| g.overdue_notified_ms.is_none())
    {
        let mut rec = stepped(
            r,
            "sweep",
            "break_glass_overdue",
            r.state,
            String::new(),
            now,
        );
        if let Some(g) = &mut rec.break_glass {
            g.overdue_notified_ms = Some(now);
        }
        let notices = vec![notice(
            "break_glass_overdue",
            &rec,
            approver_roles(&rec.requirements),
            vec![],
        )];
        return Some(Change {
            record: rec,
            outcome: "break_glass_overdue",
            detail: String::new(),
            notices,
            grant: None,
        });
    }
    None
}
