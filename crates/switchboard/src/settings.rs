//! Settings, layered: defaults, then an optional TOML file, then `SWITCHBOARD_*`
//! environment variables (nested keys with `__`, e.g. `SWITCHBOARD_WEBHOOKS__TIMEOUT_SECS`),
//! then command-line flags.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the one listener binds: Graph, person, console and ops APIs.
    pub listen: String,
    /// The data directory: the SQLite file, the master key, demo.json.
    pub data: PathBuf,
    /// `postgres://user@host/db` for PostgreSQL (several nodes may share it), or
    /// `sqlite:///path/to/file.db` to put the SQLite file elsewhere than `data`.
    pub database_url: Option<String>,
    /// This node's name in logs and `/readyz`; default: host name and process id.
    pub node_id: Option<String>,
    /// Where media files (attachments) are kept; default `DATA/media`. Nodes that
    /// share a PostgreSQL database must share this directory too.
    pub media_dir: Option<PathBuf>,
    /// How long fetching an attachment by URL may take (ms): videos (Meta: 75 s), and
    /// everything else.
    pub media_video_fetch_timeout_ms: u64,
    pub media_fetch_timeout_ms: u64,
    /// The base URL persons and bots reach this installation at (media URLs start with
    /// it); default: the address this node listens on.
    pub public_url: Option<String>,
    pub database: DatabaseSettings,
    /// The master key (64 hex characters) from which app secrets derive. Without
    /// it, `DATA/master.key` is used, created on first start.
    pub master_key: Option<String>,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Run on a virtual clock that the operator moves forward through the console
    /// (development servers: jump past the 24-hour window). Per node.
    pub virtual_clock: bool,
    /// For fault testing only, never in production: run on a clock that the operator
    /// skews forwards or backwards from the system clock through the console
    /// (`POST /console/v1/clock {"skew_ms"}`), as a wall clock that jumps would read.
    /// Per node; not with `virtual_clock`.
    pub fault_clock: bool,
    /// Approve Page features (phone numbers, one-time notifications) as soon as a
    /// Page admin applies, without the operator.
    pub auto_approve_page_features: bool,
    /// How long cached tokens, PSIDs and subscriptions are served (ms): the bound on
    /// how late a revocation made elsewhere takes effect.
    pub cache_ttl_ms: u64,
    pub tls: TlsSettings,
    pub http: HttpSettings,
    pub webhooks: WebhookSettings,
    pub outbound: OutboundSettings,
    pub rate_limits: RateLimitSettings,
    pub sign_in: SignInSettings,
    pub quotas: QuotaSettings,
    pub privacy: PrivacySettings,
}

/// How long messages are kept, and how often the retention job looks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivacySettings {
    /// Days a message (and an attachment) is kept where a Page sets nothing; unset:
    /// forever.
    pub retention_days: Option<u32>,
    /// Seconds between two retention passes.
    pub retention_every_secs: u64,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self { retention_days: None, retention_every_secs: 600 }
    }
}

/// Bounds on the connections and requests a client may hold open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// A client must send a request's headers within this time, counted from the
    /// connection's start or from the end of the previous response: it is also how
    /// long an idle keep-alive connection stays open.
    pub header_timeout_secs: u64,
    /// A request's body must arrive whole within this time after its headers.
    pub body_timeout_secs: u64,
    /// Connections open at once; past it a new connection is answered 503 and closed.
    /// Lowered at start to what the process's file-descriptor limit allows.
    pub max_connections: usize,
    /// Requests a node works on at once; past it a request is answered 503 at once
    /// (Graph's transient code 2, `Retry-After: 1`) instead of queueing, so that a
    /// load the node cannot keep up with does not grow its memory. Health checks,
    /// `/metrics` and the pull API's long polls are not counted.
    pub max_requests_in_flight: usize,
    /// Memory the bodies of requests in flight may hold together (MiB); a request
    /// waits for room within its body deadline, then is answered 503.
    pub body_memory_mib: usize,
    /// Behind a reverse proxy: the header holding the client's address (such as
    /// `x-forwarded-for`; its last entry is used, the one the proxy wrote). Without
    /// it, sign-in limits count the connection's peer address.
    pub client_ip_header: Option<String>,
    /// A request that takes longer than this (ms) is logged with where its time
    /// went (admission, body, authentication, the store, the live fan-out...); 0: never.
    pub slow_request_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { header_timeout_secs: 15, body_timeout_secs: 60, max_connections: 10_000, max_requests_in_flight: 1024, body_memory_mib: 256, client_ip_header: None, slow_request_ms: 1000 }
    }
}

/// Where the node's own requests (webhook callbacks, attachment fetches) may go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundSettings {
    /// Let webhook callbacks and attachment fetches reach loopback, private,
    /// link-local and other non-public addresses. Off by default, so that no app can
    /// make the platform reach into its own network; `switchboard demo` turns it on
    /// for bots on the same machine.
    pub allow_private_addresses: bool,
}

/// Signing in: how password checks are bounded and how guessing is slowed down.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SignInSettings {
    /// Threads that check passwords (each holds one Argon2 buffer of 19 MiB).
    pub hashing_threads: usize,
    /// Password checks waiting for a thread at most; past it sign-ins are refused
    /// at once as "try again later".
    pub hashing_queue: usize,
    /// Failed sign-ins for one login within `failure_window_secs` before that login
    /// is refused until the window has passed.
    pub failures_per_login: u32,
    /// Failed sign-ins from one client address within the window before it is refused.
    pub failures_per_address: u32,
    pub failure_window_secs: u64,
    /// How long a session lasts (a signed-out session ends at once).
    pub session_ttl_secs: u64,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            hashing_threads: 2,
            hashing_queue: 64,
            failures_per_login: 10,
            failures_per_address: 50,
            failure_window_secs: 15 * 60,
            session_ttl_secs: 30 * 24 * 3600,
        }
    }
}

/// What one person may create. The operator is not bound by them; 0 lifts a quota.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QuotaSettings {
    pub apps_per_person: u32,
    pub pages_per_person: u32,
    /// Apps installed on one Page (each receives its own webhooks).
    pub apps_per_page: u32,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self { apps_per_person: 25, pages_per_person: 25, apps_per_page: 25 }
    }
}

/// PostgreSQL connection settings (ignored by SQLite).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Connections this node keeps at most, besides the one the Send API's group
    /// writer keeps for itself.
    pub pool_size: usize,
    /// A statement running longer is cancelled (ms).
    pub statement_timeout_ms: u64,
    /// Connecting, or waiting for a free connection, longer than this fails the
    /// request with 503 instead of hanging (ms).
    pub connect_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { pool_size: 16, statement_timeout_ms: 5_000, connect_timeout_ms: 2_000 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Serve https with a certificate generated at start (local development).
    pub self_signed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    pub timeout_secs: u64,
    /// Events per POST at most.
    pub batch_cap: usize,
    /// POSTs in flight at once from this node.
    pub max_in_flight: usize,
    /// POSTs in flight at once to one callback URL, from this node.
    pub max_in_flight_per_endpoint: usize,
    /// A POST unanswered after this long (ms) has stalled: it moves out of
    /// `max_in_flight` into `max_stalled`, and its callback URL's next POSTs take
    /// stalled slots too until one is answered in time, so that hung receivers do
    /// not slow the others.
    pub stalled_after_ms: u64,
    /// Stalled POSTs in flight at once from this node, beyond `max_in_flight`.
    pub max_stalled: usize,
    pub retry_initial_ms: i64,
    pub retry_max_ms: i64,
    /// An event is retried until it is this old, then kept as a dead letter (Meta: 36 h).
    pub retry_for_secs: u64,
    /// Continuous failure before the developers are alerted (Meta: 15 minutes).
    pub alert_after_secs: u64,
    /// Continuous failure before the app is unsubscribed from the Pages (Meta: 1 hour).
    pub disable_after_secs: u64,
    /// Where alerts are also POSTed as JSON.
    pub alert_url: Option<String>,
    /// How long delivered events are kept for history and replay.
    pub keep_delivered_secs: u64,
    /// How long dead letters and failed attempts are kept.
    pub keep_dead_secs: u64,
    /// Accept self-signed certificates on https callbacks.
    pub accept_invalid_certs: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data: PathBuf::from("./data"),
            database_url: None,
            node_id: None,
            media_dir: None,
            media_video_fetch_timeout_ms: switchboard_domain::media::VIDEO_FETCH_TIMEOUT_MS,
            media_fetch_timeout_ms: switchboard_domain::media::FETCH_TIMEOUT_MS,
            public_url: None,
            database: DatabaseSettings::default(),
            master_key: None,
            log_format: "text".into(),
            virtual_clock: false,
            fault_clock: false,
            auto_approve_page_features: false,
            cache_ttl_ms: 1000,
            tls: TlsSettings::default(),
            http: HttpSettings::default(),
            webhooks: WebhookSettings::default(),
            outbound: OutboundSettings::default(),
            rate_limits: RateLimitSettings::default(),
            sign_in: SignInSettings::default(),
            quotas: QuotaSettings::default(),
            privacy: PrivacySettings::default(),
        }
    }
}

/// Meta's limits are 200 calls per engaged person per day for a Page and 300 sends
/// per second; the defaults keep the scaling but are generous for self-hosting. 0 turns
/// a limit off. Counted per node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub app_calls_per_hour: u64,
    /// The floor of a Page's daily budget.
    pub page_calls_per_day: u64,
    pub page_calls_per_engaged_person: u64,
    pub page_sends_per_second: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self { app_calls_per_hour: 10_000_000, page_calls_per_day: 10_000_000, page_calls_per_engaged_person: 200, page_sends_per_second: 0 }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 20,
            batch_cap: 50,
            max_in_flight: 64,
            max_in_flight_per_endpoint: 8,
            stalled_after_ms: 1000,
            max_stalled: 256,
            retry_initial_ms: 1000,
            retry_max_ms: 15 * 60_000,
            retry_for_secs: 36 * 3600,
            alert_after_secs: 15 * 60,
            disable_after_secs: 3600,
            alert_url: None,
            keep_delivered_secs: 24 * 3600,
            keep_dead_secs: 14 * 24 * 3600,
            accept_invalid_certs: false,
        }
    }
}

impl Settings {
    /// Defaults < `config` file < environment < `overrides` (flags).
    pub fn load(config: Option<&Path>, overrides: impl Serialize) -> Result<Self, figment::Error> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(Env::prefixed("SWITCHBOARD_").split("__")).merge(Serialized::globals(overrides)).extract()
    }

    /// Which store the settings name.
    pub fn engine(&self) -> Result<Database, String> {
        match self.database_url.as_deref() {
            None => Ok(Database::Sqlite(self.data.join("switchboard.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Database::Postgres(url.to_string())),
            Some(url) => url.strip_prefix("sqlite://").map(|path| Database::Sqlite(PathBuf::from(path))).ok_or_else(|| {
                format!("unsupported database_url {url:?}: use postgres://user@host/db or sqlite:///path/file.db")
            }),
        }
    }

    /// Where media files are kept.
    pub fn media_dir(&self) -> PathBuf {
        self.media_dir.clone().unwrap_or_else(|| self.data.join("media"))
    }

    /// This node's name.
    pub fn node_name(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "node".into());
            format!("{host}-{}", std::process::id())
        })
    }
}

/// The store engine and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<String>,
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("sb.toml", "listen = \"127.0.0.1:1\"\ncache_ttl_ms = 5\n[webhooks]\ntimeout_secs = 3\nbatch_cap = 7\n")?;
            jail.set_env("SWITCHBOARD_CACHE_TTL_MS", "9");
            jail.set_env("SWITCHBOARD_WEBHOOKS__BATCH_CAP", "11");
            let settings = Settings::load(Some(Path::new("sb.toml")), Flags { listen: Some("127.0.0.1:2".into()) })?;
            assert_eq!(settings.listen, "127.0.0.1:2", "flags win");
            assert_eq!(settings.cache_ttl_ms, 9, "environment beats the file");
            assert_eq!(settings.webhooks.batch_cap, 11);
            assert_eq!(settings.webhooks.timeout_secs, 3, "the file beats defaults");
            assert_eq!(settings.webhooks.max_in_flight, 64, "defaults fill the rest");
            let defaults = Settings::load(None, Flags { listen: None })?;
            assert_eq!(defaults.listen, "127.0.0.1:8080");
            Ok(())
        });
    }
}
