//! Assembly of a Switchboard node: settings, the store engine, the master key, the
//! platform, the HTTP listener (optionally TLS) and the webhook dispatcher, with
//! graceful shutdown. The binary and the test kit both start nodes through here,
//! so tests run exactly what production runs. Only this crate and the test kit
//! know which store engine is in use.

mod adapters;
pub mod demo;
pub mod listen;
mod listener;
pub mod migrate_data;
pub mod settings;
pub mod testing;

pub use settings::Settings;

/// The webhook fields a bot the platform wires itself (the demo's, one under
/// `switchboard test`) is subscribed to: everything a person's actions cause, with
/// handovers and standby (the Page inbox) and the entry points' fields.
pub const BOT_FIELDS: [&str; 10] = [
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_postbacks",
    "messaging_optins",
    "messaging_referrals",
    "messaging_account_linking",
    "messaging_handovers",
    "standby",
];

use anyhow::Context;
use listener::Listener;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_app::{FaultClock, Platform, PlatformSettings, SystemClock, VirtualClock};
use adapters::{HttpCallbackPoster, HttpFetcher, HttpVerifier, PlatformHost};
use switchboard_delivery::{DeliveryMetrics, DeliverySettings, Dispatcher, DispatcherParts, OutboundRules};
use switchboard_domain::credentials::MasterKey;
use switchboard_domain::retry::RetrySchedule;
use switchboard_domain::Clock;
use settings::Database;
use switchboard_store::{Bus, LocalBus, Store};
use switchboard_store_postgres::{PostgresBus, PostgresConfig, PostgresStore};
use switchboard_store_sqlite::SqliteStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long in-flight requests may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(30);

/// Opens the store the settings name (creating SQLite's data directory) and the bus
/// that connects this node to the others on the same store.
pub async fn open_store(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Arc<dyn Bus>)> {
    match settings.engine().map_err(anyhow::Error::msg)? {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent() {
                create_private_dir(dir)?;
            }
            let store = SqliteStore::open(&path).with_context(|| format!("cannot open the store at {}", path.display()))?;
            // One SQLite file serves one node: its bus stays in the process.
            Ok((Arc::new(store), Arc::new(LocalBus::default())))
        }
        Database::Postgres(url) => {
            let db = &settings.database;
            let config = PostgresConfig {
                url: url.clone(),
                pool_size: db.pool_size.max(1),
                statement_timeout_ms: db.statement_timeout_ms,
                connect_timeout_ms: db.connect_timeout_ms,
                schema: None,
            };
            let store = PostgresStore::connect(config).await.context("cannot open the PostgreSQL store")?;
            let bus = PostgresBus::connect(&url, Duration::from_millis(db.connect_timeout_ms)).await.context("cannot listen on PostgreSQL")?;
            Ok((Arc::new(store), Arc::new(bus)))
        }
    }
}

/// The master key from the settings, or from `DATA/master.key` (created on first use,
/// readable by its owner only).
pub fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    let hex_key = match &settings.master_key {
        Some(key) => key.clone(),
        None => {
            let path = settings.data.join("master.key");
            if !path.exists() {
                create_private_dir(&settings.data)?;
                write_private(&path, &hex::encode(MasterKey::generate().as_bytes()))?;
            }
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?
        }
    };
    let bytes = hex::decode(hex_key.trim()).context("the master key must be hex")?;
    MasterKey::from_bytes(bytes).map_err(anyhow::Error::msg)
}

/// Creates a directory (and its missing parents) that only its owner can enter. An
/// existing directory is left as it is: it may be the operator's to share.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

pub fn delivery_settings(settings: &Settings) -> DeliverySettings {
    let w = &settings.webhooks;
    let retry_initial_ms = w.retry_initial_ms.max(1);
    DeliverySettings {
        batch_cap: w.batch_cap.max(1),
        max_in_flight: w.max_in_flight.max(1),
        max_in_flight_per_endpoint: w.max_in_flight_per_endpoint.max(1),
        stalled_after: Duration::from_millis(w.stalled_after_ms.max(1)),
        // At least one: an endpoint that stalled is sent to only in a stalled slot.
        max_stalled: w.max_stalled.max(1),
        timeout: Duration::from_secs(w.timeout_secs.max(1)),
        lease: Duration::from_secs(w.timeout_secs.max(1) * 3),
        schedule: RetrySchedule {
            initial_ms: retry_initial_ms,
            max_ms: w.retry_max_ms.max(retry_initial_ms),
            give_up_after_ms: (w.retry_for_secs as i64).saturating_mul(1000),
        },
        accept_invalid_certs: w.accept_invalid_certs,
        alert_after: Duration::from_secs(w.alert_after_secs),
        disable_after: Duration::from_secs(w.disable_after_secs.max(w.alert_after_secs)),
        alert_url: w.alert_url.clone().filter(|url| !url.is_empty()),
        keep_delivered: Duration::from_secs(w.keep_delivered_secs),
        keep_dead: Duration::from_secs(w.keep_dead_secs),
        prune_every: Duration::from_secs(60),
        outbound: OutboundRules { allow_private: settings.outbound.allow_private_addresses },
    }
}

/// The platform the settings describe, on this store and clock, with the metrics
/// the dispatcher registers in its registry. A node and the operator's commands
/// build it alike.
pub fn platform(
    settings: &Settings,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    key: MasterKey,
    delivery: &DeliverySettings,
) -> (Platform, DeliveryMetrics) {
    let verifier = Arc::new(HttpVerifier::new(switchboard_delivery::webhook_client(delivery), delivery.outbound));
    let fetcher = Arc::new(HttpFetcher::new(delivery.outbound));
    let platform_settings = PlatformSettings {
        cache_ttl: Duration::from_millis(settings.cache_ttl_ms),
        node_id: settings.node_name(),
        auto_approve_page_features: settings.auto_approve_page_features,
        rate_limits: switchboard_domain::ratelimit::Limits {
            app_calls_per_hour: settings.rate_limits.app_calls_per_hour,
            page_calls_per_day: settings.rate_limits.page_calls_per_day,
            page_calls_per_engaged_person: settings.rate_limits.page_calls_per_engaged_person,
            page_sends_per_second: settings.rate_limits.page_sends_per_second,
        },
        media_dir: settings.media_dir(),
        fetch_timeouts: switchboard_app::FetchTimeouts {
            video: Duration::from_millis(settings.media_video_fetch_timeout_ms),
            other: Duration::from_millis(settings.media_fetch_timeout_ms),
        },
        public_url: settings.public_url.clone().filter(|url| !url.is_empty()),
        retention_days: settings.privacy.retention_days,
        session_ttl_ms: (settings.sign_in.session_ttl_secs as i64).saturating_mul(1000),
        sign_in_limits: switchboard_app::SignInLimits {
            failures_per_login: settings.sign_in.failures_per_login,
            failures_per_address: settings.sign_in.failures_per_address,
            window_ms: (settings.sign_in.failure_window_secs as i64).saturating_mul(1000),
        },
        hashing_threads: settings.sign_in.hashing_threads,
        hashing_queue: settings.sign_in.hashing_queue,
        quotas: switchboard_app::Quotas {
            apps_per_person: settings.quotas.apps_per_person,
            pages_per_person: settings.quotas.pages_per_person,
            apps_per_page: settings.quotas.apps_per_page,
        },
        pickup: switchboard_app::PickupSettings {
            schedule: delivery.schedule.clone(),
            lease_ms: delivery.lease.as_millis() as switchboard_domain::Millis,
            batch_cap: delivery.batch_cap as u32,
            window: delivery.max_in_flight_per_endpoint.max(1),
        },
        ..PlatformSettings::default()
    };
    let mut metrics = switchboard_app::metrics::Metrics::default();
    let delivery_metrics = DeliveryMetrics::register(metrics.registry_mut());
    (Platform::new(store, bus, clock, key, verifier, fetcher, platform_settings, metrics), delivery_metrics)
}

/// A running node.
pub struct Node {
    pub platform: Platform,
    /// The store the node runs on (benchmarks fill it directly).
    pub store: Arc<dyn Store>,
    pub addr: SocketAddr,
    pub tls: bool,
    shutdown: CancellationToken,
    listener: Listener,
    dispatcher: JoinHandle<()>,
    relay: JoinHandle<()>,
    /// Privacy callbacks and retention.
    privacy: JoinHandle<()>,
}

impl Node {
    /// Starts a node on the system clock, or on a virtual one when the settings ask.
    pub async fn start(settings: &Settings) -> anyhow::Result<Node> {
        let clock: Arc<dyn Clock> = match (settings.virtual_clock, settings.fault_clock) {
            (true, true) => anyhow::bail!("virtual_clock and fault_clock exclude each other: choose one"),
            (true, false) => Arc::new(VirtualClock::default()),
            (false, true) => Arc::new(FaultClock::default()),
            (false, false) => Arc::new(SystemClock),
        };
        Self::start_with_clock(settings, clock).await
    }

    pub async fn start_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Node> {
        let (store, bus) = open_store(settings).await?;
        let key = master_key(settings)?;
        let delivery = delivery_settings(settings);
        let (platform, delivery_metrics) = platform(settings, store.clone(), bus, clock.clone(), key, &delivery);
        let shutdown = CancellationToken::new();
        let relay = tokio::spawn(platform.clone().run_relay(shutdown.clone()));
        let parts = DispatcherParts {
            outbox: store.clone(),
            host: Arc::new(PlatformHost(platform.deliveries.clone())),
            clock,
            wake: platform.outbox_wake(),
            metrics: delivery_metrics,
        };
        let poster = Arc::new(HttpCallbackPoster::new(switchboard_delivery::webhook_client(&delivery), delivery.outbound));
        let retention_every = Duration::from_secs(settings.privacy.retention_every_secs.max(1));
        let privacy = tokio::spawn(platform.privacy.clone().run(poster, retention_every, shutdown.clone()));
        let dispatcher = tokio::spawn(Dispatcher::new(parts, delivery).run(shutdown.clone()));

        let addr: SocketAddr = settings.listen.parse().with_context(|| format!("listen address {:?}", settings.listen))?;
        let http = switchboard_http::HttpSettings {
            body_timeout: Duration::from_secs(settings.http.body_timeout_secs.max(1)),
            client_ip_header: match settings.http.client_ip_header.as_deref().filter(|h| !h.is_empty()) {
                Some(name) => Some(name.parse().with_context(|| format!("http.client_ip_header {name:?} is not a header name"))?),
                None => None,
            },
            body_memory: settings.http.body_memory_mib.saturating_mul(1024 * 1024),
            slow_request: (settings.http.slow_request_ms > 0).then(|| std::time::Duration::from_millis(settings.http.slow_request_ms)),
            max_requests_in_flight: settings.http.max_requests_in_flight.max(1),
        };
        let router = switchboard_http::router(platform.clone(), http);
        let tls = tls_config(settings)?;
        let limits = listener::ListenerLimits {
            header_timeout: Duration::from_secs(settings.http.header_timeout_secs.max(1)),
            max_connections: settings.http.max_connections,
        };
        let listener = Listener::bind(addr, router, tls.clone(), limits).await.with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = listener.addr;
        platform.ops.listening_at(&format!("{}://{addr}", if tls.is_some() { "https" } else { "http" }));
        tracing::info!(%addr, tls = tls.is_some(), node = %settings.node_name(), "listening");
        Ok(Node { platform, store, addr, tls: tls.is_some(), shutdown, listener, dispatcher, relay, privacy })
    }

    /// The base URL of every API on this node.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Graceful stop: no new connections, in-flight requests finish (up to 30 s),
    /// then the dispatcher stops after its POSTs in flight. Every acknowledged write
    /// is already durable, so nothing accepted is lost.
    pub async fn shutdown(self) {
        self.platform.ops.close_live_streams();
        self.listener.shutdown(DRAIN).await;
        self.shutdown.cancel();
        let _ = self.dispatcher.await;
        let _ = self.relay.await;
        let _ = self.privacy.await;
        tracing::info!("stopped");
    }
}

/// The TLS configuration the settings ask for: certificate files, or one generated
/// at start. It offers HTTP/1.1 only, as the listener speaks nothing else.
fn tls_config(settings: &Settings) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = &settings.tls;
    let (certs, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) = match (&tls.cert, &tls.key, tls.self_signed) {
        (Some(cert), Some(key), _) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?;
            (certs, PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the TLS key {}", key.display()))?)
        }
        (None, None, true) => {
            let generated = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
            (vec![generated.cert.der().clone()], PrivateKeyDer::try_from(generated.key_pair.serialize_der()).map_err(anyhow::Error::msg)?)
        }
        (None, None, false) => return Ok(None),
        _ => anyhow::bail!("TLS needs both tls.cert and tls.key (or tls.self_signed)"),
    };
    let mut config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}
