//! Two git revisions as artifact pairs: what `tenet diff --base/--head` and
//! the CI gate (`tenet ci`) read.
//!
//! Both sides are read from git objects, never from the working tree (on a
//! pull request the checkout is usually a merge commit, neither base nor
//! head). The repository's `tenet.yaml` is the head's, unless one is given.
//! The two trees are compared by blob id, and only the blobs tenet diffs
//! are read: a partial clone (`--filter=blob:none`) fetches those and no
//! others ([`objects`]).
//! [`read`] gives the pairs, the resolved SHAs, the repository name, and the
//! `Justification:` trailers of the commits between base and head for the
//! policy lint; [`Revisions::into_report`] judges them.

pub mod objects;

use super::classify::Classifier;
use super::repo::{self, ArtifactPair, RepoConfig, CONFIG_FILE};
use super::report::{self, Build, DiffError, Lint, Report, Trailer};
use super::Side;
use git2::{FileMode, Oid};
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
    /// The regular files that differ between base and head (added, removed
    /// or modified, artifacts or not), sorted.
    changed: Vec<String>,
    /// Every regular file of the head tree and its blob (not read).
    head_tree: BTreeMap<String, Oid>,
    max_input_bytes: u64,
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
/// Only the blobs tenet diffs are read: the head's `tenet.yaml` and the
/// artifacts whose blob ids differ between the two trees (see [`objects`]
/// for a partial clone, which lacks them until asked).
///
/// Errors name the revision or the file: an unknown revision, a broken
/// `tenet.yaml`, an artifact over the size cap, a blob that a partial clone
/// lacks and cannot fetch.
pub fn read(
    repo: &git2::Repository,
    base: &str,
    head: &str,
    opts: Options,
) -> Result<Revisions, String> {
    let (base_sha, head_sha) = (resolve(repo, base)?, resolve(repo, head)?);
    let (base_tree, head_tree) = (tree_of(repo, &base_sha)?, tree_of(repo, &head_sha)?);
    let cap = opts.max_input_bytes;
    let config = match opts.config {
        Some(c) => c,
        None => config_at(repo, &head_tree, head)?,
    };
    let changed = changed_files(repo, &base_tree, &head_tree)?;
    let mut wants = Vec::new();
    for c in changed.iter().filter(|c| config.is_artifact(&c.path)) {
        for (side, id) in [(Side::Base, c.base), (Side::Head, c.head)] {
            if let Some(id) = id {
                wants.push(objects::Want {
                    path: c.path.clone(),
                    side: side.as_str(),
                    id,
                });
            }
        }
    }
    let (blobs, oversize) = objects::read(repo, &wants, cap)?;
    config.check_sizes(&oversize, cap)?;
    let side = |pick: fn(&Changed) -> Option<Oid>| -> BTreeMap<String, Vec<u8>> {
        changed
            .iter()
            .filter_map(|c| Some((c.path.clone(), blobs.get(&pick(c)?)?.clone())))
            .collect()
    };
    let pairs = config.pairs(&side(|c| c.base), &side(|c| c.head));
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
        changed: changed.into_iter().map(|c| c.path).collect(),
        head_tree: files_of(&head_tree)?,
        max_input_bytes: cap,
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
        self.changed.iter().map(String::as_str).collect()
    }

    /// The paths of the head tree's regular files, sorted (no blob is read).
    pub fn head_paths(&self) -> impl Iterator<Item = &str> {
        self.head_tree.keys().map(String::as_str)
    }

    /// The bytes at head of the files whose path `keep` accepts (path →
    /// bytes), read like the artifacts: fetched when a partial clone lacks
    /// them, and an error for a file over the size cap.
    pub fn read_head(
        &self,
        repo: &git2::Repository,
        keep: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let wants: Vec<objects::Want> = self
            .head_tree
            .iter()
            .filter(|(p, _)| keep(p))
            .map(|(p, id)| objects::Want {
                path: p.clone(),
                side: Side::Head.as_str(),
                id: *id,
            })
            .collect();
        let (blobs, oversize) = objects::read(repo, &wants, self.max_input_bytes)?;
        if let Some((p, n)) = oversize.iter().next() {
            return Err(format!(
                "{p}: {n} bytes is over the {}-byte limit for one file (raise it with --max-input-bytes)",
                self.max_input_bytes
            ));
        }
        Ok(wants
            .into_iter()
            .filter_map(|w| Some((w.path, blobs.get(&w.id)?.clone())))
            .collect())
    }
}

/// The tree a revision names (a commit's tree, or a tree).
fn tree_of<'r>(repo: &'r git2::Repository, rev: &str) -> Result<git2::Tree<'r>, String> {
    repo.revparse_single(rev)
        .map_err(|e| format!("unknown revision `{rev}`: {}", e.message()))?
        .peel_to_tree()
        .map_err(|e| format!("`{rev}` is not a commit or tree: {}", e.message()))
}

/// A blob that is a regular file (not a symlink, a submodule or nothing).
fn regular(f: &git2::DiffFile<'_>) -> Option<Oid> {
    let file = matches!(f.mode(), FileMode::Blob | FileMode::BlobExecutable);
    (file && !f.id().is_zero()).then(|| f.id())
}

/// One file that differs between base and head, by blob id.
struct Changed {
    path: String,
    /// `None`: absent at base, or not a regular file there.
    base: Option<Oid>,
    head: Option<Oid>,
}

/// The regular files whose blob ids differ between the trees, sorted, from
/// the trees alone: no blob is read. Paths in tool folders (`target/`,
/// `node_modules/`, ...) are left out, as when reading a directory.
fn changed_files(
    repo: &git2::Repository,
    base: &git2::Tree<'_>,
    head: &git2::Tree<'_>,
) -> Result<Vec<Changed>, String> {
    let mut opts = git2::DiffOptions::new();
    opts.include_typechange(true).ignore_submodules(true);
    let diff = repo
        .diff_tree_to_tree(Some(base), Some(head), Some(&mut opts))
        .map_err(|e| format!("cannot compare base and head: {}", e.message()))?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        let (old, new) = (d.old_file(), d.new_file());
        let Some(path) = new.path().or(old.path()).and_then(Path::to_str) else {
            continue;
        };
        let (base, head) = (regular(&old), regular(&new));
        // Same blob on both sides: a mode change only, the bytes are the same.
        if base == head || repo::in_skipped_dir(path) {
            continue;
        }
        out.push(Changed {
            path: path.to_string(),
            base,
            head,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Every regular file of a tree and its blob id; no blob is read.
fn files_of(tree: &git2::Tree<'_>) -> Result<BTreeMap<String, Oid>, String> {
    let mut out = BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        match entry.filemode() {
            m if m == i32::from(FileMode::Tree) => {
                return if repo::skipped_dir(entry.name().unwrap_or("")) {
                    git2::TreeWalkResult::Skip
                } else {
                    git2::TreeWalkResult::Ok
                };
            }
            m if m == i32::from(FileMode::Blob) || m == i32::from(FileMode::BlobExecutable) => {
                if let Ok(name) = entry.name() {
                    out.insert(format!("{root}{name}"), entry.id());
                }
            }
            _ => {}
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| format!("cannot list the head tree: {}", e.message()))?;
    Ok(out)
}

/// The `tenet.yaml` of a tree (`rev` names it in errors); defaults when
/// it has none.
fn config_at(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    rev: &str,
) -> Result<RepoConfig, String> {
    let entry = match tree.get_path(Path::new(CONFIG_FILE)) {
        Ok(e) if e.filemode() == i32::from(FileMode::Blob) => e,
        _ => return Ok(RepoConfig::default()),
    };
    let want = objects::Want {
        path: CONFIG_FILE.to_string(),
        side: Side::Head.as_str(),
        id: entry.id(),
    };
    let (mut blobs, _) = objects::read(repo, std::slice::from_ref(&want), u64::MAX)?;
    let bytes = blobs.remove(&want.id).unwrap_or_default();
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{CONFIG_FILE} at `{rev}` is not UTF-8"))?;
    RepoConfig::parse(&text).map_err(|e| format!("{e} (at `{rev}`)"))
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
