//! The control-plane engine: pure functions from records, the desired
//! state, `now` and the pack to decisions. No I/O and no clock reads.
//!
//! **Drift** ([`drift`]): a cluster's last observed inventory against the
//! desired states whose selectors select it (merged in order, a later one
//! overriding an earlier one for the same item): the bundle fingerprint,
//! each config hash, each service version (with its semver delta: major,
//! minor, patch or pre-release, behind or ahead) and each required
//! capability. A cluster with no inventory, or one older than
//! `max_age`, drifts as such: what is not known to be right is not right.
//! [`new_drifts`] tells which drifts a check found that the previous one
//! did not (each is a `DriftDetected` event).

use crate::model::{ClusterRecord, Desired, Drift};
use std::collections::{BTreeMap, BTreeSet};
use tenet_runtime::clock::Timestamp;
use tenet_runtime::dsl::Value;

/// The desired state for `cluster`: every `desired` whose selector selects
/// it, merged in order. A malformed selector is an error naming it.
pub fn desired_for(cluster: &ClusterRecord, desired: &[Desired]) -> Result<Desired, String> {
    let labels = Value::from_json(&serde_json::to_value(cluster.all_labels()).unwrap_or_default());
    let mut out = Desired::default();
    for (i, d) in desired.iter().enumerate() {
        let applies = match &d.select {
            None => true,
            Some(s) => tenet_runtime::dsl::builtins::selects(&Value::from_json(s), &labels)
                .map_err(|e| format!("desired state {i}: {e}"))?,
        };
        if !applies {
            continue;
        }
        if d.bundle_fingerprint.is_some() {
            out.bundle_fingerprint = d.bundle_fingerprint.clone();
        }
        out.services.extend(d.services.clone());
        out.config_hashes.extend(d.config_hashes.clone());
        for c in &d.capabilities {
            if !out.capabilities.contains(c) {
                out.capabilities.push(c.clone());
            }
        }
    }
    Ok(out)
}

/// How far `observed` is from `expected`: `major`, `minor`, `patch` or
/// `pre`, and `behind` or `ahead`; `None` when equal or not semver.
pub fn semver_delta(expected: &str, observed: &str) -> Option<(String, &'static str)> {
    let e = semver::Version::parse(expected.trim_start_matches('v')).ok()?;
    let o = semver::Version::parse(observed.trim_start_matches('v')).ok()?;
    if e == o {
        return None;
    }
    let part = if e.major != o.major {
        "major"
    } else if e.minor != o.minor {
        "minor"
    } else if e.patch != o.patch {
        "patch"
    } else {
        "pre"
    };
    Some((part.to_string(), if o < e { "behind" } else { "ahead" }))
}

/// The drifts of one cluster at `now`.
pub fn drift(cluster: &ClusterRecord, desired: &Desired, now: i64, max_age_ms: i64) -> Vec<Drift> {
    let id = cluster.id.clone();
    let mk = |kind: &str,
              item: &str,
              expected: Option<String>,
              observed: Option<String>,
              delta: Option<String>,
              reason: String| Drift {
        cluster: id.clone(),
        kind: kind.into(),
        item: item.into(),
        expected,
        observed,
        delta,
        reason,
    };
    let Some(inv) = &cluster.inventory else {
        return vec![mk(
            "no_inventory",
            "",
            None,
            None,
            None,
            format!(
                "{} has reported no inventory: nothing is known to be right",
                cluster.id
            ),
        )];
    };
    let mut out = Vec::new();
    if now - inv.observed_at > max_age_ms {
        out.push(mk(
            "stale_inventory",
            "",
            None,
            Some(Timestamp::from_millis(inv.observed_at).rfc3339()),
            None,
            format!(
                "{}'s inventory is from {}, older than {}: what it runs now is unknown",
                cluster.id,
                Timestamp::from_millis(inv.observed_at).rfc3339(),
                tenet_runtime::dsl::value::format_duration(max_age_ms)
            ),
        ));
    }
    if let Some(want) = &desired.bundle_fingerprint {
        if inv.bundle_fingerprint.as_ref() != Some(want) {
            out.push(mk(
                "bundle_fingerprint",
                "",
                Some(want.clone()),
                inv.bundle_fingerprint.clone(),
                None,
                format!(
                    "{} serves policy bundle {} instead of {want}",
                    cluster.id,
                    inv.bundle_fingerprint.as_deref().unwrap_or("(none)")
                ),
            ));
        }
    }
    for (name, want) in &desired.config_hashes {
        match inv.config_hashes.get(name) {
            Some(h) if h == want => {}
            got => out.push(mk(
                "config_hash",
                name,
                Some(want.clone()),
                got.cloned(),
                None,
                format!(
                    "config `{name}` on {} hashes to {} instead of {want}",
                    cluster.id,
                    got.map(String::as_str).unwrap_or("(absent)")
                ),
            )),
        }
    }
    for (svc, want) in &desired.services {
        match inv.services.get(svc) {
            None => out.push(mk(
                "missing_service",
                svc,
                Some(want.clone()),
                None,
                None,
                format!("{} does not run `{svc}` ({want} expected)", cluster.id),
            )),
            Some(got) if got == want => {}
            Some(got) => {
                let delta = semver_delta(want, got);
                let why = match &delta {
                    Some((part, dir)) => format!("a {part} version {dir}"),
                    None => "not comparable as semver".to_string(),
                };
                out.push(mk(
                    "service_version",
                    svc,
                    Some(want.clone()),
                    Some(got.clone()),
                    delta.map(|(p, d)| format!("{p} {d}")),
                    format!("`{svc}` on {} is {got}, {why} of {want}", cluster.id),
                ));
            }
        }
    }
    let has: BTreeSet<&String> = cluster
        .capabilities
        .iter()
        .chain(inv.capabilities.iter())
        .collect();
    for c in &desired.capabilities {
        if !has.contains(c) {
            out.push(mk(
                "missing_capability",
                c,
                Some(c.clone()),
                None,
                None,
                format!("{} lacks the capability `{c}`", cluster.id),
            ));
        }
    }
    out.sort();
    out
}

/// The drifts of `now` that `before` did not have (by [`Drift::key`]).
pub fn new_drifts(before: &[Drift], now: &[Drift]) -> Vec<Drift> {
    let seen: BTreeSet<String> = before.iter().map(Drift::key).collect();
    now.iter()
        .filter(|d| !seen.contains(&d.key()))
        .cloned()
        .collect()
}

/// The drift of a fleet, by cluster.
pub fn fleet_drift(
    clusters: &[ClusterRecord],
    desired: &[Desired],
    now: i64,
    max_age_ms: i64,
) -> Result<BTreeMap<String, Vec<Drift>>, String> {
    let mut out = BTreeMap::new();
    for c in clusters {
        let d = desired_for(c, desired)?;
        out.insert(c.id.clone(), drift(c, &d, now, max_age_ms));
    }
    Ok(out)
}

/// The pack's `fleet` policy: how long an inventory is trusted (ms);
/// 15 minutes when the pack declares no `fleet` block.
pub fn inventory_max_age(pack: &tenet_runtime::pack::PackHandle) -> i64 {
    pack.compiled()
        .blocks
        .iter()
        .find(|b| b.kind == "fleet")
        .and_then(|b| {
            pack.field(b, "inventory_max_age", &Value::Null)
                .ok()
                .flatten()
        })
        .and_then(|v| match v {
            Value::Duration(ms) if ms > 0 => Some(ms),
            _ => None,
        })
        .unwrap_or(DEFAULT_INVENTORY_MAX_AGE_MS)
}

/// The trust in an inventory when the pack says nothing: 15 minutes.
pub const DEFAULT_INVENTORY_MAX_AGE_MS: i64 = 15 * 60 * 1000;
