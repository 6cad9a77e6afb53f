//! What the `safety` pack requires of one descriptor from one requester:
//! the pack decides on `{action, actor, tenant, context}`, and the
//! enforced matches (not advisory, not dry run, not waived) become one
//! [`Requirements`]: controls, review sets and quorums, the strictest
//! deadlines, patterns and break-glass path; errors fail closed. Also the
//! digest that binds an action to them, and the one-sentence summary.

use crate::answer::{rfc3339, Matched};
use crate::model::*;
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

/// What the pack says about one descriptor from one requester.
pub(crate) struct Derived {
    pub(crate) decision: Decision,
    pub(crate) requirements: Option<Requirements>,
    pub(crate) errors: Vec<String>,
    pub(crate) matched: Vec<Matched>,
    pub(crate) advisories: Vec<Matched>,
}

pub(crate) fn actor_json(a: &Actor) -> serde_json::Value {
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

fn matched_of(m: &tenet_runtime::decision::Match) -> Matched {
    Matched {
        block: m.block.clone(),
        risk: m.risk.clone(),
        enforcement: m.enforcement.clone(),
        because: m.because.clone(),
        score: m.effects.get("score").cloned(),
    }
}

pub(crate) fn derive(
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
pub(crate) fn summary(
    requester: &Actor,
    action: &serde_json::Value,
    matched: &[Matched],
) -> String {
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
