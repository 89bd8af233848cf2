//! The Handover Protocol's state: each app's receiver role on a Page, the Page's
//! routing rules for new threads, and who controls each thread, changed only if it
//! is still what the caller saw, with the events the change causes.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// A Page's rule for threads opened by a link with `reference` (`ref`): they go to
/// `app` instead of the primary receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    pub page: PageId,
    pub reference: String,
    pub app: AppId,
}

/// A change of a thread's control, made only if the thread is still controlled by
/// `from` (`None`: idle). `to` and `agent` are what it becomes; `from == to` changes
/// nothing but still checks, for events that go to the owner (a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlChange {
    pub page: PageId,
    pub person: PersonId,
    pub from: Option<AppId>,
    pub to: Option<AppId>,
    /// The person answering in the Page Inbox, while it controls the thread.
    pub agent: Option<PersonId>,
    pub at: Millis,
}

/// One of a Page's threads as its inbox lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxThread {
    pub person: PersonId,
    pub control: ThreadControlState,
    pub last_message_at: Millis,
    /// The person's messages after the Page's seen mark.
    pub unread: u64,
    pub folder: Folder,
    pub last_message: Option<Message>,
}

/// A Page whose inbox a person works in, with the threads waiting for an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    pub page: Page,
    /// The person's role (`None` for the operator, who sees every Page).
    pub role: Option<PageRole>,
    /// Threads the Page Inbox controls that no agent has taken.
    pub waiting: u64,
}

#[async_trait]
pub trait HandoverStore: Send + Sync + 'static {
    /// The apps installed on the Page with their receiver roles, by app id.
    async fn receivers(&self, page: &PageId) -> StoreResult<Vec<Receiver>>;
    /// Gives an installed app its role; a new primary receiver makes the previous one
    /// secondary. Stores the `app_roles` events with it. False (nothing stored) when
    /// the app is not installed on the Page.
    async fn set_receiver_role(&self, page: &PageId, app: &AppId, role: Option<ReceiverRole>, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    async fn routing_rules(&self, page: &PageId) -> StoreResult<Vec<RoutingRule>>;
    /// Creates or replaces the rule for its `ref`.
    async fn put_routing_rule(&self, rule: RoutingRule) -> StoreResult<()>;
    async fn delete_routing_rule(&self, page: &PageId, reference: &str) -> StoreResult<bool>;
    /// Who controls the thread; `None` when the thread does not exist yet.
    async fn thread_control(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadControlState>>;
    /// Applies the change if the thread is still controlled by `change.from` (a
    /// thread that does not exist yet is created controlled by `from`), with the
    /// events it causes, in one transaction. False (nothing stored) when another
    /// change came first.
    async fn change_control(&self, change: ControlChange, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// The Page's threads for its inbox, most recent first, after the cursor
    /// (`last_message_at`, person) of the previous page.
    async fn inbox_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<InboxThread>>;
    /// The Pages the person holds a role on (with `None`, every Page), by name.
    async fn inbox_pages(&self, person: Option<PersonId>) -> StoreResult<Vec<InboxPage>>;
}
