//! The delivery engine's records in SQLite: settling events (delivered or dead), the
//! attempt log, endpoint health, alerts, replay and pruning. Each function runs
//! inside one write (or read) of the engine, so it is one transaction.

use crate::q;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_domain::*;
use switchboard_store::*;

const EVENT_COLUMNS: &str =
    "id, app_id, page_id, person_id, field, created_at, failures, next_attempt_at, settled_at, outcome, last_error, replayed_at";
const ATTEMPT_COLUMNS: &str = "a.id, a.app_id, a.url, a.attempted_at, a.latency_ms, a.kind, a.status, a.error, a.excerpt, a.events";

/// A thread of one app: (app, Page, person).
type Thread = (String, String, i64);

/// Settles pending events (`delivered` or `dead`); each thread's next pending event
/// becomes its head. Answers the threads whose events were settled.
pub fn settle(c: &Connection, ids: &[i64], at: Millis, outcome: &str) -> StoreResult<Vec<Thread>> {
    let mut done = q(c.prepare_cached(
        "UPDATE outbox SET settled_at = ?2, outcome = ?3, lease_until = 0, is_head = 0
         WHERE id = ?1 AND settled_at IS NULL RETURNING app_id, page_id, person_id",
    ))?;
    let mut promote = q(c.prepare_cached(
        "UPDATE outbox SET is_head = 1 WHERE id = (
            SELECT MIN(id) FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL)",
    ))?;
    let mut threads = Vec::new();
    for id in ids {
        let thread: Option<Thread> = q(done.query_row(params![id, at, outcome], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())?;
        if let Some(thread) = thread {
            q(promote.execute(params![thread.0, thread.1, thread.2]))?;
            if !threads.contains(&thread) {
                threads.push(thread);
            }
        }
    }
    Ok(threads)
}

pub fn delivered(c: &Connection, ids: &[i64], at: Millis, lease_until: Option<Millis>) -> StoreResult<Vec<OutboxEvent>> {
    let threads = settle(c, ids, at, "delivered")?;
    let mut healthy = q(c.prepare_cached(
        "INSERT INTO webhook_health (app_id, last_success_at) VALUES (?1, ?2)
         ON CONFLICT (app_id) DO UPDATE SET
            last_success_at = MAX(COALESCE(last_success_at, 0), excluded.last_success_at),
            failing_since = NULL, alert_stage = 0",
    ))?;
    let mut apps: Vec<&str> = threads.iter().map(|(app, _, _)| app.as_str()).collect();
    apps.dedup();
    for app in apps {
        q(healthy.execute(params![app, at]))?;
    }
    let Some(lease_until) = lease_until else { return Ok(Vec::new()) };
    let mut lease = q(c.prepare_cached(
        "UPDATE outbox SET lease_until = ?4 WHERE id = (
            SELECT MIN(id) FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL)
           AND is_head = 1 AND next_attempt_at <= ?5 AND lease_until <= ?5
         RETURNING id, app_id, page_id, person_id, field, body, created_at, failures, first_failure_at",
    ))?;
    let mut next = Vec::new();
    for (app, page, person) in &threads {
        if let Some(event) = q(lease.query_row(params![app, page, person, lease_until, at], crate::rows::outbox_event).optional())? {
            next.push(event);
        }
    }
    Ok(next)
}

pub fn failed(c: &Connection, attempt: &FailedAttempt) -> StoreResult<()> {
    q(c.prepare_cached(
        "INSERT INTO delivery_attempts (app_id, url, attempted_at, latency_ms, kind, status, error, excerpt, events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            attempt.app.as_str(),
            attempt.url,
            attempt.attempted_at,
            attempt.latency_ms,
            attempt.kind.as_str(),
            attempt.status,
            attempt.error,
            attempt.excerpt,
            attempt.retries.len() as i64
        ])
    }))?;
    let attempt_id = c.last_insert_rowid();
    let mut link = q(c.prepare_cached("INSERT OR IGNORE INTO attempt_events (event_id, attempt_id) VALUES (?1, ?2)"))?;
    let mut retry = q(c.prepare_cached(
        "UPDATE outbox SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, ?2),
            next_attempt_at = ?3, last_error = ?4, lease_until = 0
         WHERE id = ?1 AND settled_at IS NULL",
    ))?;
    let mut give_up = q(c.prepare_cached(
        "UPDATE outbox SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, ?2), last_error = ?3
         WHERE id = ?1 AND settled_at IS NULL",
    ))?;
    let mut dead = Vec::new();
    for (id, next) in &attempt.retries {
        q(link.execute(params![id, attempt_id]))?;
        match next {
            Some(next) => q(retry.execute(params![id, attempt.attempted_at, next, attempt.error]))?,
            None => {
                dead.push(*id);
                q(give_up.execute(params![id, attempt.attempted_at, attempt.error]))?
            }
        };
    }
    settle(c, &dead, attempt.attempted_at, "dead")?;
    q(c.prepare_cached(
        "INSERT INTO webhook_health (app_id, failing_since, last_error_at, last_error) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (app_id) DO UPDATE SET
            failing_since = COALESCE(failing_since, excluded.failing_since),
            last_error_at = excluded.last_error_at, last_error = excluded.last_error",
    )
    .and_then(|mut s| s.execute(params![attempt.app.as_str(), attempt.attempted_at, attempt.error])))?;
    Ok(())
}

pub fn escalate(c: &Connection, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis) -> StoreResult<Option<Alert>> {
    let health: Option<(Option<Millis>, i64, Option<String>)> = q(c
        .query_row("SELECT failing_since, alert_stage, last_error FROM webhook_health WHERE app_id = ?1", [app.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional())?;
    let Some((Some(since), stage, last_error)) = health else { return Ok(None) };
    let last_error = last_error.unwrap_or_default();
    let (kind, message, pages) = if now - since >= disable_after {
        // A new failing spell starts from here: the next alert needs a new spell.
        q(c.execute(
            "UPDATE webhook_health SET failing_since = NULL, alert_stage = 0, disabled_at = ?2 WHERE app_id = ?1",
            params![app.as_str(), now],
        ))?;
        let pages: Vec<String> = q(c
            .prepare("SELECT DISTINCT page_id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL ORDER BY page_id")
            .and_then(|mut s| s.query_map([app.as_str()], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()))?;
        for page in &pages {
            q(c.execute("DELETE FROM page_subscriptions WHERE app_id = ?1 AND page_id = ?2", params![app.as_str(), page]))?;
        }
        let pending: Vec<i64> = q(c
            .prepare("SELECT id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL ORDER BY id")
            .and_then(|mut s| s.query_map([app.as_str()], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()))?;
        settle(c, &pending, now, "dead")?;
        let message = AlertKind::Disabled.message(now - since, &last_error, pages.len(), pending.len());
        (AlertKind::Disabled, message, pages)
    } else if now - since >= alert_after && stage < 1 {
        q(c.execute("UPDATE webhook_health SET alert_stage = 1 WHERE app_id = ?1", [app.as_str()]))?;
        let message = AlertKind::Failing.message(now - since, &last_error, 0, 0);
        (AlertKind::Failing, message, Vec::new())
    } else {
        return Ok(None);
    };
    q(c.execute(
        "INSERT INTO webhook_alerts (app_id, kind, created_at, message, pages) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app.as_str(), kind.as_str(), now, message, pages.join(",")],
    ))?;
    Ok(Some(Alert {
        id: c.last_insert_rowid(),
        app: app.clone(),
        kind,
        created_at: now,
        message,
        pages: pages.into_iter().map(PageId).collect(),
    }))
}

fn attempt_row(r: &Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        id: r.get(0)?,
        app: AppId(r.get(1)?),
        url: r.get(2)?,
        attempted_at: r.get(3)?,
        latency_ms: r.get(4)?,
        kind: FailureKind::parse(&r.get::<_, String>(5)?).unwrap_or(FailureKind::Other),
        status: r.get(6)?,
        error: r.get(7)?,
        excerpt: r.get(8)?,
        events: r.get(9)?,
    })
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: r.get(0)?,
        app: AppId(r.get(1)?),
        page: PageId(r.get(2)?),
        person: PersonId(r.get(3)?),
        field: WebhookField::parse(&r.get::<_, String>(4)?).unwrap_or(WebhookField::Messages),
        created_at: r.get(5)?,
        failures: r.get(6)?,
        next_attempt_at: r.get(7)?,
        settled_at: r.get(8)?,
        state: EventState::from_outcome(r.get::<_, Option<String>>(9)?.as_deref()),
        last_error: r.get(10)?,
        replayed_at: r.get(11)?,
    })
}

pub fn recent_failures(c: &Connection, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
    let mut s = q(c.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts a WHERE a.app_id = ?1 ORDER BY a.attempted_at DESC, a.id DESC LIMIT ?2"
    )))?;
    let rows = q(s.query_map(params![app.as_str(), limit], attempt_row))?;
    q(rows.collect())
}

pub fn event_history(c: &Connection, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
    let event = q(c
        .query_row(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id = ?1 AND app_id = ?2"), params![id, app.as_str()], event_row)
        .optional())?;
    let Some(event) = event else { return Ok(None) };
    let mut s = q(c.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempt_events e JOIN delivery_attempts a ON a.id = e.attempt_id
         WHERE e.event_id = ?1 ORDER BY a.attempted_at, a.id"
    )))?;
    let attempts = q(q(s.query_map([id], attempt_row))?.collect())?;
    Ok(Some((event, attempts)))
}

pub fn events_of(c: &Connection, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>> {
    let mut s = q(c.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE app_id = ?1 AND created_at BETWEEN ?2 AND ?3
           AND (?4 IS NULL OR COALESCE(outcome, 'pending') = ?4)
         ORDER BY created_at DESC, id DESC LIMIT ?5"
    )))?;
    let rows = q(s.query_map(params![app.as_str(), from, to, state.map(|s| s.as_str()), limit], event_row))?;
    q(rows.collect())
}

pub fn endpoint_health(c: &Connection, app: &AppId) -> StoreResult<EndpointHealth> {
    let mut health = q(c
        .query_row(
            "SELECT failing_since, last_error_at, last_error, last_success_at, disabled_at FROM webhook_health WHERE app_id = ?1",
            [app.as_str()],
            |r| {
                Ok(EndpointHealth {
                    failing_since: r.get(0)?,
                    last_error_at: r.get(1)?,
                    last_error: r.get(2)?,
                    last_success_at: r.get(3)?,
                    disabled_at: r.get(4)?,
                    ..EndpointHealth::default()
                })
            },
        )
        .optional())?
    .unwrap_or_default();
    (health.pending, health.oldest_pending_at) = q(c.query_row(
        "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE app_id = ?1 AND settled_at IS NULL",
        [app.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    health.dead = q(c.query_row(
        "SELECT COUNT(*) FROM outbox WHERE app_id = ?1 AND outcome = 'dead' AND replayed_at IS NULL",
        [app.as_str()],
        |r| r.get(0),
    ))?;
    Ok(health)
}

pub fn alerts(c: &Connection, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
    let mut s = q(c.prepare_cached(
        "SELECT id, app_id, kind, created_at, message, pages FROM webhook_alerts WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2",
    ))?;
    let rows = q(s.query_map(params![app.as_str(), limit], |r| {
        let pages: String = r.get(5)?;
        Ok(Alert {
            id: r.get(0)?,
            app: AppId(r.get(1)?),
            kind: AlertKind::parse(&r.get::<_, String>(2)?).unwrap_or(AlertKind::Failing),
            created_at: r.get(3)?,
            message: r.get(4)?,
            pages: pages.split(',').filter(|p| !p.is_empty()).map(|p| PageId(p.to_string())).collect(),
        })
    }))?;
    q(rows.collect())
}

pub fn replay(c: &Connection, app: &AppId, selection: &ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
    let chosen: Vec<(i64, bool)> = match selection {
        ReplaySelection::One(id) => q(c
            .query_row("SELECT id, settled_at IS NULL FROM outbox WHERE id = ?1 AND app_id = ?2", params![id, app.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional())?
        .into_iter()
        .collect(),
        ReplaySelection::DeadBetween { from, to } => q(c
            .prepare(
                "SELECT id, 0 FROM outbox WHERE app_id = ?1 AND outcome = 'dead' AND replayed_at IS NULL
                   AND created_at BETWEEN ?2 AND ?3 ORDER BY id",
            )
            .and_then(|mut s| s.query_map(params![app.as_str(), from, to], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()))?,
    };
    let mut due_now = q(c.prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1"))?;
    // A settled event goes again as a new one at the end of its thread, same bytes.
    let mut copy = q(c.prepare_cached(
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
         SELECT app_id, page_id, person_id, field, body, created_at, ?2, NOT EXISTS (
            SELECT 1 FROM outbox p WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
              AND p.settled_at IS NULL)
         FROM outbox o WHERE id = ?1",
    ))?;
    let mut mark = q(c.prepare_cached("UPDATE outbox SET replayed_at = ?2 WHERE id = ?1 AND outcome = 'dead'"))?;
    let mut queued = Vec::with_capacity(chosen.len());
    for (id, pending) in chosen {
        if pending {
            q(due_now.execute(params![id, now]))?;
            queued.push(id);
        } else {
            q(copy.execute(params![id, now]))?;
            queued.push(c.last_insert_rowid());
            q(mark.execute(params![id, now]))?;
        }
    }
    Ok(queued)
}

pub fn prune(c: &Connection, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
    let deleted = q(c.execute(
        "DELETE FROM outbox WHERE settled_at IS NOT NULL
           AND ((outcome = 'delivered' AND settled_at < ?1) OR (outcome = 'dead' AND settled_at < ?2))",
        params![delivered_before, dead_before],
    ))?;
    q(c.execute(
        "DELETE FROM attempt_events WHERE attempt_id IN (SELECT id FROM delivery_attempts WHERE attempted_at < ?1)",
        [dead_before],
    ))?;
    q(c.execute("DELETE FROM delivery_attempts WHERE attempted_at < ?1", [dead_before]))?;
    Ok(deleted as u64)
}
