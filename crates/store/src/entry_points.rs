//! Entry points and account linking: thread events that are not messages (a plugin's
//! opt-in, a referral, linking and unlinking), the persons the checkbox plugin made
//! known to a Page by the site's `user_ref` (one message each), account-linking
//! tokens (digests only, spent once) and the threads whose person linked an account.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// A person who ticked a Page's checkbox plugin on a business's site, known to the
/// Page's apps only by the `user_ref` the site generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub page: PageId,
    pub user_ref: String,
    /// The app whose plugin it was.
    pub app: AppId,
    pub person: PersonId,
    /// The plugin's pass-through `ref`.
    pub reference: Option<String>,
    pub created_at: Millis,
    /// The one message must be sent before this.
    pub expires_at: Millis,
    /// The one message, once sent.
    pub spent_mid: Option<Mid>,
}

/// What became of a checkbox opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRefAdded {
    Added,
    /// The Page knows this `user_ref` already (the site must make a new one per form).
    AlreadyKnown,
    /// The person holds as many live `user_ref`s of the Page as allowed.
    TooMany,
}

/// An account-linking attempt, started when the person taps an `account_link` button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkingToken {
    pub digest: String,
    pub page: PageId,
    pub person: PersonId,
    pub expires_at: Millis,
    /// When the site sent the person back (linked or not): a token ends once.
    pub spent_at: Option<Millis>,
}

/// What the site's redirect said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkingOutcome {
    /// With an `authorization_code`: the thread is linked.
    Linked,
    /// Without one: nothing changes.
    Cancelled,
}

/// A thread event that is not a message: where it happens, whether it is an
/// interaction of the person's (it opens the standard messaging window), and which
/// app a thread it creates goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadEvent {
    pub page: PageId,
    pub person: PersonId,
    pub at: Millis,
    pub interaction: bool,
    /// Owner of the thread if this event creates it (the Handover Protocol's routing).
    pub opens_to: Option<AppId>,
}

#[async_trait]
pub trait EntryPointStore: Send + Sync + 'static {
    /// Stores the events of a thread event, creating the thread if it is new and,
    /// for an interaction, marking the person's last interaction with the Page. The
    /// events reach whom the thread's owner decides.
    async fn record_thread_event(&self, event: ThreadEvent, events: Vec<NewOutboxEvent>) -> StoreResult<()>;
    /// Stores a checkbox opt-in with its events, first forgetting the person's
    /// expired ones for the Page; nothing is stored when the Page already knows that
    /// `user_ref`, or when the person already holds `max_live` of the Page's
    /// (under races the bound may be passed by the racers).
    async fn add_user_ref(&self, user_ref: UserRef, max_live: u32, events: Vec<NewOutboxEvent>) -> StoreResult<UserRefAdded>;
    async fn user_ref(&self, page: &PageId, user_ref: &str) -> StoreResult<Option<UserRef>>;
    /// Stores the message sent by `user_ref` with its events, spending the ref in
    /// the same transaction: false (nothing stored) unless it is unspent and
    /// unexpired at the message's time. Whichever sends race, one wins.
    async fn send_with_user_ref(&self, user_ref: &str, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// Stores an account-linking token in place of the person's earlier ones for the
    /// Page: the latest tap is the one that counts.
    async fn add_linking_token(&self, token: LinkingToken) -> StoreResult<()>;
    async fn linking_token(&self, digest: &str) -> StoreResult<Option<LinkingToken>>;
    /// Ends an account-linking attempt at `at`: spends the token and, when
    /// `Linked`, links the thread, with the events, in one transaction. None
    /// (nothing stored) when the token is unknown, spent or expired; else the token.
    async fn finish_linking(&self, digest: &str, outcome: LinkingOutcome, at: Millis, events: Vec<NewOutboxEvent>) -> StoreResult<Option<LinkingToken>>;
    /// Unlinks the thread, with the events; false (nothing stored) when it was not linked.
    async fn unlink_account(&self, page: &PageId, person: PersonId, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    async fn account_linked(&self, page: &PageId, person: PersonId) -> StoreResult<bool>;
}
