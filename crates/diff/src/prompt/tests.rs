//! The facts of prompt pairs, cosmetic edits that give none, and odd
//! inputs that must not panic.

use super::instructions::lcs;
use super::*;
use crate::change::Direction;
use crate::test_util::{fact, kinds, one};
use serde_json::Value as Json;

fn run(a: &str, b: &str) -> Vec<Change> {
    let mut out = Changes::default();
    diff(a, b, &Options::default(), &mut out).unwrap();
    out.0
}

const DOT: &str = r#"---
model: googleai/gemini-1.5-pro
config:
  temperature: 0.2
  maxOutputTokens: 400
tools: [lookupOrder, issueRefund]
input:
  schema:
    name: string, the user's name
    question: string
    limit?: integer
    tier(enum): [free, pro]
  default:
    limit: 5
output:
  format: json
  schema:
    answer: string
    sources?(array): string
metadata:
  owner: support
---
{{! internal note }}
{{role "system"}}
You are a support agent for {{company}}. Never share other customers' orders.
Answer briefly.

{{role "user"}}
{{name}} asks: {{question}}
"#;

fn edit(from: &str, to: &str) -> String {
    assert!(DOT.contains(from), "{from}");
    DOT.replacen(from, to, 1)
}

#[test]
fn dotprompt_cosmetic_edits_yield_nothing() {
    let b = r#"---
# settings
metadata:
  owner: support
config:
  maxOutputTokens: 400
  temperature: 0.2   # low
model: googleai/gemini-1.5-pro
input:
  default: {limit: 5}
  schema:
    name: string, the user's name
    question: string
    limit?: integer
    tier(enum): [free, pro]
tools:
  - lookupOrder
  - issueRefund
output:
  schema:
    answer: string
    sources?(array): string
  format: json
---
{{!-- a different,
   longer note --}}
{{ role "system" }}
You are a support agent for {{ company }}.
Never share other
customers' orders.    Answer briefly.
{{role "user"}}   {{~! trailing note ~}}
{{name}} asks: {{ question }}
"#;
    assert_eq!(run(DOT, b), vec![], "{:#?}", run(DOT, b));
    // The pipeline then reports one comment fact.
    let all = super::super::detect(
        super::super::ArtifactType::Prompt,
        Some(DOT),
        Some(b),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(kinds(&all), ["comment.changed"]);
}

#[test]
fn model_and_config_changes() {
    let b = edit("gemini-1.5-pro", "gemini-2.0-flash")
        .replace("temperature: 0.2", "temperature: 0.9\n  topK: 40");
    let cs = run(DOT, &b);
    assert_eq!(
        kinds(&cs),
        [
            "prompt.model_changed",
            "prompt.config_changed",
            "prompt.config_changed"
        ]
    );
    let m = one(&cs, "prompt.model_changed", "(prompt).model");
    assert_eq!(
        (m.from.clone(), m.to.clone()),
        (
            Json::from("googleai/gemini-1.5-pro"),
            Json::from("googleai/gemini-2.0-flash")
        )
    );
    assert_eq!(m.line_before, Some(2));
    let t = one(&cs, "prompt.config_changed", "(prompt).config.temperature");
    assert_eq!(
        (fact(t, "name"), t.from.as_f64(), t.to.as_f64()),
        (&Json::from("temperature"), Some(0.2), Some(0.9))
    );
    let k = one(&cs, "prompt.config_changed", "(prompt).config.topK");
    assert_eq!((k.from.clone(), k.to.clone()), (Json::Null, Json::from(40)));
}

#[test]
fn tools_added_removed_with_side_effects() {
    let b = edit(
            "tools: [lookupOrder, issueRefund]",
            "tools:\n  - lookupOrder\n  - {name: sendEmail, side_effects: true}\n  - {name: searchDocs, read_only: true}",
        );
    let cs = run(DOT, &b);
    assert_eq!(
        kinds(&cs),
        [
            "prompt.tool_removed",
            "prompt.tool_added",
            "prompt.tool_added"
        ]
    );
    let r = one(&cs, "prompt.tool_removed", "(prompt).tools.issueRefund");
    assert_eq!(fact(r, "name"), "issueRefund");
    assert!(!r.facts.contains_key("side_effects"));
    assert_eq!(
        fact(
            one(&cs, "prompt.tool_added", "(prompt).tools.sendEmail"),
            "side_effects"
        ),
        &Json::Bool(true)
    );
    let s = one(&cs, "prompt.tool_added", "(prompt).tools.searchDocs");
    assert_eq!(
        (fact(s, "side_effects"), s.line_after),
        (&Json::Bool(false), Some(9))
    );
    // A plain name has unknown side effects.
    let cs = run(DOT, &edit("issueRefund]", "issueRefund, cancelOrder]"));
    let c = one(&cs, "prompt.tool_added", "(prompt).tools.cancelOrder");
    assert!(!c.facts.contains_key("side_effects"));
}

#[test]
fn input_schema_changes_are_request_facts() {
    let b = edit(
        "    question: string\n    limit?: integer\n",
        "    question: integer\n    email: string\n    tone?: string\n",
    )
    .replace(
        "tier(enum): [free, pro]",
        "tier(enum): [free, pro, enterprise]",
    );
    let cs = run(DOT, &b);
    let t = one(&cs, "prompt.input_type_changed", "(prompt).input.question");
    assert_eq!(
        (t.direction, t.from.clone(), t.to.clone()),
        (Some(Direction::Request), "string".into(), "integer".into())
    );
    let r = one(&cs, "prompt.input_removed", "(prompt).input.limit");
    assert_eq!(
        (r.direction, fact(r, "required")),
        (Some(Direction::Request), &Json::Bool(false))
    );
    let e = one(&cs, "prompt.input_added", "(prompt).input.email");
    assert_eq!(
        (e.direction, fact(e, "required"), e.to.clone()),
        (Some(Direction::Request), &Json::Bool(true), "string".into())
    );
    assert_eq!(
        fact(
            one(&cs, "prompt.input_added", "(prompt).input.tone"),
            "required"
        ),
        &Json::Bool(false)
    );
    let v = one(&cs, "enum.value_added", "(prompt).input.tier");
    assert_eq!(
        (v.direction, fact(v, "value")),
        (Some(Direction::Request), &Json::from("enterprise"))
    );
    // The default made `limit` optional; removing the default makes it required.
    let b = edit("  default:\n    limit: 5\n", "").replace("limit?: integer", "limit: integer");
    let cs = run(DOT, &b);
    let q = one(&cs, "prompt.input_required_changed", "(prompt).input.limit");
    assert_eq!(
        (q.from.clone(), q.to.clone()),
        (Json::Bool(false), Json::Bool(true))
    );
    one(&cs, "prompt.input_default_changed", "(prompt).input.limit");
}

#[test]
fn output_changes_are_response_facts() {
    let b = edit("format: json", "format: text")
        .replace("    sources?(array): string\n", "    score: number\n");
    let cs = run(DOT, &b);
    let f = one(&cs, "prompt.output_changed", "(prompt).output.format");
    assert_eq!(
        (f.direction, f.from.clone(), f.to.clone()),
        (Some(Direction::Response), "json".into(), "text".into())
    );
    let r = one(&cs, "prompt.output_changed", "(prompt).output.sources");
    assert_eq!(
        (fact(r, "change"), r.from.clone()),
        (&Json::from("field_removed"), Json::from("array<string>"))
    );
    let a = one(&cs, "prompt.output_changed", "(prompt).output.score");
    assert_eq!(
        (a.direction, fact(a, "change")),
        (Some(Direction::Response), &Json::from("field_added"))
    );
}

#[test]
fn removed_refusal_sentence_is_in_value() {
    let b = edit(" Never share other customers' orders.", "");
    let cs = run(DOT, &b);
    assert_eq!(kinds(&cs), ["prompt.instruction_removed"]);
    let c = &cs[0];
    assert_eq!(c.path, "(prompt).system");
    assert_eq!(fact(c, "value"), "Never share other customers' orders.");
    assert_eq!(
        (fact(c, "role"), c.line_before),
        (&Json::from("system"), Some(25))
    );
}

#[test]
fn edited_sentence_is_removed_plus_added() {
    let b = edit("Answer briefly.", "Answer in detail, citing sources.");
    let cs = run(DOT, &b);
    assert_eq!(
        kinds(&cs),
        ["prompt.instruction_removed", "prompt.instruction_added"]
    );
    assert_eq!(fact(&cs[0], "value"), "Answer briefly.");
    assert_eq!(fact(&cs[1], "value"), "Answer in detail, citing sources.");
    assert_eq!((cs[0].line_before, cs[1].line_after), (Some(26), Some(26)));
    // Re-wrapping the neighbours as well still reports only the edit.
    let b = edit(
            "You are a support agent for {{company}}. Never share other customers' orders.\nAnswer briefly.",
            "You are a support\nagent for {{company}}.\nNever share other customers'\norders. Answer tersely.",
        );
    let cs = run(DOT, &b);
    assert_eq!(
        kinds(&cs),
        ["prompt.instruction_removed", "prompt.instruction_added"]
    );
    assert_eq!(fact(&cs[1], "value"), "Answer tersely.");
    // Moving a sentence to another role is a change.
    let b = edit(" Never share other customers' orders.", "").replace(
        "{{name}} asks",
        "Never share other customers' orders.\n{{name}} asks",
    );
    let cs = run(DOT, &b);
    assert_eq!(
        kinds(&cs),
        ["prompt.instruction_removed", "prompt.instruction_added"]
    );
    assert_eq!(
        (cs[0].path.as_str(), cs[1].path.as_str()),
        ("(prompt).system", "(prompt).user")
    );
}

#[test]
fn variables_added_and_removed() {
    let b = edit("for {{company}}.", "for our shop.")
        .replace("{{question}}", "{{question}} (order {{ order.id }})");
    let cs = run(DOT, &b);
    let r = one(&cs, "prompt.variable_removed", "(prompt).variables.company");
    assert_eq!(
        (r.direction, fact(r, "declared")),
        (Some(Direction::Request), &Json::Bool(false))
    );
    let a = one(&cs, "prompt.variable_added", "(prompt).variables.order");
    assert_eq!(
        (fact(a, "name"), a.line_after),
        (&Json::from("order"), Some(29))
    );
    assert!(!a.facts.contains_key("required"));
    assert!(kinds(&cs).contains(&"prompt.instruction_added"));
}

#[test]
fn metadata_changes_are_metadata_facts() {
    let b = edit("owner: support", "owner: platform\n  team: ai")
        .replace("question: string", "question: string, what they ask");
    let cs = run(DOT, &b);
    let m = one(&cs, "metadata.changed", "(prompt).metadata.owner");
    assert_eq!(
        (m.from.clone(), m.to.clone()),
        ("support".into(), "platform".into())
    );
    one(&cs, "metadata.changed", "(prompt).metadata.team");
    one(
        &cs,
        "metadata.changed",
        "(prompt).input.question.description",
    );
    assert_eq!(cs.len(), 3, "{cs:#?}");
}

#[test]
fn front_matter_errors_have_file_lines_on_each_side() {
    let bad = edit("  maxOutputTokens: 400", "  maxOutputTokens: [400");
    let e = diff(&bad, DOT, &Options::default(), &mut Changes::default()).unwrap_err();
    assert_eq!(e.side, super::super::Side::Base);
    assert!((5..=7).contains(&e.error.line), "{e}");
    let bad = edit(
        "metadata:\n  owner: support",
        "metadata:\n  owner: support\n  owner: x",
    );
    let e = diff(DOT, &bad, &Options::default(), &mut Changes::default()).unwrap_err();
    assert_eq!((e.side, e.error.line), (super::super::Side::Head, 22));
    assert!(e.error.message.contains("duplicate"), "{e}");
    let e = parse("---\nmodel: x\nHello\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(parse(DOT).is_ok());
}

const PROMPTY: &str = r#"---
name: Support Agent
description: Answers support questions
authors:
  - alice
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-35-turbo
    azure_endpoint: https://x.openai.azure.com
  parameters:
    max_tokens: 128
    temperature: 0.2
inputs:
  question:
    type: string
  customer:
    type: string
    default: guest
sample:
  question: Where is my order?
---
system:
{# keep this short #}
You are an assistant for {{customer}}.
You must refuse to discuss other customers.

user:
{{ question | trim }}
"#;

#[test]
fn prompty_changes() {
    let b = PROMPTY
        .replace("gpt-35-turbo", "gpt-4o")
        .replace("max_tokens: 128", "max_tokens: 256")
        .replace("    default: guest\n", "")
        .replace(
            "  question:\n",
            "  locale:\n    type: string\n  question:\n",
        )
        .replace("You must refuse to discuss other customers.\n", "")
        .replace("Answers support", "Answers all support")
        .replace("Where is my order?", "Can I get a refund?");
    let cs = run(PROMPTY, &b);
    let m = one(&cs, "prompt.model_changed", "(prompt).model");
    assert_eq!(
        (m.from.clone(), m.to.clone()),
        (
            "azure_openai/gpt-35-turbo".into(),
            "azure_openai/gpt-4o".into()
        )
    );
    let p = one(&cs, "prompt.config_changed", "(prompt).config.max_tokens");
    assert_eq!(
        (p.from.clone(), p.to.clone()),
        (Json::from(128), Json::from(256))
    );
    let l = one(&cs, "prompt.input_added", "(prompt).input.locale");
    assert_eq!(fact(l, "required"), &Json::Bool(true));
    let c = one(
        &cs,
        "prompt.input_required_changed",
        "(prompt).input.customer",
    );
    assert_eq!(c.to, Json::Bool(true));
    let r = one(&cs, "prompt.instruction_removed", "(prompt).system");
    assert_eq!(
        fact(r, "value"),
        "You must refuse to discuss other customers."
    );
    one(&cs, "metadata.changed", "(prompt).description");
    one(&cs, "metadata.changed", "(prompt).sample");
    assert!(!kinds(&cs).contains(&"prompt.instruction_added"), "{cs:#?}");
}

#[test]
fn prompty_cosmetic_edits_yield_nothing() {
    let b = PROMPTY
        .replace("{# keep this short #}", "{# keep this\n   very short #}")
        .replace("{{customer}}", "{{ customer }}")
        .replace("{{ question | trim }}", "{{question|trim}}")
        .replace("name: Support Agent\n", "")
        .replace("sample:", "name: Support Agent  # display\nsample:");
    assert_eq!(run(PROMPTY, &b), vec![]);
    // Prompty role lines and Jinja variables.
    let f = parse(PROMPTY).unwrap();
    assert_eq!(f.format, Format::Prompty);
    let vars: Vec<&str> = f.prompts[0]
        .body
        .variables
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(vars, ["customer", "question"]);
    assert_eq!(f.prompts[0].body.segments[2].role.as_deref(), Some("user"));
}

const LIB: &str = r#"# prompt library
version: 1
prompts:
  greet:
    model: gpt-4o
    template: |
      Greet {{name}} warmly.
      Never mention pricing.
  summarize:
    template: Summarize {{text}} in three bullets.
"#;

#[test]
fn library_entries_added_removed_and_edited() {
    let b = r#"version: 1
prompts:
  greet:
    model: gpt-4o
    template: |
      Greet {{name}} warmly.
  classify:
    template: Classify {{text}}.
    tools: [search]
"#;
    let cs = run(LIB, b);
    assert_eq!(
        kinds(&cs),
        [
            "prompt.instruction_removed",
            "prompt.removed",
            "prompt.added"
        ]
    );
    assert_eq!(
        (cs[0].path.as_str(), fact(&cs[0], "value")),
        ("greet.template", &Json::from("Never mention pricing."))
    );
    assert_eq!(cs[0].line_before, Some(8));
    assert_eq!(
        (cs[1].path.as_str(), cs[1].line_before),
        ("summarize", Some(9))
    );
    assert_eq!(
        (cs[2].path.as_str(), fact(&cs[2], "tools")),
        ("classify", &serde_json::json!(["search"]))
    );
}

#[test]
fn library_list_form_and_reordering_are_equal() {
    let b = r#"prompts:
  - id: summarize
    template: Summarize {{text}}   in three bullets.
  - template: |
      Greet {{name}}
      warmly. Never mention pricing.
    model: gpt-4o   # same model
    id: greet
version: 1
"#;
    assert_eq!(run(LIB, b), vec![]);
    let e = parse("prompts:\n  a:\n    template: [unclosed\n").unwrap_err();
    assert!(e.line >= 3, "{e}");
    let e = parse("prompts: 3\n").unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn library_entry_fields_are_compared() {
    let b = LIB.replace("model: gpt-4o", "model: gpt-4o-mini\n    config: {temperature: 0}\n    input:\n      schema:\n        name: string");
    let cs = run(LIB, &b);
    assert_eq!(
        kinds(&cs),
        [
            "prompt.model_changed",
            "prompt.config_changed",
            "prompt.input_added"
        ]
    );
    assert_eq!(cs[2].path, "greet.input.name");
}

#[test]
fn bare_template_and_lcs() {
    let cs = run("Be kind.\nNever lie.\n", "Be kind.\n\nNever lie!\n");
    assert_eq!(
        kinds(&cs),
        ["prompt.instruction_removed", "prompt.instruction_added"]
    );
    assert_eq!(cs[0].path, "(prompt).template");
    assert_eq!(
        lcs(&[1, 2, 3, 4], &[1, 3, 4, 5], 100),
        Some(vec![(0, 0), (2, 1), (3, 2)])
    );
    assert_eq!(lcs(&[1, 2, 3], &[4, 5, 6], 4), None);
    // Words of a removed sentence scattered elsewhere do not hide it.
    let cs = run("Do not lie. Be kind.", "Do be kind. Not lie.");
    assert!(kinds(&cs).contains(&"prompt.instruction_removed"));
}

#[test]
fn odd_inputs_do_not_panic() {
    let odd = [
            "", "---", "---\n---", "---\n: :\n---\n", "{{", "{{!", "{{!--", "{#", "{%", "}}{{", "{{{x}}", "é{{ü}}ß. Ça va?",
            "1.\n2)\n- \n#", "prompts:\n  - 3\n", "prompts: []\n", "template: [1, {role: 2}]\n", "a(: b\n",
            "---\ninput:\n  schema:\n    (*): string\n    x?(): y\n    \"(\": 1\n---\n{{#each a as |b|}}{{b.c}}{{/each}}",
            "{% for a, b in c %}{{ a | f(d) }}{% endfor %}{{ 'x' }}{{ 1 + y }}",
        ];
    for a in odd {
        for b in odd {
            let _ = diff(a, b, &Options::default(), &mut Changes::default());
        }
    }
}

proptest::proptest! {
    // A fixed seed and saved failures, as every property test (decision 23).
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 200,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7e4e7),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::SourceParallel("proptest-regressions"),
        )),
        ..proptest::prelude::ProptestConfig::default()
    })]
    #[test]
    fn arbitrary_templates_do_not_panic(a in "[-{}!#%~|a-cA-C .?:\n(é)\"]{0,60}", b in "[-{}!#%~|a-cA-C .?:\n(é)\"]{0,60}") {
        let _ = diff(&a, &b, &Options::default(), &mut Changes::default());
        let fm = format!("---\nmodel: x\n---\n{a}");
        let _ = diff(&fm, &b, &Options::default(), &mut Changes::default());
    }
}
