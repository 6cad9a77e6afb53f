//! Provisioning through the store on both backends (`conformance!`): an
//! apply writes the tenant's document whole and one change-log entry per
//! setting changed; applying again changes nothing; advise mode and dry
//! runs write nothing; 50 applies at once for one tenant end in one
//! consistent document with one entry per real change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::sync::Arc;
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::config_center::{ConfigCenter, Directory};
use tenet_autoconfig::engine::{provision, Provisioned, Run};
use tenet_autoconfig::store::{self as st, Step};
use tenet_runtime::load::{load_bundled, Rules};
use tenet_store::testing::fresh;
use tenet_store::{conformance, Store};

const T0: i64 = 1_796_083_200_000;

fn rules() -> Arc<Rules> {
    Arc::new(load_bundled().unwrap())
}

/// One apply of `baseline` to `tenant` (facts set on first sight).
fn apply_once(
    store: &mut Store,
    rules: &Arc<Rules>,
    center: &Arc<Directory>,
    tenant: &str,
    baseline: &str,
    dry_run: bool,
) -> Provisioned {
    let (rules, center, baseline) = (Arc::clone(rules), Arc::clone(center), baseline.to_string());
    st::with_tenant(store, tenant, move |rec| {
        if rec.facts.is_empty() {
            rec.facts = json!({"tier": "production", "compliance": "pci", "frameworks": ["pci"]})
                .as_object()
                .cloned()
                .unwrap();
        }
        let pack = tenet_autoconfig::pack(&rules).map_err(|e| e.to_string())?;
        let b = Baselines::read(&pack)?;
        let base = b.get(&baseline).ok_or("no baseline")?;
        let run = Run {
            now: T0,
            dry_run,
            actor: "test".into(),
            action_id: "a-1".into(),
        };
        let (p, changes) = provision(&pack, base, center.as_ref(), rec, &run)?;
        Ok(Step {
            write: p.written,
            changes,
            audit: Vec::new(),
            out: p,
        })
    })
    .unwrap()
}

fn seed(center: &Directory, tenant: &str) {
    center
        .write(
            tenant,
            None,
            &json!({"tls": {"min_version": "1.1"}, "mfa": {"required": true}, "session": {"idle_timeout": "45m"}, "audit_log": {"retention": "30d"}}),
        )
        .unwrap();
}

conformance!(
    apply_writes_whole_documents_and_a_change_log,
    |kind, dir| {
        let mut store = st::open(&fresh(kind, dir)).unwrap();
        let center = Arc::new(Directory::new(dir.join("config")));
        seed(&center, "payco");
        let rules = rules();
        // A dry run says what would change, and writes nothing.
        let dry = apply_once(&mut store, &rules, &center, "payco", "regulated", true);
        assert!(!dry.written && dry.dry_run);
        assert!(!dry.applied.changed.is_empty());
        assert!(st::changes(&store, "payco", 100).unwrap().is_empty());
        assert_eq!(
            center.read("payco").unwrap().document["tls"]["min_version"],
            "1.1"
        );
        // Applied: TLS 1.3, idle 15m, a year of audit log, two approvers,
        // customer-managed keys; MFA untouched. One entry per change.
        let first = apply_once(&mut store, &rules, &center, "payco", "regulated", false);
        assert!(first.written);
        let doc = center.read("payco").unwrap().document;
        assert_eq!(doc["tls"]["min_version"], "1.3");
        assert_eq!(doc["session"]["idle_timeout"], "15m");
        assert_eq!(doc["audit_log"]["retention"], "365d");
        assert_eq!(doc["break_glass"]["approvers"], 2);
        assert_eq!(doc["encryption"]["key_source"], "customer_managed");
        let log = st::changes(&store, "payco", 100).unwrap();
        assert_eq!(log.len(), first.applied.changed.len());
        assert_eq!(log.len(), 5, "{log:?}");
        let tls = log.iter().find(|c| c.setting == "tls.min_version").unwrap();
        assert_eq!(
            (tls.from.clone(), tls.to.clone(), tls.risk.as_str()),
            (json!("1.1"), json!("1.3"), "critical")
        );
        assert_eq!(tls.config_version, first.config_version.clone().unwrap());
        // Again: nothing to change, nothing written, the log as it was.
        let again = apply_once(&mut store, &rules, &center, "payco", "regulated", false);
        assert!(!again.written && again.applied.changed.is_empty());
        assert_eq!(st::changes(&store, "payco", 100).unwrap().len(), 5);
        // secure-default after regulated lowers nothing: TLS stays 1.3.
        let weaker = apply_once(
            &mut store,
            &rules,
            &center,
            "payco",
            "secure-default",
            false,
        );
        assert!(
            weaker.applied.changed.is_empty(),
            "{:?}",
            weaker.applied.changed
        );
        assert_eq!(
            center.read("payco").unwrap().document["tls"]["min_version"],
            "1.3"
        );
        // The sandbox baseline is advise: proposes, never writes.
        seed(&center, "trial");
        let rec = apply_once(&mut store, &rules, &center, "trial", "sandbox", false);
        assert!(!rec.written);
        assert_eq!(
            center.read("trial").unwrap().document["tls"]["min_version"],
            "1.1"
        );
        let r = st::record(&store, "payco").unwrap().unwrap();
        assert_eq!(r.last_applied.unwrap().changed, 5);
    }
);

conformance!(
    fifty_applies_at_once_are_one_consistent_change,
    |kind, dir| {
        let loc = fresh(kind, dir);
        st::open(&loc).unwrap();
        let center = Arc::new(Directory::new(dir.join("config")));
        seed(&center, "payco");
        let rules = rules();
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (loc, rules, center) = (loc.clone(), Arc::clone(&rules), Arc::clone(&center));
                std::thread::spawn(move || {
                    let mut store = st::open(&loc).unwrap();
                    apply_once(&mut store, &rules, &center, "payco", "regulated", false).written
                })
            })
            .collect();
        let wrote: usize = handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum();
        assert_eq!(
            wrote, 1,
            "one apply wrote; the others found nothing to change"
        );
        let store = st::open(&loc).unwrap();
        // One apply did the work; the 49 others found nothing to change.
        let log = st::changes(&store, "payco", 1000).unwrap();
        assert_eq!(log.len(), 5, "one entry per real change: {log:?}");
        let doc = center.read("payco").unwrap().document;
        assert_eq!(doc["tls"]["min_version"], "1.3");
        assert_eq!(doc["session"]["idle_timeout"], "15m");
    }
);
