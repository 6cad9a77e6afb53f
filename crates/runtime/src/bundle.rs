//! Bundles: a rules directory as one self-contained, fingerprinted file.
//!
//! A bundle is JSON: `{schema, packs: [{name, version, path}], files: [{path,
//! text}], fingerprint: {algo, hash, created_at, inputs: [{path, sha256}]}}`.
//! The hash covers only the inputs — each file's path relative to the rules
//! root and the sha256 of its bytes, sorted by path — so the same files give
//! the same hash whatever directory they lie in, the discovery order or the
//! time. `created_at` is informative and outside the hash.

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

/// Build a bundle from loaded rules. `created_at` is passed in (no clock here).
pub fn build(rules: &Rules, created_at: &str) -> Bundle {
    let mut files: Vec<RuleFile> = rules.files.clone();
    files.sort();
    let inputs: Vec<Input> = files
        .iter()
        .map(|f| Input {
            path: f.path.clone(),
            sha256: sha256_hex(f.text.as_bytes()),
        })
        .collect();
    let hash = inputs_hash(&inputs);
    let packs = rules
        .packs
        .iter()
        .map(|p| BundlePack {
            name: p.name.clone(),
            version: p.version.clone(),
            path: p.file.clone(),
        })
        .collect();
    Bundle {
        schema: BUNDLE_SCHEMA.to_string(),
        packs,
        files: files
            .into_iter()
            .map(|f| BundleFile {
                path: f.path,
                text: f.text,
            })
            .collect(),
        fingerprint: Fingerprint {
            algo: "sha256".into(),
            hash,
            created_at: created_at.to_string(),
            inputs,
        },
    }
}

/// Everything wrong with a bundle's fingerprint, or nothing.
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
