//! What a safety action's answers look like: the preflight answer (also
//! the summary of `GET /v1/safety/actions/{id}`), each control's state,
//! the next legal steps as links, and times as RFC 3339. Pure rendering of
//! a record; [`crate::engine`] decides what the record is.

use crate::engine::lapsed;
use crate::model::*;
use serde::Serialize;
use std::collections::BTreeMap;

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

/// An engine time as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: Ms) -> String {
    tenet_runtime::clock::Timestamp::from_unix(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
    .rfc3339()
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
