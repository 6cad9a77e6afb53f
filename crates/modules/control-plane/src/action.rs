//! An action run: one bundle rolled out over the fleet, with each
//! cluster's state — the persisted per-cluster cursor a resume starts
//! from — and the registered bundles it ships.
//!
//! The run's states are `pending → running → succeeded | failed | paused`,
//! and `paused → running` on resume ([`RunState::can_become`] holds every
//! legal transition). A cluster's are in [`ClusterState`]: `pending`, then
//! `pushing` (persisted *before* the push, so a restart knows a push may be
//! in flight), `smoke` (remote exec running), `baking` (pushed; its gates
//! are measured), and one of `succeeded`, `failed` (a gate or the smoke
//! test said the bundle is bad there), `quarantined` (the circuit breaker
//! tripped after repeated push failures), `rolled_back`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A registered bundle: what `POST /v1/bundles` keeps and a push carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// `governance-policies`.
    pub name: String,
    /// `1.4.0`: with the name, the bundle's identity; never reused.
    pub version: String,
    /// `sha256:<64 hex>`: what a cluster reports once it runs the bundle.
    pub fingerprint: String,
    /// Bundles that must be registered first; a push lists them for the
    /// cluster.
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A bundle another one needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub name: String,
    pub version: String,
}

impl Bundle {
    /// Why the bundle is malformed, if it is.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !name_ok(&self.name) {
            return Err(format!(
                "bundle name `{}` must be 1 to 128 letters, digits, `-`, `_` or `.`",
                self.name
            ));
        }
        if !name_ok(&self.version) {
            return Err(format!(
                "bundle version `{}` must be 1 to 128 letters, digits, `-`, `_` or `.`",
                self.version
            ));
        }
        if !valid_fingerprint(&self.fingerprint) {
            return Err(format!(
                "fingerprint `{}` is not `sha256:` and 64 lowercase hex digits",
                self.fingerprint
            ));
        }
        Ok(())
    }

    /// `name@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Whether `f` is `sha256:` and 64 lowercase hex digits.
pub fn valid_fingerprint(f: &str) -> bool {
    f.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Paused,
}

impl RunState {
    /// The legal transitions.
    pub fn can_become(self, to: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, to),
            (Pending, Running | Failed)
                | (Running, Succeeded | Failed | Paused)
                // A resume, or a rollback that starts while paused.
                | (Paused, Running)
                // `on_fail freeze` in the same step as a pause.
                | (Paused, Failed)
                // A run that finished with quarantined clusters retries them.
                | (Succeeded, Running)
        )
    }

    /// Whether the driver still moves it.
    pub fn active(self) -> bool {
        matches!(self, RunState::Pending | RunState::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Paused => "paused",
        }
    }
}

/// A cluster's state in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterState {
    Pending,
    Pushing,
    Smoke,
    Baking,
    Succeeded,
    Failed,
    Quarantined,
    RolledBack,
}

impl ClusterState {
    /// Done with pushing: the next wave may start.
    pub fn settled(self) -> bool {
        !matches!(
            self,
            ClusterState::Pending | ClusterState::Pushing | ClusterState::Smoke
        )
    }

    /// Holds the new bundle (as far as the run knows).
    pub fn pushed(self) -> bool {
        matches!(
            self,
            ClusterState::Smoke
                | ClusterState::Baking
                | ClusterState::Succeeded
                | ClusterState::Failed
        )
    }
}

/// One gate's measurements on one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateCount {
    pub measured: u32,
    pub failures: u32,
    pub inconclusive: u32,
    /// Consecutive errors (a success resets them).
    pub errors: u32,
    /// When it was last measured (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
}

/// One cluster of a run: the persisted cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRun {
    pub id: String,
    pub stage: String,
    /// 1-based, within the stage.
    pub wave: usize,
    pub state: ClusterState,
    /// Pushes started (the push's idempotency key carries it).
    pub attempts: u32,
    /// Failed pushes in a row (the circuit breaker counts these).
    pub consecutive_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When a retry may start (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_try_at: Option<i64>,
    /// When the push was verified (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<i64>,
    /// The fingerprint the cluster reported before the run: what a
    /// rollback restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_fingerprint: Option<String>,
    /// `{endpoints.admin}` at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// The cluster as gates read it (`cluster.*`).
    pub cluster: serde_json::Value,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gates: BTreeMap<String, GateCount>,
    /// Why it ended as it did, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// The smoke command it runs (kept when it is pushed, so a reload
    /// of the pack cannot leave it waiting for a command that is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<String>,
    /// Its rollback failed until the breaker gave up on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback_failed: bool,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub clusters: Vec<String>,
    pub per_wave: usize,
    /// Set when every cluster of the stage is settled: the stage is done
    /// at this time (ms), its bake over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub done: bool,
}

/// A rollout of one bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRun {
    pub id: String,
    pub bundle: Bundle,
    pub rollout: String,
    /// Who started it, as the guards read it.
    pub actor: serde_json::Value,
    pub state: RunState,
    pub created_at: i64,
    pub updated_at: i64,
    /// The registered fleet's size when it was planned.
    pub fleet_size: usize,
    pub stages: Vec<StageRun>,
    /// Target clusters no stage selects (under `unmatched skip`).
    #[serde(default)]
    pub unmatched: Vec<String>,
    pub clusters: BTreeMap<String, ClusterRun>,
    /// Why it is paused or failed, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it waits for while running (a closed window, a bake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// `on_fail freeze` stopped it: it cannot be resumed.
    #[serde(default)]
    pub frozen: bool,
    /// `on_fail rollback` started: the pushed clusters get their previous
    /// bundle back, then the run fails.
    #[serde(default)]
    pub rolling_back: bool,
}

impl ActionRun {
    /// Clusters per state.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for c in self.clusters.values() {
            let k = match c.state {
                ClusterState::Pending => "pending",
                ClusterState::Pushing => "pushing",
                ClusterState::Smoke => "smoke",
                ClusterState::Baking => "baking",
                ClusterState::Succeeded => "succeeded",
                ClusterState::Failed => "failed",
                ClusterState::Quarantined => "quarantined",
                ClusterState::RolledBack => "rolled_back",
            };
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }

    /// Moves the run to `to`, if that is legal.
    pub fn become_(&mut self, to: RunState, now: i64) -> Result<(), String> {
        if self.state == to {
            return Ok(());
        }
        if !self.state.can_become(to) {
            return Err(format!(
                "action {} is {} and cannot become {}",
                self.id,
                self.state.as_str(),
                to.as_str()
            ));
        }
        self.state = to;
        self.updated_at = now;
        Ok(())
    }
}
