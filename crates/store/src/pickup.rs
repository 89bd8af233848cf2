//! Events an app picks up itself instead of receiving POSTs (a Switchboard
//! extension): listeners (`switchboard listen`, several per app, each leasing thread
//! runs as a dispatcher does) and the pull API's poller (one at a time per app),
//! registered with an expiry so that a node that dies leaves nothing held; which apps
//! no dispatcher POSTs to; acknowledgments checked against the app; the pull API's
//! one transaction.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// Who takes an app's events on its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickupKind {
    /// A streaming connection of `switchboard listen`: several may share an app.
    Listener,
    /// A request of the pull API in progress: one per app at a time.
    Poller,
}

impl PickupKind {
    pub const ALL: [PickupKind; 2] = [Self::Listener, Self::Poller];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listener => "listener",
            Self::Poller => "poller",
        }
    }
}

/// A listener or a poller, held until `expires_at` (renewed while it is there).
#[derive(Debug, Clone, PartialEq)]
pub struct Pickup {
    /// Random, chosen by the node that serves it.
    pub id: String,
    pub app: AppId,
    pub kind: PickupKind,
    pub since: Millis,
    pub expires_at: Millis,
}

/// One call of the pull API.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    pub app: AppId,
    /// Acknowledges the events handed out before with an id below it.
    pub ack_below: Option<i64>,
    pub now: Millis,
    /// What marks the events handed out now (and keeps dispatchers off them).
    pub lease_until: Millis,
    /// Pending events created before it are given up (the retry horizon).
    pub give_up_before: Millis,
    pub limit: u32,
}

#[async_trait]
pub trait PickupStore: Send + Sync + 'static {
    /// Registers the pickup, or renews it when its id is known. A poller only while
    /// no other poller of the app is unexpired at `now`: false when one is.
    async fn hold_pickup(&self, pickup: &Pickup, now: Millis) -> StoreResult<bool>;
    async fn drop_pickup(&self, id: &str) -> StoreResult<()>;
    /// The app's pickups unexpired at `now`, oldest first.
    async fn pickups(&self, app: &AppId, now: Millis) -> StoreResult<Vec<Pickup>>;
    /// Apps whose events no dispatcher POSTs at `now`: in pull mode, with a webhook
    /// but no callback URL, or with a listener.
    async fn held_apps(&self, now: Millis) -> StoreResult<Vec<AppId>>;
    /// Makes the app's pending events due at `now` (a listener came: what waited for
    /// a callback goes to it at once); answers how many.
    async fn make_due(&self, app: &AppId, now: Millis) -> StoreResult<u64>;
    /// Marks delivered those of `ids` that are the app's and pending (their threads'
    /// next events become due), as `outbox_delivered` does; answers how many.
    async fn acknowledge(&self, app: &AppId, ids: &[i64], at: Millis) -> StoreResult<u64>;
    /// The pull API in one transaction: acknowledges, gives up what is past the
    /// horizon, then hands out (marking each with the lease) the app's first `limit`
    /// pending events by id, handed out before or not, so that each thread's events
    /// come in order and an unacknowledged event comes again.
    async fn pull(&self, request: &PullRequest) -> StoreResult<Vec<OutboxEvent>>;
}
