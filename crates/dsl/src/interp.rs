//! The reference interpreter: a plain tree walk over the checked AST.
//!
//! This is the meaning of an expression. The compiled evaluator in
//! `tenet-runtime` is an optimisation of it and is tested to agree with it on
//! every case file and on generated expressions. The checker also uses it to
//! fold constants. Keep it simple: no caching, no cleverness.

use crate::ast::{BinOp, Expr, ExprKind, Lit, Quant, TemplatePart, UnOp};
use crate::value::{self, EvalError, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Iterations of `any` / `all` / `count` allowed in one evaluation.
pub const DEFAULT_STEP_LIMIT: u64 = 1_000_000;

/// What names mean outside the expression.
pub trait Env {
    /// A constant of this pack or an input root; `None` when unresolved.
    fn name(&self, name: &str) -> Option<Value>;
    /// Whether `name` is the local name of an imported pack.
    fn is_import(&self, name: &str) -> bool;
    /// `alias.name`: a constant of an imported pack.
    fn qualified(&self, alias: &str, name: &str) -> Option<Value>;
    /// A call to a scorer declared in the pack; `None` when `name` is no scorer.
    fn scorer(&self, name: &str, args: &[Value]) -> Option<Result<Value, EvalError>>;
}

/// Evaluation state: bound variables, whether missing input was read, and
/// the remaining step budget.
pub struct Interp<'e> {
    pub env: &'e dyn Env,
    vars: Vec<(String, Value)>,
    /// Set when a field access or an input root gave `null`.
    pub missing: bool,
    pub steps_left: u64,
}

impl<'e> Interp<'e> {
    pub fn new(env: &'e dyn Env) -> Self {
        Interp {
            env,
            vars: Vec::new(),
            missing: false,
            steps_left: DEFAULT_STEP_LIMIT,
        }
    }

    pub fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        match &e.kind {
            ExprKind::Lit(l) => Ok(lit(l)),
            ExprKind::Template(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        TemplatePart::Text(t) => out.push_str(t),
                        TemplatePart::Expr(x) => out.push_str(&self.eval(x)?.to_string()),
                    }
                }
                Ok(Value::str(&out))
            }
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i)?);
                }
                Ok(Value::list(out))
            }
            ExprKind::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    m.insert(Arc::from(k.name.as_str()), self.eval(v)?);
                }
                Ok(Value::Map(Arc::new(m)))
            }
            ExprKind::Name(n) => {
                if let Some((_, v)) = self.vars.iter().rev().find(|(name, _)| name == n) {
                    return Ok(v.clone());
                }
                let v = self.env.name(n).unwrap_or(Value::Null);
                if v.is_null() {
                    self.missing = true;
                }
                Ok(v)
            }
            ExprKind::Member(base, field) => {
                if let ExprKind::Name(alias) = &base.kind {
                    if !self.vars.iter().any(|(n, _)| n == alias) && self.env.is_import(alias) {
                        // Like a local constant: a null imported constant
                        // reads as missing data.
                        let v = self
                            .env
                            .qualified(alias, &field.name)
                            .unwrap_or(Value::Null);
                        if v.is_null() {
                            self.missing = true;
                        }
                        return Ok(v);
                    }
                }
                let b = self.eval(base)?;
                let v = b.get(&field.name);
                if v.is_null() {
                    self.missing = true;
                }
                Ok(v)
            }
            ExprKind::Index(base, ix) => {
                let b = self.eval(base)?;
                let i = self.eval(ix)?;
                let v = value::index(&b, &i);
                if v.is_null() {
                    self.missing = true;
                }
                Ok(v)
            }
            ExprKind::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                if crate::builtins::lookup(&f.name).is_some() {
                    return crate::builtins::call(&f.name, &vals);
                }
                match self.env.scorer(&f.name, &vals) {
                    Some(r) => r,
                    None => Err(EvalError::Function(format!(
                        "unknown function `{}`",
                        f.name
                    ))),
                }
            }
            ExprKind::Unary(UnOp::Not, x) => Ok(Value::Bool(!self.eval(x)?.truthy()?)),
            ExprKind::Unary(UnOp::Neg, x) => value::negate(&self.eval(x)?),
            ExprKind::Binary(BinOp::And, a, b) => {
                if !self.eval(a)?.truthy()? {
                    return Ok(Value::Bool(false));
                }
                Ok(Value::Bool(self.eval(b)?.truthy()?))
            }
            ExprKind::Binary(BinOp::Or, a, b) => {
                if self.eval(a)?.truthy()? {
                    return Ok(Value::Bool(true));
                }
                Ok(Value::Bool(self.eval(b)?.truthy()?))
            }
            ExprKind::Binary(BinOp::Matches, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                value::regex_match(&x, &y).map(Value::Bool)
            }
            ExprKind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                value::arith(*op, &x, &y)
            }
            ExprKind::Binary(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                Ok(Value::Bool(value::compare(*op, &x, &y)))
            }
            ExprKind::If(c, t, f) => {
                if self.eval(c)?.truthy()? {
                    self.eval(t)
                } else {
                    self.eval(f)
                }
            }
            ExprKind::Quant(q, var, list, pred) => {
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
                    self.vars.push((var.name.clone(), item.clone()));
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
            ExprKind::Paren(x) => self.eval(x),
        }
    }
}

/// The value of a literal.
pub fn lit(l: &Lit) -> Value {
    match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int { value, .. } => Value::Int(*value),
        Lit::Float { value, .. } => Value::Float(*value),
        Lit::Duration { ms, .. } => Value::Duration(*ms),
        Lit::Percent { value, .. } => Value::Percent(*value),
        Lit::Size { bytes, .. } => Value::Size(*bytes),
        Lit::Semver(s) => semver::Version::parse(s)
            .map(|v| Value::Semver(Arc::new(v)))
            .unwrap_or_default(),
        Lit::Regex(r) => regex::Regex::new(r)
            .map(|r| Value::Regex(Arc::new(r)))
            .unwrap_or_default(),
    }
}

/// Evaluate a closed expression (no input) with the given environment.
pub fn eval_const(e: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    Interp::new(env).eval(e)
}
