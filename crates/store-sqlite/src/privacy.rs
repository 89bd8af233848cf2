//! Privacy in SQLite: `app_privacy_urls`, a person erased from every table in one
//! transaction (`erased_psids` keeps digests only), `threads.blocked_at` and
//! `hidden_before`, `privacy_callbacks` leased like the outbox, `privacy_audit`, and
//! retention (`pages.retention_days`), pruned thread by thread in short batches.

use crate::columns::{prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::sync::LazyLock;
use switchboard_domain::privacy::erased_psid_digest;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, PRIVACY_CALLBACK_COLUMNS};
use switchboard_store::*;

static CALLBACKS_OF_APP: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {PRIVACY_CALLBACK_COLUMNS} FROM privacy_callbacks WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2"));

pub(crate) fn insert_record(c: &Connection, record: &PrivacyRecord) -> StoreResult<()> {
    q(c.execute(
        "INSERT INTO privacy_audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![record.at, record.actor, record.action, record.subject, record.detail],
    ))?;
    Ok(())
}

pub(crate) fn insert_callbacks(c: &Connection, callbacks: &[NewPrivacyCallback]) -> StoreResult<()> {
    let mut insert = prepare(
        c,
        "INSERT INTO privacy_callbacks (app_id, kind, url, payload, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    for callback in callbacks {
        q(insert.execute(params![callback.app.as_str(), codec::text(callback.kind), callback.url, callback.payload, callback.created_at]))?;
    }
    Ok(())
}

/// Stores a change's privacy trail in its transaction.
pub(crate) fn insert_trail(c: &Connection, trail: &PrivacyTrail) -> StoreResult<()> {
    insert_callbacks(c, &trail.callbacks)?;
    insert_record(c, &trail.record)
}

/// The digests among `digests` that no attachment record names any more.
fn unnamed_files(c: &Connection, digests: Vec<String>) -> StoreResult<Vec<String>> {
    let mut named = prepare(c, "SELECT EXISTS(SELECT 1 FROM attachments WHERE digest = ?1) AS named")?;
    let mut files = Vec::new();
    for digest in digests {
        if !named.one([&digest], |r| r.flag("named"))? && !files.contains(&digest) {
            files.push(digest);
        }
    }
    Ok(files)
}

/// Every table that names the person, in an order the foreign keys accept.
const ERASE_PERSON: &[&str] = &[
    "DELETE FROM attempt_events WHERE event_id IN (SELECT id FROM outbox WHERE person_id = ?1)",
    "DELETE FROM outbox WHERE person_id = ?1",
    "UPDATE threads SET agent_id = NULL WHERE agent_id = ?1",
    "DELETE FROM threads WHERE person_id = ?1",
    "DELETE FROM optin_requests WHERE person_id = ?1",
    "DELETE FROM user_refs WHERE person_id = ?1",
    "DELETE FROM account_linking_tokens WHERE person_id = ?1",
    "DELETE FROM account_links WHERE person_id = ?1",
    "DELETE FROM person_profiles WHERE person_id = ?1",
    "DELETE FROM custom_user_settings WHERE person_id = ?1",
    "DELETE FROM custom_label_members WHERE person_id = ?1",
    "DELETE FROM psids WHERE person_id = ?1",
    "DELETE FROM asids WHERE person_id = ?1",
    "DELETE FROM tokens WHERE person_id = ?1",
    "DELETE FROM page_token_epochs WHERE person_id = ?1",
    "DELETE FROM login_codes WHERE person_id = ?1",
    "DELETE FROM user_permissions WHERE person_id = ?1",
    // An app the person put on a Page stays, granted by another admin of it.
    "UPDATE page_grants SET granted_by = (SELECT r.person_id FROM page_roles r
        WHERE r.page_id = page_grants.page_id AND r.role = 'admin' AND r.person_id <> ?1 ORDER BY r.person_id LIMIT 1)
     WHERE granted_by = ?1 AND EXISTS (SELECT 1 FROM page_roles r WHERE r.page_id = page_grants.page_id AND r.role = 'admin' AND r.person_id <> ?1)",
    "DELETE FROM page_grants WHERE granted_by = ?1",
    "DELETE FROM app_roles WHERE person_id = ?1",
    "DELETE FROM page_roles WHERE person_id = ?1",
    "UPDATE businesses SET admin_id = NULL WHERE admin_id = ?1",
    "DELETE FROM attachments WHERE sent_by = ?1",
    "DELETE FROM persons WHERE id = ?1",
];

/// Whether the person is the last admin of a Page or the last administrator of an app.
const LAST_ADMIN: &str = "SELECT EXISTS(SELECT 1 FROM page_roles r WHERE r.person_id = ?1 AND r.role = 'admin'
        AND NOT EXISTS (SELECT 1 FROM page_roles o WHERE o.page_id = r.page_id AND o.role = 'admin' AND o.person_id <> ?1))
     OR EXISTS(SELECT 1 FROM app_roles r WHERE r.person_id = ?1 AND r.role = 'administrator'
        AND NOT EXISTS (SELECT 1 FROM app_roles o WHERE o.app_id = r.app_id AND o.role = 'administrator' AND o.person_id <> ?1)) AS last";

#[async_trait]
impl PrivacyStore for SqliteStore {
    async fn privacy_urls(&self, app: &AppId) -> StoreResult<PrivacyUrls> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let urls = prepare(c, "SELECT deauthorize_callback_url, data_deletion_url FROM app_privacy_urls WHERE app_id = ?1")?.optional([app.as_str()], |r| {
                    Ok(PrivacyUrls { deauthorize_callback_url: r.opt_text("deauthorize_callback_url")?, data_deletion_url: r.opt_text("data_deletion_url")? })
                })?;
                Ok(urls.unwrap_or_default())
            })
            .await
    }

    async fn set_privacy_urls(&self, app: &AppId, urls: PrivacyUrls) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO app_privacy_urls (app_id, deauthorize_callback_url, data_deletion_url) VALUES (?1, ?2, ?3)
                     ON CONFLICT (app_id) DO UPDATE SET deauthorize_callback_url = excluded.deauthorize_callback_url,
                        data_deletion_url = excluded.data_deletion_url",
                    params![app.as_str(), urls.deauthorize_callback_url, urls.data_deletion_url],
                ))?;
                Ok(())
            })
            .await
    }

    async fn apps_knowing(&self, person: PersonId) -> StoreResult<Vec<KnownBy>> {
        self.engine
            .read(move |c| {
                let mut known: Vec<KnownBy> = prepare(c, "SELECT app_id, asid FROM asids WHERE person_id = ?1 ORDER BY app_id")?
                    .all([person.0], |r| Ok(KnownBy { app: AppId(r.text("app_id")?), asid: Some(Asid(r.text("asid")?)), psids: Vec::new() }))?;
                let by_page = prepare(
                    c,
                    "SELECT s.app_id, p.page_id, p.psid FROM psids p JOIN page_subscriptions s ON s.page_id = p.page_id
                     WHERE p.person_id = ?1 ORDER BY s.app_id, p.page_id",
                )?
                .all([person.0], |r| Ok((AppId(r.text("app_id")?), PageId(r.text("page_id")?), Psid(r.text("psid")?))))?;
                for (app, page, psid) in by_page {
                    match known.iter_mut().find(|k| k.app == app) {
                        Some(k) => k.psids.push((page, psid)),
                        None => known.push(KnownBy { app, asid: None, psids: vec![(page, psid)] }),
                    }
                }
                Ok(known)
            })
            .await
    }

    async fn erase_person(&self, erasure: Erasure) -> StoreResult<Erased> {
        self.engine
            .write(move |c| {
                let person = erasure.person.0;
                if prepare(c, LAST_ADMIN)?.one([person], |r| r.flag("last"))? {
                    return Err(StoreError::Conflict(Conflict::LastPageAdmin));
                }
                let psids = prepare(c, "SELECT page_id, psid FROM psids WHERE person_id = ?1")?.all([person], |r| Ok((r.text("page_id")?, r.text("psid")?)))?;
                let mut tombstone = prepare(c, "INSERT OR IGNORE INTO erased_psids (page_id, psid_digest) VALUES (?1, ?2)")?;
                for (page, psid) in &psids {
                    q(tombstone.execute(params![page, erased_psid_digest(page, psid)]))?;
                }
                let sent = prepare(c, "SELECT digest FROM attachments WHERE sent_by = ?1")?.all([person], |r| r.text("digest"))?;
                // Thread by thread, through the thread index (messages have no index by person).
                let pages = prepare(c, "SELECT page_id FROM threads WHERE person_id = ?1")?.all([person], |r| r.text("page_id"))?;
                let mut messages = 0;
                for page in &pages {
                    messages += q(c.execute("DELETE FROM messages WHERE page_id = ?1 AND person_id = ?2", params![page, person]))? as u64;
                }
                for statement in ERASE_PERSON {
                    q(c.execute(statement, [person]))?;
                }
                insert_callbacks(c, &erasure.callbacks)?;
                insert_record(c, &erasure.record)?;
                let attachments = sent.len() as u64;
                Ok(Erased { messages, attachments, files: unnamed_files(c, sent)? })
            })
            .await
    }

    async fn psid_erased(&self, page: &PageId, psid_digest: &str) -> StoreResult<bool> {
        let (page, digest) = (page.clone(), psid_digest.to_string());
        self.engine
            .read(move |c| {
                prepare(c, "SELECT EXISTS(SELECT 1 FROM erased_psids WHERE page_id = ?1 AND psid_digest = ?2) AS erased")?
                    .one(params![page.as_str(), digest], |r| r.flag("erased"))
            })
            .await
    }

    async fn hide_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                let hidden = q(c.execute("UPDATE threads SET hidden_before = ?3 WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0, at]))? == 1;
                if hidden {
                    insert_record(c, &record)?;
                }
                Ok(hidden)
            })
            .await
    }

    async fn set_blocked(&self, page: &PageId, person: PersonId, blocked_at: Option<Millis>, record: PrivacyRecord) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                let filter = if blocked_at.is_some() { "blocked_at IS NULL" } else { "blocked_at IS NOT NULL" };
                let sql = format!("UPDATE threads SET blocked_at = ?3 WHERE page_id = ?1 AND person_id = ?2 AND {filter}");
                let changed = q(c.execute(&sql, params![page.as_str(), person.0, blocked_at]))? == 1;
                if changed {
                    insert_record(c, &record)?;
                }
                Ok(changed)
            })
            .await
    }

    async fn report_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                let reported = q(c.execute("UPDATE threads SET reported_at = ?3 WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0, at]))? == 1;
                if reported {
                    insert_record(c, &record)?;
                }
                Ok(reported)
            })
            .await
    }

    async fn blocked_pages(&self, person: PersonId) -> StoreResult<Vec<BlockedPage>> {
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    "SELECT p.id, p.name, p.username, t.blocked_at FROM threads t JOIN pages p ON p.id = t.page_id
                     WHERE t.person_id = ?1 AND t.blocked_at IS NOT NULL ORDER BY t.blocked_at DESC",
                )?
                .all([person.0], |r| Ok(BlockedPage { page: codec::page(r)?, blocked_at: r.int("blocked_at")? }))
            })
            .await
    }

    async fn thread_pages_of(&self, person: PersonId) -> StoreResult<Vec<PageId>> {
        self.engine
            .read(move |c| prepare(c, "SELECT page_id FROM threads WHERE person_id = ?1 ORDER BY last_message_at DESC")?.all([person.0], |r| Ok(PageId(r.text("page_id")?))))
            .await
    }

    async fn record_privacy(&self, record: PrivacyRecord, callbacks: Vec<NewPrivacyCallback>) -> StoreResult<()> {
        self.engine
            .write(move |c| insert_trail(c, &PrivacyTrail { record, callbacks }))
            .await
    }

    async fn privacy_audit(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<(i64, PrivacyRecord)>> {
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, at, actor, action, subject, detail FROM privacy_audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?
                    .all(params![before.unwrap_or(i64::MAX), limit], |r| codec::privacy_record(r))
            })
            .await
    }

    async fn claim_privacy_callbacks(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<PrivacyCallback>> {
        // A lease lost in a crash only delays a callback: no fsync of its own (as the
        // outbox's claims), which matters as every node looks every second.
        self.engine
            .write_relaxed(move |c| {
                let sql = format!(
                    "UPDATE privacy_callbacks SET lease_until = ?2 WHERE id IN (
                        SELECT id FROM privacy_callbacks WHERE settled_at IS NULL AND next_attempt_at <= ?1 AND lease_until <= ?1
                        ORDER BY next_attempt_at LIMIT ?3)
                     RETURNING {PRIVACY_CALLBACK_COLUMNS}"
                );
                prepare(c, &sql)?.all(params![now, lease_until, limit], |r| codec::privacy_callback(r))
            })
            .await
    }

    async fn settle_privacy_callback(&self, id: i64, attempt: CallbackAttempt, at: Millis) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                match attempt {
                    CallbackAttempt::Answered { status_url, confirmation_code } => q(c.execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, settled_at = ?2, outcome = ?3, status_url = ?4,
                            confirmation_code = ?5, payload = NULL, last_error = NULL, lease_until = 0 WHERE id = ?1",
                        params![id, at, codec::text(CallbackOutcome::Answered), status_url, confirmation_code],
                    ))?,
                    CallbackAttempt::Failed { error, next_attempt_at } => q(c.execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, lease_until = 0 WHERE id = ?1",
                        params![id, error, next_attempt_at],
                    ))?,
                    CallbackAttempt::GivenUp { error } => q(c.execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, settled_at = ?2, outcome = ?3, last_error = ?4,
                            payload = NULL, lease_until = 0 WHERE id = ?1",
                        params![id, at, codec::text(CallbackOutcome::GivenUp), error],
                    ))?,
                };
                Ok(())
            })
            .await
    }

    async fn privacy_callbacks(&self, app: &AppId, limit: u32) -> StoreResult<Vec<PrivacyCallback>> {
        let app = app.clone();
        self.engine.read(move |c| prepare(c, &CALLBACKS_OF_APP)?.all(params![app.as_str(), limit], |r| codec::privacy_callback(r))).await
    }

    async fn set_page_retention(&self, page: &PageId, days: Option<u32>) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                if q(c.execute("UPDATE pages SET retention_days = ?2 WHERE id = ?1", params![page.as_str(), days]))? == 0 {
                    return Err(StoreError::NotFound(Missing::Page(page.clone())));
                }
                Ok(())
            })
            .await
    }

    async fn page_retention(&self, page: &PageId) -> StoreResult<Option<u32>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let days = prepare(c, "SELECT retention_days FROM pages WHERE id = ?1")?.optional([page.as_str()], |r| r.opt_int("retention_days"))?;
                Ok(days.flatten().map(|d| d as u32))
            })
            .await
    }

    async fn retentions(&self) -> StoreResult<Vec<(PageId, Option<u32>)>> {
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, retention_days FROM pages ORDER BY id")?
                    .all([], |r| Ok((PageId(r.text("id")?), r.opt_int("retention_days")?.map(|d| d as u32))))
            })
            .await
    }

    async fn prune_page(&self, page: &PageId, before: Millis, reuse_window_ms: Millis, batch: u32) -> StoreResult<Erased> {
        // Which messages go is found on a reader, thread by thread through the
        // thread index, so that the writer only deletes by key.
        let page = page.clone();
        let reader_page = page.clone();
        let (seqs, attachment_ids, events) = self
            .engine
            .read(move |c| {
                let page = reader_page.as_str();
                let seqs = prepare(
                    c,
                    "SELECT m.seq FROM threads t JOIN messages m ON m.page_id = t.page_id AND m.person_id = t.person_id AND m.created_at < ?2
                     WHERE t.page_id = ?1 LIMIT ?3",
                )?
                .all(params![page, before, batch], |r| r.int("seq"))?;
                let attachments = prepare(
                    c,
                    "SELECT id FROM attachments WHERE page_id = ?1 AND created_at < ?2 AND (reusable = 0 OR created_at < ?2 - ?3) LIMIT ?4",
                )?
                .all(params![page, before, reuse_window_ms, batch], |r| r.text("id"))?;
                // Webhook events carry the messages' text too; settled ones go with them.
                let events = prepare(
                    c,
                    "SELECT id FROM outbox WHERE app_id IN (SELECT app_id FROM page_subscriptions WHERE page_id = ?1)
                        AND settled_at IS NOT NULL AND created_at < ?2 AND page_id = ?1 LIMIT ?3",
                )?
                .all(params![page, before, batch], |r| r.int("id"))?;
                Ok((seqs, attachments, events))
            })
            .await?;
        if seqs.is_empty() && attachment_ids.is_empty() && events.is_empty() {
            return Ok(Erased::default());
        }
        self.engine
            .write(move |c| {
                let mut delete_message = prepare(c, "DELETE FROM messages WHERE seq = ?1 AND page_id = ?2 AND created_at < ?3")?;
                let mut messages = 0;
                for seq in &seqs {
                    messages += q(delete_message.execute(params![seq, page.as_str(), before]))? as u64;
                }
                let mut delete_attachment = prepare(c, "DELETE FROM attachments WHERE id = ?1 AND created_at < ?2 RETURNING digest")?;
                let mut digests = Vec::new();
                for id in &attachment_ids {
                    if let Some(digest) = delete_attachment.optional(params![id, before], |r| r.text("digest"))? {
                        digests.push(digest);
                    }
                }
                let mut delete_event = prepare(c, "DELETE FROM outbox WHERE id = ?1 AND settled_at IS NOT NULL")?;
                for id in &events {
                    q(delete_event.execute([id]))?;
                }
                let attachments = digests.len() as u64;
                Ok(Erased { messages, attachments, files: unnamed_files(c, digests)? })
            })
            .await
    }
}
