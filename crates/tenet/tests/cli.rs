//! Whole-process tests of the `tenet` binary: arguments, exit code, stdout
//! and stderr. Snapshots live in `snapshots/cli/`.

// Tests and benches may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

mod common;

use common::{root, tenet_in, Run};

fn tenet(args: &[&str]) -> Run {
    tenet_in(&root(), args)
}

fn snap(name: &str, run: &Run) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/cli"));
    s.set_prepend_module_to_snapshot(false);
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    s.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

#[test]
fn check_accepts_every_bundled_pack() {
    let r = tenet(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("ok: 9 pack(s)"), "{}", r.stdout);
}

#[test]
fn test_runs_every_bundled_rule_test_and_leaves_no_rule_unexercised() {
    let r = tenet(&["test"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" passed, 0 failed"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("rules no test exercises"),
        "{}",
        r.stdout
    );
    let passed: usize = r
        .stdout
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        passed >= 40,
        "expected the bundled packs to carry real tests, found {passed}"
    );
}

#[test]
fn check_reports_every_problem_with_location_and_exit_1() {
    let r = tenet(&["check", "fixtures/cli/broken"]);
    assert_eq!(r.code, 1);
    snap("check-broken", &r);
}

#[test]
fn check_of_a_missing_directory_is_exit_2() {
    let r = tenet(&["check", "no/such/dir"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`no/such/dir` is not a directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn eval_prints_the_decision_with_a_trace() {
    let r = tenet(&[
        "eval",
        "--rules",
        "fixtures/cli/rules",
        "--pack",
        "export",
        "--input",
        "fixtures/cli/input.json",
        "--now",
        "2026-11-25",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(d["highest_risk"], "high");
    assert_eq!(d["blocking"], true);
    snap("eval-export", &r);
}

/// The global dry-run reports the same decision and blocks nothing: a
/// mass delete blocks without it, and with it only `blocking` and the
/// `dry_run` marker change.
#[test]
fn eval_dry_run_reports_every_match_and_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("delete.json");
    std::fs::write(
        &input,
        r#"{"action": {"verb": "delete", "rows": 20000, "tenant": "acme"}, "actor": {"id": "alice"}}"#,
    )
    .unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--rules",
            "rules",
            "--pack",
            "safety",
            "--input",
            input.to_str().unwrap(),
            "--now",
            "2026-11-25",
        ];
        args.extend(extra);
        let r = tenet(&args);
        assert_eq!(r.code, 0, "{r:?}");
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()
    };
    let enforced = eval(&[]);
    assert_eq!(enforced["blocking"], true, "{enforced:#}");
    assert_eq!(enforced["dry_run"], false);
    assert_eq!(enforced["highest_risk"], "high");
    let matched = enforced["matched"].as_array().unwrap();
    assert_eq!(matched.len(), 1, "{enforced:#}");
    assert_eq!(matched[0]["block"], "mass-delete");
    assert_eq!(matched[0]["enforcement"], "hard_mandatory");
    assert_eq!(matched[0]["effects"]["approval_ttl"], "2h");
    assert_eq!(matched[0]["effects"]["hold"], "30m");

    let dry = eval(&["--dry-run"]);
    assert_eq!(dry["blocking"], false, "{dry:#}");
    assert_eq!(dry["dry_run"], true);
    // Everything else is the enforced decision: the same matches with the
    // same effects and because, the same risk, the same trace.
    let mut expected = enforced.clone();
    expected["blocking"] = false.into();
    expected["dry_run"] = true.into();
    assert_eq!(dry, expected);
}

#[test]
fn eval_reads_standard_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_tenet"))
        .args([
            "eval",
            "--rules",
            "fixtures/cli/rules",
            "--pack",
            "export",
            "--input",
            "-",
            "--no-trace",
        ])
        .current_dir(root())
        .stdin(std::fs::File::open(root().join("fixtures/cli/input.json")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["matched"].as_array().unwrap().len(), 2);
    assert!(d.get("trace").is_none());
}

#[test]
fn eval_rejects_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"action\": ").unwrap();
    let r = tenet(&[
        "eval",
        "--rules",
        "fixtures/cli/rules",
        "--pack",
        "export",
        "--input",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is not valid JSON") && r.stderr.contains(":1:"),
        "{}",
        r.stderr
    );
    std::fs::write(&bad, "[1, 2]").unwrap();
    let r = tenet(&[
        "eval",
        "--rules",
        "fixtures/cli/rules",
        "--pack",
        "export",
        "--input",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("must hold a JSON object"), "{}", r.stderr);
    let r = tenet(&[
        "eval",
        "--rules",
        "fixtures/cli/rules",
        "--pack",
        "nope",
        "--input",
        "fixtures/cli/input.json",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no pack named `nope`") && r.stderr.contains("export"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_shows_a_readable_diff_and_exits_1_on_failure() {
    let r = tenet(&["test", "fixtures/cli/failing"]);
    assert_eq!(r.code, 1);
    snap("test-failing", &r);
}

/// Beyond the names that match, a failing test says what the decision did
/// with each block it expected inconclusive, waived or carrying effects
/// and a `because`, and why it did or did not block.
#[test]
fn test_failures_say_what_the_decision_did() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.tenet"),
        r#"tenet 1
pack t version "1.0.0"

action purge {
  match     action.verb == "purge"
  risk      high
  hold      30m
  approvals 2
  because   "purging {action.rows} rows"
}

rule slow {
  when       input.latency > 100
  on_no_data inconclusive
  risk       low
}

waiver ops {
  rules         ["purge"]
  when          actor.id == "ops"
  owner         "o"
  justification "j"
  expires       "2099-01-01"
}

test purge-is-waived {
  input               {action: {verb: "purge", rows: 9}, actor: {id: "alice"}, latency: 3}
  now                 "2026-01-01"
  expect_waived       ["purge"]
  expect_inconclusive ["slow"]
  expect_blocking     false
  expect_effects      {purge: {hold: 1h, approvals: 2}}
  expect_because      {purge: "purging 10 rows"}
}

test slow-without-data {
  input               {action: {verb: "read"}, actor: {id: "ops"}}
  expect_inconclusive []
  expect_because      {purge: /rows/}
}
"#,
    )
    .unwrap();
    let r = tenet_in(dir.path(), &["test", "."]);
    assert_eq!(r.code, 1, "{r:?}");
    snap("test-failing-outcomes", &r);
}

#[test]
fn test_json_output_is_machine_readable() {
    let r = tenet(&["test", "fixtures/cli/rules", "--format", "json"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
}

#[test]
fn fmt_check_lists_unformatted_files_then_fmt_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.tenet");
    let messy = "tenet 1\npack p version \"1.0.0\"\nrule r { when input.x>1 # keep me\n}\n";
    std::fs::write(&file, messy).unwrap();
    let r = tenet_in(dir.path(), &["fmt", "--check", "."]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("would reformat ./p.tenet"),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        messy,
        "--check must not write"
    );
    let r = tenet_in(dir.path(), &["fmt", "."]);
    assert_eq!(r.code, 0);
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(
        formatted.contains("  when input.x > 1 # keep me\n"),
        "{formatted}"
    );
    let r = tenet_in(dir.path(), &["fmt", "--check", "."]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn fmt_refuses_a_file_that_does_not_parse_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.tenet");
    let broken = "tenet 1\npack p version \"1.0.0\"\nrule r { when\n";
    std::fs::write(&file, broken).unwrap();
    let r = tenet_in(dir.path(), &["fmt", "."]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("p.tenet:"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
}

#[test]
fn bundle_build_and_verify_round_trip_and_tampering_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let r = tenet(&[
        "bundle",
        "build",
        "fixtures/cli/rules",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = tenet(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let tampered = text.replace("review_limit = 1GB", "review_limit = 9GB");
    assert_ne!(text, tampered);
    std::fs::write(&out, tampered).unwrap();
    let r = tenet(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("does not match its recorded sha256"),
        "{}",
        r.stderr
    );
    std::fs::write(&out, "not json").unwrap();
    let r = tenet(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
}

#[test]
fn bundle_build_of_broken_rules_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let r = tenet(&[
        "bundle",
        "build",
        "fixtures/cli/broken",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(!out.exists());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(tenet(&["frobnicate"]).code, 2);
    assert_eq!(tenet(&["eval"]).code, 2);
    let r = tenet(&["--help"]);
    assert_eq!(r.code, 0);
    snap("help", &r);
}

#[test]
fn kinds_lists_the_schema_table() {
    let r = tenet(&["kinds"]);
    assert_eq!(r.code, 0);
    for k in [
        "rule",
        "taxonomy",
        "action",
        "threshold",
        "profile",
        "factor",
        "badge",
        "baseline",
        "setting",
        "watcher",
        "correlate",
        "rollout",
        "stage",
        "guard",
        "masking",
        "scorer",
        "waiver",
        "window",
        "hysteresis",
        "gate",
        "test",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&format!("{k} "))),
            "missing kind {k}"
        );
    }
    let r = tenet(&["kinds", "nope"]);
    assert_eq!(r.code, 2);
}

#[test]
fn eval_rejects_a_bad_now_with_exit_2() {
    for bad in [
        "notadate",
        "2026-13-99",
        "2026-02-30",
        "2026-1-5",
        "2026-11-25T25:00:00Z",
    ] {
        let r = tenet(&[
            "eval",
            "--rules",
            "fixtures/cli/rules",
            "--pack",
            "export",
            "--input",
            "fixtures/cli/input.json",
            "--now",
            bad,
        ]);
        assert_eq!(r.code, 2, "--now {bad}: {}", r.stdout);
        assert!(
            r.stderr
                .contains(&format!("--now `{bad}` is not a date `YYYY-MM-DD`")),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "no decision on a bad --now");
    }
    for good in [
        "2026-11-25",
        "2026-11-25T10:00:00Z",
        "2026-11-25T11:00:00+01:00",
    ] {
        let r = tenet(&[
            "eval",
            "--rules",
            "fixtures/cli/rules",
            "--pack",
            "export",
            "--input",
            "fixtures/cli/input.json",
            "--now",
            good,
            "--no-trace",
        ]);
        assert_eq!(r.code, 0, "--now {good}: {}", r.stderr);
    }
}

#[test]
fn check_accepts_a_single_pack_file() {
    let r = tenet(&["check", "rules/safety-workflows/safety.tenet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("ok: 1 pack(s)"), "{}", r.stdout);
    // A broken file: its own problems, located, exit 1.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.tenet"),
        "tenet 1\npack p version \"1.0.0\"\n\nrule r {\n  when input.x > 1\n  colour red\n}\n",
    )
    .unwrap();
    let r = tenet_in(dir.path(), &["check", "p.tenet"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("p.tenet:6:3") && r.stderr.contains("unknown-field"),
        "{}",
        r.stderr
    );
    let r = tenet(&["check", "README.md"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`README.md` is not a .tenet file"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_and_test_of_a_directory_without_packs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "no packs here").unwrap();
    for cmd in ["check", "test"] {
        let r = tenet(&[cmd, dir.path().to_str().unwrap()]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stdout);
        assert!(
            r.stderr.contains("no .tenet files under"),
            "{cmd}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_missing_rules_directory_says_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = tenet_in(dir.path(), &["check"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`rules` is not a directory")
            && r.stderr.contains("--rules DIR")
            && r.stderr.contains("repository root"),
        "{}",
        r.stderr
    );
}

#[test]
fn bundle_verify_catches_an_edited_or_deleted_packs_entry() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let r = tenet(&["bundle", "build", "rules", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(
        !original["packs"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("rules/"),
        "pack paths are relative to the rules root: {}",
        original["packs"][0]
    );
    let mut edited = original.clone();
    edited["packs"][0]["version"] = "9.9.9".into();
    std::fs::write(&out, serde_json::to_string(&edited).unwrap()).unwrap();
    let r = tenet(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("9.9.9"), "{}", r.stderr);
    let mut deleted = original.clone();
    deleted["packs"].as_array_mut().unwrap().remove(0);
    std::fs::write(&out, serde_json::to_string(&deleted).unwrap()).unwrap();
    let r = tenet(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("missing from the bundle's `packs` list"),
        "{}",
        r.stderr
    );
}

/// `tenet ARGS | head`: standard output is a pipe nobody reads (its read
/// end is closed before tenet starts, so the first write fails).
fn into_closed_pipe(args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = common::tenet_command()
        .args(args)
        .current_dir(root())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_exit_0() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("a.yaml"), "a: 1\nb: 2\n").unwrap();
    std::fs::write(t.path().join("b.yaml"), "a: 2\n").unwrap();
    let (a, b) = (t.path().join("a.yaml"), t.path().join("b.yaml"));
    let eval = [
        "eval",
        "--rules",
        "fixtures/cli/rules",
        "--pack",
        "export",
        "--input",
        "fixtures/cli/input.json",
    ];
    let diff = [
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--no-store",
        "--format",
        "md",
    ];
    let cases: [&[&str]; 7] = [
        &["kinds"],
        &["kinds", "action"],
        &eval,
        &["test"],
        &["check"],
        &diff,
        &["--help"],
    ];
    for args in cases {
        let r = into_closed_pipe(args);
        assert_eq!(r.code, 0, "tenet {args:?} into a closed pipe: {r:?}");
        assert!(
            !r.stderr.contains("panicked") && !r.stderr.contains("Broken pipe"),
            "tenet {args:?} into a closed pipe: {r:?}"
        );
    }
}

#[test]
fn eval_decides_waivers_at_the_now_it_is_given_else_today() {
    let t = tempfile::tempdir().unwrap();
    let pack = |expires: &str| {
        format!(
            "tenet 1\npack w version \"1.0.0\"\n\naction purge {{\n  match   action.verb == \"purge\"\n  risk    high\n  because \"purge\"\n}}\n\nwaiver nightly {{\n  rules         [\"purge\"]\n  owner         \"data\"\n  approver      \"sec\"\n  justification \"the nightly job\"\n  expires       \"{expires}\"\n}}\n"
        )
    };
    std::fs::write(
        t.path().join("input.json"),
        r#"{"action": {"verb": "purge"}}"#,
    )
    .unwrap();
    let eval = |expires: &str, now: Option<&str>| -> (usize, usize) {
        let rules = t.path().join(format!("rules-{expires}"));
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("w.tenet"), pack(expires)).unwrap();
        let mut args = vec![
            "eval",
            "--rules",
            rules.to_str().unwrap(),
            "--pack",
            "w",
            "--input",
            "input.json",
            "--no-trace",
        ];
        if let Some(n) = now {
            args.extend(["--now", n]);
        }
        let r = tenet_in(t.path(), &args);
        assert_eq!(r.code, 0, "{r:?}");
        let d: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(d["errors"], serde_json::json!([]), "{r:?}");
        let n = |k: &str| d[k].as_array().unwrap().len();
        (n("matched"), n("waived"))
    };
    // (matched, waived): live until the expiry day starts, in UTC.
    assert_eq!(eval("2026-12-04", Some("2026-12-03T23:59:59Z")), (0, 1));
    assert_eq!(eval("2026-12-04", Some("2026-12-04")), (1, 0));
    assert_eq!(
        eval("2026-12-04", Some("2026-12-04T00:30:00+01:00")),
        (0, 1)
    );
    assert_eq!(
        eval("2026-12-04", Some("2026-12-03T23:30:00-01:00")),
        (1, 0)
    );
    // No --now: today, from the wall clock.
    assert_eq!(eval("2999-01-01", None), (0, 1));
    assert_eq!(eval("2000-01-01", None), (1, 0));
}
