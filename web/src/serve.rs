//! The accept loop and each connection's life: limits, draining, cutting.
//!
//! On shutdown the server drains: it keeps answering (so `/-/ready` can say
//! 503 and health checks still pass), refuses new work with 503, closes
//! connections as their requests end, and cuts whatever is still open when
//! the grace period is over.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use axum::response::IntoResponse as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::Service as _;

use crate::body::TimedBody;
use crate::conn::{Conn, Watched};
use crate::{ApiError, Limits, WebConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Serving,
    Draining,
    Cut,
}

struct Shared {
    limits: Limits,
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// Told when the last connection closes.
    emptied: Notify,
    work: Arc<Semaphore>,
    stage: watch::Sender<Stage>,
    next_id: AtomicU64,
    cut_log: Throttled,
    cap_log: Throttled,
    accept_log: Throttled,
    busy_log: Throttled,
}

impl Shared {
    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, id: u64) {
        let mut conns = self.conns();
        if conns.remove(&id).is_some() && conns.is_empty() {
            self.emptied.notify_one();
        }
    }

    fn stage(&self) -> Stage {
        *self.stage.borrow()
    }
}

/// Serves `router` on `listener` under the web config's TLS, auth, headers
/// and [`Limits`], until `shutdown` completes; then drains for at most the
/// grace period and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    web: &WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = crate::auth::layer(router, web);
    let tls = web.tls.as_ref().map(|t| t.acceptor.clone());
    let limits = web.limits.clone();
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        conns: Mutex::default(),
        emptied: Notify::new(),
        work: Arc::new(Semaphore::new(limits.max_in_flight)),
        stage: watch::Sender::new(Stage::Serving),
        next_id: AtomicU64::new(0),
        cut_log: Throttled::default(),
        cap_log: Throttled::default(),
        accept_log: Throttled::default(),
        busy_log: Throttled::default(),
        limits,
    });
    let accept = |accepted: std::io::Result<(TcpStream, SocketAddr)>| {
        let (shared, router, tls) = (Arc::clone(&shared), router.clone(), tls.clone());
        async move {
            match accepted {
                Ok((tcp, addr)) => start(&shared, tcp, addr, router, tls),
                Err(e) => {
                    // Out of file descriptors and the like: back off, do not spin.
                    shared.accept_log.log(|n| tracing::warn!(error = %e, also = n, "Accepting a connection failed."));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accept(accepted).await,
        }
    }

    let grace = shared.limits.shutdown_grace;
    let open = shared.conns().len();
    tracing::info!(connections = open, grace = ?grace, "Draining: new work is refused, requests in progress may finish.");
    shared.stage.send_replace(Stage::Draining);
    let end = Instant::now() + grace;
    loop {
        let emptied = shared.emptied.notified();
        if shared.conns().is_empty() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(end) => {
                let left = shared.conns().len();
                tracing::warn!(connections = left, "The grace period is over: cutting the requests still in progress.");
                break;
            }
            () = emptied => {}
            accepted = listener.accept() => accept(accepted).await,
        }
    }
    drop(listener);
    shared.stage.send_replace(Stage::Cut);
    // Every task drops its connection when told; wait for them briefly.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let emptied = shared.emptied.notified();
            if shared.conns().is_empty() {
                break;
            }
            emptied.await;
        }
    })
    .await;
    Ok(())
}

/// Registers a new connection, making room at the cap, and spawns its task.
fn start(
    shared: &Arc<Shared>,
    tcp: TcpStream,
    addr: SocketAddr,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = tcp.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(Conn::new(shared.epoch));
    {
        let mut conns = shared.conns();
        if conns.len() >= shared.limits.max_connections {
            // The connection that has waited longest without a request in
            // progress makes room: a slow or idle client cannot lock out
            // health checks and scrapes.
            let oldest = conns.iter().filter_map(|(id, c)| Some((c.waiting_since()?, *id))).min();
            let Some(evicted) = oldest.and_then(|(_, id)| conns.remove(&id)) else {
                shared.cap_log.log(|n| {
                    tracing::warn!(
                        cap = shared.limits.max_connections,
                        also = n,
                        "At the connection cap with every connection busy: refused a connection."
                    );
                });
                return;
            };
            evicted.evict.notify_one();
            shared.cap_log.log(|n| {
                tracing::warn!(
                    cap = shared.limits.max_connections,
                    also = n,
                    "At the connection cap: closed the connection that waited longest."
                );
            });
        }
        conns.insert(id, Arc::clone(&conn));
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let stage = shared.stage.subscribe();
        match tls {
            None => connection(&shared, conn, tcp, addr, router, stage).await,
            Some(acceptor) => {
                let handshake = tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(tcp));
                match handshake.await {
                    Ok(Ok(tls)) => connection(&shared, conn, tls, addr, router, stage).await,
                    Ok(Err(e)) => tracing::debug!(client = %addr, error = %e, "TLS handshake failed."),
                    Err(_) => tracing::debug!(client = %addr, "TLS handshake timed out."),
                }
            }
        }
        shared.remove(id);
    });
}

/// Serves one connection until it closes, its deadline passes, it is
/// evicted, or the server cuts it.
async fn connection<T>(
    shared: &Arc<Shared>,
    conn: Arc<Conn>,
    io: T,
    addr: SocketAddr,
    router: axum::Router,
    mut stage: watch::Receiver<Stage>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let draining = *stage.borrow_and_update() != Stage::Serving;
    let service = {
        let (shared, conn) = (Arc::clone(shared), Arc::clone(&conn));
        hyper::service::service_fn(move |req| handle(Arc::clone(&shared), Arc::clone(&conn), router.clone(), req))
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    // A connection opened while draining serves one request and closes.
    http.keep_alive(!draining).max_headers(100);
    let served = http.serve_connection(TokioIo::new(Watched { io, conn: Arc::clone(&conn) }), service);
    let mut served = std::pin::pin!(served);
    let mut graceful = draining;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %addr, error = %e, "Connection ended with an error.");
                }
                return;
            }
            why = conn.expired(&shared.limits) => {
                shared.cut_log.log(|n| tracing::info!(client = %addr, also = n, "Closed a connection: {}.", why.as_str()));
                return;
            }
            () = conn.evict.notified() => return,
            changed = stage.changed() => {
                let now = if changed.is_ok() { *stage.borrow_and_update() } else { Stage::Cut };
                match now {
                    Stage::Cut => return,
                    Stage::Draining if !graceful => {
                        graceful = true;
                        // Idle connections close now, busy ones after their response.
                        served.as_mut().graceful_shutdown();
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Every method but GET and HEAD carries work.
fn is_work(method: &Method) -> bool {
    method != Method::GET && method != Method::HEAD
}

async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    mut router: axum::Router,
    req: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    conn.busy();
    let mut permit = None;
    if is_work(req.method()) {
        if shared.stage() != Stage::Serving {
            return Ok(refuse(conn, "shutting down", 5, true));
        }
        let Ok(p) = Arc::clone(&shared.work).try_acquire_owned() else {
            shared.busy_log.log(|n| {
                tracing::warn!(
                    cap = shared.limits.max_in_flight,
                    also = n,
                    "At the cap of requests in progress: answered 503 with Retry-After."
                );
            });
            return Ok(refuse(conn, "too many requests in progress", 1, false));
        };
        permit = Some(p);
    }
    let req = req.map(|b| Body::new(TimedBody::new(b, &shared.limits)));
    let Ok(resp) = router.call(req).await;
    Ok(resp.map(|body| Tracked { body, conn, _permit: permit }))
}

/// 503 with `Retry-After`, which Logpush and Alertmanager both honour by
/// sending again.
fn refuse(conn: Arc<Conn>, why: &str, retry_after: u32, close: bool) -> Response<Tracked> {
    let mut resp = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{why}; retry after {retry_after} s"))
        .retry_after(retry_after)
        .into_response()
        .map(|body| Tracked { body, conn, _permit: None });
    if close {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A response body that marks its connection idle, and gives back its work
/// permit, once written (or dropped).
struct Tracked {
    body: Body,
    conn: Arc<Conn>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.conn.idle();
    }
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// One log line per kind of event per 10 s at most, with the number of
/// events not logged since: an attack cannot flood the log.
#[derive(Default)]
struct Throttled {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttled {
    const EVERY: Duration = Duration::from_secs(10);

    fn allow(&self) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match s.0 {
            Some(last) if now.duration_since(last) < Self::EVERY => {
                s.1 += 1;
                None
            }
            _ => {
                let skipped = std::mem::take(&mut s.1);
                s.0 = Some(now);
                Some(skipped)
            }
        }
    }

    fn log(&self, log: impl FnOnce(u64)) {
        if let Some(n) = self.allow() {
            log(n);
        }
    }
}
