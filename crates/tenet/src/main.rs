//! The `tenet` command line. Glue only: the work is in `tenet-runtime`.
//!
//! Exit codes (the same for every command, [`exit`]): 0 success, 1 rule
//! errors, failing tests or findings, 2 usage or I/O errors; a closed
//! output pipe ends a command quietly with 0.

/// mimalloc instead of the system allocator: the server allocates per
/// request on several threads, where glibc's malloc spent a fifth of the
/// time (BENCHMARKS.md, the evaluation server).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[macro_use]
mod exit;
mod api_client;
mod autoconfig_cmd;
mod ci_cmd;
mod diff_cmd;
mod fleet_cmd;
mod hook_cmd;
mod inventory_cmd;
mod monitor_cmd;
mod rtx_cmd;
mod safety_cmd;
mod score_cmd;
mod serve_cmd;
mod store_args;

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tenet_runtime::clock::{self, Timestamp};
use tenet_runtime::dsl::{diag, fmt as dslfmt, syntax, SourceMap};
use tenet_runtime::{bundle, decision, load, testing};

const AFTER_HELP: &str = "\
Rule packs are `.tenet` files under a rules directory (default: ./rules).
Start with:
  tenet check                 check every pack under ./rules
  tenet test                  run the rule tests of every pack
  tenet eval --pack safety --input facts.json
                              decide one input with one pack, with a trace
  tenet fmt --check           list packs that are not formatted
  tenet diff old.yaml new.yaml --format md
                              semantic diff of two artifacts (or directories)
  tenet diff --base main --head HEAD --fail-on breaking
                              semantic diff of two git revisions, as a CI gate
  tenet ci                    the pull-request gate in a GitHub Actions job
  tenet reports list          reports kept in .tenet/tenet.db

Exit codes: 0 ok, 1 rule errors / failing tests, 2 usage or I/O errors.
Language reference: docs/language.md";

#[derive(Parser)]
#[command(name = "tenet", version, about = "Policy-as-code rules engine: check, test, evaluate and bundle rule packs; semantic diff of schemas, APIs, configs, policies, prompts and flags", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check rule packs: syntax, block kinds and fields, types, names, imports
    Check {
        /// Rules directory, or one .tenet file (checked on its own)
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Run the rule tests (`test` blocks) of every pack and list rules no test exercises
    Test {
        /// Rules directory, or one .tenet file
        #[arg(default_value = "rules")]
        dir: PathBuf,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Decide one input with one pack and print the decision as JSON
    Eval {
        /// Rules directory
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// Pack name (`pack NAME version ...`)
        #[arg(long)]
        pack: String,
        /// Input facts as a JSON file (`-` reads standard input)
        #[arg(long)]
        input: PathBuf,
        /// Leave out the trace of which conditions held
        #[arg(long)]
        no_trace: bool,
        /// Decision date for waiver expiry: YYYY-MM-DD or an RFC 3339 time; default: today (UTC)
        #[arg(long)]
        now: Option<String>,
        /// Report everything, block nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Format rule packs in the canonical layout (comments are kept)
    Fmt {
        /// Report files that would change and exit 1, without writing
        #[arg(long)]
        check: bool,
        /// Files or directories (default: ./rules)
        paths: Vec<PathBuf>,
    },
    /// Build or verify a fingerprinted bundle of a rules directory
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Semantic diff: classify what changed between two versions of schemas, APIs, configs, packs, prompts and flags
    Diff(Box<diff_cmd::DiffArgs>),
    /// The pull-request gate for CI: semantic diff, rule-pack checks, one PR comment, annotations, job summary
    Ci(Box<ci_cmd::CiArgs>),
    /// Query kept semantic-diff reports: list, show, compare (diff-on-diff)
    Reports {
        #[command(subcommand)]
        command: diff_cmd::ReportsCommand,
    },
    /// Git hooks: install the pre-commit hook, or run it on what is staged
    Hook {
        #[command(subcommand)]
        command: hook_cmd::HookCommand,
    },
    /// Serve decisions over HTTP (POST /v1/evaluate) on 127.0.0.1:8080
    Serve(serve_cmd::ServeArgs),
    /// Safety workflows: preflight, review, confirm, break glass, execute
    Safety {
        #[command(subcommand)]
        command: safety_cmd::SafetyCommand,
    },
    /// Meta-monitor: the state of the watchers (replay a heartbeat log offline)
    Monitor {
        #[command(subcommand)]
        command: monitor_cmd::MonitorCommand,
    },
    /// A tenant's score on a tenant_benchmark profile, from the server or
    /// offline from a file (exit 1 when there is no score)
    Score(score_cmd::ScoreArgs),
    /// Autoconfig: live configuration against a baseline (plan offline)
    Autoconfig {
        #[command(subcommand)]
        command: autoconfig_cmd::AutoconfigCommand,
    },
    /// Dark inventory: findings from discoveries against a catalog (correlate offline)
    Inventory {
        #[command(subcommand)]
        command: inventory_cmd::InventoryCommand,
    },
    /// Control plane: a rollout's stages, waves and guard verdicts over a fleet (plan offline)
    Fleet {
        #[command(subcommand)]
        command: fleet_cmd::FleetCommand,
    },
    /// Right-to-explanation bundles: exports on the server, verified offline
    Rtx {
        #[command(subcommand)]
        command: rtx_cmd::RtxCommand,
    },
    /// List the block kinds of the language, or describe one
    Kinds {
        /// A block kind, such as `action`
        kind: Option<String>,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Compile a rules directory into one bundle file
    Build {
        /// Rules directory
        dir: PathBuf,
        /// Output file
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Recompute a bundle's fingerprint and check its packs; exit 1 on any mismatch
    Verify {
        /// Bundle file
        file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The one wall-clock read of a command: passed down from here.
    let now = clock::system_now();
    let code = match cli.command {
        Command::Check { dir } => cmd_check(&dir),
        Command::Test { dir, format } => cmd_test(&dir, format),
        Command::Eval {
            rules,
            pack,
            input,
            no_trace,
            now: at,
            dry_run,
        } => cmd_eval(&rules, &pack, &input, !no_trace, at, dry_run, now),
        Command::Fmt { check, paths } => cmd_fmt(check, paths),
        Command::Bundle {
            command: BundleCommand::Build { dir, output },
        } => cmd_bundle_build(&dir, &output, now),
        Command::Bundle {
            command: BundleCommand::Verify { file },
        } => cmd_bundle_verify(&file),
        Command::Kinds { kind } => cmd_kinds(kind.as_deref()),
        Command::Diff(args) => diff_cmd::cmd_diff(&args, now),
        Command::Ci(args) => ci_cmd::cmd_ci(&args),
        Command::Reports { command } => diff_cmd::cmd_reports(&command),
        Command::Hook { command } => hook_cmd::cmd_hook(&command),
        Command::Serve(args) => serve_cmd::cmd_serve(&args),
        Command::Safety { command } => safety_cmd::cmd_safety(&command, now),
        Command::Monitor { command } => monitor_cmd::cmd_monitor(&command, now),
        Command::Score(args) => score_cmd::cmd_score(&args, now),
        Command::Autoconfig { command } => autoconfig_cmd::cmd_autoconfig(&command),
        Command::Inventory { command } => inventory_cmd::cmd_inventory(&command),
        Command::Fleet { command } => fleet_cmd::cmd_fleet(&command),
        Command::Rtx { command } => rtx_cmd::cmd_rtx(&command),
    };
    ExitCode::from(code)
}

fn print_diagnostics(diags: &[diag::Diagnostic], sources: &SourceMap) {
    let mut err = std::io::stderr().lock();
    if std::io::stderr().is_terminal() {
        for d in diags {
            let _ = writeln!(err, "{:?}", d.report(sources));
        }
    } else {
        let _ = write!(err, "{}", diag::render_plain(diags, sources));
    }
    let n = diags.len();
    let _ = writeln!(
        err,
        "error: {n} problem{} found",
        if n == 1 { "" } else { "s" }
    );
}

/// Prints what went wrong loading rules; returns the exit code.
fn report_load_error(e: &load::LoadError) -> u8 {
    match e {
        load::LoadError::Io(msg) => eprintln!("error: {msg}"),
        load::LoadError::Rules { diags, sources } => print_diagnostics(diags, sources),
    }
    e.exit_code()
}

/// Load rules, printing what went wrong. `Err` carries the exit code.
fn load_rules(dir: &Path) -> Result<load::Rules, u8> {
    load::load_path(dir).map_err(|e| report_load_error(&e))
}

/// The rules of `--rules DIR`, or the bundled ones.
fn load_rules_or_bundled(dir: Option<&Path>) -> Result<load::Rules, u8> {
    match dir {
        Some(d) => load_rules(d),
        None => load::load_bundled().map_err(|e| report_load_error(&e)),
    }
}

fn cmd_check(dir: &Path) -> u8 {
    match load_rules(dir) {
        Ok(r) => {
            // The tenant benchmark's bias guard: warnings, not errors.
            if let Ok(pack) = tenet_tenant_benchmark::pack(&r) {
                if let Ok(p) = tenet_tenant_benchmark::profiles::Profiles::read(&pack) {
                    for w in tenet_tenant_benchmark::profiles::bias_warnings(&p) {
                        eprintln!("warning: {w}");
                    }
                }
            }
            let blocks: usize = r.packs.iter().map(|p| p.blocks.len()).sum();
            outln!(
                "ok: {} pack(s), {} block(s) in {}",
                r.packs.len(),
                blocks,
                dir.display()
            );
            exit::OK
        }
        Err(c) => c,
    }
}

fn cmd_test(dir: &Path, format: Format) -> u8 {
    let rules = match load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let report = testing::run_tests(&rules);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Text => {
            for r in &report.results {
                if r.passed {
                    outln!("PASS {}::{}", r.pack, r.name);
                } else {
                    outln!("FAIL {}::{} ({})", r.pack, r.name, r.at);
                    for f in &r.failures {
                        outln!("    {f}");
                    }
                }
            }
            if !report.unexercised.is_empty() {
                outln!("\nrules no test exercises ({}):", report.unexercised.len());
                for u in &report.unexercised {
                    outln!("  {u}");
                }
            }
            outln!("\n{} passed, {} failed", report.passed(), report.failed());
        }
    }
    if report.failed() > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

fn cmd_eval(
    rules_dir: &Path,
    pack: &str,
    input: &Path,
    trace: bool,
    now: Option<String>,
    dry_run: bool,
    wall: Timestamp,
) -> u8 {
    if let Some(n) = &now {
        if let Err(e) = tenet_runtime::dsl::window::parse_time(n) {
            eprintln!("error: --now {e}");
            return exit::ERROR;
        }
    }
    let text = if input.as_os_str() == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("error: cannot read standard input: {e}");
            return exit::ERROR;
        }
        s
    } else {
        match std::fs::read_to_string(input) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", input.display());
                return exit::ERROR;
            }
        }
    };
    let json: serde_json::Value = match serde_json::from_str(&text) {
        Ok(j) => j,
        Err(e) => {
            eprintln!(
                "error: `{}` is not valid JSON: {e} (at {}:{}:{})",
                input.display(),
                input.display(),
                e.line(),
                e.column()
            );
            return exit::ERROR;
        }
    };
    if !json.is_object() {
        eprintln!(
            "error: `{}` must hold a JSON object (the input facts)",
            input.display()
        );
        return exit::ERROR;
    }
    let rules = match load_rules(rules_dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let Some(p) = rules.pack(pack) else {
        let names: Vec<&str> = rules.packs.iter().map(|p| p.name.as_str()).collect();
        eprintln!(
            "error: no pack named `{pack}` in {}; packs are: {}",
            rules_dir.display(),
            names.join(", ")
        );
        return exit::ERROR;
    };
    let input = tenet_runtime::dsl::Value::from_json(&json);
    let opts = decision::DecideOptions {
        trace,
        // The decision date: `--now`, else today (UTC).
        now: Some(now.unwrap_or_else(|| wall.date())),
        dry_run,
    };
    let d = decision::decide(p, &input, rules.scorer_list(), &opts);
    outln!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    exit::OK
}

fn collect_tenet_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir_sorted(p)? {
                out.push(e);
            }
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("`{}` does not exist", p.display()));
        }
    }
    Ok(out)
}

fn walkdir_sorted(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read `{}`: {e}", d.display()))?;
        for e in entries {
            let e = e.map_err(|e| format!("cannot read `{}`: {e}", d.display()))?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tenet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tenet-tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn cmd_fmt(check: bool, paths: Vec<PathBuf>) -> u8 {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("rules")]
    } else {
        paths
    };
    let files = match collect_tenet_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut changed = Vec::new();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", f.display());
                return exit::ERROR;
            }
        };
        let id = sources.add(f.display().to_string(), text.as_str());
        match syntax::parse_with_comments(id, &text) {
            Ok(pack) => {
                let out = dslfmt::format(&pack, &text);
                if out != text {
                    changed.push(f.clone());
                    if !check {
                        if let Err(e) = write_atomic(f, out.as_bytes()) {
                            eprintln!("error: cannot write `{}`: {e}", f.display());
                            return exit::ERROR;
                        }
                    }
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        print_diagnostics(&diags, &sources);
        return exit::FINDINGS;
    }
    for f in &changed {
        if check {
            outln!("would reformat {}", f.display());
        } else {
            outln!("formatted {}", f.display());
        }
    }
    if check && !changed.is_empty() {
        eprintln!(
            "{} file(s) are not formatted; run `tenet fmt`",
            changed.len()
        );
        return exit::FINDINGS;
    }
    if changed.is_empty() {
        outln!("{} file(s) already formatted", files.len());
    }
    exit::OK
}

fn cmd_bundle_build(dir: &Path, output: &Path, now: Timestamp) -> u8 {
    let rules = match load_rules(dir) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let b = bundle::build(&rules, &now.rfc3339());
    let text = match serde_json::to_string_pretty(&b) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot serialise the bundle: {e}");
            return exit::ERROR;
        }
    };
    if let Err(e) = write_atomic(output, text.as_bytes()) {
        eprintln!("error: cannot write `{}`: {e}", output.display());
        return exit::ERROR;
    }
    outln!(
        "wrote {}: {} pack(s), {} input(s), sha256 {}",
        output.display(),
        b.packs.len(),
        b.fingerprint.inputs.len(),
        b.fingerprint.hash
    );
    exit::OK
}

fn cmd_bundle_verify(file: &Path) -> u8 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", file.display());
            return exit::ERROR;
        }
    };
    let b: bundle::Bundle = match serde_json::from_str(&text) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: `{}` is not a tenet bundle: {e} (at {}:{}:{})",
                file.display(),
                file.display(),
                e.line(),
                e.column()
            );
            return exit::ERROR;
        }
    };
    let problems = bundle::verify(&b);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("mismatch: {p}");
        }
        eprintln!(
            "error: bundle `{}` failed verification ({} problem(s))",
            file.display(),
            problems.len()
        );
        return exit::FINDINGS;
    }
    if let Err(e) = bundle::load(&b, &file.display().to_string()) {
        // A bundle whose packs do not load fails verification: findings,
        // whatever the reason.
        report_load_error(&e);
        return exit::FINDINGS;
    }
    outln!(
        "ok: {} input(s), sha256 {}",
        b.fingerprint.inputs.len(),
        b.fingerprint.hash
    );
    exit::OK
}

fn cmd_kinds(kind: Option<&str>) -> u8 {
    use tenet_runtime::dsl::schema::{self, KINDS};
    match kind {
        None => {
            for k in KINDS {
                outln!("{:<11} {:<17} {}", k.kind, k.module, k.doc);
            }
            exit::OK
        }
        Some(name) => {
            let Some(k) = schema::kind(name) else {
                eprintln!("error: unknown block kind `{name}`; run `tenet kinds` for the list");
                return exit::ERROR;
            };
            outln!("{} ({}): {}", k.kind, k.module, k.doc);
            let parents: Vec<&str> = k
                .parents
                .iter()
                .map(|p| if p.is_empty() { "top level" } else { p })
                .collect();
            outln!("appears in: {}", parents.join(", "));
            outln!("fields:");
            for f in k.all_fields() {
                let note = if f.required {
                    "required".to_string()
                } else {
                    f.default
                        .map(|d| format!("default {d}"))
                        .unwrap_or_else(|| "optional".into())
                };
                outln!(
                    "  {:<22} {:<40} {:<22} {}",
                    f.name,
                    f.ty.describe(),
                    note,
                    f.doc
                );
            }
            exit::OK
        }
    }
}
