//! The safety-workflows module's tables and queries in the shared store. Every
//! state change is one transaction with its audit event, by conditional
//! update or row lock, never read-then-write.

use tenet_store::Migration;

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`];
/// none yet (issue #13 adds the first tables).
pub const MIGRATIONS: &[Migration] = &[];
