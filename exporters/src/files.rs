//! The file input: each configured file is followed by its own task, polled
//! every quarter second on the blocking pool (so several files use several
//! cores), its new lines aggregated into a batch and merged like a push.
//! Checkpoints are saved after each merge, so a restart resumes after the
//! last counted line.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::batch::Batch;
use crate::config::FileConfig;
use crate::tail::{CheckpointStore, StartAt, Tailer};
use crate::{Inner, unix_now, unix_now_secs};

const POLL: Duration = Duration::from_millis(250);

/// The running file inputs.
pub(crate) struct Files {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// `None` without file inputs: nothing is written to disk then.
    store: Option<Arc<Mutex<CheckpointStore>>>,
}

impl Files {
    /// Stops following and saves the checkpoints, so a clean restart counts
    /// no line twice. A task stopped mid-poll had not merged its batch, so
    /// those lines are read again, and counted for the first time, later.
    pub(crate) fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(store) = self.store
            && let Err(e) = store.lock().unwrap_or_else(PoisonError::into_inner).save_now()
        {
            tracing::warn!(error = %e, "Cannot save file checkpoints.");
        }
    }
}

/// Starts one task per file; they run until [`Files::stop`].
pub(crate) fn spawn(inner: &Arc<Inner>, files: &[FileConfig], state_dir: &Path) -> std::io::Result<Files> {
    if files.is_empty() {
        return Ok(Files { tasks: Vec::new(), store: None });
    }
    std::fs::create_dir_all(state_dir)?;
    let store = CheckpointStore::load(&state_dir.join("checkpoints.json")).map_err(std::io::Error::other)?;
    let store = Arc::new(Mutex::new(store));
    let mut tasks = Vec::new();
    for file in files {
        let format = Arc::new(file.format.clone());
        for path in &file.paths {
            inner.starting.fetch_add(1, Ordering::Relaxed);
            let task = follow(
                Arc::clone(inner),
                file.name.clone(),
                path.clone(),
                file.start_at,
                Arc::clone(&format),
                Arc::clone(&store),
            );
            tasks.push(tokio::spawn(task));
        }
    }
    Ok(Files { tasks, store: Some(store) })
}

async fn follow(
    inner: Arc<Inner>,
    name: String,
    path: PathBuf,
    start_at: StartAt,
    format: Arc<crate::format::Format>,
    store: Arc<Mutex<CheckpointStore>>,
) {
    let opened = {
        let store = store.lock().unwrap_or_else(PoisonError::into_inner);
        Tailer::open(&path, &store, start_at)
    };
    let mut tailer = match opened {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(input = %name, path = %path.display(), error = %e, "Cannot follow the file.");
            inner.lock().count_batch(&name, "read_error");
            return;
        }
    };
    if let Some(why) = &tailer.lost {
        tracing::warn!(input = %name, path = %path.display(), "Lines may have been lost: {why}.");
        inner.lock().count_batch(&name, "lost_on_rotation");
    }
    let mut first = true;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let work = Arc::clone(&inner);
        let fmt = Arc::clone(&format);
        let polled = tokio::task::spawn_blocking(move || {
            let mut batch = Batch::new(&work.cx);
            let now = unix_now();
            let long_before = tailer.long_lines;
            let result = tailer.poll(|chunk| batch.add_lines(chunk, &fmt, &work.cx, now));
            // Lines too long to keep count as malformed.
            let long = tailer.long_lines - long_before;
            batch.lines += long;
            batch.malformed += long;
            (tailer, batch, result)
        })
        .await;
        let Ok((t, batch, result)) = polled else {
            tracing::error!(input = %name, path = %path.display(), "File polling stopped unexpectedly.");
            return;
        };
        tailer = t;
        match result {
            Ok(_) => {
                if batch.lines > 0 {
                    inner.lock().merge(&name, &batch, Instant::now(), unix_now_secs());
                }
                batch.recycle(&inner.cx);
                let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
                store.record(tailer.checkpoint());
                if let Err(e) = store.save() {
                    tracing::warn!(input = %name, error = %e, "Cannot save file checkpoints.");
                }
            }
            Err(e) => {
                tracing::warn!(input = %name, path = %path.display(), error = %e, "Reading the file failed; retrying.");
                inner.lock().count_batch(&name, "read_error");
            }
        }
        if first {
            first = false;
            inner.starting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
