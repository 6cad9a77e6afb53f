//! A plan: one tenant's live configuration against one baseline, a delta
//! per setting. Pure: the same documents, tenant and baseline give the
//! same plan, byte for byte.
//!
//! For each setting, in application order:
//!
//! 1. **Applies?** The baseline's `applies_to` must select the tenant's
//!    labels (its facts), and the setting's `applies_when` (over `tenant`
//!    and `live`) must hold; otherwise the delta says why not.
//! 2. **The live value**: the setting's dotted path looked up in each live
//!    document in turn (`tls.min_version` is `{"tls": {"min_version"}}`,
//!    or a key written `"tls.min_version"`); the first document that has
//!    it wins, as a command line overrides a config file, and the delta
//!    names it.
//! 3. **Judged** by the comparator ([`tenet_runtime::dsl::compare`]):
//!    satisfied, or not, or not comparable (fail closed).
//! 4. **The action**: `none` (satisfied or not applicable), `tighten`
//!    (the smallest change that meets it — never a lower value: the
//!    stricter of live and baseline), or `refuse` with the reason (a
//!    change would lower protection, the live value cannot be read, or no
//!    value can be made up).

use crate::baselines::{Baseline, Setting};
use serde::Serialize;
use tenet_runtime::dsl::compare::{Change, Judgement};
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// One live configuration document, named (a file path, a source id).
#[derive(Debug, Clone)]
pub struct Document {
    pub name: String,
    pub body: serde_json::Value,
}

/// What to do about one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    None,
    Tighten,
    Refuse,
}

/// One setting's delta.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Delta {
    pub setting: String,
    /// The live value (`null` when not set).
    pub live: serde_json::Value,
    /// Which document it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub required: serde_json::Value,
    pub comparator: String,
    pub applies: bool,
    pub satisfied: bool,
    pub risk: String,
    pub action: Action,
    /// For `tighten`, the value it would set (`null`: remove the setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
    /// Why: what is wrong, why it does not apply, or why it is refused.
    pub why: String,
    /// The baseline's reason for the setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The baseline that declares it (itself, or one it extends).
    pub baseline: String,
    /// The waiver that covers the delta now (the action is then `none`),
    /// or the one that covered it and expired (it is back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverRef>,
}

/// A waiver on a setting, as a delta shows it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WaiverRef {
    pub name: String,
    pub owner: String,
    pub justification: String,
    /// The day it stops applying.
    pub expires: String,
    /// Whether it still applies.
    pub live: bool,
}

/// A plan for one tenant and one baseline.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Plan {
    pub baseline: String,
    pub mode: String,
    /// Whether `applies_to` selects the tenant.
    pub applies: bool,
    pub why: String,
    pub deltas: Vec<Delta>,
}

impl Plan {
    /// How many settings need a change (`tighten`) or a person (`refuse`).
    pub fn open(&self) -> usize {
        self.deltas
            .iter()
            .filter(|d| d.action != Action::None)
            .count()
    }
}

/// The value at a dotted path: nested keys, or one key written dotted.
pub fn lookup<'a>(doc: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let mut cur = doc;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// The first document that has the setting, and its value.
fn live_of<'a>(docs: &'a [Document], path: &str) -> Option<(&'a str, &'a serde_json::Value)> {
    docs.iter()
        .find_map(|d| lookup(&d.body, path).map(|v| (d.name.as_str(), v)))
}

/// The whole live configuration as the `live` root of `applies_when`:
/// later documents first, so the first document's values win.
fn live_root(docs: &[Document]) -> serde_json::Value {
    fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
            (slot, v) => *slot = v.clone(),
        }
    }
    let mut out = serde_json::json!({});
    for d in docs.iter().rev() {
        merge(&mut out, &d.body);
    }
    out
}

/// Plans `baseline` for a tenant (its facts: labels and what
/// `applies_when` reads as `tenant.*`) with its live documents, at `now`
/// (milliseconds: which waivers still apply).
pub fn plan(
    pack: &PackHandle,
    baseline: &Baseline,
    tenant: &serde_json::Value,
    docs: &[Document],
    now: i64,
) -> Result<Plan, String> {
    let labels = Value::from_json(tenant);
    let (applies, why) = match &baseline.applies_to {
        None => (true, "it applies to every tenant".to_string()),
        Some(sel) => match tenet_runtime::dsl::builtins::selects(sel, &labels) {
            Ok(true) => (true, "its `applies_to` selects the tenant".into()),
            Ok(false) => (
                false,
                "its `applies_to` does not select the tenant's labels".into(),
            ),
            Err(e) => return Err(format!("baseline `{}`: `applies_to`: {e}", baseline.name)),
        },
    };
    let input = Value::from_json(&serde_json::json!({"tenant": tenant, "live": live_root(docs)}));
    let deltas = baseline
        .settings
        .iter()
        .map(|s| delta(pack, s, applies, &input, docs, now))
        .collect();
    Ok(Plan {
        baseline: baseline.name.clone(),
        mode: baseline.mode.clone(),
        applies,
        why,
        deltas,
    })
}

fn delta(
    pack: &PackHandle,
    s: &Setting,
    applies: bool,
    input: &Value,
    docs: &[Document],
    now: i64,
) -> Delta {
    let found = live_of(docs, &s.name);
    let mut d = Delta {
        setting: s.name.clone(),
        live: found
            .map(|(_, v)| v.clone())
            .unwrap_or(serde_json::Value::Null),
        source: found.map(|(n, _)| n.to_string()),
        required: s.comparator.required().to_json(),
        comparator: s.comparator.name().to_string(),
        applies: false,
        satisfied: false,
        risk: s.risk.clone(),
        action: Action::None,
        to: None,
        why: String::new(),
        reason: s.reason.clone(),
        baseline: s.from.clone(),
        waiver: None,
    };
    if !applies {
        d.why = "the baseline does not apply to this tenant".into();
        return d;
    }
    if let Some(cond) = &s.applies_when {
        match pack.condition(&s.block, input) {
            Ok(Some(true)) | Ok(None) => {}
            Ok(Some(false)) => {
                d.why = format!("does not apply: `{cond}` does not hold");
                return d;
            }
            Err(e) => {
                // Fail closed: the requirement stands, and says why.
                d.why = format!("`applies_when` failed ({e}), so it is treated as applying; ");
            }
        }
    }
    d.applies = true;
    let live = found.map(|(_, v)| Value::from_json(v));
    match s.comparator.judge(live.as_ref()) {
        Judgement::Satisfied => {
            d.satisfied = true;
            d.why.push_str("satisfied");
            return d;
        }
        Judgement::Unsatisfied(w) | Judgement::Invalid(w) => {
            d.why.push_str(&format!("{} {w}", s.name));
        }
    }
    // A waiver on the setting (its block, `baseline/setting`) whose scope
    // holds: the delta stays visible, and quiet until the waiver expires.
    let waivers = pack.waivers_for(
        &s.block.name,
        input,
        tenet_runtime::clock::Timestamp::from_millis(now),
    );
    let pick = waivers
        .iter()
        .find(|(_, live)| *live)
        .or_else(|| waivers.first());
    if let Some((w, live)) = pick {
        d.waiver = Some(WaiverRef {
            name: w.name.clone(),
            owner: w.owner.clone(),
            justification: w.justification.clone(),
            expires: w.expires.clone(),
            live: *live,
        });
        if *live {
            d.why = format!(
                "{}; waived by `{}` ({}) until {}",
                d.why, w.name, w.owner, w.expires
            );
            return d;
        }
        d.why = format!("{}; waiver `{}` expired on {}", d.why, w.name, w.expires);
    }
    match s.comparator.tighten(live.as_ref()) {
        Change::Keep => {
            d.satisfied = true;
        }
        Change::Set(v) => {
            d.action = Action::Tighten;
            d.to = Some(v.to_json());
        }
        Change::Remove => {
            d.action = Action::Tighten;
            d.to = Some(serde_json::Value::Null);
        }
        Change::Refuse(why) => {
            d.action = Action::Refuse;
            d.why = format!("{}: refused: {why}", d.why);
        }
    }
    d
}
