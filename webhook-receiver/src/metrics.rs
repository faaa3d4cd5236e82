//! The receiver's own metrics, with prometheus-client.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::Depth;

type Labels = Vec<(&'static str, String)>;

/// Every metric.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    notifications: Family<Labels, Counter>,
    actions: Family<Labels, Counter>,
    pending: Gauge,
    oldest_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    dead: Gauge,
    open: Gauge,
    enrichment: Histogram,
    ack: Histogram,
    claims: Counter,
    takeovers: Counter,
    batches: Histogram,
    store: StoreMetrics,
}

/// The store's own: SQLite's checkpoints, PostgreSQL's connections.
#[derive(Debug)]
struct StoreMetrics {
    checkpoints: Histogram,
    checkpoint_failures: Counter,
    wal_behind: Gauge,
    connections_open: Gauge,
    connections_busy: Gauge,
    connection_waits: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("edgewatch_receiver");
        let notifications = Family::<Labels, Counter>::default();
        registry.register(
            "notifications",
            "Notifications received, by result (accepted, duplicate, malformed, invalid, unauthorized, too_large, unavailable)",
            notifications.clone(),
        );
        let actions = Family::<Labels, Counter>::default();
        registry.register(
            "actions",
            "Action attempts, by destination and outcome (delivered, retried, dead)",
            actions.clone(),
        );
        let pending = Gauge::default();
        registry.register("outbox_pending", "Actions waiting to be delivered", pending.clone());
        let oldest_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest action waiting to be delivered",
            oldest_age.clone(),
        );
        let dead = Gauge::default();
        registry.register("dead_letters", "Actions that failed for good, waiting for a replay", dead.clone());
        let open = Gauge::default();
        registry.register("incidents_open", "Incidents firing now", open.clone());
        let enrichment = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register(
            "enrichment_duration_seconds",
            "Time spent fetching live values from Prometheus per action",
            enrichment.clone(),
        );
        let ack = Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]);
        registry.register(
            "ack_duration_seconds",
            "Time from a notification's arrival to its durable answer",
            ack.clone(),
        );
        let claims = Counter::default();
        registry.register("claims", "Actions this receiver took from the outbox to deliver", claims.clone());
        let takeovers = Counter::default();
        registry.register(
            "claim_takeovers",
            "Actions taken over from another receiver sharing the store, whose claim ran out (it died or stalled)",
            takeovers.clone(),
        );
        let batches = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
        registry.register(
            "commit_batch_size",
            "Notifications each durable commit of the store held (concurrent notifications share one)",
            batches.clone(),
        );
        let store = StoreMetrics::register(&mut registry);
        Self {
            registry,
            notifications,
            actions,
            pending,
            oldest_age,
            dead,
            open,
            enrichment,
            ack,
            claims,
            takeovers,
            batches,
            store,
        }
    }
}

impl StoreMetrics {
    fn register(registry: &mut Registry) -> Self {
        let checkpoints = Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]);
        registry.register(
            "store_checkpoint_seconds",
            "How long each copy of the SQLite store's WAL back into its file took, beside the intake (every 100 ms)",
            checkpoints.clone(),
        );
        let checkpoint_failures = Counter::default();
        registry.register(
            "store_checkpoint_failures",
            "Copies of the SQLite store's WAL that failed (not those a commit's own copy kept busy); commits copy it themselves meanwhile",
            checkpoint_failures.clone(),
        );
        let wal_behind = Gauge::default();
        registry.register(
            "store_wal_pages_behind",
            "Pages (4 KiB) of the SQLite store's WAL not copied back into its file at the last copy: stays high while a reader's long transaction holds the copy back, and the WAL file grows meanwhile",
            wal_behind.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "store_connections_open",
            "PostgreSQL only: connections the store's pool holds open (at most 16)",
            connections_open.clone(),
        );
        let connections_busy = Gauge::default();
        registry.register(
            "store_connections_busy",
            "PostgreSQL only: of those, lent to an operation now",
            connections_busy.clone(),
        );
        let connection_waits = Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0]);
        registry.register(
            "store_connection_wait_seconds",
            "PostgreSQL only: how long operations that found every connection busy waited for one (after 10 s they fail, 503)",
            connection_waits.clone(),
        );
        Self { checkpoints, checkpoint_failures, wal_behind, connections_open, connections_busy, connection_waits }
    }
}

impl Metrics {
    /// Counts a notification's result.
    pub(crate) fn notification(&self, result: &'static str) {
        self.notifications.get_or_create(&vec![("result", result.to_owned())]).inc();
    }

    /// Counts an action attempt.
    pub(crate) fn action(&self, destination: &str, outcome: &'static str) {
        self.actions
            .get_or_create(&vec![("destination", destination.to_owned()), ("outcome", outcome.to_owned())])
            .inc();
    }

    /// Counts an action taken to deliver, and whether it was taken over.
    pub(crate) fn claim(&self, taken_over: bool) {
        self.claims.inc();
        if taken_over {
            self.takeovers.inc();
        }
    }

    /// Records a commit of `notifications`.
    pub(crate) fn commit(&self, notifications: usize) {
        #[allow(clippy::cast_precision_loss)] // a batch of notifications
        self.batches.observe(notifications as f64);
    }

    /// Records how long a WAL checkpoint took, and the WAL pages it left
    /// behind (`None`: it failed).
    pub(crate) fn checkpoint(&self, seconds: f64, pages_behind: Option<i64>) {
        self.store.checkpoints.observe(seconds);
        if let Some(pages) = pages_behind {
            self.store.wal_behind.set(pages);
        } else {
            self.store.checkpoint_failures.inc();
        }
    }

    /// Shows the PostgreSQL pool's connections: `open`, `busy` of them.
    pub(crate) fn pool(&self, open: usize, busy: usize) {
        self.store.connections_open.set(i64::try_from(open).unwrap_or(i64::MAX));
        self.store.connections_busy.set(i64::try_from(busy).unwrap_or(i64::MAX));
    }

    /// Records how long an operation waited for a connection, every one
    /// busy.
    pub(crate) fn connection_wait(&self, seconds: f64) {
        self.store.connection_waits.observe(seconds);
    }

    /// Records an enrichment's duration.
    pub(crate) fn enrichment(&self, seconds: f64) {
        self.enrichment.observe(seconds);
    }

    /// Records an answer's latency.
    pub(crate) fn ack(&self, seconds: f64) {
        self.ack.observe(seconds);
    }

    /// The exposition, with the outbox gauges as of `depth` at `now_ms`.
    pub(crate) fn render(&self, depth: Depth, now_ms: i64) -> String {
        self.pending.set(i64::try_from(depth.pending).unwrap_or(i64::MAX));
        self.dead.set(i64::try_from(depth.dead).unwrap_or(i64::MAX));
        self.open.set(i64::try_from(depth.open_incidents).unwrap_or(i64::MAX));
        #[allow(clippy::cast_precision_loss)] // milliseconds of age
        let age = depth.oldest_pending_at.map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0);
        self.oldest_age.set(age);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
