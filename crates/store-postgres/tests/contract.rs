//! The store contract on a real PostgreSQL server, one test per check, plus what
//! only several nodes on one database can show. Each store runs in a fresh schema of
//! the test database named by SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets one
//! up).

mod common;

use common::{database_url, fresh_schema, store};
use std::collections::HashMap;
use switchboard_domain::*;
use switchboard_store::{contract, ClaimLimits, DirectoryStore, NextRuns, OutboxEvent, NewOutboxEvent, NewPerson, OutboxStore, StoreError, ThreadStore};
use switchboard_store_postgres::PostgresStore;

/// A store for one contract check; `None` when the run opted out of PostgreSQL.
async fn fresh() -> Option<contract::Fresh> {
    let url = database_url()?;
    Some(contract::Fresh { store: store(&url, &fresh_schema()).await as contract::Shared, keep: Box::new(()) })
}

switchboard_store::contract_tests!(fresh);

async fn seed(store: &PostgresStore, persons: usize) -> Vec<PersonId> {
    store.create_page(Page { id: PageId("100".into()), name: "Shop".into(), username: "shop".into() }, None).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..persons {
        let person = NewPerson { name: format!("P{n}"), login: format!("p{n}"), password_hash: "x".into(), created_at: 0 };
        ids.push(store.create_person(person).await.unwrap().id);
    }
    ids
}

fn message(mid: &str, person: PersonId, at: Millis) -> Message {
    Message { text: Some(mid.into()), ..Message::new(Mid(mid.into()), PageId("100".into()), person, Direction::Inbound, None, at) }
}

fn event(person: PersonId, body: &str, at: Millis) -> NewOutboxEvent {
    NewOutboxEvent { app: AppId("900".into()), page: PageId("100".into()), person, field: WebhookField::Messages, body: body.as_bytes().to_vec(), created_at: at }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_at_once_deliver_each_event_once_in_thread_order() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let (node_a, node_b) = (store(&url, &schema).await, store(&url, &schema).await);
    let persons = seed(&node_a, 5).await;
    for n in 0..200i64 {
        let person = persons[n as usize % 5];
        node_a.append_message(message(&format!("m{n}"), person, n), vec![event(person, &format!("{n}"), n)]).await.unwrap();
    }
    // Every claim in the order the claims returned, both nodes together: a thread's
    // next run is leased only after its last one was settled, so that order is the
    // order a receiver would see.
    let claims = std::sync::Arc::new(std::sync::Mutex::new(Vec::<OutboxEvent>::new()));
    let claimers: Vec<_> = [node_a.clone(), node_b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, node)| {
            let claims = claims.clone();
            tokio::spawn(async move {
                let next = NextRuns { lease_until: 1_000_000, events: 7, run: 3 };
                loop {
                    // Runs of up to three; one node also follows its threads' next runs.
                    let mut claimed = node.claim_outbox(1_000, 1_000_000, &ClaimLimits::runs(7, 3)).await.unwrap();
                    if claimed.is_empty() {
                        if node.outbox_pending().await.unwrap() == 0 {
                            return;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    while !claimed.is_empty() {
                        claims.lock().unwrap().extend(claimed.iter().cloned());
                        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
                        claimed = node.outbox_delivered_then_claim(&ids, 2_000, (n == 0).then_some(next)).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for claimer in claimers {
        claimer.await.unwrap();
    }
    let all = claims.lock().unwrap().clone();
    assert_eq!(all.len(), 200, "every event exactly once");
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for event in &all {
        *seen.entry(event.id).or_default() += 1;
    }
    assert!(seen.values().all(|count| *count == 1));
    assert!(all.windows(2).any(|w| w[0].person == w[1].person), "some claims carried runs");
    let mut by_thread: HashMap<PersonId, Vec<i64>> = HashMap::new();
    for event in &all {
        by_thread.entry(event.person).or_default().push(event.body.iter().fold(0i64, |n, d| n * 10 + (d - b'0') as i64));
    }
    for (_, bodies) in by_thread {
        assert_eq!(bodies.len(), 40);
        assert!(bodies.windows(2).all(|w| w[0] < w[1]), "each thread in order: {bodies:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_appends_is_grouped_and_a_bad_member_fails_alone() {
    let Some(url) = database_url() else { return };
    let node = store(&url, &fresh_schema()).await;
    let persons = seed(&node, 10).await;
    node.append_message(message("taken", persons[0], 0), vec![event(persons[0], "first", 0)]).await.unwrap();
    let writers: Vec<_> = (0..500i64)
        .map(|n| {
            let node = node.clone();
            let person = persons[n as usize % 10];
            // One of them reuses a mid that exists.
            let mid = if n == 250 { "taken".to_string() } else { format!("b{n}") };
            tokio::spawn(async move { node.append_message(message(&mid, person, n + 1), vec![event(person, "x", n + 1)]).await })
        })
        .collect();
    let mut failures = Vec::new();
    for writer in writers {
        if let Err(error) = writer.await.unwrap() {
            failures.push(error);
        }
    }
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0], StoreError::Conflict(_)));
    assert_eq!(node.outbox_pending().await.unwrap(), 500, "499 good appends and the first one; nothing of the duplicate");
    let state = node.thread_state(&PageId("100".into()), persons[3]).await.unwrap().unwrap();
    assert!(state.last_person_at.unwrap() >= 494);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_racing_deliveries_never_strand_a_thread() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let (writer, deliverer) = (store(&url, &schema).await, store(&url, &schema).await);
    let person = seed(&writer, 1).await[0];
    const EVENTS: i64 = 300;
    let appending = tokio::spawn(async move {
        for n in 0..EVENTS {
            writer.append_message(message(&format!("r{n}"), person, n), vec![event(person, &format!("{n}"), n)]).await.unwrap();
        }
    });
    // Deliver as fast as events become heads, while the appends go on.
    let mut delivered = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while (delivered.len() as i64) < EVENTS {
        assert!(tokio::time::Instant::now() < deadline, "stranded after {} deliveries: a thread lost its head", delivered.len());
        let claimed = deliverer.claim_outbox(i64::MAX / 2, 0, &ClaimLimits::heads(10)).await.unwrap();
        for event in &claimed {
            deliverer.outbox_delivered(&[event.id], 1).await.unwrap();
            delivered.push(String::from_utf8(event.body.clone()).unwrap().parse::<i64>().unwrap());
        }
        if claimed.is_empty() {
            tokio::task::yield_now().await;
        }
    }
    appending.await.unwrap();
    assert_eq!(delivered, (0..EVENTS).collect::<Vec<_>>(), "in order, each once");
}
