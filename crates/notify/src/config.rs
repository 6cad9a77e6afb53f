//! A webhook's settings, as an operator writes them (YAML or JSON), and
//! the secrets they name.
//!
//! ```yaml
//! url: https://alerts.example.com/tenet
//! timeout: 5s                 # per attempt: connect, send, answer
//! retries: 3                  # after the first attempt
//! backoff: { base: 500ms, max: 30s }
//! max_wait: 1m                # all waits of one delivery, Retry-After included
//! breaker: { threshold: 5, cool_down: 30s }
//! signing_secret_env: TENET_NOTIFY_SECRET   # HMAC-SHA256 of the body
//! bearer_token_env: TENET_NOTIFY_TOKEN      # Authorization: Bearer
//! headers: { X-Team: platform }
//! ```
//!
//! Durations are written as everywhere in tenet (`500ms`, `10s`, `1m`).
//! Secrets are never in the file: it names environment variables, read
//! once by [`Secrets::from_env`]. [`WebhookConfig::check`] lists every
//! problem at once, each saying what to change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Where and how to post notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `https://...`; `http://` only to a loopback address, or with
    /// `allow_insecure_http`.
    pub url: String,
    /// The limit on one attempt, from connecting to the end of the answer.
    #[serde(default = "defaults::timeout", with = "text_duration")]
    pub timeout: Duration,
    /// Attempts after the first, on a connection error, a timeout, a 5xx
    /// or a 429.
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    #[serde(default)]
    pub backoff: BackoffConfig,
    /// All the waits of one delivery together, `Retry-After` included: a
    /// wait that would pass it ends the delivery at once.
    #[serde(default = "defaults::max_wait", with = "text_duration")]
    pub max_wait: Duration,
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// The environment variable holding a token sent as
    /// `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
    /// The environment variable holding the shared secret for the
    /// `X-Tenet-Signature-256: sha256=<hex HMAC-SHA256 of the body>` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret_env: Option<String>,
    /// More headers to send (not the ones tenet sets itself).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Allow `http://` to an address that is not loopback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
}

/// Exponential backoff between attempts: `base`, then doubled each time up
/// to `max`, each wait plus a random jitter of up to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    #[serde(default = "defaults::backoff_base", with = "text_duration")]
    pub base: Duration,
    #[serde(default = "defaults::backoff_max", with = "text_duration")]
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: defaults::backoff_base(),
            max: defaults::backoff_max(),
        }
    }
}

/// The circuit breaker: open after `threshold` failed deliveries in a row,
/// let one probe through after `cool_down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    #[serde(default = "defaults::breaker_threshold")]
    pub threshold: u32,
    #[serde(default = "defaults::breaker_cool_down", with = "text_duration")]
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            threshold: defaults::breaker_threshold(),
            cool_down: defaults::breaker_cool_down(),
        }
    }
}

mod defaults {
    use std::time::Duration;
    pub fn timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn retries() -> u32 {
        3
    }
    pub fn max_wait() -> Duration {
        Duration::from_secs(60)
    }
    pub fn backoff_base() -> Duration {
        Duration::from_millis(500)
    }
    pub fn backoff_max() -> Duration {
        Duration::from_secs(30)
    }
    pub fn breaker_threshold() -> u32 {
        5
    }
    pub fn breaker_cool_down() -> Duration {
        Duration::from_secs(30)
    }
}

/// More retries than this is a mistake: a notification that failed ten
/// times will not be delivered by the eleventh attempt soon.
pub const MAX_RETRIES: u32 = 10;

/// Headers tenet sets itself; the `headers` setting may not.
pub const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "content-length",
    "content-type",
    "host",
    "idempotency-key",
    "transfer-encoding",
    "user-agent",
];

/// The prefix of tenet's own headers (`X-Tenet-Notification-Id`,
/// `X-Tenet-Attempt`, `X-Tenet-Signature-256`).
pub const TENET_HEADER_PREFIX: &str = "x-tenet-";

impl WebhookConfig {
    /// The defaults, posting to `url`.
    pub fn new(url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            timeout: defaults::timeout(),
            retries: defaults::retries(),
            backoff: BackoffConfig::default(),
            max_wait: defaults::max_wait(),
            breaker: BreakerConfig::default(),
            bearer_token_env: None,
            signing_secret_env: None,
            headers: BTreeMap::new(),
            allow_insecure_http: false,
        }
    }

    /// Every problem with these settings, or none.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.check_url(&mut problems);
        if self.timeout.is_zero() {
            problems.push("`timeout` is 0; give each attempt some time, such as `10s`".into());
        }
        if self.retries > MAX_RETRIES {
            problems.push(format!(
                "`retries` is {}, more than {MAX_RETRIES}; a few retries with backoff are enough, and the breaker handles a receiver that stays down",
                self.retries
            ));
        }
        if self.backoff.base.is_zero() {
            problems.push(
                "`backoff.base` is 0; wait at least a little between attempts, such as `500ms`"
                    .into(),
            );
        }
        if self.backoff.base > self.backoff.max {
            problems.push(format!(
                "`backoff.base` ({}) is longer than `backoff.max` ({}); make the base shorter or the maximum longer",
                text_duration::show(self.backoff.base),
                text_duration::show(self.backoff.max)
            ));
        }
        if self.retries > 0 && self.max_wait < self.backoff.base {
            problems.push(format!(
                "`max_wait` ({}) is shorter than `backoff.base` ({}), so no retry could ever wait; make `max_wait` longer or set `retries: 0`",
                text_duration::show(self.max_wait),
                text_duration::show(self.backoff.base)
            ));
        }
        if self.breaker.threshold == 0 {
            problems.push("`breaker.threshold` is 0; it is the number of failed deliveries in a row that opens the breaker, at least 1".into());
        }
        if self.breaker.cool_down.is_zero() {
            problems.push(
                "`breaker.cool_down` is 0; give the receiver time to recover, such as `30s`".into(),
            );
        }
        for (key, name) in [
            ("bearer_token_env", &self.bearer_token_env),
            ("signing_secret_env", &self.signing_secret_env),
        ] {
            if let Some(name) = name {
                if !is_env_name(name) {
                    problems.push(format!(
                        "`{key}` is `{name}`, not an environment variable name; name the variable holding the secret (letters, digits, `_`), never the secret itself"
                    ));
                }
            }
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if !is_header_name(name) {
                problems.push(format!(
                    "header `{name}` is not a valid header name; use letters, digits and `-`"
                ));
            } else if RESERVED_HEADERS.contains(&lower.as_str())
                || lower.starts_with(TENET_HEADER_PREFIX)
            {
                problems.push(format!(
                    "header `{name}` is set by tenet; remove it from `headers` (for a token, use `bearer_token_env`)"
                ));
            }
            if !value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
            {
                problems.push(format!(
                    "the value of header `{name}` has a control or non-ASCII character; use printable ASCII"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    fn check_url(&self, problems: &mut Vec<String>) {
        let url = self.url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => {
                problems.push(format!(
                    "`url` `{url}` has no scheme; write `https://host/path`"
                ));
                return;
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host_of(authority);
        if host.is_empty() {
            problems.push(format!(
                "`url` `{url}` has no host; write `https://host/path`"
            ));
            return;
        }
        if authority.contains('@') {
            problems.push(format!(
                "`url` `{}` carries credentials; remove them and use `bearer_token_env`",
                redact_url(url)
            ));
        }
        match scheme.as_str() {
            "https" => {}
            "http" if self.allow_insecure_http || is_loopback(host) => {}
            "http" => problems.push(format!(
                "`url` `{}` is plain http to `{host}`, which is not loopback; use https, or set `allow_insecure_http: true` if the network is trusted",
                redact_url(url)
            )),
            other => problems.push(format!(
                "`url` has the scheme `{other}`; use `https` (or `http` to a loopback address)"
            )),
        }
    }
}

/// What is wrong with a [`WebhookConfig`], or with the secrets it names:
/// every problem, each saying what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "notify webhook: {one}"),
            many => {
                write!(f, "notify webhook: {} problems", many.len())?;
                for p in many {
                    write!(f, "\n- {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    #[cfg(feature = "webhook")]
    pub(crate) fn one(problem: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![problem.into()],
        }
    }
}

/// A secret value; `{:?}` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, to put in a header or a MAC; never to print.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The secrets a [`WebhookConfig`] names, read once when the webhook is
/// made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub bearer_token: Option<Secret>,
    pub signing_secret: Option<Secret>,
}

impl Secrets {
    /// Reads the variables `config` names from the process environment.
    pub fn from_env(config: &WebhookConfig) -> Result<Secrets, ConfigError> {
        Secrets::lookup(config, |name| std::env::var(name).ok())
    }

    /// Reads the variables `config` names through `get` (a test's map, a
    /// secrets file). A named variable that is unset or empty is an error:
    /// a webhook that silently stops signing would be worse.
    pub fn lookup(
        config: &WebhookConfig,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Secrets, ConfigError> {
        let mut problems = Vec::new();
        let mut read = |key: &str, name: &Option<String>| -> Option<Secret> {
            let name = name.as_deref()?;
            match get(name) {
                Some(v) if !v.trim().is_empty() => Some(Secret(v.trim().to_owned())),
                _ => {
                    problems.push(format!(
                        "the environment variable `{name}` (named by `{key}`) is not set or empty; set it, or remove `{key}`"
                    ));
                    None
                }
            }
        };
        let secrets = Secrets {
            bearer_token: read("bearer_token_env", &config.bearer_token_env),
            signing_secret: read("signing_secret_env", &config.signing_secret_env),
        };
        if problems.is_empty() {
            Ok(secrets)
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// `host` of `user@host:port` or `[::1]:port`.
pub(crate) fn host_of(authority: &str) -> &str {
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    hostport.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Scheme, host and port only: a webhook URL's path and query are often
/// secrets themselves.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let hostport = authority.rsplit('@').next().unwrap_or(authority);
            let hidden = rest.len() > authority.len() && rest != format!("{authority}/");
            format!("{scheme}://{hostport}{}", if hidden { "/…" } else { "" })
        }
        None => "(no scheme)".into(),
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Durations as tenet writes them: `500ms`, `10s`, `1m`.
pub mod text_duration {
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// `1m30s` → 90 s; `None` for what is not a duration.
    pub fn parse(s: &str) -> Option<Duration> {
        let ms = tenet_dsl::syntax::parse_duration(s.trim())?;
        u64::try_from(ms).ok().map(Duration::from_millis)
    }

    /// The shortest of `1500ms`, `10s`, `2m`, `1h`.
    pub fn show(d: Duration) -> String {
        let ms = d.as_millis();
        if ms == 0 {
            "0s".into()
        } else if ms.is_multiple_of(3_600_000) {
            format!("{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            format!("{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&show(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| {
            de::Error::custom(format!("`{s}` is not a duration (such as 500ms, 10s, 1m)"))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<WebhookConfig, String> {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    fn problems(c: &WebhookConfig) -> Vec<String> {
        c.check().err().map(|e| e.problems).unwrap_or_default()
    }

    #[test]
    fn the_documented_example_reads_and_checks() {
        let text = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```yaml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let c = yaml(&text).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.backoff.base, Duration::from_millis(500));
        assert_eq!(c.max_wait, Duration::from_secs(60));
        assert_eq!(c.breaker.threshold, 5);
        assert_eq!(c.signing_secret_env.as_deref(), Some("TENET_NOTIFY_SECRET"));
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn a_url_alone_takes_the_defaults() {
        let c = yaml("url: https://example.com/hook").unwrap();
        assert_eq!(c, WebhookConfig::new("https://example.com/hook"));
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn mistakes_in_the_file_say_what_to_write() {
        let e = yaml("url: https://x\ntimeout: soon\n").unwrap_err();
        assert!(
            e.contains("`soon` is not a duration (such as 500ms, 10s, 1m)"),
            "{e}"
        );
        let e = yaml("url: https://x\nretry: 2\n").unwrap_err();
        assert!(e.contains("unknown field `retry`"), "{e}");
    }

    #[test]
    fn every_problem_is_listed_with_what_to_change() {
        let mut c = WebhookConfig::new("http://alerts.internal/hook/T0/B0/secret");
        c.timeout = Duration::ZERO;
        c.retries = 50;
        c.backoff.base = Duration::from_secs(10);
        c.backoff.max = Duration::from_secs(1);
        c.breaker.threshold = 0;
        c.signing_secret_env = Some("hunter2 is my secret".into());
        c.headers.insert("Authorization".into(), "Bearer x".into());
        c.headers.insert("X-Tenet-Attempt".into(), "1".into());
        c.headers.insert("X-Team".into(), "a\nb".into());
        assert_eq!(
            problems(&c),
            [
                "`url` `http://alerts.internal/…` is plain http to `alerts.internal`, which is not loopback; use https, or set `allow_insecure_http: true` if the network is trusted",
                "`timeout` is 0; give each attempt some time, such as `10s`",
                "`retries` is 50, more than 10; a few retries with backoff are enough, and the breaker handles a receiver that stays down",
                "`backoff.base` (10s) is longer than `backoff.max` (1s); make the base shorter or the maximum longer",
                "`breaker.threshold` is 0; it is the number of failed deliveries in a row that opens the breaker, at least 1",
                "`signing_secret_env` is `hunter2 is my secret`, not an environment variable name; name the variable holding the secret (letters, digits, `_`), never the secret itself",
                "header `Authorization` is set by tenet; remove it from `headers` (for a token, use `bearer_token_env`)",
                "the value of header `X-Team` has a control or non-ASCII character; use printable ASCII",
                "header `X-Tenet-Attempt` is set by tenet; remove it from `headers` (for a token, use `bearer_token_env`)",
            ]
        );
        let shown = c.check().unwrap_err().to_string();
        assert!(
            shown.starts_with("notify webhook: 9 problems\n- `url`"),
            "{shown}"
        );
        assert!(
            !shown.contains("secret/"),
            "the URL path is not shown: {shown}"
        );
    }

    #[test]
    fn urls_are_checked() {
        let p = |url: &str| problems(&WebhookConfig::new(url));
        assert!(p("https://example.com").is_empty());
        assert!(p("http://127.0.0.1:9000/hook").is_empty());
        assert!(p("http://[::1]:9000/hook").is_empty());
        assert!(p("http://localhost/hook").is_empty());
        assert_eq!(
            p("example.com/hook"),
            ["`url` `example.com/hook` has no scheme; write `https://host/path`"]
        );
        assert_eq!(
            p("https:///hook"),
            ["`url` `https:///hook` has no host; write `https://host/path`"]
        );
        assert_eq!(
            p("ftp://example.com"),
            ["`url` has the scheme `ftp`; use `https` (or `http` to a loopback address)"]
        );
        assert_eq!(
            p("https://user:pw@example.com/x"),
            ["`url` `https://example.com/…` carries credentials; remove them and use `bearer_token_env`"]
        );
        let mut c = WebhookConfig::new("http://10.0.0.1/hook");
        c.allow_insecure_http = true;
        assert!(problems(&c).is_empty());
    }

    #[test]
    fn secrets_come_from_the_named_variables_and_never_show() {
        let mut c = WebhookConfig::new("https://example.com");
        c.signing_secret_env = Some("SIGN".into());
        c.bearer_token_env = Some("TOKEN".into());
        let s = Secrets::lookup(&c, |name| match name {
            "SIGN" => Some("s3cr3t\n".into()),
            "TOKEN" => Some("t0k3n".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            s.signing_secret.as_ref().map(Secret::expose),
            Some("s3cr3t")
        );
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("t0k3n"),
            "{debug}"
        );

        let e = Secrets::lookup(&c, |name| (name == "TOKEN").then(|| "t".into())).unwrap_err();
        assert_eq!(
            e.problems,
            ["the environment variable `SIGN` (named by `signing_secret_env`) is not set or empty; set it, or remove `signing_secret_env`"]
        );
    }

    #[test]
    fn durations_read_and_show_as_tenet_writes_them() {
        assert_eq!(text_duration::parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(
            text_duration::parse("250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(text_duration::parse("soon"), None);
        assert_eq!(text_duration::show(Duration::from_millis(1500)), "1500ms");
        assert_eq!(text_duration::show(Duration::from_secs(120)), "2m");
        let c = WebhookConfig::new("https://example.com");
        let back: WebhookConfig =
            serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn redacted_urls_keep_only_scheme_host_and_port() {
        assert_eq!(
            redact_url("https://hooks.example.com/services/T0/B0/XyZ"),
            "https://hooks.example.com/…"
        );
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            redact_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            redact_url("https://u:p@example.com?token=1"),
            "https://example.com/…"
        );
    }
}
