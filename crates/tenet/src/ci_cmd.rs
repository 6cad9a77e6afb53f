//! `tenet ci`: the pull-request gate. Glue only: the work is in `tenet-ci`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use tenet_ci::context::{Overrides, DEFAULT_TOKEN_ENV};
use tenet_ci::gate::DEFAULT_MAX_INPUT_BYTES;
use tenet_ci::github::RetryPolicy;
use tenet_ci::{Annotations, Options};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnnotationsWhen {
    /// In GitHub Actions (GITHUB_ACTIONS=true)
    Auto,
    Always,
    Never,
}

/// Every setting has a default from the GitHub Actions environment; a flag
/// overrides it.
#[derive(Args)]
pub struct CiArgs {
    /// Base commit [default: pull_request.base.sha of GITHUB_EVENT_PATH]
    #[arg(long)]
    pub base: Option<String>,
    /// Head commit [default: pull_request.head.sha]
    #[arg(long)]
    pub head: Option<String>,
    /// Pull request to comment on [default: the event's number]
    #[arg(long)]
    pub pr: Option<u64>,
    /// Repository as owner/name [default: GITHUB_REPOSITORY]
    #[arg(long)]
    pub repo_slug: Option<String>,
    /// GitHub API root [default: GITHUB_API_URL, else https://api.github.com]
    #[arg(long)]
    pub api_url: Option<String>,
    /// Environment variable that holds the token (the token itself is never a flag)
    #[arg(long, default_value = DEFAULT_TOKEN_ENV, value_name = "NAME")]
    pub token_env: String,
    /// Event payload [default: GITHUB_EVENT_PATH]
    #[arg(long)]
    pub event_path: Option<PathBuf>,
    /// Job summary file the Markdown report is appended to [default: GITHUB_STEP_SUMMARY]
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// The git repository [default: GITHUB_WORKSPACE, else .]
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Exit 1 when a change at or above this level of the taxonomy is present, or one no rule classifies; `never`: no level fails [default: the pack's, `breaking`]
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<String>,
    /// Fail on policy-lint findings (loosened guards with no justification) [default: the pack's, on]
    #[arg(long, overrides_with = "no_fail_on_lint")]
    pub fail_on_lint: bool,
    /// Policy-lint findings do not fail the gate
    #[arg(long, overrides_with = "fail_on_lint")]
    pub no_fail_on_lint: bool,
    /// Do not create or update the PR comment
    #[arg(long)]
    pub no_comment: bool,
    /// Print GitHub workflow-command annotations
    #[arg(long, value_enum, default_value_t = AnnotationsWhen::Auto)]
    pub annotations: AnnotationsWhen,
    /// Repository configuration [default: tenet.yaml of the head commit]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rules directory holding the `semantic_diff` pack [default: the bundled rules]
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Largest artifact read, in bytes; a bigger artifact is an error (exit 2)
    #[arg(long, default_value_t = DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,
    /// Deadline of one GitHub API call, in seconds
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub api_timeout: u64,
    /// Most time spent waiting on one API call (backoff and rate limits), in seconds
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub max_wait: u64,
    /// Retries of one API call after a 5xx, a timeout or a rate limit
    #[arg(long, default_value_t = 4)]
    pub retries: usize,
    /// First backoff delay, in milliseconds
    #[arg(long, default_value_t = 1000, hide = true)]
    pub retry_base_ms: u64,
    /// Keep the report in this store, a SQLite file or a postgres:// URL shared by a CI fleet (default: not kept)
    #[arg(long, value_name = "PATH|URL")]
    pub store: Option<String>,
    /// A file holding the PostgreSQL store's password
    #[arg(long, value_name = "FILE", requires = "store")]
    pub store_password_file: Option<PathBuf>,
}

pub fn cmd_ci(a: &CiArgs) -> u8 {
    let store = match a
        .store
        .as_deref()
        .map(|s| crate::store_args::location(s, a.store_password_file.as_deref()))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    let opts = Options {
        store,
        overrides: Overrides {
            base: a.base.clone(),
            head: a.head.clone(),
            pr: a.pr,
            repo_slug: a.repo_slug.clone(),
            api_url: a.api_url.clone(),
            token_env: Some(a.token_env.clone()),
            event_path: a.event_path.clone(),
            summary: a.summary.clone(),
            workspace: a.workspace.clone(),
        },
        rules: a.rules.clone(),
        config: a.config.clone(),
        max_input_bytes: a.max_input_bytes,
        fail_on: a.fail_on.clone(),
        fail_on_lint: match (a.fail_on_lint, a.no_fail_on_lint) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        comment: !a.no_comment,
        annotations: match a.annotations {
            AnnotationsWhen::Auto => Annotations::Auto,
            AnnotationsWhen::Always => Annotations::Always,
            AnnotationsWhen::Never => Annotations::Never,
        },
        retry: RetryPolicy {
            timeout: Duration::from_secs(a.api_timeout.max(1)),
            base_delay: Duration::from_millis(a.retry_base_ms),
            retries: a.retries,
            max_wait: Duration::from_secs(a.max_wait),
        },
    };
    let env = |k: &str| std::env::var(k).ok();
    tenet_ci::run(
        &opts,
        &env,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
