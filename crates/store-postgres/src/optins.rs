//! Notification opt-ins (`optin_requests`), one-time and recurring: the request a
//! Page's message asks (stored with the message and its events through `batch`), the
//! person's acceptance and its token, and spending the token, decided by one
//! conditional update whichever nodes race.

use crate::batch;
use crate::columns::PgRow;
use crate::errors::pg;
use crate::outbox::insert_events_locked;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, OPTIN_COLUMNS};
use switchboard_store::*;

#[async_trait]
impl OptinStore for PostgresStore {
    async fn send_optin_request(&self, request: OptinRequest, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let opened = tx
            .execute(
                "INSERT INTO optin_requests (mid, kind, page_id, person_id, title, payload, created_at, reoptin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT DO NOTHING",
                &[&request.mid.0, &codec::text(request.kind), &request.page.0, &request.person.0, &request.title, &request.payload, &request.created_at, &request.reoptin],
            )
            .await
            .map_err(pg)?
            == 1;
        if !opened {
            return Ok(false);
        }
        batch::write_in(&tx, &[(&message, events.as_slice())]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn optin_request(&self, mid: &Mid) -> StoreResult<Option<OptinRequest>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE mid = $1"), &[&mid.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::optin_request(&PgRow(r))).transpose()
    }

    async fn optin_requests_since(&self, page: &PageId, person: PersonId, since: Millis) -> StoreResult<Vec<OptinRequest>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE page_id = $1 AND person_id = $2 AND created_at >= $3 ORDER BY created_at"),
                &[&page.0, &person.0, &since],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::optin_request(&PgRow(r))).collect()
    }

    async fn tap_optin_request(&self, tap: OptinTap, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let OptinTap { mid, person, token_digest, expires_at, at } = tap;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let tapped = tx
            .execute(
                "UPDATE optin_requests SET tapped_at = $3, token_digest = $4, token_expires_at = $5
                 WHERE mid = $1 AND person_id = $2 AND tapped_at IS NULL",
                &[&mid.0, &person.0, &at, &token_digest, &expires_at],
            )
            .await
            .map_err(pg)?
            == 1;
        if !tapped {
            return Ok(false);
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {OPTIN_COLUMNS} FROM optin_requests WHERE token_digest = $1 AND page_id = $2"), &[&token_digest, &page.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::optin_request(&PgRow(r))).transpose()
    }

    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The conditional update is the one step that decides, whichever nodes race.
        let spent = tx
            .execute(
                "UPDATE optin_requests SET last_sent_at = $3
                 WHERE token_digest = $1 AND page_id = $2 AND stopped_at IS NULL AND token_expires_at > $3
                   AND (last_sent_at IS NULL OR last_sent_at <= $4)",
                &[&spend.digest, &spend.page.0, &message.created_at, &spend.period_start],
            )
            .await
            .map_err(pg)?
            == 1;
        if !spent {
            return Ok(false);
        }
        batch::write_in(&tx, &[(&message, events.as_slice())]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn notification_tokens(&self, page: &PageId, now: Millis, after: Option<(Millis, Mid)>, limit: u32) -> StoreResult<Vec<(OptinRequest, Psid)>> {
        let (after_at, after_mid) = after.map_or((None, None), |(at, mid)| (Some(at), Some(mid.0)));
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {}, s.psid FROM optin_requests o JOIN psids s ON s.page_id = o.page_id AND s.person_id = o.person_id
                     WHERE o.page_id = $1 AND o.tapped_at IS NOT NULL AND o.kind <> $2 AND o.stopped_at IS NULL AND o.token_expires_at > $3
                       AND ($4::bigint IS NULL OR o.tapped_at > $4 OR (o.tapped_at = $4 AND o.mid > $5::text))
                     ORDER BY o.tapped_at, o.mid LIMIT $6",
                    codec::optin_columns_of("o")
                ),
                &[&page.0, &codec::text(OptinKind::OneTime), &now, &after_at, &after_mid, &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| Ok((codec::optin_request(&PgRow(r))?, Psid(PgRow(r).text("psid")?)))).collect()
    }

    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("UPDATE optin_requests SET stopped_at = $2 WHERE mid = $1", &[&mid.0, &stopped_at]).await.map_err(pg)?;
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)
    }
}
