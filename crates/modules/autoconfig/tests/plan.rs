//! Plans on the bundled baselines: a synthetic tenant's live configuration
//! against `secure-default` and `regulated`, worked out by hand; every
//! delta names its setting, comparator and risk; `applies_to` and
//! `applies_when` are honoured; the first document that has a setting
//! wins; and no plan ever lowers a setting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::plan::{plan, Action, Delta, Document, Plan};
use tenet_runtime::load::{load_bundled, load_files, RuleFile, Rules};

fn run(rules: &Rules, baseline: &str, tenant: Value, docs: &[Value]) -> Plan {
    let pack = tenet_autoconfig::pack(rules).unwrap();
    let b = Baselines::read(&pack).unwrap();
    let docs: Vec<Document> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| Document {
            name: format!("doc{i}"),
            body: d.clone(),
        })
        .collect();
    // 2026-12-04T00:00:00Z
    plan(
        &pack,
        b.get(baseline).unwrap(),
        &tenant,
        &docs,
        1_796_342_400_000,
    )
    .unwrap()
}

fn delta<'a>(p: &'a Plan, s: &str) -> &'a Delta {
    p.deltas.iter().find(|d| d.setting == s).unwrap()
}

fn live() -> Value {
    json!({
        "tls": {"min_version": "1.1"},
        "mfa": {"required": true},
        "session": {"idle_timeout": "45m"},
        "audit_log": {"retention": "400d"},
        "sso": {"configured": true, "enforced": false},
        "api_keys": {"active": 0, "max_age": "365d"}
    })
}

#[test]
fn a_production_tenant_against_secure_default() {
    let rules = load_bundled().unwrap();
    let p = run(
        &rules,
        "secure-default",
        json!({"id": "acme", "tier": "production"}),
        &[live()],
    );
    assert!(p.applies, "{}", p.why);
    assert_eq!(p.mode, "enforce");
    // TLS 1.1 → 1.2 (at_least, by the order), high risk.
    let tls = delta(&p, "tls.min_version");
    assert_eq!(
        (tls.action, tls.to.clone(), tls.risk.as_str()),
        (Action::Tighten, Some(json!("1.2")), "high")
    );
    // MFA already on.
    assert_eq!(delta(&p, "mfa.required").action, Action::None);
    // 45m idle: above 30m, tightened to 30m.
    let idle = delta(&p, "session.idle_timeout");
    assert_eq!(
        (idle.action, idle.to.clone()),
        (Action::Tighten, Some(json!("30m")))
    );
    // 400 days of audit log: above the 90 asked; kept (never lowered).
    let audit = delta(&p, "audit_log.retention");
    assert!(audit.satisfied && audit.action == Action::None, "{audit:?}");
    // SSO configured: enforced, after MFA.
    let sso = delta(&p, "sso.enforced");
    assert_eq!(sso.action, Action::Tighten);
    let pos = |s: &str| p.deltas.iter().position(|d| d.setting == s).unwrap();
    assert!(pos("mfa.required") < pos("sso.enforced"));
    // No active keys: the key age does not apply.
    let keys = delta(&p, "api_keys.max_age");
    assert!(
        !keys.applies && keys.why.contains("live.api_keys.active > 0"),
        "{keys:?}"
    );
    // Every delta names its setting, comparator and risk, and says why.
    for d in &p.deltas {
        assert!(
            !d.setting.is_empty()
                && !d.comparator.is_empty()
                && !d.risk.is_empty()
                && !d.why.is_empty(),
            "{d:?}"
        );
    }
    assert_eq!(p.open(), 3);
}

#[test]
fn applies_to_reads_the_tenants_labels() {
    let rules = load_bundled().unwrap();
    // `regulated` selects tenants with a `compliance` label; the rule
    // tests used to expect its settings for tenants without one.
    let unlabelled = json!({"id": "payco", "frameworks": ["pci"], "jurisdiction": "US"});
    let p = run(&rules, "regulated", unlabelled, &[live()]);
    assert!(!p.applies);
    assert!(p
        .deltas
        .iter()
        .all(|d| d.action == Action::None && !d.applies));
    let labelled =
        json!({"id": "payco", "compliance": "pci", "frameworks": ["pci"], "jurisdiction": "US"});
    let p = run(&rules, "regulated", labelled, &[live()]);
    assert!(p.applies);
    // It extends secure-default and tightens it: TLS 1.3, critical.
    let tls = delta(&p, "tls.min_version");
    assert_eq!(
        (tls.to.clone(), tls.risk.as_str(), tls.baseline.as_str()),
        (Some(json!("1.3")), "critical", "regulated")
    );
    // MFA comes from secure-default.
    assert_eq!(delta(&p, "mfa.required").baseline, "secure-default");
    // PCI: customer-managed keys; not EU: no residency.
    assert_eq!(delta(&p, "encryption.key_source").action, Action::Tighten);
    assert!(!delta(&p, "data.residency").applies);
    // A sandbox is not secure-default's.
    let p = run(
        &rules,
        "secure-default",
        json!({"id": "t", "tier": "sandbox"}),
        &[live()],
    );
    assert!(!p.applies);
}

#[test]
fn the_first_document_that_has_a_setting_wins_and_is_named() {
    let rules = load_bundled().unwrap();
    let over = json!({"session": {"idle_timeout": "10m"}, "tls.min_version": "1.3"});
    let p = run(
        &rules,
        "secure-default",
        json!({"id": "acme"}),
        &[over, live()],
    );
    let idle = delta(&p, "session.idle_timeout");
    assert_eq!(
        (idle.live.clone(), idle.source.as_deref(), idle.action),
        (json!("10m"), Some("doc0"), Action::None)
    );
    // A key written dotted is found too.
    let tls = delta(&p, "tls.min_version");
    assert_eq!(
        (tls.live.clone(), tls.source.as_deref()),
        (json!("1.3"), Some("doc0"))
    );
    // MFA is only in the second.
    assert_eq!(delta(&p, "mfa.required").source.as_deref(), Some("doc1"));
}

#[test]
fn no_plan_ever_lowers_a_setting() {
    let rules = load_files(
        vec![RuleFile {
            path: "a.tenet".into(),
            text: r#"tenet 1
pack autoconfig version "1.0.0"

const tls = ["1.0", "1.1", "1.2", "1.3"]

baseline weak {
  setting tls.min_version {
    equals "1.2"
    order  tls
  }
  setting files.mode {
    bits_at_most "640"
  }
  setting retention {
    at_least 30d
  }
  setting ciphers {
    subset_of ["aes256-gcm", "chacha20"]
  }
  setting banner {
    matches /^Authorized/
  }
}
"#
            .into(),
        }],
        "",
    )
    .unwrap();
    // Live is stricter than the baseline everywhere it can be.
    let strict = json!({"tls": {"min_version": "1.3"}, "files": {"mode": "600"}, "retention": "365d", "ciphers": ["chacha20"], "banner": "Authorized use only"});
    let p = run(&rules, "weak", json!({}), &[strict]);
    let tls = delta(&p, "tls.min_version");
    assert_eq!(tls.action, Action::Refuse, "{tls:?}");
    assert!(tls.why.contains("stricter"), "{}", tls.why);
    for s in ["files.mode", "retention", "ciphers", "banner"] {
        assert_eq!(delta(&p, s).action, Action::None, "{s}");
    }
    // Weaker everywhere: each change is the stricter of the two.
    let weak = json!({"tls": {"min_version": "1.0"}, "files": {"mode": "666"}, "retention": "7d", "ciphers": ["chacha20", "rc4"], "banner": "hello"});
    let p = run(&rules, "weak", json!({}), &[weak]);
    assert_eq!(delta(&p, "tls.min_version").to, Some(json!("1.2")));
    assert_eq!(delta(&p, "files.mode").to, Some(json!("640")), "666 & 640");
    assert_eq!(delta(&p, "retention").to, Some(json!("30d")));
    assert_eq!(delta(&p, "ciphers").to, Some(json!(["chacha20"])));
    // Nothing to make up for a regex: a person decides.
    assert_eq!(delta(&p, "banner").action, Action::Refuse);
    // A value that does not read fails closed, and is left to a person.
    let junk = json!({"retention": 30, "files": {"mode": "rw-r-----"}});
    let p = run(&rules, "weak", json!({}), &[junk]);
    for s in ["retention", "files.mode"] {
        let d = delta(&p, s);
        assert_eq!(d.action, Action::Refuse, "{d:?}");
        assert!(d.why.contains("cannot be compared"), "{}", d.why);
    }
}

#[test]
fn same_inputs_give_the_same_plan_byte_for_byte() {
    let rules = load_bundled().unwrap();
    let t = json!({"id": "x", "compliance": "pci"});
    let a = serde_json::to_string(&run(&rules, "regulated", t.clone(), &[live()])).unwrap();
    let b = serde_json::to_string(&run(&rules, "regulated", t, &[live()])).unwrap();
    assert_eq!(a, b);
}

/// Applying a plan makes every applicable setting meet the baseline
/// (except what is refused), changes only what the plan said, lowers
/// nothing, and a second application changes nothing.
#[test]
fn apply_is_monotonic_and_idempotent() {
    use tenet_autoconfig::apply::apply;
    let rules = load_bundled().unwrap();
    let t =
        json!({"id": "payco", "compliance": "pci", "frameworks": ["pci"], "jurisdiction": "US"});
    let first = run(&rules, "regulated", t.clone(), &[live()]);
    let a = apply(&first, &live());
    assert_eq!(a.changed.len(), first.open() - a.refused.len());
    assert!(a.refused.is_empty(), "{:?}", a.refused);
    // The new document: TLS 1.3, idle 15m, the 400-day audit log kept,
    // customer-managed keys added, MFA untouched.
    assert_eq!(a.document["tls"]["min_version"], "1.3");
    assert_eq!(a.document["session"]["idle_timeout"], "15m");
    assert_eq!(a.document["audit_log"]["retention"], "400d");
    assert_eq!(a.document["encryption"]["key_source"], "customer_managed");
    assert_eq!(a.document["mfa"]["required"], true);
    // Re-planned: nothing left to do; applied again: nothing changes.
    let second = run(&rules, "regulated", t, std::slice::from_ref(&a.document));
    assert_eq!(second.open(), 0, "{:?}", second.deltas);
    let again = apply(&second, &a.document);
    assert!(again.changed.is_empty());
    assert_eq!(again.document, a.document);
}

/// The local config center: one JSON document per tenant, written whole
/// and atomically, refusing a write over a document that changed since it
/// was read.
#[test]
fn the_directory_config_center_writes_whole_documents_or_nothing() {
    use tenet_autoconfig::config_center::{CenterError, ConfigCenter, Directory};
    let dir = tempfile::tempdir().unwrap();
    let c = Directory::new(dir.path().join("tenants"));
    let empty = c.read("acme").unwrap();
    assert_eq!(
        (empty.document.clone(), empty.version.clone()),
        (json!({}), None)
    );
    let v1 = c.write("acme", None, &live()).unwrap();
    let got = c.read("acme").unwrap();
    assert_eq!(got.document, live());
    assert_eq!(got.version.as_deref(), Some(v1.as_str()));
    // A writer that read before: refused, the document as it was.
    let stale = c.write("acme", None, &json!({"tls": {"min_version": "1.0"}}));
    assert!(matches!(stale, Err(CenterError::Conflict(_))), "{stale:?}");
    assert_eq!(c.read("acme").unwrap().document, live());
    // No temporary file is left beside it.
    let files: Vec<_> = std::fs::read_dir(dir.path().join("tenants"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    // Ids that would walk out of the folder are refused.
    for bad in ["..", "a/b", "", "x y"] {
        assert!(
            matches!(c.read(bad), Err(CenterError::BadTenant(_))),
            "{bad}"
        );
    }
    // A document that is not a map is an error, not an empty configuration.
    std::fs::write(dir.path().join("tenants/globex.json"), "[1]").unwrap();
    assert!(matches!(c.read("globex"), Err(CenterError::Io(_))));
}

/// A waiver on a setting keeps its delta visible and quiet, for the
/// tenants its `when` names, until its day; from then the delta is back.
#[test]
fn a_waiver_quiets_a_delta_until_it_expires() {
    let rules = load_files(
        vec![RuleFile {
            path: "a.tenet".into(),
            text: r#"tenet 1
pack autoconfig version "1.0.0"

const tls = ["1.0", "1.1", "1.2", "1.3"]

baseline base {
  setting tls.min_version {
    at_least "1.2"
    order    tls
  }
}

waiver legacy-payment-terminals {
  rules         ["base/tls.min_version"]
  when          tenant.id == "bank"
  owner         "payments-platform"
  justification "terminals in the field speak TLS 1.1 until the Q1 rollout"
  expires       "2027-01-01"
}
"#
            .into(),
        }],
        "",
    )
    .unwrap();
    let pack = tenet_autoconfig::pack(&rules).unwrap();
    let b = Baselines::read(&pack).unwrap();
    let doc = [Document {
        name: "live".into(),
        body: json!({"tls": {"min_version": "1.1"}}),
    }];
    let at = |t: &str| tenet_runtime::clock::Timestamp::parse(t).unwrap().millis();
    let p = plan(
        &pack,
        b.get("base").unwrap(),
        &json!({"id": "bank"}),
        &doc,
        at("2026-12-31T23:59:59Z"),
    )
    .unwrap();
    let d = delta(&p, "tls.min_version");
    assert_eq!((d.action, d.satisfied), (Action::None, false), "{d:?}");
    let w = d.waiver.as_ref().unwrap();
    assert_eq!(
        (w.name.as_str(), w.owner.as_str(), w.live),
        ("legacy-payment-terminals", "payments-platform", true)
    );
    assert!(
        d.why
            .contains("waived by `legacy-payment-terminals` (payments-platform) until 2027-01-01"),
        "{}",
        d.why
    );
    // From its day on, the delta is back, and says the waiver expired.
    let p = plan(
        &pack,
        b.get("base").unwrap(),
        &json!({"id": "bank"}),
        &doc,
        at("2027-01-01T00:00:00Z"),
    )
    .unwrap();
    let d = delta(&p, "tls.min_version");
    assert_eq!(d.action, Action::Tighten, "{d:?}");
    assert!(
        d.why
            .contains("waiver `legacy-payment-terminals` expired on 2027-01-01"),
        "{}",
        d.why
    );
    assert!(!d.waiver.as_ref().unwrap().live);
    // Another tenant was never covered.
    let p = plan(
        &pack,
        b.get("base").unwrap(),
        &json!({"id": "other"}),
        &doc,
        at("2026-12-01T00:00:00Z"),
    )
    .unwrap();
    let d = delta(&p, "tls.min_version");
    assert_eq!((d.action, d.waiver.is_none()), (Action::Tighten, true));
}
