//! Names shared across edgewatch's crates: label names, metric names, alert
//! kinds, severities and SLO kinds. The exporters, rules, dashboards and the
//! receiver all spell them through these constants, never as literals.

use crate::decode::string_enum;

/// Label names edgewatch sets on metrics and alerts.
pub mod label {
    /// The catalog id of the customer a series or alert belongs to.
    pub const CUSTOMER: &str = "customer";
    /// `page`, `ticket` or `info`, on every alert.
    pub const SEVERITY: &str = "severity";
    /// What an alert is about (an [`super::AlertKind`]), on every alert.
    pub const ALERT_KIND: &str = "alert_kind";
    /// The SLO an alert or SLI series is about.
    pub const SLO: &str = "slo";
    /// What the SLO measures (a [`super::SloKind`]), on SLO event counters,
    /// SLI series and SLO alerts.
    pub const SLO_KIND: &str = "slo_kind";
    /// The request host, as the catalog lists it.
    pub const HOST: &str = "host";
    /// The probe name, on probe series and alerts.
    pub const PROBE: &str = "probe";
    /// The customer's tier.
    pub const TIER: &str = "tier";
    /// `1xx` … `5xx`, or `other`.
    pub const STATUS_CLASS: &str = "status_class";
    /// The edge cache's verdict (`hit`, `miss`, `dynamic`, …).
    pub const CACHE_STATUS: &str = "cache_status";
    /// What kind of origin failure.
    pub const KIND: &str = "kind";
    /// The security action a request met, whether it stopped the request or
    /// not; [`super::MITIGATING_ACTIONS`] are the ones that did.
    pub const ACTION: &str = "action";
    /// `good` or `bad` on SLO event counters, `success` or `failure` on
    /// probe counters.
    pub const RESULT: &str = "result";
    /// The address a probe connected to, on probe series.
    pub const IP: &str = "ip";
    /// A probe's phase, on probe timings.
    pub const PHASE: &str = "phase";
    /// On a customer's alerts that are not part of its live-impact incident
    /// (`certificate`, `config`): the receiver keys incidents by `customer`
    /// and this label, so they get incidents of their own.
    pub const INCIDENT: &str = "incident";

    /// Names a customer's free labels may not use, because edgewatch or
    /// Prometheus sets them.
    pub(crate) const RESERVED: &[&str] = &[
        CUSTOMER,
        SEVERITY,
        ALERT_KIND,
        SLO,
        SLO_KIND,
        HOST,
        PROBE,
        TIER,
        "alertname",
        "job",
        "instance",
        "le",
        "quantile",
        "status_class",
        "cache_status",
        "window",
        INCIDENT,
    ];
}

/// Metric names the exporters produce and the rules and dashboards read.
pub mod metric {
    /// Counter of requests by customer, host, status class and cache status.
    pub const REQUESTS_TOTAL: &str = "edgewatch_requests_total";
    /// Histogram of edge time to first byte, in seconds.
    pub const EDGE_TTFB_SECONDS: &str = "edgewatch_edge_ttfb_seconds";
    /// Histogram of origin response duration, in seconds.
    pub const ORIGIN_DURATION_SECONDS: &str = "edgewatch_origin_duration_seconds";
    /// Counter of origin failures by customer, host and kind.
    pub const ORIGIN_ERRORS_TOTAL: &str = "edgewatch_origin_errors_total";
    /// Counter of requests by the security action they met, by `customer`,
    /// `host` and `action`: every action, whether it stopped the request or
    /// not. Only [`super::MITIGATING_ACTIONS`] (block and the challenges)
    /// stop it; `log`, `skip` and `allow` let it through, the `*_solved` and
    /// `*_failed` outcomes record how an earlier challenge ended, and `other`
    /// is an action the exporter does not list. Whatever means "blocked or
    /// challenged" selects the mitigating actions.
    pub const SECURITY_ACTIONS_TOTAL: &str = "edgewatch_security_actions_total";
    /// Counter of response bytes sent to clients.
    pub const RESPONSE_BYTES_TOTAL: &str = "edgewatch_response_bytes_total";
    /// Counter of requests each availability SLO judged, by `result`
    /// (`good` or `bad`); requests the SLO excludes are not counted. Every
    /// customer's series exist from the start, at zero.
    pub const SLO_REQUESTS_TOTAL: &str = "edgewatch_slo_requests_total";
    /// Gauge, 1 when the last probe of an address succeeded, else 0, by
    /// `customer`, `probe` and `ip` (one series per probed address). The
    /// prober produces it; the rules read it.
    pub const PROBE_SUCCESS: &str = "edgewatch_probe_success";
    /// Counter of probes run, by `customer`, `probe`, `ip` and `result`
    /// (`success` or `failure`); both results exist from the first probe of
    /// an address, at zero. Probe SLOs are ratios of these.
    pub const PROBES_TOTAL: &str = "edgewatch_probes_total";
    /// Gauge: when the certificate a probe was served expires, unix seconds,
    /// by `customer` and `probe`.
    pub const PROBE_TLS_NOT_AFTER: &str = "edgewatch_probe_tls_not_after_timestamp_seconds";
    /// Gauge: how long each phase of the last probe of an address took, in
    /// seconds, by `customer`, `probe`, `ip` and `phase` (`resolve`,
    /// `connect`, `tls`, `processing`, `transfer`, as `blackbox_exporter`).
    pub const PROBE_DURATION_SECONDS: &str = "edgewatch_probe_duration_seconds";
    /// Gauge: the HTTP status code of the last probe of an address (0 when
    /// no response came), by `customer`, `probe` and `ip`.
    pub const PROBE_HTTP_STATUS_CODE: &str = "edgewatch_probe_http_status_code";

    /// Every metric above: the contract between what produces metrics and
    /// what reads them (rules, dashboards).
    pub const ALL: &[&str] = &[
        REQUESTS_TOTAL,
        EDGE_TTFB_SECONDS,
        ORIGIN_DURATION_SECONDS,
        ORIGIN_ERRORS_TOTAL,
        SECURITY_ACTIONS_TOTAL,
        RESPONSE_BYTES_TOTAL,
        SLO_REQUESTS_TOTAL,
        PROBE_SUCCESS,
        PROBES_TOTAL,
        PROBE_TLS_NOT_AFTER,
        PROBE_DURATION_SECONDS,
        PROBE_HTTP_STATUS_CODE,
    ];

    /// Counter: log lines an exporter read, by `input` and `result`.
    pub const EXPORTER_LINES_TOTAL: &str = "edgewatch_exporter_lines_total";
    /// Counter: batches an exporter received, by `input` and `result`.
    pub const EXPORTER_BATCHES_TOTAL: &str = "edgewatch_exporter_batches_total";
    /// Histogram: time from a request's end to its counting, by `input`.
    pub const EXPORTER_INGEST_LAG_SECONDS: &str = "edgewatch_exporter_ingest_lag_seconds";
    /// Counter: requests counted under `host="other"`, by `customer`.
    pub const EXPORTER_OVERFLOW_TOTAL: &str = "edgewatch_exporter_overflow_total";
    /// Gauge: request series an exporter exposes.
    pub const EXPORTER_SERIES: &str = "edgewatch_exporter_series";
    /// Counter: hosts an exporter dropped after being idle (their counters
    /// start again from zero if they come back).
    pub const EXPORTER_EXPIRED_HOSTS_TOTAL: &str = "edgewatch_exporter_expired_hosts_total";
    /// Gauge: when the exporter process started, in unix seconds. A change
    /// means every counter of that `instance` started again from zero.
    pub const EXPORTER_START_TIME_SECONDS: &str = "edgewatch_exporter_start_time_seconds";

    /// The exporter's metrics about itself, which the pipeline alerts and
    /// the health dashboard read.
    pub const EXPORTER_SELF: &[&str] = &[
        EXPORTER_LINES_TOTAL,
        EXPORTER_BATCHES_TOTAL,
        EXPORTER_INGEST_LAG_SECONDS,
        EXPORTER_OVERFLOW_TOTAL,
        EXPORTER_SERIES,
        EXPORTER_EXPIRED_HOSTS_TOTAL,
        EXPORTER_START_TIME_SECONDS,
    ];

    /// Counter: notifications the receiver answered, by `result`.
    pub const RECEIVER_NOTIFICATIONS_TOTAL: &str = "edgewatch_receiver_notifications_total";
    /// Counter: action attempts, by `destination` and `outcome`.
    pub const RECEIVER_ACTIONS_TOTAL: &str = "edgewatch_receiver_actions_total";
    /// Gauge: actions waiting to be delivered.
    pub const RECEIVER_OUTBOX_PENDING: &str = "edgewatch_receiver_outbox_pending";
    /// Gauge: the age of the oldest of them, in seconds.
    pub const RECEIVER_OUTBOX_OLDEST_AGE: &str = "edgewatch_receiver_outbox_oldest_pending_age_seconds";
    /// Gauge: actions that failed for good.
    pub const RECEIVER_DEAD_LETTERS: &str = "edgewatch_receiver_dead_letters";
    /// Gauge: pages of the SQLite store's WAL the last checkpoint left
    /// uncopied.
    pub const RECEIVER_WAL_PAGES_BEHIND: &str = "edgewatch_receiver_store_wal_pages_behind";
    /// Histogram: how long each copy of the SQLite WAL back into the
    /// database took, in seconds.
    pub const RECEIVER_CHECKPOINT_SECONDS: &str = "edgewatch_receiver_store_checkpoint_seconds";
    /// Gauge: the PostgreSQL store's connections lent to an operation now.
    pub const RECEIVER_CONNECTIONS_BUSY: &str = "edgewatch_receiver_store_connections_busy";
    /// Histogram: how long operations that found every PostgreSQL
    /// connection busy waited for one, in seconds.
    pub const RECEIVER_CONNECTION_WAIT_SECONDS: &str = "edgewatch_receiver_store_connection_wait_seconds";
    /// Histogram: notifications each durable commit of the store held.
    pub const RECEIVER_COMMIT_BATCH_SIZE: &str = "edgewatch_receiver_commit_batch_size";

    /// The receiver's metrics about itself, which the pipeline alerts and
    /// the health dashboard read.
    pub const RECEIVER_SELF: &[&str] = &[
        RECEIVER_NOTIFICATIONS_TOTAL,
        RECEIVER_ACTIONS_TOTAL,
        RECEIVER_OUTBOX_PENDING,
        RECEIVER_OUTBOX_OLDEST_AGE,
        RECEIVER_DEAD_LETTERS,
        RECEIVER_WAL_PAGES_BEHIND,
        RECEIVER_CHECKPOINT_SECONDS,
        RECEIVER_CONNECTIONS_BUSY,
        RECEIVER_CONNECTION_WAIT_SECONDS,
        RECEIVER_COMMIT_BATCH_SIZE,
    ];

    /// The ones the exporter's prober produces (from the catalog's probes);
    /// the request-log side of the exporter produces the rest.
    pub const FROM_PROBER: &[&str] =
        &[PROBE_SUCCESS, PROBES_TOTAL, PROBE_TLS_NOT_AFTER, PROBE_DURATION_SECONDS, PROBE_HTTP_STATUS_CODE];
}

/// Alert names other crates act on (the receiver's mitigation suggestions).
pub mod alertname {
    /// Requests rose far above last week's and the last hour's.
    pub const TRAFFIC_SPIKE: &str = "EdgewatchTrafficSpike";
    /// Always firing: the pipeline's heartbeat, for a dead man's switch.
    /// Counts of firing alerts leave it out.
    pub const HEARTBEAT: &str = "EdgewatchHeartbeat";
}

/// Series that rule-gen's recording rules produce and dashboards read (the
/// other side of the contract from [`metric`]).
pub mod recorded {
    /// Requests an SLI counted, per second over window `w` (`5m` … `3d`).
    pub fn sli_requests(w: &str) -> String {
        format!("slo:sli_requests:rate{w}")
    }

    /// Share of an SLI's requests that were bad over window `w`.
    pub fn sli_error_ratio(w: &str) -> String {
        format!("slo:sli_error:ratio_rate{w}")
    }

    /// Share of an SLI's requests that were bad over window `w` of the
    /// chronic SLI: 5-minute stretches that alone were a significant fast
    /// burn (an outage) are left out, so the slow tiers do not hold a past
    /// outage.
    pub fn chronic_error_ratio(w: &str) -> String {
        format!("slo:sli_error:ratio_chronic{w}")
    }

    /// Requests the chronic SLI counted over window `w` (a count, not a rate).
    pub fn chronic_requests(w: &str) -> String {
        format!("slo:sli_requests:increase_chronic{w}")
    }

    /// Share of requests that failed at the origin, per customer, over `w`.
    pub fn origin_errors_ratio(w: &str) -> String {
        format!("edgewatch:origin_errors:ratio_rate{w}")
    }

    /// Share of requests blocked or challenged, per customer, over `w`.
    pub fn mitigated_ratio(w: &str) -> String {
        format!("edgewatch:mitigated:ratio_rate{w}")
    }

    /// Share of 4xx responses, per customer, over `w`.
    pub fn client_errors_ratio(w: &str) -> String {
        format!("edgewatch:client_errors:ratio_rate{w}")
    }

    /// The error ratio over `w` divided by the error budget.
    pub fn burn_rate(w: &str) -> String {
        format!("slo:burn_rate:ratio_rate{w}")
    }

    /// Constant: an SLO's objective as a ratio (`0.999`), by `customer`, `slo`, `slo_kind`.
    pub const OBJECTIVE: &str = "slo:objective:ratio";
    /// Constant: an SLO's error budget as a ratio (`0.001`).
    pub const ERROR_BUDGET: &str = "slo:error_budget:ratio";
    /// Constant: an SLO's period in days.
    pub const PERIOD_DAYS: &str = "slo:period:days";
    /// Constant: the burn-rate threshold of a tier's window pair, by
    /// `tier`, `long` (the pair's long window) and `severity`.
    pub const BURN_THRESHOLD: &str = "slo:burn_threshold:ratio";
    /// Constant: the burn-rate alerts' traffic floor, per SLO (requests, or
    /// probes for a probe SLO).
    pub const MIN_REQUESTS: &str = "slo:min_requests:total";
    /// Constant: names a customer's probe SLO (`slo` label), which the probe
    /// SLI rules join onto the probe counters.
    pub const PROBE_SLO: &str = "slo:probe_slo:info";
    /// The SLI's bad share over the SLO's own period, by `period`.
    pub const PERIOD_ERROR_RATIO: &str = "slo:sli_error:ratio_period";
    /// Share of the period's error budget left (1 = untouched, below 0 = overspent).
    pub const BUDGET_REMAINING: &str = "slo:error_budget_remaining:ratio";
    /// Requests an SLI counted over the last 5m (for the period sums).
    pub const REQUESTS_INCREASE: &str = "slo:sli_requests:increase5m";
    /// Bad requests over the last 5m (for the period sums).
    pub const ERRORS_INCREASE: &str = "slo:sli_errors:increase5m";
    /// 1 while an SLO burns acutely (over the fast tier's outage window,
    /// above its factor, beyond chance); absent otherwise.
    pub const ACUTE_BURN: &str = "slo:acute_burn:flag";
    /// The hour's error ratio of an SLO whose hour burned above the fast
    /// tier's threshold, with more bad requests than chance and the floor
    /// met, carrying the tier's `severity`; absent otherwise. Recorded each
    /// minute with the hour, so the fast alert, every scrape interval, reads
    /// only the few SLOs it names.
    pub const HOUR_BURN: &str = "slo:hour_burn:ratio";
    /// [`REQUESTS_INCREASE`] five minutes ago, absent when the SLO burned
    /// acutely in those five minutes or the five after.
    pub const REQUESTS_CHRONIC_INCREASE: &str = "slo:sli_requests_chronic:increase5m";
    /// [`ERRORS_INCREASE`] five minutes ago, absent like
    /// [`REQUESTS_CHRONIC_INCREASE`].
    pub const ERRORS_CHRONIC_INCREASE: &str = "slo:sli_errors_chronic:increase5m";
    /// Constant: 1 per customer, with `name` and `tier` labels.
    pub const CUSTOMER_INFO: &str = "edgewatch:customer:info";
    /// Constant: the customer's traffic floor for traffic alerts.
    pub const CUSTOMER_MIN_REQUESTS: &str = "edgewatch:min_requests:total";
    /// Constant: the severity the customer's policy gives an alert kind.
    pub const ALERT_SEVERITY: &str = "edgewatch:alert_severity:info";
    /// Constant: the runbook link of an alert kind, as the `runbook_url` label.
    pub const RUNBOOK: &str = "edgewatch:runbook:info";
    /// Requests per second per customer over 5m (the no-data alert).
    pub const REQUESTS_5M: &str = "edgewatch:requests:rate5m";
    /// Requests per second per customer over 10m and 1h.
    pub const REQUESTS_10M: &str = "edgewatch:requests:rate10m";
    /// Requests per second per customer over 1h.
    pub const REQUESTS_1H: &str = "edgewatch:requests:rate1h";
    /// Share of requests that failed at the origin over 10m.
    pub const ORIGIN_ERRORS_10M: &str = "edgewatch:origin_errors:ratio_rate10m";
    /// Share of requests blocked or challenged over 10m.
    pub const MITIGATED_10M: &str = "edgewatch:mitigated:ratio_rate10m";
    /// Share of requests blocked or challenged over 1d.
    pub const MITIGATED_1D: &str = "edgewatch:mitigated:ratio_rate1d";
    /// Share of 4xx responses over 10m.
    pub const CLIENT_ERRORS_10M: &str = "edgewatch:client_errors:ratio_rate10m";
    /// Share of 4xx responses over 1d.
    pub const CLIENT_ERRORS_1D: &str = "edgewatch:client_errors:ratio_rate1d";
    /// Blocked or challenged requests per second per customer over 10m (the
    /// day's share sums it).
    pub const MITIGATED_RATE_10M: &str = "edgewatch:mitigated:rate10m";
    /// 4xx responses per second per customer over 10m (likewise).
    pub const CLIENT_ERRORS_RATE_10M: &str = "edgewatch:client_errors:rate10m";

    /// Requests per second per customer over `w`.
    pub fn requests_rate(w: &str) -> String {
        format!("edgewatch:requests:rate{w}")
    }
}

/// Security actions that stop a request (block or challenge), as a label
/// regex: what "mitigated" means to the attack alert and the dashboards.
pub const MITIGATING_ACTIONS: &str = "block|challenge|jschallenge|managed_challenge";

/// The `le` label value of a histogram bucket bound, in seconds: always with
/// a decimal point (`1.0`, `0.3`), which is how Prometheus 3 normalizes
/// classic histogram bounds, so exporter and rules agree on every version.
pub fn le_label(seconds: f64) -> String {
    if seconds.fract() == 0.0 && seconds.is_finite() { format!("{seconds:.1}") } else { format!("{seconds}") }
}

/// The Grafana dashboard uid of a customer (at most 40 characters of
/// `[a-z0-9_-]`, since customer ids are at most [`MAX_CUSTOMER_ID_LEN`]).
/// Alerts link to it, so it never changes for a given id.
pub fn dashboard_uid(customer_id: &str) -> String {
    format!("edgewatch-{customer_id}")
}

/// The matcher of Prometheus' own rule-group series (`rule_group` is the
/// rule file, `;`, the group's name) for the groups edgewatch renders, all
/// named `edgewatch-…`: the pipeline's alerts on rule evaluation and the
/// health dashboard read the same groups.
pub const RENDERED_RULE_GROUPS: &str = "rule_group=~\".+;edgewatch-.+\"";

/// The shared customer dashboard's uid (`dashboards: {customers: shared}`):
/// an underscore, like the NOC overview's, so no customer's uid is it.
pub const SHARED_CUSTOMER_DASHBOARD_UID: &str = "edgewatch_customer";

/// The NOC overview dashboard's uid. Customer uids are `edgewatch-<id>`, so
/// the underscore keeps this one apart from every customer's.
pub const NOC_DASHBOARD_UID: &str = "edgewatch_noc";

/// The longest customer id: `edgewatch-` plus the id fits Grafana's 40.
pub const MAX_CUSTOMER_ID_LEN: usize = 30;

/// Customer ids the exporters use for traffic that belongs to no customer.
pub const RESERVED_CUSTOMER_IDS: &[&str] = &["unknown", "other"];

/// The customer id the NOC review's report files would collide with
/// (`noc-review-<period>`, beside `<customer>-<period>`).
pub const NOC_REVIEW_ID: &str = "noc-review";

/// How urgent an alert is, and so where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Open a ticket for working hours.
    Ticket,
    /// Record only.
    Info,
}

string_enum!(Severity, "severity", { Page => "page", Ticket => "ticket", Info => "info" });

/// What the severity policy makes of an alert kind: a severity, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyLevel {
    /// Alert with severity `page`.
    Page,
    /// Alert with severity `ticket`.
    Ticket,
    /// Alert with severity `info`.
    Info,
    /// Do not generate this alert.
    Off,
}

string_enum!(PolicyLevel, "severity", { Page => "page", Ticket => "ticket", Info => "info", Off => "off" });

impl PolicyLevel {
    /// The severity, or `None` when off.
    pub const fn severity(self) -> Option<Severity> {
        match self {
            Self::Page => Some(Severity::Page),
            Self::Ticket => Some(Severity::Ticket),
            Self::Info => Some(Severity::Info),
            Self::Off => None,
        }
    }
}

/// What an alert is about. Each kind has a default severity that tiers and
/// customers may change (`alerting.severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// The budget burns at 14.4× over the outage window and the last
    /// scrapes, or over the last hour (docs/alerts.md).
    BurnRateFast,
    /// The budget burns at 6× over 6h and 30m, outages left out.
    BurnRateMedium,
    /// The budget burns at 3× over 2h and 10m, or 1.5× over 3d and 6h,
    /// outages left out.
    BurnRateSlow,
    /// A customer's requests stopped while the exporter runs, a latency
    /// SLO's threshold bucket is missing, or the exporter is not scraped.
    NoData,
    /// A probe fails from most of its addresses.
    ProbeDown,
    /// A TLS certificate expires within 14 days.
    CertExpiryWarning,
    /// A TLS certificate expires within 3 days.
    CertExpiryCritical,
    /// A high share of origin errors (52x, origin unreachable).
    OriginErrors,
    /// Traffic far below or above last week's and the last hour's.
    TrafficAnomaly,
    /// A surge of requests blocked or challenged by security rules.
    Attack,
}

string_enum!(AlertKind, "alert kind", {
    BurnRateFast => "burn_rate_fast",
    BurnRateMedium => "burn_rate_medium",
    BurnRateSlow => "burn_rate_slow",
    NoData => "no_data",
    ProbeDown => "probe_down",
    CertExpiryWarning => "cert_expiry_warning",
    CertExpiryCritical => "cert_expiry_critical",
    OriginErrors => "origin_errors",
    TrafficAnomaly => "traffic_anomaly",
    Attack => "attack",
});

impl AlertKind {
    /// The severity when neither defaults, tier nor customer say otherwise.
    pub const fn default_level(self) -> PolicyLevel {
        match self {
            Self::BurnRateFast | Self::BurnRateMedium | Self::ProbeDown | Self::CertExpiryCritical | Self::Attack => {
                PolicyLevel::Page
            }
            Self::BurnRateSlow | Self::NoData | Self::CertExpiryWarning | Self::OriginErrors => PolicyLevel::Ticket,
            Self::TrafficAnomaly => PolicyLevel::Info,
        }
    }
}

/// What an SLO measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SloKind {
    /// Share of requests that did not fail.
    Availability,
    /// Share of requests faster than a threshold.
    Latency,
    /// Share of synthetic probes that succeeded.
    Probe,
}

string_enum!(SloKind, "SLO kind", { Availability => "availability", Latency => "latency", Probe => "probe" });

/// Which latency a latency SLO reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LatencySource {
    /// Edge time to first byte (`EdgeTimeToFirstByteMs`).
    EdgeTtfb,
    /// Origin response duration (`OriginResponseDurationMs`).
    OriginDuration,
}

string_enum!(LatencySource, "latency source", { EdgeTtfb => "edge_ttfb", OriginDuration => "origin_duration" });

impl LatencySource {
    /// The histogram this latency is recorded in.
    pub const fn metric(self) -> &'static str {
        match self {
            Self::EdgeTtfb => metric::EDGE_TTFB_SECONDS,
            Self::OriginDuration => metric::ORIGIN_DURATION_SECONDS,
        }
    }
}
