//! Webhook delivery throughput and added latency, on this machine, with a node in
//! this process on a fresh SQLite store on disk and a lean local receiver that
//! answers 200 at once.
//!
//! Throughput: `--events` events are written straight into the outbox, spread over
//! `--threads` threads (Page × person), while the node is stopped; then the node
//! starts and drains them. Events per second from the first POST to the last event,
//! with batching on (`--batch-cap`) and off (1 event per POST).
//!
//! Added latency: with the node running, the Send API is called at a steady rate
//! over ten threads; each echo's arrival at the receiver is compared with the moment
//! its Send API call was answered (after its commit). Reports p50 and p99 as JSON.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use clap::Parser;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::*;
use switchboard_store::{NewOutboxEvent, Store};
use switchboard_testkit::{test_settings, TestServer};

#[derive(Parser)]
struct Args {
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    threads: Vec<usize>,
    /// Events drained per throughput run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Events per POST with batching on.
    #[arg(long, default_value_t = 50)]
    batch_cap: usize,
    /// Send API calls per second in the latency run.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    #[arg(long, default_value_t = 5)]
    latency_seconds: u64,
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    events: AtomicU64,
    posts: AtomicU64,
    first_post: Mutex<Option<Instant>>,
    last_event: Mutex<Option<Instant>>,
    /// Arrival time per `mid`, in the latency run.
    arrivals: Mutex<HashMap<String, Instant>>,
}

async fn handshake(Query(query): Query<HashMap<String, String>>) -> String {
    query.get("hub.challenge").cloned().unwrap_or_default()
}

async fn receive(State(seen): State<Arc<Seen>>, body: Bytes) -> &'static str {
    let now = Instant::now();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let entries = json["entry"].as_array().map(Vec::len).unwrap_or(0) as u64;
    seen.first_post.lock().unwrap().get_or_insert(now);
    seen.posts.fetch_add(1, Ordering::Relaxed);
    seen.events.fetch_add(entries, Ordering::Relaxed);
    *seen.last_event.lock().unwrap() = Some(now);
    let mut arrivals = seen.arrivals.lock().unwrap();
    for entry in json["entry"].as_array().into_iter().flatten() {
        if let Some(mid) = entry["messaging"][0]["message"]["mid"].as_str() {
            arrivals.insert(mid.to_string(), now);
        }
    }
    "EVENT_RECEIVED"
}

async fn start_receiver() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
    let app = Router::new().route("/webhook", get(handshake).post(receive)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serves") });
    (url, seen)
}

/// A Page with a bot subscribed to messages and echoes at `url`, and `threads`
/// persons who have each written to the Page once (so they have PSIDs).
struct Setup {
    page: PageId,
    app: AppId,
    page_token: String,
    persons: Vec<(PersonId, String)>,
}

async fn set_up(server: &TestServer, url: &str, threads: usize) -> Setup {
    let admin = server.person("bench-admin").await;
    let page = server.page(&admin, "bench").await;
    let app = server.app("bench bot").await;
    let page_token = server.grant(&page, &app, &admin).await;
    let body = json!({"object": "page", "callback_url": url, "verify_token": "bench", "fields": "messages,message_echoes"});
    let (status, answer) = server.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&format!("{}|{}", app.id, app.secret)), Some(body)).await;
    assert_eq!(status, 200, "subscribing: {answer}");
    server.install(&page_token, &page, "messages,message_echoes").await;
    let mut persons = Vec::new();
    for n in 0..threads {
        let person = server.person(&format!("person{n}")).await;
        let psid = server.platform().store().psid(PersonId(person.id), &PageId(page.id.clone())).await.expect("psid");
        persons.push((PersonId(person.id), psid.0));
    }
    Setup { page: PageId(page.id), app: AppId(app.id), page_token, persons }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Events per second drained by a node started on a preloaded outbox.
async fn throughput(threads: usize, events: usize, batch_cap: usize) -> Value {
    let dir = Arc::new(tempfile::tempdir_in("target").expect("a directory on this disk"));
    let mut settings = test_settings(dir.path());
    settings.webhooks.batch_cap = batch_cap;
    let (url, seen) = start_receiver().await;
    let server = TestServer::start_on(dir.clone(), settings.clone()).await;
    let setup = set_up(&server, &url, threads).await;
    server.stop().await;

    // Written while no node runs, so that the drain starts from a full outbox.
    let store: Arc<dyn Store> = Arc::new(switchboard_store_sqlite::SqliteStore::open(dir.path().join("switchboard.db")).expect("store"));
    let now = switchboard_app::SystemClock.now_ms();
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let store = store.clone();
            let (page, app, persons) = (setup.page.clone(), setup.app.clone(), setup.persons.clone());
            tokio::spawn(async move {
                for n in (w..events).step_by(64) {
                    let (person, psid) = &persons[n % persons.len()];
                    let mid = format!("m_bench_{n}");
                    let body = json!({"sender": {"id": psid}, "recipient": {"id": page.as_str()}, "timestamp": now,
                        "message": {"mid": mid, "text": format!("event {n}")}});
                    let message = Message {
                        text: Some(format!("event {n}")),
                        ..Message::new(Mid(mid), page.clone(), *person, Direction::Inbound, None, now)
                    };
                    let event = NewOutboxEvent {
                        app: app.clone(),
                        page: page.clone(),
                        person: *person,
                        field: WebhookField::Messages,
                        body: serde_json::to_vec(&body).expect("json"),
                        created_at: now,
                    };
                    store.append_message(message, vec![event]).await.expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    drop(store);

    let server = TestServer::start_on(dir.clone(), settings).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen.events.load(Ordering::Relaxed) < events as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = seen.events.load(Ordering::Relaxed);
    let first = seen.first_post.lock().unwrap().expect("at least one POST");
    let last = seen.last_event.lock().unwrap().expect("at least one event");
    let seconds = (last - first).as_secs_f64().max(1e-9);
    server.stop().await;
    json!({
        "threads": threads,
        "batch_cap": batch_cap,
        "events": delivered,
        "posts": seen.posts.load(Ordering::Relaxed),
        "seconds": seconds,
        "events_per_second": delivered as f64 / seconds,
    })
}

/// From the Send API's answer (its commit done) to the echo's arrival at the receiver.
async fn added_latency(rate: u64, seconds: u64, batch_cap: usize) -> Value {
    let dir = Arc::new(tempfile::tempdir_in("target").expect("a directory on this disk"));
    let mut settings = test_settings(dir.path());
    settings.webhooks.batch_cap = batch_cap;
    let (url, seen) = start_receiver().await;
    let server = TestServer::start_on(dir.clone(), settings).await;
    let setup = set_up(&server, &url, 10).await;
    let graph = format!("{}/me/messages", server.graph());
    let answered: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let per_worker = Duration::from_secs_f64(setup.persons.len() as f64 / rate as f64);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = setup
        .persons
        .iter()
        .map(|(_, psid)| {
            let (graph, token, psid, answered) = (graph.clone(), setup.page_token.clone(), psid.clone(), answered.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut tick = tokio::time::interval(per_worker);
                while Instant::now() < deadline {
                    tick.tick().await;
                    let body = json!({"recipient": {"id": psid}, "messaging_type": "UPDATE", "message": {"text": "latency"}});
                    let response = client.post(&graph).bearer_auth(&token).json(&body).send().await.expect("send");
                    let answer: Value = response.json().await.expect("json");
                    let at = Instant::now();
                    if let Some(mid) = answer["message_id"].as_str() {
                        answered.lock().unwrap().insert(mid.to_string(), at);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answered = answered.lock().unwrap().clone();
    let arrivals = seen.arrivals.lock().unwrap().clone();
    let mut latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(mid, at)| arrivals.get(mid).map(|arrived| arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    server.stop().await;
    json!({
        "sends": answered.len(),
        "delivered": latencies.len(),
        "batch_cap": batch_cap,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs = Vec::new();
    for &threads in &args.threads {
        for batch_cap in [args.batch_cap, 1] {
            let run = throughput(threads, args.events, batch_cap).await;
            eprintln!("{run}");
            runs.push(run);
        }
    }
    let latency = added_latency(args.rate, args.latency_seconds, args.batch_cap).await;
    eprintln!("{latency}");
    println!("{}", serde_json::to_string_pretty(&json!({"throughput": runs, "added_latency": latency}))?);
    Ok(())
}
