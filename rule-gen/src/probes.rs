//! Probe alerts, shared by every customer: a probe failing from most of its
//! addresses, and certificates close to expiry. They read the prober's
//! metrics (`edgewatch_catalog::names::metric::PROBE_*`).

use edgewatch_catalog::names::{AlertKind, label, metric};

use crate::alerts::{Links, kind_alert};
use crate::rules::Group;

/// How long most addresses must fail before a probe is down.
const DOWN_FOR: &str = "3m";

pub(crate) fn groups(links: &Links, interval: &str) -> Vec<Group> {
    let by = format!("{}, {}", label::CUSTOMER, label::PROBE);
    let failing = format!("sum by ({by}) ({s} == bool 0)\n/\ncount by ({by}) ({s})\n> 0.5", s = metric::PROBE_SUCCESS);
    let days_left = format!("({} - time()) / 86400", metric::PROBE_TLS_NOT_AFTER);
    let rules = vec![
        kind_alert(
            "EdgewatchProbeDown",
            AlertKind::ProbeDown,
            &failing,
            DOWN_FOR,
            [
                "{{ $labels.customer }}: probe {{ $labels.probe }} fails from {{ $value | humanizePercentage }} of its addresses",
                "{{ $labels.customer }}: the {{ $labels.probe }} probe has failed from most of the addresses it probes for 3 minutes. Compare the addresses on the dashboard: one family (IPv4 or IPv6) or one address failing points at the network, all of them at the site.",
            ],
            links,
        ),
        // A certificate to renew is its own piece of work: it gets its own
        // incident, whatever else the customer has open.
        kind_alert(
            "EdgewatchCertificateExpiring",
            AlertKind::CertExpiryWarning,
            &format!("{days_left} < 14"),
            "10m",
            [
                "{{ $labels.customer }}: the certificate of {{ $labels.probe }} expires in {{ $value | printf \"%.1f\" }} days",
                "{{ $labels.customer }}: the certificate served to the {{ $labels.probe }} probe expires within 14 days. Check that renewal (ACME or the customer's upload) is running.",
            ],
            links,
        )
        .label(label::INCIDENT, "certificate"),
        kind_alert(
            "EdgewatchCertificateExpiryImminent",
            AlertKind::CertExpiryCritical,
            &format!("{days_left} < 3"),
            "10m",
            [
                "{{ $labels.customer }}: the certificate of {{ $labels.probe }} expires in {{ $value | printf \"%.1f\" }} days",
                "{{ $labels.customer }}: the certificate served to the {{ $labels.probe }} probe expires within 3 days; browsers will refuse the site. Renew or upload a certificate now.",
            ],
            links,
        )
        .label(label::INCIDENT, "certificate"),
    ];
    vec![Group {
        name: "edgewatch-probe-alerts".to_owned(),
        interval: Some(interval.to_owned()),
        partial_response_strategy: None,
        rules,
    }]
}
