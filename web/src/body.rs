//! Request bodies with a clock: a body that stands still for the idle
//! timeout, or trickles in below the minimum rate, ends in [`BodyTimeout`].
//!
//! Only time spent waiting for the client counts: while a handler is busy
//! with what it already has (parsing, committing), the body is not polled
//! and its clock does not run, so the server's own backpressure never cuts
//! a client.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::Limits;

/// The client sent its body too slowly. Handlers answer 408 for it
/// ([`body_error_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyTimeout {
    /// Nothing arrived for the body idle timeout.
    #[error("no part of the request body arrived for {0:?}")]
    Idle(Duration),
    /// The body came in slower than the minimum rate.
    #[error("the request body arrived slower than {0} bytes/s")]
    Slow(u64),
}

/// The status a handler answers when reading a request body failed with
/// `err`: 408 for a body sent too slowly, else 400.
pub fn body_error_status(err: &(dyn std::error::Error + 'static)) -> StatusCode {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<BodyTimeout>() {
            return StatusCode::REQUEST_TIMEOUT;
        }
        cause = e.source();
    }
    StatusCode::BAD_REQUEST
}

/// Why reading a timed body failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TimedError<E> {
    #[error(transparent)]
    Inner(E),
    #[error("{0}")]
    Timeout(#[source] BodyTimeout),
}

/// A request body under [`Limits::body_idle_timeout`] and
/// [`Limits::min_body_rate`].
pub(crate) struct TimedBody<B> {
    inner: B,
    idle: Duration,
    min_rate: u64,
    bytes: u64,
    waited: Duration,
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, limits: &Limits) -> Self {
        Self {
            inner,
            idle: limits.body_idle_timeout,
            min_rate: limits.min_body_rate,
            bytes: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
        }
    }
}

/// When waiting that began at `since` must end: the idle timeout, or the
/// moment the average rate over all waiting would fall below `min_rate`.
fn deadline(since: Instant, idle: Duration, min_rate: u64, bytes: u64, waited: Duration) -> (Instant, BodyTimeout) {
    let by_idle = since + idle;
    if min_rate == 0 {
        return (by_idle, BodyTimeout::Idle(idle));
    }
    #[allow(clippy::cast_precision_loss)] // seconds of allowance
    let earned = Duration::from_secs_f64((bytes as f64 / min_rate as f64).min(1e9));
    let allowed = (idle + earned).saturating_sub(waited);
    let by_rate = since + allowed;
    if by_rate < by_idle { (by_rate, BodyTimeout::Slow(min_rate)) } else { (by_idle, BodyTimeout::Idle(idle)) }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = TimedError<B::Error>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                this.timer = None;
                if let Some(Ok(f)) = &frame
                    && let Some(data) = f.data_ref()
                {
                    this.bytes += data.len() as u64;
                }
                Poll::Ready(frame.map(|r| r.map_err(TimedError::Inner)))
            }
            Poll::Pending => {
                let since = *this.waiting_since.get_or_insert_with(Instant::now);
                let (at, why) = deadline(since, this.idle, this.min_rate, this.bytes, this.waited);
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(TimedError::Timeout(why))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_allowance_grows_with_bytes_and_shrinks_with_waiting() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(10);
        // Nothing received yet: the idle timeout decides.
        assert_eq!(deadline(t0, idle, 1000, 0, Duration::ZERO), (t0 + idle, BodyTimeout::Idle(idle)));
        // 10 s of waiting spent, 2,000 bytes earned 2 s more: 2 s left.
        let (at, why) = deadline(t0, idle, 1000, 2000, Duration::from_secs(10));
        assert_eq!((at, why), (t0 + Duration::from_secs(2), BodyTimeout::Slow(1000)));
        // Fast bodies earn more than the idle timeout: idle decides again.
        assert_eq!(deadline(t0, idle, 1000, 1_000_000, Duration::from_secs(10)).1, BodyTimeout::Idle(idle));
        // No rate: idle only.
        assert_eq!(deadline(t0, idle, 0, 0, Duration::from_secs(1000)).1, BodyTimeout::Idle(idle));
    }

    #[test]
    fn timeouts_anywhere_in_the_chain_are_408() {
        let e = TimedError::<std::io::Error>::Timeout(BodyTimeout::Idle(Duration::from_secs(1)));
        assert_eq!(body_error_status(&e), StatusCode::REQUEST_TIMEOUT);
        let wrapped = axum::Error::new(e);
        assert_eq!(body_error_status(&wrapped), StatusCode::REQUEST_TIMEOUT);
        let other = std::io::Error::other("reset");
        assert_eq!(body_error_status(&other), StatusCode::BAD_REQUEST);
    }
}
