//! Remediation: only settings marked `remediate auto` are applied; a
//! setting counts as fixed only when the re-check passes; a failed one
//! backs off (doubling) and, past the attempt budget, is left to a person.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::config_center::{CenterError, ConfigCenter, Directory, Versioned};
use tenet_autoconfig::engine::{remediate, Run};
use tenet_autoconfig::model::TenantRecord;
use tenet_autoconfig::plan::lookup;
use tenet_runtime::load::{load_files, RuleFile};

const PACK: &str = r#"tenet 1
pack autoconfig version "1.0.0"

baseline b {
  mode         enforce
  max_attempts 2
  retry_after  1m

  setting a {
    at_least  10
    remediate auto
  }

  setting m {
    at_least 10
  }

  setting c {
    at_least  10
    remediate auto
  }
}
"#;

/// A config center that something else keeps overriding: a write of `c`
/// does not stick (as when another system owns the setting).
struct Overridden(Directory);

impl ConfigCenter for Overridden {
    fn read(&self, tenant: &str) -> Result<Versioned, CenterError> {
        self.0.read(tenant)
    }
    fn write(
        &self,
        tenant: &str,
        expected: Option<&str>,
        doc: &Value,
    ) -> Result<String, CenterError> {
        let mut doc = doc.clone();
        doc["c"] = json!(1);
        self.0.write(tenant, expected, &doc)
    }
}

fn outcome(r: &tenet_autoconfig::engine::Remediation, s: &str) -> String {
    r.settings
        .iter()
        .find(|x| x.setting == s)
        .map(|x| x.outcome.clone())
        .unwrap_or_default()
}

#[test]
fn only_auto_settings_are_remediated_and_fixed_means_the_recheck_passes() {
    let rules = load_files(
        vec![RuleFile {
            path: "a.tenet".into(),
            text: PACK.into(),
        }],
        "",
    )
    .unwrap();
    let pack = tenet_autoconfig::pack(&rules).unwrap();
    let b = Baselines::read(&pack).unwrap();
    let base = b.get("b").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let center = Overridden(Directory::new(dir.path()));
    center
        .0
        .write("t", None, &json!({"a": 1, "m": 1, "c": 1}))
        .unwrap();
    let mut rec = TenantRecord {
        tenant: "t".into(),
        ..Default::default()
    };
    let t0 = 1_796_342_400_000_i64;
    let run = |now: i64| Run {
        now,
        dry_run: false,
        actor: "test".into(),
        action_id: "r".into(),
    };
    // First: a fixed; m is manual; c written, but overridden: failed.
    let (r, log) = remediate(&pack, base, &center, &mut rec, &run(t0)).unwrap();
    assert_eq!(
        (outcome(&r, "a"), outcome(&r, "m"), outcome(&r, "c")),
        ("fixed".into(), "manual".into(), "failed".into())
    );
    let doc = center.read("t").unwrap().document;
    assert_eq!(
        (lookup(&doc, "a"), lookup(&doc, "m"), lookup(&doc, "c")),
        (Some(&json!(10)), Some(&json!(1)), Some(&json!(1)))
    );
    assert_eq!(
        log.iter().map(|c| c.setting.as_str()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    assert_eq!(rec.attempts["c"].failed, 1);
    // 30 s later: c backs off for a minute.
    let (r, _) = remediate(&pack, base, &center, &mut rec, &run(t0 + 30_000)).unwrap();
    assert_eq!(outcome(&r, "c"), "waiting");
    assert_eq!(outcome(&r, "a"), "", "a is fixed: nothing to do");
    // After the minute: tried again, failed again (2 of 2).
    let (r, _) = remediate(&pack, base, &center, &mut rec, &run(t0 + 61_000)).unwrap();
    assert_eq!(outcome(&r, "c"), "failed");
    assert_eq!(rec.attempts["c"].failed, 2);
    // The budget is spent: a person decides, nothing is written.
    let before = center.read("t").unwrap().version;
    let (r, log) = remediate(&pack, base, &center, &mut rec, &run(t0 + 3_600_000)).unwrap();
    assert_eq!(outcome(&r, "c"), "exhausted");
    assert!(log.is_empty());
    assert_eq!(center.read("t").unwrap().version, before);
}
