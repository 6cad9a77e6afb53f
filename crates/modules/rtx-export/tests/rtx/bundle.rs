//! The bundle: the same snapshot exports byte-identically, the streamed
//! bytes are RFC 8785 canonical JSON, records stream as they come, and a
//! small bundle as a reviewer reads it (snapshot).

use super::*;
use proptest::prelude::*;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use tenet_rtx_export::bundle::manifest_of;
use tenet_rtx_export::canonical;

fn jcs_round_trip(bytes: &[u8]) {
    let again = canonical::to_vec(&parse(bytes)).unwrap();
    assert!(
        again == bytes,
        "the streamed bundle is not canonical:\n{}\n{}",
        String::from_utf8_lossy(bytes),
        String::from_utf8_lossy(&again)
    );
}

#[test]
fn the_same_snapshot_exports_byte_identically() {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (a, ma) = make(&rules, &export, records());
    let (b, mb) = make(&rules, &export, records());
    assert_eq!(a, b);
    assert_eq!(ma, mb, "the same digest, statement and envelope");
    assert_eq!(ma.written.sha256, canonical::sha256_hex(&a));
    assert_eq!(ma.written.size, a.len() as u64);
    // Another export of the same records has other salts: other commitments.
    let (c, _) = make(
        &rules,
        &export_for("x-2", export.request.clone()),
        records(),
    );
    assert_ne!(a, c);
}

#[test]
fn the_streamed_bundle_is_canonical_json_and_its_manifest_digest_recomputes() {
    let rules = rules();
    for j in [Some("FR"), Some("US-CA"), None] {
        let export = export_for("x-1", request(j, "data_subject", json!({})));
        let (bytes, made) = make(&rules, &export, records());
        jcs_round_trip(&bytes);
        let b = parse(&bytes);
        let manifest = canonical::to_vec(&manifest_of(&b)).unwrap();
        assert_eq!(
            made.written.manifest_sha256,
            canonical::sha256_hex(&manifest)
        );
        assert_eq!(
            b["summary"]["redactions"]["sha256"],
            made.written.manifest_sha256.as_str()
        );
        assert_eq!(
            made.statement.predicate.manifest.sha256,
            made.written.manifest_sha256
        );
    }
}

fn fact() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 éü€😀\\\\\"\u{7f}\u{fb01}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zé😀\u{fb01}_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn any_records_stream_as_canonical_json(
        facts in prop::collection::vec(prop::collection::btree_map("[a-z_😀\u{fb01}]{1,8}", fact(), 0..5), 1..6),
    ) {
        let rules = rules();
        let export = export_for("x-p", request(Some("US-CA"), "data_subject", json!({})));
        let mut rs = Vec::new();
        for (i, f) in facts.into_iter().enumerate() {
            let mut body = json!({
                "id": format!("d{i}"), "at": T0 + i as i64, "pack": "p", "pack_version": "1",
                "bundle": "b", "outcome": "allow",
            });
            for (k, v) in f {
                if !["id", "kind", "at", "pack", "pack_version", "bundle", "rules", "outcome", "reason", "redactions"].contains(&k.as_str()) {
                    body[k] = v;
                }
            }
            rs.push(Record::Decision(serde_json::from_value(body).unwrap()));
        }
        let (bytes, _) = make(&rules, &export, rs);
        let again = canonical::to_vec(&parse(&bytes)).unwrap();
        prop_assert_eq!(again, bytes);
    }
}

/// A sink the test can look into while the bundle is being written.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn records_are_written_as_they_come_not_gathered_first() {
    let rules = rules();
    let export = export_for("x-s", request(Some("JP"), "data_subject", json!({})));
    let sink = Shared::default();
    let seen = sink.clone();
    let n = 2_000;
    let mut written_before_last = 0;
    let records = (0..n).map(|i| {
        if i == n - 1 {
            written_before_last = seen.0.borrow().len();
        }
        Record::Decision(
            serde_json::from_value(json!({
                "id": format!("d{i:05}"), "at": T0 + i, "pack": "p", "pack_version": "1",
                "bundle": "b", "outcome": "allow", "subject_id": "s-1",
            }))
            .unwrap(),
        )
    });
    let pack = tenet_rtx_export::pack(&rules).unwrap();
    let (_, made) = engine::make(sink.clone(), pack, &signer(), &export, records, None).unwrap();
    let total = sink.0.borrow().len();
    assert_eq!(made.written.records, n as u64);
    assert_eq!(
        made.written.manifest_entries, n as u64,
        "each subject id hashed"
    );
    assert!(
        written_before_last > total * 9 / 10,
        "only {written_before_last} of {total} bytes were written before the last record came"
    );
}

#[test]
fn merging_sorted_sources_gives_one_sorted_stream() {
    let all = records();
    let (even, odd): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let merged: Vec<Record> = engine::merge(vec![
        Box::new(odd.into_iter().map(|x| x.1)),
        Box::new(std::iter::empty()),
        Box::new(even.into_iter().map(|x| x.1)),
    ])
    .collect();
    assert_eq!(merged, all);
}

#[test]
fn a_small_bundle_reads_as_written_by_hand() {
    let rules = rules();
    let export = export_for("x-snap", request(Some("FR"), "data_subject", json!({})));
    let (bytes, made) = make(&rules, &export, records());
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/rtx-export"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| {
        insta::assert_json_snapshot!("bundle-fr-data-subject", parse(&bytes));
        insta::assert_json_snapshot!("statement-fr-data-subject", made.statement);
    });
}
