//! Which type an artifact is: from its path, then from its content.

use super::change::ArtifactType;
use super::tree;

/// The type of an artifact by its file name alone, when that settles it.
pub fn by_path(path: &str) -> Option<ArtifactType> {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "graphql" | "graphqls" | "gql" => Some(ArtifactType::Graphql),
        "tenet" => Some(ArtifactType::Policy),
        "prompt" | "prompty" => Some(ArtifactType::Prompt),
        _ => None,
    }
}

/// Whether a file may be an artifact at all (structured text we can read).
pub fn is_candidate(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    by_path(path).is_some()
        || [".json", ".yaml", ".yml"]
            .iter()
            .any(|e| lower.ends_with(e))
}

/// The type of an artifact from its path and text; `None` when it is not
/// one tenet reads.
pub fn detect(path: &str, text: &str) -> Option<ArtifactType> {
    if let Some(t) = by_path(path) {
        return Some(t);
    }
    if !is_candidate(path) {
        return None;
    }
    // A candidate that does not parse is still an artifact: its diff reports
    // the syntax error with its position.
    match tree::parse(text) {
        Ok(node) => Some(by_content(&node)),
        Err(_) => Some(ArtifactType::Config),
    }
}

/// The type of a parsed YAML/JSON document.
pub fn by_content(node: &tree::Node) -> ArtifactType {
    if node.get("openapi").is_some() || node.get("swagger").is_some() {
        return ArtifactType::Openapi;
    }
    let schema_uri = node.get("$schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema_uri.contains("flagd") {
        return ArtifactType::Flags;
    }
    if schema_uri.contains("json-schema") {
        return ArtifactType::JsonSchema;
    }
    if let Some(flags) = node.get("flags") {
        let entries: Vec<&tree::Node> = match &flags.data {
            tree::Data::Map(m) => m.iter().map(|(_, v)| v).collect(),
            tree::Data::Seq(s) => s.iter().collect(),
            _ => vec![],
        };
        if !entries.is_empty() && entries.iter().all(|f| f.get("variants").is_some()) {
            return ArtifactType::Flags;
        }
    }
    if let Some(prompts) = node.get("prompts") {
        let entries: Vec<&tree::Node> = match &prompts.data {
            tree::Data::Map(m) => m.iter().map(|(_, v)| v).collect(),
            tree::Data::Seq(s) => s.iter().collect(),
            _ => vec![],
        };
        if !entries.is_empty()
            && entries.iter().all(|p| {
                p.get("template").is_some()
                    || p.get("prompt").is_some()
                    || p.get("messages").is_some()
            })
        {
            return ArtifactType::Prompt;
        }
    }
    if node.get("type").is_some()
        && (node.get("properties").is_some() || node.get("items").is_some())
    {
        return ArtifactType::JsonSchema;
    }
    ArtifactType::Config
}
