//! Where tenants' live configuration is read from and written to: the
//! config-center adapter. One interface, [`ConfigCenter`], and two
//! implementations: [`Directory`] keeps one JSON document per tenant in a
//! folder and writes it atomically (a temporary file in the same folder,
//! synced, then renamed over the old one), so a reader never sees half a
//! document and a crash leaves the old one or the new one; [`Http`] reads
//! and writes them whole over HTTP JSON with conditional requests
//! (`ETag`, `If-Match`).
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

/// A config center over HTTP JSON: `GET {base}/{tenant}` answers the
/// tenant's document (a JSON object) with its version in `ETag` (404: no
/// document yet); `PUT {base}/{tenant}` replaces it whole, conditional on
/// `If-Match: <version>` (or `If-None-Match: *` for a first document), and
/// answers the new `ETag`; `412 Precondition Failed` means it changed
/// meanwhile. Every call has a timeout; anything else is an error and
/// nothing is assumed written. Without an `ETag`, the version is the
/// SHA-256 of the body.
#[derive(Debug, Clone)]
pub struct Http {
    pub base: String,
    pub timeout: std::time::Duration,
}

impl Http {
    pub fn new(base: impl Into<String>, timeout: std::time::Duration) -> Http {
        Http {
            base: base.into().trim_end_matches('/').to_string(),
            timeout,
        }
    }

    fn url(&self, tenant: &str) -> Result<String, CenterError> {
        // The same ids as the directory's, so a URL segment needs no escaping.
        Directory::new("").path(tenant)?;
        Ok(format!("{}/{tenant}", self.base))
    }

    /// Runs one exchange on a thread of its own (callers may be inside the
    /// store's async runtime, where a nested runtime cannot block).
    fn call(
        &self,
        method: http::Method,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Option<Value>,
    ) -> Result<tenet_notify::fetch::Answer, CenterError> {
        let timeout = self.timeout;
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| CenterError::Io(e.to_string()))?;
                rt.block_on(tenet_notify::fetch::exchange(
                    method,
                    &url,
                    &headers,
                    body.as_ref(),
                    timeout,
                ))
                .map_err(CenterError::Io)
            })
            .join()
            .unwrap_or_else(|_| Err(CenterError::Io("the config center call panicked".into())))
        })
    }
}

impl ConfigCenter for Http {
    fn read(&self, tenant: &str) -> Result<Versioned, CenterError> {
        let url = self.url(tenant)?;
        let a = self.call(http::Method::GET, url.clone(), Vec::new(), None)?;
        let target = tenet_notify::config::redact_url(&url);
        match a.status {
            404 => Ok(Versioned {
                document: Value::Object(serde_json::Map::new()),
                version: None,
            }),
            200 => {
                let document: Value = serde_json::from_slice(&a.body)
                    .map_err(|e| CenterError::Io(format!("{target}: not JSON: {e}")))?;
                if !document.is_object() {
                    return Err(CenterError::Io(format!(
                        "{target}: expected a map of settings"
                    )));
                }
                Ok(Versioned {
                    document,
                    version: Some(a.etag.unwrap_or_else(|| version_of(&a.body))),
                })
            }
            s => Err(CenterError::Io(format!("{target}: answered {s} to a read"))),
        }
    }

    fn write(
        &self,
        tenant: &str,
        expected: Option<&str>,
        document: &Value,
    ) -> Result<String, CenterError> {
        let url = self.url(tenant)?;
        let target = tenet_notify::config::redact_url(&url);
        let condition = match expected {
            Some(v) => ("If-Match", v.to_string()),
            None => ("If-None-Match", "*".to_string()),
        };
        let a = self.call(
            http::Method::PUT,
            url,
            vec![condition],
            Some(document.clone()),
        )?;
        match a.status {
            200 | 201 | 204 => Ok(a
                .etag
                .unwrap_or_else(|| version_of(&serde_json::to_vec(document).unwrap_or_default()))),
            412 => Err(CenterError::Conflict(format!(
                "the configuration of `{tenant}` changed since it was read: nothing was written"
            ))),
            s => Err(CenterError::Io(format!(
                "{target}: answered {s} to a write"
            ))),
        }
    }
}
