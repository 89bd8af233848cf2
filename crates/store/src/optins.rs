//! Notification opt-ins, one-time and recurring: the request a Page's message asks, the
//! person's acceptance and its token, and the messages sent with it.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// What an opt-in request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptinKind {
    /// One message, once ever (the `one_time_notif_req` template).
    OneTime,
    /// One message per period (the `notification_messages` template).
    Recurring(NotificationFrequency),
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
    /// The template asked Messenger to offer the person a new opt-in when the token
    /// nears its end (`notification_messages_reoptin: ENABLED`).
    pub reoptin: bool,
}

impl OptinRequest {
    /// A request as the Page sends it, not yet accepted.
    pub fn new(mid: Mid, kind: OptinKind, page: PageId, person: PersonId, title: String, payload: String, at: Millis) -> Self {
        Self { mid, kind, page, person, title, payload, created_at: at, tapped_at: None, token_expires_at: None, stopped_at: None, last_sent_at: None, reoptin: false }
    }
}

/// A notification token a message is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpend {
    pub page: PageId,
    pub digest: String,
    /// The token was not used after this (a recurring token's period); `None`: it was
    /// never used (a one-time token).
    pub period_start: Option<Millis>,
}

/// The person accepts an opt-in request: its token (by digest) and until when it
/// may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptinTap {
    pub mid: Mid,
    pub person: PersonId,
    pub token_digest: String,
    pub expires_at: Millis,
    pub at: Millis,
}

#[async_trait]
pub trait OptinStore: Send + Sync + 'static {
    /// Stores the Page's message that asks for an opt-in, the request it opens and
    /// its events, in one transaction; false (nothing stored) while a one-time request
    /// with the same title for the same person and Page is outstanding (its token
    /// unused).
    async fn send_optin_request(&self, request: OptinRequest, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    async fn optin_request(&self, mid: &Mid) -> StoreResult<Option<OptinRequest>>;
    /// The person's requests from the Page created at or after `since`, oldest first.
    async fn optin_requests_since(&self, page: &PageId, person: PersonId, since: Millis) -> StoreResult<Vec<OptinRequest>>;
    /// The person accepts: the request gets its token (by digest) and the
    /// `messaging_optins` events are stored, in one transaction; false (nothing
    /// stored) when accepted already or not the person's.
    async fn tap_optin_request(&self, tap: OptinTap, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// The request holding this Page's token.
    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>>;
    /// Stores a message sent with a notification token and its events, spending the
    /// token in the same transaction: false (nothing stored) unless the token is
    /// unexpired at the message's time, its topic not stopped, and no message was
    /// sent with it after `spend.period_start` (with `None`: ever). Whichever
    /// requests race, one wins.
    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// The Page's recurring tokens that can still send at `now` (accepted, not
    /// stopped, unexpired), in the order they were accepted (`tapped_at`, then mid),
    /// after the cursor `after`, at most `limit`, each with the person's PSID (read
    /// in the same statement).
    async fn notification_tokens(&self, page: &PageId, now: Millis, after: Option<(Millis, Mid)>, limit: u32) -> StoreResult<Vec<(OptinRequest, Psid)>>;
    /// The person stops (`Some(at)`) or resumes (`None`) a topic, with the events.
    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()>;
}
