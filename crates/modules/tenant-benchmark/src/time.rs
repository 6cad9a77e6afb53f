//! Times in the module's records: milliseconds since the epoch in Rust,
//! RFC 3339 in JSON (what the API answers, the store keeps and a person
//! reads). Reading accepts either.

use crate::profiles::Ms;
use serde::{Deserialize, Deserializer, Serializer};
use tenet_runtime::clock::Timestamp;

/// An instant as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: Ms) -> String {
    Timestamp::from_millis(ms).rfc3339()
}

/// An RFC 3339 time (or a date: its midnight UTC) as milliseconds.
pub fn parse(s: &str) -> Result<Ms, String> {
    Timestamp::parse(s).map(Timestamp::millis)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Ms(Ms),
    Text(String),
}

fn read<'de, D: Deserializer<'de>>(e: Either) -> Result<Ms, D::Error> {
    match e {
        Either::Ms(ms) => Ok(ms),
        Either::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

/// `#[serde(with = "crate::time::ms")]`
pub mod ms {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &Ms, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ms, D::Error> {
        read::<D>(Either::deserialize(d)?)
    }
}

/// `#[serde(with = "crate::time::opt")]`, with `default`.
pub mod opt {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &Option<Ms>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ms>, D::Error> {
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(e) => read::<D>(e).map(Some),
        }
    }
}
