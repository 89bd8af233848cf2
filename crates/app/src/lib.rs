//! Use cases shared by the three faces (Graph API, person API, console API).
//!
//! Each use case checks who is asking, asks `domain` what is allowed, writes the
//! change and its outbox rows in one store call, then wakes the dispatcher and the
//! live streams. Owns: authentication, the caches in front of the store, the live
//! hub. Must not: know HTTP, SQL or how webhooks are sent (that is `delivery`).

mod auth;
mod cache;
mod clock;
mod deliveries;
mod features;
mod directory;
mod events;
mod listings;
mod live;
mod media;
mod profiles;
mod conversations;
mod threads;
mod notifications;
mod messaging;
mod passwords;
mod sessions;
pub mod metrics;
mod ratelimit;
mod relay;
mod subscriptions;

pub use auth::{Actor, Caller};
pub use deliveries::LIST_CAP;
pub use directory::{NewAppCredentials, PageAccount};
pub use conversations::Paged;
pub use listings::PageOverview;
pub use live::{LiveEvent, LiveHub};
pub use profiles::{PersonDetails, Welcome};
pub use media::{FetchError, FetchTimeouts, Fetched, MediaFetcher, MediaFiles, Upload};
pub use messaging::{Author, MessageView, PersonaView, Reactions};
pub use threads::{PersonMessage, PostbackTap, QuickReplyChoice, ThreadView, MAX_PERSON_TEXT_CHARS};
pub use ratelimit::Usage;
pub use sessions::{SignInLimits, MAX_PASSWORD_CHARS};
pub use relay::Invalidation;
pub use subscriptions::CallbackVerifier;

use cache::TtlCache;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_domain::credentials::MasterKey;
use switchboard_domain::*;
use switchboard_store::{Bus, Store, StoreError, WebhookTarget};
use tokio::sync::Notify;

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request was refused for a reason the client must see (Meta's codes).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed; the cause is logged at the boundary, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type AppResult<T> = Result<T, AppError>;

/// The system clock, for production.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
    }
}

/// A clock for development servers: the system time plus an offset that the console
/// moves forward, so that a bot developer can jump past the 24-hour window. Every
/// timer of the platform reads it, the dispatcher's included.
#[derive(Default)]
pub struct VirtualClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> Millis {
        SystemClock.now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn is_virtual(&self) -> bool {
        true
    }

    fn advance(&self, by: Millis) -> Result<Millis, ClockError> {
        if by < 0 {
            return Err(ClockError::Backwards);
        }
        self.offset_ms.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
        Ok(self.now_ms())
    }
}

/// What one person may create, and how many apps one Page may have (0: no bound).
/// The operator is not bound by them.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub apps_per_person: u32,
    pub pages_per_person: u32,
    pub apps_per_page: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Self { apps_per_person: 25, pages_per_person: 25, apps_per_page: 25 }
    }
}

/// Tunables of the use cases.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    /// How long a resolved token, PSID or webhook target may be served from cache.
    /// It bounds how late a revoked token or a removed subscription takes effect.
    pub cache_ttl: Duration,
    /// Lifetime of a short-lived user access token.
    pub user_token_ttl_ms: Millis,
    /// Lifetime of a long-lived user access token (`fb_exchange_token`).
    pub long_lived_token_ttl_ms: Millis,
    /// Lifetime of a person's session.
    pub session_ttl_ms: Millis,
    pub sign_in_limits: SignInLimits,
    /// Threads that hash and check passwords, and checks that may wait for one.
    pub hashing_threads: usize,
    pub hashing_queue: usize,
    pub quotas: Quotas,
    /// This node's name, for operators (logs, `/readyz`).
    pub node_id: String,
    /// Page features are approved as soon as a Page admin applies (no operator step).
    pub auto_approve_page_features: bool,
    pub rate_limits: switchboard_domain::ratelimit::Limits,
    /// Where media files are kept (content-addressed; shared by every node).
    pub media_dir: std::path::PathBuf,
    /// How long fetching an attachment by URL may take: videos, and everything else
    /// (Meta's 75 s and 30 s unless a test shortens them).
    pub fetch_timeouts: media::FetchTimeouts,
    /// The base URL persons and bots reach this installation at, for media URLs;
    /// `None`: the address the node listens on, set once it does.
    pub public_url: Option<String>,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(1),
            user_token_ttl_ms: 2 * 3600 * 1000,
            long_lived_token_ttl_ms: 60 * 24 * 3600 * 1000,
            session_ttl_ms: 30 * 24 * 3600 * 1000,
            sign_in_limits: SignInLimits::default(),
            hashing_threads: 2,
            hashing_queue: 64,
            quotas: Quotas::default(),
            node_id: "node".into(),
            auto_approve_page_features: false,
            rate_limits: switchboard_domain::ratelimit::Limits {
                app_calls_per_hour: 10_000_000,
                page_calls_per_day: 10_000_000,
                page_calls_per_engaged_person: 200,
                page_sends_per_second: 0,
            },
            media_dir: std::env::temp_dir().join("switchboard-media"),
            fetch_timeouts: media::FetchTimeouts::default(),
            public_url: None,
        }
    }
}

/// The platform's core, shared by every face. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Live events and invalidations to and from the other nodes.
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    key: MasterKey,
    settings: PlatformSettings,
    verifier: Arc<dyn CallbackVerifier>,
    fetcher: Arc<dyn MediaFetcher>,
    media: MediaFiles,
    /// See [`PlatformSettings::public_url`].
    public_url: std::sync::OnceLock<String>,
    /// Wakes the webhook dispatcher when outbox rows were committed.
    outbox_wake: Arc<Notify>,
    live: LiveHub,
    metrics: metrics::Metrics,
    /// Resolved tokens by digest, with their expiry.
    callers: TtlCache<String, (Caller, Option<Millis>)>,
    apps: TtlCache<AppId, App>,
    pages: TtlCache<String, Page>,
    psids: TtlCache<(PageId, String), PersonId>,
    targets: TtlCache<PageId, Arc<Vec<WebhookTarget>>>,
    /// A person's role on an app, for development mode (cleared with the callers).
    roles: TtlCache<(AppId, PersonId), Option<AppRole>>,
    /// A thread's last known interaction. Only ever trusted to say the window is open:
    /// a newer interaction elsewhere can only have moved it later.
    interactions: TtlCache<(PageId, PersonId), Millis>,
    /// People who wrote to each Page in the last day, for its rate budget.
    engaged: TtlCache<PageId, u64>,
    rates: ratelimit::RateCounter,
    passwords: passwords::Passwords,
    sign_in_failures: sessions::SignInFailures,
}

impl Platform {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        key: MasterKey,
        verifier: Arc<dyn CallbackVerifier>,
        fetcher: Arc<dyn MediaFetcher>,
        settings: PlatformSettings,
    ) -> Self {
        let ttl = settings.cache_ttl;
        let media = MediaFiles::new(settings.media_dir.clone());
        let passwords = passwords::Passwords::start(settings.hashing_threads, settings.hashing_queue);
        let sign_in_failures = sessions::SignInFailures::new(settings.sign_in_limits);
        let public_url = std::sync::OnceLock::new();
        if let Some(url) = &settings.public_url {
            let _ = public_url.set(url.trim_end_matches('/').to_string());
        }
        Self {
            inner: Arc::new(Inner {
                store,
                bus,
                clock,
                key,
                settings,
                verifier,
                fetcher,
                media,
                public_url,
                outbox_wake: Arc::new(Notify::new()),
                live: LiveHub::new(),
                metrics: metrics::Metrics::default(),
                callers: TtlCache::new(ttl),
                apps: TtlCache::new(ttl),
                pages: TtlCache::new(ttl),
                psids: TtlCache::new(ttl),
                targets: TtlCache::new(ttl),
                engaged: TtlCache::new(Duration::from_secs(60)),
                roles: TtlCache::new(ttl),
                interactions: TtlCache::new(Duration::from_secs(3600)),
                rates: ratelimit::RateCounter::default(),
                passwords,
                sign_in_failures,
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The base URL of this installation (media URLs start with it).
    pub fn public_url(&self) -> &str {
        self.inner.public_url.get().map(String::as_str).unwrap_or("http://localhost")
    }

    /// Sets the base URL to the address the node listens on, unless configured.
    pub fn listening_at(&self, url: &str) {
        let _ = self.inner.public_url.set(url.trim_end_matches('/').to_string());
    }

    pub fn node_id(&self) -> &str {
        &self.inner.settings.node_id
    }

    pub fn now(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    pub fn live(&self) -> &LiveHub {
        &self.inner.live
    }

    /// Notified whenever outbox rows were committed.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.inner.outbox_wake.clone()
    }

    /// The app's current secret (derived; never stored).
    pub fn app_secret(&self, app: &App) -> String {
        self.inner.key.app_secret(app.id.as_str(), app.secret_generation)
    }

    /// The app, through the cache.
    pub async fn app(&self, id: &AppId) -> AppResult<Option<App>> {
        if let Some(app) = self.inner.apps.get(id) {
            return Ok(Some(app));
        }
        let app = self.inner.store.app(id).await?;
        if let Some(app) = &app {
            self.inner.apps.put(id.clone(), app.clone());
        }
        Ok(app)
    }

    /// A Page by id or username, through the cache.
    pub async fn find_page(&self, id_or_username: &str) -> AppResult<Option<Page>> {
        if let Some(page) = self.inner.pages.get(&id_or_username.to_string()) {
            return Ok(Some(page));
        }
        let page = if is_node_id(id_or_username) {
            self.inner.store.page(&PageId(id_or_username.to_string())).await?
        } else {
            self.inner.store.page_by_username(&id_or_username.to_ascii_lowercase()).await?
        };
        if let Some(page) = &page {
            self.inner.pages.put(id_or_username.to_string(), page.clone());
        }
        Ok(page)
    }


}
