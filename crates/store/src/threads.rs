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
    /// The person's messages after the Page's seen mark.
    pub unread_count: u64,
    pub folder: Folder,
    /// Someone on the Page's side (a bot, an agent) has written in it.
    pub answered: bool,
    pub blocked: bool,
}

/// One UTC day of a Page's messaging insights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayInsights {
    /// Threads with a message, not blocked, at the day's end.
    pub connections: u64,
    /// Threads whose first message fell in the day.
    pub new_conversations: u64,
    /// Threads blocked in the day (and still blocked).
    pub blocked: u64,
    /// Threads whose person last reported them in the day.
    pub reported: u64,
}

impl DayInsights {
    /// Days from the rows both engines' one statement answers: `(kind, day, n)`,
    /// `day` -1 for the counts before the first day (`started`, `lost`: threads
    /// whose first message or whose block came before it), else the day's index.
    /// A thread's block always follows its first message (a blocked thread takes
    /// none), so connections are the started minus the lost, day by day.
    pub fn assemble(rows: Vec<(String, i64, u64)>, days: u32) -> StoreResult<Vec<DayInsights>> {
        let mut out = vec![DayInsights::default(); days as usize];
        let (mut started, mut lost) = (vec![0u64; days as usize], vec![0u64; days as usize]);
        let (mut base_started, mut base_lost) = (0u64, 0u64);
        for (kind, day, n) in rows {
            let at = usize::try_from(day).ok().filter(|d| *d < days as usize);
            match (kind.as_str(), at) {
                ("started", None) if day == -1 => base_started += n,
                ("lost", None) if day == -1 => base_lost += n,
                ("started", Some(d)) => {
                    started[d] += n;
                    out[d].new_conversations += n;
                }
                ("lost", Some(d)) => lost[d] += n,
                ("blocked", Some(d)) => out[d].blocked += n,
                ("reported", Some(d)) => out[d].reported += n,
                _ => return Err(StoreError::corrupt("insights", format!("{kind} {day}"))),
            }
        }
        let (mut total_started, mut total_lost) = (base_started, base_lost);
        for (d, day) in out.iter_mut().enumerate() {
            total_started += started[d];
            total_lost += lost[d];
            day.connections = total_started.saturating_sub(total_lost);
        }
        Ok(out)
    }
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
    /// the cursor `after` (the last thread of the previous page), if any; only those
    /// in `folder` when given.
    async fn page_threads(&self, page: &PageId, folder: Option<FolderFilter>, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>>;
    /// One of the Page's threads, as `page_threads` lists it.
    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>>;
    /// Files the thread in `folder`; false when there is no thread.
    async fn set_folder(&self, page: &PageId, person: PersonId, folder: Folder) -> StoreResult<bool>;
    /// The Page's messaging insights for `days` UTC days from `first_day` (a
    /// midnight), in one statement bounded by the range (`DayInsights::assemble`).
    async fn messaging_insights(&self, page: &PageId, first_day: Millis, days: u32) -> StoreResult<Vec<DayInsights>>;
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
