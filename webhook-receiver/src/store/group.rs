//! Group commit: writers that arrive while a commit is on its way to the
//! disk wait, then share the next one. One writer leads: it commits
//! everything queued, its own among them, hands each writer its result,
//! and passes the lead to the first writer that queued meanwhile. Nobody
//! is answered before the commit that holds its write, and each waiter is
//! woken once, for its result or for the lead (not at every commit).

use std::sync::{Arc, Condvar, Mutex};

use super::StoreError;

/// Writes `W` waiting for a commit, and their results `R`.
#[derive(Debug)]
pub(crate) struct GroupCommit<W, R> {
    state: Mutex<State<W, R>>,
}

#[derive(Debug)]
struct State<W, R> {
    queue: Vec<(W, Arc<Slot<R>>)>,
    /// A commit is under way: writers queue, and one of them leads next.
    leading: bool,
}

/// Where a waiting writer hears of its result, or that it leads.
#[derive(Debug)]
struct Slot<R> {
    news: Mutex<News<R>>,
    ready: Condvar,
}

#[derive(Debug)]
enum News<R> {
    Waiting,
    /// Commit what is queued.
    Lead,
    Done(Result<R, StoreError>),
}

impl<W, R> Default for GroupCommit<W, R> {
    fn default() -> Self {
        Self { state: Mutex::new(State { queue: Vec::new(), leading: false }) }
    }
}

impl<R> Slot<R> {
    fn tell(&self, news: News<R>) {
        if let Ok(mut n) = self.news.lock() {
            *n = news;
        }
        self.ready.notify_one();
    }
}

impl<W, R> GroupCommit<W, R> {
    /// Queues `write` and returns its result once committed. When no
    /// commit is under way this caller leads: `commit` gets every write
    /// queued, in order, and returns each one's result in that order, in
    /// one commit.
    pub(crate) fn submit(
        &self,
        write: W,
        commit: impl Fn(&[W]) -> Vec<Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let slot = Arc::new(Slot { news: Mutex::new(News::Waiting), ready: Condvar::new() });
        let mut state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        state.queue.push((write, Arc::clone(&slot)));
        if state.leading {
            drop(state);
            let mut news = slot.news.lock().map_err(|_| StoreError::Poisoned)?;
            loop {
                match std::mem::replace(&mut *news, News::Waiting) {
                    News::Done(result) => return result,
                    News::Lead => break,
                    News::Waiting => news = slot.ready.wait(news).map_err(|_| StoreError::Poisoned)?,
                }
            }
            drop(news);
            state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        }
        state.leading = true;
        loop {
            let (writes, slots): (Vec<W>, Vec<Arc<Slot<R>>>) = std::mem::take(&mut state.queue).into_iter().unzip();
            drop(state);
            let mut results = commit(&writes).into_iter();
            let mut own = None;
            for s in &slots {
                let result = results.next().unwrap_or(Err(StoreError::Poisoned));
                if Arc::ptr_eq(s, &slot) {
                    own = Some(result);
                } else {
                    s.tell(News::Done(result));
                }
            }
            state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
            if let Some(result) = own {
                // Those that queued meanwhile: the first of them leads.
                match state.queue.first() {
                    Some((_, next)) => next.tell(News::Lead),
                    None => state.leading = false,
                }
                return result;
            }
            // Led without its own write in the batch: cannot happen (it
            // queued before leading), but commit again rather than hang.
        }
    }
}
