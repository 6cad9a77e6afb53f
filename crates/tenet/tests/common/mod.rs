//! What the whole-process tests of the `tenet` binary share: running it
//! and reading what it did.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

/// A `tenet serve` process on 127.0.0.1, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SHA-256 a server config keeps of a token (`tenet serve hash-token`).
pub fn hash(token: &str) -> String {
    let mut c = tenet_command()
        .args(["serve", "hash-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(token.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts `tenet serve` on a SQLite store in `dir`, with rule `files`
/// and identities `(name, token, roles, tenant)`, and waits until it
/// listens.
pub fn serve(
    dir: &Path,
    files: &[(&str, &str)],
    identities: &[(&str, &str, &[&str], Option<&str>)],
) -> Server {
    serve_with(dir, files, identities, "")
}

/// [`serve`], with `extra` YAML appended to the server's config.
pub fn serve_with(
    dir: &Path,
    files: &[(&str, &str)],
    identities: &[(&str, &str, &[&str], Option<&str>)],
    extra: &str,
) -> Server {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in files {
        std::fs::write(rules.join(name), text).unwrap();
    }
    let mut config = format!(
        "store: {}\nrules: {}\nwatch: false\nautoconfig:\n  config_dir: {}\nidentities:\n",
        dir.join("tenet.db").display(),
        rules.display(),
        dir.join("center").display(),
    );
    for (name, token, roles, tenant) in identities {
        config.push_str(&format!(
            "  - name: {name}\n    token_sha256: {}\n    roles: [{}]\n",
            hash(token),
            roles.join(", ")
        ));
        if let Some(t) = tenant {
            config.push_str(&format!("    tenant: {t}\n"));
        }
    }
    config.push_str(extra);
    std::fs::write(dir.join("server.yaml"), config).unwrap();
    let mut child = tenet_command()
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(dir.join("server.yaml"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("listening on http://") {
                let rest = &line[i + "listening on http://".len()..];
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server started");
    Server {
        child,
        addr: addr.parse().unwrap(),
    }
}
