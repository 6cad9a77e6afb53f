//! The control-plane module's records: a registered cluster
//! ([`ClusterRecord`]) with its last observed [`Inventory`], the desired
//! state declared for a set of clusters ([`Desired`]), and a [`Drift`]
//! between them. Times are milliseconds since the epoch, RFC 3339 in JSON.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A cluster as registered (`POST /v1/clusters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterRecord {
    /// Its id (`prod-eu-west-1a`): 1 to 100 letters, digits, `_`, `.`, `-`.
    pub id: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub env: String,
    /// Its endpoints by purpose (`admin`: the inventory and bundle API).
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// What it can run (`tenet-sidecar`, `opa-wasm`...).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The agent's version (semver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SLO targets by name.
    #[serde(default)]
    pub slo: BTreeMap<String, f64>,
    /// Clusters of one group fail together; a wave spans few of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius_group: Option<String>,
    /// What selectors select (`region` and `env` are added as labels).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The last inventory observed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
}

impl ClusterRecord {
    /// Its labels with `region` and `env` (as a selector reads them).
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        if !self.region.is_empty() {
            l.entry("region".into())
                .or_insert_with(|| self.region.clone());
        }
        if !self.env.is_empty() {
            l.entry("env".into()).or_insert_with(|| self.env.clone());
        }
        l
    }

    /// A cluster id that can name a path segment.
    pub fn valid_id(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= 100
            && !id.bytes().all(|b| b == b'.')
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    }
}

/// What a cluster runs, as its admin API reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Service versions by service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Configuration hashes by config name.
    #[serde(default)]
    pub config_hashes: BTreeMap<String, String>,
    /// The feature-flag snapshot.
    #[serde(default)]
    pub flags: BTreeMap<String, serde_json::Value>,
    /// The fingerprint of the policy bundle it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_fingerprint: Option<String>,
    /// Capabilities it reports (added to the registered ones).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// When it was observed (ms; set by the control plane when it reads it).
    #[serde(default)]
    pub observed_at: i64,
}

/// The desired state of the clusters a selector selects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desired {
    /// A label selector (`{labels: {env: "prod"}}`); none: every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_fingerprint: Option<String>,
    /// Service versions (semver) by service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    #[serde(default)]
    pub config_hashes: BTreeMap<String, String>,
    /// Capabilities every selected cluster must have.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// One difference between what a cluster runs and what it should.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Drift {
    pub cluster: String,
    /// `no_inventory`, `stale_inventory`, `bundle_fingerprint`,
    /// `config_hash`, `service_version`, `missing_service` or
    /// `missing_capability`.
    pub kind: String,
    /// What drifted (a service, a config, a capability; empty for the
    /// bundle and the inventory).
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// For a version: `major`, `minor`, `patch` or `pre` — and `behind` or
    /// `ahead`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<String>,
    /// In one sentence.
    pub reason: String,
}

impl Drift {
    /// What identifies it across checks (a drift already seen is not new).
    pub fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.cluster,
            self.kind,
            self.item,
            self.expected.clone().unwrap_or_default()
        )
    }
}
