//! The store's conformance suite: every test here runs twice, on a fresh
//! SQLite file and on a fresh PostgreSQL database (`conformance!`). A
//! behaviour one backend has and the other lacks fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;
use tenet_store::testing::{execute, fresh, Kind};
use tenet_store::{conformance, AuditEvent, AuditQuery, Migration, Store, StoreError};

fn open(kind: Kind, dir: &Path) -> Store {
    Store::connect(&fresh(kind, dir)).unwrap()
}

const TWO: &[Migration] = &[
    Migration {
        module: "demo",
        version: 1,
        sqlite: "CREATE TABLE demo (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        postgres: "CREATE TABLE demo (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT NOT NULL);",
    },
    Migration {
        module: "demo",
        version: 2,
        sqlite: "ALTER TABLE demo ADD COLUMN w TEXT;",
        postgres: "ALTER TABLE demo ADD COLUMN w TEXT;",
    },
];

conformance!(modules_migrate_independently_and_only_once, |kind, dir| {
    let mut s = open(kind, dir);
    s.migrate(&TWO[..1]).unwrap();
    s.migrate(TWO).unwrap();
    s.migrate(TWO).unwrap();
    execute(&s, "INSERT INTO demo (v, w) VALUES ('a', 'b')").unwrap();
    let applied = s.migrations().unwrap();
    assert!(applied.contains(&("demo".to_string(), 2)));
    assert!(applied.contains(&("audit".to_string(), 3)));
    assert!(applied.contains(&("lease".to_string(), 1)));
    assert_eq!(applied.iter().filter(|(m, _)| m == "demo").count(), 2);
});

conformance!(
    a_database_from_a_newer_tenet_is_refused_and_left_alone,
    |kind, dir| {
        let mut s = open(kind, dir);
        s.migrate(TWO).unwrap();
        let err = s.migrate(&TWO[..1]).unwrap_err();
        assert!(
            matches!(&err, StoreError::Migration(m) if m.contains("module `demo` is at schema version 2")),
            "{err}"
        );
        execute(&s, "INSERT INTO demo (v, w) VALUES ('a', 'b')").unwrap();
    }
);

conformance!(
    a_gap_or_a_foreign_module_is_refused_before_anything_is_written,
    |kind, dir| {
        let mut s = open(kind, dir);
        let gap = [TWO[1]];
        let err = s.migrate(&gap).unwrap_err().to_string();
        assert!(err.contains("entry 1 is `demo` version 2"), "{err}");
        let mixed = [
            TWO[0],
            Migration {
                module: "other",
                version: 2,
                sqlite: "",
                postgres: "",
            },
        ];
        assert!(s.migrate(&mixed).is_err());
        assert!(!s.migrations().unwrap().iter().any(|(m, _)| m == "demo"));
    }
);

conformance!(
    a_failing_migration_leaves_no_half_applied_schema,
    |kind, dir| {
        let mut s = open(kind, dir);
        let broken = [
            TWO[0],
            Migration {
                module: "demo",
                version: 2,
                sqlite: "ALTER TABLE nowhere ADD COLUMN w TEXT;",
                postgres: "ALTER TABLE nowhere ADD COLUMN w TEXT;",
            },
        ];
        let err = s.migrate(&broken).unwrap_err().to_string();
        assert!(err.contains("migration demo version 2 failed"), "{err}");
        assert!(err.contains("nowhere"), "the database's own reason: {err}");
        // Version 1 rolled back with it: the table is not there.
        assert!(execute(&s, "INSERT INTO demo (v) VALUES ('a')").is_err());
        assert!(!s.migrations().unwrap().iter().any(|(m, _)| m == "demo"));
        s.migrate(TWO).unwrap();
        execute(&s, "INSERT INTO demo (v, w) VALUES ('a', 'b')").unwrap();
    }
);

conformance!(
    replicas_starting_at_once_apply_each_migration_once,
    |kind, dir| {
        let loc = fresh(kind, dir);
        // Four processes' worth of connections, racing from an empty database
        // (even the store's own tables are not there yet).
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (loc, barrier) = (loc.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut s = Store::connect(&loc).unwrap();
                    s.migrate(TWO).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = Store::connect(&loc).unwrap();
        let applied = s.migrations().unwrap();
        let demo: Vec<_> = applied.iter().filter(|(m, _)| m == "demo").collect();
        assert_eq!(
            demo,
            vec![&("demo".to_string(), 1), &("demo".to_string(), 2)]
        );
        assert_eq!(applied.iter().filter(|(m, _)| m == "audit").count(), 3);
    }
);

fn event(action_id: &str, scope: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: action_id.into(),
        at: "2026-01-02T03:04:05Z".into(),
        source: "hook:pre-commit".into(),
        subject: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
        actor: "dev@example.com".into(),
        scope: scope.into(),
        outcome: outcome.into(),
        reason: (outcome == "overridden").then(|| "hotfix, agreed with api owners".into()),
        latency_ms: 42,
        details: serde_json::json!({"findings": [{"risk": "breaking", "z": 1, "a": [1.5, null]}]}),
        tenant: None,
        bundle: None,
    }
}

conformance!(
    a_batch_is_all_or_nothing_and_queries_filter_by_time_and_action,
    |kind, dir| {
        let mut s = open(kind, dir);
        let mut a = event("a", "server", "allowed");
        a.at = "2026-12-01T10:00:00.000Z".into();
        a.tenant = Some("acme".into());
        a.bundle = Some("sha256:abc".into());
        let mut b = event("b", "server", "blocked");
        b.at = "2026-12-01T11:00:00.000Z".into();
        let ids = s.record_audit_batch(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ids.len(), 2);
        assert!(ids[1] > ids[0], "ids in batch order: {ids:?}");
        // A duplicate action id fails the whole batch: `c` is not kept.
        let c = event("c", "server", "allowed");
        assert!(s.record_audit_batch(&[c, a.clone()]).is_err());
        assert_eq!(s.audit_events(None, 10).unwrap().len(), 2);
        let since = s
            .audit_query(&AuditQuery {
                since: Some("2026-12-01T10:30:00Z".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(since.len(), 1);
        assert_eq!(since[0].action_id, "b");
        let one = s
            .audit_query(&AuditQuery {
                action_id: Some("a".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        a.id = ids[0];
        assert_eq!(one, vec![a]);
        assert!(s.record_audit_batch(&[]).unwrap().is_empty());
    }
);

conformance!(
    audit_events_round_trip_newest_first_and_are_never_rewritten,
    |kind, dir| {
        let s = open(kind, dir);
        let a = s.record_audit(&event("a1", "/repo/a", "blocked")).unwrap();
        let b = s
            .record_audit(&event("b2", "/repo/a", "overridden"))
            .unwrap();
        s.record_audit(&event("c3", "/repo/c", "blocked")).unwrap();
        assert!(b > a);
        let got = s.audit_events(Some("/repo/a"), 10).unwrap();
        assert_eq!(got.len(), 2);
        let mut want = event("b2", "/repo/a", "overridden");
        want.id = b;
        assert_eq!(got[0], want);
        assert_eq!(got[1].reason, None);
        assert_eq!(s.audit_events(None, 10).unwrap().len(), 3);
        assert_eq!(s.audit_events(None, 1).unwrap()[0].action_id, "c3");
        let err = s
            .record_audit(&event("a1", "/repo/a", "allowed"))
            .unwrap_err();
        assert!(
            err.to_string().contains("a1")
                || err.to_string().contains("unique")
                || err.to_string().contains("UNIQUE"),
            "{err}"
        );
        assert_eq!(
            s.audit_events(Some("/repo/a"), 10).unwrap()[1].outcome,
            "blocked"
        );
    }
);

conformance!(
    two_connections_see_each_others_events_in_one_order,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let one = Store::connect(&loc).unwrap();
        let two = Store::connect(&loc).unwrap();
        for i in 0..10 {
            let s = if i % 2 == 0 { &one } else { &two };
            s.record_audit(&event(&format!("e{i}"), "server", "allowed"))
                .unwrap();
        }
        let order = |s: &Store| -> Vec<String> {
            s.audit_events(None, 100)
                .unwrap()
                .into_iter()
                .map(|e| e.action_id)
                .collect()
        };
        let seen = order(&one);
        assert_eq!(seen.len(), 10);
        assert_eq!(seen, order(&two));
        assert_eq!(seen[0], "e9");
    }
);

// Long enough for the steps before it expires on a loaded machine.
const TTL: Duration = Duration::from_millis(2000);

conformance!(
    one_holder_at_a_time_and_an_expired_lease_passes_on,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let a = Store::connect(&loc).unwrap();
        let b = Store::connect(&loc).unwrap();
        let first = a.acquire_lease("sweep", "replica-a", TTL).unwrap().unwrap();
        assert_eq!((first.holder.as_str(), first.token), ("replica-a", 1));
        // Held: the other replica does not get it; the holder renews it.
        assert_eq!(b.acquire_lease("sweep", "replica-b", TTL).unwrap(), None);
        let renewed = a.acquire_lease("sweep", "replica-a", TTL).unwrap().unwrap();
        assert_eq!(renewed.token, 1, "a renewal keeps the token");
        assert!(renewed.expires_ms >= first.expires_ms);
        assert_eq!(b.lease("sweep").unwrap().unwrap().holder, "replica-a");
        // Another lease name is independent.
        assert!(b
            .acquire_lease("other", "replica-b", TTL)
            .unwrap()
            .is_some());
        // `a` crashes: it stops renewing. After the ttl, `b` takes over with a
        // higher fencing token, and `a` cannot come back until `b` lets go.
        std::thread::sleep(TTL + Duration::from_millis(300));
        assert_eq!(b.lease("sweep").unwrap(), None, "expired");
        let taken = b.acquire_lease("sweep", "replica-b", TTL).unwrap().unwrap();
        assert_eq!((taken.holder.as_str(), taken.token), ("replica-b", 2));
        assert_eq!(a.acquire_lease("sweep", "replica-a", TTL).unwrap(), None);
        // Release: only by the holder; it frees the lease at once, token kept.
        assert!(!a.release_lease("sweep", "replica-a").unwrap());
        assert!(b.release_lease("sweep", "replica-b").unwrap());
        let back = a.acquire_lease("sweep", "replica-a", TTL).unwrap().unwrap();
        assert_eq!(back.token, 3);
        let err = a
            .acquire_lease("sweep", "replica-a", Duration::ZERO)
            .unwrap_err();
        assert!(err.to_string().contains("at least a millisecond"), "{err}");
    }
);

conformance!(
    replicas_racing_for_a_free_lease_elect_exactly_one,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (loc, barrier) = (loc.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let s = Store::connect(&loc).unwrap();
                    barrier.wait();
                    s.acquire_lease("race", &format!("r{i}"), Duration::from_secs(30))
                        .unwrap()
                })
            })
            .collect();
        let winners: Vec<_> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(winners[0].token, 1);
    }
);

conformance!(a_holder_that_lost_its_lease_writes_nothing, |kind, dir| {
    use tenet_store::lease::{fence_pg, fence_sqlite};
    let loc = fresh(kind, dir);
    let mut a = Store::connect(&loc).unwrap();
    a.migrate(TWO).unwrap();
    let b = Store::connect(&loc).unwrap();
    execute(&a, "INSERT INTO demo (v) VALUES ('x')").unwrap();
    let short = Duration::from_millis(300);
    let mine = a.acquire_lease("sweep", "a#1", short).unwrap().unwrap();
    // A fenced write, as a sweep makes it: this holder, this token, unexpired.
    let fenced = |s: &Store, lease: &tenet_store::Lease, v: &str| -> u64 {
        let (sql_fence, p) = match kind {
            Kind::Sqlite => (fence_sqlite(1), "?4"),
            Kind::Postgres => (fence_pg(1), "$4"),
        };
        let sql = format!("UPDATE demo SET v = {p} WHERE {sql_fence}");
        match s.backend() {
            tenet_store::Backend::Sqlite(c) => c
                .execute(
                    &sql,
                    rusqlite::params![lease.name, lease.holder, lease.token, v],
                )
                .unwrap() as u64,
            tenet_store::Backend::Postgres(pg) => {
                let (lease, v) = (lease.clone(), v.to_string());
                pg.block_on(move |pool| async move {
                    let c = pool.get().await?;
                    Ok(
                        c.execute(&sql, &[&lease.name, &lease.holder, &lease.token, &v])
                            .await?,
                    )
                })
                .unwrap()
            }
        }
    };
    assert_eq!(fenced(&a, &mine, "by a"), 1, "the holder writes");
    // `a` stalls past its lease; `b` takes over.
    std::thread::sleep(short + Duration::from_millis(200));
    let theirs = b.acquire_lease("sweep", "b#2", TTL).unwrap().unwrap();
    assert_eq!(theirs.token, mine.token + 1);
    assert_eq!(
        fenced(&a, &mine, "late a"),
        0,
        "a's late write is fenced off"
    );
    assert_eq!(fenced(&b, &theirs, "by b"), 1);
    // An expired lease of one's own fences too.
    let stale = tenet_store::Lease {
        expires_ms: 0,
        ..theirs.clone()
    };
    assert_eq!(
        fenced(&b, &stale, "by b again"),
        1,
        "the fence reads the table, not the copy"
    );
});

conformance!(
    replicas_racing_for_an_expired_lease_elect_exactly_one,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let first = Store::connect(&loc).unwrap();
        let short = Duration::from_millis(200);
        first
            .acquire_lease("race", "gone#0", short)
            .unwrap()
            .unwrap();
        std::thread::sleep(short + Duration::from_millis(200));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (loc, barrier) = (loc.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let s = Store::connect(&loc).unwrap();
                    barrier.wait();
                    s.acquire_lease("race", &format!("r{i}"), Duration::from_secs(30))
                        .unwrap()
                })
            })
            .collect();
        let winners: Vec<_> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(winners[0].token, 2);
    }
);

/// PostgreSQL only (SQLite has no roles): a role that may read and insert
/// but not create tables — a developer's hook, a CI runner — opens a store
/// that is up to date, and is told why when a migration is pending.
#[test]
fn an_up_to_date_postgres_store_opens_without_the_right_to_create_tables() {
    let dir = tenet_store::testing::tempdir();
    let loc = fresh(Kind::Postgres, dir.path());
    let admin = Store::connect(&loc).unwrap();
    let role = format!("writer_{}", std::process::id());
    execute(
        &admin,
        &format!(
            "CREATE ROLE {role} LOGIN;
             GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        ),
    )
    .unwrap();
    let url = tenet_store::testing::url(&loc);
    let as_role = url.replacen("://tenet@", &format!("://{role}@"), 1);
    assert_ne!(as_role, url, "the test server's URL names the user tenet");
    let limited = tenet_store::Location::parse(&as_role).unwrap();
    let mut s = Store::connect(&limited).unwrap();
    s.record_audit(&event("by-role", "/repo", "blocked"))
        .unwrap();
    assert_eq!(s.audit_events(None, 5).unwrap().len(), 1);
    // A pending migration needs the right: the error says what failed.
    let err = s.migrate(TWO).unwrap_err().to_string();
    assert!(
        err.contains("cannot apply the migrations of `demo`"),
        "{err}"
    );
    assert!(err.contains("permission denied"), "{err}");
}
