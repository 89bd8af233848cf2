//! Threads (`threads`) and their messages (`messages`), each written with its outbox
//! rows under the thread's row lock: messages (grouped by `batch`), receipts, the
//! Page's seen mark, reactions, the person's edits and ratings, and the lists of
//! threads a person or a Page has.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::outbox::insert_events_locked;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_domain::insights;
use switchboard_store::codec::{self, Columns, MESSAGE_COLUMNS, PAGE_THREAD_COLUMNS};
use switchboard_store::*;

/// A Page's threads after the keyset cursor (`$2` last message, `$3` person), for
/// [`PAGE_THREADS_RECENT_FIRST`]. The index orders them by `active_minute`, the
/// minute of their last message (migration 0017): bounding it keeps the scan a
/// range of the index.
pub(crate) const PAGE_THREADS_AFTER: &str =
    "t.page_id = $1 AND t.active_minute <= $2::bigint / 60000 AND (t.last_message_at, t.person_id) < ($2, $3)";
/// Most recent first: by the indexed minute, then within it by the exact time
/// (the same order as by `last_message_at` alone).
pub(crate) const PAGE_THREADS_RECENT_FIRST: &str = "ORDER BY t.active_minute DESC, t.last_message_at DESC, t.person_id DESC";

/// `DayInsights::assemble`'s rows: counts before the range (day -1) and per day in
/// it, each bounded by an index of the Page's threads.
const MESSAGING_INSIGHTS: &str = "
    SELECT 'started'::text AS kind, -1::bigint AS day, COUNT(*) AS n FROM threads WHERE page_id = $1 AND first_message_at < $2
    UNION ALL SELECT 'lost', -1, COUNT(*) FROM threads WHERE page_id = $1 AND blocked_at < $2 AND first_message_at IS NOT NULL
    UNION ALL SELECT 'started', (first_message_at - $2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = $1 AND first_message_at >= $2 AND first_message_at < $3 GROUP BY day
    UNION ALL SELECT 'lost', (blocked_at - $2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = $1 AND blocked_at >= $2 AND blocked_at < $3 AND first_message_at IS NOT NULL GROUP BY day
    UNION ALL SELECT 'blocked', (blocked_at - $2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = $1 AND blocked_at >= $2 AND blocked_at < $3 GROUP BY day
    UNION ALL SELECT 'reported', (reported_at - $2) / 86400000 AS day, COUNT(*) FROM threads
        WHERE page_id = $1 AND reported_at >= $2 AND reported_at < $3 GROUP BY day";

#[async_trait]
impl ThreadStore for PostgresStore {
    async fn append_message(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        self.appends.append(message, events).await
    }

    async fn advance_receipt(&self, page: &PageId, person: PersonId, receipt: Receipt, watermark: Millis, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO threads (page_id, person_id, last_message_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&page.0, &person.0, &watermark],
        )
        .await
        .map_err(pg)?;
        let sql = match receipt {
            Receipt::Delivered => "UPDATE threads SET delivered_watermark = $3 WHERE page_id = $1 AND person_id = $2 AND delivered_watermark < $3 AND blocked_at IS NULL",
            // Reading implies delivery.
            Receipt::Read => {
                "UPDATE threads SET read_watermark = $3, delivered_watermark = GREATEST(delivered_watermark, $3)
                 WHERE page_id = $1 AND person_id = $2 AND read_watermark < $3 AND blocked_at IS NULL"
            }
        };
        // The UPDATE holds the thread's row lock: outbox writers of a thread serialize on it.
        let advanced = tx.execute(sql, &[&page.0, &person.0, &watermark]).await.map_err(pg)? == 1;
        if advanced {
            insert_events_locked(&tx, &events).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(advanced)
    }

    async fn thread_state(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadState>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT last_person_at, delivered_watermark, read_watermark, page_seen_watermark, blocked_at, hidden_before, reported_at
                 FROM threads WHERE page_id = $1 AND person_id = $2",
                &[&page.0, &person.0],
            )
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::thread_state(&PgRow(r))).transpose()
    }

    async fn mark_seen(&self, page: &PageId, person: PersonId, watermark: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE threads SET page_seen_watermark = GREATEST(page_seen_watermark, $3) WHERE page_id = $1 AND person_id = $2",
                &[&page.0, &person.0, &watermark],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn message(&self, mid: &Mid) -> StoreResult<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE mid = $1");
        let row = self.client().await?.query_opt(&sql, &[&mid.0]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::message(&PgRow(r))).transpose()
    }

    async fn thread_messages(&self, page: &PageId, person: PersonId, before: Option<&Mid>, limit: u32) -> StoreResult<Vec<Message>> {
        // Without a cursor: the latest messages; else those before the cursor's
        // (created_at, seq), which is unique and follows storing order.
        let sql = match before {
            None => format!(
                "SELECT * FROM (
                    SELECT {MESSAGE_COLUMNS}, seq FROM messages
                    WHERE page_id = $1 AND person_id = $2
                    ORDER BY created_at DESC, seq DESC LIMIT $3
                 ) newest ORDER BY created_at, seq"
            ),
            Some(_) => format!(
                "SELECT * FROM (
                    SELECT {MESSAGE_COLUMNS}, seq FROM messages
                    WHERE page_id = $1 AND person_id = $2
                        AND (created_at, seq) < (SELECT created_at, seq FROM messages WHERE mid = $4 AND page_id = $1 AND person_id = $2)
                    ORDER BY created_at DESC, seq DESC LIMIT $3
                 ) newest ORDER BY created_at, seq"
            ),
        };
        let client = self.client().await?;
        let limit = limit as i64;
        let rows = match before {
            None => client.query(&sql, &[&page.0, &person.0, &limit]).await,
            Some(mid) => client.query(&sql, &[&page.0, &person.0, &limit, &mid.0]).await,
        }
        .map_err(pg)?;
        rows.iter().map(|r| codec::message(&PgRow(r))).collect()
    }

    async fn threads_of(&self, person: PersonId) -> StoreResult<Vec<ThreadSummary>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.id, p.name, p.username,
                    (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                        AND m.direction = $2 AND m.created_at > t.read_watermark AND m.created_at > COALESCE(t.hidden_before, 0)) AS unread
                 FROM threads t JOIN pages p ON p.id = t.page_id
                 WHERE t.person_id = $1 AND t.blocked_at IS NULL AND (t.hidden_before IS NULL OR t.last_message_at > t.hidden_before)
                 ORDER BY t.last_message_at DESC",
                &[&person.0, &codec::text(Direction::Outbound)],
            )
            .await
            .map_err(pg)?;
        let last_sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE page_id = $1 AND person_id = $2 ORDER BY created_at DESC, seq DESC LIMIT 1");
        let mut threads = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = PgRow(row);
            let page = codec::page(&row)?;
            let last = client.query_opt(&last_sql, &[&page.id.0, &person.0]).await.map_err(pg)?;
            let last_message = last.as_ref().map(|r| codec::message(&PgRow(r))).transpose()?;
            threads.push(ThreadSummary { last_message, unread: row.count("unread")?, page });
        }
        Ok(threads)
    }

    async fn engaged_persons(&self, page: &PageId, since: Millis) -> StoreResult<u64> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) AS engaged FROM threads WHERE page_id = $1 AND last_person_at >= $2", &[&page.0, &since])
            .await
            .map_err(pg)?;
        PgRow(&row).total("engaged")
    }

    async fn page_threads(&self, page: &PageId, folder: Option<FolderFilter>, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
        let (folder, answered) = match folder.map(FolderFilter::stored) {
            Some((folder, answered)) => (Some(codec::text(folder)), answered),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {PAGE_THREAD_COLUMNS} FROM threads t
             WHERE {PAGE_THREADS_AFTER}
                AND ($5::text IS NULL OR t.folder = $5) AND ($6::bool IS NULL OR (t.page_answered_at IS NOT NULL) = $6)
             {PAGE_THREADS_RECENT_FIRST} LIMIT $4"
        );
        let rows = self
            .client()
            .await?
            .query(&sql, &[&page.0, &after.map_or(i64::MAX, |a| a.0), &after.map_or(i64::MAX, |a| a.1 .0), &(limit as i64), &folder, &answered])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page_thread(&PgRow(r))).collect()
    }

    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
        let sql = format!("SELECT {PAGE_THREAD_COLUMNS} FROM threads t WHERE t.page_id = $1 AND t.person_id = $2");
        let row = self.client().await?.query_opt(&sql, &[&page.0, &person.0]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::page_thread(&PgRow(r))).transpose()
    }

    async fn set_folder(&self, page: &PageId, person: PersonId, folder: Folder) -> StoreResult<bool> {
        let sql = "UPDATE threads SET folder = $3 WHERE page_id = $1 AND person_id = $2";
        Ok(self.client().await?.execute(sql, &[&page.0, &person.0, &codec::text(folder)]).await.map_err(pg)? == 1)
    }

    async fn messaging_insights(&self, page: &PageId, first_day: Millis, days: u32) -> StoreResult<Vec<DayInsights>> {
        let end = first_day + i64::from(days) * insights::DAY_MS;
        let rows = self.client().await?.query(MESSAGING_INSIGHTS, &[&page.0, &first_day, &end]).await.map_err(pg)?;
        let rows = rows
            .iter()
            .map(|r| {
                let r = PgRow(r);
                Ok((r.text("kind")?, r.int("day")?, r.total("n")?))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        DayInsights::assemble(rows, days)
    }

    async fn react(&self, reaction: Reaction, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Reaction { page, person, mid, by, emoji, at } = reaction;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The thread's row lock first, as every writer of its outbox events takes it.
        let thread = tx
            .query_opt(
                "UPDATE threads SET last_person_at = CASE WHEN $3 THEN GREATEST(COALESCE(last_person_at, $4), $4) ELSE last_person_at END
                 WHERE page_id = $1 AND person_id = $2 RETURNING 1",
                &[&page.0, &person.0, &(by == Direction::Inbound), &at],
            )
            .await
            .map_err(pg)?;
        let sql = match by {
            Direction::Inbound => "UPDATE messages SET person_reaction = $4 WHERE mid = $1 AND page_id = $2 AND person_id = $3",
            Direction::Outbound => "UPDATE messages SET page_reaction = $4 WHERE mid = $1 AND page_id = $2 AND person_id = $3",
        };
        let changed = tx.execute(sql, &[&mid.0, &page.0, &person.0, &emoji]).await.map_err(pg)?;
        if thread.is_none() || changed == 0 {
            return Ok(false);
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn edit_message(&self, edit: Edit, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Edit { page, person, mid, text, num_edit } = edit;
        let num_edit = i32::try_from(num_edit).map_err(|_| StoreError::corrupt("edit_count", num_edit.to_string()))?;
        // Only from the count the author saw: a racing edit finds it moved on.
        let change = "UPDATE messages SET text = $4, edit_count = $5
                      WHERE mid = $1 AND page_id = $2 AND person_id = $3 AND direction = $6 AND edit_count = $5 - 1";
        let direction = codec::text(Direction::Inbound);
        self.change_message(&page, person, change, &[&mid.0, &page.0, &person.0, &text, &num_edit, &direction], &events).await
    }

    async fn rate_message(&self, rating: Rating, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let Rating { page, person, mid, feedback } = rating;
        let change = "UPDATE messages SET feedback = $4 WHERE mid = $1 AND page_id = $2 AND person_id = $3 AND direction = $5";
        let (feedback, direction) = (codec::text(feedback), codec::text(Direction::Outbound));
        self.change_message(&page, person, change, &[&mid.0, &page.0, &person.0, &feedback, &direction], &events).await
    }
}

impl PostgresStore {
    /// Changes one message of a thread with `change` under the thread's row lock
    /// (which every writer of its outbox events takes first) and stores the events;
    /// false, and nothing stored, when the thread or the message is not there.
    async fn change_message(
        &self,
        page: &PageId,
        person: PersonId,
        change: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        events: &[NewOutboxEvent],
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let thread = tx.query_opt("SELECT 1 FROM threads WHERE page_id = $1 AND person_id = $2 FOR UPDATE", &[&page.0, &person.0]).await.map_err(pg)?;
        let changed = tx.execute(change, params).await.map_err(pg)?;
        if thread.is_none() || changed == 0 {
            return Ok(false);
        }
        insert_events_locked(&tx, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }
}
