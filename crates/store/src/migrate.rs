//! Forward-only schema migrations, keyed by module and version.
//!
//! A module declares its migrations as a `&[Migration]` in its own crate
//! (the semantic diff's `reports` table lives in `tenet_diff::store`), each
//! with the module's name and a version counting up from 1. The store
//! records what it applied in `schema_migrations (module, version,
//! applied_at)` and applies the rest in one `BEGIN IMMEDIATE` transaction:
//! the write lock is taken before anything is read, so two processes
//! starting at once apply each migration exactly once.
//!
//! Databases from before this table (tenet ≤ 0.1 kept one global
//! `user_version`, 1–4) are adopted: their versions are recorded under the
//! modules that own those tables, and nothing is re-run.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// One step of one module's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The module that owns the tables (`audit`, `semantic-diff`, ...).
    pub module: &'static str,
    /// 1, 2, 3... in order, without gaps; never renumbered once shipped.
    pub version: u32,
    /// SQLite statements (one batch).
    pub sqlite: &'static str,
}

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    module     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (module, version)
)";

/// What the global `user_version` of tenet ≤ 0.1 meant: version `n`
/// had applied the first `n` of these.
const LEGACY: &[(&str, u32)] = &[
    ("semantic-diff", 1),
    ("audit", 1),
    ("audit", 2),
    ("audit", 3),
];

pub(crate) fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    check_sequence(migrations)?;
    let Some(module) = migrations.first().map(|m| m.module) else {
        return Ok(());
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh: bool = tx
        .query_row(
            "SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )?;
    tx.execute_batch(BOOKKEEPING)?;
    if fresh {
        let legacy: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (m, v) in LEGACY
            .iter()
            .take(legacy.clamp(0, LEGACY.len() as i64) as usize)
        {
            tx.execute(
                "INSERT INTO schema_migrations (module, version) VALUES (?1, ?2)",
                params![m, v],
            )?;
        }
    }
    let current: u32 = tx
        .query_row(
            "SELECT max(version) FROM schema_migrations WHERE module = ?1",
            [module],
            |r| r.get::<_, Option<u32>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(0);
    let known = migrations.len() as u32;
    if current > known {
        return Err(StoreError::Migration(format!(
            "module `{module}` is at schema version {current}, but this build of tenet knows only \
             versions up to {known}: the database was written by a newer tenet; upgrade tenet or \
             use another store"
        )));
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sqlite).map_err(|e| {
            StoreError::Migration(format!(
                "migration {} version {} failed: {e}",
                m.module, m.version
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (module, version) VALUES (?1, ?2)",
            params![m.module, m.version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// One module, versions 1..=n in order: a list that is not is a bug in the
/// module, caught before anything is written.
fn check_sequence(migrations: &[Migration]) -> Result<(), StoreError> {
    let Some(first) = migrations.first() else {
        return Ok(());
    };
    for (i, m) in migrations.iter().enumerate() {
        if m.module != first.module || m.version != i as u32 + 1 {
            return Err(StoreError::Migration(format!(
                "migrations of `{}` must be versions 1..={} of that one module, in order; \
                 entry {} is `{}` version {}",
                first.module,
                migrations.len(),
                i + 1,
                m.module,
                m.version
            )));
        }
    }
    Ok(())
}

pub(crate) fn applied(conn: &Connection) -> Result<Vec<(String, u32)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT module, version FROM schema_migrations ORDER BY module, version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use crate::{Migration, Store, StoreError};

    const TWO: &[Migration] = &[
        Migration {
            module: "demo",
            version: 1,
            sqlite: "CREATE TABLE demo (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        },
        Migration {
            module: "demo",
            version: 2,
            sqlite: "ALTER TABLE demo ADD COLUMN w TEXT;",
        },
    ];

    #[test]
    fn modules_migrate_independently_and_only_once() {
        let mut s = Store::memory().unwrap();
        s.migrate(&TWO[..1]).unwrap();
        s.migrate(TWO).unwrap();
        s.migrate(TWO).unwrap();
        s.sqlite()
            .execute("INSERT INTO demo (v, w) VALUES ('a', 'b')", [])
            .unwrap();
        let applied = s.migrations().unwrap();
        assert!(applied.contains(&("demo".to_string(), 2)));
        assert!(applied.contains(&("audit".to_string(), 3)));
    }

    #[test]
    fn a_database_from_a_newer_tenet_is_refused_and_left_alone() {
        let mut s = Store::memory().unwrap();
        s.migrate(TWO).unwrap();
        let err = s.migrate(&TWO[..1]).unwrap_err();
        assert!(
            matches!(&err, StoreError::Migration(m) if m.contains("module `demo` is at schema version 2")),
            "{err}"
        );
    }

    #[test]
    fn a_gap_or_a_foreign_module_in_a_list_is_refused_before_anything_is_written() {
        let mut s = Store::memory().unwrap();
        let gap = [TWO[1]];
        let err = s.migrate(&gap).unwrap_err().to_string();
        assert!(err.contains("entry 1 is `demo` version 2"), "{err}");
        let mixed = [
            TWO[0],
            Migration {
                module: "other",
                version: 2,
                sqlite: "",
            },
        ];
        assert!(s.migrate(&mixed).is_err());
        assert!(!s.migrations().unwrap().iter().any(|(m, _)| m == "demo"));
    }

    #[test]
    fn a_failing_migration_leaves_no_half_applied_schema() {
        let mut s = Store::memory().unwrap();
        let broken = [
            TWO[0],
            Migration {
                module: "demo",
                version: 2,
                sqlite: "ALTER TABLE nowhere ADD COLUMN w TEXT;",
            },
        ];
        let err = s.migrate(&broken).unwrap_err().to_string();
        assert!(err.contains("migration demo version 2 failed"), "{err}");
        // Version 1 rolled back with it: the table is not there.
        assert!(s
            .sqlite()
            .execute("INSERT INTO demo (v) VALUES ('a')", [])
            .is_err());
        s.migrate(TWO).unwrap();
    }

    #[test]
    fn two_processes_opening_one_file_at_once_apply_each_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    s.migrate(TWO).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = Store::open(&path).unwrap();
        let demo: Vec<_> = s
            .migrations()
            .unwrap()
            .into_iter()
            .filter(|(m, _)| m == "demo")
            .collect();
        assert_eq!(demo, vec![("demo".to_string(), 1), ("demo".to_string(), 2)]);
    }
}
