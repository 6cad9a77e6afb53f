//! Every way to lower a setting, tried, and none works: applying a weaker
//! baseline after a stricter one, an `equals` that would step down, a
//! remediation with a weaker baseline, a profile that `extends` and
//! loosens, and a waiver. (An out-of-band write that lowers a setting is
//! drift: the next apply tightens it again.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::config_center::{ConfigCenter, Directory};
use tenet_autoconfig::engine::{provision, remediate, Run};
use tenet_autoconfig::model::TenantRecord;
use tenet_runtime::load::{load_files, RuleFile, Rules};

const PACK: &str = r#"tenet 1
pack autoconfig version "1.0.0"

const tls = ["1.0", "1.1", "1.2", "1.3"]

baseline strict {
  mode enforce

  setting tls.min_version {
    at_least "1.3"
    order    tls
  }

  setting session.idle_timeout {
    at_most 15m
  }

  setting keys.mode {
    bits_at_most "600"
  }
}

baseline weak {
  mode enforce

  setting tls.min_version {
    equals    "1.2"
    order     tls
    remediate auto
  }

  setting session.idle_timeout {
    at_most   1h
    remediate auto
  }

  setting keys.mode {
    bits_at_most "644"
    remediate    auto
  }
}

waiver old-clients {
  rules         ["strict/tls.min_version"]
  owner         "edge"
  justification "old clients until March"
  expires       "2099-01-01"
}
"#;

fn load(text: &str) -> Result<Rules, String> {
    load_files(
        vec![RuleFile {
            path: "a.tenet".into(),
            text: text.into(),
        }],
        "",
    )
    .map_err(|e| format!("{e:?}"))
}

const STRICT: &str =
    r#"{"tls":{"min_version":"1.3"},"session":{"idle_timeout":"15m"},"keys":{"mode":"600"}}"#;

#[test]
fn no_path_lowers_a_setting() {
    let rules = load(PACK).unwrap();
    let pack = tenet_autoconfig::pack(&rules).unwrap();
    let b = Baselines::read(&pack).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let center = Directory::new(dir.path());
    let strict: Value = serde_json::from_str(STRICT).unwrap();
    center.write("t", None, &strict).unwrap();
    let mut rec = TenantRecord {
        tenant: "t".into(),
        ..Default::default()
    };
    let run = Run {
        now: 1_796_342_400_000,
        dry_run: false,
        actor: "test".into(),
        action_id: "x".into(),
    };
    // 1. Apply the weaker baseline: nothing is lowered; the `equals "1.2"`
    //    that would step TLS down is refused with its reason.
    let (p, log) = provision(&pack, b.get("weak").unwrap(), &center, &mut rec, &run).unwrap();
    assert!(
        log.is_empty() && p.applied.changed.is_empty(),
        "{:?}",
        p.applied.changed
    );
    assert_eq!(p.applied.refused.len(), 1);
    assert!(
        p.applied.refused[0].why.contains("stricter"),
        "{:?}",
        p.applied.refused
    );
    assert_eq!(center.read("t").unwrap().document, strict);
    // 2. Remediate with it (every setting `remediate auto`): nothing written.
    let (r, log) = remediate(&pack, b.get("weak").unwrap(), &center, &mut rec, &run).unwrap();
    assert!(log.is_empty(), "{r:?}");
    assert_eq!(center.read("t").unwrap().document, strict);
    // 3. A waiver on a strict setting only keeps a delta quiet: applying
    //    `strict` to a weaker TLS leaves TLS (waived) and lowers nothing.
    let mut weaker = strict.clone();
    weaker["tls"]["min_version"] = json!("1.1");
    let v = center.read("t").unwrap().version;
    center.write("t", v.as_deref(), &weaker).unwrap();
    let (p, _) = provision(&pack, b.get("strict").unwrap(), &center, &mut rec, &run).unwrap();
    assert!(p.applied.changed.is_empty(), "{:?}", p.applied.changed);
    assert_eq!(
        center.read("t").unwrap().document["tls"]["min_version"],
        "1.1"
    );
    // 4. A baseline that extends and loosens does not even load.
    let loosening = format!(
        "{PACK}\nbaseline looser {{\n  extends \"strict\"\n  setting session.idle_timeout {{\n    at_most 2h\n  }}\n}}\n"
    );
    let err = load(&loosening).unwrap_err();
    assert!(err.contains("loosens `strict`"), "{err}");
    // 5. Drift: an out-of-band write lowered the idle timeout; the next
    //    apply of `strict` tightens it again.
    let mut drifted = center.read("t").unwrap();
    drifted.document["session"]["idle_timeout"] = json!("4h");
    center
        .write("t", drifted.version.as_deref(), &drifted.document)
        .unwrap();
    let (p, log) = provision(&pack, b.get("strict").unwrap(), &center, &mut rec, &run).unwrap();
    assert_eq!(log.len(), 1, "{:?}", p.applied.changed);
    assert_eq!(
        center.read("t").unwrap().document["session"]["idle_timeout"],
        "15m"
    );
}
