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
//! with them until shutdown, under [`Limits`] (timeouts, connection and
//! work caps, the shutdown grace period) that the services set from their
//! `--web.*` flags. Every error answer of every service is an
//! [`ApiError`], one JSON shape.

mod auth;
mod body;
mod config;
mod conn;
mod error;
mod landing;
mod limits;
pub mod pem;
mod serve;

use std::future::Future;

pub use body::{BodyTimeout, body_error_status};
pub use config::{WebConfig, WebConfigError};
pub use error::ApiError;
pub use landing::{Endpoint, Landing};
pub use limits::Limits;

/// Serves `router` on `listener` with the web config's TLS, basic auth,
/// headers and limits, until `shutdown` completes. Then it drains: GET
/// requests are still answered (so `/-/ready` can say 503), other requests
/// get 503 with `Retry-After`, connections close as their requests end, and
/// what is still open after the grace period is cut. It returns when every
/// connection is closed, at most the grace period (and a second) after
/// `shutdown` completed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    web: &WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::serve(listener, router, web, shutdown).await
}
