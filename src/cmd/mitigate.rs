//! `edgewatch mitigate show|apply|revert`: the mitigation suggested for an
//! incident, and applying it through Cloudflare's rulesets API, which is
//! always a person's decision (a confirmation, or `--yes`). What is applied
//! or removed is recorded on the incident as a remediation note, in the
//! same transaction: the running receiver comments it on the ticket, and
//! reports show it.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use edgewatch_catalog::SecretRef;
use edgewatch_webhook_receiver::{
    CLOUDFLARE_API, Cloudflare, Mitigations, NewAppliedRule, NewNote, NoteKind, Phase, RuleKind, StoreError, Suggested,
};
use serde_json::Value;

use super::runtime;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    config: runtime::ReceiverConfigArg,
    /// The catalog, for the customer's Cloudflare zone
    /// (`mitigation.cloudflare_zone`) when `--zone` is not given.
    #[arg(long, value_name = "PATH", global = true)]
    catalog: Option<PathBuf>,
    /// The Cloudflare zone id; the catalog's for the customer when absent.
    #[arg(long, value_name = "ZONE_ID", global = true)]
    zone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    /// The custom rule blocking the named offenders.
    Custom,
    /// The rate-limiting rule.
    RateLimit,
}

#[derive(Debug, clap::Args)]
struct Api {
    /// The Cloudflare API token (`env:NAME` or `file:PATH`, never the token
    /// itself); it needs the zone's WAF (rulesets) write permission.
    #[arg(long, value_name = "REF", default_value = "env:CLOUDFLARE_API_TOKEN")]
    token: SecretRef,
    /// Cloudflare's API (a test's fake).
    #[arg(long = "cloudflare.url", value_name = "URL", default_value = CLOUDFLARE_API)]
    url: String,
    /// Apply or remove without asking.
    #[arg(long)]
    yes: bool,
    /// Who does it (recorded on the incident); `$USER` when absent.
    #[arg(long, value_name = "NAME", env = "USER")]
    author: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// The suggestion: top offenders, why each is or is not named, the
    /// rules, the exact API calls that would apply them, and what was
    /// applied.
    Show {
        /// The incident's id (`edgewatch incidents list`).
        id: i64,
    },
    /// Add a suggested rule to the zone (after a confirmation, or `--yes`).
    Apply {
        /// The incident's id.
        id: i64,
        /// Which rule.
        #[arg(long, value_enum, default_value_t = Which::Custom)]
        rule: Which,
        #[command(flatten)]
        api: Api,
    },
    /// Remove every rule applied from the incident that is still in place.
    Revert {
        /// The incident's id.
        id: i64,
        #[command(flatten)]
        api: Api,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let store = Mitigations::connect(&config, &|k| std::env::var(k).ok())?;
    let id = match &args.command {
        Sub::Show { id } | Sub::Apply { id, .. } | Sub::Revert { id, .. } => *id,
    };
    let incident = match store.suggested(id) {
        Err(StoreError::NoIncident(_)) => {
            bail!("no incident {id} in {} (never, or pruned)", config.store_label())
        }
        other => other?,
    };
    match &args.command {
        Sub::Show { .. } => show(args, &store, id, &incident),
        Sub::Apply { rule, api, .. } => apply(args, &store, id, &incident, *rule, api),
        Sub::Revert { api, .. } => revert(&store, id, api),
    }
}

/// The zone: `--zone`, else the catalog's for the incident's customer.
fn zone(args: &Args, incident: &Suggested) -> anyhow::Result<String> {
    if let Some(z) = &args.zone {
        if z.len() != 32 || !z.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            bail!("--zone: `{z}` is not a Cloudflare zone id (32 lowercase hex digits)");
        }
        return Ok(z.clone());
    }
    let customer = incident.customer.as_deref().context("the incident names no customer: give --zone")?;
    let Some(path) = &args.catalog else {
        bail!("give --zone ZONE_ID, or --catalog PATH with `mitigation.cloudflare_zone` for customer `{customer}`")
    };
    let catalog = runtime::load_catalog(path)?;
    let c = catalog.customer(customer).with_context(|| format!("customer `{customer}` is not in the catalog"))?;
    c.mitigation.cloudflare_zone.as_ref().map(ToString::to_string).with_context(|| {
        format!("customer `{customer}` has no `mitigation.cloudflare_zone` in the catalog: give --zone")
    })
}

/// The rule of `which` as the API takes it, with our `ref` (applying twice
/// finds it instead of adding another).
fn body(incident: &Suggested, which: Which) -> anyhow::Result<Option<(Value, String)>> {
    let Some(s) = &incident.suggestion else { return Ok(None) };
    let (mut v, expression, kind) = match which {
        Which::Custom => match &s.custom_rule {
            Some(r) => (serde_json::to_value(r)?, r.expression.clone(), RuleKind::Custom),
            None => return Ok(None),
        },
        Which::RateLimit => match &s.rate_limit {
            Some(r) => (serde_json::to_value(r)?, r.expression.clone(), RuleKind::RateLimit),
            None => return Ok(None),
        },
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("ref".to_owned(), Value::String(format!("{}-{}", incident.dedup, kind.as_str().replace('_', "-"))));
    }
    Ok(Some((v, expression)))
}

const fn phase(which: Which) -> Phase {
    match which {
        Which::Custom => Phase::Custom,
        Which::RateLimit => Phase::RateLimit,
    }
}

const fn kind(which: Which) -> RuleKind {
    match which {
        Which::Custom => RuleKind::Custom,
        Which::RateLimit => RuleKind::RateLimit,
    }
}

/// `s` in single quotes for a POSIX shell.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn show(args: &Args, store: &Mitigations, id: i64, incident: &Suggested) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let customer = incident.customer.as_deref().unwrap_or("-");
    writeln!(out, "incident {id} ({}), customer {}", incident.dedup, shown(customer))?;
    let Some(s) = &incident.suggestion else {
        writeln!(
            out,
            "No suggestion: it is made for attack, client-error and traffic-spike incidents, when the receiver reaches the exporters (docs/mitigation.md)."
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    writeln!(out, "\n{}", shown(&s.text()))?;
    let zone = zone(args, incident).unwrap_or_else(|_| "ZONE_ID".to_owned());
    for which in [Which::Custom, Which::RateLimit] {
        let Some((rule, _)) = body(incident, which)? else { continue };
        let p = phase(which).as_str();
        let auth = "-H \"Authorization: Bearer $CLOUDFLARE_API_TOKEN\"";
        writeln!(
            out,
            "\nTo add the {} by hand (what `edgewatch mitigate apply {id} --rule {}` does):",
            kind(which).title(),
            match which {
                Which::Custom => "custom",
                Which::RateLimit => "rate-limit",
            }
        )?;
        writeln!(out, "  curl -sS {auth} {CLOUDFLARE_API}/zones/{zone}/rulesets/phases/{p}/entrypoint")?;
        writeln!(
            out,
            "  # its .result.id is RULESET_ID; a 404 means the zone has none yet: POST {CLOUDFLARE_API}/zones/{zone}/rulesets"
        )?;
        writeln!(
            out,
            "  # with {{\"name\":\"default\",\"kind\":\"zone\",\"phase\":\"{p}\",\"rules\":[RULE]}} instead"
        )?;
        writeln!(
            out,
            "  curl -sS -X POST {auth} -H \"Content-Type: application/json\" {CLOUDFLARE_API}/zones/{zone}/rulesets/RULESET_ID/rules --data {}",
            shown(&quoted(&serde_json::to_string(&rule)?))
        )?;
    }
    let applied = store.applied(id)?;
    writeln!(out, "\napplied:{}", if applied.is_empty() { " nothing" } else { "" })?;
    for a in &applied {
        let state = a.reverted_at.map_or_else(|| "in place".to_owned(), |t| format!("removed {}", rfc3339(t)));
        writeln!(
            out,
            "  {} {} in zone {} (ruleset {}), by {} at {}: {state}",
            a.rule.title(),
            a.rule_id,
            a.zone,
            a.ruleset_id,
            shown(&a.applied_by),
            rfc3339(a.applied_at)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rfc3339(ms: i64) -> String {
    edgewatch_catalog::time::format_rfc3339_millis(ms)
}

/// `s` with control characters shown as `�` (offender values come from
/// clients: a terminal must not take them for escape sequences).
fn shown(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\n' { '\u{fffd}' } else { c }).collect()
}

/// Asks `question` on the terminal; only `y` or `yes` is a yes.
fn confirm(question: &str) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn client(api: &Api) -> anyhow::Result<Cloudflare> {
    let token = api.token.resolve(|k| std::env::var(k).ok()).context("--token")?;
    Ok(Cloudflare::new(&api.url, token, Duration::from_secs(30))?)
}

fn author(api: &Api) -> anyhow::Result<&str> {
    api.author.as_deref().context("give --author NAME (and $USER is not set)")
}

fn apply(
    args: &Args,
    store: &Mitigations,
    id: i64,
    incident: &Suggested,
    which: Which,
    api: &Api,
) -> anyhow::Result<ExitCode> {
    let Some((rule, expression)) = body(incident, which)? else {
        bail!(
            "incident {id} has no suggested {}{}",
            kind(which).title(),
            if incident.suggestion.is_some() { " (nothing stood out from normal traffic)" } else { "" }
        );
    };
    let zone = zone(args, incident)?;
    let author = author(api)?;
    let mut out = std::io::stdout().lock();
    if let Some(a) = store.applied(id)?.iter().find(|a| a.rule == kind(which) && a.reverted_at.is_none()) {
        writeln!(
            out,
            "already applied: {} {} in zone {} (ruleset {})",
            a.rule.title(),
            a.rule_id,
            a.zone,
            a.ruleset_id
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let cloudflare = client(api)?;
    writeln!(out, "{} for zone {zone}:\n{}", kind(which).title(), shown(&serde_json::to_string_pretty(&rule)?))?;
    if !api.yes && !confirm(&format!("Add this {} to zone {zone}?", kind(which).title()))? {
        writeln!(out, "not applied")?;
        return Ok(ExitCode::FAILURE);
    }
    let placed = runtime::tokio()?.block_on(cloudflare.add(&zone, phase(which), &rule))?;
    let text = format!(
        "Applied Cloudflare {} {} (ruleset {}, zone {zone}){}: {expression}",
        kind(which).title(),
        placed.rule_id,
        placed.ruleset_id,
        if placed.already { ", found already in place" } else { "" }
    );
    let note = NewNote::new(NoteKind::Remediation, author, &text).context("the note")?;
    let new = NewAppliedRule {
        rule: kind(which),
        zone: zone.clone(),
        ruleset_id: placed.ruleset_id.clone(),
        rule_id: placed.rule_id.clone(),
        body: serde_json::to_string(&rule)?,
    };
    let (applied, _) = store.record_applied(id, &new, &note).with_context(|| {
        format!(
            "the rule {} is in place, but the store could not record it: note it by hand (`edgewatch incidents note {id} --remediation ...`)",
            placed.rule_id
        )
    })?;
    writeln!(
        out,
        "applied: {} {} in ruleset {} of zone {zone}; recorded on incident {id} (the ticket gets a comment); remove it with `edgewatch mitigate revert {id}`",
        applied.rule.title(),
        applied.rule_id,
        applied.ruleset_id
    )?;
    Ok(ExitCode::SUCCESS)
}

fn revert(store: &Mitigations, id: i64, api: &Api) -> anyhow::Result<ExitCode> {
    let in_place: Vec<_> = store.applied(id)?.into_iter().filter(|a| a.reverted_at.is_none()).collect();
    if in_place.is_empty() {
        writeln!(std::io::stdout(), "nothing to revert: no rule applied from incident {id} is in place")?;
        return Ok(ExitCode::SUCCESS);
    }
    let author = author(api)?;
    let cloudflare = client(api)?;
    let mut out = std::io::stdout().lock();
    for a in &in_place {
        writeln!(out, "{} {} in zone {} (ruleset {})", a.rule.title(), a.rule_id, a.zone, a.ruleset_id)?;
    }
    if !api.yes && !confirm(&format!("Remove {} rule(s)?", in_place.len()))? {
        writeln!(out, "not reverted")?;
        return Ok(ExitCode::FAILURE);
    }
    let runtime = runtime::tokio()?;
    for a in &in_place {
        let existed = runtime.block_on(cloudflare.remove(&a.zone, &a.ruleset_id, &a.rule_id))?;
        let text = format!(
            "Removed Cloudflare {} {} (ruleset {}, zone {}){}",
            a.rule.title(),
            a.rule_id,
            a.ruleset_id,
            a.zone,
            if existed { "" } else { ": it was gone already" }
        );
        let note = NewNote::new(NoteKind::Remediation, author, &text).context("the note")?;
        store.record_reverted(a.id, &note)?;
        writeln!(out, "removed: {} {}{}", a.rule.title(), a.rule_id, if existed { "" } else { " (gone already)" })?;
    }
    Ok(ExitCode::SUCCESS)
}
