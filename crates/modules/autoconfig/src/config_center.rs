//! Where tenants' live configuration is read from and written to: the
//! config-center adapter. One interface, [`ConfigCenter`]; the local
//! implementation, [`Directory`], keeps one JSON document per tenant in a
//! folder and writes it atomically (a temporary file in the same folder,
//! synced, then renamed over the old one), so a reader never sees half a
//! document and a crash leaves the old one or the new one.
//!
//! Each read gives the document's version (the SHA-256 of its bytes); a
//! write names the version it replaces and is refused when the document
//! changed meanwhile. The caller also holds the tenant's row lock in the
//! store while it reads, decides and writes, so replicas take turns.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A document and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub document: Value,
    /// `None`: the tenant has no document yet.
    pub version: Option<String>,
}

/// Why a read or write failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CenterError {
    /// The document changed since it was read: nothing was written.
    Conflict(String),
    /// The tenant id cannot name a document.
    BadTenant(String),
    Io(String),
}

impl std::fmt::Display for CenterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CenterError::Conflict(w) | CenterError::BadTenant(w) | CenterError::Io(w) => {
                f.write_str(w)
            }
        }
    }
}

/// A config center: per-tenant documents, read and written whole.
pub trait ConfigCenter: Send + Sync {
    /// The tenant's document (an empty map when it has none).
    fn read(&self, tenant: &str) -> Result<Versioned, CenterError>;
    /// Replaces the tenant's document if it is still at `expected`;
    /// returns the new version.
    fn write(
        &self,
        tenant: &str,
        expected: Option<&str>,
        document: &Value,
    ) -> Result<String, CenterError>;
}

/// One JSON document per tenant in a folder: `<dir>/<tenant>.json`.
#[derive(Debug, Clone)]
pub struct Directory {
    pub dir: PathBuf,
}

fn version_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Directory {
    pub fn new(dir: impl Into<PathBuf>) -> Directory {
        Directory { dir: dir.into() }
    }

    fn path(&self, tenant: &str) -> Result<PathBuf, CenterError> {
        let ok = !tenant.is_empty()
            && tenant.len() <= 128
            && !tenant.bytes().all(|b| b == b'.')
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return Err(CenterError::BadTenant(format!(
                "`{tenant}` is not a tenant id (1 to 128 letters, digits, `_`, `.`, `-`)"
            )));
        }
        Ok(self.dir.join(format!("{tenant}.json")))
    }
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, CenterError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CenterError::Io(format!("{}: {e}", path.display()))),
    }
}

impl ConfigCenter for Directory {
    fn read(&self, tenant: &str) -> Result<Versioned, CenterError> {
        let path = self.path(tenant)?;
        match read_file(&path)? {
            None => Ok(Versioned {
                document: Value::Object(serde_json::Map::new()),
                version: None,
            }),
            Some(bytes) => {
                let document: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| CenterError::Io(format!("{}: not JSON: {e}", path.display())))?;
                if !document.is_object() {
                    return Err(CenterError::Io(format!(
                        "{}: expected a map of settings",
                        path.display()
                    )));
                }
                Ok(Versioned {
                    document,
                    version: Some(version_of(&bytes)),
                })
            }
        }
    }

    fn write(
        &self,
        tenant: &str,
        expected: Option<&str>,
        document: &Value,
    ) -> Result<String, CenterError> {
        let path = self.path(tenant)?;
        let current = read_file(&path)?.map(|b| version_of(&b));
        if current.as_deref() != expected {
            return Err(CenterError::Conflict(format!(
                "the configuration of `{tenant}` changed since it was read: nothing was written"
            )));
        }
        let mut bytes =
            serde_json::to_vec_pretty(document).map_err(|e| CenterError::Io(e.to_string()))?;
        bytes.push(b'\n');
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| CenterError::Io(format!("{}: {e}", self.dir.display())))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|e| CenterError::Io(format!("{}: {e}", self.dir.display())))?;
        tmp.write_all(&bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| CenterError::Io(format!("{}: {e}", path.display())))?;
        tmp.persist(&path)
            .map_err(|e| CenterError::Io(format!("{}: {e}", path.display())))?;
        Ok(version_of(&bytes))
    }
}
