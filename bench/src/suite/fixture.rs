//! The benchmark's world, built through Switchboard's own APIs like any client: Pages,
//! each with a live app (bot) whose webhook is a lean receiver in this process, and
//! persons who have written to every Page (so the 24-hour window is open). The
//! receiver can also play the bots: answer every person's message at once through the
//! Send API (the round-trip benchmark), through one node or several in turn, marking
//! when each round-trip message reached the bot and when its answer was accepted, so
//! that the round trip can be cut into legs. `switchboard listen` processes forward
//! the apps' webhooks to the same receiver, which takes them as it takes callbacks.

use crate::load::Target;
use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct World {
    /// (Page id, Page token) per bot.
    pub pages: Vec<(String, String)>,
    /// (App id, app secret) per bot, in the order of `pages`: each Page's own app.
    pub apps: Vec<(String, String)>,
    /// Per person: login, session token, and PSID per Page id.
    pub persons: Vec<(String, String, HashMap<String, String>)>,
    pub receiver: Arc<Receiver>,
}

impl World {
    /// Every (Page, person) pair, against the given nodes in turn.
    pub fn targets(&self, graph_urls: &[String]) -> Vec<Target> {
        let mut targets = Vec::new();
        for (n, (_, _, psids)) in self.persons.iter().enumerate() {
            for (m, (page, token)) in self.pages.iter().enumerate() {
                targets.push(Target { graph_url: graph_urls[(n + m) % graph_urls.len()].clone(), page_token: token.clone(), psid: psids[page].clone() });
            }
        }
        targets
    }
}

/// The bots' webhook: counts events, remembers who wrote first, and (when replying)
/// answers each person's message through the Send API.
pub struct Receiver {
    pub url: String,
    pub events: AtomicU64,
    /// "login@page" → PSID, from each person's first message.
    psids: Mutex<HashMap<String, String>>,
    pub replying: AtomicBool,
    /// Page id → Page token, for replies.
    bots: Mutex<HashMap<String, String>>,
    /// The Graph URLs replies go through, one after the other.
    graphs: Mutex<Vec<String>>,
    turn: AtomicUsize,
    marks: Mutex<BotMarks>,
    http: reqwest::Client,
}

/// What the bots saw of the round trip's messages (text `rt {tag}`), by tag: when
/// the webhook arrived, and when the Send API accepted the answer.
#[derive(Default)]
pub struct BotMarks {
    pub webhooks: HashMap<usize, Instant>,
    pub answered: HashMap<usize, Instant>,
    /// Answers the Send API refused or that failed on the way.
    pub failed: usize,
}

impl Receiver {
    /// Replies go through these Graph URLs (`…/v21.0`), in turn.
    pub fn answer_through(&self, graphs: Vec<String>) {
        *self.graphs.lock().unwrap() = graphs;
    }

    /// The marks so far, leaving none.
    pub fn take_marks(&self) -> BotMarks {
        std::mem::take(&mut *self.marks.lock().unwrap())
    }

    fn next_graph(&self) -> Option<String> {
        let graphs = self.graphs.lock().unwrap();
        (!graphs.is_empty()).then(|| graphs[self.turn.fetch_add(1, Ordering::Relaxed) % graphs.len()].clone())
    }
}

async fn handshake(Query(query): Query<HashMap<String, String>>) -> String {
    query.get("hub.challenge").cloned().unwrap_or_default()
}

async fn receive(State(receiver): State<Arc<Receiver>>, body: Bytes) -> &'static str {
    let arrived = Instant::now();
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else { return "ok" };
    for entry in envelope["entry"].as_array().into_iter().flatten() {
        for event in entry["messaging"].as_array().into_iter().flatten() {
            receiver.events.fetch_add(1, Ordering::Relaxed);
            let (Some(text), Some(psid), Some(page)) = (event["message"]["text"].as_str(), event["sender"]["id"].as_str(), event["recipient"]["id"].as_str()) else {
                continue;
            };
            if let Some(login) = text.strip_prefix("hello from ") {
                receiver.psids.lock().unwrap().insert(format!("{login}@{page}"), psid.to_string());
            }
            let tag = text.strip_prefix("rt ").and_then(|t| t.parse::<usize>().ok());
            if let Some(tag) = tag {
                receiver.marks.lock().unwrap().webhooks.entry(tag).or_insert(arrived);
            }
            if receiver.replying.load(Ordering::Relaxed) {
                let token = receiver.bots.lock().unwrap().get(page).cloned();
                if let (Some(token), Some(graph)) = (token, receiver.next_graph()) {
                    let (receiver, psid, text) = (receiver.clone(), psid.to_string(), text.to_string());
                    // Acknowledge at once; answer in the background, as bots should.
                    tokio::spawn(async move {
                        let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": format!("re: {text}")}});
                        let ok = match receiver.http.post(format!("{graph}/me/messages")).bearer_auth(token).json(&body).send().await {
                            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if let Some(tag) = tag {
                            let mut marks = receiver.marks.lock().unwrap();
                            if ok {
                                marks.answered.entry(tag).or_insert_with(Instant::now);
                            } else {
                                marks.failed += 1;
                            }
                        }
                    });
                }
            }
        }
    }
    "ok"
}

pub async fn start_receiver() -> anyhow::Result<Arc<Receiver>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = Arc::new(Receiver {
        url: format!("http://{}/webhook", listener.local_addr()?),
        events: AtomicU64::new(0),
        psids: Mutex::new(HashMap::new()),
        replying: AtomicBool::new(false),
        bots: Mutex::new(HashMap::new()),
        graphs: Mutex::new(Vec::new()),
        turn: AtomicUsize::new(0),
        marks: Mutex::new(BotMarks::default()),
        http: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
    });
    let app = Router::new().route("/webhook", get(handshake).post(receive)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(receiver)
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
    let response = http.request(method, &url).bearer_auth(token).json(&body).send().await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{url}: {status} {answer}");
    Ok(answer)
}

/// Builds `pages` bots and `persons` persons on the node at `base`, with the
/// operator credential; every person writes to every Page once.
pub async fn build(base: &str, operator: &str, pages: usize, persons: usize, receiver: Arc<Receiver>) -> anyhow::Result<World> {
    let http = reqwest::Client::new();
    let console = format!("{base}/console/v1");
    let graph = format!("{base}/v21.0");
    let admin = call(&http, reqwest::Method::POST, format!("{console}/persons"), operator, json!({"name": "Bench Admin", "login": "bench-admin", "password": "bench-password"})).await?;
    let admin_id = admin["id"].as_i64().context("admin id")?;
    let mut world_pages = Vec::new();
    let mut world_apps = Vec::new();
    for n in 0..pages {
        let page = call(&http, reqwest::Method::POST, format!("{console}/pages"), operator, json!({"name": format!("Bench Page {n}"), "username": format!("bench{n}")})).await?;
        let page_id = page["id"].as_str().context("page id")?.to_string();
        call(&http, reqwest::Method::POST, format!("{console}/pages/{page_id}/roles"), operator, json!({"person_id": admin_id, "role": "admin"})).await?;
        let app = call(&http, reqwest::Method::POST, format!("{console}/apps"), operator, json!({"name": format!("Bench Bot {n}")})).await?;
        let (app_id, secret) = (app["id"].as_str().context("app id")?.to_string(), app["secret"].as_str().context("secret")?.to_string());
        // Live, with what it uses through App Review, so that it answers anyone.
        let permissions = ["pages_messaging", "pages_manage_metadata"];
        call(&http, reqwest::Method::POST, format!("{console}/apps/{app_id}/review"), operator, json!({"permissions": permissions, "note": "bench bot"})).await?;
        for permission in permissions {
            call(&http, reqwest::Method::POST, format!("{console}/apps/{app_id}/review/{permission}"), operator, json!({"approve": true})).await?;
        }
        call(&http, reqwest::Method::PATCH, format!("{console}/apps/{app_id}"), operator, json!({"mode": "live"})).await?;
        let granted = call(&http, reqwest::Method::POST, format!("{console}/pages/{page_id}/apps"), operator, json!({"app_id": app_id, "person_id": admin_id})).await?;
        let page_token = granted["access_token"].as_str().context("page token")?.to_string();
        // The fields a typical bot takes; its own echoes it does not.
        let fields = "messages,message_deliveries,message_reads,messaging_postbacks";
        let subscription = json!({"object": "page", "callback_url": receiver.url, "verify_token": "bench", "fields": fields});
        call(&http, reqwest::Method::POST, format!("{graph}/{app_id}/subscriptions"), &format!("{app_id}|{secret}"), subscription).await?;
        call(&http, reqwest::Method::POST, format!("{graph}/{page_id}/subscribed_apps"), &page_token, json!({"subscribed_fields": fields})).await?;
        receiver.bots.lock().unwrap().insert(page_id.clone(), page_token.clone());
        world_pages.push((page_id, page_token));
        world_apps.push((app_id, secret));
    }
    let mut world_persons = Vec::new();
    for n in 0..persons {
        let login = format!("bench-person-{n}");
        call(&http, reqwest::Method::POST, format!("{console}/persons"), operator, json!({"name": format!("Person {n}"), "login": login, "password": "bench-password"})).await?;
        let signed = call(&http, reqwest::Method::POST, format!("{base}/person/v1/login"), "", json!({"login": login, "password": "bench-password"})).await?;
        let token = signed["access_token"].as_str().context("session")?.to_string();
        for (m, _) in world_pages.iter().enumerate() {
            call(&http, reqwest::Method::POST, format!("{base}/person/v1/threads/bench{m}/messages"), &token, json!({"text": format!("hello from {login}")})).await?;
        }
        world_persons.push((login, token, HashMap::new()));
    }
    // Each person's PSID per Page arrives with their first message's webhook.
    let wanted = pages * persons;
    for _ in 0..600 {
        if receiver.psids.lock().unwrap().len() >= wanted {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    receiver.answer_through(vec![graph]);
    let psids = receiver.psids.lock().unwrap().clone();
    for (login, _, mine) in &mut world_persons {
        for (page, _) in &world_pages {
            let psid = psids.get(&format!("{login}@{page}")).with_context(|| format!("no PSID for {login} on {page}"))?;
            mine.insert(page.clone(), psid.clone());
        }
    }
    Ok(World { pages: world_pages, apps: world_apps, persons: world_persons, receiver })
}
