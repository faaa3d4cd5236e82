//! Limits against slow and careless clients, over raw sockets: what each
//! gets, how long it took, and that normal requests are served meanwhile.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::IntoResponse as _;
use edgewatch_web::{Limits, WebConfig, body_error_status};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(limits: Limits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/-/healthy", axum::routing::get(|| async { "ok" })).route(
        "/echo",
        axum::routing::post(|body: Body| async move {
            match axum::body::to_bytes(body, 1 << 20).await {
                Ok(b) => format!("{} bytes", b.len()).into_response(),
                Err(e) => (body_error_status(&e), e.to_string()).into_response(),
            }
        }),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let web = WebConfig::default().with_limits(limits);
    let done = tokio::spawn(async move {
        edgewatch_web::serve(listener, router, &web, async move {
            let _ = rx.await;
        })
        .await
    });
    Server { addr, stop: Some(tx), done }
}

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3),
        body_idle_timeout: Duration::from_secs(1),
        min_body_rate: 1000,
        max_connections: 64,
        max_in_flight: 8,
        shutdown_grace: Duration::from_secs(1),
    }
}

/// One response off `s`: status, head and body (by Content-Length).
async fn response(s: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed inside a body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let status = head[9..12].parse().unwrap();
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return (status, head, body);
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before a response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits for the server to close `s`, returning how long that took.
async fn closed(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

/// A health check on a new connection, answered quickly.
async fn healthy(addr: SocketAddr) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let (status, _, body) = response(&mut s).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(start.elapsed() < Duration::from_millis(500), "health took {:?}", start.elapsed());
}

fn between(d: Duration, lo: f64, hi: f64) {
    assert!(d.as_secs_f64() >= lo && d.as_secs_f64() <= hi, "took {d:?}, expected {lo}..{hi} s");
}

#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let server = serve(limits()).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /-/heal").await.unwrap();
    healthy(server.addr).await;
    // A connection that sends nothing at all owes its head just the same.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    between(closed(&mut slow).await, 0.8, 2.0);
    between(closed(&mut silent).await, 0.0, 2.0);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_waits_for_the_idle_timeout_not_the_header_one() {
    let server = serve(limits()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    assert_eq!(response(&mut s).await.0, 200);
    // Longer than the header timeout, shorter than the idle one: still open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    assert_eq!(response(&mut s).await.0, 200);
    between(closed(&mut s).await, 2.8, 4.5);
}

#[tokio::test]
async fn a_body_that_stops_gets_408() {
    let server = serve(limits()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789").await.unwrap();
    healthy(server.addr).await;
    let (status, head, body) = response(&mut s).await;
    assert_eq!(status, 408, "{head}\n{body}");
    assert!(body.contains("no part of the request body arrived"), "{body}");
    between(start.elapsed(), 0.8, 2.0);
}

#[tokio::test]
async fn a_chunked_body_that_trickles_below_the_minimum_rate_gets_408() {
    let server = serve(limits()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
    // A line every 200 ms never trips the idle timeout (1 s), but 100 bytes
    // per 200 ms is half the minimum rate.
    let writer = async {
        loop {
            let line = format!("64\r\n{}\n\r\n", "x".repeat(99));
            if s.write_all(line.as_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if start.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(4), writer).await.ok();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "still sending after {took:?}");
    let (status, _, body) = response(&mut s).await;
    assert_eq!(status, 408);
    assert!(body.contains("slower than 1000 bytes/s"), "{body}");
    between(took, 1.5, 3.5);
}

#[tokio::test]
async fn a_fast_body_is_read_whole() {
    let server = serve(limits()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let body = vec![b'x'; 200_000];
    s.write_all(format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(&body).await.unwrap();
    let (status, _, reply) = response(&mut s).await;
    assert_eq!((status, reply.as_str()), (200, "200000 bytes"));
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_waiting_connection_makes_room() {
    let server = serve(Limits { max_connections: 4, header_timeout: Duration::from_secs(30), ..limits() }).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    healthy(server.addr).await;
    // The first one was evicted at once, not after the header timeout.
    between(closed(&mut idle[0]).await, 0.0, 0.5);
}

#[tokio::test]
async fn past_the_work_cap_posts_get_503_with_retry_after_and_gets_are_served() {
    let server = serve(Limits { max_in_flight: 2, body_idle_timeout: Duration::from_secs(2), ..limits() }).await;
    let mut holding = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n").await.unwrap();
        holding.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    extra.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc").await.unwrap();
    let (status, head, _) = response(&mut extra).await;
    assert_eq!(status, 503);
    assert!(head.to_ascii_lowercase().contains("retry-after: 1"), "{head}");
    assert!(start.elapsed() < Duration::from_millis(500));
    healthy(server.addr).await;
    // The holders time out; then work is taken again.
    for s in &mut holding {
        assert_eq!(response(s).await.0, 408);
    }
    let mut next = TcpStream::connect(server.addr).await.unwrap();
    next.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc").await.unwrap();
    assert_eq!(response(&mut next).await.0, 200);
}

#[tokio::test]
async fn shutdown_drains_for_the_grace_period_then_cuts() {
    let mut server = serve(Limits {
        shutdown_grace: Duration::from_secs(2),
        body_idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    // A kept-alive idle connection, a request that finishes within the
    // grace period, and one that never does.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    assert_eq!(response(&mut idle).await.0, 200);
    let mut finishing = TcpStream::connect(server.addr).await.unwrap();
    finishing.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc").await.unwrap();
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let start = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    between(closed(&mut idle).await, 0.0, 0.5);
    // Still answering: GET is served, new work refused with Retry-After.
    healthy(server.addr).await;
    let mut late = TcpStream::connect(server.addr).await.unwrap();
    late.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc").await.unwrap();
    let (status, head, _) = response(&mut late).await;
    assert_eq!(status, 503);
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
    // The request in progress finishes within the grace period.
    finishing.write_all(b"def").await.unwrap();
    let (status, head, body) = response(&mut finishing).await;
    assert_eq!((status, body.as_str()), (200, "6 bytes"), "{head}");
    // The stuck one is cut at the end of the grace period, and serve returns.
    closed(&mut stuck).await;
    between(start.elapsed(), 1.8, 3.2);
    tokio::time::timeout(Duration::from_secs(2), &mut server.done).await.unwrap().unwrap().unwrap();
    between(start.elapsed(), 1.8, 3.2);
}
