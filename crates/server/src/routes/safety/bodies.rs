//! The request and answer bodies of the `/v1/safety` routes (with their
//! OpenAPI schemas), and how a kept action is shown.

use super::*;

/// A preflight: the action descriptor and its context.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreflightBody {
    /// The action descriptor the pack reads as `action` (verb, target,
    /// tenant, volume, parameters...).
    #[schema(value_type = Object, example = json!({"verb": "delete", "target": "orders", "rows": 20000, "tenant": "acme"}))]
    pub action: serde_json::Map<String, serde_json::Value>,
    /// What the pack reads as `context`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Answer what would be required, keep nothing (no hold booked).
    #[serde(default)]
    pub simulate: bool,
}

/// The answer of a preflight, and of a step: where the action stands.
/// (The engine's `PreflightAnswer`; `docs/safety-workflows.md` has every field.)
#[derive(Serialize, ToSchema)]
pub struct ActionAnswer {
    /// `nothing_required`, `required` or `blocked`.
    pub outcome: String,
    pub simulate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    /// `pending`, `approved`, `denied`, `expired`, `cancelled`, `executed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `sha256:` over the canonical descriptor, the requester and the requirements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Present it to execute; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    /// Who / where / what, one sentence.
    pub summary: String,
    #[schema(value_type = Vec<Object>)]
    pub controls: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub approvals: Vec<serde_json::Value>,
    /// Why a blocked preflight is blocked.
    pub errors: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub advisories: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub matched: Vec<serde_json::Value>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<serde_json::Value>,
    /// The next legal steps: `self`, `reviews`, `confirm`, `break_glass`, `execute`, `cancel`.
    #[schema(value_type = Object)]
    pub links: serde_json::Value,
}

/// A kept action: its answer, reviews and history.
#[derive(Serialize, ToSchema)]
pub struct ActionView {
    #[serde(flatten)]
    pub answer: ActionAnswer,
    pub requester: String,
    pub tenant: Option<String>,
    #[schema(value_type = Object)]
    pub action: serde_json::Value,
    pub created_at: String,
    pub uses: u32,
    pub max_uses: u32,
    #[schema(value_type = Vec<Object>)]
    pub reviews: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    pub confirmation: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub break_glass_use: Option<serde_json::Value>,
    /// The post-hoc review of a break-glass use is past its deadline.
    pub break_glass_overdue: bool,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<serde_json::Value>,
}

/// What a step answers: the action after it, and for an execution the grant.
#[derive(Serialize, ToSchema)]
pub struct StepAnswer {
    /// What happened: `reviewed`, `approved`, `denied`, `confirmed`,
    /// `overridden`, `break_glass`, `break_glass_reviewed`, `executed`, `cancelled`.
    pub outcome: String,
    /// `?dry_run=true`: what would happen; nothing was written.
    pub dry_run: bool,
    pub action: ActionView,
    /// What an execution grants (present it downstream).
    #[schema(value_type = Option<Object>)]
    pub grant: Option<serde_json::Value>,
}

/// A page of actions.
#[derive(Serialize, ToSchema)]
pub struct ActionList {
    pub actions: Vec<ActionView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The grant with `expires_at` and, when a key is configured, its
/// `signature`: `hmac-sha256=<hex>` over the canonical JSON of the other
/// fields (sorted keys, no spaces), which a downstream service recomputes.
pub(super) fn signed(safety: &Safety, g: &engine::Grant) -> serde_json::Value {
    use hmac::{Hmac, Mac};
    let mut v = json!({
        "action_id": g.action_id,
        "digest": g.digest,
        "executed_at": engine::rfc3339(g.executed_at_ms),
        "use": g.use_,
        "max_uses": g.max_uses,
        "expires_at": g.expires_at_ms.map(engine::rfc3339),
    });
    if let Some(key) = &safety.grant_key {
        // Sorted keys whatever serde_json's map order is.
        let sorted: std::collections::BTreeMap<String, serde_json::Value> = v
            .as_object()
            .map(|m| m.iter().map(|(k, x)| (k.clone(), x.clone())).collect())
            .unwrap_or_default();
        let text = serde_json::to_string(&sorted).unwrap_or_default();
        if let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) {
            mac.update(text.as_bytes());
            v["signature"] = json!(format!(
                "hmac-sha256={}",
                hex::encode(mac.finalize().into_bytes())
            ));
        }
    }
    v
}

pub(super) fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub(super) fn answer_body(a: &engine::PreflightAnswer) -> ActionAnswer {
    let arr = |v: serde_json::Value| match v {
        serde_json::Value::Array(xs) => xs,
        _ => Vec::new(),
    };
    ActionAnswer {
        outcome: a.outcome.into(),
        simulate: a.simulate,
        action_id: a.action_id.clone(),
        state: a.state.map(|s| s.as_str().to_string()),
        digest: a.digest.clone(),
        nonce: a.nonce.clone(),
        risk: a.risk.clone(),
        enforcement: a.enforcement.clone(),
        summary: a.summary.clone(),
        controls: arr(to_json(&a.controls)),
        approvals: arr(to_json(&a.approvals)),
        errors: a.errors.clone(),
        advisories: arr(to_json(&a.advisories)),
        matched: arr(to_json(&a.matched)),
        expires_at: a.expires_at.clone(),
        break_glass: a.break_glass.as_ref().map(to_json),
        links: to_json(&a.links),
    }
}

pub(super) fn view(r: &ActionRecord, now: Ms) -> ActionView {
    let arr = |v: serde_json::Value| match v {
        serde_json::Value::Array(xs) => xs,
        _ => Vec::new(),
    };
    let mut history = arr(to_json(&r.history));
    for h in &mut history {
        if let Some(ms) = h.get("at_ms").and_then(|v| v.as_i64()) {
            h["at"] = json!(engine::rfc3339(ms));
        }
    }
    let mut reviews = arr(to_json(&r.reviews));
    for h in &mut reviews {
        if let Some(ms) = h.get("at_ms").and_then(|v| v.as_i64()) {
            h["at"] = json!(engine::rfc3339(ms));
        }
    }
    ActionView {
        answer: answer_body(&engine::answer_of(r, now)),
        requester: r.requester.id.clone(),
        tenant: r.tenant.clone(),
        action: r.action.clone(),
        created_at: engine::rfc3339(r.created_ms),
        uses: r.uses,
        max_uses: r.requirements.max_uses,
        reviews,
        confirmation: to_json(&r.confirmation),
        break_glass_use: r.break_glass.as_ref().map(to_json),
        break_glass_overdue: engine::overdue(r, now),
        history,
    }
}
