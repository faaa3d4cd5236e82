//! The e-mail destination against a real SMTP server (aiosmtpd, started
//! on a loopback port, STARTTLS required, a login): the delivery contract
//! through the whole receiver; a customer's contacts chosen by role get the
//! incident in the customer's words, one thread from open to resolve, with
//! no internal name or link, and what was sent is recorded on the incident.

use std::collections::BTreeMap;
use std::time::Instant;

use edgewatch_test_kit::smtp::{Mail, SmtpServer};

use crate::contract::{self, Dialect, Failure};
use crate::support::{BURN, ORIGIN, Running, eventually};

const USER: &str = "noc-mailer";
const PASSWORD: &str = "smtp-password-0123456789";

/// The destination's entry, sending to `smtp`.
fn destination(smtp: &SmtpServer, roles: &str) -> String {
    format!(
        "{{email: {{host: localhost, port: {}, security: starttls, username: {USER}, password: 'env:SMTP_PASSWORD', ca_file: '{}', from: noc@edge.example, from_name: Example NOC, roles: [{roles}]}}}}",
        smtp.port,
        smtp.ca_file.display()
    )
}

/// Whether the mail resolves its incident: its `Message-ID` names its
/// action.
fn resolves(m: &Mail) -> bool {
    m.header("Message-ID").contains(".resolve.")
}

/// The thread a mail belongs to: the first mail's `Message-ID`.
fn thread(m: &Mail) -> String {
    let answered = m.header("In-Reply-To");
    if answered.is_empty() { m.header("Message-ID") } else { answered }.to_owned()
}

impl contract::Service for SmtpServer {
    fn dialect(&self) -> Dialect {
        Dialect { rate_limited: 451, unavailable: 421, refused: "SMTP 550", asks_to_wait: false }
    }

    fn destination(&self) -> String {
        destination(self, "")
    }

    fn customer(&self) -> String {
        "    contacts: [{name: Ada Byron, email: ada@shop.example}]\n".to_owned()
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("SMTP_PASSWORD", PASSWORD)]
    }

    fn secret(&self) -> &'static str {
        PASSWORD
    }

    fn fail_next(&self, n: usize, failure: Failure) {
        match failure {
            Failure::RateLimited(_) => SmtpServer::fail_next(self, n, 451, "4.7.1 Too many messages, try again later"),
            Failure::Unavailable(_) => SmtpServer::fail_next(self, n, 421, "4.3.2 Service not available"),
            Failure::Late(by) => self.late_next(n, by),
        }
    }

    fn refuse_until_fixed(&self, message: &str) {
        SmtpServer::refuse_until_fixed(self, message);
    }

    fn fix(&self) {
        SmtpServer::fix(self);
    }

    fn answers(&self) -> Vec<(Instant, u16)> {
        self.mails().iter().map(|m| (m.at, m.code)).collect()
    }

    /// The threads of the mails taken (answered 250), oldest first; open
    /// until a mail in it resolves.
    fn incidents(&self) -> Vec<bool> {
        let mut order = Vec::new();
        let mut open = BTreeMap::new();
        let now = Instant::now();
        for m in self.mails().iter().filter(|m| m.code == 250 && m.answered <= now) {
            let t = thread(m);
            if !open.contains_key(&t) {
                order.push(t.clone());
            }
            let was = open.get(&t).copied().unwrap_or(true);
            open.insert(t, was && !resolves(m));
        }
        order.iter().map(|t| open[t]).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_delivery_contract() {
    contract::check("contract-email", &SmtpServer::start("contract", USER, PASSWORD)).await;
}

fn catalog(smtp: &SmtpServer) -> String {
    format!(
        "destinations:
  mail: {}
  audit: {{log: {{path: '{{dir}}/audit.jsonl'}}}}
customers:
  - id: shop
    name: Shop & Co
    hosts: [www.shop.example, '*.api.shop.example']
    contacts:
      - {{name: Ada Byron, email: ada@shop.example, role: technical}}
      - {{name: Bill Payer, email: bill@shop.example, role: billing}}
      - {{name: Grace Hopper, email: grace@shop.example, role: Escalation}}
    slos: {{availability: {{objective: 99.9}}}}
    alerting: {{routes: [{{to: [mail, audit]}}]}}
",
        destination(smtp, "technical, escalation")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customers_contacts_get_the_incident_in_their_words_in_one_thread() {
    let smtp = SmtpServer::start("words", USER, PASSWORD);
    let r = Running::start("email-words", &catalog(&smtp), "", &[("SMTP_PASSWORD", PASSWORD)]).await;
    r.post_ok(&BURN.firing()).await;
    eventually("a mail", 10, || smtp.mails().len() == 1).await;
    let open = &smtp.mails()[0];
    assert_eq!(open.code, 250);
    assert!(open.tls, "sent without STARTTLS");
    assert_eq!(open.login.as_deref(), Some(USER));
    assert_eq!(open.from, "noc@edge.example");
    assert_eq!(open.to, ["ada@shop.example", "grace@shop.example"], "the contacts whose role the destination names");
    assert_eq!(open.header("From"), "Example NOC <noc@edge.example>");
    assert_eq!(open.header("To"), "Ada Byron <ada@shop.example>, Grace Hopper <grace@shop.example>");
    assert_eq!(open.header("Subject"), "Shop & Co: investigating errors on some requests");
    assert_eq!(open.header("Auto-Submitted"), "auto-generated");
    assert_eq!(
        open.body.lines().next().unwrap(),
        "Since 2026-11-21 08:00 UTC, Shop & Co is seeing errors on some requests, affecting www.shop.example, *.api.shop.example. Everything else is working normally. Our network operations center is working on it; the next update comes within 30 minutes."
    );

    // The origin joins: an update in the thread; then both end: resolved.
    r.post_ok(&ORIGIN.firing()).await;
    eventually("an update", 10, || smtp.mails().len() == 2).await;
    assert!(smtp.mails()[1].body.contains("errors from its origin servers"), "{:?}", smtp.mails()[1].body);
    r.post_ok(&BURN.resolved("2026-11-21T08:25:00Z")).await;
    r.post_ok(&ORIGIN.resolved("2026-11-21T08:25:00Z")).await;
    eventually("the resolution", 10, || smtp.mails().iter().any(resolves)).await;
    let mails = smtp.mails();
    let last = mails.last().unwrap();
    assert!(resolves(last), "nothing after the resolution");
    assert!(last.header("Subject").starts_with("Resolved: Shop & Co: "), "{}", last.header("Subject"));
    assert!(
        last.body
            .starts_with("This incident is resolved. From 2026-11-21 08:00 UTC to 2026-11-21 08:25 UTC (25 minutes)"),
        "{}",
        last.body
    );
    for later in &mails[1..] {
        assert_eq!(later.header("In-Reply-To"), open.header("Message-ID"), "one thread");
        assert_eq!(later.header("References"), open.header("Message-ID"), "one thread");
    }

    // Nothing internal reached the customer: no link, no alert, no system.
    for m in &mails {
        for internal in [
            "http://",
            "https://",
            "Edgewatch",
            "alertmanager",
            "prometheus",
            "runbook",
            "grafana",
            "burn",
            "SLO",
            "customer=shop",
            "127.0.0.1",
        ] {
            assert!(!m.raw.contains(internal), "`{internal}` mailed to the customer:\n{}", m.raw);
        }
    }

    // What was sent is on the incident, with its recipients.
    let lines = r.lines(6, 10).await;
    let sent: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["message"]["comment"].as_str())
        .filter_map(|c| c.split_once("\n\nSent to customers").map(|(_, sent)| sent))
        .collect();
    assert_eq!(
        sent[0],
        " (open of the incident) through mail: Ada Byron <ada@shop.example>, Grace Hopper <grace@shop.example>.",
        "{lines:#?}"
    );
}
