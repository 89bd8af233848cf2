//! Values the store takes and gives that are not domain entities themselves.

use switchboard_domain::*;

#[derive(Debug, Clone, PartialEq)]
pub struct NewPerson {
    pub name: String,
    pub login: String,
    /// A PHC-format password hash; the store never sees a password.
    pub password_hash: String,
    pub created_at: Millis,
}

/// An app that receives a Page's events, with the fields both subscription levels
/// agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub app: AppId,
    pub fields: Vec<WebhookField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

/// A webhook event to store with the fact that caused it. `body` is the rendered
/// `messaging[]` item: it is sent as is on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEvent {
    pub app: AppId,
    pub page: PageId,
    /// The thread's person: events of one (app, Page, person) are delivered in order.
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
}

/// A leased outbox event, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    pub app: AppId,
    pub page: PageId,
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
    /// Failed attempts so far.
    pub failures: u32,
    /// When the first attempt failed, for how long the endpoint has been failing.
    pub first_failure_at: Option<Millis>,
}

/// A POST that failed, for every event it carried. Each event either gets its next
/// attempt time or, past the retry horizon, is given up: dead-lettered, kept until
/// it is replayed or pruned.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedAttempt {
    pub app: AppId,
    pub url: String,
    pub attempted_at: Millis,
    pub latency_ms: Millis,
    pub kind: FailureKind,
    /// The HTTP status, when the receiver answered.
    pub status: Option<u16>,
    pub error: String,
    /// The start of the response body, bounded.
    pub excerpt: String,
    /// Each event's next attempt; `None` gives it up.
    pub retries: Vec<(i64, Option<Millis>)>,
}

/// One failed attempt, as the attempt log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub id: i64,
    pub app: AppId,
    pub url: String,
    pub attempted_at: Millis,
    pub latency_ms: Millis,
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub error: String,
    pub excerpt: String,
    /// Events the POST carried.
    pub events: u32,
}

/// Where an outbox event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    Pending,
    Delivered,
    /// Given up: past the retry horizon, or its app was unsubscribed for failing.
    Dead,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// From the outbox's `outcome` column (`NULL` while pending).
    pub fn from_outcome(outcome: Option<&str>) -> Self {
        match outcome {
            None => Self::Pending,
            Some("delivered") => Self::Delivered,
            Some(_) => Self::Dead,
        }
    }
}

/// An outbox event with its delivery state, for the console.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub app: AppId,
    pub page: PageId,
    pub person: PersonId,
    pub field: WebhookField,
    pub created_at: Millis,
    pub state: EventState,
    pub failures: u32,
    pub next_attempt_at: Millis,
    pub settled_at: Option<Millis>,
    pub last_error: Option<String>,
    /// When a dead event was sent again (as a new event).
    pub replayed_at: Option<Millis>,
}

/// An app's webhook endpoint at a glance (in the spirit of Telegram's getWebhookInfo).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointHealth {
    pub pending: u64,
    pub oldest_pending_at: Option<Millis>,
    pub dead: u64,
    /// Since when every attempt has failed; `None` while healthy.
    pub failing_since: Option<Millis>,
    pub last_error_at: Option<Millis>,
    pub last_error: Option<String>,
    pub last_success_at: Option<Millis>,
    /// When the app was last unsubscribed for failing too long.
    pub disabled_at: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The endpoint has been failing for the alert threshold (Meta: 15 minutes).
    Failing,
    /// The endpoint failed for the disable threshold (Meta: 1 hour): the app was
    /// unsubscribed from the Pages of its pending events, which were dead-lettered.
    Disabled,
}

impl AlertKind {
    /// The alert's text, the same from every engine: how long the endpoint failed and
    /// with what, and for `Disabled` what was unsubscribed and kept.
    pub fn message(self, failing_ms: Millis, last_error: &str, pages: usize, kept: usize) -> String {
        let minutes = failing_ms / 60_000;
        let failing = format!("Webhook deliveries have failed for {minutes} minutes (last error: {last_error}).");
        match self {
            Self::Failing => failing,
            Self::Disabled => {
                format!("{failing} The app was unsubscribed from {pages} Page(s); {kept} undelivered event(s) are kept for replay.")
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Failing, Self::Disabled].into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub app: AppId,
    pub kind: AlertKind,
    pub created_at: Millis,
    pub message: String,
    /// Pages the app was unsubscribed from (for `Disabled`).
    pub pages: Vec<PageId>,
}

/// Which events to send again.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplaySelection {
    /// One event, whatever its state: a pending one is made due now; a settled one is
    /// queued again as a new event with the same bytes.
    One(i64),
    /// Every dead event of the app created in `[from, to]` and not replayed yet.
    DeadBetween { from: Millis, to: Millis },
}

/// Who becomes the first admin of a new Page or administrator of a new app, and how
/// many they may hold at most (0: no bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub person: PersonId,
    pub quota: u32,
}

/// A change to an app that stands in for App Review, kept with who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: Millis,
    /// `operator` or `person:<id>`.
    pub actor: String,
    pub change: String,
}

/// A feature a Page applies for (its admin accepts the terms) and the operator
/// approves, as Meta's Advanced Messaging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PageFeatureState {
    pub feature: PageFeature,
    pub approved: bool,
    pub applied_by: Option<PersonId>,
    pub applied_at: Millis,
    pub approved_at: Option<Millis>,
}

/// What an opt-in request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptinKind {
    /// One message, once ever (the `one_time_notif_req` template).
    OneTime,
    /// One message per period (the `notification_messages` template).
    Recurring(NotificationFrequency),
}

impl OptinKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Recurring(frequency) => frequency.as_str(),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "one_time" => Some(Self::OneTime),
            other => NotificationFrequency::parse(other).map(Self::Recurring),
        }
    }
}

/// An opt-in request a Page sent, and, once the person accepted it, its token's state.
#[derive(Debug, Clone, PartialEq)]
pub struct OptinRequest {
    pub mid: Mid,
    pub kind: OptinKind,
    pub page: PageId,
    pub person: PersonId,
    pub title: String,
    pub payload: String,
    pub created_at: Millis,
    pub tapped_at: Option<Millis>,
    pub token_expires_at: Option<Millis>,
    pub stopped_at: Option<Millis>,
    pub last_sent_at: Option<Millis>,
}

impl OptinRequest {
    /// A request as the Page sends it, not yet accepted.
    pub fn new(mid: Mid, kind: OptinKind, page: PageId, person: PersonId, title: String, payload: String, at: Millis) -> Self {
        Self { mid, kind, page, person, title, payload, created_at: at, tapped_at: None, token_expires_at: None, stopped_at: None, last_sent_at: None }
    }
}

/// Media stored for a Page: uploaded, fetched from a URL, or sent by a person. The
/// bytes are a file named by their SHA-256 (`digest`); this record knows their type.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRecord {
    pub id: String,
    pub page: PageId,
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
    pub digest: String,
    pub mime: String,
    /// Bytes.
    pub size: u64,
    pub file_name: Option<String>,
    /// Only a reusable attachment may be sent again by its id.
    pub reusable: bool,
    pub created_at: Millis,
}

/// A Page's persona: a name and picture its messages may carry instead of the Page's.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    pub id: String,
    pub page: PageId,
    pub name: String,
    pub profile_picture_url: String,
    pub created_at: Millis,
}

/// What a person tells Pages beyond their name (User Profile API).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonProfile {
    /// As Meta spells it, e.g. `en_US`.
    pub locale: String,
    /// Hours from UTC.
    pub timezone: f64,
    /// `male`, `female`, or unsaid.
    pub gender: Option<String>,
}

impl Default for PersonProfile {
    fn default() -> Self {
        Self { locale: "en_US".into(), timezone: 0.0, gender: None }
    }
}

/// One of a Page's threads, as the Conversations API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageThread {
    pub person: PersonId,
    pub last_message_at: Millis,
    pub message_count: u64,
}

/// Webhook deliveries of one app in one time bucket, for the console's chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryBucket {
    /// The bucket's start, epoch ms.
    pub start: Millis,
    /// Events acknowledged in the bucket.
    pub delivered: u64,
    /// Events in POSTs that failed in the bucket (an event retried counts each time).
    pub failed: u64,
    /// From an event's creation to its acknowledgement, over the delivered events.
    pub latency_avg_ms: Millis,
    pub latency_max_ms: Millis,
}

/// A Page admin's grant of a Page to an app, within the Page's quota of apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageGrant {
    pub page: PageId,
    pub app: AppId,
    /// The admin on whose behalf the app acts.
    pub by: PersonId,
    pub at: Millis,
    /// Apps the Page may have at most (0: no bound).
    pub max_apps: u32,
}

/// The digest of a Page token for an epoch: Page tokens are derived, not random, and
/// each revocation moves the epoch they are derived from. The store calls it inside
/// the transaction that reads the epoch, so the token registered is never one that
/// was revoked meanwhile.
pub type PageTokenMinter = std::sync::Arc<dyn Fn(u32) -> String + Send + Sync>;

/// A notification token a message is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpend {
    pub page: PageId,
    pub digest: String,
    /// The token was not used after this (a recurring token's period); `None`: it was
    /// never used (a one-time token).
    pub period_start: Option<Millis>,
}
