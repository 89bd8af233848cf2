//! Privacy: a person's account erased in one transaction (with the callbacks it owes
//! apps and its audit record), conversations a person deleted or Pages they blocked,
//! the apps' privacy callbacks (claimed, answered, retried like webhooks), the audit
//! trail, and retention: how long a Page's messages are kept, pruned in batches.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::privacy::CallbackKind;
use switchboard_domain::*;

/// Where an app wants its privacy callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrivacyUrls {
    pub deauthorize_callback_url: Option<String>,
    pub data_deletion_url: Option<String>,
}

/// An app that knew a person: by their app-scoped id and by their PSIDs on the Pages
/// the app is subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBy {
    pub app: AppId,
    pub asid: Option<Asid>,
    pub psids: Vec<(PageId, Psid)>,
}

/// A callback owed to an app, stored until it is answered or given up. `payload` is
/// the `signed_request`'s JSON (signed when it is sent, with the secret of the day);
/// it is dropped once the callback settles, so that only the answer is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrivacyCallback {
    pub app: AppId,
    pub kind: CallbackKind,
    pub url: Option<String>,
    pub payload: String,
    pub created_at: Millis,
}

/// A privacy callback as the dispatcher claims it and the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyCallback {
    pub id: i64,
    pub app: AppId,
    pub kind: CallbackKind,
    pub url: Option<String>,
    pub payload: Option<String>,
    pub created_at: Millis,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub status_url: Option<String>,
    pub confirmation_code: Option<String>,
    pub settled_at: Option<Millis>,
    pub outcome: Option<CallbackOutcome>,
}

/// How a callback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Answered,
    /// Failing past the retry horizon, or the app has no URL for it.
    GivenUp,
}

impl CallbackOutcome {
    pub const ALL: [CallbackOutcome; 2] = [Self::Answered, Self::GivenUp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::GivenUp => "given_up",
        }
    }
}

/// What one attempt at a callback came to.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackAttempt {
    /// A 2xx (for a deletion request, with its status URL and confirmation code).
    Answered { status_url: Option<String>, confirmation_code: Option<String> },
    /// Try again at `next_attempt_at`.
    Failed { error: String, next_attempt_at: Millis },
    GivenUp { error: String },
}

/// A record of a privacy action, without the content it concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyRecord {
    pub at: Millis,
    /// Who did it: `person:17`, `operator`, `retention`.
    pub actor: String,
    /// `account_deleted`, `conversation_deleted`, `conversation_reported`, `page_blocked`, `page_unblocked`,
    /// `data_exported`, `app_removed`, `app_deauthorized`, `messages_pruned`.
    pub action: String,
    /// What it concerned: `person:17`, `page:…`, `app:…`.
    pub subject: String,
    /// Counts and ids, never content.
    pub detail: String,
}

/// What a change owes in privacy terms, stored in the change's own transaction: its
/// audit record and the callbacks it causes.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyTrail {
    pub record: PrivacyRecord,
    pub callbacks: Vec<NewPrivacyCallback>,
}

/// A person's account to erase, and what the erasure owes.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    pub person: PersonId,
    pub callbacks: Vec<NewPrivacyCallback>,
    pub record: PrivacyRecord,
}

/// What an erasure or a pruning freed: counts, and the media files that no record
/// names any more (the caller deletes them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Erased {
    pub messages: u64,
    pub attachments: u64,
    pub files: Vec<String>,
}

/// A Page a person blocked.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedPage {
    pub page: Page,
    pub blocked_at: Millis,
}

#[async_trait]
pub trait PrivacyStore: Send + Sync + 'static {
    async fn privacy_urls(&self, app: &AppId) -> StoreResult<PrivacyUrls>;
    async fn set_privacy_urls(&self, app: &AppId, urls: PrivacyUrls) -> StoreResult<()>;
    /// The apps that knew the person: those holding an app-scoped id of theirs, and
    /// those subscribed to a Page the person has a PSID on.
    async fn apps_knowing(&self, person: PersonId) -> StoreResult<Vec<KnownBy>>;
    /// Erases the person in one transaction: their account, sessions and tokens, roles,
    /// consent, PSIDs (each remembered only by its digest, so sends answer 551) and
    /// app-scoped ids, threads and every message of them, webhook events about them
    /// (pending or delivered) and their attempt links, opt-ins, `user_ref`s, linking
    /// tokens and links, their profile and phone, the attachment records of media
    /// they sent; with the callbacks and the audit record. `Conflict::LastPageAdmin`
    /// (nothing changed) when they are the last admin of a Page or app.
    async fn erase_person(&self, erasure: Erasure) -> StoreResult<Erased>;
    /// Whether the PSID was erased (by its digest).
    async fn psid_erased(&self, page: &PageId, psid_digest: &str) -> StoreResult<bool>;
    /// The person deleted the conversation: what was in it before `at` is gone for
    /// them (the Page keeps its copy). False when there is no thread.
    async fn hide_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool>;
    /// Blocks (`Some(at)`) or unblocks the Page for the person; while blocked, the
    /// store refuses the thread's messages both ways (`Conflict::Blocked`). False when
    /// nothing changed.
    async fn set_blocked(&self, page: &PageId, person: PersonId, blocked_at: Option<Millis>, record: PrivacyRecord) -> StoreResult<bool>;
    /// The person reports the conversation (its time kept, the latest report's, for
    /// the Page's insights), with its audit record. False when there is no thread.
    async fn report_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool>;
    async fn blocked_pages(&self, person: PersonId) -> StoreResult<Vec<BlockedPage>>;
    /// Every Page the person has a thread with, hidden and blocked ones too (for
    /// their export).
    async fn thread_pages_of(&self, person: PersonId) -> StoreResult<Vec<PageId>>;
    /// Stores an audit record and the callbacks it causes, in one transaction.
    async fn record_privacy(&self, record: PrivacyRecord, callbacks: Vec<NewPrivacyCallback>) -> StoreResult<()>;
    /// The audit trail, newest first, before the record `before` (an id) if given.
    async fn privacy_audit(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<(i64, PrivacyRecord)>>;
    /// Up to `limit` callbacks due at `now`, each leased until `lease_until`.
    async fn claim_privacy_callbacks(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<PrivacyCallback>>;
    /// Records an attempt; a settled callback loses its payload.
    async fn settle_privacy_callback(&self, id: i64, attempt: CallbackAttempt, at: Millis) -> StoreResult<()>;
    /// The app's callbacks, newest first.
    async fn privacy_callbacks(&self, app: &AppId, limit: u32) -> StoreResult<Vec<PrivacyCallback>>;
    /// The Page's own retention in days (`None`: the installation's).
    async fn set_page_retention(&self, page: &PageId, days: Option<u32>) -> StoreResult<()>;
    async fn page_retention(&self, page: &PageId) -> StoreResult<Option<u32>>;
    /// Every Page with its own retention, if it has one.
    async fn retentions(&self) -> StoreResult<Vec<(PageId, Option<u32>)>>;
    /// Deletes up to `batch` of the Page's messages created before `before`, with the
    /// attachment records they alone could name (a reusable one only once its reuse
    /// window closed before `before` as well) and the settled webhook events of its
    /// apps that old, in one short transaction.
    async fn prune_page(&self, page: &PageId, before: Millis, reuse_window_ms: Millis, batch: u32) -> StoreResult<Erased>;
}
