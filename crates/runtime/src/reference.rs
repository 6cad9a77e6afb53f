//! Name lookup for the reference interpreter, and the reference decision.
//!
//! [`PackEnv`] tells `tenet_dsl::interp` what the names of a pack mean.
//! [`RefEvaluator`] decides with the interpreter instead of the compiled
//! IR; tests compare its decisions with the compiled ones.

use crate::decision::Evaluator;
use crate::ir::{CAttr, CBlock, CWaiver, CompiledPack};
use crate::scorer::Scorer;
use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_dsl::interp::{Env, Interp};
use tenet_dsl::value::{EvalError, Value};
use tenet_dsl::{Checked, CheckedPack};

pub struct PackEnv<'a> {
    consts: &'a BTreeMap<String, Value>,
    imports: BTreeMap<String, &'a BTreeMap<String, Value>>,
    roots: &'a [String],
    input: Option<&'a Value>,
    scorers: BTreeMap<String, Arc<Scorer>>,
}

impl<'a> PackEnv<'a> {
    /// Constants only (for folding while compiling).
    pub fn consts_only(pack: &'a CheckedPack, checked: &'a Checked) -> Self {
        let imports = pack
            .imports
            .iter()
            .filter_map(|(alias, &j)| checked.packs.get(j).map(|p| (alias.clone(), &p.consts)))
            .collect();
        PackEnv {
            consts: &pack.consts,
            imports,
            roots: &[],
            input: None,
            scorers: BTreeMap::new(),
        }
    }

    pub fn for_block(
        pack: &'a CompiledPack,
        roots: &'a [String],
        input: &'a Value,
        scorers: &[Arc<Scorer>],
    ) -> Self {
        PackEnv {
            consts: &pack.consts,
            imports: pack.imports.iter().map(|(k, v)| (k.clone(), v)).collect(),
            roots,
            input: Some(input),
            scorers: pack
                .scorers
                .iter()
                .filter_map(|(name, &i)| scorers.get(i).map(|s| (name.clone(), s.clone())))
                .collect(),
        }
    }
}

impl Env for PackEnv<'_> {
    fn name(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.consts.get(name) {
            return Some(v.clone());
        }
        if self.roots.iter().any(|r| r == name) {
            let input = self.input?;
            return Some(if name == "input" {
                input.clone()
            } else {
                input.get(name)
            });
        }
        None
    }
    fn is_import(&self, name: &str) -> bool {
        // An input root of the block shadows an import of the same name,
        // as in the checker and the compiler: `tenant.tier` in an `action`
        // reads the input even when a pack is imported as `tenant`.
        self.imports.contains_key(name) && !self.roots.iter().any(|r| r == name)
    }
    fn qualified(&self, alias: &str, name: &str) -> Option<Value> {
        self.imports.get(alias).and_then(|c| c.get(name).cloned())
    }
    fn scorer(&self, name: &str, args: &[Value]) -> Option<Result<Value, EvalError>> {
        self.scorers.get(name).map(|s| s.call(args))
    }
}

/// Decides with the reference interpreter over the kept AST.
pub struct RefEvaluator<'a> {
    pub pack: &'a CompiledPack,
    pub input: &'a Value,
    pub scorers: &'a [Arc<Scorer>],
}

impl Evaluator for RefEvaluator<'_> {
    fn in_scope(&mut self, block: &CBlock) -> bool {
        crate::decision::in_scope(block.scope.as_ref(), &self.input.get("cluster"))
    }

    fn cond(&mut self, block: &CBlock) -> (Result<bool, EvalError>, bool) {
        let Some(c) = &block.condition else {
            return (Ok(false), false);
        };
        let env = PackEnv::for_block(self.pack, &block.roots, self.input, self.scorers);
        let mut it = Interp::new(&env);
        if let Some(scope) = &c.scope {
            match it.eval(scope).and_then(|v| v.truthy()) {
                Ok(true) => {}
                other => return (other, it.missing),
            }
        }
        let r = it.eval(&c.ast);
        let r = match (&c.threshold, r) {
            (Some((op, bound)), Ok(metric)) => Ok(tenet_dsl::value::compare(*op, &metric, bound)),
            (None, Ok(v)) => v.truthy(),
            (_, Err(e)) => Err(e),
        };
        (r, it.missing)
    }

    fn value(&mut self, block: &CBlock, attr: &CAttr) -> Result<Value, EvalError> {
        let Some(ast) = &attr.ast else {
            // Static fields were folded when compiling; the folded constant is the value.
            return match &attr.expr {
                crate::ir::CExpr::Const(v) => Ok(v.clone()),
                _ => Ok(Value::Null),
            };
        };
        let env = PackEnv::for_block(self.pack, &block.roots, self.input, self.scorers);
        Interp::new(&env).eval(ast)
    }

    fn waiver_when(&mut self, w: &CWaiver) -> Result<bool, EvalError> {
        let Some((_, ast)) = &w.when else {
            return Ok(true);
        };
        // A waiver reads the roots of the blocks it waives (not every root of the pack).
        let env = PackEnv::for_block(self.pack, &w.roots, self.input, self.scorers);
        Interp::new(&env).eval(ast)?.truthy()
    }
}
