//! The three discovery formats, read from real-shaped documents in
//! `fixtures/dark-inventory/formats/`, snapshotted, and run through the
//! bundled pack: what each finds, and clear errors on what is not that
//! format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::path::{Path, PathBuf};
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{ingest, Inventory};
use tenet_dark_inventory::model::Batch;
use tenet_dark_inventory::parsers::{parse, Format, Options};
use tenet_dark_inventory::policy::Policy;
use tenet_runtime::load::load_bundled;

const T0: i64 = 1_796_083_200_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn read(format: Format, file: &str, opts: Options) -> Batch {
    let bytes = std::fs::read(root().join("fixtures/dark-inventory/formats").join(file)).unwrap();
    parse(format, &bytes, &opts).unwrap()
}

fn opts(source: &str) -> Options {
    Options {
        source: source.into(),
        run: "run-1".into(),
        at: Some(T0),
        ..Default::default()
    }
}

fn snapshot(name: &str, b: &Batch) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/dark-inventory"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_json_snapshot!(name.to_string(), b));
}

/// The keys of the findings a batch makes on an empty catalog.
fn findings(b: &Batch) -> Vec<(String, String)> {
    let rules = load_bundled().unwrap();
    let pack = tenet_dark_inventory::pack(&rules).unwrap();
    let policy = Policy::read(&pack).unwrap();
    let cat = CatalogIndex::build(&pack, &policy, Vec::new(), json!({})).unwrap();
    let mut inv = Inventory::new("acme");
    ingest(&pack, &policy, &cat, &mut inv, b, T0).unwrap();
    let mut out: Vec<(String, String)> = inv
        .findings
        .values()
        .map(|f| (f.key.clone(), f.rule.clone()))
        .collect();
    out.sort();
    out
}

#[test]
fn aws_config_select_resource_config() {
    let b = read(
        Format::AwsConfig,
        "aws-config-select.json",
        opts("aws-config"),
    );
    snapshot("aws-config-select", &b);
    assert_eq!(
        findings(&b),
        vec![
            (
                "arn:aws:s3:::acme-exports".to_string(),
                "unregistered-s3-bucket".to_string()
            ),
            (
                "arn:aws:s3:::acme-share".to_string(),
                "unregistered-public-s3-bucket".to_string()
            ),
        ]
    );
}

#[test]
fn aws_config_list_discovered_resources_skips_deleted_ones() {
    let b = read(
        Format::AwsConfig,
        "aws-config-list.json",
        opts("aws-config"),
    );
    assert_eq!(b.resources.len(), 1);
    assert_eq!(
        b.resources[0].key.as_deref(),
        Some("arn:aws:s3:::acme-logs")
    );
    assert_eq!(findings(&b).len(), 1);
}

#[test]
fn kubectl_ingresses_and_load_balancers() {
    let b = read(
        Format::Kubectl,
        "kubectl.json",
        Options {
            cluster: Some("prod-eu-1".into()),
            ..opts("k8s-ingress")
        },
    );
    snapshot("kubectl", &b);
    // Two hosts of one ingress, and the LoadBalancer service; the internal
    // ingress is discovered but not internet-facing; ClusterIP and pending
    // services are not endpoints.
    assert_eq!(b.resources.len(), 4);
    let keys: Vec<String> = findings(&b).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        vec![
            "a1b2c3.eu-west-1.elb.amazonaws.com",
            "admin-v2.acme.io",
            "admin.acme.io"
        ]
    );
}

#[test]
fn semantic_diff_added_operations() {
    let b = read(
        Format::SemanticDiff,
        "semantic-diff.json",
        Options {
            service: Some("orders".into()),
            ..opts("semantic-diff")
        },
    );
    snapshot("semantic-diff", &b);
    assert_eq!(
        findings(&b),
        vec![
            (
                "orders delete /orders/{orderid}".to_string(),
                "unowned-api-operation".to_string()
            ),
            (
                "orders get /v1/orders".to_string(),
                "unowned-api-operation".to_string()
            ),
        ]
    );
}

#[test]
fn documents_of_another_shape_are_refused_with_what_was_expected() {
    for (format, body, want) in [
        (
            Format::AwsConfig,
            "{}",
            "an AWS Config resource list has `Results`",
        ),
        (
            Format::AwsConfig,
            r#"{"Results": [42]}"#,
            "Results[0] is neither a JSON string nor an object",
        ),
        (
            Format::AwsConfig,
            r#"{"Results": ["{"]}"#,
            "Results[0] is not a JSON object in a string",
        ),
        (
            Format::AwsConfig,
            r#"{"resourceIdentifiers": [{"resourceId": "x"}]}"#,
            "resource 0 has no `resourceType`",
        ),
        (
            Format::Kubectl,
            r#"{"items": []}"#,
            "a Kubernetes object or `List` has a `kind`",
        ),
        (
            Format::Kubectl,
            r#"{"kind": "List", "items": [{"kind": "Ingress", "metadata": {}}]}"#,
            "items[0] (Ingress) has no `metadata.name`",
        ),
        (
            Format::SemanticDiff,
            r#"{"changes": []}"#,
            "a semantic diff report has `schema: tenet.report/v1`",
        ),
        (Format::SemanticDiff, "not json", "not JSON"),
    ] {
        let e = parse(format, body.as_bytes(), &opts("x")).unwrap_err();
        assert!(e.starts_with(want), "{body}: {e}");
    }
}
