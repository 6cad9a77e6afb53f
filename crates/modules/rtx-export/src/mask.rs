//! Masking: the pack decides which `masking` policies apply to each record
//! (its roots: `subject`, `request`, `record`), and this file applies them.
//!
//! - `drop` removes the value, `redact` replaces it with [`REDACTED`],
//!   `hash` replaces it with a commitment `{"$commitment": "sha256:<hex>"}`.
//! - A commitment is `sha256(field_salt || JCS(value))`, where
//!   `field_salt = HMAC-SHA256(export_salt, record_id 0x00 path)` and the
//!   export's salt is `HMAC-SHA256(secret, "tenet.rtx/v1/export-salt" 0x00
//!   export_id)`. The same export is byte-identical when made again; the
//!   controller can prove one value by revealing that field's salt alone
//!   ([`open`]), which says nothing about any other value.
//! - Masks add up: on one path the strongest action wins (drop > redact >
//!   hash; on a tie, the first policy in pack order) and the others are
//!   listed in `also`; a value inside a masked value is masked with it.
//! - Every value masked gets a manifest entry in its record's
//!   `redactions`: path, action, policy, legal basis, the policy's
//!   `because`, its jurisdictions, and the commitment to the removed value
//!   (for `drop` and `redact` too, so the redaction is evidence).
//! - Fails closed: a policy that errs or is inconclusive fails the export;
//!   a path that would remove a record's identity (`id`, `kind`, `at`) is
//!   an error in the pack.
//!
//! Paths are `record.` and dot-separated keys; a number indexes an array
//! and `*` is every element or key.
//!
//! **Data categories** (Fides' semantics): a `data_category` block names a
//! dotted category (`user.sensitive.health`) and the paths that hold it. A
//! policy's `redact`, `hash` or `drop` entry that does not start with
//! `record.` is a category, and covers every declared category it is, or
//! is a parent of (`user.sensitive` covers `user.sensitive.health`). The
//! manifest entry then names the category too. `tenet check` refuses a
//! category that covers no declared one, or a category path that is not a
//! path; should one reach here anyway, the export fails.

use crate::canonical;
use crate::model::RESERVED_KEYS;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use tenet_runtime::decision::DecideOptions;
use tenet_runtime::dsl::Value as DslValue;
use tenet_runtime::pack::PackHandle;

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// The key of a hash commitment object.
pub const COMMITMENT_KEY: &str = "$commitment";

/// What a policy does to a path, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Hash,
    Redact,
    Drop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Hash => "hash",
            Action::Redact => "redact",
            Action::Drop => "drop",
        }
    }
}

/// An export's salt (secret: never in the bundle, never printed).
#[derive(Clone)]
pub struct ExportSalt([u8; 32]);

impl fmt::Debug for ExportSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExportSalt(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail here.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl ExportSalt {
    /// The salt of export `export_id` under the commitment secret `secret`.
    pub fn derive(secret: &[u8], export_id: &str) -> ExportSalt {
        ExportSalt(hmac(
            secret,
            &[b"tenet.rtx/v1/export-salt", &[0], export_id.as_bytes()],
        ))
    }

    /// The salt of one field (what the controller reveals to open one
    /// commitment).
    pub fn field_salt(&self, record_id: &str, path: &str) -> [u8; 32] {
        hmac(&self.0, &[record_id.as_bytes(), &[0], path.as_bytes()])
    }

    /// The commitment to `value` at `path` of record `record_id`.
    pub fn commit(&self, record_id: &str, path: &str, value: &Value) -> String {
        commitment(&self.field_salt(record_id, path), value)
    }
}

/// `sha256:<hex>` of `salt || JCS(value)`.
pub fn commitment(field_salt: &[u8], value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(field_salt);
    h.update(canonical::value_to_vec(value).unwrap_or_default());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Whether `value` with the revealed `field_salt` (hex) opens `commitment`.
pub fn open(field_salt_hex: &str, value: &Value, commitment_text: &str) -> bool {
    hex::decode(field_salt_hex).is_ok_and(|salt| commitment(&salt, value) == commitment_text)
}

/// Why a record could not be masked: the export fails (masking fails
/// closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    #[error("masking policy `{policy}` failed on record `{record}`: {message}")]
    Policy {
        policy: String,
        record: String,
        message: String,
    },
    #[error(
        "masking policy `{policy}` is inconclusive on record `{record}`; the export fails closed"
    )]
    Inconclusive { policy: String, record: String },
    #[error("masking policy `{policy}` names the path `{path}`, which {problem}")]
    BadPath {
        policy: String,
        path: String,
        problem: String,
    },
    #[error("masking policy `{policy}` names `{name}`, which is neither a `record.` path nor a declared `data_category` (nor the parent of one){known}")]
    UnknownCategory {
        policy: String,
        name: String,
        known: String,
    },
    #[error("data category `{category}` has the path `{path}`, which {problem}")]
    BadCategoryPath {
        category: String,
        path: String,
        problem: String,
    },
}

/// A path an entry of a policy masks: parsed, as written, and the
/// category it came from (none for a `record.` path).
type Target = (Vec<String>, String, Option<Arc<str>>);

/// One policy that matched, as its effects read.
struct Applied {
    name: String,
    jurisdictions: Vec<String>,
    basis: Option<String>,
    because: Option<String>,
    /// Each entry's action and what it masks (shared across records).
    paths: Vec<(Action, Arc<[Target]>)>,
}

/// What a policy did over a whole export (the bundle's summary).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyUse {
    pub policy: String,
    pub jurisdictions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The records it applied to.
    pub records: u64,
    /// The values it masked (as the winning policy).
    pub masked: u64,
}

/// The pack's masking, ready for one export's records.
pub struct Masker<'r> {
    pack: PackHandle<'r>,
    /// The `subject` and `request` roots, converted for the pack once.
    subject: DslValue,
    request: DslValue,
    opts: DecideOptions,
    salt: ExportSalt,
    uses: BTreeMap<String, PolicyUse>,
    /// Each declared data category and its paths (as written).
    categories: BTreeMap<String, Vec<String>>,
    /// What each (policy, entry) resolved to, once per export.
    resolved: HashMap<String, HashMap<String, Arc<[Target]>>>,
}

/// The pack's `data_category` blocks: name -> paths.
fn categories_of(pack: PackHandle<'_>) -> BTreeMap<String, Vec<String>> {
    pack.compiled()
        .blocks
        .iter()
        .filter(|b| b.kind == "data_category")
        .map(|b| {
            let paths = match pack.field(b, "paths", &DslValue::Null) {
                Ok(Some(DslValue::List(l))) => l
                    .iter()
                    .filter_map(|v| match v {
                        DslValue::Str(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (b.name.clone(), paths)
        })
        .collect()
}

impl<'r> Masker<'r> {
    /// `subject` and `request` are the pack's roots (see
    /// [`crate::model::ExportRequest::subject_root`]); `snapshot_at` is the
    /// decision time (a waiver of a masking policy is judged at it).
    pub fn new(
        pack: PackHandle<'r>,
        subject: Value,
        request: Value,
        snapshot_at: i64,
        salt: ExportSalt,
    ) -> Self {
        Masker {
            pack,
            subject: DslValue::from_json(&subject),
            request: DslValue::from_json(&request),
            opts: DecideOptions {
                now: Some(tenet_runtime::clock::Timestamp::from_millis(snapshot_at).rfc3339()),
                ..DecideOptions::default()
            },
            salt,
            uses: BTreeMap::new(),
            categories: categories_of(pack),
            resolved: HashMap::new(),
        }
    }

    /// What an entry of a policy's list masks: a `record.` path, or every
    /// path of the declared categories it is or is a parent of.
    fn targets_of(&self, policy: &str, entry: &str) -> Result<Vec<Target>, MaskError> {
        if entry.starts_with("record.") {
            return Ok(vec![(parse_path(policy, entry)?, entry.to_string(), None)]);
        }
        let mut out = Vec::new();
        for (c, paths) in &self.categories {
            let covered = c == entry
                || c.strip_prefix(entry)
                    .is_some_and(|rest| rest.starts_with('.'));
            if covered {
                for p in paths {
                    let parsed = parse_path(c, p).map_err(|e| match e {
                        MaskError::BadPath { path, problem, .. } => MaskError::BadCategoryPath {
                            category: c.clone(),
                            path,
                            problem,
                        },
                        other => other,
                    })?;
                    out.push((parsed, p.clone(), Some(Arc::from(c.as_str()))));
                }
            }
        }
        if out.is_empty() {
            let known: Vec<&str> = self.categories.keys().map(String::as_str).collect();
            return Err(MaskError::UnknownCategory {
                policy: policy.to_string(),
                name: entry.to_string(),
                known: if known.is_empty() {
                    " (the pack declares none)".into()
                } else {
                    format!(" (declared: {})", known.join(", "))
                },
            });
        }
        Ok(out)
    }

    /// The pack deciding.
    pub fn pack(&self) -> PackHandle<'r> {
        self.pack
    }

    /// What each policy did so far, by name.
    pub fn uses(&self) -> impl Iterator<Item = &PolicyUse> {
        self.uses.values()
    }

    fn policies_for(&mut self, id: &str, record: &Value) -> Result<Vec<Applied>, MaskError> {
        // What `DslValue::from_json(&json!({"subject": .., "request": ..,
        // "record": record}))` gives, without copying the record twice.
        let input = DslValue::Map(Arc::new(BTreeMap::from([
            (Arc::from("subject"), self.subject.clone()),
            (Arc::from("request"), self.request.clone()),
            (Arc::from("record"), DslValue::from_json(record)),
        ])));
        let d = self.pack.decide(&input, &self.opts);
        if let Some(e) = d.errors.first() {
            return Err(MaskError::Policy {
                policy: e.block.clone(),
                record: id.to_string(),
                message: e.message.clone(),
            });
        }
        if let Some(p) = d.inconclusive.first() {
            return Err(MaskError::Inconclusive {
                policy: p.clone(),
                record: id.to_string(),
            });
        }
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for m in d.matched.iter().filter(|m| m.kind == "masking") {
            let mut paths = Vec::new();
            for (field, action) in [
                ("hash", Action::Hash),
                ("redact", Action::Redact),
                ("drop", Action::Drop),
            ] {
                for p in strings(m.effects.get(field)) {
                    let known = self.resolved.get(&m.block).and_then(|e| e.get(&p)).cloned();
                    let targets = match known {
                        Some(t) => t,
                        None => {
                            let t: Arc<[Target]> = self.targets_of(&m.block, &p)?.into();
                            self.resolved
                                .entry(m.block.clone())
                                .or_default()
                                .insert(p, Arc::clone(&t));
                            t
                        }
                    };
                    paths.push((action, targets));
                }
            }
            out.push(Applied {
                name: m.block.clone(),
                jurisdictions: strings(m.effects.get("jurisdictions")),
                basis: m
                    .effects
                    .get("basis")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                because: m.because.clone(),
                paths,
            });
        }
        Ok(out)
    }

    /// Masks one rendered record (an object with `id`) in place and adds
    /// its `redactions`; returns the manifest entries (with `record`).
    pub fn mask(&mut self, record: &mut Value) -> Result<Vec<Value>, MaskError> {
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let inline = self.masked(record)?;
        if !inline.is_empty() {
            if let Value::Object(o) = record {
                o.insert("redactions".into(), Value::Array(inline.clone()));
            }
        }
        Ok(inline
            .into_iter()
            .map(|mut e| {
                if let Value::Object(o) = &mut e {
                    o.insert("record".into(), Value::String(id.clone()));
                }
                e
            })
            .collect())
    }

    /// [`Masker::mask`] without the manifest entries: masks the record in
    /// place and adds its `redactions` (when something was masked); returns
    /// how many entries they have (the manifest entries are these, each
    /// with `record`: the record's id).
    pub fn mask_in_place(&mut self, record: &mut Value) -> Result<usize, MaskError> {
        let inline = self.masked(record)?;
        let n = inline.len();
        if n > 0 {
            if let Value::Object(o) = record {
                o.insert("redactions".into(), Value::Array(inline));
            }
        }
        Ok(n)
    }

    /// Masks `record` in place; returns its redaction entries (without
    /// `record`), not yet added to it.
    fn masked(&mut self, record: &mut Value) -> Result<Vec<Value>, MaskError> {
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let applied = self.policies_for(&id, record)?;
        // Concrete path -> (action, winning policy index, other policies,
        // the winner's category).
        type Winner = (Action, usize, Vec<usize>, Option<Arc<str>>);
        let mut targets: BTreeMap<Vec<String>, Winner> = BTreeMap::new();
        for (pi, a) in applied.iter().enumerate() {
            let u = self
                .uses
                .entry(a.name.clone())
                .or_insert_with(|| PolicyUse {
                    policy: a.name.clone(),
                    jurisdictions: a.jurisdictions.clone(),
                    basis: a.basis.clone(),
                    records: 0,
                    masked: 0,
                });
            u.records += 1;
            for (action, pattern, category) in a
                .paths
                .iter()
                .flat_map(|(action, ts)| ts.iter().map(move |(p, _, c)| (action, p, c)))
            {
                let mut found = Vec::new();
                expand(record, pattern, &mut Vec::new(), &mut found);
                for path in found {
                    match targets.get_mut(&path) {
                        None => {
                            targets.insert(path, (*action, pi, Vec::new(), category.clone()));
                        }
                        Some(t) if *action > t.0 => {
                            let loser = t.1;
                            *t = (*action, pi, merge(&t.2, loser), category.clone());
                        }
                        Some(t) => {
                            if t.1 != pi && !t.2.contains(&pi) {
                                t.2.push(pi);
                            }
                        }
                    }
                }
            }
        }
        // A value inside a masked value is masked with it.
        let paths: Vec<Vec<String>> = targets.keys().cloned().collect();
        for p in &paths {
            if let Some(anc) = paths.iter().find(|q| q.len() < p.len() && p.starts_with(q)) {
                if let Some((_, pi, also, _)) = targets.remove(p) {
                    if let Some(t) = targets.get_mut(anc) {
                        for i in std::iter::once(pi).chain(also) {
                            if t.1 != i && !t.2.contains(&i) {
                                t.2.push(i);
                            }
                        }
                    }
                }
            }
        }
        let mut entries = Vec::new();
        for (path, (action, pi, also, category)) in &targets {
            let Some(original) = get(record, path) else {
                continue;
            };
            let dotted = format!("record.{}", path.join("."));
            let commitment = self.salt.commit(&id, &dotted, original);
            let Some(a) = applied.get(*pi) else { continue };
            let mut also: Vec<String> = also
                .iter()
                .filter_map(|i| applied.get(*i).map(|x| x.name.clone()))
                .collect();
            also.sort();
            let mut e = Map::new();
            e.insert("path".into(), Value::String(dotted));
            e.insert("action".into(), Value::String(action.as_str().into()));
            e.insert("policy".into(), Value::String(a.name.clone()));
            if let Some(c) = category {
                e.insert("category".into(), Value::String(c.to_string()));
            }
            if let Some(b) = &a.basis {
                e.insert("basis".into(), Value::String(b.clone()));
            }
            if let Some(b) = &a.because {
                e.insert("because".into(), Value::String(b.clone()));
            }
            e.insert("jurisdictions".into(), json!(a.jurisdictions));
            e.insert("commitment".into(), Value::String(commitment.clone()));
            if !also.is_empty() {
                e.insert("also".into(), json!(also));
            }
            if let Some(u) = self.uses.get_mut(&a.name) {
                u.masked += 1;
            }
            entries.push((path.clone(), *action, commitment, Value::Object(e)));
        }
        // Apply deepest and last first, so that removing an array element
        // does not move the ones still to be masked.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|a, b| {
            let (pa, pb) = (&entries[*a].0, &entries[*b].0);
            cmp_path(pb, pa)
        });
        for i in order {
            let (path, action, commitment, _) = &entries[i];
            match action {
                Action::Drop => remove(record, path),
                Action::Redact => set(record, path, Value::String(REDACTED.into())),
                Action::Hash => set(record, path, json!({ COMMITMENT_KEY: commitment })),
            }
        }
        Ok(entries.into_iter().map(|e| e.3).collect())
    }
}

fn merge(also: &[usize], extra: usize) -> Vec<usize> {
    let mut v = also.to_vec();
    if !v.contains(&extra) {
        v.push(extra);
    }
    v
}

fn parse_path(policy: &str, path: &str) -> Result<Vec<String>, MaskError> {
    let bad = |problem: &str| MaskError::BadPath {
        policy: policy.to_string(),
        path: path.to_string(),
        problem: problem.to_string(),
    };
    let Some(rest) = path.strip_prefix("record.") else {
        return Err(bad("does not start with `record.`"));
    };
    let segs: Vec<String> = rest.split('.').map(str::to_string).collect();
    if segs.iter().any(String::is_empty) {
        return Err(bad("has an empty segment"));
    }
    if let Some(first) = segs.first() {
        if first == "*" || RESERVED_KEYS.contains(&first.as_str()) {
            return Err(bad(
                "would remove the record's identity (`id`, `kind`, `at`) or its redactions",
            ));
        }
    }
    Ok(segs)
}

fn cmp_path(a: &[String], b: &[String]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The concrete paths `pattern` reaches in `v`.
fn expand(v: &Value, pattern: &[String], at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some((head, rest)) = pattern.split_first() else {
        out.push(at.clone());
        return;
    };
    let mut step = |key: String, child: &Value, at: &mut Vec<String>| {
        at.push(key);
        expand(child, rest, at, out);
        at.pop();
    };
    match v {
        Value::Object(o) if head == "*" => {
            for (k, c) in o {
                step(k.clone(), c, at);
            }
        }
        Value::Object(o) => {
            if let Some(c) = o.get(head) {
                step(head.clone(), c, at);
            }
        }
        Value::Array(a) if head == "*" => {
            for (i, c) in a.iter().enumerate() {
                step(i.to_string(), c, at);
            }
        }
        Value::Array(a) => {
            if let Some(c) = head.parse::<usize>().ok().and_then(|i| a.get(i)) {
                step(head.clone(), c, at);
            }
        }
        _ => {}
    }
}

fn get<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| match v {
        Value::Object(o) => o.get(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn get_mut<'v>(v: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, k| match v {
        Value::Object(o) => o.get_mut(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn set(v: &mut Value, path: &[String], new: Value) {
    if let Some(slot) = get_mut(v, path) {
        *slot = new;
    }
}

fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match get_mut(v, parent) {
        Some(Value::Object(o)) => {
            o.remove(last);
        }
        Some(Value::Array(a)) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}
