//! `tenet inventory ...`: dark inventory. `correlate` runs the engine
//! offline on a catalog file and discovery files (each one source run, in
//! the `POST /v1/discoveries` format; JSON is streamed, one resource at a
//! time); `convert` turns an AWS Config export, `kubectl get -o json` or a
//! `tenet diff` report into that format; `ingest`, `findings`, `ack` and
//! `waive` are clients of the server's `/v1` routes.

use crate::api_client::{encode, json_call, ServerArgs};
use crate::exit;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{self, Inventory, Run, RunReport, View};
use tenet_dark_inventory::model::{Batch, CatalogEntry, Status};
use tenet_dark_inventory::parsers::{self, Format as DocFormat, Options};
use tenet_dark_inventory::policy::Policy;
use tenet_dark_inventory::stream::{self, Event};
use tenet_runtime::clock::{system_now, Timestamp};

/// A document format `convert` and `ingest --from` read.
#[derive(Clone, Copy, ValueEnum)]
pub enum From {
    /// AWS Config: `select-resource-config`, `list-discovered-resources` or a snapshot
    AwsConfig,
    /// `kubectl get ingress,svc -A -o json`
    Kubectl,
    /// A `tenet diff --format json` report: the API operations it adds
    SemanticDiff,
}

impl From {
    fn format(self) -> DocFormat {
        match self {
            From::AwsConfig => DocFormat::AwsConfig,
            From::Kubectl => DocFormat::Kubectl,
            From::SemanticDiff => DocFormat::SemanticDiff,
        }
    }
}

/// Where a converted document's run comes from.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The document's format
    #[arg(long, value_enum)]
    from: From,
    /// The discovery source (a `source` of the pack)
    #[arg(long)]
    source: String,
    /// The run's id [default: the document's sha256, so the same export is the same run]
    #[arg(long)]
    run: Option<String>,
    /// When the run observed (RFC 3339) [default: when ingested]
    #[arg(long)]
    at: Option<String>,
    /// `kubectl`: the cluster the objects come from
    #[arg(long)]
    cluster: Option<String>,
    /// `semantic-diff`: the service that owns the API [default: the artifact's path]
    #[arg(long)]
    service: Option<String>,
}

#[derive(Subcommand)]
pub enum InventoryCommand {
    /// Findings from a catalog and discovery runs, offline (exit 1 when
    /// one is open at `--at`)
    Correlate {
        /// The catalog: a list of entries, or `{entries: [...], facts: {...}}` (JSON or YAML)
        #[arg(long)]
        catalog: PathBuf,
        /// Discovery runs in the `POST /v1/discoveries` format, ingested in order
        #[arg(long, required = true, num_args = 1..)]
        discoveries: Vec<PathBuf>,
        /// Show the findings as they stand at this time (RFC 3339; runs without `at` are taken then) [default: now]
        #[arg(long)]
        at: Option<String>,
        /// Rules directory [default: the bundled rules]
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Turn an AWS Config export, `kubectl -o json` or a `tenet diff` report into a discovery run
    Convert {
        /// The document
        file: PathBuf,
        #[command(flatten)]
        convert: ConvertArgs,
    },
    /// Send a discovery run to the server (a batch file, or a document with `--from`)
    Ingest {
        /// The batch (or, with `--from`, the document)
        file: PathBuf,
        /// Convert the document first (then `--source` is required)
        #[arg(long, value_enum)]
        from: Option<From>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// The tenant (a platform identity) [default: the token's, else `default`]
        #[arg(long)]
        tenant: Option<String>,
        /// Say what the run would do; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The findings on the server (exit 1 when one is open)
    Findings {
        /// `open`, `acknowledged`, `waived` or `closed`
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        /// As they stood at this time (RFC 3339)
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Acknowledge a finding on the server: visible, but quiet
    Ack {
        id: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Waive a finding on the server until a time (at most the pack's `max_waiver`)
    Waive {
        id: String,
        #[arg(long)]
        owner: String,
        #[arg(long)]
        justification: String,
        #[arg(long)]
        approver: Option<String>,
        /// RFC 3339
        #[arg(long)]
        until: String,
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn fail(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    exit::ERROR
}

fn time(flag: &str, t: &Option<String>) -> Result<Option<i64>, u8> {
    t.as_ref()
        .map(|t| {
            Timestamp::parse(t)
                .map(Timestamp::millis)
                .map_err(|e| fail(format!("{flag}: {e}")))
        })
        .transpose()
}

/// A JSON or YAML file (by its extension).
fn read_doc(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => {
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
        _ => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
    }
}

fn convert(file: &Path, a: &ConvertArgs) -> Result<Batch, u8> {
    let bytes =
        std::fs::read(file).map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let run = a.run.clone().unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        format!("sha256:{}", &hex::encode(Sha256::digest(&bytes))[..16])
    });
    let opts = Options {
        source: a.source.clone(),
        run,
        at: time("--at", &a.at)?,
        tenant: None,
        cluster: a.cluster.clone(),
        service: a.service.clone(),
    };
    parsers::parse(a.from.format(), &bytes, &opts)
        .map_err(|e| fail(format!("{}: {e}", file.display())))
}

pub fn cmd_inventory(cmd: &InventoryCommand) -> u8 {
    let r = match cmd {
        InventoryCommand::Correlate {
            catalog,
            discoveries,
            at,
            rules,
            format,
        } => correlate(catalog, discoveries, at, rules.as_deref(), *format),
        InventoryCommand::Convert { file, convert: a } => convert(file, a).map(|b| {
            println!("{}", serde_json::to_string_pretty(&b).unwrap_or_default());
            exit::OK
        }),
        _ => client(cmd),
    };
    r.unwrap_or_else(|code| code)
}

fn client(cmd: &InventoryCommand) -> Result<u8, u8> {
    let q = |pairs: &[(&str, &Option<String>)]| -> String {
        let parts: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
            .collect();
        parts.join("&")
    };
    match cmd {
        InventoryCommand::Ingest {
            file,
            from,
            source,
            run,
            at,
            cluster,
            service,
            tenant,
            dry_run,
            server,
        } => {
            let mut batch = match from {
                Some(f) => {
                    let Some(source) = source else {
                        return Err(fail("`--from` needs `--source`"));
                    };
                    let a = ConvertArgs {
                        from: *f,
                        source: source.clone(),
                        run: run.clone(),
                        at: at.clone(),
                        cluster: cluster.clone(),
                        service: service.clone(),
                    };
                    convert(file, &a)?
                }
                None => serde_json::from_value(read_doc(file).map_err(fail)?)
                    .map_err(|e| fail(format!("{}: not a discovery batch: {e}", file.display())))?,
            };
            if tenant.is_some() {
                batch.tenant = tenant.clone();
            }
            let path = if *dry_run {
                "/v1/discoveries?dry_run=true"
            } else {
                "/v1/discoveries"
            };
            let body = serde_json::to_value(&batch).map_err(fail)?;
            let v = json_call(server, "POST", path, Some(body))?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(exit::OK)
        }
        InventoryCommand::Findings {
            status,
            severity,
            source,
            rule,
            at,
            tenant,
            format,
            server,
        } => {
            let base = q(&[
                ("status", status),
                ("severity", severity),
                ("source", source),
                ("rule", rule),
                ("at", at),
                ("tenant", tenant),
            ]);
            let mut all: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut page_at = None;
            loop {
                let c = q(&[("cursor", &cursor)]);
                let query = [base.as_str(), c.as_str(), "limit=1000"]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("&");
                let v = json_call(server, "GET", &format!("/v1/findings?{query}"), None)?;
                page_at = v["at"].as_str().map(str::to_string).or(page_at);
                all.extend(v["findings"].as_array().cloned().unwrap_or_default());
                match v["next_cursor"].as_str() {
                    Some(n) => cursor = Some(n.to_string()),
                    None => break,
                }
            }
            let open = all.iter().any(|f| f["status"] == "open");
            match format {
                crate::Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"at": page_at, "findings": all}))
                        .unwrap_or_default()
                ),
                crate::Format::Text => {
                    print!("{}", text_of_values(&all, page_at.as_deref().unwrap_or("")))
                }
            }
            Ok(if open { exit::FINDINGS } else { exit::OK })
        }
        InventoryCommand::Ack {
            id,
            note,
            tenant,
            server,
        } => {
            let t = q(&[("tenant", tenant)]);
            let path = format!(
                "/v1/findings/{}/ack{}{t}",
                encode(id),
                if t.is_empty() { "" } else { "?" }
            );
            let v = json_call(server, "POST", &path, Some(json!({"note": note})))?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(exit::OK)
        }
        InventoryCommand::Waive {
            id,
            owner,
            justification,
            approver,
            until,
            tenant,
            server,
        } => {
            let t = q(&[("tenant", tenant)]);
            let path = format!(
                "/v1/findings/{}/waive{}{t}",
                encode(id),
                if t.is_empty() { "" } else { "?" }
            );
            let body = json!({"owner": owner, "justification": justification, "approver": approver, "until": until});
            let v = json_call(server, "POST", &path, Some(body))?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(exit::OK)
        }
        InventoryCommand::Correlate { .. } | InventoryCommand::Convert { .. } => Ok(exit::ERROR),
    }
}

/// A catalog file's shape, read straight from JSON.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum CatalogFile {
    List(Vec<CatalogEntry>),
    Map(CatalogMap),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogMap {
    entries: Vec<CatalogEntry>,
    #[serde(default)]
    facts: Option<Value>,
}

/// The catalog file: a list of entries, or `{entries, facts}`.
fn read_catalog(path: &Path) -> Result<(Vec<CatalogEntry>, Value), String> {
    if !matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) {
        // Straight into entries (no JSON tree first); on failure, read it
        // again below for a precise error.
        if let Ok(f) = std::fs::File::open(path) {
            let r = std::io::BufReader::with_capacity(1 << 16, f);
            match serde_json::from_reader::<_, CatalogFile>(r) {
                Ok(CatalogFile::List(e)) => return Ok((e, json!({}))),
                Ok(CatalogFile::Map(m)) => {
                    return Ok((m.entries, m.facts.unwrap_or_else(|| json!({}))))
                }
                Err(_) => {}
            }
        }
    }
    let v = read_doc(path)?;
    let (entries, facts) = match v {
        Value::Array(_) => (v, json!({})),
        Value::Object(mut m) => {
            let entries = m.remove("entries").ok_or_else(|| {
                format!(
                    "{}: a catalog is a list of entries or `{{entries: [...], facts: {{...}}}}`",
                    path.display()
                )
            })?;
            let facts = m.remove("facts").unwrap_or_else(|| json!({}));
            if let Some(k) = m.keys().next() {
                return Err(format!(
                    "{}: unknown field `{k}` (a catalog has `entries` and `facts`)",
                    path.display()
                ));
            }
            (entries, facts)
        }
        _ => {
            return Err(format!(
                "{}: a catalog is a list of entries or `{{entries, facts}}`",
                path.display()
            ))
        }
    };
    let entries: Vec<CatalogEntry> =
        serde_json::from_value(entries).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((entries, facts))
}

fn correlate(
    catalog: &Path,
    discoveries: &[PathBuf],
    at: &Option<String>,
    rules: Option<&Path>,
    format: crate::Format,
) -> Result<u8, u8> {
    let loaded = match rules {
        None => tenet_runtime::load::load_bundled(),
        Some(d) => tenet_runtime::load::load_path(d),
    };
    let loaded = loaded.map_err(|e| crate::report_load_error(&e))?;
    let pack = tenet_dark_inventory::pack(&loaded).map_err(fail)?;
    let policy = Policy::read(&pack).map_err(fail)?;
    let now = time("--at", at)?.unwrap_or_else(|| system_now().millis());
    let (entries, facts) = read_catalog(catalog).map_err(fail)?;
    let index = CatalogIndex::build(&pack, &policy, entries, facts)
        .map_err(|e| fail(format!("{}: {e}", catalog.display())))?;
    let mut inv = Inventory::new("default");
    let mut runs: Vec<RunReport> = Vec::new();
    for path in discoveries {
        let report = ingest_file(&pack, &policy, &index, &mut inv, path, now)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        runs.push(report);
    }
    let mut views: Vec<View> = inv
        .findings
        .values()
        .filter(|f| f.merged_into.is_none() && f.first_seen <= now)
        .map(|f| engine::view_at(f, now, &policy.lifecycle))
        .collect();
    views.sort_by(|a, b| {
        (policy.rank(&a.severity), &a.first_seen, &a.id).cmp(&(
            policy.rank(&b.severity),
            &b.first_seen,
            &b.id,
        ))
    });
    let at_text = Timestamp::from_millis(now).rfc3339();
    match format {
        crate::Format::Json => {
            // Written as it is serialised: a hundred thousand findings are
            // never one JSON tree in memory.
            write_json(&at_text, &runs, &views).map_err(fail)?;
        }
        crate::Format::Text => {
            for r in &runs {
                println!(
                    "run {} of {}: {} resource(s), {} registered, {} ignored, {} new, {} closed{}",
                    r.run,
                    r.source,
                    r.resources,
                    r.registered,
                    r.ignored,
                    r.new.len(),
                    r.closed.len(),
                    r.guard
                        .as_ref()
                        .map(|g| format!(" ({g})"))
                        .unwrap_or_default()
                );
            }
            println!();
            let values: Vec<Value> = views
                .iter()
                .map(|v| serde_json::to_value(v).unwrap_or_default())
                .collect();
            print!("{}", text_of_values(&values, &at_text));
        }
    }
    Ok(if views.iter().any(|v| v.status == Status::Open) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

fn write_json(at: &str, runs: &[RunReport], views: &[View]) -> std::io::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let pretty = |w: &mut std::io::BufWriter<_>, v: &dyn erased::Ser| v.write(w);
    write!(
        w,
        "{{\n  \"at\": {},\n  \"runs\": ",
        serde_json::to_string(at)?
    )?;
    pretty(&mut w, &runs)?;
    write!(w, ",\n  \"findings\": [")?;
    for (i, v) in views.iter().enumerate() {
        writeln!(w, "{}", if i == 0 { "" } else { "," })?;
        pretty(&mut w, v)?;
    }
    writeln!(w, "{}]\n}}", if views.is_empty() { "" } else { "\n" })?;
    w.flush()
}

/// Pretty-printing a value into a writer, whatever its type.
mod erased {
    pub trait Ser {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer_pretty(w, self).map_err(std::io::Error::other)
        }
    }
}

/// One discovery file into the inventory: JSON streamed, YAML read whole.
fn ingest_file(
    pack: &tenet_runtime::pack::PackHandle,
    policy: &Policy,
    index: &CatalogIndex,
    inv: &mut Inventory,
    path: &Path,
    now: i64,
) -> Result<RunReport, String> {
    if matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) {
        let b: Batch = serde_json::from_value(read_doc(path)?)
            .map_err(|e| format!("not a discovery batch: {e}"))?;
        return engine::ingest(pack, policy, index, inv, &b, now).map_err(|e| e.to_string());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut run: Option<Run> = None;
    {
        let inv_ref: &Inventory = inv;
        stream::read(file, |ev| match ev {
            Event::Head { head, .. } => {
                run = Some(
                    Run::begin(pack, policy, index, inv_ref, &head, now)
                        .map_err(|e| e.to_string())?,
                );
                Ok(())
            }
            Event::Resource(d) => match run.as_mut() {
                Some(r) => r.add(inv_ref, &d).map_err(|e| e.to_string()),
                None => Err("a resource before the batch's head".into()),
            },
        })?;
    }
    let run = run.ok_or("the batch has no `source` and `run`")?;
    Ok(run.finish(inv))
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Findings as a table (highest severity first), each with its explanation.
fn text_of_values(findings: &[Value], at: &str) -> String {
    let open = findings.iter().filter(|f| f["status"] == "open").count();
    let mut out = format!("{} finding(s) at {at}, {open} open\n", findings.len());
    if findings.is_empty() {
        return out;
    }
    out.push('\n');
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            let status = match f["status"].as_str() {
                Some("waived") => format!("waived until {}", cell(&f["waived_until"])),
                Some("closed") => format!("closed ({})", cell(&f["closed_reason"])),
                other => other.unwrap_or("-").to_string(),
            };
            let sla = match f["sla"].as_object() {
                None => "-".to_string(),
                Some(s) => {
                    let m = cell(&s["margin"]);
                    let abs = m.trim_start_matches('-');
                    match s["state"].as_str().unwrap_or_default() {
                        "running" => format!("{m} left"),
                        "paused" => format!("paused, {m} left"),
                        "breached" => format!("breached by {abs}"),
                        "met" => format!("met by {m}"),
                        "missed" => format!("missed by {abs}"),
                        other => other.to_string(),
                    }
                }
            };
            let sources = f["sources"]
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            [
                cell(&f["severity"]),
                status,
                cell(&f["key"]),
                cell(&f["age"]),
                sla,
                sources,
            ]
        })
        .collect();
    let head = ["SEVERITY", "STATUS", "KEY", "AGE", "SLA", "SOURCES"];
    let w: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: [&str; 6]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_string()
    };
    out.push_str(&line(head));
    out.push('\n');
    for (r, f) in rows.iter().zip(findings) {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        out.push('\n');
        out.push_str(&format!("  {}\n", cell(&f["explanation"])));
    }
    out
}
