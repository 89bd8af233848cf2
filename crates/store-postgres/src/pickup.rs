//! Events an app picks up itself, in PostgreSQL: the listeners and pollers
//! (`app_pickups`), the apps no dispatcher POSTs to, acknowledgments checked against
//! the app, and the pull API's transaction over the `outbox` (its settle is the
//! outbox's, thread locks first).

use crate::columns::PgRow;
use crate::errors::pg;
use crate::outbox::{delivered, settle};
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, Outcome};
use switchboard_store::*;
use deadpool_postgres::Transaction;

/// Those of `ids` that are pending events of `app`.
async fn owned_pending(client: &deadpool_postgres::Object, app: &AppId, ids: &[i64]) -> StoreResult<Vec<i64>> {
    let rows = client
        .query("SELECT id FROM outbox WHERE id = ANY($1) AND app_id = $2 AND settled_at IS NULL ORDER BY id", &[&ids, &app.as_str()])
        .await
        .map_err(pg)?;
    rows.iter().map(|r| PgRow(r).int("id")).collect()
}

/// Its statements walk the app's pending events in id order on
/// `outbox_pending_by_app`, whose `id > 0` (true of every event) they state so
/// that they alone can be planned on it (migration 0019).
async fn pull(tx: &Transaction<'_>, request: &PullRequest) -> StoreResult<Vec<OutboxEvent>> {
    let app = request.app.as_str();
    if let Some(below) = request.ack_below {
        // Handed out: marked with a lease by an earlier pull.
        let handed: Vec<i64> = tx
            .query("SELECT id FROM outbox WHERE app_id = $1 AND settled_at IS NULL AND id > 0 AND id < $2 AND lease_until > 0 ORDER BY id", &[&app, &below])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| PgRow(r).int("id"))
            .collect::<StoreResult<_>>()?;
        if !handed.is_empty() {
            settle(tx, &handed, request.now, Outcome::Delivered).await?;
            tx.execute(
                "INSERT INTO webhook_health (app_id, last_success_at) VALUES ($1, $2)
                 ON CONFLICT (app_id) DO UPDATE SET last_success_at = GREATEST(COALESCE(webhook_health.last_success_at, 0), excluded.last_success_at),
                    failing_since = NULL, alert_stage = 0",
                &[&app, &request.now],
            )
            .await
            .map_err(pg)?;
        }
    }
    let expired: Vec<i64> = tx
        .query("SELECT id FROM outbox WHERE app_id = $1 AND settled_at IS NULL AND id > 0 AND created_at < $2 ORDER BY id", &[&app, &request.give_up_before])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| PgRow(r).int("id"))
        .collect::<StoreResult<_>>()?;
    if !expired.is_empty() {
        tx.execute("UPDATE outbox SET last_error = 'not acknowledged by a poller within the retry horizon' WHERE id = ANY($1)", &[&expired])
            .await
            .map_err(pg)?;
        settle(tx, &expired, request.now, Outcome::Dead).await?;
    }
    let rows = tx
        .query(
            "UPDATE outbox SET lease_until = $3 WHERE id IN (
                SELECT id FROM outbox WHERE app_id = $1 AND settled_at IS NULL AND id > 0 ORDER BY id LIMIT $2)
             RETURNING id, app_id, page_id, person_id, field, body, created_at, failures, first_failure_at",
            &[&app, &i64::from(request.limit), &request.lease_until],
        )
        .await
        .map_err(pg)?;
    let mut events = rows.iter().map(|r| codec::outbox_event(&PgRow(r))).collect::<StoreResult<Vec<_>>>()?;
    // RETURNING has no order.
    events.sort_by_key(|event| event.id);
    Ok(events)
}

#[async_trait]
impl PickupStore for PostgresStore {
    async fn hold_pickup(&self, pickup: &Pickup, now: Millis) -> StoreResult<bool> {
        let client = self.client().await?;
        let (id, app, kind) = (&pickup.id, pickup.app.as_str(), codec::text(pickup.kind));
        let changed = match pickup.kind {
            PickupKind::Listener => client
                .execute(
                    "INSERT INTO app_pickups (id, app_id, kind, since, expires_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
                    &[id, &app, &kind, &pickup.since, &pickup.expires_at],
                )
                .await,
            // The one poller: taken over only once the holder has expired.
            PickupKind::Poller => client
                .execute(
                    "INSERT INTO app_pickups (id, app_id, kind, since, expires_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (app_id) WHERE kind = 'poller' DO UPDATE
                        SET id = excluded.id, since = excluded.since, expires_at = excluded.expires_at
                        WHERE app_pickups.id = excluded.id OR app_pickups.expires_at <= $6",
                    &[id, &app, &kind, &pickup.since, &pickup.expires_at, &now],
                )
                .await,
        }
        .map_err(pg)?;
        Ok(changed > 0)
    }

    async fn drop_pickup(&self, id: &str) -> StoreResult<()> {
        self.client().await?.execute("DELETE FROM app_pickups WHERE id = $1", &[&id]).await.map_err(pg)?;
        Ok(())
    }

    async fn pickups(&self, app: &AppId, now: Millis) -> StoreResult<Vec<Pickup>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, app_id, kind, since, expires_at FROM app_pickups WHERE app_id = $1 AND expires_at > $2 ORDER BY since, id",
                &[&app.as_str(), &now],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::pickup(&PgRow(r))).collect()
    }

    async fn held_apps(&self, now: Millis) -> StoreResult<Vec<AppId>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT app_id FROM app_subscriptions WHERE object = 'page' AND active AND (delivery <> 'webhook' OR callback_url = '')
                 UNION SELECT app_id FROM app_pickups WHERE kind = 'listener' AND expires_at > $1 ORDER BY app_id",
                &[&now],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| Ok(AppId(PgRow(r).text("app_id")?))).collect()
    }

    async fn make_due(&self, app: &AppId, now: Millis) -> StoreResult<u64> {
        self.client()
            .await?
            .execute(
                "UPDATE outbox SET next_attempt_at = $2 WHERE app_id = $1 AND settled_at IS NULL AND next_attempt_at > $2",
                &[&app.as_str(), &now],
            )
            .await
            .map_err(pg)
    }

    async fn acknowledge(&self, app: &AppId, ids: &[i64], at: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let owned = owned_pending(&client, app, ids).await?;
        if owned.is_empty() {
            return Ok(0);
        }
        if let Err(error) = delivered(&client, &owned, at, None).await {
            // The connection goes back to the pool outside any transaction.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(error);
        }
        Ok(owned.len() as u64)
    }

    async fn pull(&self, request: &PullRequest) -> StoreResult<Vec<OutboxEvent>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let events = pull(&tx, request).await?;
        tx.commit().await.map_err(pg)?;
        Ok(events)
    }
}
