//! Multiwindow, multi-burn-rate alerting (Google SRE Workbook, ch. 5): each
//! tier fires when the error ratio over both its long and its short window
//! exceeds `factor × budget`, with `factor = budget share × period ÷ long
//! window`. Computed in exact rationals, so any period gives exact factors
//! (14.4 for 30d, 13.44 for 28d) and thresholds print without float noise.

use edgewatch_catalog::Duration;
use edgewatch_catalog::names::AlertKind;

/// One burn-rate tier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tier {
    pub(crate) kind: AlertKind,
    /// Label value and name part: `fast`, `medium`, `slow`.
    pub(crate) name: &'static str,
    pub(crate) long: &'static str,
    pub(crate) short: &'static str,
    /// Share of the period's budget spent in the long window, in percent.
    pub(crate) budget_percent: u64,
}

/// The tiers, as the SRE Workbook's table 5-8 recommends.
pub(crate) const TIERS: [Tier; 3] = [
    Tier { kind: AlertKind::BurnRateFast, name: "fast", long: "1h", short: "5m", budget_percent: 2 },
    Tier { kind: AlertKind::BurnRateMedium, name: "medium", long: "6h", short: "30m", budget_percent: 5 },
    Tier { kind: AlertKind::BurnRateSlow, name: "slow", long: "3d", short: "6h", budget_percent: 10 },
];

/// Windows every SLI is recorded over from the raw metrics.
pub(crate) const WINDOWS: [&str; 5] = ["5m", "30m", "1h", "2h", "6h"];

/// Long windows, recorded from the 5m recordings instead (seconds too).
pub(crate) const LONG_WINDOWS: [(&str, u64); 2] = [("1d", 86_400), ("3d", 259_200)];

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

/// The burn-rate factor of a tier for a period.
pub(crate) fn factor(tier: Tier, period: Duration) -> Ratio {
    let long: Duration = tier.long.parse().unwrap_or(Duration::from_secs(3600));
    Ratio::new(u128::from(tier.budget_percent), 100)
        .mul(Ratio::new(u128::from(period.as_millis()), u128::from(long.as_millis())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn days(d: u64) -> Duration {
        Duration::from_secs(d * 86_400)
    }

    #[test]
    fn workbook_factors_for_every_period() {
        let f = |i: usize, d| factor(TIERS[i], days(d)).decimal();
        assert_eq!((f(0, 30), f(1, 30), f(2, 30)), ("14.4".into(), "6".into(), "1".into()));
        assert_eq!((f(0, 28), f(1, 28), f(2, 28)), ("13.44".into(), "5.6".into(), "0.933333333333333".into()));
        assert_eq!((f(0, 7), f(1, 7), f(2, 7)), ("3.36".into(), "1.4".into(), "0.233333333333333".into()));
    }

    #[test]
    fn thresholds_have_no_float_noise() {
        let budget = Ratio::from_decimal(&"99.9".parse::<edgewatch_catalog::Percent>().unwrap().complement_ratio());
        assert_eq!(factor(TIERS[0], days(30)).mul(budget).decimal(), "0.0144");
        let budget = Ratio::from_decimal(&"99.95".parse::<edgewatch_catalog::Percent>().unwrap().complement_ratio());
        assert_eq!(factor(TIERS[1], days(28)).mul(budget).decimal(), "0.0028");
        assert_eq!(Ratio::new(2, 3).decimal(), "0.666666666666667");
        assert_eq!(Ratio::new(9_999_999_999_999_999, 10_000_000_000_000_000).decimal(), "1");
    }

    proptest! {
        /// The printed threshold equals factor × budget computed by hand in
        /// integers: budget% × period_h × objective complement, no floats.
        #[test]
        fn printed_thresholds_match_exact_math(tier in 0usize..3, period in 7u64..=90, objective_bp in 1u64..10_000) {
            // objective = 100% - objective_bp basis points of a percent (0.01% steps).
            let budget = Ratio::new(u128::from(objective_bp), 1_000_000);
            let t = TIERS[tier];
            let long_h: u128 = match t.long { "1h" => 1, "6h" => 6, _ => 72 };
            let exact = Ratio::new(u128::from(t.budget_percent) * u128::from(period) * 24 * u128::from(objective_bp), 100 * long_h * 1_000_000);
            let got = factor(t, days(period)).mul(budget);
            prop_assert_eq!(got, exact);
            let printed: f64 = got.decimal().parse().unwrap();
            #[allow(clippy::cast_precision_loss)]
            let want = exact.num as f64 / exact.den as f64;
            prop_assert!((printed - want).abs() <= want * 1e-14);
        }
    }
}
