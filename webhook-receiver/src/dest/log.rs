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
    File(File),
}

/// A file appended to by many deliveries at once, synced in groups: one
/// sync covers every line written before it (group commit), so lines
/// written together share it instead of waiting in turn for one each.
struct File {
    /// Appends, one line at a time.
    appender: std::fs::File,
    /// Bytes appended through this handle.
    written: u64,
    /// Bytes known to be on the disk; syncs take this lock in turn.
    synced: std::sync::Arc<Mutex<u64>>,
    /// A handle to sync through without holding the appending lock.
    syncer: std::sync::Arc<std::fs::File>,
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
            let open_failed =
                |source| BuildError::Open { destination: name.to_owned(), path: path.display().to_string(), source };
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(open_failed)?;
            let syncer = file.try_clone().map_err(open_failed)?;
            Sink::File(File {
                appender: file,
                written: 0,
                synced: std::sync::Arc::new(Mutex::new(0)),
                syncer: std::sync::Arc::new(syncer),
            })
        };
        Ok(Self { name: name.to_owned(), path: path.display().to_string(), sink: Mutex::new(sink) })
    }

    /// Appends and syncs one line (small and local: no need to leave the task).
    pub(crate) fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        let line = Line { destination: &self.name, action: d.kind, incident: d.incident, message: d.message };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| DeliveryError::Permanent { reason: format!("log: cannot serialize: {e}") })?;
        text.push('\n');
        let failed = |e: std::io::Error| DeliveryError::Transient {
            reason: format!("log: cannot write {}: {e}", self.path),
            retry_after: None,
        };
        let panicked = || DeliveryError::Transient { reason: "log: a writer panicked".to_owned(), retry_after: None };
        let mut sink = self.sink.lock().map_err(|_| panicked())?;
        let (end, on_disk, handle) = match &mut *sink {
            Sink::Stdout => {
                std::io::stdout().lock().write_all(text.as_bytes()).map_err(failed)?;
                return Ok(Outcome::Delivered { external: None });
            }
            // One write per line, then to disk: an audit trail survives a
            // crash, and a line is delivered only once on the disk.
            Sink::File(f) => {
                f.appender.write_all(text.as_bytes()).map_err(failed)?;
                f.written += text.len() as u64;
                (f.written, std::sync::Arc::clone(&f.synced), std::sync::Arc::clone(&f.syncer))
            }
        };
        drop(sink);
        let mut synced = on_disk.lock().map_err(|_| panicked())?;
        if *synced < end {
            // Everything written so far goes with this sync, others' lines too.
            let upto = match &*self.sink.lock().map_err(|_| panicked())? {
                Sink::File(f) => f.written,
                Sink::Stdout => end,
            };
            handle.sync_data().map_err(failed)?;
            *synced = upto;
        }
        Ok(Outcome::Delivered { external: None })
    }
}
