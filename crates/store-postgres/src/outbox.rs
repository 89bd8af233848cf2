//! The webhook outbox (`outbox`) and what becomes of its events: claims (leases, with
//! `FOR UPDATE SKIP LOCKED` so that nodes split the work), settling events delivered
//! or dead, the attempt log (`delivery_attempts`, `attempt_events`), endpoint health
//! (`webhook_health`), alerts (`webhook_alerts`), replay, pruning and delivery
//! statistics. Also the insertion of outbox rows that come without a message, for
//! the other aggregates (messages bring theirs through `batch`).
//!
//! Lock order, the same everywhere: thread rows (by Page, person), then the app's
//! `webhook_health` row. Whoever changes which event is a thread's head holds the
//! thread's row lock, as the append batcher does.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::{query_generic, Commit, PostgresStore, BEGIN_GENERIC};
use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use std::collections::BTreeMap;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, Outcome, ATTEMPT_COLUMNS_OF_A, EVENT_RECORD_COLUMNS};
use switchboard_store::*;

/// Takes a thread's row lock, which every writer of its outbox rows holds (a
/// thread's head is decided under it), and answers who owns the thread. Page-level
/// events (person 0, such as `app_roles`) have no thread: the Page's row stands in.
pub(crate) async fn lock_thread(tx: &Transaction<'_>, page: &str, person: i64) -> StoreResult<Option<AppId>> {
    let mut owners = lock_threads_of(tx, &[(page, person)]).await?;
    Ok(owners.remove(&(page.to_string(), person)).flatten())
}

/// Who owns each thread of a lock set: `None` for a thread with no owner or no row.
type Owners = BTreeMap<(String, i64), Option<AppId>>;

/// Takes the row locks of several threads in one round trip, in the global order
/// (Page in byte order, then person: the order of the append batcher's upserts),
/// and answers their owners. A settle that held its threads while it locked them
/// one statement at a time made every append to those threads wait that long.
pub(crate) async fn lock_threads_of(tx: &Transaction<'_>, threads: &[(&str, i64)]) -> StoreResult<Owners> {
    let mut pages: Vec<&str> = threads.iter().filter(|(_, person)| *person == 0).map(|(page, _)| *page).collect();
    pages.sort();
    pages.dedup();
    let mut owners = Owners::new();
    if !pages.is_empty() {
        tx.execute("SELECT 1 FROM pages WHERE id = ANY($1) ORDER BY id COLLATE \"C\" FOR UPDATE", &[&pages]).await.map_err(pg)?;
        owners.extend(pages.iter().map(|page| ((page.to_string(), 0), None)));
    }
    let (thread_pages, thread_persons): (Vec<&str>, Vec<i64>) = threads.iter().filter(|(_, person)| *person != 0).copied().unzip();
    if thread_pages.is_empty() {
        return Ok(owners);
    }
    // ORDER BY comes before the locking clause: rows are locked in this order.
    let rows = tx
        .query(
            "SELECT t.page_id, t.person_id, t.owner_app_id FROM threads t
             JOIN (SELECT DISTINCT * FROM UNNEST($1::text[], $2::bigint[])) AS u(p, r) ON t.page_id = u.p AND t.person_id = u.r
             ORDER BY t.page_id COLLATE \"C\", t.person_id
             FOR UPDATE OF t",
            &[&thread_pages, &thread_persons],
        )
        .await
        .map_err(pg)?;
    for row in &rows {
        let row = PgRow(row);
        owners.insert((row.text("page_id")?, row.int("person_id")?), row.opt_text("owner_app_id")?.map(AppId));
    }
    Ok(owners)
}

/// Inserts outbox rows for events that come without a message, each under its
/// thread's row lock (taking it again in the same transaction costs nothing): those
/// that reach their app given who owns the thread now.
pub(crate) async fn insert_events_locked(tx: &Transaction<'_>, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let threads: Vec<(&str, i64)> = events.iter().map(|e| (e.page.as_str(), e.person.0)).collect();
    let owners = lock_threads_of(tx, &threads).await?;
    for event in events {
        let owner = owners.get(&(event.page.0.clone(), event.person.0)).cloned().flatten();
        if !event.reaches(owner.as_ref()) {
            continue;
        }
        tx.execute(
            "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
             VALUES ($1, $2, $3, $4, $5, $6, $6, NOT EXISTS (
                SELECT 1 FROM outbox q WHERE q.app_id = $1 AND q.page_id = $2 AND q.person_id = $3 AND q.settled_at IS NULL))",
            &[&event.app.0, &event.page.0, &event.person.0, &codec::text(event.field), &event.body, &event.created_at],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// How stale an app's recorded last success may be before a success writes it again.
const HEALTH_FRESH_MS: Millis = 1_000;

// The statements that settle events name them by id, so that they can be pipelined
// behind the statements that lock the events' threads: a delivery's settle holds
// those locks for no network round trip, and the appends to its threads hardly wait.
/// The Pages of the events' page-level events (person 0), in the global order.
const LOCK_EVENT_PAGES: &str = "SELECT 1 FROM pages WHERE id IN (
        SELECT o.page_id FROM outbox o WHERE o.id = ANY($1) AND o.settled_at IS NULL AND o.person_id = 0)
     ORDER BY id COLLATE \"C\" FOR UPDATE";
/// The threads of the events' pending rows, in the global order.
const LOCK_EVENT_THREADS: &str = "SELECT 1 FROM threads t
     WHERE (t.page_id, t.person_id) IN (SELECT o.page_id, o.person_id FROM outbox o WHERE o.id = ANY($1) AND o.settled_at IS NULL)
     ORDER BY t.page_id COLLATE \"C\", t.person_id FOR UPDATE OF t";
/// Marks pending events settled with an outcome.
const SETTLE: &str = "UPDATE outbox SET settled_at = $2, outcome = $3, lease_until = 0, is_head = FALSE WHERE id = ANY($1) AND settled_at IS NULL";
/// The next pending event of each of the events' threads becomes its head.
const PROMOTE_EVENT_HEADS: &str = "UPDATE outbox SET is_head = TRUE WHERE id IN (
        SELECT (SELECT MIN(q.id) FROM outbox q WHERE q.app_id = t.app_id AND q.page_id = t.page_id AND q.person_id = t.person_id
                  AND q.settled_at IS NULL)
        FROM (SELECT DISTINCT app_id, page_id, person_id FROM outbox WHERE id = ANY($1)) t)";
/// An app's health row is written only when a success changes something: the end of
/// a failing spell, or a last success older than `HEALTH_FRESH_MS`. Every POST's
/// settle writing it made all settles of one app wait for each other while they held
/// their threads, and every append to those threads waited behind them.
const HEALTH_ROW: &str = "INSERT INTO webhook_health (app_id, last_success_at)
     SELECT DISTINCT app_id, $2::bigint FROM outbox WHERE id = ANY($1) ON CONFLICT (app_id) DO NOTHING";
const HEALTH_SUCCESS: &str = "UPDATE webhook_health SET last_success_at = GREATEST(COALESCE(last_success_at, $2::bigint), $2::bigint),
        failing_since = NULL, alert_stage = 0
     WHERE app_id IN (SELECT app_id FROM outbox WHERE id = ANY($1))
       AND (failing_since IS NOT NULL OR alert_stage <> 0 OR last_success_at IS NULL OR last_success_at < $2::bigint - $3::bigint)";
/// Leases the due runs of the events' threads, in a settle's transaction (after the
/// settle: each thread's first pending event is its new head): `$4` events of one
/// run at most, `$5` in all. The head's lease covers its run (nothing hands out an
/// event behind a head), so only heads are written. The columns of
/// codec::OUTBOX_EVENT_COLUMNS and each run's head.
const LEASE_EVENT_RUNS: &str = "WITH threads AS (SELECT DISTINCT app_id, page_id, person_id FROM outbox WHERE id = ANY($1)),
     runs AS (
        SELECT r.id, r.head FROM threads t CROSS JOIN LATERAL (
            SELECT s.id, MIN(s.id) OVER () AS head,
                   MIN(CASE WHEN s.next_attempt_at <= $3 AND s.lease_until <= $3 THEN 1 ELSE 0 END) OVER (ORDER BY s.id) AS ready
            FROM (SELECT q.id, q.next_attempt_at, q.lease_until FROM outbox q
                  WHERE q.app_id = t.app_id AND q.page_id = t.page_id AND q.person_id = t.person_id AND q.settled_at IS NULL
                  ORDER BY q.id LIMIT $4) s) r
        WHERE r.ready = 1),
     chosen AS (SELECT id, head FROM (SELECT id, head, COUNT(*) OVER (ORDER BY head, id) AS n FROM runs) c WHERE n <= $5),
     leased AS (UPDATE outbox o SET lease_until = $2 FROM chosen WHERE o.id = chosen.id AND chosen.id = chosen.head AND o.settled_at IS NULL
                RETURNING o.id)
     SELECT o.id, o.app_id, o.page_id, o.person_id, o.field, o.body, o.created_at, o.failures, o.first_failure_at, c.head
     FROM chosen c JOIN outbox o ON o.id = c.id WHERE c.head IN (SELECT id FROM leased)";

/// A claim: the due heads (`FOR UPDATE SKIP LOCKED`, so that nodes claiming at once
/// split the work; a row another node leased meanwhile is re-checked and left out),
/// leaving out the apps `$4` (or all but `$9`); each head's run of `$5` events at most; then no more
/// than each app's cap (`$6`, `$7`; `$8` for the others) and `$3` in all, counted in
/// the heads' due order so that every run keeps a prefix. Only the heads are
/// written: a head's lease covers its run. The columns of
/// codec::OUTBOX_EVENT_COLUMNS, each run's head and its due time.
const CLAIM_RUNS: &str = "WITH heads AS (
        SELECT o.id, o.app_id, o.page_id, o.person_id, o.next_attempt_at FROM outbox o
        WHERE o.settled_at IS NULL AND o.is_head AND o.next_attempt_at <= $1 AND o.lease_until <= $1
          AND NOT (o.app_id = ANY($4::text[])) AND ($9::text IS NULL OR o.app_id = $9::text)
          AND o.id = (
            SELECT MIN(p.id) FROM outbox p
            WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id AND p.settled_at IS NULL)
        ORDER BY o.next_attempt_at, o.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED),
     runs AS (
        SELECT h.app_id, h.next_attempt_at AS head_due, h.id AS head, r.id FROM heads h CROSS JOIN LATERAL (
            SELECT s.id, MIN(CASE WHEN s.id = h.id OR (s.next_attempt_at <= $1 AND s.lease_until <= $1) THEN 1 ELSE 0 END)
                         OVER (ORDER BY s.id) AS ready
            FROM (SELECT q.id, q.next_attempt_at, q.lease_until FROM outbox q
                  WHERE q.app_id = h.app_id AND q.page_id = h.page_id AND q.person_id = h.person_id AND q.settled_at IS NULL
                    AND q.id >= h.id
                  ORDER BY q.id LIMIT $5) s) r
        WHERE r.ready = 1),
     counted AS (
        SELECT id, app_id, head_due, head,
               COUNT(*) OVER (PARTITION BY app_id ORDER BY head_due, head, id) AS in_app,
               COUNT(*) OVER (ORDER BY head_due, head, id) AS in_all
        FROM runs),
     chosen AS (
        SELECT c.id, c.head_due, c.head FROM counted c
        LEFT JOIN UNNEST($6::text[], $7::bigint[]) AS cap(app_id, events) ON cap.app_id = c.app_id
        WHERE c.in_app <= COALESCE(cap.events, $8) AND c.in_all <= $3),
     leased AS (UPDATE outbox SET lease_until = $2 FROM chosen
                WHERE outbox.id = chosen.id AND chosen.id = chosen.head AND outbox.settled_at IS NULL RETURNING outbox.id)
     SELECT o.id, o.app_id, o.page_id, o.person_id, o.field, o.body, o.created_at, o.failures, o.first_failure_at, c.head_due, c.head
     FROM chosen c JOIN outbox o ON o.id = c.id WHERE c.head IN (SELECT id FROM leased)";

/// The pending events due after `$2` of the threads whose head is due after it (the
/// due index), the thread whole so that its run is not cut at the first event
/// stamped ahead, made due at `$1`. Rows locked by a claim or a settle are skipped
/// (the next look takes them): waiting for them could deadlock with a settle that
/// holds its thread.
const RECALL_FUTURE_DUE: &str = "WITH threads AS (
        SELECT DISTINCT app_id, page_id, person_id FROM outbox WHERE settled_at IS NULL AND is_head AND next_attempt_at > $2),
     stale AS (
        SELECT o.id FROM outbox o JOIN threads t ON o.app_id = t.app_id AND o.page_id = t.page_id AND o.person_id = t.person_id
        WHERE o.settled_at IS NULL AND o.next_attempt_at > $2
        FOR UPDATE OF o SKIP LOCKED),
     recalled AS (UPDATE outbox SET next_attempt_at = $1 FROM stale WHERE outbox.id = stale.id RETURNING 1)
     SELECT COUNT(*) AS recalled FROM recalled";
/// Ends the leases running past `$1` (heads only: a head's lease covers its run).
const END_FUTURE_LEASES: &str = "WITH stale AS (
        SELECT id FROM outbox WHERE settled_at IS NULL AND is_head AND lease_until > $1 FOR UPDATE SKIP LOCKED),
     unleased AS (UPDATE outbox SET lease_until = 0 FROM stale WHERE outbox.id = stale.id RETURNING 1)
     SELECT COUNT(*) AS unleased FROM unleased";

/// Locks the threads of these events' pending rows (and the Pages of page-level
/// ones), in the global order.
async fn lock_threads(tx: &Transaction<'_>, ids: &[i64]) -> StoreResult<()> {
    let (pages, threads) = (tx.prepare_cached(LOCK_EVENT_PAGES).await.map_err(pg)?, tx.prepare_cached(LOCK_EVENT_THREADS).await.map_err(pg)?);
    tx.execute(&pages, &[&ids]).await.map_err(pg)?;
    tx.execute(&threads, &[&ids]).await.map_err(pg)?;
    Ok(())
}

/// Settles pending events; each thread's next pending event becomes its head. An
/// append to a thread either committed before (and its event is promoted here) or
/// waits for the thread's lock and sees this.
pub(crate) async fn settle(tx: &Transaction<'_>, ids: &[i64], at: Millis, outcome: Outcome) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    lock_threads(tx, ids).await?;
    let (settle, promote) = (tx.prepare_cached(SETTLE).await.map_err(pg)?, tx.prepare_cached(PROMOTE_EVENT_HEADS).await.map_err(pg)?);
    let outcome = codec::text(outcome);
    let settle_params: [&(dyn ToSql + Sync); 3] = [&ids, &at, &outcome];
    let by_ids: [&(dyn ToSql + Sync); 1] = [&ids];
    // Pipelined: prepared statements go out in the order `join!` first polls them.
    let (settled, promoted) = tokio::join!(tx.execute(&settle, &settle_params), tx.execute(&promote, &by_ids));
    settled.map_err(pg)?;
    promoted.map_err(pg)?;
    Ok(())
}

/// Settles delivered events and, with `next`, leases their threads' next due runs,
/// in one transaction of its own and one round trip: every statement,
/// BEGIN and COMMIT included, is pipelined.
pub(crate) async fn delivered(client: &deadpool_postgres::Object, ids: &[i64], at: Millis, next: Option<NextRuns>) -> StoreResult<Vec<OutboxEvent>> {
    let mut statements = Vec::with_capacity(7);
    for sql in [LOCK_EVENT_PAGES, LOCK_EVENT_THREADS, SETTLE, PROMOTE_EVENT_HEADS, HEALTH_ROW, HEALTH_SUCCESS, LEASE_EVENT_RUNS] {
        // Prepared once per connection: afterwards no round trip.
        statements.push(client.prepare_cached(sql).await.map_err(pg)?);
    }
    let [lock_pages, lock_threads, settle, promote, health_row, health_success, lease] = &statements[..] else {
        unreachable!("seven statements")
    };
    let outcome = codec::text(Outcome::Delivered);
    let by_ids: [&(dyn ToSql + Sync); 1] = [&ids];
    let settle_params: [&(dyn ToSql + Sync); 3] = [&ids, &at, &outcome];
    let health_row_params: [&(dyn ToSql + Sync); 2] = [&ids, &at];
    let health_success_params: [&(dyn ToSql + Sync); 3] = [&ids, &at, &HEALTH_FRESH_MS];
    let next = next.map(|n| (n.lease_until, i64::from(n.run.max(1)), i64::from(n.events)));
    let lease_params: Option<[&(dyn ToSql + Sync); 5]> = next.as_ref().map(|(until, run, events)| [&ids as &(dyn ToSql + Sync), until, &at, run, events]);
    let lease_next = async {
        match &lease_params {
            Some(params) => client.query(lease, params).await,
            None => Ok(Vec::new()),
        }
    };
    // Requests go out in the order `join!` first polls them, and the server runs
    // them in that order: the locks are taken before anything is changed.
    let (begun, pages, threads, settled, promoted, row, success, leased, committed) = tokio::join!(
        client.batch_execute(BEGIN_GENERIC),
        client.execute(lock_pages, &by_ids),
        client.execute(lock_threads, &by_ids),
        client.execute(settle, &settle_params),
        client.execute(promote, &by_ids),
        client.execute(health_row, &health_row_params),
        client.execute(health_success, &health_success_params),
        lease_next,
        client.batch_execute("COMMIT"),
    );
    // The first error is the one that explains: the statements after it failed only
    // because the transaction was aborted, and its COMMIT rolled back.
    begun.map_err(pg)?;
    pages.map_err(pg)?;
    threads.map_err(pg)?;
    settled.map_err(pg)?;
    promoted.map_err(pg)?;
    row.map_err(pg)?;
    success.map_err(pg)?;
    let leased = leased.map_err(pg)?;
    committed.map_err(pg)?;
    in_run_order(&leased, |_| Ok(0))
}

/// Leased rows as events, each run whole and in order, the runs by (`head_key`,
/// head): RETURNING has no order.
fn in_run_order(rows: &[tokio_postgres::Row], head_key: impl Fn(&PgRow) -> StoreResult<Millis>) -> StoreResult<Vec<OutboxEvent>> {
    let mut events = rows
        .iter()
        .map(|r| {
            let row = PgRow(r);
            Ok(((head_key(&row)?, row.int("head")?), codec::outbox_event(&row)?))
        })
        .collect::<StoreResult<Vec<((Millis, i64), OutboxEvent)>>>()?;
    events.sort_by_key(|(head, event)| (*head, event.id));
    Ok(events.into_iter().map(|(_, event)| event).collect())
}

async fn failed(tx: &Transaction<'_>, attempt: &FailedAttempt) -> StoreResult<()> {
    // Only the app's own events: a listener reports its failures by id.
    let named: Vec<i64> = attempt.retries.iter().map(|(id, _)| *id).collect();
    let owned: Vec<i64> = tx
        .query("SELECT id FROM outbox WHERE id = ANY($1) AND app_id = $2", &[&named, &attempt.app.as_str()])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| PgRow(r).int("id"))
        .collect::<StoreResult<_>>()?;
    let retries: Vec<(i64, Option<Millis>)> = attempt.retries.iter().filter(|(id, _)| owned.contains(id)).copied().collect();
    let ids: Vec<i64> = retries.iter().map(|(id, _)| *id).collect();
    let dead: Vec<i64> = retries.iter().filter(|(_, next)| next.is_none()).map(|(id, _)| *id).collect();
    let (retry_ids, retry_at): (Vec<i64>, Vec<Millis>) = retries.iter().filter_map(|(id, next)| next.map(|at| (*id, at))).unzip();
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
                &codec::text(attempt.kind),
                &status,
                &attempt.error,
                &attempt.excerpt,
                &(ids.len() as i32),
            ],
        )
        .await
        .map_err(pg)?;
    let attempt_id = PgRow(&row).int("id")?;
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
        settle(tx, &dead, attempt.attempted_at, Outcome::Dead).await?;
    }
    tx.execute(
        "INSERT INTO webhook_health (app_id, failing_since, last_error_at, last_error) VALUES ($1, $2, $2, $3)
         ON CONFLICT (app_id) DO UPDATE SET
            failing_since = CASE WHEN webhook_health.failing_since IS NULL OR excluded.last_error_at - webhook_health.last_error_at > $4
                THEN excluded.failing_since ELSE LEAST(webhook_health.failing_since, excluded.failing_since) END,
            alert_stage = CASE WHEN excluded.last_error_at - webhook_health.last_error_at > $4 THEN 0 ELSE webhook_health.alert_stage END,
            last_error_at = excluded.last_error_at, last_error = excluded.last_error",
        &[&attempt.app.as_str(), &attempt.attempted_at, &attempt.error, &attempt.longest_silence],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// The stage transition and its alert, in `tx`; for `Disabled`, the pending events
/// to give up (in a second transaction, which takes the thread locks first).
async fn escalate_stage(
    tx: &Transaction<'_>,
    app: &AppId,
    now: Millis,
    alert_after: Millis,
    disable_after: Millis,
    longest_silence: Millis,
) -> StoreResult<Option<(Alert, Vec<i64>)>> {
    // The row lock makes the transition once, whichever nodes race for it.
    let Some(row) = tx
        .query_opt("SELECT failing_since, alert_stage, last_error, last_error_at FROM webhook_health WHERE app_id = $1 FOR UPDATE", &[&app.as_str()])
        .await
        .map_err(pg)?
    else {
        return Ok(None);
    };
    let row = PgRow(&row);
    let (since, stage, last_error) = (row.opt_int("failing_since")?, row.int("alert_stage")?, row.opt_text("last_error")?);
    let Some(since) = since else { return Ok(None) };
    if row.opt_int("last_error_at")?.is_none_or(|at| now - at > longest_silence) {
        return Ok(None);
    }
    let last_error = last_error.unwrap_or_default();
    let (kind, message, pages, pending) = if now - since >= disable_after {
        // A new failing spell starts from here: the next alert needs a new spell.
        tx.execute(
            "UPDATE webhook_health SET failing_since = NULL, alert_stage = 0, disabled_at = $2 WHERE app_id = $1",
            &[&app.as_str(), &now],
        )
        .await
        .map_err(pg)?;
        let pages = tx
            .query("SELECT DISTINCT page_id FROM outbox WHERE app_id = $1 AND settled_at IS NULL ORDER BY page_id", &[&app.as_str()])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| PgRow(r).text("page_id").map(PageId))
            .collect::<StoreResult<Vec<PageId>>>()?;
        let page_ids: Vec<&str> = pages.iter().map(|p| p.as_str()).collect();
        tx.execute("DELETE FROM page_subscriptions WHERE app_id = $1 AND page_id = ANY($2)", &[&app.as_str(), &page_ids])
            .await
            .map_err(pg)?;
        let pending = tx
            .query("SELECT id FROM outbox WHERE app_id = $1 AND settled_at IS NULL ORDER BY id", &[&app.as_str()])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| PgRow(r).int("id"))
            .collect::<StoreResult<Vec<i64>>>()?;
        let message = AlertKind::Disabled.message(now - since, &last_error, pages.len(), pending.len());
        (AlertKind::Disabled, message, pages, pending)
    } else if now - since >= alert_after && stage < 1 {
        tx.execute("UPDATE webhook_health SET alert_stage = 1 WHERE app_id = $1", &[&app.as_str()]).await.map_err(pg)?;
        let message = AlertKind::Failing.message(now - since, &last_error, 0, 0);
        (AlertKind::Failing, message, Vec::new(), Vec::new())
    } else {
        return Ok(None);
    };
    let row = tx
        .query_one(
            "INSERT INTO webhook_alerts (app_id, kind, created_at, message, pages) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&app.as_str(), &codec::text(kind), &now, &message, &codec::pages_text(&pages)],
        )
        .await
        .map_err(pg)?;
    let alert = Alert { id: PgRow(&row).int("id")?, app: app.clone(), kind, created_at: now, message, pages };
    Ok(Some((alert, pending)))
}

async fn replay(tx: &Transaction<'_>, app: &AppId, selection: &ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
    let dead = codec::text(Outcome::Dead);
    let rows = match selection {
        ReplaySelection::One(id) => tx
            .query(
                "SELECT id, settled_at IS NULL AS pending, page_id, person_id FROM outbox WHERE id = $1 AND app_id = $2",
                &[id, &app.as_str()],
            )
            .await
            .map_err(pg)?,
        ReplaySelection::DeadBetween { from, to } => tx
            .query(
                "SELECT id, FALSE AS pending, page_id, person_id FROM outbox WHERE app_id = $1 AND outcome = $4 AND replayed_at IS NULL
                   AND created_at BETWEEN $2 AND $3 ORDER BY id",
                &[&app.as_str(), from, to, &dead],
            )
            .await
            .map_err(pg)?,
    };
    let events = rows
        .iter()
        .map(|r| {
            let row = PgRow(r);
            Ok((row.int("id")?, row.flag("pending")?, row.text("page_id")?, row.int("person_id")?))
        })
        .collect::<StoreResult<Vec<(i64, bool, String, i64)>>>()?;
    // Copies decide their head flag under their threads' locks, taken in the global order.
    let threads: Vec<(&str, i64)> = events.iter().filter(|e| !e.1).map(|e| (e.2.as_str(), e.3)).collect();
    lock_threads_of(tx, &threads).await?;
    let mut queued = Vec::with_capacity(events.len());
    for (id, pending, _, _) in &events {
        if *pending {
            tx.execute("UPDATE outbox SET next_attempt_at = $2 WHERE id = $1", &[id, &now]).await.map_err(pg)?;
            queued.push(*id);
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
                &[id, &now],
            )
            .await
            .map_err(pg)?;
        queued.push(PgRow(&copy).int("id")?);
        tx.execute("UPDATE outbox SET replayed_at = $2 WHERE id = $1 AND outcome = $3", &[id, &now, &dead]).await.map_err(pg)?;
    }
    Ok(queued)
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limits: &ClaimLimits) -> StoreResult<Vec<OutboxEvent>> {
        let left_out = limits.apps_left_out();
        let (capped, caps): (Vec<&str>, Vec<i64>) = limits.per_app.iter().map(|(app, cap)| (app.as_str(), i64::from(*cap))).unzip();
        let (events, run, per_other_app) = (i64::from(limits.events), i64::from(limits.run.max(1)), i64::from(limits.per_other_app));
        let only_app = limits.only_app.as_ref().map(AppId::as_str);
        let params: [&(dyn ToSql + Sync); 9] = [&now, &lease_until, &events, &left_out, &run, &capped, &caps, &per_other_app, &only_app];
        // Relaxed: a lease lost in a crash only lets the events be claimed again.
        let rows = query_generic(&self.client().await?, Commit::Relaxed, CLAIM_RUNS, &params).await?;
        in_run_order(&rows, |row| row.int("head_due"))
    }

    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, next: Option<NextRuns>) -> StoreResult<Vec<OutboxEvent>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let next = delivered(&client, ids, at, next).await;
        if next.is_err() {
            // Whatever failed, the connection goes back to the pool outside any transaction.
            let _ = client.batch_execute("ROLLBACK").await;
        }
        next
    }

    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        failed(&tx, &attempt).await?;
        tx.commit().await.map_err(pg)
    }

    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis, longest_silence: Millis) -> StoreResult<Option<Alert>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let escalated = escalate_stage(&tx, app, now, alert_after, disable_after, longest_silence).await?;
        tx.commit().await.map_err(pg)?;
        let Some((alert, give_up)) = escalated else { return Ok(None) };
        // Apart, so that the thread locks come first there: if this node dies between
        // the two, the events stay pending and are retried, never lost.
        let tx = client.transaction().await.map_err(pg)?;
        settle(&tx, &give_up, now, Outcome::Dead).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Some(alert))
    }

    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {ATTEMPT_COLUMNS_OF_A} FROM delivery_attempts a WHERE a.app_id = $1 ORDER BY a.attempted_at DESC, a.id DESC LIMIT $2"),
                &[&app.as_str(), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::attempt_record(&PgRow(r))).collect()
    }

    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(&format!("SELECT {EVENT_RECORD_COLUMNS} FROM outbox WHERE id = $1 AND app_id = $2"), &[&id, &app.as_str()])
            .await
            .map_err(pg)?
        else {
            return Ok(None);
        };
        let attempts = client
            .query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS_OF_A} FROM attempt_events e JOIN delivery_attempts a ON a.id = e.attempt_id
                     WHERE e.event_id = $1 ORDER BY a.attempted_at, a.id"
                ),
                &[&id],
            )
            .await
            .map_err(pg)?;
        let event = codec::event_record(&PgRow(&row))?;
        let attempts = attempts.iter().map(|r| codec::attempt_record(&PgRow(r))).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((event, attempts)))
    }

    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>> {
        // Any state, or the events whose outcome is the state's (NULL: pending).
        let outcome = state.and_then(Outcome::of).map(codec::text);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {EVENT_RECORD_COLUMNS} FROM outbox WHERE app_id = $1 AND created_at BETWEEN $2 AND $3
                       AND ($4::bool OR outcome IS NOT DISTINCT FROM $5::text)
                     ORDER BY created_at DESC, id DESC LIMIT $6"
                ),
                &[&app.as_str(), &from, &to, &state.is_none(), &outcome, &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::event_record(&PgRow(r))).collect()
    }

    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT failing_since, last_error_at, last_error, last_success_at, disabled_at FROM webhook_health WHERE app_id = $1",
                &[&app.as_str()],
            )
            .await
            .map_err(pg)?;
        let mut health = row.as_ref().map(|r| codec::endpoint_health(&PgRow(r))).transpose()?.unwrap_or_default();
        let pending = client
            .query_one(
                "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest_pending_at FROM outbox WHERE app_id = $1 AND settled_at IS NULL",
                &[&app.as_str()],
            )
            .await
            .map_err(pg)?;
        let pending = PgRow(&pending);
        health.pending = pending.total("pending")?;
        health.oldest_pending_at = pending.opt_int("oldest_pending_at")?;
        let dead = client
            .query_one(
                "SELECT COUNT(*) AS dead FROM outbox WHERE app_id = $1 AND outcome = $2 AND replayed_at IS NULL",
                &[&app.as_str(), &codec::text(Outcome::Dead)],
            )
            .await
            .map_err(pg)?;
        health.dead = PgRow(&dead).total("dead")?;
        Ok(health)
    }

    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, app_id, kind, created_at, message, pages FROM webhook_alerts WHERE app_id = $1 ORDER BY id DESC LIMIT $2",
                &[&app.as_str(), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::alert(&PgRow(r))).collect()
    }

    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let queued = replay(&tx, app, &selection, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(queued)
    }

    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM outbox WHERE settled_at IS NOT NULL
                   AND ((outcome = $3 AND settled_at < $1) OR (outcome = $4 AND settled_at < $2))",
                &[&delivered_before, &dead_before, &codec::text(Outcome::Delivered), &codec::text(Outcome::Dead)],
            )
            .await
            .map_err(pg)?;
        client
            .execute("DELETE FROM attempt_events WHERE attempt_id IN (SELECT id FROM delivery_attempts WHERE attempted_at < $1)", &[&dead_before])
            .await
            .map_err(pg)?;
        client.execute("DELETE FROM delivery_attempts WHERE attempted_at < $1", &[&dead_before]).await.map_err(pg)?;
        Ok(deleted)
    }

    async fn outbox_next_due(&self, now: Millis) -> StoreResult<Option<Millis>> {
        // Only a thread's oldest pending event can be claimed; the due index in
        // order, past the heads leased at `now`.
        const NEXT_DUE: &str = "SELECT GREATEST(o.next_attempt_at, o.lease_until) AS due FROM outbox o
             WHERE o.settled_at IS NULL AND o.is_head
               AND (o.lease_until <= $1 OR o.next_attempt_at >= o.lease_until)
               AND o.id = (
                 SELECT MIN(p.id) FROM outbox p
                 WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                   AND p.settled_at IS NULL)
             ORDER BY o.next_attempt_at, o.id LIMIT 1";
        let rows = query_generic(&self.client().await?, Commit::Durable, NEXT_DUE, &[&now]).await?;
        rows.first().map(|row| PgRow(row).int("due")).transpose()
    }

    async fn release_leases(&self, ids: &[i64], lease_until: Millis) -> StoreResult<()> {
        // Relaxed: a release lost in a crash only leaves the lease to run out.
        const RELEASE: &str = "UPDATE outbox SET lease_until = 0 WHERE id = ANY($1) AND lease_until = $2 AND settled_at IS NULL";
        query_generic(&self.client().await?, Commit::Relaxed, RELEASE, &[&ids, &lease_until]).await?;
        Ok(())
    }

    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute("UPDATE outbox SET lease_until = lease_until + $2 WHERE settled_at IS NULL AND lease_until > $1", &[&now, &by])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn recall_future_times(&self, now: Millis, latest_due: Millis, latest_lease: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let recalled = client.query_one(RECALL_FUTURE_DUE, &[&now, &latest_due]).await.map_err(pg)?;
        let unleased = client.query_one(END_FUTURE_LEASES, &[&latest_lease]).await.map_err(pg)?;
        Ok(PgRow(&recalled).total("recalled")? + PgRow(&unleased).total("unleased")?)
    }

    async fn outbox_pending(&self) -> StoreResult<u64> {
        let row = self.client().await?.query_one("SELECT COUNT(*) AS pending FROM outbox WHERE settled_at IS NULL", &[]).await.map_err(pg)?;
        PgRow(&row).total("pending")
    }

    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT app_id, COUNT(*) AS pending FROM outbox WHERE settled_at IS NULL GROUP BY app_id ORDER BY app_id", &[])
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                Ok((AppId(row.text("app_id")?), row.total("pending")?))
            })
            .collect()
    }

    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
        let bucket_ms = bucket_ms.max(1);
        let client = self.client().await?;
        let mut buckets: BTreeMap<Millis, DeliveryBucket> = BTreeMap::new();
        let delivered = client
            .query(
                "SELECT (settled_at - $2) / $4 AS bucket, COUNT(*) AS delivered, AVG(settled_at - created_at)::float8 AS latency_avg,
                    MAX(settled_at - created_at) AS latency_max FROM outbox
                 WHERE app_id = $1 AND outcome = $5 AND settled_at >= $2 AND settled_at < $3 GROUP BY 1",
                &[&app.0, &from, &to, &bucket_ms, &codec::text(Outcome::Delivered)],
            )
            .await
            .map_err(pg)?;
        for row in &delivered {
            let row = PgRow(row);
            let bucket = buckets.entry(row.int("bucket")?).or_default();
            bucket.delivered = row.total("delivered")?;
            bucket.latency_avg_ms = row.real("latency_avg")?.round() as Millis;
            bucket.latency_max_ms = row.int("latency_max")?;
        }
        let failed = client
            .query(
                "SELECT (attempted_at - $2) / $4 AS bucket, SUM(events)::bigint AS failed FROM delivery_attempts
                 WHERE app_id = $1 AND attempted_at >= $2 AND attempted_at < $3 GROUP BY 1",
                &[&app.0, &from, &to, &bucket_ms],
            )
            .await
            .map_err(pg)?;
        for row in &failed {
            let row = PgRow(row);
            buckets.entry(row.int("bucket")?).or_default().failed = row.total("failed")?;
        }
        Ok(buckets.into_iter().map(|(index, bucket)| DeliveryBucket { start: from + index * bucket_ms, ..bucket }).collect())
    }
}
