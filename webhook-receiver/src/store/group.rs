//! Group commit: writers that arrive while a commit is on its way to the
//! disk wait, then share the next one. The first waiting writer leads: it
//! commits everything queued, its own among them, and hands each writer
//! its result; nobody is answered before the commit that holds its write.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use super::StoreError;

/// Writes `W` waiting for a commit, and their results `R`.
#[derive(Debug)]
pub(crate) struct GroupCommit<W, R> {
    state: Mutex<State<W, R>>,
    /// Signalled when a commit is done.
    done: Condvar,
}

#[derive(Debug)]
struct State<W, R> {
    /// By ticket.
    queue: Vec<(u64, W)>,
    results: HashMap<u64, Result<R, StoreError>>,
    leading: bool,
    next: u64,
}

impl<W, R> Default for GroupCommit<W, R> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State { queue: Vec::new(), results: HashMap::new(), leading: false, next: 0 }),
            done: Condvar::new(),
        }
    }
}

impl<W, R> GroupCommit<W, R> {
    /// Queues `write` and returns its result once committed. When no
    /// commit is under way this caller leads: `commit` gets every write
    /// queued and returns each one's result by ticket, in one commit.
    pub(crate) fn submit(
        &self,
        write: W,
        commit: impl Fn(&[(u64, W)]) -> Vec<(u64, Result<R, StoreError>)>,
    ) -> Result<R, StoreError> {
        let mut state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        let ticket = state.next;
        state.next += 1;
        state.queue.push((ticket, write));
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.leading {
                state = self.done.wait(state).map_err(|_| StoreError::Poisoned)?;
                continue;
            }
            state.leading = true;
            let batch = std::mem::take(&mut state.queue);
            drop(state);
            let results = commit(&batch);
            state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
            state.leading = false;
            state.results.extend(results);
            self.done.notify_all();
        }
    }
}
