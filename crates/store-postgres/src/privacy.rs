//! Privacy in PostgreSQL: `app_privacy_urls`, a person erased from every table in one
//! transaction (`erased_psids` keeps digests only), `threads.blocked_at` and
//! `hidden_before`, `privacy_callbacks` leased with `SKIP LOCKED` so that nodes share
//! them, `privacy_audit`, and retention pruned thread by thread in short batches.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::privacy::erased_psid_digest;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, PRIVACY_CALLBACK_COLUMNS};
use switchboard_store::*;
use deadpool_postgres::Transaction;

pub(crate) async fn insert_record(c: &Transaction<'_>, record: &PrivacyRecord) -> StoreResult<()> {
    c.execute(
        "INSERT INTO privacy_audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&record.at, &record.actor, &record.action, &record.subject, &record.detail],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn insert_callbacks(c: &Transaction<'_>, callbacks: &[NewPrivacyCallback]) -> StoreResult<()> {
    for callback in callbacks {
        c.execute(
            "INSERT INTO privacy_callbacks (app_id, kind, url, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
            &[&callback.app.0, &codec::text(callback.kind), &callback.url, &callback.payload, &callback.created_at],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Stores a change's privacy trail in its transaction.
pub(crate) async fn insert_trail(c: &Transaction<'_>, trail: &PrivacyTrail) -> StoreResult<()> {
    insert_callbacks(c, &trail.callbacks).await?;
    insert_record(c, &trail.record).await
}

/// The digests among `digests` that no attachment record names any more.
async fn unnamed_files(c: &Transaction<'_>, mut digests: Vec<String>) -> StoreResult<Vec<String>> {
    digests.sort();
    digests.dedup();
    let named: Vec<String> =
        c.query("SELECT DISTINCT digest FROM attachments WHERE digest = ANY($1)", &[&digests]).await.map_err(pg)?.iter().map(|r| r.get(0)).collect();
    Ok(digests.into_iter().filter(|d| !named.contains(d)).collect())
}

/// Every table that names the person, in an order the foreign keys accept.
const ERASE_PERSON: &[&str] = &[
    "DELETE FROM attempt_events WHERE event_id IN (SELECT id FROM outbox WHERE person_id = $1)",
    "DELETE FROM outbox WHERE person_id = $1",
    "UPDATE threads SET agent_id = NULL WHERE agent_id = $1",
    "DELETE FROM threads WHERE person_id = $1",
    "DELETE FROM optin_requests WHERE person_id = $1",
    "DELETE FROM user_refs WHERE person_id = $1",
    "DELETE FROM account_linking_tokens WHERE person_id = $1",
    "DELETE FROM account_links WHERE person_id = $1",
    "DELETE FROM person_profiles WHERE person_id = $1",
    "DELETE FROM custom_user_settings WHERE person_id = $1",
    "DELETE FROM custom_label_members WHERE person_id = $1",
    "DELETE FROM psids WHERE person_id = $1",
    "DELETE FROM asids WHERE person_id = $1",
    "DELETE FROM tokens WHERE person_id = $1",
    "DELETE FROM page_token_epochs WHERE person_id = $1",
    "DELETE FROM login_codes WHERE person_id = $1",
    "DELETE FROM user_permissions WHERE person_id = $1",
    // An app the person put on a Page stays, granted by another admin of it.
    "UPDATE page_grants SET granted_by = (SELECT r.person_id FROM page_roles r
        WHERE r.page_id = page_grants.page_id AND r.role = 'admin' AND r.person_id <> $1 ORDER BY r.person_id LIMIT 1)
     WHERE granted_by = $1 AND EXISTS (SELECT 1 FROM page_roles r WHERE r.page_id = page_grants.page_id AND r.role = 'admin' AND r.person_id <> $1)",
    "DELETE FROM page_grants WHERE granted_by = $1",
    "DELETE FROM app_roles WHERE person_id = $1",
    "DELETE FROM page_roles WHERE person_id = $1",
    "UPDATE businesses SET admin_id = NULL WHERE admin_id = $1",
    "DELETE FROM attachments WHERE sent_by = $1",
    "DELETE FROM persons WHERE id = $1",
];

/// Whether the person is the last admin of a Page or the last administrator of an app.
const LAST_ADMIN: &str = "SELECT EXISTS(SELECT 1 FROM page_roles r WHERE r.person_id = $1 AND r.role = 'admin'
        AND NOT EXISTS (SELECT 1 FROM page_roles o WHERE o.page_id = r.page_id AND o.role = 'admin' AND o.person_id <> $1))
     OR EXISTS(SELECT 1 FROM app_roles r WHERE r.person_id = $1 AND r.role = 'administrator'
        AND NOT EXISTS (SELECT 1 FROM app_roles o WHERE o.app_id = r.app_id AND o.role = 'administrator' AND o.person_id <> $1)) AS last";

#[async_trait]
impl PrivacyStore for PostgresStore {
    async fn privacy_urls(&self, app: &AppId) -> StoreResult<PrivacyUrls> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT deauthorize_callback_url, data_deletion_url FROM app_privacy_urls WHERE app_id = $1", &[&app.0])
            .await
            .map_err(pg)?;
        let Some(row) = row else { return Ok(PrivacyUrls::default()) };
        let row = PgRow(&row);
        Ok(PrivacyUrls { deauthorize_callback_url: row.opt_text("deauthorize_callback_url")?, data_deletion_url: row.opt_text("data_deletion_url")? })
    }

    async fn set_privacy_urls(&self, app: &AppId, urls: PrivacyUrls) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO app_privacy_urls (app_id, deauthorize_callback_url, data_deletion_url) VALUES ($1, $2, $3)
                 ON CONFLICT (app_id) DO UPDATE SET deauthorize_callback_url = excluded.deauthorize_callback_url,
                    data_deletion_url = excluded.data_deletion_url",
                &[&app.0, &urls.deauthorize_callback_url, &urls.data_deletion_url],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn apps_knowing(&self, person: PersonId) -> StoreResult<Vec<KnownBy>> {
        let client = self.client().await?;
        let mut known = Vec::new();
        for row in client.query("SELECT app_id, asid FROM asids WHERE person_id = $1 ORDER BY app_id", &[&person.0]).await.map_err(pg)? {
            let row = PgRow(&row);
            known.push(KnownBy { app: AppId(row.text("app_id")?), asid: Some(Asid(row.text("asid")?)), psids: Vec::new() });
        }
        let by_page = client
            .query(
                "SELECT s.app_id, p.page_id, p.psid FROM psids p JOIN page_subscriptions s ON s.page_id = p.page_id
                 WHERE p.person_id = $1 ORDER BY s.app_id, p.page_id",
                &[&person.0],
            )
            .await
            .map_err(pg)?;
        for row in by_page {
            let row = PgRow(&row);
            let (app, page, psid) = (AppId(row.text("app_id")?), PageId(row.text("page_id")?), Psid(row.text("psid")?));
            match known.iter_mut().find(|k: &&mut KnownBy| k.app == app) {
                Some(k) => k.psids.push((page, psid)),
                None => known.push(KnownBy { app, asid: None, psids: vec![(page, psid)] }),
            }
        }
        Ok(known)
    }

    async fn erase_person(&self, erasure: Erasure) -> StoreResult<Erased> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let person = erasure.person.0;
        // The person's row first: an erasure racing a role change waits for it.
        tx.execute("SELECT 1 FROM persons WHERE id = $1 FOR UPDATE", &[&person]).await.map_err(pg)?;
        if PgRow(&tx.query_one(LAST_ADMIN, &[&person]).await.map_err(pg)?).flag("last")? {
            return Err(StoreError::Conflict(Conflict::LastPageAdmin));
        }
        for row in tx.query("SELECT page_id, psid FROM psids WHERE person_id = $1", &[&person]).await.map_err(pg)? {
            let row = PgRow(&row);
            let (page, psid) = (row.text("page_id")?, row.text("psid")?);
            tx.execute("INSERT INTO erased_psids (page_id, psid_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&page, &erased_psid_digest(&page, &psid)])
                .await
                .map_err(pg)?;
        }
        let sent: Vec<String> = tx.query("SELECT digest FROM attachments WHERE sent_by = $1", &[&person]).await.map_err(pg)?.iter().map(|r| r.get(0)).collect();
        // Thread by thread, through the thread index (messages have no index by person).
        let messages = tx
            .execute("DELETE FROM messages m USING threads t WHERE t.person_id = $1 AND m.page_id = t.page_id AND m.person_id = t.person_id", &[&person])
            .await
            .map_err(pg)?;
        for statement in ERASE_PERSON {
            tx.execute(*statement, &[&person]).await.map_err(pg)?;
        }
        insert_callbacks(&tx, &erasure.callbacks).await?;
        insert_record(&tx, &erasure.record).await?;
        let attachments = sent.len() as u64;
        let files = unnamed_files(&tx, sent).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Erased { messages, attachments, files })
    }

    async fn psid_erased(&self, page: &PageId, psid_digest: &str) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT 1 FROM erased_psids WHERE page_id = $1 AND psid_digest = $2", &[&page.0, &psid_digest])
            .await
            .map_err(pg)?;
        Ok(row.is_some())
    }

    async fn hide_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let hidden = tx
            .execute("UPDATE threads SET hidden_before = $3 WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0, &at])
            .await
            .map_err(pg)?
            == 1;
        if hidden {
            insert_record(&tx, &record).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(hidden)
    }

    async fn set_blocked(&self, page: &PageId, person: PersonId, blocked_at: Option<Millis>, record: PrivacyRecord) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let filter = if blocked_at.is_some() { "blocked_at IS NULL" } else { "blocked_at IS NOT NULL" };
        let sql = format!("UPDATE threads SET blocked_at = $3 WHERE page_id = $1 AND person_id = $2 AND {filter}");
        let changed = tx.execute(&sql, &[&page.0, &person.0, &blocked_at]).await.map_err(pg)? == 1;
        if changed {
            insert_record(&tx, &record).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(changed)
    }

    async fn report_thread(&self, page: &PageId, person: PersonId, at: Millis, record: PrivacyRecord) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let reported = tx.execute("UPDATE threads SET reported_at = $3 WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0, &at]).await.map_err(pg)? == 1;
        if reported {
            insert_record(&tx, &record).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(reported)
    }

    async fn blocked_pages(&self, person: PersonId) -> StoreResult<Vec<BlockedPage>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.username, t.blocked_at FROM threads t JOIN pages p ON p.id = t.page_id
                 WHERE t.person_id = $1 AND t.blocked_at IS NOT NULL ORDER BY t.blocked_at DESC",
                &[&person.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| Ok(BlockedPage { page: codec::page(&PgRow(r))?, blocked_at: PgRow(r).int("blocked_at")? })).collect()
    }

    async fn thread_pages_of(&self, person: PersonId) -> StoreResult<Vec<PageId>> {
        let rows = self
            .client()
            .await?
            .query("SELECT page_id FROM threads WHERE person_id = $1 ORDER BY last_message_at DESC", &[&person.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| Ok(PageId(PgRow(r).text("page_id")?))).collect()
    }

    async fn record_privacy(&self, record: PrivacyRecord, callbacks: Vec<NewPrivacyCallback>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        insert_trail(&tx, &PrivacyTrail { record, callbacks }).await?;
        tx.commit().await.map_err(pg)?;
        Ok(())
    }

    async fn privacy_audit(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<(i64, PrivacyRecord)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, at, actor, action, subject, detail FROM privacy_audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
                &[&before.unwrap_or(i64::MAX), &i64::from(limit)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::privacy_record(&PgRow(r))).collect()
    }

    async fn claim_privacy_callbacks(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<PrivacyCallback>> {
        let sql = format!(
            "UPDATE privacy_callbacks SET lease_until = $2 WHERE id IN (
                SELECT id FROM privacy_callbacks WHERE settled_at IS NULL AND next_attempt_at <= $1 AND lease_until <= $1
                ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING {PRIVACY_CALLBACK_COLUMNS}"
        );
        let rows = self.client().await?.query(&sql, &[&now, &lease_until, &i64::from(limit)]).await.map_err(pg)?;
        rows.iter().map(|r| codec::privacy_callback(&PgRow(r))).collect()
    }

    async fn settle_privacy_callback(&self, id: i64, attempt: CallbackAttempt, at: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        let (answered, given_up) = (codec::text(CallbackOutcome::Answered), codec::text(CallbackOutcome::GivenUp));
        let changed = match &attempt {
            CallbackAttempt::Answered { status_url, confirmation_code } => {
                client
                    .execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, settled_at = $2, outcome = $3, status_url = $4,
                            confirmation_code = $5, payload = NULL, last_error = NULL, lease_until = 0 WHERE id = $1",
                        &[&id, &at, &answered, status_url, confirmation_code],
                    )
                    .await
            }
            CallbackAttempt::Failed { error, next_attempt_at } => {
                client
                    .execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, lease_until = 0 WHERE id = $1",
                        &[&id, error, next_attempt_at],
                    )
                    .await
            }
            CallbackAttempt::GivenUp { error } => {
                client
                    .execute(
                        "UPDATE privacy_callbacks SET attempts = attempts + 1, settled_at = $2, outcome = $3, last_error = $4,
                            payload = NULL, lease_until = 0 WHERE id = $1",
                        &[&id, &at, &given_up, error],
                    )
                    .await
            }
        };
        changed.map_err(pg)?;
        Ok(())
    }

    async fn privacy_callbacks(&self, app: &AppId, limit: u32) -> StoreResult<Vec<PrivacyCallback>> {
        let sql = format!("SELECT {PRIVACY_CALLBACK_COLUMNS} FROM privacy_callbacks WHERE app_id = $1 ORDER BY id DESC LIMIT $2");
        let rows = self.client().await?.query(&sql, &[&app.0, &i64::from(limit)]).await.map_err(pg)?;
        rows.iter().map(|r| codec::privacy_callback(&PgRow(r))).collect()
    }

    async fn set_page_retention(&self, page: &PageId, days: Option<u32>) -> StoreResult<()> {
        let days = days.map(i64::from);
        let changed = self.client().await?.execute("UPDATE pages SET retention_days = $2 WHERE id = $1", &[&page.0, &days]).await.map_err(pg)?;
        if changed == 0 {
            return Err(StoreError::NotFound(Missing::Page(page.clone())));
        }
        Ok(())
    }

    async fn page_retention(&self, page: &PageId) -> StoreResult<Option<u32>> {
        let row = self.client().await?.query_opt("SELECT retention_days FROM pages WHERE id = $1", &[&page.0]).await.map_err(pg)?;
        Ok(row.map(|r| PgRow(&r).opt_int("retention_days")).transpose()?.flatten().map(|d| d as u32))
    }

    async fn retentions(&self) -> StoreResult<Vec<(PageId, Option<u32>)>> {
        let rows = self.client().await?.query("SELECT id, retention_days FROM pages ORDER BY id", &[]).await.map_err(pg)?;
        rows.iter().map(|r| Ok((PageId(PgRow(r).text("id")?), PgRow(r).opt_int("retention_days")?.map(|d| d as u32)))).collect()
    }

    async fn prune_page(&self, page: &PageId, before: Millis, reuse_window_ms: Millis, batch: u32) -> StoreResult<Erased> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let batch = i64::from(batch);
        let messages = tx
            .execute(
                "DELETE FROM messages WHERE seq IN (
                    SELECT m.seq FROM threads t JOIN messages m ON m.page_id = t.page_id AND m.person_id = t.person_id AND m.created_at < $2
                    WHERE t.page_id = $1 LIMIT $3)",
                &[&page.0, &before, &batch],
            )
            .await
            .map_err(pg)?;
        let digests: Vec<String> = tx
            .query(
                "DELETE FROM attachments WHERE id IN (
                    SELECT id FROM attachments WHERE page_id = $1 AND created_at < $2 AND (reusable = false OR created_at < $2 - $3) LIMIT $4)
                 RETURNING digest",
                &[&page.0, &before, &reuse_window_ms, &batch],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Webhook events carry the messages' text too; settled ones go with them.
        tx.execute(
            "DELETE FROM outbox WHERE id IN (
                SELECT id FROM outbox WHERE app_id IN (SELECT app_id FROM page_subscriptions WHERE page_id = $1)
                    AND settled_at IS NOT NULL AND created_at < $2 AND page_id = $1 LIMIT $3)",
            &[&page.0, &before, &batch],
        )
        .await
        .map_err(pg)?;
        let attachments = digests.len() as u64;
        let files = unnamed_files(&tx, digests).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Erased { messages, attachments, files })
    }
}
