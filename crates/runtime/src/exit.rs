//! The exit codes of every tenet command, defined once (ripgrep's
//! contract): the binary and the front ends that return a code (`tenet ci`,
//! the pre-commit hook) use these names, never numbers.
//!
//! | code | name | meaning |
//! |---:|---|---|
//! | 0 | [`OK`] | the answer is yes: rules check, tests pass, nothing at or above the gate; also a closed output pipe (`tenet ... \| head`) |
//! | 1 | [`FINDINGS`] | the answer is no: rule errors, failing tests, changes at or above `--fail-on`, unformatted files, a bundle that does not verify, a blocked commit |
//! | 2 | [`ERROR`] | no answer: a usage, I/O, configuration, git or API error |

/// Success: nothing to report, or the reader of the output has gone.
pub const OK: u8 = 0;
/// The command ran and found something: it fails a gate.
pub const FINDINGS: u8 = 1;
/// The command could not do its work.
pub const ERROR: u8 = 2;
