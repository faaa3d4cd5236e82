//! The Jira REST calls the destination makes, one function each, all sent
//! and read by [`http::send`].

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Auth, Deployment, Jira};
use crate::dest::{DeliveryError, http};

/// An issue found by a search or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// `NOC-7`.
    pub(crate) key: String,
    /// Whether its status is in the `done` category.
    pub(crate) done: bool,
}

/// A workflow transition offered from an issue's status.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Transition {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) to: Target,
}

/// Where a transition leads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Target {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(rename = "statusCategory")]
    pub(crate) category: Category,
}

/// A status category: `new`, `indeterminate` or `done`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Category {
    pub(crate) key: String,
}

#[derive(Deserialize)]
struct Fields {
    status: Status,
}

#[derive(Deserialize)]
struct Status {
    #[serde(rename = "statusCategory")]
    category: Category,
}

#[derive(Deserialize)]
struct Found {
    /// Cloud leaves it out unless fields are asked for; they are.
    key: String,
    fields: Fields,
}

#[derive(Deserialize)]
struct SearchAnswer {
    issues: Vec<Found>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    key: String,
}

#[derive(Deserialize)]
struct Transitions {
    transitions: Vec<Transition>,
}

impl Jira {
    /// `rest/api/<version>/<segments…>` under the site's URL, each segment
    /// percent-encoded (an issue key from the store cannot change the path).
    pub(super) fn endpoint(&self, segments: &[&str]) -> url::Url {
        let mut url = self.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["rest", "api", self.deployment.api_version()]).extend(segments);
        }
        url
    }

    /// Sends with credentials; the answer's body, or why not.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<String, DeliveryError> {
        let (request, secret) = match &self.auth {
            Auth::Basic { user, token } => (request.basic_auth(user, Some(token.expose())), token),
            Auth::Bearer(token) => (request.bearer_auth(token.expose()), token),
        };
        // Jira's error bodies are quoted as they are (cut to length).
        http::send(what, request, str::to_owned, secret.expose()).await
    }

    /// The newest issue of `project` carrying `label`, with its status
    /// category. On Cloud, `reconcile` lists issue ids that search must see
    /// even if its index lags (issues this process created).
    pub(crate) async fn search(
        &self,
        project: &str,
        label: &str,
        reconcile: &[u64],
    ) -> Result<Option<Issue>, DeliveryError> {
        let what = format!("Jira `{}`: search {project} for label {label}", self.name);
        let jql = format!("project = {} AND labels = {} ORDER BY created DESC", jql_string(project), jql_string(label));
        let mut body = json!({"jql": jql, "maxResults": 1, "fields": ["status"]});
        let url = match self.deployment {
            // CHANGE-2046: `/rest/api/{2,3}/search` is gone (410) on Cloud.
            Deployment::Cloud => {
                if !reconcile.is_empty() {
                    body["reconcileIssues"] = json!(reconcile);
                }
                self.endpoint(&["search", "jql"])
            }
            Deployment::DataCenter => self.endpoint(&["search"]),
        };
        let answer = self.send(&what, self.client.post(url).json(&body)).await?;
        let found: SearchAnswer = parse(&what, &answer)?;
        Ok(found.issues.into_iter().next().map(|i| Issue { key: i.key, done: i.fields.status.category.key == "done" }))
    }

    /// Creates an issue from `fields`; its id and key.
    pub(crate) async fn create_issue(&self, project: &str, fields: Value) -> Result<(String, String), DeliveryError> {
        let what = format!("Jira `{}`: create an issue in {project}", self.name);
        let answer =
            self.send(&what, self.client.post(self.endpoint(&["issue"])).json(&json!({"fields": fields}))).await?;
        let created: Created = parse(&what, &answer)?;
        Ok((created.id, created.key))
    }

    /// Reads an issue's status.
    pub(crate) async fn issue(&self, key: &str) -> Result<Issue, DeliveryError> {
        let what = format!("Jira `{}`: read {key}", self.name);
        let mut url = self.endpoint(&["issue", key]);
        url.query_pairs_mut().append_pair("fields", "status");
        let answer = self.send(&what, self.client.get(url)).await?;
        let found: Found = parse(&what, &answer)?;
        Ok(Issue { key: found.key, done: found.fields.status.category.key == "done" })
    }

    /// Sets an issue's priority by name (`PUT /issue/{key}`, 204).
    pub(crate) async fn set_priority(&self, key: &str, priority: &str) -> Result<(), DeliveryError> {
        let what = format!("Jira `{}`: set the priority of {key} to {priority}", self.name);
        let body = json!({"fields": {"priority": {"name": priority}}});
        self.send(&what, self.client.put(self.endpoint(&["issue", key])).json(&body)).await.map(drop)
    }

    /// Adds a comment (`body` is ADF or a wiki string).
    pub(crate) async fn comment(&self, key: &str, body: Value) -> Result<(), DeliveryError> {
        let what = format!("Jira `{}`: comment on {key}", self.name);
        let url = self.endpoint(&["issue", key, "comment"]);
        self.send(&what, self.client.post(url).json(&json!({"body": body}))).await.map(drop)
    }

    /// The transitions the workflow offers from the issue's status.
    pub(crate) async fn transitions(&self, key: &str) -> Result<Vec<Transition>, DeliveryError> {
        let what = format!("Jira `{}`: list the transitions of {key}", self.name);
        let answer = self.send(&what, self.client.get(self.endpoint(&["issue", key, "transitions"]))).await?;
        Ok(parse::<Transitions>(&what, &answer)?.transitions)
    }

    /// Applies a transition.
    pub(crate) async fn transition(&self, key: &str, t: &Transition) -> Result<(), DeliveryError> {
        let what = format!("Jira `{}`: transition {key} by `{}`", self.name, t.name);
        let url = self.endpoint(&["issue", key, "transitions"]);
        self.send(&what, self.client.post(url).json(&json!({"transition": {"id": t.id}}))).await.map(drop)
    }
}

/// A JQL string literal.
fn jql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A successful answer that is not what Jira sends (a proxy's page, another
/// API) will not improve by retrying.
fn parse<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, DeliveryError> {
    serde_json::from_str(body)
        .map_err(|e| DeliveryError::Permanent { reason: format!("{what}: unexpected answer: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_strings_are_quoted() {
        assert_eq!(jql_string("edgewatch-00ff"), "\"edgewatch-00ff\"");
        assert_eq!(jql_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
