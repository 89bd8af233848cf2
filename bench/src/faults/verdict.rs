//! The check at the end of a fault run: the ledger of acknowledged writes against
//! what the store holds and what every bot's receiver acknowledged. The promise:
//! every acknowledged write is stored, reaches its app at least once, and the
//! first arrivals of a thread's events come in the order they were written
//! (a duplicate arriving late is at-least-once, not disorder).

use crate::load::Ledger;
use crate::world::World;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use switchboard_testkit::NodeStore;
use std::time::{Duration, Instant};

/// Every `mid` the installation's store holds, read directly.
pub async fn stored_mids(store: &NodeStore) -> anyhow::Result<HashSet<String>> {
    match store {
        NodeStore::Sqlite(data) => {
            let connection = rusqlite::Connection::open_with_flags(data.join("switchboard.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let mut statement = connection.prepare("SELECT mid FROM messages")?;
            let mids = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<_, _>>()?;
            Ok(mids)
        }
        NodeStore::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            Ok(client.query("SELECT mid FROM messages", &[]).await?.iter().map(|row| row.get::<_, String>(0)).collect())
        }
    }
}

/// The counts of one fault run, as FAULTS.md shows them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub acknowledged: usize,
    /// Acknowledged, but missing from the store or never delivered.
    pub lost: usize,
    pub missing_from_store: usize,
    pub undelivered: usize,
    /// Acknowledged writes whose event reached their app.
    pub delivered: usize,
    /// Arrivals of an acknowledged write's event after its first.
    pub duplicated: usize,
    /// Events whose first arrival came after that of an event written later in the
    /// same thread.
    pub out_of_order: usize,
    /// Answers that were neither a success nor a Graph error saying to retry.
    pub unclear_answers: u64,
    pub unclear_samples: Vec<String>,
    pub hung_calls: u64,
    pub slowest_call_ms: u128,
    pub transient_refusals: u64,
    pub unreachable: u64,
    pub live_events: u64,
    pub live_reopened: u64,
    /// How long the end waited for the last delivery.
    pub settle_ms: u128,
    /// From a write's acknowledgment to its event's first arrival at the bot.
    pub delivery_p99_ms: u128,
    pub delivery_max_ms: u128,
}

/// Waits (up to `patience`) until every acknowledged write has reached its app,
/// then counts.
pub async fn check(world: &World, ledger: &Ledger, store: &NodeStore, patience: Duration) -> anyhow::Result<Counts> {
    let started = Instant::now();
    let mut arrivals = world.arrivals();
    loop {
        let arrived: HashSet<&str> = arrivals.iter().flatten().filter_map(|(_, e)| e["message"]["mid"].as_str()).collect();
        if ledger.acks.iter().all(|ack| arrived.contains(ack.mid.as_str())) || started.elapsed() > patience {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        arrivals = world.arrivals();
    }
    let settle_ms = started.elapsed().as_millis();
    let stored = stored_mids(store).await?;
    Ok(count(ledger, &stored, &arrivals, settle_ms))
}

fn count(ledger: &Ledger, stored: &HashSet<String>, arrivals: &[Vec<(Instant, Value)>], settle_ms: u128) -> Counts {
    // Each acknowledged write's place in its thread's order.
    let mut position: HashMap<&str, (usize, usize, Instant)> = HashMap::new();
    let mut per_thread: HashMap<usize, usize> = HashMap::new();
    for ack in &ledger.acks {
        let next = per_thread.entry(ack.thread).or_default();
        position.insert(ack.mid.as_str(), (ack.thread, *next, ack.at));
        *next += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut latest_first: HashMap<usize, usize> = HashMap::new();
    let mut out_of_order = 0;
    let mut delays = Vec::new();
    for (arrived, event) in arrivals.iter().flatten() {
        let Some(mid) = event["message"]["mid"].as_str() else { continue };
        let Some(&(thread, place, acknowledged)) = position.get(mid) else { continue };
        let times = seen.entry(mid).or_default();
        *times += 1;
        if *times == 1 {
            // A webhook may arrive before the write's answer reached the client.
            delays.push(arrived.saturating_duration_since(acknowledged).as_millis());
            let latest = latest_first.entry(thread).or_insert(place);
            if place < *latest {
                out_of_order += 1;
            }
            *latest = (*latest).max(place);
        }
    }
    delays.sort_unstable();
    let percentile = |p: f64| delays.get(((delays.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0);
    let missing_from_store = ledger.acks.iter().filter(|ack| !stored.contains(&ack.mid)).count();
    let undelivered = ledger.acks.iter().filter(|ack| !seen.contains_key(ack.mid.as_str())).count();
    let lost = ledger.acks.iter().filter(|ack| !stored.contains(&ack.mid) || !seen.contains_key(ack.mid.as_str())).count();
    Counts {
        acknowledged: ledger.acks.len(),
        lost,
        missing_from_store,
        undelivered,
        delivered: seen.len(),
        duplicated: seen.values().map(|times| times - 1).sum(),
        out_of_order,
        unclear_answers: ledger.unclear,
        unclear_samples: ledger.unclear_samples.clone(),
        hung_calls: ledger.hung,
        slowest_call_ms: ledger.slowest_ms,
        transient_refusals: ledger.transient,
        unreachable: ledger.unreachable,
        live_events: ledger.live_events,
        live_reopened: ledger.live_reopened,
        settle_ms,
        delivery_p99_ms: percentile(0.99),
        delivery_max_ms: delays.last().copied().unwrap_or(0),
    }
}
