//! Gold scenarios of the engine: `fixtures/safety-workflows/<scenario>/`
//! holds `steps.yaml` (identities, a start time, and steps: preflight,
//! review, confirm, break_glass, execute, cancel, sweep,
//! break_glass_review, each `at` an offset from the start) and, when the
//! bundled pack is not the one meant, a `rules/` folder. Every step may
//! `expect` an outcome, a status and code, a state; the whole transcript is
//! snapshotted (`snapshots/safety-workflows/<scenario>.snap`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tenet_runtime::load::{load_bundled, load_files, read_dir, Rules};
use tenet_runtime::pack::PackHandle;
use tenet_safety_workflows::engine::{
    self, Change, Confirm, Deps, Fresh, PreflightRequest, Refusal,
};
use tenet_safety_workflows::model::{ActionRecord, Actor, Ms, Verdict};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    start: String,
    identities: BTreeMap<String, Identity>,
    steps: Vec<StepSpec>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Identity {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    traits: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(flatten)]
    step: Step,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    Preflight {
        #[serde(rename = "as")]
        who: String,
        action: serde_json::Value,
        #[serde(default)]
        context: serde_json::Value,
        #[serde(default)]
        simulate: bool,
        #[serde(default)]
        notify_down: bool,
        #[serde(default)]
        escalation_down: bool,
    },
    Review {
        #[serde(rename = "as")]
        who: String,
        decision: Verdict,
        #[serde(default)]
        comment: String,
    },
    Confirm {
        #[serde(rename = "as")]
        who: String,
        #[serde(default)]
        justification: Option<String>,
        #[serde(default)]
        ticket: Option<String>,
        #[serde(default, rename = "override")]
        override_reviews: bool,
    },
    BreakGlass {
        #[serde(rename = "as")]
        who: String,
        reason: String,
    },
    Execute {
        #[serde(rename = "as")]
        who: String,
        /// Another descriptor than the preflight's.
        #[serde(default)]
        action: Option<serde_json::Value>,
        #[serde(default)]
        nonce: Option<String>,
    },
    Cancel {
        #[serde(rename = "as")]
        who: String,
    },
    Sweep {},
    BreakGlassReview {
        #[serde(rename = "as")]
        who: String,
    },
}

fn offset_ms(s: &str) -> Ms {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().unwrap_or_else(|_| panic!("bad offset `{s}`"));
    n * match unit {
        "ms" => 1,
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => panic!("bad unit `{other}` in `{s}`"),
    }
}

fn start_ms(s: &str) -> Ms {
    let t = chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("start `{s}`: {e}"));
    t.timestamp_millis()
}

fn ago(start: Ms, ms: Ms) -> String {
    let d = ms - start;
    if d % 3_600_000 == 0 && d != 0 {
        format!("+{}h", d / 3_600_000)
    } else if d % 60_000 == 0 {
        format!("+{}m", d / 60_000)
    } else {
        format!("+{}s", d / 1000)
    }
}

struct Run<'a> {
    pack: PackHandle<'a>,
    start: Ms,
    ids: BTreeMap<String, Actor>,
    record: Option<ActionRecord>,
    nonce: Option<String>,
    out: String,
    n: u32,
}

impl Run<'_> {
    fn actor(&self, who: &str) -> Actor {
        self.ids
            .get(who)
            .cloned()
            .unwrap_or_else(|| panic!("unknown identity `{who}`"))
    }

    fn record(&self) -> &ActionRecord {
        self.record
            .as_ref()
            .expect("a step before any kept preflight")
    }

    fn times(&self, v: &mut serde_json::Value) {
        // Times as offsets from the start, so the snapshot reads.
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("at_ms") {
                        if let Some(ms) = x.as_i64() {
                            *x = serde_json::Value::String(ago(self.start, ms));
                        }
                    } else {
                        self.times(x);
                    }
                }
            }
            serde_json::Value::Array(xs) => xs.iter_mut().for_each(|x| self.times(x)),
            _ => {}
        }
    }

    fn change(
        &mut self,
        r: Result<Change, Refusal>,
    ) -> (String, Option<u16>, Option<&'static str>) {
        match r {
            Ok(c) => {
                let rec = &c.record;
                writeln!(
                    self.out,
                    "→ {} · state {} · v{}",
                    c.outcome,
                    rec.state.as_str(),
                    rec.version
                )
                .unwrap();
                if !c.detail.is_empty() {
                    writeln!(self.out, "  {}", c.detail).unwrap();
                }
                for n in &c.notices {
                    let to: Vec<String> = n
                        .roles
                        .iter()
                        .map(|r| format!("role {r}"))
                        .chain(n.ids.iter().cloned())
                        .collect();
                    writeln!(self.out, "  notice {} → {}", n.kind, to.join(", ")).unwrap();
                }
                if let Some(g) = &c.grant {
                    writeln!(
                        self.out,
                        "  grant: use {} of {}, digest {}",
                        g.use_,
                        g.max_uses,
                        &g.digest[..20]
                    )
                    .unwrap();
                }
                let outcome = c.outcome.to_string();
                self.record = Some(c.record);
                (outcome, None, None)
            }
            Err(f) => {
                writeln!(self.out, "✗ {} {}: {}", f.status, f.code, f.detail).unwrap();
                if let Some(v) = f.void {
                    writeln!(
                        self.out,
                        "  voided · state {} · v{}",
                        v.state.as_str(),
                        v.version
                    )
                    .unwrap();
                    self.record = Some(*v);
                }
                ("refused".into(), Some(f.status), Some(f.code))
            }
        }
    }

    fn step(&mut self, spec: &StepSpec) {
        self.n += 1;
        let now = self.start + spec.at.as_deref().map(offset_ms).unwrap_or(0);
        let (outcome, status, code) = match &spec.step {
            Step::Preflight {
                who,
                action,
                context,
                simulate,
                notify_down,
                escalation_down,
            } => {
                writeln!(
                    self.out,
                    "\n## {}. preflight by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let fresh = Fresh {
                    id: format!("act-{}", self.n),
                    nonce: format!("nonce-{}", self.n),
                };
                let p = engine::preflight(
                    &self.pack,
                    &self.actor(who),
                    &PreflightRequest {
                        action: action.clone(),
                        context: context.clone(),
                        simulate: *simulate,
                    },
                    &fresh,
                    Deps {
                        notify: !notify_down,
                        escalation: !escalation_down,
                    },
                    now,
                );
                let mut answer = serde_json::to_value(&p.answer).unwrap();
                self.times(&mut answer);
                writeln!(self.out, "→ {} · kept: {}", p.outcome, p.record.is_some()).unwrap();
                for n in &p.notices {
                    writeln!(
                        self.out,
                        "  notice {} → role {}",
                        n.kind,
                        n.roles.join(", role ")
                    )
                    .unwrap();
                }
                writeln!(
                    self.out,
                    "{}",
                    serde_json::to_string_pretty(&answer).unwrap()
                )
                .unwrap();
                if p.record.is_some() {
                    self.record = p.record;
                    self.nonce = Some(fresh.nonce);
                }
                (p.outcome.to_string(), None, None)
            }
            Step::Review {
                who,
                decision,
                comment,
            } => {
                writeln!(
                    self.out,
                    "\n## {}. review by {who}: {} ({})",
                    self.n,
                    decision.as_str(),
                    ago(self.start, now)
                )
                .unwrap();
                let r = engine::review(
                    &self.pack,
                    self.record(),
                    &self.actor(who),
                    *decision,
                    comment,
                    now,
                );
                self.change(r)
            }
            Step::Confirm {
                who,
                justification,
                ticket,
                override_reviews,
            } => {
                writeln!(
                    self.out,
                    "\n## {}. confirm by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let c = Confirm {
                    justification: justification.clone(),
                    ticket: ticket.clone(),
                    override_reviews: *override_reviews,
                };
                let r = engine::confirm(&self.pack, self.record(), &self.actor(who), &c, now);
                self.change(r)
            }
            Step::BreakGlass { who, reason } => {
                writeln!(
                    self.out,
                    "\n## {}. break glass by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let r =
                    engine::break_glass(&self.pack, self.record(), &self.actor(who), reason, now);
                self.change(r)
            }
            Step::Execute { who, action, nonce } => {
                writeln!(
                    self.out,
                    "\n## {}. execute by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let rec = self.record().clone();
                let descriptor = action.clone().unwrap_or_else(|| rec.action.clone());
                let nonce = nonce
                    .clone()
                    .or_else(|| self.nonce.clone())
                    .unwrap_or_default();
                let r =
                    engine::execute(&self.pack, &rec, &self.actor(who), &descriptor, &nonce, now);
                self.change(r)
            }
            Step::Cancel { who } => {
                writeln!(
                    self.out,
                    "\n## {}. cancel by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let r = engine::cancel(self.record(), &self.actor(who), now);
                self.change(r)
            }
            Step::BreakGlassReview { who } => {
                writeln!(
                    self.out,
                    "\n## {}. break-glass review by {who} ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                let r = engine::review_break_glass(self.record(), &self.actor(who), now);
                self.change(r)
            }
            Step::Sweep {} => {
                writeln!(
                    self.out,
                    "\n## {}. sweep ({})",
                    self.n,
                    ago(self.start, now)
                )
                .unwrap();
                match engine::sweep(self.record(), now) {
                    Some(c) => self.change(Ok(c)),
                    None => {
                        writeln!(self.out, "→ nothing to do").unwrap();
                        ("nothing".into(), None, None)
                    }
                }
            }
        };
        if let Some(e) = &spec.expect {
            let at = format!(
                "step {} ({})",
                self.n,
                self.out
                    .lines()
                    .rev()
                    .find(|l| l.starts_with("## "))
                    .unwrap_or("")
            );
            if let Some(o) = &e.outcome {
                assert_eq!(&outcome, o, "{at}: outcome\n{}", self.out);
            }
            if let Some(s) = e.status {
                assert_eq!(status, Some(s), "{at}: status\n{}", self.out);
            }
            if let Some(c) = &e.code {
                assert_eq!(code, Some(c.as_str()), "{at}: code\n{}", self.out);
            }
            if let Some(st) = &e.state {
                let now_state = self
                    .record
                    .as_ref()
                    .map(|r| r.state.as_str())
                    .unwrap_or("none");
                assert_eq!(now_state, st, "{at}: state\n{}", self.out);
            }
        }
    }
}

fn run(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(dir.join("steps.yaml")).unwrap();
    let sc: Scenario =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{name}/steps.yaml: {e}"));
    let rules: Rules = if dir.join("rules").is_dir() {
        // Paths relative to the fixture, so locations read the same anywhere.
        let files = read_dir(&dir.join("rules")).unwrap();
        load_files(files, &format!("{name}/rules"))
            .unwrap_or_else(|e| panic!("{name}/rules: {e:?}"))
    } else {
        load_bundled().unwrap()
    };
    let pack = tenet_safety_workflows::pack(&rules).unwrap();
    let ids = sc
        .identities
        .iter()
        .map(|(id, i)| {
            (
                id.clone(),
                Actor {
                    id: id.clone(),
                    roles: i.roles.clone(),
                    tenant: i.tenant.clone(),
                    traits: i.traits.clone(),
                },
            )
        })
        .collect();
    let mut r = Run {
        pack,
        start: start_ms(&sc.start),
        ids,
        record: None,
        nonce: None,
        out: format!("# {name}\n\n{}\n", sc.about.trim()),
        n: 0,
    };
    for s in &sc.steps {
        r.step(s);
    }
    r.out
}

#[test]
fn every_scenario_holds_and_reads_as_recorded() {
    let base = root().join("fixtures/safety-workflows");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("steps.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the scenario fixtures, found {}",
        dirs.len()
    );
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/safety-workflows"));
    s.set_prepend_module_to_snapshot(false);
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let transcript = run(&dir);
        s.bind(|| insta::assert_snapshot!(name, transcript));
    }
}
