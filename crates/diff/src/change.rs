//! Change facts: what a detector says changed, before anyone judges it.
//!
//! A [`Change`] names *what* changed with a stable `kind` (`field.removed`,
//! `enum.value_added`, `flag.rollout_changed`, ...), *where* (a path and,
//! when known, the line in the base and head files) and the values before
//! and after, plus the facts a rule needs to judge it (`direction`,
//! `required`, `deprecated`, ...). Whether it is breaking is decided by the
//! `semantic_diff` pack, never here; so is how sure a guess is: a detector
//! reports its evidence (a rename's `match` and `similarity`), never a
//! confidence.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::fmt;

/// The artifact types the differ understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactType {
    Openapi,
    JsonSchema,
    Graphql,
    Config,
    Policy,
    Prompt,
    Flags,
}

impl ArtifactType {
    pub const ALL: [ArtifactType; 7] = [
        ArtifactType::Openapi,
        ArtifactType::JsonSchema,
        ArtifactType::Graphql,
        ArtifactType::Config,
        ArtifactType::Policy,
        ArtifactType::Prompt,
        ArtifactType::Flags,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactType::Openapi => "openapi",
            ArtifactType::JsonSchema => "json-schema",
            ArtifactType::Graphql => "graphql",
            ArtifactType::Config => "config",
            ArtifactType::Policy => "policy",
            ArtifactType::Prompt => "prompt",
            ArtifactType::Flags => "flags",
        }
    }

    pub fn parse(s: &str) -> Option<ArtifactType> {
        let s = s.to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .or(match s.as_str() {
                "jsonschema" | "schema" => Some(ArtifactType::JsonSchema),
                "yaml" | "json" => Some(ArtifactType::Config),
                "tenet" | "pack" => Some(ArtifactType::Policy),
                "flagd" | "feature-flags" => Some(ArtifactType::Flags),
                _ => None,
            })
    }
}

impl fmt::Display for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way data flows for a schema element: what a client sends is judged
/// by narrowing, what it receives by widening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// One change fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: String,
    /// Where, as a readable path (`GET /orders/{}.response.200.total`, `Query.orders(limit)`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_before: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_after: Option<u32>,
    #[serde(skip_serializing_if = "Json::is_null")]
    pub from: Json,
    #[serde(skip_serializing_if = "Json::is_null")]
    pub to: Json,
    /// Further facts for the rules: `required`, `deprecated`, `name`, `value`, `status`...
    #[serde(flatten)]
    pub facts: Map<String, Json>,
    /// Every operation that reaches the change (`facts.operations` lists
    /// at most 20): for matching consumers.
    #[serde(skip)]
    pub all_operations: Vec<String>,
}

impl Change {
    /// A fact of a kind declared in [`crate::kinds::KINDS`] (debug builds
    /// refuse any other: a kind the table does not know has no rule, no
    /// fixture and no line in the docs).
    pub fn new(kind: &str, path: impl Into<String>) -> Self {
        debug_assert!(
            crate::kinds::is_declared(kind),
            "change kind `{kind}` is not declared in crates/diff/src/kinds.rs"
        );
        let path = path.into();
        Change {
            kind: kind.to_string(),
            path: if path.is_empty() {
                "(root)".to_string()
            } else {
                path
            },
            direction: None,
            line_before: None,
            line_after: None,
            from: Json::Null,
            to: Json::Null,
            facts: Map::new(),
            all_operations: Vec::new(),
        }
    }

    pub fn dir(mut self, d: Option<Direction>) -> Self {
        self.direction = d;
        self
    }

    /// Lines in the base and head files (0 means unknown).
    pub fn lines(mut self, before: u32, after: u32) -> Self {
        self.line_before = (before != 0).then_some(before);
        self.line_after = (after != 0).then_some(after);
        self
    }

    pub fn from_to(mut self, from: impl Into<Json>, to: impl Into<Json>) -> Self {
        self.from = from.into();
        self.to = to.into();
        self
    }

    /// Adds a fact. A key that names a field of the change itself (`kind`,
    /// `path`, ...) would overwrite it in the rules' input, so it is kept
    /// with a `fact_` prefix instead.
    pub fn fact(mut self, key: &str, v: impl Into<Json>) -> Self {
        const RESERVED: [&str; 8] = [
            "kind",
            "path",
            "direction",
            "line_before",
            "line_after",
            "from",
            "to",
            "type",
        ];
        let key = if RESERVED.contains(&key) {
            format!("fact_{key}")
        } else {
            key.to_string()
        };
        self.facts.insert(key, v.into());
        self
    }

    /// The fact the `semantic_diff` pack reads, as `change`.
    pub fn to_input(&self, artifact_type: ArtifactType) -> Json {
        let mut v = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Json::Object(m) = &mut v {
            m.insert("type".into(), Json::String(artifact_type.as_str().into()));
        }
        serde_json::json!({ "change": v })
    }

    /// The head line when there is one, else the base line.
    pub fn line(&self) -> Option<u32> {
        self.line_after.or(self.line_before)
    }
}

/// Accumulates the changes of one artifact pair.
#[derive(Debug, Default)]
pub struct Changes(pub Vec<Change>);

impl Changes {
    pub fn push(&mut self, c: Change) {
        self.0.push(c);
    }
}
