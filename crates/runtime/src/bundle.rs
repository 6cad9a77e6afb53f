//! Bundles: a rules directory as one self-contained, fingerprinted file.
//!
//! A bundle is JSON: `{schema, packs: [{name, version, path}], files: [{path,
//! text}], fingerprint: {algo, hash, created_at, inputs: [{path, sha256}]}}`.
//! The hash covers only the inputs — each file's path relative to the rules
//! root and the sha256 of its bytes, sorted by path — so the same files give
//! the same hash whatever directory they lie in, the discovery order or the
//! time. `created_at` is informative and outside the hash.
//!
//! `packs` is derived from the files: one entry per `.tenet` file, with the
//! pack's name and version as declared in it and the file's path relative
//! to the rules root, sorted by path. It is not hashed (it is a function of
//! the inputs); [`verify`] recomputes it from the bundled file contents and
//! reports any difference, so an edited, added or deleted entry fails.

use crate::load::{load_files, LoadError, RuleFile, Rules};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const BUNDLE_SCHEMA: &str = "tenet.bundle/v1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bundle {
    pub schema: String,
    pub packs: Vec<BundlePack>,
    pub files: Vec<BundleFile>,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundlePack {
    pub name: String,
    pub version: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fingerprint {
    pub algo: String,
    pub hash: String,
    pub created_at: String,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Input {
    pub path: String,
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The fingerprint hash of a set of inputs: sha256 over `path NUL sha256 LF`
/// for each input, sorted by path.
pub fn inputs_hash(inputs: &[Input]) -> String {
    let mut sorted: Vec<&Input> = inputs.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for i in sorted {
        h.update(i.path.as_bytes());
        h.update([0u8]);
        h.update(i.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The `packs` list of a bundle holding `files`: one entry per `.tenet`
/// file (path relative to the rules root, the name and version its `pack`
/// line declares), sorted by path. Files whose pack line cannot be read are
/// returned as problems.
pub fn packs_of(files: &[BundleFile]) -> (Vec<BundlePack>, Vec<String>) {
    let mut packs = Vec::new();
    let mut problems = Vec::new();
    for f in files.iter().filter(|f| f.path.ends_with(".tenet")) {
        match tenet_dsl::syntax::parse(tenet_dsl::FileId(0), &f.text) {
            Ok(p) => packs.push(BundlePack {
                name: p.name.name,
                version: p.version,
                path: f.path.clone(),
            }),
            Err(_) => problems.push(format!(
                "`{}` does not parse, so its pack name and version cannot be checked",
                f.path
            )),
        }
    }
    packs.sort_by(|a, b| a.path.cmp(&b.path));
    (packs, problems)
}

/// The fingerprint of loaded rules, as a bundle of them would carry it.
/// `created_at` is passed in (no clock here).
pub fn fingerprint_of(rules: &Rules, created_at: &str) -> Fingerprint {
    let mut inputs: Vec<Input> = rules
        .files
        .iter()
        .map(|f| Input {
            path: f.path.clone(),
            sha256: sha256_hex(f.text.as_bytes()),
        })
        .collect();
    inputs.sort_by(|a, b| a.path.cmp(&b.path));
    Fingerprint {
        algo: "sha256".into(),
        hash: inputs_hash(&inputs),
        created_at: created_at.to_string(),
        inputs,
    }
}

/// Build a bundle from loaded rules. `created_at` is passed in (no clock here).
pub fn build(rules: &Rules, created_at: &str) -> Bundle {
    let mut files: Vec<RuleFile> = rules.files.clone();
    files.sort();
    let fingerprint = fingerprint_of(rules, created_at);
    let files: Vec<BundleFile> = files
        .into_iter()
        .map(|f| BundleFile {
            path: f.path,
            text: f.text,
        })
        .collect();
    // The rules loaded, so every pack parses.
    let (packs, _) = packs_of(&files);
    Bundle {
        schema: BUNDLE_SCHEMA.to_string(),
        packs,
        files,
        fingerprint,
    }
}

/// Everything wrong with a bundle's fingerprint and its `packs` list, or
/// nothing.
pub fn verify(bundle: &Bundle) -> Vec<String> {
    let mut problems = Vec::new();
    if bundle.schema != BUNDLE_SCHEMA {
        problems.push(format!(
            "unknown bundle schema `{}` (expected `{BUNDLE_SCHEMA}`)",
            bundle.schema
        ));
    }
    if bundle.fingerprint.algo != "sha256" {
        problems.push(format!(
            "unsupported fingerprint algorithm `{}`",
            bundle.fingerprint.algo
        ));
    }
    let recorded: std::collections::BTreeMap<&str, &str> = bundle
        .fingerprint
        .inputs
        .iter()
        .map(|i| (i.path.as_str(), i.sha256.as_str()))
        .collect();
    for f in &bundle.files {
        let actual = sha256_hex(f.text.as_bytes());
        match recorded.get(f.path.as_str()) {
            None => problems.push(format!(
                "`{}` is in the bundle but not in its fingerprint inputs",
                f.path
            )),
            Some(want) if *want != actual => problems.push(format!(
                "`{}` does not match its recorded sha256 (recorded {want}, actual {actual})",
                f.path
            )),
            _ => {}
        }
    }
    for i in &bundle.fingerprint.inputs {
        if !bundle.files.iter().any(|f| f.path == i.path) {
            problems.push(format!(
                "fingerprint input `{}` is missing from the bundle",
                i.path
            ));
        }
    }
    let actual: Vec<Input> = bundle
        .files
        .iter()
        .map(|f| Input {
            path: f.path.clone(),
            sha256: sha256_hex(f.text.as_bytes()),
        })
        .collect();
    let hash = inputs_hash(&actual);
    if hash != bundle.fingerprint.hash {
        problems.push(format!(
            "fingerprint hash mismatch: recorded {}, recomputed {hash}",
            bundle.fingerprint.hash
        ));
    }
    let (actual, unreadable) = packs_of(&bundle.files);
    problems.extend(unreadable);
    problems.extend(packs_mismatch(&bundle.packs, &actual));
    problems
}

/// How a recorded `packs` list differs from the one recomputed from the files.
fn packs_mismatch(recorded: &[BundlePack], actual: &[BundlePack]) -> Vec<String> {
    let show = |p: &BundlePack| format!("{} {} ({})", p.name, p.version, p.path);
    let mut problems = Vec::new();
    for a in actual {
        match recorded.iter().find(|r| r.path == a.path) {
            None => problems.push(format!(
                "pack `{}` is missing from the bundle's `packs` list",
                show(a)
            )),
            Some(r) if r != a => problems.push(format!(
                "`packs` entry `{}` does not match its file, which declares `{}`",
                show(r),
                show(a)
            )),
            _ => {}
        }
    }
    for r in recorded {
        if !actual.iter().any(|a| a.path == r.path) {
            problems.push(format!(
                "`packs` entry `{}` names no pack file in the bundle",
                show(r)
            ));
        }
    }
    if problems.is_empty() && recorded != actual {
        problems.push("the `packs` list is not in path order, or repeats an entry".to_string());
    }
    problems
}

/// Load the rules a bundle carries.
pub fn load(bundle: &Bundle, display: &str) -> Result<Rules, LoadError> {
    let files = bundle
        .files
        .iter()
        .map(|f| RuleFile {
            path: f.path.clone(),
            text: f.text.clone(),
        })
        .collect();
    load_files(files, display)
}
