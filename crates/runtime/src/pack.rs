//! The pack handle: how a module engine reaches its rule pack.
//!
//! Every engine (the semantic diff's classifier, the safety workflows,
//! the meta-monitor...) starts from the loaded [`Rules`] and the name of
//! its pack. [`PackHandle::find`] says which packs there are when the one
//! asked for is missing; the handle then gives the pack's taxonomy levels
//! (highest first), the hash of the rules it came from (computed once at
//! load) and `decide`, the one way an engine asks its pack for a decision.
//! Blocks nested in a decided block and not decided themselves (an
//! action's `quorum`s) are read with [`PackHandle::nested`] and evaluated
//! on an input the engine builds with [`PackHandle::field`] and
//! [`PackHandle::holds`].

use crate::decision::{decide, root_values, Compiled, DecideOptions, Decision, Evaluator};
use crate::ir::{CBlock, CompiledPack};
use crate::load::Rules;
use std::fmt;
use tenet_dsl::value::EvalError;
use tenet_dsl::Value;

/// A pack a module needs, found in loaded rules.
#[derive(Clone, Copy)]
pub struct PackHandle<'r> {
    rules: &'r Rules,
    pack: &'r CompiledPack,
}

/// Why a module's pack cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackError {
    /// No pack of that name is loaded.
    Missing { name: String, loaded: Vec<String> },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::Missing { name, loaded } if loaded.is_empty() => {
                write!(f, "the rules have no `{name}` pack (no packs are loaded)")
            }
            PackError::Missing { name, loaded } => write!(
                f,
                "the rules have no `{name}` pack (packs: {})",
                loaded.join(", ")
            ),
        }
    }
}

impl std::error::Error for PackError {}

impl<'r> PackHandle<'r> {
    /// The pack called `name`.
    pub fn find(rules: &'r Rules, name: &str) -> Result<Self, PackError> {
        let pack = rules.pack(name).ok_or_else(|| PackError::Missing {
            name: name.to_string(),
            loaded: rules.packs.iter().map(|p| p.name.clone()).collect(),
        })?;
        Ok(PackHandle { rules, pack })
    }

    pub fn name(&self) -> &'r str {
        &self.pack.name
    }

    pub fn version(&self) -> &'r str {
        &self.pack.version
    }

    /// The taxonomy's levels, highest first.
    pub fn levels(&self) -> &'r [String] {
        &self.pack.levels
    }

    /// The hash of the rules the pack was loaded with (the bundle hash).
    pub fn hash(&self) -> &'r str {
        &self.rules.hash
    }

    pub fn rules(&self) -> &'r Rules {
        self.rules
    }

    pub fn compiled(&self) -> &'r CompiledPack {
        self.pack
    }

    /// The pack's decision on one input; `opts.now` is the caller's clock.
    pub fn decide(&self, input: &Value, opts: &DecideOptions) -> Decision {
        decide(self.pack, input, self.rules.scorer_list(), opts)
    }

    /// The blocks of `kind` nested in the block `parent` (compiled as
    /// `parent/child`), in pack order.
    pub fn nested(&self, parent: &str, kind: &str) -> Vec<&'r CBlock> {
        let prefix = format!("{parent}/");
        self.pack
            .blocks
            .iter()
            .filter(|b| b.kind == kind && b.name.starts_with(&prefix))
            .collect()
    }

    /// A field of `block` on `input` (whose top-level keys are the roots):
    /// a constant as folded, an expression evaluated (missing data is
    /// null); `None` when the block has no such field and no default.
    pub fn field(
        &self,
        block: &CBlock,
        field: &str,
        input: &Value,
    ) -> Result<Option<Value>, EvalError> {
        let Some(attr) = block.effects.iter().find(|a| a.name == field) else {
            return Ok(None);
        };
        let roots = root_values(self.pack, input);
        let mut ev = Compiled::new(&roots, self.rules.scorer_list());
        ev.value(block, attr).map(Some)
    }

    /// A condition field of `block` on `input`: null (missing data) is
    /// false; `None` when the block does not have the field.
    pub fn holds(
        &self,
        block: &CBlock,
        field: &str,
        input: &Value,
    ) -> Result<Option<bool>, EvalError> {
        let Some(attr) = block.effects.iter().find(|a| a.name == field) else {
            return Ok(None);
        };
        let roots = root_values(self.pack, input);
        let mut ev = Compiled::new(&roots, self.rules.scorer_list());
        ev.truth(&attr.expr).map(Some)
    }

    /// The condition of `block` (its `when`, `requires`, `exempt_when`...)
    /// on `input`: null (missing data) is false; `None` when the block has
    /// no condition.
    pub fn condition(&self, block: &CBlock, input: &Value) -> Result<Option<bool>, EvalError> {
        let Some(cond) = &block.condition else {
            return Ok(None);
        };
        let roots = root_values(self.pack, input);
        let mut ev = Compiled::new(&roots, self.rules.scorer_list());
        ev.truth(&cond.expr).map(Some)
    }

    /// The pack's waivers that name `block` and whose `when` holds on
    /// `input` (a `when` that fails to evaluate does not hold: no waiver
    /// by error), each with whether it is still live at `now` — a waiver
    /// stops applying at the start of its `expires` day (UTC), and the
    /// block is live again.
    pub fn waivers_for(
        &self,
        block: &str,
        input: &Value,
        now: crate::clock::Timestamp,
    ) -> Vec<(&'r crate::ir::CWaiver, bool)> {
        let now = tenet_dsl::window::parse_time(&now.rfc3339()).ok();
        let roots = root_values(self.pack, input);
        let mut out = Vec::new();
        for w in self
            .pack
            .waivers
            .iter()
            .filter(|w| w.rules.iter().any(|r| r == block))
        {
            let holds = match &w.when {
                None => true,
                Some((c, _)) => {
                    let mut ev = Compiled::new(&roots, self.rules.scorer_list());
                    ev.truth(c).unwrap_or(false)
                }
            };
            if holds {
                let live = now.is_some_and(|now| {
                    tenet_dsl::window::parse_date(&w.expires)
                        .is_ok_and(|d| tenet_dsl::window::before_day(now, d))
                });
                out.push((w, live));
            }
        }
        out
    }

    /// A field of `block` as written in the pack (`None` when not written).
    pub fn field_text(&self, block: &CBlock, field: &str) -> Option<String> {
        block
            .effects
            .iter()
            .find(|a| a.name == field)
            .and_then(|a| a.ast.as_ref())
            .map(tenet_dsl::fmt::expr_to_string)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::load::{load_files, RuleFile};

    fn rules(text: &str) -> Rules {
        load_files(
            vec![RuleFile {
                path: "p.tenet".into(),
                text: text.into(),
            }],
            "",
        )
        .unwrap()
    }

    #[test]
    fn nested_blocks_are_found_and_their_fields_evaluated_on_an_input() {
        let r = rules(
            "tenet 1\npack p version \"1.0.0\"\n\naction a {\n  match action.verb == \"drop\"\n  risk high\n  approvers [\"dba\"]\n\n  quorum q {\n    filter \"dba\" in reviewer.roles and action.rows > 5\n    approve 2\n    deny 0\n  }\n}\n",
        );
        let p = PackHandle::find(&r, "p").unwrap();
        let qs = p.nested("a", "quorum");
        assert_eq!(qs.len(), 1);
        assert_eq!(qs[0].name, "a/q");
        assert!(p.nested("b", "quorum").is_empty());
        let input = |j: serde_json::Value| Value::from_json(&j);
        let none = input(serde_json::json!({}));
        let int = |f: &str| match p.field(qs[0], f, &none).unwrap() {
            Some(Value::Int(i)) => Some(i),
            Some(other) => panic!("{f}: {other:?}"),
            None => None,
        };
        assert_eq!(
            (int("approve"), int("deny"), int("nope")),
            (Some(2), Some(0), None)
        );
        let yes =
            input(serde_json::json!({"reviewer": {"roles": ["dba"]}, "action": {"rows": 10}}));
        let other =
            input(serde_json::json!({"reviewer": {"roles": ["dev"]}, "action": {"rows": 10}}));
        assert_eq!(p.holds(qs[0], "filter", &yes).unwrap(), Some(true));
        assert_eq!(p.holds(qs[0], "filter", &other).unwrap(), Some(false));
        assert_eq!(
            p.holds(qs[0], "filter", &none).unwrap(),
            Some(false),
            "missing data is false"
        );
        assert_eq!(
            p.field_text(qs[0], "filter").as_deref(),
            Some("\"dba\" in reviewer.roles and action.rows > 5")
        );
        // The quorum is not decided with the action.
        let d = p.decide(
            &input(serde_json::json!({"action": {"verb": "drop"}})),
            &Default::default(),
        );
        assert_eq!(d.matched.len(), 1);
        assert_eq!(d.matched[0].block, "a");
    }

    #[test]
    fn a_missing_pack_names_the_loaded_ones() {
        let r = rules("tenet 1\npack alpha version \"1.0.0\"\n");
        let err = PackHandle::find(&r, "beta").err().unwrap();
        assert_eq!(
            err.to_string(),
            "the rules have no `beta` pack (packs: alpha)"
        );
        let none = rules("tenet 1\npack alpha version \"1.0.0\"\n");
        let none = Rules {
            packs: vec![],
            ..none
        };
        assert_eq!(
            PackHandle::find(&none, "beta").err().unwrap().to_string(),
            "the rules have no `beta` pack (no packs are loaded)"
        );
    }

    #[test]
    fn the_handle_carries_levels_hash_and_decides() {
        let r = rules(
            "tenet 1\npack alpha version \"1.2.0\"\ntaxonomy risk {\n  levels [high, low]\n}\n\
             rule big {\n  when input.x > 3\n  risk high\n}\n",
        );
        let h = PackHandle::find(&r, "alpha").unwrap();
        assert_eq!(h.levels(), ["high", "low"]);
        assert_eq!(h.version(), "1.2.0");
        assert_eq!(h.hash(), crate::bundle::fingerprint_of(&r, "").hash);
        assert_eq!(h.hash().len(), 64);
        let input = Value::from_json(&serde_json::json!({"x": 5}));
        let d = h.decide(&input, &DecideOptions::default());
        assert_eq!(d.highest_risk.as_deref(), Some("high"));
    }
}
