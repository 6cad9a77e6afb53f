//! Setting comparators: how a baseline's requirement (`at_least "1.2"`,
//! `bits_at_most "640"`, `subset_of [...]`) judges a live value, which of
//! two requirements is the stricter (a baseline that `extends` another may
//! only tighten it), and the smallest change that meets a requirement
//! without lowering anything. The language's, so `tenet check`, the
//! autoconfig engine and `tenet autoconfig plan` agree.
//!
//! Semantics follow kube-bench's where it has the same test
//! (`../shared/research/baselines.md`) and are stricter where it fails
//! open: values compare in their own type (durations as durations,
//! sizes as sizes, an enumeration by its declared `order`), and a live
//! value that does not read as that type fails closed with a message
//! that says so.
//!
//! | comparator | the live value must | tighter means |
//! |---|---|---|
//! | `at_least V` | be at least V (by `order` when given) | a higher V |
//! | `at_most V` | be at most V | a lower V |
//! | `equals V` | equal V | the same V |
//! | `not_equals V` | differ from V | the same V |
//! | `one_of [..]` | be one of them | fewer values |
//! | `contains V` | be a list holding V (every V of a list) | more values |
//! | `excludes V` | be a list without V (or none of a list) | more values |
//! | `subset_of [..]` | be a list of allowed values only | fewer values |
//! | `matches /re/` | be a string the regex finds a match in (unanchored, as kube-bench) | the same regex |
//! | `bits_at_most "640"` | be permission bits within these (`live & !V == 0`; octal) | fewer bits |
//! | `present true` | be set | — |
//! | `absent true` | not be set | — |

use crate::value::{equals, Value};
use std::cmp::Ordering;

/// One requirement on a live value.
#[derive(Debug, Clone)]
pub enum Requirement {
    AtLeast(Value),
    AtMost(Value),
    Equals(Value),
    NotEquals(Value),
    OneOf(Vec<Value>),
    Contains(Vec<Value>),
    Excludes(Vec<Value>),
    SubsetOf(Vec<Value>),
    Matches(regex::Regex),
    BitsAtMost(u32),
    Present,
    Absent,
}

/// The comparator field names, in the order they are looked for.
pub const COMPARATORS: &[&str] = &[
    "at_least",
    "at_most",
    "equals",
    "not_equals",
    "one_of",
    "contains",
    "excludes",
    "subset_of",
    "matches",
    "bits_at_most",
    "present",
    "absent",
];

/// A requirement with its enumeration order (weakest first), if any.
#[derive(Debug, Clone)]
pub struct Comparator {
    pub requirement: Requirement,
    pub order: Option<Vec<Value>>,
}

/// What a live value is against a requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Satisfied,
    /// Not met, with why.
    Unsatisfied(String),
    /// The live value cannot be compared (wrong type, not in the order):
    /// not met, fail closed, with why.
    Invalid(String),
}

/// The change that meets a requirement from a live value.
#[derive(Debug, Clone)]
pub enum Change {
    /// Nothing to do: the live value meets it.
    Keep,
    /// Set the setting to this value.
    Set(Value),
    /// Remove the setting.
    Remove,
    /// No change can be made automatically, with why.
    Refuse(String),
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.as_ref().clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Octal permission bits: an integer written in octal digits (`640`) or a
/// string of them (`"0640"`, `"640"`).
pub fn bits(v: &Value) -> Option<u32> {
    let text = match v {
        Value::Int(i) if *i >= 0 => i.to_string(),
        Value::Str(s) => s.trim().to_string(),
        _ => return None,
    };
    let t = text.strip_prefix("0o").unwrap_or(&text);
    if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(t, 8).ok()
}

impl Comparator {
    /// Reads a setting's fields (`name`, constant value): exactly one
    /// comparator, and `order` with `at_least`, `at_most`, `equals` or
    /// `one_of` only. An error says what is wrong.
    pub fn from_fields(fields: &[(&str, Value)]) -> Result<Comparator, String> {
        let get = |n: &str| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        let found: Vec<&str> = COMPARATORS
            .iter()
            .copied()
            .filter(|c| get(c).is_some())
            .collect();
        let [name] = found.as_slice() else {
            return Err(if found.is_empty() {
                format!("needs one comparator: {}", COMPARATORS.join(", "))
            } else {
                format!(
                    "has {} comparators (`{}`): a setting states one requirement",
                    found.len(),
                    found.join("`, `")
                )
            });
        };
        let v = get(name).unwrap_or(Value::Null);
        let requirement = match *name {
            "at_least" => Requirement::AtLeast(v),
            "at_most" => Requirement::AtMost(v),
            "equals" => Requirement::Equals(v),
            "not_equals" => Requirement::NotEquals(v),
            "one_of" => Requirement::OneOf(list(&v)),
            "contains" => Requirement::Contains(list(&v)),
            "excludes" => Requirement::Excludes(list(&v)),
            "subset_of" => Requirement::SubsetOf(list(&v)),
            "matches" => match &v {
                Value::Regex(r) => Requirement::Matches(r.as_ref().clone()),
                Value::Str(s) => Requirement::Matches(
                    regex::Regex::new(s).map_err(|e| format!("`matches`: not a regex: {e}"))?,
                ),
                other => return Err(format!("`matches` takes a regex, found {other}")),
            },
            "bits_at_most" => Requirement::BitsAtMost(bits(&v).ok_or_else(|| {
                format!("`bits_at_most` takes octal permission bits such as \"640\", found {v}")
            })?),
            "present" | "absent" => {
                if !matches!(v, Value::Bool(true)) {
                    return Err(format!("`{name}` is written `{name} true`"));
                }
                if *name == "present" {
                    Requirement::Present
                } else {
                    Requirement::Absent
                }
            }
            _ => return Err(format!("unknown comparator `{name}`")),
        };
        let order = match get("order") {
            None => None,
            Some(o) => {
                if !matches!(
                    requirement,
                    Requirement::AtLeast(_)
                        | Requirement::AtMost(_)
                        | Requirement::Equals(_)
                        | Requirement::OneOf(_)
                ) {
                    return Err(format!(
                        "`order` ranks values for `at_least`, `at_most`, `equals` or `one_of`, not `{name}`"
                    ));
                }
                let o = list(&o);
                if o.is_empty() {
                    return Err("`order` is empty".into());
                }
                Some(o)
            }
        };
        let c = Comparator { requirement, order };
        // The required value must read in the order, when there is one.
        if let (
            Some(o),
            Requirement::AtLeast(v) | Requirement::AtMost(v) | Requirement::Equals(v),
        ) = (&c.order, &c.requirement)
        {
            if !o.iter().any(|x| equals(x, v)) {
                return Err(format!("{v} is not in its `order`"));
            }
        }
        Ok(c)
    }

    /// The comparator's name as written.
    pub fn name(&self) -> &'static str {
        match self.requirement {
            Requirement::AtLeast(_) => "at_least",
            Requirement::AtMost(_) => "at_most",
            Requirement::Equals(_) => "equals",
            Requirement::NotEquals(_) => "not_equals",
            Requirement::OneOf(_) => "one_of",
            Requirement::Contains(_) => "contains",
            Requirement::Excludes(_) => "excludes",
            Requirement::SubsetOf(_) => "subset_of",
            Requirement::Matches(_) => "matches",
            Requirement::BitsAtMost(_) => "bits_at_most",
            Requirement::Present => "present",
            Requirement::Absent => "absent",
        }
    }

    /// The required value, as it would be shown (`null` for present/absent).
    pub fn required(&self) -> Value {
        match &self.requirement {
            Requirement::AtLeast(v)
            | Requirement::AtMost(v)
            | Requirement::Equals(v)
            | Requirement::NotEquals(v) => v.clone(),
            Requirement::OneOf(l)
            | Requirement::Contains(l)
            | Requirement::Excludes(l)
            | Requirement::SubsetOf(l) => Value::List(std::sync::Arc::new(l.clone())),
            Requirement::Matches(r) => Value::str(r.as_str()),
            Requirement::BitsAtMost(b) => Value::str(&format!("{b:o}")),
            Requirement::Present | Requirement::Absent => Value::Bool(true),
        }
    }

    /// The rank of `v` in the order (0 the weakest).
    fn rank(&self, v: &Value) -> Option<usize> {
        self.order.as_ref()?.iter().position(|x| equals(x, v))
    }

    /// Orders a live value against a required one in the required value's
    /// type; `Err` says why they do not compare.
    fn cmp(&self, live: &Value, required: &Value) -> Result<Ordering, String> {
        if self.order.is_some() {
            let r = self
                .rank(required)
                .ok_or("the required value is not in its order")?;
            let l = self
                .rank(live)
                .ok_or_else(|| format!("{} is not one of the ordered values", shown(live)))?;
            return Ok(l.cmp(&r));
        }
        let live = coerce(live, required)?;
        compare_typed(&live, required)
    }

    /// Judges a live value (`None`: the setting is not set).
    pub fn judge(&self, live: Option<&Value>) -> Judgement {
        use Judgement::*;
        let live = live.filter(|v| !v.is_null());
        match (&self.requirement, live) {
            (Requirement::Absent, None) => Satisfied,
            (Requirement::Absent, Some(v)) => {
                Unsatisfied(format!("is set ({}), and must not be", shown(v)))
            }
            (Requirement::Present, Some(_)) => Satisfied,
            (_, None) => Unsatisfied("is not set".into()),
            (Requirement::AtLeast(r), Some(v)) => match self.cmp(v, r) {
                Ok(Ordering::Less) => Unsatisfied(format!("{} is below {}", shown(v), shown(r))),
                Ok(_) => Satisfied,
                Err(e) => Invalid(e),
            },
            (Requirement::AtMost(r), Some(v)) => match self.cmp(v, r) {
                Ok(Ordering::Greater) => Unsatisfied(format!("{} is above {}", shown(v), shown(r))),
                Ok(_) => Satisfied,
                Err(e) => Invalid(e),
            },
            (Requirement::Equals(r), Some(v)) => {
                let same = match coerce(v, r) {
                    Ok(c) => equals(&c, r),
                    Err(_) => equals(v, r),
                };
                if same {
                    Satisfied
                } else {
                    Unsatisfied(format!("{} is not {}", shown(v), shown(r)))
                }
            }
            (Requirement::NotEquals(r), Some(v)) => {
                if equals(v, r) {
                    Unsatisfied(format!("{} must not be {}", shown(v), shown(r)))
                } else {
                    Satisfied
                }
            }
            (Requirement::OneOf(l), Some(v)) => {
                if l.iter().any(|x| equals(x, v)) {
                    Satisfied
                } else {
                    Unsatisfied(format!("{} is not one of {}", shown(v), shown_list(l)))
                }
            }
            (Requirement::Contains(need), Some(v)) => match v {
                Value::List(have) => {
                    let missing: Vec<Value> = need
                        .iter()
                        .filter(|n| !have.iter().any(|h| equals(h, n)))
                        .cloned()
                        .collect();
                    if missing.is_empty() {
                        Satisfied
                    } else {
                        Unsatisfied(format!("lacks {}", shown_list(&missing)))
                    }
                }
                other => Invalid(format!("{} is not a list", shown(other))),
            },
            (Requirement::Excludes(bad), Some(v)) => match v {
                Value::List(have) => {
                    let found: Vec<Value> = have
                        .iter()
                        .filter(|h| bad.iter().any(|b| equals(b, h)))
                        .cloned()
                        .collect();
                    if found.is_empty() {
                        Satisfied
                    } else {
                        Unsatisfied(format!("holds {}", shown_list(&found)))
                    }
                }
                other => Invalid(format!("{} is not a list", shown(other))),
            },
            (Requirement::SubsetOf(allowed), Some(v)) => match v {
                Value::List(have) => {
                    let extra: Vec<Value> = have
                        .iter()
                        .filter(|h| !allowed.iter().any(|a| equals(a, h)))
                        .cloned()
                        .collect();
                    if extra.is_empty() {
                        Satisfied
                    } else {
                        Unsatisfied(format!("holds {}, not allowed", shown_list(&extra)))
                    }
                }
                other => Invalid(format!("{} is not a list", shown(other))),
            },
            (Requirement::Matches(re), Some(v)) => match v {
                Value::Str(s) if re.is_match(s) => Satisfied,
                Value::Str(s) => Unsatisfied(format!("\"{s}\" does not match /{}/", re.as_str())),
                other => Invalid(format!("{} is not a string", shown(other))),
            },
            (Requirement::BitsAtMost(max), Some(v)) => match bits(v) {
                Some(b) if b & !max == 0 => Satisfied,
                Some(b) => Unsatisfied(format!("{b:o} has bits {:o} beyond {max:o}", b & !max)),
                None => Invalid(format!("{} is not octal permission bits", shown(v))),
            },
        }
    }

    /// The smallest change that meets the requirement from `live`, never
    /// lowering protection: a value already stricter is kept, a value
    /// that cannot be read is left for a person.
    pub fn tighten(&self, live: Option<&Value>) -> Change {
        let live_set = live.filter(|v| !v.is_null());
        match self.judge(live) {
            Judgement::Satisfied => return Change::Keep,
            Judgement::Invalid(why) => {
                return Change::Refuse(format!(
                    "the live value cannot be compared ({why}): fix it by hand"
                ))
            }
            Judgement::Unsatisfied(_) => {}
        }
        match (&self.requirement, live_set) {
            (Requirement::AtLeast(r) | Requirement::AtMost(r), _) => Change::Set(r.clone()),
            (Requirement::Equals(r), Some(v)) => {
                // With an order, a live value above the required one is
                // stricter: changing it to the baseline would lower it.
                if let (Some(l), Some(q)) = (self.rank(v), self.rank(r)) {
                    if l > q {
                        return Change::Refuse(format!(
                            "{} is stricter than {} (by its order): the baseline would lower it",
                            shown(v),
                            shown(r)
                        ));
                    }
                }
                Change::Set(r.clone())
            }
            (Requirement::Equals(r), None) => Change::Set(r.clone()),
            (Requirement::OneOf(l), _) => match &self.order {
                // The weakest allowed value that is still allowed: the
                // least change; with no order, the first listed.
                Some(_) => l
                    .iter()
                    .min_by_key(|x| self.rank(x).unwrap_or(usize::MAX))
                    .map_or(Change::Refuse("`one_of` is empty".into()), |x| {
                        Change::Set(x.clone())
                    }),
                None => l
                    .first()
                    .map_or(Change::Refuse("`one_of` is empty".into()), |x| {
                        Change::Set(x.clone())
                    }),
            },
            (Requirement::Contains(need), v) => {
                let mut have = v.map(list).unwrap_or_default();
                for n in need {
                    if !have.iter().any(|h| equals(h, n)) {
                        have.push(n.clone());
                    }
                }
                Change::Set(Value::List(std::sync::Arc::new(have)))
            }
            (Requirement::Excludes(bad), Some(v)) => Change::Set(Value::List(std::sync::Arc::new(
                list(v)
                    .into_iter()
                    .filter(|h| !bad.iter().any(|b| equals(b, h)))
                    .collect(),
            ))),
            (Requirement::SubsetOf(allowed), Some(v)) => {
                Change::Set(Value::List(std::sync::Arc::new(
                    list(v)
                        .into_iter()
                        .filter(|h| allowed.iter().any(|a| equals(a, h)))
                        .collect(),
                )))
            }
            (Requirement::BitsAtMost(max), Some(v)) => match bits(v) {
                Some(b) => Change::Set(Value::str(&format!("{:o}", b & max))),
                None => Change::Refuse("not octal permission bits".into()),
            },
            (Requirement::BitsAtMost(max), None) => Change::Set(Value::str(&format!("{max:o}"))),
            (Requirement::Absent, _) => Change::Remove,
            (Requirement::NotEquals(r), _) => Change::Refuse(format!(
                "it must not be {}, and the baseline says nothing of what it should be",
                shown(r)
            )),
            (Requirement::Matches(re), _) => Change::Refuse(format!(
                "no value can be made up to match /{}/",
                re.as_str()
            )),
            (Requirement::Present, _) => {
                Change::Refuse("it must be set, and the baseline says nothing of what to".into())
            }
            (Requirement::Excludes(_) | Requirement::SubsetOf(_), None) => Change::Keep,
        }
    }

    /// Whether `self` (a child baseline's) is at least as strict as
    /// `parent` (the baseline it extends): `Err` says how it loosens.
    pub fn tightens(&self, parent: &Comparator) -> Result<(), String> {
        use Requirement::*;
        let loosen = |what: String| Err(what);
        match (&self.requirement, &parent.requirement) {
            (AtLeast(c), AtLeast(p)) => match self.cmp_required(c, p, parent)? {
                Ordering::Less => loosen(format!("`at_least {}` is below the `at_least {}` it extends", shown(c), shown(p))),
                _ => Ok(()),
            },
            (AtMost(c), AtMost(p)) => match self.cmp_required(c, p, parent)? {
                Ordering::Greater => loosen(format!("`at_most {}` is above the `at_most {}` it extends", shown(c), shown(p))),
                _ => Ok(()),
            },
            (Equals(c), Equals(p)) | (NotEquals(c), NotEquals(p)) => {
                if equals(c, p) {
                    Ok(())
                } else if let (Equals(_), Ok(Ordering::Greater)) = (&self.requirement, self.cmp_required(c, p, parent)) {
                    Ok(())
                } else {
                    loosen(format!("`{} {}` is not the `{} {}` it extends", self.name(), shown(c), parent.name(), shown(p)))
                }
            }
            (OneOf(c), OneOf(p)) | (SubsetOf(c), SubsetOf(p)) => {
                let extra: Vec<Value> = c.iter().filter(|x| !p.iter().any(|y| equals(x, y))).cloned().collect();
                if extra.is_empty() {
                    Ok(())
                } else {
                    loosen(format!("allows {}, which the `{}` it extends does not", shown_list(&extra), parent.name()))
                }
            }
            (Contains(c), Contains(p)) | (Excludes(c), Excludes(p)) => {
                let dropped: Vec<Value> = p.iter().filter(|x| !c.iter().any(|y| equals(x, y))).cloned().collect();
                if dropped.is_empty() {
                    Ok(())
                } else {
                    loosen(format!("drops {} from the `{}` it extends", shown_list(&dropped), parent.name()))
                }
            }
            (BitsAtMost(c), BitsAtMost(p)) => {
                if c & !p == 0 {
                    Ok(())
                } else {
                    loosen(format!("`bits_at_most \"{c:o}\"` allows bits {:o} the `bits_at_most \"{p:o}\"` it extends does not", c & !p))
                }
            }
            (Matches(c), Matches(p)) if c.as_str() == p.as_str() => Ok(()),
            (Present, Present) | (Absent, Absent) => Ok(()),
            // `equals` one of the allowed values tightens `one_of`.
            (Equals(c), OneOf(p)) if p.iter().any(|x| equals(x, c)) => Ok(()),
            _ => loosen(format!(
                "`{}` replaces the `{}` it extends: a baseline may only tighten a requirement with the same comparator",
                self.name(),
                parent.name()
            )),
        }
    }

    /// Orders two required values, by the child's order, else the
    /// parent's, else their type.
    fn cmp_required(&self, c: &Value, p: &Value, parent: &Comparator) -> Result<Ordering, String> {
        let order = self.order.as_ref().or(parent.order.as_ref());
        if let Some(o) = order {
            let rank = |v: &Value| o.iter().position(|x| equals(x, v));
            return match (rank(c), rank(p)) {
                (Some(a), Some(b)) => Ok(a.cmp(&b)),
                _ => Err(format!("{} or {} is not in the order", shown(c), shown(p))),
            };
        }
        compare_typed(c, p)
    }
}

/// A live value read as the required value's type: a string such as
/// `"30m"` for a duration, `"10GiB"` for a size.
fn coerce(live: &Value, required: &Value) -> Result<Value, String> {
    match (required, live) {
        (Value::Duration(_), Value::Str(s)) => crate::syntax::parse_duration(s)
            .map(Value::Duration)
            .ok_or_else(|| format!("\"{s}\" is not a duration such as 30m")),
        (Value::Duration(_), Value::Duration(_)) => Ok(live.clone()),
        (Value::Duration(_), other) => Err(format!(
            "{} is not a duration: write it with its unit, such as \"30m\"",
            shown(other)
        )),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => Ok(live.clone()),
        (Value::Int(_) | Value::Float(_), Value::Str(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float)
            .ok_or_else(|| format!("\"{s}\" is not a number")),
        (Value::Str(_), Value::Str(_)) => Ok(live.clone()),
        (Value::Bool(_), Value::Bool(_)) => Ok(live.clone()),
        (Value::Bool(_), Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("\"{s}\" is not true or false")),
        },
        (Value::Size(_), Value::Size(_)) | (Value::Percent(_), Value::Percent(_)) => {
            Ok(live.clone())
        }
        (Value::Semver(_), Value::Str(s)) => semver::Version::parse(s.trim())
            .map(|v| Value::Semver(std::sync::Arc::new(v)))
            .map_err(|_| format!("\"{s}\" is not a version such as 1.2.3")),
        (Value::Semver(_), Value::Semver(_)) => Ok(live.clone()),
        (r, l) => Err(format!("{} does not compare with {}", shown(l), shown(r))),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn compare_typed(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Duration(x), Value::Duration(y)) => Ok(x.cmp(y)),
        (Value::Size(x), Value::Size(y)) => Ok(x.cmp(y)),
        (Value::Percent(x), Value::Percent(y)) => {
            x.partial_cmp(y).ok_or_else(|| "not comparable".into())
        }
        (Value::Semver(x), Value::Semver(y)) => Ok(x.cmp(y)),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or_else(|| "not comparable".into()),
            _ => Err(format!(
                "{} and {} do not order: give the setting an `order`",
                shown(a),
                shown(b)
            )),
        },
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn shown_list(l: &[Value]) -> String {
    l.iter().map(shown).collect::<Vec<_>>().join(", ")
}
