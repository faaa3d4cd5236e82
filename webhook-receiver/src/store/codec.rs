//! How rows hold what is not a plain column: incidents as JSON, and the
//! enums by the names the API uses. Both stores share it.

use super::{NoteKind, RuleKind, StoreError};
use crate::action::{ActionKind, Status};

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode { what, message: e.to_string() })
}

pub(crate) fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Decode { what, message: e.to_string() })
}

pub(crate) fn kind_from(text: &str) -> Result<ActionKind, StoreError> {
    decode("action kind", &format!("\"{text}\""))
}

pub(crate) fn note_kind_from(text: &str) -> Result<NoteKind, StoreError> {
    decode("note kind", &format!("\"{text}\""))
}

pub(crate) fn rule_kind_from(text: &str) -> Result<RuleKind, StoreError> {
    decode("rule kind", &format!("\"{text}\""))
}

pub(crate) const fn status_str(s: Status) -> &'static str {
    match s {
        Status::Firing => "firing",
        Status::Resolved => "resolved",
    }
}
