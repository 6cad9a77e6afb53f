//! HTTPS and mutual TLS: rustls for the server, the client certificate a
//! connection presented, and the TLS flags of the CLI clients.
//!
//! In: the `tls` section of the config ([`TlsConfig`]): PEM files of the
//! certificate chain and its key, and optionally a CA bundle that client
//! certificates are verified against, required or merely accepted; for
//! clients, `--ca`, `--cert` and `--key` ([`ClientTls`]).
//! Out: a [`ServerTls`] whose acceptor the connection loop
//! ([`serve`](mod@crate::serve)) puts around each accepted stream; per connection,
//! the verified client certificate's subject alternative names
//! ([`ClientCert`]), which the access gate ([`crate::access`]) maps to an
//! identity by its `client_san`; for clients, a `rustls::ClientConfig`.
//!
//! Every problem with the files is a start-up error naming the file: one
//! that cannot be read, no PEM item of the right kind, a key that does not
//! belong to its certificate, a CA bundle without a usable certificate.
//! rustls with the `ring` provider, TLS 1.2 and 1.3, HTTP/1.1 only (ALPN
//! `http/1.1`). Client certificates are checked by rustls' WebPKI verifier
//! (chain to the bundle, validity dates, key usage); there are no
//! revocation lists.

use crate::config::{ClientAuth, TlsConfig};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use x509_parser::extensions::GeneralName;

/// The only application protocol served.
const ALPN_HTTP1: &[u8] = b"http/1.1";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side of TLS, loaded and checked at start.
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    /// `None`: client certificates are not asked for.
    pub client_auth: Option<ClientAuth>,
}

impl ServerTls {
    /// Reads the certificate chain, the key and the client CA bundle, and
    /// builds the rustls configuration; `Err` is a start-up error.
    pub fn load(c: &TlsConfig) -> Result<ServerTls, String> {
        let chain = read_certs("the TLS certificate", &c.cert)?;
        let key = read_key("the TLS key", &c.key)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS could not be set up: {e}"))?;
        let builder = match &c.client {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let roots = read_roots("the client CA bundle", &client.ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let verifier = match client.auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                let verifier = verifier.build().map_err(|e| {
                    format!(
                        "the client CA bundle `{}` cannot verify client certificates: {e}",
                        client.ca.display()
                    )
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| key_error(e, &c.cert, &c.key))?;
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            client_auth: c.client.as_ref().map(|cc| cc.auth),
        })
    }
}

/// A verified client certificate, as the access gate sees it: put on every
/// request of its connection as an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// Its subject alternative names: DNS names, URIs and emails, each as
    /// [`san_key`] writes it, in certificate order. Other kinds (IP
    /// addresses, directory names) are left out.
    pub sans: Arc<[String]>,
}

impl ClientCert {
    /// The end-entity certificate of a connection whose handshake is done
    /// (rustls has verified it), if the client sent one.
    pub fn of_connection(conn: &rustls::ServerConnection) -> Option<ClientCert> {
        conn.peer_certificates()
            .and_then(|chain| chain.first())
            .map(|der| ClientCert::from_der(der))
    }

    /// The subject alternative names of a DER certificate; none when it
    /// has no SAN extension or does not parse.
    pub fn from_der(der: &[u8]) -> ClientCert {
        let sans = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => match cert.subject_alternative_name() {
                Ok(Some(ext)) => ext
                    .value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(s)
                        | GeneralName::URI(s)
                        | GeneralName::RFC822Name(s) => Some(san_key(s)),
                        _ => None,
                    })
                    .collect(),
                Ok(None) => Vec::new(),
                Err(e) => {
                    tracing::debug!(error = %e, "the client certificate's subject alternative names do not parse");
                    Vec::new()
                }
            },
            Err(e) => {
                tracing::debug!(error = %e, "the client certificate does not parse");
                Vec::new()
            }
        };
        ClientCert { sans: sans.into() }
    }
}

/// A subject alternative name as identities are matched on it: trimmed,
/// and a DNS name (no `:`, no `@`) in lowercase, since DNS names are
/// case-insensitive. URIs and emails are compared as written.
pub fn san_key(san: &str) -> String {
    let san = san.trim();
    if san.contains(':') || san.contains('@') {
        san.to_string()
    } else {
        san.to_ascii_lowercase()
    }
}

/// The TLS flags of a CLI client that talks to `tenet serve`:
/// `#[command(flatten)] tls: ClientTls` in its clap arguments, then
/// [`ClientTls::client_config`].
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// CA certificates (PEM) to verify the server's certificate against
    /// [default: the system's]
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for a server that asks for one
    /// (with --key)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl ClientTls {
    /// A rustls client configuration: the `--ca` bundle (else the system's
    /// CA certificates) as roots, and the client certificate when given.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let roots = match &self.ca {
            Some(ca) => read_roots("the CA bundle", ca)?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS could not be set up: {e}"))?
            .with_root_certificates(roots);
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs("the client certificate", cert)?;
                let key_der = read_key("the client key", key)?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| key_error(e, cert, key))?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err("`--cert` needs `--key`".into()),
            (None, Some(_)) => return Err("`--key` needs `--cert`".into()),
        };
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(config)
    }
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(
            "no CA certificates found on this system (install the `ca-certificates` package), and no `--ca` given".into(),
        );
    }
    Ok(roots)
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} `{}`: {e}", path.display()))
}

fn pem_error(what: &str, path: &Path, e: &pem::Error) -> String {
    format!("{what} `{}` is not valid PEM: {e}", path.display())
}

/// Every certificate of a PEM file, in order; at least one.
pub fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, path, &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} `{}` holds no certificate (a PEM `BEGIN CERTIFICATE` block)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn read_key(what: &str, path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(what, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => format!(
            "{what} `{}` holds no private key (a PEM `BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)",
            path.display()
        ),
        e => pem_error(what, path, &e),
    })
}

/// A CA bundle as trust anchors: at least one usable certificate.
fn read_roots(what: &str, path: &Path) -> Result<RootCertStore, String> {
    let certs = read_certs(what, path)?;
    let mut roots = RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "{what} `{}` holds no usable CA certificate ({ignored} that do not parse)",
            path.display()
        ));
    }
    Ok(roots)
}

fn key_error(e: rustls::Error, cert: &Path, key: &Path) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "the key `{}` does not belong to the certificate `{}` (its public key is another)",
            key.display(),
            cert.display()
        ),
        e => format!(
            "the certificate `{}` and the key `{}` cannot be used: {e}",
            cert.display(),
            key.display()
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::ClientCerts;
    use rcgen::{CertificateParams, KeyPair};

    /// A self-signed certificate for `localhost` and its key, as PEM.
    fn self_signed() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            let dir = tempfile::tempdir().unwrap();
            let (cert, key) = self_signed();
            let (other_cert, other_key) = self_signed();
            for (name, text) in [
                ("cert.pem", cert.as_str()),
                ("key.pem", key.as_str()),
                ("other-cert.pem", other_cert.as_str()),
                ("other-key.pem", other_key.as_str()),
                ("empty.pem", ""),
                ("garbage.pem", "not a certificate\n"),
                ("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"),
            ] {
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            Files { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn load(&self, cert: &str, key: &str, ca: Option<&str>) -> Result<ServerTls, String> {
            ServerTls::load(&TlsConfig {
                cert: self.path(cert),
                key: self.path(key),
                client: ca.map(|ca| ClientCerts {
                    ca: self.path(ca),
                    auth: ClientAuth::Required,
                }),
            })
        }
    }

    fn err(r: Result<ServerTls, String>) -> String {
        match r {
            Ok(_) => panic!("loaded"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_certificate_its_key_and_a_ca_bundle_load() {
        let f = Files::new();
        let tls = f
            .load("cert.pem", "key.pem", Some("other-cert.pem"))
            .unwrap();
        assert_eq!(tls.client_auth, Some(ClientAuth::Required));
        assert!(f
            .load("cert.pem", "key.pem", None)
            .unwrap()
            .client_auth
            .is_none());
    }

    #[test]
    fn a_missing_file_is_named() {
        let f = Files::new();
        let e = err(f.load("nope.pem", "key.pem", None));
        let path = f.path("nope.pem");
        assert!(
            e.starts_with(&format!(
                "cannot read the TLS certificate `{}`: ",
                path.display()
            )),
            "{e}"
        );
        let e = err(f.load("cert.pem", "nope.key", None));
        assert!(e.starts_with("cannot read the TLS key `"), "{e}");
        let e = err(f.load("cert.pem", "key.pem", Some("nope-ca.pem")));
        assert!(e.starts_with("cannot read the client CA bundle `"), "{e}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let f = Files::new();
        let e = err(f.load("cert.pem", "other-key.pem", None));
        assert_eq!(
            e,
            format!(
                "the key `{}` does not belong to the certificate `{}` (its public key is another)",
                f.path("other-key.pem").display(),
                f.path("cert.pem").display()
            )
        );
    }

    #[test]
    fn files_without_pem_of_the_right_kind_are_refused() {
        let f = Files::new();
        let e = err(f.load("garbage.pem", "key.pem", None));
        assert!(
            e.ends_with("garbage.pem` holds no certificate (a PEM `BEGIN CERTIFICATE` block)"),
            "{e}"
        );
        let e = err(f.load("broken.pem", "key.pem", None));
        assert!(e.contains("broken.pem` is not valid PEM: "), "{e}");
        // A certificate where the key should be.
        let e = err(f.load("cert.pem", "cert.pem", None));
        assert!(e.starts_with("the TLS key `"), "{e}");
        assert!(e.contains("holds no private key"), "{e}");
    }

    #[test]
    fn an_empty_ca_bundle_is_refused() {
        let f = Files::new();
        let e = err(f.load("cert.pem", "key.pem", Some("empty.pem")));
        assert!(e.starts_with("the client CA bundle `"), "{e}");
        assert!(
            e.ends_with("empty.pem` holds no certificate (a PEM `BEGIN CERTIFICATE` block)"),
            "{e}"
        );
    }

    #[test]
    fn client_flags_need_each_other_and_matching_files() {
        let f = Files::new();
        let tls = |cert: Option<&str>, key: Option<&str>| ClientTls {
            ca: Some(f.path("cert.pem")),
            cert: cert.map(|c| f.path(c)),
            key: key.map(|k| f.path(k)),
        };
        assert!(tls(None, None).client_config().is_ok());
        assert!(tls(Some("cert.pem"), Some("key.pem"))
            .client_config()
            .is_ok());
        assert_eq!(
            tls(Some("cert.pem"), None).client_config().unwrap_err(),
            "`--cert` needs `--key`"
        );
        let e = tls(Some("cert.pem"), Some("other-key.pem"))
            .client_config()
            .unwrap_err();
        assert!(e.contains("does not belong to the certificate"), "{e}");
        let e = ClientTls {
            ca: Some(f.path("empty.pem")),
            ..ClientTls::default()
        }
        .client_config()
        .unwrap_err();
        assert!(e.starts_with("the CA bundle `"), "{e}");
    }

    #[test]
    fn client_flags_parse_with_clap() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            tls: ClientTls,
        }
        let cli = Cli::try_parse_from(["x", "--ca", "ca.pem", "--cert", "c.pem", "--key", "k.pem"])
            .unwrap();
        assert_eq!(cli.tls.ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(cli.tls.key, Some(PathBuf::from("k.pem")));
        assert!(Cli::try_parse_from(["x", "--cert", "c.pem"]).is_err());
    }

    #[test]
    fn sans_are_read_and_dns_names_lowercased() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["CI-Bot.Example".into()]).unwrap();
        params.subject_alt_names.extend([
            rcgen::SanType::URI("spiffe://acme/CI".try_into().unwrap()),
            rcgen::SanType::Rfc822Name("ops@acme.example".try_into().unwrap()),
            rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()),
        ]);
        let cert = params.self_signed(&key).unwrap();
        let c = ClientCert::from_der(cert.der());
        assert_eq!(
            &*c.sans,
            ["ci-bot.example", "spiffe://acme/CI", "ops@acme.example"]
        );
        assert_eq!(san_key(" Host.Example "), "host.example");
        assert!(ClientCert::from_der(b"junk").sans.is_empty());
    }
}
