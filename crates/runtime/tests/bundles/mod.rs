//! Bundles: the fingerprint depends only on the inputs.

use crate::common::root;
use tenet_runtime::bundle::{self, Bundle};
use tenet_runtime::load::load_dir;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn build_from_copy(created_at: &str) -> Bundle {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("somewhere/else");
    std::fs::create_dir_all(&nested).unwrap();
    copy_dir(&root().join("rules"), &nested);
    let rules = load_dir(&nested).unwrap_or_else(|e| panic!("{e:?}"));
    bundle::build(&rules, created_at)
}

#[test]
fn same_files_give_the_same_hash_wherever_and_whenever() {
    let a = bundle::build(
        &load_dir(&root().join("rules")).unwrap(),
        "2026-01-01T00:00:00Z",
    );
    let b = build_from_copy("2030-06-06T12:00:00Z");
    assert_eq!(a.fingerprint.hash, b.fingerprint.hash);
    assert_eq!(a.fingerprint.inputs, b.fingerprint.inputs);
    assert_ne!(a.fingerprint.created_at, b.fingerprint.created_at);
    assert_eq!(a.fingerprint.algo, "sha256");
    assert!(a
        .fingerprint
        .inputs
        .iter()
        .any(|i| i.path == "safety-workflows/safety.tenet"));
    assert!(
        a.fingerprint
            .inputs
            .iter()
            .any(|i| i.path.ends_with(".rhai")),
        "scorer scripts are inputs too"
    );
    assert!(bundle::verify(&a).is_empty());
}

#[test]
fn discovery_order_does_not_change_the_hash() {
    let a = bundle::build(&load_dir(&root().join("rules")).unwrap(), "t");
    let mut reversed = a.fingerprint.inputs.clone();
    reversed.reverse();
    assert_eq!(bundle::inputs_hash(&reversed), a.fingerprint.hash);
}

#[test]
fn a_changed_byte_changes_the_hash_and_fails_verification() {
    let mut b = bundle::build(&load_dir(&root().join("rules")).unwrap(), "t");
    let original = b.fingerprint.hash.clone();
    b.files[0].text.push(' ');
    let problems = bundle::verify(&b);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("does not match its recorded sha256")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("fingerprint hash mismatch")),
        "{problems:?}"
    );
    let rules = bundle::load(&b, "b").unwrap();
    assert_ne!(bundle::build(&rules, "t").fingerprint.hash, original);
}

#[test]
fn a_removed_file_and_a_forged_hash_are_reported() {
    let mut b = bundle::build(&load_dir(&root().join("rules")).unwrap(), "t");
    b.files.pop();
    assert!(bundle::verify(&b)
        .iter()
        .any(|p| p.contains("missing from the bundle")));
    let mut c = bundle::build(&load_dir(&root().join("rules")).unwrap(), "t");
    c.fingerprint.hash = "0".repeat(64);
    assert!(bundle::verify(&c)
        .iter()
        .any(|p| p.contains("fingerprint hash mismatch")));
}

#[test]
fn a_bundle_loads_the_same_decisions() {
    let rules = load_dir(&root().join("rules")).unwrap();
    let b = bundle::build(&rules, "t");
    let json = serde_json::to_string(&b).unwrap();
    let back: Bundle = serde_json::from_str(&json).unwrap();
    let loaded = bundle::load(&back, "bundle").unwrap();
    let report_a = tenet_runtime::testing::run_tests(&rules);
    let report_b = tenet_runtime::testing::run_tests(&loaded);
    assert_eq!(report_a.passed(), report_b.passed());
    assert_eq!(report_b.failed(), 0);
}

#[test]
fn pack_paths_are_relative_and_the_same_files_give_the_same_bundle_anywhere() {
    let a = bundle::build(
        &load_dir(&root().join("rules")).unwrap(),
        "2026-01-01T00:00:00Z",
    );
    let b = build_from_copy("2026-01-01T00:00:00Z");
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap(),
        "same files, same time: the bundle JSON must not depend on the directory"
    );
    let safety = a.packs.iter().find(|p| p.name == "safety").unwrap();
    assert_eq!(safety.path, "safety-workflows/safety.tenet");
    for p in &a.packs {
        assert!(
            a.files.iter().any(|f| f.path == p.path),
            "`{}` is not the path of a bundled file",
            p.path
        );
    }
    let mut sorted = a.packs.clone();
    sorted.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(a.packs, sorted, "packs are listed in path order");
    assert_eq!(a.packs.len(), 9);
}

fn problems_after(edit: impl FnOnce(&mut Bundle)) -> Vec<String> {
    let mut b = bundle::build(&load_dir(&root().join("rules")).unwrap(), "t");
    assert!(bundle::verify(&b).is_empty());
    edit(&mut b);
    bundle::verify(&b)
}

#[test]
fn an_edited_pack_version_fails_verification() {
    let problems = problems_after(|b| b.packs[0].version = "9.9.9".into());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("9.9.9") && problems[0].contains("does not match its file"),
        "{problems:?}"
    );
}

#[test]
fn an_edited_pack_name_or_path_fails_verification() {
    let problems = problems_after(|b| b.packs[1].name = "other".into());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("does not match its file")),
        "{problems:?}"
    );
    let problems = problems_after(|b| b.packs[1].path = "elsewhere/x.tenet".into());
    assert!(
        problems.iter().any(|p| p.contains("names no pack file")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing from the bundle's `packs` list")),
        "{problems:?}"
    );
}

#[test]
fn a_deleted_or_added_packs_entry_fails_verification() {
    let problems = problems_after(|b| {
        b.packs.remove(0);
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing from the bundle's `packs` list")),
        "{problems:?}"
    );
    let problems = problems_after(|b| {
        let extra = b.packs[0].clone();
        b.packs.push(extra);
    });
    assert!(
        problems.iter().any(|p| p.contains("repeats an entry")),
        "{problems:?}"
    );
    let problems = problems_after(|b| b.packs.reverse());
    assert!(
        problems.iter().any(|p| p.contains("not in path order")),
        "{problems:?}"
    );
}

#[test]
fn a_file_whose_pack_line_changed_fails_verification_even_with_a_forged_fingerprint() {
    // Rewrite a pack's version in its file and forge every digest: the
    // fingerprint then matches, but the `packs` list no longer does.
    let problems = problems_after(|b| {
        let f = b
            .files
            .iter_mut()
            .find(|f| f.path == "safety-workflows/safety.tenet")
            .unwrap();
        let old = b
            .packs
            .iter()
            .find(|p| p.path == f.path)
            .unwrap()
            .version
            .clone();
        f.text = f.text.replacen(&format!("\"{old}\""), "\"7.0.0\"", 1);
        let inputs: Vec<bundle::Input> = b
            .files
            .iter()
            .map(|f| bundle::Input {
                path: f.path.clone(),
                sha256: bundle::sha256_hex(f.text.as_bytes()),
            })
            .collect();
        b.fingerprint.hash = bundle::inputs_hash(&inputs);
        b.fingerprint.inputs = inputs;
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("7.0.0"), "{problems:?}");
}
