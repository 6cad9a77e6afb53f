//! tenet in git hooks: the pre-commit gate.
//!
//! - [`install`]: `tenet hook install` / `uninstall` — the hook script,
//!   where git looks for it (`core.hooksPath` honoured), chaining to (or,
//!   with `--force`, replacing) a hook that was there and restoring it on
//!   uninstall;
//! - [`staged`]: what a commit would record — the index against `HEAD`
//!   (or an empty tree before the first commit), read through git2, never
//!   the working tree; only the changed blobs are read;
//! - [`precommit`]: `tenet hook run pre-commit` — staged rule packs checked
//!   and tested from the index, staged artifacts diffed and classified by
//!   the `semantic_diff` pack, the commit blocked at the fail-on level with
//!   one line per finding, and overrides (`TENET_JUSTIFICATION`) and blocks
//!   recorded in the audit log of the SQLite store.
//!
//! git2 is used here and in `tenet-runtime`'s `diff::repo`; the CLI in
//! `crates/tenet/src/hook_cmd.rs` is glue only.

pub mod install;
pub mod precommit;
pub mod staged;
