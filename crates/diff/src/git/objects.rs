//! Blobs by id, read from the object store; those a partial clone lacks
//! are fetched through the git command line.
//!
//! A clone made with `--filter=blob:none` (as CI checkouts often are) holds
//! every commit and tree but only the blobs it checked out; git fetches the
//! others from the promisor remote when something asks for them. libgit2
//! cannot: to it such a blob is simply not found. So blobs are read through
//! git2 first, and the missing ones go, all in one process, to
//! `git cat-file --batch`, which fetches them. A blob that git cannot fetch
//! either is an error naming its path, side and id, with the command that
//! gets it once the remote is reachable.
//!
//! Callers ask only for the blobs they need (the changed artifacts, the
//! head's `tenet.yaml`), so a partial clone fetches those and nothing else.

use crate::repo::Oversize;
use git2::{ErrorCode, Oid, Repository};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// A blob to read, and where it is (for errors and size limits).
#[derive(Debug, Clone)]
pub struct Want {
    pub path: String,
    /// `base` or `head`.
    pub side: &'static str,
    pub id: Oid,
}

/// Blob bytes by id.
pub type Blobs = HashMap<Oid, Vec<u8>>;

/// Reads the wanted blobs. One over `max_bytes` is not kept: its path is
/// listed in [`Oversize`] with its size.
pub fn read(
    repo: &Repository,
    wants: &[Want],
    max_bytes: u64,
) -> Result<(Blobs, Oversize), String> {
    let odb = repo
        .odb()
        .map_err(|e| format!("cannot open the object store: {}", e.message()))?;
    let mut blobs = Blobs::new();
    let mut oversize = Oversize::new();
    let mut missing: Vec<&Want> = Vec::new();
    for w in wants {
        if blobs.contains_key(&w.id) {
            continue;
        }
        match odb.read_header(w.id) {
            Ok((size, _)) if size as u64 > max_bytes => {
                oversize.insert(w.path.clone(), size as u64);
            }
            Ok(_) => {
                let object = odb.read(w.id).map_err(|e| unreadable(w, &e))?;
                blobs.insert(w.id, object.data().to_vec());
            }
            Err(e) if e.code() == ErrorCode::NotFound => missing.push(w),
            Err(e) => return Err(unreadable(w, &e)),
        }
    }
    if missing.is_empty() {
        return Ok((blobs, oversize));
    }
    let mut ids: Vec<Oid> = missing.iter().map(|w| w.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let (mut fetched, reason) = match cat_file(repo, &ids) {
        Ok((found, stderr)) => (found, git_said(&stderr)),
        Err(e) => (
            Blobs::new(),
            format!("the `git` command, which fetches missing blobs, could not be run ({e})"),
        ),
    };
    let mut lacking = Vec::new();
    for w in missing {
        match fetched.get(&w.id) {
            Some(bytes) if bytes.len() as u64 > max_bytes => {
                oversize.insert(w.path.clone(), bytes.len() as u64);
            }
            Some(_) => {
                if let Some(bytes) = fetched.remove(&w.id) {
                    blobs.insert(w.id, bytes);
                }
            }
            None if blobs.contains_key(&w.id) => {}
            None => lacking.push(w),
        }
    }
    if lacking.is_empty() {
        Ok((blobs, oversize))
    } else {
        Err(missing_error(repo, &lacking, &reason))
    }
}

fn unreadable(w: &Want, e: &git2::Error) -> String {
    format!(
        "`{}` at {}: cannot read blob {}: {}",
        w.path,
        w.side,
        w.id,
        e.message()
    )
}

/// `git cat-file --batch` over `ids`: the blobs it printed (it fetches
/// what a partial clone lacks) and what it said on standard error.
fn cat_file(repo: &Repository, ids: &[Oid]) -> std::io::Result<(Blobs, String)> {
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["cat-file", "--batch"])
        // Never wait for a password nobody will type.
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let input: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let stdin = child.stdin.take();
    // Written from another thread: git answers while it reads, and a full
    // output pipe would otherwise stop both sides.
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(input.as_bytes());
            }
        });
        child.wait_with_output()
    })?;
    Ok((
        parse_batch(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// The blobs of `git cat-file --batch` output: `<id> blob <size>\n<bytes>\n`
/// per object found, `<id> missing\n` per object not found.
fn parse_batch(mut out: &[u8]) -> Blobs {
    let mut found = Blobs::new();
    while let Some(nl) = out.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&out[..nl]).into_owned();
        out = &out[nl + 1..];
        let mut parts = header.split(' ');
        let (Some(id), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(id), Ok(size)) = (Oid::from_str(id), size.parse::<usize>()) else {
            break;
        };
        let Some(bytes) = out.get(..size) else {
            break;
        };
        if kind == "blob" {
            found.insert(id, bytes.to_vec());
        }
        out = out.get(size + 1..).unwrap_or_default();
    }
    found
}

/// Git's reason, from its standard error: its `fatal:`/`error:` lines.
fn git_said(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .map(|l| l.trim_end_matches('.'))
        .collect();
    if lines.is_empty() {
        "git could not fetch it".into()
    } else {
        format!("git said: {}", lines.join("; "))
    }
}

/// The promisor remote of a partial clone and its URL: the remote marked
/// `promisor = true` (git since 2.27), else the one
/// `extensions.partialClone` names (older clones).
fn promisor(repo: &Repository) -> Option<(String, String)> {
    let config = repo.config().ok()?.snapshot().ok()?;
    let marked = repo.remotes().ok().and_then(|names| {
        names
            .iter()
            .filter_map(|n| n.ok().flatten())
            .find(|n| config.get_bool(&format!("remote.{n}.promisor")) == Ok(true))
            .map(str::to_string)
    });
    let name = marked.or_else(|| config.get_string("extensions.partialclone").ok())?;
    let url = config
        .get_string(&format!("remote.{name}.url"))
        .unwrap_or_else(|_| "no URL".into());
    Some((name, url))
}

fn missing_error(repo: &Repository, lacking: &[&Want], reason: &str) -> String {
    let place = match promisor(repo) {
        Some((name, url)) => format!(
            "this partial clone, and could not be fetched from its promisor remote `{name}` ({url})"
        ),
        None => {
            "the repository, which is not a partial clone (`git fsck` tells what else is missing)"
                .into()
        }
    };
    let mut s = String::new();
    for (i, w) in lacking.iter().enumerate() {
        if i == 0 {
            s.push_str(&format!(
                "`{}` at {}: blob {} is not in {place}: {reason}",
                w.path, w.side, w.id
            ));
        } else {
            s.push_str(&format!(
                "\n  also missing: `{}` at {}: blob {}",
                w.path, w.side, w.id
            ));
        }
    }
    let dir = repo.workdir().unwrap_or(repo.path()).display().to_string();
    let dir = dir.trim_end_matches('/');
    let first = lacking
        .first()
        .map(|w| w.id.to_string())
        .unwrap_or_default();
    s.push_str(&format!(
        "\nhelp: once the remote is reachable, `git -C {dir} cat-file -e {first}` fetches a missing blob (git fetches on demand); or check out without `--filter`"
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_gives_blobs_and_skips_missing_ones() {
        let a = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391";
        let b = "0123456789012345678901234567890123456789";
        let c = "9daeafb9864cf43055ae93beb0afd6c7d144bfa4";
        let out = format!("{a} blob 0\n\n{b} missing\n{c} blob 5\nte\nst\n");
        let found = parse_batch(out.as_bytes());
        assert_eq!(found.len(), 2);
        assert_eq!(found[&Oid::from_str(a).unwrap()], b"");
        assert_eq!(found[&Oid::from_str(c).unwrap()], b"te\nst");
        // Cut short (git died mid-answer): what came whole is kept.
        let found = parse_batch(format!("{a} blob 0\n\n{c} blob 5\nte").as_bytes());
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn gits_reason_is_its_fatal_lines() {
        let said = git_said("remote: x\nfatal: 'o' does not appear to be a git repository\nfatal: could not fetch 12ab from promisor remote\n");
        assert_eq!(
            said,
            "git said: fatal: 'o' does not appear to be a git repository; fatal: could not fetch 12ab from promisor remote"
        );
        assert_eq!(git_said(""), "git could not fetch it");
    }
}
