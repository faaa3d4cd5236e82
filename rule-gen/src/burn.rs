//! Multiwindow, multi-burn-rate alerting (Google SRE Workbook, ch. 5), with
//! fixed burn factors, one window set for every SLO period, and three
//! changes that make the alerts trustworthy for a NOC (docs/alerts.md,
//! "Burn-rate alerts", has the reasoning and the per-period table):
//!
//! - the factors do not scale with the period: a burn factor says how many
//!   times faster than the objective allows requests fail, and the Workbook's
//!   `budget share × period ÷ long window` made a 7-day SLO ticket at 0.23×
//!   (inside its objective) and a 90-day SLO ignore 40× for an hour;
//! - the fast tier also reads a window of twenty scrapes (`5m` at 15s), so
//!   a full outage pages within a minute, and confirms "still failing" over
//!   four and eight scrapes, so it resolves minutes after recovery;
//! - the medium and slow tiers read the *chronic* SLI, which leaves out the
//!   5-minute stretches that alone are a significant fast burn: an outage
//!   the fast tier pages for cannot hold them firing for hours after it.
//!
//! Every tier also needs the bad requests in its long window to be more
//! than chance at 1×: `√bad > 2 + √(budget × requests)`, a four-sigma bound
//! on the square root of a Poisson count, which is what keeps windows that
//! hold minutes of data (a fresh start) or a quiet night from firing.
//! Thresholds are computed in exact rationals, so they print without float
//! noise.

use edgewatch_catalog::Duration;
use edgewatch_catalog::names::AlertKind;

/// The windows that follow the scrape interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// Four scrapes (`1m` at 15s): the fast tier's "still failing now".
    pub(crate) now: Duration,
    /// Eight scrapes (`2m` at 15s): confirms the hour's burn.
    pub(crate) confirm: Duration,
    /// Twenty scrapes (`5m` at 15s): the outage window.
    pub(crate) outage: Duration,
}

impl Windows {
    /// The windows for Prometheus scraping every `scrape`: four scrapes is
    /// the shortest window `rate()` reads reliably.
    pub(crate) fn for_scrape(scrape: Duration) -> Self {
        let s = scrape.as_millis().max(1000);
        Self {
            now: Duration::from_millis(4 * s),
            confirm: Duration::from_millis(8 * s),
            outage: Duration::from_millis(20 * s),
        }
    }

    /// The windows recorded from the raw counters every scrape interval.
    pub(crate) fn acute(self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in [self.now, self.confirm, self.outage] {
            let w = w.to_string();
            if !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }
}

/// Windows recorded from the raw counters every minute (besides `5m` when it
/// is not an acute window): the fast tier's hour and the dashboards' 6h.
pub(crate) const MINUTE_WINDOWS: [&str; 2] = ["1h", "6h"];

/// Windows of the chronic SLI, summed from recorded 5m increases.
pub(crate) const CHRONIC_WINDOWS: [&str; 4] = ["10m", "30m", "2h", "6h"];

/// Chronic windows recorded every five minutes (they span days).
pub(crate) const CHRONIC_LONG_WINDOWS: [&str; 1] = ["3d"];

/// Full-SLI windows recorded every five minutes from the 5m increases, for
/// the dashboards' 3-day burn rate.
pub(crate) const LONG_WINDOWS: [&str; 1] = ["3d"];

/// The fast tier's factor, which also marks a 5-minute stretch as part of an
/// outage for the chronic SLI.
pub(crate) const FAST_FACTOR: Ratio = Ratio { num: 72, den: 5 };

/// One window pair of a tier: it fires when the error ratio over both
/// windows is above `factor × error budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The tier (alert kind) the pair belongs to.
    pub(crate) kind: AlertKind,
    /// The long window: how much budget must have burned.
    pub(crate) long: String,
    /// The short window: that it still burns.
    pub(crate) short: String,
    /// Times the rate the budget allows.
    pub(crate) factor: Ratio,
    /// Whether it reads the chronic SLI (outage stretches left out).
    pub(crate) chronic: bool,
}

/// The tiers' window pairs for `w`, in tier order.
pub(crate) fn pairs(w: Windows) -> Vec<Pair> {
    let pair = |kind, long: &str, short: &str, factor, chronic| Pair {
        kind,
        long: long.to_owned(),
        short: short.to_owned(),
        factor,
        chronic,
    };
    vec![
        pair(AlertKind::BurnRateFast, &w.outage.to_string(), &w.now.to_string(), FAST_FACTOR, false),
        pair(AlertKind::BurnRateFast, "1h", &w.confirm.to_string(), FAST_FACTOR, false),
        pair(AlertKind::BurnRateMedium, "6h", "30m", Ratio::new(6, 1), true),
        pair(AlertKind::BurnRateSlow, "2h", "10m", Ratio::new(3, 1), true),
        pair(AlertKind::BurnRateSlow, "3d", "6h", Ratio::new(3, 2), true),
    ]
}

/// The `tier` label value of a burn-rate alert kind.
pub(crate) const fn tier_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::BurnRateFast => "fast",
        AlertKind::BurnRateMedium => "medium",
        _ => "slow",
    }
}

/// A non-negative rational number, kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ratio {
    num: u128,
    den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    pub(crate) fn new(num: u128, den: u128) -> Self {
        let g = gcd(num, den.max(1));
        Self { num: num / g, den: den.max(1) / g }
    }

    /// From a decimal's text (`0.0005`).
    pub(crate) fn from_decimal(d: &edgewatch_catalog::Decimal) -> Self {
        let text = d.to_string();
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let digits = format!("{int}{frac}").parse::<u128>().unwrap_or(0);
        Self::new(digits, 10u128.pow(u32::try_from(frac.len()).unwrap_or(0)))
    }

    pub(crate) fn num(self) -> u128 {
        self.num
    }

    pub(crate) fn den(self) -> u128 {
        self.den
    }

    #[must_use]
    pub(crate) fn mul(self, o: Self) -> Self {
        // Reduce across first so products stay small.
        let (a, b) = (Self::new(self.num, o.den), Self::new(o.num, self.den));
        Self::new(a.num.saturating_mul(b.num), a.den.saturating_mul(b.den))
    }

    /// Decimal text, exact when the ratio has a finite decimal expansion,
    /// otherwise rounded to 15 significant digits.
    pub(crate) fn decimal(self) -> String {
        let int = self.num / self.den;
        let mut rem = self.num % self.den;
        let mut frac = String::new();
        let mut significant = if int > 0 { int.to_string().len() } else { 0 };
        while rem != 0 && significant < 15 && frac.len() < 30 {
            rem *= 10;
            let digit = rem / self.den;
            rem %= self.den;
            frac.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
            if significant > 0 || digit > 0 {
                significant += 1;
            }
        }
        if rem != 0 {
            // Round the last digit half up.
            let next = rem * 10 / self.den;
            if next >= 5 {
                return round_up(int, &frac);
            }
        }
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") }
    }
}

fn round_up(int: u128, frac: &str) -> String {
    let mut digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    let mut carry = true;
    for d in digits.iter_mut().rev() {
        if !carry {
            break;
        }
        *d += 1;
        carry = *d == 10;
        if carry {
            *d = 0;
        }
    }
    let int = if carry { int + 1 } else { int };
    let frac: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn windows_follow_the_scrape_interval() {
        let w = Windows::for_scrape(secs(15));
        assert_eq!(w.acute(), ["1m", "2m", "5m"]);
        assert_eq!(Windows::for_scrape(secs(30)).acute(), ["2m", "4m", "10m"]);
        assert_eq!(Windows::for_scrape(secs(1)).acute(), ["4s", "8s", "20s"]);
        let p = pairs(w);
        assert_eq!((p[0].long.as_str(), p[0].short.as_str()), ("5m", "1m"));
        assert_eq!((p[1].long.as_str(), p[1].short.as_str()), ("1h", "2m"));
    }

    #[test]
    fn no_tier_fires_at_or_below_one_times_the_budget() {
        // Fixed factors, the same for every period: all above 1.
        for p in pairs(Windows::for_scrape(secs(15))) {
            assert!(p.factor.num() > p.factor.den(), "{p:?}");
        }
        let f: Vec<String> = pairs(Windows::for_scrape(secs(15))).iter().map(|p| p.factor.decimal()).collect();
        assert_eq!(f, ["14.4", "14.4", "6", "3", "1.5"]);
    }

    #[test]
    fn thresholds_have_no_float_noise() {
        let budget =
            |o: &str| Ratio::from_decimal(&o.parse::<edgewatch_catalog::Percent>().unwrap().complement_ratio());
        assert_eq!(FAST_FACTOR.mul(budget("99.9")).decimal(), "0.0144");
        assert_eq!(FAST_FACTOR.mul(budget("99.95")).decimal(), "0.0072");
        assert_eq!(Ratio::new(3, 2).mul(budget("99.9")).decimal(), "0.0015");
        assert_eq!(Ratio::new(2, 3).decimal(), "0.666666666666667");
        assert_eq!(Ratio::new(9_999_999_999_999_999, 10_000_000_000_000_000).decimal(), "1");
    }

    proptest! {
        /// The printed threshold equals factor × budget computed by hand in
        /// integers, and is above the budget (so above 1×).
        #[test]
        fn printed_thresholds_match_exact_math(pair in 0usize..5, objective_bp in 1u64..10_000) {
            // objective = 100% - objective_bp basis points of a percent (0.01% steps).
            let budget = Ratio::new(u128::from(objective_bp), 1_000_000);
            let p = &pairs(Windows::for_scrape(secs(15)))[pair];
            let (fnum, fden): (u128, u128) = [(72, 5), (72, 5), (6, 1), (3, 1), (3, 2)][pair];
            let exact = Ratio::new(fnum * u128::from(objective_bp), fden * 1_000_000);
            let got = p.factor.mul(budget);
            prop_assert_eq!(got, exact);
            let printed: f64 = got.decimal().parse().unwrap();
            #[allow(clippy::cast_precision_loss)]
            let want = exact.num as f64 / exact.den as f64;
            prop_assert!((printed - want).abs() <= want * 1e-14);
            #[allow(clippy::cast_precision_loss)]
            let b = objective_bp as f64 / 1e6;
            prop_assert!(printed > b);
        }
    }
}
