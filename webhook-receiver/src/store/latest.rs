//! The latest incident of each key, kept decoded between notifications
//! (SQLite's intake). In a storm every notification adds an alert to an
//! incident that already holds many: reading it back from its rows and
//! decoding every alert was the largest part of the intake's work.
//!
//! Safe because one receiver owns a SQLite file: what the cache holds is
//! what this process wrote. Anything else that writes incidents is seen
//! and clears it: another process's commit (`edgewatch incidents note`)
//! changes SQLite's `data_version`, and this receiver's other writers (the
//! schedule, retention) clear it themselves. A notification's changes are
//! staged and kept only once its commit is durable; a rolled-back one
//! leaves the cache as the store is.

use std::collections::HashMap;

use super::alerts::Loaded;

/// Alerts kept decoded at most, over all incidents: a bound on memory
/// (about half a kilobyte an alert) when many large incidents are open.
const MAX_ALERTS: usize = 50_000;

/// A key's latest incident as its row and its alert rows hold it.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The row's `resolved_at`.
    pub resolved_at: Option<i64>,
    /// The incident, its alerts as in their rows.
    pub loaded: Loaded,
}

/// The cache: keys to their latest incident.
#[derive(Default)]
pub(crate) struct Latest {
    entries: HashMap<String, Entry>,
    alerts: usize,
    /// SQLite's `data_version` when last looked at.
    version: Option<i64>,
}

impl std::fmt::Debug for Latest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latest")
            .field("incidents", &self.entries.len())
            .field("alerts", &self.alerts)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Latest {
    /// Clears the cache when `version` (SQLite's `data_version`, read in
    /// the write transaction) says another connection committed since.
    pub(crate) fn check(&mut self, version: i64) {
        if self.version != Some(version) {
            self.clear();
            self.version = Some(version);
        }
    }

    /// Forgets every incident.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.alerts = 0;
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Keeps `committed`, the latest incidents of a durable commit.
    pub(crate) fn keep(&mut self, committed: HashMap<String, Entry>) {
        for (key, entry) in committed {
            // The key's earlier entry goes first, so it is not counted
            // against the room its successor needs.
            self.remove(&key);
            let size = entry.loaded.incident.alerts.len();
            if size > MAX_ALERTS {
                continue;
            }
            // Room first: any incident may go (it is read from the store
            // when next needed).
            while self.alerts + size > MAX_ALERTS {
                let Some(victim) = self.entries.keys().next().cloned() else { break };
                self.remove(&victim);
            }
            self.alerts += size;
            self.entries.insert(key, entry);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(gone) = self.entries.remove(key) {
            self.alerts -= gone.loaded.incident.alerts.len();
        }
    }
}

/// What a notification sees: its own changes, then those of earlier
/// notifications in the same commit, then the cache.
pub(crate) struct View<'a> {
    pub cache: &'a Latest,
    pub batch: &'a HashMap<String, Entry>,
    pub mine: HashMap<String, Entry>,
}

impl View<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.mine.get(key).or_else(|| self.batch.get(key)).or_else(|| self.cache.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::decode;

    fn entry(alerts: usize) -> Entry {
        let state = r#"{"id":1,"key":"customer=shop","dedup":"edgewatch-0123456789abcdef01234567","customer":"shop","alertname":"X","severity":"page","alert_kind":null,"slo":null,"probe":null,"status":"firing","started_at":"2026-11-21T08:00:00Z","resolved_at":null,"alerts":[],"alertmanager_url":"http://am"}"#;
        let mut incident: crate::action::Incident = decode("incident", state).unwrap();
        let alert = r#"{"fingerprint":"f","status":"firing","labels":{"alertname":"X"},"annotations":{},"starts_at":"2026-11-21T08:00:00Z","ends_at":null,"generator_url":""}"#;
        incident.alerts = (0..alerts).map(|_| decode("alert", alert).unwrap()).collect();
        Entry { resolved_at: None, loaded: Loaded { incident, in_rows: true } }
    }

    #[test]
    fn another_connections_commit_clears_the_cache() {
        let mut latest = Latest::default();
        latest.check(1);
        latest.keep([("a".to_owned(), entry(2))].into());
        latest.check(1);
        assert!(latest.get("a").is_some(), "nothing changed");
        latest.check(2);
        assert!(latest.get("a").is_none(), "another connection committed");
    }

    #[test]
    fn the_cache_holds_at_most_its_bound_of_alerts() {
        let mut latest = Latest::default();
        latest.keep([("a".to_owned(), entry(MAX_ALERTS / 2)), ("b".to_owned(), entry(MAX_ALERTS / 2))].into());
        assert_eq!(latest.alerts, MAX_ALERTS);
        latest.keep([("c".to_owned(), entry(10))].into());
        assert!(latest.alerts <= MAX_ALERTS, "{latest:?}");
        assert!(latest.get("c").is_some(), "the newest is kept");
        // A key written again replaces its entry, counted once.
        latest.keep([("c".to_owned(), entry(20))].into());
        assert_eq!(latest.get("c").map(|e| e.loaded.incident.alerts.len()), Some(20));
        assert_eq!(latest.alerts, latest.entries.values().map(|e| e.loaded.incident.alerts.len()).sum::<usize>());
        // One larger than the bound is not kept.
        latest.keep([("d".to_owned(), entry(MAX_ALERTS + 1))].into());
        assert!(latest.get("d").is_none());
    }

    #[test]
    fn a_notification_sees_its_own_changes_first_then_its_commits_then_the_cache() {
        let mut cache = Latest::default();
        cache.keep([("a".to_owned(), entry(1)), ("b".to_owned(), entry(1))].into());
        let batch = [("b".to_owned(), entry(2)), ("c".to_owned(), entry(2))].into();
        let view = View { cache: &cache, batch: &batch, mine: [("c".to_owned(), entry(3))].into() };
        let size = |k| view.get(k).map(|e| e.loaded.incident.alerts.len());
        assert_eq!((size("a"), size("b"), size("c"), size("d")), (Some(1), Some(2), Some(3), None));
    }
}
