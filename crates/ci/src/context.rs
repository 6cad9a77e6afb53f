//! Where the gate runs: the GitHub Actions environment, the event that
//! started the job, and the flags that override both.
//!
//! | setting | flag | environment |
//! |---|---|---|
//! | base SHA | `--base` | `pull_request.base.sha` of `GITHUB_EVENT_PATH` (`merge_group.base_sha`) |
//! | head SHA | `--head` | `pull_request.head.sha` (`merge_group.head_sha`) |
//! | PR number | `--pr` | `number` / `pull_request.number` |
//! | `owner/name` | `--repo-slug` | `GITHUB_REPOSITORY` |
//! | API root | `--api-url` | `GITHUB_API_URL`, default `https://api.github.com` |
//! | token | `--token-env NAME` (the variable to read) | `GITHUB_TOKEN` |
//! | step summary | `--summary FILE` | `GITHUB_STEP_SUMMARY` |
//! | repository | `--workspace DIR` | `GITHUB_WORKSPACE`, else `.` |

use serde_json::Value as Json;
use std::fmt;
use std::path::PathBuf;

pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const DEFAULT_TOKEN_ENV: &str = "GITHUB_TOKEN";

/// A secret: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from the environment; `None` when empty. Whitespace around it
    /// (a trailing newline from a file) is dropped.
    pub fn new(raw: &str) -> Option<Token> {
        let t = raw.trim();
        (!t.is_empty()).then(|| Token(t.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// `text` with every occurrence of the token replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What flags say; `None` falls back to the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub base: Option<String>,
    pub head: Option<String>,
    pub pr: Option<u64>,
    pub repo_slug: Option<String>,
    pub api_url: Option<String>,
    /// The variable holding the token (default `GITHUB_TOKEN`).
    pub token_env: Option<String>,
    pub event_path: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
}

/// The resolved settings of one run.
#[derive(Debug, Clone)]
pub struct Context {
    pub base: String,
    pub head: String,
    pub pr: Option<u64>,
    /// `owner/name`.
    pub slug: Option<String>,
    pub api_url: String,
    pub token: Option<Token>,
    /// The variable the token was read from (for messages).
    pub token_env: String,
    pub summary: Option<PathBuf>,
    pub workspace: PathBuf,
    /// `GITHUB_ACTIONS=true`.
    pub in_actions: bool,
    /// The event's name (`GITHUB_EVENT_NAME`), for messages.
    pub event_name: Option<String>,
}

/// What the event file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub base: Option<String>,
    pub head: Option<String>,
    pub pr: Option<u64>,
}

/// Reads the base and head SHAs and the PR number from an event payload
/// (`pull_request`, `pull_request_target`, `merge_group`; others give none).
pub fn parse_event(text: &str) -> Result<Event, String> {
    let j: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let s = |v: &Json| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(pr) = j.get("pull_request").filter(|p| p.is_object()) {
        return Ok(Event {
            base: s(&pr["base"]["sha"]),
            head: s(&pr["head"]["sha"]),
            pr: j["number"].as_u64().or_else(|| pr["number"].as_u64()),
        });
    }
    if let Some(mg) = j.get("merge_group").filter(|p| p.is_object()) {
        return Ok(Event {
            base: s(&mg["base_sha"]),
            head: s(&mg["head_sha"]),
            pr: None,
        });
    }
    Ok(Event::default())
}

/// Whether `slug` is `owner/name`.
pub fn valid_slug(slug: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match slug.split_once('/') {
        Some((o, n)) => ok(o) && ok(n),
        None => false,
    }
}

/// Resolves flags over the environment (`env` reads one variable).
pub fn resolve(o: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Context, String> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let event_path = o
        .event_path
        .clone()
        .or_else(|| var("GITHUB_EVENT_PATH").map(PathBuf::from));
    let event_name = var("GITHUB_EVENT_NAME");
    let event = match &event_path {
        // Only read when something is still missing.
        Some(p) if o.base.is_none() || o.head.is_none() || o.pr.is_none() => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read the event file {}: {e}", p.display()))?;
            parse_event(&text).map_err(|e| format!("event file {}: {e}", p.display()))?
        }
        _ => Event::default(),
    };
    let missing = |what: &str, flag: &str| {
        let from = match (&event_path, &event_name) {
            (Some(_), Some(name)) => format!("the `{name}` event has no {what}"),
            (Some(p), None) => format!("the event file {} has no {what}", p.display()),
            (None, _) => "GITHUB_EVENT_PATH is not set (not a GitHub Actions job?)".to_string(),
        };
        format!("no {what}: {from}; run on `pull_request` events or pass {flag}")
    };
    let base = o
        .base
        .clone()
        .or(event.base)
        .ok_or_else(|| missing("base SHA", "--base"))?;
    let head = o
        .head
        .clone()
        .or(event.head)
        .ok_or_else(|| missing("head SHA", "--head"))?;
    let slug = o.repo_slug.clone().or_else(|| var("GITHUB_REPOSITORY"));
    if let Some(s) = &slug {
        if !valid_slug(s) {
            return Err(format!("repository `{s}` is not `owner/name`"));
        }
    }
    let api_url = o
        .api_url
        .clone()
        .or_else(|| var("GITHUB_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.into());
    let api_url = api_url.trim_end_matches('/').to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://"))
        || api_url.parse::<http::Uri>().is_err()
    {
        return Err(format!("API URL `{api_url}` is not an http(s) URL"));
    }
    let token_env = o
        .token_env
        .clone()
        .unwrap_or_else(|| DEFAULT_TOKEN_ENV.into());
    let token = env(&token_env).as_deref().and_then(Token::new);
    if let Some(t) = &token {
        if !t.0.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!(
                "the token in ${token_env} holds characters a token cannot have (spaces or control characters)"
            ));
        }
    }
    let workspace = o
        .workspace
        .clone()
        .or_else(|| var("GITHUB_WORKSPACE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Context {
        base,
        head,
        pr: o.pr.or(event.pr),
        slug,
        api_url,
        token,
        token_env,
        summary: o
            .summary
            .clone()
            .or_else(|| var("GITHUB_STEP_SUMMARY").map(PathBuf::from)),
        workspace,
        in_actions: var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        event_name,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn pull_request_events_give_base_head_and_number() {
        let e = parse_event(
            r#"{"action":"synchronize","number":42,"pull_request":{"number":42,"base":{"sha":"aaa"},"head":{"sha":"bbb"}}}"#,
        )
        .unwrap();
        assert_eq!(
            e,
            Event {
                base: Some("aaa".into()),
                head: Some("bbb".into()),
                pr: Some(42)
            }
        );
        let e = parse_event(r#"{"merge_group":{"base_sha":"a","head_sha":"b"}}"#).unwrap();
        assert_eq!((e.base.as_deref(), e.pr), (Some("a"), None));
        assert_eq!(
            parse_event(r#"{"ref":"refs/heads/main"}"#).unwrap(),
            Event::default()
        );
        assert!(parse_event("{").is_err());
    }

    #[test]
    fn flags_override_the_environment() {
        let t = tempfile::tempdir().unwrap();
        let ev = t.path().join("event.json");
        std::fs::write(
            &ev,
            r#"{"number":7,"pull_request":{"base":{"sha":"b1"},"head":{"sha":"h1"}}}"#,
        )
        .unwrap();
        let ev = ev.to_str().unwrap().to_string();
        let env = env_of(&[
            ("GITHUB_EVENT_PATH", &ev),
            ("GITHUB_REPOSITORY", "acme/orders"),
            ("GITHUB_TOKEN", " s3cret\n"),
            ("MY_TOKEN", "other"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3/"),
        ]);
        let c = resolve(&Overrides::default(), &env).unwrap();
        assert_eq!(
            (c.base.as_str(), c.head.as_str(), c.pr),
            ("b1", "h1", Some(7))
        );
        assert_eq!(c.slug.as_deref(), Some("acme/orders"));
        assert_eq!(c.api_url, "https://ghe.example/api/v3");
        assert_eq!(c.token.as_ref().unwrap().expose(), "s3cret");
        assert!(c.in_actions);
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the token is never printed"
        );
        let o = Overrides {
            base: Some("B".into()),
            pr: Some(9),
            repo_slug: Some("x/y".into()),
            token_env: Some("MY_TOKEN".into()),
            api_url: Some("http://127.0.0.1:9".into()),
            ..Overrides::default()
        };
        let c = resolve(&o, &env).unwrap();
        assert_eq!(
            (c.base.as_str(), c.head.as_str(), c.pr),
            ("B", "h1", Some(9))
        );
        assert_eq!(c.slug.as_deref(), Some("x/y"));
        assert_eq!(c.token.unwrap().expose(), "other");
        assert_eq!(c.api_url, "http://127.0.0.1:9");
    }

    #[test]
    fn what_is_missing_or_malformed_is_named() {
        let e = resolve(&Overrides::default(), &env_of(&[])).unwrap_err();
        assert!(e.contains("GITHUB_EVENT_PATH is not set"), "{e}");
        let t = tempfile::tempdir().unwrap();
        let ev = t.path().join("push.json");
        std::fs::write(&ev, r#"{"ref":"refs/heads/main"}"#).unwrap();
        let ev = ev.to_str().unwrap().to_string();
        let e = resolve(
            &Overrides::default(),
            &env_of(&[("GITHUB_EVENT_PATH", &ev), ("GITHUB_EVENT_NAME", "push")]),
        )
        .unwrap_err();
        assert!(e.contains("the `push` event has no base SHA"), "{e}");
        let o = Overrides {
            base: Some("a".into()),
            head: Some("b".into()),
            ..Overrides::default()
        };
        let e = resolve(&o, &env_of(&[("GITHUB_REPOSITORY", "nope")])).unwrap_err();
        assert!(e.contains("not `owner/name`"), "{e}");
        let e = resolve(&o, &env_of(&[("GITHUB_API_URL", "ftp://x")])).unwrap_err();
        assert!(e.contains("not an http(s) URL"), "{e}");
        let e = resolve(&o, &env_of(&[("GITHUB_TOKEN", "a b")])).unwrap_err();
        assert!(!e.contains("a b"), "{e}");
        let c = resolve(&o, &env_of(&[])).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(c.token.is_none() && c.pr.is_none());
    }
}
