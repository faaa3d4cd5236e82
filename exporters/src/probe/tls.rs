//! Whom probes trust (the Mozilla roots of `webpki-roots`, plus the
//! config's `probes.ca_file`), and the leaf certificate each connection was
//! served, kept even when it fails verification so that an expired
//! certificate still reports its `notAfter`.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

/// The trust every probe shares, built once.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    verifier: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl Trust {
    /// The public roots, plus every certificate in `ca_file`. The error says
    /// what is wrong with the file.
    pub(crate) fn new(ca_file: Option<&Path>) -> Result<Self, String> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = ca_file {
            edgewatch_web::pem::add_roots(&mut roots, path)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { verifier, provider })
    }

    /// A connector for one connection, and where it keeps the certificate
    /// it was served. One config per connection: the certificate must be
    /// tied to its connection, and no session is resumed, so every run
    /// measures a full handshake.
    pub(crate) fn connector(&self) -> Result<(TlsConnector, Arc<Served>), rustls::Error> {
        let served = Arc::new(Served { verifier: Arc::clone(&self.verifier), leaf: Mutex::new(None) });
        // `dangerous` only because the verifier is our own type; it defers
        // every decision to the web PKI verifier.
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&served) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((TlsConnector::from(Arc::new(config)), served))
    }
}

/// The web PKI verifier, noting the leaf certificate on the way.
#[derive(Debug)]
pub(crate) struct Served {
    verifier: Arc<WebPkiServerVerifier>,
    leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl Served {
    /// `notAfter` of the leaf certificate the server sent, in unix seconds.
    pub(crate) fn not_after(&self) -> Option<i64> {
        let leaf = self.leaf.lock().unwrap_or_else(PoisonError::into_inner);
        not_after(leaf.as_ref()?)
    }
}

/// `notAfter` of a DER certificate, in unix seconds; `None` when it does not
/// parse.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

impl ServerCertVerifier for Served {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(PoisonError::into_inner) = Some(end_entity.clone().into_owned());
        self.verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_not_after_and_extra_cas() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 6);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(not_after(cert.der()), Some(1_935_792_000), "2031-05-06T00:00:00Z");
        assert_eq!(not_after(b"not a certificate"), None);

        let dir = std::env::temp_dir().join(format!("edgewatch-probe-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        assert!(Trust::new(Some(&ca)).is_ok());
        std::fs::write(&ca, "nothing here\n").unwrap();
        assert_eq!(Trust::new(Some(&ca)).unwrap_err(), "no PEM certificate in the file");
        assert!(Trust::new(Some(&dir.join("missing.pem"))).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
