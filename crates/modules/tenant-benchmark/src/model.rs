//! The tenant-benchmark module's records: what is kept per tenant between
//! evaluations, what one evaluation stores, and a badge's states with
//! their legal transitions.
//!
//! A badge is `out`, `entering` (its score and `requires` qualify, for
//! less than its dwell), `held`, or `leaving` (held, its score below
//! `exit` for less than its dwell). [`BadgeState::legal`] is the whole
//! state machine: `out → entering → held → leaving → out`, `entering →
//! out` (qualifying stopped), `leaving → held` (the score came back) and
//! `held | leaving → out` at once when `requires` stops holding.

use crate::profiles::Ms;
use crate::score::{Earlier, Score, Signal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a badge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    #[default]
    Out,
    Entering,
    Held,
    Leaving,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Out => "out",
            Standing::Entering => "entering",
            Standing::Held => "held",
            Standing::Leaving => "leaving",
        }
    }

    /// Whether the tenant has the badge.
    pub fn has(self) -> bool {
        matches!(self, Standing::Held | Standing::Leaving)
    }
}

/// One badge's state for one tenant and profile.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BadgeState {
    pub standing: Standing,
    /// When the current standing began.
    #[serde(default, with = "crate::time::opt")]
    pub since: Option<Ms>,
}

impl BadgeState {
    /// The legal moves of the state machine (see the top of this file).
    pub fn legal(from: Standing, to: Standing) -> bool {
        use Standing::*;
        matches!(
            (from, to),
            (Out, Entering)
                | (Out, Held)
                | (Entering, Out)
                | (Entering, Held)
                | (Held, Leaving)
                | (Held, Out)
                | (Leaving, Held)
                | (Leaving, Out)
        )
    }
}

/// A badge earned or lost, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    pub badge: String,
    #[serde(with = "crate::time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Ms,
    /// `earned` or `lost`.
    pub change: String,
    pub reason: String,
}

/// What is kept of one profile between a tenant's evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    /// The profile version that last evaluated.
    pub version: i64,
    /// The last score (for `score.trend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_score: Option<f64>,
    /// The last coverage.
    #[serde(default)]
    pub last_coverage: f64,
    #[serde(default)]
    pub badges: BTreeMap<String, BadgeState>,
    /// Per factor, the last value it had from a signal (for
    /// `carry_forward`).
    #[serde(default)]
    pub carry: BTreeMap<String, Earlier>,
}

/// Everything kept about one tenant: its facts, its latest signals, and
/// per profile the state between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant: String,
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// The latest signal of each name (by its `at`).
    #[serde(default)]
    pub signals: BTreeMap<String, Signal>,
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileState>,
    /// When it was last evaluated and written (the next evaluation is
    /// strictly later).
    #[serde(
        default,
        with = "crate::time::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_at: Option<Ms>,
}

/// One badge in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BadgeView {
    pub badge: String,
    pub rank: i64,
    pub standing: Standing,
    #[serde(
        default,
        with = "crate::time::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<Ms>,
    /// For a held badge with a `narrative`, the text, interpolated with
    /// this tenant's own fields only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
}

/// One evaluation of one tenant on one profile: what the store keeps as
/// history and the score routes answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    pub tenant: String,
    #[serde(with = "crate::time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Ms,
    #[serde(flatten)]
    pub score: Score,
    /// The highest-ranked badge held, if any.
    pub badge: Option<String>,
    pub badges: Vec<BadgeView>,
    /// Badges earned or lost by this evaluation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    /// The tenant's facts it read (so a backfill reads the same).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}
