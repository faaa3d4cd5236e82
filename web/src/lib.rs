//! How edgewatch's services serve HTTP.
//!
//! Every service (the exporter now, the receiver next) takes Prometheus'
//! `--web.listen-address` and `--web.config.file`. The web config file has
//! exporter-toolkit's format, so the files people already keep for
//! `node_exporter` work unchanged:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/edgewatch/tls.crt
//!   key_file: /etc/edgewatch/tls.key
//!   client_ca_file: /etc/edgewatch/clients.pem   # optional
//!   client_auth_type: RequireAndVerifyClientCert  # or NoClientCert
//!   min_version: TLS13                            # or TLS12 (default)
//! basic_auth_users:
//!   prometheus: $2y$10$...                        # bcrypt hash
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! ```
//!
//! Basic auth and headers apply to every endpoint. [`serve`] runs a router
//! with them until shutdown.

mod auth;
mod config;
mod landing;
mod tls;

use std::future::Future;

pub use config::{WebConfig, WebConfigError};
pub use landing::{Endpoint, Landing};

/// Serves `router` on `listener` with the web config's TLS, basic auth and
/// headers, until `shutdown` completes; then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    web: &WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = auth::layer(router, web);
    match &web.tls {
        None => axum::serve(listener, router).with_graceful_shutdown(shutdown).await,
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls.acceptor.clone());
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await
        }
    }
}
