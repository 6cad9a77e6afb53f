//! TLS to a PostgreSQL store, set the way libpq sets it: the URL's
//! `sslmode`, `sslrootcert`, `sslcert` and `sslkey` parameters, so a URL
//! copied from a managed database's console works as it is.
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers TLS | only with `sslrootcert` (chain) |
//! | `require` | always | only with `sslrootcert` (chain) |
//! | `verify-ca` | always | chain, against `sslrootcert` or the system's roots |
//! | `verify-full` | always | chain and host name, as `verify-ca` |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! system's roots. `sslcert` and `sslkey` (PEM, both or neither) are a
//! client certificate, for servers whose `pg_hba.conf` asks for one.
//! libpq's `allow` is refused (it prefers plaintext). Unlike libpq,
//! `verify-ca` and `verify-full` without `sslrootcert` use the system's
//! roots rather than `~/.postgresql/root.crt`.
//!
//! Files are read when the store is connected, so an unreadable one is
//! an error of that connection, naming the file.

use crate::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres::config::SslMode;

/// The URL parameters this module reads (tokio-postgres knows only
/// `sslmode` and not all of its values, so they are taken out first).
pub(crate) const PARAMS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// libpq's `sslmode`, all but `allow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode, StoreError> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            "allow" => {
                return Err(StoreError::Location(
                    "sslmode=allow is not supported (it prefers plaintext): use prefer, require, \
                     verify-ca or verify-full, or disable"
                        .into(),
                ))
            }
            other => {
                return Err(StoreError::Location(format!(
                "sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }

    /// How it is spelled in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether TLS may be skipped.
    pub(crate) fn ssl_mode(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// Where the CA certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    System,
}

/// A PostgreSQL store's TLS settings, from its URL.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PgTls {
    pub mode: Mode,
    pub roots: Option<Roots>,
    /// The client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl PgTls {
    /// Takes this module's parameters out of the URL's query: the settings
    /// and the URL left for tokio-postgres.
    pub(crate) fn split(spec: &str) -> Result<(PgTls, String), StoreError> {
        let Some((base, query)) = spec.split_once('?') else {
            return Ok((PgTls::default(), spec.to_string()));
        };
        let mut values: [Option<String>; 4] = Default::default();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match PARAMS.iter().position(|p| *p == key) {
                Some(i) => {
                    let value = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .map_err(|_| {
                            StoreError::Location(format!("the store URL's {key} is not UTF-8"))
                        })?;
                    values[i] = Some(value.into_owned());
                }
                None => rest.push(pair),
            }
        }
        let [mode, root, cert, key] = values;
        let mode = mode
            .as_deref()
            .map(Mode::parse)
            .transpose()?
            .unwrap_or_default();
        let roots = root.map(|r| match r.as_str() {
            "system" => Roots::System,
            _ => Roots::File(PathBuf::from(r)),
        });
        let client =
            match (cert, key) {
                (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
                (None, None) => None,
                (Some(_), None) => return Err(StoreError::Location(
                    "the store URL gives sslcert without sslkey: a client certificate needs both"
                        .into(),
                )),
                (None, Some(_)) => return Err(StoreError::Location(
                    "the store URL gives sslkey without sslcert: a client certificate needs both"
                        .into(),
                )),
            };
        if mode == Mode::Disable && (roots.is_some() || client.is_some()) {
            return Err(StoreError::Location(
                "the store URL says sslmode=disable and also gives certificates: drop one".into(),
            ));
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        Ok((
            PgTls {
                mode,
                roots,
                client,
            },
            url,
        ))
    }

    /// The rustls client configuration these settings ask for.
    pub(crate) fn client_config(&self) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match &self.roots {
            Some(Roots::File(path)) => Some(read_roots(path)?),
            Some(Roots::System) => Some(system_roots()?),
            None if matches!(self.mode, Mode::VerifyCa | Mode::VerifyFull) => Some(system_roots()?),
            None => None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            None => Arc::new(Unchecked(provider.clone())),
            Some(roots) => {
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("cannot use the store's CA certificates: {e}"))?;
                if self.mode == Mode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match &self.client {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = read_certs("client certificate (sslcert)", cert)?;
                let key_der = read_key(key)?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    format!(
                        "the store's client certificate {} and key {} do not go together: {e}",
                        cert.display(),
                        key.display()
                    )
                })
            }
        }
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("cannot read the store's {what} {}: {e}", path.display()))
}

fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the store's {what} {} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the store's {what} {} holds no certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read("client key (sslkey)", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "the store's client key (sslkey) {} holds no usable private key: {e}",
            path.display()
        )
    })
}

fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs("CA certificates (sslrootcert)", path)? {
        roots.add(cert).map_err(|e| {
            format!(
                "a CA certificate in {} (sslrootcert) is not usable: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(
            "the system has no CA certificates to check the store's server against: give \
             sslrootcert=FILE in the store URL"
                .into(),
        );
    }
    Ok(roots)
}

/// `prefer` and `require` without `sslrootcert`: encrypted, the server
/// unchecked (libpq's meaning). The handshake's signatures are still
/// verified, so the key is the certificate's.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn split(spec: &str) -> Result<(PgTls, String), String> {
        PgTls::split(spec).map_err(|e| e.to_string())
    }

    #[test]
    fn the_ssl_parameters_are_taken_out_and_the_rest_kept() {
        let (tls, url) = split(
            "postgres://u@h/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u@h/db?application_name=x&connect_timeout=3"
        );
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.roots, Some(Roots::File(PathBuf::from("/etc/ca.pem"))));
        assert_eq!(tls.client, None);
        let (tls, url) = split("postgres://u@h/db").unwrap();
        assert_eq!((tls, url.as_str()), (PgTls::default(), "postgres://u@h/db"));
        let (tls, url) = split(
            "postgres://u@h/db?sslmode=require&sslrootcert=system&sslcert=c.pem&sslkey=k.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!(tls.mode, Mode::Require);
        assert_eq!(tls.roots, Some(Roots::System));
        assert_eq!(
            tls.client,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
    }

    #[test]
    fn bad_ssl_parameters_are_refused_with_what_to_write() {
        let e = split("postgres://u@h/db?sslmode=verify").unwrap_err();
        assert!(
            e.contains("sslmode `verify` is not one of disable, prefer"),
            "{e}"
        );
        let e = split("postgres://u@h/db?sslmode=allow").unwrap_err();
        assert!(e.contains("sslmode=allow is not supported"), "{e}");
        let e = split("postgres://u@h/db?sslcert=c.pem").unwrap_err();
        assert!(e.contains("sslcert without sslkey"), "{e}");
        let e = split("postgres://u@h/db?sslkey=k.pem").unwrap_err();
        assert!(e.contains("sslkey without sslcert"), "{e}");
        let e = split("postgres://u@h/db?sslmode=disable&sslrootcert=ca.pem").unwrap_err();
        assert!(
            e.contains("sslmode=disable and also gives certificates"),
            "{e}"
        );
    }

    #[test]
    fn unreadable_or_wrong_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let tls = PgTls {
            mode: Mode::VerifyFull,
            roots: Some(Roots::File(missing.clone())),
            client: None,
        };
        let e = tls.client_config().unwrap_err();
        assert!(
            e.contains("cannot read the store's CA certificates (sslrootcert)"),
            "{e}"
        );
        assert!(e.contains(&missing.display().to_string()), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let tls = PgTls {
            mode: Mode::VerifyFull,
            roots: Some(Roots::File(garbage.clone())),
            client: None,
        };
        let e = tls.client_config().unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["db".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, other.serialize_pem()).unwrap();
        let tls = PgTls {
            mode: Mode::Require,
            roots: None,
            client: Some((c.clone(), garbage)),
        };
        let e = tls.client_config().unwrap_err();
        assert!(e.contains("client key (sslkey)"), "{e}");
        let tls = PgTls {
            mode: Mode::Require,
            roots: None,
            client: Some((c, k)),
        };
        let e = tls.client_config().unwrap_err();
        assert!(e.contains("do not go together"), "{e}");
    }
}
