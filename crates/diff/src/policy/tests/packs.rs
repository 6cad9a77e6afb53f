//! Edits that change no meaning give no fact; real packs diff cleanly; parse
//! errors have positions.

use super::*;

#[test]
fn cosmetic_edits_give_nothing() {
    // Comments, layout, spelling of literals, map key order, defaults
    // written out, and the order of items, attributes and blocks.
    let mut b = BASE
        .replace("# Risk levels.", "# The risk levels, highest first.")
        .replace(
            "const mass_delete_rows = 10_000",
            "const mass_delete_rows = 10000 # rows",
        )
        .replace("hold         30m", "hold 1800s")
        .replace(
            "{labels: {sidecar: \"tenet\"}, not_in: {lifecycle: [\"old\"]}}",
            "{not_in: {lifecycle: [\"old\"]},\n    labels: {sidecar: \"tenet\"}}",
        )
        .replace(
            "[dual_control, justification]",
            "[\n    justification,\n    dual_control,\n  ]",
        )
        .replace(
            "  risk  low\n",
            "  risk  low\n  enforcement advisory\n  dry_run false\n",
        )
        .replace(
            "action.verb == \"delete\" and action.rows",
            "action.verb == \"delete\"\n               and action.rows",
        );
    // Move the first test block to the end and the two constants around.
    let t = BASE.find("test t-one {").unwrap_or(0);
    let end = BASE[t..].find("\n}\n").map_or(0, |i| t + i + 3);
    let block = &BASE[t..end];
    b = b.replacen(block, "", 1);
    b.push_str(&format!("\n{block}"));
    b = b.replacen("const hold_time = 30m\n", "", 1).replacen(
        "import shared\n",
        "import shared\nconst hold_time = 30m\n",
        1,
    );
    // Swap the two attributes of the hysteresis block and the two factors' order.
    b = b.replacen(
        "      enter 85\n      exit  80\n",
        "      exit 80\n      enter 85\n",
        1,
    );
    assert_ne!(b, BASE);
    let ch = run(BASE, &b);
    assert!(ch.is_empty(), "{ch:#?}");
    let d = crate::detect(
        crate::ArtifactType::Policy,
        Some(BASE),
        Some(&b),
        &Options::default(),
    );
    let kinds: Vec<String> = d
        .map(|v| v.into_iter().map(|c| c.kind).collect())
        .unwrap_or_default();
    assert_eq!(kinds, vec!["comment.changed".to_string()]);
}

#[test]
fn formatted_pack_gives_nothing() {
    let messy = "tenet 1\npack p version \"1.0.0\"\nrule   r   {\n when input.a>1   and\n   input.b<2\n    risk    high # why\n}\n";
    let pack = syntax::parse_with_comments(FileId(0), messy);
    let formatted = pack
        .map(|p| tenet_dsl::fmt::format(&p, messy))
        .unwrap_or_default();
    assert!(!formatted.is_empty() && formatted != messy);
    assert!(run(messy, &formatted).is_empty());
}

const PACKS: &[&str] = &[
    include_str!("../../../../../rules/semantic-diff/semantic_diff.tenet"),
    include_str!("../../../../../rules/safety-workflows/safety.tenet"),
    include_str!("../../../../../rules/autoconfig/autoconfig.tenet"),
    include_str!("../../../../../rules/rtx-export/rtx_export.tenet"),
    include_str!("../../../../../rules/dark-inventory/dark_inventory.tenet"),
    include_str!("../../../../../rules/meta-monitor/meta_monitor.tenet"),
    include_str!("../../../../../rules/tenant-benchmark/tenant_benchmark.tenet"),
    include_str!("../../../../../rules/control-plane/control_plane.tenet"),
    include_str!("../../../../../rules/server/server.tenet"),
];

#[test]
fn real_packs_reformatted_or_reversed_give_nothing() {
    for text in PACKS {
        // Every comment line dropped, then laid out by `tenet fmt`.
        let stripped: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(run(text, &stripped).is_empty());
        let formatted = syntax::parse_with_comments(FileId(0), &stripped)
            .map(|p| tenet_dsl::fmt::format(&p, &stripped))
            .unwrap_or_default();
        assert!(run(text, &formatted).is_empty());
        // The top-level items in reverse order.
        let Ok(pack) = parse(text) else {
            panic!("real pack does not parse")
        };
        let mut items: Vec<&str> = pack
            .items
            .iter()
            .map(|i| &text[i.span().start as usize..i.span().end as usize])
            .collect();
        items.reverse();
        let head = &text[..pack.items.first().map_or(0, |i| i.span().start as usize)];
        let reversed = format!("{head}{}\n", items.join("\n\n"));
        let ch = run(text, &reversed);
        assert!(ch.is_empty(), "{ch:#?}");
    }
    // Different packs diff without trouble.
    for a in PACKS {
        for b in PACKS {
            let ch = run(a, b);
            assert_eq!(ch.is_empty(), a == b);
        }
    }
}

#[test]
fn real_pack() {
    let text = include_str!("../../../../../rules/safety-workflows/safety.tenet");
    assert!(parse(text).is_ok());
    let c = only(
        &run(text, &text.replace("approve 2", "approve 3")),
        "threshold.changed",
    );
    assert_eq!(
        c.path,
        "safety.action mass-delete.quorum oncall-pair.approve"
    );
    assert!(c.line_before.is_some_and(|l| l > 1));
    let cp = include_str!("../../../../../rules/control-plane/control_plane.tenet");
    let c = only(
        &run(
            cp,
            &cp.replace("max_parallel        25%", "max_parallel        50%"),
        ),
        "threshold.changed",
    );
    assert_eq!(
        c.path,
        "control_plane.rollout policy-bundle.stage regional.max_parallel"
    );
    let ch = run(cp, &cp.replace("  \"prod-us-east-1b\",\n", ""));
    let n = only(&ch, "policy.allow_narrowed");
    assert_eq!(f(&n, "value"), json!("prod-us-east-1b"));
}

#[test]
fn parse_errors_have_positions() {
    let bad = BASE.replacen("  when  input.x > 1\n", "  when  input.x > > 1\n", 1);
    let mut out = Changes::default();
    let e = diff(&bad, BASE, &Options::default(), &mut out).err();
    let e = e.unwrap_or_else(|| panic!("base should not parse"));
    assert_eq!(e.side, crate::Side::Base);
    let line = BASE
        .lines()
        .position(|l| l == "  when  input.x > 1")
        .map(|i| i as u32 + 1);
    assert_eq!(Some(e.error.line), line);
    assert!(e.error.col > 1);
    assert!(!e.error.message.is_empty());
    let e = diff(
        BASE,
        "tenet 1\npack p version \"x\"\n",
        &Options::default(),
        &mut out,
    )
    .err();
    let e = e.unwrap_or_else(|| panic!("head should not parse"));
    assert_eq!(e.side, crate::Side::Head);
    assert_eq!((e.error.line, e.error.col), (2, 16));
    assert!(
        e.error.message.contains("semantic version"),
        "{}",
        e.error.message
    );
    assert!(parse("tenet 1\npack p version \"1.0.0\"\nrule r {\n").is_err());
}
