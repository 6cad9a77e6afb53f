//! Field readings come from the kind table, and read as the detector's
//! lists of names did before they moved there.

use super::super::fields::{constant_reading, reading};
use tenet_dsl::schema::{self, Reading};

/// The detector's knowledge before it was the table's: names of text
/// fields, names of ordered lists, and allow/deny lists by substring.
fn by_old_lists(field: &str, constant: bool) -> Reading {
    const TEXT_FIELDS: &[&str] = &[
        "because",
        "description",
        "justification",
        "rationale",
        "narrative",
        "reason",
        "remediation",
    ];
    const ORDERED_LISTS: &[&str] = &["levels", "order", "bounds"];
    let lower = field.to_ascii_lowercase();
    let ordered = if constant {
        ORDERED_LISTS.iter().any(|o| lower.contains(o))
    } else {
        ORDERED_LISTS.contains(&field)
    };
    if !constant && TEXT_FIELDS.contains(&field) {
        Reading::Prose
    } else if ordered {
        Reading::Ordered
    } else if lower.contains("allow") {
        Reading::AllowList
    } else if lower.contains("deny") {
        Reading::DenyList
    } else {
        Reading::Value
    }
}

#[test]
fn every_declared_field_reads_as_the_old_lists_said() {
    let mut prose = 0;
    // Kinds declared after the lists moved to the table.
    const NEWER: &[&str] = &["level", "quorum", "break_glass"];
    for k in schema::KINDS.iter().filter(|k| !NEWER.contains(&k.kind)) {
        for f in k.all_fields() {
            let old = by_old_lists(f.name, false);
            // A condition such as `deny_when` never reached the list test.
            if matches!(f.ty, schema::Ty::Cond) && old != Reading::Prose {
                continue;
            }
            assert_eq!(reading(k.kind, f.name), old, "{} {}", k.kind, f.name);
            prose += usize::from(f.reading == Reading::Prose);
        }
    }
    assert!(prose > 20, "only {prose} prose fields");
}

#[test]
fn undeclared_fields_read_as_a_declared_namesake_else_by_name() {
    // `stage` declares no description; `rule` no order; no kind `deny_roles`.
    assert_eq!(reading("stage", "description"), Reading::Prose);
    assert_eq!(reading("rule", "order"), Reading::Ordered);
    assert_eq!(reading("guard", "deny_roles"), Reading::DenyList);
    assert_eq!(reading("nope", "allowed_hosts"), Reading::AllowList);
    assert_eq!(reading("nope", "limit"), Reading::Value);
    // The one name the old list had that no kind declares.
    assert_eq!(reading("rule", "rationale"), Reading::Value);
    for name in [
        "because",
        "narrative",
        "levels",
        "order",
        "bounds",
        "prod_allowlist",
        "x_deny",
    ] {
        assert_eq!(reading("nope", name), by_old_lists(name, false), "{name}");
    }
}

#[test]
fn constants_read_by_name() {
    for name in [
        "prod_allowlist",
        "deny_roles",
        "risk_levels",
        "tls_order",
        "score_bounds",
        "approver_roles",
        "mass_delete_rows",
        "description",
    ] {
        assert_eq!(constant_reading(name), by_old_lists(name, true), "{name}");
    }
}
