//! Classification: the `semantic_diff` rule pack judges every change fact.
//!
//! Each fact becomes the input `{change: {...}}` of one decision. Of the
//! blocks that match, the one with the highest risk by the pack's taxonomy
//! names the risk, the rationale (its rendered `because`) and the
//! confidence. Detectors state no confidence: where a fact is a guess (a
//! rename) they report the evidence (`match`, `similarity`) and the pack's
//! rules split on it, each with its own confidence. A fact no rule matches is
//! reported as unclassified, never given a level here: the pack's own
//! `unknown-kind` rule is what catches kinds it does not know.
//!
//! The policy lint is the pack's too: a matching rule whose `emit` map says
//! `lint: true` flags the change, with its `because` as the message. Such a
//! rule needs no risk (one without takes no part in the level).

use super::change::{ArtifactType, Change};
use tenet_dsl::Value;
use tenet_runtime::decision::{decide, DecideOptions};
use tenet_runtime::ir::CompiledPack;
use tenet_runtime::load::Rules;

/// The pack that classifies change facts.
pub const PACK: &str = "semantic_diff";

/// One judged change.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The level, `None` when no rule matched.
    pub risk: Option<String>,
    pub rationale: String,
    pub confidence: f64,
    /// The rule that decided.
    pub rule: Option<String>,
    /// Rule errors met while deciding (the decision is still made from the rest).
    pub errors: Vec<String>,
    /// The first matching rule that emits `{lint: true}`: the policy lint's finding.
    pub lint: Option<LintHit>,
}

/// A change the pack's lint flags.
#[derive(Debug, Clone, PartialEq)]
pub struct LintHit {
    /// The rule of the pack that flagged it.
    pub rule: String,
    /// Its rendered `because`.
    pub message: String,
}

/// The classifier: a compiled `semantic_diff` pack and the fingerprint of
/// the rules it came from.
pub struct Classifier<'r> {
    rules: &'r Rules,
    pack: &'r CompiledPack,
    pub fingerprint: String,
}

impl<'r> Classifier<'r> {
    /// Uses the `semantic_diff` pack of `rules`; an error names what is missing.
    pub fn new(rules: &'r Rules) -> Result<Self, String> {
        let pack = rules.pack(PACK).ok_or_else(|| {
            let names: Vec<&str> = rules.packs.iter().map(|p| p.name.as_str()).collect();
            format!(
                "the rules have no `{PACK}` pack (packs: {})",
                names.join(", ")
            )
        })?;
        if pack.levels.is_empty() {
            return Err(format!("the `{PACK}` pack declares no taxonomy"));
        }
        Ok(Classifier {
            rules,
            pack,
            fingerprint: fingerprint(rules),
        })
    }

    /// The taxonomy's levels, highest first.
    pub fn levels(&self) -> &[String] {
        &self.pack.levels
    }

    /// The taxonomy with how each level is shown and gated.
    pub fn taxonomy(&self) -> &tenet_runtime::ir::Taxonomy {
        &self.pack.taxonomy
    }

    pub fn pack_version(&self) -> &str {
        &self.pack.version
    }

    pub fn rank(&self, level: &str) -> usize {
        self.pack.level_rank(level).unwrap_or(usize::MAX)
    }

    pub fn judge(&self, ty: ArtifactType, change: &Change) -> Verdict {
        let input = Value::from_json(&change.to_input(ty));
        let d = decide(
            self.pack,
            &input,
            self.rules.scorer_list(),
            &DecideOptions::default(),
        );
        let lint = d
            .matched
            .iter()
            .find(|m| {
                m.effects
                    .get("emit")
                    .and_then(|e| e.get("lint"))
                    .and_then(|l| l.as_bool())
                    == Some(true)
            })
            .map(|m| LintHit {
                rule: m.block.clone(),
                message: m.because.clone().unwrap_or_else(|| m.block.clone()),
            });
        let errors: Vec<String> = d
            .errors
            .iter()
            .map(|e| format!("{} ({}): {}", e.block, e.at, e.message))
            .collect();
        let best = d
            .matched
            .iter()
            .filter(|m| m.risk.is_some())
            .min_by_key(|m| {
                m.risk
                    .as_deref()
                    .map(|r| self.rank(r))
                    .unwrap_or(usize::MAX)
            });
        match best {
            Some(m) => {
                let rule_conf = m
                    .effects
                    .get("confidence")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(1.0);
                Verdict {
                    risk: m.risk.clone(),
                    rationale: m.because.clone().unwrap_or_else(|| m.block.clone()),
                    confidence: round2(rule_conf),
                    rule: Some(m.block.clone()),
                    errors,
                    lint,
                }
            }
            None => Verdict {
                risk: None,
                rationale: format!("no rule of the `{PACK}` pack matches `{}`", change.kind),
                confidence: 0.0,
                rule: None,
                errors,
                lint,
            },
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The fingerprint hash of a set of rules: the bundle hash of its files.
pub fn fingerprint(rules: &Rules) -> String {
    rules.hash.clone()
}
