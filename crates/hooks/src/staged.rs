//! What is staged: the index against `HEAD`, read through git2, never the
//! working tree.
//!
//! Only the paths the index changes are read (a repository of thousands of
//! artifacts with five staged edits reads ten blobs). A repository with no
//! commit yet compares the index with an empty tree. `GIT_INDEX_FILE` is
//! honoured, so `git commit -a` and `git commit PATH`, which stage into a
//! temporary index before running the hook, are judged on what they will
//! commit.

use git2::Repository;
use git2::{Delta, DiffFile, DiffFindOptions, DiffOptions, ErrorCode, FileMode, Index, Oid};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tenet_diff::repo::Oversize;

/// How a staged path changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Added,
    Modified,
    Deleted,
    /// Renamed (possibly edited too) from this path.
    Renamed {
        from: String,
    },
}

/// One path the index changes against `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPath {
    /// The path in the index (for a deletion: the path in `HEAD`).
    pub path: String,
    pub status: Status,
}

/// The staged changes: their paths and the base (`HEAD`) and head (index)
/// bytes of the changed files only, keyed by their index path (a renamed
/// file's base is kept under its new path, so the pair is its edit, not a
/// removal and an addition). Symlinks and submodules are left out; blobs
/// over the size cap are listed in `oversize`, unread.
#[derive(Debug, Default)]
pub struct StagedChanges {
    pub paths: Vec<StagedPath>,
    pub base: BTreeMap<String, Vec<u8>>,
    pub head: BTreeMap<String, Vec<u8>>,
    pub oversize: Oversize,
}

/// A repository and the index a commit would be made from.
pub struct StagedRepo {
    repo: Repository,
    index: Index,
    head: Option<Oid>,
    workdir: PathBuf,
}

fn git(context: &str) -> impl Fn(git2::Error) -> String + '_ {
    move |e| format!("{context}: {}", e.message())
}

fn rel(f: &DiffFile<'_>) -> Option<String> {
    f.path().map(|p| p.to_string_lossy().replace('\\', "/"))
}

/// A regular file (not a symlink, a submodule or nothing at all).
fn is_file(f: &DiffFile<'_>) -> bool {
    !f.id().is_zero() && matches!(f.mode(), FileMode::Blob | FileMode::BlobExecutable)
}

impl StagedRepo {
    /// The repository at or above `dir`, or (with `None`) the one git names
    /// in the environment (`GIT_DIR`, as in a hook) or the current directory
    /// is in. The index is `GIT_INDEX_FILE` when set, else the repository's.
    pub fn open(dir: Option<&Path>) -> Result<StagedRepo, String> {
        let repo = match dir {
            Some(d) => Repository::discover(d),
            None => Repository::open_from_env(),
        }
        .map_err(|e| {
            format!(
                "{}: not in a git repository: {}",
                dir.unwrap_or(Path::new(".")).display(),
                e.message()
            )
        })?;
        let workdir = repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| "a bare repository has no index to judge".to_string())?;
        let index = match std::env::var_os("GIT_INDEX_FILE").filter(|p| !p.is_empty()) {
            Some(p) => {
                let p = PathBuf::from(p);
                let p = if p.is_relative() {
                    std::env::current_dir()
                        .map_err(|e| format!("GIT_INDEX_FILE: {e}"))?
                        .join(p)
                } else {
                    p
                };
                Index::open(&p).map_err(git(&format!("index {}", p.display())))?
            }
            None => repo.index().map_err(git("cannot read the index"))?,
        };
        let head = match repo.head() {
            Ok(r) => Some(
                r.peel_to_commit()
                    .map_err(git("HEAD is not a commit"))?
                    .id(),
            ),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
            Err(e) => return Err(format!("cannot read HEAD: {}", e.message())),
        };
        Ok(StagedRepo {
            repo,
            index,
            head,
            workdir,
        })
    }

    /// The commit `HEAD` names (`None` before the first commit). A detached
    /// `HEAD` is its commit like any other.
    pub fn head(&self) -> Option<Oid> {
        self.head
    }

    /// The working tree's root.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The changes staged against `HEAD` (renames found by similarity), with
    /// the bytes of the changed files only.
    pub fn staged(&self, max_bytes: u64) -> Result<StagedChanges, String> {
        let base_tree = match self.head {
            Some(id) => Some(
                self.repo
                    .find_commit(id)
                    .and_then(|c| c.tree())
                    .map_err(git("cannot read HEAD's tree"))?,
            ),
            None => None,
        };
        let mut opts = DiffOptions::new();
        opts.include_typechange(true).ignore_submodules(true);
        let mut diff = self
            .repo
            .diff_tree_to_index(base_tree.as_ref(), Some(&self.index), Some(&mut opts))
            .map_err(git("cannot compare the index with HEAD"))?;
        diff.find_similar(Some(DiffFindOptions::new().renames(true)))
            .map_err(git("cannot find renames"))?;
        let mut out = StagedChanges::default();
        for d in diff.deltas() {
            let (old, new) = (d.old_file(), d.new_file());
            let (status, path) = match d.status() {
                Delta::Added | Delta::Copied => (Status::Added, rel(&new)),
                Delta::Deleted => (Status::Deleted, rel(&old)),
                Delta::Modified | Delta::Typechange => (Status::Modified, rel(&new)),
                Delta::Renamed => (
                    Status::Renamed {
                        from: rel(&old).unwrap_or_default(),
                    },
                    rel(&new),
                ),
                Delta::Conflicted => {
                    return Err(format!(
                        "{}: unmerged (resolve the conflict and stage the result first)",
                        rel(&new).or_else(|| rel(&old)).unwrap_or_default()
                    ))
                }
                _ => continue,
            };
            let Some(path) = path else { continue };
            if status != Status::Added && is_file(&old) {
                self.read_into(&path, old.id(), max_bytes, &mut out.base, &mut out.oversize)?;
            }
            if status != Status::Deleted && is_file(&new) {
                self.read_into(&path, new.id(), max_bytes, &mut out.head, &mut out.oversize)?;
            }
            out.paths.push(StagedPath { path, status });
        }
        Ok(out)
    }

    fn read_into(
        &self,
        path: &str,
        id: Oid,
        max_bytes: u64,
        into: &mut BTreeMap<String, Vec<u8>>,
        oversize: &mut Oversize,
    ) -> Result<(), String> {
        let odb = self
            .repo
            .odb()
            .map_err(git("cannot open the object store"))?;
        let (size, _) = odb
            .read_header(id)
            .map_err(git(&format!("{path}: cannot read blob {id}")))?;
        if size as u64 > max_bytes {
            oversize.insert(path.to_string(), size as u64);
            return Ok(());
        }
        let blob = self
            .repo
            .find_blob(id)
            .map_err(git(&format!("{path}: cannot read blob {id}")))?;
        into.insert(path.to_string(), blob.content().to_vec());
        Ok(())
    }

    /// The staged bytes of one file (`None`: not in the index, or not a
    /// regular file).
    pub fn index_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(entry) = self.index.get_path(Path::new(path), 0) else {
            return Ok(None);
        };
        if !is_regular(entry.mode) {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(entry.id)
            .map_err(git(&format!("{path}: cannot read the staged file")))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// The paths of the index's regular files (merged entries only), sorted.
    pub fn index_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .index
            .iter()
            .filter(|e| (e.flags >> 12) & 3 == 0 && is_regular(e.mode))
            .filter_map(|e| String::from_utf8(e.path).ok())
            .collect();
        out.sort();
        out
    }

    /// The id of the tree the index would commit (written to the object
    /// store, as `git commit` does).
    pub fn staged_tree(&mut self) -> Result<String, String> {
        self.index
            .write_tree_to(&self.repo)
            .map(|id| id.to_string())
            .map_err(git("cannot write the staged tree"))
    }

    /// Who commits: git's `user.email` (else `GIT_AUTHOR_EMAIL`, else
    /// `unknown`).
    pub fn actor(&self) -> String {
        self.repo
            .config()
            .and_then(|c| c.get_string("user.email"))
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                std::env::var("GIT_AUTHOR_EMAIL")
                    .ok()
                    .filter(|s| !s.trim().is_empty())
            })
            .unwrap_or_else(|| "unknown".into())
    }
}

/// A regular (possibly executable) file's mode in the index.
fn is_regular(mode: u32) -> bool {
    matches!(mode, 0o100644 | 0o100755 | 0o100664)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    use super::*;

    pub(crate) struct TestRepo {
        pub dir: tempfile::TempDir,
        pub repo: Repository,
    }

    impl TestRepo {
        pub fn new() -> TestRepo {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repository::init(dir.path()).unwrap();
            repo.config()
                .unwrap()
                .set_str("user.email", "unit@example.com")
                .unwrap();
            TestRepo { dir, repo }
        }
        pub fn put(&self, rel: &str, bytes: impl AsRef<[u8]>) {
            let p = self.dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            let mut i = self.repo.index().unwrap();
            i.add_path(Path::new(rel)).unwrap();
            i.write().unwrap();
        }
        pub fn rm(&self, rel: &str) {
            std::fs::remove_file(self.dir.path().join(rel)).unwrap();
            let mut i = self.repo.index().unwrap();
            i.remove_path(Path::new(rel)).unwrap();
            i.write().unwrap();
        }
        pub fn commit(&self) {
            let mut i = self.repo.index().unwrap();
            let tree = self.repo.find_tree(i.write_tree().unwrap()).unwrap();
            let sig = git2::Signature::now("u", "unit@example.com").unwrap();
            let parent = self.repo.head().ok().map(|h| h.peel_to_commit().unwrap());
            let parents: Vec<&git2::Commit> = parent.iter().collect();
            self.repo
                .commit(Some("HEAD"), &sig, &sig, "c", &tree, &parents)
                .unwrap();
        }
        pub fn open(&self) -> StagedRepo {
            StagedRepo::open(Some(self.dir.path())).unwrap()
        }
    }

    fn keys(m: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn only_the_staged_paths_are_read() {
        let t = TestRepo::new();
        for i in 0..200 {
            t.put(&format!("api/a{i:03}.yaml"), format!("a: {i}\n"));
        }
        t.commit();
        for i in [3, 50, 120] {
            t.put(&format!("api/a{i:03}.yaml"), format!("a: {}\n", i + 1000));
        }
        t.put("api/new.yaml", "b: 1\n");
        t.rm("api/a199.yaml");
        // Edited in the working tree only: not staged, not read.
        std::fs::write(t.dir.path().join("api/a000.yaml"), "a: changed\n").unwrap();
        let s = t.open().staged(u64::MAX).unwrap();
        assert_eq!(s.paths.len(), 5, "{:?}", s.paths);
        assert_eq!(
            keys(&s.base),
            [
                "api/a003.yaml",
                "api/a050.yaml",
                "api/a120.yaml",
                "api/a199.yaml"
            ]
        );
        assert_eq!(
            keys(&s.head),
            [
                "api/a003.yaml",
                "api/a050.yaml",
                "api/a120.yaml",
                "api/new.yaml"
            ]
        );
        assert_eq!(s.head["api/a003.yaml"], b"a: 1003\n");
        assert_eq!(s.base["api/a003.yaml"], b"a: 3\n");
        let deleted = s.paths.iter().find(|p| p.path == "api/a199.yaml").unwrap();
        assert_eq!(deleted.status, Status::Deleted);
    }

    #[test]
    fn before_the_first_commit_everything_staged_is_added() {
        let t = TestRepo::new();
        t.put("a.yaml", "a: 1\n");
        t.put("b/c.json", "{}");
        let r = t.open();
        assert_eq!(r.head(), None);
        let s = r.staged(u64::MAX).unwrap();
        assert!(s.base.is_empty());
        assert_eq!(keys(&s.head), ["a.yaml", "b/c.json"]);
        assert!(s.paths.iter().all(|p| p.status == Status::Added));
    }

    #[test]
    fn a_rename_pairs_the_old_text_with_the_new_path() {
        let t = TestRepo::new();
        let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n# padding so that similarity is measured on enough text\n";
        t.put("api/old.yaml", text);
        t.commit();
        t.rm("api/old.yaml");
        t.put("api/v2/new.yaml", format!("{text}# one more line\n"));
        let s = t.open().staged(u64::MAX).unwrap();
        assert_eq!(
            s.paths,
            [StagedPath {
                path: "api/v2/new.yaml".into(),
                status: Status::Renamed {
                    from: "api/old.yaml".into()
                }
            }]
        );
        assert_eq!(keys(&s.base), ["api/v2/new.yaml"]);
        assert_eq!(s.base["api/v2/new.yaml"], text.as_bytes());
    }

    #[test]
    fn oversize_blobs_are_listed_unread_and_the_index_is_readable() {
        let t = TestRepo::new();
        t.put("big.json", vec![b' '; 4096]);
        t.put("small.json", "{}");
        let r = t.open();
        let s = r.staged(1024).unwrap();
        assert_eq!(s.oversize.get("big.json"), Some(&4096));
        assert_eq!(keys(&s.head), ["small.json"]);
        assert_eq!(r.index_paths(), ["big.json", "small.json"]);
        assert_eq!(r.index_file("small.json").unwrap().unwrap(), b"{}");
        assert_eq!(r.index_file("nope.json").unwrap(), None);
        assert_eq!(r.actor(), "unit@example.com");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_read_as_files() {
        let t = TestRepo::new();
        t.put("real.yaml", "a: 1\n");
        std::os::unix::fs::symlink("real.yaml", t.dir.path().join("link.yaml")).unwrap();
        let mut i = t.repo.index().unwrap();
        i.add_path(Path::new("link.yaml")).unwrap();
        i.write().unwrap();
        let r = t.open();
        let s = r.staged(u64::MAX).unwrap();
        assert_eq!(keys(&s.head), ["real.yaml"]);
        assert_eq!(r.index_file("link.yaml").unwrap(), None);
    }
}
