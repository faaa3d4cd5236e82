//! SQLite's WAL checkpoints on a thread of their own. A commit appends to
//! the WAL; a checkpoint copies the WAL back into the database file and
//! syncs it. SQLite runs one in whichever commit takes the WAL past a
//! threshold, so that commit, and every notification waiting behind it,
//! paid for copying and syncing everything written since the last: with
//! large incidents about every tenth of a second at 500 notifications a
//! second, the ack's tail. Here another connection checkpoints every
//! [`EVERY`] (`PASSIVE`: it never waits for, nor holds up, a commit), and
//! the intake's own threshold, [`BACKSTOP_PAGES`], is left as a backstop
//! for when this thread falls behind. How long each took is
//! `edgewatch_receiver_store_checkpoint_seconds`; what it could not copy,
//! `edgewatch_receiver_store_wal_pages_behind` (a reader's long read
//! transaction holds every copy back: the WAL then grows past the
//! backstop), and failures, `edgewatch_receiver_store_checkpoint_failures_total`.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::StoreError;
use crate::metrics::Metrics;

/// How often the WAL is copied back.
const EVERY: Duration = Duration::from_millis(100);

/// WAL pages (4 KiB) past which a commit checkpoints itself (SQLite's
/// default is 1,000): the WAL file stays under about 64 MB. In a storm this
/// thread copies back while commits append, so the WAL only starts over
/// when a commit's own checkpoint finishes the copy; 4,000 pages gave the
/// ack's p99 about 0.7 ms more than 16,000 (docs/performance.md).
pub(crate) const BACKSTOP_PAGES: i64 = 16_000;

/// The checkpointing thread; dropped, it stops.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Checkpoints the database at `path` from now on, timed in `metrics`
    /// once the receiver sets them.
    pub(crate) fn start(path: &Path, metrics: Arc<OnceLock<Arc<Metrics>>>) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // Syncs the WAL before copying from it, and the file after.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || run(&conn, &stopped, &metrics))
            .map_err(|source| StoreError::Io { path: path.display().to_string(), source })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, metrics: &OnceLock<Arc<Metrics>>) {
    let mut last_error = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let started = Instant::now();
        // Its row: busy, the WAL's pages, the pages copied back.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)));
        // Busy (a commit's own checkpoint under way) is no failure: the next
        // round copies what is left.
        let (behind, error) = match done {
            Ok((pages, copied)) => (Some(pages_behind(pages, copied)), None),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => (None, None),
            Err(e) => (None, Some(e.to_string())),
        };
        if let Some(m) = metrics.get()
            && (behind.is_some() || error.is_some())
        {
            m.checkpoint(started.elapsed().as_secs_f64(), behind);
        }
        // Said once, not ten times a second.
        if error.is_some() && error != last_error {
            tracing::warn!(
                error = error.as_deref().unwrap_or_default(),
                "SQLite checkpoint failed; commits checkpoint the WAL themselves meanwhile"
            );
        }
        last_error = error;
    }
}

/// WAL pages a checkpoint left to copy, from `PRAGMA wal_checkpoint`'s
/// `log` and `checkpointed` (both -1 when the database is not in WAL mode).
fn pages_behind(pages: i64, copied: i64) -> i64 {
    (pages - copied).max(0)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
