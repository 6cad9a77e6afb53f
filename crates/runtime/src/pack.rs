//! The pack handle: how a module engine reaches its rule pack.
//!
//! Every engine (the semantic diff's classifier, the safety workflows,
//! the meta-monitor...) starts from the loaded [`Rules`] and the name of
//! its pack. [`PackHandle::find`] says which packs there are when the one
//! asked for is missing; the handle then gives the pack's taxonomy levels
//! (highest first), the hash of the rules it came from (computed once at
//! load) and `decide`, the one way an engine asks its pack for a decision.

use crate::decision::{decide, DecideOptions, Decision};
use crate::ir::CompiledPack;
use crate::load::Rules;
use std::fmt;
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
