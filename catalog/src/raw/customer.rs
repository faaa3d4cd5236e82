//! One entry of `customers:`.

use std::collections::BTreeMap;

use crate::decode::{At, Cx, Decode, fields};
use crate::model::{Contact, Link, Mitigation};
use crate::names::MAX_CUSTOMER_ID_LEN;
use crate::path::YamlPath;
use crate::raw::probe::RawProbe;
use crate::raw::profile::{PROFILE_KEYS, RawProfile};
use crate::report::Origin;
use crate::types::host::{HostPattern, Zone};
use crate::types::ident::{LabelName, Slug, check_label_name, decode_slug};
use crate::types::text::{Email, HttpUrl, JiraKey};
use crate::yaml::{Anchor, Value};

const OWN_KEYS: [&str; 12] = [
    "id",
    "name",
    "tier",
    "contacts",
    "labels",
    "zones",
    "hosts",
    "jira_project",
    "links",
    "probes",
    "mitigation",
    "statuspage_components",
];

#[derive(Debug, Clone)]
pub(crate) struct RawCustomer {
    pub(crate) origin: Origin,
    pub(crate) id: Option<At<Slug>>,
    pub(crate) name: Option<String>,
    pub(crate) tier: Option<At<String>>,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) labels: BTreeMap<LabelName, String>,
    pub(crate) zones: Vec<At<Zone>>,
    pub(crate) hosts: Vec<At<HostPattern>>,
    /// Whether `hosts` or `zones` was written at all (even if invalid).
    pub(crate) claims_traffic: bool,
    pub(crate) jira_project: Option<JiraKey>,
    pub(crate) links: Vec<Link>,
    pub(crate) probes: Vec<At<RawProbe>>,
    pub(crate) mitigation: Mitigation,
    pub(crate) statuspage_components: Vec<String>,
    pub(crate) profile: RawProfile,
}

impl Decode for RawCustomer {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let keys: Vec<&'static str> = OWN_KEYS.iter().chain(PROFILE_KEYS.iter()).copied().collect();
        let f = fields(v, path, cx, "customer", &keys)?;
        let id = f.req::<String>("id", cx).and_then(|s| {
            let p = f.path("id");
            let slug = decode_slug(s, MAX_CUSTOMER_ID_LEN, &p, cx)?;
            if crate::names::RESERVED_CUSTOMER_IDS.contains(&slug.as_str()) {
                cx.error(&p, Anchor::Value, format!("customer id `{slug}` is reserved"))
                    .hint("the exporters count traffic that matches no customer, or overflows a cap, under `unknown` and `other`");
                return None;
            }
            if slug.as_str() == crate::names::NOC_REVIEW_ID {
                cx.error(&p, Anchor::Value, format!("customer id `{slug}` is reserved"))
                    .hint("reports name the NOC review's files `noc-review-<period>`, which this customer's would overwrite");
                return None;
            }
            Some(At { value: slug, origin: cx.origin(&p) })
        });
        let mut labels = BTreeMap::new();
        for (k, val) in f.map::<String>("labels", cx) {
            match check_label_name(&k) {
                Ok(()) => {
                    labels.insert(LabelName(k), val);
                }
                Err(msg) => {
                    cx.error(&f.path("labels").key(&k), Anchor::Key, msg);
                }
            }
        }
        let hosts: Vec<At<HostPattern>> = f.list("hosts", cx);
        Some(Self {
            origin: cx.origin(path),
            id,
            name: f.opt("name", cx),
            tier: f.opt("tier", cx),
            contacts: f.list("contacts", cx),
            labels,
            zones: f.list("zones", cx),
            hosts,
            claims_traffic: ["hosts", "zones"]
                .iter()
                .any(|k| f.get(k).is_some_and(|v| v.as_sequence().is_none_or(|s| !s.is_empty()))),
            jira_project: f.opt("jira_project", cx),
            links: f.list("links", cx),
            probes: f.list("probes", cx),
            mitigation: f.opt("mitigation", cx).unwrap_or_default(),
            statuspage_components: f.list("statuspage_components", cx),
            profile: RawProfile::read(&f, cx),
        })
    }
}

impl Decode for Contact {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "contact", &["name", "email", "role"])?;
        let name: Option<String> = f.req("name", cx);
        let email: Option<Email> = f.req("email", cx);
        Some(Self { name: name?, email: email?, role: f.opt("role", cx) })
    }
}

impl Decode for Mitigation {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let keys = ["cloudflare_zone", "allowlist", "allow_asns", "origins", "verified_bots"];
        let f = fields(v, path, cx, "mitigation", &keys)?;
        let verified_bots: Vec<String> = f.list("verified_bots", cx);
        for (i, bot) in verified_bots.iter().enumerate() {
            if bot.trim().len() < 3 {
                cx.error(
                    &f.path("verified_bots").index(i),
                    Anchor::Value,
                    format!("`{bot}` would match too many user agents"),
                )
                .hint("name the bot as its user agent does: `Googlebot`, `bingbot`");
            }
        }
        Some(Self {
            cloudflare_zone: f.opt("cloudflare_zone", cx),
            allowlist: f.list("allowlist", cx),
            allow_asns: f.list("allow_asns", cx),
            origins: f.list("origins", cx),
            verified_bots,
        })
    }
}

impl Decode for Link {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "link", &["title", "url"])?;
        let title: Option<String> = f.req("title", cx);
        let url: Option<HttpUrl> = f.req("url", cx);
        Some(Self { title: title?, url: url? })
    }
}
