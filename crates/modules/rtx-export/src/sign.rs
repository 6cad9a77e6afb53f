//! Signing: an in-toto Statement v1 about the bundle, in a DSSE envelope,
//! signed with ed25519.
//!
//! - The statement's `subject` is the bundle (`name` `rtx-export/<id>`,
//!   `digest.sha256` the payload digest); its `predicate` is small: the
//!   export's id, subject, jurisdiction, snapshot time, schema, the
//!   redaction manifest's digest and size, and where to ask for the
//!   export's revocation status.
//! - DSSE signs the statement's bytes as they are (PAE: `DSSEv1 SP
//!   len(type) SP type SP len(body) SP body`), so verification does not
//!   depend on canonicalisation; the statement is canonical JSON only so
//!   that the same export gives the same envelope.
//! - Keys come from the configuration as text: a PKCS#8 PEM private key
//!   (`openssl genpkey -algorithm ed25519`), or the raw 32-byte seed in 64
//!   hex digits. A public key is an SPKI PEM (`openssl pkey -pubout`) or 64
//!   hex digits. Key material is never printed: [`Signer`]'s `Debug` shows
//!   the key id only, and no error quotes the configured text.

use crate::canonical;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// DSSE's payload type for an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of an rtx bundle.
pub const PREDICATE_TYPE: &str = "https://tenet.invalid/attestations/rtx-export/v1";
/// DSSE's payload type for a signed revocation status.
pub const STATUS_PAYLOAD_TYPE: &str = "application/vnd.tenet.rtx-status+json";
/// A signed revocation status's `_type`.
pub const STATUS_TYPE: &str = "https://tenet.invalid/rtx-export/status/v1";

/// An export's revocation status as the server signed it when it was read
/// (`signed_status` in `GET /v1/exports/{id}`): what `tenet rtx verify
/// --status` trusts, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusStatement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub status: crate::model::RevocationStatus,
    /// When it was signed (RFC 3339): the status holds as of then.
    pub at: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The statement's bytes, base64 (standard alphabet, padded).
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    #[serde(default)]
    pub keyid: String,
    /// The ed25519 signature of PAE(payloadType, payload), base64.
    pub sig: String,
}

/// An in-toto Statement v1 about one bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Predicate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

/// The rtx predicate: small, so the statement can travel without the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    pub export: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    pub snapshot_at: String,
    pub schema: String,
    pub size: u64,
    pub manifest: Manifest,
    pub revocation: Revocation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub sha256: String,
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    /// Where the export's status is read (`GET`): a path on the server that
    /// made it, or a full URL when the server knows its own.
    pub status: String,
}

impl Statement {
    /// The subject's sha256, if it names one.
    pub fn bundle_sha256(&self) -> Option<&str> {
        self.subject
            .first()
            .and_then(|s| s.digest.get("sha256"))
            .map(String::as_str)
    }
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Why a key could not be read. Never quotes the configured text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the rtx signing key is neither a PKCS#8 PEM ed25519 private key (`-----BEGIN PRIVATE KEY-----`) nor a 32-byte seed in 64 hex digits")]
    Private,
    #[error("the rtx public key is neither an SPKI PEM ed25519 public key (`-----BEGIN PUBLIC KEY-----`) nor 32 bytes in 64 hex digits")]
    Public,
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 {
        return None;
    }
    hex::decode(t).ok()?.try_into().ok()
}

fn keyid_of(key: &VerifyingKey) -> String {
    format!("sha256:{}", canonical::sha256_hex(key.as_bytes()))
}

/// The key that signs bundles.
pub struct Signer {
    key: SigningKey,
    keyid: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("keyid", &self.keyid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// Reads a signing key from its configuration text (see the header).
    pub fn from_config(text: &str) -> Result<Signer, KeyError> {
        let t = text.trim();
        let key = if t.starts_with("-----BEGIN") {
            SigningKey::from_pkcs8_pem(t).map_err(|_| KeyError::Private)?
        } else {
            SigningKey::from_bytes(&hex32(t).ok_or(KeyError::Private)?)
        };
        Ok(Signer::from_key(key))
    }

    /// A signer from a raw seed (tests, key generation).
    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        Signer::from_key(SigningKey::from_bytes(seed))
    }

    fn from_key(key: SigningKey) -> Signer {
        let keyid = keyid_of(&key.verifying_key());
        Signer { key, keyid }
    }

    /// `sha256:` and the sha256 of the raw public key.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
            keyid: self.keyid.clone(),
        }
    }

    /// The secret the commitment salts derive from (see [`crate::mask`]):
    /// HMAC-SHA256 of the seed, so one configured key gives both.
    pub fn commitment_secret(&self) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(self.key.as_bytes()) else {
            return [0; 32];
        };
        mac.update(b"tenet.rtx/v1/commitment-secret");
        mac.finalize().into_bytes().into()
    }

    /// Signs `payload` (of `payload_type`) into a DSSE envelope.
    pub fn envelope(&self, payload_type: &str, payload: &[u8]) -> Envelope {
        let sig = self.key.sign(&pae(payload_type, payload));
        Envelope {
            payload_type: payload_type.to_string(),
            payload: B64.encode(payload),
            signatures: vec![Signature {
                keyid: self.keyid.clone(),
                sig: B64.encode(sig.to_bytes()),
            }],
        }
    }

    /// Signs a statement (its canonical bytes).
    pub fn sign(&self, statement: &Statement) -> Envelope {
        let body = canonical::to_vec(statement).unwrap_or_default();
        self.envelope(PAYLOAD_TYPE, &body)
    }

    /// Signs an export's revocation status as of `at_ms`.
    pub fn sign_status(&self, status: &crate::model::RevocationStatus, at_ms: i64) -> Envelope {
        let st = StatusStatement {
            statement_type: STATUS_TYPE.into(),
            status: status.clone(),
            at: tenet_runtime::clock::Timestamp::from_millis(at_ms).rfc3339(),
        };
        let body = canonical::to_vec(&st).unwrap_or_default();
        self.envelope(STATUS_PAYLOAD_TYPE, &body)
    }
}

/// A key that verifies bundles.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    keyid: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("keyid", &self.keyid)
            .finish()
    }
}

impl PublicKey {
    /// Reads a public key (see the header).
    pub fn from_config(text: &str) -> Result<PublicKey, KeyError> {
        let t = text.trim();
        let key = if t.starts_with("-----BEGIN") {
            VerifyingKey::from_public_key_pem(t).map_err(|_| KeyError::Public)?
        } else {
            VerifyingKey::from_bytes(&hex32(t).ok_or(KeyError::Public)?)
                .map_err(|_| KeyError::Public)?
        };
        Ok(PublicKey {
            keyid: keyid_of(&key),
            key,
        })
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The key as an SPKI PEM (what `--key` reads).
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// Whether `sig` (raw bytes) signs `message`.
    pub(crate) fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dssev1() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn keys_read_from_pem_and_hex_and_debug_hides_them() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let seed = [7u8; 32];
        let pem = SigningKey::from_bytes(&seed)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        let a = Signer::from_config(&pem).unwrap();
        let b = Signer::from_config(&hex::encode(seed)).unwrap();
        assert_eq!(a.keyid(), b.keyid());
        let debug = format!("{a:?}");
        assert!(!debug.contains(&hex::encode(seed)), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        let public = a.public_key();
        assert_eq!(PublicKey::from_config(&public.to_pem()).unwrap(), public);
        assert_eq!(PublicKey::from_config(&public.to_hex()).unwrap(), public);
        let err = Signer::from_config("not a key 0123")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("0123"), "{err}");
        assert!(
            PublicKey::from_config(&pem).is_err(),
            "a private key is not a public key"
        );
    }
}
