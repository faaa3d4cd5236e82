//! `exporter.yml`: inputs, histogram buckets, cardinality limits and the
//! prober.
//!
//! Parsed (serde, unknown keys rejected), then validated (pure, every
//! problem reported), then built into an [`crate::Exporter`] (effects:
//! secrets read, state allocated).

use std::path::PathBuf;

pub use edgewatch_catalog::ByteSize;
use edgewatch_catalog::{Duration, SecretRef};
use serde::Deserialize;

pub use crate::format::Format;
use crate::native::{MAX_SCHEMA, MIN_SCHEMA, NativeSpec};
pub use crate::tail::StartAt;

/// The exporter's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP push inputs (Logpush-style).
    #[serde(default = "default_push")]
    pub push: Vec<PushConfig>,
    /// Tailed log files.
    #[serde(default)]
    pub files: Vec<FileConfig>,
    /// Where file checkpoints are kept.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Latency histogram buckets.
    #[serde(default)]
    pub histograms: HistogramConfig,
    /// Cardinality limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The catalog's synthetic probes.
    #[serde(default)]
    pub probes: ProbesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            push: default_push(),
            files: Vec::new(),
            state_dir: default_state_dir(),
            histograms: HistogramConfig::default(),
            limits: LimitsConfig::default(),
            probes: ProbesConfig::default(),
        }
    }
}

/// How the catalog's probes run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesConfig {
    /// Run the catalog's probes (nothing runs when it has none). Off, their
    /// secrets are not read either.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A PEM file of CA certificates that probes trust besides the public
    /// (Mozilla) roots: for private CAs. Relative to the working directory.
    pub ca_file: Option<PathBuf>,
}

impl Default for ProbesConfig {
    fn default() -> Self {
        Self { enabled: true, ca_file: None }
    }
}

fn default_true() -> bool {
    true
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("data/exporter")
}

/// Log files to tail, all written in one format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Name, used as the `input` label of self-metrics.
    pub name: String,
    /// The files. Each is followed across rotation (rename and copy-truncate).
    pub paths: Vec<PathBuf>,
    /// How lines are written (Logpush unless said otherwise).
    #[serde(default)]
    pub format: Format,
    /// Where to start in a file seen for the first time.
    #[serde(default)]
    pub start_at: StartAt,
}

fn default_push() -> Vec<PushConfig> {
    vec![PushConfig {
        name: "logpush".to_owned(),
        path: default_push_path(),
        auth: None,
        max_body_bytes: ByteSize(64 << 20),
        max_decompressed_bytes: ByteSize(1 << 30),
        format: Format::Logpush,
    }]
}

/// One HTTP endpoint that takes batches of log lines (Logpush's, unless
/// it names another format).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Name, used as the `input` label of self-metrics.
    pub name: String,
    /// URL path, such as `/ingest/logpush`.
    #[serde(default = "default_push_path")]
    pub path: String,
    /// A header that must carry a shared secret (Logpush sends whatever
    /// `header_*` parameters its destination URL names).
    pub auth: Option<AuthConfig>,
    /// Largest request body as sent (compressed), bytes or `64MiB`.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    /// Largest body once decompressed; guards against gzip bombs.
    #[serde(default = "default_max_decompressed")]
    pub max_decompressed_bytes: ByteSize,
    /// How the lines of a batch are written (Logpush unless said otherwise).
    #[serde(default)]
    pub format: Format,
}

fn default_push_path() -> String {
    "/ingest/logpush".to_owned()
}
fn default_max_body() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_max_decompressed() -> ByteSize {
    ByteSize(1 << 30)
}

/// Header-and-secret authentication of a push input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Header name.
    #[serde(default = "default_auth_header")]
    pub header: String,
    /// The expected value, as a secret reference.
    pub secret: SecretRef,
}

fn default_auth_header() -> String {
    "X-Logpush-Secret".to_owned()
}

/// Latency histogram buckets, in seconds, for quantiles: latency SLOs are
/// judged per request against their exact thresholds, not read from buckets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramConfig {
    /// Upper bounds in seconds.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// Native histogram buckets, besides the classic ones.
    #[serde(default)]
    pub native: NativeConfig,
}

impl Default for HistogramConfig {
    fn default() -> Self {
        Self { buckets: default_buckets(), native: NativeConfig::default() }
    }
}

/// Native (sparse, exponential) buckets for the edge time-to-first-byte and
/// origin-duration histograms, kept besides the classic buckets. Prometheus
/// reads them only from the protobuf format, which the exporter serves to
/// scrapers that ask for it; the text formats stay classic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeConfig {
    /// Off by default.
    #[serde(default)]
    pub enabled: bool,
    /// Resolution: each power of two is split into 2^schema buckets, from -4
    /// to 8. The default, 3, makes each bucket about 9% wider than the last.
    #[serde(default = "default_schema")]
    pub schema: i32,
    /// Populated buckets per histogram before its resolution is halved
    /// (the schema decreased by one), as Prometheus' Go client does.
    #[serde(default = "default_max_buckets")]
    pub max_buckets: u32,
    /// Latencies at or below this many seconds count in the zero bucket.
    /// The default, 2^-128 as in Prometheus' clients, holds exact zeros.
    #[serde(default = "default_zero_threshold")]
    pub zero_threshold: f64,
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            schema: default_schema(),
            max_buckets: default_max_buckets(),
            zero_threshold: default_zero_threshold(),
        }
    }
}

/// Most populated buckets a histogram may have: memory per histogram stays
/// bounded whatever the input.
const MAX_NATIVE_BUCKETS: u32 = 1000;

impl NativeConfig {
    /// How histograms keep native buckets; `None` when off.
    pub(crate) fn spec(&self) -> Option<NativeSpec> {
        self.enabled.then(|| NativeSpec {
            schema: i8::try_from(self.schema.clamp(MIN_SCHEMA.into(), MAX_SCHEMA.into())).unwrap_or(MAX_SCHEMA),
            zero_threshold: self.zero_threshold,
            max_buckets: usize::try_from(self.max_buckets).unwrap_or(usize::MAX),
        })
    }

    fn validate(&self, problems: &mut Vec<String>) {
        if !(i32::from(MIN_SCHEMA)..=i32::from(MAX_SCHEMA)).contains(&self.schema) {
            problems.push(format!(
                "histograms.native.schema: {} is not a schema Prometheus defines; give {MIN_SCHEMA} to {MAX_SCHEMA} (3: buckets about 9% wide)",
                self.schema
            ));
        }
        if !(1..=MAX_NATIVE_BUCKETS).contains(&self.max_buckets) {
            problems.push(format!(
                "histograms.native.max_buckets: {} is out of range; give 1 to {MAX_NATIVE_BUCKETS} (160 suits latencies)",
                self.max_buckets
            ));
        }
        if !self.zero_threshold.is_finite() || self.zero_threshold < 0.0 {
            problems.push("histograms.native.zero_threshold: seconds, 0 or more".to_owned());
        }
    }
}

fn default_schema() -> i32 {
    3
}
fn default_max_buckets() -> u32 {
    160
}
fn default_zero_threshold() -> f64 {
    // 2^-128: a bucket boundary at every schema.
    f64::from_bits(0x37f0_0000_0000_0000)
}

fn default_buckets() -> Vec<f64> {
    vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]
}

/// Cardinality limits; see `docs/exporter.md` for the worst case they allow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Hosts per customer before new hosts count under `host="other"`.
    #[serde(default = "default_hosts_per_customer")]
    pub hosts_per_customer: usize,
    /// Request series across all customers before new hosts are refused.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
    /// A host not seen for this long is dropped.
    #[serde(default = "default_idle")]
    pub idle_timeout: Duration,
    /// The top-offender window.
    #[serde(default = "default_top_window")]
    pub top_window: Duration,
    /// Keys kept per customer and dimension for top offenders.
    #[serde(default = "default_top_keys")]
    pub top_keys: usize,
    /// Hosts one batch counts apart, across customers, before it counts
    /// further hosts under `host="other"` of their customer: bounds a
    /// batch's memory whatever hosts it names.
    #[serde(default = "default_batch_hosts")]
    pub batch_hosts: usize,
    /// One request in this many is counted, with this weight, in the top
    /// keys of all requests (mitigated and failed ones are all counted).
    #[serde(default = "default_top_requests_sample")]
    pub top_requests_sample: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            hosts_per_customer: default_hosts_per_customer(),
            max_series: default_max_series(),
            idle_timeout: default_idle(),
            top_window: default_top_window(),
            top_keys: default_top_keys(),
            batch_hosts: default_batch_hosts(),
            top_requests_sample: default_top_requests_sample(),
        }
    }
}

fn default_hosts_per_customer() -> usize {
    100
}
fn default_max_series() -> usize {
    200_000
}
fn default_idle() -> Duration {
    Duration::from_secs(3600)
}
fn default_top_window() -> Duration {
    Duration::from_secs(300)
}
fn default_top_keys() -> usize {
    64
}
fn default_top_requests_sample() -> u64 {
    8
}
fn default_batch_hosts() -> usize {
    4096
}

/// Paths the exporter serves itself; a push input cannot take them.
const RESERVED_PATHS: [&str; 4] = ["/metrics", "/-/healthy", "/-/ready", "/api/v1/top"];

impl Config {
    /// Reads `exporter.yml`.
    pub fn parse(text: &str) -> Result<Self, edgewatch_catalog::yaml::DeError> {
        edgewatch_catalog::yaml::from_str(text)
    }

    /// Every problem with the configuration, in plain words (empty when fine).
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = std::collections::HashSet::new();
        let mut paths = std::collections::HashSet::new();
        for (i, p) in self.push.iter().enumerate() {
            let at = format!("push[{i}]");
            if p.name.is_empty() || !p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                problems.push(format!("{at}.name: `{}` must be letters, digits, `-` or `_`", p.name));
            }
            if !names.insert(&p.name) {
                problems.push(format!("{at}.name: `{}` is used twice", p.name));
            }
            if !p.path.starts_with('/') || p.path.contains(['?', '#', ' ']) {
                problems.push(format!("{at}.path: `{}` must be a URL path starting with `/`", p.path));
            } else if RESERVED_PATHS.contains(&p.path.as_str()) {
                problems.push(format!("{at}.path: `{}` is served by the exporter itself", p.path));
            } else if !paths.insert(&p.path) {
                problems.push(format!("{at}.path: `{}` is used twice", p.path));
            }
            if p.max_body_bytes.0 == 0 || p.max_decompressed_bytes.0 == 0 {
                problems.push(format!("{at}: size limits must be above 0"));
            }
            if let Some(a) = &p.auth
                && (a.header.is_empty() || !a.header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            {
                problems.push(format!("{at}.auth.header: `{}` is not a header name", a.header));
            }
            p.format.check(&format!("{at}.format"), &mut problems);
        }
        for (i, f) in self.files.iter().enumerate() {
            let at = format!("files[{i}]");
            if !names.insert(&f.name) {
                problems.push(format!("{at}.name: `{}` is used by another input", f.name));
            }
            if f.paths.is_empty() {
                problems.push(format!("{at}.paths: list at least one file"));
            }
            f.format.check(&format!("{at}.format"), &mut problems);
        }
        if self.histograms.buckets.iter().any(|b| !b.is_finite() || *b <= 0.0) {
            problems.push("histograms.buckets: bounds must be positive seconds".to_owned());
        }
        self.histograms.native.validate(&mut problems);
        let l = &self.limits;
        if l.hosts_per_customer == 0
            || l.max_series == 0
            || l.top_keys == 0
            || l.batch_hosts == 0
            || l.top_requests_sample == 0
        {
            problems.push(
                "limits: hosts_per_customer, max_series, top_keys, batch_hosts and top_requests_sample must be above 0"
                    .to_owned(),
            );
        }
        if l.idle_timeout.as_millis() < 60_000 {
            problems.push("limits.idle_timeout: at least 1m, or series flap between scrapes".to_owned());
        }
        if l.top_window.as_millis() < 10_000 {
            problems.push("limits.top_window: at least 10s".to_owned());
        }
        if self.probes.ca_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            problems.push("probes.ca_file: give the path of a PEM file, or leave the key out".to_owned());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let c = Config::parse(
            "push:\n  - name: cf\n    path: /ingest/cf\n    auth: {secret: env:CF_SECRET}\n    max_body_bytes: 10MiB\nlimits: {hosts_per_customer: 5}\n",
        )
        .unwrap();
        assert_eq!(c.push[0].max_body_bytes, ByteSize(10 << 20));
        assert_eq!(c.push[0].auth.as_ref().unwrap().header, "X-Logpush-Secret");
        assert_eq!(c.limits.hosts_per_customer, 5);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }

    #[test]
    fn reports_mistakes_with_their_place() {
        let err = Config::parse("push:\n  - name: cf\n    pth: /x\n").unwrap_err();
        assert_eq!(err.at.map(|a| a.line), Some(3), "{err}");
        assert!(err.message.contains("unknown field `pth`"), "{err}");
        let err = Config::parse("push:\n  - name: cf\n    auth: {secret: hunter2}\n").unwrap_err();
        assert!(err.message.contains("inline secret") && !err.message.contains("hunter2"), "{err}");
        let c = Config::parse("push:\n  - {name: a, path: /metrics}\n  - {name: a, path: x}\n").unwrap();
        assert_eq!(c.validate().len(), 3, "{:?}", c.validate());
    }

    #[test]
    fn file_inputs_are_checked() {
        let c = Config::parse(
            "files:
  - {name: nginx, paths: [/var/log/nginx/access.log], format: {combined: {trailing: [request_time]}}}
  - {name: envoy, paths: [], format: {json: {fields: {status: x, ttfb: duration}}}}
  - {name: nginx, paths: [/x]}
",
        );
        let problems = c.map_or_else(|e| vec![e.to_string()], |c| c.validate());
        assert!(problems.iter().any(|p| p.contains("unknown variant `status`")), "{problems:?}");
        let c = Config::parse(
            "files:
  - {name: nginx, paths: [/var/log/nginx/access.log], format: {combined: {trailing: [request_time]}}}
  - {name: envoy, paths: [], format: {json: {fields: {edge_status: x, ttfb: duration}}}}
  - {name: nginx, paths: [/x]}
",
        )
        .unwrap();
        assert_eq!(
            c.validate(),
            [
                "files[0].format.combined: combined lines carry no host: set `host`, or add `host` to `trailing`",
                "files[1].paths: list at least one file",
                "files[1].format.json.fields: name the key of `host` (or `zone`), or no line can be matched to a customer",
                "files[1].format.json.fields: give the unit of a duration, as `{key: duration, unit: s}` (s, ms or us)",
                "files[2].name: `nginx` is used by another input",
            ]
        );
        // A format's options are its own: another format's are unknown
        // fields, found where they are written.
        for (yaml, line, message) in [
            (
                "files:\n  - name: a\n    paths: [/x]\n    format: logpush\n    host: a.example\n",
                5,
                "unknown field `host`",
            ),
            (
                "files:\n  - name: a\n    paths: [/x]\n    format:\n      combined: {fields: {}}\n",
                5,
                "unknown field `fields`",
            ),
            ("files:\n  - name: a\n    paths: [/x]\n    format: json\n", 4, "format `json` takes options"),
        ] {
            let err = Config::parse(yaml).unwrap_err();
            assert!(err.message.contains(message), "{yaml}: {err}");
            assert_eq!(err.at.map(|a| a.line), Some(line), "{yaml}: {err}");
        }
    }

    #[test]
    fn push_inputs_name_their_format() {
        let c = Config::parse("push:\n  - {name: cf, path: /a}\n").unwrap();
        assert_eq!(c.push[0].format.name(), "logpush", "the default");
        let c = Config::parse(
            "push:
  - name: nginx
    path: /ingest/nginx
    format:
      combined: {trailing: [request_time]}
",
        )
        .unwrap();
        assert_eq!(c.push[0].format.name(), "combined");
        assert_eq!(
            c.validate(),
            ["push[0].format.combined: combined lines carry no host: set `host`, or add `host` to `trailing`"]
        );
    }

    /// `edgewatch check --exporter-config` places every problem by its path.
    #[test]
    fn problems_are_placed_in_the_file() {
        let text = "files:
  - name: envoy
    paths: [/var/log/envoy.json]
    format:
      json:
        fields: {edge_status: status}
push:
  - name: nginx
    path: /ingest/nginx
    format:
      combined: {trailing: [request_time]}
";
        let diags =
            edgewatch_catalog::service::load(std::path::Path::new("exporter.yml"), text, Config::validate).unwrap_err();
        let placed: Vec<_> = diags.iter().map(|d| (d.path.as_str(), d.line)).collect();
        assert_eq!(placed, [("files[0].format.json.fields", Some(6)), ("push[0].format.combined", Some(11))]);
    }

    #[test]
    fn probes() {
        let c = Config::parse("").unwrap();
        assert!(c.probes.enabled && c.probes.ca_file.is_none(), "on by default");
        let c = Config::parse("probes: {enabled: false, ca_file: /etc/edgewatch/ca.pem}\n").unwrap();
        assert!(!c.probes.enabled);
        assert_eq!(c.probes.ca_file.as_deref(), Some(std::path::Path::new("/etc/edgewatch/ca.pem")));
        let err = Config::parse("probes: {enable: false}\n").unwrap_err();
        assert!(err.message.contains("unknown field `enable`"), "{err}");
        let c = Config::parse("probes: {ca_file: ''}\n").unwrap();
        assert_eq!(c.validate(), ["probes.ca_file: give the path of a PEM file, or leave the key out"]);
    }

    #[test]
    fn native_histograms() {
        let c = Config::parse("").unwrap();
        assert!(!c.histograms.native.enabled && c.histograms.native.spec().is_none(), "off by default");
        let n = &c.histograms.native;
        assert_eq!((n.schema, n.max_buckets, n.zero_threshold), (3, 160, 2f64.powi(-128)));
        let c = Config::parse(
            "histograms:\n  native: {enabled: true, schema: -2, max_buckets: 50, zero_threshold: 0.0001}\n",
        )
        .unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(
            c.histograms.native.spec(),
            Some(NativeSpec { schema: -2, zero_threshold: 0.0001, max_buckets: 50 })
        );
        assert_eq!(c.histograms.buckets.len(), 13, "the classic buckets stay");
        let c = Config::parse("histograms: {native: {enabled: true, schema: 9, max_buckets: 0, zero_threshold: -1}}\n")
            .unwrap();
        assert_eq!(
            c.validate(),
            [
                "histograms.native.schema: 9 is not a schema Prometheus defines; give -4 to 8 (3: buckets about 9% wide)",
                "histograms.native.max_buckets: 0 is out of range; give 1 to 1000 (160 suits latencies)",
                "histograms.native.zero_threshold: seconds, 0 or more",
            ]
        );
        let err = Config::parse("histograms: {native: {enable: true}}\n").unwrap_err();
        assert!(err.message.contains("unknown field `enable`"), "{err}");
    }

    #[test]
    fn sizes() {
        assert_eq!("1GiB".parse(), Ok(ByteSize(1 << 30)));
        assert_eq!("500KB".parse(), Ok(ByteSize(500_000)));
        assert!("5 parsecs".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
    }
}
