//! `Idempotency-Key` on the mutating routes of the module engines (the
//! API convention of `docs/modules.md`): a retry with the same key and the
//! same body gets the first answer again, byte for byte, and changes
//! nothing; the same key with another body or on another route is a 422;
//! a retry while the first is still running is a 409.
//!
//! Keys are per identity (two callers never share one) and kept for a day
//! in the store, so they hold across replicas. A request claims its key
//! with one conditional insert before it runs (never read-then-write); its
//! answer is written when it finishes. An answer of 5xx is not kept: the
//! claim is dropped, and a retry runs again.

use sha2::{Digest, Sha256};
use tenet_store::{Backend, Migration, Store, StoreError};

/// The table of claimed keys.
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "idempotency",
    version: 1,
    sqlite: "CREATE TABLE idempotency_keys (
        identity    TEXT NOT NULL,
        key         TEXT NOT NULL,
        route       TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        status      INTEGER,
        answer      BLOB,
        created_ms  INTEGER NOT NULL,
        PRIMARY KEY (identity, key)
    );",
    postgres: "CREATE TABLE idempotency_keys (
        identity    TEXT NOT NULL,
        key         TEXT NOT NULL,
        route       TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        status      INTEGER,
        answer      BYTEA,
        created_ms  BIGINT NOT NULL,
        PRIMARY KEY (identity, key)
    );",
}];

/// How long a key is remembered.
pub const KEEP_MS: i64 = 24 * 3_600_000;

/// A claimed key as stored: route, body hash, status and answer once done.
type KeyRow = (String, String, Option<i64>, Option<Vec<u8>>);

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now: run it, then [`complete`].
    Fresh,
    /// Answered before: this status and body.
    Replay(u16, Vec<u8>),
    /// The key was used with another body or route.
    Mismatch,
    /// The first request with this key has not finished.
    InFlight,
}

/// A key: 1 to 255 visible ASCII characters.
pub fn valid(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// `sha256` hex of the body.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Claims `key` for `identity` (one conditional insert; a key older than
/// [`KEEP_MS`] is taken over).
pub fn claim(
    store: &Store,
    identity: &str,
    key: &str,
    route: &str,
    body_sha256: &str,
    now_ms: i64,
) -> Result<Claim, StoreError> {
    let stale = now_ms - KEEP_MS;
    let row: Option<KeyRow> = match store.backend() {
        Backend::Sqlite(conn) => {
            conn.execute(
                "DELETE FROM idempotency_keys WHERE identity = ?1 AND key = ?2 AND created_ms < ?3",
                rusqlite::params![identity, key, stale],
            )?;
            let n = conn.execute(
                "INSERT INTO idempotency_keys (identity, key, route, body_sha256, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (identity, key) DO NOTHING",
                rusqlite::params![identity, key, route, body_sha256, now_ms],
            )?;
            if n == 1 {
                return Ok(Claim::Fresh);
            }
            use rusqlite::OptionalExtension;
            conn.query_row(
                "SELECT route, body_sha256, status, answer FROM idempotency_keys WHERE identity = ?1 AND key = ?2",
                rusqlite::params![identity, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
        }
        Backend::Postgres(pg) => {
            let (identity, key, route, hash) = (
                identity.to_string(),
                key.to_string(),
                route.to_string(),
                body_sha256.to_string(),
            );
            let found = pg.block_on(|pool| async move {
                let client = pool.get().await?;
                client
                    .execute(
                        "DELETE FROM idempotency_keys WHERE identity = $1 AND key = $2 AND created_ms < $3",
                        &[&identity, &key, &stale],
                    )
                    .await?;
                let n = client
                    .execute(
                        "INSERT INTO idempotency_keys (identity, key, route, body_sha256, created_ms)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (identity, key) DO NOTHING",
                        &[&identity, &key, &route, &hash, &now_ms],
                    )
                    .await?;
                if n == 1 {
                    return Ok(None);
                }
                let row = client
                    .query_opt(
                        "SELECT route, body_sha256, status, answer FROM idempotency_keys WHERE identity = $1 AND key = $2",
                        &[&identity, &key],
                    )
                    .await?;
                Ok(Some(row.map(|r| {
                    let status: Option<i32> = r.get(2);
                    (r.get(0), r.get(1), status.map(i64::from), r.get(3))
                })))
            })?;
            match found {
                None => return Ok(Claim::Fresh),
                Some(row) => row,
            }
        }
    };
    Ok(match row {
        // Dropped between the insert and the read (a 5xx): claim again next time.
        None => Claim::InFlight,
        Some((r, h, _, _)) if r != route || h != body_sha256 => Claim::Mismatch,
        Some((_, _, Some(status), Some(answer))) => Claim::Replay(status as u16, answer),
        Some(_) => Claim::InFlight,
    })
}

/// Keeps the answer of a claimed key; a 5xx drops the claim instead.
pub fn complete(
    store: &Store,
    identity: &str,
    key: &str,
    status: u16,
    answer: &[u8],
) -> Result<(), StoreError> {
    let drop_it = status >= 500;
    match store.backend() {
        Backend::Sqlite(conn) => {
            if drop_it {
                conn.execute(
                    "DELETE FROM idempotency_keys WHERE identity = ?1 AND key = ?2",
                    rusqlite::params![identity, key],
                )?;
            } else {
                conn.execute(
                    "UPDATE idempotency_keys SET status = ?3, answer = ?4 WHERE identity = ?1 AND key = ?2",
                    rusqlite::params![identity, key, i64::from(status), answer],
                )?;
            }
            Ok(())
        }
        Backend::Postgres(pg) => {
            let (identity, key, answer) = (identity.to_string(), key.to_string(), answer.to_vec());
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                if drop_it {
                    client
                        .execute(
                            "DELETE FROM idempotency_keys WHERE identity = $1 AND key = $2",
                            &[&identity, &key],
                        )
                        .await?;
                } else {
                    client
                        .execute(
                            "UPDATE idempotency_keys SET status = $3, answer = $4 WHERE identity = $1 AND key = $2",
                            &[&identity, &key, &i32::from(status), &answer],
                        )
                        .await?;
                }
                Ok(())
            })
        }
    }
}

use crate::access::RequestCtx;
use crate::problem::Problem;
use crate::routes::{now_ms, store_failed};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// Runs `run` under the request's `Idempotency-Key`, if it has one: a
/// retry gets the first answer again (`idempotent-replayed: true`). The
/// keys are kept through the safety workflows' connection (one table for
/// every module's routes).
pub async fn once<Fut>(
    state: &Arc<AppState>,
    ctx: &RequestCtx,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    run: Fut,
) -> Result<Response, Problem>
where
    Fut: std::future::Future<Output = Result<Response, Problem>>,
{
    use axum::response::IntoResponse;
    let Some(key) = headers.get("idempotency-key") else {
        return run.await;
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| crate::idempotency::valid(k))
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "Invalid Idempotency-Key",
                "`Idempotency-Key` is 1 to 255 visible ASCII characters",
            )
        })?
        .to_string();
    let identity = ctx.actor();
    let hash = crate::idempotency::body_hash(body);
    let (st, id2, key2, route2) = (
        Arc::clone(state),
        identity.clone(),
        key.clone(),
        route.to_string(),
    );
    let claim = tokio::task::spawn_blocking(move || {
        crate::idempotency::claim(&st.safety.store(), &id2, &key2, &route2, &hash, now_ms())
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    match claim {
        crate::idempotency::Claim::Fresh => {}
        crate::idempotency::Claim::Replay(status, answer) => {
            let ctype = if status >= 400 { crate::problem::PROBLEM_JSON } else { "application/json" };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok((
                status,
                [
                    (axum::http::header::CONTENT_TYPE, ctype),
                    (axum::http::HeaderName::from_static("idempotent-replayed"), "true"),
                ],
                answer,
            )
                .into_response());
        }
        crate::idempotency::Claim::Mismatch => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key Reused",
                "this Idempotency-Key was used with another body or on another route: use a new key for a new request",
            ))
        }
        crate::idempotency::Claim::InFlight => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "Idempotency-Key In Flight",
                "a request with this Idempotency-Key is still running: retry after it answers",
            )
            .with("code", json!("in_flight")))
        }
    }
    let resp = match run.await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    };
    let (parts, b) = resp.into_parts();
    let bytes = axum::body::to_bytes(b, usize::MAX)
        .await
        .map_err(|e| store_failed(format!("the answer could not be kept: {e}")))?;
    let (st, status, answer) = (Arc::clone(state), parts.status.as_u16(), bytes.to_vec());
    tokio::task::spawn_blocking(move || {
        crate::idempotency::complete(&st.safety.store(), &identity, &key, status, &answer)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}

/// A query that says whether the request is a dry run (`?dry_run=true`).
pub trait DryRunQuery {
    fn dry_run(&self) -> bool;
}

impl DryRunQuery for crate::routes::DryRunParam {
    fn dry_run(&self) -> bool {
        self.dry_run.unwrap_or(false)
    }
}

/// What a mutating module route reads, as one extractor (the last
/// argument: it takes the body): the state, the caller, its query `Q`
/// (`?dry_run=` and whatever else the route takes), the
/// `Idempotency-Key` header and the body. [`Mutation::run`] runs the
/// route: once, writing nothing, with `?dry_run=true` (a dry run claims no
/// key); otherwise under the request's `Idempotency-Key` ([`once`]), the
/// key scoped to the request's method, path and query.
pub struct Mutation<Q = crate::routes::DryRunParam> {
    pub state: Arc<AppState>,
    pub ctx: RequestCtx,
    pub query: Q,
    route: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
}

impl<Q> axum::extract::FromRequest<Arc<AppState>> for Mutation<Q>
where
    Q: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        use axum::extract::{FromRequestParts, Query};
        use axum::response::IntoResponse;
        let (mut parts, body) = req.into_parts();
        let axum::Extension(ctx) =
            axum::Extension::<RequestCtx>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<Q>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // The path as the route reads it (percent-decoded: `a%2Db` and
        // `a-b` name one resource), and the query, which may name what the
        // request is about (`?tenant=`): the same key about another
        // resource is refused, never answered with the first one's reply.
        let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy();
        let route = match parts.uri.query() {
            Some(q) => format!("{} {path}?{q}", parts.method),
            None => format!("{} {path}", parts.method),
        };
        let headers = parts.headers.clone();
        let body = <axum::body::Bytes as axum::extract::FromRequest<Arc<AppState>>>::from_request(
            axum::extract::Request::from_parts(parts, body),
            state,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(Mutation {
            state: Arc::clone(state),
            ctx,
            query,
            route,
            headers,
            body,
        })
    }
}

impl<Q: DryRunQuery> Mutation<Q> {
    /// Runs `run(state, ctx, body, dry_run)`: once, writing nothing, on a
    /// dry run; otherwise under the request's `Idempotency-Key`.
    pub async fn run<F, Fut>(self, run: F) -> Result<Response, Problem>
    where
        F: FnOnce(Arc<AppState>, RequestCtx, axum::body::Bytes, bool) -> Fut,
        Fut: std::future::Future<Output = Result<Response, Problem>>,
    {
        if self.query.dry_run() {
            return run(self.state, self.ctx, self.body, true).await;
        }
        let (st, ctx, body) = (Arc::clone(&self.state), self.ctx.clone(), self.body.clone());
        once(
            &self.state,
            &self.ctx,
            &self.headers,
            &self.route,
            &self.body,
            run(st, ctx, body, false),
        )
        .await
    }
}
