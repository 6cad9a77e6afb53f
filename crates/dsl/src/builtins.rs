//! The function table: every function an expression may call, declared once.
//!
//! Functions are total: a wrong argument type gives `null` (or an error for
//! calls that cannot mean anything), never a panic. Both evaluators call
//! [`call`] so a function means one thing everywhere.

use crate::ast::BinOp;
use crate::value::{compare, EvalError, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Builtin {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub doc: &'static str,
}

const fn b(name: &'static str, min_args: usize, max_args: usize, doc: &'static str) -> Builtin {
    Builtin {
        name,
        min_args,
        max_args,
        doc,
    }
}

pub static BUILTINS: &[Builtin] = &[
    b("len", 1, 1, "length of a string (characters), list or map; null otherwise"),
    b("lower", 1, 1, "lower-case string"),
    b("upper", 1, 1, "upper-case string"),
    b("trim", 1, 1, "string without surrounding whitespace"),
    b("starts_with", 2, 2, "whether a string starts with a prefix"),
    b("ends_with", 2, 2, "whether a string ends with a suffix"),
    b("contains", 2, 2, "substring, list element or map key"),
    b("split", 2, 2, "split a string by a separator"),
    b("join", 2, 2, "join a list of values with a separator"),
    b("keys", 1, 1, "sorted keys of a map"),
    b("values", 1, 1, "values of a map, by key order"),
    b("sum", 1, 1, "sum of a list of numbers (nulls skipped)"),
    b("min", 1, 1, "smallest element of a list"),
    b("max", 1, 1, "largest element of a list"),
    b("abs", 1, 1, "absolute value"),
    b("has", 1, 1, "whether a value is present (not null)"),
    b("default", 2, 2, "the first argument, or the second when the first is null"),
    b("int", 1, 1, "integer from a number or numeric string"),
    b("float", 1, 1, "float from a number or numeric string"),
    b("string", 1, 1, "text form of a value"),
    b("duration", 1, 1, "duration from a string such as \"30m\", or from seconds"),
    b("semver", 1, 1, "semantic version from a string"),
    b("size", 1, 1, "size from a string such as \"10MB\", or from bytes"),
    b("percent_of", 2, 2, "count from a percentage of a population: rounds down, at least 1 when both are positive"),
    b("digest", 1, 1, "\"sha256:<hex>\" of the canonical JSON of a value"),
    b("selects", 2, 2, "whether a label selector (first) selects a label map (second); a null selector selects nothing, a malformed one is an error"),
    b("windows_allow", 2, 2, "whether time windows (a window map or a list) allow a time (RFC 3339 or YYYY-MM-DD): an open deny window denies; with allow windows one must be open; with none, allowed"),
];

pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

fn s(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// Call a builtin by name.
pub fn call(name: &str, args: &[Value]) -> Result<Value, EvalError> {
    let a = arg(args, 0);
    let b = arg(args, 1);
    let v = match name {
        "len" => match a {
            Value::Str(x) => Value::Int(x.chars().count() as i64),
            Value::List(l) => Value::Int(l.len() as i64),
            Value::Map(m) => Value::Int(m.len() as i64),
            _ => Value::Null,
        },
        "lower" => s(a)
            .map(|x| Value::str(&x.to_lowercase()))
            .unwrap_or_default(),
        "upper" => s(a)
            .map(|x| Value::str(&x.to_uppercase()))
            .unwrap_or_default(),
        "trim" => s(a).map(|x| Value::str(x.trim())).unwrap_or_default(),
        "starts_with" => match (s(a), s(b)) {
            (Some(x), Some(p)) => Value::Bool(x.starts_with(p)),
            _ => Value::Bool(false),
        },
        "ends_with" => match (s(a), s(b)) {
            (Some(x), Some(p)) => Value::Bool(x.ends_with(p)),
            _ => Value::Bool(false),
        },
        "contains" => Value::Bool(compare(BinOp::In, b, a)),
        "split" => match (s(a), s(b)) {
            (Some(x), Some(sep)) if !sep.is_empty() => {
                Value::list(x.split(sep).map(Value::str).collect())
            }
            _ => Value::Null,
        },
        "join" => match (a, s(b)) {
            (Value::List(l), Some(sep)) => Value::str(
                &l.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(sep),
            ),
            _ => Value::Null,
        },
        "keys" => match a {
            Value::Map(m) => Value::list(m.keys().map(|k| Value::Str(k.clone())).collect()),
            _ => Value::Null,
        },
        "values" => match a {
            Value::Map(m) => Value::list(m.values().cloned().collect()),
            _ => Value::Null,
        },
        "sum" => match a {
            Value::List(l) => {
                let mut acc = Value::Int(0);
                for v in l.iter().filter(|v| !v.is_null()) {
                    acc = crate::value::arith(BinOp::Add, &acc, v)?;
                }
                acc
            }
            _ => Value::Null,
        },
        "min" | "max" => match a {
            Value::List(l) => {
                let mut best: Option<&Value> = None;
                for v in l.iter().filter(|v| !v.is_null()) {
                    best = match best {
                        None => Some(v),
                        Some(cur) => {
                            let better = if name == "min" {
                                compare(BinOp::Lt, v, cur)
                            } else {
                                compare(BinOp::Gt, v, cur)
                            };
                            Some(if better { v } else { cur })
                        }
                    };
                }
                best.cloned().unwrap_or_default()
            }
            _ => Value::Null,
        },
        "abs" => match a {
            Value::Int(i) => Value::Int(
                i.checked_abs()
                    .ok_or_else(|| EvalError::Overflow("abs".into()))?,
            ),
            Value::Float(f) => Value::Float(f.abs()),
            Value::Duration(d) => Value::Duration(
                d.checked_abs()
                    .ok_or_else(|| EvalError::Overflow("abs".into()))?,
            ),
            Value::Percent(p) => Value::Percent(p.abs()),
            _ => Value::Null,
        },
        "has" => Value::Bool(!a.is_null()),
        "default" => {
            if a.is_null() {
                b.clone()
            } else {
                a.clone()
            }
        }
        "int" => match a {
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Value::Int(f.trunc() as i64),
            Value::Str(x) => x
                .trim()
                .replace('_', "")
                .parse::<i64>()
                .map(Value::Int)
                .unwrap_or_default(),
            _ => Value::Null,
        },
        "float" => match a {
            Value::Int(i) => Value::Float(*i as f64),
            Value::Float(f) => Value::Float(*f),
            Value::Percent(p) => Value::Float(p / 100.0),
            Value::Str(x) => x
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float)
                .unwrap_or_default(),
            _ => Value::Null,
        },
        "string" => match a {
            Value::Null => Value::Null,
            other => Value::str(&other.to_string()),
        },
        "duration" => match a {
            Value::Duration(d) => Value::Duration(*d),
            Value::Str(x) => crate::syntax::parse_duration(x)
                .map(Value::Duration)
                .unwrap_or_default(),
            Value::Int(secs) => secs
                .checked_mul(1000)
                .map(Value::Duration)
                .unwrap_or_default(),
            _ => Value::Null,
        },
        "semver" => match a {
            Value::Semver(v) => Value::Semver(v.clone()),
            Value::Str(x) => semver::Version::parse(x.trim_start_matches('v'))
                .map(|v| Value::Semver(Arc::new(v)))
                .unwrap_or_default(),
            _ => Value::Null,
        },
        "size" => match a {
            Value::Size(x) => Value::Size(*x),
            Value::Str(x) => crate::syntax::parse_size(x)
                .map(Value::Size)
                .unwrap_or_default(),
            Value::Int(n) => u64::try_from(*n).map(Value::Size).unwrap_or_default(),
            _ => Value::Null,
        },
        "percent_of" => {
            let pct = match a {
                Value::Percent(p) => Some(*p),
                _ => None,
            };
            match (pct, b) {
                (Some(p), Value::Int(n)) => Value::Int(percent_of(p, *n)),
                _ => Value::Null,
            }
        }
        "digest" => Value::str(&digest(a)),
        "selects" => Value::Bool(selects(a, b).map_err(EvalError::Data)?),
        "windows_allow" => {
            let Value::Str(at) = b else {
                return Ok(Value::Null);
            };
            let items: Vec<Value> = match a {
                Value::List(l) => l.iter().cloned().collect(),
                Value::Map(_) => vec![a.clone()],
                _ => return Ok(Value::Null),
            };
            let windows = items
                .iter()
                .map(crate::window::from_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(EvalError::Function)?;
            let at = crate::window::parse_time(at).map_err(EvalError::Function)?;
            Value::Bool(
                crate::window::allows(&windows, at)
                    .map_err(EvalError::Function)?
                    .allowed,
            )
        }
        other => return Err(EvalError::Function(format!("unknown function `{other}`"))),
    };
    Ok(v)
}

/// The one percent → count rule: round down, but at least 1 when the
/// percentage and the population are both positive; never more than the
/// population. (Argo CD's rule; documented in `docs/language.md`.)
pub fn percent_of(percent: f64, population: i64) -> i64 {
    if percent <= 0.0 || population <= 0 {
        return 0;
    }
    let raw = (percent / 100.0 * population as f64).floor();
    let n = if raw.is_finite() {
        raw as i64
    } else {
        population
    };
    n.clamp(1, population)
}

/// `sha256:<hex>` over the canonical JSON (sorted keys, no spaces) of a value.
pub fn digest(v: &Value) -> String {
    let json = v.to_json();
    let text = serde_json::to_string(&json).unwrap_or_default();
    format!("sha256:{}", hex_encode(&Sha256::digest(text.as_bytes())))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Kubernetes `matchExpressions` semantics: AND across expressions, OR
/// within the values of one expression, and `not_in` wins over everything.
///
/// The selector is a map with optional keys `labels` (equality), `in`,
/// `not_in` (maps from label to a list of values), `exists` and
/// `not_exists` (lists of labels). An empty selector selects everything; a
/// null (missing) one selects nothing, as in Kubernetes. Any other shape is
/// an error ([`selector_problem`]), never a selection: a selector that
/// selected everything when misspelt would fail open in guards and
/// rollouts. Missing labels are no labels.
pub fn selects(selector: &Value, labels: &Value) -> Result<bool, String> {
    if selector.is_null() {
        return Ok(false);
    }
    if let Some(p) = selector_problem(selector) {
        return Err(p.message);
    }
    let empty = BTreeMap::new();
    let labels = match labels {
        Value::Map(m) => m.as_ref(),
        Value::Null => &empty,
        other => {
            return Err(format!(
                "`selects` takes a label map as its second argument, found {}",
                shown(other)
            ))
        }
    };
    let label = |k: &str| labels.get(k).cloned().unwrap_or(Value::Null);
    let one_of = |v: &Value, allowed: &Value| match allowed {
        Value::List(l) => l.iter().any(|a| crate::value::equals(a, v)),
        _ => false,
    };
    let present = |k: &Value| matches!(k, Value::Str(k) if !label(k).is_null());
    if let Value::Map(m) = selector.get("not_in") {
        if m.iter().any(|(k, vals)| one_of(&label(k), vals)) {
            return Ok(false);
        }
    }
    if let Value::List(l) = selector.get("not_exists") {
        if l.iter().any(present) {
            return Ok(false);
        }
    }
    if let Value::Map(m) = selector.get("labels") {
        if !m.iter().all(|(k, v)| crate::value::equals(&label(k), v)) {
            return Ok(false);
        }
    }
    if let Value::Map(m) = selector.get("in") {
        if !m.iter().all(|(k, vals)| one_of(&label(k), vals)) {
            return Ok(false);
        }
    }
    if let Value::List(l) = selector.get("exists") {
        if !l.iter().all(present) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What is wrong with a (non-null) label selector.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectorProblem {
    /// The selector key at fault, when there is one (`exists`).
    pub key: Option<String>,
    /// One sentence for an error or a diagnostic.
    pub message: String,
}

/// A value for a message: its type, and the value when it is short.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::List(_) | Value::Map(_) => v.type_name().to_string(),
        other => format!("{} `{other}`", other.type_name()),
    }
}

/// Why a value is not a label selector, or `None` when it is one. Null is
/// left to the caller (it selects nothing).
pub fn selector_problem(selector: &Value) -> Option<SelectorProblem> {
    let at = |key: &str, message: String| {
        Some(SelectorProblem {
            key: Some(key.to_string()),
            message,
        })
    };
    let m = match selector {
        Value::Map(m) => m,
        Value::Null => return None,
        other => {
            return Some(SelectorProblem {
                key: None,
                message: format!(
                    "a label selector is a map such as `{{labels: {{env: \"prod\"}}}}`, found {}",
                    shown(other)
                ),
            })
        }
    };
    let scalar = |v: &Value| {
        matches!(
            v,
            Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)
        )
    };
    for (k, v) in m.iter() {
        match (k.as_ref(), v) {
            ("labels", Value::Map(labels)) => {
                if let Some((l, v)) = labels.iter().find(|(_, v)| !scalar(v)) {
                    return at(k, format!("selector `labels.{l}` is a string, number or boolean, found {}", shown(v)));
                }
            }
            ("labels", other) => {
                return at(k, format!("selector `labels` is a map from label to value, found {}", shown(other)))
            }
            ("in" | "not_in", Value::Map(sets)) => {
                for (l, vals) in sets.iter() {
                    match vals {
                        Value::List(items) => {
                            if let Some(x) = items.iter().find(|x| !scalar(x)) {
                                return at(k, format!("selector `{k}.{l}` lists strings, numbers or booleans, found {}", shown(x)));
                            }
                        }
                        other => {
                            return at(k, format!("selector `{k}.{l}` is a list of values, found {}", shown(other)))
                        }
                    }
                }
            }
            ("in" | "not_in", other) => {
                return at(k, format!("selector `{k}` is a map from label to a list of values, found {}", shown(other)))
            }
            ("exists" | "not_exists", Value::List(names)) => {
                if let Some(x) = names.iter().find(|x| !matches!(x, Value::Str(_))) {
                    return at(k, format!("selector `{k}` lists label names (strings), found {}", shown(x)));
                }
            }
            ("exists" | "not_exists", other) => {
                return at(k, format!("selector `{k}` is a list of label names, found {}", shown(other)))
            }
            _ => {
                return at(k, format!("unknown label selector key `{k}` (the keys are labels, in, not_in, exists, not_exists)"))
            }
        }
    }
    None
}
