//! Apply: a plan made real on one live document. Pure: the document in,
//! the document out, with the changes made and the ones refused.
//!
//! - **Monotonic.** Each setting becomes the stricter of live and
//!   baseline (the plan's `tighten`); a change the plan refuses — one
//!   that would lower protection, a value that cannot be read — is
//!   recorded with its reason and never written.
//! - **Idempotent.** A document applied once plans no change the second
//!   time, so applying twice changes nothing.
//! - **Staged** in the plan's order (`after` first).
//! - `advise` mode and `dry_run` compute the same result and write
//!   nothing; the caller decides whether to keep the document.

use crate::plan::{Action, Plan};
use serde::Serialize;
use serde_json::Value;

/// One setting changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changed {
    pub setting: String,
    pub from: Value,
    /// `null`: removed.
    pub to: Value,
    pub risk: String,
}

/// One setting left as it was, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    pub setting: String,
    pub live: Value,
    pub risk: String,
    pub why: String,
}

/// What applying a plan does to a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub changed: Vec<Changed>,
    pub refused: Vec<Refused>,
    /// The document after the changes.
    #[serde(skip)]
    pub document: Value,
}

/// Sets (or, with `null`, removes) a dotted path in a document, making
/// the maps on the way. A key already written dotted is replaced there.
pub fn set_path(doc: &mut Value, path: &str, to: &Value) {
    if let Some(m) = doc.as_object_mut() {
        if m.contains_key(path) {
            if to.is_null() {
                m.remove(path);
            } else {
                m.insert(path.to_string(), to.clone());
            }
            return;
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = doc;
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(serde_json::Map::new());
        }
        let Some(m) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            if to.is_null() {
                m.remove(*p);
            } else {
                m.insert(p.to_string(), to.clone());
            }
            return;
        }
        cur = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// Applies `plan` to `doc` (the tenant's live document the plan was made
/// from).
pub fn apply(plan: &Plan, doc: &Value) -> Applied {
    let mut document = doc.clone();
    let mut changed = Vec::new();
    let mut refused = Vec::new();
    for d in &plan.deltas {
        match d.action {
            Action::None => {}
            Action::Tighten => {
                let to = d.to.clone().unwrap_or(Value::Null);
                set_path(&mut document, &d.setting, &to);
                changed.push(Changed {
                    setting: d.setting.clone(),
                    from: d.live.clone(),
                    to,
                    risk: d.risk.clone(),
                });
            }
            Action::Refuse => refused.push(Refused {
                setting: d.setting.clone(),
                live: d.live.clone(),
                risk: d.risk.clone(),
                why: d.why.clone(),
            }),
        }
    }
    Applied {
        changed,
        refused,
        document,
    }
}
