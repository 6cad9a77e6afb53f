//! What the whole-process tests of the `tenet` binary share: running it
//! and reading what it did.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (fixtures, bundled rules, snapshots).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One finished run: exit code (-1 when killed by a signal) and output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `{:?}` shows all of it, for assertion messages.
impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The binary under test, without colours.
pub fn tenet_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenet"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs a command to the end.
pub fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("the command starts"))
}

/// `tenet ARGS` in `dir`.
pub fn tenet_in(dir: &Path, args: &[&str]) -> Run {
    run(tenet_command().args(args).current_dir(dir))
}
