//! Feature flags: OpenFeature flagd definitions and a plain YAML equivalent.
//!
//! **flagd** (JSON or YAML): `flags` is a map of key → flag or a list of
//! flags with `key`; each flag has `state` (`ENABLED` | `DISABLED`),
//! `variants`, `defaultVariant`, `targeting` (JSONLogic, with `fractional`
//! buckets such as `{"fractional": [{"var": "email"}, ["on", 25], ["off",
//! 75]]}`) and `metadata`. Shared rules under `$evaluators` are referenced
//! as `{"$ref": "name"}`; references are resolved before comparing (a
//! reference cycle is left unresolved), so an edited evaluator shows on
//! every flag that uses it.
//!
//! **Plain YAML** — exactly this shape, per flag:
//!
//! ```yaml
//! flags:
//!   new-checkout:
//!     enabled: true                # → state ENABLED / DISABLED
//!     variants: {on: true, off: false}
//!     default: off                 # → defaultVariant
//!     rollout: {on: 25, off: 75}   # variant → percent (number or "25%")
//!     description: New checkout    # → metadata
//!     metadata: {owner: payments}
//! ```
//!
//! `rollout` becomes a root `fractional` targeting; percentages summing to
//! less than 100 give the rest to the `default` variant. `rollout` together
//! with `targeting` is an error. A missing `state`/`enabled` means enabled.
//! The two spellings may be mixed: both read into one [`Flag`].
//!
//! Facts (paths `flags.<key>...`): `flag.removed`, `flag.added`,
//! `flag.state_changed`, `flag.default_changed`, `flag.variant_removed` /
//! `_added` / `_value_changed` / `_type_changed`, `flag.rollout_changed`
//! (`change`: weights_changed, fractional_added, fractional_removed,
//! buckets_reordered — bucket order decides who gets what — or
//! bucketing_changed), `flag.targeting_changed` (anything else in the
//! targeting) and `metadata.changed`; unknown keys as configuration facts.
//!
//! Shares are reported normalised (weights → percent of their sum, two
//! decimals). A flag with no targeting serves its default variant to 100%,
//! which is the share reported when a rollout is added or removed.

use serde_json::{Map, Value as Json};

use super::change::{Change, Changes};
use super::config::{diff_tree, join};
use super::tree::{self, Data, Node, ParseError};
use super::{ArtifactError, Options};

/// A parsed flag file.
#[derive(Debug, Clone)]
pub struct FlagSet {
    pub flags: Vec<Flag>,
    /// Flag-set `metadata`, by key.
    pub metadata: Vec<(String, Node)>,
    /// Other top-level keys (not `flags`, `$evaluators`, `$schema`, `metadata`).
    pub extra: Vec<(String, Node)>,
}

/// One flag, normalised.
#[derive(Debug, Clone)]
pub struct Flag {
    pub key: String,
    pub line: u32,
    /// `ENABLED` / `DISABLED` and its line.
    pub state: (String, u32),
    pub variants: Vec<(String, Node)>,
    pub default: Option<Node>,
    /// Targeting with `$ref`s resolved; `None` when absent or empty.
    pub targeting: Option<Node>,
    /// Evaluator names the targeting referenced.
    pub evaluators: Vec<String>,
    /// Whether the rollout was written as plain `rollout`.
    pub plain_rollout: bool,
    pub metadata: Vec<(String, Node)>,
    pub extra: Vec<(String, Node)>,
}

impl Flag {
    fn variant(&self, name: &str) -> Option<&Node> {
        self.variants
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn default_name(&self) -> Option<&str> {
        self.default.as_ref().and_then(Node::as_str)
    }

    /// Whether the default or the targeting names `variant`.
    fn references(&self, variant: &str) -> bool {
        self.default_name() == Some(variant)
            || self
                .targeting
                .as_ref()
                .is_some_and(|t| mentions(t, variant))
    }
}

fn err(line: u32, message: impl Into<String>) -> ParseError {
    ParseError {
        line: line.max(1),
        col: 1,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// Parsing

/// Parses a flagd or plain YAML flag file.
pub fn parse(text: &str) -> Result<FlagSet, ParseError> {
    let root = tree::parse(text)?;
    if !root.is_map() {
        return Err(err(
            root.line,
            "a flag file must be a mapping with a `flags` key",
        ));
    }
    let Some(flags) = root.get("flags") else {
        return Err(err(1, "a flag file needs a top-level `flags` map or list"));
    };
    let evaluators = root.get("$evaluators");
    let mut out: Vec<Flag> = Vec::new();
    let mut push = |key: String, n: &Node| -> Result<(), ParseError> {
        if out.iter().any(|f| f.key == key) {
            return Err(err(n.line, format!("duplicate flag `{key}`")));
        }
        out.push(read_flag(key, n, evaluators)?);
        Ok(())
    };
    match &flags.data {
        Data::Map(m) => {
            for (k, n) in m {
                push(k.clone(), n)?;
            }
        }
        Data::Seq(items) => {
            for n in items {
                let key = match n.get("key").map(|k| &k.data) {
                    Some(Data::String(s)) => s.clone(),
                    Some(Data::Number(x)) => x.to_string(),
                    _ => return Err(err(n.line, "a flag in a `flags` list needs a `key`")),
                };
                push(key, n)?;
            }
        }
        Data::Null => {}
        _ => {
            return Err(err(
                flags.line,
                "`flags` must be a map of key → flag or a list of flags",
            ))
        }
    }
    let metadata = root
        .get("metadata")
        .map(|m| m.entries().to_vec())
        .unwrap_or_default();
    let extra = root
        .entries()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "flags" | "$evaluators" | "$schema" | "metadata"))
        .cloned()
        .collect();
    Ok(FlagSet {
        flags: out,
        metadata,
        extra,
    })
}

fn read_flag(key: String, n: &Node, evaluators: Option<&Node>) -> Result<Flag, ParseError> {
    if !n.is_map() {
        return Err(err(n.line, format!("flag `{key}` must be a mapping")));
    }
    let state = match (n.get("state"), n.get("enabled")) {
        (Some(s), _) => (
            s.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s.brief().to_string()),
            s.line,
        ),
        (None, Some(e)) => match e.as_bool() {
            Some(true) => ("ENABLED".to_string(), e.line),
            Some(false) => ("DISABLED".to_string(), e.line),
            None => {
                return Err(err(
                    e.line,
                    format!("`enabled` of flag `{key}` must be true or false"),
                ))
            }
        },
        (None, None) => ("ENABLED".to_string(), n.line),
    };
    let variants = match n.get("variants") {
        None => vec![],
        Some(v) if v.is_map() => v.entries().to_vec(),
        Some(v) if matches!(v.data, Data::Null) => vec![],
        Some(v) => {
            return Err(err(
                v.line,
                format!("`variants` of flag `{key}` must be a mapping"),
            ))
        }
    };
    let default = n
        .get("defaultVariant")
        .or_else(|| n.get("default"))
        .filter(|d| !matches!(d.data, Data::Null))
        .cloned();
    let mut refs = Vec::new();
    let targeting = n.get("targeting").filter(|t| !absent(t));
    let rollout = n.get("rollout").filter(|r| !absent(r));
    let targeting = match (targeting, rollout) {
        (Some(_), Some(r)) => {
            return Err(err(r.line, format!("flag `{key}` has both `rollout` and `targeting`; write the rollout as a `fractional` rule")))
        }
        (Some(t), None) => Some(resolve(t, evaluators, &mut Vec::new(), &mut refs, 0)),
        (None, Some(r)) => Some(rollout_targeting(&key, r, default.as_ref().and_then(Node::as_str))?),
        (None, None) => None,
    };
    let mut metadata = Vec::new();
    if let Some(d) = n.get("description") {
        metadata.push(("description".to_string(), d.clone()));
    }
    match n.get("metadata") {
        Some(m) if m.is_map() => metadata.extend(
            m.entries()
                .iter()
                .map(|(k, v)| (format!("metadata.{k}"), v.clone())),
        ),
        Some(m) => metadata.push(("metadata".to_string(), m.clone())),
        None => {}
    }
    let known = [
        "key",
        "state",
        "enabled",
        "variants",
        "defaultVariant",
        "default",
        "targeting",
        "rollout",
        "metadata",
        "description",
    ];
    let extra = n
        .entries()
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(Flag {
        key,
        line: n.line,
        state,
        variants,
        default,
        targeting,
        evaluators: refs,
        plain_rollout: rollout.is_some(),
        metadata,
        extra,
    })
}

/// Null or `{}`: no targeting.
fn absent(n: &Node) -> bool {
    match &n.data {
        Data::Null => true,
        Data::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// A plain `rollout` map as a root `fractional` rule.
fn rollout_targeting(key: &str, r: &Node, default: Option<&str>) -> Result<Node, ParseError> {
    if !r.is_map() {
        return Err(err(
            r.line,
            format!("`rollout` of flag `{key}` must map variants to percentages"),
        ));
    }
    let mut buckets: Vec<(String, f64, u32)> = Vec::new();
    for (v, p) in r.entries() {
        let pct = match &p.data {
            Data::Number(x) => x.as_f64(),
            Data::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
            _ => None,
        };
        match pct {
            Some(x) if x >= 0.0 => buckets.push((v.clone(), x, p.line)),
            _ => {
                return Err(err(
                    p.line,
                    format!("rollout of `{v}` in flag `{key}` must be a percentage"),
                ))
            }
        }
    }
    let total: f64 = buckets.iter().map(|b| b.1).sum();
    if let Some(d) = default.filter(|_| total < 100.0) {
        match buckets.iter_mut().find(|b| b.0 == d) {
            Some(b) => b.1 += 100.0 - total,
            None => buckets.push((d.to_string(), 100.0 - total, r.line)),
        }
    }
    let items = buckets
        .into_iter()
        .map(|(v, w, line)| {
            let w = serde_json::Number::from_f64(w)
                .map(Data::Number)
                .unwrap_or(Data::Null);
            Node::new(
                line,
                Data::Seq(vec![Node::new(line, Data::String(v)), Node::new(line, w)]),
            )
        })
        .collect();
    Ok(Node::new(
        r.line,
        Data::Map(vec![(
            "fractional".into(),
            Node::new(r.line, Data::Seq(items)),
        )]),
    ))
}

/// Replaces `{"$ref": name}` by the named evaluator; cycles stay unresolved.
fn resolve(
    n: &Node,
    evaluators: Option<&Node>,
    stack: &mut Vec<String>,
    refs: &mut Vec<String>,
    depth: usize,
) -> Node {
    if depth > 64 {
        return n.clone();
    }
    match &n.data {
        Data::Map(m) if m.len() == 1 && m[0].0 == "$ref" => {
            let Some(name) = m[0].1.as_str() else {
                return n.clone();
            };
            if !refs.iter().any(|r| r == name) {
                refs.push(name.to_string());
            }
            match evaluators.and_then(|e| e.get(name)) {
                Some(target) if !stack.iter().any(|s| s == name) => {
                    stack.push(name.to_string());
                    let mut r = resolve(target, evaluators, stack, refs, depth + 1);
                    stack.pop();
                    r.line = n.line;
                    r
                }
                _ => n.clone(),
            }
        }
        Data::Map(m) => Node::new(
            n.line,
            Data::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), resolve(v, evaluators, stack, refs, depth + 1)))
                    .collect(),
            ),
        ),
        Data::Seq(s) => Node::new(
            n.line,
            Data::Seq(
                s.iter()
                    .map(|v| resolve(v, evaluators, stack, refs, depth + 1))
                    .collect(),
            ),
        ),
        _ => n.clone(),
    }
}

/// Whether a targeting rule can return `variant` (any string literal equal to it, outside `var`).
fn mentions(n: &Node, variant: &str) -> bool {
    match &n.data {
        Data::String(s) => s == variant,
        Data::Seq(s) => s.iter().any(|x| mentions(x, variant)),
        Data::Map(m) => m.iter().any(|(k, v)| k != "var" && mentions(v, variant)),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Rollouts

fn is_fractional(n: &Node) -> bool {
    matches!(&n.data, Data::Map(m) if m.len() == 1 && m[0].0 == "fractional")
}

/// The normalised buckets (variant, percent) of a `fractional` rule, in
/// bucket order, and its bucketing expression.
fn buckets(frac: &Node) -> (Vec<(String, f64)>, Option<Node>) {
    let items = frac.get("fractional").map(Node::items).unwrap_or(&[]);
    let mut by = None;
    let mut raw: Vec<(String, f64)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        match &it.data {
            Data::Seq(b) => {
                let name = b.first().map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.brief().to_string())
                });
                let w = b.get(1).and_then(Node::as_f64).unwrap_or(1.0);
                if let Some(name) = name {
                    match raw.iter_mut().find(|(n, _)| *n == name) {
                        Some(e) => e.1 += w,
                        None => raw.push((name, w)),
                    }
                }
            }
            _ if i == 0 => by = Some(it.clone()),
            _ => {}
        }
    }
    let total: f64 = raw.iter().map(|(_, w)| w.max(0.0)).sum();
    let shares = raw
        .into_iter()
        .map(|(n, w)| {
            (
                n,
                if total > 0.0 {
                    (w.max(0.0) / total * 10_000.0).round() / 100.0
                } else {
                    0.0
                },
            )
        })
        .collect();
    (shares, by)
}

/// Where a rollout sits in the targeting, and what each side has there.
struct Site {
    path: String,
    a: Option<Node>,
    b: Option<Node>,
}

fn child_path(path: &str, key: &str) -> String {
    join(path, key)
}

/// Compares two targeting trees with every `fractional` rule masked out:
/// rollouts become sites, any other difference sets `differs`.
fn walk(a: Option<&Node>, b: Option<&Node>, path: &str, sites: &mut Vec<Site>, differs: &mut bool) {
    let (fa, fb) = (a.is_some_and(is_fractional), b.is_some_and(is_fractional));
    if fa || fb {
        if !(fa && fb) {
            // A rollout in place of a fixed variant (or of nothing) is only a rollout change.
            let other = if fa { b } else { a };
            if other.is_some_and(|o| !absent(o) && o.as_str().is_none()) {
                *differs = true;
            }
        }
        sites.push(Site {
            path: path.to_string(),
            a: a.cloned(),
            b: b.cloned(),
        });
        return;
    }
    let a = a.filter(|n| !absent(n));
    let b = b.filter(|n| !absent(n));
    match (a, b) {
        (None, None) => {}
        (Some(x), Some(y)) => match (&x.data, &y.data) {
            (Data::Map(mx), Data::Map(my))
                if mx.len() == my.len() && mx.iter().all(|(k, _)| y.get(k).is_some()) =>
            {
                for (k, vx) in mx {
                    walk(Some(vx), y.get(k), &child_path(path, k), sites, differs);
                }
            }
            (Data::Seq(sx), Data::Seq(sy)) if sx.len() == sy.len() => {
                for (i, (vx, vy)) in sx.iter().zip(sy).enumerate() {
                    walk(Some(vx), Some(vy), &format!("{path}[{i}]"), sites, differs);
                }
            }
            (Data::Map(_), _) | (Data::Seq(_), _) | (_, Data::Map(_)) | (_, Data::Seq(_)) => {
                restructured(Some(x), Some(y), path, sites, differs)
            }
            _ => {
                if x != y {
                    *differs = true;
                }
            }
        },
        _ => restructured(a, b, path, sites, differs),
    }
}

/// A subtree that changed shape: its rollouts are paired in order.
fn restructured(
    a: Option<&Node>,
    b: Option<&Node>,
    path: &str,
    sites: &mut Vec<Site>,
    differs: &mut bool,
) {
    *differs = true;
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    if let Some(a) = a {
        fractionals(a, path, &mut fa);
    }
    if let Some(b) = b {
        fractionals(b, path, &mut fb);
    }
    for i in 0..fa.len().max(fb.len()) {
        let (pa, na) = fa.get(i).cloned().unzip();
        let (pb, nb) = fb.get(i).cloned().unzip();
        let p = pa.or(pb).unwrap_or_else(|| path.to_string());
        sites.push(Site {
            path: p,
            a: na,
            b: nb,
        });
    }
}

fn fractionals(n: &Node, path: &str, out: &mut Vec<(String, Node)>) {
    if is_fractional(n) {
        out.push((path.to_string(), n.clone()));
        return;
    }
    match &n.data {
        Data::Map(m) => m
            .iter()
            .for_each(|(k, v)| fractionals(v, &child_path(path, k), out)),
        Data::Seq(s) => s
            .iter()
            .enumerate()
            .for_each(|(i, v)| fractionals(v, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

/// The shares a site serves on one side: a rollout's buckets, a fixed
/// variant's 100%, or (at the root, with no targeting) the default's 100%.
fn site_shares(n: Option<&Node>, root: bool, flag: &Flag) -> Option<Vec<(String, f64)>> {
    match n {
        Some(x) if is_fractional(x) => Some(buckets(x).0),
        Some(x) if x.as_str().is_some() => x.as_str().map(|s| vec![(s.to_string(), 100.0)]),
        Some(x) if !absent(x) => None,
        _ if root => flag.default_name().map(|d| vec![(d.to_string(), 100.0)]),
        _ => None,
    }
}

fn shares_json(s: &Option<Vec<(String, f64)>>) -> Json {
    match s {
        None => Json::Null,
        Some(v) => {
            let mut m = Map::new();
            for (k, p) in v {
                let n = if p.fract() == 0.0 && p.abs() < 1e15 {
                    Json::from(*p as i64)
                } else {
                    serde_json::Number::from_f64(*p)
                        .map(Json::Number)
                        .unwrap_or(Json::Null)
                };
                m.insert(k.clone(), n);
            }
            Json::Object(m)
        }
    }
}

/// Buckets without empty shares, for comparing.
fn served(s: &Option<Vec<(String, f64)>>) -> Option<Vec<(String, f64)>> {
    s.as_ref()
        .map(|v| v.iter().filter(|(_, p)| *p > 0.0).cloned().collect())
}

// ---------------------------------------------------------------------------
// Diff

/// Diffs two versions of a flag file.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let sa = parse(a).map_err(ArtifactError::base)?;
    let sb = parse(b).map_err(ArtifactError::head)?;
    for f in &sa.flags {
        let path = join("flags", &f.key);
        match sb.flags.iter().find(|g| g.key == f.key) {
            Some(g) => diff_flag(&path, f, g, out),
            None => out.push(
                Change::new("flag.removed", path)
                    .lines(f.line, 0)
                    .fact("name", f.key.as_str())
                    .fact("state", f.state.0.as_str())
                    .fact(
                        "default_variant",
                        f.default.as_ref().map(Node::to_json).unwrap_or(Json::Null),
                    )
                    .fact(
                        "variants",
                        f.variants
                            .iter()
                            .map(|(k, _)| k.clone())
                            .collect::<Vec<_>>(),
                    ),
            ),
        }
    }
    for g in &sb.flags {
        if !sa.flags.iter().any(|f| f.key == g.key) {
            out.push(
                Change::new("flag.added", join("flags", &g.key))
                    .lines(0, g.line)
                    .fact("name", g.key.as_str())
                    .fact("state", g.state.0.as_str())
                    .fact(
                        "default_variant",
                        g.default.as_ref().map(Node::to_json).unwrap_or(Json::Null),
                    )
                    .fact(
                        "variants",
                        g.variants
                            .iter()
                            .map(|(k, _)| k.clone())
                            .collect::<Vec<_>>(),
                    )
                    .fact("targeting", g.targeting.is_some()),
            );
        }
    }
    diff_named("metadata", &sa.metadata, &sb.metadata, out);
    diff_extra("", &sa.extra, &sb.extra, out);
    Ok(())
}

/// The variant type as flagd sees it (integers are numbers).
fn flag_type(n: &Node) -> &'static str {
    match n.type_name() {
        "integer" => "number",
        t => t,
    }
}

fn brief(n: Option<&Node>) -> Json {
    n.map(Node::brief).unwrap_or(Json::Null)
}

fn line_of(n: Option<&Node>) -> u32 {
    n.map(|n| n.line).unwrap_or(0)
}

fn diff_flag(path: &str, f: &Flag, g: &Flag, out: &mut Changes) {
    if f.state.0 != g.state.0 {
        out.push(
            Change::new("flag.state_changed", join(path, "state"))
                .lines(f.state.1, g.state.1)
                .from_to(f.state.0.as_str(), g.state.0.as_str())
                .fact("name", f.key.as_str()),
        );
    }
    if f.default != g.default {
        let value = |fl: &Flag| {
            fl.default_name()
                .and_then(|d| fl.variant(d))
                .map(Node::to_json)
                .unwrap_or(Json::Null)
        };
        out.push(
            Change::new("flag.default_changed", join(path, "defaultVariant"))
                .lines(line_of(f.default.as_ref()), line_of(g.default.as_ref()))
                .from_to(brief(f.default.as_ref()), brief(g.default.as_ref()))
                .fact("name", f.key.as_str())
                .fact("from_value", value(f))
                .fact("to_value", value(g)),
        );
    }
    let vpath = join(path, "variants");
    for (name, v) in &f.variants {
        let p = join(&vpath, name);
        match g.variant(name) {
            None => {
                let (in_base, in_head) = (f.references(name), g.references(name));
                out.push(
                    Change::new("flag.variant_removed", p)
                        .lines(v.line, 0)
                        .from_to(v.brief(), Json::Null)
                        .fact("name", name.as_str())
                        .fact("referenced", in_base || in_head)
                        .fact("referenced_in_base", in_base)
                        .fact("referenced_in_head", in_head),
                );
            }
            Some(w) if flag_type(v) != flag_type(w) => out.push(
                Change::new("flag.variant_type_changed", p)
                    .lines(v.line, w.line)
                    .from_to(flag_type(v), flag_type(w))
                    .fact("name", name.as_str())
                    .fact("before", v.brief())
                    .fact("after", w.brief())
                    .fact("referenced", g.references(name)),
            ),
            Some(w) if v != w => out.push(
                Change::new("flag.variant_value_changed", p)
                    .lines(v.line, w.line)
                    .from_to(v.brief(), w.brief())
                    .fact("name", name.as_str())
                    .fact("referenced", g.references(name)),
            ),
            Some(_) => {}
        }
    }
    for (name, w) in &g.variants {
        if f.variant(name).is_none() {
            out.push(
                Change::new("flag.variant_added", join(&vpath, name))
                    .lines(0, w.line)
                    .from_to(Json::Null, w.brief())
                    .fact("name", name.as_str())
                    .fact("value", w.to_json())
                    .fact("referenced", g.references(name)),
            );
        }
    }
    diff_targeting(path, f, g, out);
    diff_named(path, &f.metadata, &g.metadata, out);
    diff_extra(path, &f.extra, &g.extra, out);
}

fn diff_targeting(path: &str, f: &Flag, g: &Flag, out: &mut Changes) {
    let (ta, tb) = (f.targeting.as_ref(), g.targeting.as_ref());
    let mut sites = Vec::new();
    let mut differs = false;
    walk(ta, tb, "", &mut sites, &mut differs);
    let (la, lb) = (line_of(ta), line_of(tb));
    if differs {
        let mut refs: Vec<String> = f.evaluators.clone();
        refs.extend(
            g.evaluators
                .iter()
                .filter(|r| !f.evaluators.contains(r))
                .cloned(),
        );
        let mut c = Change::new("flag.targeting_changed", join(path, "targeting"))
            .lines(la, lb)
            .from_to(brief(ta), brief(tb))
            .fact("name", f.key.as_str());
        if !refs.is_empty() {
            c = c.fact("evaluators", refs);
        }
        out.push(c);
    }
    for s in sites {
        let root = s.path.is_empty();
        let (sa, sb) = (
            site_shares(s.a.as_ref(), root, f),
            site_shares(s.b.as_ref(), root, g),
        );
        let by = |n: &Option<Node>| {
            n.as_ref()
                .filter(|n| is_fractional(n))
                .and_then(|n| buckets(n).1)
        };
        let (ba, bb) = (by(&s.a), by(&s.b));
        let (fa, fb) = (
            s.a.as_ref().is_some_and(is_fractional),
            s.b.as_ref().is_some_and(is_fractional),
        );
        let (va, vb) = (served(&sa), served(&sb));
        let same_set = |x: &Option<Vec<(String, f64)>>, y: &Option<Vec<(String, f64)>>| match (x, y)
        {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().all(|e| y.contains(e)),
            _ => x.is_none() && y.is_none(),
        };
        let change = if fa && !fb {
            "fractional_removed"
        } else if fb && !fa {
            "fractional_added"
        } else if !same_set(&va, &vb) {
            "weights_changed"
        } else if va != vb {
            "buckets_reordered"
        } else if fa && fb && ba != bb {
            "bucketing_changed"
        } else {
            continue;
        };
        let at = if root {
            join(
                path,
                if f.plain_rollout || g.plain_rollout {
                    "rollout"
                } else {
                    "targeting"
                },
            )
        } else {
            format!("{}.{}", join(path, "targeting"), s.path)
        };
        let mut c = Change::new("flag.rollout_changed", at)
            .lines(
                line_of(s.a.as_ref()).max(if root { la } else { 0 }),
                line_of(s.b.as_ref()).max(if root { lb } else { 0 }),
            )
            .from_to(shares_json(&sa), shares_json(&sb))
            .fact("name", f.key.as_str())
            .fact("change", change);
        if ba != bb {
            c = c
                .fact("bucketing_from", brief(ba.as_ref()))
                .fact("bucketing_to", brief(bb.as_ref()));
        }
        out.push(c);
    }
}

fn diff_named(base: &str, a: &[(String, Node)], b: &[(String, Node)], out: &mut Changes) {
    let get =
        |xs: &[(String, Node)], k: &str| xs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    for (k, va) in a {
        let vb = get(b, k);
        if vb.as_ref() != Some(va) {
            out.push(
                Change::new("metadata.changed", format!("{base}.{k}"))
                    .lines(va.line, line_of(vb.as_ref()))
                    .from_to(va.brief(), brief(vb.as_ref()))
                    .fact("name", k.as_str()),
            );
        }
    }
    for (k, vb) in b {
        if get(a, k).is_none() {
            out.push(
                Change::new("metadata.changed", format!("{base}.{k}"))
                    .lines(0, vb.line)
                    .from_to(Json::Null, vb.brief())
                    .fact("name", k.as_str()),
            );
        }
    }
}

/// Unmodelled keys, compared as configuration (key order is not a change).
fn diff_extra(base: &str, a: &[(String, Node)], b: &[(String, Node)], out: &mut Changes) {
    if a.is_empty() && b.is_empty() {
        return;
    }
    let mut tmp = Changes::default();
    diff_tree(
        base,
        &Node::new(0, Data::Map(a.to_vec())),
        &Node::new(0, Data::Map(b.to_vec())),
        &mut tmp,
    );
    out.0.extend(tmp.0.into_iter().filter(|c| {
        !(c.kind == "order.changed" && c.facts.get("significant") == Some(&Json::Bool(false)))
    }));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_util::{fact, kinds, one};
    use serde_json::json;

    fn run(a: &str, b: &str) -> Vec<Change> {
        let mut out = Changes::default();
        diff(a, b, &Options::default(), &mut out).unwrap();
        out.0
    }

    const FLAGD: &str = r##"{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "new-checkout": {
      "state": "ENABLED",
      "variants": {"on": true, "off": false},
      "defaultVariant": "off",
      "targeting": {
        "if": [
          {"$ref": "beta-users"},
          "on",
          {"fractional": [{"var": "email"}, ["on", 25], ["off", 75]]}
        ]
      },
      "metadata": {"owner": "payments"}
    },
    "banner-color": {
      "state": "ENABLED",
      "variants": {"red": "#f00", "blue": "#00f", "green": "#0f0"},
      "defaultVariant": "red"
    },
    "max-items": {
      "state": "DISABLED",
      "variants": {"small": 10, "large": 50},
      "defaultVariant": "small"
    }
  },
  "$evaluators": {
    "beta-users": {"in": ["@beta.example.com", {"var": "email"}]}
  }
}
"##;

    fn edit(from: &str, to: &str) -> String {
        assert!(FLAGD.contains(from), "{from}");
        FLAGD.replacen(from, to, 1)
    }

    #[test]
    fn reformatting_reordering_and_scaled_weights_yield_nothing() {
        let yaml = r##"# same flags, as YAML
$evaluators:
  beta-users:
    in: ["@beta.example.com", {var: email}]
flags:
  - key: max-items
    defaultVariant: small
    variants: {large: 50, small: 10}
    state: DISABLED
  - key: banner-color
    variants: {green: "#0f0", blue: "#00f", red: "#f00"}
    defaultVariant: red
    state: ENABLED
  - key: new-checkout
    metadata: {owner: payments}
    targeting:
      if:
        - {"$ref": beta-users}
        - "on"
        - fractional: [{var: email}, ["on", 1], ["off", 3]]
    defaultVariant: "off"
    variants: {"off": false, "on": true}
    state: ENABLED
"##;
        assert_eq!(run(FLAGD, yaml), vec![], "{:#?}", run(FLAGD, yaml));
        let all = super::super::detect(
            super::super::ArtifactType::Flags,
            Some(FLAGD),
            Some(yaml),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(kinds(&all), ["comment.changed"]);
    }

    #[test]
    fn fractional_weights_change_is_a_rollout_change() {
        let cs = run(
            FLAGD,
            &edit(r#"["on", 25], ["off", 75]"#, r#"["on", 50], ["off", 50]"#),
        );
        assert_eq!(kinds(&cs), ["flag.rollout_changed"]);
        let c = &cs[0];
        assert_eq!(c.path, "flags.new-checkout.targeting.if[2]");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!({"on": 25, "off": 75}), json!({"on": 50, "off": 50}))
        );
        assert_eq!(
            (fact(c, "change"), c.line_after),
            (&json!("weights_changed"), Some(12))
        );
        // Three buckets with uneven weights are normalised.
        let cs = run(
            FLAGD,
            &edit(
                r#"["on", 25], ["off", 75]"#,
                r#"["on", 1], ["off", 1], ["on", 1]"#,
            ),
        );
        assert_eq!(cs[0].to, json!({"on": 66.67, "off": 33.33}));
    }

    #[test]
    fn bucket_order_and_bucketing_key_are_rollout_changes() {
        let cs = run(
            FLAGD,
            &edit(r#"["on", 25], ["off", 75]"#, r#"["off", 75], ["on", 25]"#),
        );
        assert_eq!(
            (kinds(&cs), fact(&cs[0], "change")),
            (vec!["flag.rollout_changed"], &json!("buckets_reordered"))
        );
        let cs = run(
            FLAGD,
            &edit(r#"{"var": "email"}, ["on""#, r#"{"var": "userId"}, ["on""#),
        );
        assert_eq!(kinds(&cs), ["flag.rollout_changed"]);
        assert_eq!(
            (fact(&cs[0], "change"), fact(&cs[0], "bucketing_to")),
            (&json!("bucketing_changed"), &json!({"var": "userId"}))
        );
    }

    #[test]
    fn fractional_added_or_removed() {
        // Added at the root of a flag with no targeting: from the default's 100%.
        let b = edit(
            r#""defaultVariant": "red""#,
            r#""defaultVariant": "red", "targeting": {"fractional": [["red", 50], ["blue", 50]]}"#,
        );
        let cs = run(FLAGD, &b);
        assert_eq!(kinds(&cs), ["flag.rollout_changed"]);
        let c = one(&cs, "flag.rollout_changed", "flags.banner-color.targeting");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!({"red": 100}), json!({"red": 50, "blue": 50}))
        );
        assert_eq!(fact(c, "change"), "fractional_added");
        // Replaced by a fixed variant.
        let cs = run(
            FLAGD,
            &edit(
                r#"{"fractional": [{"var": "email"}, ["on", 25], ["off", 75]]}"#,
                r#""off""#,
            ),
        );
        assert_eq!(kinds(&cs), ["flag.rollout_changed"]);
        assert_eq!(
            (cs[0].to.clone(), fact(&cs[0], "change")),
            (json!({"off": 100}), &json!("fractional_removed"))
        );
    }

    #[test]
    fn targeting_and_evaluator_changes() {
        let cs = run(FLAGD, &edit("@beta.example.com", "@example.com"));
        assert_eq!(kinds(&cs), ["flag.targeting_changed"]);
        let c = &cs[0];
        assert_eq!(
            (c.path.as_str(), fact(c, "evaluators")),
            ("flags.new-checkout.targeting", &json!(["beta-users"]))
        );
        assert_eq!(c.line_before, Some(8));
        // Inlining the evaluator is not a change.
        let cs = run(
            FLAGD,
            &edit(
                r#"{"$ref": "beta-users"}"#,
                r#"{"in": ["@beta.example.com", {"var": "email"}]}"#,
            ),
        );
        assert_eq!(cs, vec![]);
        // Cycles are safe.
        let cyc = edit(
            r#""beta-users": {"in""#,
            r#""a": {"$ref": "b"}, "b": {"or": [{"$ref": "a"}]}, "beta-users": {"in""#,
        )
        .replace(r#"{"$ref": "beta-users"}"#, r#"{"$ref": "a"}"#);
        let f = parse(&cyc).unwrap();
        assert_eq!(f.flags[0].evaluators, ["a", "b"]);
        assert_eq!(kinds(&run(FLAGD, &cyc)), ["flag.targeting_changed"]);
    }

    #[test]
    fn state_default_and_variant_changes() {
        let b = edit(r#""state": "DISABLED""#, r#""state": "ENABLED""#)
            .replace(r#""defaultVariant": "red""#, r#""defaultVariant": "blue""#)
            .replace(r##", "green": "#0f0""##, r##", "purple": "#a0f""##)
            .replace(
                r#""small": 10, "large": 50"#,
                r#""small": "10", "large": 100"#,
            );
        let cs = run(FLAGD, &b);
        assert_eq!(
            kinds(&cs),
            [
                "flag.default_changed",
                "flag.variant_removed",
                "flag.variant_added",
                "flag.state_changed",
                "flag.variant_type_changed",
                "flag.variant_value_changed"
            ]
        );
        let d = one(
            &cs,
            "flag.default_changed",
            "flags.banner-color.defaultVariant",
        );
        assert_eq!(
            (d.from.clone(), d.to.clone()),
            (json!("red"), json!("blue"))
        );
        assert_eq!(
            (fact(d, "from_value"), fact(d, "to_value")),
            (&json!("#f00"), &json!("#00f"))
        );
        let r = one(
            &cs,
            "flag.variant_removed",
            "flags.banner-color.variants.green",
        );
        assert_eq!(fact(r, "referenced"), &json!(false));
        assert_eq!(
            fact(
                one(
                    &cs,
                    "flag.variant_added",
                    "flags.banner-color.variants.purple"
                ),
                "value"
            ),
            "#a0f"
        );
        let s = one(&cs, "flag.state_changed", "flags.max-items.state");
        assert_eq!(
            (s.from.clone(), s.to.clone(), s.line_after),
            (json!("DISABLED"), json!("ENABLED"), Some(23))
        );
        let t = one(
            &cs,
            "flag.variant_type_changed",
            "flags.max-items.variants.small",
        );
        assert_eq!(
            (t.from.clone(), t.to.clone()),
            (json!("number"), json!("string"))
        );
        let v = one(
            &cs,
            "flag.variant_value_changed",
            "flags.max-items.variants.large",
        );
        assert_eq!((v.from.clone(), v.to.clone()), (json!(50), json!(100)));
        // A removed variant still named by the targeting is referenced.
        let b = edit(
            r#""variants": {"on": true, "off": false}"#,
            r#""variants": {"off": false}"#,
        );
        let cs = run(FLAGD, &b);
        let r = one(
            &cs,
            "flag.variant_removed",
            "flags.new-checkout.variants.on",
        );
        assert_eq!(
            (fact(r, "referenced"), fact(r, "referenced_in_head")),
            (&json!(true), &json!(true))
        );
    }

    #[test]
    fn flags_added_removed_and_metadata() {
        let b = edit(r#""max-items": {"#, r#""dark-mode": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}, "max-itemz": {"#)
            .replace(r#""owner": "payments""#, r#""owner": "growth""#);
        let cs = run(FLAGD, &b);
        assert_eq!(
            kinds(&cs),
            [
                "metadata.changed",
                "flag.removed",
                "flag.added",
                "flag.added"
            ]
        );
        let m = &cs[0];
        assert_eq!(
            (m.path.as_str(), m.from.clone(), m.to.clone()),
            (
                "flags.new-checkout.metadata.owner",
                json!("payments"),
                json!("growth")
            )
        );
        let r = one(&cs, "flag.removed", "flags.max-items");
        assert_eq!(
            (fact(r, "state"), r.line_before),
            (&json!("DISABLED"), Some(22))
        );
        assert_eq!(
            fact(one(&cs, "flag.added", "flags.dark-mode"), "default_variant"),
            "on"
        );
    }

    const PLAIN: &str = r#"flags:
  new-checkout:
    enabled: true
    variants: {on: true, off: false}
    default: off
    rollout: {on: 10}
    description: New checkout flow
"#;

    #[test]
    fn plain_yaml_flags() {
        let f = parse(PLAIN).unwrap();
        assert_eq!(f.flags[0].state.0, "ENABLED");
        let b = PLAIN
            .replace("{on: 10}", "{on: 50, off: 50}")
            .replace("enabled: true", "enabled: false")
            .replace("New checkout flow", "New checkout");
        let cs = run(PLAIN, &b);
        assert_eq!(
            kinds(&cs),
            [
                "flag.state_changed",
                "flag.rollout_changed",
                "metadata.changed"
            ]
        );
        let r = &cs[1];
        assert_eq!(r.path, "flags.new-checkout.rollout");
        assert_eq!(
            (r.from.clone(), r.to.clone()),
            (json!({"on": 10, "off": 90}), json!({"on": 50, "off": 50}))
        );
        assert_eq!(r.line_before, Some(6));
        assert_eq!(cs[2].path, "flags.new-checkout.description");
        // The flagd spelling of the same flag is equal.
        let flagd = r#"{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false},
          "defaultVariant": "off", "targeting": {"fractional": [["on", 10], ["off", 90]]},
          "metadata": {}, "description": "New checkout flow"}}}"#;
        assert_eq!(run(PLAIN, flagd), vec![]);
        // Removing the rollout: back to the default's 100%.
        let cs = run(PLAIN, &PLAIN.replace("    rollout: {on: 10}\n", ""));
        assert_eq!(kinds(&cs), ["flag.rollout_changed"]);
        assert_eq!(
            (cs[0].to.clone(), fact(&cs[0], "change")),
            (json!({"off": 100}), &json!("fractional_removed"))
        );
    }

    #[test]
    fn parse_errors_have_lines_on_each_side() {
        let bad = edit(
            r#""defaultVariant": "small""#,
            r#""defaultVariant": "small",,"#,
        );
        let e = diff(&bad, FLAGD, &Options::default(), &mut Changes::default()).unwrap_err();
        assert_eq!(e.side, super::super::Side::Base);
        assert_eq!(e.error.line, 25, "{e}");
        let bad = PLAIN.replace("    default: off\n", "    default: off\n    default: on\n");
        let e = diff(PLAIN, &bad, &Options::default(), &mut Changes::default()).unwrap_err();
        assert_eq!((e.side, e.error.line), (super::super::Side::Head, 6));
        let both = PLAIN.replace(
            "    rollout:",
            "    targeting: {\"if\": [true, \"on\", \"off\"]}\n    rollout:",
        );
        assert_eq!(parse(&both).unwrap_err().line, 7);
        assert_eq!(parse("flags:\n  - state: ENABLED\n").unwrap_err().line, 2);
        assert_eq!(parse("other: 1\n").unwrap_err().line, 1);
        // A null default is no default.
        let a = "flags:\n  x: {state: ENABLED, variants: {on: true}, defaultVariant: null}\n";
        let b = "flags:\n  x: {state: ENABLED, variants: {on: true}}\n";
        assert_eq!(run(a, b), vec![]);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let odd = [
            "flags: {}", "flags: []", "flags:\n  a: {variants: 3}\n", "flags:\n  a: {targeting: {fractional: []}}\n",
            "flags:\n  a: {targeting: {fractional: [[1], [], {var: x}, [\"on\", -5]]}}\n",
            "flags:\n  a: {targeting: {fractional: 7}, defaultVariant: null}\n", "flags:\n  a: {rollout: {on: \"x%\"}}\n",
            "flags:\n  a: {targeting: {if: [{fractional: [[\"on\"]]}, [1, 2]]}}\n",
            "flags:\n  a: {targeting: {if: [{fractional: [[\"on\", 0]]}]}}\n$evaluators: {x: {$ref: x}}\n",
            "flags:\n  a: {targeting: {$ref: x}}\n$evaluators: {x: {$ref: x}}\n",
        ];
        for a in odd {
            for b in odd {
                let _ = diff(a, b, &Options::default(), &mut Changes::default());
            }
        }
    }
}
