//! The GitHub REST API, as much as the gate needs: list a pull request's
//! comments (every page), create one, update one.
//!
//! Requests go through `octocrab` (rustls, no OpenSSL) and its raw calls
//! (`_get`, `_post`, `_patch`), which hand back the status and headers the
//! retry policy reads:
//!
//! - every call has a deadline ([`RetryPolicy::timeout`]: connect, read and
//!   write timeouts, and one over the whole call, body included);
//! - 5xx answers, timeouts and connection failures are retried with
//!   exponential backoff and jitter (`backon`) from
//!   [`RetryPolicy::base_delay`], at most [`RetryPolicy::retries`] times;
//! - rate limits (429, or 403 with rate-limit headers) are waited out: the
//!   `Retry-After` seconds, else until `x-ratelimit-reset` when
//!   `x-ratelimit-remaining` is 0, else a minute for a secondary limit;
//!   all waits together stay within [`RetryPolicy::max_wait`], and a limit
//!   that would need longer is an error at once;
//! - a 403 that is not a rate limit is a permission error, never retried;
//! - the token is sent only to the API's host, and never appears in an
//!   error, a log line or `{:?}` ([`Token`] redacts itself and every
//!   message is scrubbed).

use crate::context::Token;
use backon::{ExponentialBuilder, Retryable};
use http::header::{HeaderMap, ACCEPT};
use http::{Method, StatusCode};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::Value as Json;
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

/// Timeouts, retries and waits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Deadline of one call.
    pub timeout: Duration,
    /// First backoff delay (then doubled, with jitter).
    pub base_delay: Duration,
    /// Retries after the first attempt.
    pub retries: usize,
    /// All waits of one call together, rate limits included.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            timeout: Duration::from_secs(30),
            base_delay: Duration::from_secs(1),
            retries: 4,
            max_wait: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 403 without rate-limit signs: the token may not do this.
    Permission,
    /// 401: the token is not valid.
    Auth,
    /// 404: no such repository or pull request (or the token cannot see it).
    NotFound,
    RateLimited,
    /// 5xx.
    Server,
    Timeout,
    /// The connection failed.
    Transport,
    /// Anything else: an answer that is not what the API documents.
    Invalid,
}

/// A failed call, with a message fit to print (no token in it).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub message: String,
    /// For a rate limit: how long GitHub asks to wait (none: back off).
    pub wait: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            status: None,
            message: message.into(),
            wait: None,
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Transport
        )
    }
}

/// A pull-request (issue) comment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
}

/// What [`GitHub::upsert_comment`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    pub id: u64,
    pub created: bool,
    /// The body it replaced.
    pub previous: Option<String>,
}

/// A successful answer.
#[derive(Debug)]
struct Answer {
    headers: HeaderMap,
    text: String,
}

/// Most pages of comments read (100 per page).
const MAX_PAGES: usize = 100;

/// One repository on one GitHub API.
pub struct GitHub {
    octo: Octocrab,
    owner: String,
    repo: String,
    token: Token,
    /// `host[:port]` of the API: the only host the token is sent to.
    authority: String,
    policy: RetryPolicy,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("authority", &self.authority)
            .field("token", &self.token)
            .field("policy", &self.policy)
            .finish()
    }
}

impl GitHub {
    /// A client for `slug` (`owner/name`) at `api_url`. Call it inside a
    /// tokio runtime.
    pub fn new(
        api_url: &str,
        slug: &str,
        token: Token,
        policy: RetryPolicy,
    ) -> Result<GitHub, ApiError> {
        let (owner, repo) = slug.split_once('/').ok_or_else(|| {
            ApiError::new(
                ErrorKind::Invalid,
                format!("repository `{slug}` is not `owner/name`"),
            )
        })?;
        let uri: http::Uri = api_url.parse().map_err(|_| {
            ApiError::new(
                ErrorKind::Invalid,
                format!("API URL `{api_url}` is not a URL"),
            )
        })?;
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Invalid,
                    format!("API URL `{api_url}` has no host"),
                )
            })?;
        let scrub = |e: octocrab::Error| token.scrub(&e.to_string());
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| {
                ApiError::new(
                    ErrorKind::Invalid,
                    format!("API URL `{api_url}`: {}", scrub(e)),
                )
            })?
            .personal_token(token.expose().to_string())
            .add_header(ACCEPT, "application/vnd.github+json".to_string())
            .set_connect_timeout(Some(policy.timeout))
            .set_read_timeout(Some(policy.timeout))
            .set_write_timeout(Some(policy.timeout))
            .build()
            .map_err(|e| {
                ApiError::new(
                    ErrorKind::Invalid,
                    format!("cannot set up the GitHub client: {}", scrub(e)),
                )
            })?;
        Ok(GitHub {
            octo,
            owner: owner.to_string(),
            repo: repo.to_string(),
            token,
            authority,
            policy,
        })
    }

    /// One attempt, within the deadline. Non-2xx answers are errors.
    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Answer, ApiError> {
        let attempt = async {
            let response = match *method {
                Method::POST => self.octo._post(path, body).await,
                Method::PATCH => self.octo._patch(path, body).await,
                _ => self.octo._get(path).await,
            }
            .map_err(|e| self.transport(method, path, e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let text = self
                .octo
                .body_to_string(response)
                .await
                .map_err(|e| self.transport(method, path, e))?;
            Ok::<_, ApiError>((status, headers, text))
        };
        let (status, headers, text) = tokio::time::timeout(self.policy.timeout, attempt)
            .await
            .map_err(|_| {
            ApiError::new(
                ErrorKind::Timeout,
                format!(
                    "{method} {path}: no answer within {} s",
                    self.policy.timeout.as_secs_f64()
                ),
            )
        })??;
        if status.is_success() {
            return Ok(Answer { headers, text });
        }
        let mut e = classify(status, &headers, &text, now_epoch());
        e.message = self.token.scrub(&format!("{method} {path}: {}", e.message));
        Err(e)
    }

    fn transport(&self, method: &Method, path: &str, e: octocrab::Error) -> ApiError {
        ApiError::new(
            ErrorKind::Transport,
            self.token.scrub(&format!("{method} {path}: {e}")),
        )
    }

    /// [`send`](Self::send), retried by the policy.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Answer, ApiError> {
        let waited = Cell::new(Duration::ZERO);
        let attempts = Cell::new(0usize);
        let over_budget: Cell<Option<Duration>> = Cell::new(None);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.base_delay)
            .with_max_delay(self.policy.max_wait.max(self.policy.base_delay))
            .with_factor(2.0)
            .with_max_times(self.policy.retries)
            .with_jitter();
        let result = (|| {
            attempts.set(attempts.get() + 1);
            self.send(&method, path, body)
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(ApiError::retryable)
        .adjust(|e: &ApiError, next: Option<Duration>| {
            let next = next?;
            let wait = e.wait.unwrap_or(next);
            if waited.get() + wait > self.policy.max_wait {
                over_budget.set(Some(wait));
                return None;
            }
            waited.set(waited.get() + wait);
            Some(wait)
        })
        .notify(|e: &ApiError, wait: Duration| {
            eprintln!(
                "tenet ci: GitHub API: {e}; retrying in {:.1} s",
                wait.as_secs_f64()
            );
        })
        .await;
        result.map_err(|mut e| {
            if let Some(wait) = over_budget.get() {
                e.message = format!(
                    "{}; waiting {:.0} s more would pass the {:.0} s limit on waiting (--max-wait)",
                    e.message,
                    wait.as_secs_f64(),
                    self.policy.max_wait.as_secs_f64()
                );
            } else if e.retryable() && attempts.get() > 1 {
                e.message = format!("{} (after {} attempts)", e.message, attempts.get());
            }
            e
        })
    }

    fn comments_path(&self, pr: u64) -> String {
        format!(
            "/repos/{}/{}/issues/{pr}/comments?per_page=100",
            self.owner, self.repo
        )
    }

    /// Every comment of pull request `pr`, following `Link: rel="next"`.
    pub async fn comments(&self, pr: u64) -> Result<Vec<Comment>, ApiError> {
        let mut path = self.comments_path(pr);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.call(Method::GET, &path, None).await?;
            let page: Vec<Comment> = serde_json::from_str(&answer.text).map_err(|e| {
                ApiError::new(
                    ErrorKind::Invalid,
                    format!("GET {path}: not a list of comments: {e}"),
                )
            })?;
            out.extend(page);
            match next_link(&answer.headers) {
                None => return Ok(out),
                Some(next) => path = self.same_host(&next)?,
            }
        }
        Err(ApiError::new(
            ErrorKind::Invalid,
            format!("pull request #{pr} has more than {MAX_PAGES} pages of comments"),
        ))
    }

    /// The path and query of a link, which must point at the API's host
    /// (the token goes nowhere else).
    fn same_host(&self, link: &str) -> Result<String, ApiError> {
        let bad = || {
            ApiError::new(
                ErrorKind::Invalid,
                format!("the API gave a next-page link to another host: {link}"),
            )
        };
        let uri: http::Uri = link.parse().map_err(|_| bad())?;
        if uri
            .authority()
            .is_some_and(|a| a.as_str() != self.authority)
        {
            return Err(bad());
        }
        uri.path_and_query()
            .map(|p| p.as_str().to_string())
            .ok_or_else(bad)
    }

    /// Creates a comment on pull request `pr`; its id.
    pub async fn create_comment(&self, pr: u64, body: &str) -> Result<u64, ApiError> {
        let path = format!("/repos/{}/{}/issues/{pr}/comments", self.owner, self.repo);
        let answer = self
            .call(
                Method::POST,
                &path,
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        let c: Comment = serde_json::from_str(&answer.text).map_err(|e| {
            ApiError::new(
                ErrorKind::Invalid,
                format!("POST {path}: not a comment: {e}"),
            )
        })?;
        Ok(c.id)
    }

    /// Replaces the body of comment `id`.
    pub async fn update_comment(&self, id: u64, body: &str) -> Result<(), ApiError> {
        let path = format!("/repos/{}/{}/issues/comments/{id}", self.owner, self.repo);
        self.call(
            Method::PATCH,
            &path,
            Some(&serde_json::json!({ "body": body })),
        )
        .await
        .map(|_| ())
    }

    /// Updates the comment of pull request `pr` that starts with `marker`
    /// (the oldest, if several), or creates one: a pull request has one
    /// tenet comment, whatever the number of pushes. `body` is given the
    /// body it replaces, if any.
    pub async fn upsert_comment(
        &self,
        pr: u64,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, ApiError> {
        let mine = self.comments(pr).await?.into_iter().find(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.trim_start().starts_with(marker))
        });
        match mine {
            Some(c) => {
                self.update_comment(c.id, &body(c.body.as_deref())).await?;
                Ok(Upserted {
                    id: c.id,
                    created: false,
                    previous: c.body,
                })
            }
            None => Ok(Upserted {
                id: self.create_comment(pr, &body(None)).await?,
                created: true,
                previous: None,
            }),
        }
    }
}

fn now_epoch() -> u64 {
    u64::try_from(tenet_runtime::clock::system_now().unix_secs()).unwrap_or(0)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The `message` of a GitHub error body, else the start of the body.
fn github_message(text: &str) -> String {
    serde_json::from_str::<Json>(text)
        .ok()
        .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            text.chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string()
        })
}

/// A non-2xx answer as an error: its kind, and for a rate limit the wait.
fn classify(status: StatusCode, headers: &HeaderMap, text: &str, now: u64) -> ApiError {
    let message = github_message(text);
    let reason = status.canonical_reason().unwrap_or("");
    let said = if message.is_empty() {
        format!("{} {reason}", status.as_u16())
    } else {
        format!("{} {reason} ({message})", status.as_u16())
    };
    let mut e = ApiError {
        kind: ErrorKind::Invalid,
        status: Some(status.as_u16()),
        message: said,
        wait: None,
    };
    let limited = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::FORBIDDEN;
    let retry_after = header(headers, "retry-after").map(|v| v.parse::<u64>().unwrap_or(60));
    let exhausted = header(headers, "x-ratelimit-remaining") == Some("0");
    let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
    let secondary = message.to_ascii_lowercase().contains("rate limit");
    if limited && (retry_after.is_some() || exhausted || secondary) {
        e.kind = ErrorKind::RateLimited;
        e.wait = Some(Duration::from_secs(match (retry_after, exhausted, reset) {
            (Some(s), _, _) => s,
            (None, true, Some(r)) => r.saturating_sub(now) + 1,
            // GitHub: "wait at least one minute" for a secondary limit.
            _ => 60,
        }));
        e.message = format!("rate limited: {}", e.message);
        return e;
    }
    e.kind = match status.as_u16() {
        429 => ErrorKind::RateLimited,
        403 => ErrorKind::Permission,
        401 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Invalid,
    };
    e
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header(headers, "link")?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn rate_limits_are_told_from_permission_errors() {
        let none = HeaderMap::new();
        let e = classify(
            StatusCode::FORBIDDEN,
            &none,
            r#"{"message":"Resource not accessible by integration"}"#,
            0,
        );
        assert_eq!(e.kind, ErrorKind::Permission);
        assert!(!e.retryable());
        assert_eq!(
            e.message,
            "403 Forbidden (Resource not accessible by integration)"
        );
        let e = classify(
            StatusCode::FORBIDDEN,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1030"),
            ]),
            r#"{"message":"API rate limit exceeded"}"#,
            1000,
        );
        assert_eq!(
            (e.kind, e.wait),
            (ErrorKind::RateLimited, Some(Duration::from_secs(31)))
        );
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "7")]),
            "",
            0,
        );
        assert_eq!(e.wait, Some(Duration::from_secs(7)));
        let e = classify(
            StatusCode::FORBIDDEN,
            &none,
            r#"{"message":"You have exceeded a secondary rate limit"}"#,
            0,
        );
        assert_eq!(e.wait, Some(Duration::from_secs(60)));
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &none, "", 0);
        assert_eq!((e.kind, e.wait), (ErrorKind::RateLimited, None));
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &none, "<html>", 0).kind,
            ErrorKind::Server
        );
        assert_eq!(
            classify(StatusCode::NOT_FOUND, &none, "{}", 0).kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, &none, "{}", 0).kind,
            ErrorKind::Auth
        );
    }

    #[test]
    fn the_token_is_never_in_debug_output_nor_sent_to_another_host() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let token = Token::new("ghp_doNotPrintMe").unwrap();
        let gh = rt
            .block_on(async {
                GitHub::new(
                    "https://ghe.example/api/v3",
                    "acme/orders",
                    token,
                    RetryPolicy::default(),
                )
            })
            .unwrap();
        let debug = format!("{gh:?}");
        assert!(!debug.contains("doNotPrintMe"), "{debug}");
        assert!(debug.contains("Token(***)"), "{debug}");
        assert_eq!(
            gh.same_host("https://ghe.example/api/v3/repositories/1/issues/2/comments?page=2")
                .unwrap(),
            "/api/v3/repositories/1/issues/2/comments?page=2"
        );
        let e = gh
            .same_host("https://evil.example/steal?page=2")
            .unwrap_err();
        assert!(e.message.contains("another host"), "{e}");
        let e = rt
            .block_on(async {
                GitHub::new(
                    "https://x",
                    "no-slash",
                    Token::new("t").unwrap(),
                    RetryPolicy::default(),
                )
            })
            .unwrap_err();
        assert!(e.message.contains("not `owner/name`"));
    }

    #[test]
    fn next_links_are_read() {
        let h = headers(&[(
            "link",
            r#"<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel="last""#,
        )]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2")
        );
        let last = headers(&[("link", r#"<https://x/a?page=1>; rel="prev""#)]);
        assert_eq!(next_link(&last), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
