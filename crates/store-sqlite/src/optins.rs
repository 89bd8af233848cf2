//! Notification opt-ins in SQLite: the `optin_requests` table (the request a Page's
//! message asks, the person's acceptance and its token by digest, the topic's stop,
//! the last message sent with the token). The messages themselves are the threads'
//! (`append_message`), stored in the same transaction as the request or the spend.

use crate::columns::{cached, prepare, q, Query};
use crate::outbox::insert_outbox;
use crate::threads::append_message;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use std::sync::LazyLock;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, OPTIN_COLUMNS};
use switchboard_store::*;

static BY_MID: LazyLock<String> = LazyLock::new(|| format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE mid = ?1"));

static SINCE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE page_id = ?1 AND person_id = ?2 AND created_at >= ?3 ORDER BY created_at")
});

static TOKENS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, s.psid FROM optin_requests o JOIN psids s ON s.page_id = o.page_id AND s.person_id = o.person_id
         WHERE o.page_id = ?1 AND o.tapped_at IS NOT NULL AND o.kind <> ?2 AND o.stopped_at IS NULL AND o.token_expires_at > ?3
           AND (?4 IS NULL OR o.tapped_at > ?4 OR (o.tapped_at = ?4 AND o.mid > ?5))
         ORDER BY o.tapped_at, o.mid LIMIT ?6",
        codec::optin_columns_of("o")
    )
});

static BY_TOKEN: LazyLock<String> = LazyLock::new(|| format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE token_digest = ?1 AND page_id = ?2"));

#[async_trait]
impl OptinStore for SqliteStore {
    async fn send_optin_request(&self, request: OptinRequest, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        self.engine
            .write(move |c| {
                let opened = q(c.execute(
                    "INSERT INTO optin_requests (mid, kind, page_id, person_id, title, payload, created_at, reoptin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT DO NOTHING",
                    params![
                        request.mid.as_str(),
                        codec::text(request.kind),
                        request.page.as_str(),
                        request.person.0,
                        request.title,
                        request.payload,
                        request.created_at,
                        request.reoptin
                    ],
                ))? == 1;
                if opened {
                    append_message(c, &message, &events)?;
                }
                Ok(opened)
            })
            .await
    }

    async fn optin_request(&self, mid: &Mid) -> StoreResult<Option<OptinRequest>> {
        let mid = mid.clone();
        self.engine.read(move |c| prepare(c, &BY_MID)?.optional([mid.as_str()], |r| codec::optin_request(r))).await
    }

    async fn optin_requests_since(&self, page: &PageId, person: PersonId, since: Millis) -> StoreResult<Vec<OptinRequest>> {
        let page = page.clone();
        self.engine.read(move |c| cached(c, &SINCE)?.all(params![page.as_str(), person.0, since], |r| codec::optin_request(r))).await
    }

    async fn tap_optin_request(&self, tap: OptinTap, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let OptinTap { mid, person, token_digest, expires_at, at } = tap;
        self.engine
            .write(move |c| {
                let tapped = q(c.execute(
                    "UPDATE optin_requests SET tapped_at = ?3, token_digest = ?4, token_expires_at = ?5
                     WHERE mid = ?1 AND person_id = ?2 AND tapped_at IS NULL",
                    params![mid.as_str(), person.0, at, token_digest, expires_at],
                ))? == 1;
                if tapped {
                    insert_outbox(c, &events)?;
                }
                Ok(tapped)
            })
            .await
    }

    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>> {
        let (page, token_digest) = (page.clone(), token_digest.to_string());
        self.engine.read(move |c| prepare(c, &BY_TOKEN)?.optional(params![token_digest, page.as_str()], |r| codec::optin_request(r))).await
    }

    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        self.engine
            .write(move |c| {
                let spent = q(c.execute(
                    "UPDATE optin_requests SET last_sent_at = ?3
                     WHERE token_digest = ?1 AND page_id = ?2 AND stopped_at IS NULL AND token_expires_at > ?3
                       AND (last_sent_at IS NULL OR last_sent_at <= ?4)",
                    params![spend.digest, spend.page.as_str(), message.created_at, spend.period_start],
                ))? == 1;
                if spent {
                    append_message(c, &message, &events)?;
                }
                Ok(spent)
            })
            .await
    }

    async fn notification_tokens(&self, page: &PageId, now: Millis, after: Option<(Millis, Mid)>, limit: u32) -> StoreResult<Vec<(OptinRequest, Psid)>> {
        let page = page.clone();
        let (after_at, after_mid) = after.map_or((None, None), |(at, mid)| (Some(at), Some(mid.0)));
        self.engine
            .read(move |c| {
                cached(c, &TOKENS)?.all(params![page.as_str(), codec::text(OptinKind::OneTime), now, after_at, after_mid, limit], |r| Ok((codec::optin_request(r)?, Psid(r.text("psid")?))))
            })
            .await
    }

    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let mid = mid.clone();
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE optin_requests SET stopped_at = ?2 WHERE mid = ?1", params![mid.as_str(), stopped_at]))?;
                insert_outbox(c, &events)
            })
            .await
    }
}
