//! A repository's artifacts: `tenet.yaml`, and base/head pairs from two
//! files or two directories (two git trees: [`crate::git`]).
//!
//! `tenet.yaml` (all keys optional):
//!
//! ```yaml
//! version: 1
//! artifacts:                 # which files are artifacts; default: every
//!   - path: "api/*.yaml"     #   .json/.yaml/.yml/.graphql/.tenet/.prompt/.prompty
//!     type: openapi          # default: detected from the path and content
//!   - path: "schemas/**/*.json"
//!     type: json-schema
//!     direction: response    # plain JSON Schemas: request (default) or response
//! exclude: ["vendor/**"]     # never artifacts
//! consumers:                 # who uses what: operation, schema path or file globs
//!   mobile-app: ["GET /orders/*", "Order.*"]
//!   billing: ["api/billing.yaml"]
//! ```
//!
//! Files that are not UTF-8 text are skipped. A broken `tenet.yaml` is an
//! error with its line and column, never a silent default.

use super::change::{ArtifactType, Direction};
use super::kind;
use super::tree::{self, Node};
use globset::{Glob, GlobMatcher};
use std::collections::BTreeMap;
use std::path::Path;

/// The configuration file name, at the repository root.
pub const CONFIG_FILE: &str = "tenet.yaml";

/// Folders never walked.
const SKIP_DIRS: [&str; 5] = [".git", "target", "node_modules", ".tenet", ".venv"];

/// One artifact at base and head (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactPair {
    pub path: String,
    pub ty: ArtifactType,
    pub direction: Option<Direction>,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    glob: GlobMatcher,
    ty: Option<ArtifactType>,
    direction: Option<Direction>,
}

/// A parsed `tenet.yaml`.
#[derive(Debug, Clone, Default)]
pub struct RepoConfig {
    rules: Vec<Rule>,
    exclude: Vec<GlobMatcher>,
    pub consumers: Consumers,
}

/// Consumers and the globs of what they use.
#[derive(Debug, Clone, Default)]
pub struct Consumers(Vec<(String, Vec<GlobMatcher>)>);

impl Consumers {
    /// The consumers whose globs match the artifact path, the change path or
    /// one of the operations that reach the change.
    pub fn affected(&self, artifact: &str, path: &str, operations: &[String]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, globs)| {
                globs.iter().any(|g| {
                    g.is_match(artifact)
                        || g.is_match(path)
                        || operations.iter().any(|o| g.is_match(o))
                })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// A configuration problem, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{CONFIG_FILE}:{}:{}: {}",
            self.line, self.col, self.message
        )
    }
}

fn err(n: &Node, message: impl Into<String>) -> ConfigError {
    ConfigError {
        line: n.line,
        col: 1,
        message: message.into(),
    }
}

fn glob(n: &Node) -> Result<GlobMatcher, ConfigError> {
    let s = n
        .as_str()
        .ok_or_else(|| err(n, "a glob must be a string"))?;
    Glob::new(s)
        .map(|g| g.compile_matcher())
        .map_err(|e| err(n, format!("bad glob `{s}`: {e}")))
}

impl RepoConfig {
    /// Parses the text of a `tenet.yaml`.
    pub fn parse(text: &str) -> Result<RepoConfig, ConfigError> {
        let root = tree::parse(text).map_err(|e| ConfigError {
            line: e.line,
            col: e.col,
            message: e.message,
        })?;
        let mut cfg = RepoConfig::default();
        if matches!(root.data, tree::Data::Null) {
            return Ok(cfg);
        }
        if !root.is_map() {
            return Err(err(
                &root,
                "tenet.yaml must be a mapping (keys: version, artifacts, exclude, consumers)",
            ));
        }
        for (k, v) in root.entries() {
            match k.as_str() {
                "version" => {
                    if v.as_f64() != Some(1.0) {
                        return Err(err(v, "unsupported tenet.yaml version (supported: 1)"));
                    }
                }
                "artifacts" => {
                    for item in v.items() {
                        cfg.rules.push(Self::rule(item)?);
                    }
                    if !matches!(v.data, tree::Data::Seq(_)) {
                        return Err(err(
                            v,
                            "`artifacts` must be a list of {path, type, direction}",
                        ));
                    }
                }
                "exclude" => {
                    for g in v.items() {
                        cfg.exclude.push(glob(g)?);
                    }
                }
                "consumers" => {
                    if !v.is_map() {
                        return Err(err(
                            v,
                            "`consumers` must map a consumer name to a list of globs",
                        ));
                    }
                    for (name, globs) in v.entries() {
                        let list = match &globs.data {
                            tree::Data::String(_) => vec![glob(globs)?],
                            _ => globs.items().iter().map(glob).collect::<Result<_, _>>()?,
                        };
                        cfg.consumers.0.push((name.clone(), list));
                    }
                }
                other => {
                    return Err(err(
                        v,
                        format!(
                            "unknown key `{other}` (known: version, artifacts, exclude, consumers)"
                        ),
                    ));
                }
            }
        }
        Ok(cfg)
    }

    fn rule(item: &Node) -> Result<Rule, ConfigError> {
        let path = item
            .get("path")
            .ok_or_else(|| err(item, "an artifact entry needs a `path` glob"))?;
        let ty = match item.get("type") {
            None => None,
            Some(t) => {
                let name = t.as_str().unwrap_or("");
                Some(ArtifactType::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = ArtifactType::ALL.iter().map(|t| t.as_str()).collect();
                    err(
                        t,
                        format!(
                            "unknown artifact type `{name}` (known: {})",
                            known.join(", ")
                        ),
                    )
                })?)
            }
        };
        let direction = match item.get("direction").map(|d| (d, d.as_str())) {
            None => None,
            Some((_, Some("request"))) => Some(Direction::Request),
            Some((_, Some("response"))) => Some(Direction::Response),
            Some((d, _)) => return Err(err(d, "`direction` is `request` or `response`")),
        };
        for (k, v) in item.entries() {
            if !matches!(k.as_str(), "path" | "type" | "direction") {
                return Err(err(
                    v,
                    format!(
                        "unknown key `{k}` in an artifact entry (known: path, type, direction)"
                    ),
                ));
            }
        }
        Ok(Rule {
            glob: glob(path)?,
            ty,
            direction,
        })
    }

    /// Reads `tenet.yaml` from a directory; defaults when there is none.
    pub fn load(dir: &Path) -> Result<RepoConfig, String> {
        let p = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&p) {
            Ok(text) => RepoConfig::parse(&text).map_err(|e| format!("{}: {}", dir.display(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RepoConfig::default()),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    /// Whether the `exclude` globs leave `path` out (it is then neither an
    /// artifact nor, for the CI gate, a rule pack to check).
    pub fn excludes(&self, path: &str) -> bool {
        self.exclude.iter().any(|g| g.is_match(path))
    }

    /// Whether `path` is an artifact (configured, or a candidate by its
    /// name when `artifacts` is not set): the files a diff reads.
    pub fn is_artifact(&self, path: &str) -> bool {
        self.classify(path).is_some()
    }

    /// Whether `path` is an artifact, and its configured type and direction.
    fn classify(&self, path: &str) -> Option<(Option<ArtifactType>, Option<Direction>)> {
        if path == CONFIG_FILE || self.excludes(path) {
            return None;
        }
        if self.rules.is_empty() {
            return kind::is_candidate(path).then_some((None, None));
        }
        self.rules
            .iter()
            .find(|r| r.glob.is_match(path))
            .map(|r| (r.ty, r.direction))
    }

    /// Pairs the files of a base and a head snapshot (path → bytes).
    pub fn pairs(
        &self,
        base: &BTreeMap<String, Vec<u8>>,
        head: &BTreeMap<String, Vec<u8>>,
    ) -> Vec<ArtifactPair> {
        let mut paths: Vec<&String> = base.keys().chain(head.keys()).collect();
        paths.sort();
        paths.dedup();
        let mut out = Vec::new();
        for path in paths {
            let Some((ty, direction)) = self.classify(path) else {
                continue;
            };
            let text = |m: &BTreeMap<String, Vec<u8>>| {
                m.get(path).and_then(|b| String::from_utf8(b.clone()).ok())
            };
            let (before, after) = (text(base), text(head));
            let binary = |m: &BTreeMap<String, Vec<u8>>| m.contains_key(path) && text(m).is_none();
            if binary(base) || binary(head) || (before.is_none() && after.is_none()) {
                continue;
            }
            if before == after {
                continue;
            }
            let ty = match ty {
                Some(t) => t,
                None => {
                    let sample = after.as_deref().or(before.as_deref()).unwrap_or("");
                    match kind::detect(path, sample) {
                        Some(t) => t,
                        None => continue,
                    }
                }
            };
            out.push(ArtifactPair {
                path: path.clone(),
                ty,
                direction,
                before,
                after,
            });
        }
        out
    }
}

/// Whether a folder of this name is never walked (a tool's folder).
pub(crate) fn skipped_dir(name: &str) -> bool {
    SKIP_DIRS.contains(&name)
}

/// Whether a file path (with `/`) lies in a folder that is never walked.
pub(crate) fn in_skipped_dir(path: &str) -> bool {
    path.split('/').rev().skip(1).any(skipped_dir)
}

/// Every file under `dir` (relative paths with `/`), skipping tool folders.
pub fn read_dir(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    read_dir_capped(dir, u64::MAX).map(|(files, _)| files)
}

/// The default cap on one artifact's size (`--max-input-bytes`).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Files over the size cap, by path, with their size: never read.
pub type Oversize = BTreeMap<String, u64>;

impl RepoConfig {
    /// An error naming the first artifact over the size cap, if any (files
    /// that are not artifacts may be as big as they like).
    pub fn check_sizes(&self, oversize: &Oversize, max_bytes: u64) -> Result<(), String> {
        match oversize.iter().find(|(p, _)| self.classify(p).is_some()) {
            Some((p, n)) => Err(format!(
                "{p}: {n} bytes is over the {max_bytes}-byte limit for one artifact (raise it with --max-input-bytes)"
            )),
            None => Ok(()),
        }
    }
}

/// [`read_dir`], leaving files over `max_bytes` unread (listed in [`Oversize`]).
pub fn read_dir_capped(
    dir: &Path,
    max_bytes: u64,
) -> Result<(BTreeMap<String, Vec<u8>>, Oversize), String> {
    let mut oversize = Oversize::new();
    let mut files = BTreeMap::new();
    let walker = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir()
                && e.depth() > 0
                && SKIP_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
        });
    for entry in walker {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let rel = rel.to_string_lossy().replace('\\', "/");
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if len > max_bytes {
            oversize.insert(rel, len);
            continue;
        }
        let bytes =
            std::fs::read(entry.path()).map_err(|e| format!("{}: {e}", entry.path().display()))?;
        files.insert(rel, bytes);
    }
    Ok((files, oversize))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn snap(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn config_errors_are_located() {
        let e =
            RepoConfig::parse("artifacts:\n  - path: 'a/*.yaml'\n    type: soap\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unknown artifact type `soap`"), "{e}");
        let e = RepoConfig::parse("artifact: []\n").unwrap_err();
        assert!(e.message.contains("unknown key `artifact`"), "{e}");
        let e = RepoConfig::parse("artifacts:\n  - path: '['\n").unwrap_err();
        assert!(e.message.contains("bad glob"), "{e}");
        assert!(RepoConfig::parse("exclude: [\n").is_err());
    }

    #[test]
    fn pairs_follow_config_and_detection() {
        let cfg = RepoConfig::parse("artifacts:\n  - {path: 'api/*.yaml', type: openapi}\n  - {path: 'schema/*.json', direction: response}\nconsumers:\n  app: ['GET /x', 'api/*']\n").unwrap();
        let base = snap(&[
            ("api/a.yaml", "openapi: 3.0.0\n"),
            ("schema/s.json", "{}"),
            ("other.yaml", "a: 1"),
        ]);
        let head = snap(&[
            ("api/a.yaml", "openapi: 3.0.1\n"),
            (
                "schema/s.json",
                "{\"type\": \"object\", \"properties\": {}}",
            ),
        ]);
        let pairs = cfg.pairs(&base, &head);
        let got: Vec<(&str, ArtifactType, Option<Direction>)> = pairs
            .iter()
            .map(|p| (p.path.as_str(), p.ty, p.direction))
            .collect();
        assert_eq!(
            got,
            [
                ("api/a.yaml", ArtifactType::Openapi, None),
                (
                    "schema/s.json",
                    ArtifactType::JsonSchema,
                    Some(Direction::Response)
                )
            ]
        );
        assert_eq!(cfg.consumers.affected("api/a.yaml", "x", &[]), ["app"]);
        assert!(cfg
            .consumers
            .affected("b.yaml", "x", &["GET /y".into()])
            .is_empty());
    }

    #[test]
    fn defaults_take_every_candidate_and_skip_binary() {
        let cfg = RepoConfig::default();
        let base = snap(&[("a.yaml", "a: 1"), ("README.md", "x")]);
        let mut head = snap(&[
            ("a.yaml", "a: 2"),
            ("README.md", "y"),
            ("q.graphql", "type Q { a: Int }"),
        ]);
        head.insert("bin.json".into(), vec![0xff, 0xfe, 0x00]);
        let pairs = cfg.pairs(&base, &head);
        let got: Vec<&str> = pairs.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(got, ["a.yaml", "q.graphql"]);
        assert_eq!(pairs[1].before, None);
    }
}
