//! Decisions: what a pack says about one input.
//!
//! For every block with a condition, in pack order: evaluate the condition;
//! if it read missing input and did not hold, apply the block's
//! `on_no_data`; if it matched, evaluate its effects and render its
//! `because`; then apply waivers (a waived match is kept and shown, never
//! dropped). The decision names the highest risk by the pack's taxonomy and
//! whether anything blocks (an enforced match that is not dry-run).
//! Rust here applies decisions; what matches is the pack's business.

use crate::eval::Ctx;
use crate::ir::{CAttr, CBlock, CWaiver, CompiledPack};
use crate::scorer::Scorer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_dsl::value::{EvalError, Value};

pub const DECISION_SCHEMA: &str = "tenet.decision/v1";

#[derive(Debug, Clone, Default)]
pub struct DecideOptions {
    /// Include the per-condition trace.
    pub trace: bool,
    /// The decision date, `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time:
    /// a waiver applies before its `expires` day (compared as dates, in UTC).
    /// Without it, no waiver applies; one that does not parse is an error
    /// in the decision (and no waiver applies).
    pub now: Option<String>,
    /// Global dry-run: report everything, block nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Decision {
    pub schema: &'static str,
    pub pack: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    pub highest_risk: Option<String>,
    pub blocking: bool,
    pub dry_run: bool,
    pub matched: Vec<Match>,
    pub waived: Vec<Match>,
    pub inconclusive: Vec<String>,
    pub errors: Vec<DecisionError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<Trace>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Match {
    pub block: String,
    pub kind: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// True when the block matched only because it read missing data and its `on_no_data` is `match`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    pub effects: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived_by: Option<Waived>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Waived {
    pub waiver: String,
    pub owner: String,
    pub justification: String,
    pub expires: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DecisionError {
    pub block: String,
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trace {
    pub block: String,
    pub at: String,
    pub condition: String,
    /// `matched`, `not_matched`, `no_data`, `inconclusive` or `error`.
    pub outcome: &'static str,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub expr: String,
    pub at: String,
    pub held: serde_json::Value,
    pub reads: BTreeMap<String, serde_json::Value>,
}

/// Whether a (not waived) match blocks: enforced (`soft_mandatory` or
/// `hard_mandatory`) and not a dry run. A decision is `blocking` when one
/// of its matches is, unless the whole decision is a dry run.
pub fn enforced(m: &Match) -> bool {
    !m.dry_run
        && matches!(
            m.enforcement.as_deref(),
            Some("hard_mandatory" | "soft_mandatory")
        )
}

/// How a decision evaluates expressions: the compiled IR or the reference interpreter.
pub trait Evaluator {
    /// The condition's truth and whether it read missing input.
    fn cond(&mut self, block: &CBlock) -> (Result<bool, EvalError>, bool);
    fn value(&mut self, block: &CBlock, attr: &CAttr) -> Result<Value, EvalError>;
    fn waiver_when(&mut self, w: &CWaiver) -> Result<bool, EvalError>;
    /// Whether `block` applies to this input: a stage's gate only to the
    /// clusters its stage selects (see [`in_scope`]).
    fn in_scope(&mut self, block: &CBlock) -> bool;
}

/// Whether a block with `scope` applies to `cluster` (an input root): yes
/// without a cluster (nothing to scope by) or without a scope; otherwise
/// when the stage's selector selects the cluster's labels. A selector the
/// checker let through but that fails here applies the gate (measuring is
/// the safe side).
pub fn in_scope(scope: Option<&crate::ir::StageScope>, cluster: &Value) -> bool {
    let Some(s) = scope else { return true };
    if cluster.is_null() {
        return true;
    }
    tenet_dsl::builtins::selects(&s.selector, &cluster.get("labels")).unwrap_or(true)
}

/// The root values of a pack for one input.
pub fn root_values(pack: &CompiledPack, input: &Value) -> Vec<Value> {
    pack.root_names
        .iter()
        .map(|r| {
            if r == "input" {
                input.clone()
            } else {
                input.get(r)
            }
        })
        .collect()
}

/// The fast path.
pub struct Compiled<'a> {
    ctx: Ctx<'a>,
}

impl<'a> Compiled<'a> {
    pub fn new(roots: &'a [Value], scorers: &'a [Arc<Scorer>]) -> Self {
        Compiled {
            ctx: Ctx::new(roots, scorers),
        }
    }

    /// A compiled expression as a condition: null (missing data) is false.
    pub fn truth(&mut self, e: &crate::ir::CExpr) -> Result<bool, EvalError> {
        self.ctx.reset();
        self.ctx.eval_bool(e)
    }
}

impl Evaluator for Compiled<'_> {
    fn cond(&mut self, block: &CBlock) -> (Result<bool, EvalError>, bool) {
        let Some(c) = &block.condition else {
            return (Ok(false), false);
        };
        self.ctx.reset();
        let r = self.ctx.eval_bool(&c.expr);
        (r, self.ctx.missing)
    }
    fn value(&mut self, _: &CBlock, attr: &CAttr) -> Result<Value, EvalError> {
        self.ctx.reset();
        self.ctx.eval(&attr.expr)
    }
    fn waiver_when(&mut self, w: &CWaiver) -> Result<bool, EvalError> {
        let Some((c, _)) = &w.when else {
            return Ok(true);
        };
        self.ctx.reset();
        self.ctx.eval_bool(c)
    }
    fn in_scope(&mut self, block: &CBlock) -> bool {
        let cluster = block
            .scope
            .as_ref()
            .map(|s| self.ctx.root_value(s.cluster_root).clone())
            .unwrap_or(Value::Null);
        in_scope(block.scope.as_ref(), &cluster)
    }
}

/// Decide with the compiled evaluator.
pub fn decide(
    pack: &CompiledPack,
    input: &Value,
    scorers: &[Arc<Scorer>],
    opts: &DecideOptions,
) -> Decision {
    let roots = root_values(pack, input);
    let mut ev = Compiled::new(&roots, scorers);
    let mut d = decide_with(pack, &mut ev, opts);
    if opts.trace {
        d.trace = trace(pack, &roots, scorers, &d);
    }
    d
}

/// Decide with any evaluator (the reference one is in [`crate::reference`]).
pub fn decide_with(pack: &CompiledPack, ev: &mut dyn Evaluator, opts: &DecideOptions) -> Decision {
    let mut d = Decision {
        schema: DECISION_SCHEMA,
        pack: pack.name.clone(),
        version: pack.version.clone(),
        bundle: None,
        highest_risk: None,
        blocking: false,
        dry_run: opts.dry_run,
        matched: Vec::new(),
        waived: Vec::new(),
        inconclusive: Vec::new(),
        errors: Vec::new(),
        trace: Vec::new(),
    };
    let now = match opts.now.as_deref().map(tenet_dsl::window::parse_time) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            d.errors.push(DecisionError {
                block: "now".into(),
                at: String::new(),
                message: format!("the decision date {e}; no waiver applies"),
            });
            None
        }
    };
    for block in &pack.blocks {
        if block.condition.is_none() {
            continue;
        }
        if block.scope.is_some() && !ev.in_scope(block) {
            continue;
        }
        let (result, missing) = ev.cond(block);
        let no_data_match;
        match result {
            // Input of the wrong shape (a malformed selector) is an error
            // of the block and, like missing input, up to its on_no_data:
            // it never passes for "everything" or "nothing".
            Err(e @ EvalError::Data(_)) => {
                d.errors.push(DecisionError {
                    block: block.name.clone(),
                    at: block.at.clone(),
                    message: e.to_string(),
                });
                match block.on_no_data.as_str() {
                    "match" => no_data_match = true,
                    "inconclusive" => {
                        d.inconclusive.push(block.name.clone());
                        continue;
                    }
                    _ => continue,
                }
            }
            Err(e) => {
                d.errors.push(DecisionError {
                    block: block.name.clone(),
                    at: block.at.clone(),
                    message: e.to_string(),
                });
                continue;
            }
            Ok(true) => no_data_match = false,
            Ok(false) if !missing => continue,
            Ok(false) => match block.on_no_data.as_str() {
                "match" => no_data_match = true,
                "inconclusive" => {
                    d.inconclusive.push(block.name.clone());
                    continue;
                }
                "error" => {
                    d.errors.push(DecisionError {
                        block: block.name.clone(),
                        at: block.at.clone(),
                        message: "the condition read missing input (on_no_data error)".into(),
                    });
                    continue;
                }
                _ => continue,
            },
        }
        let mut effects = BTreeMap::new();
        let mut failed = false;
        for attr in &block.effects {
            match ev.value(block, attr) {
                Ok(v) => {
                    effects.insert(attr.name.clone(), v.to_json());
                }
                Err(e) => {
                    d.errors.push(DecisionError {
                        block: block.name.clone(),
                        at: block.at.clone(),
                        message: format!("`{}`: {e}", attr.name),
                    });
                    failed = true;
                }
            }
        }
        let because = match &block.because {
            Some(attr) => match ev.value(block, attr) {
                Ok(Value::Str(s)) => Some(s.as_ref().to_owned()),
                Ok(v) => Some(v.to_string()),
                Err(e) => {
                    d.errors.push(DecisionError {
                        block: block.name.clone(),
                        at: block.at.clone(),
                        message: format!("`because`: {e}"),
                    });
                    failed = true;
                    None
                }
            },
            None => None,
        };
        if failed {
            continue;
        }
        let mut m = Match {
            block: block.name.clone(),
            kind: block.kind.to_string(),
            at: block.at.clone(),
            risk: block.level.clone(),
            enforcement: block.enforcement.clone(),
            dry_run: block.dry_run,
            no_data: no_data_match,
            because,
            effects,
            waived_by: None,
        };
        // Waivers: the first live waiver that covers this block and whose scope holds.
        for w in pack
            .waivers
            .iter()
            .filter(|w| w.rules.contains(&block.name))
        {
            let live = now.is_some_and(|now| {
                tenet_dsl::window::parse_date(&w.expires)
                    .is_ok_and(|expires| tenet_dsl::window::before_day(now, expires))
            });
            if !live {
                continue;
            }
            match ev.waiver_when(w) {
                Ok(true) => {
                    m.waived_by = Some(Waived {
                        waiver: w.name.clone(),
                        owner: w.owner.clone(),
                        justification: w.justification.clone(),
                        expires: w.expires.clone(),
                    });
                    break;
                }
                Ok(false) => {}
                Err(e) => d.errors.push(DecisionError {
                    block: format!("waiver {}", w.name),
                    at: block.at.clone(),
                    message: e.to_string(),
                }),
            }
        }
        if m.waived_by.is_some() {
            d.waived.push(m);
        } else {
            d.matched.push(m);
        }
    }
    d.highest_risk = d
        .matched
        .iter()
        .filter_map(|m| m.risk.as_deref())
        .filter_map(|r| pack.level_rank(r).map(|i| (i, r)))
        .min()
        .map(|(_, r)| r.to_string());
    d.blocking = !opts.dry_run && d.matched.iter().any(enforced);
    d
}

fn trace(
    pack: &CompiledPack,
    roots: &[Value],
    scorers: &[Arc<Scorer>],
    d: &Decision,
) -> Vec<Trace> {
    let mut ctx = Ctx::new(roots, scorers);
    let mut out = Vec::new();
    for block in &pack.blocks {
        let Some(c) = &block.condition else { continue };
        let outcome = if d
            .matched
            .iter()
            .chain(d.waived.iter())
            .any(|m| m.block == block.name)
        {
            "matched"
        } else if d.inconclusive.contains(&block.name) {
            "inconclusive"
        } else if d.errors.iter().any(|e| e.block == block.name) {
            "error"
        } else {
            ctx.reset();
            let _ = ctx.eval(&c.expr);
            if ctx.missing {
                "no_data"
            } else {
                "not_matched"
            }
        };
        let checks = c
            .leaves
            .iter()
            .map(|leaf| {
                ctx.reset();
                let held = match ctx.eval(&leaf.expr) {
                    Ok(v) => v.to_json(),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                };
                let reads = leaf
                    .reads
                    .iter()
                    .map(|(text, e)| {
                        ctx.reset();
                        (
                            text.clone(),
                            ctx.eval(e)
                                .map(|v| v.to_json())
                                .unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect();
                Check {
                    expr: leaf.text.clone(),
                    at: leaf.at.clone(),
                    held,
                    reads,
                }
            })
            .collect();
        out.push(Trace {
            block: block.name.clone(),
            at: block.at.clone(),
            condition: c.text.clone(),
            outcome,
            checks,
        });
    }
    out
}
