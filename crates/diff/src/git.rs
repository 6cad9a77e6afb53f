//! Two git revisions as artifact pairs: what `tenet diff --base/--head` and
//! the CI gate (`tenet ci`) read.
//!
//! Both sides are read from git objects, never from the working tree (on a
//! pull request the checkout is usually a merge commit, neither base nor
//! head). The repository's `tenet.yaml` is the head's, unless one is given.
//! [`read`] gives the pairs, the resolved SHAs, the repository name, and the
//! `Justification:` trailers of the commits between base and head for the
//! policy lint; [`Revisions::into_report`] judges them.

use super::classify::Classifier;
use super::repo::{self, ArtifactPair, RepoConfig};
use super::report::{self, Build, DiffError, Lint, Report, Trailer};
use std::collections::BTreeMap;
use std::path::Path;

/// What to read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository configuration; `None`: the head's `tenet.yaml`.
    pub config: Option<RepoConfig>,
    /// Largest artifact read, in bytes (`--max-input-bytes`).
    pub max_input_bytes: u64,
    /// Repository name for the report; `None`: remote `origin`, else the folder name.
    pub repository: Option<String>,
    /// Read the `Justification:` trailers between base and head.
    pub trailers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: None,
            max_input_bytes: repo::DEFAULT_MAX_INPUT_BYTES,
            repository: None,
            trailers: true,
        }
    }
}

/// Two revisions, read.
#[derive(Debug, Clone)]
pub struct Revisions {
    /// The base commit's SHA.
    pub base: String,
    /// The head commit's SHA.
    pub head: String,
    pub repository: String,
    pub config: RepoConfig,
    pub pairs: Vec<ArtifactPair>,
    /// `Justification:` trailers of the commits between base and head.
    pub trailers: Vec<Trailer>,
    /// Why the trailers could not be read, when they could not (the lint
    /// then sees none; the diff goes on).
    pub trailer_warning: Option<String>,
    /// Every file of the base tree (path → bytes), artifacts or not.
    pub base_files: BTreeMap<String, Vec<u8>>,
    /// Every file of the head tree.
    pub head_files: BTreeMap<String, Vec<u8>>,
}

/// The commit SHA a revision names (a tree's id when it names a tree).
pub fn resolve(repo: &git2::Repository, rev: &str) -> Result<String, String> {
    let obj = repo
        .revparse_single(rev)
        .map_err(|e| format!("unknown revision `{rev}`: {}", e.message()))?;
    Ok(obj
        .peel_to_commit()
        .map(|c| c.id().to_string())
        .unwrap_or_else(|_| obj.id().to_string()))
}

/// The repository's name: the URL of remote `origin`, else the folder name.
pub fn repository_name(repo: &git2::Repository) -> String {
    repo.find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(str::to_string))
        .or_else(|| {
            repo.workdir()
                .and_then(|w| w.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "local".into())
}

/// Reads `base` and `head` (any revisions git understands) of `repo`.
///
/// Errors name the revision or the file: an unknown revision, a broken
/// `tenet.yaml`, an artifact over the size cap.
pub fn read(
    repo: &git2::Repository,
    base: &str,
    head: &str,
    opts: Options,
) -> Result<Revisions, String> {
    let (base_sha, head_sha) = (resolve(repo, base)?, resolve(repo, head)?);
    let cap = opts.max_input_bytes;
    let (base_files, mut oversize) = repo::read_git_tree_capped(repo, &base_sha, cap)?;
    let (head_files, over_head) = repo::read_git_tree_capped(repo, &head_sha, cap)?;
    oversize.extend(over_head);
    let config = match opts.config {
        Some(c) => c,
        None => repo::config_from_git(repo, &head_sha)?,
    };
    config.check_sizes(&oversize, cap)?;
    let pairs = config.pairs(&base_files, &head_files);
    let repository = opts.repository.unwrap_or_else(|| repository_name(repo));
    let (trailers, trailer_warning) = if opts.trailers {
        match justification_trailers(repo, &base_sha, &head_sha) {
            Ok(t) => (t, None),
            Err(e) => (Vec::new(), Some(format!("cannot read the commits between base and head ({e}); the policy lint sees no `Justification:` trailers"))),
        }
    } else {
        (Vec::new(), None)
    };
    Ok(Revisions {
        base: base_sha,
        head: head_sha,
        repository,
        config,
        pairs,
        trailers,
        trailer_warning,
        base_files,
        head_files,
    })
}

impl Revisions {
    /// Detects and classifies every pair (see [`report::build_with`]); the
    /// lint is on unless `lint_off`. Consumes the revisions: the pairs hold
    /// every artifact's text, which is not copied.
    pub fn into_report(
        self,
        classifier: &Classifier<'_>,
        lint_off: bool,
        threshold: Option<String>,
    ) -> Result<Report, Vec<DiffError>> {
        let lint = Lint {
            off: lint_off,
            trailers: self.trailers,
        };
        report::build_with(
            Build {
                base: self.base,
                head: self.head,
                repository: Some(self.repository),
                pairs: self.pairs,
                consumers: &self.config.consumers,
                threshold,
            },
            &lint,
            classifier,
        )
    }

    /// Paths whose bytes differ between base and head (added, removed or
    /// modified), sorted.
    pub fn changed_paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .base_files
            .keys()
            .chain(self.head_files.keys())
            .map(String::as_str)
            .filter(|p| self.base_files.get(*p) != self.head_files.get(*p))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The `Justification:` trailers (git's trailer syntax, key case-insensitive)
/// of the commits reachable from head and not from base, each with the files
/// its commit changed (against its first parent): a trailer justifies the
/// policy changes of those files.
pub fn justification_trailers(
    repo: &git2::Repository,
    base: &str,
    head: &str,
) -> Result<Vec<Trailer>, String> {
    let git = |e: git2::Error| e.message().to_string();
    let mut walk = repo.revwalk().map_err(git)?;
    walk.push(git2::Oid::from_str(head).map_err(git)?)
        .map_err(git)?;
    walk.hide(git2::Oid::from_str(base).map_err(git)?)
        .map_err(git)?;
    let mut out = Vec::new();
    for id in walk {
        let commit = repo.find_commit(id.map_err(git)?).map_err(git)?;
        let Ok(message) = commit.message() else {
            continue;
        };
        let Ok(trailers) = git2::message_trailers_strs(message) else {
            continue;
        };
        let texts: Vec<String> = trailers
            .iter()
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("justification"))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if texts.is_empty() {
            continue;
        }
        let tree = commit.tree().map_err(git)?;
        let parent = match commit.parents().next() {
            Some(p) => Some(p.tree().map_err(git)?),
            None => None,
        };
        let diff = repo
            .diff_tree_to_tree(parent.as_ref(), Some(&tree), None)
            .map_err(git)?;
        let mut paths: Vec<String> = Vec::new();
        for d in diff.deltas() {
            for f in [d.old_file(), d.new_file()] {
                if let Some(p) = f.path().and_then(Path::to_str) {
                    if !paths.iter().any(|x| x == p) {
                        paths.push(p.to_string());
                    }
                }
            }
        }
        for text in texts {
            out.push(Trailer {
                commit: commit.id().to_string(),
                text,
                paths: paths.clone(),
            });
        }
    }
    Ok(out)
}
