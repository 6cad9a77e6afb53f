//! Leases: so that exactly one replica runs a given sweep at a time.
//!
//! In: a lease name (`heartbeats.sweep`), a holder (the replica's id) and
//! a time to live. Out: [`Lease`] when the caller holds it now, `None`
//! when another holder does and its lease has not expired.
//!
//! [`Store::acquire_lease`] is one conditional upsert: it takes a free or
//! expired lease, or renews the caller's own, and does nothing otherwise —
//! no read-then-write, so two replicas asking at once cannot both win. A
//! holder that crashes simply stops renewing; once its lease expires the
//! next replica to ask takes it. Expiry is judged by the *database's*
//! clock, so replicas whose clocks disagree still agree on who holds it.
//!
//! Every change of holder increments the lease's `token`, a fencing token.
//! A sweep's writes carry the condition [`fence_sqlite`] / [`fence_pg`]
//! (`EXISTS` the lease, with this holder and token, unexpired), so a
//! holder that lost its lease while it ran — a long sweep, a stalled
//! process — changes nothing: exactly one holder's writes apply at a time.
//!
//! A holder name must be unique per process (the server uses
//! `replica#instance`): two processes under one name would renew each
//! other's lease.

use crate::{Backend, Migration, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use std::time::Duration;

/// The leases table, under the store's own module `lease`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "lease",
    version: 1,
    sqlite: "CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        token       INTEGER NOT NULL,
        expires_ms  INTEGER NOT NULL
    );",
    postgres: "CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        token       BIGINT NOT NULL,
        expires_ms  BIGINT NOT NULL
    );",
}];

/// A lease the caller holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// Fencing token: grows by one each time the lease changes holder.
    pub token: i64,
    /// When it expires unless renewed, in milliseconds since the Unix
    /// epoch by the database's clock.
    pub expires_ms: i64,
}

/// The database's clock in milliseconds since the Unix epoch, in SQLite.
pub const SQLITE_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
/// The same in PostgreSQL: one clock for every replica.
pub const PG_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A condition for a sweep's SQLite statement: true only while `holder`
/// holds `name` with `token`. It takes three parameters from `?{first}`:
/// the lease's name, holder and token.
pub fn fence_sqlite(first: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM leases WHERE name = ?{} AND holder = ?{} AND token = ?{} AND expires_ms > {SQLITE_NOW_MS})",
        first,
        first + 1,
        first + 2
    )
}

/// The same for PostgreSQL, from `${first}`.
pub fn fence_pg(first: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM leases WHERE name = ${} AND holder = ${} AND token = ${} AND expires_ms > {PG_NOW_MS})",
        first,
        first + 1,
        first + 2
    )
}

fn acquire_sql(now: &str, p: [&str; 3]) -> String {
    let [name, holder, ttl] = p;
    format!(
        "INSERT INTO leases (name, holder, token, expires_ms) VALUES ({name}, {holder}, 1, {now} + {ttl})
         ON CONFLICT (name) DO UPDATE SET
           token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END,
           holder = excluded.holder,
           expires_ms = excluded.expires_ms
         WHERE leases.holder = excluded.holder OR leases.expires_ms <= {now}
         RETURNING name, holder, token, expires_ms"
    )
}

impl Store {
    /// Takes the lease `name` for `holder` for `ttl`, or renews it if
    /// `holder` has it. `None`: someone else holds it. A `ttl` of zero is
    /// refused (it would be a lease nobody holds).
    pub fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
        if ttl_ms <= 0 {
            return Err(StoreError::Location(format!(
                "lease `{name}`: a time to live must be at least a millisecond"
            )));
        }
        match self.backend() {
            Backend::Sqlite(conn) => {
                let sql = acquire_sql(SQLITE_NOW_MS, ["?1", "?2", "?3"]);
                Ok(conn
                    .query_row(&sql, params![name, holder, ttl_ms], |r| {
                        Ok(Lease {
                            name: r.get(0)?,
                            holder: r.get(1)?,
                            token: r.get(2)?,
                            expires_ms: r.get(3)?,
                        })
                    })
                    .optional()?)
            }
            Backend::Postgres(pg) => {
                let (name, holder) = (name.to_string(), holder.to_string());
                pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    let sql = acquire_sql(PG_NOW_MS, ["$1", "$2", "$3"]);
                    let row = client.query_opt(&sql, &[&name, &holder, &ttl_ms]).await?;
                    Ok(row.map(|r| Lease {
                        name: r.get(0),
                        holder: r.get(1),
                        token: r.get(2),
                        expires_ms: r.get(3),
                    }))
                })
            }
        }
    }

    /// Gives up `name` if `holder` holds it (it expires now; its token is
    /// kept, so the next holder's is higher). `false`: it did not hold it.
    pub fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        match self.backend() {
            Backend::Sqlite(conn) => Ok(conn.execute(
                "UPDATE leases SET expires_ms = 0 WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )? > 0),
            Backend::Postgres(pg) => {
                let (name, holder) = (name.to_string(), holder.to_string());
                pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    let n = client
                        .execute(
                            "UPDATE leases SET expires_ms = 0 WHERE name = $1 AND holder = $2",
                            &[&name, &holder],
                        )
                        .await?;
                    Ok(n > 0)
                })
            }
        }
    }

    /// The current, unexpired holder of `name`, if any.
    pub fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        match self.backend() {
            Backend::Sqlite(conn) => Ok(conn
                .query_row(
                    &format!(
                        "SELECT name, holder, token, expires_ms FROM leases
                         WHERE name = ?1 AND expires_ms > {SQLITE_NOW_MS}"
                    ),
                    [name],
                    |r| {
                        Ok(Lease {
                            name: r.get(0)?,
                            holder: r.get(1)?,
                            token: r.get(2)?,
                            expires_ms: r.get(3)?,
                        })
                    },
                )
                .optional()?),
            Backend::Postgres(pg) => {
                let name = name.to_string();
                pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    let row = client
                        .query_opt(
                            &format!(
                                "SELECT name, holder, token, expires_ms FROM leases
                                 WHERE name = $1 AND expires_ms > {PG_NOW_MS}"
                            ),
                            &[&name],
                        )
                        .await?;
                    Ok(row.map(|r| Lease {
                        name: r.get(0),
                        holder: r.get(1),
                        token: r.get(2),
                        expires_ms: r.get(3),
                    }))
                })
            }
        }
    }
}
