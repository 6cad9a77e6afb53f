//! `tenet diff` and `tenet reports`: the semantic diff on the command line.
//!
//! Glue only: collecting artifact pairs, detection, classification,
//! rendering and storage are in `tenet_diff` and `store`.

use crate::exit;
use crate::load_rules_or_bundled;
use crate::store_args::StoreArgs;
use clap::{Args, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tenet_diff::classify::Classifier;
use tenet_diff::gate::Gate;
use tenet_diff::git;
use tenet_diff::repo::{self, ArtifactPair, RepoConfig};
use tenet_diff::report::{self, Build, Lint, Report, Trailer};
use tenet_diff::store::ReportStore;
use tenet_runtime::clock::Timestamp;
use tenet_store::Location;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Json,
    Md,
    ReleaseNotes,
}

#[derive(Args)]
pub struct DiffArgs {
    /// Base file or directory (with NEW); omit both to use --base/--head in git
    pub old: Option<PathBuf>,
    /// Head file or directory
    pub new: Option<PathBuf>,
    /// Base git revision (branch, tag, SHA), read through git without touching the working tree
    #[arg(long, requires = "head")]
    pub base: Option<String>,
    /// Head git revision
    #[arg(long, requires = "base")]
    pub head: Option<String>,
    /// The git repository (default: the one containing the current directory)
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Repository configuration (default: tenet.yaml at the head side's root)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rules directory holding the `semantic_diff` pack (default: the bundled rules)
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Json)]
    pub format: DiffFormat,
    /// Hide changes below this level (a level of the loaded taxonomy)
    #[arg(long, value_name = "LEVEL")]
    pub risk_threshold: Option<String>,
    /// Exit 1 when a change at or above this level of the loaded taxonomy is present, or one no rule classifies; `never`: report only
    #[arg(long, value_name = "LEVEL", default_value = tenet_diff::gate::NEVER)]
    pub fail_on: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Do not keep the report
    #[arg(long)]
    pub no_store: bool,
    /// Largest artifact read, in bytes; a bigger artifact is an error (exit 2)
    #[arg(long, default_value_t = repo::DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,
    /// Repository name the report is kept under (default: git remote `origin`, else the folder name)
    #[arg(long)]
    pub repository: Option<String>,
    /// Policy lint, on by default: list rule-pack changes that loosen a guard with no justification beside them
    #[arg(long, overrides_with = "no_lint")]
    pub lint: bool,
    /// Turn the policy lint off
    #[arg(long, overrides_with = "lint")]
    pub no_lint: bool,
    /// Exit 1 when the policy lint flags a change (whatever --fail-on says)
    #[arg(long, conflicts_with = "no_lint")]
    pub fail_on_lint: bool,
}

#[derive(Subcommand)]
pub enum ReportsCommand {
    /// List kept reports, newest first
    List {
        /// Only this repository
        #[arg(long)]
        repository: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print one report (by id, or BASE..HEAD for the newest such report)
    Show {
        report: String,
        #[arg(long, value_enum, default_value_t = DiffFormat::Json)]
        format: DiffFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Diff-on-diff: how risk moved from report A to report B
    Compare {
        a: String,
        b: String,
        #[arg(long, value_enum, default_value_t = CompareFormat::Json)]
        format: CompareFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Json,
    Md,
}

/// The pairs, labels and repository name of one diff.
struct Inputs {
    pairs: Vec<ArtifactPair>,
    base: String,
    head: String,
    repository: String,
    config: RepoConfig,
    /// `Justification:` trailers of the commits between base and head (git mode).
    trailers: Vec<Trailer>,
    /// Two single files: (OLD, NEW) as given, to name the right one in errors.
    files: Option<(String, String)>,
}

fn load_config(explicit: Option<&Path>, root: &Path) -> Result<RepoConfig, String> {
    match explicit {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            RepoConfig::parse(&text)
                .map_err(|e| format!("{}:{}:{}: {}", p.display(), e.line, e.col, e.message))
        }
        None => RepoConfig::load(root),
    }
}

fn from_paths(old: &Path, new: &Path, args: &DiffArgs) -> Result<Inputs, String> {
    let cap = args.max_input_bytes;
    let mut oversize = repo::Oversize::new();
    let (base_files, head_files, root) = match (old.is_dir(), new.is_dir()) {
        (true, true) => {
            let (base, over_base) = repo::read_dir_capped(old, cap)?;
            let (head, over_head) = repo::read_dir_capped(new, cap)?;
            oversize.extend(over_base);
            oversize.extend(over_head);
            (base, head, new.to_path_buf())
        }
        (false, false) => {
            let read = |p: &Path| -> Result<Vec<u8>, String> {
                let len = std::fs::metadata(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .len();
                if len > cap {
                    return Err(format!(
                        "{}: {len} bytes is over the {cap}-byte limit for one artifact (raise it with --max-input-bytes)",
                        p.display()
                    ));
                }
                std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
            };
            let name = new
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let base: BTreeMap<String, Vec<u8>> = [(name.clone(), read(old)?)].into();
            let head: BTreeMap<String, Vec<u8>> = [(name, read(new)?)].into();
            (
                base,
                head,
                new.parent().map(Path::to_path_buf).unwrap_or_default(),
            )
        }
        _ => return Err("OLD and NEW must both be files or both be directories".into()),
    };
    let config = match (&args.config, new.is_dir()) {
        (Some(p), _) => load_config(Some(p), &root)?,
        (None, true) => RepoConfig::load(&root)?,
        (None, false) => RepoConfig::default(),
    };
    config.check_sizes(&oversize, cap)?;
    // Two single files are compared whatever their extension.
    let pairs = if new.is_dir() {
        config.pairs(&base_files, &head_files)
    } else {
        single_pair(&config, &base_files, &head_files)?
    };
    Ok(Inputs {
        pairs,
        base: old.display().to_string(),
        head: new.display().to_string(),
        repository: args.repository.clone().unwrap_or_else(|| "local".into()),
        config,
        trailers: Vec::new(),
        files: (!new.is_dir()).then(|| (old.display().to_string(), new.display().to_string())),
    })
}

fn single_pair(
    config: &RepoConfig,
    base: &BTreeMap<String, Vec<u8>>,
    head: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<ArtifactPair>, String> {
    let mut pairs = config.pairs(base, head);
    if pairs.is_empty() {
        let (Some((path, b)), Some((_, h))) = (base.iter().next(), head.iter().next()) else {
            return Ok(pairs);
        };
        if b == h {
            return Ok(pairs);
        }
        let text = |x: &Vec<u8>| {
            String::from_utf8(x.clone()).map_err(|_| format!("{path}: not UTF-8 text"))
        };
        let (before, after) = (text(b)?, text(h)?);
        let ty = tenet_diff::kind::by_path(path)
            .or_else(|| {
                tenet_diff::tree::parse(&after)
                    .ok()
                    .map(|n| tenet_diff::kind::by_content(&n))
            })
            .unwrap_or(tenet_diff::ArtifactType::Config);
        pairs.push(ArtifactPair {
            path: path.clone(),
            ty,
            direction: None,
            before: Some(before),
            after: Some(after),
        });
    }
    Ok(pairs)
}

fn from_git(base: &str, head: &str, args: &DiffArgs) -> Result<Inputs, String> {
    let repo = git2::Repository::discover(&args.repo).map_err(|e| {
        format!(
            "{}: not in a git repository: {}",
            args.repo.display(),
            e.message()
        )
    })?;
    let config = match &args.config {
        Some(p) => Some(load_config(Some(p), Path::new("."))?),
        None => None,
    };
    let read = git::read(
        &repo,
        base,
        head,
        git::Options {
            config,
            max_input_bytes: args.max_input_bytes,
            repository: args.repository.clone(),
            trailers: !args.no_lint,
        },
    )?;
    if let Some(w) = &read.trailer_warning {
        eprintln!("warning: {w}");
    }
    Ok(Inputs {
        pairs: read.pairs,
        base: read.base,
        head: read.head,
        repository: read.repository,
        config: read.config,
        trailers: read.trailers,
        files: None,
    })
}

pub fn cmd_diff(args: &DiffArgs, now: Timestamp) -> u8 {
    let inputs = match (&args.old, &args.new, &args.base, &args.head) {
        (Some(old), Some(new), None, None) => from_paths(old, new, args),
        (None, None, Some(b), Some(h)) => from_git(b, h, args),
        (Some(_), None, _, _) => Err("give both OLD and NEW, or --base and --head".into()),
        (None, None, None, None) => Err(
            "nothing to compare: give OLD NEW (files or directories) or --base REF --head REF"
                .into(),
        ),
        _ => Err("give either OLD NEW or --base/--head, not both".into()),
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let rules = match load_rules_or_bundled(args.rules.as_deref()) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let classifier = match Classifier::new(&rules) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let gate = match Gate::resolve(
        classifier.taxonomy(),
        Some(&args.fail_on),
        Some(args.fail_on_lint),
    ) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: --fail-on: {e}");
            return exit::ERROR;
        }
    };
    if let Some(t) = &args.risk_threshold {
        if classifier.taxonomy().rank(t).is_none() {
            eprintln!(
                "error: --risk-threshold: `{t}` is not a level of the taxonomy; use one of: {}",
                classifier.levels().join(", ")
            );
            return exit::ERROR;
        }
    }
    let lint = Lint {
        off: args.no_lint,
        trailers: inputs.trailers,
    };
    let files = inputs.files.clone();
    let built = report::build_with(
        Build {
            base: inputs.base,
            head: inputs.head,
            repository: Some(inputs.repository.clone()),
            pairs: inputs.pairs,
            consumers: &inputs.config.consumers,
            threshold: args.risk_threshold.clone(),
        },
        &lint,
        &classifier,
    );
    let report = match built {
        Ok(r) => r,
        Err(mut errors) => {
            for e in &mut errors {
                // Two files: the error is in OLD or NEW, by its side.
                if let Some((old, new)) = &files {
                    e.artifact = match e.error.side {
                        tenet_diff::Side::Base => old.clone(),
                        tenet_diff::Side::Head => new.clone(),
                    };
                }
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: {} artifact(s) could not be read; nothing was judged",
                errors.len()
            );
            return exit::ERROR;
        }
    };
    if !args.no_store {
        let saved = args
            .store
            .location()
            .and_then(|l| tenet_diff::store::open(&l))
            .and_then(|s| s.save_report(&inputs.repository, &report, &now.rfc3339()));
        if let Err(e) = saved {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    }
    print_report(&report, args.format);
    if gate.judge(&report).fails() {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

fn print_report(r: &Report, format: DiffFormat) {
    match format {
        DiffFormat::Json => outln!("{}", serde_json::to_string_pretty(r).unwrap_or_default()),
        DiffFormat::Md => out!("{}", report::markdown(r)),
        DiffFormat::ReleaseNotes => out!("{}", report::release_notes(r)),
    }
}

pub fn cmd_reports(cmd: &ReportsCommand) -> u8 {
    let args = match cmd {
        ReportsCommand::List { store, .. }
        | ReportsCommand::Show { store, .. }
        | ReportsCommand::Compare { store, .. } => store,
    };
    let location = match args.location() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    if let Location::Sqlite(path) = &location {
        if !path.exists() {
            eprintln!(
                "error: no store at {} (run `tenet diff` first, or pass --store)",
                path.display()
            );
            return exit::ERROR;
        }
    }
    let store = match tenet_diff::store::open(&location) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let result = match cmd {
        ReportsCommand::List {
            repository,
            limit,
            format,
            ..
        } => store
            .list_reports(repository.as_deref(), *limit)
            .map(|rows| match format {
                ListFormat::Json => outln!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                ),
                ListFormat::Text => {
                    if rows.is_empty() {
                        outln!("no reports");
                    }
                    for r in rows {
                        let short = |s: &str| s.chars().take(12).collect::<String>();
                        outln!(
                            "{:>4}  {}  {}..{}  {:<10}  {} change(s)  rules {}  {}",
                            r.id,
                            r.created_at,
                            short(&r.base),
                            short(&r.head),
                            r.highest_risk,
                            r.changes,
                            short(&r.fingerprint),
                            r.repository
                        );
                    }
                }
            }),
        ReportsCommand::Show { report, format, .. } => {
            store.report(report).map(|r| print_report(&r, *format))
        }
        ReportsCommand::Compare { a, b, format, .. } => store
            .report(a)
            .and_then(|ra| store.report(b).map(|rb| (ra, rb)))
            .map(|(ra, rb)| {
                let c = report::compare(&ra, &rb);
                match format {
                    CompareFormat::Json => {
                        outln!("{}", serde_json::to_string_pretty(&c).unwrap_or_default())
                    }
                    CompareFormat::Md => out!("{}", report::compare_markdown(&c)),
                }
            }),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}
