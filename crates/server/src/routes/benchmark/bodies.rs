//! The request and answer bodies of the tenant benchmark's routes, and
//! their query parameters (each in the OpenAPI document).

use super::*;
use tenet_tenant_benchmark::model::{Evaluation, Transition};
use tenet_tenant_benchmark::score::FactorScore;

/// One signal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    /// A factor's `source` name (`iam.mfa_coverage_pct`), or any name a
    /// `when` or `requires` reads (`signals.incidents_90d`).
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,200}$")]
    pub(super) name: String,
    /// A number (what factors score), a boolean or string (what
    /// conditions may read), or `null`: no measurement now (a
    /// `carry_forward` factor carries its last value, decayed).
    #[schema(schema_with = signal_value)]
    pub(super) value: Value,
    /// When it was measured (RFC 3339; default: when received). More
    /// than 5 minutes ahead of the server's clock, it is ignored.
    #[schema(format = DateTime)]
    pub(super) at: Option<String>,
    /// A link to the evidence.
    #[schema(max_length = 2000)]
    pub(super) source: Option<String>,
}

/// A signal's value: a number, a boolean, a string or null.
fn signal_value() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(1000)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

/// Signals and facts for one tenant. An empty body evaluates a known
/// tenant again now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalsBody {
    /// Facts about the tenant, as `tenant.*` reads them (`regulated`,
    /// `plan`, `seats`, `name`): each key given replaces the stored one,
    /// `null` removes it.
    #[schema(value_type = Option<Object>)]
    pub(super) facts: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub(super) signals: Vec<SignalBody>,
}

/// A profile's evaluation in short, after new signals.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scored {
    pub profile: String,
    pub version: i64,
    /// `null` when blocked or nothing had data.
    pub score: Option<f64>,
    pub coverage: f64,
    pub badge: Option<String>,
    pub transitions: Vec<Transition>,
}

/// A signal of the request that was not recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct IgnoredSignal {
    /// Its place in the request's `signals`.
    pub index: usize,
    pub why: String,
}

/// What a signals request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalsAnswer {
    pub tenant: String,
    /// Signals new to the store.
    pub accepted: usize,
    /// Signals it already had (same name and `at`): counted once.
    pub duplicates: usize,
    /// Signals ignored, and why (measured more than 5 minutes ahead of
    /// the server's clock).
    pub ignored: Vec<IgnoredSignal>,
    /// Each profile, evaluated with them.
    pub scores: Vec<Scored>,
    /// `?dry_run=true`: what would have happened; nothing was written.
    pub dry_run: bool,
}

/// Which profile.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProfileParam {
    /// A profile of the pack (`regulator`).
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    pub(super) profile: String,
}

/// Which profile, if one.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OptProfileParam {
    /// A profile of the pack; default: every profile.
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    pub(super) profile: Option<String>,
}

/// One profile's factors in a tenant's latest evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileFactors {
    pub profile: String,
    pub version: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub score: Option<f64>,
    pub coverage: f64,
    pub factors: Vec<FactorScore>,
}

/// A tenant's factors per profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorsAnswer {
    pub tenant: String,
    pub profiles: Vec<ProfileFactors>,
}

/// How the history is written.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HistoryFormat {
    #[default]
    Json,
    Svg,
}

/// Which evaluations of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    pub(super) profile: String,
    /// A profile version; default: the serving one.
    #[param(minimum = 1)]
    pub(super) version: Option<i64>,
    /// From this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub(super) from: Option<String>,
    /// Up to this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub(super) to: Option<String>,
    /// The most recent this many (default 1000, at most 10000).
    #[param(minimum = 1, maximum = 10000)]
    pub(super) limit: Option<u32>,
    /// `json` (default) or `svg` (a chart).
    #[param(inline)]
    pub(super) format: Option<HistoryFormat>,
}

/// One point of the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPoint {
    #[schema(format = DateTime)]
    pub at: String,
    pub score: Option<f64>,
    pub coverage: f64,
    pub badge: Option<String>,
    pub transitions: Vec<Transition>,
}

/// A tenant's score over time on one profile version.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryAnswer {
    pub tenant: String,
    pub profile: String,
    pub version: i64,
    /// Oldest first.
    pub points: Vec<HistoryPoint>,
}

/// Which two evaluations to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    pub(super) profile: String,
    /// The evaluation at or before this time; default: the one before `to`'s.
    #[param(format = DateTime)]
    pub(super) from: Option<String>,
    /// The evaluation at or before this time; default: the latest.
    #[param(format = DateTime)]
    pub(super) to: Option<String>,
}

/// A factor of a profile, as the pack declares it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorInfo {
    pub name: String,
    pub source: String,
    pub weight: f64,
    pub bounds: [f64; 2],
    pub smaller_is_better: bool,
    /// `linear` or `logarithmic`.
    pub distribution: String,
    /// `clamp`, `exclude` or `error`.
    pub out_of_bounds: String,
    /// `exclude_renormalize`, `count_as_zero`, `carry_forward` or `block`.
    pub fallback: String,
    pub when: Option<String>,
}

/// A badge of a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeInfo {
    pub name: String,
    pub rank: i64,
    pub enter: f64,
    pub exit: f64,
    /// `7d`.
    pub dwell: String,
    pub requires: Option<String>,
}

/// A profile of the serving pack.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileInfo {
    pub name: String,
    pub version: i64,
    pub description: String,
    /// The most of the score one factor may carry, 0..1 (1: no cap).
    pub cap_share: f64,
    pub factors: Vec<FactorInfo>,
    /// Highest rank first.
    pub badges: Vec<BadgeInfo>,
}

/// The profiles of the serving pack.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilesAnswer {
    /// The `tenant_benchmark` pack's version.
    pub pack_version: String,
    pub profiles: Vec<ProfileInfo>,
}

/// Which tenants to backfill.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    /// Only these tenants; default: every tenant.
    #[schema(max_items = 10000)]
    pub(super) tenants: Option<Vec<String>>,
}

/// What a backfill did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackfillAnswer {
    pub profile: String,
    /// The version the history was recomputed under.
    pub version: i64,
    pub tenants: usize,
    /// Evaluations written under it.
    pub evaluations: usize,
    /// Of those, how many differ in score or badge from what was stored
    /// at the same time before.
    pub changed: usize,
    /// `?dry_run=true`: counted, nothing was written.
    pub dry_run: bool,
}

pub(super) fn scored(e: &Evaluation) -> Scored {
    Scored {
        profile: e.score.profile.clone(),
        version: e.score.version,
        score: e.score.score,
        coverage: e.score.coverage,
        badge: e.badge.clone(),
        transitions: e.transitions.clone(),
    }
}
