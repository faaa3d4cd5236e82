//! A suggestion joins the action that first meets an attack or a spike:
//! made once per incident from the exporters' offenders, kept in the store
//! (the first kept wins), and shown by every destination. When no exporter
//! answers, the ticket still goes, saying the suggestion is missing and why.

use std::sync::Arc;

use edgewatch_catalog::Catalog;
use serde_json::json;

use super::{Mode, Suggestion, suggest};
use crate::action::{ActionKind, Message};
use crate::offenders::Exporters;
use crate::store::{Pending, Store, StoreError};
use crate::time::{now_ms, rfc3339};

/// What an action carries about mitigation.
#[derive(Debug)]
pub(crate) struct Found {
    what: Outcome,
    /// Whether the action shows it in words: the new issue's description,
    /// or the comment of the update that brought the attack alert.
    tell: bool,
}

#[derive(Debug)]
enum Outcome {
    /// The incident's suggestion.
    Suggested(Box<Suggestion>),
    /// None could be made now (it is tried again on the next action).
    Missing(String),
}

/// The mitigation an action carries, if its incident calls for one.
pub(crate) async fn find(
    store: &Arc<dyn Store>,
    exporters: Option<&Exporters>,
    catalog: &Catalog,
    p: &Pending,
) -> Option<Found> {
    if !matches!(p.kind, ActionKind::Open | ActionKind::Reopen | ActionKind::Update) {
        return None;
    }
    let mode = Mode::of(&p.incident)?;
    let customer = catalog.customer(p.incident.customer.as_deref()?)?;
    let tell = p.kind == ActionKind::Open || Mode::joined(&p.incident);
    Some(Found { what: made(store, exporters, customer, mode, p).await, tell })
}

async fn made(
    store: &Arc<dyn Store>,
    exporters: Option<&Exporters>,
    customer: &edgewatch_catalog::Customer,
    mode: Mode,
    p: &Pending,
) -> Outcome {
    let id = p.incident_id;
    let kept = blocking(store, move |s| s.suggestion(id)).await;
    match kept {
        Ok(Some(body)) => {
            return match serde_json::from_str::<Suggestion>(&body) {
                Ok(s) => Outcome::Suggested(Box::new(s)),
                Err(e) => Outcome::Missing(format!("the stored suggestion does not decode: {e}")),
            };
        }
        Ok(None) => {}
        Err(e) => return Outcome::Missing(format!("the store could not be read: {e}")),
    }
    let Some(exporters) = exporters else {
        return Outcome::Missing("no exporters are configured (`exporters.urls` in receiver.yml)".to_owned());
    };
    let offenders = match exporters.read(customer.id.as_str()).await {
        Ok(o) => o,
        Err(e) => return Outcome::Missing(e.to_string()),
    };
    let suggestion = suggest(mode, &p.incident, customer, &offenders, rfc3339(now_ms()));
    let body = match serde_json::to_string(&suggestion) {
        Ok(b) => b,
        Err(e) => return Outcome::Missing(format!("the suggestion does not encode: {e}")),
    };
    // Another destination's action may have kept one first: show that one.
    let mine = body.clone();
    match blocking(store, move |s| s.keep_suggestion(id, &body, now_ms())).await {
        Ok(kept) if kept == mine => Outcome::Suggested(Box::new(suggestion)),
        Ok(kept) => match serde_json::from_str::<Suggestion>(&kept) {
            Ok(s) => Outcome::Suggested(Box::new(s)),
            Err(e) => Outcome::Missing(format!("the stored suggestion does not decode: {e}")),
        },
        // Not kept: shown all the same, made again next time.
        Err(e) => {
            tracing::warn!(error = %e, "cannot keep the mitigation suggestion");
            Outcome::Suggested(Box::new(suggestion))
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .unwrap_or_else(|e| Err(StoreError::Decode { what: "task", message: e.to_string() }))
}

impl Found {
    /// Adds it to the message: the details always (a page's
    /// `custom_details`), and the text when the action tells it.
    pub(crate) fn add_to(&self, message: &mut Message, kind: ActionKind) {
        let text = match &self.what {
            Outcome::Suggested(suggestion) => {
                message.details.insert("mitigation".to_owned(), json!(suggestion));
                format!("Mitigation suggestion\n\n{}", suggestion.text())
            }
            Outcome::Missing(why) => {
                message.details.insert("mitigation".to_owned(), json!({ "missing": why }));
                format!("Mitigation suggestion missing: {why}")
            }
        };
        if !self.tell {
            return;
        }
        let target = if kind == ActionKind::Open { &mut message.description } else { &mut message.comment };
        if !target.is_empty() {
            target.push_str("\n\n");
        }
        target.push_str(&text);
    }
}
