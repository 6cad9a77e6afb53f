//! One test per fact kind, on edits of the base pack.

use super::*;

#[test]
fn version_changed() {
    let c = only(
        &edit(r#"version "1.2.0""#, r#"version "1.3.0""#),
        "policy.version_changed",
    );
    assert_eq!(c.path, "safety");
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (json!("1.2.0"), json!("1.3.0"))
    );
    assert_eq!(f(&c, "bump"), json!("minor"));
    assert_eq!(c.line_before, Some(2));
}

#[test]
fn pack_renamed() {
    let c = only(&edit("pack safety", "pack safety2"), "policy.pack_renamed");
    assert_eq!(c.to, json!("safety2"));
}

#[test]
fn imports_added_and_removed() {
    let ch = edit("import shared\n", "import other\n");
    let r = one(&ch, "policy.import_removed");
    assert_eq!(
        (r.path.as_str(), f(&r, "name")),
        ("safety.import shared", json!("shared"))
    );
    assert_eq!(r.line_before, Some(4));
    let a = one(&ch, "policy.import_added");
    assert_eq!(f(&a, "name"), json!("other"));
    assert_eq!(ch.len(), 2);
    let al = only(
        &edit("import common as c", "import common as cc"),
        "policy.field_changed",
    );
    assert_eq!(f(&al, "field"), json!("alias"));
}

#[test]
fn constant_changed_numeric() {
    let c = only(
        &edit(
            "const mass_delete_rows = 10_000",
            "const mass_delete_rows = 5_000",
        ),
        "policy.constant_changed",
    );
    assert_eq!(c.path, "safety.const mass_delete_rows");
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (json!("10_000"), json!("5_000"))
    );
    assert_eq!(
        (f(&c, "from_number"), f(&c, "to_number")),
        (json!(10000), json!(5000))
    );
    assert_eq!(f(&c, "increased"), json!(false));
    // Where it is used: the bound of a comparison in a guard, so the
    // pack can tell that raising it lets more through.
    assert_eq!(
        f(&c, "uses"),
        json!([{"block_kind": "action", "block": "action mass-delete", "field": "match",
                    "field_value": false, "holds_more_when": "lower"}])
    );
    assert!(f(&c, "field").is_null());
    // A constant that fills a field takes the field's name.
    let r = only(
        &edit(
            "const approver_roles = [\"data-owner\", \"sec-oncall\"]",
            "const approver_roles = [\"data-owner\"]",
        ),
        "policy.constant_changed",
    );
    assert_eq!(f(&r, "field"), json!("approvers"));
    let d = only(
        &edit("const hold_time = 30m", "const hold_time = 2h"),
        "policy.constant_changed",
    );
    assert_eq!(
        (f(&d, "from_number"), f(&d, "to_number")),
        (json!(1800), json!(7200))
    );
    assert_eq!(f(&d, "unit"), json!("seconds"));
    assert_eq!(d.line_before, Some(10));
}

#[test]
fn constant_list_and_added_removed() {
    let c = only(
        &edit(
            r#"["data-owner", "sec-oncall"]"#,
            r#"["data-owner", "cto"]"#,
        ),
        "policy.constant_changed",
    );
    assert_eq!(f(&c, "added"), json!(["cto"]));
    assert_eq!(f(&c, "removed"), json!(["sec-oncall"]));
    assert!(f(&c, "from_number").is_null());
    let ch = edit("const hold_time = 30m", "const wait_time = 30m");
    let r = one(&ch, "policy.constant_removed");
    assert_eq!(f(&r, "name"), json!("hold_time"));
    let a = one(&ch, "policy.constant_added");
    assert_eq!(
        (f(&a, "name"), f(&a, "value")),
        (json!("wait_time"), json!("30m"))
    );
}

#[test]
fn allowlist_constant() {
    let ch = edit(r#"["prod-a", "prod-b"]"#, r#"["prod-a", "prod-c"]"#);
    assert_eq!(ch.len(), 2, "{ch:#?}");
    let w = one(&ch, "policy.allow_widened");
    assert_eq!(
        (w.path.as_str(), f(&w, "value")),
        ("safety.const prod_allowlist", json!("prod-c"))
    );
    let n = one(&ch, "policy.allow_narrowed");
    assert_eq!(f(&n, "value"), json!("prod-b"));
}

#[test]
fn blocks_added_and_removed() {
    let ch = edit("rule old-rule {", "rule new-rule {");
    let r = one(&ch, "policy.block_removed");
    assert_eq!(r.path, "safety.rule old-rule");
    assert_eq!(
        (f(&r, "block_kind"), f(&r, "name")),
        (json!("rule"), json!("old-rule"))
    );
    assert_eq!(f(&r, "enforcement"), json!("advisory"));
    assert_eq!(f(&r, "risk"), json!("low"));
    assert_eq!(f(&r, "dry_run"), json!(false));
    assert!(r.line_before.is_some());
    let a = one(&ch, "policy.block_added");
    assert_eq!(a.path, "safety.rule new-rule");
    assert_eq!(ch.len(), 2);
    // Nested: a stage under its rollout.
    let ch = edit("stage global {", "stage worldwide {");
    let a = one(&ch, "policy.block_added");
    assert_eq!(a.path, "safety.rollout bundle.stage worldwide");
    assert_eq!(f(&a, "parent"), json!("rollout bundle"));
}

#[test]
fn condition_changed() {
    let c = only(
        &edit(
            r#"action.verb == "delete" and"#,
            r#"action.verb in ["delete", "drop"] and"#,
        ),
        "policy.condition_changed",
    );
    assert_eq!(c.path, "safety.action mass-delete.match");
    assert_eq!(f(&c, "field"), json!("match"));
    assert_eq!(
        c.to,
        json!(r#"action.verb in ["delete", "drop"] and action.rows >= mass_delete_rows"#)
    );
    assert_eq!(c.line_before, Some(18));
    let g = only(
        &edit("metrics.err > 1%", "metrics.err > 2%"),
        "policy.condition_changed",
    );
    assert_eq!(
        g.path,
        "safety.rollout bundle.stage canary.gate errors.fail_when"
    );
    let s = only(
        &edit(r#"{labels: {env: "prod"}}"#, r#"{labels: {env: "live"}}"#),
        "policy.condition_changed",
    );
    assert_eq!(f(&s, "field"), json!("select"));
}

#[test]
fn risk_changed() {
    let c = only(
        &edit(
            "  risk         high\n  require",
            "  risk         critical\n  require",
        ),
        "policy.risk_changed",
    );
    assert_eq!(c.path, "safety.action mass-delete.risk");
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (json!("high"), json!("critical"))
    );
    assert_eq!(f(&c, "raised"), json!(true));
    let d = only(
        &edit("  risk  low", "  risk  medium"),
        "policy.risk_changed",
    );
    assert_eq!(f(&d, "raised"), json!(true));
    let e = only(
        &edit("  risk           high\n}", "  risk           low\n}"),
        "policy.risk_changed",
    );
    assert_eq!(f(&e, "raised"), json!(false));
}

#[test]
fn requirements() {
    let ch = edit("[dual_control, justification]", "[justification, ticket]");
    assert_eq!(ch.len(), 2, "{ch:#?}");
    let r = one(&ch, "policy.requirement_removed");
    assert_eq!(
        (r.path.as_str(), f(&r, "field"), f(&r, "value")),
        (
            "safety.action mass-delete.require",
            json!("require"),
            json!("dual_control")
        )
    );
    let a = one(&ch, "policy.requirement_added");
    assert_eq!(f(&a, "value"), json!("ticket"));
    // A list written where there was none: every element is new.
    let ch = edit(
        "  deny_when      cluster",
        "  controls       [break_glass]\n  deny_when      cluster",
    );
    let a = only(&ch, "policy.requirement_added");
    assert_eq!(
        (f(&a, "field"), f(&a, "value")),
        (json!("controls"), json!("break_glass"))
    );
}

#[test]
fn enforcement_changed() {
    let c = only(
        &edit("enforcement  soft_mandatory", "enforcement  advisory"),
        "policy.enforcement_changed",
    );
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (json!("soft_mandatory"), json!("advisory"))
    );
    assert_eq!(f(&c, "lowered"), json!(true));
    // Removed: the action default, hard_mandatory, applies again.
    let d = only(
        &edit("  enforcement  soft_mandatory\n", ""),
        "policy.enforcement_changed",
    );
    assert_eq!(d.to, json!("hard_mandatory"));
    assert_eq!(f(&d, "lowered"), json!(false));
    assert_eq!(f(&d, "defaulted"), json!("to"));
}

#[test]
fn dry_run_changed() {
    let c = only(
        &edit("  risk  low\n", "  risk  low\n  dry_run true\n"),
        "policy.dry_run_changed",
    );
    assert_eq!((c.from.clone(), c.to.clone()), (json!(false), json!(true)));
    assert_eq!(c.path, "safety.rule old-rule.dry_run");
}

#[test]
fn allow_and_deny_lists() {
    let w = only(
        &edit(r#"prod_allowlist ["a"]"#, r#"prod_allowlist ["a", "b"]"#),
        "policy.allow_widened",
    );
    assert_eq!(
        (w.path.as_str(), f(&w, "field"), f(&w, "value")),
        (
            "safety.guard prod.prod_allowlist",
            json!("prod_allowlist"),
            json!("b")
        )
    );
    let n = only(
        &edit(r#"prod_allowlist ["a"]"#, r#"prod_allowlist []"#),
        "policy.allow_narrowed",
    );
    assert_eq!(f(&n, "value"), json!("a"));
    let d = only(
        &edit(r#"["intern", "contractor"]"#, r#"["intern"]"#),
        "policy.deny_narrowed",
    );
    assert_eq!(f(&d, "value"), json!("contractor"));
    let d = only(
        &edit(
            r#"["intern", "contractor"]"#,
            r#"["intern", "contractor", "guest"]"#,
        ),
        "policy.deny_widened",
    );
    assert_eq!(f(&d, "value"), json!("guest"));
    // Dropping the allowlist altogether is not read as narrowing.
    let r = only(
        &edit("  prod_allowlist [\"a\"]\n", ""),
        "policy.field_removed",
    );
    assert_eq!(f(&r, "category"), json!("list"));
}

#[test]
fn thresholds() {
    let c = only(
        &edit("hold         30m", "hold         1h"),
        "threshold.changed",
    );
    assert_eq!(c.path, "safety.action mass-delete.hold");
    assert_eq!((c.from.clone(), c.to.clone()), (json!("30m"), json!("1h")));
    assert_eq!(
        (f(&c, "from_number"), f(&c, "to_number")),
        (json!(1800), json!(3600))
    );
    assert_eq!(
        (f(&c, "increased"), f(&c, "field")),
        (json!(true), json!("hold"))
    );
    let c = only(
        &edit("approvals    2", "approvals    1"),
        "threshold.changed",
    );
    assert_eq!(f(&c, "increased"), json!(false));
    // Removed: the default (1) applies.
    let c = only(&edit("  approvals    2\n", ""), "threshold.changed");
    assert_eq!(
        (c.from.clone(), c.to.clone(), f(&c, "defaulted")),
        (json!("2"), json!("1"), json!("to"))
    );
    let c = only(&edit("bake   30m", "bake   10m"), "threshold.changed");
    assert_eq!(c.path, "safety.rollout bundle.stage canary.bake");
    let c = only(&edit("interval  1m", "interval  5m"), "threshold.changed");
    assert_eq!(
        c.path,
        "safety.rollout bundle.stage canary.gate errors.interval"
    );
    let c = only(&edit("enter 85", "enter 90"), "threshold.changed");
    assert_eq!(
        c.path,
        "safety.profile regulator.badge gold.hysteresis.enter"
    );
    let c = only(&edit("weight 3", "weight 0.5"), "threshold.changed");
    assert_eq!(
        (f(&c, "to_number"), f(&c, "field")),
        (json!(0.5), json!("weight"))
    );
    let c = only(
        &edit("bounds [0, 100]", "bounds [0, 90]"),
        "threshold.changed",
    );
    assert_eq!(
        (f(&c, "field"), f(&c, "increased")),
        (json!("bounds[1]"), json!(false))
    );
}

#[test]
fn justification_written_with_a_change_is_a_fact_of_it() {
    let ch = edit(
        "  hold         30m\n",
        "  hold         10m\n  justification \"INC-1: holds stalled the purge\"\n",
    );
    assert_eq!(ch.len(), 2, "{ch:#?}");
    let t = one(&ch, "threshold.changed");
    assert_eq!(
        (
            f(&t, "block"),
            f(&t, "justification"),
            f(&t, "justification_new")
        ),
        (
            json!("action mass-delete"),
            json!("INC-1: holds stalled the purge"),
            json!(true)
        )
    );
    // The justification itself is documentation.
    let d = one(&ch, "description.changed");
    assert_eq!(
        (d.path.as_str(), f(&d, "field")),
        (
            "safety.action mass-delete.justification",
            json!("justification")
        )
    );
    // Without one: the block is named, no justification.
    let t = only(
        &edit("hold         30m", "hold         10m"),
        "threshold.changed",
    );
    assert_eq!(f(&t, "block"), json!("action mass-delete"));
    assert!(f(&t, "justification").is_null());
    assert!(f(&t, "justification_new").is_null());
    // Constants are in no block.
    let c = only(
        &edit("const hold_time = 30m", "const hold_time = 5m"),
        "policy.constant_changed",
    );
    assert!(f(&c, "block").is_null());
}

#[test]
fn an_old_justification_is_not_new() {
    let b = BASE.replacen(
        "  hold         30m\n",
        "  hold         30m\n  justification \"old reason\"\n",
        1,
    );
    let loosened = b.replacen("hold         30m", "hold         10m", 1);
    let t = only(&run(&b, &loosened), "threshold.changed");
    assert_eq!(
        (f(&t, "justification"), f(&t, "justification_new")),
        (json!("old reason"), json!(false))
    );
    // Rewritten with the change: new again.
    let rewritten = loosened.replacen("old reason", "INC-2: new reason", 1);
    let t = one(&run(&b, &rewritten), "threshold.changed");
    assert_eq!(
        (f(&t, "justification"), f(&t, "justification_new")),
        (json!("INC-2: new reason"), json!(true))
    );
    // A blank one says nothing.
    let t = one(
        &edit(
            "  hold         30m\n",
            "  hold         10m\n  justification \"  \"\n",
        ),
        "threshold.changed",
    );
    assert!(f(&t, "justification").is_null());
    // A waiver's own justification is the one beside its changes.
    let w = only(
        &edit(r#""2027-06-30""#, r#""2028-01-01""#),
        "policy.waiver_changed",
    );
    assert_eq!(
        (f(&w, "justification"), f(&w, "justification_new")),
        (json!("nightly job"), json!(false))
    );
}

#[test]
fn nested_and_removed_blocks_take_the_parent_justification() {
    let justified = BASE.replacen(
        "  on_fail pause\n",
        "  on_fail pause\n  justification \"RFC-9: faster canaries\"\n",
        1,
    );
    let t = one(
        &run(BASE, &justified.replacen("bake   30m", "bake   10m", 1)),
        "threshold.changed",
    );
    assert_eq!(t.path, "safety.rollout bundle.stage canary.bake");
    assert_eq!(
        (
            f(&t, "block"),
            f(&t, "justification"),
            f(&t, "justification_new")
        ),
        (
            json!("rollout bundle.stage canary"),
            json!("RFC-9: faster canaries"),
            json!(true)
        )
    );
    // A nested block's own justification wins over its parent's.
    let own = justified.replacen(
        "    bake   30m\n",
        "    bake   10m\n    justification \"stage reason\"\n",
        1,
    );
    let t = one(&run(BASE, &own), "threshold.changed");
    assert_eq!(f(&t, "justification"), json!("stage reason"));
    // A removed gate: its parent's justification in the head.
    let start = justified.find("    gate errors {").unwrap();
    let end = start + justified[start..].find("    }\n").unwrap() + 6;
    let mut dropped = justified.clone();
    dropped.replace_range(start..end, "");
    let r = one(&run(BASE, &dropped), "policy.block_removed");
    assert_eq!(
        (r.path.as_str(), f(&r, "block"), f(&r, "justification")),
        (
            "safety.rollout bundle.stage canary.gate errors",
            json!("rollout bundle.stage canary.gate errors"),
            json!("RFC-9: faster canaries")
        )
    );
    assert_eq!(f(&r, "justification_new"), json!(true));
    // A removed top-level block has nothing beside it in the head.
    let r = one(
        &edit("rule old-rule {", "rule new-rule {"),
        "policy.block_removed",
    );
    assert_eq!(f(&r, "block"), json!("rule old-rule"));
    assert!(f(&r, "justification").is_null());
    // An added block carries its own.
    let a = one(
        &edit(
            "rule old-rule {\n",
            "rule new-rule {\n  justification \"replaces old-rule\"\n",
        ),
        "policy.block_added",
    );
    assert_eq!(
        (f(&a, "justification"), f(&a, "justification_new")),
        (json!("replaces old-rule"), json!(true))
    );
}

#[test]
fn threshold_percent_and_size() {
    let b = BASE.replacen(
        "  bake   4h\n",
        "  bake   4h\n  pause_on_error_rate 1%\n",
        1,
    );
    let c = only(
        &run(&b, &b.replacen("rate 1%", "rate 2.5%", 1)),
        "threshold.changed",
    );
    assert_eq!(
        (f(&c, "from_number"), f(&c, "to_number"), f(&c, "unit")),
        (json!(0.01), json!(0.025), json!("percent"))
    );
    let s = "tenet 1\npack p version \"1.0.0\"\nscorer s {\n  script \"a.rhai\"\n  max_string_size 1MB\n}\n";
    let c = only(&run(s, &s.replace("1MB", "2MiB")), "threshold.changed");
    assert_eq!(
        (f(&c, "from_number"), f(&c, "to_number")),
        (json!(1_000_000), json!(2_097_152))
    );
    // An integer replaced by a percentage is not comparable.
    let c = only(
        &run(s, &s.replace("1MB", "max_uses")),
        "policy.field_changed",
    );
    assert_eq!(f(&c, "field"), json!("max_string_size"));
}

#[test]
fn fields_added_removed_changed() {
    let c = only(&edit("  hold         30m\n", ""), "policy.field_removed");
    assert_eq!(
        (c.path.as_str(), f(&c, "value"), f(&c, "category")),
        (
            "safety.action mass-delete.hold",
            json!("30m"),
            json!("threshold")
        )
    );
    assert_eq!(f(&c, "value_number"), json!(1800));
    let c = only(
        &edit("  risk  low\n", "  risk  low\n  on_no_data error\n"),
        "policy.field_changed",
    );
    assert_eq!(
        (c.from.clone(), c.to.clone(), f(&c, "defaulted")),
        (json!("ignore"), json!("error"), json!("from"))
    );
    let c = only(
        &edit("on_fail pause", "on_fail rollback"),
        "policy.field_changed",
    );
    assert_eq!(c.path, "safety.rollout bundle.on_fail");
    let c = only(
        &edit(
            "  when  input.x > 1\n",
            "  when  input.x > 1\n  description \"x\"\n",
        ),
        "description.changed",
    );
    assert_eq!((c.from.clone(), c.to.clone()), (Json::Null, json!("x")));
    let c = only(
        &edit(
            "levels [critical, high, medium, low]",
            "levels [high, critical, medium, low]",
        ),
        "policy.field_changed",
    );
    assert_eq!(f(&c, "reordered"), json!(true));
    let c = only(
        &edit("approvers    approver_roles", "approvers    [\"cto\"]"),
        "policy.field_changed",
    );
    assert_eq!(c.to, json!("[\"cto\"]"));
    let c = only(
        &edit("  select {labels: {env: \"staging\"}}\n", ""),
        "policy.field_removed",
    );
    assert_eq!(f(&c, "category"), json!("condition"));
}

#[test]
fn descriptions_and_tags() {
    let c = only(
        &edit("cannot be undone", "is irreversible"),
        "description.changed",
    );
    assert_eq!(c.path, "safety.action mass-delete.because");
    assert_eq!(
        c.from,
        json!("deleting {action.rows} rows cannot be undone")
    );
    let c = only(
        &edit(r#"["data"]"#, r#"["data", "pii"]"#),
        "metadata.changed",
    );
    assert_eq!(f(&c, "field"), json!("tags"));
}

#[test]
fn waivers() {
    let c = only(
        &edit(r#""2027-06-30""#, r#""2028-01-01""#),
        "policy.waiver_changed",
    );
    assert_eq!(c.path, "safety.waiver nightly.expires");
    assert_eq!(
        (f(&c, "field"), f(&c, "extended"), f(&c, "name")),
        (json!("expires"), json!(true), json!("nightly"))
    );
    let c = only(
        &edit(
            r#"rules         ["mass-delete"]"#,
            r#"rules         ["mass-delete", "x"]"#,
        ),
        "policy.waiver_changed",
    );
    assert_eq!(
        (f(&c, "added"), f(&c, "removed")),
        (json!(["x"]), json!([]))
    );
    let c = only(
        &edit(
            "  owner         \"data\"\n",
            "  owner         \"data\"\n  when actor.id == \"bot\"\n",
        ),
        "policy.waiver_changed",
    );
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (Json::Null, json!("actor.id == \"bot\""))
    );
    let ch = edit("waiver old-waiver {", "waiver new-waiver {");
    let r = one(&ch, "policy.waiver_removed");
    assert_eq!(
        (f(&r, "rules"), f(&r, "expires")),
        (json!(["old-rule"]), json!("2026-01-01"))
    );
    let a = one(&ch, "policy.waiver_added");
    assert_eq!(a.path, "safety.waiver new-waiver");
    assert_eq!(ch.len(), 2);
}

#[test]
fn tests_changed() {
    let c = only(
        &edit("rows: 20_000}}", "rows: 30_000}}"),
        "policy.test_changed",
    );
    assert_eq!(
        (c.path.as_str(), f(&c, "change"), f(&c, "fields")),
        ("safety.test t-one", json!("changed"), json!(["input"]))
    );
    let ch = edit("test t-gone {", "test t-new {");
    assert_eq!(ch.len(), 2);
    assert!(ch
        .iter()
        .any(|c| f(c, "change") == json!("removed") && c.path == "safety.test t-gone"));
    assert!(ch
        .iter()
        .any(|c| f(c, "change") == json!("added") && c.path == "safety.test t-new"));
    // Reordering `expect` means nothing.
    let b = BASE.replacen(
        r#"expect ["mass-delete"]"#,
        r#"expect ["mass-delete", "x"]"#,
        1,
    );
    assert!(run(
        &b,
        &b.replacen(r#"["mass-delete", "x"]"#, r#"["x", "mass-delete"]"#, 1)
    )
    .is_empty());
    // So does reordering the other lists of a test: they are sets too.
    let with = |list: &str| {
        BASE.replacen(
            r#"expect ["mass-delete"]"#,
            &format!("expect [\"mass-delete\"]\n  expect_inconclusive {list}"),
            1,
        )
    };
    assert!(run(&with(r#"["a", "b"]"#), &with(r#"["b", "a"]"#)).is_empty());
    assert!(!run(&with(r#"["a", "b"]"#), &with(r#"["a", "c"]"#)).is_empty());
}

#[test]
fn stages_reordered() {
    let canary_start = BASE.find("  stage canary {").unwrap_or(0);
    let global_start = BASE.find("  stage global {").unwrap_or(0);
    let global_end = BASE[global_start..]
        .find("  }\n")
        .map_or(0, |i| global_start + i + 4);
    let global = &BASE[global_start..global_end];
    let mut b = BASE.to_string();
    b.replace_range(global_start..global_end, "");
    b.insert_str(canary_start, &format!("{global}\n"));
    let c = only(&run(BASE, &b), "policy.block_reordered");
    assert_eq!(c.path, "safety.rollout bundle");
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (json!(["canary", "global"]), json!(["global", "canary"]))
    );
}
