//! `destinations:` — where alerts go, defined once and named by routes.

use std::collections::BTreeMap;

use crate::decode::{Cx, Decode, describe, fields};
use crate::model::{
    Destination, EmailDestination, Jira, JiraAuth, JiraDeployment, LogDestination, PagerDuty, PagerDutySeverity,
    SmtpSecurity, Statuspage, StatuspageImpact,
};
use crate::names::Severity;
use crate::path::YamlPath;
use crate::types::secret::SecretRef;
use crate::types::text::HttpUrl;
use crate::yaml::{Anchor, Value};

const KINDS: [&str; 5] = ["jira", "pagerduty", "log", "statuspage", "email"];

/// Decodes `{jira: {...}}`, `{pagerduty: {...}}` or `{log: {...}}`: the kind is
/// the single key, which keeps every position (an internally tagged `type:`
/// field would make serde lose them).
impl Decode for Destination {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "destination", &KINDS)?;
        let present: Vec<&str> = KINDS.iter().copied().filter(|k| f.get(k).is_some()).collect();
        match present.as_slice() {
            ["jira"] => f.opt("jira", cx).map(Self::Jira),
            ["pagerduty"] => f.opt("pagerduty", cx).map(Self::PagerDuty),
            ["log"] => f.opt("log", cx).map(Self::Log),
            ["statuspage"] => f.opt("statuspage", cx).map(Self::Statuspage),
            ["email"] => f.opt("email", cx).map(Self::Email),
            // Unknown keys were reported by `fields`; only an empty one is news.
            [] if v.as_mapping().is_some_and(|m| !m.is_empty()) => None,
            [] => {
                cx.error(
                    path,
                    Anchor::Key,
                    "a destination needs its kind as its one key: `jira`, `pagerduty`, `log`, `statuspage` or `email`",
                );
                None
            }
            _ => {
                cx.error(path, Anchor::Key, format!("a destination has one kind, found {}", present.join(" and ")))
                    .hint("define each as its own named destination");
                None
            }
        }
    }
}

impl Decode for Jira {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(
            v,
            path,
            cx,
            "jira destination",
            &[
                "deployment",
                "url",
                "project",
                "issue_type",
                "priorities",
                "components",
                "labels",
                "custom_fields",
                "auth",
                "transitions",
            ],
        )?;
        let deployment: Option<JiraDeployment> = f.req("deployment", cx);
        let auth: Option<JiraAuth> = f.req("auth", cx);
        if let (Some(JiraDeployment::Cloud), Some(JiraAuth::Bearer(_))) = (deployment, &auth) {
            cx.error(&f.path("auth").key("bearer"), Anchor::Key, "Jira Cloud does not take personal access tokens")
                .hint("use `basic: {user: <account e-mail>, token: env:JIRA_API_TOKEN}` with an Atlassian API token");
        }
        let labels: Vec<String> = f.list("labels", cx);
        for (i, l) in labels.iter().enumerate() {
            if l.is_empty() || l.chars().any(char::is_whitespace) {
                cx.error(
                    &f.path("labels").index(i),
                    Anchor::Value,
                    format!("Jira labels cannot be empty or contain spaces: `{l}`"),
                );
            }
        }
        let mut custom_fields = BTreeMap::new();
        if let Some(Value::Mapping(m)) = f.get("custom_fields") {
            for (k, v) in m {
                let Value::String(k) = k else {
                    let message =
                        format!("custom field ids are strings like `customfield_10010`, found {}", describe(k));
                    cx.error(&f.path("custom_fields"), Anchor::Value, message);
                    continue;
                };
                let p = f.path("custom_fields").key(k);
                let id_ok = k
                    .strip_prefix("customfield_")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if !id_ok {
                    cx.error(&p, Anchor::Key, format!("`{k}` is not a Jira custom field id"))
                        .hint("custom fields are named by id, as in `customfield_10010`; find ids under Jira's field settings");
                    continue;
                }
                match serde_json::to_value(v) {
                    Ok(json) if !matches!(v, Value::Tagged(_)) => {
                        custom_fields.insert(k.clone(), json);
                    }
                    _ => {
                        cx.error(
                            &p,
                            Anchor::Value,
                            format!("custom field values must be plain YAML, found {}", describe(v)),
                        );
                    }
                }
            }
        } else if let Some(other) = f.get("custom_fields") {
            cx.type_error(&f.path("custom_fields"), "a mapping of custom field ids to values", other);
        }
        let transitions = match f.get("transitions") {
            Some(t) => {
                let tf = fields(t, &f.path("transitions"), cx, "transitions", &["resolve", "reopen"]);
                tf.map(|tf| (tf.opt::<String>("resolve", cx), tf.opt::<String>("reopen", cx))).unwrap_or_default()
            }
            None => (None, None),
        };
        // Read every key before assembling, so one bad value does not hide the next.
        let url = f.req("url", cx);
        let project = f.req("project", cx);
        let issue_type = f.req("issue_type", cx);
        let priorities = f
            .opt::<BTreeMap<String, String>>("priorities", cx)
            .map(|m| severity_keys(m, &f.path("priorities"), cx))
            .unwrap_or_default();
        let components = f.list("components", cx);
        Some(Self {
            deployment: deployment?,
            url: url?,
            project: project?,
            issue_type: issue_type?,
            priorities,
            components,
            labels,
            custom_fields,
            auth: auth?,
            resolve_transition: transitions.0,
            reopen_transition: transitions.1,
        })
    }
}

impl Decode for JiraAuth {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "jira auth", &["basic", "bearer"])?;
        match (f.get("basic"), f.get("bearer")) {
            (Some(b), None) => {
                let bf = fields(b, &f.path("basic"), cx, "basic auth", &["user", "token"])?;
                let user: Option<String> = bf.req("user", cx);
                let token: Option<SecretRef> = bf.req("token", cx);
                Some(Self::Basic { user: user?, token: token? })
            }
            (None, Some(_)) => f.opt("bearer", cx).map(Self::Bearer),
            _ => {
                cx.error(path, Anchor::Key, "Jira auth needs exactly one of `basic` (Cloud: e-mail and API token) or `bearer` (Data Center: personal access token)");
                None
            }
        }
    }
}

impl Decode for PagerDuty {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "pagerduty destination", &["routing_key", "severities", "url"])?;
        let routing_key: Option<SecretRef> = f.req("routing_key", cx);
        let severities = f
            .opt::<BTreeMap<String, PagerDutySeverity>>("severities", cx)
            .map(|m| severity_keys(m, &f.path("severities"), cx))
            .unwrap_or_default();
        let url: Option<HttpUrl> = f.opt("url", cx);
        Some(Self { routing_key: routing_key?, severities, url })
    }
}

impl Decode for Statuspage {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "statuspage destination", &["page_id", "api_key", "url", "impacts"])?;
        let page_id: Option<String> = f.req("page_id", cx).and_then(|id: String| {
            if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Some(id)
            } else {
                cx.error(
                    &f.path("page_id"),
                    Anchor::Value,
                    format!("`{id}` is not a Statuspage page id (letters and digits)"),
                )
                .hint("copy it from the page's API info in Statuspage's settings");
                None
            }
        });
        let api_key: Option<SecretRef> = f.req("api_key", cx);
        let impacts = f
            .opt::<BTreeMap<String, StatuspageImpact>>("impacts", cx)
            .map(|m| severity_keys(m, &f.path("impacts"), cx))
            .unwrap_or_default();
        let url: Option<HttpUrl> = f.opt("url", cx);
        Some(Self { page_id: page_id?, api_key: api_key?, url, impacts })
    }
}

impl Decode for EmailDestination {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(
            v,
            path,
            cx,
            "email destination",
            &["host", "port", "security", "username", "password", "ca_file", "from", "from_name", "reply_to", "roles"],
        )?;
        let host: Option<String> = f.req("host", cx).and_then(|h: String| {
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
            if ok {
                return Some(h);
            }
            cx.error(&f.path("host"), Anchor::Value, format!("`{h}` is not a host name"))
                .hint("the SMTP relay's name alone, without a scheme or port: `smtp.example.net`");
            None
        });
        let security: SmtpSecurity = f.opt("security", cx).unwrap_or(SmtpSecurity::Starttls);
        let port = match f.opt::<u64>("port", cx) {
            None => Some(security.default_port()),
            Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).or_else(|| {
                cx.error(&f.path("port"), Anchor::Value, format!("port {p} is outside 1 to 65535"));
                None
            }),
        };
        let username: Option<String> = f.opt("username", cx);
        let password: Option<SecretRef> = f.opt("password", cx);
        if username.is_some() != password.is_some() {
            let (has, lacks) = if username.is_some() { ("username", "password") } else { ("password", "username") };
            cx.error(&f.path(has), Anchor::Key, format!("a `{has}` without a `{lacks}`"))
                .hint("the relay's login needs both, or neither for a relay that takes mail without one");
        }
        let ca_file: Option<String> = f.opt("ca_file", cx);
        let from: Option<crate::types::text::Email> = f.req("from", cx);
        let from_name: Option<String> = f.opt("from_name", cx);
        let reply_to = f.opt("reply_to", cx);
        let roles: Vec<String> = f.list("roles", cx);
        Some(Self {
            host: host?,
            port: port?,
            security,
            username,
            password,
            ca_file: ca_file.map(Into::into),
            from: from?,
            from_name,
            reply_to,
            roles,
        })
    }
}

impl Decode for LogDestination {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "log destination", &["path"])?;
        let p: String = f.req("path", cx)?;
        if p.trim().is_empty() {
            cx.error(&f.path("path"), Anchor::Value, "log path is empty")
                .hint("give a file path, or `-` for standard output");
            return None;
        }
        Some(Self { path: p.into() })
    }
}

/// Turns a map keyed by severity names into one keyed by [`Severity`].
fn severity_keys<T>(map: BTreeMap<String, T>, path: &YamlPath, cx: &mut Cx<'_>) -> BTreeMap<Severity, T> {
    map.into_iter()
        .filter_map(|(k, v)| {
            if let Ok(s) = k.parse::<Severity>() {
                return Some((s, v));
            }
            let issue = cx.error(&path.key(&k), Anchor::Key, format!("unknown severity `{k}`"));
            if let Some(h) = crate::decode::unknown_word_hint(&k, Severity::ALL.iter().map(|s| s.as_str())) {
                issue.hint(h);
            }
            None
        })
        .collect()
}
