//! The facts of pack pairs (`facts`), and edits and real packs that give
//! none (`packs`): the shared base pack and helpers.

use super::*;
use crate::change::Change;
use serde_json::{json, Value as Json};
use tenet_dsl::source::FileId;
use tenet_dsl::syntax;

const BASE: &str = r#"tenet 1
pack safety version "1.2.0"

import shared
import common as c

const mass_delete_rows = 10_000
const approver_roles = ["data-owner", "sec-oncall"]
const prod_allowlist = ["prod-a", "prod-b"]
const hold_time = 30m

# Risk levels.
taxonomy risk {
  levels [critical, high, medium, low]
}

action mass-delete {
  match        action.verb == "delete" and action.rows >= mass_delete_rows
  risk         high
  require      [dual_control, justification]
  hold         30m
  approvers    approver_roles
  approvals    2
  enforcement  soft_mandatory
  because      "deleting {action.rows} rows cannot be undone"
  tags         ["data"]
}

rule old-rule {
  when  input.x > 1
  risk  low
}

guard prod {
  deny_when      cluster.env == "prod"
  prod_allowlist ["a"]
  deny_roles     ["intern", "contractor"]
  risk           high
}

rollout bundle {
  target  {labels: {sidecar: "tenet"}, not_in: {lifecycle: ["old"]}}
  on_fail pause

  stage canary {
    select {labels: {env: "staging"}}
    bake   30m
    gate errors {
      metric    metrics.err
      fail_when metrics.err > 1%
      interval  1m
    }
  }

  stage global {
    select {labels: {env: "prod"}}
    bake   4h
  }
}

profile regulator {
  factor mfa {
    source "iam.mfa"
    weight 3
    bounds [0, 100]
  }
  badge gold {
    rank 3
    hysteresis {
      enter 85
      exit  80
    }
  }
}

waiver nightly {
  rules         ["mass-delete"]
  owner         "data"
  justification "nightly job"
  expires       "2027-06-30"
}

waiver old-waiver {
  rules         ["old-rule"]
  owner         "x"
  justification "y"
  expires       "2026-01-01"
}

test t-one {
  input  {action: {verb: "delete", rows: 20_000}}
  expect ["mass-delete"]
}

test t-gone {
  input  {}
  expect []
}
"#;

fn run(a: &str, b: &str) -> Vec<Change> {
    let mut out = Changes::default();
    match diff(a, b, &Options::default(), &mut out) {
        Ok(()) => out.0,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn edit(a: &str, b: &str) -> Vec<Change> {
    run(BASE, &BASE.replacen(a, b, 1))
}

fn one(changes: &[Change], kind: &str) -> Change {
    let found: Vec<&Change> = changes.iter().filter(|c| c.kind == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind} in {changes:#?}");
    found[0].clone()
}

fn only(changes: &[Change], kind: &str) -> Change {
    assert_eq!(changes.len(), 1, "expected only {kind}: {changes:#?}");
    one(changes, kind)
}

fn f(c: &Change, k: &str) -> Json {
    c.facts.get(k).cloned().unwrap_or(Json::Null)
}

mod facts;
mod packs;
mod readings;
