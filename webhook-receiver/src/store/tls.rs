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
//! the probes trust. The URL is checked when the config is (pure); the
//! file is read when the store is opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
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
}

impl Tls {
    /// The TLS `url` asks for, and `url` without the parameters only libpq
    /// knows (`sslrootcert`, and `sslmode`'s `verify-` values), which the
    /// PostgreSQL client would refuse; its own `sslmode` is set from it.
    pub(crate) fn from_url(url: &url::Url) -> Result<(Self, url::Url), String> {
        let mut mode = Mode::Prefer;
        let mut root_cert = None;
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
                _ => kept.push((name.into_owned(), value.into_owned())),
            }
        }
        if root_cert.is_some() && matches!(mode, Mode::Disable | Mode::Prefer) {
            return Err("sslrootcert is given, but sslmode does not check certificates; \
                 use sslmode=verify-full (or verify-ca)"
                .to_owned());
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
        Ok((Self { mode, root_cert }, rest))
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
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier { webpki, checks }))
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// The roots in `file`, or the public ones.
fn roots(file: Option<&Path>) -> Result<RootCertStore, String> {
    let Some(path) = file else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let at = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| format!("sslrootcert `{at}`: {e}"))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert `{at}`: no PEM certificate in the file"));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| format!("sslrootcert `{at}`: not a usable CA certificate: {e}"))?;
    }
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
            assert_eq!(tls, Tls { mode, root_cert: root.map(PathBuf::from) }, "{query}");
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
        for (file, says) in [(dir.join("missing.pem"), "missing.pem`: "), (empty, "no PEM certificate in the file")] {
            let tls = Tls { mode: Mode::VerifyFull, root_cert: Some(file) };
            let e = tls.connector().err().unwrap();
            assert!(e.starts_with("sslrootcert `") && e.contains(says), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
