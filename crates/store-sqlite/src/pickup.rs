//! Events an app picks up itself, in SQLite: the listeners and pollers (`app_pickups`), the
//! apps no dispatcher POSTs to, acknowledgments checked against the app, and the pull
//! API's transaction over the `outbox` (its settle is the outbox's).

use crate::columns::{cached, q, Query};
use crate::outbox::{delivered, settle};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::sync::LazyLock;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, Outcome, OUTBOX_EVENT_COLUMNS};
use switchboard_store::*;

fn hold(c: &Connection, pickup: &Pickup, now: Millis) -> StoreResult<bool> {
    let kind = codec::text(pickup.kind);
    let (id, app, since, until) = (&pickup.id, pickup.app.as_str(), pickup.since, pickup.expires_at);
    let changed = match pickup.kind {
        PickupKind::Listener => q(c.execute(
            "INSERT INTO app_pickups (id, app_id, kind, since, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
            params![id, app, kind, since, until],
        ))?,
        // The one poller: taken over only once the holder has expired.
        PickupKind::Poller => q(c.execute(
            "INSERT INTO app_pickups (id, app_id, kind, since, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (app_id) WHERE kind = 'poller' DO UPDATE
                SET id = excluded.id, since = excluded.since, expires_at = excluded.expires_at
                WHERE app_pickups.id = excluded.id OR app_pickups.expires_at <= ?6",
            params![id, app, kind, since, until, now],
        ))?,
    };
    Ok(changed > 0)
}

/// Those of `ids` that are pending events of `app`.
fn owned_pending(c: &Connection, app: &AppId, ids: &[i64]) -> StoreResult<Vec<i64>> {
    let mut owned = cached(c, "SELECT id FROM outbox WHERE id = ?1 AND app_id = ?2 AND settled_at IS NULL")?;
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
        kept.extend(owned.optional(params![id, app.as_str()], |r| r.int("id"))?);
    }
    Ok(kept)
}

static FIRST_PENDING: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {OUTBOX_EVENT_COLUMNS} FROM outbox WHERE app_id = ?1 AND settled_at IS NULL ORDER BY id LIMIT ?2"));

fn pull(c: &Connection, request: &PullRequest) -> StoreResult<Vec<OutboxEvent>> {
    let app = request.app.as_str();
    if let Some(below) = request.ack_below {
        // Handed out: marked with a lease by an earlier pull.
        let handed = cached(c, "SELECT id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL AND id < ?2 AND lease_until > 0 ORDER BY id")?
            .all(params![app, below], |r| r.int("id"))?;
        delivered(c, &handed, request.now, None)?;
    }
    let expired = cached(c, "SELECT id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL AND created_at < ?2 ORDER BY id")?
        .all(params![app, request.give_up_before], |r| r.int("id"))?;
    if !expired.is_empty() {
        q(c.execute(
            "UPDATE outbox SET last_error = 'not acknowledged by a poller within the retry horizon'
             WHERE app_id = ?1 AND settled_at IS NULL AND created_at < ?2",
            params![app, request.give_up_before],
        ))?;
        settle(c, &expired, request.now, Outcome::Dead)?;
    }
    let events = cached(c, &FIRST_PENDING)?.all(params![app, request.limit], |r| codec::outbox_event(r))?;
    let mut mark = cached(c, "UPDATE outbox SET lease_until = ?2 WHERE id = ?1")?;
    for event in &events {
        q(mark.execute(params![event.id, request.lease_until]))?;
    }
    Ok(events)
}

#[async_trait]
impl PickupStore for SqliteStore {
    async fn hold_pickup(&self, pickup: &Pickup, now: Millis) -> StoreResult<bool> {
        let pickup = pickup.clone();
        self.engine.write(move |c| hold(c, &pickup, now)).await
    }

    async fn drop_pickup(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.engine.write(move |c| q(c.execute("DELETE FROM app_pickups WHERE id = ?1", [id])).map(drop)).await
    }

    async fn pickups(&self, app: &AppId, now: Millis) -> StoreResult<Vec<Pickup>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT id, app_id, kind, since, expires_at FROM app_pickups WHERE app_id = ?1 AND expires_at > ?2 ORDER BY since, id")?
                    .all(params![app.as_str(), now], |r| codec::pickup(r))
            })
            .await
    }

    async fn held_apps(&self, now: Millis) -> StoreResult<Vec<AppId>> {
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT app_id FROM app_subscriptions WHERE object = 'page' AND active = 1 AND (delivery <> 'webhook' OR callback_url = '')
                     UNION SELECT app_id FROM app_pickups WHERE kind = 'listener' AND expires_at > ?1 ORDER BY app_id",
                )?
                .all([now], |r| Ok(AppId(r.text("app_id")?)))
            })
            .await
    }

    async fn make_due(&self, app: &AppId, now: Millis) -> StoreResult<u64> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let moved = q(c.execute(
                    "UPDATE outbox SET next_attempt_at = ?2 WHERE app_id = ?1 AND settled_at IS NULL AND next_attempt_at > ?2",
                    params![app.as_str(), now],
                ))?;
                Ok(moved as u64)
            })
            .await
    }

    async fn acknowledge(&self, app: &AppId, ids: &[i64], at: Millis) -> StoreResult<u64> {
        let (app, ids) = (app.clone(), ids.to_vec());
        self.engine
            .write(move |c| {
                let owned = owned_pending(c, &app, &ids)?;
                delivered(c, &owned, at, None)?;
                Ok(owned.len() as u64)
            })
            .await
    }

    async fn pull(&self, request: &PullRequest) -> StoreResult<Vec<OutboxEvent>> {
        let request = request.clone();
        self.engine.write(move |c| pull(c, &request)).await
    }
}
