//! `--web.config.file`: basic auth, headers and TLS, over real sockets.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edgewatch_web::{WebConfig, WebConfigError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgewatch-web-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn serve(web: WebConfig) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/metrics", axum::routing::get(|| async { "ok\n" }));
    tokio::spawn(async move { edgewatch_web::serve(listener, router, &web, std::future::pending()).await });
    addr
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint_and_headers_are_added() {
    // Cost 4 keeps the test fast; production hashes use 10 or more.
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let yaml = format!(
        "basic_auth_users:\n  prometheus: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    );
    let addr = serve(WebConfig::from_yaml(&yaml, Path::new("web.yml")).unwrap()).await;
    let client = edgewatch_test_kit::http_client();
    let get = |user: Option<(&str, &str)>| {
        let mut req = client.get(format!("http://{addr}/metrics"));
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    let none = get(None).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Basic realm=\"edgewatch\"");
    assert_eq!(none.headers()["x-frame-options"], "deny");
    assert_eq!(get(Some(("prometheus", "wrong"))).await.unwrap().status(), 401);
    assert_eq!(get(Some(("nobody", "s3cret"))).await.unwrap().status(), 401);
    let ok = get(Some(("prometheus", "s3cret"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-frame-options"], "deny");
    assert_eq!(ok.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn tls_with_certificate_files_relative_to_the_config() {
    let dir = temp_dir("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  min_version: TLS13\n",
    )
    .unwrap();
    let web = WebConfig::load(&dir.join("web.yml")).unwrap();
    assert!(web.is_tls());
    let addr = serve(web).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("ok\n"), "{response}");

    // Plain HTTP to a TLS port gets no answer but a closed connection.
    let plain = edgewatch_test_kit::http_client().get(format!("http://{addr}/metrics")).send().await;
    assert!(plain.is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mistakes_are_named() {
    let err = WebConfig::from_yaml("basic_auth_users:\n  alice: hunter2\n", Path::new("web.yml")).unwrap_err();
    assert!(matches!(err, WebConfigError::Invalid { .. }));
    let text = err.to_string();
    assert!(text.contains("basic_auth_users.alice") && text.contains("htpasswd"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let err = WebConfig::from_yaml(
        "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
        Path::new("web.yml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cert_file /nonexistent.crt"), "{err}");

    let err =
        WebConfig::from_yaml("tls_server_config:\n  cert_fle: x\n", Path::new("web.yml")).unwrap_err().to_string();
    assert!(err.starts_with("web.yml:2:3: ") && err.contains("unknown field `cert_fle`"), "{err}");
}
