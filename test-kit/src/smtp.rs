//! A real SMTP server for the tests: aiosmtpd (from `PyPI`; `scripts/test`
//! installs it) on a loopback port the system picks, with STARTTLS
//! required, a certificate the test trusts through a CA file, and a login.
//! It records every message as it arrives and fails on demand.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::KillOnDrop;

/// One message the server was given, and what it answered.
#[derive(Debug, Clone)]
pub struct Mail {
    /// When its data arrived.
    pub at: Instant,
    /// The server's answer to it (250 taken; 4xx, 5xx refused).
    pub code: u16,
    /// When the server answers (or answered) it: only then is it taken.
    pub answered: Instant,
    /// The envelope's sender.
    pub from: String,
    /// The envelope's recipients.
    pub to: Vec<String>,
    /// Its headers, by lower-case name, decoded.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// Its text (the plain-text part), decoded.
    pub body: String,
    /// The file names of its attachments.
    pub attachments: Vec<String>,
    /// The message as sent.
    pub raw: String,
    /// Whether the session was encrypted (STARTTLS).
    pub tls: bool,
    /// Who logged in, if anyone.
    pub login: Option<String>,
}

impl Mail {
    /// A header's decoded value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).and_then(serde_json::Value::as_str).unwrap_or_default()
    }
}

/// The SMTP server; stopped when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    _child: KillOnDrop,
    stdin: Mutex<ChildStdin>,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Its port on 127.0.0.1; its certificate is for `localhost`.
    pub port: u16,
    /// The PEM file that makes its certificate trusted.
    pub ca_file: PathBuf,
}

impl SmtpServer {
    /// Starts a server in the scratch folder `name` that takes a login of
    /// `user` and `password` (and refuses mail without it).
    pub fn start(name: &str, user: &str, password: &str) -> Self {
        let dir = crate::scratch_dir(&format!("smtp-{name}"));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (ca_file, key_file) = (dir.join("smtp.crt"), dir.join("smtp.key"));
        std::fs::write(&ca_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args([&ca_file, &key_file])
            .args([user, password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 {script}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let child = KillOnDrop(child);
        let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            panic!(
                "the SMTP server did not start; is aiosmtpd installed? scripts/test installs it (pip install aiosmtpd)"
            )
        });
        let port = serde_json::from_str::<serde_json::Value>(&first).unwrap()["port"].as_u64().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&mails);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let at = Instant::now();
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                seen.lock().unwrap().push(Mail {
                    at,
                    code: u16::try_from(v["code"].as_u64().unwrap()).unwrap(),
                    answered: at + Duration::from_secs_f64(v["answered_after"].as_f64().unwrap_or(0.0)),
                    from: text("from"),
                    to: v["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
                    headers: v["headers"].as_object().cloned().unwrap_or_default(),
                    // Decoded text keeps the wire's CRLF line ends.
                    body: text("body").replace("\r\n", "\n"),
                    attachments: v["attachments"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    raw: text("data"),
                    tls: v["tls"].as_bool().unwrap_or(false),
                    login: v["login"].as_str().map(str::to_owned),
                });
            }
        });
        Self { _child: child, stdin: Mutex::new(stdin), mails, port: u16::try_from(port).unwrap(), ca_file }
    }

    fn command(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        // The server reads commands between messages; give it the moment.
        std::thread::sleep(Duration::from_millis(50));
    }

    /// The next `n` messages are answered `code text`.
    pub fn fail_next(&self, n: usize, code: u16, text: &str) {
        self.command(&format!("fail {n} {code} {text}"));
    }

    /// The next `n` messages are answered only after `by`.
    pub fn late_next(&self, n: usize, by: Duration) {
        self.command(&format!("late {n} {}", by.as_secs_f64()));
    }

    /// Every message is refused, `550 5.7.1 text`, until [`SmtpServer::fix`].
    pub fn refuse_until_fixed(&self, text: &str) {
        self.command(&format!("refuse {text}"));
    }

    /// Ends [`SmtpServer::refuse_until_fixed`].
    pub fn fix(&self) {
        self.command("fix");
    }

    /// Every message so far, in arrival order.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Every message once at least `n` arrived (or after 10 s): the server
    /// reports each just before it answers, and the report is read on a
    /// thread of its own, so it may lag the sender's return.
    pub fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
