//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` in the
//! `store:` URL say, so that a URL copied from a database's console means
//! what it meant there:
//!
//! - `disable`: never.
//! - `prefer` (libpq's default, and so ours): TLS when the server offers
//!   it, without checking its certificate; plain otherwise.
//! - `require`: TLS or no connection, the certificate unchecked, unless
//!   `sslrootcert` is given: then as `verify-ca` (libpq does the same).
//! - `verify-ca`: the certificate must chain to a trusted root.
//! - `verify-full`: and name the host connected to.
//!
//! Trusted roots are those of the `sslrootcert` PEM file, or without one
//! (or with `sslrootcert=system`) the public roots of `webpki-roots`, as
//! the probes trust. `sslcert` and `sslkey` name a client certificate (PEM
//! chain) and its key, for servers that log in by certificate. The URL is
//! checked when the config is (pure); the files are read when the store is
//! opened, and only their paths are ever said.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, the values PostgreSQL's own clients take but `allow`
/// (plain first, TLS only if refused: no client library but libpq has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How the store's connections are protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    pub mode: Mode,
    /// `sslrootcert`: the PEM file of the roots to trust (`None`: the public
    /// roots).
    pub root_cert: Option<PathBuf>,
    /// `sslcert` and `sslkey`: the client certificate chain and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl Tls {
    /// The TLS `url` asks for, and `url` without the parameters only libpq
    /// knows (`sslrootcert`, `sslcert`, `sslkey`, and `sslmode`'s `verify-`
    /// values), which the PostgreSQL client would refuse; its own `sslmode`
    /// is set from it.
    pub(crate) fn from_url(url: &url::Url) -> Result<(Self, url::Url), String> {
        let mut mode = Mode::Prefer;
        let mut root_cert = None;
        let (mut cert, mut key) = (None, None);
        let mut kept = Vec::new();
        for (name, value) in url.query_pairs() {
            match &*name {
                "sslmode" => {
                    mode = match &*value {
                        "disable" => Mode::Disable,
                        "prefer" => Mode::Prefer,
                        "require" => Mode::Require,
                        "verify-ca" => Mode::VerifyCa,
                        "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
                            ));
                        }
                    };
                }
                "sslrootcert" if value == "system" => root_cert = None,
                "sslrootcert" if value.is_empty() => return Err("sslrootcert is empty".to_owned()),
                "sslrootcert" => root_cert = Some(PathBuf::from(&*value)),
                "sslcert" | "sslkey" if value.is_empty() => return Err(format!("{name} is empty")),
                "sslcert" => cert = Some(PathBuf::from(&*value)),
                "sslkey" => key = Some(PathBuf::from(&*value)),
                _ => kept.push((name.into_owned(), value.into_owned())),
            }
        }
        if root_cert.is_some() && matches!(mode, Mode::Disable | Mode::Prefer) {
            return Err("sslrootcert is given, but sslmode does not check certificates; \
                 use sslmode=verify-full (or verify-ca)"
                .to_owned());
        }
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("sslcert and sslkey go together: the certificate and its key".to_owned()),
        };
        if client.is_some() && mode == Mode::Disable {
            return Err("sslcert is given, but sslmode=disable sends no certificate".to_owned());
        }
        if mode == Mode::Require && root_cert.is_some() {
            mode = Mode::VerifyCa;
        }
        let client_mode = match mode {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => "require",
        };
        kept.push(("sslmode".to_owned(), client_mode.to_owned()));
        let mut rest = url.clone();
        rest.query_pairs_mut().clear().extend_pairs(kept);
        Ok((Self { mode, root_cert, client }, rest))
    }

    /// The connector for every connection of the store: reads the roots.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let checks = match self.mode {
            Mode::Disable | Mode::Prefer | Mode::Require => Checks::Nothing,
            Mode::VerifyCa => Checks::Chain,
            Mode::VerifyFull => Checks::ChainAndName,
        };
        // Unchecked, the roots only serve to check the handshake's signatures.
        let roots = if checks == Checks::Nothing { roots(None)? } else { roots(self.root_cert.as_deref())? };
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| e.to_string())?;
        // `dangerous` because the verifier is our own type; it defers to the
        // web PKI verifier but for what `sslmode` leaves unchecked.
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier { webpki, checks }));
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert_file, key_file)) => {
                let (chain, key) = client_cert(cert_file, key_file)?;
                let mismatch = |e| format!("sslkey `{}`: {e}", key_file.display());
                builder.with_client_auth_cert(chain, key).map_err(mismatch)?
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// The client certificate chain in `cert` and its key in `key`; errors
/// name the file, never what it holds.
fn client_cert(cert: &Path, key: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = edgewatch_web::pem::certificates(cert).map_err(|e| format!("sslcert `{}`: {e}", cert.display()))?;
    let key = edgewatch_web::pem::private_key(key).map_err(|e| format!("sslkey `{}`: {e}", key.display()))?;
    Ok((chain, key))
}

/// The roots in `file`, or the public ones.
fn roots(file: Option<&Path>) -> Result<RootCertStore, String> {
    let Some(path) = file else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let mut roots = RootCertStore::empty();
    edgewatch_web::pem::add_roots(&mut roots, path).map_err(|e| format!("sslrootcert `{}`: {e}", path.display()))?;
    Ok(roots)
}

/// What of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// libpq's `prefer` and `require`: encrypted, not authenticated.
    Nothing,
    /// `verify-ca`.
    Chain,
    /// `verify-full`.
    ChainAndName,
}

/// The web PKI's verdict, less what `checks` leaves out. The handshake's
/// signatures are checked whatever `checks` says.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    checks: Checks,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.checks == Checks::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.checks == Checks::Chain => Ok(ServerCertVerified::assertion()),
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<(Tls, String), String> {
        let (tls, rest) = Tls::from_url(&url::Url::parse(url).unwrap())?;
        Ok((tls, rest.to_string()))
    }

    #[test]
    fn sslmode_and_sslrootcert_mean_what_they_mean_to_libpq() {
        let base = "postgres://edgewatch@db/edgewatch";
        let cases = [
            ("", Mode::Prefer, None),
            ("?sslmode=disable", Mode::Disable, None),
            ("?sslmode=require", Mode::Require, None),
            ("?sslmode=require&sslrootcert=/etc/ca.pem", Mode::VerifyCa, Some("/etc/ca.pem")),
            ("?sslmode=verify-ca&sslrootcert=/etc/ca.pem", Mode::VerifyCa, Some("/etc/ca.pem")),
            ("?sslmode=verify-full", Mode::VerifyFull, None),
            ("?sslmode=verify-full&sslrootcert=system", Mode::VerifyFull, None),
        ];
        for (query, mode, root) in cases {
            let (tls, rest) = parse(&format!("{base}{query}")).unwrap();
            assert_eq!(tls, Tls { mode, root_cert: root.map(PathBuf::from), client: None }, "{query}");
            // What the PostgreSQL client is given parses, and keeps the rest.
            let client: postgres::Config = rest.parse().unwrap();
            assert_eq!(client.get_dbname(), Some("edgewatch"), "{query}");
            let client_mode = if mode == Mode::Disable {
                postgres::config::SslMode::Disable
            } else if mode == Mode::Prefer {
                postgres::config::SslMode::Prefer
            } else {
                postgres::config::SslMode::Require
            };
            assert_eq!(client.get_ssl_mode(), client_mode, "{query}");
        }
        let (tls, _) = parse(&format!("{base}?sslmode=verify-full&sslcert=/c.pem&sslkey=/c.key")).unwrap();
        assert_eq!(tls.client, Some((PathBuf::from("/c.pem"), PathBuf::from("/c.key"))));
        let (_, rest) = parse(&format!("{base}?connect_timeout=3&sslmode=verify-full")).unwrap();
        assert_eq!(rest, format!("{base}?connect_timeout=3&sslmode=require"));
    }

    #[test]
    fn what_libpq_would_not_do_is_refused_saying_why() {
        let base = "postgres://edgewatch@db/edgewatch";
        for (query, says) in [
            ("?sslmode=allow", "sslmode `allow` is not one of"),
            ("?sslmode=verify_full", "sslmode `verify_full` is not one of"),
            ("?sslrootcert=/etc/ca.pem", "sslrootcert is given, but sslmode does not check"),
            ("?sslmode=disable&sslrootcert=/etc/ca.pem", "sslrootcert is given, but sslmode does not check"),
            ("?sslmode=verify-full&sslrootcert=", "sslrootcert is empty"),
            ("?sslmode=verify-full&sslcert=/c.pem", "sslcert and sslkey go together"),
            ("?sslmode=verify-full&sslkey=/c.key", "sslcert and sslkey go together"),
            ("?sslmode=verify-full&sslcert=&sslkey=/c.key", "sslcert is empty"),
            ("?sslmode=disable&sslcert=/c.pem&sslkey=/c.key", "sslmode=disable sends no certificate"),
        ] {
            let e = parse(&format!("{base}{query}")).unwrap_err();
            assert!(e.contains(says), "{query}: {e}");
        }
    }

    #[test]
    fn a_root_file_that_is_missing_or_holds_no_certificate_is_named() {
        let dir = std::env::temp_dir().join(format!("edgewatch-pg-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for (file, says) in
            [(dir.join("missing.pem"), "missing.pem`: "), (empty.clone(), "no PEM certificate in the file")]
        {
            let tls = Tls { mode: Mode::VerifyFull, root_cert: Some(file), client: None };
            let e = tls.connector().err().unwrap();
            assert!(e.starts_with("sslrootcert `") && e.contains(says), "{e}");
        }
        // A client certificate's files likewise; the key's content is never said.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["edgewatch".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_file, key_file) = (dir.join("client.pem"), dir.join("client.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        // Another certificate's key.
        let other_key = dir.join("other.key");
        std::fs::write(&other_key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
        for (client, says) in [
            ((dir.join("gone.pem"), key_file.clone()), "sslcert `"),
            ((empty, key_file.clone()), "sslcert `"),
            ((cert_file.clone(), dir.join("gone.key")), "sslkey `"),
            ((cert_file.clone(), cert_file.clone()), "sslkey `"),
            ((cert_file.clone(), other_key), "sslkey `"),
        ] {
            let tls = Tls { mode: Mode::Require, root_cert: None, client: Some(client) };
            let e = tls.connector().err().unwrap();
            assert!(e.starts_with(says), "{e}");
            assert!(!e.contains("PRIVATE KEY"), "{e}");
        }
        let tls = Tls { mode: Mode::Require, root_cert: None, client: Some((cert_file, key_file)) };
        assert!(tls.connector().is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
