//! A catalog probe made ready to run: the request is assembled once, at
//! build, with its secrets read, so a run only clones it.

use std::time::Duration;

use bytes::Bytes;
use edgewatch_catalog::model::{Expect, HeaderValue as CatalogValue, HttpMethod, IpFamily, Probe};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use rustls_pki_types::ServerName;

use crate::BuildError;

/// What the prober says it is, unless a probe sets its own `User-Agent`.
pub(crate) const USER_AGENT: &str = concat!("edgewatch-prober/", env!("CARGO_PKG_VERSION"));

/// One probe of one customer, ready to run.
///
/// `Debug` shows no secret: secret header values are marked sensitive, and
/// `http` prints those as `Sensitive`.
#[derive(Debug)]
pub(crate) struct Target {
    /// The customer's catalog id (the `customer` label).
    pub(crate) customer: String,
    /// The probe's name (the `probe` label).
    pub(crate) probe: String,
    /// This probe's place in [`super::Metrics`].
    pub(crate) index: usize,
    pub(crate) method: Method,
    /// The name to resolve, or an address (IPv6 without brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The TLS server name (SNI and certificate check) for `https`; `None`
    /// for `http`.
    pub(crate) tls: Option<ServerName<'static>>,
    /// Path and query: the origin-form request target HTTP/1.1 sends.
    pub(crate) uri: Uri,
    /// Every request header, `Host` and `User-Agent` included.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    pub(crate) expect: Expect,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) families: Vec<IpFamily>,
}

impl Target {
    /// Reads the probe's secrets through `env` and checks that every part of
    /// the request can go on the wire.
    pub(crate) fn build(
        customer: &str,
        probe: &Probe,
        index: usize,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        let invalid = |message: String| BuildError::Probe {
            customer: customer.to_owned(),
            probe: probe.name.to_string(),
            message,
        };
        let url = probe.url.url();
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(invalid(format!("URL `{url}` has no host"))),
        };
        let port = url.port_or_known_default().ok_or_else(|| invalid(format!("URL `{url}` has no port")))?;
        let tls = match url.scheme() {
            "https" => Some(
                ServerName::try_from(host.as_str())
                    .map_err(|e| invalid(format!("`{host}` is not a TLS server name: {e}")))?
                    .to_owned(),
            ),
            _ => None,
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let uri: Uri = target.parse().map_err(|e| invalid(format!("request target `{target}`: {e}")))?;

        let mut headers = Vec::with_capacity(probe.headers.len() + 3);
        for (name, value) in &probe.headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not an HTTP header name")))?;
            let value = match value {
                CatalogValue::Plain(v) => HeaderValue::from_str(v)
                    .map_err(|_| invalid(format!("header `{name}`: the value cannot be sent in HTTP")))?,
                CatalogValue::Secret(r) => {
                    let secret = r.resolve(env).map_err(|source| BuildError::ProbeSecret {
                        customer: customer.to_owned(),
                        probe: probe.name.to_string(),
                        header: name.clone(),
                        source,
                    })?;
                    // The value is never repeated: it is the secret.
                    let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| {
                        invalid(format!("header `{name}`: the secret {r} holds characters HTTP cannot send"))
                    })?;
                    v.set_sensitive(true);
                    v
                }
            };
            headers.push((header_name, value));
        }
        let has = |headers: &[(HeaderName, HeaderValue)], h: &HeaderName| headers.iter().any(|(n, _)| n == h);
        // A probe may set its own Host (to test one virtual host on another
        // name's addresses); otherwise it is the URL's, as a browser sends it.
        if !has(&headers, &header::HOST) {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => host.clone(),
            };
            let value = HeaderValue::from_str(&authority)
                .map_err(|_| invalid(format!("`{authority}` is not a Host header")))?;
            headers.push((header::HOST, value));
        }
        if !has(&headers, &header::USER_AGENT) {
            headers.push((header::USER_AGENT, HeaderValue::from_static(USER_AGENT)));
        }
        // One request per connection: each run measures a fresh connect and
        // handshake, as a first-time visitor sees them.
        if !has(&headers, &header::CONNECTION) {
            headers.push((header::CONNECTION, HeaderValue::from_static("close")));
        }

        Ok(Self {
            customer: customer.to_owned(),
            probe: probe.name.to_string(),
            index,
            method: method(probe.method),
            host,
            port,
            tls,
            uri,
            headers,
            body: probe.body.clone().map(Bytes::from).unwrap_or_default(),
            expect: probe.expect.clone(),
            // `tokio::time::interval` refuses zero; the catalog allows 1s and up.
            interval: probe.interval.to_std().max(Duration::from_millis(1)),
            timeout: probe.timeout.to_std(),
            families: probe.ip_families.clone(),
        })
    }
}

fn method(m: HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Options => Method::OPTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(yaml_probe: &str) -> Probe {
        let yaml =
            format!("customers:\n  - id: acme\n    hosts: [www.acme.example]\n    probes:\n      - {yaml_probe}\n");
        edgewatch_catalog::load_str("catalog.yaml", &yaml).unwrap().catalog.customers[0].probes[0].clone()
    }

    #[test]
    fn request_parts_come_from_the_url() {
        let p = probe("{name: home, url: 'https://www.acme.example:8443/a/b?x=1#frag', method: POST, body: hi}");
        let t = Target::build("acme", &p, 0, &|_| None).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.uri.to_string().as_str()), ("www.acme.example", 8443, "/a/b?x=1"));
        assert_eq!(t.method, Method::POST);
        assert!(t.tls.is_some());
        let get = |h: HeaderName| t.headers.iter().find(|(n, _)| *n == h).map(|(_, v)| v.to_str().unwrap());
        assert_eq!(get(header::HOST), Some("www.acme.example:8443"));
        assert_eq!(get(header::USER_AGENT), Some(USER_AGENT));
        assert_eq!(&t.body[..], b"hi");

        let p = probe("{name: v6, url: 'http://[2001:db8::1]/', headers: {User-Agent: mine, Host: other.example}}");
        let t = Target::build("acme", &p, 0, &|_| None).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls.is_none()), ("2001:db8::1", 80, true));
        let agents: Vec<_> = t.headers.iter().filter(|(n, _)| n == header::USER_AGENT).collect();
        assert_eq!(agents.len(), 1, "the probe's own User-Agent wins");
        assert!(t.headers.iter().any(|(n, v)| n == header::HOST && v == "other.example"));
    }

    #[test]
    fn secrets_are_read_once_and_never_shown() {
        let p = probe("{name: api, url: 'https://www.acme.example/', headers: {Authorization: env:TOKEN}}");
        let env = |k: &str| (k == "TOKEN").then(|| "Bearer hunter2".to_owned());
        let t = Target::build("acme", &p, 0, &env).unwrap();
        assert!(t.headers.iter().any(|(n, v)| n == header::AUTHORIZATION && v == "Bearer hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"), "{t:?}");

        let err = Target::build("acme", &p, 0, &|_| None).unwrap_err().to_string();
        assert!(err.contains("acme") && err.contains("`api`") && err.contains("TOKEN"), "{err}");
        let bad = |k: &str| (k == "TOKEN").then(|| "hunter2\nX-Evil: 1".to_owned());
        let err = Target::build("acme", &p, 0, &bad).unwrap_err().to_string();
        assert!(err.contains("Authorization") && !err.contains("hunter2"), "{err}");
    }
}
