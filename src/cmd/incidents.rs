//! `edgewatch incidents list|show|note`: the receiver's incidents, and the
//! notes analysts record on them, beside running receivers, on either
//! store. Reading never changes the store; a note is one transaction that the
//! running receiver then delivers (a comment on the Jira issue).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_webhook_receiver::{History, IncidentRecord, NewNote, NoteKind, Notes, StoreError};

use super::runtime;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    config: runtime::ReceiverConfigArg,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Incidents firing now, and those of the last `--since` (newest last).
    List {
        /// Only this customer's (catalog id).
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        /// How far back resolved incidents are listed.
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        since: edgewatch_catalog::Duration,
        /// Output for people (`text`) or machines (`json`).
        #[arg(long, value_enum, default_value_t = crate::Format::Text)]
        format: crate::Format,
    },
    /// One incident: its alerts, tickets and pages, and notes.
    Show {
        /// The incident's id (from `list`).
        id: i64,
        /// Output for people (`text`) or machines (`json`).
        #[arg(long, value_enum, default_value_t = crate::Format::Text)]
        format: crate::Format,
    },
    /// Record what was done about an incident (shown in reports) or another
    /// note; its Jira issue gets it as a comment.
    Note {
        /// The incident's id (from `list`).
        id: i64,
        /// What was done: the remediation, shown in the customer's report.
        #[arg(long, value_name = "TEXT", required_unless_present = "comment", conflicts_with = "comment")]
        remediation: Option<String>,
        /// A note that is not a remediation (context, a hand-over).
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        /// Who records it; `$USER` when absent.
        #[arg(long, value_name = "NAME", env = "USER")]
        author: Option<String>,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let store = config.store_label();
    let env = |k: &str| std::env::var(k).ok();
    let mut out = std::io::stdout().lock();
    match &args.command {
        Sub::List { customer, since, format } => {
            let history = History::connect(&config, &env)?;
            let now = edgewatch_catalog::time::now_ms();
            let since_ms = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
            let records = history.incidents(customer.as_deref(), now.saturating_sub(since_ms), i64::MAX)?;
            if matches!(format, crate::Format::Json) {
                writeln!(out, "{}", serde_json::to_string_pretty(&records)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            for r in &records {
                writeln!(out, "{}", list_line(r))?;
            }
            let firing = records.iter().filter(|r| r.resolved_at.is_none()).count();
            writeln!(out, "{} incident(s), {firing} firing", records.len())?;
        }
        Sub::Show { id, format } => {
            let history = History::connect(&config, &env)?;
            let Some(r) = history.incident(*id)? else {
                anyhow::bail!("no incident {id} in {store} (never, or pruned)");
            };
            if matches!(format, crate::Format::Json) {
                writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
            } else {
                write!(out, "{}", show_text(&r))?;
            }
        }
        Sub::Note { id, remediation, comment, author } => {
            let (kind, text) = match (remediation, comment) {
                (Some(text), _) => (NoteKind::Remediation, text),
                (None, Some(text)) => (NoteKind::Comment, text),
                (None, None) => anyhow::bail!("give --remediation TEXT or --comment TEXT"),
            };
            let author = author.as_deref().context("give --author NAME (and $USER is not set)")?;
            let note = NewNote::new(kind, author, text).context("the note")?;
            let notes = Notes::connect(&config, &env)?;
            let (note, destinations) = match notes.add(*id, &note) {
                Err(StoreError::NoIncident(_)) => {
                    anyhow::bail!("no incident {id} in {store} (never, or pruned)")
                }
                other => other?,
            };
            writeln!(
                out,
                "{} {} recorded on incident {id} by {}; {destinations} destination(s) will hear of it (a running receiver delivers within a second)",
                note.kind.as_str(),
                note.id,
                note.author
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `s` with control characters shown as `�`: labels come from alerts, and
/// a terminal must not take them for escape sequences.
fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect::<String>().into()
    } else {
        s.into()
    }
}

fn time(ms: i64) -> String {
    edgewatch_catalog::time::format_rfc3339_millis(ms).get(..19).unwrap_or_default().replace('T', " ")
}

fn duration(ms: i64) -> String {
    let m = ms / 60_000;
    if m >= 60 { format!("{}h{:02}m", m / 60, m % 60) } else { format!("{m}m") }
}

fn list_line(r: &IncidentRecord) -> String {
    let state = match r.resolved_at {
        Some(end) => format!("resolved after {}", duration(end - r.started_at)),
        None => "firing".to_owned(),
    };
    let what = match &r.slo {
        Some(slo) => format!("{} ({})", shown(&r.alertname), shown(slo)),
        None => shown(&r.alertname).into_owned(),
    };
    let refs: Vec<_> = r.externals.iter().map(|x| shown(&x.reference)).collect();
    format!(
        "{}\t{} UTC\t{state}\t{}\t{}\t{what}\t{}\t{} note(s)",
        r.id,
        time(r.started_at),
        r.severity.map_or("-", |s| s.as_str()),
        shown(r.customer.as_deref().unwrap_or("-")),
        if refs.is_empty() { "-".to_owned() } else { refs.join(",") },
        r.notes.len()
    )
}

fn show_text(r: &IncidentRecord) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "incident {}: {}", r.id, shown(&r.key));
    let _ = writeln!(s, "  customer:  {}", shown(r.customer.as_deref().unwrap_or("-")));
    let slo = r.slo.as_deref().map(|x| format!(" ({})", shown(x))).unwrap_or_default();
    let _ = writeln!(s, "  alert:     {}{slo}", shown(&r.alertname));
    let _ = writeln!(s, "  severity:  {}", r.severity.map_or("-", |x| x.as_str()));
    let _ = writeln!(s, "  started:   {} UTC", time(r.started_at));
    match r.resolved_at {
        Some(end) => {
            let _ = writeln!(s, "  resolved:  {} UTC ({})", time(end), duration(end - r.started_at));
        }
        None => {
            let _ = writeln!(s, "  resolved:  not yet (firing)");
        }
    }
    if let Some(t) = r.ticketed_at {
        let _ = writeln!(s, "  ticketed:  {} UTC", time(t));
    }
    if r.reopened > 0 {
        let _ = writeln!(s, "  reopened:  {} time(s)", r.reopened);
    }
    for x in &r.externals {
        let _ = writeln!(s, "  {}: {}", x.destination, shown(&x.reference));
    }
    let _ = writeln!(s, "  alerts:");
    for a in &r.alerts {
        let end = a.ended_at.map_or_else(|| "firing".to_owned(), |e| format!("ended {} UTC", time(e)));
        let slo = a.slo.as_deref().map(|x| format!(" ({})", shown(x))).unwrap_or_default();
        let _ = writeln!(s, "    {}{slo}: started {} UTC, {end}", shown(&a.name), time(a.started_at));
    }
    if !r.offenders.is_empty() {
        let _ = writeln!(s, "  top offenders (share of refused or failed requests):");
        for o in &r.offenders {
            let named = if o.named { ", named by the suggested rule" } else { "" };
            let share = o.offending_share * 100.0;
            let _ = writeln!(s, "    {} {}: {} ({share:.1}%){named}", o.dimension, shown(&o.value), o.offending);
        }
    }
    let _ = writeln!(s, "  notes:{}", if r.notes.is_empty() { " none" } else { "" });
    for n in &r.notes {
        let _ = writeln!(s, "    [{}] {} UTC, {}:", n.kind.as_str(), time(n.created_at), shown(&n.author));
        for line in n.text.lines() {
            let _ = writeln!(s, "      {}", shown(line));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_write_terminal_escapes() {
        assert_eq!(shown("EdgewatchProbeDown"), "EdgewatchProbeDown");
        assert_eq!(shown("x\u{1b}[2Jy\u{7}"), "x\u{fffd}[2Jy\u{fffd}");
        assert_eq!(duration(90 * 60_000), "1h30m");
        assert_eq!(duration(59 * 60_000), "59m");
    }

    #[test]
    fn show_lists_the_recorded_top_offenders() {
        let record = IncidentRecord {
            id: 3,
            key: "customer=shop".to_owned(),
            customer: Some("shop".to_owned()),
            alertname: "EdgewatchSuspectedAttack".to_owned(),
            severity: None,
            slo: None,
            started_at: 0,
            resolved_at: None,
            alerts: Vec::new(),
            externals: Vec::new(),
            ticketed_at: None,
            reopened: 0,
            notes: Vec::new(),
            offenders: vec![edgewatch_webhook_receiver::OffenderRecord {
                dimension: "ip".to_owned(),
                value: "192.0.2.66\u{1b}[2J".to_owned(),
                offending: 4100,
                offending_share: 0.41,
                request_share: 0.05,
                named: true,
            }],
        };
        let text = show_text(&record);
        assert!(
            text.contains(
                "  top offenders (share of refused or failed requests):\n    ip 192.0.2.66\u{fffd}[2J: 4100 (41.0%), named by the suggested rule\n"
            ),
            "{text}"
        );
    }
}
