//! The store interface: what the platform remembers, shaped by use cases. Each
//! method is one transaction; a write that causes webhooks takes its outbox rows
//! with it, so a fact and the events it causes are durable together or not at all.
//!
//! Engines live in their own crates (`store-sqlite`, later PostgreSQL) and must pass
//! the same [`contract`] suite. This crate knows no SQL and no HTTP.

mod bus;
#[cfg(feature = "contract")]
pub mod contract;
mod types;

pub use bus::{Bus, BusMessage, LocalBus, BUS_BUFFER, RESUMED_TOPIC};
pub use types::*;

use async_trait::async_trait;
use switchboard_domain::*;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (a taken username or login...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The named row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database cannot be reached or is shutting down; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A quota would be exceeded (the person's apps or Pages, a Page's apps).
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// Anything else; a bug or a corrupt database.
    #[error("store failure: {0}")]
    Internal(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- installation --------------------------------------------------------
    /// Stores the operator credential's digest, and registers it as an operator token,
    /// unless an operator exists; true when stored.
    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool>;

    // --- persons, Pages, apps --------------------------------------------------
    async fn create_person(&self, person: NewPerson) -> StoreResult<Person>;
    /// Creates a person with the tester role on the app, in one transaction (Meta's
    /// test users).
    async fn create_test_user(&self, person: NewPerson, app: &AppId) -> StoreResult<Person>;
    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>>;
    /// The person and their password hash, for signing in.
    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>>;

    /// Creates a Page; with `admin`, the person becomes its admin in the same
    /// transaction, unless they already administer `admin.quota` Pages
    /// (`QuotaExceeded`, and nothing is stored).
    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()>;
    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>>;
    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>>;

    /// Creates an app; with `administrator`, the person becomes its administrator in
    /// the same transaction, unless they already administer `quota` apps.
    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()>;
    async fn app(&self, id: &AppId) -> StoreResult<Option<App>>;
    /// Replaces the app's mutable settings (mode, secret generation, proof rule), with
    /// an audit record of the change when given, in the same transaction. With
    /// `revoke_tokens` (its secret was reset), every user and Page token of the app
    /// is revoked too, for good.
    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()>;
    /// The app's audit records, oldest first.
    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>>;

    // --- roles and grants --------------------------------------------------------
    /// Sets or (with `None`) removes a person's role on an app.
    async fn set_app_role(&self, app: &AppId, person: PersonId, role: Option<AppRole>) -> StoreResult<()>;
    async fn app_role(&self, app: &AppId, person: PersonId) -> StoreResult<Option<AppRole>>;
    /// Sets or (with `None`) removes a person's role on a Page. Removing it revokes
    /// the Page tokens issued through that person for good, and is refused
    /// (`Conflict`) when the person is the Page's last admin: a Page keeps one.
    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()>;
    async fn page_role(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageRole>>;
    /// A Page admin lets an app act for the Page (what login's Page picker does), and
    /// the Page token of (Page, app, admin) is registered, in one transaction;
    /// `QuotaExceeded` when the Page already has `grant.max_apps` apps (0: no bound)
    /// and this one is new to it. Answers the epoch the token was minted for.
    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32>;
    /// A Page admin removes an app from the Page: the grant, the app's subscription
    /// to the Page's webhooks and every Page token of the app for this Page go, in
    /// one transaction; the tokens are revoked for good. False when it had no grant.
    async fn revoke_page_grant(&self, page: &PageId, app: &AppId) -> StoreResult<bool>;
    /// Registers the Page token of (Page, app, person) for the triple's current
    /// epoch (how many times its tokens were revoked: a Page token is derived anew
    /// with each, so that none comes back to life), read in the same transaction as
    /// the insert so that a revocation cannot slip between them. Answers the epoch.
    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32>;
    async fn page_granted(&self, page: &PageId, app: &AppId) -> StoreResult<bool>;
    /// Pages the person administers and has granted to the app, by name.
    async fn granted_pages_of(&self, person: PersonId, app: &AppId) -> StoreResult<Vec<Page>>;

    // --- tokens ------------------------------------------------------------------
    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()>;
    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>>;
    async fn revoke_token(&self, digest: &str) -> StoreResult<()>;

    // --- webhook subscriptions ----------------------------------------------------
    /// Creates or replaces the app's subscription for its `object`.
    async fn put_app_subscription(&self, subscription: AppSubscription) -> StoreResult<()>;
    async fn app_subscriptions(&self, app: &AppId) -> StoreResult<Vec<AppSubscription>>;
    async fn delete_app_subscription(&self, app: &AppId, object: &str) -> StoreResult<bool>;
    /// Installs the app on the Page with these fields (replacing earlier ones).
    async fn put_page_subscription(&self, subscription: PageSubscription) -> StoreResult<()>;
    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>>;
    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool>;
    /// Apps that receive events of this Page: installed on it, with an active
    /// `object=page` webhook; `fields` is what both levels agree on.
    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>>;

    // --- phone numbers and Page features --------------------------------------------
    /// Sets (or with `None` removes) the person's phone number, verified at `at`;
    /// `Conflict` when another person holds the number.
    async fn set_phone(&self, person: PersonId, phone: Option<&str>, at: Millis) -> StoreResult<()>;
    /// The person holding this number, and when they verified it.
    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>>;
    /// The person's number and when they verified it.
    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>>;
    /// Records a Page admin's application for a feature (applying again keeps an
    /// approval given), approved at once with `approve`.
    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()>;
    /// The operator approves an application (`NotFound` when there is none).
    async fn approve_page_feature(&self, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()>;
    async fn page_features(&self, page: &PageId) -> StoreResult<Vec<PageFeatureState>>;

    // --- notification opt-ins (one-time and recurring) ---------------------------------
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
    async fn tap_optin_request(
        &self,
        mid: &Mid,
        person: PersonId,
        token_digest: &str,
        expires_at: Millis,
        at: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool>;
    /// The request holding this Page's token.
    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>>;
    /// Stores a message sent with a notification token and its events, spending the
    /// token in the same transaction: false (nothing stored) unless the token is
    /// unexpired at the message's time, its topic not stopped, and no message was
    /// sent with it after `spend.period_start` (with `None`: ever). Whichever
    /// requests race, one wins.
    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// The person stops (`Some(at)`) or resumes (`None`) a topic, with the events.
    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()>;

    // --- identity ----------------------------------------------------------------
    /// The person's PSID for the Page, created on first contact; exactly one ever.
    async fn psid(&self, person: PersonId, page: &PageId) -> StoreResult<Psid>;
    async fn person_by_psid(&self, page: &PageId, psid: &str) -> StoreResult<Option<PersonId>>;
    /// The person's app-scoped id for the app, created on first use.
    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid>;

    // --- threads and messages (each with its outbox rows) ---------------------
    /// Stores a message and the webhook events it causes. An inbound message also
    /// marks the person's last interaction with the Page.
    async fn append_message(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()>;
    /// Moves a thread's delivery or read watermark forward and stores the events it
    /// causes; false (and nothing stored) when the watermark would not advance.
    async fn advance_receipt(
        &self,
        page: &PageId,
        person: PersonId,
        receipt: Receipt,
        watermark: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool>;
    async fn thread_state(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadState>>;
    /// The Page has seen the person's messages up to `watermark` (it only moves forward).
    async fn mark_seen(&self, page: &PageId, person: PersonId, watermark: Millis) -> StoreResult<()>;
    /// One message by its `mid`.
    async fn message(&self, mid: &Mid) -> StoreResult<Option<Message>>;
    /// The thread's latest `limit` messages stored before the message `before` (the
    /// latest of all when `None`), oldest first. Messages are ordered by time, then by
    /// the order they were stored in, so a message id is a cursor without gaps even
    /// when many messages share a millisecond. None when `before` is not a message of
    /// the thread.
    async fn thread_messages(
        &self,
        page: &PageId,
        person: PersonId,
        before: Option<&Mid>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// The person's threads, most recent first.
    async fn threads_of(&self, person: PersonId) -> StoreResult<Vec<ThreadSummary>>;
    /// How many persons wrote to the Page since `since` (its engaged people).
    async fn engaged_persons(&self, page: &PageId, since: Millis) -> StoreResult<u64>;

    /// The Page's threads, most recent first (by last message, then person), after
    /// the cursor `after` (the last thread of the previous page), if any.
    async fn page_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>>;
    /// One of the Page's threads, as `page_threads` lists it.
    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>>;
    /// Sets (or with `None` removes) one side's reaction to a message of the thread,
    /// with its events; a person's reaction is an interaction (it opens the window).
    /// False (nothing stored) when the message is not in the thread.
    #[allow(clippy::too_many_arguments)]
    async fn react(
        &self,
        page: &PageId,
        person: PersonId,
        mid: &Mid,
        by: Direction,
        emoji: Option<String>,
        at: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool>;

    // --- media, profiles, personas ------------------------------------------------
    async fn insert_attachment(&self, attachment: AttachmentRecord) -> StoreResult<()>;
    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>>;
    /// The media type stored with these bytes, if any attachment holds them.
    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>>;
    /// The Page's Messenger Profile: (property, JSON text), by property name.
    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, String)>>;
    /// Sets the properties given and removes those named in `remove`, in one transaction.
    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, String)>, remove: Vec<String>, at: Millis) -> StoreResult<()>;
    async fn create_persona(&self, persona: Persona) -> StoreResult<()>;
    /// A persona that was not deleted.
    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>>;
    /// The Page's personas, oldest first.
    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>>;
    /// False when there was no such persona left to delete.
    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool>;
    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>>;
    async fn set_person_profile(&self, person: PersonId, profile: PersonProfile) -> StoreResult<()>;

    // --- listings (the console, Page search) ---------------------------------------
    /// Apps the person holds a role on, with the role; with `None`, every app. By name.
    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>>;
    /// The persons holding a role on the app, by name.
    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>>;
    /// Pages the person administers; with `None`, every Page. By name.
    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>>;
    async fn page_admins(&self, page: &PageId) -> StoreResult<Vec<Person>>;
    /// Pages whose name or username contains `text` (case-insensitive), by name.
    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>>;
    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>>;
    /// The app's deliveries in `[from, to)` by buckets of `bucket_ms` (only buckets
    /// with something in them), oldest first.
    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>>;

    // --- the webhook outbox ----------------------------------------------------
    /// Leases up to `limit` due events until `lease_until`. Only the oldest
    /// undelivered event of each (app, thread) is ever handed out, so a thread's
    /// events reach an app in order.
    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// Marks the events delivered at `at` (their threads' next events become due) and
    /// the apps' endpoints healthy.
    async fn outbox_delivered(&self, ids: &[i64], at: Millis) -> StoreResult<()> {
        self.outbox_delivered_then_claim(ids, at, None).await.map(drop)
    }
    /// As `outbox_delivered`; with `lease_until`, also leases the same threads' next
    /// events that are due at `at`, in the same transaction, and answers them: the
    /// dispatcher sends a thread's next event as soon as the previous one is
    /// acknowledged, without another claim.
    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, lease_until: Option<Millis>) -> StoreResult<Vec<OutboxEvent>>;
    /// Logs a failed POST, reschedules or gives up each of its events, and marks the
    /// app's endpoint failing (since the first failure after a success).
    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()>;
    /// Moves the app's endpoint to the next alert stage when it has been failing long
    /// enough: `Failing` after `alert_after`, `Disabled` after `disable_after` (the app
    /// is unsubscribed from the Pages of its pending events, which are given up). Each
    /// stage is entered once per failing spell, whichever nodes race for it.
    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis) -> StoreResult<Option<Alert>>;
    /// The app's latest failed attempts, newest first.
    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>>;
    /// One event of the app, with its failed attempts (oldest first).
    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>>;
    /// The app's events in a time range (by creation), newest first.
    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>>;
    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth>;
    /// The app's alerts, newest first.
    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>>;
    /// Sends events of the app again, due at `now`, keeping their bytes; answers the
    /// ids of the events queued (a settled event is queued as a new one at the end of
    /// its thread). Unknown ids answer nothing.
    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>>;
    /// Deletes delivered events settled before `delivered_before`, dead ones settled
    /// before `dead_before`, and failed attempts older than `dead_before`; answers the
    /// number of events deleted.
    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64>;
    /// When the next event can be claimed: the earliest time at which the oldest
    /// pending event of some thread is due and unleased. Events waiting behind an
    /// earlier one of their thread do not count (else a dispatcher would spin while
    /// a thread's head keeps failing).
    async fn outbox_next_due(&self) -> StoreResult<Option<Millis>>;
    /// Moves every lease still running at `now` forward by `by`: when a virtual clock
    /// jumps, POSTs in flight keep their claims (a lease stands for real time).
    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()>;
    /// Undelivered events.
    async fn outbox_pending(&self) -> StoreResult<u64>;
    /// Undelivered events per app (each app has one callback URL), by app id.
    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>>;
}
