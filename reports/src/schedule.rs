//! Scheduled reports: their configuration (the `reports:` section of
//! `receiver.yml`), and when each falls due. Each schedule reports on the
//! calendar period that just ended (the week, month or quarter before), at
//! a local time of the day it ends (`week` at 06:00: Monday 06:00, on
//! Monday to Sunday). Pure: the scheduler asks it with the clock's time.

use std::path::PathBuf;

use edgewatch_catalog::model::Destination;
use edgewatch_catalog::{Catalog, Duration};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};
use serde::Deserialize;

use crate::output::Format;
use crate::period::{Period, PeriodError, PeriodSpec};

/// Reports written on a schedule, from Prometheus and the receiver's store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Prometheus' URL, or any server of its query API (Thanos, Mimir).
    pub prometheus_url: String,
    /// Where reports are written; `<data_dir>/reports` when absent.
    pub out: Option<PathBuf>,
    /// The IANA zone days, periods and `at` are read in.
    #[serde(default = "utc")]
    pub timezone: String,
    /// Report files in `out` older than this are deleted.
    #[serde(default = "default_retention")]
    pub retention: Duration,
    /// How long one query to Prometheus may take.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// What is written when.
    pub schedules: Vec<ScheduleConfig>,
}

/// One schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `week`, `month` or `quarter`: the period just ended.
    pub every: Cadence,
    /// The local time (`HH:MM`) on the day the period ends.
    #[serde(default = "six")]
    pub at: String,
    /// The customers (catalog ids) to report on; every customer when absent.
    pub customers: Option<Vec<String>>,
    /// Also the NOC review of every customer.
    #[serde(default)]
    pub noc: bool,
    /// The formats written.
    #[serde(default = "html")]
    pub formats: Vec<Format>,
    /// Mail the reports once written.
    pub mail: Option<MailConfig>,
}

/// Scheduled reports by e-mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The catalog's `email` destination that sends them: its relay, its
    /// sender, and the contacts' roles that get a customer's report.
    pub via: String,
    /// Who gets the NOC review (of a schedule with `noc: true`).
    #[serde(default)]
    pub noc: Vec<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn default_retention() -> Duration {
    Duration::from_millis(400 * 86_400_000)
}

fn default_timeout() -> Duration {
    Duration::from_millis(120_000)
}

fn six() -> String {
    "06:00".to_owned()
}

fn html() -> Vec<Format> {
    vec![Format::Html]
}

/// `HH:MM` as a time of day.
fn time_of_day(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl Config {
    /// Every problem, as `path: message` below `at` (`reports`).
    pub fn validate(&self, catalog: &Catalog, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.prometheus_url.starts_with("http://") || self.prometheus_url.starts_with("https://")) {
            problems.push(format!("{at}.prometheus_url: `{}` is not an http(s) URL", self.prometheus_url));
        }
        if TimeZone::get(&self.timezone).is_err() {
            problems
                .push(format!("{at}.timezone: `{}` is not an IANA time zone (`UTC`, `Europe/Paris`)", self.timezone));
        }
        if self.retention.as_millis() < 86_400_000 {
            problems.push(format!("{at}.retention: {} is under a day", self.retention));
        } else if let Some(longest) = self.schedules.iter().map(|s| s.every).max_by_key(|c| c.longest_days()) {
            // A report deleted before the next one is due would be written,
            // and mailed, again at the next run.
            if self.retention.as_millis() < longest.longest_days() * 86_400_000 {
                problems.push(format!(
                    "{at}.retention: {} is shorter than a {}: the latest report would be deleted and written (and mailed) again; keep at least {}d",
                    self.retention,
                    longest.as_str(),
                    longest.longest_days()
                ));
            }
        }
        if self.schedules.is_empty() {
            problems.push(format!("{at}.schedules: name at least one (`- every: week`)"));
        }
        for (i, s) in self.schedules.iter().enumerate() {
            if time_of_day(&s.at).is_none() {
                problems.push(format!("{at}.schedules[{i}].at: `{}` is not a time of day as HH:MM", s.at));
            }
            if s.formats.is_empty() {
                problems.push(format!("{at}.schedules[{i}].formats: name at least one (html, md, json)"));
            }
            for (j, id) in s.customers.iter().flatten().enumerate() {
                if catalog.customer(id).is_none() {
                    problems
                        .push(format!("{at}.schedules[{i}].customers[{j}]: `{id}` is not a customer of the catalog"));
                }
            }
            if s.customers.as_ref().is_some_and(Vec::is_empty) && !s.noc {
                problems.push(format!("{at}.schedules[{i}]: no customer and no NOC review: nothing to write"));
            }
            if let Some(mail) = &s.mail {
                mail.validate(s, catalog, &format!("{at}.schedules[{i}].mail"), &mut problems);
            }
        }
        problems
    }

    /// The schedules, once [`Config::validate`] found nothing.
    pub fn schedules(&self) -> Result<Vec<Schedule>, PeriodError> {
        let tz = crate::period::time_zone(&self.timezone)?;
        self.schedules
            .iter()
            .map(|s| {
                let at = time_of_day(&s.at).ok_or(PeriodError::Range)?;
                Ok(Schedule { cadence: s.every, at, tz: tz.clone() })
            })
            .collect()
    }
}

impl MailConfig {
    fn validate(&self, schedule: &ScheduleConfig, catalog: &Catalog, at: &str, problems: &mut Vec<String>) {
        let Some(Destination::Email(email)) = catalog.destinations.get(self.via.as_str()) else {
            let emails: Vec<&str> = catalog
                .destinations
                .iter()
                .filter(|(_, d)| matches!(d, Destination::Email(_)))
                .map(|(n, _)| n.as_str())
                .collect();
            let known = if emails.is_empty() { "none".to_owned() } else { emails.join(", ") };
            problems.push(format!(
                "{at}.via: `{}` is not an `email` destination of the catalog (its e-mail destinations: {known})",
                self.via
            ));
            return;
        };
        for (j, addr) in self.noc.iter().enumerate() {
            let ok = addr.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                && !addr.contains(char::is_whitespace);
            if !ok {
                problems.push(format!("{at}.noc[{j}]: `{addr}` is not an e-mail address"));
            }
        }
        if !self.noc.is_empty() && !schedule.noc {
            problems.push(format!("{at}.noc: the schedule writes no NOC review (`noc: true`)"));
        }
        let mailed: Vec<&str> = match &schedule.customers {
            Some(ids) => ids.iter().map(String::as_str).collect(),
            None => catalog.customers.iter().map(|c| c.id.as_str()).collect(),
        };
        let unreachable: Vec<&str> = mailed
            .into_iter()
            .filter(|id| catalog.customer(id).is_some_and(|c| email.recipients(&c.contacts).is_empty()))
            .collect();
        if !unreachable.is_empty() {
            problems.push(format!(
                "{at}.via: no contact `{}` writes to for {}: their reports would reach no one (add contacts, or list `customers`)",
                self.via,
                unreachable.join(", ")
            ));
        }
    }
}

/// How often a schedule reports, on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Every Monday, on the week (Monday to Sunday) before.
    Week,
    /// Every first of the month, on the month before.
    Month,
    /// Every first day of a quarter, on the quarter before.
    Quarter,
}

impl Cadence {
    /// `week`, `month` or `quarter`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
        }
    }

    /// The most days one of its periods has.
    const fn longest_days(self) -> u64 {
        match self {
            Self::Week => 7,
            Self::Month => 31,
            Self::Quarter => 92,
        }
    }

    fn spec(self) -> PeriodSpec {
        match self {
            Self::Week => PeriodSpec::LastWeek,
            Self::Month => PeriodSpec::LastMonth,
            Self::Quarter => PeriodSpec::LastQuarter,
        }
    }

    fn next(self, start: Date) -> Result<Date, PeriodError> {
        let span = match self {
            Self::Week => 7.days(),
            Self::Month => 1.month(),
            Self::Quarter => 3.months(),
        };
        start.checked_add(span).map_err(|_| PeriodError::Range)
    }
}

/// A cadence at a local time in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cadence: Cadence,
    /// The local time of day the report is made.
    pub at: Time,
    /// The zone days, periods and `at` are read in.
    pub tz: TimeZone,
}

impl Schedule {
    /// When the report of a period ending (local midnight) on `end` falls
    /// due: `at` that day. In a DST gap, the time after it.
    fn due_on(&self, end: Date) -> Result<Timestamp, PeriodError> {
        end.to_datetime(self.at).to_zoned(self.tz.clone()).map(|z| z.timestamp()).map_err(|_| PeriodError::Range)
    }

    fn end_date(&self, period: &Period) -> Date {
        period.to.to_zoned(self.tz.clone()).date()
    }

    /// The latest period whose report is due at `now`.
    pub fn latest_due(&self, now: Timestamp) -> Result<Period, PeriodError> {
        let last = Period::resolve(&self.cadence.spec(), &self.tz, now)?;
        if self.due_on(self.end_date(&last))? <= now {
            return Ok(last);
        }
        // Not yet: the period before it, as seen from its own start.
        Period::resolve(&self.cadence.spec(), &self.tz, last.from)
    }

    /// When the next report falls due after `now`.
    pub fn next_due(&self, now: Timestamp) -> Result<Timestamp, PeriodError> {
        let last = Period::resolve(&self.cadence.spec(), &self.tz, now)?;
        let end = self.end_date(&last);
        let due = self.due_on(end)?;
        if due > now {
            return Ok(due);
        }
        // The period in progress ends one cadence after the last ended.
        self.due_on(self.cadence.next(end)?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const CATALOG: &str =
        "customers:\n  - id: acme\n    hosts: [acme.example]\n  - id: shop\n    hosts: [shop.example]\n";

    fn config(yaml: &str) -> Config {
        edgewatch_catalog::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_section_is_checked_with_every_problem_named() {
        let catalog = edgewatch_catalog::load_str("c.yaml", CATALOG).unwrap().catalog;
        let bad = config(
            "prometheus_url: prom:9090\ntimezone: Europe/Pariss\nretention: 1h\nschedules:\n  - {every: week, at: '6am', customers: [acme, acmee], formats: []}\n  - {every: month, customers: []}\n",
        );
        let problems = bad.validate(&catalog, "reports");
        assert_eq!(
            problems,
            [
                "reports.prometheus_url: `prom:9090` is not an http(s) URL",
                "reports.timezone: `Europe/Pariss` is not an IANA time zone (`UTC`, `Europe/Paris`)",
                "reports.retention: 1h is under a day",
                "reports.schedules[0].at: `6am` is not a time of day as HH:MM",
                "reports.schedules[0].formats: name at least one (html, md, json)",
                "reports.schedules[0].customers[1]: `acmee` is not a customer of the catalog",
                "reports.schedules[1]: no customer and no NOC review: nothing to write",
            ]
        );
        let unknown =
            edgewatch_catalog::yaml::from_str::<Config>("prometheus_url: http://p\nschedules: []\nevery: week\n");
        assert!(unknown.unwrap_err().message.contains("unknown field `every`"));
    }

    #[test]
    fn mail_needs_an_email_destination_and_someone_to_write_to() {
        let catalog = edgewatch_catalog::load_str(
            "c.yaml",
            "destinations:
  mail: {email: {host: smtp.example.net, from: noc@edge.example, roles: [technical]}}
  log: {log: {path: '-'}}
customers:
  - id: acme
    hosts: [acme.example]
    contacts: [{name: Ada, email: ada@acme.example, role: technical}]
  - id: shop
    hosts: [shop.example]
",
        )
        .unwrap()
        .catalog;
        let bad = config(
            "prometheus_url: http://p\nschedules:\n  - {every: week, mail: {via: log}}\n  - {every: week, mail: {via: mail, noc: [noc]}}\n  - {every: week, customers: [acme], mail: {via: mail}}\n",
        );
        let short =
            config("prometheus_url: http://p\nretention: 20d\nschedules:\n  - {every: week}\n  - {every: month}\n");
        assert_eq!(
            short.validate(&catalog, "reports"),
            [
                "reports.retention: 20d is shorter than a month: the latest report would be deleted and written (and mailed) again; keep at least 31d"
            ]
        );
        assert_eq!(
            bad.validate(&catalog, "reports"),
            [
                "reports.schedules[0].mail.via: `log` is not an `email` destination of the catalog (its e-mail destinations: mail)",
                "reports.schedules[1].mail.noc[0]: `noc` is not an e-mail address",
                "reports.schedules[1].mail.noc: the schedule writes no NOC review (`noc: true`)",
                "reports.schedules[1].mail.via: no contact `mail` writes to for shop: their reports would reach no one (add contacts, or list `customers`)",
            ]
        );
    }

    fn paris(cadence: Cadence) -> Schedule {
        Schedule { cadence, at: Time::constant(6, 0, 0, 0), tz: TimeZone::get("Europe/Paris").unwrap() }
    }

    #[test]
    fn a_weekly_report_is_due_on_monday_at_six_local() {
        let s = paris(Cadence::Week);
        // Monday 2026-11-30, 05:59 in Paris (04:59 UTC): the week before
        // last is the latest due; the next is due at 06:00.
        let before = at("2026-11-30T04:59:00Z");
        assert_eq!(s.latest_due(before).unwrap().label, "2026-W47");
        assert_eq!(s.next_due(before).unwrap(), at("2026-11-30T05:00:00Z"));
        let after = at("2026-11-30T05:00:00Z");
        assert_eq!(s.latest_due(after).unwrap().label, "2026-W48");
        assert_eq!(s.next_due(after).unwrap(), at("2026-12-07T05:00:00Z"));
    }

    #[test]
    fn monthly_and_quarterly_reports_follow_the_calendar_and_dst() {
        let s = paris(Cadence::Month);
        // 1 April is summer time in Paris: 06:00 is 04:00 UTC.
        assert_eq!(s.next_due(at("2026-03-15T00:00:00Z")).unwrap(), at("2026-04-01T04:00:00Z"));
        assert_eq!(s.latest_due(at("2026-04-01T04:00:00Z")).unwrap().label, "2026-03");
        assert_eq!(s.latest_due(at("2026-04-01T03:59:59Z")).unwrap().label, "2026-02");
        let q = paris(Cadence::Quarter);
        assert_eq!(q.next_due(at("2026-12-05T00:00:00Z")).unwrap(), at("2027-01-01T05:00:00Z"));
        assert_eq!(q.latest_due(at("2026-12-05T00:00:00Z")).unwrap().label, "2026-Q3");
    }

    proptest! {
        #[test]
        fn the_latest_due_is_due_and_the_next_is_later(secs in 1_700_000_000i64..1_900_000_000, cadence in 0..3u8) {
            let cadence = [Cadence::Week, Cadence::Month, Cadence::Quarter][usize::from(cadence)];
            let s = paris(cadence);
            let now = Timestamp::from_second(secs).unwrap();
            let latest = s.latest_due(now).unwrap();
            let next = s.next_due(now).unwrap();
            prop_assert!(s.due_on(s.end_date(&latest)).unwrap() <= now);
            prop_assert!(next > now);
            // At the next due time, the latest due period is a new one that
            // ends where the last one's successor ends.
            let then = s.latest_due(next).unwrap();
            prop_assert_eq!(then.from, latest.to);
        }
    }
}
