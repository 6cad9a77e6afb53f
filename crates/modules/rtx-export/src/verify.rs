//! Verification, online or offline (`tenet rtx verify BUNDLE [--key PUB]
//! [--status FILE]`), and the one file that carries a signed bundle.
//!
//! **The `.rtx` file** is two lines of JSON (a JSON Lines file):
//!
//! ```text
//! {"payloadType":"application/vnd.in-toto+json","payload":"...","signatures":[...]}\n
//! {"export":{...},"records":[...],...,"window":{...}}\n
//! ```
//!
//! Line 1 is the DSSE envelope; line 2 is the bundle, byte for byte as
//! signed (canonical JSON never holds a raw newline), and the final `\n` is
//! not part of it. A reader streams line 2 through sha256 without parsing
//! it, so verifying a 100,000-decision bundle takes constant memory, and
//! `tail -n 1 x.rtx | jq` shows the bundle.
//!
//! **Revocation offline**: the status JSON of `GET /v1/exports/{id}` saved
//! to a file carries the [`RevocationStatus`] signed by the server's key
//! as of the read ([`signed_status`]: a DSSE envelope of a
//! [`StatusStatement`]); a bundle whose export is revoked fails
//! verification (and says whether a legal hold retains it). An unsigned
//! status is refused. Without a status the result says that revocation
//! was not checked.
//!
//! Checks, in order, each failing with its own [`VerifyError`]: the
//! envelope's shape and payload type; a signature by the given key over
//! PAE; the statement's type, predicate type and schema; the bundle's
//! sha256 and size against the statement; the revocation status (for this
//! export and this digest).

use crate::model::{ExportState, RevocationStatus, SCHEMA};
use crate::sign::{
    pae, Envelope, PublicKey, Statement, StatusStatement, PAYLOAD_TYPE, PREDICATE_TYPE,
    STATEMENT_TYPE, STATUS_PAYLOAD_TYPE, STATUS_TYPE,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, Read, Write};

/// The longest envelope line read (the statement is small).
pub const MAX_ENVELOPE_BYTES: u64 = 1 << 20;

/// What a verified bundle is.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub statement: Statement,
    pub keyid: String,
    pub sha256: String,
    pub size: u64,
    pub revocation: RevocationCheck,
}

/// What the revocation check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationCheck {
    /// No status was given: the signature and digest hold, revocation is unknown.
    NotChecked,
    /// The status says the export stands (`ready`).
    Live,
}

/// Why a bundle does not verify: each names what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the file is not an rtx bundle: {0}")]
    File(String),
    #[error("the envelope is malformed: {0}")]
    Envelope(String),
    #[error("the envelope's payload type `{0}` is not the one expected")]
    PayloadType(String),
    #[error("the envelope is not signed by key `{expected}` (it is signed by {found})")]
    WrongKey { expected: String, found: String },
    #[error("the signature by key `{0}` does not verify: the envelope was changed or signed by another key")]
    BadSignature(String),
    #[error("the signed statement is not an rtx statement: {0}")]
    Statement(String),
    #[error("the bundle's sha256 is {found}, but the signed statement says {expected}: the bundle was changed")]
    Digest { expected: String, found: String },
    #[error("the bundle is {found} bytes, but the signed statement says {expected}: the bundle was changed")]
    Size { expected: u64, found: u64 },
    #[error("export `{id}` was revoked{at}{retained}")]
    Revoked {
        id: String,
        at: String,
        retained: String,
    },
    #[error("the revocation status does not match the bundle: {0}")]
    Status(String),
}

impl From<io::Error> for VerifyError {
    fn from(e: io::Error) -> Self {
        VerifyError::File(e.to_string())
    }
}

/// Checks the envelope and returns the signed statement and the key id.
pub fn check_envelope(
    envelope: &Envelope,
    key: &PublicKey,
) -> Result<(Statement, String), VerifyError> {
    let (body, keyid) = check_signature(envelope, key, PAYLOAD_TYPE)?;
    Ok((statement(&body)?, keyid))
}

/// Reads the revocation status an export's status JSON (`GET
/// /v1/exports/{id}`, saved to a file) carries signed: the signature must
/// be `key`'s, and only what it signs is trusted — the JSON's other fields
/// are for people. A status without a signature is refused: it could say
/// anything.
pub fn signed_status(
    status_json: &serde_json::Value,
    key: &PublicKey,
) -> Result<StatusStatement, VerifyError> {
    let Some(env) = status_json.get("signed_status") else {
        return Err(VerifyError::Status(
            "it carries no `signed_status`, so nothing vouches for it (save what `GET /v1/exports/{id}` answers, as `tenet rtx status ID` prints it)".into(),
        ));
    };
    let env: Envelope = serde_json::from_value(env.clone())
        .map_err(|e| VerifyError::Status(format!("its `signed_status` is not an envelope: {e}")))?;
    let (body, _) = check_signature(&env, key, STATUS_PAYLOAD_TYPE)?;
    let st: StatusStatement = serde_json::from_slice(&body)
        .map_err(|e| VerifyError::Status(format!("the signed status does not parse: {e}")))?;
    if st.statement_type != STATUS_TYPE {
        return Err(VerifyError::Status(format!(
            "the signed status's `_type` is `{}`",
            st.statement_type
        )));
    }
    Ok(st)
}

/// Checks that `key` signed the envelope (of `payload_type`); the signed
/// bytes and the key id.
fn check_signature(
    envelope: &Envelope,
    key: &PublicKey,
    payload_type: &str,
) -> Result<(Vec<u8>, String), VerifyError> {
    if envelope.payload_type != payload_type {
        return Err(VerifyError::PayloadType(envelope.payload_type.clone()));
    }
    let body = B64
        .decode(&envelope.payload)
        .map_err(|e| VerifyError::Envelope(format!("the payload is not base64 ({e})")))?;
    if envelope.signatures.is_empty() {
        return Err(VerifyError::Envelope("it has no signature".into()));
    }
    let message = pae(&envelope.payload_type, &body);
    let mut ours = false;
    for s in &envelope.signatures {
        ours |= s.keyid == key.keyid();
        let Ok(sig) = B64.decode(&s.sig) else {
            if s.keyid == key.keyid() {
                return Err(VerifyError::Envelope(format!(
                    "the signature by key `{}` is not base64",
                    s.keyid
                )));
            }
            continue;
        };
        if key.verifies(&message, &sig) {
            // The key id is not signed: one that names another key is a
            // changed envelope, not a hint to ignore.
            if !s.keyid.is_empty() && s.keyid != key.keyid() {
                return Err(VerifyError::Envelope(format!(
                    "the signature names key `{}`, but key `{}` made it",
                    s.keyid,
                    key.keyid()
                )));
            }
            return Ok((body, key.keyid().to_string()));
        }
    }
    if ours {
        return Err(VerifyError::BadSignature(key.keyid().to_string()));
    }
    let found: Vec<String> = envelope
        .signatures
        .iter()
        .map(|s| format!("`{}`", s.keyid))
        .collect();
    Err(VerifyError::WrongKey {
        expected: key.keyid().to_string(),
        found: found.join(", "),
    })
}

fn statement(body: &[u8]) -> Result<Statement, VerifyError> {
    let st: Statement =
        serde_json::from_slice(body).map_err(|e| VerifyError::Statement(e.to_string()))?;
    if st.statement_type != STATEMENT_TYPE {
        return Err(VerifyError::Statement(format!(
            "its `_type` is `{}`",
            st.statement_type
        )));
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(VerifyError::Statement(format!(
            "its `predicateType` is `{}`",
            st.predicate_type
        )));
    }
    if st.predicate.schema != SCHEMA {
        return Err(VerifyError::Statement(format!(
            "its schema is `{}`; this tenet reads `{SCHEMA}`",
            st.predicate.schema
        )));
    }
    if st.bundle_sha256().is_none() {
        return Err(VerifyError::Statement(
            "its subject has no sha256 digest".into(),
        ));
    }
    Ok(st)
}

fn finish(
    statement: Statement,
    keyid: String,
    sha256: String,
    size: u64,
    status: Option<&RevocationStatus>,
) -> Result<Verified, VerifyError> {
    let expected = statement.bundle_sha256().unwrap_or_default().to_string();
    if expected != sha256 {
        return Err(VerifyError::Digest {
            expected,
            found: sha256,
        });
    }
    if statement.predicate.size != size {
        return Err(VerifyError::Size {
            expected: statement.predicate.size,
            found: size,
        });
    }
    let revocation = match status {
        None => RevocationCheck::NotChecked,
        Some(s) => check_status(&statement, &sha256, s)?,
    };
    Ok(Verified {
        statement,
        keyid,
        sha256,
        size,
        revocation,
    })
}

fn check_status(
    st: &Statement,
    sha256: &str,
    s: &RevocationStatus,
) -> Result<RevocationCheck, VerifyError> {
    if s.id != st.predicate.export {
        return Err(VerifyError::Status(format!(
            "it is about export `{}`, the bundle about `{}`",
            s.id, st.predicate.export
        )));
    }
    if let Some(d) = s.sha256.as_deref().filter(|d| *d != sha256) {
        return Err(VerifyError::Status(format!(
            "it records the bundle's sha256 as {d}, the bundle's is {sha256}"
        )));
    }
    match s.state {
        ExportState::Revoked => Err(VerifyError::Revoked {
            id: s.id.clone(),
            at: s
                .revoked_at
                .map(|ms| {
                    format!(
                        " at {}",
                        tenet_runtime::clock::Timestamp::from_millis(ms).rfc3339()
                    )
                })
                .unwrap_or_default(),
            retained: if s.retained {
                "; its bundle is retained under a legal hold, not valid".into()
            } else {
                String::new()
            },
        }),
        ExportState::Ready => Ok(RevocationCheck::Live),
        other => Err(VerifyError::Status(format!(
            "the export is {other}, so no bundle of it is valid"
        ))),
    }
}

/// Verifies a bundle held in memory against its envelope.
pub fn verify(
    bundle: &[u8],
    envelope: &Envelope,
    key: &PublicKey,
    status: Option<&RevocationStatus>,
) -> Result<Verified, VerifyError> {
    let (statement, keyid) = check_envelope(envelope, key)?;
    let sha256 = hex::encode(Sha256::digest(bundle));
    finish(statement, keyid, sha256, bundle.len() as u64, status)
}

/// Writes the `.rtx` file: the envelope line, then the bundle read from
/// `bundle` (streamed).
pub fn write_file<W: Write, R: Read>(
    mut out: W,
    envelope: &Envelope,
    mut bundle: R,
) -> io::Result<W> {
    let line = crate::canonical::to_vec(envelope).map_err(io::Error::other)?;
    out.write_all(&line)?;
    out.write_all(b"\n")?;
    io::copy(&mut bundle, &mut out)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(out)
}

/// Reads the envelope line of an `.rtx` file.
pub fn read_envelope<R: BufRead>(r: &mut R) -> Result<Envelope, VerifyError> {
    let mut line = Vec::new();
    r.by_ref()
        .take(MAX_ENVELOPE_BYTES)
        .read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(VerifyError::File(
            "its first line (the envelope) does not end, or is longer than 1 MiB".into(),
        ));
    }
    serde_json::from_slice(&line).map_err(|e| VerifyError::Envelope(e.to_string()))
}

/// Verifies an `.rtx` file, streaming the bundle: constant memory.
pub fn verify_file<R: BufRead>(
    mut r: R,
    key: &PublicKey,
    status: Option<&RevocationStatus>,
) -> Result<Verified, VerifyError> {
    let envelope = read_envelope(&mut r)?;
    let (statement, keyid) = check_envelope(&envelope, key)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut ended = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        if ended {
            return Err(VerifyError::File(
                "it has more after the bundle's line".into(),
            ));
        }
        let body = match buf.iter().position(|b| *b == b'\n') {
            Some(i) if i + 1 == n => {
                ended = true;
                &buf[..i]
            }
            Some(_) => {
                return Err(VerifyError::File(
                    "it has more after the bundle's line".into(),
                ))
            }
            None => buf,
        };
        hasher.update(body);
        size += body.len() as u64;
        r.consume(n);
    }
    if !ended {
        return Err(VerifyError::File(
            "the bundle's line does not end with a newline".into(),
        ));
    }
    finish(
        statement,
        keyid,
        hex::encode(hasher.finalize()),
        size,
        status,
    )
}
