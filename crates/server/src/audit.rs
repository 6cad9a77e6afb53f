//! The audit log writer: group commit.
//!
//! In: [`AuditEvent`]s from request handlers and reloads. Out: each
//! caller's event is committed to the store — SQLite (WAL, `synchronous =
//! FULL`) or PostgreSQL (`synchronous_commit = on`), shared by several
//! replicas — before [`AuditLog::record`] returns, so a response is sent
//! only after its event is durable.
//!
//! A writer task takes the first waiting event and every other event
//! already queued (up to [`MAX_BATCH`]), and commits them in one
//! transaction — one commit, one sync; on PostgreSQL one `INSERT ...
//! SELECT FROM unnest(...)` statement, one round trip — on a blocking thread, so the sync
//! never stalls a worker. While it commits, the next batch queues: under
//! load the batches grow with the load and the cost of a commit (every
//! b-tree page it touches, and the sync) is shared; with one caller a
//! batch is one event and nothing waits. The writer is itself a task, so
//! answering the callers of a batch wakes them on the runtime's own
//! threads: one cross-thread hand-off per batch, not per event (a writer
//! thread that woke every caller itself cost more than the SQLite work;
//! see `BENCHMARKS.md`).
//!
//! A failed batch is retried event by event, so one bad event (a duplicate
//! action id) fails only its own request. Reads (`GET /v1/audit`) use a
//! second connection and never wait for a commit.

use prometheus_client::metrics::histogram::Histogram;
use std::sync::{Arc, Mutex, MutexGuard};
use tenet_store::{AuditEvent, AuditQuery, Location, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most events one transaction takes.
pub const MAX_BATCH: usize = 1024;
/// Events that may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 16 * 1024;

type Reply = oneshot::Sender<Result<(), String>>;

/// The writer's handle; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<(AuditEvent, Reply)>,
    reader: Arc<Mutex<Store>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl AuditLog {
    /// Opens the store twice (writer and reader) and starts the writer
    /// task. Must be called inside the tokio runtime.
    pub fn open(location: &Location, batch_sizes: Histogram) -> Result<AuditLog, StoreError> {
        let writer = Store::connect(location)?;
        writer.sync_full()?;
        let reader = Store::connect(location)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| StoreError::Open {
            path: location.to_string(),
            message: format!("the audit writer needs the server's runtime: {e}"),
        })?;
        let (tx, rx) = mpsc::channel(QUEUE);
        runtime.spawn(write_loop(Arc::new(Mutex::new(writer)), rx, batch_sizes));
        Ok(AuditLog {
            tx,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Records `event`; returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), String> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| "the audit writer has stopped".to_string())?;
        done.await
            .map_err(|_| "the audit writer stopped before committing".to_string())?
    }

    /// Events matching `q`, newest first (off the async threads).
    pub async fn query(&self, q: AuditQuery) -> Result<Vec<AuditEvent>, String> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            lock(&reader).audit_query(&q).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("the audit query failed: {e}"))?
    }
}

async fn write_loop(
    store: Arc<Mutex<Store>>,
    mut rx: mpsc::Receiver<(AuditEvent, Reply)>,
    batch_sizes: Histogram,
) {
    while let Some((event, reply)) = rx.recv().await {
        let mut events = vec![event];
        let mut replies = vec![reply];
        while events.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((e, r)) => {
                    events.push(e);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        batch_sizes.observe(events.len() as f64);
        let store = Arc::clone(&store);
        let outcome = tokio::task::spawn_blocking(move || commit(&mut lock(&store), &events)).await;
        match outcome {
            Ok(results) => {
                for (r, result) in replies.into_iter().zip(results) {
                    let _ = r.send(result);
                }
            }
            Err(e) => {
                let why = format!("the audit commit failed: {e}");
                for r in replies {
                    let _ = r.send(Err(why.clone()));
                }
            }
        }
    }
}

/// Writes a batch; the result of each event, in order.
fn commit(store: &mut Store, events: &[AuditEvent]) -> Vec<Result<(), String>> {
    match store.record_audit_batch(events) {
        Ok(_) => vec![Ok(()); events.len()],
        // An event the log refuses (a duplicate action id): one by one, so
        // only the events that fail are refused.
        Err(StoreError::Conflict(_)) if events.len() > 1 => events
            .iter()
            .map(|e| store.record_audit(e).map(|_| ()).map_err(|x| x.to_string()))
            .collect(),
        // The store is down or slow: every event of the batch fails now,
        // rather than each waiting out the same timeout in turn.
        Err(e) => vec![Err(e.to_string()); events.len()],
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn event(id: &str) -> AuditEvent {
        AuditEvent {
            id: 0,
            action_id: id.into(),
            at: "2026-12-01T00:00:00.000Z".into(),
            source: "server:evaluate".into(),
            subject: "safety".into(),
            actor: "test".into(),
            scope: "(bundled)".into(),
            outcome: "allowed".into(),
            reason: None,
            latency_ms: 0,
            details: serde_json::json!({}),
            tenant: None,
            bundle: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_are_all_committed_and_a_bad_one_fails_alone_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        group_commit(Location::Sqlite(dir.path().join("t.db"))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_are_all_committed_and_a_bad_one_fails_alone_postgres() {
        let loc = tokio::task::spawn_blocking(tenet_store::testing::fresh_postgres)
            .await
            .unwrap();
        group_commit(loc).await;
    }

    async fn group_commit(location: Location) {
        let batches = Histogram::new([1.0, 2.0, 4.0]);
        let log = AuditLog::open(&location, batches).unwrap();
        let mut tasks = Vec::new();
        for i in 0..500 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.record(event(&format!("e{i}"))).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // A duplicate action id is refused; the events beside it are not.
        let (a, b) = tokio::join!(log.record(event("e1")), log.record(event("fresh")));
        assert!(a.is_err());
        b.unwrap();
        let all = log
            .query(AuditQuery {
                limit: 10_000,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 501);
        // A fresh connection sees them all: they are committed, not cached.
        let again = tokio::task::spawn_blocking(move || {
            Store::connect(&location)
                .unwrap()
                .audit_events(None, 10_000)
                .unwrap()
                .len()
        })
        .await
        .unwrap();
        assert_eq!(again, 501);
    }
}
