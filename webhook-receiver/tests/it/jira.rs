//! The Jira destination against the contract fake of Jira Cloud and Data
//! Center: what it creates, comments and transitions, how it recovers an
//! issue by its label, how Jira's answers become retries or dead letters,
//! and the delivery contract through the whole receiver, on both. The
//! fake's own contract is checked at the end.

use std::time::{Duration, Instant};

use base64::Engine as _;
use edgewatch_catalog::model;
use edgewatch_catalog::names::Severity;
use edgewatch_webhook_receiver::testing::{ActionKind, Change, DeliveryError, Destination, Incident, Outcome};
use serde_json::{Value, json};

use crate::contract::{self, Failure};
use crate::fakes::jira::{self as fake, FakeJira, Fault, GONE, Seed, adf};
use crate::support::{DEDUP, deliver, incident, message};

const USER: &str = "noc-bot@edgewatch.example";
const TOKEN: &str = "s3cret-api-token-0001";
const PAT: &str = "s3cret-personal-access-token-0002";

fn env(name: &str) -> Option<String> {
    match name {
        "JIRA_TOKEN" => Some(TOKEN.into()),
        "JIRA_PAT" => Some(PAT.into()),
        "JIRA_WRONG" => Some("not-the-token".into()),
        _ => None,
    }
}

const CLOUD: &str = "\
deployment: cloud
project: NOC
issue_type: Incident
auth:
  basic:
    user: noc-bot@edgewatch.example
    token: env:JIRA_TOKEN
";

const DATA_CENTER: &str = "\
deployment: data_center
project: NOC
issue_type: Task
auth:
  bearer: env:JIRA_PAT
";

const EVERYTHING: &str = "\
priorities:
  page: Highest
  ticket: High
components: [Edge, L7]
labels: [edgewatch]
custom_fields:
  customfield_10010: noc-escalations
  customfield_10042: { value: L7 }
";

/// A Jira destination from catalog YAML (the keys under `jira:` but `url`).
fn destination(url: &str, yaml: &str) -> Destination {
    let body: String = yaml.lines().flat_map(|l| ["      ", l, "\n"]).collect();
    let catalog = format!("destinations:\n  jira:\n    jira:\n      url: {url}\n{body}");
    let loaded = edgewatch_catalog::load_str("catalog.yaml", &catalog)
        .unwrap_or_else(|e| panic!("{}", edgewatch_catalog::render(&e.diagnostics)));
    let config = loaded.catalog.destinations.values().next().unwrap();
    assert!(matches!(config, model::Destination::Jira(_)), "not a Jira destination");
    edgewatch_webhook_receiver::testing::destination("jira", config, &env, Duration::from_secs(5)).unwrap()
}

/// A catalog whose customer `acme` has its own Jira project.
fn with_project(project: &str) -> edgewatch_catalog::Catalog {
    let yaml = format!("customers:\n  - id: acme\n    hosts: [acme.example]\n    jira_project: {project}\n");
    edgewatch_catalog::load_str("catalog.yaml", &yaml).unwrap().catalog
}

/// One action, against `dest`; the customer has Jira `project` if given.
async fn act(
    dest: &Destination,
    kind: ActionKind,
    external: Option<&str>,
    project: Option<&str>,
) -> Result<Outcome, DeliveryError> {
    let (incident, mut message) = (incident(), message());
    message.comment = format!("{} ({})", message.comment, kind.as_str());
    let catalog = project.map(with_project);
    let customer = catalog.as_ref().and_then(|c| c.customer("acme"));
    deliver(dest, kind, &incident, &message, external, customer).await
}

fn key(outcome: Result<Outcome, DeliveryError>) -> String {
    match outcome {
        Ok(Outcome::Delivered { external: Some(key) }) => key,
        other => panic!("expected an issue key, got {other:?}"),
    }
}

fn permanent(outcome: Result<Outcome, DeliveryError>) -> String {
    match outcome {
        Err(DeliveryError::Permanent { reason }) => reason,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn transient(outcome: Result<Outcome, DeliveryError>) -> (String, Option<Duration>) {
    match outcome {
        Err(DeliveryError::Transient { reason, retry_after }) => (reason, retry_after),
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

async fn cloud_site(fake: fake::Builder, extra: &str) -> (FakeJira, Destination) {
    let fake = fake.basic(USER, TOKEN).start().await;
    let dest = destination(fake.url(), &format!("{CLOUD}{extra}"));
    (fake, dest)
}

async fn dc_site(fake: fake::Builder, extra: &str) -> (FakeJira, Destination) {
    let fake = fake.bearer(PAT).start().await;
    let dest = destination(fake.url(), &format!("{DATA_CENTER}{extra}"));
    (fake, dest)
}

fn search_jql(project: &str) -> String {
    format!("project = \"{project}\" AND labels = \"{DEDUP}\" ORDER BY created DESC")
}

// --- Open -----------------------------------------------------------------

#[tokio::test]
async fn cloud_open_creates_one_issue_with_every_field_and_an_adf_description() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), EVERYTHING).await;
    let key = key(act(&dest, ActionKind::Open, None, None).await);
    assert_eq!(key, "NOC-1");
    assert_eq!(fake.calls(), ["POST /rest/api/3/search/jql", "POST /rest/api/3/issue"]);

    let search = &fake.requests()[0];
    assert_eq!(search.auth, format!("basic {USER}"));
    assert_eq!(search.body, json!({"jql": search_jql("NOC"), "maxResults": 1, "fields": ["status"]}));

    let issue = fake.issue("NOC-1");
    let f = &issue.fields;
    assert_eq!(f["project"], json!({"key": "NOC"}));
    assert_eq!(f["issuetype"], json!({"name": "Incident"}));
    assert_eq!(f["summary"], "acme availability: error budget burning 14.4x");
    assert_eq!(f["priority"], json!({"name": "Highest"}));
    assert_eq!(f["components"], json!([{"name": "Edge"}, {"name": "L7"}]));
    assert_eq!(f["labels"], json!(["edgewatch", DEDUP]));
    assert_eq!(f["customfield_10010"], "noc-escalations");
    assert_eq!(f["customfield_10042"], json!({"value": "L7"}));
    adf::check_doc(&f["description"]).unwrap();
    assert_eq!(
        adf::plain(&f["description"]),
        "Burn rate 14.4 over 1h and 5m.\nCustomer: acme (enterprise)\nSee the dashboard.\nDashboard\nRunbook"
    );
    let list = &f["description"]["content"][2];
    assert_eq!(list["type"], "bulletList");
    assert_eq!(
        list["content"][1]["content"][0]["content"][0]["marks"][0],
        json!({"type": "link", "attrs": {"href": "https://runbooks.example/alerts/burn_rate_fast"}})
    );
    assert_eq!(issue.status, "To Do");
    assert!(issue.comments.is_empty());
}

#[tokio::test]
async fn open_uses_the_customers_project() {
    let (fake, dest) = cloud_site(FakeJira::cloud().project("ACME"), "").await;
    assert_eq!(key(act(&dest, ActionKind::Open, None, Some("ACME")).await), "ACME-1");
    assert_eq!(fake.requests()[0].body["jql"], search_jql("ACME"));
    let f = fake.issue("ACME-1").fields;
    assert_eq!(f["project"], json!({"key": "ACME"}));
    // Without priorities, components or configured labels, only the dedup label.
    assert_eq!(f["labels"], json!([DEDUP]));
    assert!(f.get("priority").is_none() && f.get("components").is_none());
}

#[tokio::test]
async fn data_center_open_creates_an_issue_with_a_wiki_description() {
    let (fake, dest) = dc_site(FakeJira::data_center(), EVERYTHING).await;
    assert_eq!(key(act(&dest, ActionKind::Open, None, None).await), "NOC-1");
    assert_eq!(fake.calls(), ["POST /rest/api/2/search", "POST /rest/api/2/issue"]);
    let requests = fake.requests();
    assert_eq!(requests[0].auth, "bearer");
    assert_eq!(requests[0].body, json!({"jql": search_jql("NOC"), "maxResults": 1, "fields": ["status"]}));
    let f = fake.issue("NOC-1").fields;
    assert_eq!(f["issuetype"], json!({"name": "Task"}));
    assert_eq!(f["labels"], json!(["edgewatch", DEDUP]));
    assert_eq!(f["priority"], json!({"name": "Highest"}));
    assert_eq!(
        f["description"],
        "Burn rate 14.4 over 1h and 5m.\nCustomer: acme (enterprise)\n\nSee the dashboard.\n\n\
         * [Dashboard|https://grafana.example/d/edgewatch-acme]\n\
         * [Runbook|https://runbooks.example/alerts/burn_rate_fast]"
    );
}

#[tokio::test]
async fn long_titles_are_cut_to_jiras_summary_limit() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let (incident, mut message) = (incident(), message());
    message.title = format!("{}\n{}", "é".repeat(200), "😀".repeat(100));
    key(deliver(&dest, ActionKind::Open, &incident, &message, None, None).await);
    let summary = fake.issue("NOC-1").fields["summary"].as_str().unwrap().to_owned();
    // 200 + a space + 26 emoji of 2 UTF-16 units + `…` = 254: a 27th emoji
    // would not fit, and is not split.
    assert_eq!(summary.encode_utf16().count(), 254);
    assert!(summary.starts_with(&"é".repeat(200)) && summary.ends_with("😀…"), "{summary}");
}

// --- Finding the issue again ----------------------------------------------

/// The fake's search lag in these tests. Jira Cloud's index usually
/// catches up within seconds; an issue older than the lag is searchable.
const LAG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn open_reuses_an_issue_carrying_the_dedup_label() {
    let (fake, dest) = cloud_site(FakeJira::cloud().search_lag(LAG), "").await;
    let old =
        Seed { project: "NOC", summary: "earlier", labels: &["edgewatch", DEDUP], status: "In Progress", age: LAG * 2 };
    let existing = fake.seed(&old);
    assert_eq!(key(act(&dest, ActionKind::Open, None, None).await), existing);
    assert_eq!(
        fake.calls(),
        ["POST /rest/api/3/search/jql", format!("POST /rest/api/3/issue/{existing}/comment").as_str()]
    );
    let issue = fake.issue(&existing);
    assert_eq!(fake.issues().len(), 1, "no second issue");
    assert_eq!(adf::plain(&issue.comments[0]), "2 alerts firing. (open)");
    assert_eq!(issue.status, "In Progress");
}

#[tokio::test]
async fn open_reopens_a_done_issue_found_by_its_label() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let old = Seed { project: "NOC", summary: "earlier", labels: &[DEDUP], status: "Done", age: Duration::ZERO };
    let existing = fake.seed(&old);
    assert_eq!(key(act(&dest, ActionKind::Open, None, None).await), existing);
    let issue = fake.issue(&existing);
    assert_eq!((issue.status.as_str(), issue.history.as_slice()), ("To Do", ["Reopen".to_owned()].as_slice()));
    assert_eq!(issue.comments.len(), 1);
}

#[tokio::test]
async fn search_lag_hides_issues_created_elsewhere_but_not_the_ones_this_process_created() {
    let (fake, dest) = cloud_site(FakeJira::cloud().search_lag(LAG), "").await;
    // Created by this process: found again through `reconcileIssues`,
    // although the index has not caught up (an update whose issue key the
    // store lost).
    let created = key(act(&dest, ActionKind::Open, None, None).await);
    assert_eq!(key(act(&dest, ActionKind::Update, None, None).await), created);
    let id = fake.issue(&created).id;
    assert_eq!(fake.requests()[2].body["reconcileIssues"], json!([id]));
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(fake.issue(&created).comments.len(), 1);

    // Created by someone else within the lag: invisible, so a fresh
    // destination (a restarted receiver without its store) creates a
    // duplicate. This is the window the receiver's store must cover.
    let (other, dest) = cloud_site(FakeJira::cloud().search_lag(LAG), "").await;
    let young =
        Seed { project: "NOC", summary: "a moment ago", labels: &[DEDUP], status: "To Do", age: Duration::ZERO };
    let first = other.seed(&young);
    let second = key(act(&dest, ActionKind::Open, None, None).await);
    assert_ne!(first, second);
    assert!(other.requests()[0].body.get("reconcileIssues").is_none());
}

#[tokio::test]
async fn update_without_a_known_issue_creates_one_when_none_carries_the_label() {
    let (fake, dest) = dc_site(FakeJira::data_center(), "").await;
    assert_eq!(key(act(&dest, ActionKind::Update, None, None).await), "NOC-1");
    assert_eq!(fake.calls(), ["POST /rest/api/2/search", "POST /rest/api/2/issue"]);
}

// --- Update, resolve, reopen ------------------------------------------------

#[tokio::test]
async fn update_comments_on_the_known_issue() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    assert_eq!(key(act(&dest, ActionKind::Update, Some(&k), None).await), k);
    assert_eq!(fake.calls()[2..], [format!("POST /rest/api/3/issue/{k}/comment")]);
    let comment = &fake.issue(&k).comments[0];
    adf::check_doc(comment).unwrap();
    assert_eq!(adf::plain(comment), "2 alerts firing. (update)");

    let (fake, dest) = dc_site(FakeJira::data_center(), "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act(&dest, ActionKind::Update, Some(&k), None).await);
    assert_eq!(fake.issue(&k).comments, [json!("2 alerts firing. (update)")]);
}

#[tokio::test]
async fn resolve_takes_the_first_transition_into_a_done_status() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    assert_eq!(key(act(&dest, ActionKind::Resolve, Some(&k), None).await), k);
    assert_eq!(
        fake.calls()[2..],
        [
            format!("GET /rest/api/3/issue/{k}"),
            format!("GET /rest/api/3/issue/{k}/transitions"),
            format!("POST /rest/api/3/issue/{k}/comment"),
            format!("POST /rest/api/3/issue/{k}/transitions"),
        ]
    );
    // "Start Progress" comes first but leads to an `indeterminate` status.
    assert_eq!(fake.requests()[5].body, json!({"transition": {"id": "21"}}));
    let issue = fake.issue(&k);
    assert_eq!((issue.status.as_str(), issue.history.as_slice()), ("Done", ["Done".to_owned()].as_slice()));
    assert_eq!(adf::plain(&issue.comments[0]), "2 alerts firing. (resolve)");
}

#[tokio::test]
async fn resolve_takes_the_configured_transition() {
    let workflow = FakeJira::cloud().status("Won't Do", "done").transition("41", "Won't Do", &["To Do"], "Won't Do");
    let (fake, dest) = cloud_site(workflow, "transitions:\n  resolve: Won't Do\n").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act(&dest, ActionKind::Resolve, Some(&k), None).await);
    assert_eq!(fake.issue(&k).status, "Won't Do");
}

#[tokio::test]
async fn resolve_of_a_done_issue_does_nothing() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    fake.set_status(&k, "Done");
    assert_eq!(key(act(&dest, ActionKind::Resolve, Some(&k), None).await), k);
    assert_eq!(fake.calls()[2..], [format!("GET /rest/api/3/issue/{k}")]);
    assert!(fake.issue(&k).comments.is_empty());
}

#[tokio::test]
async fn resolve_without_a_way_to_done_is_permanent_and_says_why() {
    let workflow = FakeJira::cloud().status("Blocked", "indeterminate");
    let (fake, dest) = cloud_site(workflow, "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    fake.set_status(&k, "Blocked");
    let reason = permanent(act(&dest, ActionKind::Resolve, Some(&k), None).await);
    assert_eq!(
        reason,
        format!("Jira `jira`: {k}: no transition into a status of category done; the workflow offers: none")
    );

    let (fake, dest) = cloud_site(FakeJira::cloud(), "transitions:\n  resolve: Close\n").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    let reason = permanent(act(&dest, ActionKind::Resolve, Some(&k), None).await);
    assert!(reason.contains("no transition named `Close`"), "{reason}");
    assert!(reason.contains("`Start Progress` (to In Progress, indeterminate), `Done` (to Done, done)"), "{reason}");
    // Nothing was said on an issue that could not be resolved.
    assert!(fake.issue(&k).comments.is_empty());
}

#[tokio::test]
async fn resolve_without_any_issue_is_delivered_with_nothing_to_do() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    assert_eq!(act(&dest, ActionKind::Resolve, None, None).await, Ok(Outcome::Delivered { external: None }));
    assert_eq!(fake.calls(), ["POST /rest/api/3/search/jql"]);
}

#[tokio::test]
async fn reopen_moves_a_done_issue_back_then_comments() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act(&dest, ActionKind::Resolve, Some(&k), None).await);
    let before = fake.calls().len();
    assert_eq!(key(act(&dest, ActionKind::Reopen, Some(&k), None).await), k);
    assert_eq!(
        fake.calls()[before..],
        [
            format!("GET /rest/api/3/issue/{k}"),
            format!("GET /rest/api/3/issue/{k}/transitions"),
            format!("POST /rest/api/3/issue/{k}/transitions"),
            format!("POST /rest/api/3/issue/{k}/comment"),
        ]
    );
    let issue = fake.issue(&k);
    assert_eq!(issue.status, "To Do");
    assert_eq!(issue.history, ["Done", "Reopen"]);

    // An issue someone already reopened is only commented on.
    let before = fake.calls().len();
    key(act(&dest, ActionKind::Reopen, Some(&k), None).await);
    assert_eq!(
        fake.calls()[before..],
        [format!("GET /rest/api/3/issue/{k}"), format!("POST /rest/api/3/issue/{k}/comment")]
    );
}

// --- Priority follows severity ----------------------------------------------

/// One action for `incident`, whose last notification moved its severity
/// from `before` to its own.
async fn act_on(
    dest: &Destination,
    kind: ActionKind,
    external: Option<&str>,
    incident: &Incident,
) -> Result<Outcome, DeliveryError> {
    deliver(dest, kind, incident, &message(), external, None).await
}

fn moved(before: Option<Severity>, after: Severity) -> Incident {
    let mut i = incident();
    i.severity = Some(after);
    i.change = Change { severity_before: before, severity_after: Some(after), ..Change::default() };
    i
}

#[tokio::test]
async fn an_update_that_moves_the_severity_sets_the_priority_before_it_comments() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), EVERYTHING).await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    let lowered = moved(Some(Severity::Page), Severity::Ticket);
    assert_eq!(key(act_on(&dest, ActionKind::Update, Some(&k), &lowered).await), k);
    assert_eq!(
        fake.calls()[2..],
        [format!("PUT /rest/api/3/issue/{k}"), format!("POST /rest/api/3/issue/{k}/comment")]
    );
    assert_eq!(fake.requests()[2].body, json!({"fields": {"priority": {"name": "High"}}}));
    let raised = moved(Some(Severity::Ticket), Severity::Page);
    key(act_on(&dest, ActionKind::Update, Some(&k), &raised).await);
    assert_eq!(fake.issue(&k).priorities, ["Highest", "High", "Highest"]);
    assert_eq!(fake.issue(&k).fields["priority"], json!({"name": "Highest"}));

    // The same severity: only a comment.
    let before = fake.calls().len();
    let same = moved(Some(Severity::Page), Severity::Page);
    key(act_on(&dest, ActionKind::Update, Some(&k), &same).await);
    assert_eq!(fake.calls()[before..], [format!("POST /rest/api/3/issue/{k}/comment")]);

    // Data Center: REST v2.
    let (fake, dest) = dc_site(FakeJira::data_center(), EVERYTHING).await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act_on(&dest, ActionKind::Update, Some(&k), &lowered).await);
    assert_eq!(fake.calls()[2], format!("PUT /rest/api/2/issue/{k}"));
    assert_eq!(fake.issue(&k).priorities, ["Highest", "High"]);
}

#[tokio::test]
async fn a_reopen_or_a_found_open_sets_the_priority_of_the_new_severity() {
    let (fake, dest) = cloud_site(FakeJira::cloud().search_lag(LAG), EVERYTHING).await;
    // Found by its label (a store that was lost): its priority is unknown.
    let old = Seed { project: "NOC", summary: "earlier", labels: &[DEDUP], status: "To Do", age: LAG * 2 };
    let k = fake.seed(&old);
    let opened = moved(None, Severity::Ticket);
    assert_eq!(key(act_on(&dest, ActionKind::Open, None, &opened).await), k);
    assert_eq!(fake.issue(&k).priorities, ["High"]);
    // Resolved as a ticket, back as a page.
    key(act_on(&dest, ActionKind::Resolve, Some(&k), &opened).await);
    let reopened = moved(Some(Severity::Ticket), Severity::Page);
    key(act_on(&dest, ActionKind::Reopen, Some(&k), &reopened).await);
    let issue = fake.issue(&k);
    assert_eq!(
        (issue.status.as_str(), issue.priorities.as_slice()),
        ("To Do", ["High", "Highest"].map(String::from).as_slice())
    );
}

#[tokio::test]
async fn no_priority_named_for_the_severity_leaves_the_priority_alone() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "priorities: {page: Highest}\n").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act_on(&dest, ActionKind::Update, Some(&k), &moved(Some(Severity::Page), Severity::Ticket)).await);
    assert_eq!(fake.calls()[2..], [format!("POST /rest/api/3/issue/{k}/comment")]);
    assert_eq!(fake.issue(&k).priorities, ["Highest"]);
}

#[tokio::test]
async fn a_priority_jira_does_not_have_is_a_dead_letter_before_anything_is_said() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "priorities: {page: Highest, ticket: Urgent}\n").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    let reason =
        permanent(act_on(&dest, ActionKind::Update, Some(&k), &moved(Some(Severity::Page), Severity::Ticket)).await);
    assert_eq!(
        reason,
        format!(
            "Jira `jira`: set the priority of {k} to Urgent: HTTP 400: \
             {{\"errorMessages\":[],\"errors\":{{\"priority\":\"Priority name 'Urgent' is not valid\"}}}}"
        )
    );
    assert!(fake.issue(&k).comments.is_empty());
}

#[tokio::test]
async fn data_center_lifecycle_by_configured_names() {
    let (fake, dest) = dc_site(FakeJira::data_center(), "transitions:\n  resolve: Done\n  reopen: reopen\n").await;
    let k = key(act(&dest, ActionKind::Open, None, None).await);
    key(act(&dest, ActionKind::Update, Some(&k), None).await);
    key(act(&dest, ActionKind::Resolve, Some(&k), None).await);
    key(act(&dest, ActionKind::Reopen, Some(&k), None).await);
    let issue = fake.issue(&k);
    assert_eq!(issue.history, ["Done", "Reopen"], "names match without regard to case");
    assert_eq!(
        issue.comments,
        [json!("2 alerts firing. (update)"), json!("2 alerts firing. (resolve)"), json!("2 alerts firing. (reopen)")]
    );
    assert!(fake.requests().iter().all(|r| r.path.starts_with("/rest/api/2/") && r.auth == "bearer"));
}

// --- Failures -----------------------------------------------------------------

#[tokio::test]
async fn rate_limits_and_unavailability_are_retried_after_what_jira_asks() {
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    fake.fail_next(1, Fault::RateLimited { retry_after: 7 });
    let (reason, after) = transient(act(&dest, ActionKind::Open, None, None).await);
    assert_eq!(after, Some(Duration::from_secs(7)));
    assert!(
        reason.starts_with("Jira `jira`: search NOC for label edgewatch-0123456789abcdef01234567: HTTP 429"),
        "{reason}"
    );
    fake.fail_next(1, Fault::Unavailable { retry_after: 3 });
    assert_eq!(transient(act(&dest, ActionKind::Open, None, None).await).1, Some(Duration::from_secs(3)));
    // The retry that gets through creates one issue.
    assert_eq!(key(act(&dest, ActionKind::Open, None, None).await), "NOC-1");
    assert_eq!(fake.issues().len(), 1);

    let (fake, dest) = dc_site(FakeJira::data_center(), "").await;
    fake.fail_next(2, Fault::RateLimited { retry_after: 1 });
    assert_eq!(transient(act(&dest, ActionKind::Open, None, None).await).1, Some(Duration::from_secs(1)));
    assert_eq!(transient(act(&dest, ActionKind::Open, None, None).await).1, Some(Duration::from_secs(1)));
    key(act(&dest, ActionKind::Open, None, None).await);
}

#[tokio::test]
async fn client_errors_are_permanent() {
    // A 400 until someone fixes the configuration, then it works.
    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    fake.break_until_fixed("Field 'customfield_10010' is required.");
    let reason = permanent(act(&dest, ActionKind::Open, None, None).await);
    assert!(reason.contains("HTTP 400") && reason.contains("customfield_10010"), "{reason}");
    fake.fix();
    key(act(&dest, ActionKind::Open, None, None).await);

    // A field Jira refuses names the field.
    let (_fake, dest) = cloud_site(FakeJira::cloud().hide_field("labels"), "").await;
    let reason = permanent(act(&dest, ActionKind::Open, None, None).await);
    assert!(reason.starts_with("Jira `jira`: create an issue in NOC: HTTP 400: "), "{reason}");
    assert!(reason.contains("Field 'labels' cannot be set"), "{reason}");

    // An issue deleted in Jira.
    let (_fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    let reason = permanent(act(&dest, ActionKind::Update, Some("NOC-404"), None).await);
    assert!(reason.contains("HTTP 404"), "{reason}");

    // Wrong credentials.
    let fake = FakeJira::cloud().basic(USER, TOKEN).start().await;
    let dest = destination(fake.url(), &CLOUD.replace("env:JIRA_TOKEN", "env:JIRA_WRONG"));
    assert!(permanent(act(&dest, ActionKind::Open, None, None).await).contains("HTTP 401"));
}

#[tokio::test]
async fn the_wrong_flavour_or_auth_style_is_permanent() {
    // A Data Center PAT sent to Cloud: 401.
    let fake = FakeJira::cloud().basic(USER, TOKEN).start().await;
    let dest = destination(fake.url(), DATA_CENTER);
    let reason = permanent(act(&dest, ActionKind::Open, None, None).await);
    assert!(reason.contains("HTTP 401: Client must be authenticated"), "{reason}");
    assert_eq!(fake.requests()[0].auth, "bearer");

    // Basic sent to a Data Center that takes only PATs: 401.
    let fake = FakeJira::data_center().bearer(PAT).start().await;
    let basic_dc =
        DATA_CENTER.replace("  bearer: env:JIRA_PAT", "  basic:\n    user: noc-bot\n    token: env:JIRA_TOKEN");
    assert!(
        permanent(act(&destination(fake.url(), &basic_dc), ActionKind::Open, None, None).await).contains("HTTP 401")
    );

    // A Data Center configuration pointed at Cloud searches the removed
    // endpoint: 410 with Atlassian's migration message.
    let fake = FakeJira::cloud().basic("noc-bot", TOKEN).start().await;
    let reason = permanent(act(&destination(fake.url(), &basic_dc), ActionKind::Open, None, None).await);
    assert!(reason.contains("HTTP 410") && reason.contains("/rest/api/3/search/jql"), "{reason}");
}

#[tokio::test]
async fn no_answer_is_transient() {
    let url = format!("http://127.0.0.1:{}", edgewatch_test_kit::free_port());
    let dest = destination(&url, CLOUD);
    let (reason, after) = transient(act(&dest, ActionKind::Open, None, None).await);
    assert!(reason.contains("could not connect"), "{reason}");
    assert_eq!(after, None);
}

#[tokio::test]
async fn secrets_appear_in_no_error_and_no_debug_output() {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    let leaks = |text: &str| [TOKEN, PAT, basic.as_str()].iter().any(|s| text.contains(s));
    let mut texts = Vec::new();

    let (fake, dest) = cloud_site(FakeJira::cloud(), "").await;
    texts.push(format!("{dest:?}"));
    fake.fail_next(1, Fault::RateLimited { retry_after: 1 });
    texts.push(format!("{:?}", act(&dest, ActionKind::Open, None, None).await));
    fake.break_until_fixed("nope");
    texts.push(format!("{:?}", act(&dest, ActionKind::Open, None, None).await));

    let fake = FakeJira::cloud().basic(USER, "other").start().await;
    let dest = destination(fake.url(), CLOUD);
    texts.push(format!("{:?}", act(&dest, ActionKind::Open, None, None).await));
    let dc = destination(fake.url(), DATA_CENTER);
    texts.push(format!("{dc:?}"));
    texts.push(format!("{:?}", act(&dc, ActionKind::Open, None, None).await));
    let gone = destination(&format!("http://127.0.0.1:{}", edgewatch_test_kit::free_port()), CLOUD);
    texts.push(format!("{:?}", act(&gone, ActionKind::Open, None, None).await));

    assert!(texts[0].contains(USER) && texts[0].contains("NOC"), "{}", texts[0]);
    for t in &texts {
        assert!(!leaks(t), "a secret leaked: {t}");
    }
}

// --- The delivery contract ---------------------------------------------------

/// A Jira site and the catalog entry of a destination on it.
struct Site {
    fake: FakeJira,
    /// The keys under `jira:` but `url`, on one line.
    entry: &'static str,
    secret: &'static str,
}

impl contract::Service for Site {
    fn destination(&self) -> String {
        format!("{{jira: {{url: '{}', {}}}}}", self.fake.url(), self.entry)
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("JIRA_TOKEN", TOKEN), ("JIRA_PAT", PAT)]
    }

    fn secret(&self) -> &'static str {
        self.secret
    }

    fn fail_next(&self, n: usize, failure: Failure) {
        match failure {
            Failure::RateLimited(retry_after) => self.fake.fail_next(n, Fault::RateLimited { retry_after }),
            Failure::Unavailable(retry_after) => self.fake.fail_next(n, Fault::Unavailable { retry_after }),
            Failure::Late(by) => self.fake.delay_next(n, by),
        }
    }

    fn refuse_until_fixed(&self, message: &str) {
        self.fake.break_until_fixed(message);
    }

    fn fix(&self) {
        self.fake.fix();
    }

    fn answers(&self) -> Vec<(Instant, u16)> {
        self.fake.requests().iter().map(|r| (r.at, r.status)).collect()
    }

    fn incidents(&self) -> Vec<bool> {
        self.fake.issues().iter().map(|i| i.status != "Done").collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_keeps_the_delivery_contract() {
    let fake = FakeJira::cloud().basic(USER, TOKEN).start().await;
    let entry = "deployment: cloud, project: NOC, issue_type: Incident, auth: {basic: {user: noc-bot@edgewatch.example, token: 'env:JIRA_TOKEN'}}";
    contract::check("contract-jira-cloud", &Site { fake, entry, secret: TOKEN }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_center_keeps_the_delivery_contract() {
    let fake = FakeJira::data_center().bearer(PAT).start().await;
    let entry = "deployment: data_center, project: NOC, issue_type: Task, auth: {bearer: 'env:JIRA_PAT'}";
    contract::check("contract-jira-dc", &Site { fake, entry, secret: PAT }).await;
}

// --- The fake's contract ------------------------------------------------------

fn raw_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client.request(method, url).basic_auth(USER, Some(TOKEN));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
    let text = answer.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn fake_cloud_keeps_jiras_contract() {
    use reqwest::Method;
    let fake = FakeJira::cloud().basic(USER, TOKEN).search_lag(LAG).start().await;
    let (c, u) = (raw_client(), fake.url().to_owned());

    for old in ["/rest/api/2/search", "/rest/api/3/search"] {
        let (status, _, body) =
            call(&c, Method::POST, format!("{u}{old}"), Some(json!({"jql": "project = NOC"}))).await;
        assert_eq!((status, body["errorMessages"][0].as_str().unwrap()), (410, GONE), "{old}");
    }

    let create = |summary: Value, description: Value, labels: Value| {
        json!({"fields": {"project": {"key": "NOC"}, "issuetype": {"name": "Task"}, "summary": summary,
                          "description": description, "labels": labels}})
    };
    let doc_of = |text: &str| {
        json!({"type": "doc", "version": 1,
               "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
    };
    let doc = doc_of("x");
    let issue_url = format!("{u}/rest/api/3/issue");
    let bad = [
        (create(json!("s"), json!("plain"), json!([])), "description", "Operation value must be an Atlassian Document"),
        (create(json!("s".repeat(256)), doc.clone(), json!([])), "summary", "less than 255"),
        (create(json!("s"), doc.clone(), json!(["a b"])), "labels", "contains spaces"),
        (create(json!("s"), doc_of(""), json!([])), "description", "INVALID_INPUT"),
    ];
    for (body, field, message) in bad {
        let (status, _, answer) = call(&c, Method::POST, issue_url.clone(), Some(body)).await;
        assert_eq!(status, 400);
        assert_eq!(answer["errorMessages"], json!([]));
        assert!(answer["errors"][field].as_str().unwrap().contains(message), "{answer}");
    }

    let (status, _, created) =
        call(&c, Method::POST, issue_url.clone(), Some(create(json!("s"), doc.clone(), json!(["l"])))).await;
    assert_eq!(status, 201);
    assert_eq!(created["key"], "NOC-1");
    assert_eq!(created["self"], format!("{u}/rest/api/3/issue/{}", created["id"].as_str().unwrap()));
    let id: u64 = created["id"].as_str().unwrap().parse().unwrap();
    fake.seed(&Seed { project: "NOC", summary: "old", labels: &["l"], status: "Done", age: LAG });
    fake.seed(&Seed { project: "NOC", summary: "older", labels: &["l"], status: "To Do", age: LAG * 2 });

    // Lag: the new issue is invisible unless reconciled; only ids without `fields`; pages.
    let jql = format!("{u}/rest/api/3/search/jql");
    let (status, _, page) = call(
        &c,
        Method::POST,
        jql.clone(),
        Some(json!({"jql": "project = NOC AND labels = l ORDER BY created DESC", "maxResults": 1})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["issues"], json!([{"id": "10001"}]));
    assert_eq!((page["isLast"].as_bool(), page["nextPageToken"].as_str()), (Some(false), Some("1")));
    let (_, _, page) = call(
        &c,
        Method::POST,
        jql.clone(),
        Some(json!({"jql": "project = NOC AND labels = l", "nextPageToken": "1", "fields": ["status"]})),
    )
    .await;
    // Oldest first without ORDER BY: NOC-3, then NOC-2.
    assert_eq!(page["issues"][0]["key"], "NOC-2");
    assert_eq!(page["issues"][0]["fields"]["status"]["statusCategory"]["key"], "done");
    assert_eq!(page["isLast"], true);
    let (_, _, page) = call(
        &c,
        Method::POST,
        jql.clone(),
        Some(json!({"jql": "labels = \"l\" AND project = \"NOC\"", "reconcileIssues": [id]})),
    )
    .await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 3);
    let (status, _, answer) = call(&c, Method::POST, jql.clone(), Some(json!({"jql": "ORDER BY created DESC"}))).await;
    assert_eq!(status, 400);
    assert!(answer["errorMessages"][0].as_str().unwrap().starts_with("Unbounded JQL"));

    // Comments, transitions.
    let (status, _, _) =
        call(&c, Method::POST, format!("{issue_url}/NOC-1/comment"), Some(json!({"body": "plain"}))).await;
    assert_eq!(status, 400);
    let (status, _, _) = call(&c, Method::POST, format!("{issue_url}/NOC-1/comment"), Some(json!({"body": doc}))).await;
    assert_eq!(status, 201);
    let (_, _, list) = call(&c, Method::GET, format!("{issue_url}/NOC-1/transitions"), None).await;
    let names: Vec<(&str, &str)> = list["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["to"]["statusCategory"]["key"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("Start Progress", "indeterminate"), ("Done", "done")]);
    let go = |id: &str| Some(json!({"transition": {"id": id}}));
    assert_eq!(call(&c, Method::POST, format!("{issue_url}/NOC-1/transitions"), go("31")).await.0, 400);
    assert_eq!(call(&c, Method::POST, format!("{issue_url}/NOC-1/transitions"), go("21")).await.0, 204);
    assert_eq!(fake.issue("NOC-1").status, "Done");

    // Faults, with Cloud's rate-limit headers.
    fake.fail_next(1, Fault::RateLimited { retry_after: 5 });
    let (status, headers, _) = call(&c, Method::GET, format!("{issue_url}/NOC-1"), None).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let reset = headers["x-ratelimit-reset"].to_str().unwrap();
    assert!(reset.len() == 20 && reset.ends_with('Z') && reset.as_bytes()[10] == b'T', "{reset}");
    fake.fail_next(1, Fault::Unavailable { retry_after: 2 });
    let (status, headers, _) = call(&c, Method::GET, format!("{issue_url}/NOC-1"), None).await;
    assert_eq!((status, headers["retry-after"].to_str().unwrap()), (503, "2"));
    assert_eq!(call(&c, Method::GET, format!("{issue_url}/NOC-1"), None).await.0, 200);

    // Every request was recorded, with the auth style and never the secret.
    assert!(fake.requests().iter().all(|r| r.auth == format!("basic {USER}")));
}

#[tokio::test]
async fn fake_cloud_edits_issues_as_jira_does() {
    use reqwest::Method;
    let fake = FakeJira::cloud().basic(USER, TOKEN).start().await;
    let (c, u) = (raw_client(), fake.url().to_owned());
    let issue_url = format!("{u}/rest/api/3/issue");
    let fields = json!({"fields": {"project": {"key": "NOC"}, "issuetype": {"name": "Task"}, "summary": "s"}});
    assert_eq!(call(&c, Method::POST, issue_url.clone(), Some(fields)).await.0, 201);
    // Edits: 204; a priority Jira does not have, an unknown issue, no
    // credentials, as Jira answers them.
    let priority = |name: &str| json!({"fields": {"priority": {"name": name}}});
    assert_eq!(call(&c, Method::PUT, format!("{issue_url}/NOC-1"), Some(priority("Low"))).await.0, 204);
    assert_eq!(fake.issue("NOC-1").priorities, ["Low"]);
    let (status, _, answer) = call(&c, Method::PUT, format!("{issue_url}/NOC-1"), Some(priority("Urgent"))).await;
    assert_eq!(
        (status, answer),
        (400, json!({"errorMessages": [], "errors": {"priority": "Priority name 'Urgent' is not valid"}}))
    );
    assert_eq!(call(&c, Method::PUT, format!("{issue_url}/NOC-99"), Some(priority("Low"))).await.0, 404);
    let anonymous = c.put(format!("{issue_url}/NOC-1")).json(&priority("High")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(fake.issue("NOC-1").priorities, ["Low"], "refused edits change nothing");
    let hidden = json!({"fields": {"environment": "prod"}});
    let (status, _, answer) = call(&c, Method::PUT, format!("{issue_url}/NOC-1"), Some(hidden)).await;
    assert_eq!(status, 400);
    assert!(answer["errors"]["environment"].as_str().unwrap().contains("not on the appropriate screen"), "{answer}");
}

#[tokio::test]
async fn fake_data_center_keeps_jiras_contract() {
    use reqwest::Method;
    let fake = FakeJira::data_center().bearer(PAT).start().await;
    let c = raw_client();
    let u = fake.url();
    let pat = |m: Method, path: &str| c.request(m, format!("{u}{path}")).bearer_auth(PAT);

    let answer = pat(Method::POST, "/rest/api/3/issue").json(&json!({})).send().await.unwrap();
    assert_eq!(answer.status(), 404, "no REST v3 on Data Center");
    let fields = json!({"fields": {"project": {"key": "NOC"}, "issuetype": {"name": "Task"}, "summary": "s",
                                   "description": "h3. wiki *markup*", "labels": ["l"]}});
    let answer = pat(Method::POST, "/rest/api/2/issue").json(&fields).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let search = json!({"jql": "project = NOC AND labels = \"l\"", "maxResults": 1, "fields": ["status"]});
    let page: Value = pat(Method::POST, "/rest/api/2/search").json(&search).send().await.unwrap().json().await.unwrap();
    assert_eq!((page["total"].as_u64(), page["issues"][0]["key"].as_str()), (Some(1), Some("NOC-1")));
    let mut with_reconcile = search.clone();
    with_reconcile["reconcileIssues"] = json!([10000]);
    let answer = pat(Method::POST, "/rest/api/2/search").json(&with_reconcile).send().await.unwrap();
    assert_eq!(answer.status(), 400, "Data Center does not know reconcileIssues");

    fake.fail_next(1, Fault::RateLimited { retry_after: 4 });
    let answer = pat(Method::GET, "/rest/api/2/issue/NOC-1").send().await.unwrap();
    assert_eq!(answer.status(), 429);
    for (h, v) in [("retry-after", "4"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-interval-seconds", "1")] {
        assert_eq!(answer.headers()[h], v);
    }
    assert!(answer.headers().contains_key("x-ratelimit-fillrate"));
    let answer = c.get(format!("{u}/rest/api/2/issue/NOC-1")).basic_auth(USER, Some(TOKEN)).send().await.unwrap();
    assert_eq!(answer.status(), 401, "no Basic unless allowed");
    let priority = json!({"fields": {"priority": {"name": "High"}}});
    let answer = c.put(format!("{u}/rest/api/2/issue/NOC-1")).basic_auth(USER, Some(TOKEN)).json(&priority);
    assert_eq!(answer.send().await.unwrap().status(), 401, "edits too");
    assert_eq!(pat(Method::PUT, "/rest/api/3/issue/NOC-1").json(&priority).send().await.unwrap().status(), 404);
    assert_eq!(pat(Method::PUT, "/rest/api/2/issue/NOC-1").json(&priority).send().await.unwrap().status(), 204);
    assert_eq!(fake.issue("NOC-1").priorities, ["High"]);
}
