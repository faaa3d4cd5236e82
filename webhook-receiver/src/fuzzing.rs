//! The checks of the `webhook_payload` fuzz target in `fuzz/` (a crate
//! outside the workspace), which cannot reach the private intake: compiled
//! only with the `fuzzing` feature, hidden from the documentation, not an
//! API, free to change with the target. Any panic inside is a bug of the
//! receiver.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::http::StatusCode;
use edgewatch_catalog::Catalog;

use crate::action::{ActionKind, Incident};
use crate::config::Config;
use crate::policy::CatalogPolicy;
use crate::store::Policy as _;
use crate::text::{LinkBases, Templates};

/// When the notifications arrive (unix milliseconds).
const NOW_MS: i64 = 1_795_000_000_000;

/// A webhook body's way through the receiver, short of the store's
/// transaction and the destinations: the intake, incidents under the
/// catalog's policy, and the messages delivered about them.
#[derive(Debug)]
pub struct Intake {
    catalog: Arc<Catalog>,
    policy: CatalogPolicy,
    templates: Templates,
    key_labels: Vec<String>,
}

impl Intake {
    /// Over `catalog`, with the receiver's default configuration.
    pub fn new(catalog: Catalog) -> Result<Self, String> {
        let config = Config::default();
        let catalog = Arc::new(catalog);
        let templates = Templates::load(&catalog.templates, None).map_err(|e| e.to_string())?;
        Ok(Self {
            policy: CatalogPolicy::new(Arc::clone(&catalog), &config),
            key_labels: config.incidents.key_labels,
            catalog,
            templates,
        })
    }

    /// Reads `body` as the webhook does: `Ok(false)` when it is refused (400
    /// or 422), `Ok(true)` when it is accepted and
    /// - it is UTF-8, so the store keeps it as it came;
    /// - its hash is 64 hex digits;
    /// - its incident updates, in key order, hold each of its alerts once;
    /// - each opens (or records) an incident that survives the store's JSON
    ///   round trip;
    /// - sent again (Alertmanager's retry), it changes nothing when its
    ///   alerts' fingerprints are distinct;
    /// - it is planned to destinations, and every kind of message about its
    ///   incidents renders.
    ///
    /// `Err` says which of these broke.
    pub fn check(&self, body: &[u8]) -> Result<bool, String> {
        let n = match crate::payload::parse(body) {
            Ok(n) => n,
            Err(e) if matches!(e.status(), StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY) => {
                return Ok(false);
            }
            Err(e) => return Err(format!("refused with {}: {e}", e.status())),
        };
        if std::str::from_utf8(body).is_err() {
            return Err("an accepted body is not UTF-8: the store would keep another text".to_owned());
        }
        let hash = n.dedup_hash();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("the notification's hash is {hash:?}"));
        }
        let updates = crate::incident::groups(&n, &self.key_labels);
        if updates.iter().map(|u| u.alerts.len()).sum::<usize>() != n.alerts.len() {
            return Err("the incident updates do not hold each alert once".to_owned());
        }
        if !updates.windows(2).all(|w| w[0].key < w[1].key) {
            return Err("the incident updates are not one per key, in key order".to_owned());
        }
        let bases = LinkBases { grafana: Some("https://grafana.example".to_owned()), alertmanager: None };
        let live = BTreeMap::from([("error ratio".to_owned(), "2.5%".to_owned())]);
        for update in &updates {
            let first = self.policy.transition(None, update, NOW_MS, None);
            let json = serde_json::to_string(&first.incident).map_err(|e| format!("{}: {e}", update.key))?;
            let stored: Incident = serde_json::from_str(&json).map_err(|e| format!("{}: {e}", update.key))?;
            if stored != first.incident {
                return Err(format!("the store's round trip changed incident {}", update.key));
            }
            let retry = self.policy.transition(Some(&stored), update, NOW_MS, Some(0));
            let fingerprints: BTreeSet<&str> = update.alerts.iter().map(|a| a.fingerprint.as_str()).collect();
            if fingerprints.len() == update.alerts.len() && retry.action.is_some() {
                return Err(format!("a retry of the same notification acted ({:?}) on {}", retry.action, update.key));
            }
            let mut opened = first.incident.clone();
            self.policy.plan(None, &mut opened, first.action, 0);
            let mut after = retry.incident;
            self.policy.plan(Some(&stored), &mut after, retry.action, 0);
            for kind in [ActionKind::Open, ActionKind::Update, ActionKind::Resolve, ActionKind::Reopen] {
                crate::text::message(&self.templates, &self.catalog, &opened, kind, &bases, &live)
                    .map_err(|e| format!("the {} message about {} does not render: {e}", kind.as_str(), update.key))?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanagers_bodies_pass_and_others_are_refused() {
        let catalog = edgewatch_catalog::load_str("c.yaml", "customers:\n  - {id: acme-retail, hosts: [a.example]}\n")
            .unwrap()
            .catalog;
        let intake = Intake::new(catalog).unwrap();
        assert_eq!(intake.check(crate::payload::tests::SAMPLE.as_bytes()), Ok(true));
        assert_eq!(intake.check(b"{"), Ok(false));
        assert_eq!(intake.check(b"{\"version\": \"4\"}"), Ok(false));
    }
}
