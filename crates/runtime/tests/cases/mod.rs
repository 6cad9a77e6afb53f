//! Evaluation semantics as data: every case in `fixtures/eval/*.yaml`.

use crate::common::{decide_both, load_one, root};
use serde::Deserialize;
use std::collections::BTreeMap;
use tenet_runtime::dsl::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    expr: Option<String>,
    pack: Option<String>,
    /// Other packs loaded in the same run, so that `pack` can import them.
    #[serde(default)]
    imports: Vec<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
    now: Option<String>,
    /// Expected value of `expr`; `Some(None)` is an explicit null.
    #[serde(default, deserialize_with = "explicit")]
    value: Option<serde_json::Value>,
    error: Option<String>,
    want: Option<Want>,
}

fn explicit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Want {
    matched: Option<Vec<String>>,
    waived: Option<Vec<String>>,
    inconclusive: Option<Vec<String>>,
    #[serde(default, deserialize_with = "explicit")]
    highest_risk: Option<serde_json::Value>,
    blocking: Option<bool>,
    errors: Option<usize>,
    because: Option<BTreeMap<String, String>>,
    effects: Option<BTreeMap<String, serde_json::Value>>,
}

/// The case's pack first (the one decided), then the packs it imports.
fn load_with_imports(pack: &str, imports: &[String]) -> Result<tenet_runtime::load::Rules, String> {
    let mut files = vec![tenet_runtime::load::RuleFile {
        path: "case.tenet".into(),
        text: pack.to_string(),
    }];
    for (i, text) in imports.iter().enumerate() {
        files.push(tenet_runtime::load::RuleFile {
            path: format!("import{i}.tenet"),
            text: text.clone(),
        });
    }
    match tenet_runtime::load::load_files(files, "") {
        Ok(r) if r.packs.first().is_some_and(|p| p.file == "case.tenet") => Ok(r),
        Ok(_) => Err("the case's pack is not the first pack loaded".into()),
        Err(tenet_runtime::LoadError::Rules { diags, sources }) => Err(format!(
            "case does not check:\n{}",
            tenet_runtime::dsl::diag::render_plain(&diags, &sources)
        )),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn run_case(case: &Case) -> Result<(), String> {
    let input = Value::from_json(case.input.as_ref().unwrap_or(&serde_json::json!({})));
    if let Some(expr) = &case.expr {
        let src = format!(
            "tenet 1\npack t version \"1.0.0\"\nrule r {{\n  when true\n  emit {expr}\n}}\n"
        );
        let rules = load_one(&src);
        let d = decide_both(&rules, &input, case.now.clone());
        match (&case.value, &case.error) {
            (Some(want), None) => {
                let m = d
                    .matched
                    .first()
                    .ok_or_else(|| format!("no match; errors: {:?}", d.errors))?;
                let got = m
                    .effects
                    .get("emit")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                if &got != want {
                    return Err(format!("expected {want}, got {got}"));
                }
            }
            (None, Some(want)) => {
                let e = d
                    .errors
                    .first()
                    .ok_or_else(|| format!("expected error `{want}`, got {:?}", d.matched))?;
                if !e.message.contains(want.as_str()) {
                    return Err(format!(
                        "expected error containing `{want}`, got `{}`",
                        e.message
                    ));
                }
            }
            _ => return Err("an expression case needs exactly one of `value` or `error`".into()),
        }
        return Ok(());
    }
    let pack = case.pack.as_ref().ok_or("a case needs `expr` or `pack`")?;
    let rules = if case.imports.is_empty() {
        load_one(pack)
    } else {
        load_with_imports(pack, &case.imports)?
    };
    let d = decide_both(&rules, &input, case.now.clone());
    let want = case.want.as_ref().ok_or("a pack case needs `want`")?;
    let names = |ms: &[tenet_runtime::decision::Match]| {
        ms.iter().map(|m| m.block.clone()).collect::<Vec<_>>()
    };
    if let Some(m) = &want.matched {
        if &names(&d.matched) != m {
            return Err(format!(
                "matched: expected {m:?}, got {:?}",
                names(&d.matched)
            ));
        }
    }
    if let Some(w) = &want.waived {
        if &names(&d.waived) != w {
            return Err(format!(
                "waived: expected {w:?}, got {:?}",
                names(&d.waived)
            ));
        }
    }
    if let Some(i) = &want.inconclusive {
        if &d.inconclusive != i {
            return Err(format!(
                "inconclusive: expected {i:?}, got {:?}",
                d.inconclusive
            ));
        }
    }
    if let Some(h) = &want.highest_risk {
        let got = d
            .highest_risk
            .clone()
            .map(serde_json::Value::String)
            .unwrap_or(serde_json::Value::Null);
        if &got != h {
            return Err(format!("highest_risk: expected {h}, got {got}"));
        }
    }
    if let Some(b) = want.blocking {
        if d.blocking != b {
            return Err(format!("blocking: expected {b}, got {}", d.blocking));
        }
    }
    let want_errors = want.errors.unwrap_or(0);
    if d.errors.len() != want_errors {
        return Err(format!(
            "errors: expected {want_errors}, got {:?}",
            d.errors
        ));
    }
    if let Some(bs) = &want.because {
        for (block, text) in bs {
            let m = d
                .matched
                .iter()
                .find(|m| &m.block == block)
                .ok_or(format!("`{block}` did not match"))?;
            if m.because.as_deref() != Some(text.as_str()) {
                return Err(format!(
                    "because of `{block}`: expected {text:?}, got {:?}",
                    m.because
                ));
            }
        }
    }
    if let Some(es) = &want.effects {
        for (block, effects) in es {
            let m = d
                .matched
                .iter()
                .find(|m| &m.block == block)
                .ok_or(format!("`{block}` did not match"))?;
            let got = serde_json::to_value(&m.effects).unwrap_or_default();
            if &got != effects {
                return Err(format!(
                    "effects of `{block}`: expected {effects}, got {got}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_case_file_holds() {
    let dir = root().join("fixtures/eval");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let file: File =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &file.cases {
            count += 1;
            if let Err(e) = std::panic::catch_unwind(|| run_case(case))
                .unwrap_or_else(|_| Err("panicked".into()))
            {
                failures.push(format!(
                    "{}: {}: {e}",
                    path.file_name().unwrap().to_string_lossy(),
                    case.note
                ));
            }
        }
    }
    assert!(count > 50, "expected the case corpus, found {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn nested_window_blocks_decide_with_deny_wins() {
    let rules = load_one(
        "tenet 1\npack w version \"1.0.0\"\n\nbaseline secure {\n  setting tls.min_version {\n    at_least \"1.2\"\n  }\n\n  window {\n    mode     allow\n    cron     \"0 2 * * SAT\"\n    duration 4h\n  }\n\n  window {\n    mode     deny\n    cron     \"0 3 * * SAT\"\n    duration 30m\n    tz       \"UTC\"\n  }\n}\n",
    );
    let windows = rules.packs[0].windows_of("secure").unwrap();
    assert_eq!(windows.len(), 2);
    let at = |s: &str| tenet_runtime::dsl::window::parse_time(s).unwrap();
    let allows = |s: &str| tenet_runtime::dsl::window::allows(&windows, at(s)).unwrap();
    assert!(allows("2026-11-28T02:30:00Z").allowed);
    let denied = allows("2026-11-28T03:10:00Z");
    assert!(
        !denied.allowed && denied.reason.contains("deny window"),
        "{denied:?}"
    );
    let outside = allows("2026-11-25T02:30:00Z");
    assert!(!outside.allowed && outside.reason.contains("outside every allow window"));
    // Only deny windows (a freeze): allowed whenever none is open.
    let rules = load_one(
        "tenet 1\npack w version \"1.0.0\"\n\nbaseline secure {\n  setting tls.min_version {\n    at_least \"1.2\"\n  }\n\n  window {\n    mode     deny\n    cron     \"0 3 * * SAT\"\n    duration 30m\n  }\n}\n",
    );
    let windows = rules.packs[0].windows_of("secure").unwrap();
    let allows = |s: &str| tenet_runtime::dsl::window::allows(&windows, at(s)).unwrap();
    let free = allows("2026-11-25T02:30:00Z");
    assert!(free.allowed, "{free:?}");
    assert!(!allows("2026-11-28T03:10:00Z").allowed);
    let none = tenet_runtime::dsl::window::allows(&[], at("2026-11-25T02:30:00Z")).unwrap();
    assert!(none.allowed && none.reason == "no window applies");
}
