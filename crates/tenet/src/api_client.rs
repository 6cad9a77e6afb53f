//! A small client of `tenet serve`'s `/v1` API for the operator commands
//! (`tenet safety ...`): `--server URL` (env `TENET_SERVER`), the bearer
//! token from `TENET_TOKEN`, TLS with `--ca`, `--cert`, `--key`. HTTP/1.1
//! on hyper with rustls, one request at a time, 30 s per request.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;
use tenet_server::tls::ClientTls;

/// The environment variable with the server's URL.
pub const SERVER_ENV: &str = "TENET_SERVER";
/// The environment variable with the bearer token.
pub const TOKEN_ENV: &str = "TENET_TOKEN";
/// Where a server listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// How a client reaches the server: `#[command(flatten)]` in a command.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server's URL [env: TENET_SERVER; default: http://127.0.0.1:8080]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub tls: ClientTls,
}

type Client =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An answer: the status and the JSON body (`null` when empty).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

pub struct Api {
    base: String,
    token: Option<String>,
    client: Client,
    rt: tokio::runtime::Runtime,
}

impl Api {
    /// Sets up the client; an error (a bad URL, unreadable TLS files) is a
    /// usage error.
    pub fn new(args: &ServerArgs) -> Result<Api, String> {
        let base = args
            .server
            .clone()
            .or_else(|| {
                std::env::var(SERVER_ENV)
                    .ok()
                    .filter(|s| !s.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_SERVER.into());
        let base = base.trim_end_matches('/').to_string();
        let uri: http::Uri = base
            .parse()
            .map_err(|e| format!("`{base}` is not a server URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("`{base}` is not an http:// or https:// URL")),
        };
        let tls = if https {
            args.tls.client_config()?
        } else {
            if args.tls.ca.is_some() || args.tls.cert.is_some() {
                return Err(format!(
                    "--ca/--cert/--key are for an https:// server, and `{base}` is http://"
                ));
            }
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client's runtime: {e}"))?;
        let client = {
            let _g = rt.enter();
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector)
        };
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(Api {
            base,
            token,
            client,
            rt,
        })
    }

    /// One request; `Err` when the server could not be reached or did not
    /// answer JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let (status, collected) = self.call_raw(method, path, body)?;
        let body = if collected.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&collected).map_err(|_| {
                format!(
                    "{url}: answered {status} with a body that is not JSON: {}",
                    String::from_utf8_lossy(&collected[..collected.len().min(200)])
                )
            })?
        };
        Ok(Answer { status, body })
    }

    /// One request; the status and the body's bytes as they came.
    pub fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Bytes), String> {
        let url = format!("{}{path}", self.base);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(b).map_err(|e| e.to_string())?)
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(bytes)).map_err(|e| e.to_string())?;
        self.rt.block_on(async {
            let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
                .await
                .map_err(|_| format!("{url}: no answer within 30 s"))?
                .map_err(|e| {
                    let mut msg = format!("{url}: {e}");
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        msg.push_str(&format!(": {s}"));
                        src = s.source();
                    }
                    msg
                })?;
            let status = resp.status().as_u16();
            let collected =
                tokio::time::timeout(Duration::from_secs(30), resp.into_body().collect())
                    .await
                    .map_err(|_| format!("{url}: the answer did not finish within 30 s"))?
                    .map_err(|e| format!("{url}: {e}"))?
                    .to_bytes();
            Ok((status, collected))
        })
    }
}

/// Calls the server: the JSON of a 2xx, or the exit code after saying
/// what went wrong (1 for a refusal, 2 for a usage or server error).
/// A path segment or query value, percent-encoded (RFC 3986 unreserved
/// characters kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn json_call(
    server: &ServerArgs,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, u8> {
    let api = Api::new(server).map_err(|e| {
        eprintln!("error: {e}");
        crate::exit::ERROR
    })?;
    match api.call(method, path, body.as_ref()) {
        Err(e) => {
            eprintln!("error: {e}");
            Err(crate::exit::ERROR)
        }
        Ok(a) if (200..300).contains(&a.status) => Ok(a.body),
        Ok(a) => {
            eprintln!(
                "error: {} {}",
                a.status,
                a.body["detail"].as_str().unwrap_or("(no detail)")
            );
            Err(if a.status >= 500 || a.status == 401 {
                crate::exit::ERROR
            } else {
                crate::exit::FINDINGS
            })
        }
    }
}
