//! The change kinds: every `kind` a detector can emit, declared once.
//!
//! In: nothing. Out: [`KINDS`], one [`KindDoc`] per kind (its name, the
//! artifact types that emit it and what it means). [`Change::new`] refuses
//! an undeclared kind in debug builds, so a detector cannot emit one that is
//! not here; the tests below hold every declared kind to a rule of the
//! bundled `semantic_diff` pack, to a fixture, and to the catalogue in
//! `docs/semantic-diff.md`, which is generated from this table
//! ([`catalogue`]).
//!
//! Not to be confused with [`crate::kind`], which tells an artifact's type.
//!
//! [`Change::new`]: crate::change::Change::new

use crate::change::ArtifactType::{
    self, Config, Flags, Graphql, JsonSchema, Openapi, Policy, Prompt,
};

/// One change kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDoc {
    /// The stable name facts carry (`field.removed`).
    pub name: &'static str,
    /// The artifact types whose detectors emit it.
    pub artifacts: &'static [ArtifactType],
    /// What changed, in one line.
    pub doc: &'static str,
}

const ANY: &[ArtifactType] = &ArtifactType::ALL;
/// Schemas: OpenAPI reads its schemas with the JSON Schema detector.
const SCHEMAS: &[ArtifactType] = &[Openapi, JsonSchema];
const TYPED: &[ArtifactType] = &[Openapi, JsonSchema, Graphql];
/// Trees compared as configuration: configuration files, the non-schema
/// parts of OpenAPI documents and the unmodelled keys of prompts.
const TREES: &[ArtifactType] = &[Config, Openapi, Prompt];

const fn k(name: &'static str, artifacts: &'static [ArtifactType], doc: &'static str) -> KindDoc {
    KindDoc {
        name,
        artifacts,
        doc,
    }
}

/// Every change kind, grouped by what it is about.
pub static KINDS: &[KindDoc] = &[
    // ---- whole artifacts and layout
    k("artifact.added", ANY, "The artifact is new in the head."),
    k("artifact.removed", ANY, "The artifact is gone from the head."),
    k("comment.changed", ANY, "Only comments differ: the meaning is equal."),
    k("whitespace.changed", ANY, "Only layout differs (whitespace, quoting, key order): the meaning is equal."),
    k("description.changed", &[Openapi, JsonSchema, Graphql, Policy], "A description or other text for people changed."),
    k("metadata.changed", &[Policy, Prompt, Flags], "Metadata changed (tags, authors, samples, flag metadata)."),
    k("extension.changed", SCHEMAS, "A vendor extension (`x-...`) changed."),
    // ---- fields, types and values of schemas
    k("field.added", TYPED, "A property, object field or input field was added (`required` says whether it must be sent)."),
    k("field.removed", TYPED, "A property, object field or input field was removed."),
    k("field.renamed", TYPED, "A removed and an added field that look alike: a guessed rename, or a declared one (`x-renamed-from`, `x-aliases`)."),
    k("field.became_required", SCHEMAS, "A property became required."),
    k("field.became_optional", SCHEMAS, "A property is no longer required."),
    k("field.type_changed", &[Graphql], "A GraphQL field or input field changed type (nullability facts say how)."),
    k("field.deprecated", TYPED, "A field was marked deprecated."),
    k("field.undeprecated", TYPED, "A field is no longer deprecated."),
    k("type.changed", &[Openapi, JsonSchema, Config, Prompt], "A value changed type in a way that is neither a widening nor a narrowing."),
    k("type.widened", SCHEMAS, "A schema accepts more types (`integer` → `number`, a type added to a list)."),
    k("type.narrowed", SCHEMAS, "A schema accepts fewer types."),
    k("constraint.tightened", SCHEMAS, "A constraint accepts fewer values (`maxLength` lowered, `minimum` raised, a `pattern` added)."),
    k("constraint.loosened", SCHEMAS, "A constraint accepts more values."),
    k("constraint.changed", SCHEMAS, "A constraint changed in no clear direction (a different `pattern` or `format`)."),
    k("enum.value_added", &[Openapi, JsonSchema, Graphql, Prompt], "An enum gained a value."),
    k("enum.value_removed", &[Openapi, JsonSchema, Graphql, Prompt], "An enum lost a value."),
    k("enum.value_deprecated", &[Graphql], "A GraphQL enum value was marked deprecated."),
    k("enum.value_undeprecated", &[Graphql], "A GraphQL enum value is no longer deprecated."),
    k("default.changed", TYPED, "A default value changed."),
    k("composition.branch_added", SCHEMAS, "An `allOf`, `oneOf` or `anyOf` gained a branch."),
    k("composition.branch_removed", SCHEMAS, "An `allOf`, `oneOf` or `anyOf` lost a branch."),
    k("keyword.changed", SCHEMAS, "Another schema keyword changed (an applicator such as `additionalProperties`, `items`, `not`)."),
    // ---- OpenAPI operations
    k("operation.added", &[Openapi], "An operation (method and path) was added."),
    k("operation.removed", &[Openapi], "An operation was removed."),
    k("operation.deprecated", &[Openapi], "An operation was marked deprecated."),
    k("operation.id_changed", &[Openapi], "An operation's `operationId` changed (generated clients rename the call)."),
    k("parameter.added", &[Openapi], "An optional parameter was added."),
    k("parameter.required_added", &[Openapi], "A required parameter was added."),
    k("parameter.removed", &[Openapi], "A parameter was removed."),
    k("parameter.became_required", &[Openapi], "A parameter became required."),
    k("parameter.became_optional", &[Openapi], "A parameter is no longer required."),
    k("request_body.added", &[Openapi], "An operation now takes a request body (`required` says whether it must be sent)."),
    k("request_body.removed", &[Openapi], "An operation no longer takes a request body."),
    k("request_body.became_required", &[Openapi], "A request body became required."),
    k("request_body.became_optional", &[Openapi], "A request body is no longer required."),
    k("response.added", &[Openapi], "An operation has a new response status."),
    k("response.removed", &[Openapi], "A response status was removed."),
    k("header.added", &[Openapi], "A response header was added."),
    k("header.removed", &[Openapi], "A response header was removed."),
    k("header.became_optional", &[Openapi], "A response header is no longer guaranteed."),
    k("media_type.added", &[Openapi], "A request or response media type was added."),
    k("media_type.removed", &[Openapi], "A request or response media type was removed."),
    k("security.changed", &[Openapi], "The security requirements of the API or an operation changed."),
    // ---- GraphQL
    k("type.added", &[Graphql], "A GraphQL type was added (with its fields)."),
    k("type.removed", &[Graphql], "A GraphQL type was removed (with its fields)."),
    k("type.kind_changed", &[Graphql], "A GraphQL type changed kind (an object became an interface...)."),
    k("argument.added", &[Graphql], "A field argument was added (`required` says whether it must be given)."),
    k("argument.removed", &[Graphql], "A field argument was removed."),
    k("argument.type_changed", &[Graphql], "A field argument changed type."),
    k("argument.deprecated", &[Graphql], "An argument was marked deprecated."),
    k("argument.undeprecated", &[Graphql], "An argument is no longer deprecated."),
    k("deprecation.reason_changed", &[Graphql], "The reason of a `@deprecated` changed."),
    k("union.member_added", &[Graphql], "A union gained a member type."),
    k("union.member_removed", &[Graphql], "A union lost a member type."),
    k("interface.added", &[Graphql], "A type now implements an interface."),
    k("interface.removed", &[Graphql], "A type no longer implements an interface."),
    k("directive.added", &[Graphql], "A directive definition was added."),
    k("directive.removed", &[Graphql], "A directive definition was removed."),
    k("directive.argument_added", &[Graphql], "A directive definition gained an argument."),
    k("directive.argument_removed", &[Graphql], "A directive definition lost an argument."),
    k("directive.location_added", &[Graphql], "A directive may be used in a new location."),
    k("directive.location_removed", &[Graphql], "A directive may no longer be used in a location."),
    k("directive.repeatable_changed", &[Graphql], "A directive became repeatable or stopped being so."),
    k("directive.usage_added", &[Graphql], "A directive was applied to an element (`@oneOf`, `@auth`...)."),
    k("directive.usage_removed", &[Graphql], "A directive applied to an element was removed."),
    k("directive.usage_changed", &[Graphql], "The arguments of an applied directive changed."),
    k("schema.root_changed", &[Graphql], "A root operation type (query, mutation, subscription) changed."),
    // ---- configuration trees
    k("config.key_added", TREES, "A key was added to a map."),
    k("config.key_removed", TREES, "A key was removed from a map."),
    k("config.value_changed", TREES, "A scalar value changed."),
    k("config.item_added", TREES, "An item was added to a list."),
    k("config.item_removed", TREES, "An item was removed from a list."),
    k("order.changed", &[Config, Openapi, Prompt, Flags], "Items were reordered (`significant` when the list has no keys, so order may matter)."),
    // ---- tenet packs
    k("policy.version_changed", &[Policy], "The pack's version changed (`bump` says how)."),
    k("policy.pack_renamed", &[Policy], "The pack's name changed."),
    k("policy.import_added", &[Policy], "The pack imports another pack."),
    k("policy.import_removed", &[Policy], "The pack no longer imports a pack."),
    k("policy.constant_added", &[Policy], "A constant was added."),
    k("policy.constant_removed", &[Policy], "A constant was removed."),
    k("policy.constant_changed", &[Policy], "A constant's value changed (with where the head uses it)."),
    k("policy.block_added", &[Policy], "A block (rule, action, guard...) was added."),
    k("policy.block_removed", &[Policy], "A block was removed."),
    k("policy.block_reordered", &[Policy], "Blocks that run in order (rollout stages) were reordered."),
    k("policy.condition_changed", &[Policy], "A condition (`when`, `match`, `deny_when`...) changed."),
    k("policy.risk_changed", &[Policy], "A risk or severity level changed (`raised` says which way)."),
    k("policy.requirement_added", &[Policy], "An element was added to a list (a required control, an approver)."),
    k("policy.requirement_removed", &[Policy], "An element was removed from a list."),
    k("policy.allow_widened", &[Policy], "An allow list gained an element: more may pass."),
    k("policy.allow_narrowed", &[Policy], "An allow list lost an element."),
    k("policy.deny_widened", &[Policy], "A deny list gained an element: more is stopped."),
    k("policy.deny_narrowed", &[Policy], "A deny list lost an element."),
    k("policy.enforcement_changed", &[Policy], "A block's enforcement changed (`lowered` says which way)."),
    k("policy.dry_run_changed", &[Policy], "A block was put in or out of dry run."),
    k("threshold.changed", &[Policy], "A number, duration, percentage or size changed (`increased` says which way)."),
    k("policy.field_added", &[Policy], "A field was written where it was absent and has no default."),
    k("policy.field_removed", &[Policy], "A field with no default was removed."),
    k("policy.field_changed", &[Policy], "Another field changed."),
    k("policy.waiver_added", &[Policy], "A waiver was added."),
    k("policy.waiver_removed", &[Policy], "A waiver was removed."),
    k("policy.waiver_changed", &[Policy], "A waiver changed (`extended` when it expires later)."),
    k("policy.test_changed", &[Policy], "A rule test was added, removed or changed."),
    // ---- prompts
    k("prompt.added", &[Prompt], "A prompt was added to a library."),
    k("prompt.removed", &[Prompt], "A prompt was removed from a library."),
    k("prompt.model_changed", &[Prompt], "The model changed."),
    k("prompt.config_changed", &[Prompt], "A model setting (temperature, token limit...) changed."),
    k("prompt.tool_added", &[Prompt], "The model may call a new tool (`side_effects` when known)."),
    k("prompt.tool_removed", &[Prompt], "A tool was removed."),
    k("prompt.tool_changed", &[Prompt], "A tool's declaration changed."),
    k("prompt.input_added", &[Prompt], "An input was added (`required` says whether it must be given)."),
    k("prompt.input_removed", &[Prompt], "An input was removed."),
    k("prompt.input_type_changed", &[Prompt], "An input changed type."),
    k("prompt.input_required_changed", &[Prompt], "An input became required or optional."),
    k("prompt.input_default_changed", &[Prompt], "An input's default changed."),
    k("prompt.output_changed", &[Prompt], "The output format or schema changed (`change` says what)."),
    k("prompt.instruction_added", &[Prompt], "A sentence or line was added to the template (`value`)."),
    k("prompt.instruction_removed", &[Prompt], "A sentence or line was removed from the template (`value`)."),
    k("prompt.variable_added", &[Prompt], "The template reads a new variable."),
    k("prompt.variable_removed", &[Prompt], "The template no longer reads a variable."),
    // ---- feature flags
    k("flag.added", &[Flags], "A flag was added."),
    k("flag.removed", &[Flags], "A flag was removed."),
    k("flag.state_changed", &[Flags], "A flag was enabled or disabled."),
    k("flag.default_changed", &[Flags], "A flag's default variant changed."),
    k("flag.variant_added", &[Flags], "A flag gained a variant."),
    k("flag.variant_removed", &[Flags], "A flag lost a variant (`referenced` when targeting still names it)."),
    k("flag.variant_value_changed", &[Flags], "A variant's value changed."),
    k("flag.variant_type_changed", &[Flags], "A variant's value changed type."),
    k("flag.targeting_changed", &[Flags], "A flag's targeting rules changed."),
    k("flag.rollout_changed", &[Flags], "A fractional rollout's split changed."),
];

/// The declaration of a kind.
pub fn lookup(name: &str) -> Option<&'static KindDoc> {
    KINDS.iter().find(|k| k.name == name)
}

/// Whether a detector may emit `name`.
pub fn is_declared(name: &str) -> bool {
    lookup(name).is_some()
}

/// The Markdown kind catalogue of `docs/semantic-diff.md`, one table row
/// per kind in table order.
pub fn catalogue() -> String {
    let mut s = String::from("| kind | artifacts | what changed |\n|---|---|---|\n");
    for k in KINDS {
        let artifacts = if k.artifacts == ANY {
            "any".to_string()
        } else {
            k.artifacts
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!("| `{}` | {artifacts} | {} |\n", k.name, k.doc));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
