//! Prompts: Dotprompt (`.prompt`), Prompty (`.prompty`) and plain YAML
//! prompt libraries, told apart by content.
//!
//! - **Dotprompt**: YAML front matter between `---` lines (`model`,
//!   `config`, `tools`, `input.schema` in Picoschema or JSON Schema,
//!   `input.default`, `output.format`/`schema`, `metadata`) then a Handlebars
//!   body (`{{! c }}`, `{{!-- c --}}` comments, `{{role "system"}}`).
//! - **Prompty**: front matter (`name`, `description`, `authors`, `model`
//!   {`api`, `configuration`, `parameters`}, `inputs`, `outputs`, `sample`,
//!   `template`) then a Jinja2/Mustache body (`{# c #}` comments, `system:` /
//!   `user:` role lines).
//! - **Library**: a YAML file with top-level `prompts:`, a map of id → entry
//!   or a list of entries with `id` (else `name`); each entry has `template`
//!   (or `prompt`: text, or a list of `{role, content}` messages) and
//!   optionally the keys above. A YAML map with a top-level `template` or
//!   `prompt` text is one entry; any other text is a bare template.
//!
//! Every prompt is read into one model ([`Prompt`]) and compared part by
//! part; paths are `<prompt id or "(prompt)">.<part>`. The body is cut into
//! sentences and lines (comments stripped, whitespace collapsed, template
//! tags normalised) and compared word by word with an LCS, so re-wrapping
//! is silent; every sentence or line holding a removed or added word is
//! reported whole, as `prompt.instruction_removed` / `_added` with the text
//! in `value`. What counts as a refusal is left to the rule pack.
//!
//! Facts: `prompt.model_changed`, `prompt.config_changed`,
//! `prompt.tool_added` / `_removed` / `_changed`, `prompt.input_added` /
//! `_removed` / `_type_changed` / `_required_changed` / `_default_changed`
//! (direction request; `required` = no Picoschema `?`, in JSON Schema
//! `required`, and no default), `enum.value_added` / `_removed` for enum
//! inputs and outputs, `prompt.output_changed` (direction response, `change`
//! says what), `prompt.instruction_removed` / `_added`,
//! `prompt.variable_added` / `_removed`, `prompt.added` / `_removed` for
//! library entries, `metadata.changed` (metadata, description, authors,
//! sample, name, version, tags; field descriptions); other keys as
//! configuration facts.
//!
//! Tools may be names or maps; a map's `side_effects`/`sideEffects` (or the
//! negation of `read_only`/`readOnly`/`readOnlyHint`, also under
//! `annotations`) gives the `side_effects` fact, otherwise it is left unset.
//!
//! One file per stage:
//!
//! - `read`: a prompt file → [`PromptFile`]: the format told by content,
//!   front matter or library keys read into one [`Prompt`] each;
//! - `schema`: input and output declarations (Picoschema, JSON Schema,
//!   Prompty specs) → [`Field`]s;
//! - `body`: template text → [`Body`]: comments stripped, tags normalised,
//!   sentences and lines, variables;
//! - `model`: the prompt model the readers fill;
//! - `compare`: two prompt files → change facts, part by part;
//! - `instructions`: two bodies → `prompt.instruction_removed` / `_added`,
//!   by a word-level LCS reported by sentence;
//! - `tests`: the facts of prompt pairs.

mod body;
mod compare;
mod instructions;
mod model;
mod read;
mod schema;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

pub use model::{Body, Field, Format, Prompt, PromptFile, Segment, Tool};
pub use read::parse;

use crate::change::{Change, Changes};
use crate::{ArtifactError, Options};
use compare::{diff_extra, diff_prompt};

/// Diffs two versions of a prompt file.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let fa = parse(a).map_err(ArtifactError::base)?;
    let fb = parse(b).map_err(ArtifactError::head)?;
    diff_extra("", &fa.extra, &fb.extra, 0, 0, out);
    for p in &fa.prompts {
        match fb.prompts.iter().find(|q| q.id == p.id) {
            Some(q) => diff_prompt(p, q, out),
            None => out.push(
                Change::new("prompt.removed", p.id.clone())
                    .lines(p.line, 0)
                    .fact("name", p.id.as_str())
                    .fact(
                        "tools",
                        p.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                    ),
            ),
        }
    }
    for q in &fb.prompts {
        if !fa.prompts.iter().any(|p| p.id == q.id) {
            out.push(
                Change::new("prompt.added", q.id.clone())
                    .lines(0, q.line)
                    .fact("name", q.id.as_str())
                    .fact(
                        "tools",
                        q.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                    )
                    .fact(
                        "required_inputs",
                        q.inputs
                            .iter()
                            .filter(|f| f.required)
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>(),
                    ),
            );
        }
    }
    Ok(())
}
