//! Helpers shared by the runtime tests.

use std::path::PathBuf;
use tenet_runtime::decision::{decide, decide_with, DecideOptions, Decision};
use tenet_runtime::dsl::Value;
use tenet_runtime::load::{load_files, RuleFile, Rules};
use tenet_runtime::reference::RefEvaluator;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// insta settings writing to `snapshots/<area>` at the repository root.
pub fn snapshot_settings(area: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots").join(area));
    s.set_prepend_module_to_snapshot(false);
    s
}

pub fn load_one(source: &str) -> Rules {
    match load_files(
        vec![RuleFile {
            path: "case.tenet".into(),
            text: source.to_string(),
        }],
        "",
    ) {
        Ok(r) => r,
        Err(tenet_runtime::LoadError::Rules { diags, sources }) => {
            panic!(
                "case does not check:\n{}",
                tenet_runtime::dsl::diag::render_plain(&diags, &sources)
            )
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// Decide with both evaluators; panic if they disagree.
pub fn decide_both(rules: &Rules, input: &Value, now: Option<String>) -> Decision {
    let pack = &rules.packs[0];
    let opts = DecideOptions {
        trace: false,
        now,
        dry_run: false,
    };
    let fast = decide(pack, input, rules.scorer_list(), &opts);
    let mut r = RefEvaluator {
        pack,
        input,
        scorers: rules.scorer_list(),
    };
    let reference = decide_with(pack, &mut r, &opts);
    assert_eq!(
        fast, reference,
        "compiled and reference evaluators disagree"
    );
    fast
}
