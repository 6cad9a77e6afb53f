//! Masking per jurisdiction, as a regression table: the same subject's
//! records exported under each jurisdiction the pack knows, an unknown
//! one, a minor, and a supervisory authority; exactly which paths are
//! dropped, hashed and redacted, by which policy, on which legal basis.

use super::*;
use tenet_rtx_export::bundle::manifest_of;
use tenet_rtx_export::mask::{open, ExportSalt, REDACTED};

/// The manifest as `record path action policy[+also...]`, sorted.
fn manifest(bundle: &Value) -> Vec<String> {
    let mut out: Vec<String> = manifest_of(bundle)
        .iter()
        .map(|e| {
            let also: Vec<String> = e["also"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| format!("+{}", a.as_str().unwrap()))
                .collect();
            format!(
                "{} {} {} {}{}",
                e["record"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["policy"].as_str().unwrap(),
                also.join("")
            )
        })
        .collect();
    out.sort();
    out
}

const THIRD_PARTY: [&str; 4] = [
    "d1 record.co_applicants redact third-party-data",
    "d1 record.referee_notes drop third-party-data",
    "d1 record.reviewer.email redact third-party-data",
    "d1 record.reviewer.name redact third-party-data",
];
const VENDOR: [&str; 2] = [
    "d1 record.model.feature_weights drop vendor-model-internals",
    "d1 record.model.raw_scores drop vendor-model-internals",
];

fn expected(own: &[&str], third_party: bool) -> Vec<String> {
    let mut v: Vec<String> = own.iter().map(|s| s.to_string()).collect();
    if third_party {
        v.extend(THIRD_PARTY.iter().map(|s| s.to_string()));
    }
    v.extend(VENDOR.iter().map(|s| s.to_string()));
    v.sort();
    v
}

/// (name, jurisdiction, requester type, subject facts, manifest, policies applied).
type Case = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Value,
    Vec<String>,
    Vec<&'static str>,
);

#[test]
fn each_jurisdiction_masks_exactly_what_its_policies_name() {
    let rules = rules();
    let eu = [
        "d1 record.device_id hash eu-gdpr",
        "d1 record.features.ethnicity redact eu-gdpr",
        "d1 record.features.health_flags redact eu-gdpr",
        "d1 record.features.religion redact eu-gdpr",
        "d1 record.ip_address hash eu-gdpr",
        "d1 record.raw_inputs.free_text drop eu-gdpr",
        "d1 record.subject_id hash eu-gdpr",
    ];
    let table: Vec<Case> = vec![
        (
            "EU subject",
            Some("FR"),
            "data_subject",
            json!({"age": 41}),
            expected(&eu, true),
            vec!["eu-gdpr", "third-party-data", "vendor-model-internals"],
        ),
        (
            "EEA subject",
            Some("NO"),
            "authorized_agent",
            json!({}),
            expected(&eu, true),
            vec!["eu-gdpr", "third-party-data", "vendor-model-internals"],
        ),
        (
            "California resident",
            Some("US-CA"),
            "data_subject",
            json!({}),
            expected(
                &[
                    "d1 record.device_id hash us-ca",
                    "d1 record.features.ethnicity redact us-ca",
                    "d1 record.features.precise_geolocation redact us-ca",
                    "d1 record.raw_inputs.free_text drop us-ca",
                    "d1 record.subject_id hash us-ca",
                ],
                true,
            ),
            vec!["third-party-data", "us-ca", "vendor-model-internals"],
        ),
        (
            "New York resident",
            Some("US-NY"),
            "data_subject",
            json!({}),
            expected(
                &[
                    "d1 record.device_id hash default",
                    "d1 record.raw_inputs.free_text drop default",
                    "d1 record.subject_id hash default",
                ],
                true,
            ),
            vec!["default", "third-party-data", "vendor-model-internals"],
        ),
        (
            "Japanese subject's counsel",
            Some("JP"),
            "legal_counsel",
            json!({}),
            expected(
                &[
                    "d1 record.device_id hash default",
                    "d1 record.raw_inputs.free_text drop default",
                    "d1 record.subject_id hash default",
                ],
                false,
            ),
            vec!["default", "vendor-model-internals"],
        ),
        (
            "unknown jurisdiction: every mask",
            None,
            "data_subject",
            json!({}),
            expected(
                &[
                    "d1 record.device_id hash eu-gdpr+default+us-ca",
                    "d1 record.features.ethnicity redact eu-gdpr+us-ca",
                    "d1 record.features.health_flags redact eu-gdpr",
                    "d1 record.features.precise_geolocation redact us-ca",
                    "d1 record.features.religion redact eu-gdpr",
                    "d1 record.ip_address hash eu-gdpr",
                    "d1 record.raw_inputs.free_text drop eu-gdpr+default+us-ca",
                    "d1 record.subject_id hash eu-gdpr+default+us-ca",
                ],
                true,
            ),
            vec![
                "default",
                "eu-gdpr",
                "third-party-data",
                "us-ca",
                "vendor-model-internals",
            ],
        ),
        (
            "EU minor",
            Some("DE"),
            "data_subject",
            json!({"age": 16}),
            expected(
                &[
                    "d1 record.device_id hash eu-gdpr",
                    "d1 record.features.behavioural_signals drop minors",
                    "d1 record.features.ethnicity redact eu-gdpr",
                    "d1 record.features.health_flags redact eu-gdpr",
                    "d1 record.features.religion redact eu-gdpr",
                    "d1 record.guardian_id hash minors",
                    "d1 record.ip_address hash eu-gdpr",
                    "d1 record.raw_inputs drop minors+eu-gdpr",
                    "d1 record.subject_id hash eu-gdpr",
                ],
                true,
            ),
            vec![
                "eu-gdpr",
                "minors",
                "third-party-data",
                "vendor-model-internals",
            ],
        ),
        (
            "supervisory authority: only the vendor's trade secrets",
            Some("FR"),
            "supervisory_authority",
            json!({}),
            expected(&[], false),
            vec!["vendor-model-internals"],
        ),
    ];
    for (name, jurisdiction, requester, facts, want, policies) in table {
        let export = export_for("x-1", request(jurisdiction, requester, facts));
        let (bytes, made) = make(&rules, &export, records());
        let b = parse(&bytes);
        assert_eq!(manifest(&b), want, "{name}");
        assert_eq!(made.written.manifest_entries as usize, want.len(), "{name}");
        let applied: Vec<&str> = b["summary"]["masking"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["records"].as_u64().unwrap() > 0)
            .map(|u| u["policy"].as_str().unwrap())
            .collect();
        assert_eq!(applied, policies, "{name}: the policies that applied");
    }
}

#[test]
fn masked_values_are_gone_and_commitments_open_with_one_field_salt() {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (bytes, _) = make(&rules, &export, records());
    let b = parse(&bytes);
    let d1 = b["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "d1")
        .unwrap();
    assert_eq!(d1["features"]["ethnicity"], REDACTED);
    assert_eq!(
        d1["features"]["income"], 52000,
        "what no policy names stays"
    );
    assert!(d1["raw_inputs"].get("free_text").is_none());
    assert_eq!(d1["raw_inputs"]["form"], "A-12");
    assert!(d1["model"].get("raw_scores").is_none());
    assert_eq!(d1["model"]["name"], "fraud-v3");
    let text = String::from_utf8(bytes.clone()).unwrap();
    for secret in [
        "I lost my job",
        "Ana Reviewer",
        "group-a",
        "asthma",
        "203.0.113.7",
        "dev-9",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked into the bundle");
    }
    // The commitment to the subject id opens with that field's salt only.
    let c = d1["subject_id"]["$commitment"].as_str().unwrap();
    assert!(c.starts_with("sha256:"));
    let salt = ExportSalt::derive(&signer().commitment_secret(), "x-1");
    let field = hex::encode(salt.field_salt("d1", "record.subject_id"));
    assert!(open(&field, &json!("s-1"), c));
    assert!(!open(&field, &json!("s-2"), c));
    let other = hex::encode(salt.field_salt("d1", "record.device_id"));
    assert!(
        !open(&other, &json!("s-1"), c),
        "another field's salt opens nothing"
    );
    // The manifest entry of a redaction commits to the removed value too,
    // and carries its legal basis and the policy's reason.
    let e = d1["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "record.features.ethnicity")
        .unwrap();
    let f = hex::encode(salt.field_salt("d1", "record.features.ethnicity"));
    assert!(open(
        &f,
        &json!("group-a"),
        e["commitment"].as_str().unwrap()
    ));
    assert_eq!(
        e["basis"],
        "GDPR Art. 15(1)(h) and Art. 22(3); special categories under Art. 9"
    );
    assert_eq!(
        e["because"],
        "subject in FR: special-category features are redacted and identifiers hashed"
    );
    assert_eq!(e["jurisdictions"], json!(["EU"]));
    let v = d1["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["policy"] == "vendor-model-internals")
        .unwrap();
    assert_eq!(v["because"], "the decision used acme-scoring model");
}

#[test]
fn the_summary_is_computed_from_masked_records() {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (bytes, _) = make(&rules, &export, records());
    let b = parse(&bytes);
    let s = &b["summary"];
    assert_eq!(
        s["counts"],
        json!({"access": 1, "approval": 1, "decision": 1, "evidence": 1, "score": 1})
    );
    assert_eq!(s["policies_in_force"][0]["pack"], "credit");
    assert_eq!(s["policies_in_force"][0]["bundle"], "b".repeat(64));
    assert_eq!(s["consent"][0]["context"]["basis"], "contract");
    let prov = &s["provenance"];
    assert!(prov["entity"]["tenet:model/credit-limit@7"].is_object());
    assert!(prov["entity"]["tenet:data/snap-2026-11"].is_object());
    assert!(prov["wasAttributedTo"]
        .as_object()
        .unwrap()
        .values()
        .any(|r| r["prov:agent"] == "tenet:agent/in-house"));
    assert!(prov["wasGeneratedBy"]
        .as_object()
        .unwrap()
        .values()
        .any(|r| r["prov:entity"] == "tenet:bundle/x-1"));
}

#[test]
fn a_policy_that_would_remove_a_records_identity_is_refused_when_the_pack_loads() {
    let pack = std::fs::read_to_string(root().join("rules/rtx-export/rtx_export.tenet")).unwrap();
    let broken = pack.replace(
        "drop          [\"user.content.free_text\"]\n  basis         \"data minimisation",
        "drop          [\"record.id\"]\n  basis         \"data minimisation",
    );
    assert_ne!(broken, pack);
    let err = tenet_runtime::load::load_files(
        vec![tenet_runtime::load::RuleFile {
            path: "p.tenet".into(),
            text: broken,
        }],
        "",
    )
    .map(|_| ())
    .unwrap_err();
    let err = format!("{err:?}");
    assert!(
        err.contains("masking `default` drops `record.id`, which would remove the record's identity (`id`, `kind`, `at`) or its redactions"),
        "{err}"
    );
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    let ok = json!({
        "subject": "s", "at": T0, "model": {"name": "m", "version": "1", "provider": "p"},
        "source_id": "src",
    });
    assert!(Evidence::from_json(&ok).is_ok());
    let cases = [
        (
            json!({"subjekt": "s"}),
            "`subjekt` is not an evidence field",
        ),
        (json!({"subject": " "}), "`subject` is empty"),
        (
            json!({"at": -1}),
            "`at` is -1, not a time in Unix milliseconds",
        ),
        (
            json!({"model": {"name": "m", "version": "", "provider": "p"}}),
            "`model.version` is empty",
        ),
        (
            json!({"feature_provenance": [{"feature": "f", "source": ""}]}),
            "`feature_provenance[0].source` is empty",
        ),
    ];
    for (patch, want) in cases {
        let mut body = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = Evidence::from_json(&body).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err} (wanted {want})");
    }
    let base = serde_json::to_value(request(Some("FR"), "data_subject", json!({}))).unwrap();
    let bad = [
        (
            json!({"jurisdiction": "France"}),
            "`jurisdiction` is `France`, not an ISO 3166 code",
        ),
        (
            json!({"window": {"from": -1, "to": T0}}),
            "`window.from` is -1, not a time",
        ),
        (
            json!({"subject_facts": {"country": "DE"}}),
            "`subject_facts.country` comes from `jurisdiction`",
        ),
        (json!({"purpose_of_use": ""}), "`purpose_of_use` is empty"),
    ];
    for (patch, want) in bad {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = ExportRequest::from_json(&body).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err} (wanted {want})");
    }
}

#[test]
fn records_out_of_order_or_outside_the_window_fail_the_export() {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let pack = tenet_rtx_export::pack(&rules).unwrap();
    let mut rs = records();
    rs.reverse();
    let err = engine::make(Vec::new(), pack, &signer(), &export, rs, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("records must come sorted by time and id"),
        "{err}"
    );
    let mut rs = records();
    if let Record::Score(s) = &mut rs[2] {
        s.at = T0 - 1;
    }
    engine::sort(&mut rs);
    let err = engine::make(Vec::new(), pack, &signer(), &export, rs, None).unwrap_err();
    assert!(
        err.to_string().contains("is outside the export's window"),
        "{err}"
    );
}

#[test]
fn state_transitions_are_the_ones_drawn() {
    use ExportState::*;
    let all = [Pending, Ready, Failed, Revoked];
    let legal: Vec<(ExportState, ExportState)> = all
        .iter()
        .flat_map(|a| all.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a.can_become(*b))
        .collect();
    assert_eq!(
        legal,
        vec![
            (Pending, Ready),
            (Pending, Failed),
            (Pending, Revoked),
            (Ready, Revoked),
            (Failed, Revoked)
        ]
    );
}

#[test]
fn a_window_that_ends_before_it_starts_is_empty_not_an_error() {
    // As elsewhere in the API: `from` at or after `to` selects nothing.
    let mut body = serde_json::to_value(request(Some("FR"), "data_subject", json!({}))).unwrap();
    body["window"] = json!({"from": T0, "to": T0});
    let r = ExportRequest::from_json(&body).unwrap();
    assert!(!r.window.contains(T0));
}

/// The bundled pack with `from` replaced by `to` (which must change it).
fn pack_with(from: &str, to: &str) -> tenet_runtime::load::Rules {
    let pack = std::fs::read_to_string(root().join("rules/rtx-export/rtx_export.tenet")).unwrap();
    let changed = pack.replace(from, to);
    assert_ne!(changed, pack, "{from}");
    tenet_runtime::load::load_files(
        vec![tenet_runtime::load::RuleFile {
            path: "p.tenet".into(),
            text: changed,
        }],
        "",
    )
    .unwrap()
}

#[test]
fn a_category_covers_its_sub_categories_and_the_manifest_names_it() {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (bytes, _) = make(&rules, &export, records());
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let by_path: std::collections::BTreeMap<String, String> = manifest_of(&bundle)
        .iter()
        .filter(|e| e["record"] == "d1")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["category"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    // `redact ["user.sensitive"]` reached each sensitive sub-category.
    for (path, category) in [
        ("record.features.ethnicity", "user.sensitive.ethnicity"),
        ("record.features.health_flags", "user.sensitive.health"),
        ("record.features.religion", "user.sensitive.religion"),
        ("record.subject_id", "user.unique_id.subject"),
        ("record.reviewer.email", "third_party.contact"),
    ] {
        assert_eq!(
            by_path.get(path).map(String::as_str),
            Some(category),
            "{by_path:?}"
        );
    }
    // A path named as a path still works, and has no category.
    let rules = pack_with(
        "drop          [\"system.model.internals\"]",
        "drop          [\"record.model.raw_scores\"]",
    );
    let (bytes, _) = make(&rules, &export, records());
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let manifest = manifest_of(&bundle);
    let raw = manifest
        .iter()
        .find(|e| e["path"] == "record.model.raw_scores")
        .unwrap();
    assert!(raw.get("category").is_none(), "{raw}");
    assert!(
        !manifest
            .iter()
            .any(|e| e["path"] == "record.model.feature_weights"),
        "only the path named"
    );
}

#[test]
fn an_undeclared_category_or_a_bad_category_path_is_refused_when_the_pack_loads() {
    // A policy that would not apply to most exports (us-ca) is checked
    // too: a typo is found when the rules load, not on the first
    // Californian. (The masker checks again before any record.)
    let load = |from: &str, to: &str| -> String {
        let pack =
            std::fs::read_to_string(root().join("rules/rtx-export/rtx_export.tenet")).unwrap();
        let changed = pack.replace(from, to);
        assert_ne!(changed, pack, "{from}");
        match tenet_runtime::load::load_files(
            vec![tenet_runtime::load::RuleFile {
                path: "p.tenet".into(),
                text: changed,
            }],
            "",
        ) {
            Ok(_) => panic!("{to} loaded"),
            Err(e) => format!("{e:?}"),
        }
    };
    let err = load(
        "redact        [\"user.location.precise\", \"user.sensitive.ethnicity\"]",
        "redact        [\"user.location.precize\"]",
    );
    assert!(
        err.contains("masking `us-ca` redacts `user.location.precize`, which is neither a `record.` path nor a declared data category"),
        "{err}"
    );
    // `user.sens` is not a parent of `user.sensitive`: names, not strings.
    let err = load(
        "redact        [\"user.sensitive\"]",
        "redact        [\"user.sens\"]",
    );
    assert!(err.contains("redacts `user.sens`"), "{err}");
    let err = load(
        "paths       [\"record.referee_notes\"]",
        "paths       [\"referee_notes\"]",
    );
    assert!(
        err.contains("data category path `referee_notes` does not start with `record.`"),
        "{err}"
    );
}
