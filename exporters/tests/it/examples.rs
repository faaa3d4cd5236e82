//! The example configuration parses, validates and builds against the
//! example catalog.

use std::path::Path;

use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;

#[test]
fn the_example_config_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("examples/exporter.yml")).unwrap();
    let config = Config::parse(&text).unwrap();
    assert_eq!(config.validate(), Vec::<String>::new());
    assert_eq!(config.files.len(), 2);
    let catalog = edgewatch_catalog::load(&root.join("examples/catalog")).unwrap().catalog;
    assert!(config.probes.enabled);
    let env = |k: &str| ["EDGEWATCH_LOGPUSH_SECRET", "ACME_PROBE_TOKEN"].contains(&k).then(|| "change-me".to_owned());
    Exporter::build(&config, &catalog, env).unwrap();
    let missing = Exporter::build(&config, &catalog, |_| None).unwrap_err().to_string();
    assert!(missing.contains("EDGEWATCH_LOGPUSH_SECRET"), "{missing}");
    // The cart-api probe sends a token as its Authorization header.
    let push_only = |k: &str| (k == "EDGEWATCH_LOGPUSH_SECRET").then(|| "change-me".to_owned());
    let missing = Exporter::build(&config, &catalog, push_only).unwrap_err().to_string();
    assert_eq!(
        missing,
        "customer `acme-retail`, probe `cart-api`: header `Authorization`: environment variable `ACME_PROBE_TOKEN` is not set or empty"
    );
}
