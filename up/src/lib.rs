//! `edgewatch up`: the whole alert loop on one machine. It renders the
//! catalog into a state folder, runs the exporter and the receiver in this
//! process, starts the real Prometheus and Alertmanager as children when
//! they are installed (with configs that load every rule, scrape the
//! exporter and send to the receiver with a token of their own), shows what
//! runs and where, and with a demo feeds synthetic Logpush traffic with a
//! scripted outage. A stop (Ctrl-C, SIGTERM) stops everything it started;
//! a child that dies is reported and ends the run with an error.
//!
//! Parts: [`prepare`] (the catalog as `up` runs it), [`children`]
//! (Prometheus and Alertmanager), [`demo`] (the traffic), [`status`] (the
//! live line).

mod children;
pub mod demo;
mod prepare;
mod status;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use edgewatch_catalog::Catalog;

pub use crate::children::find_binary;

/// Why `up` could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// A file or folder of the state could not be written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: String,
        source: std::io::Error,
    },
    /// Cannot listen on an address.
    #[error(
        "cannot listen on {address}: {source}; pick another with its --…listen-address flag (port 0 picks a free one)"
    )]
    Listen {
        /// The address as given (flag or default).
        address: String,
        source: std::io::Error,
    },
    /// Rendering the catalog failed.
    #[error("rendering the catalog: {0}")]
    Render(String),
    /// The exporter could not be built.
    #[error("exporter: {0}")]
    Exporter(#[from] edgewatch_exporters::BuildError),
    /// The receiver could not be built.
    #[error("receiver: {0}")]
    Receiver(#[from] edgewatch_webhook_receiver::BuildError),
    /// A child process could not start or died.
    #[error("{0}")]
    Child(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UpError + '_ {
    move |source| UpError::Io { path: path.display().to_string(), source }
}

/// Where each part listens (port 0 picks a free one).
#[derive(Debug, Clone)]
pub struct Listen {
    /// The exporter's `--exporter.listen-address`.
    pub exporter: SocketAddr,
    /// The receiver's `--receiver.listen-address`.
    pub receiver: SocketAddr,
    /// `--prometheus.listen-address`: Prometheus's `--web.listen-address`.
    pub prometheus: SocketAddr,
    /// `--alertmanager.listen-address`: Alertmanager's `--web.listen-address`.
    pub alertmanager: SocketAddr,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The catalog, loaded and valid.
    pub catalog: Catalog,
    /// Where the rendered configs, the stores, the logs and the token live.
    pub state_dir: PathBuf,
    /// Addresses.
    pub listen: Listen,
    /// Prometheus' binary; `None`: not found (the loop runs without it).
    pub prometheus: Option<PathBuf>,
    /// Alertmanager's binary; `None`: not found.
    pub alertmanager: Option<PathBuf>,
    /// How often Prometheus scrapes and evaluates.
    pub scrape_interval: edgewatch_catalog::Duration,
    /// Synthetic traffic with a scripted outage.
    pub demo: Option<demo::Script>,
    /// Refresh one status line in place (a terminal) or print lines.
    pub terminal: bool,
}

/// What `up` says to its user: the banner, the status, the demo's steps.
pub trait Say: Send {
    /// A line to print.
    fn line(&mut self, text: &str);
    /// The status, to show in place of the previous one (on a terminal).
    fn status(&mut self, text: &str);
}

/// Everything started, and the addresses it listens on.
struct Started {
    prepared: prepare::Prepared,
    exporter: SocketAddr,
    receiver: SocketAddr,
    prometheus: SocketAddr,
    alertmanager: SocketAddr,
    services: Vec<(&'static str, tokio::task::JoinHandle<std::io::Result<()>>)>,
    stop_services: tokio::sync::watch::Sender<bool>,
    children: children::Children,
}

/// Writes the state, renders the configs, starts the exporter and the
/// receiver in this process and Prometheus and Alertmanager as children.
async fn start(opts: &Options, say: &mut dyn Say) -> Result<Started, UpError> {
    for dir in ["logs", "receiver", "prometheus", "alertmanager"].map(|d| opts.state_dir.join(d)) {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    // Absolute: the configs name files in it, and Alertmanager reads a
    // relative path from its own configuration's folder.
    let state = &std::fs::canonicalize(&opts.state_dir).map_err(io(&opts.state_dir))?;
    let token_file = state.join("receiver-token");
    prepare::write_token(&token_file)?;
    let prepared =
        prepare::catalog(opts.catalog.clone(), &state.join("logs"), &|k| std::env::var(k).ok(), opts.demo.is_some());

    // The services in this process bind first: port 0 becomes a real port.
    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| UpError::Listen { address: addr.to_string(), source })
    };
    let exporter_listener = bind(opts.listen.exporter).await?;
    let receiver_listener = bind(opts.listen.receiver).await?;
    let exporter = exporter_listener.local_addr().map_err(io(state))?;
    let receiver = receiver_listener.local_addr().map_err(io(state))?;
    let (prometheus, busy) = children::port_for(opts.listen.prometheus).map_err(io(state))?;
    if let Some(note) = busy {
        say.line(&format!("prometheus: {note}"));
    }
    let (alertmanager, busy) = children::port_for(opts.listen.alertmanager).map_err(io(state))?;
    if let Some(note) = busy {
        say.line(&format!("alertmanager: {note}"));
    }

    let deploy = state.join("deploy");
    prepare::render(
        &prepared.catalog,
        &deploy,
        &prepare::Addresses {
            exporter,
            receiver,
            alertmanager,
            prometheus,
            token_file: &token_file,
            scrape_interval: opts.scrape_interval,
        },
    )?;

    let exporter_service = edgewatch_exporters::Exporter::build(
        &edgewatch_exporters::config::Config::default(),
        &prepared.catalog,
        |k| std::env::var(k).ok(),
    )?;
    let receiver_config = edgewatch_webhook_receiver::Config::parse(&format!(
        "data_dir: '{}'\nauth: {{bearer_token: 'file:{}'}}\nprometheus: {{url: 'http://{prometheus}', timeout: 2s}}\nexporters: {{urls: ['http://{exporter}']}}\nalertmanager_url: 'http://{alertmanager}'\n",
        state.join("receiver").display(),
        token_file.display(),
    ))
    .map_err(|e| UpError::Render(format!("receiver configuration: {e}")))?;
    let receiver_service =
        edgewatch_webhook_receiver::Receiver::build(&receiver_config, prepared.catalog.clone(), &|k| {
            std::env::var(k).ok()
        })?;

    // One stop for the services in this process.
    let (stop_services, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let services = vec![
        ("exporter", {
            let stop = stopped(stop_rx.clone());
            tokio::spawn(async move {
                exporter_service
                    .serve(
                        exporter_listener,
                        &edgewatch_web::WebConfig::default().with_limits(edgewatch_web::Limits {
                            max_in_flight: edgewatch_exporters::Exporter::default_in_flight(),
                            ..edgewatch_web::Limits::default()
                        }),
                        stop,
                    )
                    .await
            })
        }),
        ("receiver", {
            let stop = stopped(stop_rx);
            tokio::spawn(async move {
                receiver_service.serve(receiver_listener, &edgewatch_web::WebConfig::default(), stop).await
            })
        }),
    ];

    let mut kids = children::Children::default();
    let logs = state.join("logs");
    match &opts.prometheus {
        Some(bin) => kids.start_prometheus(bin, &deploy, &state.join("prometheus"), prometheus, &logs)?,
        None => say.line(&children::missing("Prometheus", "prometheus")),
    }
    match &opts.alertmanager {
        Some(bin) => kids.start_alertmanager(bin, &deploy, &state.join("alertmanager"), alertmanager, &logs)?,
        None => say.line(&children::missing("Alertmanager", "prometheus-alertmanager")),
    }
    Ok(Started { prepared, exporter, receiver, prometheus, alertmanager, services, stop_services, children: kids })
}

/// Runs until `stop` completes; then stops everything it started.
pub async fn run(
    opts: Options,
    say: &mut dyn Say,
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<(), UpError> {
    let mut started = start(&opts, say).await?;
    for line in banner(&opts, &started) {
        say.line(&line);
    }
    let client = status::client();
    let (demo_tx, mut demo_says) = tokio::sync::mpsc::unbounded_channel();
    let demo = opts.demo.map(|script| {
        let url = format!("http://{}/ingest/logpush", started.exporter);
        let catalog = started.prepared.catalog.clone();
        let prometheus = opts.prometheus.as_ref().map(|_| format!("http://{}", started.prometheus));
        tokio::spawn(demo::run(script, catalog, opts.scrape_interval, url, prometheus, client.clone(), demo_tx))
    });
    let probe = status::Probe {
        client,
        prometheus: opts.prometheus.as_ref().map(|_| format!("http://{}", started.prometheus)),
        receiver: format!("http://{}", started.receiver),
    };
    let every = if opts.terminal { Duration::from_secs(3) } else { Duration::from_secs(30) };
    let mut tick = tokio::time::interval(every);
    tokio::pin!(stop);
    let outcome = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            died = started.children.wait_any() => break Err(UpError::Child(died)),
            Some(text) = demo_says.recv() => say.line(&format!("demo: {text}")),
            _ = tick.tick() => {
                let text = probe.read().await;
                if opts.terminal { say.status(&text) } else { say.line(&text) }
            }
        }
    };

    // Stop what was started: the children first (Prometheus flushes its
    // data on SIGTERM), then the services in this process.
    if let Some(d) = demo {
        d.abort();
    }
    started.children.stop().await;
    let _ = started.stop_services.send(true);
    for (what, task) in started.services {
        match tokio::time::timeout(Duration::from_secs(15), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "{what} stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "{what} task failed"),
            Err(_) => tracing::warn!("{what} did not stop within 15s"),
        }
    }
    say.line("stopped: everything edgewatch up started has exited");
    outcome
}

/// What runs where, printed at start.
fn banner(opts: &Options, s: &Started) -> Vec<String> {
    let state = opts.state_dir.display();
    let (exporter, receiver, prometheus, alertmanager) = (s.exporter, s.receiver, s.prometheus, s.alertmanager);
    let mut lines = vec![
        format!("edgewatch up: {} customers; state in {state}", opts.catalog.customers.len()),
        format!("  exporter      http://{exporter}/  (push Logpush batches to http://{exporter}/ingest/logpush)"),
        format!("  receiver      http://{receiver}/  (Alertmanager's webhook, bearer token in {state}/receiver-token)"),
    ];
    if opts.prometheus.is_some() {
        lines.push(format!("  prometheus    http://{prometheus}/  (rules from {state}/deploy/rules)"));
    }
    if opts.alertmanager.is_some() {
        lines.push(format!("  alertmanager  http://{alertmanager}/"));
    }
    lines.push(format!(
        "  grafana       point a Prometheus datasource at http://{prometheus}; dashboards in {state}/deploy/grafana/dashboards"
    ));
    for (name, path) in &s.prepared.logs {
        lines.push(format!("  destination `{name}` writes to {}", path.display()));
    }
    for (name, why) in &s.prepared.skipped {
        lines.push(format!("  {name} is off: {why}"));
    }
    lines.push("Stop with Ctrl-C.".to_owned());
    lines
}
