//! The bundle (`tenet.rtx/v1`): written to any [`Write`] as it is made,
//! one record at a time, so a subject with 100,000 decisions exports in
//! bounded memory.
//!
//! The bundle is one canonical JSON object (RFC 8785) with these keys, in
//! the order JCS sorts them ([`KEYS`]):
//!
//! | key | holds |
//! |---|---|
//! | `export` | the export's id, the requestor, purpose of use and jurisdiction (the authorization context), and the masking rules (pack, version, bundle hash) |
//! | `records` | every record, masked, sorted by (`at`, `id`); a masked record lists what was masked in its own `redactions` (the redaction manifest, entry by entry) |
//! | `schema` | `tenet.rtx/v1` |
//! | `snapshot_at` | the snapshot time: the bundle's only wall-clock field |
//! | `subject` | the subject's id |
//! | `summary` | what the records add up to: counts by kind, the consent contexts, the masking policies applied (with their legal basis and counts), the policies in force (pack versions and bundle fingerprints), the provenance chain (W3C PROV-JSON), and the manifest's size and digest |
//! | `window` | `from` and `to` (RFC 3339), the window `[from, to)` |
//!
//! Everything in `summary` is computed from the *masked* records (it
//! cannot leak what masking removed) and is bounded by the number of
//! distinct packs, models, sources and consent contexts, not of records;
//! it comes after `records` in JCS order, so it is written last.
//!
//! The manifest digest is the sha256 of the canonical JSON array of every
//! manifest entry with its `record` id, in bundle order: anyone holding
//! the bundle can recompute it ([`manifest_of`]).

use crate::canonical::{self, HashingWriter};
use crate::mask::{MaskError, Masker, PolicyUse};
use crate::model::{ExportRequest, InvalidInput, Record, SCHEMA};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use tenet_runtime::clock::Timestamp;

/// The bundle's keys, in JCS order (a test checks it).
pub const KEYS: [&str; 7] = [
    "export",
    "records",
    "schema",
    "snapshot_at",
    "subject",
    "summary",
    "window",
];

/// What the bundle is about (everything but the records).
#[derive(Debug, Clone)]
pub struct Head<'a> {
    pub export_id: &'a str,
    pub request: &'a ExportRequest,
    pub snapshot_at: i64,
}

/// What writing a bundle gives besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The sha256 (hex) of the bytes written: the payload digest.
    pub sha256: String,
    pub size: u64,
    pub records: u64,
    /// The manifest's entries and digest (see the module's header).
    pub manifest_entries: u64,
    pub manifest_sha256: String,
    pub counts: BTreeMap<String, u64>,
}

/// Why a bundle could not be written. Nothing written so far is valid: the
/// caller discards it (the store keeps no half-written bundle).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("writing the bundle: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Mask(#[from] MaskError),
    #[error("record `{record}`: {problem}")]
    Record { record: String, problem: String },
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millis(ms).rfc3339()
}

/// A record as the bundle shows it (before masking): its JSON with `at`
/// in RFC 3339.
pub fn render(record: &Record) -> Result<Value, BundleError> {
    let mut v = serde_json::to_value(record).map_err(|e| BundleError::Record {
        record: record.id().to_string(),
        problem: e.to_string(),
    })?;
    if let Value::Object(o) = &mut v {
        o.insert("at".into(), Value::String(rfc3339(record.at())));
    }
    Ok(v)
}

/// Writes the bundle for `head` with `records` (sorted by
/// [`Record::key`], each in the window) to `out`, masking every record with
/// `masker`. Returns `out` and what was written.
pub fn write<W: Write, I: IntoIterator<Item = Record>>(
    out: W,
    head: &Head<'_>,
    masker: &mut Masker<'_>,
    records: I,
) -> Result<(W, Written), BundleError> {
    let mut w = HashingWriter::new(out);
    let req = head.request;
    let pack = masker.pack();
    let mut export = Map::new();
    export.insert("id".into(), json!(head.export_id));
    export.insert("purpose_of_use".into(), json!(req.purpose_of_use));
    export.insert(
        "requestor".into(),
        serde_json::to_value(&req.requestor).unwrap_or_default(),
    );
    if let Some(j) = &req.jurisdiction {
        export.insert("jurisdiction".into(), json!(j));
    }
    export.insert(
        "masking_rules".into(),
        json!({"pack": pack.name(), "version": pack.version(), "bundle": pack.hash()}),
    );
    w.write_all(b"{\"export\":")?;
    canonical::write(&mut w, &Value::Object(export))?;
    w.write_all(b",\"records\":[")?;

    let mut acc = Summary::default();
    let mut manifest = Sha256::new();
    manifest.update(b"[");
    let mut last: Option<(i64, String)> = None;
    let mut buf = Vec::with_capacity(16 << 10);
    let mut scratch = Scratch::default();
    for record in records {
        let bad = |problem: String| BundleError::Record {
            record: record.id().to_string(),
            problem,
        };
        record
            .validate()
            .map_err(|e: InvalidInput| bad(e.to_string()))?;
        if !req.window.contains(record.at()) {
            return Err(bad(format!(
                "its time {} is outside the export's window [{}, {})",
                rfc3339(record.at()),
                rfc3339(req.window.from),
                rfc3339(req.window.to)
            )));
        }
        let key = (record.at(), record.id().to_string());
        if let Some(prev) = &last {
            if *prev >= key {
                return Err(bad(format!(
                    "records must come sorted by time and id, each once; it comes after `{}`",
                    prev.1
                )));
            }
        }
        let mut v = render(&record)?;
        let masked = masker.mask_in_place(&mut v)?;
        acc.add(record.kind(), &v);
        buf.clear();
        if acc.records > 0 {
            buf.push(b',');
        }
        let entries = write_record(
            &mut buf,
            &mut scratch,
            &v,
            masked,
            &mut manifest,
            acc.manifest_entries,
        )
        .map_err(io::Error::other)?;
        acc.manifest_entries += entries;
        w.write_all(&buf)?;
        acc.records += 1;
        last = Some(key);
    }
    manifest.update(b"]");
    let manifest_sha256 = hex::encode(manifest.finalize());

    w.write_all(b"],\"schema\":")?;
    canonical::write(&mut w, SCHEMA)?;
    w.write_all(b",\"snapshot_at\":")?;
    canonical::write(&mut w, &rfc3339(head.snapshot_at))?;
    w.write_all(b",\"subject\":")?;
    canonical::write(&mut w, &json!({"id": req.subject}))?;
    w.write_all(b",\"summary\":")?;
    let summary = acc.render(head, masker.uses().cloned().collect(), &manifest_sha256);
    canonical::write(&mut w, &summary)?;
    w.write_all(b",\"window\":")?;
    canonical::write(
        &mut w,
        &json!({"from": rfc3339(req.window.from), "to": rfc3339(req.window.to)}),
    )?;
    w.write_all(b"}")?;
    w.flush()?;
    let (out, sha256, size) = w.finish();
    Ok((
        out,
        Written {
            sha256,
            size,
            records: acc.records,
            manifest_entries: acc.manifest_entries,
            manifest_sha256,
            counts: acc.counts,
        },
    ))
}

/// Buffers [`write_record`] reuses from record to record.
#[derive(Default)]
struct Scratch {
    /// The canonical bytes of the record's `redactions`.
    redactions: Vec<u8>,
    /// Where each of its entries is in `redactions`.
    spans: Vec<(usize, usize)>,
    /// The canonical bytes of the record's id.
    id: Vec<u8>,
}

/// The key of a manifest entry that names its record.
const RECORD_KEY: &str = "record";

/// Appends the canonical bytes of the record `v` to `out` and, if masking
/// gave it `redactions` (`masked` entries), its redaction entries, each
/// with its `record`, to `manifest` (after the `entries_before` entries
/// before it, comma-separated); returns how many entries that is.
///
/// Each entry is canonicalised once, for both: an entry whose keys all sort
/// before `record` (every entry [`Masker`] makes) is, with its `record`, its
/// own bytes with `,"record":<id>` before the closing brace.
fn write_record(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    v: &Value,
    masked: usize,
    manifest: &mut Sha256,
    entries_before: u64,
) -> Result<u64, serde_json::Error> {
    let (Value::Object(o), true) = (v, masked > 0) else {
        canonical::write_value(out, v)?;
        return Ok(0);
    };
    let Some(redactions) = o.get("redactions") else {
        canonical::write_value(out, v)?;
        return Ok(0);
    };
    let Scratch {
        redactions: bytes,
        spans,
        id,
    } = scratch;
    bytes.clear();
    spans.clear();
    let list = match redactions {
        Value::Array(list) => {
            bytes.push(b'[');
            for (i, e) in list.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                let start = bytes.len();
                canonical::write_value(bytes, e)?;
                spans.push((start, bytes.len()));
            }
            bytes.push(b']');
            list.as_slice()
        }
        other => {
            canonical::write_value(bytes, other)?;
            &[]
        }
    };
    canonical::write_object_with_raw(out, o, "redactions", bytes)?;

    let record_id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    id.clear();
    canonical::write_str(id, record_id);
    for (i, (e, (start, end))) in list.iter().zip(spans.iter()).enumerate() {
        if entries_before > 0 || i > 0 {
            manifest.update(b",");
        }
        match e {
            Value::Object(eo)
                if !eo.is_empty()
                    && eo.keys().all(|k| {
                        canonical::jcs_order(k, RECORD_KEY) == std::cmp::Ordering::Less
                    }) =>
            {
                let entry = bytes.get(*start..end - 1).unwrap_or_default();
                manifest.update(entry);
                manifest.update(b",\"record\":");
                manifest.update(&id[..]);
                manifest.update(b"}");
            }
            other => {
                let mut e = other.clone();
                if let Value::Object(eo) = &mut e {
                    eo.insert(RECORD_KEY.into(), Value::String(record_id.to_string()));
                }
                manifest.update(canonical::value_to_vec(&e)?);
            }
        }
    }
    Ok(list.len() as u64)
}

/// The flat redaction manifest of a parsed bundle (each entry with its
/// `record`), whose canonical bytes hash to `summary.redactions.sha256`.
pub fn manifest_of(bundle: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for r in bundle["records"].as_array().into_iter().flatten() {
        for e in r["redactions"].as_array().into_iter().flatten() {
            let mut e = e.clone();
            if let Value::Object(o) = &mut e {
                o.insert("record".into(), r["id"].clone());
            }
            out.push(e);
        }
    }
    out
}

#[derive(Default)]
struct InForce {
    first_at: String,
    last_at: String,
    decisions: u64,
}

#[derive(Default)]
struct ModelUse {
    provider: Option<String>,
    training_data: Option<String>,
    sources: BTreeSet<String>,
    posted_by: BTreeSet<String>,
    records: u64,
}

/// What the masked records add up to, bounded by distinct values.
#[derive(Default)]
struct Summary {
    records: u64,
    manifest_entries: u64,
    counts: BTreeMap<String, u64>,
    in_force: BTreeMap<(String, String, String), InForce>,
    models: BTreeMap<(String, String), ModelUse>,
    consent: BTreeMap<String, (Value, u64)>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

impl Summary {
    fn add(&mut self, kind: &str, v: &Value) {
        *self.counts.entry(kind.to_string()).or_default() += 1;
        let at = s(v, "at").unwrap_or_default();
        match kind {
            "decision" => {
                if let (Some(p), Some(ver), Some(b)) =
                    (s(v, "pack"), s(v, "pack_version"), s(v, "bundle"))
                {
                    let e = self.in_force.entry((p, ver, b)).or_default();
                    if e.decisions == 0 {
                        e.first_at = at.clone();
                    }
                    e.last_at = at;
                    e.decisions += 1;
                }
            }
            "evidence" => {
                let m = &v["model"];
                if let (Some(name), Some(version)) = (s(m, "name"), s(m, "version")) {
                    let u = self.models.entry((name, version)).or_default();
                    u.provider = s(m, "provider");
                    u.training_data = s(m, "training_data");
                    u.records += 1;
                    if let Some(src) = s(v, "source_id") {
                        u.posted_by.insert(src);
                    }
                    for f in v["feature_provenance"].as_array().into_iter().flatten() {
                        if let Some(src) = s(f, "source") {
                            u.sources.insert(src);
                        }
                    }
                }
                if let Some(c) = v.get("consent").filter(|c| !c.is_null()) {
                    let key = String::from_utf8(canonical::to_vec(c).unwrap_or_default())
                        .unwrap_or_default();
                    self.consent.entry(key).or_insert_with(|| (c.clone(), 0)).1 += 1;
                }
            }
            _ => {}
        }
    }

    fn render(&self, head: &Head<'_>, uses: Vec<PolicyUse>, manifest_sha256: &str) -> Value {
        let in_force: Vec<Value> = self
            .in_force
            .iter()
            .map(|((p, v, b), f)| {
                json!({"pack": p, "version": v, "bundle": b, "first_at": f.first_at,
                       "last_at": f.last_at, "decisions": f.decisions})
            })
            .collect();
        let consent: Vec<Value> = self
            .consent
            .values()
            .map(|(c, n)| json!({"context": c, "records": n}))
            .collect();
        json!({
            "counts": self.counts,
            "consent": consent,
            "masking": uses,
            "policies_in_force": in_force,
            "provenance": self.provenance(head),
            "redactions": {"entries": self.manifest_entries, "sha256": manifest_sha256},
        })
    }

    /// The provenance chain in W3C PROV-JSON: the bundle was generated by
    /// the export, which used the rules and models; the decisions used
    /// their rules; the scores used their models, which were attributed to
    /// their providers and derived from their training data.
    fn provenance(&self, head: &Head<'_>) -> Value {
        let mut entity = Map::new();
        let mut activity = Map::new();
        let mut agent = Map::new();
        let mut rel: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        let bundle = format!("tenet:bundle/{}", head.export_id);
        let export = format!("tenet:export/{}", head.export_id);
        let requestor = format!("tenet:agent/{}", head.request.requestor.id);
        entity.insert(bundle.clone(), json!({"prov:type": "tenet:RtxBundle"}));
        activity.insert(
            export.clone(),
            json!({"prov:startTime": rfc3339(head.snapshot_at)}),
        );
        agent.insert(
            "tenet:agent/tenet".into(),
            json!({"prov:type": "prov:SoftwareAgent"}),
        );
        agent.insert(
            requestor.clone(),
            json!({"prov:type": "prov:Person", "tenet:requester_type": head.request.requestor.requester_type}),
        );
        rel.entry("wasGeneratedBy")
            .or_default()
            .push(json!({"prov:entity": bundle, "prov:activity": export}));
        rel.entry("wasAssociatedWith")
            .or_default()
            .push(json!({"prov:activity": export, "prov:agent": "tenet:agent/tenet"}));
        rel.entry("wasAssociatedWith").or_default().push(
            json!({"prov:activity": export, "prov:agent": requestor, "prov:role": "requestor"}),
        );
        if let Some(on) = &head.request.requestor.on_behalf_of {
            let principal = format!("tenet:agent/{on}");
            agent.insert(principal.clone(), json!({"prov:type": "prov:Person"}));
            rel.entry("actedOnBehalfOf")
                .or_default()
                .push(json!({"prov:delegate": requestor, "prov:responsible": principal}));
        }
        for ((pack, version, b), f) in &self.in_force {
            let rules = format!("tenet:rules/{b}");
            let decisions = format!("tenet:decisions/{pack}@{b}");
            entity.insert(rules.clone(), json!({"prov:type": "tenet:RuleBundle", "tenet:pack": pack, "tenet:version": version}));
            activity.insert(
                decisions.clone(),
                json!({"prov:startTime": f.first_at, "prov:endTime": f.last_at, "tenet:decisions": f.decisions}),
            );
            rel.entry("used")
                .or_default()
                .push(json!({"prov:activity": decisions, "prov:entity": rules}));
            rel.entry("used")
                .or_default()
                .push(json!({"prov:activity": export, "prov:entity": rules}));
            rel.entry("wasAssociatedWith")
                .or_default()
                .push(json!({"prov:activity": decisions, "prov:agent": "tenet:agent/tenet"}));
        }
        for ((name, version), u) in &self.models {
            let model = format!("tenet:model/{name}@{version}");
            let scoring = format!("tenet:scoring/{name}@{version}");
            entity.insert(model.clone(), json!({"prov:type": "tenet:Model"}));
            activity.insert(scoring.clone(), json!({"tenet:records": u.records}));
            rel.entry("used")
                .or_default()
                .push(json!({"prov:activity": scoring, "prov:entity": model}));
            rel.entry("used")
                .or_default()
                .push(json!({"prov:activity": export, "prov:entity": model}));
            if let Some(p) = &u.provider {
                let a = format!("tenet:agent/{p}");
                agent.insert(a.clone(), json!({"prov:type": "prov:Organization"}));
                rel.entry("wasAttributedTo")
                    .or_default()
                    .push(json!({"prov:entity": model, "prov:agent": a}));
            }
            if let Some(d) = &u.training_data {
                let data = format!("tenet:data/{d}");
                entity.insert(data.clone(), json!({"prov:type": "tenet:TrainingData"}));
                rel.entry("wasDerivedFrom")
                    .or_default()
                    .push(json!({"prov:generatedEntity": model, "prov:usedEntity": data}));
            }
            for src in &u.sources {
                let e = format!("tenet:source/{src}");
                entity.insert(e.clone(), json!({"prov:type": "tenet:FeatureSource"}));
                rel.entry("used")
                    .or_default()
                    .push(json!({"prov:activity": scoring, "prov:entity": e}));
            }
            for by in &u.posted_by {
                let a = format!("tenet:agent/{by}");
                agent.insert(a.clone(), json!({"prov:type": "prov:SoftwareAgent"}));
                rel.entry("wasAssociatedWith")
                    .or_default()
                    .push(json!({"prov:activity": scoring, "prov:agent": a}));
            }
        }
        let mut doc = Map::new();
        doc.insert(
            "prefix".into(),
            json!({"prov": "http://www.w3.org/ns/prov#", "tenet": "https://tenet.invalid/ns/rtx#"}),
        );
        doc.insert("entity".into(), Value::Object(entity));
        doc.insert("activity".into(), Value::Object(activity));
        doc.insert("agent".into(), Value::Object(agent));
        // PROV-JSON names each relation; the names are numbered in a
        // canonical order, so the same records give the same names.
        let short = |k: &str| match k {
            "wasGeneratedBy" => "gen",
            "wasAssociatedWith" => "assoc",
            "actedOnBehalfOf" => "deleg",
            "used" => "use",
            "wasAttributedTo" => "attr",
            "wasDerivedFrom" => "der",
            _ => "rel",
        };
        for (k, mut list) in rel {
            list.sort_by_cached_key(|v| canonical::to_vec(v).unwrap_or_default());
            list.dedup();
            let named: Map<String, Value> = list
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("_:{}{}", short(k), i + 1), v))
                .collect();
            doc.insert(k.to_string(), Value::Object(named));
        }
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outer_keys_are_in_jcs_order() {
        let mut sorted = KEYS;
        sorted.sort_by(|a, b| canonical::jcs_order(a, b));
        assert_eq!(sorted, KEYS);
    }
}
