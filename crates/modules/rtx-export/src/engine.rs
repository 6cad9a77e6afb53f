//! The rtx-export engine: pure functions from (the export, its records,
//! the pack, the signing key) to (the bundle's bytes, its digest, the
//! signed statement) and the audit events of an export's changes. No I/O
//! but the `Write` it is given, and no clock reads: the snapshot time is
//! the export's, and `now` is an argument. The same export made twice
//! gives the same bytes.
//!
//! [`make`] is the one way a bundle is made (the server's `POST
//! /v1/exports` worker and any offline command call it): it derives the
//! export's commitment salt from the key and the export id, masks every
//! record by the pack ([`crate::mask`]), streams the bundle
//! ([`crate::bundle`]) and signs a statement about it ([`crate::sign`]).

use crate::bundle::{self, BundleError, Head, Written};
use crate::mask::{ExportSalt, Masker};
use crate::model::{Export, Record, SCHEMA};
use crate::sign::{self, Envelope, Signer, Statement};
use std::collections::BTreeMap;
use std::io::Write;
use tenet_runtime::clock::Timestamp;
use tenet_runtime::pack::PackHandle;
use tenet_store::AuditEvent;

/// A bundle made: what was written, the statement and its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub written: Written,
    pub statement: Statement,
    pub envelope: Envelope,
}

/// Where a verifier asks for an export's status: `GET /v1/exports/{id}`
/// on `base` (the server's URL, when it knows it) or as a path.
pub fn status_location(base: Option<&str>, export_id: &str) -> String {
    format!(
        "{}/v1/exports/{export_id}",
        base.unwrap_or("").trim_end_matches('/')
    )
}

/// Makes `export`'s bundle from `records` (sorted by [`Record::key`]; see
/// [`merge`]) into `out`, masked by `pack` and signed by `signer`.
/// `status_base` is the server's URL for the statement's revocation
/// pointer (`None`: a path). On error, what was written to `out` is not a
/// bundle and must be discarded.
pub fn make<W: Write, I: IntoIterator<Item = Record>>(
    out: W,
    pack: PackHandle<'_>,
    signer: &Signer,
    export: &Export,
    records: I,
    status_base: Option<&str>,
) -> Result<(W, Made), BundleError> {
    let req = &export.request;
    let salt = ExportSalt::derive(&signer.commitment_secret(), &export.id);
    let mut masker = Masker::new(
        pack,
        req.subject_root(),
        req.request_root(),
        export.snapshot_at,
        salt,
    );
    let head = Head {
        export_id: &export.id,
        request: req,
        snapshot_at: export.snapshot_at,
    };
    let (out, written) = bundle::write(out, &head, &mut masker, records)?;
    let statement = statement(export, &written, status_base);
    let envelope = signer.sign(&statement);
    Ok((
        out,
        Made {
            written,
            statement,
            envelope,
        },
    ))
}

/// The in-toto statement about `export`'s bundle.
pub fn statement(export: &Export, written: &Written, status_base: Option<&str>) -> Statement {
    Statement {
        statement_type: sign::STATEMENT_TYPE.into(),
        subject: vec![sign::Subject {
            name: format!("rtx-export/{}", export.id),
            digest: BTreeMap::from([("sha256".to_string(), written.sha256.clone())]),
        }],
        predicate_type: sign::PREDICATE_TYPE.into(),
        predicate: sign::Predicate {
            export: export.id.clone(),
            subject: export.request.subject.clone(),
            jurisdiction: export.request.jurisdiction.clone(),
            snapshot_at: Timestamp::from_millis(export.snapshot_at).rfc3339(),
            schema: SCHEMA.into(),
            size: written.size,
            manifest: sign::Manifest {
                sha256: written.manifest_sha256.clone(),
                entries: written.manifest_entries,
            },
            revocation: sign::Revocation {
                status: status_location(status_base, &export.id),
            },
        },
    }
}

/// Sorts records in memory into the bundle's order.
pub fn sort(records: &mut [Record]) {
    records.sort_by(|a, b| a.key().cmp(&b.key()));
}

/// Merges sources that are each sorted by [`Record::key`] (the audit log's
/// decisions, the scores, the approvals, the evidence, the access log)
/// into one sorted stream, holding one record per source.
pub fn merge(
    sources: Vec<Box<dyn Iterator<Item = Record> + '_>>,
) -> impl Iterator<Item = Record> + '_ {
    let mut heads: Vec<(Option<Record>, Box<dyn Iterator<Item = Record> + '_>)> =
        sources.into_iter().map(|mut it| (it.next(), it)).collect();
    std::iter::from_fn(move || {
        let i = heads
            .iter()
            .enumerate()
            .filter_map(|(i, (h, _))| h.as_ref().map(|r| (r.at(), r.id().to_string(), i)))
            .min()?
            .2;
        let (head, it) = heads.get_mut(i)?;
        std::mem::replace(head, it.next())
    })
}

/// The audit event of a change to `export` (its version names it, so each
/// change has its own action id). `outcome`: `created`, `ready`, `failed`,
/// `revoked`, `retained`, `hold_set`, `hold_released`, `scrubbed`.
pub fn audit_event(
    export: &Export,
    outcome: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!(
            "{}:{}:{}:v{}",
            crate::MODULE,
            export.tenant,
            export.id,
            export.version
        ),
        at: Timestamp::from_millis(now).rfc3339(),
        source: crate::MODULE.into(),
        subject: export.id.clone(),
        actor: actor.into(),
        scope: format!("rtx-export/{}", export.request.subject),
        outcome: outcome.into(),
        reason: reason.map(str::to_string),
        latency_ms: 0,
        details: serde_json::json!({
            "state": export.state,
            "artifact": export.artifact,
            "legal_hold": export.legal_hold,
            "sha256": export.sha256,
            "status": export.status_sentence(),
        }),
        tenant: Some(export.tenant.clone()),
        bundle: None,
    }
}
