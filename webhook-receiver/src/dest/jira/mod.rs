//! Jira Cloud (REST v3, Atlassian Document Format) and Jira Data Center
//! (REST v2, wiki markup): one issue per incident, commented on while it
//! fires, moved to a `done` status when it resolves and back when it
//! fires again. What users see is in `docs/receiver.md` ("Jira"); this is
//! how.
//!
//! **Auth.** Cloud: `Authorization: Basic` with the account's e-mail and
//! an API token. Data Center: `Bearer` with a personal access token, or
//! Basic where the site allows it. Secrets are read once at start; they
//! never appear in logs, errors (an answer that quotes one has it cut out)
//! or `Debug`.
//!
//! **Which issue.** Every issue carries the incident's dedup label
//! (`edgewatch-` and 24 hex digits). The store keeps the issue key; when it
//! has none (an open, or a store that was lost), the destination searches
//! the project for the label, newest first, and reuses what it finds:
//! Cloud `POST /rest/api/3/search/jql` (the old `/search` answers 410
//! since CHANGE-2046), Data Center `POST /rest/api/2/search`.
//!
//! **Search lag (Cloud).** Jira Cloud's search index is eventually
//! consistent: an issue created moments ago may not be found yet, unless
//! its id is passed in `reconcileIssues`. The destination passes the ids of
//! the issues it created itself (the last [`RECENT`] of them, in memory),
//! so a retry after a lost answer finds them. An issue created by another
//! process (a run that crashed) is found once the index has caught up,
//! usually within seconds: that is why the deliverer waits
//! `delivery.settle` before it runs again an attempt a crash interrupted.
//!
//! **Actions.**
//! - *open*: reuse the issue found by label (reopen it if it is done, set
//!   its priority as for an update, comment), else create one: project
//!   (the customer's `jira_project`, else the destination's), issue type,
//!   summary (one line, at most 255 characters), description (the
//!   message's text and links, at most 32,767), priority by severity,
//!   components, labels (the destination's plus the dedup label; spaces
//!   become `-`), custom fields as given.
//! - *update*: when the severity changed and `priorities` names the new
//!   one, set the issue's priority (`PUT /issue/{key}`); then comment with
//!   what changed (without a known issue and none found by label: create
//!   one, as for an open).
//! - *resolve*: nothing if the issue is already done; else take the
//!   transition named `transitions.resolve`, or the first one into a status
//!   of the `done` category, comment, and transition.
//! - *reopen*: if the issue is done, take `transitions.reopen`, or the
//!   first transition into a `new` or `indeterminate` status; then set the
//!   priority as for an update, and comment (no issue at all: create one,
//!   as for an open).
//! - *resolve* without any issue (its open became a dead letter) is
//!   delivered with nothing to do, and logged.
//!
//! Transition names match exactly, else ignoring case. No such transition
//! is a permanent failure (a dead letter) naming the transitions the
//! workflow offers; it is found before anything is commented. A workflow
//! whose transition screen requires fields (a resolution) is not supported
//! yet.
//!
//! **Retries** repeat a whole action: a resolve or reopen whose comment
//! went through but whose transition failed comments again on the retry.
//! A resolve of an issue already done, and a reopen of one not done, do
//! not transition twice.
//!
//! **Failures.** 429 and 5xx are retried after `Retry-After` when Jira
//! sends one; network errors are retried; 400, 401, 403, 404 and 410 are
//! dead letters. Custom field values are sent as written: on Cloud, a
//! multi-line text field needs an ADF document as its value.
//!
//! **Lengths** are counted as Jira counts them, in UTF-16 code units.

mod api;
mod body;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use edgewatch_catalog::model::{JiraAuth, JiraDeployment};
use edgewatch_catalog::names::Severity;
use edgewatch_catalog::{JiraKey, Secret};
use serde_json::{Value, json};

use self::api::{Issue, Transition};
use self::body::Markup;
use super::{BuildError, DeliveryError, Outcome};
use crate::action::{ActionKind, Delivery};

/// How many created issues the destination remembers for `reconcileIssues`.
pub(crate) const RECENT: usize = 256;

/// Cloud or Data Center: the API version, the body format and the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deployment {
    Cloud,
    DataCenter,
}

impl Deployment {
    const fn api_version(self) -> &'static str {
        match self {
            Self::Cloud => "3",
            Self::DataCenter => "2",
        }
    }

    const fn markup(self) -> Markup {
        match self {
            Self::Cloud => Markup::Adf,
            Self::DataCenter => Markup::Wiki,
        }
    }
}

/// Credentials, read at start.
enum Auth {
    Basic { user: String, token: Secret },
    Bearer(Secret),
}

/// A Jira site and project.
pub struct Jira {
    name: String,
    deployment: Deployment,
    url: url::Url,
    project: String,
    auth: Auth,
    /// Boxed: the destination enum stays small.
    settings: Box<Settings>,
    client: reqwest::Client,
    /// Issues this process created, newest last: (dedup label, issue id).
    recent: Mutex<VecDeque<(String, u64)>>,
}

/// What the catalog says about issues: how to create them, which
/// transitions to take.
struct Settings {
    issue_type: String,
    priorities: BTreeMap<Severity, String>,
    components: Vec<String>,
    labels: Vec<String>,
    custom_fields: BTreeMap<String, Value>,
    resolve_transition: Option<String>,
    reopen_transition: Option<String>,
}

impl fmt::Debug for Jira {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::Basic { user, .. } => format!("basic ({user})"),
            Auth::Bearer(_) => "bearer".to_owned(),
        };
        f.debug_struct("Jira")
            .field("name", &self.name)
            .field("deployment", &self.deployment)
            .field("url", &self.url.as_str())
            .field("project", &self.project)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl Jira {
    /// Sets up the destination `name` from the catalog, sending through
    /// `client` (one built by the receiver's shared HTTP factory, so
    /// destinations share its connection pool and timeouts).
    pub fn build(
        name: &str,
        config: &edgewatch_catalog::model::Jira,
        env: &dyn Fn(&str) -> Option<String>,
        client: reqwest::Client,
    ) -> Result<Self, BuildError> {
        let secret = |r: &edgewatch_catalog::SecretRef| {
            r.resolve(env).map_err(|source| BuildError::Secret { destination: name.to_owned(), source })
        };
        let auth = match &config.auth {
            JiraAuth::Basic { user, token } => Auth::Basic { user: user.clone(), token: secret(token)? },
            JiraAuth::Bearer(token) => Auth::Bearer(secret(token)?),
        };
        Ok(Self {
            name: name.to_owned(),
            deployment: match config.deployment {
                JiraDeployment::Cloud => Deployment::Cloud,
                JiraDeployment::DataCenter => Deployment::DataCenter,
            },
            url: config.url.url().clone(),
            project: config.project.as_str().to_owned(),
            auth,
            settings: Box::new(Settings {
                issue_type: config.issue_type.clone(),
                priorities: config.priorities.clone(),
                components: config.components.clone(),
                labels: config.labels.clone(),
                custom_fields: config.custom_fields.clone(),
                resolve_transition: config.resolve_transition.clone(),
                reopen_transition: config.reopen_transition.clone(),
            }),
            client,
            recent: Mutex::new(VecDeque::new()),
        })
    }

    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        // The customer's project, else the destination's.
        let project = d.customer.and_then(|c| c.jira_project.as_ref()).map_or(self.project.as_str(), JiraKey::as_str);
        let key = match d.kind {
            ActionKind::Open | ActionKind::Update => match self.locate(d, project).await? {
                Some(issue) => {
                    if d.kind == ActionKind::Open && issue.done == Some(true) {
                        // The store lost the reopen; the issue is closed.
                        self.reopen(&issue.key, Some(true)).await?;
                    }
                    self.follow_severity(d, &issue.key).await?;
                    let (text, links) = comment_text(d);
                    self.add_comment(&issue.key, text, links).await?;
                    tracing::info!(
                        destination = %self.name, issue = %issue.key, action = d.kind.as_str(),
                        "Jira issue commented."
                    );
                    issue.key
                }
                None => self.create(d, project).await?,
            },
            ActionKind::Resolve => {
                let Some(issue) = self.locate(d, project).await? else {
                    tracing::warn!(destination = %self.name, incident = %d.incident.key, "No Jira issue to resolve.");
                    return Ok(Outcome::Delivered { external: None });
                };
                self.resolve(d, &issue).await?;
                issue.key
            }
            ActionKind::Note => {
                let Some(issue) = self.locate(d, project).await? else {
                    tracing::warn!(destination = %self.name, incident = %d.incident.key, "No Jira issue to note on.");
                    return Ok(Outcome::Delivered { external: None });
                };
                self.add_comment(&issue.key, &d.message.comment, &[]).await?;
                issue.key
            }
            ActionKind::Reopen => match self.locate(d, project).await? {
                Some(issue) => {
                    self.reopen(&issue.key, issue.done).await?;
                    self.follow_severity(d, &issue.key).await?;
                    self.add_comment(&issue.key, &d.message.comment, &[]).await?;
                    issue.key
                }
                None => self.create(d, project).await?,
            },
        };
        Ok(Outcome::Delivered { external: Some(key) })
    }

    /// The incident's issue: the one the store knows, else the newest one
    /// carrying the dedup label.
    async fn locate(&self, d: &Delivery<'_>, project: &str) -> Result<Option<Located>, DeliveryError> {
        if let Some(key) = d.external {
            return Ok(Some(Located { key: key.to_owned(), done: None }));
        }
        let dedup = &d.incident.dedup;
        let reconcile: Vec<u64> = self.recent_ids(dedup);
        let found = self.search(project, dedup, &reconcile).await?;
        if let Some(issue) = &found {
            tracing::info!(
                destination = %self.name, issue = %issue.key, label = %dedup,
                "Jira issue found by its label."
            );
        }
        Ok(found.map(|Issue { key, done }| Located { key, done: Some(done) }))
    }

    /// Creates the incident's issue; its key.
    async fn create(&self, d: &Delivery<'_>, project: &str) -> Result<String, DeliveryError> {
        let fields = self.fields(d, project);
        let (id, key) = self.create_issue(project, fields).await?;
        if let Ok(id) = id.parse::<u64>() {
            self.remember(&d.incident.dedup, id);
        }
        tracing::info!(destination = %self.name, issue = %key, incident = %d.incident.key, "Jira issue created.");
        Ok(key)
    }

    /// The fields of a new issue.
    fn fields(&self, d: &Delivery<'_>, project: &str) -> Value {
        let (m, s) = (d.message, &self.settings);
        let mut fields = json!({
            "project": {"key": project},
            "issuetype": {"name": s.issue_type},
            "summary": body::summary(&m.title, &d.incident.key),
            "labels": body::labels(s.labels.iter().map(String::as_str), &d.incident.dedup),
        });
        if let Some(description) = body::rich_text(self.deployment.markup(), &m.description, &m.links) {
            fields["description"] = description;
        }
        if let Some(priority) = d.incident.severity.and_then(|sev| s.priorities.get(&sev)) {
            fields["priority"] = json!({"name": priority});
        }
        if !s.components.is_empty() {
            fields["components"] = s.components.iter().map(|c| json!({"name": c})).collect();
        }
        for (id, value) in &s.custom_fields {
            fields[id.as_str()] = value.clone();
        }
        fields
    }

    /// Sets the issue's priority to the one `priorities` names for the
    /// incident's severity, when the notification changed the severity
    /// (for an open, from none: an issue found by its label may carry any
    /// priority). Before the comment, so that a retry after a failed
    /// comment repeats an edit, not a comment.
    async fn follow_severity(&self, d: &Delivery<'_>, key: &str) -> Result<(), DeliveryError> {
        if !d.incident.change.severity_changed() {
            return Ok(());
        }
        let Some(priority) = d.incident.severity.and_then(|s| self.settings.priorities.get(&s)) else {
            return Ok(());
        };
        self.set_priority(key, priority).await?;
        tracing::info!(destination = %self.name, issue = %key, priority = %priority, "Jira issue priority set.");
        Ok(())
    }

    /// Comments `text` and `links`, if there is anything to say.
    async fn add_comment(&self, key: &str, text: &str, links: &[crate::action::Link]) -> Result<(), DeliveryError> {
        match body::rich_text(self.deployment.markup(), text, links) {
            Some(body) => self.comment(key, body).await,
            None => Ok(()),
        }
    }

    /// Comments and moves the issue to a `done` status, unless it is done.
    async fn resolve(&self, d: &Delivery<'_>, issue: &Located) -> Result<(), DeliveryError> {
        if self.is_done(issue).await? {
            tracing::info!(destination = %self.name, issue = %issue.key, "Jira issue already done.");
            return Ok(());
        }
        let transitions = self.transitions(&issue.key).await?;
        let t = self.pick(&issue.key, &transitions, self.settings.resolve_transition.as_deref(), &["done"])?;
        self.add_comment(&issue.key, &d.message.comment, &[]).await?;
        self.transition(&issue.key, t).await?;
        tracing::info!(destination = %self.name, issue = %issue.key, transition = %t.name, "Jira issue resolved.");
        Ok(())
    }

    /// Moves a done issue back to a `new` or `indeterminate` status.
    async fn reopen(&self, key: &str, done: Option<bool>) -> Result<(), DeliveryError> {
        if !self.is_done(&Located { key: key.to_owned(), done }).await? {
            return Ok(());
        }
        let transitions = self.transitions(key).await?;
        let t = self.pick(key, &transitions, self.settings.reopen_transition.as_deref(), &["new", "indeterminate"])?;
        self.transition(key, t).await?;
        tracing::info!(destination = %self.name, issue = %key, transition = %t.name, "Jira issue reopened.");
        Ok(())
    }

    async fn is_done(&self, issue: &Located) -> Result<bool, DeliveryError> {
        match issue.done {
            Some(done) => Ok(done),
            None => Ok(self.issue(&issue.key).await?.done),
        }
    }

    /// The transition named `name` if configured, else the first one into
    /// one of `categories`.
    fn pick<'t>(
        &self,
        key: &str,
        transitions: &'t [Transition],
        name: Option<&str>,
        categories: &[&str],
    ) -> Result<&'t Transition, DeliveryError> {
        let found = match name {
            Some(name) => transitions
                .iter()
                .find(|t| t.name == name)
                .or_else(|| transitions.iter().find(|t| t.name.to_lowercase() == name.to_lowercase())),
            None => transitions.iter().find(|t| categories.contains(&t.to.category.key.as_str())),
        };
        found.ok_or_else(|| {
            let offered: Vec<String> =
                transitions.iter().map(|t| format!("`{}` (to {}, {})", t.name, t.to.name, t.to.category.key)).collect();
            let offered = if offered.is_empty() { "none".to_owned() } else { offered.join(", ") };
            let wanted = match name {
                Some(name) => format!("no transition named `{name}`"),
                None => format!("no transition into a status of category {}", categories.join(" or ")),
            };
            DeliveryError::Permanent {
                reason: format!("Jira `{}`: {key}: {wanted}; the workflow offers: {offered}", self.name),
            }
        })
    }

    /// The ids of issues this process created for `dedup`.
    fn recent_ids(&self, dedup: &str) -> Vec<u64> {
        let recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.iter().filter(|(d, _)| d == dedup).map(|(_, id)| *id).collect()
    }

    fn remember(&self, dedup: &str, id: u64) {
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back((dedup.to_owned(), id));
    }
}

/// An issue whose status may not be known yet.
struct Located {
    key: String,
    done: Option<bool>,
}

/// What to comment on an existing issue: what changed, or for an open that
/// found its issue, the description and links when nothing changed.
fn comment_text<'a>(d: &Delivery<'a>) -> (&'a str, &'a [crate::action::Link]) {
    let m = d.message;
    if m.comment.trim().is_empty() && d.kind == ActionKind::Open {
        (&m.description, &m.links)
    } else {
        (&m.comment, &[])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dest::http;

    fn jira(yaml: &str) -> Jira {
        let env = |k: &str| (k == "PAT").then(|| "s3cret".to_owned());
        Jira::build("j", &config(yaml), &env, http::client(Duration::from_secs(1)).unwrap()).unwrap()
    }

    const DC: &str = "\
deployment: data_center
url: https://jira.example/context/
project: NOC
issue_type: Task
auth: {bearer: env:PAT}
";

    /// The `Jira` of a catalog with one Jira destination `j` (`yaml`: its keys).
    fn config(yaml: &str) -> edgewatch_catalog::model::Jira {
        let body: String = yaml.lines().flat_map(|l| ["      ", l, "\n"]).collect();
        let loaded =
            edgewatch_catalog::load_str("catalog.yaml", &format!("destinations:\n  j:\n    jira:\n{body}")).unwrap();
        match loaded.catalog.destinations.into_values().next() {
            Some(edgewatch_catalog::model::Destination::Jira(config)) => config,
            _ => unreachable!("a Jira destination"),
        }
    }

    #[test]
    fn endpoints_keep_the_context_path_and_encode_keys() {
        let j = jira(DC);
        assert_eq!(
            j.endpoint(&["issue", "NOC-1", "comment"]).as_str(),
            "https://jira.example/context/rest/api/2/issue/NOC-1/comment"
        );
        // A key from the store cannot walk the path.
        assert_eq!(
            j.endpoint(&["issue", "../x y?"]).as_str(),
            "https://jira.example/context/rest/api/2/issue/..%2Fx%20y%3F"
        );
    }

    #[test]
    fn debug_shows_the_site_not_the_secret() {
        let shown = format!("{:?}", jira(DC));
        assert_eq!(
            shown,
            "Jira { name: \"j\", deployment: DataCenter, url: \"https://jira.example/context/\", \
             project: \"NOC\", auth: \"bearer\", .. }"
        );
    }

    #[test]
    fn a_missing_secret_names_the_variable() {
        let config = config(&DC.replace("env:PAT", "env:NOPE"));
        let e = Jira::build("j", &config, &|_: &str| None, http::client(Duration::from_secs(1)).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "destination `j`: environment variable `NOPE` is not set or empty");
    }
}
