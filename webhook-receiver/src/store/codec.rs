//! How rows hold what is not a plain column: incidents as JSON, and the
//! enums by the names the API uses. Both stores share it.

use super::{NoteKind, RuleKind, StoreError};
use crate::action::{ActionKind, Change, Status};

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

/// What an action that waits says changed: its own `change` column when
/// later news was merged into it, else its incident's (read without
/// decoding the rest).
pub(crate) fn change_of(payload: &str, merged: Option<&str>) -> Result<Change, StoreError> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default)]
        change: Change,
    }
    match merged {
        Some(text) => decode("change", text),
        None => Ok(decode::<Only>("incident", payload)?.change),
    }
}

/// `later`'s change said after `earlier`'s, as the merged action's
/// `change` column.
pub(crate) fn merged_change(earlier: &Change, later: &Change) -> Result<String, StoreError> {
    let mut merged = later.clone();
    merged.absorb(earlier);
    encode("change", &merged)
}

/// `incident` as its action delivers it: with the merged `change` column,
/// when later news was merged into the action.
pub(crate) fn with_change(
    mut incident: crate::action::Incident,
    merged: Option<&str>,
) -> Result<crate::action::Incident, StoreError> {
    if let Some(text) = merged {
        incident.change = decode("change", text)?;
    }
    Ok(incident)
}
