//! Loading rules: files → checked, compiled packs with their scorers.
//!
//! The only module of the runtime that touches the file system is
//! [`load_dir`]; everything else works on in-memory [`RuleFile`]s, which is
//! also how bundles load.

use crate::compile::compile;
use crate::exit;
use crate::ir::CompiledPack;
use crate::scorer::{Limits, Scorer, Scorers};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tenet_dsl::ast::{Block, Item};
use tenet_dsl::check::bare_or_string;
use tenet_dsl::diag::{Code, Diagnostic};
use tenet_dsl::{Checked, SourceMap, Value};

/// One input file: a path relative to the rules root (with `/`), and its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleFile {
    pub path: String,
    pub text: String,
}

/// Checked and compiled rules.
#[derive(Debug, Clone)]
pub struct Rules {
    pub sources: SourceMap,
    pub checked: Checked,
    pub packs: Vec<CompiledPack>,
    pub scorers: Scorers,
    pub files: Vec<RuleFile>,
    /// The bundle hash of `files` (`bundle::fingerprint_of`), computed once
    /// at load: what "the rules in force" are, in audit events and reports.
    pub hash: String,
}

impl Rules {
    pub fn pack(&self, name: &str) -> Option<&CompiledPack> {
        self.packs.iter().find(|p| p.name == name)
    }
    pub fn scorer_list(&self) -> &[Arc<Scorer>] {
        &self.scorers.list
    }
}

#[derive(Debug)]
pub enum LoadError {
    /// The files could not be read ([`exit::ERROR`]).
    Io(String),
    /// The rules have errors ([`exit::FINDINGS`]).
    Rules {
        diags: Vec<Diagnostic>,
        sources: SourceMap,
    },
}

impl LoadError {
    /// The exit code of a command that stops on this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadError::Io(_) => exit::ERROR,
            LoadError::Rules { .. } => exit::FINDINGS,
        }
    }
}

/// Read every `.tenet` and `.rhai` file under `dir` (sorted by path).
pub fn read_dir(dir: &Path) -> Result<Vec<RuleFile>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::Io(format!(
            "`{}` is not a directory; name the rules directory (`tenet check DIR`, \
             `tenet eval --rules DIR ...`) or run tenet from the repository root, where `rules/` is",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry =
            entry.map_err(|e| LoadError::Io(format!("cannot read `{}`: {e}", dir.display())))?;
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !entry.file_type().is_file() || !(ext == "tenet" || ext == "rhai") {
            continue;
        }
        let text = std::fs::read_to_string(p)
            .map_err(|e| LoadError::Io(format!("cannot read `{}`: {e}", p.display())))?;
        let rel = p.strip_prefix(dir).unwrap_or(p);
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        files.push(RuleFile { path: rel, text });
    }
    files.sort();
    Ok(files)
}

/// Load what the command line names: a rules directory, which must hold at
/// least one `.tenet` file, or a single `.tenet` file, checked on its own
/// with the scorer scripts of its folder (a pack that imports other packs
/// needs its rules directory).
pub fn load_path(path: &Path) -> Result<Rules, LoadError> {
    if path.is_file() {
        return load_file(path);
    }
    let files = read_dir(path)?;
    if !files.iter().any(|f| f.path.ends_with(".tenet")) {
        return Err(LoadError::Io(format!(
            "no .tenet files under `{}`; rule packs are `.tenet` files",
            path.display()
        )));
    }
    let prefix = path.to_string_lossy().trim_end_matches('/').to_string();
    load_files(files, &prefix)
}

/// Load one `.tenet` file with the `.rhai` scorer scripts under its folder.
pub fn load_file(file: &Path) -> Result<Rules, LoadError> {
    if file.extension().is_none_or(|e| e != "tenet") {
        return Err(LoadError::Io(format!(
            "`{}` is not a .tenet file or a rules directory",
            file.display()
        )));
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let files: Vec<RuleFile> = read_dir(dir)?
        .into_iter()
        .filter(|f| f.path == name || f.path.ends_with(".rhai"))
        .collect();
    let prefix = dir.to_string_lossy().trim_end_matches('/').to_string();
    let prefix = if prefix == "." { String::new() } else { prefix };
    load_files(files, &prefix)
}

/// Load a rules directory. Paths in diagnostics are shown as `dir/relative`.
pub fn load_dir(dir: &Path) -> Result<Rules, LoadError> {
    let files = read_dir(dir)?;
    let prefix = dir.to_string_lossy().trim_end_matches('/').to_string();
    load_files(files, &prefix)
}

/// Check, load scorers and compile in-memory rule files.
pub fn load_files(files: Vec<RuleFile>, display_prefix: &str) -> Result<Rules, LoadError> {
    let mut sources = SourceMap::new();
    let show = |p: &str| {
        if display_prefix.is_empty() {
            p.to_string()
        } else {
            format!("{display_prefix}/{p}")
        }
    };
    let mut pack_paths = Vec::new();
    for f in files.iter().filter(|f| f.path.ends_with(".tenet")) {
        sources.add(show(&f.path), f.text.as_str());
        pack_paths.push(f.path.clone());
    }
    let checked = tenet_dsl::parse_and_check(&sources).map_err(|diags| LoadError::Rules {
        diags,
        sources: sources.clone(),
    })?;
    let mut scorers = Scorers::default();
    let mut diags = Vec::new();
    for pack in &checked.packs {
        let pack_path = pack_paths
            .get(pack.ast.file.0 as usize)
            .cloned()
            .unwrap_or_default();
        let pack_dir = pack_path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        for item in &pack.ast.items {
            let Item::Block(b) = item else { continue };
            if b.kind.name != "scorer" {
                continue;
            }
            match load_scorer(b, pack.name(), &pack_dir, &files) {
                Ok(s) => scorers.list.push(Arc::new(s)),
                Err(d) => diags.push(d),
            }
        }
    }
    if !diags.is_empty() {
        return Err(LoadError::Rules { diags, sources });
    }
    let packs = compile(&checked, &sources, &scorers);
    let mut rules = Rules {
        sources,
        checked,
        packs,
        scorers,
        files,
        hash: String::new(),
    };
    rules.hash = crate::bundle::fingerprint_of(&rules, "").hash;
    Ok(rules)
}

fn load_scorer(
    b: &Block,
    pack: &str,
    pack_dir: &str,
    files: &[RuleFile],
) -> Result<Scorer, Diagnostic> {
    let attr = |n: &str| b.attr(n).map(|a| &a.value);
    let int = |n: &str, d: i64| -> i64 {
        match attr(n).map(|e| tenet_dsl::interp::eval_const(e, &NoNames)) {
            Some(Ok(Value::Int(i))) => i,
            _ => d,
        }
    };
    let script_expr = attr("script");
    let script = script_expr.and_then(bare_or_string).unwrap_or_default();
    let span = script_expr.map(|e| e.span).unwrap_or(b.kind.span);
    let path = if pack_dir.is_empty() {
        script.clone()
    } else {
        format!("{pack_dir}/{script}")
    };
    let path = normalize(&path);
    let Some(file) = files.iter().find(|f| f.path == path) else {
        return Err(Diagnostic::new(
            Code::Io,
            span,
            format!("scorer script `{script}` not found"),
        )
        .label("no such file")
        .help(format!(
            "the path is relative to the pack's folder; expected `{path}` in the rules directory"
        )));
    };
    let defaults = Limits::default();
    let limits = Limits {
        max_operations: int("max_operations", defaults.max_operations as i64).max(1) as u64,
        max_call_depth: int("max_call_depth", defaults.max_call_depth as i64).clamp(1, 256)
            as usize,
        max_string_size: match attr("max_string_size")
            .map(|e| tenet_dsl::interp::eval_const(e, &NoNames))
        {
            Some(Ok(Value::Size(s))) => s as usize,
            _ => defaults.max_string_size,
        },
        max_array_size: int("max_array_size", defaults.max_array_size as i64).max(1) as usize,
        timeout: match attr("timeout").map(|e| tenet_dsl::interp::eval_const(e, &NoNames)) {
            Some(Ok(Value::Duration(ms))) => Duration::from_millis(ms.max(1) as u64),
            _ => defaults.timeout,
        },
    };
    let function = attr("function")
        .and_then(bare_or_string)
        .unwrap_or_else(|| "score".into());
    Scorer::compile(b.name_str(), pack, &function, &file.text, limits).map_err(|e| {
        Diagnostic::new(
            Code::InvalidValue,
            span,
            format!("scorer script `{script}` does not compile: {e}"),
        )
        .label("in this script")
        .help("fix the script; `tenet check` compiles every scorer")
    })
}

fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

struct NoNames;
impl tenet_dsl::interp::Env for NoNames {
    fn name(&self, _: &str) -> Option<Value> {
        None
    }
    fn is_import(&self, _: &str) -> bool {
        false
    }
    fn qualified(&self, _: &str, _: &str) -> Option<Value> {
        None
    }
    fn scorer(&self, _: &str, _: &[Value]) -> Option<Result<Value, tenet_dsl::EvalError>> {
        None
    }
}

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_rules.rs"));
}

/// The rule files compiled into this binary (the repository's `rules/`).
pub fn bundled_files() -> Vec<RuleFile> {
    bundled::BUNDLED
        .iter()
        .map(|(path, text)| RuleFile {
            path: path.to_string(),
            text: text.to_string(),
        })
        .collect()
}

/// The bundled rules, checked and compiled; shown as `(bundled)/path`.
pub fn load_bundled() -> Result<Rules, LoadError> {
    load_files(bundled_files(), "(bundled)")
}
