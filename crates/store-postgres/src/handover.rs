//! The Handover Protocol in PostgreSQL: receiver roles (`page_subscriptions.receiver_role`,
//! changed under the Page's row lock), routing rules (`routing_rules`), and who
//! controls each thread (`threads.owner_app_id`, `owner_since`, `agent_id`), changed
//! under the thread's row lock with their events.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::outbox::{insert_events_locked, lock_thread};
use crate::threads::{PAGE_THREADS_AFTER, PAGE_THREADS_RECENT_FIRST};
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, MESSAGE_COLUMNS};
use switchboard_store::*;

#[async_trait]
impl HandoverStore for PostgresStore {
    async fn receivers(&self, page: &PageId) -> StoreResult<Vec<Receiver>> {
        let rows = self
            .client()
            .await?
            .query("SELECT app_id, receiver_role FROM page_subscriptions WHERE page_id = $1 ORDER BY app_id", &[&page.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::receiver(&PgRow(r))).collect()
    }

    async fn set_receiver_role(&self, page: &PageId, app: &AppId, role: Option<ReceiverRole>, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The Page's row lock serializes role changes, so that one app stays primary.
        tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&page.0]).await.map_err(pg)?;
        let installed = tx
            .query_opt("SELECT 1 FROM page_subscriptions WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0])
            .await
            .map_err(pg)?
            .is_some();
        if !installed {
            return Ok(false);
        }
        if role == Some(ReceiverRole::Primary) {
            tx.execute(
                "UPDATE page_subscriptions SET receiver_role = $3 WHERE page_id = $1 AND app_id <> $2 AND receiver_role = $4",
                &[&page.0, &app.0, &codec::text(ReceiverRole::Secondary), &codec::text(ReceiverRole::Primary)],
            )
            .await
            .map_err(pg)?;
        }
        tx.execute(
            "UPDATE page_subscriptions SET receiver_role = $3 WHERE page_id = $1 AND app_id = $2",
            &[&page.0, &app.0, &role.map(codec::text)],
        )
        .await
        .map_err(pg)?;
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn routing_rules(&self, page: &PageId) -> StoreResult<Vec<RoutingRule>> {
        let rows = self
            .client()
            .await?
            .query("SELECT page_id, ref, app_id FROM routing_rules WHERE page_id = $1 ORDER BY ref", &[&page.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::routing_rule(&PgRow(r))).collect()
    }

    async fn put_routing_rule(&self, rule: RoutingRule) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO routing_rules (page_id, ref, app_id) VALUES ($1, $2, $3) ON CONFLICT (page_id, ref) DO UPDATE SET app_id = excluded.app_id",
                &[&rule.page.0, &rule.reference, &rule.app.0],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn delete_routing_rule(&self, page: &PageId, reference: &str) -> StoreResult<bool> {
        let deleted = self
            .client()
            .await?
            .execute("DELETE FROM routing_rules WHERE page_id = $1 AND ref = $2", &[&page.0, &reference])
            .await
            .map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn thread_control(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadControlState>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT owner_app_id, owner_since, agent_id FROM threads WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::thread_control(&PgRow(r))).transpose()
    }

    async fn change_control(&self, change: ControlChange, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let ControlChange { page, person, from, to, agent, at } = change;
        let (from, to) = (from.map(|a| a.0), to.map(|a| a.0));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO threads (page_id, person_id, last_message_at, owner_app_id, owner_since) VALUES ($1, $2, $3, $4, $3) ON CONFLICT DO NOTHING",
            &[&page.0, &person.0, &at, &from],
        )
        .await
        .map_err(pg)?;
        // Under the thread's row lock, as every writer of its outbox rows.
        let owner = lock_thread(&tx, &page.0, person.0).await?.map(|a| a.0);
        if owner != from {
            return Ok(false);
        }
        tx.execute(
            "UPDATE threads SET owner_app_id = $3, agent_id = $4,
                owner_since = CASE WHEN owner_app_id IS NOT DISTINCT FROM $3 THEN owner_since WHEN $3::text IS NULL THEN NULL ELSE $5 END
             WHERE page_id = $1 AND person_id = $2",
            &[&page.0, &person.0, &to, &agent.map(|a| a.0), &at],
        )
        .await
        .map_err(pg)?;
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn inbox_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<InboxThread>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT t.person_id, t.owner_app_id, t.owner_since, t.agent_id, t.last_message_at, t.folder,
                        (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                            AND m.direction = $5 AND m.created_at > t.page_seen_watermark) AS unread
                     FROM threads t WHERE {PAGE_THREADS_AFTER}
                     {PAGE_THREADS_RECENT_FIRST} LIMIT $4"
                ),
                &[&page.0, &after.map_or(i64::MAX, |a| a.0), &after.map_or(i64::MAX, |a| a.1 .0), &(limit as i64), &codec::text(Direction::Inbound)],
            )
            .await
            .map_err(pg)?;
        let last_sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE page_id = $1 AND person_id = $2 ORDER BY created_at DESC, seq DESC LIMIT 1");
        let mut threads = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut thread = codec::inbox_thread(&PgRow(row))?;
            let last = client.query_opt(&last_sql, &[&page.0, &thread.person.0]).await.map_err(pg)?;
            thread.last_message = last.as_ref().map(|r| codec::message(&PgRow(r))).transpose()?;
            threads.push(thread);
        }
        Ok(threads)
    }

    async fn inbox_pages(&self, person: Option<PersonId>) -> StoreResult<Vec<InboxPage>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.username, r.role,
                    (SELECT COUNT(*) FROM threads t WHERE t.page_id = p.id AND t.owner_app_id = $2 AND t.agent_id IS NULL) AS waiting
                 FROM pages p LEFT JOIN page_roles r ON r.page_id = p.id AND r.person_id = $1
                 WHERE $1::bigint IS NULL OR r.role IS NOT NULL ORDER BY p.name, p.id",
                &[&person.map(|p| p.0), &PAGE_INBOX_APP],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::inbox_page(&PgRow(r))).collect()
    }
}
