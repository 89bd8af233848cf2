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
//!
//! Fan-out (`--apps 1,10,100`): busy Pages each with N apps installed, each app on
//! its own receiver port; every person message becomes N events. Events per second
//! over the whole drain, and every app's every event checked (duplicates, missing).
//!
//! Recovery (`--recovery-events N`): N events for one app over many threads, queued
//! while its receiver is down (the node runs and its POSTs fail and back off); the
//! time from the receiver's return to the last event, and the peak memory (of the
//! node, a `switchboard serve` process of its own there, and of this process).
//! Backlog (`--backlog-events N`): the same with one thread, so that every event
//! waits behind the one before it: the rate at which one conversation's backlog
//! drains, and whether it arrived in order.
//! `--skip-throughput` and `--skip-latency` run one part at a time.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    /// Leave out the throughput runs (`--threads`).
    #[arg(long)]
    skip_throughput: bool,
    /// Leave out the added-latency run.
    #[arg(long)]
    skip_latency: bool,
    /// Fan-out: app counts to measure, comma-separated (none: no fan-out run).
    #[arg(long, value_delimiter = ',')]
    apps: Vec<usize>,
    /// Fan-out: events delivered per run, all apps together.
    #[arg(long, default_value_t = 100_000)]
    fanout_events: usize,
    /// Fan-out: busy Pages, each with every app installed.
    #[arg(long, default_value_t = 10)]
    fanout_pages: usize,
    /// Fan-out: persons, each writing to every Page.
    #[arg(long, default_value_t = 10)]
    fanout_persons: usize,
    /// Recovery: events queued for one app while its receiver is down (0: no run).
    #[arg(long, default_value_t = 0)]
    recovery_events: usize,
    /// Recovery: Pages; the threads are Pages × persons. Many Pages and few persons:
    /// each person costs an Argon2id hash (19 MiB) whose memory the allocator keeps,
    /// which would swamp the drain's peak memory (100 persons: about 1.4 GB).
    #[arg(long, default_value_t = 1000)]
    recovery_pages: usize,
    /// Recovery: persons, each writing to every Page.
    #[arg(long, default_value_t = 10)]
    recovery_persons: usize,
    /// Backlog: events queued for one app on one thread while its receiver is down
    /// (0: no run).
    #[arg(long, default_value_t = 0)]
    backlog_events: usize,
    /// Recovery: how long the node runs against the dead receiver before it returns.
    #[arg(long, default_value_t = 10)]
    down_seconds: u64,
    /// Recovery: how the receiver is down: `refused` (nothing listens) or `503`.
    #[arg(long, default_value = "refused")]
    down_mode: String,
    /// Recovery: outbox rows per `append_message` call while filling.
    #[arg(long, default_value_t = 100)]
    fill_batch: usize,
    /// Backoff of the fan-out and recovery runs (`test_settings`' values by default).
    #[arg(long, default_value_t = 100)]
    retry_initial_ms: i64,
    #[arg(long, default_value_t = 400)]
    retry_max_ms: i64,
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
        let psid = server.store().psid(PersonId(person.id), &PageId(page.id.clone())).await.expect("psid");
        persons.push((PersonId(person.id), psid.0));
    }
    Setup { page: PageId(page.id), app: AppId(app.id), page_token, persons }
}

/// One value of the node's `/metrics` at `url` (0 when it is not there yet).
async fn metric(url: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{url}/metrics")).await.expect("metrics").text().await.expect("metrics text");
    text.lines().find_map(|line| line.strip_prefix(name).and_then(|value| value.trim().parse().ok())).unwrap_or(0)
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

/// The `mid` of every fan-out and recovery event starts so: `m_b_{n}`, `n` the
/// message's number. The receiver finds them in the body without parsing the JSON,
/// so that it costs the node (which shares the two cores) as little as possible.
const MID_MARK: &str = "\"mid\":\"m_b_";

/// What the counting receivers saw: deliveries per (app, message), so that every
/// app's every event can be checked for exactly once.
struct Tally {
    /// Index `app * per_app + n`: how many times app `app` got message `n`.
    counts: Vec<AtomicU32>,
    per_app: usize,
    /// Entries (app, message) delivered at least once.
    distinct: AtomicU64,
    posts: AtomicU64,
    /// POSTs answered 503 while down (the `503` mode only).
    refused: AtomicU64,
    /// False while the receiver plays dead in the `503` mode.
    up: AtomicBool,
    first_post: Mutex<Option<Instant>>,
    /// When the last entry not seen before arrived.
    last_new: Mutex<Option<Instant>>,
    /// Entries that arrived for the first time before an entry numbered lower
    /// (of the same app): with one thread, events out of order.
    out_of_order: AtomicU64,
    /// The highest number that arrived, per app.
    highest: Vec<Mutex<Option<usize>>>,
}

impl Tally {
    fn new(apps: usize, per_app: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: (0..apps * per_app).map(|_| AtomicU32::new(0)).collect(),
            per_app,
            distinct: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            up: AtomicBool::new(true),
            first_post: Mutex::new(None),
            last_new: Mutex::new(None),
            out_of_order: AtomicU64::new(0),
            highest: (0..apps).map(|_| Mutex::new(None)).collect(),
        })
    }

    fn duplicates(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed).saturating_sub(1) as u64).sum()
    }

    fn missing(&self) -> u64 {
        self.counts.iter().filter(|c| c.load(Ordering::Relaxed) == 0).count() as u64
    }

    /// Waits until every entry arrived once, or `limit` passed.
    async fn wait_for_all(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.distinct.load(Ordering::Relaxed) < self.counts.len() as u64 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn tally_post(State((tally, app)): State<(Arc<Tally>, usize)>, body: Bytes) -> (StatusCode, &'static str) {
    if !tally.up.load(Ordering::Relaxed) {
        tally.refused.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "down");
    }
    let now = Instant::now();
    tally.first_post.lock().unwrap().get_or_insert(now);
    tally.posts.fetch_add(1, Ordering::Relaxed);
    let text = std::str::from_utf8(&body).unwrap_or_default();
    let mut new = false;
    for (at, _) in text.match_indices(MID_MARK) {
        let digits: &str = &text[at + MID_MARK.len()..];
        let digits = &digits[..digits.bytes().take_while(u8::is_ascii_digit).count()];
        let Ok(n) = digits.parse::<usize>() else { continue };
        if n < tally.per_app && tally.counts[app * tally.per_app + n].fetch_add(1, Ordering::Relaxed) == 0 {
            tally.distinct.fetch_add(1, Ordering::Relaxed);
            new = true;
            let mut highest = tally.highest[app].lock().unwrap();
            if highest.is_some_and(|h| h > n) {
                tally.out_of_order.fetch_add(1, Ordering::Relaxed);
            }
            *highest = Some(highest.map_or(n, |h| h.max(n)));
        }
    }
    if new {
        *tally.last_new.lock().unwrap() = Some(now);
    }
    (StatusCode::OK, "EVENT_RECEIVED")
}

/// App `app`'s receiver on `listener`, until `stop` fires. Each app has its own port,
/// as distinct apps have distinct hosts: the webhook client pools connections per
/// host and port, so one port for all would share (and churn) one pool.
fn serve_app(listener: tokio::net::TcpListener, tally: Arc<Tally>, app: usize) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Router::new().route("/webhook", get(handshake).post(tally_post)).with_state((tally, app));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).with_graceful_shutdown(async move { stopped.await.unwrap_or_default() }).await.expect("receiver serves")
    });
    (stop, task)
}

/// `apps` receivers, one port each; answers their URLs and their stop handles.
async fn start_app_receivers(tally: &Arc<Tally>, apps: usize) -> (Vec<String>, Vec<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>) {
    let mut urls = Vec::new();
    let mut handles = Vec::new();
    for app in 0..apps {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        urls.push(format!("http://{}/webhook", listener.local_addr().expect("addr")));
        handles.push(serve_app(listener, tally.clone(), app));
    }
    (urls, handles)
}

/// Pages, each with every app installed (one app per URL, subscribed to `messages`),
/// and persons with a PSID on every Page.
struct Fleet {
    pages: Vec<PageId>,
    apps: Vec<AppId>,
    /// Per person: the person and their PSID on each Page, in `pages` order.
    persons: Vec<(PersonId, Vec<String>)>,
}

impl Fleet {
    /// Thread `t` (Page × person): its Page, person and PSID.
    fn thread(&self, t: usize) -> (&PageId, PersonId, &str) {
        let (page, person) = (t % self.pages.len(), (t / self.pages.len()) % self.persons.len());
        (&self.pages[page], self.persons[person].0, &self.persons[person].1[page])
    }

    fn threads(&self) -> usize {
        self.pages.len() * self.persons.len()
    }
}

/// Built through the console and Graph APIs (as a developer would), a few calls at a
/// time: the node answers each write after its group commit.
async fn set_up_fleet(server: &TestServer, urls: &[String], pages: usize, persons: usize) -> Fleet {
    use futures_util::{stream, StreamExt};
    let started = Instant::now();
    let admin = server.person("fleet-admin").await;
    let test_pages: Vec<_> = stream::iter(0..pages).map(|n| {
            let admin = &admin;
            async move { server.page(admin, &format!("busy{n}")).await }
        }).buffered(8).collect().await;
    let test_apps: Vec<_> = stream::iter(urls.iter().enumerate())
        .map(|(n, url)| async move {
            let app = server.app(&format!("fan-out bot {n}")).await;
            let body = json!({"object": "page", "callback_url": url, "verify_token": "bench", "fields": "messages"});
            let token = format!("{}|{}", app.id, app.secret);
            let (status, answer) = server.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&token), Some(body)).await;
            assert_eq!(status, 200, "subscribing: {answer}");
            app
        })
        .buffered(8)
        .collect()
        .await;
    let installs = test_pages.iter().flat_map(|page| test_apps.iter().map(move |app| (page, app)));
    stream::iter(installs)
        .for_each_concurrent(16, |(page, app)| {
            let admin = &admin;
            async move {
                let token = server.grant(page, app, admin).await;
                server.install(&token, page, "messages").await;
            }
        })
        .await;
    let page_ids: Vec<PageId> = test_pages.iter().map(|p| PageId(p.id.clone())).collect();
    let people: Vec<_> = stream::iter(0..persons).map(|n| async move { server.person(&format!("writer{n}")).await }).buffered(4).collect().await;
    let store = server.store();
    let mut fleet_persons = Vec::new();
    for person in people {
        let psids: Vec<_> = stream::iter(&page_ids)
            .map(|page| async move { store.psid(PersonId(person.id), page).await.expect("psid").0 })
            .buffered(64)
            .collect()
            .await;
        fleet_persons.push((PersonId(person.id), psids));
    }
    let (seconds, hwm) = (started.elapsed().as_secs_f64(), vm_hwm_kb() / 1024);
    eprintln!("set up {pages} Pages × {} apps × {persons} persons in {seconds:.1} s (VmHWM {hwm} MB)", urls.len());
    Fleet { pages: page_ids, apps: test_apps.into_iter().map(|a| AppId(a.id)).collect(), persons: fleet_persons }
}

/// A person's message `n` on `thread`, as the person API renders it: the same
/// `messages` event bytes for every app installed on the Page.
fn person_message(fleet: &Fleet, thread: usize, n: usize, now: Millis) -> (Message, Vec<u8>) {
    let (page, person, psid) = fleet.thread(thread);
    let mid = format!("m_b_{n}");
    let body = json!({"sender": {"id": psid}, "recipient": {"id": page.as_str()}, "timestamp": now,
        "message": {"mid": mid, "text": format!("event {n}")}});
    let message = Message { text: Some(format!("event {n}")), ..Message::new(Mid(mid), page.clone(), person, Direction::Inbound, None, now) };
    (message, serde_json::to_vec(&body).expect("json"))
}

/// Writes `calls` `append_message` calls, built by `call`, from `writers` tasks at
/// once (the SQLite engine commits concurrent writes as one group).
async fn fill<F>(store: Arc<dyn Store>, calls: usize, writers: usize, call: F)
where
    F: Fn(usize) -> (Message, Vec<NewOutboxEvent>) + Send + Sync + 'static,
{
    let call = Arc::new(call);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, call) = (store.clone(), call.clone());
            tokio::spawn(async move {
                for n in (w..calls).step_by(writers) {
                    let (message, events) = call(n);
                    store.append_message(message, events).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
}

/// Fan-out: `events` events in all, each person message delivered to all `apps` apps
/// installed on its Page. Like the throughput run, the outbox is filled through the
/// store while the node is stopped (one `append_message` per person message with
/// one outbox row per app, as the person API writes it), so that the figure is the
/// dispatcher's alone rather than shared with the person API's ingestion on the
/// same two cores.
async fn fanout(args: &Args, apps: usize) -> Value {
    let messages = (args.fanout_events / apps).max(1);
    let dir = Arc::new(tempfile::tempdir_in("target").expect("a directory on this disk"));
    let mut settings = test_settings(dir.path());
    (settings.webhooks.retry_initial_ms, settings.webhooks.retry_max_ms) = (args.retry_initial_ms, args.retry_max_ms);
    let tally = Tally::new(apps, messages);
    let (urls, _receivers) = start_app_receivers(&tally, apps).await;
    let server = TestServer::start_on(dir.clone(), settings.clone()).await;
    let fleet = Arc::new(set_up_fleet(&server, &urls, args.fanout_pages, args.fanout_persons).await);
    server.stop().await;

    let store: Arc<dyn Store> = Arc::new(switchboard_store_sqlite::SqliteStore::open(dir.path().join("switchboard.db")).expect("store"));
    let now = switchboard_app::SystemClock.now_ms();
    let started = Instant::now();
    let writers = fleet.clone();
    fill(store, messages, 64, move |n| {
        let thread = n % writers.threads();
        let (message, body) = person_message(&writers, thread, n, now);
        let (page, person, _) = writers.thread(thread);
        let events = writers
            .apps
            .iter()
            .map(|app| NewOutboxEvent {
                app: app.clone(),
                page: page.clone(),
                person,
                field: WebhookField::Messages,
                body: body.clone(),
                created_at: now,
            })
            .collect();
        (message, events)
    })
    .await;
    eprintln!("filled {} events ({messages} messages × {apps} apps) in {:.1} s", messages * apps, started.elapsed().as_secs_f64());

    let server = TestServer::start_on(dir.clone(), settings).await;
    tally.wait_for_all(Duration::from_secs(600)).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // late duplicates, if any
    server.stop().await;
    let delivered = tally.distinct.load(Ordering::Relaxed);
    let first = tally.first_post.lock().unwrap().expect("at least one POST");
    let last = tally.last_new.lock().unwrap().expect("at least one event");
    let seconds = (last - first).as_secs_f64().max(1e-9);
    json!({
        "apps": apps,
        "pages": fleet.pages.len(),
        "threads_per_app": fleet.threads(),
        "events": delivered,
        "posts": tally.posts.load(Ordering::Relaxed),
        "seconds": seconds,
        "events_per_second": delivered as f64 / seconds,
        "duplicates": tally.duplicates(),
        "missing": tally.missing(),
    })
}

/// Recovery: `events` events for one app over Pages × persons threads, queued while
/// its receiver is down. The outbox is filled through the store while the node is
/// stopped (batched: `fill_batch` outbox rows per call, consecutive events on
/// consecutive threads as live traffic interleaves them; each call stores one
/// message row, on its first event's thread, since only the outbox rows matter to
/// the drain). Then the node runs for `down_seconds` against the dead receiver:
/// every thread's head is POSTed, fails and is rescheduled with backoff, as in a
/// real outage. Then the receiver returns on the same address, and the drain is
/// timed from that moment to the last event's arrival.
async fn recovery(args: &Args, events: usize, pages: usize, persons: usize) -> Value {
    let refused = match args.down_mode.as_str() {
        "refused" => true,
        "503" => false,
        other => panic!("--down-mode is refused or 503, not {other}"),
    };
    let dir = Arc::new(tempfile::tempdir_in("target").expect("a directory on this disk"));
    let settings = test_settings(dir.path());
    let tally = Tally::new(1, events);
    let (urls, mut receivers) = start_app_receivers(&tally, 1).await;
    let server = TestServer::start_on(dir.clone(), settings).await;
    let fleet = Arc::new(set_up_fleet(&server, &urls, pages, persons).await);
    server.stop().await;

    let store: Arc<dyn Store> = Arc::new(switchboard_store_sqlite::SqliteStore::open(dir.path().join("switchboard.db")).expect("store"));
    let now = switchboard_app::SystemClock.now_ms();
    let started = Instant::now();
    let batch = args.fill_batch.max(1);
    // One writer for one thread, so that the events' order is their numbers'.
    let fill_writers = if fleet.threads() == 1 { 1 } else { 8 };
    let writers = fleet.clone();
    fill(store, events.div_ceil(batch), fill_writers, move |call| {
        let numbers = call * batch..((call + 1) * batch).min(events);
        let (page, person, _) = writers.thread(numbers.start % writers.threads());
        let message = Message::new(Mid(format!("m_fill_{call}")), page.clone(), person, Direction::Inbound, None, now);
        let rows = numbers
            .map(|n| {
                let thread = n % writers.threads();
                let (page, person, _) = writers.thread(thread);
                NewOutboxEvent {
                    app: writers.apps[0].clone(),
                    page: page.clone(),
                    person,
                    field: WebhookField::Messages,
                    body: person_message(&writers, thread, n, now).1,
                    created_at: now,
                }
            })
            .collect();
        (message, rows)
    })
    .await;
    let fill_seconds = started.elapsed().as_secs_f64();
    eprintln!("filled {events} events over {} threads in {fill_seconds:.1} s (VmHWM {} MB)", fleet.threads(), vm_hwm_kb() / 1024);

    // The peak so far is the setup's and the fill's; reset it (Linux: 5 into
    // clear_refs) so that `vm_hwm_mb` is the outage's and the drain's alone.
    let hwm_before_kb = vm_hwm_kb();
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    // Down: nothing listens on the receiver's address (or it answers 503).
    let address: std::net::SocketAddr = urls[0].trim_start_matches("http://").trim_end_matches("/webhook").parse().expect("address");
    if refused {
        let (stop, task) = receivers.pop().expect("one receiver");
        stop.send(()).ok();
        task.await.expect("receiver stops");
    } else {
        tally.up.store(false, Ordering::Relaxed);
    }
    // The node of the outage and the drain runs as a process of its own, so that its
    // peak memory is its own (this one holds the setup's allocations and the tally).
    let node = serve_node(dir.path(), args).await;
    let node_pid = node.child.id().expect("the node runs");
    tokio::time::sleep(Duration::from_secs(args.down_seconds)).await;
    eprintln!("down for {} s (VmHWM {} MB)", args.down_seconds, vm_hwm_kb() / 1024);
    let failed_posts = metric(&node.url, "switchboard_webhook_posts_total{outcome=\"failed\"}").await;

    // Back.
    let back = Instant::now();
    if refused {
        let listener = tokio::net::TcpListener::bind(address).await.expect("the receiver's address is free again");
        receivers.push(serve_app(listener, tally.clone(), 0));
    } else {
        tally.up.store(true, Ordering::Relaxed);
    }
    tally.wait_for_all(Duration::from_secs(3600)).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // late duplicates, if any
    let vm_hwm_mb = vm_hwm_kb() as f64 / 1024.0;
    let node_vm_hwm_mb = proc_kb(node_pid, "VmHWM:") as f64 / 1024.0;
    drop(node);
    let delivered = tally.distinct.load(Ordering::Relaxed);
    let first = tally.first_post.lock().unwrap().expect("at least one POST");
    let last = tally.last_new.lock().unwrap().expect("at least one event");
    let drain_seconds = (last - back).as_secs_f64().max(1e-9);
    json!({
        "events": delivered,
        "threads": fleet.threads(),
        "fill_seconds": fill_seconds,
        "fill_batch": batch,
        "down_mode": args.down_mode,
        "down_seconds": args.down_seconds,
        "failed_posts_while_down": failed_posts,
        "first_delivery_after_return_ms": (first - back).as_secs_f64() * 1000.0,
        "drain_seconds": drain_seconds,
        "events_per_second": delivered as f64 / drain_seconds,
        "posts": tally.posts.load(Ordering::Relaxed),
        "duplicates": tally.duplicates(),
        "missing": tally.missing(),
        // Numbers follow the order of one thread only.
        "out_of_order": (fleet.threads() == 1).then(|| tally.out_of_order.load(Ordering::Relaxed)),
        "retry_initial_ms": args.retry_initial_ms,
        "retry_max_ms": args.retry_max_ms,
        "vm_hwm_mb": vm_hwm_mb,
        "node_vm_hwm_mb": node_vm_hwm_mb,
        "vm_hwm_mb_before_outage": hwm_before_kb as f64 / 1024.0,
        "vm_hwm_reset_at_outage": hwm_reset,
    })
}

/// The process's peak resident memory (`VmHWM`), in kB; 0 where /proc has none.
fn vm_hwm_kb() -> u64 {
    proc_kb(std::process::id(), "VmHWM:")
}

/// A field of a process's /proc status, in kB; 0 where /proc has none.
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `switchboard serve` (the binary beside this one) on the data directory the
/// in-process node set up (its master key is there), with the same webhook
/// settings as `test_settings` and the run's backoff.
async fn serve_node(data: &std::path::Path, args: &Args) -> switchboard_testkit::Listening {
    let exe = std::env::current_exe().expect("this binary's path");
    let mut command = tokio::process::Command::new(exe.with_file_name("switchboard"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("SWITCHBOARD_LOG", "warn")
        .env("SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true")
        .env("SWITCHBOARD_WEBHOOKS__TIMEOUT_SECS", "5")
        .env("SWITCHBOARD_WEBHOOKS__RETRY_INITIAL_MS", args.retry_initial_ms.to_string())
        .env("SWITCHBOARD_WEBHOOKS__RETRY_MAX_MS", args.retry_max_ms.to_string());
    switchboard_testkit::Listening::spawn(command).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs = Vec::new();
    if !args.skip_throughput {
        for &threads in &args.threads {
            for batch_cap in [args.batch_cap, 1] {
                let run = throughput(threads, args.events, batch_cap).await;
                eprintln!("{run}");
                runs.push(run);
            }
        }
    }
    let mut latency = Value::Null;
    if !args.skip_latency {
        latency = added_latency(args.rate, args.latency_seconds, args.batch_cap).await;
        eprintln!("{latency}");
    }
    let mut fanouts = Vec::new();
    for &apps in &args.apps {
        let run = fanout(&args, apps.max(1)).await;
        eprintln!("{run}");
        fanouts.push(run);
    }
    let mut recovered = Value::Null;
    if args.recovery_events > 0 {
        recovered = recovery(&args, args.recovery_events, args.recovery_pages, args.recovery_persons).await;
        eprintln!("{recovered}");
    }
    let mut backlog = Value::Null;
    if args.backlog_events > 0 {
        backlog = recovery(&args, args.backlog_events, 1, 1).await;
        eprintln!("{backlog}");
    }
    let report = json!({"throughput": runs, "added_latency": latency, "fanout": fanouts, "recovery": recovered, "backlog": backlog});
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
