//! The autoconfig module's records: what is kept per tenant (its facts
//! and labels, what was last applied to it). The change log's entries
//! are in [`crate::store::ChangeEntry`].

use serde::{Deserialize, Serialize};

/// One tenant as provisioning knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant: String,
    /// Its facts and labels (what `applies_to` selects and `tenant.*` reads).
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// The last baseline applied, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<LastApplied>,
    /// Remediation attempts that did not fix a setting, by setting.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attempts: std::collections::BTreeMap<String, Attempts>,
}

/// Failed remediation attempts on one setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    pub failed: u32,
    #[serde(with = "rfc3339")]
    pub last_at: i64,
}

/// The last application to a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastApplied {
    pub baseline: String,
    #[serde(with = "rfc3339")]
    pub at: i64,
    /// Settings changed by it.
    pub changed: usize,
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
