//! The dark-inventory engine: pure functions from (records, facts, `now`, the
//! compiled pack) to (new records, decisions, audit events,
//! notifications). No I/O and no clock reads: the server passes the wall
//! clock, tests and offline commands pass `--at`. This is where the peers'
//! semantics live (`docs/dark-inventory.md` once the engine lands, issue #15),
//! and what the module's gold fixtures drive.
