//! The dark-inventory module's records as plain serde types: what comes in
//! (a discovery [`Batch`], [`CatalogEntry`]s), what is kept (a [`Finding`]
//! with its merged provenance, its waivers, acknowledgement, closures and
//! tasks; a [`SourceState`] per discovery source), and the state machine
//! ([`Status`], [`Finding::status_at`]).
//!
//! A finding keeps its own history — every waiver with its interval, every
//! closure with its reopening — so that its status and SLA clock at any
//! time are a function of the record and that time. Times are
//! milliseconds since the epoch, RFC 3339 in JSON.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One source run: what a collector saw, as `POST /v1/discoveries` takes it
/// and `tenet inventory correlate --discoveries FILE` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The discovery source (a `source` block of the pack).
    pub source: String,
    /// The run's id: a second batch with the same source and run is the same
    /// run, and changes nothing.
    pub run: String,
    /// When the run observed (default: when it is ingested).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub at: Option<i64>,
    /// The tenant the resources belong to (default: the caller's, else
    /// `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub resources: Vec<Discovered>,
}

/// One discovered resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovered {
    /// Its type (`aws:s3:bucket`, `k8s:ingress`, `api:operation`...).
    #[serde(rename = "type")]
    pub ty: String,
    /// A canonical key the collector already knows (an ARN, a host name);
    /// the pack's `key` and `aliases` add theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What the rules read as `resource.*` (with `type` and `key`).
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Where it was seen (an account and region, a cluster, a commit).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
    /// Where it came from, when the collector knows (a creator, a pipeline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<String>,
}

impl Discovered {
    /// The `resource` the pack's rules read: the attributes, with `type`
    /// and `key`.
    pub fn resource(&self) -> serde_json::Value {
        let mut m = self.attributes.clone();
        m.insert("type".into(), self.ty.clone().into());
        if let Some(k) = &self.key {
            m.insert("key".into(), k.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

/// One registered resource of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The catalog (`data-stores`, `service-registry`...), as the pack's
    /// `correlate` rules name it.
    pub catalog: String,
    /// Its id in that catalog.
    pub id: String,
    /// Canonical keys, matched as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Attributes the pack's `key` and `aliases` read as `resource.*`, so
    /// that the entry is normalised as discoveries are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Anything else the pack's `governed_when` reads as `catalog.entry.*`.
    #[serde(default, flatten)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// What a discovery source has done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub source: String,
    /// Runs ingested.
    pub runs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub last_run_at: Option<i64>,
    /// Resources in the last run.
    pub last_count: u64,
    /// Findings the last run saw.
    pub last_findings: u64,
    /// Why the last run closed nothing, when a guard held it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_guard: Option<String>,
}

/// A finding's status at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    Waived,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Waived => "waived",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "acknowledged" => Some(Status::Acknowledged),
            "waived" => Some(Status::Waived),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }

    /// Whether it asks for attention: open findings do; acknowledged,
    /// waived and closed ones stay visible but quiet.
    pub fn loud(self) -> bool {
        self == Status::Open
    }
}

/// What one source knows of a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(with = "rfc3339")]
    pub first_seen: i64,
    #[serde(with = "rfc3339")]
    pub last_seen: i64,
    /// The last run that saw it.
    pub last_run: String,
    /// The source's runs in a row that did not see it since.
    pub missed: u32,
    /// Where it was seen last.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "where")]
    pub seen_at: Option<String>,
    /// What the source reported last (its attributes).
    pub evidence: serde_json::Value,
}

/// An acknowledgement: someone owns it; it stays visible but quiet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub by: String,
    #[serde(with = "rfc3339")]
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A waiver (a risk acceptance): from its grant to its expiry, unless revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiver {
    pub owner: String,
    pub justification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Who granted it (a person, or `pack:<waiver>` for the pack's own).
    pub by: String,
    #[serde(with = "rfc3339")]
    pub from: i64,
    #[serde(with = "rfc3339")]
    pub until: i64,
}

impl Waiver {
    /// Whether it holds at `t`.
    pub fn holds(&self, t: i64) -> bool {
        self.from <= t && t < self.until
    }
}

/// One closure and, when it came back, its reopening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    #[serde(with = "rfc3339")]
    pub at: i64,
    /// `not_seen` (gone from every source), `registered` (now in its
    /// catalog and governed), or `merged` (into [`Finding::merged_into`]).
    pub reason: String,
    /// The SLA margin frozen when it closed: positive, met by that many ms;
    /// negative, breached by that many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_margin_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub reopened_at: Option<i64>,
}

/// A remediation task a finding opened, with its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The pack's task (`register-dataset`, `lock-endpoint`...).
    pub kind: String,
    /// `open`, `in_progress`, `done` or `wont_do`.
    pub status: String,
    #[serde(with = "rfc3339")]
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The task statuses a person may set.
pub const TASK_STATUSES: &[&str] = &["open", "in_progress", "done", "wont_do"];

/// A resource nobody registered (or nobody governs): one per resource,
/// however many sources and keys report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `f-` and 16 hex digits of the sha256 of its tenant and first key:
    /// stable across runs and stores.
    pub id: String,
    pub tenant: String,
    /// The key it was first found by.
    pub key: String,
    /// Every key it is known by (its key and aliases, from every source).
    pub keys: BTreeSet<String>,
    /// The `correlate` rule of the latest sighting.
    pub rule: String,
    pub catalog: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// From the latest sighting's rule.
    pub severity: String,
    /// Time to remediate, from the latest sighting (`None`: the pack
    /// enforces no SLA for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// `unregistered`, or `ungoverned` (registered, but its entry fails the
    /// rule's `governed_when`).
    pub kind: String,
    /// Per source, first and last seen and evidence.
    pub sources: BTreeMap<String, Provenance>,
    #[serde(with = "rfc3339")]
    pub first_seen: i64,
    #[serde(with = "rfc3339")]
    pub last_seen: i64,
    /// Where it came from, where known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<String>,
    /// When its SLA clock started: first seen, or its last reopening under
    /// `on_reopen restart`.
    #[serde(with = "rfc3339")]
    pub clock_start: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<Waiver>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closures: Vec<Closure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// The finding this one was merged into (a key bridged them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Findings merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<String>,
    /// Why it is a finding, in one sentence.
    pub explanation: String,
    /// Bumped on every change (the store's conditional update).
    pub version: u64,
}

impl Finding {
    /// The finding's id for a tenant and its first key.
    pub fn id_for(tenant: &str, key: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(tenant.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        format!("f-{}", &hex::encode(h.finalize())[..16])
    }

    /// The closure in force at `t`, if any.
    pub fn closure_at(&self, t: i64) -> Option<&Closure> {
        self.closures
            .iter()
            .find(|c| c.at <= t && c.reopened_at.is_none_or(|r| r > t))
    }

    /// The waiver in force at `t`, if any (the one that lasts longest).
    pub fn waiver_at(&self, t: i64) -> Option<&Waiver> {
        self.waivers
            .iter()
            .filter(|w| w.holds(t))
            .max_by_key(|w| w.until)
    }

    /// Its status at `t`: closed, else waived while a waiver holds (an
    /// expired waiver reactivates it), else acknowledged, else open.
    pub fn status_at(&self, t: i64) -> Status {
        if self.first_seen > t {
            return Status::Open;
        }
        if self.closure_at(t).is_some() {
            Status::Closed
        } else if self.waiver_at(t).is_some() {
            Status::Waived
        } else if self.ack.as_ref().is_some_and(|a| a.at <= t) {
            Status::Acknowledged
        } else {
            Status::Open
        }
    }

    /// Whether it is closed now (at its latest state).
    pub fn is_closed(&self) -> bool {
        self.closures
            .last()
            .is_some_and(|c| c.reopened_at.is_none())
    }
}

/// Milliseconds as RFC 3339 in JSON (either read back).
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use tenet_runtime::clock::Timestamp;

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Timestamp::from_millis(*ms).rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text)
            .map(Timestamp::millis)
            .map_err(serde::de::Error::custom)
    }
}

/// An optional time as RFC 3339.
pub mod opt_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use tenet_runtime::clock::Timestamp;

    pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&Timestamp::from_millis(*ms).rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| {
            Timestamp::parse(&t)
                .map(Timestamp::millis)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}
