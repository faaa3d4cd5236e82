//! The catalog as the other crates see it: merged, inherited, validated.
//!
//! Every customer carries its effective settings (tier and `defaults` already
//! applied), so consumers never re-implement inheritance.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::names::{AlertKind, LatencySource, PolicyLevel, Severity, SloKind};
pub use crate::raw::profile::IpFamily;
use crate::types::decimal::Percent;
use crate::types::duration::Duration;
use crate::types::host::{HostPattern, Zone};
use crate::types::ident::{LabelName, Slug};
use crate::types::net::{Asn, CloudflareId, IpNet};
use crate::types::secret::SecretRef;
use crate::types::status::StatusMatcher;
use crate::types::template::UrlTemplate;
use crate::types::text::{Email, HttpUrl, JiraKey, Pattern};

/// A loaded, valid catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// Customers, in the order their files and entries were read.
    pub customers: Vec<Customer>,
    /// Destinations by name.
    pub destinations: BTreeMap<Slug, Destination>,
    /// Tier names.
    pub tiers: Vec<Slug>,
    /// The receiver's templates the catalog replaces (`title`,
    /// `description`, `comment`), as handlebars text.
    pub templates: BTreeMap<String, String>,
    /// How Grafana shows customers (`dashboards: {customers: …}`).
    pub customer_dashboards: CustomerDashboards,
    /// Where each customer is in `customers`, built at the first lookup.
    #[serde(skip)]
    pub(crate) index: CustomerIndex,
}

/// Customers' positions by id: a lookup per action at 10,000 customers
/// must not scan them all.
#[derive(Clone, Default)]
pub(crate) struct CustomerIndex(std::sync::OnceLock<std::collections::HashMap<String, usize>>);

impl std::fmt::Debug for CustomerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerIndex")
    }
}

/// How Grafana shows customers: the alerts', receiver's and NOC
/// overview's links follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CustomerDashboards {
    /// A dashboard per customer, with its own SLO rows, thresholds and
    /// links.
    #[default]
    Each,
    /// One customer dashboard, the customer a variable, reading objectives
    /// and thresholds from the recorded constants: what Grafana can load
    /// for thousands of customers.
    Shared,
}

crate::decode::string_enum!(CustomerDashboards, "dashboard layout", { Each => "each", Shared => "shared" });

impl CustomerDashboards {
    /// Where `customer`'s dashboard is, from Grafana's root: `d/<uid>?`
    /// with the customer when shared, ready for more query parameters.
    pub fn link(self, customer: &str) -> String {
        match self {
            Self::Each => format!("d/{}?", crate::names::dashboard_uid(customer)),
            Self::Shared => format!("d/{}?var-customer={customer}&", crate::names::SHARED_CUSTOMER_DASHBOARD_UID),
        }
    }
}

/// Counts for a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Customers.
    pub customers: usize,
    /// Host names and wildcards.
    pub hosts: usize,
    /// SLOs across customers.
    pub slos: usize,
    /// Probes across customers.
    pub probes: usize,
    /// Destinations.
    pub destinations: usize,
}

impl Catalog {
    /// How much the catalog holds.
    pub fn summary(&self) -> Summary {
        Summary {
            customers: self.customers.len(),
            hosts: self.customers.iter().map(|c| c.hosts.len()).sum(),
            slos: self.customers.iter().map(|c| c.slos.len()).sum(),
            probes: self.customers.iter().map(|c| c.probes.len()).sum(),
            destinations: self.destinations.len(),
        }
    }

    /// The customer with this id.
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        let index = self
            .index
            .0
            .get_or_init(|| self.customers.iter().enumerate().map(|(i, c)| (c.id.as_str().to_owned(), i)).collect());
        match index.get(id).and_then(|&i| self.customers.get(i)) {
            Some(c) if c.id.as_str() == id => Some(c),
            // `customers` changed since the index was built (it is public):
            // the slow way, still right.
            _ => self.customers.iter().find(|c| c.id.as_str() == id),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}, {}, {}",
            n(self.customers, "customer", "customers"),
            n(self.hosts, "host", "hosts"),
            n(self.slos, "SLO", "SLOs"),
            n(self.probes, "probe", "probes"),
            n(self.destinations, "destination", "destinations"),
        )
    }
}

/// One customer, with its effective settings.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    /// Stable id, used as the `customer` label and in dashboard uids.
    pub id: Slug,
    /// Display name (the id when none is given).
    pub name: String,
    /// The tier the customer inherits from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Slug>,
    /// People to reach.
    pub contacts: Vec<Contact>,
    /// Free labels, copied onto the customer's alerts.
    pub labels: BTreeMap<LabelName, String>,
    /// DNS zones (Logpush `ZoneName`).
    pub zones: Vec<Zone>,
    /// Hosts whose requests belong to this customer.
    pub hosts: Vec<HostPattern>,
    /// Jira project for this customer's tickets, instead of the destination's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jira_project: Option<JiraKey>,
    /// Extra links for dashboards and tickets.
    pub links: Vec<Link>,
    /// SLOs in effect: availability first, then latency by name, then probe.
    pub slos: Vec<Slo>,
    /// Synthetic probes.
    pub probes: Vec<Probe>,
    /// Severity policy, traffic floor and routes.
    pub alerting: Alerting,
    /// Runbook URL templates.
    pub runbooks: Runbooks,
    /// Statuspage component ids of the customer's services: an incident
    /// on a Statuspage destination marks them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuspage_components: Vec<String>,
    /// What mitigation suggestions must never name, and where rules go.
    #[serde(skip_serializing_if = "Mitigation::is_empty")]
    pub mitigation: Mitigation,
}

/// A customer's mitigation settings: the networks, AS numbers and bots a
/// suggested rule never names (partners, monitoring, the customer's own
/// origin, search engines), and the Cloudflare zone rules are applied to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mitigation {
    /// The Cloudflare zone of the customer's hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudflare_zone: Option<CloudflareId>,
    /// Networks never named (partners, the NOC's own monitoring).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowlist: Vec<IpNet>,
    /// AS numbers never named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_asns: Vec<Asn>,
    /// The customer's own origin servers' networks: never named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<IpNet>,
    /// User agents of bots the customer wants (search engines): a user
    /// agent containing one of these, case-insensitively, is never named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified_bots: Vec<String>,
}

impl Mitigation {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Customer {
    /// The SLOs the rules measure: all of them, but a probe SLO only when
    /// the customer has probes (without any, there is nothing to measure and
    /// its no-data alert would never clear).
    pub fn measured_slos(&self) -> impl Iterator<Item = &Slo> {
        self.slos.iter().filter(|s| s.kind() != SloKind::Probe || !self.probes.is_empty())
    }

    /// The runbook link for alerts of `kind` about `slo` (when the alert is
    /// about one), from the customer's templates. A template that names
    /// `{{slo}}` gets an empty value for alerts about no SLO.
    pub fn runbook_url(&self, kind: AlertKind, slo: Option<&str>) -> Option<String> {
        self.runbook_url_as(kind, slo, self.id.as_str())
    }

    /// [`Customer::runbook_url`] with `customer` in place of the id: rule-gen
    /// fills one template for every customer of a profile with a stand-in.
    pub fn runbook_url_as(&self, kind: AlertKind, slo: Option<&str>, customer: &str) -> Option<String> {
        let template = self.runbooks.for_kind(kind)?;
        Some(template.render(|var| match var {
            "customer" => Some(customer.to_owned()),
            "alert_kind" => Some(kind.as_str().to_owned()),
            "tier" => self.tier.as_ref().map(ToString::to_string),
            "slo" => Some(slo.unwrap_or_default().to_owned()),
            _ => None,
        }))
    }

    /// The traffic floor of an SLO: the requests its burn-rate alerts need
    /// in their long window, and the requests a report needs over its
    /// period to judge it. A probe SLO counts probes, which never reach a
    /// request floor, so it has [`PROBE_FLOOR`].
    pub fn slo_floor(&self, slo: &Slo) -> u64 {
        if slo.kind() == SloKind::Probe { PROBE_FLOOR } else { self.alerting.min_requests }
    }

    /// Whether the runbook template of `kind` names the SLO, so that each
    /// SLO has a link of its own.
    pub fn runbook_names_slo(&self, kind: AlertKind) -> bool {
        self.runbooks.for_kind(kind).is_some_and(|t| t.uses("slo"))
    }
}

/// The traffic floor of every probe SLO, in probes ([`Customer::slo_floor`]).
pub const PROBE_FLOOR: u64 = 10;

/// Someone to reach about a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: Email,
    /// What they do for the customer, free text (`technical`, `escalation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A titled link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// What the link is.
    pub title: String,
    /// Where it goes.
    pub url: HttpUrl,
}

/// One service level objective.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// Unique within the customer; the `slo` label.
    pub name: Slug,
    /// What is measured, with the kind's own settings.
    pub spec: SloSpec,
    /// Share of good events required, as a percentage.
    pub objective: Percent,
    /// Rolling window the objective applies to.
    pub period: Duration,
}

impl Slo {
    /// The kind of SLO.
    pub const fn kind(&self) -> SloKind {
        match self.spec {
            SloSpec::Availability { .. } => SloKind::Availability,
            SloSpec::Latency { .. } => SloKind::Latency,
            SloSpec::Probe => SloKind::Probe,
        }
    }
}

/// What an SLO measures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloSpec {
    /// Requests that did not fail.
    Availability {
        /// Statuses that count as failures.
        errors: Vec<StatusMatcher>,
        /// Requests left out of the SLI.
        exclude: Exclude,
    },
    /// Requests at or under a latency threshold.
    Latency {
        /// Which latency.
        source: LatencySource,
        /// The threshold; the exporters judge each request against it.
        threshold: Duration,
    },
    /// Probes that succeeded.
    Probe,
}

/// Requests an availability SLO ignores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Exclude {
    /// Hosts left out.
    pub hosts: Vec<HostPattern>,
    /// Path prefixes left out.
    pub paths: Vec<String>,
    /// Statuses left out (neither good nor bad).
    pub statuses: Vec<StatusMatcher>,
}

/// Effective alerting settings of a customer.
#[derive(Debug, Clone, Serialize)]
pub struct Alerting {
    /// Burn-rate alerts fire only when the long window saw at least this many
    /// requests.
    pub min_requests: u64,
    /// Severity of each alert kind (`off` = not generated).
    pub severity: BTreeMap<AlertKind, PolicyLevel>,
    /// Where alerts go; every matching route delivers.
    pub routes: Vec<Route>,
}

impl Alerting {
    /// The severity an alert kind gets, or `None` when it is off.
    pub fn severity_of(&self, kind: AlertKind) -> Option<Severity> {
        self.severity.get(&kind).copied().unwrap_or(kind.default_level()).severity()
    }

    /// Destinations for an alert, in route order, each once.
    pub fn destinations_for(&self, kind: AlertKind, severity: Severity) -> Vec<&Slug> {
        self.destinations_matching(Some(kind), Some(severity))
    }

    /// Whether what goes to `destination` waits for approval: a route
    /// naming it says `approval: required`.
    pub fn approval_required(&self, destination: &str) -> bool {
        self.routes.iter().any(|r| r.approval == Approval::Required && r.to.iter().any(|d| d.as_str() == destination))
    }

    /// Destinations for an alert of an incident that has fired for
    /// `firing_for_ms`: routes that escalate later are left out until then.
    pub fn destinations_at(
        &self,
        kind: Option<AlertKind>,
        severity: Option<Severity>,
        firing_for_ms: i64,
    ) -> Vec<&Slug> {
        let mut out: Vec<&Slug> = Vec::new();
        let due = |r: &Route| {
            r.escalate_after.is_none_or(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX) <= firing_for_ms)
        };
        for route in self.routes.iter().filter(|r| r.matches_any(kind, severity) && due(r)) {
            for d in &route.to {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// How often `destination` gets status updates while an incident
    /// fires: the shortest `update_every` of the routes naming it.
    pub fn update_every(&self, destination: &str) -> Option<Duration> {
        self.routes
            .iter()
            .filter(|r| r.to.iter().any(|d| d.as_str() == destination))
            .filter_map(|r| r.update_every)
            .min()
    }

    /// Destinations for an alert whose kind or severity may be unknown.
    pub fn destinations_matching(&self, kind: Option<AlertKind>, severity: Option<Severity>) -> Vec<&Slug> {
        let mut out: Vec<&Slug> = Vec::new();
        for route in self.routes.iter().filter(|r| r.matches_any(kind, severity)) {
            for d in &route.to {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        out
    }
}

/// A route: alerts it matches go to its destinations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// Destination names.
    pub to: Vec<Slug>,
    /// Severities matched; empty matches all.
    pub severities: Vec<Severity>,
    /// Alert kinds matched; empty matches all.
    pub alert_kinds: Vec<AlertKind>,
    /// Whether what the route sends waits for a person's approval.
    pub approval: Approval,
    /// The route's destinations get an incident only once it has fired
    /// this long (escalation); from the start when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Duration>,
    /// While an incident fires, its destinations get a status update this
    /// often.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_every: Option<Duration>,
}

/// Whether a route's actions go out at once or wait for a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Approval {
    /// Sent as soon as decided.
    #[default]
    Auto,
    /// Held as a draft (added to the ticket) until `edgewatch outreach
    /// send` or the receiver's outreach endpoint releases it.
    Required,
}

crate::decode::string_enum!(Approval, "approval", {
    Auto => "auto", Required => "required",
});

impl Route {
    /// Whether an alert of this kind and severity takes this route.
    pub fn matches(&self, kind: AlertKind, severity: Severity) -> bool {
        self.matches_any(Some(kind), Some(severity))
    }

    /// Whether an alert matches when its kind or severity may be unknown (an
    /// alert not from edgewatch's rules): an unknown one matches only a
    /// route that does not filter on it.
    pub fn matches_any(&self, kind: Option<AlertKind>, severity: Option<Severity>) -> bool {
        (self.severities.is_empty() || severity.is_some_and(|s| self.severities.contains(&s)))
            && (self.alert_kinds.is_empty() || kind.is_some_and(|k| self.alert_kinds.contains(&k)))
    }
}

/// Runbook URL templates: one per alert kind, or a default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Runbooks {
    /// Used for kinds without their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<UrlTemplate>,
    /// Per alert kind.
    pub by_kind: BTreeMap<AlertKind, UrlTemplate>,
}

impl Runbooks {
    /// The template for an alert kind, if any.
    pub fn for_kind(&self, kind: AlertKind) -> Option<&UrlTemplate> {
        self.by_kind.get(&kind).or(self.default.as_ref())
    }
}

/// A synthetic probe.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Unique within the customer; the `probe` label.
    pub name: Slug,
    /// What to request.
    pub url: HttpUrl,
    /// HTTP method.
    pub method: HttpMethod,
    /// Request headers.
    pub headers: BTreeMap<String, HeaderValue>,
    /// Request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// What makes a probe succeed.
    pub expect: Expect,
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// IP versions to probe, each separately.
    pub ip_families: Vec<IpFamily>,
}

/// A probe request header value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Written in the catalog.
    Plain(String),
    /// A credential, read when the prober starts.
    Secret(SecretRef),
}

/// Assertions on a probe's response.
#[derive(Debug, Clone, Serialize)]
pub struct Expect {
    /// Accepted statuses.
    pub status: Vec<StatusMatcher>,
    /// The body must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<Pattern>,
    /// The body must not match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_not_matches: Option<Pattern>,
    /// Response headers (lowercase names) that must match.
    pub headers: BTreeMap<String, Pattern>,
}

/// HTTP methods a probe may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// OPTIONS
    Options,
}

crate::decode::string_enum!(HttpMethod, "HTTP method", { Get => "GET", Head => "HEAD", Post => "POST", Put => "PUT", Options => "OPTIONS" });

/// Where alerts are delivered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// Jira issues.
    Jira(Jira),
    /// PagerDuty incidents through Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty(PagerDuty),
    /// JSON lines in a file.
    Log(LogDestination),
    /// A customer-facing Atlassian Statuspage page.
    Statuspage(Statuspage),
    /// E-mail to the customer's contacts, through an SMTP relay.
    Email(EmailDestination),
}

/// E-mail to a customer's contacts (those with one of `roles`, or all of
/// them), sent through an SMTP relay over STARTTLS or TLS.
#[derive(Debug, Clone, Serialize)]
pub struct EmailDestination {
    /// The relay's host name.
    pub host: String,
    /// Its port (587 for STARTTLS, 465 for TLS unless set).
    pub port: u16,
    /// How the connection is encrypted.
    pub security: SmtpSecurity,
    /// The login, when the relay asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password for `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// A PEM file of certificate authorities to trust beside the usual
    /// ones (a relay with a private CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The sender's address.
    pub from: Email,
    /// The sender's name, shown beside the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// Where customers' replies go, when not to `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Email>,
    /// The contact roles that get the mail (matched without case); empty:
    /// every contact.
    pub roles: Vec<String>,
}

impl EmailDestination {
    /// The customer's contacts this destination writes to.
    pub fn recipients<'a>(&self, contacts: &'a [Contact]) -> Vec<&'a Contact> {
        contacts
            .iter()
            .filter(|c| {
                self.roles.is_empty()
                    || c.role.as_deref().is_some_and(|r| self.roles.iter().any(|want| want.eq_ignore_ascii_case(r)))
            })
            .collect()
    }
}

/// How an SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

crate::decode::string_enum!(SmtpSecurity, "SMTP security", { Starttls => "starttls", Tls => "tls" });

impl SmtpSecurity {
    /// The port that goes with it: 587 (submission) or 465 (submissions).
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

/// An Atlassian Statuspage page the customers read: incidents created,
/// updated and resolved in words for customers.
#[derive(Debug, Clone, Serialize)]
pub struct Statuspage {
    /// The page's id (its management API's `page_id`).
    pub page_id: String,
    /// The API key (`Authorization: OAuth <key>`).
    pub api_key: SecretRef,
    /// The API's base URL (`https://api.statuspage.io/v1` unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<HttpUrl>,
    /// The incident's impact by edgewatch severity (defaults: page → major,
    /// ticket → minor, info → none).
    pub impacts: BTreeMap<Severity, StatuspageImpact>,
}

impl Statuspage {
    /// The impact for an edgewatch severity.
    pub fn impact_for(&self, s: Severity) -> StatuspageImpact {
        self.impacts.get(&s).copied().unwrap_or(match s {
            Severity::Page => StatuspageImpact::Major,
            Severity::Ticket => StatuspageImpact::Minor,
            Severity::Info => StatuspageImpact::None,
        })
    }
}

/// Statuspage's `impact_override` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatuspageImpact {
    /// none
    None,
    /// minor
    Minor,
    /// major
    Major,
    /// critical
    Critical,
}

crate::decode::string_enum!(StatuspageImpact, "Statuspage impact", {
    None => "none", Minor => "minor", Major => "major", Critical => "critical",
});

/// A Jira destination.
#[derive(Debug, Clone, Serialize)]
pub struct Jira {
    /// Cloud or Data Center (their APIs and auth differ).
    pub deployment: JiraDeployment,
    /// Base URL of the site.
    pub url: HttpUrl,
    /// Default project.
    pub project: JiraKey,
    /// Issue type name.
    pub issue_type: String,
    /// Jira priority name by severity.
    pub priorities: BTreeMap<Severity, String>,
    /// Components set on new issues.
    pub components: Vec<String>,
    /// Labels set on new issues.
    pub labels: Vec<String>,
    /// Custom fields set on new issues, by id.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// Credentials.
    pub auth: JiraAuth,
    /// Transition applied when an incident resolves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_transition: Option<String>,
    /// Transition applied when a resolved incident fires again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopen_transition: Option<String>,
}

impl Jira {
    /// Where a person browses a project's issues.
    pub fn browse_url(&self, project: &JiraKey) -> String {
        format!("{}/browse/{project}", self.url.base())
    }
}

/// Jira flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JiraDeployment {
    /// Atlassian's hosted Jira.
    Cloud,
    /// Self-hosted Jira Data Center (or Server).
    DataCenter,
}

crate::decode::string_enum!(JiraDeployment, "Jira deployment", { Cloud => "cloud", DataCenter => "data_center" });

/// How edgewatch authenticates to Jira.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JiraAuth {
    /// User and API token (Cloud) or password (Data Center).
    Basic {
        /// Account e-mail (Cloud) or user name.
        user: String,
        /// API token or password.
        token: SecretRef,
    },
    /// Personal access token (Data Center).
    Bearer(SecretRef),
}

/// A PagerDuty destination.
#[derive(Debug, Clone, Serialize)]
pub struct PagerDuty {
    /// Integration (routing) key of an Events API v2 integration.
    pub routing_key: SecretRef,
    /// PagerDuty severity by edgewatch severity (defaults: page → critical,
    /// ticket → warning, info → info).
    pub severities: BTreeMap<Severity, PagerDutySeverity>,
    /// Events API endpoint, for regional or test endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<HttpUrl>,
}

impl PagerDuty {
    /// The PagerDuty severity for an edgewatch severity.
    pub fn severity_for(&self, s: Severity) -> PagerDutySeverity {
        self.severities.get(&s).copied().unwrap_or(match s {
            Severity::Page => PagerDutySeverity::Critical,
            Severity::Ticket => PagerDutySeverity::Warning,
            Severity::Info => PagerDutySeverity::Info,
        })
    }
}

/// PagerDuty Events v2 severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PagerDutySeverity {
    /// critical
    Critical,
    /// error
    Error,
    /// warning
    Warning,
    /// info
    Info,
}

crate::decode::string_enum!(PagerDutySeverity, "PagerDuty severity", {
    Critical => "critical", Error => "error", Warning => "warning", Info => "info",
});

/// A destination that appends one JSON object per notification to a file.
#[derive(Debug, Clone, Serialize)]
pub struct LogDestination {
    /// File path, or `-` for standard output.
    pub path: PathBuf,
}
