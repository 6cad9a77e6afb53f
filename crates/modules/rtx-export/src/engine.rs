//! The rtx-export engine: pure functions from (records, facts, `now`, the
//! compiled pack) to (new records, decisions, audit events,
//! notifications). No I/O and no clock reads: the server passes the wall
//! clock, tests and offline commands pass `--at`. This is where the peers'
//! semantics live (`docs/rtx-export.md` once the engine lands, issue #16),
//! and what the module's gold fixtures drive.
