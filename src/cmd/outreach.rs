//! `edgewatch outreach list|show|send|discard`: customer messages held for
//! approval (routes with `approval: required`), beside a running receiver.
//! Sending or dropping is one transaction with a note saying who decided
//! (a comment on the ticket); the running receiver sends within a second.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use edgewatch_webhook_receiver::{Outreach, OutreachError, StoreError};

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
    /// Every message waiting for approval, by incident.
    List,
    /// An incident's held messages, with their drafts.
    Show {
        /// The incident's id (`edgewatch incidents list`).
        id: i64,
    },
    /// Send every held message of the incident.
    Send {
        id: i64,
        /// Who decides (recorded on the incident); `$USER` when absent.
        #[arg(long, value_name = "NAME", env = "USER")]
        author: Option<String>,
    },
    /// Drop every held message of the incident: nothing is sent.
    Discard {
        id: i64,
        /// Who decides (recorded on the incident); `$USER` when absent.
        #[arg(long, value_name = "NAME", env = "USER")]
        author: Option<String>,
    },
}

fn time(ms: i64) -> String {
    edgewatch_catalog::time::format_rfc3339_millis(ms).get(..19).unwrap_or_default().replace('T', " ")
}

/// `s` with control characters other than line breaks shown as `�`.
fn shown(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\n' { '\u{fffd}' } else { c }).collect()
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let outreach = Outreach::connect(&config, &|k| std::env::var(k).ok())?;
    let mut out = std::io::stdout().lock();
    match &args.command {
        Sub::List => {
            let held = outreach.held(None)?;
            for h in &held {
                let state = if h.drafted { "drafted" } else { "drafting" };
                writeln!(
                    out,
                    "{}\t{} UTC\t{}\t{}\t{state}",
                    h.incident_id,
                    time(h.created_at),
                    h.destination,
                    h.kind.as_str()
                )?;
            }
            writeln!(out, "{} message(s) waiting for approval", held.len())?;
        }
        Sub::Show { id } => {
            let held = outreach.held(Some(*id))?;
            if held.is_empty() {
                writeln!(out, "incident {id}: no message waiting for approval")?;
            }
            for h in &held {
                writeln!(
                    out,
                    "incident {id}: the {} message to {}, decided {} UTC:",
                    h.kind.as_str(),
                    h.destination,
                    time(h.created_at)
                )?;
                let draft = h.draft.as_deref().map_or_else(
                    || "(its draft is being written: a running receiver writes it within a second)".to_owned(),
                    shown,
                );
                writeln!(out, "{draft}\n")?;
            }
        }
        Sub::Send { id, author } | Sub::Discard { id, author } => {
            let send = matches!(args.command, Sub::Send { .. });
            let author = author.as_deref().context("give --author NAME (and $USER is not set)")?;
            let n = match outreach.decide(*id, send, author) {
                Err(OutreachError::Store(StoreError::NoIncident(_))) => {
                    bail!("no incident {id} in {} (never, or pruned)", config.store_label())
                }
                other => other.context("the decision")?,
            };
            if n == 0 {
                writeln!(out, "incident {id} has no message waiting for approval")?;
                return Ok(ExitCode::FAILURE);
            }
            let what =
                if send { "sent (a running receiver sends within a second)" } else { "discarded: nothing was sent" };
            writeln!(out, "{n} message(s) of incident {id} {what}; recorded on the incident by {author}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
