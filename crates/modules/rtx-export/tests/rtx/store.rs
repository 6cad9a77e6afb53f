//! The store on SQLite and PostgreSQL: an export's life (pending, ready,
//! read, revoked) with an audit event per change and an access-log row per
//! read; revoking scrubs the bundle unless a legal hold keeps it, and
//! releasing the hold scrubs it then; a refused change writes nothing;
//! evidence is stored once and read back by subject and window, in pages.

use super::*;
use tenet_rtx_export::store::{self as st, Access, ChangeError};
use tenet_store::testing::{fresh, Kind};
use tenet_store::{conformance, AuditQuery, Store};

fn open(kind: Kind, dir: &std::path::Path) -> Store {
    st::open(&fresh(kind, dir)).unwrap()
}

fn outcomes(store: &Store, export: &str) -> Vec<String> {
    let mut events = store
        .audit_query(&AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.source == "rtx-export" && e.subject == export)
        .map(|e| e.outcome)
        .collect()
}

fn reader(action: AccessAction) -> Access {
    Access {
        actor: "auditor@acme".into(),
        action,
        purpose: Some("case 12".into()),
    }
}

/// Creates and completes export `id`; returns it.
fn ready(store: &mut Store, id: &str) -> Export {
    let rules = rules();
    let export = export_for(id, request(Some("FR"), "data_subject", json!({})));
    st::create_export(store, &export).unwrap();
    let (bytes, made) = make(&rules, &export, records());
    st::complete_export(store, "acme", id, bytes, &made.envelope, T0 + 31 * H).unwrap()
}

conformance!(
    an_export_is_made_read_and_revoked_with_every_step_recorded,
    |kind, dir| {
        let mut store = open(kind, dir);
        let e = ready(&mut store, "x-1");
        assert_eq!(e.state, ExportState::Ready);
        assert_eq!(e.artifact, Artifact::Stored);
        // A read returns the bundle, which verifies, and is logged.
        let (got, art) = st::export_with_bundle(
            &mut store,
            "acme",
            "x-1",
            &reader(AccessAction::Download),
            T0 + 32 * H,
        )
        .unwrap()
        .unwrap();
        let art = art.unwrap();
        assert_eq!(
            got.sha256.as_deref(),
            Some(tenet_rtx_export::canonical::sha256_hex(&art.bundle).as_str())
        );
        tenet_rtx_export::verify::verify(
            &art.bundle,
            &art.envelope,
            &signer().public_key(),
            Some(&got.revocation_status()),
        )
        .unwrap();
        st::export(
            &mut store,
            "acme",
            "x-1",
            &reader(AccessAction::Read),
            T0 + 33 * H,
        )
        .unwrap()
        .unwrap();
        // Another tenant sees nothing, and nothing is logged for it.
        assert!(st::export(
            &mut store,
            "other",
            "x-1",
            &reader(AccessAction::Read),
            T0 + 33 * H
        )
        .unwrap()
        .is_none());
        let r = st::revoke(
            &mut store,
            "acme",
            "x-1",
            "dpo@acme",
            Some("request withdrawn"),
            T0 + 34 * H,
        )
        .unwrap();
        assert_eq!(
            (r.state, r.artifact, r.retained),
            (ExportState::Revoked, Artifact::Scrubbed, false)
        );
        assert_eq!(
            r.status_sentence(),
            "revoked at 2026-12-02T10:00:00.000Z; the bundle was scrubbed"
        );
        let (_, art) = st::export_with_bundle(
            &mut store,
            "acme",
            "x-1",
            &reader(AccessAction::Show),
            T0 + 35 * H,
        )
        .unwrap()
        .unwrap();
        assert!(art.is_none(), "the bundle is scrubbed");
        let window = Window {
            from: T0,
            to: T0 + 48 * H,
        };
        let log: Vec<(String, AccessAction)> = st::access_log(&store, "acme", "s-1", window)
            .unwrap()
            .into_iter()
            .map(|a| (a.actor, a.action))
            .collect();
        assert_eq!(
            log,
            vec![
                ("auditor@acme".into(), AccessAction::Download),
                ("auditor@acme".into(), AccessAction::Read),
                ("dpo@acme".into(), AccessAction::Revoke),
                ("auditor@acme".into(), AccessAction::Show),
            ]
        );
        assert_eq!(outcomes(&store, "x-1"), ["created", "ready", "revoked"]);
        // Revoked is final.
        let again =
            st::revoke(&mut store, "acme", "x-1", "dpo@acme", None, T0 + 36 * H).unwrap_err();
        assert_eq!(
            again.to_string(),
            "export `x-1` is revoked; it cannot become revoked"
        );
    }
);

conformance!(
    a_legal_hold_keeps_a_revoked_bundle_until_it_is_released,
    |kind, dir| {
        let mut store = open(kind, dir);
        ready(&mut store, "x-2");
        let hold = LegalHold {
            reason: "litigation L-77".into(),
            by: "counsel@acme".into(),
            at: T0 + 32 * H,
        };
        st::set_legal_hold(
            &mut store,
            "acme",
            "x-2",
            Some(hold),
            "counsel@acme",
            T0 + 32 * H,
        )
        .unwrap();
        let r = st::revoke(&mut store, "acme", "x-2", "dpo@acme", None, T0 + 33 * H).unwrap();
        assert_eq!(
            (r.state, r.artifact, r.retained),
            (ExportState::Revoked, Artifact::Retained, true)
        );
        assert!(
            r.status_sentence()
                .contains("retained under a legal hold (litigation L-77)"),
            "{}",
            r.status_sentence()
        );
        let (_, art) = st::export_with_bundle(
            &mut store,
            "acme",
            "x-2",
            &reader(AccessAction::Show),
            T0 + 34 * H,
        )
        .unwrap()
        .unwrap();
        let art = art.expect("the held bundle is kept");
        // Kept, but not valid: verification with the status fails.
        let err = tenet_rtx_export::verify::verify(
            &art.bundle,
            &art.envelope,
            &signer().public_key(),
            Some(&r.revocation_status()),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("retained under a legal hold"),
            "{err}"
        );
        // Releasing the hold scrubs the bundle now: the deferred erasure runs.
        let released =
            st::set_legal_hold(&mut store, "acme", "x-2", None, "counsel@acme", T0 + 35 * H)
                .unwrap();
        assert_eq!(
            (released.artifact, released.retained),
            (Artifact::Scrubbed, false)
        );
        let (_, art) = st::export_with_bundle(
            &mut store,
            "acme",
            "x-2",
            &reader(AccessAction::Show),
            T0 + 36 * H,
        )
        .unwrap()
        .unwrap();
        assert!(art.is_none());
        assert_eq!(
            outcomes(&store, "x-2"),
            ["created", "ready", "hold_set", "retained", "scrubbed"]
        );
    }
);

conformance!(a_refused_change_writes_nothing, |kind, dir| {
    let mut store = open(kind, dir);
    let rules = rules();
    let export = export_for("x-3", request(Some("FR"), "data_subject", json!({})));
    st::create_export(&mut store, &export).unwrap();
    // The same id again is a conflict, and audits nothing more.
    assert!(matches!(
        st::create_export(&mut store, &export),
        Err(tenet_store::StoreError::Conflict(_))
    ));
    let (bytes, made) = make(&rules, &export, records());
    // Bytes the envelope does not sign are refused: still pending, no artifact.
    let mut wrong = bytes.clone();
    wrong[10] ^= 1;
    let err = st::complete_export(
        &mut store,
        "acme",
        "x-3",
        wrong,
        &made.envelope,
        T0 + 31 * H,
    )
    .unwrap_err();
    assert!(matches!(err, ChangeError::Refused { .. }), "{err}");
    let (e, art) = st::export_with_bundle(
        &mut store,
        "acme",
        "x-3",
        &reader(AccessAction::Read),
        T0 + 31 * H,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (e.state, e.version, art.is_none()),
        (ExportState::Pending, 1, true)
    );
    // Revoked while pending: a bundle finished later never lands.
    st::revoke(&mut store, "acme", "x-3", "dpo@acme", None, T0 + 32 * H).unwrap();
    let err = st::complete_export(
        &mut store,
        "acme",
        "x-3",
        bytes,
        &made.envelope,
        T0 + 33 * H,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "export `x-3` is revoked; it cannot become ready"
    );
    let (e, art) = st::export_with_bundle(
        &mut store,
        "acme",
        "x-3",
        &reader(AccessAction::Read),
        T0 + 34 * H,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (e.state, e.artifact, art.is_none()),
        (ExportState::Revoked, Artifact::None, true)
    );
    assert!(matches!(
        st::fail_export(&mut store, "acme", "nope", "x", T0),
        Err(ChangeError::NotFound(_))
    ));
    assert_eq!(outcomes(&store, "x-3"), ["created", "revoked"]);
    // A failure is recorded with why.
    let failing = export_for("x-4", request(Some("FR"), "data_subject", json!({})));
    st::create_export(&mut store, &failing).unwrap();
    let f = st::fail_export(
        &mut store,
        "acme",
        "x-4",
        "masking policy `eu-gdpr` failed",
        T0 + 31 * H,
    )
    .unwrap();
    assert_eq!(
        f.status_sentence(),
        "the export failed: masking policy `eu-gdpr` failed"
    );
    assert_eq!(outcomes(&store, "x-4"), ["created", "failed"]);
});

conformance!(
    evidence_is_stored_once_and_read_by_subject_and_window_in_pages,
    |kind, dir| {
        let mut store = open(kind, dir);
        let ev = |subject: &str, at: i64, n: usize| {
            Evidence::from_json(&json!({
                "subject": subject, "at": at,
                "model": {"name": "m", "version": n.to_string(), "provider": "in-house"},
                "source_id": "serving",
            }))
            .unwrap()
        };
        let first = ev("s-1", T0, 0);
        assert!(st::add_evidence(&mut store, "acme", &first, "serving", T0).unwrap());
        assert!(
            !st::add_evidence(&mut store, "acme", &first, "serving", T0).unwrap(),
            "posted twice, stored once"
        );
        for n in 1..1_100 {
            // Several at one time: the page boundary falls inside a tie.
            st::add_evidence(
                &mut store,
                "acme",
                &ev("s-1", T0 + (n as i64 / 7), n),
                "serving",
                T0,
            )
            .unwrap();
        }
        st::add_evidence(&mut store, "acme", &ev("s-2", T0 + 1, 0), "serving", T0).unwrap();
        st::add_evidence(&mut store, "other", &ev("s-1", T0 + 1, 0), "serving", T0).unwrap();
        let window = Window {
            from: T0,
            to: T0 + 100,
        };
        let got: Vec<Evidence> = st::evidence_for(&store, "acme", "s-1", window)
            .collect::<Result<_, _>>()
            .unwrap();
        let mut want: Vec<(i64, String)> = (0..1_100)
            .map(|n| ev("s-1", T0 + (n as i64 / 7), n))
            .filter(|e| e.at < T0 + 100)
            .map(|e| (e.at, e.id))
            .collect();
        want.sort();
        let keys: Vec<(i64, String)> = got.iter().map(|e| (e.at, e.id.clone())).collect();
        assert_eq!(keys, want);
        assert_eq!(got.len(), 700);
        assert!(got.contains(&first));
    }
);

conformance!(
    two_replicas_completing_and_revoking_at_once_end_revoked_and_scrubbed,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let mut a = st::open(&loc).unwrap();
        let rules = rules();
        for i in 0..8 {
            let id = format!("x-race-{i}");
            let export = export_for(&id, request(Some("FR"), "data_subject", json!({})));
            st::create_export(&mut a, &export).unwrap();
            let (bytes, made) = make(&rules, &export, records());
            let (loc2, id2) = (loc.clone(), id.clone());
            let replica = std::thread::spawn(move || {
                let mut b = st::open(&loc2).unwrap();
                st::revoke(&mut b, "acme", &id2, "dpo@acme", None, T0 + 32 * H).unwrap()
            });
            let completed =
                st::complete_export(&mut a, "acme", &id, bytes, &made.envelope, T0 + 31 * H);
            let revoked = replica.join().unwrap();
            assert_eq!(revoked.state, ExportState::Revoked);
            let (e, art) = st::export_with_bundle(
                &mut a,
                "acme",
                &id,
                &reader(AccessAction::Read),
                T0 + 33 * H,
            )
            .unwrap()
            .unwrap();
            assert_eq!(e.state, ExportState::Revoked);
            assert!(art.is_none(), "no bundle survives a revoke without a hold");
            let want: &[&str] = match completed {
                Ok(_) => &["created", "ready", "revoked"],
                Err(ChangeError::Illegal(_)) => &["created", "revoked"],
                Err(other) => panic!("{other}"),
            };
            assert_eq!(outcomes(&a, &id), want);
        }
    }
);
