//! Every error class, as a fixture folder: `fixtures/diagnostics/<code>[__variant]/`
//! holds the files of one run; the rendered diagnostics are snapshotted and
//! must carry the code the folder is named after.

use crate::common::{root, snapshot_settings};
use tenet_runtime::load::{load_files, read_dir, LoadError};

#[test]
fn every_error_class_renders_with_location_caret_and_help() {
    let base = root().join("fixtures/diagnostics");
    let mut dirs: Vec<_> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 20, "expected a fixture per error class");
    for dir in dirs {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let code = case.split("__").next().unwrap().to_string();
        let files = read_dir(&dir).unwrap();
        let Err(LoadError::Rules { diags, sources }) = load_files(files, &case) else {
            panic!("{case}: expected rule errors");
        };
        let rendered = tenet_runtime::dsl::diag::render_plain(&diags, &sources);
        assert!(
            rendered.contains(&format!("tenet::{code}")),
            "{case}: no `tenet::{code}` in\n{rendered}"
        );
        for d in &diags {
            let loc = d.location(&sources);
            assert!(
                loc.starts_with(&case) && loc.split(':').count() == 3,
                "{case}: location `{loc}`"
            );
            assert!(d.help.is_some(), "{case}: `{}` has no help", d.message);
        }
        assert!(
            rendered.contains('^') || rendered.contains('─'),
            "{case}: no caret:\n{rendered}"
        );
        snapshot_settings("diagnostics").bind(|| insta::assert_snapshot!(case.clone(), rendered));
    }
}

#[test]
fn all_errors_of_a_run_are_reported_together() {
    let dir = root().join("fixtures/diagnostics/unknown-field__many");
    let files = read_dir(&dir).unwrap();
    let Err(LoadError::Rules { diags, .. }) = load_files(files, "x") else {
        panic!()
    };
    assert!(
        diags.len() >= 3,
        "expected several problems at once, got {}",
        diags.len()
    );
}
