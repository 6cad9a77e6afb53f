//! The compiled evaluator: the fast path.
//!
//! It must give the same value, the same error and the same missing-data
//! flag as the reference interpreter (`tenet_dsl::interp`) on every
//! expression; `tests/agreement.rs` holds it to that. Evaluation does no
//! I/O: scorers run in their rhai sandbox, in memory.

use crate::ir::{CExpr, CPart};
use crate::scorer::Scorer;
use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_dsl::ast::{BinOp, Quant};
use tenet_dsl::interp::DEFAULT_STEP_LIMIT;
use tenet_dsl::value::{self, EvalError, Value};

/// What an [`CExpr::InputPath`] slot holds.
#[derive(Clone, Copy)]
enum Memo<'a> {
    Unread,
    /// The chain missed (a null or absent step).
    Missing,
    Found(&'a Value),
}

/// Per-evaluation state.
pub struct Ctx<'a> {
    roots: &'a [Value],
    scorers: &'a [Arc<Scorer>],
    vars: Vec<Value>,
    /// Input paths already walked, by slot. The roots do not change within
    /// a decision, so this outlives [`Ctx::reset`].
    memo: Vec<Memo<'a>>,
    /// Set when an input root or a field access gave `null`.
    pub missing: bool,
    pub steps_left: u64,
}

/// Walk a member chain by reference.
fn walk<'v>(mut v: &'v Value, segs: &[Arc<str>], missing: &mut bool) -> Option<&'v Value> {
    for s in segs {
        match v {
            Value::Map(m) => match m.get(s.as_ref()) {
                Some(Value::Null) | None => {
                    *missing = true;
                    return None;
                }
                Some(next) => v = next,
            },
            _ => {
                *missing = true;
                return None;
            }
        }
    }
    Some(v)
}

static NULL: Value = Value::Null;

impl<'a> Ctx<'a> {
    /// The value of input root `i` (null when absent).
    pub fn root_value(&self, i: u16) -> &'a Value {
        static NULL: Value = Value::Null;
        self.roots.get(i as usize).unwrap_or(&NULL)
    }

    pub fn new(roots: &'a [Value], scorers: &'a [Arc<Scorer>]) -> Self {
        Ctx {
            roots,
            scorers,
            vars: Vec::new(),
            memo: Vec::new(),
            missing: false,
            steps_left: DEFAULT_STEP_LIMIT,
        }
    }

    /// Reset between evaluations of one decision. The iteration budget is
    /// per evaluation (as in the reference interpreter), not per decision.
    pub fn reset(&mut self) {
        self.missing = false;
        self.vars.clear();
        self.steps_left = DEFAULT_STEP_LIMIT;
    }

    fn root(&mut self, i: u16) -> &'a Value {
        match self.roots.get(i as usize) {
            Some(Value::Null) | None => {
                self.missing = true;
                &NULL
            }
            Some(v) => v,
        }
    }

    /// An input path, walked once per decision; `None` (and `missing` set)
    /// when it misses, as a walk would.
    fn input_path(&mut self, root: u16, segs: &[Arc<str>], slot: u32) -> Option<&'a Value> {
        let slot = slot as usize;
        match self.memo.get(slot) {
            Some(Memo::Found(v)) => return Some(v),
            Some(Memo::Missing) => {
                self.missing = true;
                return None;
            }
            Some(Memo::Unread) | None => {}
        }
        let r = self.root(root);
        let found = if r.is_null() {
            None
        } else {
            walk(r, segs, &mut self.missing)
        };
        if self.memo.len() <= slot {
            self.memo.resize(slot + 1, Memo::Unread);
        }
        self.memo[slot] = match found {
            Some(v) => Memo::Found(v),
            None => Memo::Missing,
        };
        found
    }

    /// Evaluate a path without cloning intermediate values when its base is a root.
    fn path_ref(
        &mut self,
        base: &CExpr,
        segs: &[Arc<str>],
    ) -> Option<Result<Option<&'a Value>, EvalError>> {
        if let CExpr::Root(i) = base {
            let r = self.root(*i);
            if r.is_null() {
                // Every further step misses too; `missing` is already set.
                return Some(Ok(None));
            }
            return Some(Ok(walk(r, segs, &mut self.missing)));
        }
        None
    }

    pub fn eval(&mut self, e: &CExpr) -> Result<Value, EvalError> {
        match e {
            CExpr::Const(v) => Ok(v.clone()),
            CExpr::NullConst => {
                self.missing = true;
                Ok(Value::Null)
            }
            CExpr::Root(i) => Ok(self.root(*i).clone()),
            CExpr::Var(i) => Ok(self.vars.get(*i as usize).cloned().unwrap_or_default()),
            CExpr::InputPath(root, segs, slot) => Ok(self
                .input_path(*root, segs, *slot)
                .cloned()
                .unwrap_or_default()),
            CExpr::Path(base, segs) => {
                if let Some(r) = self.path_ref(base, segs) {
                    return Ok(r?.cloned().unwrap_or_default());
                }
                let b = self.eval(base)?;
                let mut missing = false;
                let v = walk(&b, segs, &mut missing).cloned().unwrap_or_default();
                if missing {
                    self.missing = true;
                }
                Ok(v)
            }
            CExpr::Index(a, b) => {
                let (x, i) = (self.eval(a)?, self.eval(b)?);
                let v = value::index(&x, &i);
                if v.is_null() {
                    self.missing = true;
                }
                Ok(v)
            }
            CExpr::Template(parts) => {
                use std::fmt::Write as _;
                let mut out = String::new();
                for p in parts {
                    match p {
                        CPart::Text(t) => out.push_str(t),
                        CPart::Expr(x) => match self.eval(x)? {
                            Value::Str(s) => out.push_str(&s),
                            // Writing to a String cannot fail.
                            v => {
                                let _ = write!(out, "{v}");
                            }
                        },
                    }
                }
                Ok(Value::Str(out.into()))
            }
            CExpr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i)?);
                }
                Ok(Value::list(out))
            }
            CExpr::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    m.insert(k.clone(), self.eval(v)?);
                }
                Ok(Value::Map(Arc::new(m)))
            }
            CExpr::Builtin(name, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                tenet_dsl::builtins::call(name, &vals)
            }
            CExpr::Scorer(i, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                match self.scorers.get(*i) {
                    Some(s) => s.call(&vals),
                    None => Err(EvalError::Function("scorer not loaded".into())),
                }
            }
            CExpr::Not(_)
            | CExpr::And(..)
            | CExpr::Or(..)
            | CExpr::All(_)
            | CExpr::Any(_)
            | CExpr::Cmp(..) => self.eval_bool(e).map(Value::Bool),
            CExpr::Neg(x) => value::negate(&self.eval(x)?),
            CExpr::Arith(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                value::arith(*op, &x, &y)
            }
            CExpr::Matches(a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                value::regex_match(&x, &y).map(Value::Bool)
            }
            CExpr::If(c, t, f) => {
                if self.eval(c)?.truthy()? {
                    self.eval(t)
                } else {
                    self.eval(f)
                }
            }
            CExpr::Quant(q, list, pred) => {
                let items = match self.eval(list)? {
                    Value::List(l) => l,
                    Value::Null => {
                        return Ok(match q {
                            Quant::Count => Value::Int(0),
                            _ => Value::Bool(false),
                        })
                    }
                    other => {
                        return Err(EvalError::Function(format!(
                            "`{}` needs a list, found {}",
                            q.keyword(),
                            other.type_name()
                        )))
                    }
                };
                let mut count = 0i64;
                for item in items.iter() {
                    if self.steps_left == 0 {
                        return Err(EvalError::Limit(format!(
                            "more than {DEFAULT_STEP_LIMIT} iterations"
                        )));
                    }
                    self.steps_left -= 1;
                    self.vars.push(item.clone());
                    let r = self.eval(pred).and_then(|v| v.truthy());
                    self.vars.pop();
                    let held = r?;
                    match (q, held) {
                        (Quant::Any, true) => return Ok(Value::Bool(true)),
                        (Quant::All, false) => return Ok(Value::Bool(false)),
                        (Quant::Count, true) => count += 1,
                        _ => {}
                    }
                }
                Ok(match q {
                    Quant::Any => Value::Bool(false),
                    Quant::All => Value::Bool(!items.is_empty()),
                    Quant::Count => Value::Int(count),
                })
            }
        }
    }

    /// A condition's truth, without building intermediate boolean values.
    /// Same meaning as `eval(e)?.truthy()`: `and`/`or` short-circuit left to
    /// right, null is false, a non-boolean is an error.
    pub fn eval_bool(&mut self, e: &CExpr) -> Result<bool, EvalError> {
        match e {
            CExpr::Cmp(op, a, b) => self.cmp(*op, a, b),
            CExpr::And(a, b) => Ok(self.eval_bool(a)? && self.eval_bool(b)?),
            CExpr::Or(a, b) => Ok(self.eval_bool(a)? || self.eval_bool(b)?),
            CExpr::All(xs) => {
                for x in xs.iter() {
                    if !self.eval_bool(x)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            CExpr::Any(xs) => {
                for x in xs.iter() {
                    if self.eval_bool(x)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            CExpr::Not(x) => Ok(!self.eval_bool(x)?),
            CExpr::Const(v) => v.truthy(),
            other => self.eval(other)?.truthy(),
        }
    }

    /// Comparisons, with a clone-free path for `root.path OP constant`.
    fn cmp(&mut self, op: BinOp, a: &CExpr, b: &CExpr) -> Result<bool, EvalError> {
        if let (CExpr::InputPath(root, segs, slot), CExpr::Const(c)) = (a, b) {
            return Ok(match self.input_path(*root, segs, *slot) {
                Some(v) => value::compare(op, v, c),
                None => false,
            });
        }
        if let (CExpr::Path(base, segs), CExpr::Const(c)) = (a, b) {
            if let Some(r) = self.path_ref(base, segs) {
                return Ok(match r? {
                    Some(v) => value::compare(op, v, c),
                    None => false,
                });
            }
        }
        let (x, y) = (self.eval(a)?, self.eval(b)?);
        Ok(value::compare(op, &x, &y))
    }
}
