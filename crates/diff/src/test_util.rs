//! Assertions shared by the detectors' unit tests.

#![allow(clippy::panic)]

use super::change::Change;
use serde_json::Value as Json;

/// The kinds of `cs`, in order.
pub fn kinds(cs: &[Change]) -> Vec<&str> {
    cs.iter().map(|c| c.kind.as_str()).collect()
}

/// The one change of `kind` at `path` (fails unless there is exactly one).
pub fn one<'a>(cs: &'a [Change], kind: &str, path: &str) -> &'a Change {
    let found: Vec<&Change> = cs
        .iter()
        .filter(|c| c.kind == kind && c.path == path)
        .collect();
    assert_eq!(found.len(), 1, "{kind} at {path} in {cs:#?}");
    found[0]
}

/// Fact `k` of `c`, null when absent.
pub fn fact<'a>(c: &'a Change, k: &str) -> &'a Json {
    c.facts.get(k).unwrap_or(&Json::Null)
}
