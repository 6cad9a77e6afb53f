//! Setting comparators (`tenet_dsl::compare`): kube-bench's semantics
//! where it has the same test (`../shared/research/baselines.md`),
//! typed comparisons that fail closed, the smallest change that never
//! lowers protection, and which requirement tightens which.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use tenet_dsl::compare::{bits, Change, Comparator, Judgement};
use tenet_dsl::value::Value;

fn s(x: &str) -> Value {
    Value::str(x)
}

fn l(xs: &[&str]) -> Value {
    Value::List(Arc::new(xs.iter().map(|x| s(x)).collect()))
}

fn c(fields: &[(&str, Value)]) -> Comparator {
    Comparator::from_fields(fields).unwrap()
}

fn ok(c: &Comparator, live: Value) -> bool {
    c.judge(Some(&live)) == Judgement::Satisfied
}

#[test]
fn permission_bits_pass_only_as_a_subset_as_kube_bench() {
    // Against 644: 640, 600 and 444 pass; 777 and 211 fail.
    let b = c(&[("bits_at_most", s("644"))]);
    for live in ["640", "600", "444", "644", "0600"] {
        assert!(ok(&b, s(live)), "{live}");
    }
    for live in ["777", "211", "664"] {
        assert!(!ok(&b, s(live)), "{live}");
    }
    // A number written in octal digits reads the same.
    assert!(ok(&b, Value::Int(600)));
    // Not octal: fail closed, saying so.
    match b.judge(Some(&s("rw-r--r--"))) {
        Judgement::Invalid(why) => assert!(why.contains("not octal permission bits"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(bits(&s("0o750")), Some(0o750));
    assert_eq!(bits(&s("8")), None);
    // The change keeps only the allowed bits: 666 against 644 is 644.
    match b.tighten(Some(&s("666"))) {
        Change::Set(v) => assert_eq!(v.to_string(), s("644").to_string()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ordered_values_compare_in_their_own_type_and_fail_closed() {
    let tls = c(&[
        ("at_least", s("1.2")),
        ("order", l(&["1.0", "1.1", "1.2", "1.3"])),
    ]);
    assert!(ok(&tls, s("1.3")));
    assert!(ok(&tls, s("1.2")));
    assert!(!ok(&tls, s("1.1")));
    // Not in the order: fail closed (kube-bench fails closed on what does
    // not parse, and so does tenet, saying why).
    match tls.judge(Some(&s("TLSv1.2"))) {
        Judgement::Invalid(why) => assert!(why.contains("not one of the ordered values"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Durations as durations: "45m" is above 30m; a bare number is refused.
    let idle = c(&[("at_most", Value::Duration(30 * 60_000))]);
    assert!(ok(&idle, s("15m")));
    assert!(!ok(&idle, s("45m")));
    match idle.judge(Some(&Value::Int(1800))) {
        Judgement::Invalid(why) => assert!(why.contains("not a duration"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Numbers: "1.5" reads as 1.5 (kube-bench would fail it: it reads integers only).
    let n = c(&[("at_least", Value::Int(2))]);
    assert!(!ok(&n, s("1.5")));
    assert!(ok(&n, Value::Float(2.0)));
    match n.judge(Some(&s(""))) {
        Judgement::Invalid(_) => {}
        other => panic!("an empty value fails closed: {other:?}"),
    }
}

#[test]
fn lists_strings_and_presence() {
    // subset_of is kube-bench's valid_elements, on real lists.
    let ciphers = c(&[("subset_of", l(&["aes256-gcm", "chacha20"]))]);
    assert!(ok(&ciphers, l(&["chacha20"])));
    assert!(ok(&ciphers, l(&[])));
    assert!(!ok(&ciphers, l(&["chacha20", "rc4"])));
    match ciphers.tighten(Some(&l(&["chacha20", "rc4"]))) {
        Change::Set(v) => assert_eq!(v.to_string(), l(&["chacha20"]).to_string()),
        other => panic!("{other:?}"),
    }
    // contains / excludes are list membership (kube-bench's has/nothave are substrings).
    let admission = c(&[("contains", l(&["NodeRestriction"]))]);
    assert!(!ok(&admission, l(&["NodeRestrictionX"])));
    match admission.tighten(Some(&l(&["PodSecurity"]))) {
        Change::Set(v) => assert_eq!(
            v.to_string(),
            l(&["PodSecurity", "NodeRestriction"]).to_string()
        ),
        other => panic!("{other:?}"),
    }
    let ex = c(&[("excludes", s("AlwaysAdmit"))]);
    assert!(!ok(&ex, l(&["AlwaysAdmit", "X"])));
    assert!(ok(&ex, l(&["X"])));
    // matches: an unanchored search, as kube-bench's regex.
    let m = c(&[("matches", s("^https://"))]);
    assert!(ok(&m, s("https://idp")));
    assert!(!ok(&m, s("http://idp")));
    assert!(matches!(
        m.tighten(Some(&s("http://idp"))),
        Change::Refuse(_)
    ));
    // present / absent: a missing setting fails `present` and passes `absent`.
    let p = c(&[("present", Value::Bool(true))]);
    assert!(!matches!(p.judge(None), Judgement::Satisfied));
    let a = c(&[("absent", Value::Bool(true))]);
    assert_eq!(a.judge(None), Judgement::Satisfied);
    assert!(matches!(a.tighten(Some(&s("x"))), Change::Remove));
    // not_equals: "" not_equals "" is false, as kube-bench.
    let ne = c(&[("not_equals", s(""))]);
    assert!(!ok(&ne, s("")));
}

#[test]
fn a_change_never_lowers_protection() {
    // equals "1.2" with an order, live "1.3": stricter; refused, not lowered.
    let e = c(&[
        ("equals", s("1.2")),
        ("order", l(&["1.0", "1.1", "1.2", "1.3"])),
    ]);
    match e.tighten(Some(&s("1.3"))) {
        Change::Refuse(why) => assert!(why.contains("stricter"), "{why}"),
        other => panic!("{other:?}"),
    }
    // at_least below: raised to the baseline; above: kept.
    let a = c(&[("at_least", Value::Duration(90 * 86_400_000))]);
    assert!(matches!(
        a.tighten(Some(&s("30d"))),
        Change::Set(Value::Duration(_))
    ));
    assert!(matches!(a.tighten(Some(&s("365d"))), Change::Keep));
    // Missing: added (add-if-absent).
    assert!(matches!(a.tighten(None), Change::Set(_)));
    // A live value that does not read is left for a person.
    assert!(matches!(a.tighten(Some(&s("a while"))), Change::Refuse(_)));
}

#[test]
fn which_requirement_tightens_which() {
    let order = l(&["1.0", "1.1", "1.2", "1.3"]);
    let tls = |v: &str| c(&[("at_least", s(v)), ("order", order.clone())]);
    assert!(tls("1.3").tightens(&tls("1.2")).is_ok());
    assert!(tls("1.1")
        .tightens(&tls("1.2"))
        .unwrap_err()
        .contains("below"));
    let most = |m: i64| c(&[("at_most", Value::Duration(m * 60_000))]);
    assert!(most(15).tightens(&most(30)).is_ok());
    assert!(most(60).tightens(&most(30)).unwrap_err().contains("above"));
    let one = |xs: &[&str]| c(&[("one_of", l(xs))]);
    assert!(one(&["hsm"]).tightens(&one(&["hsm", "cmk"])).is_ok());
    assert!(one(&["hsm", "provider"])
        .tightens(&one(&["hsm", "cmk"]))
        .is_err());
    let bitsc = |b: &str| c(&[("bits_at_most", s(b))]);
    assert!(bitsc("600").tightens(&bitsc("644")).is_ok());
    assert!(bitsc("660").tightens(&bitsc("644")).is_err());
    // Another comparator is not a tightening.
    assert!(c(&[("equals", s("1.3"))]).tightens(&tls("1.2")).is_err());
    // An error names the problem in from_fields.
    assert!(
        Comparator::from_fields(&[("at_least", s("1")), ("at_most", s("2"))])
            .unwrap_err()
            .contains("2 comparators")
    );
    assert!(
        Comparator::from_fields(&[("contains", s("x")), ("order", order.clone())])
            .unwrap_err()
            .contains("`order` ranks values")
    );
    assert!(
        Comparator::from_fields(&[("at_least", s("2.0")), ("order", order)])
            .unwrap_err()
            .contains("not in its `order`")
    );
}
