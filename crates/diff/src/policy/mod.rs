//! tenet rule packs (`.tenet` files): what a change to a policy means.
//!
//! Both sides are parsed with the tenet grammar (never checked: a pack that
//! imports others cannot be checked alone) and compared item by item:
//! imports by pack name, constants by name, blocks by kind and name (nested
//! blocks under their parent). Expressions are compared by a normalised
//! canonical text (literal spellings such as `10_000`/`10000` or `60s`/`1m`
//! and the key order of map literals do not count), so comments, layout and
//! the order of items never yield a change.
//!
//! An absent field is read as its schema default (`enforcement` of a `rule`
//! is `advisory`, of an `action` `hard_mandatory`): writing a default out
//! changes nothing.
//!
//! Facts (paths are `<pack>.<kind> <name>[.<kind> <name>...].<field>`):
//! `policy.version_changed`, `policy.pack_renamed`, `policy.import_added`,
//! `policy.import_removed`, `policy.constant_added`, `policy.constant_removed`,
//! `policy.constant_changed`, `policy.block_added`, `policy.block_removed`,
//! `policy.block_reordered` (rollout stages only), `policy.condition_changed`,
//! `policy.risk_changed`, `policy.requirement_added`,
//! `policy.requirement_removed`, `policy.enforcement_changed`,
//! `policy.dry_run_changed`, `policy.allow_widened`, `policy.allow_narrowed`,
//! `policy.deny_widened`, `policy.deny_narrowed`, `threshold.changed`,
//! `policy.waiver_added`, `policy.waiver_removed`, `policy.waiver_changed`,
//! `policy.test_changed`, `description.changed`, `metadata.changed`,
//! `policy.field_added`, `policy.field_removed`, `policy.field_changed`.
//! Whether a change is stricter or looser is left to the `semantic_diff` pack.
//!
//! For the policy lint, every change inside a block also carries `block`
//! (the block's path in the pack, `action mass-delete` or
//! `rollout bundle.stage canary`) and, when the head gives the block — or a
//! block it is nested in — a `justification`, that text as `justification`
//! with `justification_new` (true when this change wrote or rewrote it: the
//! base's nearest justification was absent or different). A removed block
//! takes its parent's. Whether a loosening is justified is the pack's call.
//!
//! One file per stage:
//!
//! - `read`: pack text → the parsed pack, its source (for lines) and its
//!   risk levels;
//! - `items`: a pack's imports, constants and blocks, keyed for matching;
//! - `expr`: expressions → canonical text, numbers with their unit, lists,
//!   and whether two values mean the same;
//! - `fields`: what the language says about a field (condition, level,
//!   text for people, ordered list, allow or deny list, default);
//! - `compare`: two packs → change facts, item by item;
//! - `uses`: where a constant is used, for the facts of a changed constant;
//! - `tests`: the facts of pack pairs, and edits that give none.

mod compare;
mod expr;
mod fields;
mod items;
mod read;
mod uses;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use crate::change::Changes;
use crate::tree::ParseError;
use crate::{ArtifactError, Options};
use compare::{Beside, Differ};
use read::parse_side;
use tenet_dsl::ast::Pack;

/// Parses a pack (syntax only).
pub fn parse(text: &str) -> Result<Pack, ParseError> {
    parse_side(text).map(|d| d.pack)
}

/// Diffs two versions of a pack.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let da = parse_side(a).map_err(ArtifactError::base)?;
    let db = parse_side(b).map_err(ArtifactError::head)?;
    let mut d = Differ {
        a: &da,
        b: &db,
        pack: da.pack.name.name.clone(),
        out,
        at: Beside::default(),
    };
    d.pack();
    Ok(())
}
