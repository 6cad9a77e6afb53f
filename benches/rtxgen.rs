//! `rtxgen`: one rtx-export bundle for a subject with N decisions, made
//! the way the server's export worker makes it (`engine::make` over a
//! sorted stream of records, masked by the bundled `rtx_export` pack,
//! signed), then written as an `.rtx` file and verified offline. The
//! decisions are generated one at a time as the engine pulls them, so what
//! the process holds is the engine's own state, not the records: peak RSS
//! should not move between 100,000 and 1,000,000 decisions.
//! `benches/rtx-export-scale.sh` runs it; figures go to BENCHMARKS.md.
//!
//! Usage: `rtxgen N [--jurisdiction CODE] [--requester TYPE] [--out DIR]`
//! or `rtxgen N --generate-only`
//!
//! With `--out`, the bundle goes to `DIR/bundle.json` and the signed file
//! to `DIR/export.rtx` (then verified with `verify::verify_file`);
//! without it, to a sink that only counts (the engine alone).
//! `--generate-only` times making and dropping the records, no engine: the
//! generator's share of the other figures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Map};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;
use tenet_rtx_export::engine;
use tenet_rtx_export::model::{DecisionRecord, Export, ExportRequest, ExportState, Record};
use tenet_rtx_export::sign::Signer;
use tenet_rtx_export::verify;
use tenet_runtime::load::load_dir;

/// 2026-12-01T00:00:00Z.
const T0: i64 = 1_796_083_200_000;
/// One decision every 7.5 s: 1,000,000 decisions span about 87 days.
const STEP_MS: i64 = 7_500;
/// A new rules bundle (pack version) every this many decisions.
const PER_BUNDLE: u64 = 25_000;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A `Write` that keeps nothing and counts what passes.
struct Counting(u64);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A cheap deterministic mix of `i` (splitmix64), so the records vary
/// without a random-number crate and the same N gives the same bytes.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const ETHNICITY: [&str; 5] = ["group-a", "group-b", "group-c", "group-d", "undisclosed"];
const HEALTH: [&str; 4] = ["asthma", "diabetes", "none", "hypertension"];
const OUTCOMES: [&str; 3] = ["allow", "deny", "review"];
const RULES: [&str; 6] = [
    "limit-cut",
    "dti-above-45",
    "new-account",
    "velocity",
    "manual-review",
    "kyc-refresh",
];
const TEXTS: [&str; 4] = [
    "I lost my job in May and my income dropped",
    "Moved house last month, new address attached",
    "Please reconsider: the late payment was a bank error",
    "",
];

/// The `i`th decision about subject `s-1`: the audit log's fields plus the
/// input facts every masking policy of the pack touches (identifiers,
/// special-category features, free text, third-party data, a vendor
/// model's internals on half of them).
fn decision(i: u64) -> Record {
    let r = mix(i);
    let pick = |shift: u32, n: usize| ((r >> shift) as usize) % n;
    let version = i / PER_BUNDLE;
    let vendor = r & 1 == 1;
    let mut facts = Map::new();
    facts.insert("subject_id".into(), json!("s-1"));
    facts.insert("device_id".into(), json!(format!("dev-{}", r % 7)));
    facts.insert(
        "ip_address".into(),
        json!(format!("203.0.113.{}", (r >> 8) % 250)),
    );
    facts.insert(
        "features".into(),
        json!({
            "ethnicity": ETHNICITY[pick(12, ETHNICITY.len())],
            "health_flags": [HEALTH[pick(16, HEALTH.len())]],
            "religion": "undisclosed",
            "precise_geolocation": format!("48.{:04},2.{:04}", (r >> 20) % 10_000, (r >> 34) % 10_000),
            "income": 20_000 + (r >> 24) % 100_000,
            "debt_to_income": ((r >> 40) % 80) as f64 / 100.0,
            "behavioural_signals": {"night_logins": (r >> 44) % 30},
        }),
    );
    facts.insert(
        "raw_inputs".into(),
        json!({"free_text": TEXTS[pick(48, TEXTS.len())], "form": format!("A-{}", (r >> 50) % 40)}),
    );
    if r.is_multiple_of(10) {
        facts.insert(
            "reviewer".into(),
            json!({"name": "Ana Reviewer", "email": "ana@acme.example"}),
        );
        facts.insert("referee_notes".into(), json!("call back after review"));
    }
    facts.insert(
        "model".into(),
        if vendor {
            json!({"provider": "acme-scoring", "name": "fraud-v3",
                   "raw_scores": [((r >> 8) % 100) as f64 / 100.0, ((r >> 16) % 100) as f64 / 100.0],
                   "feature_weights": {"income": -0.4, "debt_to_income": 0.7}})
        } else {
            json!({"provider": "in-house", "name": "credit-limit-v7"})
        },
    );
    let outcome = OUTCOMES[pick(56, OUTCOMES.len())];
    Record::Decision(DecisionRecord {
        id: format!("credit:acme:s-1:{i:09}"),
        at: T0 + i as i64 * STEP_MS,
        pack: "credit".into(),
        pack_version: format!("2.{version}.0"),
        bundle: (0..4)
            .map(|k| format!("{:016x}", mix(version * 4 + k + 1_000_000)))
            .collect(),
        rules: vec![RULES[pick(4, RULES.len())].into()],
        outcome: outcome.into(),
        reason: (outcome != "allow")
            .then(|| format!("{outcome}: rule {}", RULES[pick(4, RULES.len())])),
        facts,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|s| s.replace(['_', ','], "").parse().ok())
        .unwrap_or(100_000);
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let jurisdiction = flag("--jurisdiction").unwrap_or_else(|| "FR".into());
    let requester = flag("--requester").unwrap_or_else(|| "data_subject".into());
    let out_dir = flag("--out").map(PathBuf::from);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = load_dir(&root.join("rules/rtx-export")).expect("rules/rtx-export loads");
    let pack = tenet_rtx_export::pack(&rules).expect("the rtx_export pack");
    // A 32-byte seed in hex, as the configuration gives it.
    let signer = Signer::from_config(&"2a".repeat(32)).expect("signing key");
    let request = ExportRequest::from_json(&json!({
        "subject": "s-1",
        "window": {"from": T0, "to": T0 + n as i64 * STEP_MS + 1},
        "requestor": {"id": "req-7", "type": requester},
        "purpose_of_use": "art-15-access",
        "jurisdiction": jurisdiction,
    }))
    .expect("export request");
    let snapshot = T0 + n as i64 * STEP_MS + 3_600_000;
    let mut export = Export::new("x-scale", "acme", request, "dpo@acme", snapshot);
    let records = (0..n).map(decision);
    let rss_before = peak_rss_mb();
    if args.iter().any(|a| a == "--generate-only") {
        let started = Instant::now();
        let fields: usize = records
            .map(|r| match r {
                Record::Decision(d) => d.facts.len(),
                _ => 0,
            })
            .sum();
        println!(
            "{n} decisions generated and dropped ({fields} top-level facts): {:.2} s, peak RSS {:.1} MB",
            started.elapsed().as_secs_f64(),
            peak_rss_mb()
        );
        return;
    }

    let started = Instant::now();
    let (made, bytes) = match &out_dir {
        Some(dir) => {
            let f = BufWriter::with_capacity(
                1 << 16,
                File::create(dir.join("bundle.json")).expect("bundle.json"),
            );
            let (f, made) =
                engine::make(f, pack, &signer, &export, records, None).expect("the bundle is made");
            f.into_inner().expect("flush").sync_all().expect("sync");
            let size = made.written.size;
            (made, size)
        }
        None => {
            let (sink, made) = engine::make(Counting(0), pack, &signer, &export, records, None)
                .expect("the bundle is made");
            (made, sink.0)
        }
    };
    let make_s = started.elapsed().as_secs_f64();
    let w = &made.written;
    assert_eq!(w.records, n, "every decision is in the bundle");
    assert_eq!(
        w.size, bytes,
        "the size the engine reports is what was written"
    );
    println!(
        "{n} decisions ({jurisdiction}, {requester}): {:.1} MB bundle, {} redactions, sha256 {}",
        w.size as f64 / 1e6,
        w.manifest_entries,
        w.sha256
    );
    println!(
        "  make (mask, canonical JSON, hash, sign){}: {make_s:.2} s, {:.0} decisions/s, peak RSS {:.1} MB (before: {rss_before:.1} MB)",
        if out_dir.is_some() { ", to a file" } else { ", to a counting sink" },
        n as f64 / make_s,
        peak_rss_mb()
    );

    if let Some(dir) = &out_dir {
        let started = Instant::now();
        let rtx = dir.join("export.rtx");
        let bundle = BufReader::with_capacity(
            1 << 16,
            File::open(dir.join("bundle.json")).expect("bundle.json"),
        );
        let out = BufWriter::with_capacity(1 << 16, File::create(&rtx).expect("export.rtx"));
        verify::write_file(out, &made.envelope, bundle)
            .expect(".rtx written")
            .into_inner()
            .expect("flush")
            .sync_all()
            .expect("sync");
        let write_s = started.elapsed().as_secs_f64();

        export
            .transition(ExportState::Ready, snapshot)
            .expect("ready");
        export.sha256 = Some(w.sha256.clone());
        export.size = Some(w.size);
        let status = export.revocation_status();
        let key = signer.public_key();
        let started = Instant::now();
        let file = BufReader::with_capacity(1 << 16, File::open(&rtx).expect("export.rtx"));
        let verified = verify::verify_file(file, &key, Some(&status)).expect("the bundle verifies");
        let verify_s = started.elapsed().as_secs_f64();
        assert_eq!(verified.sha256, w.sha256);
        println!(
            "  .rtx file written (envelope + bundle, streamed): {write_s:.2} s; verify_file (signature, sha256, size, status {:?}): {verify_s:.2} s",
            verified.revocation
        );
    }
    println!("  peak RSS of the process: {:.1} MB", peak_rss_mb());
}
