//! PEM files of certificates and keys, as every TLS setting of edgewatch
//! reads them (the web config's, the probes' CA file, the receiver's
//! PostgreSQL store). Errors say what is wrong, never what the file holds;
//! the caller names the setting and the path.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificates in `path`: at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(path).and_then(Iterator::collect).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".to_owned());
    }
    Ok(certs)
}

/// Adds the certificates in `path` to `roots`, as trusted CAs.
pub fn add_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    for cert in certificates(path)? {
        roots.add(cert).map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(())
}

/// The private key in `path` (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| e.to_string())
}
