//! `tenet hook`: install, uninstall and run the pre-commit hook.
//!
//! Glue only: the work is in `tenet_hooks` (`install`, `precommit`).

use crate::exit;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;
use tenet_hooks::install::{self, Foreign, Installed, Uninstalled};
use tenet_hooks::precommit::{self, JUSTIFICATION_ENV};

#[derive(Subcommand)]
pub enum HookCommand {
    /// Install the pre-commit hook (in core.hooksPath when set); a hook already there is chained to, never lost
    Install {
        /// Run a pre-commit hook that is already there first, and stop on its failure (the default)
        #[arg(long, conflicts_with = "force")]
        chain: bool,
        /// Replace a pre-commit hook that is already there (kept as pre-commit.tenet-replaced; uninstall puts it back)
        #[arg(long)]
        force: bool,
        /// The git repository (default: the one containing the current directory)
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
    /// Remove tenet's pre-commit hook and put back the hook that was there before, if any
    Uninstall {
        /// The git repository (default: the one containing the current directory)
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
    /// Run a hook: judge what is staged (the index against HEAD), never the working tree
    Run {
        /// The hook to run
        #[arg(value_enum)]
        hook: HookName,
        /// Block the commit when a staged change is at or above this level of the taxonomy (or unclassified); `never`: only packs and artifacts that do not parse block [default: the pack's, `breaking`]
        #[arg(long, value_name = "LEVEL")]
        fail_on: Option<String>,
        /// Block on policy-lint findings (loosened guards with no justification) [default: the pack's, on]
        #[arg(long, overrides_with = "no_fail_on_lint")]
        fail_on_lint: bool,
        /// Do not block on policy-lint findings
        #[arg(long, overrides_with = "fail_on_lint")]
        no_fail_on_lint: bool,
        /// Rules directory holding the `semantic_diff` pack (default: the bundled rules)
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The audit log's store: a SQLite file or a postgres:// URL (default: .tenet/tenet.db at the repository root)
        #[arg(long, value_name = "PATH|URL")]
        store: Option<String>,
        /// A file holding the PostgreSQL store's password
        #[arg(long, value_name = "FILE")]
        store_password_file: Option<PathBuf>,
        /// The git repository (default: the one git names in the environment, or the current directory's)
        #[arg(long)]
        repo: Option<PathBuf>,
        /// Largest staged artifact read, in bytes; a bigger one is an error (exit 2)
        #[arg(long, default_value_t = tenet_diff::repo::DEFAULT_MAX_INPUT_BYTES)]
        max_input_bytes: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    PreCommit,
}

/// The `tenet` the hook should call: this binary, by its absolute path
/// (`tenet` on PATH when that cannot be known).
fn this_binary() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok().or(Some(p)))
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "tenet".into())
}

pub fn cmd_hook(cmd: &HookCommand) -> u8 {
    match cmd {
        HookCommand::Install { force, repo, .. } => {
            let hooks = match install::hooks_dir(repo) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::ERROR;
                }
            };
            let foreign = if *force {
                Foreign::Replace
            } else {
                Foreign::Chain
            };
            let hook = hooks.join(install::HOOK);
            match install::install(&hooks, &this_binary(), foreign) {
                Ok(done) => {
                    let what = match done {
                        Installed::Fresh => "installed".to_string(),
                        Installed::Updated { changed: true } => "updated".to_string(),
                        Installed::Updated { changed: false } => "already installed".to_string(),
                        Installed::Chained => format!(
                            "installed; the hook that was there is now {} and runs first",
                            hooks.join(install::CHAINED).display()
                        ),
                        Installed::Replaced => format!(
                            "installed; the hook that was there is kept as {} (not run; `tenet hook uninstall` puts it back)",
                            hooks.join(install::REPLACED).display()
                        ),
                    };
                    outln!("tenet pre-commit hook {what}: {}", hook.display());
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::ERROR
                }
            }
        }
        HookCommand::Uninstall { repo } => {
            let hooks = match install::hooks_dir(repo) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::ERROR;
                }
            };
            let hook = hooks.join(install::HOOK);
            match install::uninstall(&hooks) {
                Ok(Uninstalled::Removed) => {
                    outln!("tenet pre-commit hook removed: {}", hook.display());
                    exit::OK
                }
                Ok(Uninstalled::Restored(name)) => {
                    outln!(
                        "tenet pre-commit hook removed; {} is back in place as {}",
                        name,
                        hook.display()
                    );
                    exit::OK
                }
                Ok(Uninstalled::NotInstalled) => {
                    outln!("no tenet pre-commit hook in {}", hooks.display());
                    exit::OK
                }
                Ok(Uninstalled::Foreign) => {
                    outln!("{} is not tenet's hook: left as it is", hook.display());
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::ERROR
                }
            }
        }
        HookCommand::Run {
            hook: HookName::PreCommit,
            fail_on,
            fail_on_lint,
            no_fail_on_lint,
            rules,
            store,
            store_password_file,
            repo,
            max_input_bytes,
        } => {
            if store.is_none() && store_password_file.is_some() {
                eprintln!(
                    "error: --store-password-file is for a postgres:// store: give it with --store"
                );
                return exit::ERROR;
            }
            let store = match store
                .as_deref()
                .map(|s| crate::store_args::location(s, store_password_file.as_deref()))
                .transpose()
            {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::ERROR;
                }
            };
            let opts = precommit::Options {
                repo: repo.clone(),
                rules: rules.clone(),
                fail_on: fail_on.clone(),
                fail_on_lint: match (fail_on_lint, no_fail_on_lint) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                store,
                justification: std::env::var(JUSTIFICATION_ENV).ok(),
                max_input_bytes: *max_input_bytes,
            };
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            precommit::run(&opts, &mut out, &mut err)
        }
    }
}
