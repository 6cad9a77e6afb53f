//! The backends every store test runs against: a fresh SQLite file and a
//! fresh PostgreSQL database.
//!
//! The PostgreSQL server is the one named by [`POSTGRES_ENV`]
//! (`scripts/test` and `.ci/run` start a throwaway PostgreSQL 15 and set
//! it). Without it a PostgreSQL test **fails** and says how to start one:
//! no store test skips a backend silently. Each call of
//! [`fresh_postgres`] creates a new database on that server, so tests run
//! in parallel without seeing each other's rows; the throwaway cluster is
//! deleted with everything in it when the run ends.

use crate::{Backend, Location, Pg, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// A `postgres://` URL of a server the tests may create databases on.
pub const POSTGRES_ENV: &str = "TENET_TEST_POSTGRES";

/// The two backends, for a conformance test written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty store location of `kind` (a SQLite file under `dir`).
pub fn fresh(kind: Kind, dir: &Path) -> Location {
    match kind {
        Kind::Sqlite => {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            Location::Sqlite(dir.join(format!("store-{n}.db")))
        }
        Kind::Postgres => fresh_postgres(),
    }
}

/// The test server's URL. Panics, saying how to start one, when
/// [`POSTGRES_ENV`] is not set.
#[allow(clippy::panic)]
pub fn postgres_url() -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{POSTGRES_ENV} is not set. The store tests run on SQLite and on PostgreSQL, and \
             none skips PostgreSQL. Run the whole suite with `scripts/test` (it starts a \
             throwaway PostgreSQL 15 and stops it after), or start one yourself with \
             `eval \"$(scripts/postgres start)\"` and run cargo test in that shell."
        ),
    }
}

/// The folder of the test server's TLS certificates (`ca.crt`, and
/// `client.crt` + `client.key` for the role `tenet_cert`), from
/// `TENET_PG_TLS` as `scripts/postgres start` sets it. Panics, saying how
/// to start one, when it is not set.
#[allow(clippy::panic)]
pub fn postgres_tls() -> std::path::PathBuf {
    match std::env::var("TENET_PG_TLS") {
        Ok(dir) if !dir.trim().is_empty() => std::path::PathBuf::from(dir),
        _ => panic!(
            "TENET_PG_TLS is not set. The TLS tests of the PostgreSQL store need the \
             certificates of the throwaway cluster: run the suite with `scripts/test`, or \
             start one with `eval \"$(scripts/postgres start)\"` and run cargo test in that \
             shell."
        ),
    }
}

/// A new, empty database on the test server, as a store location.
#[allow(clippy::panic, clippy::expect_used)]
pub fn fresh_postgres() -> Location {
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = postgres_url();
    let name = format!(
        "tenet_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let Location::Postgres(loc) =
        Location::parse(&admin).unwrap_or_else(|e| panic!("{POSTGRES_ENV}: {e}"))
    else {
        panic!("{POSTGRES_ENV} must be a postgres:// URL, not {admin}");
    };
    let pg = Pg::connect(&loc).unwrap_or_else(|e| panic!("{POSTGRES_ENV} ({admin}): {e}"));
    let create = format!("CREATE DATABASE {name}");
    pg.block_on(move |pool| async move {
        pool.get().await?.batch_execute(&create).await?;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("cannot create a test database on {admin}: {e}"));
    let mut loc = loc;
    loc.config.dbname(&name);
    loc.url = replace_dbname(&loc.url, &name);
    loc.raw = replace_dbname(&loc.raw, &name);
    Location::Postgres(loc)
}

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/new?x`.
fn replace_dbname(url: &str, name: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path = url[after_scheme..].find('/').map(|i| after_scheme + i);
    let query = url.find('?');
    match path {
        Some(p) => {
            let end = query.filter(|q| *q > p).unwrap_or(url.len());
            format!("{}/{name}{}", &url[..p], &url[end..])
        }
        None => match query {
            Some(q) => format!("{}/{name}{}", &url[..q], &url[q..]),
            None => format!("{url}/{name}"),
        },
    }
}

/// What a child process (a `tenet serve` under test) is given as
/// `--store` for `loc`: the path, or the URL as the test server's was
/// given, its password included (tests only).
pub fn url(loc: &Location) -> String {
    match loc {
        Location::Sqlite(p) => p.display().to_string(),
        Location::Postgres(pg) => pg.raw.clone(),
    }
}

/// A temporary folder, removed when dropped (for [`conformance!`]).
#[allow(clippy::expect_used)]
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// Runs a SQL batch written the same in both dialects (tests only).
pub fn execute(store: &crate::Store, sql: &str) -> Result<(), StoreError> {
    match store.backend() {
        Backend::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
        Backend::Postgres(pg) => {
            let sql = sql.to_string();
            pg.block_on(move |pool| async move {
                pool.get().await?.batch_execute(&sql).await?;
                Ok(())
            })
        }
    }
}

/// Declares one test per backend: `conformance!(name, |kind, dir| ...)`
/// expands to `mod name { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let dir = $crate::testing::tempdir();
                let f: &dyn Fn($crate::testing::Kind, &std::path::Path) = &$body;
                f($crate::testing::Kind::Sqlite, dir.path());
            }
            #[test]
            fn postgres() {
                let dir = $crate::testing::tempdir();
                let f: &dyn Fn($crate::testing::Kind, &std::path::Path) = &$body;
                f($crate::testing::Kind::Postgres, dir.path());
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_name_replaces_the_one_in_the_url() {
        use super::replace_dbname as r;
        assert_eq!(r("postgres://u@h:1/postgres", "t"), "postgres://u@h:1/t");
        assert_eq!(
            r("postgres://u@h:1/postgres?sslmode=disable", "t"),
            "postgres://u@h:1/t?sslmode=disable"
        );
        assert_eq!(r("postgres://u@h:1", "t"), "postgres://u@h:1/t");
    }
}
