//! The evaluation server (`tenet serve`): REST under `/v1/`, hot reload,
//! audit log, access control.
//!
//! Empty for now: it arrives with issue #5. axum and tokio live here, never
//! below.
