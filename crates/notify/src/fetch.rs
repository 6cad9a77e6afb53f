//! A read-only pull: `GET` a URL and read its JSON answer, with a timeout
//! and a size limit, on the same HTTP client as the webhooks (rustls,
//! the system's CA certificates for `https`, no redirects followed). For
//! signals that must be fetched rather than sent (the tenant benchmark's
//! `benchmark.fetch`); it never writes anywhere.

use crate::config::redact_url;
use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use std::time::Duration;

/// The most of an answer read.
pub const LIMIT: usize = 1024 * 1024;

/// `GET url` and parse the answer as JSON. The error says which URL
/// (redacted) and what went wrong: a connection, the timeout, a non-2xx
/// status, an answer over [`LIMIT`] or not JSON.
pub async fn get_json(url: &str, timeout: Duration) -> Result<serde_json::Value, String> {
    let target = redact_url(url);
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{target}: not a URL: {e}"))?;
    let client =
        crate::webhook::attempt::client(&uri, timeout).map_err(|e| format!("{target}: {e}"))?;
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), LIMIT)
            .collect()
            .await
            .map_err(|e| {
                format!("{target}: the answer could not be read (over {LIMIT} bytes?): {e}")
            })?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("{target}: answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{target}: the answer is not JSON: {e}"))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{target}: no answer within {} ms",
            timeout.as_millis()
        )),
    }
}

/// What [`exchange`] got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `ETag`, when the answer has one.
    pub etag: Option<String>,
    pub body: Bytes,
}

/// One request with a JSON body (or none) and extra headers, on the same
/// client, timeout and size limit as [`get_json`]; any status is an
/// answer (the caller decides), a connection failure or the timeout an
/// error naming the (redacted) URL. For adapters that read and write a
/// remote store, such as autoconfig's HTTP config center.
pub async fn exchange(
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<Answer, String> {
    let target = redact_url(url);
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{target}: not a URL: {e}"))?;
    let client =
        crate::webhook::attempt::client(&uri, timeout).map_err(|e| format!("{target}: {e}"))?;
    let bytes = match body {
        Some(v) => Bytes::from(serde_json::to_vec(v).map_err(|e| format!("{target}: {e}"))?),
        None => Bytes::new(),
    };
    let mut request = Request::new(Full::new(bytes));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let h = request.headers_mut();
    h.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    if body.is_some() {
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    for (k, v) in headers {
        let name =
            http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("{target}: {e}"))?;
        let value = http::HeaderValue::from_str(v).map_err(|e| format!("{target}: {e}"))?;
        h.insert(name, value);
    }
    let run = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(response.into_body(), LIMIT)
            .collect()
            .await
            .map_err(|e| {
                format!("{target}: the answer could not be read (over {LIMIT} bytes?): {e}")
            })?
            .to_bytes();
        Ok(Answer { status, etag, body })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{target}: no answer within {} ms",
            timeout.as_millis()
        )),
    }
}
