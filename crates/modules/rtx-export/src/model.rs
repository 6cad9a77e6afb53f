//! The rtx-export module's records (plain serde types with their ids) and
//! its state machine: one enum of states and one function holding the
//! legal transitions. Empty until the engine lands (issue #16).
