//! The safety-workflows module's records and its state machine.
//!
//! An **action** is one request to do something the `safety` pack calls
//! risky: its descriptor (what, as the caller sent it), its requester
//! (who, from the caller's identity, never from the body), the context,
//! and the [`Requirements`] the pack derived at preflight. It is kept
//! only when something is required; a quiet preflight stores nothing but
//! its audit event.
//!
//! ```text
//!                a quorum approves, break glass,
//!                or a soft_mandatory override        execute (the last use)
//!   pending ───────────────────────────────▶ approved ─────────────────────▶ executed
//!    │ │ │                                    │ │
//!    │ │ └── a deny count is reached ──▶ denied │
//!    │ └──── review_ttl passes ──▶ expired ◀───┘ approval_ttl (or the break-glass ttl) passes
//!    └────── cancel (the requester or an approver), or void ──▶ cancelled ◀── same, from approved
//! ```
//!
//! A void is a cancel the engine makes: a changed descriptor at execute,
//! or a pack that now requires something else of the action.
//! An action that needs no reviews (only a justification, say) starts
//! `approved`: its other controls are checked at execution. The legal
//! transitions are [`next`], and nothing else moves a state.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch (the engine's clock is an argument).
pub type Ms = i64;

/// Where an action is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Expired,
    Cancelled,
    Executed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Pending,
        State::Approved,
        State::Denied,
        State::Expired,
        State::Cancelled,
        State::Executed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
            State::Executed => "executed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No step leaves it.
    pub fn is_final(self) -> bool {
        State::ALL.iter().all(|&to| {
            [
                Step::Approve,
                Step::Deny,
                Step::Expire,
                Step::Cancel,
                Step::BreakGlass,
                Step::Execute { last: true },
                Step::Execute { last: false },
            ]
            .iter()
            .all(|&s| next(self, s) != Some(to))
        })
    }
}

/// What can happen to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A review made a quorum reach its `approve` count.
    Approve,
    /// A review made a quorum reach its `deny` count.
    Deny,
    /// Its review or approval deadline passed.
    Expire,
    /// The requester withdrew it.
    Cancel,
    /// An allowed identity broke glass: approved without reviews.
    BreakGlass,
    /// One use; `last` when it was the last of `max_uses`.
    Execute { last: bool },
}

/// The legal transitions, all of them: `None` is a step the state does
/// not allow.
pub fn next(from: State, step: Step) -> Option<State> {
    use State::*;
    match (from, step) {
        (Pending, Step::Approve | Step::BreakGlass) => Some(Approved),
        (Pending, Step::Deny) => Some(Denied),
        (Pending | Approved, Step::Expire) => Some(Expired),
        (Pending | Approved, Step::Cancel) => Some(Cancelled),
        (Approved, Step::Execute { last: true }) => Some(Executed),
        (Approved, Step::Execute { last: false }) => Some(Approved),
        _ => None,
    }
}

/// Who is calling: from the server's identity (or the CLI's `--as`),
/// never from a request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `{team: [payments]}`: what quorum filters read as `reviewer.traits`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub traits: BTreeMap<String, Vec<String>>,
}

/// One quorum of a review set (Teleport's threshold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    /// `mass-delete/owner`, or `mass-delete` for the `approvals` shorthand.
    pub name: String,
    /// The filter as written (`None`: every allowed review counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub approve: u32,
    pub deny: u32,
}

/// The reviews one matched action asks for: any of its quorums approves
/// (OR inside a set), every set must approve (AND across sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSet {
    /// The matched block.
    pub block: String,
    /// Roles that may review at all.
    pub approvers: Vec<String>,
    pub quorums: Vec<Quorum>,
}

/// A text the requester must supply: a minimum length and maybe a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextRule {
    pub min: usize,
    /// Every pattern it must match (one per matched block that sets one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
}

/// The break-glass path the pack declares for every matched action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassRule {
    pub roles: Vec<String>,
    pub ttl_ms: Ms,
    pub review_within_ms: Ms,
    pub reason_min: usize,
}

/// What the pack requires before an action may run, fixed at preflight
/// (and re-derived at every later step: a pack change that alters it
/// voids the action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    /// Every matched block that is not waived, in pack order.
    pub blocks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// The strongest enforcement among the matches.
    pub enforcement: String,
    /// The controls (`dual_control`, `justification`, `ticket`, ...), each once.
    pub controls: Vec<String>,
    pub reviews: Vec<ReviewSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<TextRule>,
    /// The patterns a ticket id must match (empty: no ticket asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ticket: Vec<String>,
    /// The longest hold: the earliest execution is this long after approval.
    pub hold_ms: Ms,
    /// The shortest approval TTL (24h when no match sets one): an
    /// approval is good this long.
    pub approval_ttl_ms: Ms,
    /// The shortest review TTL: a pending action expires after it.
    pub review_ttl_ms: Ms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after_ms: Option<Ms>,
    /// The fewest uses.
    pub max_uses: u32,
    /// `deny` unless every match says `escalate`.
    pub on_dependency_unavailable: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassRule>,
}

/// approve | deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// One review, with the quorums its filter matched when it was given
/// (a reviewer's later change of roles does not change past counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub reviewer: String,
    pub decision: Verdict,
    #[serde(default)]
    pub comment: String,
    pub at_ms: Ms,
    /// Quorum names this review counts toward.
    pub counted: Vec<String>,
}

/// What the requester supplied with `confirm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<Ms>,
}

/// A break-glass use: who, why, when, and the post-hoc review it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub by: String,
    pub reason: String,
    pub at_ms: Ms,
    pub review_due_ms: Ms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_at_ms: Option<Ms>,
    /// When the sweep told the approvers the review is overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_notified_ms: Option<Ms>,
}

/// One step of an action's history, as shown by `GET /v1/safety/actions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at_ms: Ms,
    pub by: String,
    /// `preflight`, `review`, `confirm`, `break_glass`, `execute`, `cancel`, `expire`, `escalate`.
    pub what: String,
    pub state: State,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub detail: String,
}

/// A kept action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Unguessable (128 random bits): a forged id finds nothing.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub requester: Actor,
    /// The descriptor as given at preflight.
    pub action: serde_json::Value,
    pub context: serde_json::Value,
    /// `sha256:` over the canonical descriptor, the requester and the
    /// requirements (see [`crate::engine::digest`]).
    pub digest: String,
    /// `sha256:` of the nonce; the nonce itself is only in the preflight answer.
    pub nonce_sha256: String,
    /// Who / where / what, one sentence.
    pub summary: String,
    pub pack: String,
    pub pack_version: String,
    pub requirements: Requirements,
    pub state: State,
    pub created_ms: Ms,
    /// While pending: the review deadline; once approved: the approval's
    /// end (or none when the pack sets no `approval_ttl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<Ms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_ms: Option<Ms>,
    /// The earliest execution (approval + hold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_until_ms: Option<Ms>,
    pub uses: u32,
    pub reviews: Vec<Review>,
    pub confirmation: Confirmation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_ms: Option<Ms>,
    pub history: Vec<HistoryEntry>,
    /// Bumped by every change: a store update names the version it read,
    /// so two replicas cannot both apply a step.
    pub version: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_final_states_are_the_ones_no_step_leaves() {
        let finals: Vec<State> = State::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [
                State::Denied,
                State::Expired,
                State::Cancelled,
                State::Executed
            ]
        );
    }

    #[test]
    fn only_a_pending_action_is_reviewed_and_only_an_approved_one_runs() {
        for s in State::ALL {
            assert_eq!(
                next(s, Step::Approve).is_some(),
                s == State::Pending,
                "{s:?}"
            );
            assert_eq!(next(s, Step::Deny).is_some(), s == State::Pending, "{s:?}");
            assert_eq!(
                next(s, Step::BreakGlass).is_some(),
                s == State::Pending,
                "{s:?}"
            );
            assert_eq!(
                next(s, Step::Execute { last: true }).is_some(),
                s == State::Approved,
                "{s:?}"
            );
        }
        assert_eq!(
            next(State::Approved, Step::Execute { last: false }),
            Some(State::Approved)
        );
        assert_eq!(next(State::Executed, Step::Cancel), None);
        assert_eq!(next(State::Denied, Step::Expire), None);
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(State::parse("approvd"), None);
    }
}
