//! Values and the meaning of every operator.
//!
//! Both evaluators (the compiled one and the reference interpreter in
//! `tenet-runtime`) and the constant folder call these functions, so an
//! operator means one thing everywhere.
//!
//! The corners that flip an allow into a deny are fixed here and written down
//! in `docs/language.md`:
//! - a missing field is `null`; `has(x)` tests presence;
//! - every comparison with `null` (`==`, `!=`, `<`, `in`, `not in`, `matches`) is false;
//! - ordering two values of unrelated types is false, never an error;
//! - `null` is falsy in `and` / `or` / `not` / `if`; a non-boolean there is an error;
//! - arithmetic with `null` gives `null`; overflow and division by zero are errors.

use crate::ast::BinOp;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// Milliseconds.
    Duration(i64),
    /// The number written before `%` (5% is `Percent(5.0)`).
    Percent(f64),
    /// Bytes.
    Size(u64),
    Semver(Arc<semver::Version>),
    Regex(Arc<regex::Regex>),
    List(Arc<Vec<Value>>),
    Map(Arc<BTreeMap<Arc<str>, Value>>),
}

/// An error raised while evaluating: it fails the one rule it happens in,
/// never the process.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum EvalError {
    #[error("expected a boolean, found {0}")]
    NotBool(String),
    #[error("cannot apply `{op}` to {left} and {right}")]
    Type {
        op: String,
        left: String,
        right: String,
    },
    #[error("integer overflow in `{0}`")]
    Overflow(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0}")]
    Function(String),
    #[error("scorer `{name}` failed: {message}")]
    Scorer { name: String, message: String },
    #[error("evaluation limit reached: {0}")]
    Limit(String),
    /// Input where the rule needs a structure, of the wrong shape (a
    /// malformed label selector): an error of the block, and, like missing
    /// input, the block's `on_no_data` decides what it becomes.
    #[error("{0}")]
    Data(String),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Duration(_) => "duration",
            Value::Percent(_) => "percentage",
            Value::Size(_) => "size",
            Value::Semver(_) => "semver",
            Value::Regex(_) => "regex",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Truthiness in conditions: null is false, a non-boolean is an error.
    pub fn truthy(&self) -> Result<bool, EvalError> {
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            other => Err(EvalError::NotBool(describe(other))),
        }
    }

    pub fn get(&self, key: &str) -> Value {
        match self {
            Value::Map(m) => m.get(key).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// A numeric view for arithmetic and ordering: percentages are fractions.
    fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Percent(p) => Some(*p / 100.0),
            _ => None,
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(Arc::from(s.as_str())),
            serde_json::Value::Array(a) => {
                Value::List(Arc::new(a.iter().map(Value::from_json).collect()))
            }
            serde_json::Value::Object(o) => Value::Map(Arc::new(
                o.iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// JSON form used in decisions: durations, sizes and percentages are
    /// written as their literals (`"30m"`, `"10MB"`, `"5%"`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.to_string()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            other => J::String(other.to_string()),
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        other => format!("{} `{}`", other.type_name(), other),
    }
}

/// Canonical text of a duration: `1h30m`, `500ms`, `0s`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (unit, size) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, unit));
            rest %= size;
        }
    }
    out
}

pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [
        ("TB", 1_000_000_000_000u64),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{}", bytes / size, unit);
        }
    }
    format!("{bytes}B")
}

/// A value read straight from JSON (or any self-describing format), with
/// the meaning of [`Value::from_json`] and no `serde_json::Value` tree in
/// between: integers that fit `i64` are `Int`, other numbers `Float`, and
/// a repeated key keeps its last value.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Reads a JSON object into a [`Value::Map`]; anything else is an error
/// ("expected a JSON object"), as for a request's `input`.
pub fn deserialize_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    d.deserialize_map(ObjectVisitor)
}

struct ObjectVisitor;

impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        JsonVisitor.visit_map(map)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        })
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(Arc::from(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::list(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let v = map.next_value::<Value>()?;
            out.insert(k, v);
        }
        Ok(Value::Map(Arc::new(out)))
    }
}

/// A map key, read into an `Arc<str>` without an intermediate `String`.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Arc<str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeySeed {
    type Value = Arc<str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E>(self, s: &str) -> Result<Arc<str>, E> {
        Ok(Arc::from(s))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s}"),
            Value::Duration(ms) => write!(f, "{}", format_duration(*ms)),
            Value::Percent(p) => write!(f, "{p}%"),
            Value::Size(b) => write!(f, "{}", format_size(*b)),
            Value::Semver(v) => write!(f, "{v}"),
            Value::Regex(r) => write!(f, "/{}/", r.as_str()),
            Value::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}", v.to_json())?;
                }
                write!(f, "]")
            }
            Value::Map(_) => write!(f, "{}", self.to_json()),
        }
    }
}

/// Coerce a string to the domain type of the other side of a comparison, so
/// `"30m" < 1h` and `"1.2.0" < 1.10.0` mean what they say.
fn coerce_str(s: &str, like: &Value) -> Option<Value> {
    match like {
        Value::Duration(_) => crate::syntax::parse_duration(s).map(Value::Duration),
        Value::Size(_) => crate::syntax::parse_size(s).map(Value::Size),
        Value::Semver(_) => semver::Version::parse(s.trim_start_matches('v'))
            .ok()
            .map(|v| Value::Semver(Arc::new(v))),
        _ => None,
    }
}

/// Structural equality. `null == null` is true; any other pairing with null is false.
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Str(s), other) | (other, Value::Str(s)) if coerce_str(s, other).is_some() => {
            coerce_str(s, other).is_some_and(|c| equals(&c, other))
        }
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Size(x), Value::Size(y)) => x == y,
        (Value::Semver(x), Value::Semver(y)) => x == y,
        (Value::Regex(x), Value::Regex(y)) => x.as_str() == y.as_str(),
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| equals(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && equals(va, vb))
        }
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Ordering, when the two values are comparable.
pub fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        (Value::Size(x), Value::Size(y)) => Some(x.cmp(y)),
        (Value::Semver(x), Value::Semver(y)) => Some(x.cmp(y)),
        (Value::Str(s), other) => order(&coerce_str(s, other)?, other),
        (other, Value::Str(s)) => order(other, &coerce_str(s, other)?),
        _ => a.number()?.partial_cmp(&b.number()?),
    }
}

/// `a in b`: list membership, map key, or substring.
pub fn contains(haystack: &Value, needle: &Value) -> bool {
    if needle.is_null() {
        return false;
    }
    match haystack {
        Value::List(items) => items.iter().any(|v| equals(v, needle)),
        Value::Map(m) => matches!(needle, Value::Str(k) if m.contains_key(k.as_ref())),
        Value::Str(s) => matches!(needle, Value::Str(n) if s.contains(n.as_ref())),
        _ => false,
    }
}

/// `s matches re`. A non-string subject does not match.
pub fn regex_match(subject: &Value, pattern: &Value) -> Result<bool, EvalError> {
    let Value::Str(s) = subject else {
        return Ok(false);
    };
    match pattern {
        Value::Regex(r) => Ok(r.is_match(s)),
        Value::Str(p) => regex::Regex::new(p)
            .map(|r| r.is_match(s))
            .map_err(|_| EvalError::Function(format!("`{p}` is not a valid regular expression"))),
        Value::Null => Ok(false),
        other => Err(EvalError::Type {
            op: "matches".into(),
            left: "string".into(),
            right: other.type_name().into(),
        }),
    }
}

/// Comparison and membership operators; never an error. Any comparison
/// with `null` is false (test presence with `has(x)`).
pub fn compare(op: BinOp, a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    match op {
        BinOp::Eq => equals(a, b),
        BinOp::Ne => !equals(a, b),
        BinOp::Lt => order(a, b) == Some(Ordering::Less),
        BinOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        BinOp::Gt => order(a, b) == Some(Ordering::Greater),
        BinOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
        BinOp::In => contains(b, a),
        BinOp::NotIn => !contains(b, a),
        _ => false,
    }
}

/// Arithmetic. `null` propagates; mismatched types and overflow are errors.
pub fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    use Value::*;
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    let sym = op.symbol();
    let overflow = || EvalError::Overflow(sym.to_string());
    let mismatch = || EvalError::Type {
        op: sym.to_string(),
        left: a.type_name().into(),
        right: b.type_name().into(),
    };
    let r = match (op, a, b) {
        (BinOp::Add, Int(x), Int(y)) => Int(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, Int(x), Int(y)) => Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, Int(x), Int(y)) => Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (BinOp::Div, Int(_), Int(0)) => return Err(EvalError::DivisionByZero),
        (BinOp::Div, Int(x), Int(y)) => {
            if x % y == 0 {
                Int(x.checked_div(*y).ok_or_else(overflow)?)
            } else {
                Float(*x as f64 / *y as f64)
            }
        }
        (BinOp::Add, Str(x), Str(y)) => Str(Arc::from(format!("{x}{y}").as_str())),
        (BinOp::Add, List(x), List(y)) => {
            List(Arc::new(x.iter().chain(y.iter()).cloned().collect()))
        }
        (BinOp::Add, Duration(x), Duration(y)) => Duration(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, Duration(x), Duration(y)) => Duration(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, Duration(x), Int(y)) | (BinOp::Mul, Int(y), Duration(x)) => {
            Duration(x.checked_mul(*y).ok_or_else(overflow)?)
        }
        (BinOp::Div, Duration(_), Duration(0)) => return Err(EvalError::DivisionByZero),
        (BinOp::Div, Duration(x), Duration(y)) => Float(*x as f64 / *y as f64),
        (BinOp::Add, Size(x), Size(y)) => Size(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, Size(x), Size(y)) => Size(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, Size(x), Int(y)) | (BinOp::Mul, Int(y), Size(x)) => {
            let y = u64::try_from(*y).map_err(|_| overflow())?;
            Size(x.checked_mul(y).ok_or_else(overflow)?)
        }
        (BinOp::Add, Percent(x), Percent(y)) => Percent(x + y),
        (BinOp::Sub, Percent(x), Percent(y)) => Percent(x - y),
        _ => {
            let (Some(x), Some(y)) = (a.number(), b.number()) else {
                return Err(mismatch());
            };
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if y == 0.0 => return Err(EvalError::DivisionByZero),
                BinOp::Div => x / y,
                _ => return Err(mismatch()),
            };
            if !v.is_finite() {
                return Err(overflow());
            }
            Float(v)
        }
    };
    Ok(r)
}

pub fn negate(v: &Value) -> Result<Value, EvalError> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int(i) => Value::Int(
            i.checked_neg()
                .ok_or_else(|| EvalError::Overflow("-".into()))?,
        ),
        Value::Float(f) => Value::Float(-f),
        Value::Duration(d) => Value::Duration(
            d.checked_neg()
                .ok_or_else(|| EvalError::Overflow("-".into()))?,
        ),
        Value::Percent(p) => Value::Percent(-p),
        other => {
            return Err(EvalError::Type {
                op: "-".into(),
                left: other.type_name().into(),
                right: "nothing".into(),
            })
        }
    })
}

/// `base[ix]`: list position (negative counts from the end) or map key.
pub fn index(base: &Value, ix: &Value) -> Value {
    match (base, ix) {
        (Value::List(l), Value::Int(i)) => {
            let len = l.len() as i64;
            let i = if *i < 0 { len + i } else { *i };
            usize::try_from(i)
                .ok()
                .and_then(|i| l.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        }
        (Value::Map(m), Value::Str(k)) => m.get(k.as_ref()).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
