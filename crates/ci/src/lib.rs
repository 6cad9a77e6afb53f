//! tenet in CI: the pull-request gate (`tenet ci`), PR comments through the
//! GitHub API, workflow annotations and the job summary.
//!
//! In a GitHub Actions job on a `pull_request` event, [`run`] needs no
//! settings: the event file names base, head and PR number, the
//! environment the repository, API and token ([`context`]). It then
//!
//! 1. judges the change ([`gate`]): the semantic diff of base..head read
//!    through git with the head's `tenet.yaml` — the same code path as
//!    `tenet diff --base --head` ([`tenet_diff::git`]) — with the
//!    policy lint, and `tenet check` + `tenet test` over every rule-pack
//!    directory the change touches;
//! 2. appends the Markdown report to `GITHUB_STEP_SUMMARY` ([`summary`],
//!    capped at GitHub's 1 MiB);
//! 3. prints `::error` / `::warning` workflow commands so findings show on
//!    the diff ([`annotate`], 10 per level, then an "N more" notice);
//! 4. creates one PR comment, or updates the one it made before, found by
//!    the hidden marker [`render::MARKER`] ([`github`]: octocrab, timeouts,
//!    retries, rate-limit waits, the token never printed); when a later
//!    push leaves nothing risky the comment says so;
//! 5. exits 0 (passes), 1 (fails at `--fail-on`), or 2 (a configuration or
//!    API error, with the reason).
//!
//! It depends on `tenet-runtime` only; the GitHub client lives here, never
//! below.

pub mod annotate;
pub mod context;
pub mod gate;
pub mod github;
pub mod render;
pub mod summary;

use context::{Context, Overrides};
use github::{ApiError, ErrorKind, GitHub, RetryPolicy};
use std::io::Write;
use std::path::PathBuf;
use tenet_runtime::exit::{ERROR, FINDINGS, OK};

/// When to print workflow-command annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotations {
    /// In GitHub Actions (`GITHUB_ACTIONS=true`).
    Auto,
    Always,
    Never,
}

/// Everything [`run`] is told besides the environment.
#[derive(Debug, Clone)]
pub struct Options {
    pub overrides: Overrides,
    /// Rules holding the `semantic_diff` pack; `None`: the bundled ones.
    pub rules: Option<PathBuf>,
    /// A `tenet.yaml` to use instead of the head's.
    pub config: Option<PathBuf>,
    pub max_input_bytes: u64,
    /// `--fail-on` (a level or `never`); `None`: the pack's default.
    pub fail_on: Option<String>,
    /// Whether lint findings fail; `None`: the pack's default.
    pub fail_on_lint: Option<bool>,
    /// Post or update the PR comment (when there is a PR).
    pub comment: bool,
    pub annotations: Annotations,
    pub retry: RetryPolicy,
    /// Keep the report in this store (as `tenet diff` does), so a CI fleet
    /// can keep its reports in one shared PostgreSQL; `None`: not kept.
    pub store: Option<tenet_store::Location>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            overrides: Overrides::default(),
            rules: None,
            config: None,
            max_input_bytes: gate::DEFAULT_MAX_INPUT_BYTES,
            fail_on: None,
            fail_on_lint: None,
            comment: true,
            annotations: Annotations::Auto,
            retry: RetryPolicy::default(),
            store: None,
        }
    }
}

/// Runs the gate. Annotations, the report (outside Actions) and the verdict
/// go to `out`; errors and notes to `err`. `env` reads one environment
/// variable. Returns the exit code.
pub fn run(
    opts: &Options,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let ctx = match context::resolve(&opts.overrides, env) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return ERROR;
        }
    };
    // Settle whether a comment can be posted before any work.
    let target = match comment_target(opts, &ctx) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return ERROR;
        }
    };
    if opts.comment && ctx.pr.is_none() {
        let _ = writeln!(
            err,
            "note: no pull request number (not a pull_request event, and no --pr): no PR comment"
        );
    }
    let outcome = match gate::evaluate(&gate::GateOptions {
        repo: ctx.workspace.clone(),
        base: ctx.base.clone(),
        head: ctx.head.clone(),
        rules: opts.rules.clone(),
        config: opts.config.clone(),
        max_input_bytes: opts.max_input_bytes,
        fail_on: opts.fail_on.clone(),
        fail_on_lint: opts.fail_on_lint,
        repository: ctx.slug.clone(),
    }) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return ERROR;
        }
    };
    for w in &outcome.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    let mut failed = false;
    match &ctx.summary {
        Some(path) => {
            let whole = format!(
                "`tenet diff --base {} --head {} --format md`",
                outcome.report.base, outcome.report.head
            );
            if let Err(e) = summary::append(path, &render::summary(&outcome), &whole) {
                let _ = writeln!(err, "error: {e}");
                failed = true;
            }
        }
        None if !ctx.in_actions => {
            let _ = write!(out, "{}", render::summary(&outcome));
        }
        None => {}
    }
    let annotate = match opts.annotations {
        Annotations::Always => true,
        Annotations::Never => false,
        Annotations::Auto => ctx.in_actions,
    };
    if annotate {
        for line in annotate::render(&render::annotations(&outcome), annotate::PER_LEVEL) {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some((pr, slug, token)) = target {
        match post(&ctx, &opts.retry, pr, &slug, token, &outcome) {
            Ok(u) => {
                let verb = if u.created { "created" } else { "updated" };
                let _ = writeln!(
                    err,
                    "tenet ci: {verb} comment {} on pull request #{pr} of {slug}",
                    u.id
                );
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: cannot comment on pull request #{pr} of {slug}: {e}{}",
                    hint(&e, &ctx)
                );
                failed = true;
            }
        }
    }
    if let Some(location) = &opts.store {
        use tenet_diff::store::ReportStore;
        let repository = outcome
            .report
            .repository
            .clone()
            .or_else(|| ctx.slug.clone())
            .unwrap_or_else(|| ctx.workspace.display().to_string());
        let now = tenet_runtime::clock::system_now().rfc3339();
        match tenet_diff::store::open(location)
            .and_then(|s| s.save_report(&repository, &outcome.report, &now))
        {
            Ok(id) => {
                let _ = writeln!(err, "tenet ci: report {id} kept in {location}");
            }
            Err(e) => {
                let _ = writeln!(err, "error: the report could not be kept: {e}");
                failed = true;
            }
        }
    }
    let _ = writeln!(out, "{}", render::verdict(&outcome));
    if failed {
        ERROR
    } else if outcome.fails() {
        FINDINGS
    } else {
        OK
    }
}

type Target = Option<(u64, String, context::Token)>;

/// The pull request, repository and token to comment with, or why there
/// are none when a comment is due.
fn comment_target(opts: &Options, ctx: &Context) -> Result<Target, String> {
    let Some(pr) = ctx.pr.filter(|_| opts.comment) else {
        return Ok(None);
    };
    let slug = ctx.slug.clone().ok_or_else(|| {
        format!("cannot comment on pull request #{pr}: no repository (GITHUB_REPOSITORY is not set and no --repo-slug); or pass --no-comment")
    })?;
    let token = ctx.token.clone().ok_or_else(|| {
        format!(
            "cannot comment on pull request #{pr}: no token in ${} (give the step `env: GITHUB_TOKEN: ${{{{ github.token }}}}`, name another variable with --token-env, or pass --no-comment)",
            ctx.token_env
        )
    })?;
    Ok(Some((pr, slug, token)))
}

fn post(
    ctx: &Context,
    policy: &RetryPolicy,
    pr: u64,
    slug: &str,
    token: context::Token,
    outcome: &gate::Outcome,
) -> Result<github::Upserted, ApiError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ApiError {
            kind: ErrorKind::Invalid,
            status: None,
            message: format!("cannot start the async runtime: {e}"),
            wait: None,
        })?;
    rt.block_on(async {
        let gh = GitHub::new(&ctx.api_url, slug, token, policy.clone())?;
        gh.upsert_comment(pr, render::MARKER, |previous| {
            render::comment(outcome, previous)
        })
        .await
    })
}

/// What to do about an API error.
fn hint(e: &ApiError, ctx: &Context) -> String {
    match e.kind {
        ErrorKind::Permission => " — the token may not comment: give the job `permissions: pull-requests: write` (a pull request from a fork gets a read-only token: pass --no-comment there)".into(),
        ErrorKind::Auth => format!(" — the token in ${} is not valid", ctx.token_env),
        ErrorKind::NotFound => " — check --repo-slug and --pr (a token that cannot see a private repository gets 404)".into(),
        ErrorKind::RateLimited => " — rerun later, or raise --max-wait".into(),
        ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Server => format!(" — is {} reachable? (--api-url, GITHUB_API_URL)", ctx.api_url),
        ErrorKind::Invalid => String::new(),
    }
}
