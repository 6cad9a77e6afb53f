//! Errors as `application/problem+json` (RFC 9457): a type, a title, the
//! status and a detail that says what to do, plus named extras
//! (`diagnostics` of a failed reload, `errors` of a diff).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value as JsonValue};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub extra: Vec<(&'static str, JsonValue)>,
    /// Extra response headers (`www-authenticate`, `retry-after`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: JsonValue) -> Problem {
        self.extra.push((key, value));
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Problem {
        self.headers.push((name, value));
        self
    }

    pub fn body(&self) -> JsonValue {
        let slug: String = self
            .title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let mut body = json!({
            "type": format!("https://tenet.invalid/problems/{slug}"),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(obj) = body.as_object_mut() {
            for (k, v) in &self.extra {
                obj.insert((*k).to_string(), v.clone());
            }
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (k, v) in self.headers {
            headers.insert(k, v);
        }
        resp
    }
}

/// Errors answered below the handlers (the body limit, a wrong method, a
/// timeout) come without a problem body: give them one.
pub async fn problem_for_bare_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return resp;
    }
    let (title, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Payload Too Large",
            "the request body is larger than this route's limit (`limits.body_bytes`, 1 MiB by default; `limits.diff_body_bytes`, 16 MiB, for /v1/diff, discovery batches, catalogs and heartbeat batches)",
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("Method Not Allowed", "this route does not take that method")
        }
        StatusCode::REQUEST_TIMEOUT => (
            "Request Timeout",
            "the request did not finish within `limits.request_timeout` (10s by default)",
        ),
        s => ("Request Error", s.canonical_reason().unwrap_or("error")),
    };
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut p = Problem::new(status, title, detail);
    if let Some(a) = allow {
        p = p.header(header::ALLOW, a);
    }
    p.into_response()
}
