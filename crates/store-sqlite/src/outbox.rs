//! The webhook outbox in SQLite and what becomes of its events: the `outbox` table
//! (events stored with the facts that cause them, claimed by lease a thread's run of
//! due events at a time, settled delivered or dead, replayed, pruned), the attempt log
//! (`delivery_attempts`, `attempt_events`), endpoint health (`webhook_health`),
//! alerts (`webhook_alerts`) and the delivery statistics of the console. Every
//! aggregate that writes a fact with its events stores them through
//! [`insert_outbox`].

use crate::columns::{cached, prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, Outcome, ATTEMPT_COLUMNS_OF_A, EVENT_RECORD_COLUMNS, OUTBOX_EVENT_COLUMNS};
use switchboard_store::*;

/// Stores webhook events with the fact that causes them, in its transaction: those
/// that reach their app given who owns each thread now (the writer thread holds
/// every thread, so the owner cannot change before the commit).
pub(crate) fn insert_outbox(c: &Connection, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let mut owners: BTreeMap<(&str, i64), Option<AppId>> = BTreeMap::new();
    let mut owner_of = cached(c, "SELECT owner_app_id FROM threads WHERE page_id = ?1 AND person_id = ?2")?;
    let mut reaching = Vec::with_capacity(events.len());
    for event in events {
        let key = (event.page.as_str(), event.person.0);
        let owner = match owners.get(&key) {
            Some(owner) => owner.clone(),
            None => {
                let owner = owner_of.optional(params![key.0, key.1], |r| r.opt_text("owner_app_id"))?.flatten().map(AppId);
                owners.insert(key, owner.clone());
                owner
            }
        };
        if event.reaches(owner.as_ref()) {
            reaching.push(event);
        }
    }
    insert_reaching(c, reaching)
}

/// Stores events already known to reach their apps.
pub(crate) fn insert_reaching<'e>(c: &Connection, events: impl IntoIterator<Item = &'e NewOutboxEvent>) -> StoreResult<()> {
    // An event is its thread's head when nothing of the thread is pending before it.
    let mut insert = cached(
        c,
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NOT EXISTS (
            SELECT 1 FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL))",
    )?;
    for event in events {
        q(insert.execute(params![
            event.app.as_str(),
            event.page.as_str(),
            event.person.0,
            codec::text(event.field),
            event.body,
            event.created_at
        ]))?;
    }
    Ok(())
}

/// Due thread heads in due order, for a claim to choose from; `?3`: the apps left
/// out (a JSON array); `?4`: the one app wanted, if any.
const DUE_HEADS: &str = "SELECT o.id, o.app_id, o.page_id, o.person_id FROM outbox o
     WHERE o.settled_at IS NULL AND o.is_head = 1 AND o.next_attempt_at <= ?1 AND o.lease_until <= ?1
       AND o.app_id NOT IN (SELECT value FROM json_each(?3)) AND (?4 IS NULL OR o.app_id = ?4)
       AND NOT EXISTS (
         SELECT 1 FROM outbox p
         WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
           AND p.settled_at IS NULL AND p.id < o.id)
     ORDER BY o.next_attempt_at, o.id LIMIT ?2";

/// Thread heads due after `?1`, through the due index (for `recall_future_times`).
const FUTURE_HEADS: &str = "SELECT app_id, page_id, person_id FROM outbox WHERE settled_at IS NULL AND is_head = 1 AND next_attempt_at > ?1";

/// Thread heads leased past `?2` (for `recall_future_times`).
const FUTURE_LEASES: &str = "SELECT 1 FROM outbox WHERE settled_at IS NULL AND is_head = 1 AND lease_until > ?2";

/// A thread's first pending events, in order, and whether each may go now.
static THREAD_PENDING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {OUTBOX_EVENT_COLUMNS}, next_attempt_at <= ?5 AND lease_until <= ?5 AS ready FROM outbox
         WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL ORDER BY id LIMIT ?4"
    )
});

/// Leases the run of a thread (app, Page, person): its first pending event and
/// those after it while each is due, `room` at most. Answers it in order; empty
/// when the first is not ready. The head's lease covers the run: nothing hands out
/// an event behind a head, so the rest of the run is not written (a backlog's
/// events lie on as many pages as the events).
fn lease_run(c: &Connection, thread: (&str, &str, i64), room: u32, now: Millis, lease_until: Millis) -> StoreResult<Vec<OutboxEvent>> {
    let (app, page, person) = thread;
    let pending = cached(c, &THREAD_PENDING)?.all(params![app, page, person, room, now], |r| Ok((codec::outbox_event(r)?, r.flag("ready")?)))?;
    let run: Vec<OutboxEvent> = pending.into_iter().take_while(|(_, ready)| *ready).map(|(event, _)| event).collect();
    if let Some(head) = run.first() {
        q(cached(c, "UPDATE outbox SET lease_until = ?2 WHERE id = ?1")?.execute(params![head.id, lease_until]))?;
    }
    Ok(run)
}

fn claim(c: &Connection, now: Millis, lease_until: Millis, limits: &ClaimLimits) -> StoreResult<Vec<OutboxEvent>> {
    let left_out = serde_json::to_string(&limits.apps_left_out()).expect("strings serialize");
    let heads = cached(c, DUE_HEADS)?
        .all(params![now, limits.events, left_out, limits.only_app.as_ref().map(AppId::as_str)], |r| Ok((r.text("app_id")?, r.text("page_id")?, r.int("person_id")?)))?;
    let mut taken: BTreeMap<String, u32> = BTreeMap::new();
    let mut claimed = Vec::new();
    for (app, page, person) in &heads {
        let taken_by_app = taken.entry(app.clone()).or_default();
        let room = (limits.events - claimed.len() as u32).min(limits.cap_for(app).saturating_sub(*taken_by_app)).min(limits.run.max(1));
        if room == 0 {
            continue;
        }
        let run = lease_run(c, (app, page, *person), room, now, lease_until)?;
        *taken_by_app += run.len() as u32;
        claimed.extend(run);
        if claimed.len() as u32 >= limits.events {
            break;
        }
    }
    Ok(claimed)
}

static RECENT_FAILURES: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {ATTEMPT_COLUMNS_OF_A} FROM delivery_attempts a WHERE a.app_id = ?1 ORDER BY a.attempted_at DESC, a.id DESC LIMIT ?2")
});

static EVENT: LazyLock<String> = LazyLock::new(|| format!("SELECT {EVENT_RECORD_COLUMNS} FROM outbox WHERE id = ?1 AND app_id = ?2"));

static EVENT_ATTEMPTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ATTEMPT_COLUMNS_OF_A} FROM attempt_events e JOIN delivery_attempts a ON a.id = e.attempt_id
         WHERE e.event_id = ?1 ORDER BY a.attempted_at, a.id"
    )
});

/// `?4`: whether to filter by state; `?5`: the `outcome` of that state (`NULL`:
/// pending).
static EVENTS_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {EVENT_RECORD_COLUMNS} FROM outbox WHERE app_id = ?1 AND created_at BETWEEN ?2 AND ?3
           AND (?4 = 0 OR outcome IS ?5)
         ORDER BY created_at DESC, id DESC LIMIT ?6"
    )
});

/// A thread of one app: (app, Page, person).
pub(crate) type Thread = (String, String, i64);

/// Settles pending events (delivered or dead); each thread's next pending event
/// becomes its head. Answers the threads whose events were settled.
pub(crate) fn settle(c: &Connection, ids: &[i64], at: Millis, outcome: Outcome) -> StoreResult<Vec<Thread>> {
    let mut done = cached(
        c,
        "UPDATE outbox SET settled_at = ?2, outcome = ?3, lease_until = 0, is_head = 0
         WHERE id = ?1 AND settled_at IS NULL RETURNING app_id, page_id, person_id",
    )?;
    let mut promote = cached(
        c,
        "UPDATE outbox SET is_head = 1 WHERE id = (
            SELECT MIN(id) FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL)",
    )?;
    let outcome = codec::text(outcome);
    let mut threads = Vec::new();
    for id in ids {
        let thread = done.optional(params![id, at, outcome], |r| Ok((r.text("app_id")?, r.text("page_id")?, r.int("person_id")?)))?;
        if let Some(thread) = thread.filter(|thread| !threads.contains(thread)) {
            threads.push(thread);
        }
    }
    // Once per thread, after its whole run: promoting after each event would write
    // each next one's head entry only to remove it again.
    for (app, page, person) in &threads {
        q(promote.execute(params![app, page, person]))?;
    }
    Ok(threads)
}

pub(crate) fn delivered(c: &Connection, ids: &[i64], at: Millis, next: Option<NextRuns>) -> StoreResult<Vec<OutboxEvent>> {
    let threads = settle(c, ids, at, Outcome::Delivered)?;
    let mut healthy = cached(
        c,
        "INSERT INTO webhook_health (app_id, last_success_at) VALUES (?1, ?2)
         ON CONFLICT (app_id) DO UPDATE SET
            last_success_at = MAX(COALESCE(last_success_at, 0), excluded.last_success_at),
            failing_since = NULL, alert_stage = 0",
    )?;
    let mut apps: Vec<&str> = threads.iter().map(|(app, _, _)| app.as_str()).collect();
    apps.dedup();
    for app in apps {
        q(healthy.execute(params![app, at]))?;
    }
    let Some(next) = next else { return Ok(Vec::new()) };
    let mut leased = Vec::new();
    for (app, page, person) in &threads {
        let room = next.events.saturating_sub(leased.len() as u32).min(next.run.max(1));
        if room == 0 {
            break;
        }
        leased.extend(lease_run(c, (app, page, *person), room, at, next.lease_until)?);
    }
    Ok(leased)
}

fn failed(c: &Connection, attempt: &FailedAttempt) -> StoreResult<()> {
    // Only the app's own events: a listener reports its failures by id.
    let mut owned = cached(c, "SELECT id FROM outbox WHERE id = ?1 AND app_id = ?2")?;
    let mut retries = Vec::with_capacity(attempt.retries.len());
    for (id, next) in &attempt.retries {
        if owned.optional(params![id, attempt.app.as_str()], |r| r.int("id"))?.is_some() {
            retries.push((*id, *next));
        }
    }
    q(cached(
        c,
        "INSERT INTO delivery_attempts (app_id, url, attempted_at, latency_ms, kind, status, error, excerpt, events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        attempt.app.as_str(),
        attempt.url,
        attempt.attempted_at,
        attempt.latency_ms,
        codec::text(attempt.kind),
        attempt.status,
        attempt.error,
        attempt.excerpt,
        retries.len() as i64
    ]))?;
    let attempt_id = c.last_insert_rowid();
    let mut link = cached(c, "INSERT OR IGNORE INTO attempt_events (event_id, attempt_id) VALUES (?1, ?2)")?;
    let mut retry = cached(
        c,
        "UPDATE outbox SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, ?2),
            next_attempt_at = ?3, last_error = ?4, lease_until = 0
         WHERE id = ?1 AND settled_at IS NULL",
    )?;
    let mut give_up = cached(
        c,
        "UPDATE outbox SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, ?2), last_error = ?3
         WHERE id = ?1 AND settled_at IS NULL",
    )?;
    let mut dead = Vec::new();
    for (id, next) in &retries {
        q(link.execute(params![id, attempt_id]))?;
        match next {
            Some(next) => q(retry.execute(params![id, attempt.attempted_at, next, attempt.error]))?,
            None => {
                dead.push(*id);
                q(give_up.execute(params![id, attempt.attempted_at, attempt.error]))?
            }
        };
    }
    settle(c, &dead, attempt.attempted_at, Outcome::Dead)?;
    q(cached(
        c,
        "INSERT INTO webhook_health (app_id, failing_since, last_error_at, last_error) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (app_id) DO UPDATE SET
            failing_since = CASE WHEN webhook_health.failing_since IS NULL OR excluded.last_error_at - webhook_health.last_error_at > ?4
                THEN excluded.failing_since ELSE MIN(webhook_health.failing_since, excluded.failing_since) END,
            alert_stage = CASE WHEN excluded.last_error_at - webhook_health.last_error_at > ?4 THEN 0 ELSE webhook_health.alert_stage END,
            last_error_at = excluded.last_error_at, last_error = excluded.last_error",
    )?
    .execute(params![attempt.app.as_str(), attempt.attempted_at, attempt.error, attempt.longest_silence]))?;
    Ok(())
}

fn escalate(c: &Connection, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis, longest_silence: Millis) -> StoreResult<Option<Alert>> {
    let health = prepare(c, "SELECT failing_since, alert_stage, last_error, last_error_at FROM webhook_health WHERE app_id = ?1")?
        .optional([app.as_str()], |r| Ok((r.opt_int("failing_since")?, r.int("alert_stage")?, r.opt_text("last_error")?, r.opt_int("last_error_at")?)))?;
    let Some((Some(since), stage, last_error, last_error_at)) = health else { return Ok(None) };
    if last_error_at.is_none_or(|at| now - at > longest_silence) {
        return Ok(None);
    }
    let last_error = last_error.unwrap_or_default();
    let (kind, message, pages) = if now - since >= disable_after {
        // A new failing spell starts from here: the next alert needs a new spell.
        q(c.execute(
            "UPDATE webhook_health SET failing_since = NULL, alert_stage = 0, disabled_at = ?2 WHERE app_id = ?1",
            params![app.as_str(), now],
        ))?;
        let pages = prepare(c, "SELECT DISTINCT page_id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL ORDER BY page_id")?
            .all([app.as_str()], |r| Ok(PageId(r.text("page_id")?)))?;
        for page in &pages {
            q(c.execute("DELETE FROM page_subscriptions WHERE app_id = ?1 AND page_id = ?2", params![app.as_str(), page.as_str()]))?;
        }
        let pending = prepare(c, "SELECT id FROM outbox WHERE app_id = ?1 AND settled_at IS NULL ORDER BY id")?.all([app.as_str()], |r| r.int("id"))?;
        settle(c, &pending, now, Outcome::Dead)?;
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
        params![app.as_str(), codec::text(kind), now, message, codec::pages_text(&pages)],
    ))?;
    Ok(Some(Alert { id: c.last_insert_rowid(), app: app.clone(), kind, created_at: now, message, pages }))
}

fn endpoint_health(c: &Connection, app: &AppId) -> StoreResult<EndpointHealth> {
    let mut health = prepare(c, "SELECT failing_since, last_error_at, last_error, last_success_at, disabled_at FROM webhook_health WHERE app_id = ?1")?
        .optional([app.as_str()], |r| codec::endpoint_health(r))?
        .unwrap_or_default();
    (health.pending, health.oldest_pending_at) =
        prepare(c, "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest_pending_at FROM outbox WHERE app_id = ?1 AND settled_at IS NULL")?
            .one([app.as_str()], |r| Ok((r.total("pending")?, r.opt_int("oldest_pending_at")?)))?;
    health.dead = prepare(c, "SELECT COUNT(*) AS dead FROM outbox WHERE app_id = ?1 AND outcome = ?2 AND replayed_at IS NULL")?
        .one(params![app.as_str(), codec::text(Outcome::Dead)], |r| r.total("dead"))?;
    Ok(health)
}

fn replay(c: &Connection, app: &AppId, selection: &ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
    let dead = codec::text(Outcome::Dead);
    // Each chosen event, and whether it is still pending.
    let chosen: Vec<(i64, bool)> = match selection {
        ReplaySelection::One(id) => prepare(c, "SELECT id, settled_at IS NULL AS pending FROM outbox WHERE id = ?1 AND app_id = ?2")?
            .optional(params![id, app.as_str()], |r| Ok((r.int("id")?, r.flag("pending")?)))?
            .into_iter()
            .collect(),
        ReplaySelection::DeadBetween { from, to } => prepare(
            c,
            "SELECT id FROM outbox WHERE app_id = ?1 AND outcome = ?4 AND replayed_at IS NULL
               AND created_at BETWEEN ?2 AND ?3 ORDER BY id",
        )?
        .all(params![app.as_str(), from, to, dead], |r| Ok((r.int("id")?, false)))?,
    };
    let mut due_now = cached(c, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1")?;
    // A settled event goes again as a new one at the end of its thread, same bytes.
    let mut copy = cached(
        c,
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
         SELECT app_id, page_id, person_id, field, body, created_at, ?2, NOT EXISTS (
            SELECT 1 FROM outbox p WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
              AND p.settled_at IS NULL)
         FROM outbox o WHERE id = ?1",
    )?;
    let mut mark = cached(c, "UPDATE outbox SET replayed_at = ?2 WHERE id = ?1 AND outcome = ?3")?;
    let mut queued = Vec::with_capacity(chosen.len());
    for (id, pending) in chosen {
        if pending {
            q(due_now.execute(params![id, now]))?;
            queued.push(id);
        } else {
            q(copy.execute(params![id, now]))?;
            queued.push(c.last_insert_rowid());
            q(mark.execute(params![id, now, dead]))?;
        }
    }
    Ok(queued)
}

fn prune(c: &Connection, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
    let deleted = q(c.execute(
        "DELETE FROM outbox WHERE settled_at IS NOT NULL
           AND ((outcome = ?3 AND settled_at < ?1) OR (outcome = ?4 AND settled_at < ?2))",
        params![delivered_before, dead_before, codec::text(Outcome::Delivered), codec::text(Outcome::Dead)],
    ))?;
    q(c.execute(
        "DELETE FROM attempt_events WHERE attempt_id IN (SELECT id FROM delivery_attempts WHERE attempted_at < ?1)",
        [dead_before],
    ))?;
    q(c.execute("DELETE FROM delivery_attempts WHERE attempted_at < ?1", [dead_before]))?;
    Ok(deleted as u64)
}

fn delivery_stats(c: &Connection, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
    let mut buckets: BTreeMap<Millis, DeliveryBucket> = BTreeMap::new();
    let delivered = cached(
        c,
        "SELECT (settled_at - ?2) / ?4 AS bucket, COUNT(*) AS delivered, AVG(settled_at - created_at) AS latency_avg,
            MAX(settled_at - created_at) AS latency_max FROM outbox
         WHERE app_id = ?1 AND outcome = ?5 AND settled_at >= ?2 AND settled_at < ?3 GROUP BY 1",
    )?
    .all(params![app.as_str(), from, to, bucket_ms, codec::text(Outcome::Delivered)], |r| {
        Ok((r.int("bucket")?, r.total("delivered")?, r.real("latency_avg")?, r.int("latency_max")?))
    })?;
    for (index, count, average, max) in delivered {
        let bucket = buckets.entry(index).or_default();
        bucket.delivered = count;
        bucket.latency_avg_ms = average.round() as Millis;
        bucket.latency_max_ms = max;
    }
    let failed = cached(
        c,
        "SELECT (attempted_at - ?2) / ?4 AS bucket, SUM(events) AS failed FROM delivery_attempts
         WHERE app_id = ?1 AND attempted_at >= ?2 AND attempted_at < ?3 GROUP BY 1",
    )?
    .all(params![app.as_str(), from, to, bucket_ms], |r| Ok((r.int("bucket")?, r.total("failed")?)))?;
    for (index, events) in failed {
        buckets.entry(index).or_default().failed = events;
    }
    Ok(buckets.into_iter().map(|(index, bucket)| DeliveryBucket { start: from + index * bucket_ms, ..bucket }).collect())
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limits: &ClaimLimits) -> StoreResult<Vec<OutboxEvent>> {
        let limits = limits.clone();
        // Relaxed: a lease lost in a crash only lets the events be claimed again.
        self.engine.write_relaxed(move |c| claim(c, now, lease_until, &limits)).await
    }

    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, next: Option<NextRuns>) -> StoreResult<Vec<OutboxEvent>> {
        let ids = ids.to_vec();
        self.engine.write(move |c| delivered(c, &ids, at, next)).await
    }

    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()> {
        self.engine.write(move |c| failed(c, &attempt)).await
    }

    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis, longest_silence: Millis) -> StoreResult<Option<Alert>> {
        let app = app.clone();
        self.engine.write(move |c| escalate(c, &app, now, alert_after, disable_after, longest_silence)).await
    }

    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
        let app = app.clone();
        self.engine.read(move |c| cached(c, &RECENT_FAILURES)?.all(params![app.as_str(), limit], |r| codec::attempt_record(r))).await
    }

    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let Some(event) = prepare(c, &EVENT)?.optional(params![id, app.as_str()], |r| codec::event_record(r))? else { return Ok(None) };
                let attempts = cached(c, &EVENT_ATTEMPTS)?.all([id], |r| codec::attempt_record(r))?;
                Ok(Some((event, attempts)))
            })
            .await
    }

    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let outcome = state.and_then(Outcome::of).map(codec::text);
                cached(c, &EVENTS_OF)?.all(params![app.as_str(), from, to, state.is_some(), outcome, limit], |r| codec::event_record(r))
            })
            .await
    }

    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth> {
        let app = app.clone();
        self.engine.read(move |c| endpoint_health(c, &app)).await
    }

    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT id, app_id, kind, created_at, message, pages FROM webhook_alerts WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2")?
                    .all(params![app.as_str(), limit], |r| codec::alert(r))
            })
            .await
    }

    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
        let app = app.clone();
        self.engine.write(move |c| replay(c, &app, &selection, now)).await
    }

    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
        self.engine.write(move |c| prune(c, delivered_before, dead_before)).await
    }

    async fn outbox_next_due(&self, now: Millis) -> StoreResult<Option<Millis>> {
        self.engine
            .read(move |c| {
                // The due index in order, past the heads leased at `now` (a few: those
                // in flight). A head leased beyond `now` but due later still counts.
                cached(
                    c,
                    "SELECT MAX(o.next_attempt_at, o.lease_until) AS next_due FROM outbox o
                     WHERE o.settled_at IS NULL AND o.is_head = 1
                       AND (o.lease_until <= ?1 OR o.next_attempt_at >= o.lease_until)
                       AND NOT EXISTS (
                         SELECT 1 FROM outbox p
                         WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                           AND p.settled_at IS NULL AND p.id < o.id)
                     ORDER BY o.next_attempt_at, o.id LIMIT 1",
                )?
                .optional([now], |r| r.int("next_due"))
            })
            .await
    }

    async fn release_leases(&self, ids: &[i64], lease_until: Millis) -> StoreResult<()> {
        let ids = ids.to_vec();
        // Relaxed: a release lost in a crash only leaves the lease to run out.
        self.engine
            .write_relaxed(move |c| {
                let mut release = cached(c, "UPDATE outbox SET lease_until = 0 WHERE id = ?1 AND lease_until = ?2 AND settled_at IS NULL")?;
                for id in &ids {
                    q(release.execute(params![id, lease_until]))?;
                }
                Ok(())
            })
            .await
    }

    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE outbox SET lease_until = lease_until + ?2 WHERE settled_at IS NULL AND lease_until > ?1", params![now, by]))?;
                Ok(())
            })
            .await
    }

    async fn recall_future_times(&self, now: Millis, latest_due: Millis, latest_lease: Millis) -> StoreResult<u64> {
        // Looked for on a reader first (heads only: the due index, and the few heads
        // pending), so that a quiet outbox costs the writer nothing.
        let found = self
            .engine
            .read(move |c| {
                cached(c, &format!("SELECT EXISTS ({FUTURE_HEADS}) OR EXISTS ({FUTURE_LEASES}) AS found"))?
                    .one(params![latest_due, latest_lease], |r| r.flag("found"))
            })
            .await?;
        if !found {
            return Ok(0);
        }
        // Relaxed: a recall lost in a crash is made again by the next look.
        self.engine
            .write_relaxed(move |c| {
                let threads = cached(c, FUTURE_HEADS)?.all(params![latest_due], |r| Ok((r.text("app_id")?, r.text("page_id")?, r.int("person_id")?)))?;
                // The thread whole, so that its run is not cut at the first event stamped ahead.
                let mut due_now = cached(
                    c,
                    "UPDATE outbox SET next_attempt_at = ?4
                     WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL AND next_attempt_at > ?5",
                )?;
                let mut recalled = 0;
                for (app, page, person) in &threads {
                    recalled += q(due_now.execute(params![app, page, person, now, latest_due]))? as u64;
                }
                let unleased = q(cached(c, "UPDATE outbox SET lease_until = 0 WHERE settled_at IS NULL AND is_head = 1 AND lease_until > ?1")?
                    .execute(params![latest_lease]))?;
                Ok(recalled + unleased as u64)
            })
            .await
    }

    async fn outbox_pending(&self) -> StoreResult<u64> {
        self.engine.read(|c| prepare(c, "SELECT COUNT(*) AS pending FROM outbox WHERE settled_at IS NULL")?.one([], |r| r.total("pending"))).await
    }

    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>> {
        self.engine
            .read(|c| {
                cached(c, "SELECT app_id, COUNT(*) AS pending FROM outbox WHERE settled_at IS NULL GROUP BY app_id ORDER BY app_id")?
                    .all([], |r| Ok((AppId(r.text("app_id")?), r.total("pending")?)))
            })
            .await
    }

    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
        let app = app.clone();
        self.engine.read(move |c| delivery_stats(c, &app, from, to, bucket_ms.max(1))).await
    }
}
