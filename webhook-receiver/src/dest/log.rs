//! The `log` destination: one JSON line per action, to a file (appended) or
//! stdout (`-`), for local use and audits.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::{BuildError, DeliveryError, Outcome};
use crate::action::{ActionKind, Delivery, Incident, Message};

/// Where lines go.
enum Sink {
    Stdout,
    File(File),
}

/// A file appended to by many deliveries at once, synced in groups: one
/// sync covers every line written before it (group commit), so lines
/// written together share it instead of waiting in turn for one each.
struct File {
    /// The file, and the bytes appended through it so far.
    appender: Mutex<(std::fs::File, u64)>,
    /// Bytes known to be on the disk; syncs take this lock in turn.
    synced: Mutex<u64>,
    /// A handle to sync through without holding the appending lock.
    syncer: std::fs::File,
}

impl File {
    /// Appends `text`, and returns once it is on the disk.
    fn append(&self, text: &str) -> std::io::Result<()> {
        let poisoned = || std::io::Error::other("a writer panicked");
        let end = {
            let mut appender = self.appender.lock().map_err(|_| poisoned())?;
            appender.0.write_all(text.as_bytes())?;
            appender.1 += text.len() as u64;
            appender.1
        };
        let mut synced = self.synced.lock().map_err(|_| poisoned())?;
        if *synced < end {
            // Everything written so far goes with this sync, others' lines too.
            let upto = self.appender.lock().map_err(|_| poisoned())?.1;
            self.syncer.sync_data()?;
            *synced = upto;
        }
        Ok(())
    }
}

/// JSON lines.
pub struct Log {
    name: String,
    path: String,
    sink: Arc<Sink>,
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
            let open_failed =
                |source| BuildError::Open { destination: name.to_owned(), path: path.display().to_string(), source };
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(open_failed)?;
            let syncer = file.try_clone().map_err(open_failed)?;
            Sink::File(File { appender: Mutex::new((file, 0)), synced: Mutex::new(0), syncer })
        };
        Ok(Self { name: name.to_owned(), path: path.display().to_string(), sink: Arc::new(sink) })
    }

    /// Appends one line and, to a file, syncs it: an audit trail survives
    /// a crash, and a line is delivered only once it is on the disk. The
    /// write and the sync run off the async threads, which must not wait
    /// for a disk.
    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        let line = Line { destination: &self.name, action: d.kind, incident: d.incident, message: d.message };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| DeliveryError::Permanent { reason: format!("log: cannot serialize: {e}") })?;
        text.push('\n');
        let failed = |e: std::io::Error| DeliveryError::Transient {
            reason: format!("log: cannot write {}: {e}", self.path),
            retry_after: None,
        };
        let sink = Arc::clone(&self.sink);
        let written = tokio::task::spawn_blocking(move || match &*sink {
            Sink::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Sink::File(f) => f.append(&text),
        })
        .await
        .map_err(|e| failed(std::io::Error::other(e)))?;
        written.map_err(failed)?;
        Ok(Outcome::Delivered { external: None })
    }
}
