//! The `email` destination: mail to the customer's contacts (those whose
//! role the destination names, or all of them), through an SMTP relay over
//! STARTTLS or TLS, with a login when the catalog gives one. It carries the
//! customer's words (`customer_title` as the subject, `customer_body` as
//! the text): no internal names or links.
//!
//! | Action | Mail |
//! |---|---|
//! | open, reopen, update, escalate, status update | the incident's current state |
//! | resolve | the resolution |
//! | note | nothing: notes are internal |
//!
//! The mails of one incident make one thread: the first one's
//! `Message-ID` is kept (the delivery's external id) and every later one
//! answers it (`In-Reply-To`, `References`). Each action's `Message-ID` is
//! fixed by the action, so a retry after a lost answer (SMTP cannot tell
//! whether the relay took the mail) sends the same message again, which
//! mail systems recognise as one: delivery is at least once, like
//! PagerDuty's events.
//!
//! Answers: 4xx replies, network errors and timeouts are retried on the
//! deliverer's backoff (SMTP has no `Retry-After`); 5xx replies (a
//! refused login, an unknown mailbox) are final. The password is cut out
//! of anything quoted.
//!
//! The same [`Mailer`] sends scheduled reports (`reports.schedules[].mail`
//! in `receiver.yml`): [`Mailer::send_report`].

use std::time::Duration;

use edgewatch_catalog::model::{EmailDestination, SmtpSecurity};
use edgewatch_catalog::{Customer, Secret};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{BuildError, DeliveryError, Outcome, http};
use crate::action::{ActionKind, Delivery};

/// RFC 3834: the mail is automatic, so auto-responders stay quiet.
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

/// A relay and the customers' contacts it writes to.
pub struct Mailer {
    name: String,
    config: EmailDestination,
    password: Option<Secret>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The sender's domain, the right-hand side of the `Message-ID`s.
    domain: String,
    /// The longest a whole transaction (connect to the last answer) takes.
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("name", &self.name)
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

/// An address the catalog checked, as lettre's.
fn address(name: &str, email: &str) -> Result<Address, String> {
    email.parse().map_err(|e| format!("{name}: `{email}` is not an address lettre accepts: {e}"))
}

/// Why a report could not be mailed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An attachment could not be read.
    #[error("cannot read {path} to attach it: {source}")]
    Read { path: String, source: std::io::Error },
    /// A recipient is not an address.
    #[error("`{0}` is not an e-mail address")]
    Address(String),
    /// The relay refused it, or did not answer; `retry` says whether
    /// trying again later may work.
    #[error("{reason}")]
    Send { reason: String, retry: bool },
}

impl From<DeliveryError> for MailError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Transient { reason, .. } => Self::Send { reason, retry: true },
            DeliveryError::Permanent { reason } => Self::Send { reason, retry: false },
        }
    }
}

/// An attachment's content type, by its file's extension.
fn content_type(path: &std::path::Path) -> ContentType {
    let t = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    ContentType::parse(t).unwrap_or(ContentType::TEXT_PLAIN)
}

impl Mailer {
    /// Sets up the destination `name` from the catalog: the password through
    /// `env` (or its file), the extra certificate authorities from
    /// `ca_file`; a mail's transaction gives up after `timeout`.
    pub fn build(
        name: &str,
        config: &EmailDestination,
        env: &dyn Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let invalid = |reason: String| BuildError::Invalid { destination: name.to_owned(), reason };
        let password = config
            .password
            .as_ref()
            .map(|p| p.resolve(env))
            .transpose()
            .map_err(|source| BuildError::Secret { destination: name.to_owned(), source })?;
        let mut tls = TlsParameters::builder(config.host.clone());
        // Read as every TLS setting of edgewatch reads its PEM files: a file
        // with no certificate in it is an error, not a relay left to the
        // public roots alone.
        if let Some(path) = &config.ca_file {
            let certificates = edgewatch_web::pem::certificates(path)
                .map_err(|e| invalid(format!("`ca_file` {}: {e}", path.display())))?;
            for der in certificates {
                let ca = Certificate::from_der(der.to_vec())
                    .map_err(|e| invalid(format!("`ca_file` {}: {e}", path.display())))?;
                tls = tls.add_root_certificate(ca);
            }
        }
        let tls = tls.build_rustls().map_err(|e| invalid(format!("cannot set up TLS: {e}")))?;
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .timeout(Some(timeout))
            .tls(match config.security {
                SmtpSecurity::Starttls => Tls::Required(tls),
                SmtpSecurity::Tls => Tls::Wrapper(tls),
            });
        if let (Some(user), Some(pass)) = (&config.username, &password) {
            transport = transport.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
        }
        let from = Mailbox::new(config.from_name.clone(), address(name, config.from.as_str()).map_err(invalid)?);
        let reply_to = config
            .reply_to
            .as_ref()
            .map(|r| address(name, r.as_str()).map(|a| Mailbox::new(None, a)))
            .transpose()
            .map_err(invalid)?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            name: name.to_owned(),
            config: config.clone(),
            password,
            transport: transport.build(),
            from,
            reply_to,
            domain,
            timeout,
        })
    }

    /// The customer's contacts this destination writes to, as mailboxes.
    fn mailboxes(&self, customer: &Customer) -> Vec<Mailbox> {
        self.config
            .recipients(&customer.contacts)
            .into_iter()
            .filter_map(|c| Some(Mailbox::new(Some(c.name.clone()), c.email.as_str().parse().ok()?)))
            .collect()
    }

    /// The customer's contacts this destination writes to, as
    /// `Name <address>`.
    pub fn contacts(&self, customer: &Customer) -> Vec<String> {
        self.mailboxes(customer).iter().map(ToString::to_string).collect()
    }

    /// Mails `text` with `attachments` (reports: HTML, Markdown, JSON) to
    /// `to` (`Name <address>` or addresses) under the `Message-ID`
    /// `<{id}@{sender's domain}>`: the same `id` for a retry, so a copy
    /// sent twice is one message to mail systems.
    pub async fn send_report(
        &self,
        to: &[String],
        id: &str,
        subject: &str,
        text: &str,
        attachments: &[std::path::PathBuf],
    ) -> Result<(), MailError> {
        let mut mail = self.headers(format!("<{id}@{}>", self.domain), subject);
        for t in to {
            mail = mail.to(t.parse().map_err(|_| MailError::Address(t.clone()))?);
        }
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text.to_owned()));
        for path in attachments {
            let body =
                std::fs::read(path).map_err(|source| MailError::Read { path: path.display().to_string(), source })?;
            let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            parts = parts.singlepart(Attachment::new(name).body(body, content_type(path)));
        }
        let mail = mail.multipart(parts).map_err(|e| self.fail(e))?;
        Ok(self.send(mail).await?)
    }

    /// Who reads the mail, in words: the customer's contacts it writes to.
    pub(crate) fn recipients(&self, customer: Option<&Customer>) -> String {
        let list: Vec<String> =
            customer.map(|c| self.mailboxes(c)).unwrap_or_default().iter().map(ToString::to_string).collect();
        if list.is_empty() { "nobody (no contact of the customer matches)".to_owned() } else { list.join(", ") }
    }

    fn fail(&self, reason: impl std::fmt::Display) -> DeliveryError {
        DeliveryError::Permanent { reason: format!("{}: e-mail: {reason}", self.name) }
    }

    /// The mail for `d`, and the thread it starts or continues.
    fn mail(&self, d: &Delivery<'_>, to: Vec<Mailbox>) -> Result<(lettre::Message, String), DeliveryError> {
        // Fixed per action (retries send the same id), unique per message.
        let id = format!("<{}.{}.{}@{}>", d.incident.dedup, d.kind.as_str(), d.action, self.domain);
        let thread = d.external.map_or_else(|| id.clone(), str::to_owned);
        let mut mail = self.headers(id.clone(), &d.message.customer_title);
        if thread != id {
            mail = mail.in_reply_to(thread.clone()).references(thread.clone());
        }
        for m in to {
            mail = mail.to(m);
        }
        let signature = self.config.from_name.as_deref().unwrap_or("Network operations");
        let body = format!("{}\n\n-- \n{signature}\n", d.message.customer_body);
        let mail = mail.header(ContentType::TEXT_PLAIN).body(body).map_err(|e| self.fail(e))?;
        Ok((mail, thread))
    }

    /// A message from the sender, automatic (RFC 3834), under `id`.
    fn headers(&self, id: String, subject: &str) -> MessageBuilder {
        let mut mail = MessageBuilder::new()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(id))
            .date_now()
            .raw_header(HeaderValue::new(AUTO_SUBMITTED, "auto-generated".to_owned()));
        if let Some(r) = &self.reply_to {
            mail = mail.reply_to(r.clone());
        }
        mail
    }

    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        if d.kind == ActionKind::Note {
            // Notes are internal: customers never read them.
            return Ok(Outcome::Delivered { external: d.external.map(str::to_owned) });
        }
        let Some(customer) = d.customer else {
            return Err(self.fail("the incident names no customer of the catalog, so there is nobody to write to"));
        };
        let to = self.mailboxes(customer);
        if to.is_empty() {
            return Err(self.fail(format!("customer `{}` has no contact this destination writes to", customer.id)));
        }
        let (mail, thread) = self.mail(d, to)?;
        self.send(mail).await?;
        Ok(Outcome::Delivered { external: Some(thread) })
    }

    async fn send(&self, mail: lettre::Message) -> Result<(), DeliveryError> {
        // lettre bounds only the connect; the whole transaction is bounded here.
        match tokio::time::timeout(self.timeout, self.transport.send(mail)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.classify(&e)),
            Err(_) => Err(DeliveryError::Transient {
                reason: format!(
                    "{}: SMTP send to {}: no answer within {:?}; the relay may have taken the mail, so the retry sends it again under the same Message-ID",
                    self.name, self.config.host, self.timeout
                ),
                retry_after: None,
            }),
        }
    }

    /// 5xx is final; the rest (4xx, network, TLS, timeouts) is worth a retry.
    fn classify(&self, e: &lettre::transport::smtp::Error) -> DeliveryError {
        let text = e.to_string();
        let text = match &self.password {
            Some(p) => http::redact(&text, p.expose()),
            None => text,
        };
        let reason = match e.status() {
            Some(code) => format!("{}: SMTP send to {}: SMTP {code}: {text}", self.name, self.config.host),
            None => format!("{}: SMTP send to {}: {text}", self.name, self.config.host),
        };
        if e.is_permanent() {
            DeliveryError::Permanent { reason }
        } else {
            DeliveryError::Transient { reason, retry_after: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(ca_file: &std::path::Path) -> EmailDestination {
        let text = format!(
            "destinations:\n  mail:\n    email: {{host: smtp.example, security: starttls, ca_file: '{}', from: noc@edge.example}}\n",
            ca_file.display()
        );
        let mut catalog = edgewatch_catalog::load_str("catalog.yaml", &text).unwrap().catalog;
        match catalog.destinations.pop_first() {
            Some((_, edgewatch_catalog::model::Destination::Email(relay))) => relay,
            other => panic!("not an e-mail destination: {other:?}"),
        }
    }

    fn built(ca_file: &std::path::Path) -> Result<Mailer, BuildError> {
        Mailer::build("mail", &relay(ca_file), &|_| None, Duration::from_secs(5))
    }

    /// A CA file that is missing, empty or not PEM is refused with the
    /// setting and the path, not taken as no extra CA; a bundle of several
    /// CAs is taken.
    #[test]
    fn a_ca_file_without_a_certificate_is_refused_and_a_bundle_is_taken() {
        let dir = edgewatch_test_kit::scratch_dir("email-ca-file");
        let path = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let missing = dir.join("missing.pem");
        for (file, says) in [
            (missing, "No such file"),
            (path("empty.pem", ""), "no PEM certificate in the file"),
            (path("notes.pem", "not a certificate at all\n"), "no PEM certificate in the file"),
        ] {
            let e = built(&file).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("`ca_file`") && e.contains(&file.display().to_string()) && e.contains(says), "{e}");
        }
        let ca = |name: &str| rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap().cert.pem();
        let bundle = path("bundle.pem", &format!("{}{}", ca("a.example"), ca("b.example")));
        assert!(built(&bundle).is_ok());
    }
}
