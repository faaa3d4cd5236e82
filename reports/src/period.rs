//! The period a report covers, in a time zone: given as `--from/--to`, or
//! as the last calendar week, month or quarter before now. A period is cut
//! into calendar days of its time zone (a day of a DST change is 23 or 25
//! hours long), the windows every daily figure is computed over.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};

/// How the period was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodSpec {
    /// From and to, each an RFC 3339 timestamp or a date. A date `from`
    /// starts at that day's midnight; a date `to` ends at the next midnight
    /// (the day is included), a timestamp `to` at that instant.
    Range {
        /// Start, inclusive.
        from: Bound,
        /// End.
        to: Bound,
    },
    /// The calendar week (Monday to Sunday) before the current one.
    LastWeek,
    /// The calendar month before the current one.
    LastMonth,
    /// The calendar quarter before the current one.
    LastQuarter,
}

/// One end of a `--from/--to` period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// An instant.
    Instant(Timestamp),
    /// A calendar date in the report's time zone.
    Date(Date),
}

impl std::str::FromStr for Bound {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(Self::Instant(t));
        }
        s.parse::<Date>().map(Self::Date).map_err(|_| PeriodError::Bound(s.to_owned()))
    }
}

/// A period that cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Neither a timestamp nor a date.
    #[error("`{0}` is neither an RFC 3339 timestamp (2026-11-01T00:00:00Z) nor a date (2026-11-01)")]
    Bound(String),
    /// Not an IANA time zone.
    #[error("`{0}` is not a time zone this build knows (give an IANA name such as Europe/Paris or UTC)")]
    TimeZone(String),
    /// The end is not after the start.
    #[error("the period is reversed or empty: it starts at {from} and ends at {to}")]
    Reversed {
        /// Start.
        from: String,
        /// End.
        to: String,
    },
    /// The period ends after now.
    #[error("the period ends in the future ({to}, now is {now}): a report covers a finished period")]
    Future {
        /// End.
        to: String,
        /// Now.
        now: String,
    },
    /// A date out of the calendar's range.
    #[error("the period is out of the calendar's range")]
    Range,
}

/// A resolved period: `[from, to)` in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// The zone days and dates are read in.
    pub tz: TimeZone,
    /// A short name: `2026-11`, `2026-W47`, `2026-Q3`, or the dates.
    pub label: String,
}

/// One window of a period: a calendar day, or the part of one that the
/// period covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// The calendar date in the period's zone.
    pub date: Date,
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
}

/// Reads an IANA time zone name.
pub fn time_zone(name: &str) -> Result<TimeZone, PeriodError> {
    TimeZone::get(name).map_err(|_| PeriodError::TimeZone(name.to_owned()))
}

fn midnight(date: Date, tz: &TimeZone) -> Result<Timestamp, PeriodError> {
    date.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| PeriodError::Range)
}

fn shift(date: Date, span: jiff::Span) -> Result<Date, PeriodError> {
    date.checked_add(span).map_err(|_| PeriodError::Range)
}

impl Period {
    /// Resolves `spec` in `tz`, as of `now`.
    pub fn resolve(spec: &PeriodSpec, tz: &TimeZone, now: Timestamp) -> Result<Self, PeriodError> {
        let today = now.to_zoned(tz.clone()).date();
        let (from, to, label) = match spec {
            PeriodSpec::LastWeek => {
                let monday = shift(today, (-i64::from(today.weekday().to_monday_zero_offset())).days())?;
                let start = shift(monday, (-7).days())?;
                let iso = start.iso_week_date();
                (start, monday, format!("{:04}-W{:02}", iso.year(), iso.week()))
            }
            PeriodSpec::LastMonth => {
                let this = today.first_of_month();
                let start = shift(this, (-1).month())?;
                (start, this, format!("{:04}-{:02}", start.year(), start.month()))
            }
            PeriodSpec::LastQuarter => {
                let first_month = (today.month() - 1) / 3 * 3 + 1;
                let this = Date::new(today.year(), first_month, 1).map_err(|_| PeriodError::Range)?;
                let start = shift(this, (-3).months())?;
                (start, this, format!("{:04}-Q{}", start.year(), (start.month() - 1) / 3 + 1))
            }
            PeriodSpec::Range { from, to } => {
                let from_ts = match from {
                    Bound::Instant(t) => *t,
                    Bound::Date(d) => midnight(*d, tz)?,
                };
                let to_ts = match to {
                    Bound::Instant(t) => *t,
                    Bound::Date(d) => midnight(shift(*d, 1.day())?, tz)?,
                };
                let label = match (from, to) {
                    (Bound::Date(a), Bound::Date(b)) if a == b => a.to_string(),
                    (Bound::Date(a), Bound::Date(b)) if a.day() == 1 && *b == a.last_of_month() => {
                        format!("{:04}-{:02}", a.year(), a.month())
                    }
                    (Bound::Date(a), Bound::Date(b)) => format!("{a}_{b}"),
                    _ => format!(
                        "{}_{}",
                        from_ts.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H%M"),
                        to_ts.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H%M")
                    ),
                };
                return Self::checked(from_ts, to_ts, tz, label, now);
            }
        };
        Self::checked(midnight(from, tz)?, midnight(to, tz)?, tz, label, now)
    }

    fn checked(
        from: Timestamp,
        to: Timestamp,
        tz: &TimeZone,
        label: String,
        now: Timestamp,
    ) -> Result<Self, PeriodError> {
        let show = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string();
        if to <= from {
            return Err(PeriodError::Reversed { from: show(from), to: show(to) });
        }
        if to > now {
            return Err(PeriodError::Future { to: show(to), now: show(now) });
        }
        Ok(Self { from, to, tz: tz.clone(), label })
    }

    /// The zone's name (`UTC`, `Europe/Paris`).
    pub fn tz_name(&self) -> String {
        self.tz.iana_name().unwrap_or("UTC").to_owned()
    }

    /// The calendar days the period covers, each clipped to the period.
    pub fn days(&self) -> Vec<Day> {
        let mut days = Vec::new();
        let mut date = self.from.to_zoned(self.tz.clone()).date();
        let mut start = self.from;
        while start < self.to {
            let Ok(next) = shift(date, 1.day()).and_then(|d| midnight(d, &self.tz).map(|t| (d, t))) else { break };
            let end = next.1.min(self.to);
            days.push(Day { date, from: start, to: end });
            (date, start) = (next.0, end);
        }
        days
    }

    /// Length in days (fractional for a period of partial days).
    pub fn length_days(&self) -> f64 {
        // Milliseconds of a period fit a float exactly.
        #[allow(clippy::cast_precision_loss)]
        let ms = (self.to.as_millisecond() - self.from.as_millisecond()) as f64;
        ms / 86_400_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn resolve(spec: &PeriodSpec, tz: &str, now: &str) -> Result<Period, PeriodError> {
        Period::resolve(spec, &time_zone(tz).unwrap(), ts(now))
    }

    #[test]
    fn calendar_periods_align_to_the_zone() {
        // Monday 2026-11-09 08:00 in Paris: last week is Nov 2 to Nov 9.
        let p = resolve(&PeriodSpec::LastWeek, "Europe/Paris", "2026-11-09T07:00:00Z").unwrap();
        assert_eq!((p.from, p.to), (ts("2026-11-01T23:00:00Z"), ts("2026-11-08T23:00:00Z")));
        assert_eq!(p.label, "2026-W45");
        assert_eq!(p.days().len(), 7);

        // A month across the October DST change: 31 days, one of 25 hours.
        let p = resolve(&PeriodSpec::LastMonth, "Europe/Paris", "2026-11-15T12:00:00Z").unwrap();
        assert_eq!((p.from, p.to), (ts("2026-09-30T22:00:00Z"), ts("2026-10-31T23:00:00Z")));
        assert_eq!(p.label, "2026-10");
        let days = p.days();
        assert_eq!(days.len(), 31);
        let long: Vec<_> = days.iter().filter(|d| d.to.as_second() - d.from.as_second() != 86_400).collect();
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].date.to_string(), "2026-10-25");
        assert_eq!(long[0].to.as_second() - long[0].from.as_second(), 25 * 3600);

        // The quarter before 2027-01-10 is 2026-Q4; January's first week belongs to last year's December.
        let p = resolve(&PeriodSpec::LastQuarter, "UTC", "2027-01-10T00:00:00Z").unwrap();
        assert_eq!(
            (p.from, p.to, p.label.as_str()),
            (ts("2026-10-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"), "2026-Q4")
        );
        assert_eq!(p.days().len(), 92);
        let p = resolve(&PeriodSpec::LastMonth, "UTC", "2027-01-10T00:00:00Z").unwrap();
        assert_eq!(p.label, "2026-12");
        // Just after midnight in New York it is still the previous day in UTC terms of the zone.
        let p = resolve(&PeriodSpec::LastMonth, "America/New_York", "2026-12-01T04:30:00Z").unwrap();
        assert_eq!(p.label, "2026-10");
    }

    #[test]
    fn ranges_take_dates_inclusively_and_instants_exactly() {
        let spec = PeriodSpec::Range { from: "2026-11-01".parse().unwrap(), to: "2026-11-30".parse().unwrap() };
        let p = resolve(&spec, "UTC", "2026-12-05T00:00:00Z").unwrap();
        assert_eq!((p.from, p.to), (ts("2026-11-01T00:00:00Z"), ts("2026-12-01T00:00:00Z")));
        assert_eq!(p.label, "2026-11", "a whole month is named as one");
        let spec = PeriodSpec::Range { from: "2026-11-01".parse().unwrap(), to: "2026-11-29".parse().unwrap() };
        assert_eq!(resolve(&spec, "UTC", "2026-12-05T00:00:00Z").unwrap().label, "2026-11-01_2026-11-29");

        let spec = PeriodSpec::Range {
            from: "2026-11-01T06:00:00Z".parse().unwrap(),
            to: "2026-11-03T00:00:00+01:00".parse().unwrap(),
        };
        let p = resolve(&spec, "Europe/Paris", "2026-12-05T00:00:00Z").unwrap();
        let days = p.days();
        assert_eq!(days.len(), 2, "{days:?}");
        assert_eq!((days[0].from, days[0].to), (ts("2026-11-01T06:00:00Z"), ts("2026-11-01T23:00:00Z")));
        assert_eq!((days[1].from, days[1].to), (ts("2026-11-01T23:00:00Z"), ts("2026-11-02T23:00:00Z")));
    }

    #[test]
    fn bad_periods_are_refused_with_their_reason() {
        let spec = PeriodSpec::Range { from: "2026-11-05".parse().unwrap(), to: "2026-11-01".parse().unwrap() };
        assert!(matches!(resolve(&spec, "UTC", "2026-12-01T00:00:00Z"), Err(PeriodError::Reversed { .. })));
        let spec = PeriodSpec::Range { from: "2026-11-01".parse().unwrap(), to: "2026-12-31".parse().unwrap() };
        let err = resolve(&spec, "UTC", "2026-12-01T00:00:00Z").unwrap_err();
        assert!(err.to_string().contains("ends in the future"), "{err}");
        assert!(matches!("yesterday".parse::<Bound>(), Err(PeriodError::Bound(_))));
        assert!(matches!(time_zone("Mars/Olympus"), Err(PeriodError::TimeZone(_))));
        // Last month is over by the first of this one.
        assert!(resolve(&PeriodSpec::LastMonth, "UTC", "2026-12-01T00:00:00Z").is_ok());
    }
}
