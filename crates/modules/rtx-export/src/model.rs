//! The rtx-export module's records (plain serde types with their ids) and
//! its state machine: one enum of states ([`ExportState`]) and one function
//! holding the legal transitions ([`ExportState::can_become`]).
//!
//! Times are Unix milliseconds (`at`, `created_at`...) in the records; the
//! bundle renders them as RFC 3339. Inputs from outside (evidence, export
//! requests) are checked by `validate`/`from_json`, whose errors name the
//! field and say what to fix.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The bundle's schema, the first thing a reader checks.
pub const SCHEMA: &str = "tenet.rtx/v1";

/// Longest id, subject, name or free-text field accepted.
pub const MAX_TEXT: usize = 512;
/// Largest free JSON payload (an XAI payload, a consent context), as JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Deepest nesting accepted in free JSON.
pub const MAX_DEPTH: usize = 32;

/// Bad input, naming the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct InvalidInput {
    pub field: String,
    pub problem: String,
}

fn invalid(field: &str, problem: impl Into<String>) -> InvalidInput {
    InvalidInput {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// A required piece of text: not blank, not too long, no control characters.
fn text(field: &str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    let n = value.chars().count();
    if n > MAX_TEXT {
        return Err(invalid(
            field,
            format!("is {n} characters long; the limit is {MAX_TEXT}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

fn opt_text(field: &str, value: Option<&str>) -> Result<(), InvalidInput> {
    value.map_or(Ok(()), |v| text(field, v))
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Free JSON: bounded in size and depth.
fn payload(field: &str, v: &Value) -> Result<(), InvalidInput> {
    if depth(v) > MAX_DEPTH {
        return Err(invalid(
            field,
            format!("is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let len = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
    if len > MAX_PAYLOAD_BYTES {
        return Err(invalid(
            field,
            format!("is {len} bytes of JSON; the limit is {MAX_PAYLOAD_BYTES}"),
        ));
    }
    Ok(())
}

fn time(field: &str, ms: i64) -> Result<(), InvalidInput> {
    // 0..=9999-12-31: what RFC 3339 can write.
    if !(0..=253_402_300_799_999).contains(&ms) {
        return Err(invalid(
            field,
            format!("is {ms}, not a time in Unix milliseconds between 1970 and 9999"),
        ));
    }
    Ok(())
}

/// The model that produced a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
    /// `in-house`, or the vendor whose model it is (the pack may treat a
    /// vendor's internals as a trade secret).
    pub provider: String,
    /// The training-data snapshot (an id or digest), for the provenance chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<String>,
}

/// Where one feature came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProvenance {
    pub feature: String,
    /// The system or dataset it was read from.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// External evidence about one automated decision, posted by a
/// model-serving or provenance system (`POST /v1/rtx/evidence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Assigned by [`Evidence::from_json`]: `ev-` and the first 24 hex digits
    /// of the sha256 of the canonical evidence, so posting it twice stores
    /// it once.
    #[serde(default)]
    pub id: String,
    pub subject: String,
    pub at: i64,
    pub model: ModelRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The explanation payload (SHAP values, reason codes...), as sent.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub xai: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_provenance: Vec<FeatureProvenance>,
    /// The consent and authorization context the decision was made under.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub consent: Value,
    /// The system that posted it.
    pub source_id: String,
}

const EVIDENCE_FIELDS: &[&str] = &[
    "subject",
    "at",
    "model",
    "score",
    "xai",
    "feature_provenance",
    "consent",
    "source_id",
];

impl Evidence {
    /// Reads a posted body: unknown fields are refused (a typo must not
    /// drop data silently), every field is checked, and the id is assigned.
    pub fn from_json(body: &Value) -> Result<Evidence, InvalidInput> {
        let Value::Object(map) = body else {
            return Err(invalid("evidence", "must be a JSON object"));
        };
        if let Some(k) = map.keys().find(|k| !EVIDENCE_FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                k,
                format!(
                    "is not an evidence field (fields: {})",
                    EVIDENCE_FIELDS.join(", ")
                ),
            ));
        }
        let mut ev: Evidence = serde_json::from_value(body.clone())
            .map_err(|e| invalid("evidence", format!("does not parse: {e}")))?;
        ev.validate()?;
        ev.id = ev.content_id();
        Ok(ev)
    }

    /// Checks every field (the id aside).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        text("subject", &self.subject)?;
        time("at", self.at)?;
        text("model.name", &self.model.name)?;
        text("model.version", &self.model.version)?;
        text("model.provider", &self.model.provider)?;
        opt_text("model.training_data", self.model.training_data.as_deref())?;
        if self.score.is_some_and(|s| !s.is_finite()) {
            return Err(invalid("score", "is not a finite number"));
        }
        payload("xai", &self.xai)?;
        payload("consent", &self.consent)?;
        if self.feature_provenance.len() > 10_000 {
            return Err(invalid("feature_provenance", "has more than 10000 entries"));
        }
        for (i, f) in self.feature_provenance.iter().enumerate() {
            text(&format!("feature_provenance[{i}].feature"), &f.feature)?;
            text(&format!("feature_provenance[{i}].source"), &f.source)?;
            opt_text(
                &format!("feature_provenance[{i}].version"),
                f.version.as_deref(),
            )?;
        }
        text("source_id", &self.source_id)
    }

    /// The id this evidence's content gives it.
    pub fn content_id(&self) -> String {
        let mut body = self.clone();
        body.id = String::new();
        let bytes = crate::canonical::to_vec(&body).unwrap_or_default();
        format!("ev-{}", &crate::canonical::sha256_hex(&bytes)[..24])
    }
}

/// A decision from the audit log, with the rules in force when it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The audit event's action id.
    pub id: String,
    pub at: i64,
    pub pack: String,
    pub pack_version: String,
    /// The bundle hash (fingerprint) of the rules in force.
    pub bundle: String,
    /// The rules (blocks) that matched.
    #[serde(default)]
    pub rules: Vec<String>,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The input facts the decision read, at the top level of the record
    /// (what the masking paths `record.features...` address).
    #[serde(flatten)]
    pub facts: Map<String, Value>,
}

/// A tenant-benchmark score and its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub id: String,
    pub at: i64,
    pub profile: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub explanation: Value,
}

/// A safety-workflow approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub id: String,
    pub at: i64,
    /// What was approved (the action's name).
    pub action: String,
    pub state: String,
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why an export was touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// Its status was read (`GET /v1/exports/{id}`).
    Read,
    /// Its status was listed (`GET /v1/exports`).
    List,
    /// Its bundle was shown (`tenet rtx show`).
    Show,
    /// Its bundle was downloaded.
    Download,
    Revoke,
}

impl AccessAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessAction::Read => "read",
            AccessAction::List => "list",
            AccessAction::Show => "show",
            AccessAction::Download => "download",
            AccessAction::Revoke => "revoke",
        }
    }

    pub fn parse(s: &str) -> Option<AccessAction> {
        [
            Self::Read,
            Self::List,
            Self::Show,
            Self::Download,
            Self::Revoke,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// One access to an export: every read is logged, and the log is part of
/// later exports about the same subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    /// `acc-` and the log's row number.
    pub id: String,
    pub export_id: String,
    pub at: i64,
    pub actor: String,
    pub action: AccessAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// What tenet holds about a subject, one record each. The server gathers
/// them from the audit log and the other modules (a module never imports
/// another) and passes them to the engine sorted by [`Record::key`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Decision(DecisionRecord),
    Score(ScoreRecord),
    Approval(ApprovalRecord),
    Evidence(Evidence),
    Access(AccessLogEntry),
}

/// Keys every rendered record has; the facts of a decision may not use them
/// and masking may not remove them.
pub const RESERVED_KEYS: &[&str] = &["id", "kind", "at", "redactions"];

impl Record {
    pub fn id(&self) -> &str {
        match self {
            Record::Decision(r) => &r.id,
            Record::Score(r) => &r.id,
            Record::Approval(r) => &r.id,
            Record::Evidence(r) => &r.id,
            Record::Access(r) => &r.id,
        }
    }

    pub fn at(&self) -> i64 {
        match self {
            Record::Decision(r) => r.at,
            Record::Score(r) => r.at,
            Record::Approval(r) => r.at,
            Record::Evidence(r) => r.at,
            Record::Access(r) => r.at,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Record::Decision(_) => "decision",
            Record::Score(_) => "score",
            Record::Approval(_) => "approval",
            Record::Evidence(_) => "evidence",
            Record::Access(_) => "access",
        }
    }

    /// The bundle's order: by time, then id.
    pub fn key(&self) -> (i64, &str) {
        (self.at(), self.id())
    }

    /// Checks what the engine relies on.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        text("id", self.id())?;
        time("at", self.at())?;
        if let Record::Decision(d) = self {
            let typed = [
                "pack",
                "pack_version",
                "bundle",
                "rules",
                "outcome",
                "reason",
            ];
            if let Some(k) = d
                .facts
                .keys()
                .find(|k| RESERVED_KEYS.contains(&k.as_str()) || typed.contains(&k.as_str()))
            {
                return Err(invalid(
                    &format!("facts.{k}"),
                    format!("clashes with the decision record's own `{k}`"),
                ));
            }
        }
        Ok(())
    }
}

/// The time an export covers: `[from, to)` in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub fn contains(&self, at: i64) -> bool {
        self.from <= at && at < self.to
    }
}

/// Who asks for an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requestor {
    pub id: String,
    /// What the pack reads as `request.requester_type` (`data_subject`,
    /// `authorized_agent`, `supervisory_authority`...; the pack's words).
    #[serde(rename = "type")]
    pub requester_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// A regulator's case reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// `POST /v1/exports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub subject: String,
    pub window: Window,
    pub requestor: Requestor,
    pub purpose_of_use: String,
    /// The subject's jurisdiction as an ISO 3166 code: a country (`FR`) or
    /// a subdivision (`US-CA`). The pack reads it as `subject.country` and
    /// `subject.region`; without it the pack's policies that read them fail
    /// closed (every jurisdiction's masks apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Other facts about the subject the pack may read (`age`); `country`
    /// and `region` come from `jurisdiction`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub subject_facts: Map<String, Value>,
}

impl ExportRequest {
    /// Reads a posted body, with errors that say what to fix.
    pub fn from_json(body: &Value) -> Result<ExportRequest, InvalidInput> {
        let r: ExportRequest = serde_json::from_value(body.clone())
            .map_err(|e| invalid("export request", format!("does not parse: {e}")))?;
        r.validate()?;
        Ok(r)
    }

    pub fn validate(&self) -> Result<(), InvalidInput> {
        text("subject", &self.subject)?;
        time("window.from", self.window.from)?;
        time("window.to", self.window.to)?;
        // `from` at or after `to` is an empty window (as elsewhere in the
        // API): a valid bundle with no records.
        text("requestor.id", &self.requestor.id)?;
        text("requestor.type", &self.requestor.requester_type)?;
        opt_text("requestor.channel", self.requestor.channel.as_deref())?;
        opt_text("requestor.case", self.requestor.case.as_deref())?;
        opt_text(
            "requestor.on_behalf_of",
            self.requestor.on_behalf_of.as_deref(),
        )?;
        text("purpose_of_use", &self.purpose_of_use)?;
        if let Some(j) = &self.jurisdiction {
            if split_jurisdiction(j).is_none() {
                return Err(invalid(
                    "jurisdiction",
                    format!("is `{j}`, not an ISO 3166 code such as `FR` or `US-CA`"),
                ));
            }
        }
        for k in ["country", "region"] {
            if self.subject_facts.contains_key(k) {
                return Err(invalid(
                    &format!("subject_facts.{k}"),
                    "comes from `jurisdiction`; give it there",
                ));
            }
        }
        payload("subject_facts", &Value::Object(self.subject_facts.clone()))
    }

    /// The pack's `subject` root: the facts, the subject's id, and
    /// `country`/`region` from the jurisdiction.
    pub fn subject_root(&self) -> Value {
        let mut m = self.subject_facts.clone();
        m.insert("id".into(), Value::String(self.subject.clone()));
        if let Some((country, region)) = self.jurisdiction.as_deref().and_then(split_jurisdiction) {
            m.insert("country".into(), Value::String(country.into()));
            if let Some(r) = region {
                m.insert("region".into(), Value::String(r.into()));
            }
        }
        Value::Object(m)
    }

    /// The pack's `request` root.
    pub fn request_root(&self) -> Value {
        let mut m = Map::new();
        let r = &self.requestor;
        m.insert(
            "requester_type".into(),
            Value::String(r.requester_type.clone()),
        );
        m.insert("requestor".into(), Value::String(r.id.clone()));
        m.insert(
            "purpose_of_use".into(),
            Value::String(self.purpose_of_use.clone()),
        );
        for (k, v) in [
            ("channel", &r.channel),
            ("case", &r.case),
            ("on_behalf_of", &r.on_behalf_of),
            ("jurisdiction", &self.jurisdiction),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }
}

/// `FR` → (`FR`, None); `US-CA` → (`US`, Some(`CA`)). ISO 3166-1 alpha-2,
/// optionally with an ISO 3166-2 subdivision: syntax, not a list of names.
pub fn split_jurisdiction(code: &str) -> Option<(&str, Option<&str>)> {
    let (country, region) = match code.split_once('-') {
        Some((c, r)) => (c, Some(r)),
        None => (code, None),
    };
    let upper = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase());
    if country.len() != 2 || !upper(country) {
        return None;
    }
    if let Some(r) = region {
        if r.is_empty()
            || r.len() > 3
            || !r
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return None;
        }
    }
    Some((country, region))
}

/// An export's state.
///
/// ```text
/// pending ──► ready ──► revoked
///    │                    ▲
///    ├──► failed ─────────┤
///    └────────────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Pending,
    Ready,
    Failed,
    Revoked,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Pending => "pending",
            ExportState::Ready => "ready",
            ExportState::Failed => "failed",
            ExportState::Revoked => "revoked",
        }
    }

    /// The legal transitions, all of them.
    pub fn can_become(self, to: ExportState) -> bool {
        use ExportState::*;
        matches!(
            (self, to),
            (Pending, Ready) | (Pending, Failed) | (Pending | Ready | Failed, Revoked)
        )
    }
}

impl fmt::Display for ExportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A legal hold: while it is on, revoking an export keeps its bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub reason: String,
    pub by: String,
    pub at: i64,
}

/// What became of an export's bundle and envelope (its derived artifact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Artifact {
    /// Not made (pending, failed).
    None,
    Stored,
    /// Deleted when the export was revoked (or when its hold was released).
    Scrubbed,
    /// Revoked, but kept because of a legal hold.
    Retained,
}

/// An export: its request, state, digest, hold and revocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    pub id: String,
    pub tenant: String,
    pub request: ExportRequest,
    pub state: ExportState,
    /// Bumped by every change (it names the change's audit event).
    pub version: u64,
    pub created_at: i64,
    pub created_by: String,
    /// The bundle's snapshot time (its only wall-clock field).
    pub snapshot_at: i64,
    pub updated_at: i64,
    /// The bundle's sha256 (hex), once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<LegalHold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    /// Revoked, but its bundle kept because of a legal hold.
    #[serde(default)]
    pub retained: bool,
    pub artifact: Artifact,
}

/// A change to an export the state machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("export `{id}` is {from}; it cannot become {to}")]
pub struct IllegalTransition {
    pub id: String,
    pub from: ExportState,
    pub to: ExportState,
}

impl Export {
    /// A new export, pending.
    pub fn new(id: &str, tenant: &str, request: ExportRequest, by: &str, now: i64) -> Export {
        Export {
            id: id.to_string(),
            tenant: tenant.to_string(),
            request,
            state: ExportState::Pending,
            version: 1,
            created_at: now,
            created_by: by.to_string(),
            snapshot_at: now,
            updated_at: now,
            sha256: None,
            size: None,
            failure: None,
            legal_hold: None,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            retained: false,
            artifact: Artifact::None,
        }
    }

    /// Moves to `to` if the state machine allows it.
    pub fn transition(&mut self, to: ExportState, now: i64) -> Result<(), IllegalTransition> {
        if !self.state.can_become(to) {
            return Err(IllegalTransition {
                id: self.id.clone(),
                from: self.state,
                to,
            });
        }
        self.state = to;
        self.version += 1;
        self.updated_at = now;
        Ok(())
    }

    /// Revokes: the artifact is scrubbed, unless a legal hold keeps it.
    pub fn revoke(
        &mut self,
        by: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), IllegalTransition> {
        self.transition(ExportState::Revoked, now)?;
        self.revoked_at = Some(now);
        self.revoked_by = Some(by.to_string());
        self.revoke_reason = reason.map(str::to_string);
        if self.artifact == Artifact::Stored {
            if self.legal_hold.is_some() {
                self.artifact = Artifact::Retained;
                self.retained = true;
            } else {
                self.artifact = Artifact::Scrubbed;
            }
        }
        Ok(())
    }

    /// Sets (`Some`) or releases (`None`) the legal hold. Releasing the hold
    /// of a revoked export whose bundle was retained scrubs it now: the
    /// deferred erasure is not forgotten. Returns whether it scrubbed.
    pub fn set_legal_hold(&mut self, hold: Option<LegalHold>, now: i64) -> bool {
        let released = hold.is_none();
        self.legal_hold = hold;
        self.version += 1;
        self.updated_at = now;
        if released && self.artifact == Artifact::Retained {
            self.artifact = Artifact::Scrubbed;
            self.retained = false;
            return true;
        }
        false
    }

    /// One sentence on where the export stands (for `GET` and the CLI).
    pub fn status_sentence(&self) -> String {
        let when = |ms: i64| tenet_runtime::clock::Timestamp::from_millis(ms).rfc3339();
        match (self.state, self.artifact) {
            (ExportState::Pending, _) => "the bundle is being assembled".into(),
            (ExportState::Failed, _) => format!(
                "the export failed: {}",
                self.failure.as_deref().unwrap_or("no reason was recorded")
            ),
            (ExportState::Ready, _) if self.legal_hold.is_some() => {
                "the bundle is ready; a legal hold keeps it if the export is revoked".into()
            }
            (ExportState::Ready, _) => "the bundle is ready".into(),
            (ExportState::Revoked, Artifact::Retained) => format!(
                "revoked at {}, but the bundle is retained under a legal hold ({}); it is scrubbed when the hold is released",
                when(self.revoked_at.unwrap_or(self.updated_at)),
                self.legal_hold.as_ref().map_or("no reason", |h| h.reason.as_str())
            ),
            (ExportState::Revoked, Artifact::Scrubbed) => format!(
                "revoked at {}; the bundle was scrubbed",
                when(self.revoked_at.unwrap_or(self.updated_at))
            ),
            (ExportState::Revoked, _) => format!(
                "revoked at {}; no bundle had been made",
                when(self.revoked_at.unwrap_or(self.updated_at))
            ),
        }
    }

    /// What a verifier checks offline about this export.
    pub fn revocation_status(&self) -> RevocationStatus {
        RevocationStatus {
            id: self.id.clone(),
            state: self.state,
            revoked_at: self.revoked_at,
            retained: self.retained,
            sha256: self.sha256.clone(),
        }
    }
}

/// An export's revocation status, as `GET /v1/exports/{id}` answers it
/// (the export's JSON parses as one: unknown fields are ignored), for
/// `tenet rtx verify --status FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationStatus {
    pub id: String,
    pub state: ExportState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub retained: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}
