//! GraphQL SDL: what a schema change means for the clients of the API.
//!
//! Both texts are parsed with `apollo-parser`; type extensions
//! (`extend type`, `extend enum`...) are merged into their type, and the two
//! schemas are compared by name, so comments, layout and the order of
//! definitions, fields, enum values, union members or directive usages are
//! not changes. The facts follow graphql-inspector's change catalogue
//! (types, fields, arguments, input fields, enum values, union members,
//! interfaces, directive definitions and usages, deprecations, descriptions
//! and root operation types) without judging them: `direction` is
//! `response` for object and interface fields (data a client reads) and
//! `request` for arguments and input fields (data it sends). Elements inside
//! an added or removed type are folded into the type's fact. A removed and an
//! added field of the same type with the same type and arguments are reported
//! as one `field.renamed`, with the evidence for the guess (`match`,
//! `similarity`; see [`crate::rename`]).
//!
//! One file per stage:
//!
//! - `token_reader`: SDL text → [`Schema`], read from `apollo_parser::Lexer`
//!   tokens by recursive descent (the fast path). It gives up on anything
//!   unexpected, invalid or unusual, and the text goes to the tree reader;
//! - `tree_reader`: SDL text → [`Schema`] or the first [`ParseError`], read
//!   from apollo-parser's tree (the path that tells errors);
//! - `literal`: a string literal as written → its value (escapes, block
//!   strings), for both readers;
//! - `model`: the schema both readers build (types, fields, arguments, enum
//!   values, directives and their usages, type references, values);
//! - `compare`: two schemas → change facts;
//! - `tests`: the facts of schema pairs, and the two readers agreeing.

mod compare;
mod literal;
mod model;
mod token_reader;
mod tree_reader;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

pub use model::Schema;

use crate::change::Changes;
use crate::tree::ParseError;
use crate::{ArtifactError, Options};

/// Parses an SDL document (a text of only comments and blanks is an empty
/// schema).
///
/// apollo-parser recovers from syntax errors and returns a tree with a list
/// of errors; any error makes the document an error, told at the first one,
/// so a broken schema is never read in part.
///
/// The schema is read from the lexer's tokens; anything the token reader
/// does not expect sends the text to the tree path, which tells the error.
pub fn parse(text: &str) -> Result<Schema, ParseError> {
    match token_reader::read_tokens(text) {
        Some(s) => Ok(s),
        None => tree_reader::parse_with_tree(text),
    }
}

/// Diffs two SDL documents.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    // Big schemas: base and head are parsed on two threads at once.
    let (ra, rb) = super::both(a, b, parse);
    let sa = ra.map_err(ArtifactError::base)?;
    let sb = rb.map_err(ArtifactError::head)?;
    compare::diff_schemas(&sa, &sb, out);
    if a.len() + b.len() > super::PARALLEL_FROM {
        drop_in_background((sa, sb));
    }
    Ok(())
}

/// Frees a big value on a thread of its own: a schema of a
/// megabyte of SDL is a million small allocations, tens of milliseconds to
/// free, which the caller need not wait for (nor a command that exits).
fn drop_in_background<T: Send + 'static>(value: T) {
    // If no thread can be started, the value is dropped here.
    let _ = std::thread::Builder::new()
        .name("graphql-free".into())
        .spawn(move || drop(value));
}
