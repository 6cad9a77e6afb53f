//! The baselines the `autoconfig` pack declares, read once per rules load
//! into plain values: each setting's comparator (`dsl::compare`), risk,
//! order of application (`after`) and reason; `applies_to` (a selector
//! over the tenant's labels); change windows; and `extends` resolved (a
//! baseline has its parent's settings, its own replacing theirs — `tenet
//! check` has already refused any that loosens).

use std::collections::BTreeMap;
use tenet_runtime::dsl::compare::Comparator;
use tenet_runtime::dsl::window::{self, Window};
use tenet_runtime::dsl::Value;
use tenet_runtime::ir::CBlock;
use tenet_runtime::pack::PackHandle;

/// One setting of a baseline.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Its dotted path (`tls.min_version`).
    pub name: String,
    pub comparator: Comparator,
    /// The pack's risk level of a delta.
    pub risk: String,
    /// Settings applied before it.
    pub after: Vec<String>,
    /// `applies_when` as written; `None`: always applies.
    pub applies_when: Option<String>,
    pub reason: Option<String>,
    /// The baseline that declares it (the child's own, or inherited).
    pub from: String,
    /// Whether `remediate` may apply its change without a person.
    pub auto: bool,
    pub block: CBlock,
}

/// One baseline, with what it extends resolved.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub name: String,
    pub description: String,
    /// `advise` (propose only) or `enforce`.
    pub mode: String,
    /// The selector over a tenant's labels; `None`: every tenant.
    pub applies_to: Option<Value>,
    /// The baselines it extends, nearest first.
    pub extends: Vec<String>,
    /// Settings in application order (`after` first, then as written).
    pub settings: Vec<Setting>,
    /// Its change windows and those of what it extends.
    pub windows: Vec<(String, Window)>,
    /// Remediation attempts per setting before a person decides.
    pub max_attempts: u32,
    /// The wait after a failed attempt (doubled after each), ms.
    pub retry_after: i64,
}

/// Every baseline of the pack, by name.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    pub by_name: BTreeMap<String, Baseline>,
}

impl Baselines {
    pub fn get(&self, name: &str) -> Option<&Baseline> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    /// The pack's baselines; an error names the baseline and the setting.
    pub fn read(pack: &PackHandle) -> Result<Baselines, String> {
        let blocks: Vec<&CBlock> = pack
            .compiled()
            .blocks
            .iter()
            .filter(|b| b.kind == "baseline")
            .collect();
        let mut own: BTreeMap<String, Baseline> = BTreeMap::new();
        let mut parents: BTreeMap<String, Option<String>> = BTreeMap::new();
        for b in &blocks {
            let base = read_baseline(pack, b).map_err(|e| format!("baseline `{}`: {e}", b.name))?;
            parents.insert(
                b.name.clone(),
                match get(pack, b, "extends") {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                },
            );
            own.insert(b.name.clone(), base);
        }
        let mut by_name = BTreeMap::new();
        for name in own.keys() {
            // The chain of what it extends, nearest first, without loops.
            let mut chain = Vec::new();
            let mut at = parents.get(name).cloned().flatten();
            while let Some(p) = at {
                if p == *name || chain.contains(&p) {
                    return Err(format!("baseline `{name}` extends itself through `{p}`"));
                }
                if !own.contains_key(&p) {
                    return Err(format!(
                        "baseline `{name}` extends `{p}`, which the pack does not declare"
                    ));
                }
                chain.push(p.clone());
                at = parents.get(&p).cloned().flatten();
            }
            let mut b = own[name].clone();
            let mut settings: Vec<Setting> = Vec::new();
            // Farthest ancestor first, each nearer one replacing.
            for src in chain.iter().rev().chain(std::iter::once(name)) {
                for s in &own[src].settings {
                    match settings.iter_mut().find(|x| x.name == s.name) {
                        Some(x) => *x = s.clone(),
                        None => settings.push(s.clone()),
                    }
                }
                if src != name {
                    b.windows.extend(own[src].windows.iter().cloned());
                }
            }
            b.settings = ordered(settings)?;
            b.extends = chain;
            by_name.insert(name.clone(), b);
        }
        Ok(Baselines { by_name })
    }
}

fn get(pack: &PackHandle, b: &CBlock, f: &str) -> Value {
    pack.field(b, f, &Value::Null)
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

fn read_baseline(pack: &PackHandle, b: &CBlock) -> Result<Baseline, String> {
    let mut settings = Vec::new();
    for s in pack.nested(&b.name, "setting") {
        let short = s
            .name
            .strip_prefix(&format!("{}/", b.name))
            .unwrap_or(&s.name)
            .to_string();
        settings.push(
            read_setting(pack, s, &short, &b.name)
                .map_err(|e| format!("setting `{short}`: {e}"))?,
        );
    }
    let mut windows = Vec::new();
    for w in pack.nested(&b.name, "window") {
        let short = w.name.rsplit('/').next().unwrap_or(&w.name).to_string();
        let mut map = BTreeMap::new();
        for f in ["mode", "cron", "duration", "tz"] {
            let v = get(pack, w, f);
            if !v.is_null() {
                map.insert(std::sync::Arc::from(f), v);
            }
        }
        let win = window::from_value(&Value::Map(std::sync::Arc::new(map)))
            .map_err(|e| format!("window `{short}`: {e}"))?;
        windows.push((short, win));
    }
    let applies_to = match get(pack, b, "applies_to") {
        Value::Null => None,
        v => Some(v),
    };
    Ok(Baseline {
        name: b.name.clone(),
        description: text(&get(pack, b, "description")).unwrap_or_default(),
        mode: text(&get(pack, b, "mode")).unwrap_or_else(|| "advise".into()),
        applies_to,
        extends: Vec::new(),
        settings,
        windows,
        max_attempts: match get(pack, b, "max_attempts") {
            Value::Int(n) if n >= 0 => u32::try_from(n).unwrap_or(u32::MAX),
            Value::Null => 5,
            v => return Err(format!("`max_attempts` must be 0 or more, found {v}")),
        },
        retry_after: match get(pack, b, "retry_after") {
            Value::Duration(ms) if ms >= 0 => ms,
            _ => 60_000,
        },
    })
}

fn read_setting(pack: &PackHandle, s: &CBlock, name: &str, from: &str) -> Result<Setting, String> {
    let mut fields = Vec::new();
    for f in tenet_runtime::dsl::compare::COMPARATORS
        .iter()
        .chain(["order"].iter())
    {
        let v = get(pack, s, f);
        if !v.is_null() {
            fields.push((*f, v));
        }
    }
    let comparator = Comparator::from_fields(&fields)?;
    let after = match get(pack, s, "after") {
        Value::List(l) => l.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    Ok(Setting {
        name: name.to_string(),
        comparator,
        // The level the pack's taxonomy gives the setting (`risk`).
        risk: s.level.clone().unwrap_or_else(|| "medium".into()),
        after,
        applies_when: s.condition.as_ref().map(|c| c.text.clone()),
        reason: text(&get(pack, s, "reason")),
        from: from.to_string(),
        auto: matches!(get(pack, s, "remediate"), Value::Str(m) if &*m == "auto"),
        block: s.clone(),
    })
}

/// Settings in application order: each after those its `after` names,
/// otherwise as written. A loop in `after` is an error naming it.
fn ordered(settings: Vec<Setting>) -> Result<Vec<Setting>, String> {
    let mut out: Vec<Setting> = Vec::with_capacity(settings.len());
    let mut left = settings;
    while !left.is_empty() {
        let names: Vec<String> = left.iter().map(|s| s.name.clone()).collect();
        let Some(i) = left
            .iter()
            .position(|s| s.after.iter().all(|a| !names.contains(a)))
        else {
            return Err(format!(
                "the settings {} wait for each other in `after`",
                names.join(", ")
            ));
        };
        out.push(left.remove(i));
    }
    Ok(out)
}
