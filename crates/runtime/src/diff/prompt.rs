//! (in progress)
use super::change::Changes;
use super::tree::ParseError;
use super::{ArtifactError, Options};

pub fn parse(text: &str) -> Result<(), ParseError> {
    super::tree::parse(text).map(|_| ())
}

pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let (na, nb) = super::parse_both(a, b)?;
    super::config::diff_tree("", &na, &nb, out);
    Ok(())
}
