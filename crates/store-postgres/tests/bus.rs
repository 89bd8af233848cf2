//! The bus between nodes on a real PostgreSQL server: what one node publishes in a
//! burst (grouped into few statements) reaches another node whole and in order.

mod common;

use common::database_url;
use std::time::Duration;
use switchboard_store::{Bus, BusMessage};
use switchboard_store_postgres::PostgresBus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_publishes_reaches_another_node_whole_and_in_order() {
    let Some(url) = database_url() else { return };
    let timeout = Duration::from_secs(5);
    let publisher = PostgresBus::connect(&url, timeout).await.expect("the bus connects");
    let listener = PostgresBus::connect(&url, timeout).await.expect("the bus connects");
    let mut heard = listener.subscribe();
    // Other tests may share the channel: this run's topic is its own.
    let topic = format!("burst-{}", std::process::id());
    let burst = 1_000;
    // Queued without waiting, in order, as the relay announces live events; the
    // last one waits for its commit, which follows every group before it.
    for n in 0..burst - 1 {
        publisher.send(BusMessage { topic: topic.clone(), payload: format!("{{\"n\":{n}}}") });
    }
    let last = BusMessage { topic: topic.clone(), payload: format!("{{\"n\":{}}}", burst - 1) };
    publisher.publish(last).await.expect("published");
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.len() < burst {
        let message = tokio::time::timeout_at(deadline, heard.recv()).await.expect("every message arrives in time").expect("no message lost by lag");
        if message.topic == topic {
            received.push(message.payload);
        }
    }
    let expected: Vec<String> = (0..burst).map(|n| format!("{{\"n\":{n}}}")).collect();
    assert_eq!(received, expected);
}
