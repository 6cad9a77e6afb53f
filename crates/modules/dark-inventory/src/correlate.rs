//! Correlation: one discovered resource against the pack's `correlate`
//! rules and the catalog.
//!
//! The rules that read the resource's source are tried in pack order; the
//! first whose `filter` holds decides. Its `key` and `aliases` (and the
//! collector's own `key`) give the resource's keys, normalised by the
//! expressions themselves (`lower(resource.arn)`). The resource is
//! **registered** when any key is a key of an entry of the rule's catalog —
//! and **governed** when the rule's `governed_when` holds on that entry
//! (`catalog.entry`). Otherwise it is a [`Sighting`]: unregistered, or
//! ungoverned.
//!
//! Catalog entries are keyed the same way: an entry's own `keys` as
//! written, plus, when it carries `resource` attributes, the `key` and
//! `aliases` of every rule of its catalog evaluated on them, so an entry
//! and a discovery normalise alike.

use crate::model::{CatalogEntry, Discovered};
use crate::policy::{Policy, Rule};
use std::collections::HashMap;
use std::sync::Arc;
use tenet_runtime::clock::Timestamp;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// The catalog, indexed by catalog, then key.
#[derive(Debug, Clone, Default)]
pub struct CatalogIndex {
    pub entries: Vec<CatalogEntry>,
    by_key: HashMap<String, HashMap<String, usize>>,
    /// Catalog-wide facts (`catalog.*` in the rules: sandbox accounts...).
    pub facts: serde_json::Value,
}

impl CatalogIndex {
    /// Indexes `entries`; an entry with no key at all is an error naming it.
    /// A later entry with the same catalog and id replaces an earlier one.
    pub fn build(
        pack: &PackHandle,
        policy: &Policy,
        entries: Vec<CatalogEntry>,
        facts: serde_json::Value,
    ) -> Result<CatalogIndex, String> {
        let mut idx = CatalogIndex {
            entries: Vec::with_capacity(entries.len()),
            by_key: HashMap::new(),
            facts,
        };
        let mut by_id: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for e in entries {
            let keys = entry_keys(pack, policy, &e)?;
            if keys.is_empty() {
                return Err(format!(
                    "catalog entry `{}` of `{}` has no key: give `keys`, or `resource` attributes the pack's `key` reads",
                    e.id, e.catalog
                ));
            }
            let ids = by_id.entry(e.catalog.clone()).or_default();
            let slot = match ids.get(&e.id) {
                Some(&i) => i,
                None => {
                    ids.insert(e.id.clone(), idx.entries.len());
                    idx.entries.len()
                }
            };
            let map = idx.by_key.entry(e.catalog.clone()).or_default();
            for k in keys {
                map.insert(k, slot);
            }
            if slot == idx.entries.len() {
                idx.entries.push(e);
            } else {
                idx.entries[slot] = e;
            }
        }
        Ok(idx)
    }

    /// The entry of `catalog` that has any of `keys`.
    pub fn lookup(&self, catalog: &str, keys: &[String]) -> Option<&CatalogEntry> {
        let map = self.by_key.get(catalog)?;
        keys.iter()
            .find_map(|k| map.get(k.as_str()).map(|&i| &self.entries[i]))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An entry's keys: its own, and the pack's for its `resource`.
pub fn entry_keys(
    pack: &PackHandle,
    policy: &Policy,
    e: &CatalogEntry,
) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = e.keys.iter().filter(|k| !k.is_empty()).cloned().collect();
    if let Some(res) = &e.resource {
        let input = input_of(Value::from_json(res), &Value::Null);
        for rule in policy.rules.iter().filter(|r| r.catalog == e.catalog) {
            for k in rule_keys(pack, rule, &input)
                .map_err(|m| format!("catalog entry `{}`: {m}", e.id))?
            {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    Ok(keys)
}

/// What one resource is.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No rule of its source is about it.
    Ignored,
    /// Registered and governed: the rule, its keys and the entry's id.
    Registered {
        rule: String,
        keys: Vec<String>,
        entry: String,
    },
    /// A finding.
    Finding(Sighting),
}

/// A resource nobody registered or governs, as one source saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub rule: String,
    /// Its keys, the rule's `key` first.
    pub keys: Vec<String>,
    /// `unregistered` or `ungoverned`.
    pub kind: &'static str,
    /// The entry it is registered under, when ungoverned.
    pub entry: Option<String>,
    /// The rule's `governed_when` as written, when ungoverned.
    pub governed_when: Option<String>,
    pub remediation: Option<String>,
    /// The pack's waiver that covers it: (name, owner, justification, expiry ms).
    pub pack_waiver: Option<(String, String, String, i64)>,
}

/// Correlates one resource seen by `source`. An error names the rule and
/// what failed (a key that is not a string...).
pub fn correlate(
    pack: &PackHandle,
    policy: &Policy,
    catalog: &CatalogIndex,
    facts: &Value,
    source: &str,
    d: &Discovered,
    now: i64,
) -> Result<Outcome, String> {
    let resource = Value::from_json(&d.resource());
    let input = input_of(resource.clone(), facts);
    for rule in policy.rules_for(source) {
        let holds = pack
            .condition(&rule.block, &input)
            .map_err(|e| format!("correlate `{}`: {e}", rule.name))?
            .unwrap_or(true);
        if !holds {
            continue;
        }
        let mut keys = rule_keys(pack, rule, &input)?;
        if let Some(k) = &d.key {
            if !k.is_empty() && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "correlate `{}`: the resource has no key (its `key` read missing attributes, and the discovery gives none)",
                rule.name
            ));
        }
        let mut kind = "unregistered";
        let mut entry_id = None;
        if let Some(entry) = catalog.lookup(&rule.catalog, &keys) {
            let governed = match rule.block.effects.iter().any(|a| a.name == "governed_when") {
                false => true,
                true => {
                    let entry_json = serde_json::to_value(entry).unwrap_or_default();
                    let mut cat = match facts {
                        Value::Map(m) => (**m).clone(),
                        _ => Default::default(),
                    };
                    cat.insert(Arc::from("entry"), Value::from_json(&entry_json));
                    let input = input_of(resource.clone(), &Value::Map(Arc::new(cat)));
                    pack.holds(&rule.block, "governed_when", &input)
                        .map_err(|e| format!("correlate `{}`: governed_when: {e}", rule.name))?
                        .unwrap_or(true)
                }
            };
            if governed {
                return Ok(Outcome::Registered {
                    rule: rule.name.clone(),
                    keys,
                    entry: entry.id.clone(),
                });
            }
            kind = "ungoverned";
            entry_id = Some(entry.id.clone());
        }
        let remediation = match pack.field(&rule.block, "remediation", &input) {
            Ok(Some(Value::Str(s))) => Some(s.to_string()),
            _ => None,
        };
        let pack_waiver = pack
            .waivers_for(&rule.name, &input, Timestamp::from_millis(now))
            .into_iter()
            .filter_map(|(w, _)| {
                let until = Timestamp::parse(&w.expires).ok()?.millis();
                Some((
                    w.name.clone(),
                    w.owner.clone(),
                    w.justification.clone(),
                    until,
                ))
            })
            .max_by_key(|w| w.3);
        return Ok(Outcome::Finding(Sighting {
            rule: rule.name.clone(),
            keys,
            kind,
            governed_when: entry_id
                .as_ref()
                .and_then(|_| pack.field_text(&rule.block, "governed_when")),
            entry: entry_id,
            remediation,
            pack_waiver,
        }));
    }
    Ok(Outcome::Ignored)
}

fn input_of(resource: Value, facts: &Value) -> Value {
    let mut m = std::collections::BTreeMap::new();
    m.insert(Arc::from("resource"), resource);
    m.insert(Arc::from("catalog"), facts.clone());
    Value::Map(Arc::new(m))
}

/// A rule's `key` and `aliases` on `input`: strings, empty ones and
/// missing data left out.
fn rule_keys(pack: &PackHandle, rule: &Rule, input: &Value) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    for field in ["key", "aliases"] {
        let v = pack
            .field(&rule.block, field, input)
            .map_err(|e| format!("correlate `{}`: {field}: {e}", rule.name))?
            .unwrap_or(Value::Null);
        let mut push = |v: &Value| -> Result<(), String> {
            match v {
                Value::Str(s) if !s.is_empty() => {
                    if !keys.iter().any(|k: &String| k == &**s) {
                        keys.push(s.to_string());
                    }
                    Ok(())
                }
                Value::Str(_) | Value::Null => Ok(()),
                other => Err(format!(
                    "correlate `{}`: `{field}` must give strings, found {} `{other}`",
                    rule.name,
                    other.type_name()
                )),
            }
        };
        match &v {
            Value::List(l) => l.iter().try_for_each(&mut push)?,
            v => push(v)?,
        }
    }
    Ok(keys)
}
