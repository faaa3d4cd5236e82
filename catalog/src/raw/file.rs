//! One YAML file of a catalog. Every file has the same shape; a folder's
//! files are merged (`customers` appended, `tiers` and `destinations` by name,
//! `defaults` from at most one file).

use std::collections::BTreeMap;

use crate::decode::{At, Cx, Decode, fields};
use crate::model::{CustomerDashboards, Destination};
use crate::path::YamlPath;
use crate::raw::customer::RawCustomer;
use crate::raw::profile::{PROFILE_KEYS, RawProfile, slug_keys};
use crate::types::ident::Slug;
use crate::yaml::Value;

pub(crate) const TOP_KEYS: [&str; 6] = ["defaults", "tiers", "customers", "destinations", "templates", "dashboards"];

/// The receiver's texts a catalog may replace (`templates:`).
pub const TEMPLATE_NAMES: [&str; 5] = ["title", "description", "comment", "customer_title", "customer_body"];

#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub(crate) defaults: Option<At<RawProfile>>,
    pub(crate) tiers: Vec<(At<Slug>, RawProfile)>,
    pub(crate) customers: Vec<RawCustomer>,
    pub(crate) destinations: Vec<(At<Slug>, Destination)>,
    /// Every tier and destination name written, including those whose
    /// definition has errors, so a route or customer naming one is not
    /// reported a second time as naming nothing.
    pub(crate) declared_tiers: Vec<String>,
    pub(crate) declared_destinations: Vec<String>,
    /// Receiver templates by name.
    pub(crate) templates: Vec<(At<String>, String)>,
    /// `dashboards.customers`.
    pub(crate) customer_dashboards: Option<At<CustomerDashboards>>,
}

/// A profile on its own (`defaults:` and each tier).
struct Profile(RawProfile);

impl Decode for Profile {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        // `defaults` sits at the root; tiers one level below `tiers`.
        let what = if path.0.len() == 1 { "defaults" } else { "tier" };
        let f = fields(v, path, cx, what, &PROFILE_KEYS)?;
        Some(Self(RawProfile::read(&f, cx)))
    }
}

/// Templates by a name the receiver knows.
fn templates(map: BTreeMap<String, String>, path: &YamlPath, cx: &mut Cx<'_>) -> Vec<(At<String>, String)> {
    map.into_iter()
        .filter_map(|(k, v)| {
            let p = path.key(&k);
            if !TEMPLATE_NAMES.contains(&k.as_str()) {
                cx.error(&p, crate::yaml::Anchor::Key, format!("unknown template `{k}`"))
                    .hint(format!("the receiver's templates are {}", TEMPLATE_NAMES.join(", ")));
                return None;
            }
            Some((At { value: k, origin: cx.origin(&p) }, v))
        })
        .collect()
}

impl RawFile {
    pub(crate) fn decode(v: &Value, cx: &mut Cx<'_>) -> Self {
        let root = YamlPath::root();
        let Some(f) = fields(v, &root, cx, "catalog file", &TOP_KEYS) else {
            return Self::default();
        };
        let defaults = f.get("defaults").map(|_| f.path("defaults")).and_then(|p| {
            let profile = Profile::decode(f.get("defaults")?, &p, cx)?;
            Some(At { value: profile.0, origin: cx.origin(&p) })
        });
        let tiers: BTreeMap<String, Profile> = f.map("tiers", cx);
        let destinations: BTreeMap<String, Destination> = f.map("destinations", cx);
        let declared = |key: &str| match f.get(key) {
            Some(Value::Mapping(m)) => m.keys().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Self {
            declared_tiers: declared("tiers"),
            declared_destinations: declared("destinations"),
            defaults,
            tiers: slug_keys(tiers, &f.path("tiers"), cx).into_iter().map(|(k, p)| (k, p.0)).collect(),
            customers: f.list("customers", cx),
            destinations: slug_keys(destinations, &f.path("destinations"), cx),
            templates: templates(f.map("templates", cx), &f.path("templates"), cx),
            customer_dashboards: f.get("dashboards").and_then(|v| {
                let path = f.path("dashboards");
                let d = fields(v, &path, cx, "dashboards", &["customers"])?;
                let value = d.opt("customers", cx)?;
                Some(At { value, origin: cx.origin(&path) })
            }),
        }
    }
}
