//! tenet in CI: the pull-request gate (`tenet ci`), PR comments and
//! workflow annotations.
//!
//! Empty for now: it arrives with issue #4, on top of the semantic diff
//! (#3). It depends on `tenet-runtime` only; the GitHub client lives here,
//! never below.
