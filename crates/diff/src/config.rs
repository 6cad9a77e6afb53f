//! Generic YAML / JSON configuration: a path-addressed tree diff.
//!
//! Maps are compared key by key; lists of maps are matched by an
//! identifying key (`name`, `id` or `key`) when every item has one, else
//! compared as lists of values. Facts: `config.key_removed`,
//! `config.key_added`, `config.value_changed`, `type.changed`,
//! `config.item_removed`, `config.item_added` and `order.changed` (with
//! `significant: true` for unkeyed lists, whose order may be meaning).
//! Other detectors reuse [`diff_tree`] for the parts they do not model.

use super::change::{Change, Changes};
use super::tree::{Data, Node};
use super::{ArtifactError, Options};

/// Diffs two configuration files.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let (na, nb) = super::parse_both(a, b)?;
    diff_tree("", &na, &nb, out);
    Ok(())
}

/// Joins a path and a key (`a.b`, `a["x.y"]` when the key needs quoting).
pub fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '$' | '/' | '{' | '}'));
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (true, false) => format!("[{key:?}]"),
        (false, true) => format!("{path}.{key}"),
        (false, false) => format!("{path}[{key:?}]"),
    }
}

/// The identifying key shared by every item of a list of maps, if any.
pub fn identity_key(items: &[Node]) -> Option<&'static str> {
    if items.is_empty() {
        return None;
    }
    ["name", "id", "key"].into_iter().find(|k| {
        let mut seen = std::collections::HashSet::new();
        items.iter().all(|i| {
            i.get(k)
                .and_then(scalar_text)
                .is_some_and(|v| seen.insert(v))
        })
    })
}

fn scalar_text(n: &Node) -> Option<String> {
    match &n.data {
        Data::String(s) => Some(s.clone()),
        Data::Number(x) => Some(x.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reports every difference between two trees under `path`.
pub fn diff_tree(path: &str, a: &Node, b: &Node, out: &mut Changes) {
    match (&a.data, &b.data) {
        (Data::Map(ea), Data::Map(eb)) => diff_maps(path, a, b, ea, eb, out),
        (Data::Seq(sa), Data::Seq(sb)) => diff_seqs(path, a, b, sa, sb, out),
        _ if a == b => {}
        _ if a.type_name() != b.type_name()
            && !matches!(
                (a.type_name(), b.type_name()),
                ("integer", "number") | ("number", "integer")
            ) =>
        {
            out.push(
                Change::new("type.changed", path)
                    .lines(a.line, b.line)
                    .from_to(a.type_name(), b.type_name())
                    .fact("before", a.brief())
                    .fact("after", b.brief()),
            );
        }
        _ => out.push(
            Change::new("config.value_changed", path)
                .lines(a.line, b.line)
                .from_to(a.brief(), b.brief()),
        ),
    }
}

fn diff_maps(
    path: &str,
    a: &Node,
    b: &Node,
    ea: &[(String, Node)],
    eb: &[(String, Node)],
    out: &mut Changes,
) {
    for (k, va) in ea {
        match b.get(k) {
            Some(vb) => diff_tree(&join(path, k), va, vb, out),
            None => out.push(
                Change::new("config.key_removed", join(path, k))
                    .lines(va.line, b.line)
                    .from_to(va.brief(), serde_json::Value::Null)
                    .fact("name", k.as_str()),
            ),
        }
    }
    for (k, vb) in eb {
        if a.get(k).is_none() {
            out.push(
                Change::new("config.key_added", join(path, k))
                    .lines(a.line, vb.line)
                    .from_to(serde_json::Value::Null, vb.brief())
                    .fact("name", k.as_str()),
            );
        }
    }
    let common_a: Vec<&str> = ea
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| b.get(k).is_some())
        .collect();
    let common_b: Vec<&str> = eb
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| a.get(k).is_some())
        .collect();
    if common_a != common_b {
        out.push(
            Change::new(
                "order.changed",
                if path.is_empty() { "(root)" } else { path },
            )
            .lines(a.line, b.line)
            .from_to(common_a, common_b)
            .fact("significant", false),
        );
    }
}

fn diff_seqs(path: &str, a: &Node, b: &Node, sa: &[Node], sb: &[Node], out: &mut Changes) {
    if let (Some(ka), Some(kb)) = (identity_key(sa), identity_key(sb)) {
        if ka == kb {
            return diff_keyed(path, ka, a, b, sa, sb, out);
        }
    }
    if sa == sb {
        return;
    }
    // Multiset comparison of values: what left, what came, and whether the
    // survivors moved.
    let mut unmatched_b: Vec<Option<&Node>> = sb.iter().map(Some).collect();
    let mut kept_a = Vec::new();
    for (i, x) in sa.iter().enumerate() {
        match unmatched_b.iter().position(|y| y.is_some_and(|y| y == x)) {
            Some(j) => {
                unmatched_b[j] = None;
                kept_a.push((i, j));
            }
            None => {
                if sa.len() == sb.len() && sb.get(i).is_some_and(|y| !sa.contains(y)) {
                    // Same position, different value: an edit in place.
                    diff_tree(&format!("{path}[{i}]"), x, &sb[i], out);
                    unmatched_b[i] = None;
                    kept_a.push((i, i));
                } else {
                    out.push(
                        Change::new("config.item_removed", format!("{path}[{i}]"))
                            .lines(x.line, b.line)
                            .fact("value", x.brief()),
                    );
                }
            }
        }
    }
    for (j, y) in unmatched_b.iter().enumerate() {
        if let Some(y) = y {
            out.push(
                Change::new("config.item_added", format!("{path}[{j}]"))
                    .lines(a.line, y.line)
                    .fact("value", y.brief()),
            );
        }
    }
    let order: Vec<usize> = kept_a.iter().map(|(_, j)| *j).collect();
    if order.windows(2).any(|w| w[0] > w[1]) {
        out.push(
            Change::new("order.changed", path)
                .lines(a.line, b.line)
                .from_to(serde_json::Value::Null, serde_json::Value::Null)
                .fact("significant", true),
        );
    }
}

fn diff_keyed(
    path: &str,
    key: &str,
    a: &Node,
    b: &Node,
    sa: &[Node],
    sb: &[Node],
    out: &mut Changes,
) {
    let id = |n: &Node| n.get(key).and_then(scalar_text).unwrap_or_default();
    let ids_a: Vec<String> = sa.iter().map(id).collect();
    let ids_b: Vec<String> = sb.iter().map(id).collect();
    for (x, ix) in sa.iter().zip(&ids_a) {
        let item = format!("{path}[{key}={ix}]");
        match sb.iter().zip(&ids_b).find(|(_, iy)| *iy == ix) {
            Some((y, _)) => diff_tree(&item, x, y, out),
            None => out.push(
                Change::new("config.item_removed", item)
                    .lines(x.line, b.line)
                    .fact("value", x.brief())
                    .fact("name", ix.as_str()),
            ),
        }
    }
    for (y, iy) in sb.iter().zip(&ids_b) {
        if !ids_a.contains(iy) {
            out.push(
                Change::new("config.item_added", format!("{path}[{key}={iy}]"))
                    .lines(a.line, y.line)
                    .fact("value", y.brief())
                    .fact("name", iy.as_str()),
            );
        }
    }
    let common_a: Vec<String> = ids_a
        .iter()
        .filter(|i| ids_b.contains(i))
        .cloned()
        .collect();
    let common_b: Vec<String> = ids_b
        .iter()
        .filter(|i| ids_a.contains(i))
        .cloned()
        .collect();
    if common_a != common_b {
        out.push(
            Change::new("order.changed", path)
                .lines(a.line, b.line)
                .from_to(common_a, common_b)
                .fact("significant", false),
        );
    }
}
