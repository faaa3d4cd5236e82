//! `probes:` — synthetic requests a customer wants made on a schedule.

use std::collections::BTreeMap;

use crate::decode::{At, Cx, Decode, fields};
use crate::model::{HeaderValue, HttpMethod};
use crate::path::YamlPath;
use crate::raw::profile::{IpFamily, ip_families, probe_interval, probe_timeout};
use crate::types::duration::Duration;
use crate::types::ident::Slug;
use crate::types::secret::SecretRef;
use crate::types::status::StatusMatcher;
use crate::types::text::{HttpUrl, Pattern};
use crate::yaml::{Anchor, Value};

/// Request headers whose values are credentials, so must be secret references.
const SENSITIVE_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"];

#[derive(Debug, Clone)]
pub(crate) struct RawProbe {
    pub(crate) name: Option<At<Slug>>,
    pub(crate) url: Option<HttpUrl>,
    pub(crate) method: Option<HttpMethod>,
    pub(crate) headers: BTreeMap<String, HeaderValue>,
    pub(crate) body: Option<String>,
    pub(crate) expect: RawExpect,
    pub(crate) interval: Option<At<Duration>>,
    pub(crate) timeout: Option<At<Duration>>,
    pub(crate) ip_families: Option<Vec<IpFamily>>,
}

impl Decode for RawProbe {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(
            v,
            path,
            cx,
            "probe",
            &["name", "url", "method", "headers", "body", "expect", "interval", "timeout", "ip_families"],
        )?;
        let mut headers = BTreeMap::new();
        if let Some(Value::Mapping(m)) = f.get("headers") {
            for (k, v) in m {
                let Value::String(name) = k else {
                    cx.type_error(&f.path("headers"), "header names", k);
                    continue;
                };
                let p = f.path("headers").key(name);
                if !is_header_name(name) {
                    cx.error(&p, Anchor::Key, format!("`{name}` is not a valid HTTP header name"));
                    continue;
                }
                let sensitive = SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str());
                let is_ref = matches!(v, Value::String(s) if s.starts_with("env:") || s.starts_with("file:"));
                let value = if sensitive || is_ref {
                    SecretRef::decode(v, &p, cx).map(HeaderValue::Secret)
                } else {
                    String::decode(v, &p, cx).map(HeaderValue::Plain)
                };
                if let Some(value) = value {
                    headers.insert(name.clone(), value);
                }
            }
        } else if let Some(other) = f.get("headers") {
            cx.type_error(&f.path("headers"), "a mapping of header names to values", other);
        }
        Some(Self {
            name: f.req("name", cx),
            url: f.req("url", cx),
            method: f.opt("method", cx),
            headers,
            body: f.opt("body", cx),
            expect: f.opt("expect", cx).unwrap_or_default(),
            interval: probe_interval(&f, cx),
            timeout: probe_timeout(&f, cx),
            ip_families: ip_families(&f, cx),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawExpect {
    pub(crate) status: Option<Vec<StatusMatcher>>,
    pub(crate) body_matches: Option<Pattern>,
    pub(crate) body_not_matches: Option<Pattern>,
    pub(crate) headers: BTreeMap<String, Pattern>,
}

impl Decode for RawExpect {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "expect", &["status", "body_matches", "body_not_matches", "headers"])?;
        let status: Option<Vec<StatusMatcher>> = f.opt("status", cx);
        if status.as_ref().is_some_and(Vec::is_empty) {
            cx.error(&f.path("status"), Anchor::Value, "a probe needs at least one expected status")
                .hint("the default is `[2xx]`");
        }
        let mut headers = BTreeMap::new();
        for (name, pattern) in f.map::<Pattern>("headers", cx) {
            let p = f.path("headers").key(&name);
            if !is_header_name(&name) {
                cx.error(&p, Anchor::Key, format!("`{name}` is not a valid HTTP header name"));
            } else if headers.insert(name.to_ascii_lowercase(), pattern).is_some() {
                cx.error(&p, Anchor::Key, format!("header `{name}` is listed twice (names are case-insensitive)"));
            }
        }
        Some(Self {
            status,
            body_matches: f.opt("body_matches", cx),
            body_not_matches: f.opt("body_not_matches", cx),
            headers,
        })
    }
}

/// An HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
}
