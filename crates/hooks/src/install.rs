//! `tenet hook install` / `uninstall`: the pre-commit hook script.
//!
//! The hook goes where git looks for it: `core.hooksPath` when set (read
//! through git2's configuration, so global and local settings both count;
//! a relative path is relative to the working tree's root, as git reads
//! it), else `hooks/` in the repository's (common) git directory. The
//! script calls `tenet hook run pre-commit` with the absolute path of the
//! `tenet` that installed it, falling back to `tenet` on `PATH` when that
//! binary has gone.
//!
//! A hook that is not tenet's is never overwritten silently. By default
//! (`--chain`, the pre-commit framework's convention) it is moved to
//! `pre-commit.tenet-chained` and the new hook runs it first, stopping with
//! its exit code when it fails. `--force` replaces it instead: it is kept as
//! `pre-commit.tenet-replaced`, not run. When neither can be done without
//! losing a file (a chained or replaced hook is already there) install
//! refuses. `uninstall` removes tenet's hook and puts back what was there
//! before (the chained or replaced hook, or nothing). Both are idempotent.

use std::path::{Path, PathBuf};

/// The hook's file name.
pub const HOOK: &str = "pre-commit";
/// Where a foreign hook goes when tenet's chains to it.
pub const CHAINED: &str = "pre-commit.tenet-chained";
/// Where a foreign hook goes when `--force` replaces it.
pub const REPLACED: &str = "pre-commit.tenet-replaced";
/// The line that marks a hook as tenet's.
pub const MARKER: &str = "# tenet-managed-hook: pre-commit";

/// What to do with a pre-commit hook that is not tenet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Foreign {
    /// Move it aside and run it before tenet (default).
    #[default]
    Chain,
    /// Move it aside, not run; `uninstall` puts it back.
    Replace,
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// No hook was there.
    Fresh,
    /// tenet's hook was there; rewritten if it had changed.
    Updated { changed: bool },
    /// A foreign hook was moved to `pre-commit.tenet-chained` and runs first.
    Chained,
    /// A foreign hook was moved to `pre-commit.tenet-replaced`.
    Replaced,
}

/// What `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    /// tenet's hook removed; nothing was there before it.
    Removed,
    /// tenet's hook removed and this earlier hook put back.
    Restored(&'static str),
    /// No tenet hook was installed.
    NotInstalled,
    /// The hook there is not tenet's: left alone.
    Foreign,
}

/// The folder git runs hooks from, for the repository at or above `dir`.
pub fn hooks_dir(dir: &Path) -> Result<PathBuf, String> {
    let repo = git2::Repository::discover(dir).map_err(|e| {
        format!(
            "{}: not in a git repository: {}",
            dir.display(),
            e.message()
        )
    })?;
    let config = repo
        .config()
        .map_err(|e| format!("cannot read the git configuration: {}", e.message()))?;
    match config.get_path("core.hooksPath") {
        Ok(p) if !p.as_os_str().is_empty() => {
            if p.is_absolute() {
                Ok(p)
            } else {
                let root = repo.workdir().unwrap_or_else(|| repo.path());
                Ok(root.join(p))
            }
        }
        Ok(_) => Ok(repo.commondir().join("hooks")),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(repo.commondir().join("hooks")),
        Err(e) => Err(format!("core.hooksPath: {}", e.message())),
    }
}

/// A word the shell reads back as exactly `s`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook script, calling `tenet` at `bin` (or on `PATH`).
pub fn script(bin: &str) -> String {
    format!(
        r#"#!/bin/sh
{MARKER}
# Installed by `tenet hook install`; `tenet hook uninstall` removes it and
# puts back the hook that was here before, if any.
# To commit a change tenet blocks, give the reason (it is audited):
#   TENET_JUSTIFICATION="why this is safe" git commit ...
chained="$(dirname "$0")/{CHAINED}"
if [ -x "$chained" ]; then
  "$chained" "$@" || exit $?
fi
tenet={bin}
if [ ! -x "$tenet" ]; then
  tenet=tenet
  if ! command -v tenet >/dev/null 2>&1; then
    echo "tenet pre-commit hook: tenet is not installed (was {bin}); install it, or run \`tenet hook uninstall\`" >&2
    exit 1
  fi
fi
exec "$tenet" hook run pre-commit
"#,
        bin = sh_quote(bin)
    )
}

fn is_ours(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).contains(MARKER))
        .unwrap_or(false)
}

/// Whether a file (or a dangling symlink) is there.
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

fn write_hook(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_file_name(format!(".{HOOK}.tenet-tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// Installs the pre-commit hook in `hooks` (see [`hooks_dir`]), calling the
/// `tenet` binary at `bin`.
pub fn install(hooks: &Path, bin: &str, foreign: Foreign) -> Result<Installed, String> {
    std::fs::create_dir_all(hooks).map_err(io(hooks))?;
    let hook = hooks.join(HOOK);
    let text = script(bin);
    if !present(&hook) {
        write_hook(&hook, &text)?;
        return Ok(Installed::Fresh);
    }
    if is_ours(&hook) {
        let changed = std::fs::read_to_string(&hook).ok().as_deref() != Some(text.as_str());
        if changed {
            write_hook(&hook, &text)?;
        }
        return Ok(Installed::Updated { changed });
    }
    let (aside, done) = match foreign {
        Foreign::Chain => (hooks.join(CHAINED), Installed::Chained),
        Foreign::Replace => (hooks.join(REPLACED), Installed::Replaced),
    };
    for kept in [hooks.join(CHAINED), hooks.join(REPLACED)] {
        if present(&kept) {
            return Err(format!(
                "{} is not tenet's, and {} already holds an earlier hook: moving it aside would lose one of them; \
                 sort them out by hand (keep one as {HOOK}), then run `tenet hook install` again",
                hook.display(),
                kept.display()
            ));
        }
    }
    std::fs::rename(&hook, &aside).map_err(io(&hook))?;
    if let Err(e) = write_hook(&hook, &text) {
        // Put the foreign hook back rather than leave no hook at all.
        let _ = std::fs::rename(&aside, &hook);
        return Err(e);
    }
    Ok(done)
}

/// Removes tenet's pre-commit hook from `hooks` and puts back the hook it
/// chained to or replaced, if any.
pub fn uninstall(hooks: &Path) -> Result<Uninstalled, String> {
    let hook = hooks.join(HOOK);
    let earlier = [CHAINED, REPLACED]
        .into_iter()
        .find(|n| present(&hooks.join(n)));
    if present(&hook) {
        if !is_ours(&hook) {
            return Ok(Uninstalled::Foreign);
        }
        std::fs::remove_file(&hook).map_err(io(&hook))?;
    } else if earlier.is_none() {
        return Ok(Uninstalled::NotInstalled);
    }
    match earlier {
        Some(name) => {
            let from = hooks.join(name);
            std::fs::rename(&from, &hook).map_err(io(&from))?;
            Ok(Uninstalled::Restored(name))
        }
        None => Ok(Uninstalled::Removed),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn the_script_quotes_the_binary_and_runs_a_chained_hook_first() {
        let s = script("/opt/it's here/tenet");
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(MARKER));
        assert!(s.contains(r#"tenet='/opt/it'\''s here/tenet'"#), "{s}");
        let chained = s.find(CHAINED).unwrap();
        let run = s.find("exec \"$tenet\" hook run pre-commit").unwrap();
        assert!(chained < run);
    }

    #[test]
    fn install_chains_a_foreign_hook_and_uninstall_restores_it() {
        let t = tempfile::tempdir().unwrap();
        let hooks = t.path().join("hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::write(hooks.join(HOOK), "#!/bin/sh\necho mine\n").unwrap();
        assert_eq!(
            install(&hooks, "/bin/tenet", Foreign::Chain).unwrap(),
            Installed::Chained
        );
        assert_eq!(read(&hooks.join(CHAINED)), "#!/bin/sh\necho mine\n");
        assert!(is_ours(&hooks.join(HOOK)));
        // Idempotent: a second install changes nothing and keeps the chain.
        assert_eq!(
            install(&hooks, "/bin/tenet", Foreign::Chain).unwrap(),
            Installed::Updated { changed: false }
        );
        assert_eq!(
            install(&hooks, "/usr/bin/tenet", Foreign::Chain).unwrap(),
            Installed::Updated { changed: true }
        );
        assert_eq!(uninstall(&hooks).unwrap(), Uninstalled::Restored(CHAINED));
        assert_eq!(read(&hooks.join(HOOK)), "#!/bin/sh\necho mine\n");
        assert!(!present(&hooks.join(CHAINED)));
        // The foreign hook is back: uninstall leaves it alone now.
        assert_eq!(uninstall(&hooks).unwrap(), Uninstalled::Foreign);
    }

    #[test]
    fn force_replaces_and_refuses_to_lose_a_kept_hook() {
        let t = tempfile::tempdir().unwrap();
        let hooks = t.path().join("hooks");
        assert_eq!(
            install(&hooks, "tenet", Foreign::Chain).unwrap(),
            Installed::Fresh
        );
        assert_eq!(uninstall(&hooks).unwrap(), Uninstalled::Removed);
        assert_eq!(uninstall(&hooks).unwrap(), Uninstalled::NotInstalled);
        std::fs::write(hooks.join(HOOK), "foreign one").unwrap();
        assert_eq!(
            install(&hooks, "tenet", Foreign::Replace).unwrap(),
            Installed::Replaced
        );
        assert_eq!(read(&hooks.join(REPLACED)), "foreign one");
        // Someone puts another foreign hook in front of tenet's.
        std::fs::write(hooks.join(HOOK), "foreign two").unwrap();
        for mode in [Foreign::Chain, Foreign::Replace] {
            let e = install(&hooks, "tenet", mode).unwrap_err();
            assert!(e.contains("already holds an earlier hook"), "{e}");
        }
        assert_eq!(read(&hooks.join(HOOK)), "foreign two");
        assert_eq!(read(&hooks.join(REPLACED)), "foreign one");
    }

    #[test]
    fn hooks_dir_follows_core_hooks_path() {
        let t = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(t.path()).unwrap();
        let default = hooks_dir(t.path()).unwrap();
        assert_eq!(default, repo.path().join("hooks"));
        repo.config()
            .unwrap()
            .set_str("core.hooksPath", "tools/hooks")
            .unwrap();
        let dir = hooks_dir(&t.path().join(".")).unwrap();
        assert!(dir.ends_with("tools/hooks"), "{}", dir.display());
        assert!(dir.starts_with(repo.workdir().unwrap()));
        repo.config()
            .unwrap()
            .set_str("core.hooksPath", "/srv/hooks")
            .unwrap();
        assert_eq!(hooks_dir(t.path()).unwrap(), PathBuf::from("/srv/hooks"));
    }
}
