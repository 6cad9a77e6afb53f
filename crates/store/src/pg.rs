//! The PostgreSQL backend: a pool of tokio-postgres connections
//! (deadpool-postgres), driven by the store's own small runtime.
//!
//! In: a [`PgLocation`]. Out: a [`Pg`] handle whose [`Pg::block_on`] runs
//! a query future for synchronous callers (the CLI, the hook, the
//! server's blocking threads) and whose [`Pg::run`] does the same for
//! async callers, without either caring which runtime they are on.
//!
//! The connections live on a one-thread runtime owned by the handle, so a
//! CLI command needs no runtime of its own and the server's request
//! threads never drive database sockets. `block_on` must not be called on
//! an async worker thread (it blocks it); the server calls it from
//! `spawn_blocking`, as it does for SQLite.

pub use deadpool_postgres;
pub use tokio_postgres;

use crate::location::PgLocation;
use crate::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::future::Future;
use std::time::Duration;

/// The most connections one process keeps open.
pub const POOL_SIZE: usize = 16;
/// The longest one statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// An open PostgreSQL store.
pub struct Pg {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    url: String,
}

impl Pg {
    /// Connects (one connection is opened now, so a wrong URL, password or
    /// an unreachable server fails here, not at the first request).
    pub fn connect(loc: &PgLocation) -> Result<Pg, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: loc.url.clone(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tenet-store-pg")
            .enable_all()
            .build()
            .map_err(|e| open_err(format!("cannot start the store's runtime: {e}")))?;
        let mut config = loc.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("tenet");
        // A connection that dies without a word (a failover, a dropped
        // route) is noticed in seconds, not after TCP's quarter of an hour;
        // a statement that hangs is cut off; and commits are durable
        // whatever the server's default, as the audit log promises.
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(Duration::from_secs(30));
        let options = format!(
            "{} -c synchronous_commit=on -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
            STATEMENT_TIMEOUT.as_millis()
        );
        config.options(options.trim());
        let tls = loc.tls.client_config().map_err(open_err)?;
        let manager = Manager::from_config(
            config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _enter = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(Duration::from_secs(30)))
                .create_timeout(Some(Duration::from_secs(10)))
                .build()
                .map_err(|e| open_err(e.to_string()))?
        };
        let pg = Pg {
            pool,
            runtime: Some(runtime),
            url: loc.url.clone(),
        };
        pg.block_on(|pool| async move {
            let _first = pool.get().await?;
            Ok(())
        })
        .map_err(|e| open_err(e.to_string()))?;
        Ok(pg)
    }

    /// The URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` with the pool on the store's runtime and waits for it
    /// (synchronous callers; not on an async worker thread).
    pub fn block_on<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = f(self.pool.clone());
        self.handle()?.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Postgres("the store's runtime stopped".into()))?
    }

    /// Runs `f` with the pool on the store's runtime (async callers).
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let fut = f(self.pool.clone());
        self.handle()?
            .spawn(fut)
            .await
            .map_err(|e| StoreError::Postgres(format!("a store task failed: {e}")))?
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, StoreError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle())
            .ok_or_else(|| StoreError::Postgres("the store is closed".into()))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.pool.close();
        // Never blocks, so a store may be dropped on an async thread.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's own message (and its detail) rather than the
        // client's "db error".
        match e.as_db_error() {
            Some(db) => {
                let message = match db.detail() {
                    Some(d) => format!("{} ({d})", db.message()),
                    None => db.message().to_string(),
                };
                // Class 23: integrity constraint violation.
                if db.code().code().starts_with("23") {
                    StoreError::Conflict(message)
                } else {
                    StoreError::Postgres(message)
                }
            }
            // The client's message and what caused it ("error performing
            // TLS handshake: invalid peer certificate: UnknownIssuer").
            None => {
                let mut message = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    let text = c.to_string();
                    if !message.contains(&text) {
                        message = format!("{message}: {text}");
                    }
                    cause = c.source();
                }
                StoreError::Postgres(message)
            }
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Postgres(other.to_string()),
        }
    }
}
