//! How PostgreSQL plans the dispatcher's hot lookups. A connection keeps a
//! statement's generic plan for its life, planned with whatever statistics there
//! were at its first use: a plan that reads an app's whole backlog for one thread
//! makes every settle, claim and append slower as the backlog grows, so these plans
//! must not depend on the statistics.

mod common;

use common::store_and_raw;
use tokio_postgres::SimpleQueryMessage;

/// A thread's oldest pending event, as the settle's head promotion, the claim's
/// head check and the append's head check look it up.
const THREAD_HEAD: &str = "SELECT MIN(q.id) FROM outbox q
     WHERE q.app_id = $1 AND q.page_id = $2 AND q.person_id = $3 AND q.settled_at IS NULL";
/// A thread's pending events in order, as a settle leases its next run.
const THREAD_RUN: &str = "SELECT q.id FROM outbox q
     WHERE q.app_id = $1 AND q.page_id = $2 AND q.person_id = $3 AND q.settled_at IS NULL ORDER BY q.id LIMIT 100";

/// The generic plan of `sql` (parameters: an app, a Page, a person), as text.
async fn generic_plan(raw: &tokio_postgres::Client, name: &str, sql: &str) -> String {
    let script = format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE {name}(text, text, bigint) AS {sql}; EXPLAIN EXECUTE {name}('app', 'page', 1); DEALLOCATE {name}"
    );
    let messages = raw.simple_query(&script).await.expect("explained");
    let lines: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .collect();
    lines.join("\n")
}

#[tokio::test]
async fn a_threads_pending_events_are_looked_up_on_the_threads_index_whatever_the_statistics() {
    // The store migrates the schema; the plans are read on the raw connection.
    let Some((_store, raw)) = store_and_raw().await else { return };

    let check = |moment: &'static str| {
        let raw = &raw;
        async move {
            for (name, sql) in [("thread_head", THREAD_HEAD), ("thread_run", THREAD_RUN)] {
                let plan = generic_plan(raw, name, sql).await;
                assert!(
                    plan.contains("outbox_pending_by_thread") && !plan.contains("outbox_pending_by_app"),
                    "{name}, {moment}: planned off the thread's index:\n{plan}"
                );
            }
        }
    };
    // A new database: no statistics at all.
    check("on a new database").await;
    // Statistics taken while nothing was pending: 20,000 events of ten apps, all
    // settled, as after a quiet spell.
    raw.batch_execute(
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, settled_at)
         SELECT 'app' || (g % 10), 'page' || (g % 100), g % 1000, 'messages', '\\x00', g, g, g FROM generate_series(1, 20000) g;
         ANALYZE outbox",
    )
    .await
    .expect("a settled history");
    check("with statistics of a quiet spell").await;
    // And with a backlog since.
    raw.batch_execute(
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at)
         SELECT 'app' || (g % 10), 'page' || (g % 100), g % 1000, 'messages', '\\x00', g, g FROM generate_series(1, 20000) g",
    )
    .await
    .expect("a backlog");
    check("with a backlog the statistics do not know").await;
}
