//! Threads and their messages, each written with its outbox rows: messages, receipts,
//! the Page's seen mark, reactions, the person's edits and ratings, and the lists of
//! threads.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::messages::Feedback;
use switchboard_domain::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

/// One of a Page's threads, as the Conversations API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageThread {
    pub person: PersonId,
    pub last_message_at: Millis,
    pub message_count: u64,
}

/// One side's reaction to a message of the (Page, person) thread (`emoji` `None`:
/// taken back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub page: PageId,
    pub person: PersonId,
    pub mid: Mid,
    pub by: Direction,
    pub emoji: Option<String>,
    pub at: Millis,
}

/// The person's new text for a message of theirs in the (Page, person) thread, as
/// its edit number `num_edit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub page: PageId,
    pub person: PersonId,
    pub mid: Mid,
    pub text: String,
    pub num_edit: u32,
}

/// The person's rating of a Page message of the (Page, person) thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub page: PageId,
    pub person: PersonId,
    pub mid: Mid,
    pub feedback: Feedback,
}

#[async_trait]
pub trait ThreadStore: Send + Sync + 'static {
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
    async fn react(&self, reaction: Reaction, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// Stores the person's new text for a message of theirs, with its events, only if
    /// the message is still at edit `num_edit - 1`: of two edits racing, one becomes
    /// edit N and the other stores nothing. False (nothing stored) when the message is
    /// not the person's in the thread or was edited meanwhile.
    async fn edit_message(&self, edit: Edit, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// Sets the person's rating of a Page message of the thread (replacing the last),
    /// with its events. False (nothing stored) when the message is not a Page message
    /// of the thread.
    async fn rate_message(&self, rating: Rating, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
}
