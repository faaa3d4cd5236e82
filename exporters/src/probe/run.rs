//! One run of one probe: the host is resolved once, then every address of
//! every configured family is probed at the same time on its own
//! connection: TCP connect, TLS handshake (https), request, response head,
//! body, checks. Each phase is timed; the probe's timeout bounds it all,
//! from resolving to the body's end.
//!
//! hyper's low-level HTTP/1.1 connection runs over a socket connected here,
//! rather than reqwest: a probe must pick the address itself and see where
//! the time went, which a pooled client hides.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use edgewatch_catalog::model::IpFamily;
use http_body_util::{BodyExt as _, Full};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::check::check;
use super::target::Target;
use super::tls::{Served, Trust};

/// How much of a response body is read and checked; the rest is not
/// downloaded. Health pages are small; a probe must not pull a video.
pub(crate) const BODY_LIMIT: usize = 1 << 20;

/// The phases of a probe, as `blackbox_exporter` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// DNS.
    Resolve,
    /// TCP connect.
    Connect,
    /// TLS handshake (0 for http).
    Tls,
    /// From the connection being ready to the response head.
    Processing,
    /// Reading the body.
    Transfer,
}

impl Phase {
    /// Every phase, in order; a phase's index in [`Outcome::phases`].
    pub(crate) const ALL: [Self; 5] = [Self::Resolve, Self::Connect, Self::Tls, Self::Processing, Self::Transfer];

    /// The `phase` label value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Processing => "processing",
            Self::Transfer => "transfer",
        }
    }
}

/// Why a probe of one address failed. The text is logged; it never holds a
/// request header value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("cannot resolve `{host}`: {message}")]
    Resolve { host: String, message: String },
    #[error("`{host}` has no {family} address")]
    NoAddress { host: String, family: IpFamily },
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    #[error("TLS setup: {0}")]
    TlsSetup(rustls::Error),
    #[error("HTTP: {0}")]
    Http(hyper::Error),
    #[error("timed out after {timeout:?}, in the {phase} phase")]
    Timeout { timeout: Duration, phase: &'static str },
    #[error("status {status} is not one of {expected}")]
    Status { status: u16, expected: String },
    #[error("body does not match `{0}`")]
    BodyMismatch(String),
    #[error("body matches `{0}`, which it must not")]
    BodyForbidden(String),
    #[error("response header `{0}` is missing")]
    HeaderMissing(String),
    #[error("response header `{name}` does not match `{pattern}`")]
    HeaderMismatch { name: String, pattern: String },
}

/// The result of probing one address.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The address; the family's unspecified address (`0.0.0.0`, `::`)
    /// when the name gave none to probe.
    pub(crate) ip: IpAddr,
    /// Seconds per phase, in [`Phase::ALL`] order.
    pub(crate) phases: [f64; 5],
    /// The response's status; 0 unless a response was read to its end (or
    /// to [`BODY_LIMIT`]).
    pub(crate) status: u16,
    /// `notAfter` of the leaf certificate served, unix seconds.
    pub(crate) not_after: Option<i64>,
    /// `None` on success.
    pub(crate) failure: Option<Failure>,
}

/// Runs `target` once against every address it resolves to.
pub(crate) async fn run(target: &Arc<Target>, trust: &Trust) -> Vec<Outcome> {
    let start = Instant::now();
    let deadline = start + target.timeout;
    let lookup = tokio::time::timeout_at(deadline, tokio::net::lookup_host((target.host.as_str(), target.port))).await;
    let resolve = start.elapsed().as_secs_f64();
    let unresolved = |family: IpFamily, failure: Failure| {
        let mut phases = [0.0; 5];
        phases[0] = resolve;
        Outcome { ip: unspecified(family), phases, status: 0, not_after: None, failure: Some(failure) }
    };
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            let message = e.to_string();
            return target
                .families
                .iter()
                .map(|&f| unresolved(f, Failure::Resolve { host: target.host.clone(), message: message.clone() }))
                .collect();
        }
        Err(_) => {
            return target
                .families
                .iter()
                .map(|&f| unresolved(f, Failure::Timeout { timeout: target.timeout, phase: Phase::Resolve.as_str() }))
                .collect();
        }
    };

    let mut outcomes = Vec::new();
    let mut tasks = JoinSet::new();
    for &family in &target.families {
        let mut of_family: Vec<SocketAddr> = addrs.iter().copied().filter(|a| family_of(a.ip()) == family).collect();
        of_family.sort_unstable();
        of_family.dedup();
        if of_family.is_empty() {
            outcomes.push(unresolved(family, Failure::NoAddress { host: target.host.clone(), family }));
        }
        for addr in of_family {
            tasks.spawn(probe_address(Arc::clone(target), trust.clone(), addr, resolve, deadline));
        }
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            // Only a panic gets here, and nothing in a probe panics; the
            // address simply has no result this run.
            Err(e) => {
                tracing::error!(customer = %target.customer, probe = %target.probe, error = %e, "Probe task failed.");
            }
        }
    }
    outcomes.sort_unstable_by_key(|o| o.ip);
    outcomes
}

fn family_of(ip: IpAddr) -> IpFamily {
    match ip {
        IpAddr::V4(_) => IpFamily::Ipv4,
        IpAddr::V6(_) => IpFamily::Ipv6,
    }
}

fn unspecified(family: IpFamily) -> IpAddr {
    match family {
        IpFamily::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpFamily::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Times phases: starting one ends the one before.
struct Clock {
    phases: [f64; 5],
    current: Option<(Phase, Instant)>,
}

impl Clock {
    fn start(&mut self, phase: Phase) {
        self.finish();
        self.current = Some((phase, Instant::now()));
    }

    /// Ends the running phase, and says which it was.
    fn finish(&mut self) -> Option<Phase> {
        let (phase, since) = self.current.take()?;
        if let Some(slot) = Phase::ALL.iter().position(|p| *p == phase).and_then(|i| self.phases.get_mut(i)) {
            *slot += since.elapsed().as_secs_f64();
        }
        Some(phase)
    }
}

struct Response {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn probe_address(
    target: Arc<Target>,
    trust: Trust,
    addr: SocketAddr,
    resolve: f64,
    deadline: Instant,
) -> Outcome {
    let mut clock = Clock { phases: [resolve, 0.0, 0.0, 0.0, 0.0], current: None };
    let mut served = None;
    let result = tokio::time::timeout_at(deadline, exchange(&target, &trust, addr, &mut clock, &mut served)).await;
    let (status, failure) = match result {
        Ok(Ok(r)) => (r.status, check(&target.expect, r.status, &r.headers, &r.body).err()),
        Ok(Err(failure)) => {
            clock.finish();
            (0, Some(failure))
        }
        Err(_) => {
            // The phase that ran out of time keeps the time it took.
            let phase = clock.finish().unwrap_or(Phase::Connect);
            (0, Some(Failure::Timeout { timeout: target.timeout, phase: phase.as_str() }))
        }
    };
    let not_after = served.as_deref().and_then(Served::not_after);
    Outcome { ip: addr.ip(), phases: clock.phases, status, not_after, failure }
}

/// Connects to `addr`, shakes hands for https, and makes the request.
async fn exchange(
    target: &Target,
    trust: &Trust,
    addr: SocketAddr,
    clock: &mut Clock,
    served: &mut Option<Arc<Served>>,
) -> Result<Response, Failure> {
    clock.start(Phase::Connect);
    let tcp = TcpStream::connect(addr).await.map_err(Failure::Connect)?;
    // Small writes go out at once; the request is one write anyway.
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        None => request(target, tcp, clock).await,
        Some(name) => {
            clock.start(Phase::Tls);
            let (connector, s) = trust.connector().map_err(Failure::TlsSetup)?;
            *served = Some(s);
            let tls = connector.connect(name.clone(), tcp).await.map_err(Failure::Tls)?;
            request(target, tls, clock).await
        }
    }
}

/// One HTTP/1.1 request on a ready connection; the body is read up to
/// [`BODY_LIMIT`].
async fn request<Io>(target: &Target, io: Io, clock: &mut Clock) -> Result<Response, Failure>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    clock.start(Phase::Processing);
    // Title-case header names, as most clients send them: some old servers
    // still read them case-sensitively.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Full<bytes::Bytes>>(TokioIo::new(io))
        .await
        .map_err(Failure::Http)?;
    let mut req = Request::new(Full::new(target.body.clone()));
    *req.method_mut() = target.method.clone();
    *req.uri_mut() = target.uri.clone();
    req.headers_mut().extend(target.headers.iter().map(|(k, v)| (k.clone(), v.clone())));

    let exchange = async {
        sender.ready().await.map_err(Failure::Http)?;
        let response = sender.send_request(req).await.map_err(Failure::Http)?;
        clock.start(Phase::Transfer);
        let (parts, mut body) = response.into_parts();
        let mut buf = Vec::new();
        while buf.len() < BODY_LIMIT {
            let Some(frame) = body.frame().await else { break };
            if let Ok(data) = frame.map_err(Failure::Http)?.into_data() {
                let room = BODY_LIMIT - buf.len();
                buf.extend(data.iter().take(room));
            }
        }
        clock.finish();
        Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body: buf })
    };
    // The connection is driven here, not in a spawned task, so that it ends
    // with the probe (on timeout too). Its own error reaches the request
    // above, so once it ends it only waits.
    let driver = async {
        let _ = conn.await;
        std::future::pending::<Infallible>().await
    };
    tokio::select! {
        result = exchange => result,
        never = driver => match never {},
    }
}
