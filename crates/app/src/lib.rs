//! Use cases shared by the three faces (Graph API, person API, console API).
//!
//! Each use case checks who is asking, asks `domain` what is allowed, writes the
//! change and its outbox rows in one store call, then wakes the dispatcher and the
//! live streams. The use cases are grouped in services, one per area ([`Platform`]'s
//! fields), over a shared [`core`](crate::core) that holds the store, the clock, the
//! caches and the checks several areas make. Must not: know HTTP, SQL or how
//! webhooks are sent (that is `delivery`).

mod auth;
mod cache;
mod clock;
mod consent;
mod conversations;
mod insights;
mod core;
mod deliveries;
mod directory;
mod entry_points;
mod error;
mod events;
mod features;
mod handover;
mod inbox;
mod labels;
mod listings;
mod live;
mod media;
mod messaging;
pub mod metrics;
pub use switchboard_store::timing;
mod notifications;
mod ops;
mod passwords;
mod pickups;
mod privacy;
mod profiles;
mod ratelimit;
mod refused_calls;
mod relay;
mod sessions;
mod subscriptions;
mod threads;
pub mod views;

pub use auth::{Actor, Caller};
pub use clock::{FaultClock, SystemClock, VirtualClock};
pub use consent::{Consent, DialogAnswer, DialogRequest, LOGIN_CODE_TTL_MS, TEST_USER_DOMAIN};
pub use conversations::{Conversations, Paged};
pub use insights::{Insights, InsightsPage};
pub use deliveries::{Deliveries, WebhookRoute, LIST_CAP};
pub use directory::{Directory, NewAppCredentials, PageAccount};
pub use entry_points::{EntryPoints, LinkingResult};
pub use error::{AppError, AppResult};
pub use features::Features;
pub use handover::{Handover, PageReceivers};
pub use inbox::Inbox;
pub use labels::Labels;
pub use listings::{Listings, PageOverview};
pub use live::{LiveEvent, LiveHub};
pub use media::{FetchError, FetchTimeouts, Fetched, Media, MediaFetcher, MediaFiles, Upload};
pub use messaging::Messaging;
pub use notifications::Notifications;
pub use ops::Operations;
pub use pickups::{envelope_of, DeliveredEvent, DeliveryState, Listener, ListenerAnswer, ListenerDelivery, PickupSettings, Pickups, Update, MAX_POLL_LIMIT, MAX_POLL_SECS};
pub use privacy::{AuditEntry, CallbackPoster, CallbackView, Privacy, Pruned, MAX_EXPORTED_MESSAGES};
pub use profiles::Profiles;
pub use ratelimit::{RateLimits, Usage};
pub use refused_calls::{RefusedCall, RefusedCalls, RefusedRequest, MAX_APPS, MAX_BODY_BYTES, MAX_CALLS_PER_APP};
pub use relay::Invalidation;
pub use sessions::{Sessions, SignInLimits, MAX_PASSWORD_CHARS};
pub use subscriptions::{CallbackVerifier, Subscriptions};
pub use threads::{EntryRef, LocationPin, PersonMessage, PostbackTap, QuickReplyChoice, Threads, MAX_PERSON_TEXT_CHARS};

use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::credentials::MasterKey;
use switchboard_domain::*;
use switchboard_store::{Bus, Store};
use tokio::sync::Notify;

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
    /// How many days messages are kept where a Page sets nothing (`None`: forever).
    pub retention_days: Option<u32>,
    /// How listeners and pollers take events (the dispatcher's rules).
    pub pickup: PickupSettings,
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
            retention_days: None,
            pickup: PickupSettings::default(),
        }
    }
}

/// The platform: one service per area, each over the shared core. The faces call
/// the service of the area a request belongs to, through `Deref`.
///
/// A clone is one reference count: the faces hold the platform as their state, and
/// axum clones the state for every extractor of every request. Cloning the services
/// themselves cost dozens of atomic counts on counters both cores share, a fifth
/// of a node's time under the Send API's load (ANALYSIS.md).
#[derive(Clone)]
pub struct Platform(Arc<Services>);

/// Every service of the platform; reached through [`Platform`].
pub struct Services {
    core: Arc<core::Core>,
    pub sessions: Sessions,
    pub directory: Directory,
    pub consent: Consent,
    pub features: Features,
    pub listings: Listings,
    pub subscriptions: Subscriptions,
    pub messaging: Messaging,
    pub notifications: Notifications,
    pub threads: Threads,
    pub handover: Handover,
    pub inbox: Inbox,
    pub media: Media,
    pub profiles: Profiles,
    pub labels: Labels,
    pub entry_points: EntryPoints,
    pub privacy: Privacy,
    pub conversations: Conversations,
    pub insights: Insights,
    pub deliveries: Deliveries,
    pub pickups: Pickups,
    pub rate_limits: RateLimits,
    /// The Graph calls this node refused, per app (memory only).
    pub refused_calls: RefusedCalls,
    pub ops: Operations,
}

impl Platform {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        key: MasterKey,
        verifier: Arc<dyn CallbackVerifier>,
        fetcher: Arc<dyn MediaFetcher>,
        settings: PlatformSettings,
        metrics: metrics::Metrics,
    ) -> Self {
        let core = core::Core::new(store, bus, clock, key, settings, metrics);
        let sessions = Sessions::new(core.clone());
        let privacy = Privacy {
            core: core.clone(),
            sessions: sessions.clone(),
            files: Arc::new(MediaFiles::new(core.settings.media_dir.clone())),
            wake: Arc::new(Notify::new()),
        };
        let directory = Directory { core: core.clone(), sessions: sessions.clone(), privacy: privacy.clone() };
        let media = Media::new(core.clone(), fetcher);
        let notifications = Notifications { core: core.clone() };
        let profiles = Profiles { core: core.clone() };
        Self(Arc::new(Services {
            consent: Consent { core: core.clone(), directory: directory.clone() },
            listings: Listings { core: core.clone(), directory: directory.clone() },
            features: Features { core: core.clone() },
            subscriptions: Subscriptions { core: core.clone(), verifier },
            messaging: Messaging::new(core.clone(), media.clone(), notifications.clone()),
            threads: Threads { core: core.clone(), media: media.clone(), profiles: profiles.clone() },
            entry_points: EntryPoints { core: core.clone(), profiles: profiles.clone() },
            privacy,
            conversations: Conversations { core: core.clone() },
            labels: Labels { core: core.clone() },
            insights: Insights { core: core.clone() },
            handover: Handover::new(core.clone()),
            inbox: Inbox::new(core.clone()),
            deliveries: Deliveries { core: core.clone() },
            pickups: Pickups::new(core.clone()),
            rate_limits: RateLimits::new(core.clone()),
            refused_calls: RefusedCalls::new(core.clone()),
            ops: Operations { core: core.clone() },
            sessions,
            directory,
            media,
            notifications,
            profiles,
            core,
        }))
    }

    /// Resolves a bearer token (every face's first step); `proof` is the request's
    /// `appsecret_proof`, if any.
    pub async fn authenticate(&self, token: Option<&str>, proof: Option<&str>) -> AppResult<Caller> {
        self.core.authenticate(token, proof).await
    }

    /// The time every rule and timer of this node reads.
    pub fn now(&self) -> Millis {
        self.core.now()
    }

    /// Notified whenever outbox rows were committed on this node: the dispatcher
    /// waits on it.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.core.outbox_wake.clone()
    }

    /// Applies what the bus brings (live events, invalidations) until `shutdown`.
    pub async fn run_relay(self, shutdown: tokio_util::sync::CancellationToken) {
        relay::run(self.core.clone(), shutdown).await
    }
}

impl std::ops::Deref for Platform {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
