//! tenet in git hooks: `tenet hook install` and `tenet hook run pre-commit`,
//! judging what is staged.
//!
//! Empty for now: it arrives with issue #4. git2 lives here, never below.
