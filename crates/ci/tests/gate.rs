//! The CI gate end to end, in process: real git repositories (git2, temp
//! dirs) and a mock of the GitHub REST API on 127.0.0.1 that checks every
//! request. Snapshots of the PR comment live in `snapshots/ci/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{api_head, commit, text, Fault, Mock, API_BASE, PACK};
use tenet_ci::context::Overrides;
use tenet_ci::github::RetryPolicy;
use tenet_ci::{render, Annotations, Options};

const TOKEN: &str = "ghs_s3cretT0kenThatMustNeverBePrinted";

struct Ran {
    code: u8,
    out: String,
    err: String,
}

fn run(opts: &Options, env: &[(&str, &str)]) -> Ran {
    let vars: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tenet_ci::run(opts, &|k| vars.get(k).cloned(), &mut out, &mut err);
    let r = Ran {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    };
    assert!(
        !r.out.contains(TOKEN) && !r.err.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        r.out,
        r.err
    );
    r
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        timeout: Duration::from_secs(10),
        base_delay: Duration::from_millis(5),
        retries: 3,
        max_wait: Duration::from_secs(10),
    }
}

fn opts(repo: &Path, base: &str, head: &str, pr: Option<u64>, api: &str) -> Options {
    Options {
        overrides: Overrides {
            base: Some(base.into()),
            head: Some(head.into()),
            pr,
            repo_slug: Some("acme/orders".into()),
            api_url: Some(api.into()),
            workspace: Some(repo.to_path_buf()),
            ..Overrides::default()
        },
        annotations: Annotations::Always,
        retry: fast(),
        ..Options::default()
    }
}

fn env(summary: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("GITHUB_TOKEN", TOKEN.to_string()),
        ("GITHUB_ACTIONS", "true".into()),
    ];
    if let Some(s) = summary {
        v.push(("GITHUB_STEP_SUMMARY", s.display().to_string()));
    }
    v
}

fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

fn snap(name: &str, body: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../snapshots/ci"));
    s.set_prepend_module_to_snapshot(false);
    let body = support::redact(body);
    s.bind(|| insta::assert_snapshot!(name.to_string(), body));
}

/// A repository whose head removes a response field (breaking) and adds an
/// enum value (behavioral), and a third commit that puts both back.
fn breaking_repo() -> (tempfile::TempDir, git2::Repository, String, String, String) {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let base = commit(&repo, &[("api/orders.yaml", text(API_BASE))], "base");
    let head = commit(&repo, &[("api/orders.yaml", text(&api_head()))], "break it");
    let fixed = commit(
        &repo,
        &[(
            "api/orders.yaml",
            text(&API_BASE.replace("info: {title: Orders", "info: {title: Orders API")),
        )],
        "put it back",
    );
    (t, repo, base, head, fixed)
}

#[test]
fn one_comment_is_created_then_updated_in_place_and_says_when_nothing_is_risky() {
    let (t, _repo, base, head, fixed) = breaking_repo();
    let mock = Mock::start(TOKEN);
    // Comments of others, over two pages (the mock pages by 2).
    mock.add_comment(7, "LGTM");
    mock.add_comment(
        7,
        "> <!-- tenet:semantic-diff --> quoted in a reply is not ours",
    );
    mock.add_comment(8, "another pull request");
    let summary = t.path().join("summary.md");
    let e = env(Some(&summary));

    let r = run(
        &opts(t.path(), &base, &head, Some(7), &mock.url),
        &as_refs(&e),
    );
    assert_eq!(
        r.code, 1,
        "breaking fails the default gate\n{}\n{}",
        r.out, r.err
    );
    assert!(r.err.contains("created comment"), "{}", r.err);
    let seen = mock.seen();
    assert!(seen
        .iter()
        .all(|s| s.auth.as_deref() == Some(format!("Bearer {TOKEN}").as_str())));
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST"], "{seen:#?}");
    assert_eq!(
        seen[0].path,
        "/repos/acme/orders/issues/7/comments?per_page=100"
    );
    let posted = seen[1].body.as_ref().unwrap()["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(posted.starts_with(render::MARKER), "{posted}");
    assert!(
        posted.contains("**❌ tenet gate fails** (`--fail-on breaking`): 1 breaking change(s)"),
        "{posted}"
    );
    snap("comment-breaking", &posted);
    // Annotations: an error for the breaking change, a warning for the behavioral one.
    assert!(
        r.out
            .lines()
            .any(|l| l.starts_with("::error file=api/orders.yaml,line=")
                && l.contains("title=breaking%3A ")),
        "{}",
        r.out
    );
    assert!(
        r.out
            .lines()
            .any(|l| l.starts_with("::warning file=api/orders.yaml")),
        "{}",
        r.out
    );
    assert!(
        r.out
            .ends_with("tenet ci: the gate fails (--fail-on breaking): 1 breaking change(s)\n"),
        "{}",
        r.out
    );
    let first = std::fs::read_to_string(&summary).unwrap();
    assert!(
        first.contains("## 🔴 tenet semantic diff: highest risk **breaking**"),
        "{first}"
    );

    // A second push with the same findings updates the same comment.
    mock.clear_seen();
    let r = run(
        &opts(t.path(), &base, &head, Some(7), &mock.url),
        &as_refs(&e),
    );
    assert_eq!(r.code, 1);
    let methods: Vec<(String, String)> = mock
        .seen()
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let ours = mock
        .comments(7)
        .iter()
        .find(|c| c.1.starts_with(render::MARKER))
        .unwrap()
        .0;
    assert_eq!(
        methods,
        [
            (
                "GET".to_string(),
                "/repos/acme/orders/issues/7/comments?per_page=100".to_string()
            ),
            (
                "GET".to_string(),
                "/repositories/1/issues/7/comments?per_page=100&page=2".to_string()
            ),
            (
                "PATCH".to_string(),
                format!("/repos/acme/orders/issues/comments/{ours}")
            ),
        ]
    );

    // A push that leaves nothing risky: the same comment says so, and passes.
    let r = run(
        &opts(t.path(), &base, &fixed, Some(7), &mock.url),
        &as_refs(&e),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let mine: Vec<(u64, String)> = mock
        .comments(7)
        .into_iter()
        .filter(|c| c.1.starts_with(render::MARKER))
        .collect();
    assert_eq!(mine.len(), 1, "one tenet comment per pull request");
    assert_eq!(mine[0].0, ours, "updated, never deleted and re-created");
    assert!(
        mine[0]
            .1
            .contains("**✅ Nothing risky in this pull request**"),
        "{}",
        mine[0].1
    );
    assert!(
        mine[0]
            .1
            .contains("The previous run found breaking changes; they are gone."),
        "{}",
        mine[0].1
    );
    snap("comment-nothing-risky", &mine[0].1);
    assert_eq!(mock.comments(7).len(), 3, "others' comments are left alone");
    assert_eq!(
        mock.comments(8),
        [(1003, "another pull request".to_string())]
    );
    assert!(
        !r.out.contains("::error") && !r.out.contains("::warning"),
        "{}",
        r.out
    );
    // The summary was appended to, not replaced.
    let all = std::fs::read_to_string(&summary).unwrap();
    assert!(all.starts_with(&first) && all.len() > first.len());
}

#[test]
fn server_errors_are_retried_with_backoff_then_succeed() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::Status(500), Fault::Status(502)]);
    let r = run(
        &opts(t.path(), &base, &head, Some(3), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let seen = mock.seen();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["GET", "GET", "GET", "POST"]);
    assert_eq!(mock.comments(3).len(), 1);
    // Exponential: the second wait is at least the base delay again.
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(5));
}

#[test]
fn server_errors_that_do_not_end_are_exit_2_after_bounded_retries() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::Status(503); 10]);
    let r = run(
        &opts(t.path(), &base, &head, Some(3), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("error: cannot comment on pull request #3 of acme/orders: GET /repos/acme/orders/issues/3/comments?per_page=100: 503 Service Unavailable (Server Error) (after 4 attempts)"),
        "{}",
        r.err
    );
    assert_eq!(mock.seen().len(), 4, "1 attempt + 3 retries");
    // The verdict is still printed.
    assert!(r.out.contains("the gate fails"), "{}", r.out);
}

#[test]
fn every_call_has_a_deadline_and_a_call_that_times_out_is_retried() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::Silent(3000)]);
    let mut o = opts(t.path(), &base, &head, Some(6), &mock.url);
    o.retry.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = run(&o, &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.comments(6).len(), 1, "created after the retry");

    // Nothing but silence: exit 2, naming the deadline.
    mock.fail_next(&[Fault::Silent(1000); 4]);
    o.retry.retries = 1;
    let r = run(&o, &as_refs(&env(None)));
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains("no answer within 0.3 s (after 2 attempts)"),
        "{}",
        r.err
    );
}

#[test]
fn rate_limits_are_waited_out_by_retry_after_and_the_reset_header() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::RetryAfter(1)]);
    let started = Instant::now();
    let r = run(
        &opts(t.path(), &base, &head, Some(4), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let seen = mock.seen();
    assert_eq!(seen.len(), 3, "429, then GET and POST");
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(1),
        "Retry-After: 1 was waited out"
    );
    assert!(started.elapsed() < Duration::from_secs(8));

    // x-ratelimit-remaining: 0 → wait until x-ratelimit-reset.
    mock.clear_seen();
    mock.fail_next(&[Fault::Exhausted(0)]);
    let r = run(
        &opts(t.path(), &base, &head, Some(4), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let seen = mock.seen();
    assert_eq!(
        seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(),
        ["GET", "GET", "PATCH"]
    );
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(900));
}

#[test]
fn a_rate_limit_longer_than_the_wait_budget_is_an_error_at_once() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::RetryAfter(3600)]);
    let started = Instant::now();
    let r = run(
        &opts(t.path(), &base, &head, Some(4), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 2);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        r.err.contains("rate limited: 429 Too Many Requests"),
        "{}",
        r.err
    );
    assert!(
        r.err
            .contains("waiting 3600 s more would pass the 10 s limit on waiting (--max-wait)"),
        "{}",
        r.err
    );
}

#[test]
fn a_token_without_permission_is_a_clear_error_exit_2_and_never_printed() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start(TOKEN);
    mock.fail_next(&[Fault::Forbidden]);
    let r = run(
        &opts(t.path(), &base, &head, Some(5), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        mock.seen().len(),
        1,
        "a 403 without rate-limit headers is not retried"
    );
    assert!(
        r.err.contains("403 Forbidden (Resource not accessible by integration) — the token may not comment: give the job `permissions: pull-requests: write`"),
        "{}",
        r.err
    );

    // A wrong token: 401, exit 2, and still not printed.
    let other = "ghp_wrongTokenAlsoSecret";
    let mut e = env(None);
    e[0].1 = other.into();
    let r = run(
        &opts(t.path(), &base, &head, Some(5), &mock.url),
        &as_refs(&e),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains(
            "401 Unauthorized (Bad credentials) — the token in $GITHUB_TOKEN is not valid"
        ),
        "{}",
        r.err
    );
    assert!(!r.err.contains(other) && !r.out.contains(other));

    // No token at all: a configuration error before any work.
    let r = run(
        &opts(t.path(), &base, &head, Some(5), &mock.url),
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(r.code, 2);
    assert!(r.err.contains("no token in $GITHUB_TOKEN"), "{}", r.err);
}

#[test]
fn github_enterprise_api_roots_with_a_path_work() {
    let (t, _repo, base, head, _) = breaking_repo();
    let mock = Mock::start_with(TOKEN, "/api/v3");
    for i in 0..3 {
        mock.add_comment(9, &format!("comment {i}"));
    }
    let r = run(
        &opts(t.path(), &base, &head, Some(9), &mock.url),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let paths: Vec<String> = mock.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v3/repos/acme/orders/issues/9/comments?per_page=100",
            "/api/v3/repositories/1/issues/9/comments?per_page=100&page=2",
            "/api/v3/repos/acme/orders/issues/9/comments",
        ]
    );
}

// ---- the gate without the API ---------------------------------------------------

fn local(repo: &Path, base: &str, head: &str) -> Options {
    Options {
        comment: false,
        ..opts(repo, base, head, None, "http://127.0.0.1:9")
    }
}

#[test]
fn touched_rule_packs_are_checked_and_tested_and_annotated() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let base = commit(
        &repo,
        &[
            ("rules/safety/safety.tenet", text(PACK)),
            (
                "rules/other/other.tenet",
                text(&PACK.replace("pack safety", "pack other")),
            ),
            ("tenet.yaml", text("exclude: [\"fixtures/**\"]\n")),
        ],
        "base",
    );
    // A test that now fails, a pack that no longer checks, and a broken
    // pack under an excluded fixtures folder (never checked).
    let head = commit(
        &repo,
        &[
            (
                "rules/safety/safety.tenet",
                text(&PACK.replace("expect_risk high", "expect_risk low")),
            ),
            (
                "rules/other/other.tenet",
                text(
                    &PACK
                        .replace("pack safety", "pack other")
                        .replace("risk     high", "risk     hihg"),
                ),
            ),
            ("fixtures/broken/bad.tenet", text("tenet 1\npack {")),
        ],
        "head",
    );
    let r = run(&local(t.path(), &base, &head), &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    assert!(
        r.out.contains("1 failing rule test(s) in `rules/safety`"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("rule packs in `rules/other` do not check"),
        "{}",
        r.out
    );
    assert!(!r.out.contains("fixtures/broken"), "excluded: {}", r.out);
    assert!(
        r.out.lines().any(
            |l| l.starts_with("::error file=rules/other/other.tenet,line=")
                && l.contains("title=tenet check::")
        ),
        "{}",
        r.out
    );
    assert!(
        r.out.lines().any(
            |l| l.starts_with("::error file=rules/safety/safety.tenet,line=")
                && l.contains("title=tenet test%3A safety%3A%3Alarge-delete")
        ),
        "{}",
        r.out
    );

    // --fail-on never: no level fails, but packs that do not check or
    // whose tests fail still do (as in the pre-commit hook).
    let mut o = local(t.path(), &base, &head);
    o.fail_on = Some("never".into());
    let r = run(&o, &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(
        r.out.contains("1 failing rule test(s) in `rules/safety`"),
        "{}",
        r.out
    );
}

#[test]
fn annotations_are_capped_at_ten_per_level_with_a_notice() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let props: String = (0..12)
        .map(|i| format!("        f{i}: {{type: string}}\n"))
        .collect();
    let full = API_BASE.replace(
        "        id: {type: string}\n",
        &format!("        id: {{type: string}}\n{props}"),
    );
    let base = commit(&repo, &[("api/orders.yaml", text(&full))], "base");
    let head = commit(
        &repo,
        &[("api/orders.yaml", text(API_BASE))],
        "drop 12 response fields",
    );
    let r = run(&local(t.path(), &base, &head), &as_refs(&env(None)));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.out.lines().filter(|l| l.starts_with("::error")).count(),
        10,
        "{}",
        r.out
    );
    assert!(
        r.out.contains("::notice title=tenet::2 more error(s) not annotated (GitHub shows 10 per level in a step)"),
        "{}",
        r.out
    );
    assert!(r.out.contains("12 breaking change(s)"));
}

#[test]
fn deleted_renamed_and_binary_files_and_a_broken_config() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, 0];
    let base = commit(
        &repo,
        &[
            ("api/orders.yaml", text(API_BASE)),
            ("api/old.yaml", text(API_BASE)),
            ("logo.json", Some(png)),
        ],
        "base",
    );
    let head = commit(
        &repo,
        &[
            ("api/orders.yaml", None),
            ("api/renamed.yaml", text(API_BASE)),
            ("api/old.yaml", None),
            ("logo.json", Some(&[0x89, b'P', b'N', b'G', 1, 0xff])),
        ],
        "delete one, rename one, touch a binary",
    );
    let r = run(&local(t.path(), &base, &head), &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    // A removed file has no head line to point at.
    assert!(
        r.out
            .contains("::error file=api/orders.yaml,title=breaking%3A artifact.removed::"),
        "{}",
        r.out
    );
    assert!(
        !r.out.contains("logo.json"),
        "binary files are skipped: {}",
        r.out
    );

    // A broken tenet.yaml at head: exit 2 with its place.
    let broken = commit(
        &repo,
        &[(
            "tenet.yaml",
            text("artifacts:\n  - path: 'a/*.yaml'\n    type: soap\n"),
        )],
        "bad config",
    );
    let r = run(&local(t.path(), &base, &broken), &as_refs(&env(None)));
    assert_eq!(r.code, 2);
    assert!(r.err.contains("unknown artifact type `soap`"), "{}", r.err);

    // A revision the shallow clone does not have.
    let r = run(
        &local(t.path(), "0123456789abcdef0123456789abcdef01234567", &head),
        &as_refs(&env(None)),
    );
    assert_eq!(r.code, 2);
    assert!(r.err.contains("fetch-depth: 0"), "{}", r.err);
}

#[test]
fn the_event_file_gives_base_head_and_number_and_flags_win() {
    let (t, _repo, base, head, fixed) = breaking_repo();
    let mock = Mock::start(TOKEN);
    let event = t.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({"number": 12, "pull_request": {"number": 12, "base": {"sha": base}, "head": {"sha": head}}}).to_string(),
    )
    .unwrap();
    let summary = t.path().join("summary.md");
    let env = [
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REPOSITORY", "acme/orders"),
        ("GITHUB_API_URL", mock.url.as_str()),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_WORKSPACE", t.path().to_str().unwrap()),
        ("GITHUB_ACTIONS", "true"),
    ];
    let o = Options {
        retry: fast(),
        ..Options::default()
    };
    let r = run(&o, &env);
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    assert_eq!(mock.comments(12).len(), 1);
    assert!(
        r.out.contains("::error file=api/orders.yaml"),
        "annotations in Actions: {}",
        r.out
    );

    // --head overrides the event; --fail-on behavioral is stricter.
    let mut o2 = o.clone();
    o2.overrides.head = Some(fixed.clone());
    o2.fail_on = Some("behavioral".into());
    let r = run(&o2, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(mock.comments(12)[0].1.contains(&fixed[..12]));

    // A push event: no base SHA, exit 2 with the way out.
    std::fs::write(&event, r#"{"ref": "refs/heads/main"}"#).unwrap();
    let mut push = env;
    push[1].1 = "push";
    let r = run(&o, &push);
    assert_eq!(r.code, 2);
    assert!(
        r.err.contains(
            "the `push` event has no base SHA; run on `pull_request` events or pass --base"
        ),
        "{}",
        r.err
    );
}

#[test]
fn a_loosened_guard_with_no_justification_fails_the_gate_unless_told_otherwise() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let base = commit(&repo, &[("rules/safety/safety.tenet", text(PACK))], "base");
    let head = commit(
        &repo,
        &[(
            "rules/safety/safety.tenet",
            text(&PACK.replace("hold     30m", "hold     10m")),
        )],
        "shorter hold",
    );
    let r = run(&local(t.path(), &base, &head), &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    assert!(r.out.contains("1 policy-lint finding(s)"), "{}", r.out);
    assert!(
        r.out.lines().any(
            |l| l.starts_with("::error file=rules/safety/safety.tenet,line=")
                && l.contains("title=policy lint%3A ")
        ),
        "{}",
        r.out
    );
    let mut o = local(t.path(), &base, &head);
    o.fail_on_lint = Some(false);
    let r = run(&o, &as_refs(&env(None)));
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(
        r.out.lines().any(
            |l| l.starts_with("::warning file=rules/safety/safety.tenet")
                && l.contains("policy lint")
        ),
        "{}",
        r.out
    );

    // A `Justification:` trailer on the commit covers it.
    let justified = commit(
        &repo,
        &[(
            "rules/safety/safety.tenet",
            text(&PACK.replace("hold     30m", "hold     5m")),
        )],
        "even shorter\n\nJustification: INC-7, agreed with sec-oncall",
    );
    let r = run(&local(t.path(), &head, &justified), &as_refs(&env(None)));
    assert!(!r.out.contains("policy-lint finding"), "{}", r.out);
}

// ---- a partial clone ---------------------------------------------------------------

/// Runs the `git` command line in `dir`; fails the test when git is
/// missing (partial clones are made by git itself) or the command fails.
fn git_cli(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the `git` command line is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the clone holds object `oid`, asked without fetching it.
fn has_object(clone: &Path, oid: &str) -> bool {
    std::process::Command::new("git")
        .args(["cat-file", "-e", oid])
        .current_dir(clone)
        .env("GIT_NO_LAZY_FETCH", "1")
        .status()
        .expect("git runs")
        .success()
}

#[test]
fn a_blobless_checkout_fetches_the_touched_packs_and_nothing_else() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    let repo = git2::Repository::init(&work).unwrap();
    let other = PACK.replace("pack safety", "pack other");
    let base = commit(
        &repo,
        &[
            ("rules/safety/safety.tenet", text(PACK)),
            ("rules/other/other.tenet", text(&other)),
        ],
        "base",
    );
    let head = commit(
        &repo,
        &[(
            "rules/safety/safety.tenet",
            text(&PACK.replace("expect_risk high", "expect_risk low")),
        )],
        "a test that fails",
    );
    let blob = |rev: String| repo.revparse_single(&rev).unwrap().id().to_string();
    let untouched = blob(format!("{head}:rules/other/other.tenet"));
    git_cli(
        t.path(),
        &["clone", "--quiet", "--bare", "work", "origin.git"],
    );
    git_cli(
        &t.path().join("origin.git"),
        &["config", "uploadpack.allowFilter", "true"],
    );
    let url = format!("file://{}", t.path().join("origin.git").display());
    git_cli(
        t.path(),
        &[
            "clone",
            "--quiet",
            "--filter=blob:none",
            "--no-checkout",
            &url,
            "clone",
        ],
    );
    let clone = t.path().join("clone");
    assert!(!has_object(&clone, &untouched), "the clone is blobless");
    let r = run(&local(&clone, &base, &head), &as_refs(&env(None)));
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    assert!(
        r.out.contains("1 failing rule test(s) in `rules/safety`"),
        "{}",
        r.out
    );
    assert!(
        !has_object(&clone, &untouched),
        "an untouched pack is not fetched"
    );
}
