//! The catalog as `up` runs it, and its rendered configs: log destinations
//! write under the state folder, destinations whose secrets are not set are
//! left out (and said so), and Alertmanager shares a token with the
//! receiver.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use edgewatch_catalog::Catalog;
use edgewatch_catalog::model::{Destination, HeaderValue, JiraAuth};

use crate::{UpError, io};

/// The catalog to run, and what changed in it.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) catalog: Catalog,
    /// Log destinations and where they now write.
    pub(crate) logs: Vec<(String, PathBuf)>,
    /// Destinations and probes left out, with why.
    pub(crate) skipped: Vec<(String, String)>,
}

/// Writes a fresh random token for Alertmanager and the receiver.
pub(crate) fn write_token(path: &Path) -> Result<(), UpError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(io(path))?;
    let token = bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    std::fs::write(path, token).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(())
}

/// `catalog` with its log destinations writing to `logs/<name>.jsonl`
/// (standard output stays), and without the destinations whose secrets
/// `env` cannot give, so the receiver starts and delivers where it can.
/// With `demo`, probes are off: the demo is about the traffic it sends, and
/// probes of names that do not resolve (the example catalog's) would page
/// beside it.
pub(crate) fn catalog(mut catalog: Catalog, logs: &Path, env: &dyn Fn(&str) -> Option<String>, demo: bool) -> Prepared {
    let mut moved = Vec::new();
    let mut skipped = Vec::new();
    let mut keep = BTreeMap::new();
    for (name, d) in std::mem::take(&mut catalog.destinations) {
        let missing = match &d {
            Destination::Jira(j) => {
                let (JiraAuth::Basic { token, .. } | JiraAuth::Bearer(token)) = &j.auth;
                token.resolve(env).err()
            }
            Destination::PagerDuty(p) => p.routing_key.resolve(env).err(),
            Destination::Statuspage(s) => s.api_key.resolve(env).err(),
            Destination::Email(e) => e.password.as_ref().and_then(|p| p.resolve(env).err()),
            Destination::Log(_) => None,
        };
        if let Some(why) = missing {
            skipped.push((format!("destination {name}"), format!("{why}; set it and restart to deliver there")));
            continue;
        }
        let d = match d {
            Destination::Log(mut l) if l.path != Path::new("-") => {
                l.path = logs.join(format!("{name}.jsonl"));
                moved.push((name.to_string(), l.path.clone()));
                Destination::Log(l)
            }
            other => other,
        };
        keep.insert(name, d);
    }
    for c in &mut catalog.customers {
        for route in &mut c.alerting.routes {
            route.to.retain(|d| keep.contains_key(d));
        }
        let id = c.id.to_string();
        if demo {
            for p in std::mem::take(&mut c.probes) {
                skipped.push((format!("probe {id}/{}", p.name), "the demo sends traffic instead".to_owned()));
            }
        }
        // A probe whose header secret is not set cannot run; the rest can.
        c.probes.retain(|p| {
            let missing = p.headers.values().find_map(|h| match h {
                HeaderValue::Secret(s) => s.resolve(env).err(),
                HeaderValue::Plain(_) => None,
            });
            if let Some(why) = &missing {
                skipped.push((format!("probe {id}/{}", p.name), format!("{why}; set it and restart to run it")));
            }
            missing.is_none()
        });
    }
    catalog.destinations = keep;
    Prepared { catalog, logs: moved, skipped }
}

/// Where the parts listen, for the rendered configs.
#[derive(Debug)]
pub(crate) struct Addresses<'a> {
    pub(crate) exporter: SocketAddr,
    pub(crate) receiver: SocketAddr,
    pub(crate) alertmanager: SocketAddr,
    pub(crate) prometheus: SocketAddr,
    pub(crate) token_file: &'a Path,
    pub(crate) scrape_interval: edgewatch_catalog::Duration,
}

/// Renders rules, Alertmanager's and Prometheus' configs and dashboards
/// into `deploy` (emptied first: a previous catalog's files must go).
pub(crate) fn render(catalog: &Catalog, deploy: &Path, a: &Addresses<'_>) -> Result<(), UpError> {
    if deploy.exists() {
        std::fs::remove_dir_all(deploy).map_err(io(deploy))?;
    }
    let rules = edgewatch_rule_gen::Options {
        target: edgewatch_rule_gen::Target::Prometheus,
        catalog_name: "the catalog".to_owned(),
        grafana_url: "http://localhost:3000".to_owned(),
        scrape_interval: a.scrape_interval,
        ingest_silence: edgewatch_rule_gen::DEFAULT_INGEST_SILENCE,
        delivery: edgewatch_rule_gen::Delivery {
            receiver_url: format!("http://{}{}", a.receiver, edgewatch_webhook_receiver::WEBHOOK_PATH),
            exporter_targets: vec![a.exporter.to_string()],
            exporter_job: edgewatch_rule_gen::DEFAULT_EXPORTER_JOB.to_owned(),
            receiver_credentials_file: Some(a.token_file.display().to_string()),
            alertmanager_url: format!("http://{}", a.alertmanager),
            fallback_pagerduty: None,
            heartbeat_url: None,
            prometheus_url: Some(format!("http://{}", a.prometheus)),
        },
    };
    let boards = edgewatch_dashboards::Options {
        target: edgewatch_dashboards::Target::Files {
            dashboards_dir: deploy.join("grafana/dashboards").display().to_string(),
            prometheus_url: format!("http://{}", a.prometheus),
            alertmanager_url: format!("http://{}", a.alertmanager),
        },
        catalog_name: "the catalog".to_owned(),
        grafana_url: "http://localhost:3000".to_owned(),
        scrape_interval: a.scrape_interval,
    };
    let mut files = edgewatch_rule_gen::render(catalog, &rules).map_err(|e| UpError::Render(e.to_string()))?;
    files.extend(edgewatch_dashboards::render(catalog, &boards).map_err(|e| UpError::Render(e.to_string()))?);
    for f in files {
        let path = deploy.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, f.contents).map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = "
destinations:
  pd: {pagerduty: {routing_key: 'env:UNSET_PD_KEY'}}
  audit: {log: {path: /var/lib/nowhere/audit.jsonl}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting: {routes: [{to: [pd, audit]}]}
";

    #[test]
    fn logs_move_under_the_state_folder_and_destinations_without_secrets_are_left_out() {
        let loaded = edgewatch_catalog::load_str("c.yaml", CATALOG).unwrap().catalog;
        let p = catalog(loaded, Path::new("/state/logs"), &|_| None, false);
        assert_eq!(p.logs, [("audit".to_owned(), PathBuf::from("/state/logs/audit.jsonl"))]);
        assert_eq!(p.skipped.len(), 1);
        assert!(p.skipped[0].1.contains("UNSET_PD_KEY"), "{:?}", p.skipped);
        let to: Vec<String> = p.catalog.customers[0].alerting.routes[0].to.iter().map(ToString::to_string).collect();
        assert_eq!(to, ["audit"]);
        assert_eq!(p.catalog.destinations.len(), 1);
    }
}
