//! The `log` destination: one JSON line per action, to a file (appended) or
//! stdout (`-`), for local use and audits.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::{BuildError, DeliveryError, Outcome};
use crate::action::{ActionKind, Delivery, Incident, Message};

/// Where lines go.
enum Sink {
    Stdout,
    File(std::fs::File),
}

/// JSON lines.
pub struct Log {
    name: String,
    path: String,
    sink: Mutex<Sink>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("name", &self.name).field("path", &self.path).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Line<'a> {
    destination: &'a str,
    action: ActionKind,
    incident: &'a Incident,
    message: &'a Message,
}

impl Log {
    /// Opens `path` for appending (`-` is stdout).
    pub fn build(name: &str, path: &Path) -> Result<Self, BuildError> {
        let sink = if path == Path::new("-") {
            Sink::Stdout
        } else {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|source| {
                BuildError::Open { destination: name.to_owned(), path: path.display().to_string(), source }
            })?;
            Sink::File(file)
        };
        Ok(Self { name: name.to_owned(), path: path.display().to_string(), sink: Mutex::new(sink) })
    }

    #[allow(clippy::unused_async, reason = "async like every destination's; the write itself is synchronous")]
    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        let line = Line { destination: &self.name, action: d.kind, incident: d.incident, message: d.message };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| DeliveryError::Permanent { reason: format!("log: cannot serialize: {e}") })?;
        text.push('\n');
        let failed = |e: std::io::Error| DeliveryError::Transient {
            reason: format!("log: cannot write {}: {e}", self.path),
            retry_after: None,
        };
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| DeliveryError::Transient { reason: "log: a writer panicked".to_owned(), retry_after: None })?;
        match &mut *sink {
            Sink::Stdout => std::io::stdout().lock().write_all(text.as_bytes()).map_err(failed)?,
            // One write per line, then to disk: an audit trail survives a crash.
            Sink::File(f) => {
                f.write_all(text.as_bytes()).map_err(failed)?;
                f.sync_data().map_err(failed)?;
            }
        }
        Ok(Outcome::Delivered { external: None })
    }
}
