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

use crate::model::*;
use serde::Serialize;
use std::collections::BTreeMap;
use tenet_runtime::decision::{enforced, DecideOptions, Decision};
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// What an action may wait for its reviews when its pack does not say.
pub const DEFAULT_REVIEW_TTL_MS: Ms = 24 * 3_600_000;
/// How long an approval is good when its pack does not say: no approval
/// is good forever.
pub const DEFAULT_APPROVAL_TTL_MS: Ms = 24 * 3_600_000;
/// The shortest justification when the pack does not say.
pub const DEFAULT_JUSTIFICATION_MIN: usize = 10;
/// A ticket id when the pack gives no pattern: `ABC-123`.
pub const DEFAULT_TICKET: &str = "^[A-Z][A-Z0-9]*-[0-9]+$";

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

/// One control and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlState {
    pub control: String,
    /// `required` (the requester must supply it), `pending` (waiting for
    /// reviews or time), `satisfied`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A match the answer shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched {
    pub block: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// The block's `score` (a scorer's result), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<serde_json::Value>,
}

/// The answer of a preflight (and of `GET /v1/safety/actions/{id}`'s
/// summary part).
#[derive(Debug, Clone, Serialize)]
pub struct PreflightAnswer {
    /// `nothing_required`, `required` or `blocked`.
    pub outcome: &'static str,
    pub simulate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Present it to execute; shown once, kept only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    pub summary: String,
    pub controls: Vec<ControlState>,
    pub approvals: Vec<ReviewSet>,
    pub errors: Vec<String>,
    /// Matches that inform and block nothing (advisory, dry run).
    pub advisories: Vec<Matched>,
    pub matched: Vec<Matched>,
    /// RFC 3339: the review deadline while pending, the approval's end once approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassView>,
    pub links: BTreeMap<&'static str, String>,
}

/// The break-glass path as an answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakGlassView {
    pub roles: Vec<String>,
    /// How long a break-glass grant may be executed (`30m`).
    pub ttl: String,
    /// The post-hoc review's deadline after the use (`1d`).
    pub review_within: String,
    pub reason_min: usize,
}

impl From<&BreakGlassRule> for BreakGlassView {
    fn from(r: &BreakGlassRule) -> Self {
        let d = tenet_runtime::dsl::value::format_duration;
        BreakGlassView {
            roles: r.roles.clone(),
            ttl: d(r.ttl_ms),
            review_within: d(r.review_within_ms),
            reason_min: r.reason_min,
        }
    }
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

// ---------------------------------------------------------------------------
// Deriving what the pack requires

/// What the pack says about one descriptor from one requester.
struct Derived {
    decision: Decision,
    requirements: Option<Requirements>,
    errors: Vec<String>,
    matched: Vec<Matched>,
    advisories: Vec<Matched>,
}

fn actor_json(a: &Actor) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "name": a.id,
        "roles": a.roles,
        "tenant": a.tenant,
        "traits": a.traits,
    })
}

/// The pack's input: its roots `action`, `actor`, `tenant`, `context`.
fn input_of(requester: &Actor, action: &serde_json::Value, context: &serde_json::Value) -> Value {
    Value::from_json(&serde_json::json!({
        "action": action,
        "actor": actor_json(requester),
        "tenant": requester.tenant,
        "context": context,
    }))
}

/// An engine time as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: Ms) -> String {
    tenet_runtime::clock::Timestamp::from_unix(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
    .rfc3339()
}

fn matched_of(m: &tenet_runtime::decision::Match) -> Matched {
    Matched {
        block: m.block.clone(),
        risk: m.risk.clone(),
        enforcement: m.enforcement.clone(),
        because: m.because.clone(),
        score: m.effects.get("score").cloned(),
    }
}

fn derive(
    pack: &PackHandle,
    requester: &Actor,
    action: &serde_json::Value,
    context: &serde_json::Value,
    now: Ms,
) -> Derived {
    let input = input_of(requester, action, context);
    let decision = pack.decide(
        &input,
        &DecideOptions {
            now: Some(rfc3339(now)),
            ..Default::default()
        },
    );
    let compiled = pack.compiled();
    let block = |name: &str| compiled.blocks.iter().find(|b| b.name == name);
    let mut errors = Vec::new();
    // Fail closed: an error or an inconclusive result of a block that
    // would block is an error of the preflight.
    let blocks_when_matched = |name: &str| {
        block(name).is_some_and(|b| {
            !b.dry_run
                && matches!(
                    b.enforcement.as_deref(),
                    Some("hard_mandatory" | "soft_mandatory")
                )
        })
    };
    for e in &decision.errors {
        if e.block == "now" || blocks_when_matched(&e.block) {
            errors.push(format!("`{}` ({}) failed: {}", e.block, e.at, e.message));
        }
    }
    for name in &decision.inconclusive {
        if blocks_when_matched(name) {
            errors.push(format!(
                "`{name}` is inconclusive: it read missing data; give the descriptor the fields it reads"
            ));
        }
    }
    let (enforced_m, advisory_m): (Vec<_>, Vec<_>) =
        decision.matched.iter().partition(|m| enforced(m));
    let matched = enforced_m.iter().map(|m| matched_of(m)).collect();
    let advisories = advisory_m.iter().map(|m| matched_of(m)).collect();
    if enforced_m.is_empty() {
        return Derived {
            decision,
            requirements: None,
            errors,
            matched,
            advisories,
        };
    }
    // A field that fails to evaluate is an error of the preflight, never
    // its default (a failing `hold` is not "no hold").
    let field_errors = std::cell::RefCell::new(Vec::<String>::new());
    let eval = |b: &tenet_runtime::ir::CBlock, field: &str| -> Option<Value> {
        match pack.field(b, field, &input) {
            Ok(v) => v.filter(|v| !v.is_null()),
            Err(e) => {
                field_errors
                    .borrow_mut()
                    .push(format!("`{}` ({}): `{field}` failed: {e}", b.name, b.at));
                None
            }
        }
    };
    let get = |name: &str, field: &str| -> Option<Value> { eval(block(name)?, field) };
    let ms = |v: Option<Value>| match v {
        Some(Value::Duration(ms)) => Some(ms),
        _ => None,
    };
    let int = |v: Option<Value>| match v {
        Some(Value::Int(i)) => Some(i),
        _ => None,
    };
    let strings = |v: Option<Value>| -> Vec<String> {
        match v {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let pattern = |v: Option<Value>| match v {
        Some(Value::Regex(r)) => Some(r.as_str().to_string()),
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let mut controls: Vec<String> = Vec::new();
    let mut reviews = Vec::new();
    let mut hold_ms = 0;
    let mut approval_ttl_ms: Option<Ms> = None;
    let mut seen_errors = Vec::new();
    let mut review_ttl_ms: Option<Ms> = None;
    let mut escalate_after_ms: Option<Ms> = None;
    let mut max_uses: Option<i64> = None;
    let mut justification_min = None::<i64>;
    let mut justification_patterns = Vec::new();
    let mut tickets = Vec::new();
    let mut escalate_all = true;
    let mut hard = false;
    let mut glass: Option<BreakGlassRule> = None;
    let mut glass_everywhere = true;
    let min = |a: Option<Ms>, b: Option<Ms>| match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    for m in &enforced_m {
        let name = m.block.as_str();
        let own = strings(get(name, "require"));
        for c in &own {
            if !controls.contains(c) {
                controls.push(c.clone());
            }
        }
        hold_ms = hold_ms.max(ms(get(name, "hold")).unwrap_or(0));
        approval_ttl_ms = min(approval_ttl_ms, ms(get(name, "approval_ttl")));
        review_ttl_ms = min(review_ttl_ms, ms(get(name, "review_ttl")));
        escalate_after_ms = min(escalate_after_ms, ms(get(name, "escalate_after")));
        if let Some(u) = int(get(name, "max_uses")) {
            max_uses = Some(max_uses.map_or(u, |x| x.min(u)));
        }
        if let Some(j) = int(get(name, "justification_min")) {
            justification_min = Some(justification_min.map_or(j, |x| x.max(j)));
        }
        justification_patterns.extend(pattern(get(name, "justification_pattern")));
        tickets.extend(pattern(get(name, "ticket")));
        escalate_all &= matches!(get(name, "on_dependency_unavailable"), Some(Value::Str(s)) if &*s == "escalate");
        hard |= m.enforcement.as_deref() == Some("hard_mandatory");

        // The review set of this match.
        let approvers = strings(get(name, "approvers"));
        let quorum_blocks = pack.nested(name, "quorum");
        let quorums: Vec<Quorum> = if quorum_blocks.is_empty() {
            let n = int(get(name, "approvals")).unwrap_or(1);
            if approvers.is_empty() || n <= 0 {
                Vec::new()
            } else {
                vec![Quorum {
                    name: name.to_string(),
                    filter: None,
                    approve: n as u32,
                    deny: 1,
                }]
            }
        } else {
            quorum_blocks
                .iter()
                .map(|q| {
                    let count = |f: &str| int(eval(q, f)).unwrap_or(1).max(0) as u32;
                    Quorum {
                        name: q.name.clone(),
                        filter: pack.field_text(q, "filter"),
                        approve: count("approve"),
                        deny: count("deny"),
                    }
                })
                .collect()
        };
        if !quorums.is_empty() {
            reviews.push(ReviewSet {
                block: name.to_string(),
                approvers: approvers.clone(),
                quorums,
            });
        } else if own.iter().any(|c| c == "dual_control") && approvers.is_empty() {
            seen_errors.push(format!(
                "`{name}` requires dual_control but names no `approvers`: nobody may review it (add `approvers [\"ROLE\"]` to the pack)"
            ));
        }
        match pack.nested(name, "break_glass").first() {
            Some(g) => {
                let rule = BreakGlassRule {
                    roles: strings(eval(g, "roles")),
                    ttl_ms: ms(eval(g, "ttl")).unwrap_or(30 * 60_000),
                    review_within_ms: ms(eval(g, "review_within")).unwrap_or(DEFAULT_REVIEW_TTL_MS),
                    reason_min: int(eval(g, "reason_min")).unwrap_or(20).max(0) as usize,
                };
                glass = Some(match glass {
                    None => rule,
                    Some(prev) => BreakGlassRule {
                        roles: prev
                            .roles
                            .into_iter()
                            .filter(|r| rule.roles.contains(r))
                            .collect(),
                        ttl_ms: prev.ttl_ms.min(rule.ttl_ms),
                        review_within_ms: prev.review_within_ms.min(rule.review_within_ms),
                        reason_min: prev.reason_min.max(rule.reason_min),
                    },
                });
            }
            None => glass_everywhere = false,
        }
    }
    let levels = pack.levels();
    let risk = enforced_m
        .iter()
        .filter_map(|m| m.risk.as_deref())
        .min_by_key(|r| levels.iter().position(|l| l == r).unwrap_or(usize::MAX))
        .map(str::to_string);
    let needs = |c: &str| controls.iter().any(|x| x == c);
    let requirements = Requirements {
        blocks: enforced_m.iter().map(|m| m.block.clone()).collect(),
        risk,
        enforcement: if hard {
            "hard_mandatory"
        } else {
            "soft_mandatory"
        }
        .to_string(),
        justification: needs("justification").then(|| TextRule {
            min: justification_min.map_or(DEFAULT_JUSTIFICATION_MIN, |j| j.max(0) as usize),
            patterns: dedup(justification_patterns),
        }),
        ticket: if !needs("ticket") {
            Vec::new()
        } else if tickets.is_empty() {
            vec![DEFAULT_TICKET.to_string()]
        } else {
            dedup(tickets)
        },
        controls,
        reviews,
        hold_ms,
        approval_ttl_ms: approval_ttl_ms.unwrap_or(DEFAULT_APPROVAL_TTL_MS),
        review_ttl_ms: review_ttl_ms.unwrap_or(DEFAULT_REVIEW_TTL_MS),
        escalate_after_ms,
        max_uses: max_uses.unwrap_or(1).max(1) as u32,
        on_dependency_unavailable: if escalate_all { "escalate" } else { "deny" }.to_string(),
        break_glass: glass.filter(|g| glass_everywhere && !g.roles.is_empty()),
    };
    errors.extend(seen_errors);
    errors.extend(field_errors.into_inner());
    Derived {
        decision,
        requirements: Some(requirements),
        errors,
        matched,
        advisories,
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// `sha256:` over the canonical JSON (sorted keys, no spaces) of the
/// action's id, its descriptor, the requester's id and tenant, and the
/// requirements (so two requests of one thing have two digests).
pub fn digest(
    id: &str,
    action: &serde_json::Value,
    requester: &Actor,
    requirements: &Requirements,
) -> String {
    let doc = serde_json::json!({
        "id": id,
        "action": action,
        "requester": {"id": requester.id, "tenant": requester.tenant},
        "requirements": requirements,
    });
    tenet_runtime::dsl::builtins::digest(&Value::from_json(&doc))
}

/// `sha256:` of a nonce, as kept.
pub fn nonce_hash(nonce: &str) -> String {
    tenet_runtime::dsl::builtins::digest(&Value::str(nonce))
}

/// Who / where / what, in one sentence for a confirmation dialog.
fn summary(requester: &Actor, action: &serde_json::Value, matched: &[Matched]) -> String {
    let text = |k: &str| match action.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let mut s = requester.id.clone();
    if let Some(t) = &requester.tenant {
        s.push_str(&format!(" (tenant {t})"));
    }
    s.push_str(&format!(
        " asks to {}",
        text("verb").unwrap_or_else(|| "act".into())
    ));
    if let Some(target) = text("target") {
        s.push_str(&format!(" {target}"));
    }
    match text("tenant") {
        Some(t) if Some(&t) != requester.tenant.as_ref() => s.push_str(&format!(" in tenant {t}")),
        _ => {}
    }
    // The rest of the descriptor's plain fields, so the sentence says how
    // much and of what: `(rows 20000, policy privacy.retention)`.
    let rest: Vec<String> = match action {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !["verb", "target", "tenant"].contains(&k.as_str()))
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(x) => Some(format!("{k} {x}")),
                serde_json::Value::Number(x) => Some(format!("{k} {x}")),
                serde_json::Value::Bool(x) => Some(format!("{k} {x}")),
                _ => None,
            })
            .take(6)
            .collect(),
        _ => Vec::new(),
    };
    if !rest.is_empty() {
        s.push_str(&format!(" ({})", rest.join(", ")));
    }
    let because: Vec<&str> = matched
        .iter()
        .filter_map(|m| m.because.as_deref())
        .collect();
    if !because.is_empty() {
        s.push_str(": ");
        s.push_str(&because.join("; "));
    }
    s
}

/// `owner: 1 approval where "data-owner" in reviewer.roles, 1 denial rejects`.
fn quorum_text(q: &Quorum) -> String {
    let plural = |n: u32, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let short = q.name.rsplit('/').next().unwrap_or(&q.name);
    let approve = if q.approve == 0 {
        "never approves".to_string()
    } else {
        plural(q.approve, "approval")
    };
    let filter = q
        .filter
        .as_ref()
        .map(|f| format!(" where {f}"))
        .unwrap_or_default();
    let deny = if q.deny == 0 {
        "denials do not reject".to_string()
    } else {
        format!(
            "{} {}",
            plural(q.deny, "denial"),
            if q.deny == 1 { "rejects" } else { "reject" }
        )
    };
    format!("{short}: {approve}{filter}, {deny}")
}

fn controls_of(r: &ActionRecord, now: Ms) -> Vec<ControlState> {
    let req = &r.requirements;
    let mut out = Vec::new();
    let mut push = |control: &str, state: &'static str, detail: String| {
        out.push(ControlState {
            control: control.to_string(),
            state,
            detail,
        })
    };
    let reviewed = r.approved_ms.is_some();
    if !req.reviews.is_empty() || req.controls.iter().any(|c| c == "dual_control") {
        let detail = req
            .reviews
            .iter()
            .map(|s| {
                let q: Vec<String> = s.quorums.iter().map(quorum_text).collect();
                format!(
                    "{} (reviewers: {}): {}",
                    s.block,
                    s.approvers.join(", "),
                    q.join("; or ")
                )
            })
            .collect::<Vec<_>>()
            .join("; and ");
        push(
            if req.controls.iter().any(|c| c == "dual_control") {
                "dual_control"
            } else {
                "reviews"
            },
            if reviewed { "satisfied" } else { "pending" },
            detail,
        );
    }
    if let Some(j) = &req.justification {
        let done = r.confirmation.justification.is_some();
        let mut d = format!("at least {} characters", j.min);
        for p in &j.patterns {
            d.push_str(&format!(", matching /{p}/"));
        }
        push(
            "justification",
            if done { "satisfied" } else { "required" },
            d,
        );
    }
    if !req.ticket.is_empty() {
        let done = r.confirmation.ticket.is_some();
        let pats: Vec<String> = req.ticket.iter().map(|t| format!("/{t}/")).collect();
        push(
            "ticket",
            if done { "satisfied" } else { "required" },
            format!("matching {}", pats.join(" and ")),
        );
    }
    if req.hold_ms > 0 || req.controls.iter().any(|c| c == "timed_hold") {
        let (state, d) = match r.hold_until_ms {
            Some(u) if u <= now => ("satisfied", format!("held until {}", rfc3339(u))),
            Some(u) => ("pending", format!("held until {}", rfc3339(u))),
            None => (
                "pending",
                format!(
                    "{} after approval",
                    tenet_runtime::dsl::value::format_duration(req.hold_ms)
                ),
            ),
        };
        push("hold", state, d);
    }
    for c in &req.controls {
        if ![
            "dual_control",
            "justification",
            "ticket",
            "timed_hold",
            "break_glass",
        ]
        .contains(&c.as_str())
        {
            push(c, "required", String::new());
        }
    }
    out
}

/// The next legal steps of an action, as links.
pub fn links(r: &ActionRecord, now: Ms) -> BTreeMap<&'static str, String> {
    let base = format!("/v1/safety/actions/{}", r.id);
    let mut l = BTreeMap::new();
    let live = !lapsed(r, now);
    if live && next(r.state, Step::Approve).is_some() {
        l.insert("reviews", format!("{base}/reviews"));
    }
    let confirmable = (r.requirements.justification.is_some()
        && r.confirmation.justification.is_none())
        || (!r.requirements.ticket.is_empty() && r.confirmation.ticket.is_none());
    if live && confirmable && !r.state.is_final() {
        l.insert("confirm", format!("{base}/confirm"));
    }
    if live && next(r.state, Step::BreakGlass).is_some() && r.requirements.break_glass.is_some() {
        l.insert("break_glass", format!("{base}/break-glass"));
    }
    let confirmed = (r.requirements.justification.is_none()
        || r.confirmation.justification.is_some())
        && (r.requirements.ticket.is_empty() || r.confirmation.ticket.is_some());
    let held = r.hold_until_ms.is_some_and(|u| now < u);
    if live && next(r.state, Step::Execute { last: true }).is_some() && confirmed && !held {
        l.insert("execute", format!("{base}/execute"));
    }
    if live && next(r.state, Step::Cancel).is_some() {
        l.insert("cancel", format!("{base}/cancel"));
    }
    l.insert("self", base);
    l
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

/// The answer shown for a kept action.
pub fn answer_of(r: &ActionRecord, now: Ms) -> PreflightAnswer {
    PreflightAnswer {
        outcome: "required",
        simulate: false,
        action_id: Some(r.id.clone()),
        state: Some(if lapsed(r, now) {
            State::Expired
        } else {
            r.state
        }),
        digest: Some(r.digest.clone()),
        nonce: None,
        risk: r.requirements.risk.clone(),
        enforcement: Some(r.requirements.enforcement.clone()),
        summary: r.summary.clone(),
        controls: controls_of(r, now),
        approvals: r.requirements.reviews.clone(),
        errors: Vec::new(),
        advisories: Vec::new(),
        matched: Vec::new(),
        expires_at: r.expires_ms.map(rfc3339),
        break_glass: r
            .requirements
            .break_glass
            .as_ref()
            .map(BreakGlassView::from),
        links: links(r, now),
    }
}

fn approver_roles(req: &Requirements) -> Vec<String> {
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
    let allowed = approver_roles(&r.requirements);
    if !reviewer.roles.iter().any(|x| allowed.contains(x)) {
        return Err(Refusal::new(
            403,
            "not_a_reviewer",
            format!(
                "reviewing this action needs one of the roles {}",
                allowed.join(", ")
            ),
        ));
    }
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
    let approver = by
        .roles
        .iter()
        .any(|x| approver_roles(&r.requirements).contains(x));
    if by.id != r.requester.id && !approver {
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
    let allowed = approver_roles(&r.requirements);
    if !by.roles.iter().any(|x| allowed.contains(x)) {
        return Err(Refusal::new(
            403,
            "not_a_reviewer",
            format!("reviewing needs one of the roles {}", allowed.join(", ")),
        ));
    }
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
