//! The words of tickets and pages: handlebars templates (strict: a name
//! that does not exist is an error, not an empty string; no HTML escaping),
//! over the incident, the customer from the catalog, links and live values.

use std::collections::BTreeMap;
use std::path::Path;

use edgewatch_catalog::names::AlertKind;
use edgewatch_catalog::{Catalog, Customer};
use handlebars::{Context, Handlebars};
use serde_json::{Value, json};

use crate::action::{ActionKind, Incident, Link, Message, Status};
use crate::store::{Note, NoteKind};

/// The built-in templates, by name.
pub(crate) const DEFAULTS: [(&str, &str); 3] = [
    ("title", "{{#if customer}}{{customer.name}}: {{/if}}{{summary}}"),
    (
        "description",
        "{{description}}

Customer: {{#if customer}}{{customer.name}} ({{customer.id}}), tier {{customer.tier}}{{else}}not in the catalog{{/if}}
Severity: {{incident.severity}}
Since: {{incident.started_at}}
Firing: {{incident.firing}} of {{incident.total}} alert(s)
{{#each incident.alerts}}- {{status}}: {{labels.alertname}}{{#if annotations.summary}}: {{annotations.summary}}{{/if}}
{{/each}}{{#if incident.unlisted}}- and {{incident.unlisted}} more
{{/if}}{{#if live}}
Now:
{{#each live}}- {{@key}}: {{this}}
{{/each}}{{/if}}{{#if customer}}
Contacts:
{{#each customer.contacts}}- {{name}} <{{email}}>{{#if role}} ({{role}}){{/if}}
{{/each}}{{/if}}",
    ),
    (
        "comment",
        "{{#if (eq action \"resolve\")}}Resolved: every alert ended ({{incident.resolved_at}}).{{/if}}\
{{#if (eq action \"reopen\")}}Firing again: {{incident.firing}} alert(s), severity {{incident.severity}}.{{/if}}\
{{#if (eq action \"update\")}}{{#if change.status_update}}Status update: firing for {{incident.firing_for}}, \
{{incident.firing}} of {{incident.total}} alert(s), severity {{incident.severity}}.{{else}}Updated: {{incident.firing}} of {{incident.total}} alert(s) firing, severity \
{{#if change.severity.raised}}raised to {{/if}}{{#if change.severity.lowered}}lowered to {{/if}}{{incident.severity}}.{{/if}}{{/if}}\
{{#if (eq action \"open\")}}Opened: {{incident.firing}} alert(s) firing.{{/if}}
{{#unless (eq action \"open\")}}{{#each change.joined}}Joined: {{alertname}} ({{severity}}){{#if summary}}: {{summary}}{{/if}}
{{/each}}{{#each change.ended}}Ended: {{alertname}}{{#if summary}}: {{summary}}{{/if}}
{{/each}}{{/unless}}{{#each live}}- {{@key}}: {{this}}
{{/each}}",
    ),
];

/// Why templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A template file could not be read.
    #[error("template {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// A template does not parse.
    #[error("template `{name}`: {message}")]
    Template {
        /// `title`, `description` or `comment`.
        name: String,
        /// The parser's message, with the line.
        message: String,
    },
    /// A template failed on this incident (a name that does not exist).
    #[error("rendering `{name}`: {message}")]
    Render { name: String, message: String },
}

/// The templates, ready.
#[derive(Debug)]
pub(crate) struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by the catalog's (`templates:`)
    /// and then by `<name>.hbs` in `dir` when that file exists.
    pub(crate) fn load(catalog: &BTreeMap<String, String>, dir: Option<&Path>) -> Result<Self, TextError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        for (name, default) in DEFAULTS.into_iter().chain(crate::customer_text::DEFAULTS) {
            let text = match dir.map(|d| d.join(format!("{name}.hbs"))) {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|source| TextError::Read { path: path.display().to_string(), source })?,
                _ => catalog.get(name).cloned().unwrap_or_else(|| default.to_owned()),
            };
            hb.register_template_string(name, text)
                .map_err(|e| TextError::Template { name: name.to_owned(), message: e.to_string() })?;
        }
        Ok(Self { hb })
    }

    /// Renders template `name` over `cx`. A [`Context`] is made once per
    /// message: `Handlebars::render` would copy the whole context again
    /// for each template.
    fn render(&self, name: &str, cx: &Context) -> Result<String, TextError> {
        self.hb
            .render_with_context(name, cx)
            .map_err(|e| TextError::Render { name: name.to_owned(), message: e.to_string() })
    }
}

/// What links point at.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkBases {
    /// Grafana's base URL.
    pub grafana: Option<String>,
    /// Alertmanager's URL for people, instead of the notifications' own.
    pub alertmanager: Option<String>,
}

fn first_annotation(i: &Incident, name: &str) -> Option<String> {
    let firing = i.alerts.iter().filter(|a| a.status == Status::Firing);
    firing.chain(i.alerts.iter()).find_map(|a| a.annotations.get(name).filter(|v| !v.is_empty()).cloned())
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The dashboard, runbook, Alertmanager and Prometheus links of an incident.
pub(crate) fn links(
    i: &Incident,
    customer: Option<&Customer>,
    layout: edgewatch_catalog::model::CustomerDashboards,
    bases: &LinkBases,
) -> Vec<Link> {
    let mut out = Vec::new();
    // Grafana from the configured base, around the start; else the alert's own link.
    let dashboard = match (&bases.grafana, &i.customer) {
        (Some(g), Some(c)) => {
            let start = crate::time::parse_rfc3339(&i.started_at).unwrap_or(0);
            let to = i
                .ended_at()
                .as_deref()
                .and_then(crate::time::parse_rfc3339)
                .map_or("now".to_owned(), |t| (t + 3_600_000).to_string());
            let slo = i.slo.as_ref().map(|s| format!("var-slo={}&", encode(s))).unwrap_or_default();
            Some(format!("{}/{}{slo}from={}&to={to}", g.trim_end_matches('/'), layout.link(c), start - 3_600_000))
        }
        _ => first_annotation(i, "dashboard_url"),
    };
    if let Some(href) = dashboard {
        out.push(Link { text: "Dashboard".to_owned(), href });
    }
    let kind = i.alert_kind.as_deref().and_then(|k| k.parse::<AlertKind>().ok());
    let runbook = first_annotation(i, "runbook_url")
        .or_else(|| customer.zip(kind).and_then(|(c, k)| c.runbook_url(k, i.slo.as_deref())));
    if let Some(href) = runbook {
        out.push(Link { text: "Runbook".to_owned(), href });
    }
    let am = bases.alertmanager.as_deref().unwrap_or(&i.alertmanager_url);
    if !am.is_empty() {
        // The incident's alerts are those with its key's labels; a row from
        // before the key was kept falls back to the lead alert's name.
        let filter = if i.grouped_by.is_empty() {
            let customer = i.customer.as_ref().map(|c| format!(",customer=\"{c}\"")).unwrap_or_default();
            format!("alertname=\"{}\"{customer}", i.alertname)
        } else {
            let matchers: Vec<String> = i.grouped_by.iter().map(|(l, v)| format!("{l}={}", quoted(v))).collect();
            matchers.join(",")
        };
        out.push(Link {
            text: "Alertmanager".to_owned(),
            href: format!("{}/#/alerts?filter={}", am.trim_end_matches('/'), encode(&format!("{{{filter}}}"))),
        });
    }
    if let Some(href) = i.alerts.iter().map(|a| &a.generator_url).find(|u| !u.is_empty()) {
        out.push(Link { text: "Prometheus".to_owned(), href: href.clone() });
    }
    out
}

/// A matcher value: double-quoted, with `\\` and `"` escaped.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A summary without the `<customer id>: ` that edgewatch's rules start it
/// with (titles name the customer by its display name).
fn without_customer(i: &Incident, text: String) -> String {
    match &i.customer {
        Some(id) => text.strip_prefix(&format!("{id}: ")).map_or(text.clone(), str::to_owned),
        None => text,
    }
}

/// The alerts of a change (fingerprints) as templates see them.
fn change_alerts(i: &Incident, fingerprints: &[String]) -> Value {
    let alerts: Vec<Value> = fingerprints
        .iter()
        .filter_map(|fp| i.alerts.iter().find(|a| &a.fingerprint == fp))
        .map(|a| {
            let label = |name: &str| a.labels.get(name).cloned().unwrap_or_default();
            let summary = a.annotations.get("summary").cloned().unwrap_or_default();
            json!({
                "fingerprint": a.fingerprint,
                "alertname": label("alertname"),
                "severity": a.labels.get(edgewatch_catalog::names::label::SEVERITY).map_or("none", String::as_str),
                "summary": without_customer(i, summary),
                "labels": a.labels,
            })
        })
        .collect();
    Value::Array(alerts)
}

/// What the last notification changed, as templates see it.
fn change_json(i: &Incident) -> Value {
    let c = &i.change;
    let name = |s: Option<edgewatch_catalog::names::Severity>| s.map_or("none", |s| s.as_str());
    json!({
        "joined": change_alerts(i, &c.joined),
        "ended": change_alerts(i, &c.ended),
        "status_update": c.status_update,
        "severity": {
            "before": name(c.severity_before),
            "after": name(c.severity_after),
            "changed": c.severity_changed(),
            "raised": c.severity_raised(),
            "lowered": c.severity_lowered(),
        },
    })
}

/// How long the incident has fired, in words (`1h05m`, `12m`).
fn firing_for(i: &Incident) -> String {
    let start = crate::time::parse_rfc3339(&i.started_at).unwrap_or(0);
    let end = i.ended_at().as_deref().and_then(crate::time::parse_rfc3339).unwrap_or_else(crate::time::now_ms);
    let m = (end - start).max(0) / 60_000;
    if m >= 60 { format!("{}h{:02}m", m / 60, m % 60) } else { format!("{m}m") }
}

/// The customer as templates see it.
fn customer_json(c: &Customer) -> Value {
    json!({
        "id": c.id.as_str(),
        "name": c.name,
        "tier": c.tier.as_ref().map_or("none", edgewatch_catalog::Slug::as_str),
        "contacts": c.contacts.iter().map(|p| json!({
            "name": p.name, "email": p.email.as_str(), "role": p.role.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "labels": c.labels.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect::<BTreeMap<_, _>>(),
        "jira_project": c.jira_project.as_ref().map(ToString::to_string).unwrap_or_default(),
    })
}

/// The lead alert's summary (the first firing one of the highest severity),
/// without the customer id its text starts with.
fn summary(i: &Incident) -> String {
    without_customer(i, first_annotation(i, "summary").unwrap_or_else(|| i.alertname.clone()))
}

/// The alerts a message lists at most: the first in the incident's order
/// (firing first, the most urgent first), and how many more there are. A
/// ticket listing four hundred alerts is read by no one, Jira cuts a text
/// at 32,767 characters (which would cut what follows the list, such as
/// the contacts), and rendering every alert of a large incident into
/// every action was the largest part of delivering it.
pub(crate) const LISTED: usize = 25;

/// `incident` as templates see it: `alerts` holds the first [`LISTED`],
/// `unlisted` counts the rest.
fn incident_json(incident: &Incident) -> Result<Value, TextError> {
    let failed = |e: serde_json::Error| TextError::Render { name: "incident".to_owned(), message: e.to_string() };
    let listed = &incident.alerts[..incident.alerts.len().min(LISTED)];
    let mut inc = serde_json::to_value(incident.without_alerts()).map_err(failed)?;
    if let Some(o) = inc.as_object_mut() {
        o.insert("alerts".to_owned(), serde_json::to_value(listed).map_err(failed)?);
        o.insert("unlisted".to_owned(), json!(incident.alerts.len() - listed.len()));
    }
    Ok(inc)
}

/// Renders the message of `kind` for `incident`.
pub(crate) fn message(
    t: &Templates,
    catalog: &Catalog,
    incident: &Incident,
    kind: ActionKind,
    bases: &LinkBases,
    live: &BTreeMap<String, String>,
) -> Result<Message, TextError> {
    let customer = incident.customer.as_deref().and_then(|id| catalog.customer(id));
    let links = links(incident, customer, catalog.customer_dashboards, bases);
    let mut inc = incident_json(incident)?;
    if let Some(o) = inc.as_object_mut() {
        o.insert("firing".to_owned(), json!(incident.firing()));
        o.insert("total".to_owned(), json!(incident.alerts.len()));
        o.insert("severity".to_owned(), json!(incident.severity.map_or("none", |s| s.as_str())));
        o.insert("resolved_at".to_owned(), json!(incident.ended_at().unwrap_or_default()));
        o.insert("firing_for".to_owned(), json!(firing_for(incident)));
    }
    let cx = Context::from(json!({
        "action": kind.as_str(),
        "incident": inc,
        "change": change_json(incident),
        "summary": summary(incident),
        "description": first_annotation(incident, "description").unwrap_or_default(),
        "customer": customer.map_or(Value::Null, customer_json),
        "links": links.iter().map(|l| (l.text.to_lowercase(), l.href.clone())).collect::<BTreeMap<_, _>>(),
        "live": live,
    }));
    let mut details = BTreeMap::new();
    details.insert("incident".to_owned(), json!(incident.key));
    details.insert("firing".to_owned(), json!(incident.firing()));
    details.insert("started_at".to_owned(), json!(incident.started_at));
    if let Some(c) = customer {
        details.insert("customer".to_owned(), customer_json(c));
    }
    if !live.is_empty() {
        details.insert("live".to_owned(), json!(live));
    }
    let for_customer = Context::from(crate::customer_text::context(catalog, incident, kind));
    Ok(Message {
        title: t.render("title", &cx)?.trim().to_owned(),
        description: t.render("description", &cx)?.trim_end().to_owned(),
        comment: t.render("comment", &cx)?.trim_end().to_owned(),
        links,
        details,
        customer_title: t.render("customer_title", &for_customer)?.trim().to_owned(),
        customer_body: t.render("customer_body", &for_customer)?.trim_end().to_owned(),
    })
}

/// A note as a comment: what kind, who and when, then the text as written.
pub(crate) fn note_comment(note: &Note) -> String {
    let what = match note.kind {
        NoteKind::Remediation => "Remediation",
        NoteKind::Comment => "Note",
    };
    // `2026-12-05T10:00:00.000Z` read as `2026-12-05 10:00 UTC`.
    let at = crate::time::rfc3339(note.created_at);
    let (date, time) = (at.get(..10).unwrap_or_default(), at.get(11..16).unwrap_or_default());
    format!("{what} recorded by {} at {date} {time} UTC:\n\n{}", note.author, note.text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::action::AlertState;
    use crate::incident::{GroupUpdate, apply};

    fn catalog() -> Catalog {
        let yaml = "destinations:\n  audit: {log: {path: '-'}}\ncustomers:\n  - id: shop\n    name: Shop & Co\n    hosts: [shop.example]\n    alerting: {routes: [{to: [audit]}]}\n";
        edgewatch_catalog::load_str("catalog.yaml", yaml).unwrap().catalog
    }

    fn alert(fp: &str, name: &str, severity: &str, status: Status) -> AlertState {
        AlertState {
            fingerprint: fp.to_owned(),
            status,
            labels: [("alertname", name), ("customer", "shop"), ("severity", severity)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            annotations: BTreeMap::from([("summary".to_owned(), format!("shop: {name} summary"))]),
            starts_at: "2026-11-21T08:00:00Z".to_owned(),
            ends_at: (status == Status::Resolved).then(|| "2026-11-21T09:00:00Z".to_owned()),
            generator_url: String::new(),
        }
    }

    fn update(alerts: Vec<AlertState>) -> GroupUpdate {
        GroupUpdate {
            key: "customer=shop".to_owned(),
            labels: BTreeMap::from([("customer".to_owned(), "shop".to_owned())]),
            alerts,
            alertmanager_url: "http://alertmanager:9093".to_owned(),
        }
    }

    fn comment(incident: &Incident, kind: ActionKind) -> String {
        let t = Templates::load(&BTreeMap::new(), None).unwrap();
        message(&t, &catalog(), incident, kind, &LinkBases::default(), &BTreeMap::new()).unwrap().comment
    }

    #[test]
    fn an_update_says_what_joined_what_ended_and_where_the_severity_went() {
        let now = "2026-11-21T08:10:00Z";
        let shop = Some("shop".to_owned());
        let origin = |s| alert("o", "EdgewatchOriginErrors", "ticket", s);
        let probe = |s| alert("p", "EdgewatchProbeDown", "page", s);
        let opened = apply(None, &update(vec![origin(Status::Firing)]), shop.clone(), now, false).incident;
        let paged = apply(Some(&opened), &update(vec![probe(Status::Firing)]), shop.clone(), now, false).incident;
        assert_eq!(
            comment(&paged, ActionKind::Update),
            "Updated: 2 of 2 alert(s) firing, severity raised to page.\nJoined: EdgewatchProbeDown (page): EdgewatchProbeDown summary"
        );
        let calmer = apply(Some(&paged), &update(vec![probe(Status::Resolved)]), shop.clone(), now, false).incident;
        assert_eq!(
            comment(&calmer, ActionKind::Update),
            "Updated: 1 of 2 alert(s) firing, severity lowered to ticket.\nEnded: EdgewatchProbeDown: EdgewatchProbeDown summary"
        );
        let done = apply(Some(&calmer), &update(vec![origin(Status::Resolved)]), shop, now, false).incident;
        assert_eq!(
            comment(&done, ActionKind::Resolve),
            "Resolved: every alert ended (2026-11-21T09:00:00Z).\nEnded: EdgewatchOriginErrors: EdgewatchOriginErrors summary"
        );
    }

    #[test]
    fn a_large_incident_lists_its_first_alerts_and_counts_the_rest() {
        let shop = Some("shop".to_owned());
        let now = "2026-11-21T08:10:00Z";
        let mut alerts: Vec<AlertState> =
            (0..100).map(|i| alert(&format!("o{i:03}"), "EdgewatchOriginErrors", "ticket", Status::Firing)).collect();
        // The page leads, though it came last.
        alerts.push(alert("p", "EdgewatchProbeDown", "page", Status::Firing));
        let opened = apply(None, &update(alerts), shop, now, false).incident;
        let t = Templates::load(&BTreeMap::new(), None).unwrap();
        let m = message(&t, &catalog(), &opened, ActionKind::Open, &LinkBases::default(), &BTreeMap::new()).unwrap();
        let listed: Vec<&str> = m.description.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(listed.len(), LISTED + 1, "{}", m.description);
        assert_eq!(listed[0], "- firing: EdgewatchProbeDown: shop: EdgewatchProbeDown summary");
        assert_eq!(listed[LISTED], format!("- and {} more", 101 - LISTED));
        assert!(m.description.contains("Firing: 101 of 101 alert(s)"), "{}", m.description);
        // Short enough that what follows the list (contacts, live values)
        // is never cut at Jira's 32,767 characters.
        assert!(m.description.len() < 4_000, "{} characters", m.description.len());
        // A small incident lists every alert, and says nothing more.
        let small =
            apply(None, &update(vec![alert("o", "EdgewatchOriginErrors", "ticket", Status::Firing)]), None, now, false)
                .incident;
        let m = message(&t, &catalog(), &small, ActionKind::Open, &LinkBases::default(), &BTreeMap::new()).unwrap();
        assert!(!m.description.contains("more"), "{}", m.description);
    }

    #[test]
    fn the_title_and_links_follow_the_lead_alert_and_the_key() {
        let shop = Some("shop".to_owned());
        let now = "2026-11-21T08:10:00Z";
        let origin = alert("o", "EdgewatchOriginErrors", "ticket", Status::Firing);
        let opened = apply(None, &update(vec![origin]), shop.clone(), now, false).incident;
        let probe = alert("p", "EdgewatchProbeDown", "page", Status::Firing);
        let paged = apply(Some(&opened), &update(vec![probe]), shop, now, false).incident;
        let t = Templates::load(&BTreeMap::new(), None).unwrap();
        let m = message(&t, &catalog(), &paged, ActionKind::Update, &LinkBases::default(), &BTreeMap::new()).unwrap();
        // The page leads: its summary is the title.
        assert_eq!(m.title, "Shop & Co: EdgewatchProbeDown summary");
        // Alertmanager shows every alert of the incident, not the lead's name.
        let am = m.links.iter().find(|l| l.text == "Alertmanager").unwrap();
        assert_eq!(am.href, "http://alertmanager:9093/#/alerts?filter=%7Bcustomer%3D%22shop%22%7D");
    }

    #[test]
    fn the_dashboard_link_opens_the_customer_s_own_or_the_shared_dashboard() {
        let shop = Some("shop".to_owned());
        let opened = apply(
            None,
            &update(vec![alert("o", "EdgewatchOriginErrors", "ticket", Status::Firing)]),
            shop,
            "2026-11-21T08:10:00Z",
            false,
        )
        .incident;
        let t = Templates::load(&BTreeMap::new(), None).unwrap();
        let bases = LinkBases { grafana: Some("https://grafana.example/".to_owned()), alertmanager: None };
        let dashboard = |catalog: &Catalog| {
            let m = message(&t, catalog, &opened, ActionKind::Open, &bases, &BTreeMap::new()).unwrap();
            m.links.into_iter().find(|l| l.text == "Dashboard").unwrap().href
        };
        let own = dashboard(&catalog());
        assert!(own.starts_with("https://grafana.example/d/edgewatch-shop?from="), "{own}");
        let mut shared = catalog();
        shared.customer_dashboards = edgewatch_catalog::model::CustomerDashboards::Shared;
        let one = dashboard(&shared);
        assert!(one.starts_with("https://grafana.example/d/edgewatch_customer?var-customer=shop&from="), "{one}");
    }

    #[test]
    fn templates_see_the_change() {
        let replaced = BTreeMap::from([(
            "comment".to_owned(),
            "{{change.severity.before}} to {{change.severity.after}} ({{change.severity.changed}}); \
             {{#each change.joined}}{{fingerprint}} {{labels.alertname}}{{/each}}"
                .to_owned(),
        )]);
        let t = Templates::load(&replaced, None).unwrap();
        let shop = Some("shop".to_owned());
        let now = "2026-11-21T08:10:00Z";
        let opened = apply(None, &update(vec![alert("o", "A", "ticket", Status::Firing)]), shop, now, false).incident;
        let m = message(&t, &catalog(), &opened, ActionKind::Open, &LinkBases::default(), &BTreeMap::new());
        assert_eq!(m.unwrap().comment, "none to ticket (true); o A");
    }
}
