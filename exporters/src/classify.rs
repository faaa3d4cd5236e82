//! Turns raw record values into the small, fixed label sets the metrics use,
//! so no value a client or origin sends can create new series.

/// Status classes, as label values; index = class − 1, then `other`.
pub(crate) const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The index of a status in [`STATUS_CLASSES`].
pub(crate) fn status_class(code: u16) -> usize {
    match code {
        100..=599 => usize::from(code / 100) - 1,
        _ => 5,
    }
}

/// Cache statuses Logpush documents for `CacheCacheStatus`, then `none` (no
/// value) and `other` (anything undocumented).
pub(crate) const CACHE_STATUSES: [&str; 14] = [
    "hit",
    "miss",
    "expired",
    "updating",
    "stale",
    "ignored",
    "bypass",
    "revalidated",
    "dynamic",
    "stream_hit",
    "deferred",
    "unknown",
    "none",
    "other",
];

/// The index of a raw `CacheCacheStatus` (bytes as read) in [`CACHE_STATUSES`].
pub(crate) fn cache_status(raw: Option<&[u8]>) -> usize {
    match raw {
        None | Some(b"") => 12,
        Some(s) => CACHE_STATUSES[..12].iter().position(|c| c.as_bytes().eq_ignore_ascii_case(s)).unwrap_or(13),
    }
}

/// Security actions (`SecurityAction`, formerly `WAFAction`), then `other`.
/// Every one is counted, whether it stopped the request or not: only the
/// mitigating ones ([`is_mitigation`]) did, and readers select those.
pub(crate) const SECURITY_ACTIONS: [&str; 13] = [
    "block",
    "challenge",
    "jschallenge",
    "managed_challenge",
    "challenge_solved",
    "jschallenge_solved",
    "managed_challenge_solved",
    "challenge_failed",
    "managed_challenge_failed",
    "log",
    "skip",
    "allow",
    "other",
];

/// Whether `raw` spells `name` (snake case), ignoring case and
/// underscores: Logpush writes `managedChallenge`, other sources
/// `managed_challenge`.
fn spells(raw: &[u8], name: &str) -> bool {
    let mut raw = raw.iter().filter(|b| **b != b'_');
    let mut name = name.bytes().filter(|b| *b != b'_');
    loop {
        match (raw.next(), name.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
            _ => return false,
        }
    }
}

/// The action's index (of the raw bytes as read), or `None` when the
/// request met no security action.
pub(crate) fn security_action(raw: Option<&[u8]>) -> Option<usize> {
    match raw {
        None | Some(b"" | b"unknown") => None,
        Some(s) => {
            // Solved managed challenges come in two flavours; count them as one.
            let s: &[u8] = if spells(s, "managed_challenge_non_interactive_solved")
                || spells(s, "managed_challenge_interactive_solved")
            {
                b"managed_challenge_solved"
            } else {
                s
            };
            Some(SECURITY_ACTIONS[..12].iter().position(|a| spells(s, a)).unwrap_or(12))
        }
    }
}

/// Whether the action stopped or challenged the request (for top offenders
/// and the attack alert).
pub(crate) fn is_mitigation(action: usize) -> bool {
    matches!(SECURITY_ACTIONS.get(action), Some(&("block" | "challenge" | "jschallenge" | "managed_challenge")))
}

/// Kinds of origin failure.
pub(crate) const ORIGIN_ERRORS: [&str; 9] = [
    "empty_response",
    "connection_refused",
    "connection_timeout",
    "unreachable",
    "response_timeout",
    "tls_handshake",
    "tls_certificate",
    "origin_5xx",
    "no_response",
];

/// What went wrong between edge and origin, if anything. Cloudflare's 52x
/// statuses name the failure; otherwise a 5xx from the origin, or no origin
/// answer behind an edge 5xx.
pub(crate) fn origin_error(edge: Option<u16>, origin: Option<u16>) -> Option<usize> {
    if let Some(c @ 520..=526) = edge {
        return Some(usize::from(c - 520));
    }
    match (edge, origin) {
        (_, Some(500..=599)) => Some(7),
        (Some(500..=599), Some(0)) => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_bounded() {
        assert_eq!(STATUS_CLASSES[status_class(503)], "5xx");
        assert_eq!(STATUS_CLASSES[status_class(0)], "other");
        assert_eq!(STATUS_CLASSES[status_class(999)], "other");
        assert_eq!(CACHE_STATUSES[cache_status(Some(b"HIT"))], "hit");
        assert_eq!(CACHE_STATUSES[cache_status(Some(b"weird"))], "other");
        assert_eq!(CACHE_STATUSES[cache_status(None)], "none");
        assert_eq!(security_action(Some(b"")), None);
        assert_eq!(
            security_action(Some(b"managed_challenge_interactive_solved")).map(|i| SECURITY_ACTIONS[i]),
            Some("managed_challenge_solved")
        );
        assert_eq!(security_action(Some(b"nonsense")).map(|i| SECURITY_ACTIONS[i]), Some("other"));
        assert!(security_action(Some(b"block")).is_some_and(is_mitigation));
        assert!(!security_action(Some(b"log")).is_some_and(is_mitigation));
    }

    #[test]
    fn logpush_camel_case_actions_are_recognised() {
        // Logpush's `SecurityAction` values are camel case.
        let action = |raw: &[u8]| security_action(Some(raw)).map(|i| SECURITY_ACTIONS[i]);
        assert_eq!(action(b"managedChallenge"), Some("managed_challenge"));
        assert!(security_action(Some(b"managedChallenge")).is_some_and(is_mitigation));
        assert_eq!(action(b"jschallenge"), Some("jschallenge"));
        assert_eq!(action(b"challengeSolved"), Some("challenge_solved"));
        assert_eq!(action(b"managedChallengeNonInteractiveSolved"), Some("managed_challenge_solved"));
        assert_eq!(action(b"managedChallengeInteractiveSolved"), Some("managed_challenge_solved"));
        assert_eq!(action(b"challengeFailed"), Some("challenge_failed"));
        assert_eq!(action(b"connectionClose"), Some("other"));
        assert_eq!(action(b"managedChallengeX"), Some("other"));
    }

    #[test]
    fn origin_errors_by_kind() {
        let kind = |e, o| origin_error(e, o).map(|i| ORIGIN_ERRORS[i]);
        assert_eq!(kind(Some(522), Some(0)), Some("connection_timeout"));
        assert_eq!(kind(Some(526), Some(0)), Some("tls_certificate"));
        assert_eq!(kind(Some(502), Some(502)), Some("origin_5xx"));
        assert_eq!(kind(Some(502), Some(0)), Some("no_response"));
        assert_eq!(kind(Some(200), Some(0)), None, "served from cache");
        assert_eq!(kind(Some(404), Some(404)), None);
    }
}
