//! A node's clock jumping forwards and backwards by up to an hour under load, through
//! the fault clock (the machine's own clock is never touched), loses no webhook event
//! and leaves none stuck: every acknowledged message's event reaches the bot within
//! seconds of the clock's return, first delivered in the order of its thread, on one
//! SQLite node and on two PostgreSQL nodes whose clocks disagree; a node that died an
//! hour ahead leaves no hour-long lease. The virtual clock still refuses to go back,
//! and a node without the fault clock refuses a skew.
//!
//! Needs the built binaries (cargo build --workspace --bins) and, for the two-node
//! case, SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets it up) unless
//! SWITCHBOARD_TEST_SKIP_POSTGRES gives the reason to skip it.

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_domain::Clock;
use switchboard_testkit::{clock_of, eventually, fresh_database, set_skew, Bot, NodeProcess, NodeStore, PersonClient, TestServer, FAULT_CLOCK_ENV};

const HOUR: i64 = 3_600_000;

/// How soon after the clock's return every event has arrived: seconds (stamps left
/// ahead are brought back every second, retries are due within half a second, a
/// lease lasts 3 s), never the hour the clock was ahead.
const AFTER_THE_RETURN: Duration = Duration::from_secs(15);

/// A node on the fault clock with quick webhooks (1 s timeout, 3 s lease) and Meta's
/// retry horizon and alert and disable thresholds: a jump forward is no failing
/// spell of an hour.
async fn fault_node(name: &str, store: &NodeStore) -> NodeProcess {
    NodeProcess::start_on(name, store, 1, &[FAULT_CLOCK_ENV]).await
}

fn sqlite(dir: &tempfile::TempDir) -> NodeStore {
    NodeStore::Sqlite(dir.path().to_path_buf())
}

/// A conversation in one thread: the person and the bot take turns, each write
/// acknowledged before the next, through the nodes in turn.
struct Thread {
    person: Vec<PersonClient>,
    psid: String,
}

/// Writes in every thread until `stop`; answers each thread's acknowledged mids in
/// the order they were acknowledged (its webhook events must arrive in that order).
async fn converse(nodes: Arc<Vec<TestServer>>, bot: Arc<Bot>, threads: Vec<Thread>, stop: Arc<AtomicBool>) -> Vec<Vec<String>> {
    let writers = threads.into_iter().enumerate().map(|(n, thread)| {
        let (nodes, bot, stop) = (nodes.clone(), bot.clone(), stop.clone());
        tokio::spawn(async move {
            let mut mids = Vec::new();
            let mut turn = n;
            while !stop.load(Ordering::SeqCst) {
                turn += 1;
                let written = thread.person[turn % thread.person.len()].send("shop", &format!("person {n} turn {turn}")).await;
                mids.push(written["mid"].as_str().expect("a mid").to_string());
                let node = &nodes[turn % nodes.len()];
                let (status, sent) = node.send_text(&bot, &thread.psid, &format!("bot {n} turn {turn}")).await;
                assert_eq!(status, 200, "the Send API answers while the clock jumps: {sent}");
                mids.push(sent["message_id"].as_str().expect("a message id").to_string());
            }
            mids
        })
    });
    let mut ledger = Vec::new();
    for writer in writers.collect::<Vec<_>>() {
        ledger.push(writer.await.expect("a writer"));
    }
    ledger
}

/// Fails one POST of three until `stop`: retries are scheduled on every clock.
fn flap(bot: Arc<Bot>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = 0u32;
        while !stop.load(Ordering::SeqCst) {
            tick += 1;
            bot.receiver.fail_with(if tick.is_multiple_of(3) { 500 } else { 0 });
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bot.receiver.fail_with(0);
    })
}

/// The mid of a delivered `messaging` event, and its thread's PSID (the sender of a
/// person's message, the recipient of the bot's echo).
fn mid_and_psid(event: &Value) -> Option<(String, String)> {
    let mid = event["message"]["mid"].as_str()?.to_string();
    let psid = if event["message"]["is_echo"] == true { &event["recipient"]["id"] } else { &event["sender"]["id"] };
    Some((mid, psid.as_str()?.to_string()))
}

/// Waits, from `returned_at`, until every acknowledged mid has been delivered (else
/// fails with what `node` shows of the app's webhook), then
/// checks each thread's first deliveries against the order of its writes. Answers
/// how many deliveries were repeats (at-least-once allows them).
async fn every_event_arrives_in_order(node: &TestServer, bot: &Bot, threads: &[Thread], ledger: &[Vec<String>], returned_at: Instant) -> usize {
    let expected: usize = ledger.iter().map(Vec::len).sum();
    assert!(expected >= 20, "the load wrote {expected} messages");
    let first_deliveries = loop {
        let mut seen = HashSet::new();
        let mut first: HashMap<String, Vec<String>> = HashMap::new();
        let events = bot.receiver.acknowledged_events();
        for (mid, psid) in events.iter().filter_map(mid_and_psid) {
            if seen.insert(mid.clone()) {
                first.entry(psid).or_default().push(mid);
            }
        }
        let missing: Vec<&String> = ledger.iter().flatten().filter(|mid| !seen.contains(*mid)).collect();
        if missing.is_empty() {
            break (first, events.len() - seen.len());
        }
        if returned_at.elapsed() >= AFTER_THE_RETURN {
            // What the platform holds of them, for whoever reads the failure.
            let app = &bot.app.id;
            let (_, health) = node.console_as(&node.operator, Method::GET, &format!("/apps/{app}/webhook"), json!({})).await;
            let (_, alerts) = node.console_as(&node.operator, Method::GET, &format!("/apps/{app}/webhook/alerts"), json!({})).await;
            let (_, pending) = node.console_as(&node.operator, Method::GET, &format!("/apps/{app}/webhook/events?state=pending&limit=3"), json!({})).await;
            panic!(
                "{} of {expected} acknowledged messages still undelivered {AFTER_THE_RETURN:?} after the clock's return, among them {:?}; \
                 the endpoint: {health}; alerts: {alerts}; pending events: {pending}",
                missing.len(),
                &missing[..missing.len().min(3)]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (first, repeats) = first_deliveries;
    for (thread, mids) in threads.iter().zip(ledger) {
        let delivered: Vec<&String> = first[&thread.psid].iter().filter(|mid| mids.contains(mid)).collect();
        assert_eq!(delivered, mids.iter().collect::<Vec<_>>(), "first deliveries in the thread's order");
    }
    repeats
}

/// A Page bot taking messages and echoes, and `persons` persons who wrote to it once
/// (their PSIDs learned from the webhook), each signed in on every node.
async fn world(nodes: &[TestServer], persons: usize) -> (Bot, Vec<Thread>) {
    let bot = nodes[0].bot("shop", "messages,message_echoes").await;
    let mut threads = Vec::new();
    for n in 0..persons {
        let person = nodes[n % nodes.len()].person(&format!("person{n}")).await;
        let mut clients = Vec::new();
        for node in nodes {
            clients.push(node.sign_in(&person).await);
        }
        let hello = clients[0].send("shop", &format!("hello from {n}")).await["mid"].as_str().unwrap().to_string();
        let first = bot.receiver.wait_for("the first message", |e| e["message"]["mid"] == hello.as_str()).await;
        threads.push(Thread { person: clients, psid: first["sender"]["id"].as_str().unwrap().to_string() });
    }
    (bot, threads)
}

/// Drives the load while each node's clock jumps through its skews (one list per
/// node, a step every 700 ms; the receiver fails now and then, and throughout the
/// last step, so that retries are pending when the clocks come back), then brings
/// every clock back (skew 0) and checks the promise. Answers the repeated
/// deliveries.
async fn jumps_under_load(nodes: Vec<TestServer>, skews: &[&[i64]]) -> usize {
    let (bot, threads) = world(&nodes, 3).await;
    let (nodes, bot) = (Arc::new(nodes), Arc::new(bot));
    let (stop, stop_flapping) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let mut flapping = Some(flap(bot.clone(), stop_flapping.clone()));
    let psids: Vec<String> = threads.iter().map(|t| t.psid.clone()).collect();
    let load = tokio::spawn(converse(nodes.clone(), bot.clone(), threads, stop.clone()));
    let steps = skews[0].len();
    for step in 0..steps {
        if let Some(flapping) = flapping.take_if(|_| step == steps - 1) {
            stop_flapping.store(true, Ordering::SeqCst);
            flapping.await.expect("the flapping receiver");
            bot.receiver.fail_with(500);
        }
        for (node, skews) in nodes.iter().zip(skews) {
            let now = set_skew(&node.url, &node.operator, skews[step]).await.expect("the fault clock takes the skew");
            let expected = switchboard_app::SystemClock.now_ms() + skews[step];
            assert!((now - expected).abs() < 5_000, "the node reads the skewed clock: {now} against {expected}");
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // The clock's return.
    stop.store(true, Ordering::SeqCst);
    let ledger = load.await.expect("the load");
    for node in nodes.iter() {
        set_skew(&node.url, &node.operator, 0).await.expect("the clock comes back");
    }
    let returned_at = Instant::now();
    bot.receiver.fail_with(0);
    let threads: Vec<Thread> = psids.into_iter().map(|psid| Thread { person: Vec::new(), psid }).collect();
    every_event_arrives_in_order(&nodes[0], &bot, &threads, &ledger, returned_at).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jumping_clock_loses_no_event_and_leaves_none_stuck_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let node = fault_node("sqlite-node", &sqlite(&dir)).await;
    let via = TestServer::external(&node.url, node.operator.as_deref().expect("the operator credential"));
    let repeats = jumps_under_load(vec![via], &[&[HOUR, -HOUR, HOUR / 2, -3 * HOUR / 4, HOUR, -HOUR / 2, HOUR]]).await;
    eprintln!("one SQLite node: {repeats} repeated deliveries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_whose_clocks_jump_apart_lose_no_event() {
    if std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").is_err() {
        if let Ok(reason) = std::env::var("SWITCHBOARD_TEST_SKIP_POSTGRES") {
            eprintln!("SKIPPED: {reason} (SWITCHBOARD_TEST_SKIP_POSTGRES)");
            return;
        }
    }
    let database = NodeStore::Postgres(fresh_database("clock").await);
    let a = fault_node("node-a", &database).await;
    let b = fault_node("node-b", &database).await;
    let operator = a.operator.clone().expect("the first node creates the operator credential");
    let nodes = vec![TestServer::external(&a.url, &operator), TestServer::external(&b.url, &operator)];
    // Node A mostly ahead, node B mostly behind: each sees the other's stamps an hour
    // or two off.
    let repeats = jumps_under_load(nodes, &[&[HOUR, -HOUR / 2, HOUR, 0, HOUR / 2, HOUR], &[-HOUR, HOUR / 2, -HOUR, -HOUR / 2, 0, -HOUR]]).await;
    eprintln!("two PostgreSQL nodes: {repeats} repeated deliveries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_died_an_hour_ahead_leaves_no_hour_long_lease() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite(&dir);
    let ahead = fault_node("ahead", &database).await;
    let operator = ahead.operator.clone().unwrap();
    let via = TestServer::external(&ahead.url, &operator);
    let bot = via.bot("shop", "messages").await;
    let ann = via.sign_in(&via.person("ann").await).await;
    set_skew(&ahead.url, &operator, HOUR).await.unwrap();
    bot.receiver.hold(true);
    let mid = ann.send("shop", "leased an hour ahead").await["mid"].as_str().unwrap().to_string();
    eventually("the POST in flight", || {
        let arrived = bot.receiver.posts().iter().any(|p| p.json["entry"][0]["messaging"][0]["message"]["mid"] == mid.as_str());
        async move { arrived.then_some(()) }
    })
    .await;
    ahead.kill_hard().await;
    let died_at = Instant::now();
    bot.receiver.hold(false);

    // The same store, on a clock an hour behind the one that leased the event.
    let _back = fault_node("back", &database).await;
    let deadline = died_at + AFTER_THE_RETURN;
    while !bot.receiver.acknowledged_events().iter().any(|e| e["message"]["mid"] == mid.as_str()) {
        assert!(Instant::now() < deadline, "the event is still leased {AFTER_THE_RETURN:?} after its node died an hour ahead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn only_the_fault_clock_is_skewed_and_the_virtual_clock_never_goes_back() {
    let virtual_clock = TestServer::start_with(|s| s.virtual_clock = true).await;
    let before = virtual_clock.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
    let (status, answer) = virtual_clock.console_as(&virtual_clock.operator, Method::POST, "/clock", json!({"advance_ms": -HOUR})).await;
    assert_eq!((status.as_u16(), &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("The clock only moves forward"), "{answer}");
    let (status, _) = virtual_clock.console_as(&virtual_clock.operator, Method::POST, "/clock", json!({"to": before - HOUR})).await;
    assert_eq!(status.as_u16(), 400, "nor to an earlier time");
    let refused = set_skew(&virtual_clock.url, &virtual_clock.operator, -HOUR).await.expect_err("a virtual clock is not skewed");
    assert_eq!((refused.status, &refused.error["code"]), (400, &json!(100)));
    assert!(refused.error["message"].as_str().unwrap().contains("fault clock"), "{:?}", refused.error);
    assert!(clock_of(&virtual_clock.url, &virtual_clock.operator).await["now"].as_i64().unwrap() >= before, "it did not move back");

    let real = TestServer::start().await;
    let refused = set_skew(&real.url, &real.operator, HOUR).await.expect_err("the real clock is not skewed");
    assert_eq!((refused.status, &refused.error["code"]), (400, &json!(100)));
    assert!(clock_of(&real.url, &real.operator).await.get("skew_ms").is_none());

    let fault = TestServer::start_with(|s| s.fault_clock = true).await;
    let eve = fault.sign_in(&fault.person("eve").await).await;
    let refused = set_skew(&fault.url, &eve.token, -HOUR).await.expect_err("only the operator skews the clock");
    assert_eq!(refused.status, 403);
    let now = set_skew(&fault.url, &fault.operator, -HOUR).await.unwrap();
    assert!((now - (switchboard_app::SystemClock.now_ms() - HOUR)).abs() < 5_000, "an hour back: {now}");
    let shown = clock_of(&fault.url, &fault.operator).await;
    assert_eq!((&shown["skew_ms"], &shown["virtual"]), (&json!(-HOUR), &json!(false)));
    let (status, answer) = fault.console_as(&fault.operator, Method::POST, "/clock", json!({"skew_ms": 0, "advance_ms": 1})).await;
    assert_eq!(status.as_u16(), 400, "one change at a time: {answer}");
}
