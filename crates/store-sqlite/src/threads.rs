//! Threads and their messages in SQLite: the `threads` table (last interaction,
//! receipts' watermarks, the Page's seen mark) and the `messages` table (content,
//! reactions, the person's edits and ratings), each write stored with its outbox rows. Opt-ins send messages too,
//! through [`append_message`].

use crate::columns::{cached, prepare, q, Query};
use crate::outbox::{insert_outbox, insert_reaching};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::sync::LazyLock;
use switchboard_domain::*;
use switchboard_domain::insights;
use switchboard_store::codec::{self, Columns, MESSAGE_COLUMNS, MESSAGE_COLUMNS_OF_M, PAGE_THREAD_COLUMNS};
use switchboard_store::*;

/// Stores a message and its outbox rows; an inbound message also marks the person's
/// last interaction. The thread is created (owned by the app the message opens it
/// to) or moved on in one statement, which answers its owner: an app's message to a
/// thread another app owns is refused, and the events reach whom the owner decides.
/// The same statement keeps the thread's first message and the Page's first answer,
/// and brings a Done thread back to the inbox when the person writes.
pub(crate) fn append_message(c: &Connection, m: &Message, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let last_person_at = (m.direction == Direction::Inbound).then_some(m.created_at);
    let answered_at = (m.direction == Direction::Outbound).then_some(m.created_at);
    let owner = match move_thread_on(c, m, last_person_at, answered_at)? {
        Some(owner) => owner,
        None => cached(
            c,
            "INSERT INTO threads (page_id, person_id, last_message_at, last_person_at, owner_app_id, owner_since, first_message_at, page_answered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NULL THEN NULL ELSE ?3 END, ?3, ?6)
             ON CONFLICT (page_id, person_id) DO UPDATE SET
                last_message_at = MAX(last_message_at, excluded.last_message_at),
                last_person_at = COALESCE(MAX(last_person_at, excluded.last_person_at), excluded.last_person_at, last_person_at),
                first_message_at = COALESCE(first_message_at, excluded.first_message_at),
                page_answered_at = COALESCE(page_answered_at, excluded.page_answered_at),
                folder = CASE WHEN excluded.last_person_at IS NOT NULL AND folder = 'page_done' THEN 'inbox' ELSE folder END
             RETURNING owner_app_id, blocked_at",
        )?
        .one(params![m.page.as_str(), m.person.0, m.created_at, last_person_at, m.opens_to.as_ref().map(|a| a.as_str()), answered_at], |r| {
            Ok((r.opt_text("owner_app_id")?, r.opt_int("blocked_at")?))
        })?,
    };
    if owner.1.is_some() {
        return Err(StoreError::Conflict(Conflict::Blocked));
    }
    let owner = owner.0.map(AppId);
    if let (Direction::Outbound, Some(app), Some(owner)) = (m.direction, &m.app, &owner) {
        if app != owner {
            return Err(StoreError::Conflict(Conflict::ThreadOwnedBy(owner.clone())));
        }
    }
    q(cached(
        c,
        "INSERT INTO messages (mid, page_id, person_id, direction, app_id, text, metadata, created_at, attachment,
            quick_replies, reply_to, persona_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        m.mid.as_str(),
        m.page.as_str(),
        m.person.0,
        codec::text(m.direction),
        m.app.as_ref().map(|a| a.as_str()),
        m.text,
        m.metadata,
        m.created_at,
        codec::attachment_text(m),
        codec::quick_replies_text(m),
        m.reply_to.as_ref().map(|mid| mid.as_str()),
        m.persona
    ]))?;
    insert_reaching(c, events.iter().filter(|e| e.reaches(owner.as_ref())))
}

/// Moves on a thread that already has its first message, the way most messages go:
/// answers its owner and when it was blocked, or `None` for a thread that is new or
/// has no message yet (`append_message`'s upsert creates or starts it). An upsert
/// rewrites the index entry of every column its update sets, even to the same value,
/// so the first-message index was written for every message: one more page per
/// message on a load spread over many threads (ANALYSIS.md). A blocked thread is
/// left as it is.
fn move_thread_on(c: &Connection, m: &Message, last_person_at: Option<Millis>, answered_at: Option<Millis>) -> StoreResult<Option<(Option<String>, Option<i64>)>> {
    let started = cached(c, "SELECT owner_app_id, blocked_at FROM threads WHERE page_id = ?1 AND person_id = ?2 AND first_message_at IS NOT NULL")?
        .optional(params![m.page.as_str(), m.person.0], |r| Ok((r.opt_text("owner_app_id")?, r.opt_int("blocked_at")?)))?;
    if let Some((_, None)) = &started {
        q(cached(
            c,
            "UPDATE threads SET
                last_message_at = MAX(last_message_at, ?3),
                last_person_at = COALESCE(MAX(last_person_at, ?4), ?4, last_person_at),
                page_answered_at = COALESCE(page_answered_at, ?5),
                folder = CASE WHEN ?4 IS NOT NULL AND folder = 'page_done' THEN 'inbox' ELSE folder END
             WHERE page_id = ?1 AND person_id = ?2",
        )?
        .execute(params![m.page.as_str(), m.person.0, m.created_at, last_person_at, answered_at]))?;
    }
    Ok(started)
}

/// Inserts the (Page, person) thread if it is new.
fn ensure_thread(c: &Connection, page: &PageId, person: PersonId, at: Millis) -> StoreResult<()> {
    q(cached(c, "INSERT OR IGNORE INTO threads (page_id, person_id, last_message_at) VALUES (?1, ?2, ?3)")?.execute(params![page.as_str(), person.0, at]))?;
    Ok(())
}

static MESSAGE: LazyLock<String> = LazyLock::new(|| format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE mid = ?1"));

pub(crate) static LAST_MESSAGE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE page_id = ?1 AND person_id = ?2 ORDER BY created_at DESC, seq DESC LIMIT 1")
});

static LATEST_MESSAGES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT * FROM (SELECT {MESSAGE_COLUMNS_OF_M}, m.seq FROM messages m WHERE m.page_id = ?1 AND m.person_id = ?2
            ORDER BY m.created_at DESC, m.seq DESC LIMIT ?3) ORDER BY created_at, seq"
    )
});

/// Before the cursor's (created_at, seq): unique, in storing order.
static MESSAGES_BEFORE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT * FROM (SELECT {MESSAGE_COLUMNS_OF_M}, m.seq FROM messages m
            JOIN messages c ON c.mid = ?3 AND c.page_id = ?1 AND c.person_id = ?2
            WHERE m.page_id = ?1 AND m.person_id = ?2 AND m.created_at <= c.created_at
                AND (m.created_at < c.created_at OR m.seq < c.seq)
            ORDER BY m.created_at DESC, m.seq DESC LIMIT ?4) ORDER BY created_at, seq"
    )
});

/// A Page's threads after the keyset cursor (`?2` last message, `?3` person), for
/// [`PAGE_THREADS_RECENT_FIRST`]. The index orders them by `active_minute`, the
/// minute of their last message (migration 0018): bounding it keeps the scan a
/// range of the index.
pub(crate) const PAGE_THREADS_AFTER: &str = "t.page_id = ?1 AND t.active_minute <= ?2 / 60000 AND (t.last_message_at, t.person_id) < (?2, ?3)";
/// Most recent first: by the indexed minute, then within it by the exact time
/// (the same order as by `last_message_at` alone).
pub(crate) const PAGE_THREADS_RECENT_FIRST: &str = "ORDER BY t.active_minute DESC, t.last_message_at DESC, t.person_id DESC";

static PAGE_THREADS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {PAGE_THREAD_COLUMNS} FROM threads t
         WHERE {PAGE_THREADS_AFTER}
            AND (?5 IS NULL OR t.folder = ?5) AND (?6 IS NULL OR (t.page_answered_at IS NOT NULL) = ?6)
         {PAGE_THREADS_RECENT_FIRST} LIMIT ?4"
    )
});

static PAGE_THREAD: LazyLock<String> = LazyLock::new(|| format!("SELECT {PAGE_THREAD_COLUMNS} FROM threads t WHERE t.page_id = ?1 AND t.person_id = ?2"));

/// `DayInsights::assemble`'s rows: counts before the range (day -1) and per day in
/// it, each bounded by an index of the Page's threads.
const MESSAGING_INSIGHTS: &str = "
    SELECT 'started' AS kind, -1 AS day, COUNT(*) AS n FROM threads WHERE page_id = ?1 AND first_message_at < ?2
    UNION ALL SELECT 'lost', -1, COUNT(*) FROM threads WHERE page_id = ?1 AND blocked_at < ?2 AND first_message_at IS NOT NULL
    UNION ALL SELECT 'started', (first_message_at - ?2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = ?1 AND first_message_at >= ?2 AND first_message_at < ?3 GROUP BY day
    UNION ALL SELECT 'lost', (blocked_at - ?2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = ?1 AND blocked_at >= ?2 AND blocked_at < ?3 AND first_message_at IS NOT NULL GROUP BY day
    UNION ALL SELECT 'blocked', (blocked_at - ?2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = ?1 AND blocked_at >= ?2 AND blocked_at < ?3 GROUP BY day
    UNION ALL SELECT 'reported', (reported_at - ?2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = ?1 AND reported_at >= ?2 AND reported_at < ?3 GROUP BY day";

#[async_trait]
impl ThreadStore for SqliteStore {
    async fn append_message(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        self.engine.write(move |c| append_message(c, &message, &events)).await
    }

    async fn advance_receipt(
        &self,
        page: &PageId,
        person: PersonId,
        receipt: Receipt,
        watermark: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                ensure_thread(c, &page, person, watermark)?;
                let column = match receipt {
                    Receipt::Delivered => "delivered_watermark",
                    Receipt::Read => "read_watermark",
                };
                // Reading implies delivery: a read watermark lifts both.
                let also = if receipt == Receipt::Read { ", delivered_watermark = MAX(delivered_watermark, ?3)" } else { "" };
                let sql = format!("UPDATE threads SET {column} = ?3{also} WHERE page_id = ?1 AND person_id = ?2 AND {column} < ?3 AND blocked_at IS NULL");
                let advanced = q(c.execute(&sql, params![page.as_str(), person.0, watermark]))? == 1;
                if advanced {
                    insert_outbox(c, &events)?;
                }
                Ok(advanced)
            })
            .await
    }

    async fn thread_state(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadState>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    "SELECT last_person_at, delivered_watermark, read_watermark, page_seen_watermark, blocked_at, hidden_before, reported_at
                     FROM threads WHERE page_id = ?1 AND person_id = ?2",
                )?
                .optional(params![page.as_str(), person.0], |r| codec::thread_state(r))
            })
            .await
    }

    async fn mark_seen(&self, page: &PageId, person: PersonId, watermark: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                q(c.execute(
                    "UPDATE threads SET page_seen_watermark = MAX(page_seen_watermark, ?3) WHERE page_id = ?1 AND person_id = ?2",
                    params![page.as_str(), person.0, watermark],
                ))?;
                Ok(())
            })
            .await
    }

    async fn message(&self, mid: &Mid) -> StoreResult<Option<Message>> {
        let mid = mid.clone();
        self.engine.read(move |c| prepare(c, &MESSAGE)?.optional([mid.as_str()], |r| codec::message(r))).await
    }

    async fn thread_messages(&self, page: &PageId, person: PersonId, before: Option<&Mid>, limit: u32) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        let before = before.map(|mid| mid.0.clone());
        self.engine
            .read(move |c| match before {
                None => cached(c, &LATEST_MESSAGES)?.all(params![page.as_str(), person.0, limit], |r| codec::message(r)),
                Some(mid) => cached(c, &MESSAGES_BEFORE)?.all(params![page.as_str(), person.0, mid, limit], |r| codec::message(r)),
            })
            .await
    }

    async fn threads_of(&self, person: PersonId) -> StoreResult<Vec<ThreadSummary>> {
        self.engine
            .read(move |c| {
                let threads = prepare(
                    c,
                    "SELECT p.id, p.name, p.username, t.read_watermark,
                        (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                            AND m.direction = ?2 AND m.created_at > t.read_watermark AND m.created_at > COALESCE(t.hidden_before, 0)) AS unread
                     FROM threads t JOIN pages p ON p.id = t.page_id
                     WHERE t.person_id = ?1 AND t.blocked_at IS NULL AND (t.hidden_before IS NULL OR t.last_message_at > t.hidden_before)
                     ORDER BY t.last_message_at DESC",
                )?
                .all(params![person.0, codec::text(Direction::Outbound)], |r| Ok((codec::page(r)?, r.count("unread")?)))?;
                let mut last = prepare(c, &LAST_MESSAGE)?;
                threads
                    .into_iter()
                    .map(|(page, unread)| {
                        let last_message = last.optional(params![page.id.as_str(), person.0], |r| codec::message(r))?;
                        Ok(ThreadSummary { page, last_message, unread })
                    })
                    .collect()
            })
            .await
    }

    async fn engaged_persons(&self, page: &PageId, since: Millis) -> StoreResult<u64> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT COUNT(*) AS engaged FROM threads WHERE page_id = ?1 AND last_person_at >= ?2")?
                    .one(params![page.as_str(), since], |r| r.total("engaged"))
            })
            .await
    }

    async fn page_threads(&self, page: &PageId, folder: Option<FolderFilter>, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
        let page = page.clone();
        let (folder, answered) = match folder.map(FolderFilter::stored) {
            Some((folder, answered)) => (Some(codec::text(folder)), answered),
            None => (None, None),
        };
        self.engine
            .read(move |c| {
                cached(c, &PAGE_THREADS)?.all(
                    params![page.as_str(), after.map_or(i64::MAX, |a| a.0), after.map_or(i64::MAX, |a| a.1 .0), limit, folder, answered],
                    |r| codec::page_thread(r),
                )
            })
            .await
    }

    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
        let page = page.clone();
        self.engine.read(move |c| prepare(c, &PAGE_THREAD)?.optional(params![page.as_str(), person.0], |r| codec::page_thread(r))).await
    }

    async fn set_folder(&self, page: &PageId, person: PersonId, folder: Folder) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                let sql = "UPDATE threads SET folder = ?3 WHERE page_id = ?1 AND person_id = ?2";
                Ok(q(c.execute(sql, params![page.as_str(), person.0, codec::text(folder)]))? == 1)
            })
            .await
    }

    async fn messaging_insights(&self, page: &PageId, first_day: Millis, days: u32) -> StoreResult<Vec<DayInsights>> {
        let page = page.clone();
        let end = first_day + i64::from(days) * insights::DAY_MS;
        let rows = self
            .engine
            .read(move |c| {
                cached(c, MESSAGING_INSIGHTS)?.all(params![page.as_str(), first_day, end], |r| Ok((r.text("kind")?, r.int("day")?, r.total("n")?)))
            })
            .await?;
        DayInsights::assemble(rows, days)
    }

    async fn react(&self, reaction: Reaction, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Reaction { page, person, mid, by, emoji, at } = reaction;
        self.engine
            .write(move |c| {
                let column = match by {
                    Direction::Inbound => "person_reaction",
                    Direction::Outbound => "page_reaction",
                };
                let changed = q(c.execute(
                    &format!("UPDATE messages SET {column} = ?4 WHERE mid = ?1 AND page_id = ?2 AND person_id = ?3"),
                    params![mid.as_str(), page.as_str(), person.0, emoji],
                ))?;
                if changed == 0 {
                    return Ok(false);
                }
                if by == Direction::Inbound {
                    q(c.execute(
                        "UPDATE threads SET last_person_at = MAX(COALESCE(last_person_at, ?3), ?3) WHERE page_id = ?1 AND person_id = ?2",
                        params![page.as_str(), person.0, at],
                    ))?;
                }
                insert_outbox(c, &events)?;
                Ok(true)
            })
            .await
    }

    async fn edit_message(&self, edit: Edit, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Edit { page, person, mid, text, num_edit } = edit;
        self.engine
            .write(move |c| {
                // From the count the author saw only: a racing edit finds it moved on.
                let changed = q(cached(
                    c,
                    "UPDATE messages SET text = ?4, edit_count = ?5
                     WHERE mid = ?1 AND page_id = ?2 AND person_id = ?3 AND direction = ?6 AND edit_count = ?5 - 1",
                )?
                .execute(params![mid.as_str(), page.as_str(), person.0, text, num_edit, codec::text(Direction::Inbound)]))?;
                if changed == 0 {
                    return Ok(false);
                }
                insert_outbox(c, &events)?;
                Ok(true)
            })
            .await
    }

    async fn rate_message(&self, rating: Rating, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Rating { page, person, mid, feedback } = rating;
        self.engine
            .write(move |c| {
                let changed = q(cached(c, "UPDATE messages SET feedback = ?4 WHERE mid = ?1 AND page_id = ?2 AND person_id = ?3 AND direction = ?5")?.execute(
                    params![mid.as_str(), page.as_str(), person.0, codec::text(feedback), codec::text(Direction::Outbound)],
                ))?;
                if changed == 0 {
                    return Ok(false);
                }
                insert_outbox(c, &events)?;
                Ok(true)
            })
            .await
    }
}
