//! PostgreSQL restarted under load (fast and immediate shutdowns, and an outage held
//! for seconds) behind two `switchboard serve` nodes: calls made while it is down
//! get the transient Graph error that says to retry, promptly; every call that was
//! acknowledged is stored and its webhook delivered; the nodes serve again by
//! themselves, live events included.
//!
//! Runs its own PostgreSQL server (Debian's binaries), so it can be restarted
//! without touching the shared one; needs the built binaries (cargo build --bins).

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_testkit::{
    eventually, is_retry_later, missing_messages, Bot, NodeProcess, PersonClient, PrivatePostgres, Shutdown, TcpProxy, TestServer,
};
use tokio::time::error::Elapsed;

/// Longest a call may take while the database is away: the nodes' connect timeout
/// (1 s) and statement timeout (5 s), plus slack. Beyond it, the call hung.
const ANSWER_BOUND: Duration = Duration::from_secs(8);
/// Longest a node may take to serve again once PostgreSQL is back, live events
/// between nodes included ("within a few seconds").
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

/// What the load saw: every acknowledged write, and every answer that was neither
/// an acknowledgment nor the transient error (each one a failure of the test).
#[derive(Default)]
struct Ledger {
    sent_mids: Vec<String>,
    /// (writer, mid) in the order acknowledged.
    person_writes: Vec<(String, String)>,
    refused: usize,
    wrong: Vec<String>,
    slowest_refusal: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_nothing_and_the_nodes_come_back() {
    let started = Instant::now();
    let postgres = PrivatePostgres::start().await;
    let a = NodeProcess::start("node-a", &postgres.url(), 1).await;
    let b = NodeProcess::start("node-b", &postgres.url(), 1).await;
    let operator = a.operator.clone().expect("the first node creates the operator credential");
    let (via_a, via_b) = (TestServer::external(&a.url, &operator), TestServer::external(&b.url, &operator));

    let bot = via_a.bot("shop", "messages").await;
    let (ann, bea) = (via_a.person("ann").await, via_a.person("bea").await);
    via_a.sign_in(&ann).await.send("shop", "hello").await;
    let ann_psid =
        bot.receiver.wait_for("ann's first message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    // Bea's client stays connected to node B throughout; the bot answers her through node A.
    let mut bea_on_b = via_b.sign_in(&bea).await;
    bea_on_b.listen().await;
    bea_on_b.send("shop", "bea here").await;
    let bea_psid =
        bot.receiver.wait_for("bea's first message", |e| e["message"]["text"] == "bea here").await["sender"]["id"].as_str().unwrap().to_string();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for (n, node) in [&via_a, &via_b].into_iter().enumerate() {
        let send = SendApi { http: node.http.clone(), graph: node.graph(), page_token: bot.page_token.clone(), psid: ann_psid.clone() };
        load.push(tokio::spawn(drive(format!("send{n}"), Writer::SendApi(send), ledger.clone(), running.clone())));
        let person = node.sign_in(&ann).await;
        load.push(tokio::spawn(drive(format!("person{n}"), Writer::Person(person), ledger.clone(), running.clone())));
    }
    let acknowledged = || {
        let ledger = ledger.lock().unwrap();
        ledger.sent_mids.len() + ledger.person_writes.len()
    };
    let load_for_a_while = || async {
        let before = acknowledged();
        eventually("the load acknowledged again", || async { (acknowledged() >= before + 20).then_some(()) }).await;
    };
    let nodes = [&via_a, &via_b];

    // Bea's client on node B hears the bot's answers sent through node A only over
    // the bus: after each outage, that proves node B's LISTEN connection came back.
    let live = LiveProbe { via_a: &via_a, bot: &bot, bea_psid: &bea_psid, bea_on_b: &bea_on_b };
    load_for_a_while().await;
    for shutdown in [Shutdown::Fast, Shutdown::Immediate] {
        postgres.restart(shutdown).await;
        let recovered = recovered(&nodes, &bot, &ann_psid, &live, &format!("{shutdown:?}")).await;
        assert!(recovered < RECOVERY_BOUND, "after a {shutdown:?} restart the nodes took {recovered:?} to serve again");
        load_for_a_while().await;
    }

    // Held down: every face answers the transient error, promptly; not ready.
    let (ann_on_a, ann_on_b) = (via_a.sign_in(&ann).await, via_b.sign_in(&ann).await);
    postgres.stop(Shutdown::Fast).await;
    let down_at = Instant::now();
    for node in nodes {
        let ready = node.http.get(format!("{}/readyz", node.url)).send().await.unwrap();
        assert_eq!(ready.status(), 503, "{} is not ready while the database is down", node.url);
        let (status, answer) = bounded(node.send_text(&bot, &ann_psid, "during the outage")).await;
        assert!(is_retry_later(status, &answer), "the Send API during the outage: {status} {answer}");
        let (status, answer) = bounded(node.console_as(&operator, Method::GET, "/apps", json!({}))).await;
        assert!(is_retry_later(status.as_u16(), &answer), "the console during the outage: {status} {answer}");
    }
    let (status, answer) = bounded(ann_on_b.call(Method::GET, "/threads/shop/messages", None)).await;
    assert!(is_retry_later(status, &answer), "a person's read during the outage: {status} {answer}");
    let (status, answer) = bounded(ann_on_a.call(Method::POST, "/threads/shop/messages", Some(json!({"text": "down"})))).await;
    assert!(is_retry_later(status, &answer), "a person's write during the outage: {status} {answer}");
    let remaining = Duration::from_secs(5).saturating_sub(down_at.elapsed());
    tokio::time::sleep(remaining).await;
    postgres.start_again().await;
    let recovered = recovered(&nodes, &bot, &ann_psid, &live, "held").await;
    assert!(recovered < RECOVERY_BOUND, "after a 5 s outage the nodes took {recovered:?} to serve again");
    load_for_a_while().await;

    running.store(false, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(ledger.wrong.is_empty(), "answers that were neither stored nor the transient error: {:?}", ledger.wrong);
    assert!(ledger.refused > 0, "the load met the outages");

    // Every acknowledged message is stored...
    let person_mids: Vec<String> = ledger.person_writes.iter().map(|(_, mid)| mid.clone()).collect();
    let all_mids: Vec<String> = ledger.sent_mids.iter().chain(&person_mids).cloned().collect();
    let missing = missing_messages(&postgres.url(), &all_mids).await;
    assert!(missing.is_empty(), "{} of {} acknowledged messages are not in the database: {missing:?}", missing.len(), all_mids.len());
    // ... and every acknowledged person message reached the bot (at least once)...
    let delivered_mids =
        || -> Vec<String> { bot.receiver.acknowledged_events().iter().filter_map(|e| e["message"]["mid"].as_str().map(str::to_string)).collect() };
    eventually("every acknowledged person message delivered", || {
        let delivered: HashSet<String> = delivered_mids().into_iter().collect();
        let undelivered = person_mids.iter().filter(|mid| !delivered.contains(*mid)).count();
        async move { (undelivered == 0).then_some(()) }
    })
    .await;
    // ... in the thread's order: each writer waited for one answer before the next
    // write, so its acknowledged messages first arrived in the order it wrote them.
    let mut first_arrivals = Vec::new();
    let mut seen = HashSet::new();
    for mid in delivered_mids() {
        if seen.insert(mid.clone()) {
            first_arrivals.push(mid);
        }
    }
    for writer in ["person0", "person1"] {
        let written: Vec<&String> = ledger.person_writes.iter().filter(|(w, _)| w == writer).map(|(_, mid)| mid).collect();
        let theirs: HashSet<&String> = written.iter().copied().collect();
        let arrived: Vec<&String> = first_arrivals.iter().filter(|mid| theirs.contains(mid)).collect();
        assert_eq!(arrived, written, "{writer}'s acknowledged messages arrive in the order written");
    }

    eprintln!(
        "postgres_restart: {} sends and {} person messages acknowledged, {} refused (slowest {:?}), {:?} in all",
        ledger.sent_mids.len(),
        person_mids.len(),
        ledger.refused,
        ledger.slowest_refusal,
        started.elapsed()
    );
}

/// Sends queued for one thread when the database becomes unreachable (connections
/// cut, new ones left unanswered) are answered together, each told to retry, not
/// after one connection attempt per message in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_queued_when_the_database_becomes_unreachable_are_answered_together() {
    const BURST: usize = 30;
    let postgres = PrivatePostgres::start().await;
    let proxy = TcpProxy::start(format!("127.0.0.1:{}", postgres.port())).await;
    let through_proxy = postgres.url().replace(&format!(":{}/", postgres.port()), &format!(":{}/", proxy.port));
    let a = NodeProcess::start("node-a", &through_proxy, 1).await;
    let via_a = TestServer::external(&a.url, &a.operator.clone().expect("the operator credential"));
    let bot = via_a.bot("shop", "messages").await;
    via_a.sign_in(&via_a.person("ann").await).await.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    // Everything a send reads is cached now (for a second), so the burst reaches the
    // thread's group writer.
    assert_eq!(via_a.send_text(&bot, &psid, "warm").await.0, 200);

    proxy.stall();
    let cut_at = Instant::now();
    let texts: Vec<String> = (0..BURST).map(|n| format!("burst {n}")).collect();
    let answers = futures_util::future::join_all(texts.iter().map(|text| bounded(via_a.send_text(&bot, &psid, text)))).await;
    let answered_in = cut_at.elapsed();
    for (status, answer) in &answers {
        assert!(is_retry_later(*status, answer), "a send while the database is unreachable: {status} {answer}");
    }
    assert!(answered_in < ANSWER_BOUND, "{BURST} sends answered only after {answered_in:?}");

    proxy.set_open(true);
    eventually("the node serving again", || async { (via_a.send_text(&bot, &psid, "back").await.0 == 200).then_some(()) }).await;
}

/// Waits until every node is ready and takes a Send API call, and until a live event
/// crosses from node A to node B; answers how long that took from the database's
/// return.
async fn recovered(nodes: &[&TestServer], bot: &Bot, psid: &str, live: &LiveProbe<'_>, outage: &str) -> Duration {
    let back_at = Instant::now();
    for node in nodes {
        eventually("the node serving again", || async {
            let ready = node.http.get(format!("{}/readyz", node.url)).send().await.ok()?.status() == 200;
            (ready && node.send_text(bot, psid, "are you back?").await.0 == 200).then_some(())
        })
        .await;
    }
    live.flows_again(outage).await;
    eprintln!("postgres_restart: served again {:?} after the {outage} outage", back_at.elapsed());
    back_at.elapsed()
}

/// The bot answers Bea through node A; her client listens on node B.
struct LiveProbe<'t> {
    via_a: &'t TestServer,
    bot: &'t Bot,
    bea_psid: &'t str,
    bea_on_b: &'t PersonClient,
}

impl LiveProbe<'_> {
    /// Waits until an answer sent after the outage reaches Bea's stream live. A live
    /// event is not stored (its message is), so one sent before node B listens again
    /// is lost by design: a new answer is sent every half second.
    async fn flows_again(&self, outage: &str) {
        let mut attempt = 0;
        let prefix = format!("live after {outage}");
        eventually("a live event through node A on Bea's stream on node B", || {
            attempt += 1;
            let text = format!("{prefix} {attempt}");
            let prefix = &prefix;
            async move {
                let (status, answer) = self.via_a.send_text(self.bot, self.bea_psid, &text).await;
                assert_eq!(status, 200, "{answer}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                let events = self.bea_on_b.live_events();
                events.iter().any(|e| e["message"]["text"].as_str().is_some_and(|t| t.starts_with(prefix.as_str()))).then_some(())
            }
        })
        .await;
    }
}

/// The call's answer, or a failure if it hung past [`ANSWER_BOUND`].
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(ANSWER_BOUND, call).await.expect("answered within the bound instead of hanging")
}

struct SendApi {
    http: reqwest::Client,
    graph: String,
    page_token: String,
    psid: String,
}

enum Writer {
    SendApi(SendApi),
    Person(PersonClient),
}

/// Writes until told to stop, recording each answer in the ledger.
async fn drive(name: String, writer: Writer, ledger: Arc<Mutex<Ledger>>, running: Arc<AtomicBool>) {
    let mut n = 0;
    while running.load(Ordering::SeqCst) {
        n += 1;
        let text = format!("{name}-{n}");
        let began = Instant::now();
        let answer = tokio::time::timeout(ANSWER_BOUND, write(&writer, &text)).await;
        let took = began.elapsed();
        record(&mut ledger.lock().unwrap(), &name, &writer, &text, answer, took);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record(
    ledger: &mut Ledger,
    name: &str,
    writer: &Writer,
    text: &str,
    answer: Result<Result<(u16, Value), reqwest::Error>, Elapsed>,
    took: Duration,
) {
    match answer {
        Err(_) => ledger.wrong.push(format!("{text}: no answer within {ANSWER_BOUND:?}")),
        Ok(Err(error)) => ledger.wrong.push(format!("{text}: {error}")),
        Ok(Ok((200, body))) => {
            let key = if matches!(writer, Writer::SendApi(_)) { "message_id" } else { "mid" };
            let Some(mid) = body[key].as_str().map(str::to_string) else {
                return ledger.wrong.push(format!("{text}: acknowledged without a mid: {body}"));
            };
            match writer {
                Writer::SendApi(_) => ledger.sent_mids.push(mid),
                Writer::Person(_) => ledger.person_writes.push((name.to_string(), mid)),
            }
        }
        Ok(Ok((status, body))) if is_retry_later(status, &body) => {
            ledger.refused += 1;
            ledger.slowest_refusal = ledger.slowest_refusal.max(took);
        }
        Ok(Ok((status, body))) => ledger.wrong.push(format!("{text}: {status} {body}")),
    }
}

/// One write. A Send API call whose connection closed is recorded as a wrong answer
/// (the person client panics on one, which fails the test as well).
async fn write(writer: &Writer, text: &str) -> Result<(u16, Value), reqwest::Error> {
    match writer {
        Writer::SendApi(send) => {
            let body = json!({"recipient": {"id": send.psid}, "messaging_type": "RESPONSE", "message": {"text": text}});
            let response = send.http.post(format!("{}/me/messages", send.graph)).bearer_auth(&send.page_token).json(&body).send().await?;
            let status = response.status().as_u16();
            Ok((status, response.json().await.unwrap_or(Value::Null)))
        }
        Writer::Person(person) => Ok(person.call(Method::POST, "/threads/shop/messages", Some(json!({"text": text}))).await),
    }
}
