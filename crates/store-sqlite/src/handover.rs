//! The Handover Protocol in SQLite: receiver roles (`page_subscriptions.receiver_role`),
//! routing rules (`routing_rules`), and who controls each thread (`threads.owner_app_id`,
//! `owner_since`, `agent_id`), changed under the writer thread with their events.

use crate::columns::{cached, prepare, q, Query};
use crate::outbox::insert_outbox;
use crate::threads::{LAST_MESSAGE, PAGE_THREADS_AFTER, PAGE_THREADS_RECENT_FIRST};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use switchboard_domain::*;
use switchboard_store::codec;
use switchboard_store::*;

#[async_trait]
impl HandoverStore for SqliteStore {
    async fn receivers(&self, page: &PageId) -> StoreResult<Vec<Receiver>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT app_id, receiver_role FROM page_subscriptions WHERE page_id = ?1 ORDER BY app_id")?
                    .all([page.as_str()], |r| codec::receiver(r))
            })
            .await
    }

    async fn set_receiver_role(&self, page: &PageId, app: &AppId, role: Option<ReceiverRole>, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .write(move |c| {
                let installed = prepare(c, "SELECT 1 AS held FROM page_subscriptions WHERE page_id = ?1 AND app_id = ?2")?
                    .optional(params![page.as_str(), app.as_str()], |_| Ok(()))?
                    .is_some();
                if !installed {
                    return Ok(false);
                }
                if role == Some(ReceiverRole::Primary) {
                    q(c.execute(
                        "UPDATE page_subscriptions SET receiver_role = ?3 WHERE page_id = ?1 AND app_id <> ?2 AND receiver_role = ?4",
                        params![page.as_str(), app.as_str(), codec::text(ReceiverRole::Secondary), codec::text(ReceiverRole::Primary)],
                    ))?;
                }
                q(c.execute(
                    "UPDATE page_subscriptions SET receiver_role = ?3 WHERE page_id = ?1 AND app_id = ?2",
                    params![page.as_str(), app.as_str(), role.map(codec::text)],
                ))?;
                insert_outbox(c, &events)?;
                Ok(true)
            })
            .await
    }

    async fn routing_rules(&self, page: &PageId) -> StoreResult<Vec<RoutingRule>> {
        let page = page.clone();
        self.engine
            .read(move |c| cached(c, "SELECT page_id, ref, app_id FROM routing_rules WHERE page_id = ?1 ORDER BY ref")?.all([page.as_str()], |r| codec::routing_rule(r)))
            .await
    }

    async fn put_routing_rule(&self, rule: RoutingRule) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO routing_rules (page_id, ref, app_id) VALUES (?1, ?2, ?3) ON CONFLICT (page_id, ref) DO UPDATE SET app_id = excluded.app_id",
                    params![rule.page.as_str(), rule.reference, rule.app.as_str()],
                ))?;
                Ok(())
            })
            .await
    }

    async fn delete_routing_rule(&self, page: &PageId, reference: &str) -> StoreResult<bool> {
        let (page, reference) = (page.clone(), reference.to_string());
        self.engine
            .write(move |c| Ok(q(c.execute("DELETE FROM routing_rules WHERE page_id = ?1 AND ref = ?2", params![page.as_str(), reference]))? > 0))
            .await
    }

    async fn thread_control(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadControlState>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT owner_app_id, owner_since, agent_id FROM threads WHERE page_id = ?1 AND person_id = ?2")?
                    .optional(params![page.as_str(), person.0], |r| codec::thread_control(r))
            })
            .await
    }

    async fn change_control(&self, change: ControlChange, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let ControlChange { page, person, from, to, agent, at } = change;
        self.engine
            .write(move |c| {
                let (from, to) = (from.as_ref().map(|a| a.as_str()), to.as_ref().map(|a| a.as_str()));
                q(cached(
                    c,
                    "INSERT OR IGNORE INTO threads (page_id, person_id, last_message_at, owner_app_id, owner_since) VALUES (?1, ?2, ?3, ?4, ?3)",
                )?
                .execute(params![page.as_str(), person.0, at, from]))?;
                let changed = q(cached(
                    c,
                    "UPDATE threads SET owner_app_id = ?4, agent_id = ?5,
                        owner_since = CASE WHEN owner_app_id IS ?4 THEN owner_since WHEN ?4 IS NULL THEN NULL ELSE ?6 END
                     WHERE page_id = ?1 AND person_id = ?2 AND owner_app_id IS ?3",
                )?
                .execute(params![page.as_str(), person.0, from, to, agent.map(|a| a.0), at]))?
                    == 1;
                if changed {
                    insert_outbox(c, &events)?;
                }
                Ok(changed)
            })
            .await
    }

    async fn inbox_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<InboxThread>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let threads = cached(
                    c,
                    &format!(
                        "SELECT t.person_id, t.owner_app_id, t.owner_since, t.agent_id, t.last_message_at, t.folder,
                            (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                                AND m.direction = ?5 AND m.created_at > t.page_seen_watermark) AS unread
                         FROM threads t WHERE {PAGE_THREADS_AFTER}
                         {PAGE_THREADS_RECENT_FIRST} LIMIT ?4"
                    ),
                )?
                .all(
                    params![
                        page.as_str(),
                        after.map_or(i64::MAX, |a| a.0),
                        after.map_or(i64::MAX, |a| a.1 .0),
                        limit,
                        codec::text(Direction::Inbound)
                    ],
                    |r| codec::inbox_thread(r),
                )?;
                let mut last = prepare(c, &LAST_MESSAGE)?;
                threads
                    .into_iter()
                    .map(|mut thread| {
                        thread.last_message = last.optional(params![page.as_str(), thread.person.0], |r| codec::message(r))?;
                        Ok(thread)
                    })
                    .collect()
            })
            .await
    }

    async fn inbox_pages(&self, person: Option<PersonId>) -> StoreResult<Vec<InboxPage>> {
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT p.id, p.name, p.username, r.role,
                        (SELECT COUNT(*) FROM threads t WHERE t.page_id = p.id AND t.owner_app_id = ?2 AND t.agent_id IS NULL) AS waiting
                     FROM pages p LEFT JOIN page_roles r ON r.page_id = p.id AND r.person_id = ?1
                     WHERE ?1 IS NULL OR r.role IS NOT NULL ORDER BY p.name, p.id",
                )?
                .all(params![person.map(|p| p.0), PAGE_INBOX_APP], |r| codec::inbox_page(r))
            })
            .await
    }
}
