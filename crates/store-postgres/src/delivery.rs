//! The delivery engine's records in PostgreSQL: settling events (delivered or dead),
//! the attempt log, endpoint health, alerts, replay and pruning.
//!
//! Lock order, the same everywhere: thread rows (by Page, person), then the app's
//! `webhook_health` row. Whoever changes which event is a thread's head holds the
//! thread's row lock, as the append batcher does.

use crate::errors::pg;
use deadpool_postgres::Transaction;
use switchboard_domain::*;
use switchboard_store::*;
use tokio_postgres::Row;

const EVENT_COLUMNS: &str =
    "id, app_id, page_id, person_id, field, created_at, failures, next_attempt_at, settled_at, outcome, last_error, replayed_at";
const ATTEMPT_COLUMNS: &str = "a.id, a.app_id, a.url, a.attempted_at, a.latency_ms, a.kind, a.status, a.error, a.excerpt, a.events";

/// Locks the threads of these events' pending rows, in the global order.
async fn lock_threads(tx: &Transaction<'_>, ids: &[i64]) -> StoreResult<Vec<(String, String, i64)>> {
    let rows = tx
        .query(
            "SELECT DISTINCT o.app_id, o.page_id, o.person_id FROM outbox o WHERE o.id = ANY($1) AND o.settled_at IS NULL
             ORDER BY o.page_id, o.person_id, o.app_id",
            &[&ids],
        )
        .await
        .map_err(pg)?;
    let threads: Vec<(String, String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    for (_, page, person) in &threads {
        tx.execute("SELECT 1 FROM threads WHERE page_id = $1 AND person_id = $2 FOR UPDATE", &[page, person]).await.map_err(pg)?;
    }
    Ok(threads)
}

/// Settles pending events (`delivered` or `dead`); each thread's next pending event
/// becomes its head. An append to a thread either committed before (and its event is
/// promoted here) or waits for the thread's lock and sees this. Answers the threads.
pub async fn settle(tx: &Transaction<'_>, ids: &[i64], at: Millis, outcome: &str) -> StoreResult<Vec<(String, String, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let threads = lock_threads(tx, ids).await?;
    tx.execute(
        "UPDATE outbox SET settled_at = $2, outcome = $3, lease_until = 0, is_head = FALSE WHERE id = ANY($1) AND settled_at IS NULL",
        &[&ids, &at, &outcome],
    )
    .await
    .map_err(pg)?;
    for (app, page, person) in &threads {
        tx.execute(
            "UPDATE outbox SET is_head = TRUE WHERE id = (
                SELECT MIN(id) FROM outbox WHERE app_id = $1 AND page_id = $2 AND person_id = $3 AND settled_at IS NULL)",
            &[app, page, person],
        )
        .await
        .map_err(pg)?;
    }
    Ok(threads)
}

pub async fn delivered(tx: &Transaction<'_>, ids: &[i64], at: Millis, lease_until: Option<Millis>) -> StoreResult<Vec<OutboxEvent>> {
    let threads = settle(tx, ids, at, "delivered").await?;
    let mut apps: Vec<&str> = threads.iter().map(|(app, _, _)| app.as_str()).collect();
    apps.sort();
    apps.dedup();
    for app in apps {
        tx.execute(
            "INSERT INTO webhook_health (app_id, last_success_at) VALUES ($1, $2)
             ON CONFLICT (app_id) DO UPDATE SET
                last_success_at = GREATEST(webhook_health.last_success_at, excluded.last_success_at),
                failing_since = NULL, alert_stage = 0",
            &[&app, &at],
        )
        .await
        .map_err(pg)?;
    }
    let Some(lease_until) = lease_until else { return Ok(Vec::new()) };
    // The threads are locked: their heads are settled here, not by another node.
    let apps: Vec<&str> = threads.iter().map(|t| t.0.as_str()).collect();
    let pages: Vec<&str> = threads.iter().map(|t| t.1.as_str()).collect();
    let persons: Vec<i64> = threads.iter().map(|t| t.2).collect();
    let rows = tx
        .query(
            "UPDATE outbox o SET lease_until = $4
             FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS t(a, p, r)
             WHERE o.app_id = t.a AND o.page_id = t.p AND o.person_id = t.r AND o.settled_at IS NULL AND o.is_head
               AND o.next_attempt_at <= $5 AND o.lease_until <= $5
             RETURNING o.id, o.app_id, o.page_id, o.person_id, o.field, o.body, o.created_at, o.failures, o.first_failure_at",
            &[&apps, &pages, &persons, &lease_until, &at],
        )
        .await
        .map_err(pg)?;
    let mut next: Vec<OutboxEvent> = rows.iter().map(crate::outbox_event_row).collect();
    next.sort_by_key(|e| e.id);
    Ok(next)
}

pub async fn failed(tx: &Transaction<'_>, attempt: &FailedAttempt) -> StoreResult<()> {
    let ids: Vec<i64> = attempt.retries.iter().map(|(id, _)| *id).collect();
    let dead: Vec<i64> = attempt.retries.iter().filter(|(_, next)| next.is_none()).map(|(id, _)| *id).collect();
    let (retry_ids, retry_at): (Vec<i64>, Vec<Millis>) = attempt.retries.iter().filter_map(|(id, next)| next.map(|at| (*id, at))).unzip();
    let status = attempt.status.map(i32::from);
    // Thread locks first (the global order), before any outbox row is touched.
    lock_threads(tx, &ids).await?;
    let row = tx
        .query_one(
            "INSERT INTO delivery_attempts (app_id, url, attempted_at, latency_ms, kind, status, error, excerpt, events)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &attempt.app.as_str(),
                &attempt.url,
                &attempt.attempted_at,
                &attempt.latency_ms,
                &attempt.kind.as_str(),
                &status,
                &attempt.error,
                &attempt.excerpt,
                &(ids.len() as i32),
            ],
        )
        .await
        .map_err(pg)?;
    let attempt_id: i64 = row.get(0);
    tx.execute(
        "INSERT INTO attempt_events (event_id, attempt_id) SELECT e, $2 FROM UNNEST($1::bigint[]) AS e ON CONFLICT DO NOTHING",
        &[&ids, &attempt_id],
    )
    .await
    .map_err(pg)?;
    tx.execute(
        "UPDATE outbox o SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, $3), last_error = $4,
            next_attempt_at = u.at, lease_until = 0
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, at) WHERE o.id = u.id AND o.settled_at IS NULL",
        &[&retry_ids, &retry_at, &attempt.attempted_at, &attempt.error],
    )
    .await
    .map_err(pg)?;
    if !dead.is_empty() {
        tx.execute(
            "UPDATE outbox SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, $2), last_error = $3
             WHERE id = ANY($1) AND settled_at IS NULL",
            &[&dead, &attempt.attempted_at, &attempt.error],
        )
        .await
        .map_err(pg)?;
        settle(tx, &dead, attempt.attempted_at, "dead").await?;
    }
    tx.execute(
        "INSERT INTO webhook_health (app_id, failing_since, last_error_at, last_error) VALUES ($1, $2, $2, $3)
         ON CONFLICT (app_id) DO UPDATE SET
            failing_since = COALESCE(webhook_health.failing_since, excluded.failing_since),
            last_error_at = excluded.last_error_at, last_error = excluded.last_error",
        &[&attempt.app.as_str(), &attempt.attempted_at, &attempt.error],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// The stage transition and its alert, in `tx`; for `Disabled`, the pending events
/// to give up (in a second transaction, which takes the thread locks first).
pub async fn escalate_stage(
    tx: &Transaction<'_>,
    app: &AppId,
    now: Millis,
    alert_after: Millis,
    disable_after: Millis,
) -> StoreResult<Option<(Alert, Vec<i64>)>> {
    // The row lock makes the transition once, whichever nodes race for it.
    let Some(row) = tx
        .query_opt("SELECT failing_since, alert_stage, last_error FROM webhook_health WHERE app_id = $1 FOR UPDATE", &[&app.as_str()])
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let (since, stage, last_error): (Option<Millis>, i32, Option<String>) = (row.get(0), row.get(1), row.get(2));
    let Some(since) = since else { return Ok(None) };
    let last_error = last_error.unwrap_or_default();
    let (kind, message, pages, pending) = if now - since >= disable_after {
        // A new failing spell starts from here: the next alert needs a new spell.
        tx.execute(
            "UPDATE webhook_health SET failing_since = NULL, alert_stage = 0, disabled_at = $2 WHERE app_id = $1",
            &[&app.as_str(), &now],
        )
        .await
        .map_err(pg)?;
        let pages: Vec<String> = tx
            .query("SELECT DISTINCT page_id FROM outbox WHERE app_id = $1 AND settled_at IS NULL ORDER BY page_id", &[&app.as_str()])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.execute("DELETE FROM page_subscriptions WHERE app_id = $1 AND page_id = ANY($2)", &[&app.as_str(), &pages])
            .await
            .map_err(pg)?;
        let pending: Vec<i64> = tx
            .query("SELECT id FROM outbox WHERE app_id = $1 AND settled_at IS NULL ORDER BY id", &[&app.as_str()])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let message = AlertKind::Disabled.message(now - since, &last_error, pages.len(), pending.len());
        (AlertKind::Disabled, message, pages, pending)
    } else if now - since >= alert_after && stage < 1 {
        tx.execute("UPDATE webhook_health SET alert_stage = 1 WHERE app_id = $1", &[&app.as_str()]).await.map_err(pg)?;
        let message = AlertKind::Failing.message(now - since, &last_error, 0, 0);
        (AlertKind::Failing, message, Vec::new(), Vec::new())
    } else {
        return Ok(None);
    };
    let id: i64 = tx
        .query_one(
            "INSERT INTO webhook_alerts (app_id, kind, created_at, message, pages) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&app.as_str(), &kind.as_str(), &now, &message, &pages.join(",")],
        )
        .await
        .map_err(pg)?
        .get(0);
    let alert = Alert { id, app: app.clone(), kind, created_at: now, message, pages: pages.into_iter().map(PageId).collect() };
    Ok(Some((alert, pending)))
}

fn attempt_row(r: &Row) -> AttemptRecord {
    AttemptRecord {
        id: r.get(0),
        app: AppId(r.get(1)),
        url: r.get(2),
        attempted_at: r.get(3),
        latency_ms: r.get(4),
        kind: FailureKind::parse(r.get(5)).unwrap_or(FailureKind::Other),
        status: r.get::<_, Option<i32>>(6).map(|s| s as u16),
        error: r.get(7),
        excerpt: r.get(8),
        events: r.get::<_, i32>(9) as u32,
    }
}

fn event_row(r: &Row) -> EventRecord {
    EventRecord {
        id: r.get(0),
        app: AppId(r.get(1)),
        page: PageId(r.get(2)),
        person: PersonId(r.get(3)),
        field: WebhookField::parse(r.get(4)).unwrap_or(WebhookField::Messages),
        created_at: r.get(5),
        failures: r.get::<_, i32>(6) as u32,
        next_attempt_at: r.get(7),
        settled_at: r.get(8),
        state: EventState::from_outcome(r.get::<_, Option<&str>>(9)),
        last_error: r.get(10),
        replayed_at: r.get(11),
    }
}

pub async fn recent_failures(c: &tokio_postgres::Client, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
    let rows = c
        .query(
            &format!("SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts a WHERE a.app_id = $1 ORDER BY a.attempted_at DESC, a.id DESC LIMIT $2"),
            &[&app.as_str(), &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(attempt_row).collect())
}

pub async fn event_history(c: &tokio_postgres::Client, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
    let Some(row) = c
        .query_opt(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id = $1 AND app_id = $2"), &[&id, &app.as_str()])
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let attempts = c
        .query(
            &format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempt_events e JOIN delivery_attempts a ON a.id = e.attempt_id
                 WHERE e.event_id = $1 ORDER BY a.attempted_at, a.id"
            ),
            &[&id],
        )
        .await
        .map_err(pg)?;
    Ok(Some((event_row(&row), attempts.iter().map(attempt_row).collect())))
}

pub async fn events_of(
    c: &tokio_postgres::Client,
    app: &AppId,
    state: Option<EventState>,
    from: Millis,
    to: Millis,
    limit: u32,
) -> StoreResult<Vec<EventRecord>> {
    let rows = c
        .query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM outbox WHERE app_id = $1 AND created_at BETWEEN $2 AND $3
                   AND ($4::text IS NULL OR COALESCE(outcome, 'pending') = $4)
                 ORDER BY created_at DESC, id DESC LIMIT $5"
            ),
            &[&app.as_str(), &from, &to, &state.map(|s| s.as_str()), &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(event_row).collect())
}

pub async fn endpoint_health(c: &tokio_postgres::Client, app: &AppId) -> StoreResult<EndpointHealth> {
    let mut health = c
        .query_opt(
            "SELECT failing_since, last_error_at, last_error, last_success_at, disabled_at FROM webhook_health WHERE app_id = $1",
            &[&app.as_str()],
        )
        .await
        .map_err(pg)?
        .map(|r| EndpointHealth {
            failing_since: r.get(0),
            last_error_at: r.get(1),
            last_error: r.get(2),
            last_success_at: r.get(3),
            disabled_at: r.get(4),
            ..EndpointHealth::default()
        })
        .unwrap_or_default();
    let pending = c
        .query_one("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE app_id = $1 AND settled_at IS NULL", &[&app.as_str()])
        .await
        .map_err(pg)?;
    health.pending = pending.get::<_, i64>(0) as u64;
    health.oldest_pending_at = pending.get(1);
    let dead = c
        .query_one("SELECT COUNT(*) FROM outbox WHERE app_id = $1 AND outcome = 'dead' AND replayed_at IS NULL", &[&app.as_str()])
        .await
        .map_err(pg)?;
    health.dead = dead.get::<_, i64>(0) as u64;
    Ok(health)
}

pub async fn alerts(c: &tokio_postgres::Client, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
    let rows = c
        .query(
            "SELECT id, app_id, kind, created_at, message, pages FROM webhook_alerts WHERE app_id = $1 ORDER BY id DESC LIMIT $2",
            &[&app.as_str(), &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| {
            let pages: &str = r.get(5);
            Alert {
                id: r.get(0),
                app: AppId(r.get(1)),
                kind: AlertKind::parse(r.get(2)).unwrap_or(AlertKind::Failing),
                created_at: r.get(3),
                message: r.get(4),
                pages: pages.split(',').filter(|p| !p.is_empty()).map(|p| PageId(p.to_string())).collect(),
            }
        })
        .collect())
}

pub async fn replay(tx: &Transaction<'_>, app: &AppId, selection: &ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
    let rows = match selection {
        ReplaySelection::One(id) => tx
            .query(
                "SELECT id, settled_at IS NULL, page_id, person_id FROM outbox WHERE id = $1 AND app_id = $2",
                &[id, &app.as_str()],
            )
            .await
            .map_err(pg)?,
        ReplaySelection::DeadBetween { from, to } => tx
            .query(
                "SELECT id, FALSE, page_id, person_id FROM outbox WHERE app_id = $1 AND outcome = 'dead' AND replayed_at IS NULL
                   AND created_at BETWEEN $2 AND $3 ORDER BY id",
                &[&app.as_str(), from, to],
            )
            .await
            .map_err(pg)?,
    };
    // Copies decide their head flag under their threads' locks, taken in the global order.
    let mut threads: Vec<(String, i64)> = rows.iter().filter(|r| !r.get::<_, bool>(1)).map(|r| (r.get(2), r.get(3))).collect();
    threads.sort();
    threads.dedup();
    for (page, person) in &threads {
        tx.execute("SELECT 1 FROM threads WHERE page_id = $1 AND person_id = $2 FOR UPDATE", &[page, person]).await.map_err(pg)?;
    }
    let mut queued = Vec::with_capacity(rows.len());
    for row in &rows {
        let (id, pending): (i64, bool) = (row.get(0), row.get(1));
        if pending {
            tx.execute("UPDATE outbox SET next_attempt_at = $2 WHERE id = $1", &[&id, &now]).await.map_err(pg)?;
            queued.push(id);
            continue;
        }
        // A settled event goes again as a new one at the end of its thread, same bytes.
        let copy = tx
            .query_one(
                "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
                 SELECT app_id, page_id, person_id, field, body, created_at, $2, (
                    SELECT MIN(p.id) FROM outbox p WHERE p.app_id = o.app_id AND p.page_id = o.page_id
                      AND p.person_id = o.person_id AND p.settled_at IS NULL) IS NULL
                 FROM outbox o WHERE id = $1 RETURNING id",
                &[&id, &now],
            )
            .await
            .map_err(pg)?;
        queued.push(copy.get(0));
        tx.execute("UPDATE outbox SET replayed_at = $2 WHERE id = $1 AND outcome = 'dead'", &[&id, &now]).await.map_err(pg)?;
    }
    Ok(queued)
}

pub async fn prune(c: &tokio_postgres::Client, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
    let deleted = c
        .execute(
            "DELETE FROM outbox WHERE settled_at IS NOT NULL
               AND ((outcome = 'delivered' AND settled_at < $1) OR (outcome = 'dead' AND settled_at < $2))",
            &[&delivered_before, &dead_before],
        )
        .await
        .map_err(pg)?;
    c.execute(
        "DELETE FROM attempt_events WHERE attempt_id IN (SELECT id FROM delivery_attempts WHERE attempted_at < $1)",
        &[&dead_before],
    )
    .await
    .map_err(pg)?;
    c.execute("DELETE FROM delivery_attempts WHERE attempted_at < $1", &[&dead_before]).await.map_err(pg)?;
    Ok(deleted)
}
