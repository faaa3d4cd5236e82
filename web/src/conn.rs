//! One connection's phase and the deadline it implies.
//!
//! A connection is waiting for a request head (`Head`), between requests
//! (`Idle`), or handling a request (`Busy`). The socket wrapper [`Watched`]
//! and the service mark the changes; a watchdog per connection sleeps until
//! the phase's deadline and closes the connection if it passes unchanged.
//! Inside `Busy`, the request body's own timer ([`crate::body`]) and the
//! write-stall deadline here bound the time a client can hold it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::Limits;

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The request head did not arrive in time.
    Head,
    /// A kept-alive connection sent no new request.
    Idle,
    /// The client stopped reading the response.
    Write,
}

impl Expired {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Head => "the request head took too long",
            Self::Idle => "idle between requests for too long",
            Self::Write => "the client stopped reading the response",
        }
    }
}

/// What the socket, the service and the watchdog share.
#[derive(Debug)]
pub(crate) struct Conn {
    epoch: Instant,
    phase: AtomicU8,
    /// Milliseconds since `epoch` when the phase began.
    since: AtomicU64,
    /// Milliseconds since `epoch` + 1 when a write started to stall; 0 when
    /// writes flow.
    write_stalled: AtomicU64,
    changed: Notify,
    /// Asks the connection to close at once (evicted at the connection cap).
    pub(crate) evict: Notify,
}

impl Conn {
    /// A new connection: it owes a request head from now.
    pub(crate) fn new(epoch: Instant) -> Self {
        let c = Self {
            epoch,
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            write_stalled: AtomicU64::new(0),
            changed: Notify::new(),
            evict: Notify::new(),
        };
        c.since.store(c.now_ms(), Ordering::Relaxed);
        c
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn set(&self, phase: u8) {
        self.since.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
        self.changed.notify_one();
    }

    /// A request head is complete and handed to the service.
    pub(crate) fn busy(&self) {
        self.set(BUSY);
    }

    /// The response is written: the connection waits for the next request.
    pub(crate) fn idle(&self) {
        self.set(IDLE);
    }

    /// Bytes arrived: if the connection was idle, a request head has begun.
    fn read_some(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set(HEAD);
        }
    }

    fn write_pending(&self, pending: bool) {
        let now = if pending { self.now_ms() + 1 } else { 0 };
        let before = self.write_stalled.load(Ordering::Relaxed);
        if pending && before != 0 {
            return;
        }
        self.write_stalled.store(now, Ordering::Relaxed);
        if pending {
            self.changed.notify_one();
        }
    }

    /// When the connection has been waiting for the longest time without a
    /// request in progress, for picking one to evict; `None` while busy.
    pub(crate) fn waiting_since(&self) -> Option<u64> {
        (self.phase.load(Ordering::Acquire) != BUSY).then(|| self.since.load(Ordering::Relaxed))
    }

    /// The current deadline and what passing it means.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expired)> {
        let at = |ms: u64, d: Duration| self.epoch + Duration::from_millis(ms) + d;
        let stalled = self.write_stalled.load(Ordering::Relaxed);
        if stalled != 0 {
            return Some((at(stalled - 1, limits.body_idle_timeout), Expired::Write));
        }
        let since = self.since.load(Ordering::Relaxed);
        match self.phase.load(Ordering::Acquire) {
            IDLE => Some((at(since, limits.idle_timeout), Expired::Idle)),
            HEAD => Some((at(since, limits.header_timeout), Expired::Head)),
            _ => None,
        }
    }

    /// Completes when the connection's current deadline passes unchanged.
    pub(crate) async fn expired(&self, limits: &Limits) -> Expired {
        loop {
            // Registered before reading the state, so no change is missed
            // (`notify_one` also leaves a permit when nobody waits).
            let changed = self.changed.notified();
            match self.deadline(limits) {
                Some((deadline, why)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {
                            if self.deadline(limits).is_some_and(|(d, _)| d <= Instant::now()) {
                                return why;
                            }
                        }
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// A socket that tells its [`Conn`] when bytes arrive and when writes stall.
pub(crate) struct Watched<T> {
    pub(crate) io: T,
    pub(crate) conn: Arc<Conn>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.read_some();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, data);
        self.conn.write_pending(result.is_pending());
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        self.conn.write_pending(result.is_pending());
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.conn.write_pending(result.is_pending());
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_phase_has_its_deadline() {
        let limits = Limits {
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(7),
            body_idle_timeout: Duration::from_secs(3),
            ..Limits::default()
        };
        let conn = Conn::new(Instant::now());
        let start = tokio::time::Instant::now();
        assert_eq!(conn.expired(&limits).await, Expired::Head);
        assert_eq!(start.elapsed().as_secs(), 2);

        conn.idle();
        let start = tokio::time::Instant::now();
        assert_eq!(conn.expired(&limits).await, Expired::Idle);
        assert_eq!(start.elapsed().as_secs(), 7);

        // Busy has no deadline of its own; a stalled write has.
        conn.busy();
        let waiting = tokio::time::timeout(Duration::from_secs(3600), conn.expired(&limits)).await;
        assert!(waiting.is_err());
        conn.write_pending(true);
        let start = tokio::time::Instant::now();
        assert_eq!(conn.expired(&limits).await, Expired::Write);
        assert_eq!(start.elapsed().as_secs(), 3);
    }
}
