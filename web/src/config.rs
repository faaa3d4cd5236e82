//! The web config file: parsed, checked, and built (certificates loaded).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    http_server_config: RawHttp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<ClientAuth>,
    min_version: Option<TlsVersion>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
enum ClientAuth {
    NoClientCert,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
enum TlsVersion {
    #[serde(rename = "TLS12")]
    Tls12,
    #[serde(rename = "TLS13")]
    Tls13,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// A loaded web config. The default serves plain HTTP without auth.
#[derive(Default)]
pub struct WebConfig {
    pub(crate) tls: Option<Tls>,
    /// User name → bcrypt hash.
    pub(crate) users: BTreeMap<String, String>,
    pub(crate) headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    /// Timeouts and caps; from flags, not from the file.
    pub(crate) limits: crate::Limits,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes stay out of logs.
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("limits", &self.limits)
            .finish()
    }
}

pub(crate) struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

/// Why a web config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}", path = path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid web config: every problem, with its place.
    #[error("{}", edgewatch_catalog::render(.0).trim_end())]
    Invalid(Vec<edgewatch_catalog::Diagnostic>),
    /// The certificates or keys it names cannot be used.
    #[error("{path}: {message}", path = path.display())]
    Tls {
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl WebConfig {
    /// Reads, checks and builds a web config file.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| WebConfigError::Read { path: path.into(), source })?;
        Self::from_yaml(&text, path)
    }

    /// Every problem with a web config's text, without loading the files it
    /// names (what `edgewatch check --web.config.file` reports).
    pub fn check(text: &str, path: &Path) -> Vec<edgewatch_catalog::Diagnostic> {
        edgewatch_catalog::service::load(path, text, problems).err().unwrap_or_default()
    }

    /// Builds from YAML text; `path` names the file in errors and anchors
    /// relative certificate paths.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, WebConfigError> {
        let raw: RawWebConfig =
            edgewatch_catalog::service::load(path, text, problems).map_err(WebConfigError::Invalid)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let mut headers = Vec::new();
        for (name, value) in &raw.http_server_config.headers {
            // Checked by `problems`: these parse.
            if let (Ok(n), Ok(v)) =
                (axum::http::HeaderName::from_bytes(name.as_bytes()), axum::http::HeaderValue::from_str(value))
            {
                headers.push((n, v));
            }
        }
        let tls = raw
            .tls_server_config
            .map(|t| build_tls(&t, base).map_err(|message| WebConfigError::Tls { path: path.into(), message }))
            .transpose()?;
        Ok(Self { tls, users: raw.basic_auth_users, headers, limits: crate::Limits::default() })
    }

    /// The same config under other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: crate::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The timeouts and caps connections are served under.
    pub fn limits(&self) -> &crate::Limits {
        &self.limits
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// What is wrong with the file as written, each as `path: message`.
fn problems(raw: &RawWebConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for (user, hash) in &raw.basic_auth_users {
        if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) || hash.len() != 60 {
            problems.push(format!(
                "basic_auth_users.{user}: expected a bcrypt hash (`$2y$...`, 60 characters), as `htpasswd -nBC 10 {user}` prints"
            ));
        }
    }
    for (name, value) in &raw.http_server_config.headers {
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(format!("http_server_config.headers: `{name}` is not a header name"));
        } else if axum::http::HeaderValue::from_str(value).is_err() {
            problems.push(format!("http_server_config.headers.{name}: not a valid header value"));
        }
    }
    if let Some(t) = &raw.tls_server_config
        && t.client_auth_type == Some(ClientAuth::RequireAndVerifyClientCert)
        && t.client_ca_file.is_none()
    {
        problems.push("tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file".to_owned());
    }
    problems
}

fn build_tls(t: &RawTls, base: &Path) -> Result<Tls, String> {
    let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let cert_file = resolve(&t.cert_file);
    let key_file = resolve(&t.key_file);
    let certs = crate::pem::certificates(&cert_file)
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert_file.display()))?;
    let key = crate::pem::private_key(&key_file)
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", key_file.display()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match (t.client_auth_type, &t.client_ca_file) {
        (Some(ClientAuth::RequireAndVerifyClientCert), Some(ca)) => {
            let ca = resolve(ca);
            let mut roots = RootCertStore::empty();
            crate::pem::add_roots(&mut roots, &ca)
                .map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca.display()))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        (Some(ClientAuth::RequireAndVerifyClientCert), None) => {
            return Err(
                "tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file".to_owned()
            );
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key do not match: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
}
