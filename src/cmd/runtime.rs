//! What the long-running subcommands share: loading the catalog, a Tokio
//! runtime, and a future that completes on Ctrl-C or SIGTERM.

use std::path::Path;

use anyhow::{Context as _, bail};
use edgewatch_catalog::Catalog;

/// Loads the catalog, logging warnings; errors stop the command.
pub(crate) fn load_catalog(path: &Path) -> anyhow::Result<Catalog> {
    match edgewatch_catalog::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            Ok(loaded.catalog)
        }
        Err(rejected) => {
            bail!(
                "{}{rejected}; run `edgewatch check --catalog {}`",
                edgewatch_catalog::render(&rejected.diagnostics),
                path.display()
            )
        }
    }
}

/// Reads a service config file and checks it as `edgewatch check` does:
/// every problem with its file, line and column.
pub(crate) fn load_config<T: serde::de::DeserializeOwned>(
    path: &Path,
    problems: impl FnOnce(&T) -> Vec<String>,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    edgewatch_catalog::service::load(path, &text, problems).map_err(|diags| {
        anyhow::anyhow!("{} is not valid:\n{}", path.display(), edgewatch_catalog::render(&diags).trim_end())
    })
}

/// Binds `listen`, logs `what` listening, and runs `serve` on the listener
/// until Ctrl-C or SIGTERM. Work still running on the runtime's threads
/// afterwards (a batch being parsed for a cut request) gets a second.
pub(crate) fn serve<F, Fut>(listen: &str, web: &edgewatch_web::WebConfig, what: &str, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let runtime = tokio()?;
    let result = runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(address = %listener.local_addr()?, tls = web.is_tls(), "{what} listening.");
        serve(listener, Box::pin(shutdown_signal())).await.context("server failed")
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// `--config` of the commands that work beside a running receiver
/// (`incidents`, `mitigate`, `outreach`).
#[derive(Debug, clap::Args)]
pub(crate) struct ReceiverConfigArg {
    /// The receiver's configuration, for its data directory (the store);
    /// the built-in default directory when absent.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<std::path::PathBuf>,
}

impl ReceiverConfigArg {
    /// The configuration in `path`.
    pub(crate) fn file(path: &std::path::Path) -> Self {
        Self { config: Some(path.to_owned()) }
    }

    /// The receiver's configuration: the file, or the defaults.
    pub(crate) fn load(&self) -> anyhow::Result<edgewatch_webhook_receiver::Config> {
        match &self.config {
            Some(path) => load_config(path, |_: &edgewatch_webhook_receiver::Config| Vec::new()),
            None => Ok(edgewatch_webhook_receiver::Config::default()),
        }
    }
}

pub(crate) fn tokio() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the Tokio runtime")
}

/// Completes when the process is asked to stop.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("Shutting down.");
}
