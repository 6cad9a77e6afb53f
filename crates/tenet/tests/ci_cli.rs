//! Whole-process tests of `tenet ci`: the binary in a simulated GitHub
//! Actions job (event file, environment variables, job summary) against a
//! mock of the GitHub REST API on 127.0.0.1, over real git repositories.
//! The in-process tests of the gate and the API client are in
//! `crates/ci/tests/gate.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../ci/tests/support/mod.rs"]
mod support;

use common::Run;
use std::path::Path;
use std::process::Command;
use support::{api_head, commit, text, Fault, Mock, API_BASE};

const TOKEN: &str = "ghs_cliTokenThatMustNeverBePrinted";
const MARKER: &str = "<!-- tenet:semantic-diff -->";

/// `tenet ci ARGS` in `dir` with exactly `env` from the GitHub variables
/// (the test process's own GITHUB_* are removed).
fn tenet_ci(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = common::tenet_command();
    cmd.arg("ci").args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_") || k == "CI" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = common::run(&mut cmd);
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

struct Job {
    dir: tempfile::TempDir,
    base: String,
    head: String,
    event: String,
    summary: String,
}

fn job(pr: u64) -> Job {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit(&repo, &[("api/orders.yaml", text(API_BASE))], "base");
    let head = commit(&repo, &[("api/orders.yaml", text(&api_head()))], "head");
    let event = dir.path().join(".event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "action": "synchronize",
            "number": pr,
            "pull_request": {"number": pr, "base": {"sha": base}, "head": {"sha": head}}
        })
        .to_string(),
    )
    .unwrap();
    let summary = dir.path().join(".summary.md");
    Job {
        event: event.display().to_string(),
        summary: summary.display().to_string(),
        dir,
        base,
        head,
    }
}

fn actions_env<'a>(j: &'a Job, api: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", j.event.as_str()),
        ("GITHUB_REPOSITORY", "acme/orders"),
        ("GITHUB_API_URL", api),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_STEP_SUMMARY", j.summary.as_str()),
        ("GITHUB_WORKSPACE", j.dir.path().to_str().unwrap()),
    ]
}

#[test]
fn with_no_flags_in_an_actions_job_it_comments_annotates_summarises_and_fails_on_breaking() {
    let j = job(21);
    let mock = Mock::start(TOKEN);
    let elsewhere = tempfile::tempdir().unwrap();
    // Run from another folder: GITHUB_WORKSPACE names the repository.
    let r = tenet_ci(elsewhere.path(), &[], &actions_env(&j, &mock.url));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let seen = mock.seen();
    assert_eq!(
        seen.iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect::<Vec<_>>(),
        [
            "GET /repos/acme/orders/issues/21/comments?per_page=100",
            "POST /repos/acme/orders/issues/21/comments"
        ]
    );
    assert!(seen
        .iter()
        .all(|s| s.auth.as_deref() == Some(format!("Bearer {TOKEN}").as_str())));
    let body = mock.comments(21)[0].1.clone();
    assert!(body.starts_with(MARKER), "{body}");
    assert!(body.contains("highest risk **breaking**"), "{body}");
    assert!(r
        .stdout
        .lines()
        .any(|l| l.starts_with("::error file=api/orders.yaml,line=")));
    assert!(r
        .stdout
        .lines()
        .any(|l| l.starts_with("::warning file=api/orders.yaml,line=")));
    assert!(r
        .stdout
        .ends_with("tenet ci: the gate fails (--fail-on breaking): 1 breaking change(s)\n"));
    assert!(r.stderr.contains("created comment"), "{}", r.stderr);
    let summary = std::fs::read_to_string(&j.summary).unwrap();
    assert!(summary.contains("❌ tenet gate fails"), "{summary}");
    assert!(summary.contains(&j.head), "{summary}");

    // Again: the same comment is updated; never fail on behavioral+breaking with `never`.
    let r = tenet_ci(
        elsewhere.path(),
        &["--fail-on", "never"],
        &actions_env(&j, &mock.url),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("updated comment"), "{}", r.stderr);
    assert_eq!(mock.comments(21).len(), 1);
    assert!(mock.comments(21)[0]
        .1
        .contains("**✅ tenet gate passes** (`--fail-on never`: no level fails)"));
}

#[test]
fn flags_override_the_environment_and_outside_actions_it_prints_the_report() {
    let j = job(4);
    let mock = Mock::start(TOKEN);
    let api = mock.url.clone();
    // No GITHUB_* at all: everything from flags; the token from another variable.
    let r = tenet_ci(
        j.dir.path(),
        &[
            "--base",
            &j.base,
            "--head",
            &j.head,
            "--pr",
            "33",
            "--repo-slug",
            "acme/billing",
            "--api-url",
            &api,
            "--token-env",
            "MY_TOKEN",
        ],
        &[("MY_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("## 🔴 tenet semantic diff: highest risk **breaking**"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("::error"),
        "no annotations outside Actions"
    );
    assert_eq!(
        mock.seen()[1].path,
        "/repos/acme/billing/issues/33/comments"
    );

    // --no-comment needs no token; --fail-on behavioral.
    let r = tenet_ci(
        j.dir.path(),
        &[
            "--base",
            &j.base,
            "--head",
            &j.head,
            "--no-comment",
            "--fail-on",
            "behavioral",
            "--annotations",
            "always",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("::warning file=api/orders.yaml"));
    assert!(r.stdout.contains(
        "the gate fails (--fail-on behavioral): 1 breaking change(s); 1 behavioral change(s)"
    ));
}

#[test]
fn configuration_and_api_errors_exit_2_with_the_reason() {
    let j = job(5);
    let mock = Mock::start(TOKEN);
    let env = actions_env(&j, &mock.url);

    // A token with no permission: 403 without rate-limit headers.
    mock.fail_next(&[Fault::Forbidden]);
    let r = tenet_ci(j.dir.path(), &[], &env);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("403 Forbidden (Resource not accessible by integration)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("permissions: pull-requests: write"));

    // 500, then success: retried (tiny backoff for the test).
    mock.clear_seen();
    mock.fail_next(&[Fault::Status(500)]);
    let r = tenet_ci(j.dir.path(), &["--retry-base-ms", "1"], &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("retrying in"), "{}", r.stderr);
    assert_eq!(mock.seen().len(), 3);

    // Unreachable API: exit 2, bounded.
    let r = tenet_ci(
        j.dir.path(),
        &[
            "--api-url",
            "http://127.0.0.1:1",
            "--retries",
            "1",
            "--retry-base-ms",
            "1",
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is http://127.0.0.1:1 reachable?"),
        "{}",
        r.stderr
    );

    // Not a pull_request event and no --base.
    let push = j.dir.path().join(".push.json");
    std::fs::write(&push, r#"{"ref":"refs/heads/main"}"#).unwrap();
    let push = push.display().to_string();
    let mut env2 = env.clone();
    env2[1].1 = "push";
    env2[2].1 = push.as_str();
    let r = tenet_ci(j.dir.path(), &[], &env2);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("the `push` event has no base SHA"),
        "{}",
        r.stderr
    );

    // A level the taxonomy does not have is a usage error naming the
    // levels (the same words as `tenet diff` and the hook).
    let r = tenet_ci(j.dir.path(), &["--fail-on", "sometimes"], &env);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`sometimes` is not a level of the taxonomy; use one of: breaking, behavioral, additive, cosmetic, never"),
        "{}",
        r.stderr
    );
}

// ---- the adoption files run as written ---------------------------------------

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel),
    )
    .unwrap()
}

/// The lines of the block under `header` (a line of the file), indented
/// deeper than it, with that indentation removed.
fn block_after(text: &str, header: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim_end() != header);
    let head = lines.next().unwrap_or_else(|| panic!("no `{header}`"));
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .map(|l| l.get(indent + 2..).unwrap_or("").to_string())
        .collect()
}

fn bash(dir: &Path, script: &str, env: &[(&str, &str)]) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_tenet")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-e")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_") || k == "CI" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_gitlab_example_fails_the_pipeline_on_a_breaking_change() {
    let yml = repo_file("ci/examples/gitlab-ci.yml");
    let script: Vec<String> = block_after(&yml, "  script:")
        .into_iter()
        .filter_map(|l| l.strip_prefix("- ").map(str::to_string))
        .collect();
    assert!(script.iter().any(|l| l.contains(
        r#"tenet diff --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --head "$CI_COMMIT_SHA" --fail-on breaking"#
    )));
    let j = job(1);
    let run = |head: &str| {
        bash(
            j.dir.path(),
            &script.join("\n"),
            &[
                ("CI_MERGE_REQUEST_DIFF_BASE_SHA", j.base.as_str()),
                ("CI_COMMIT_SHA", head),
            ],
        )
    };
    let r = run(&j.head);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("## 🔴 tenet semantic diff: highest risk **breaking**"),
        "{}",
        r.stdout
    );
    assert!(
        j.dir.path().join("tenet-report.md").exists(),
        "the artifact"
    );
    let r = run(&j.base);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn the_actions_run_step_passes_its_inputs_to_tenet_ci() {
    let action = repo_file("action.yml");
    let step = block_after(&action, "    - name: tenet ci");
    let run_at = step.iter().position(|l| l.trim_end() == "run: |").unwrap();
    let script: Vec<String> = step[run_at + 1..]
        .iter()
        .map(|l| l.get(2..).unwrap_or("").to_string())
        .collect();
    let script = script.join("\n");
    assert!(
        script.contains(r#"tenet ci "${args[@]}" "${extra[@]}""#),
        "{script}"
    );
    let j = job(2);
    let mock = Mock::start(TOKEN);
    let args = format!(
        "--base {} --head {} --pr 2 --repo-slug acme/orders --api-url {} --annotations always",
        j.base, j.head, mock.url
    );
    let run = |fail_on: &str, comment: &str| {
        bash(
            j.dir.path(),
            &script,
            &[
                ("GITHUB_TOKEN", TOKEN),
                ("TENET_FAIL_ON", fail_on),
                ("TENET_COMMENT", comment),
                ("TENET_ARGS", args.as_str()),
            ],
        )
    };
    let r = run("breaking", "true");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("::error file=api/orders.yaml"),
        "{}",
        r.stdout
    );
    assert_eq!(mock.comments(2).len(), 1);
    mock.clear_seen();
    let r = run("never", "false");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(mock.seen().is_empty(), "comment: false posts nothing");
    assert!(!r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN));
}

/// A CI fleet keeps its reports in one shared PostgreSQL: `tenet ci
/// --store` keeps the report there, `tenet reports` reads it back, and a
/// store that cannot be reached is an error (exit 2), not a silent pass.
#[test]
fn ci_keeps_its_report_in_a_shared_postgres_store() {
    let j = job(5);
    let loc = tenet_store::testing::fresh_postgres();
    let url = tenet_store::testing::url(&loc);
    let args = |store: &str| -> Vec<String> {
        [
            "--base",
            &j.base,
            "--head",
            &j.head,
            "--no-comment",
            "--repo-slug",
            "acme/billing",
            "--store",
            store,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args(&url);
    let r = tenet_ci(
        j.dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("tenet ci: report 1 kept in postgres://"),
        "{}",
        r.stderr
    );
    let mut list = common::tenet_command();
    let out = list
        .args(["reports", "list", "--format", "json", "--store", &url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["repository"], "acme/billing", "{rows}");
    assert_eq!(rows[0]["head"], j.head.as_str());
    assert_eq!(rows[0]["highest_risk"], "breaking");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("postgres://tenet@127.0.0.1:{port}/tenet");
    let a = args(&gone);
    let r = tenet_ci(
        j.dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("the report could not be kept"),
        "{}",
        r.stderr
    );
}
