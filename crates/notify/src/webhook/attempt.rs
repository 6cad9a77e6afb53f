//! One attempt: the POST, its timeout, and what the answer means.

use crate::config::ConfigError;
use crate::DeliveryError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub(crate) type Client =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How much of an answer is read: enough for an error message.
const ANSWER_LIMIT: usize = 16 * 1024;
/// How much of it an error quotes.
const QUOTE_CHARS: usize = 200;

/// The HTTP client: HTTP/1.1, rustls with ring and the system's CA
/// certificates for `https`, a connect timeout, pooled connections.
pub(crate) fn client(uri: &Uri, timeout: Duration) -> Result<Client, ConfigError> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConfigError::one(format!("TLS could not be set up: {e}")))?;
    let tls = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        tls.with_native_roots().map_err(|e| {
            ConfigError::one(format!(
                "the system's CA certificates could not be read ({e}); install them (the `ca-certificates` package) to post to an https URL"
            ))
        })?
    } else {
        // Plain http never does TLS (redirects are not followed).
        tls.with_root_certificates(rustls::RootCertStore::empty())
    }
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    http.set_nodelay(true);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector),
    )
}

pub(super) struct Attempt<'a> {
    pub client: &'a Client,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    pub number: u32,
    pub timeout: Duration,
    /// The redacted URL, for messages.
    pub target: &'a str,
}

/// Why an attempt failed, and how long the receiver asked us to wait.
pub(super) struct Failure {
    pub error: DeliveryError,
    pub retry_after: Option<Duration>,
}

impl From<DeliveryError> for Failure {
    fn from(error: DeliveryError) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl Attempt<'_> {
    /// Posts the body once; `Ok` on a 2xx answer.
    pub(super) async fn send(self) -> Result<(), Failure> {
        let timeout = self.timeout;
        let target = self.target.to_owned();
        match tokio::time::timeout(timeout, self.exchange()).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout {
                target,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }
            .into()),
        }
    }

    async fn exchange(self) -> Result<(), Failure> {
        let mut request = Request::new(Full::new(self.body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
            .headers_mut()
            .insert(super::ATTEMPT_HEADER, HeaderValue::from(self.number));
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport_error(self.target, &e))?;
        let status = response.status();
        if status.is_success() {
            // The receiver has taken it; what it says after is not ours to
            // judge, but the answer is read so that the connection is
            // reused.
            let _ = Limited::new(response.into_body(), ANSWER_LIMIT)
                .collect()
                .await;
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, SystemTime::now()));
        let body = match Limited::new(response.into_body(), ANSWER_LIMIT)
            .collect()
            .await
        {
            Ok(collected) => quote(&collected.to_bytes()),
            Err(_) => String::new(),
        };
        Err(Failure {
            error: DeliveryError::Status {
                target: self.target.to_owned(),
                status: status.as_u16(),
                body,
            },
            retry_after: retry_after.filter(|_| retries_after(status)),
        })
    }
}

/// Statuses whose `Retry-After` is read: those that are retried.
fn retries_after(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); a date in
/// the past is no wait.
pub(super) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The start of an answer, on one line.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(QUOTE_CHARS)
        .collect();
    if text.chars().count() > QUOTE_CHARS {
        out.push('…');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A client error as one sentence: "connection refused", not "client
/// error (Connect)".
fn transport_error(target: &str, e: &hyper_util::client::legacy::Error) -> DeliveryError {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|c: &String| c.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let message = if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    };
    if e.is_connect() {
        DeliveryError::Connect {
            target: target.to_owned(),
            message,
        }
    } else {
        DeliveryError::Transport {
            target: target.to_owned(),
            message,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn answers_are_quoted_short_and_on_one_line() {
        assert_eq!(
            quote(b"{\"error\":\n  \"bad\"}\r\n"),
            "{\"error\": \"bad\"}"
        );
        let long = "x".repeat(500);
        let q = quote(long.as_bytes());
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert!(q.ends_with('…'));
    }
}
