//! What makes a probe succeed: its response against the probe's `expect`
//! (status, body patterns, header patterns), checked in that order; the
//! first miss is the reason given.

use edgewatch_catalog::model::Expect;
use hyper::HeaderMap;

use super::run::Failure;

/// `Ok` when the response meets every expectation.
pub(crate) fn check(expect: &Expect, status: u16, headers: &HeaderMap, body: &[u8]) -> Result<(), Failure> {
    if !expect.status.iter().any(|m| m.matches(status)) {
        let expected: Vec<String> = expect.status.iter().map(ToString::to_string).collect();
        return Err(Failure::Status { status, expected: expected.join(", ") });
    }
    if expect.body_matches.is_some() || expect.body_not_matches.is_some() {
        // Patterns are text; a body that is not UTF-8 is matched with its
        // invalid bytes replaced, as blackbox_exporter's Go regexps see it.
        let text = String::from_utf8_lossy(body);
        if let Some(p) = &expect.body_matches
            && !p.regex().is_match(&text)
        {
            return Err(Failure::BodyMismatch(p.regex().as_str().to_owned()));
        }
        if let Some(p) = &expect.body_not_matches
            && p.regex().is_match(&text)
        {
            return Err(Failure::BodyForbidden(p.regex().as_str().to_owned()));
        }
    }
    for (name, pattern) in &expect.headers {
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(Failure::HeaderMissing(name.clone()));
        }
        // A header sent several times passes when one of its values matches.
        if !values.any(|v| pattern.regex().is_match(&String::from_utf8_lossy(v.as_bytes()))) {
            return Err(Failure::HeaderMismatch { name: name.clone(), pattern: pattern.regex().as_str().to_owned() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn expect(yaml: &str) -> Expect {
        let yaml = format!(
            "customers:\n  - id: acme\n    hosts: [www.acme.example]\n    probes:\n      - name: p\n        url: https://www.acme.example/\n        expect: {yaml}\n"
        );
        edgewatch_catalog::load_str("catalog.yaml", &yaml).unwrap().catalog.customers[0].probes[0].expect.clone()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn status_codes_and_classes() {
        let e = expect("{}");
        assert!(check(&e, 200, &HeaderMap::new(), b"").is_ok(), "2xx by default");
        assert!(check(&e, 204, &HeaderMap::new(), b"").is_ok());
        let err = check(&e, 301, &HeaderMap::new(), b"").unwrap_err();
        assert_eq!(err.to_string(), "status 301 is not one of 2xx", "redirects are not followed, so 3xx fails");
        let e = expect("{status: [200, 404, 5xx]}");
        for ok in [200, 404, 500, 599] {
            assert!(check(&e, ok, &HeaderMap::new(), b"").is_ok(), "{ok}");
        }
        for bad in [0, 201, 403, 499] {
            assert!(matches!(check(&e, bad, &HeaderMap::new(), b""), Err(Failure::Status { .. })), "{bad}");
        }
    }

    #[test]
    fn body_patterns() {
        let e = expect(r#"{body_matches: "<title>ACME", body_not_matches: "(?i)maintenance"}"#);
        let none = HeaderMap::new();
        assert!(check(&e, 200, &none, b"<html><title>ACME Retail</title>").is_ok());
        assert!(matches!(check(&e, 200, &none, b"<title>Other</title>"), Err(Failure::BodyMismatch(_))));
        assert!(matches!(
            check(&e, 200, &none, b"<title>ACME</title> down for MAINTENANCE"),
            Err(Failure::BodyForbidden(_))
        ));
        assert!(check(&e, 200, &none, b"\xff\xfe<title>ACME").is_ok(), "invalid UTF-8 does not hide a match");
        // The status is checked first, and is the reason given.
        assert!(matches!(check(&e, 500, &none, b""), Err(Failure::Status { .. })));
    }

    #[test]
    fn header_patterns() {
        let e = expect(r#"{headers: {Content-Type: "^application/json"}}"#);
        assert!(check(&e, 200, &headers(&[("content-type", "application/json; charset=utf-8")]), b"").is_ok());
        let err = check(&e, 200, &headers(&[("content-type", "text/html")]), b"").unwrap_err();
        assert_eq!(err.to_string(), "response header `content-type` does not match `^application/json`");
        let err = check(&e, 200, &HeaderMap::new(), b"").unwrap_err();
        assert_eq!(err.to_string(), "response header `content-type` is missing");
        let twice = headers(&[("content-type", "text/html"), ("content-type", "application/json")]);
        assert!(check(&e, 200, &twice, b"").is_ok(), "one matching value is enough");
    }
}
