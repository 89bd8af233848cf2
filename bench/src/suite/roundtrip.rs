//! Person → bot → person at a steady rate: persons write through the person API, the
//! bots (this process's receiver) answer every message through the Send API at once,
//! and each answer's arrival on its person's live stream is timed from the moment the
//! person's message was due (open loop). Rates rise until the platform cannot keep up.
//!
//! The round trip is also cut into legs, each timed from the same due moment, so that
//! a slow round trip says where it lost its time: the person's write accepted, the
//! webhook at the bot, the bot's Send API call answered, the answer on the stream.
//! With several nodes, each person writes and listens on one node (by person, in
//! turn) and the bots answer through the nodes in turn, so that webhooks leave from
//! either node's dispatcher and answers cross from node to node.
//!
//! The runs of one world share a `Session` (the persons' live streams). At one light
//! rate on SQLite, the webhook leg is also taken twice back to back: through direct
//! callbacks, then through a `switchboard listen` process per app forwarding to the
//! same bots (`ThroughListeners`), so that what a listener adds is one run's figure.

use crate::fixture::World;
use crate::stats::{self, Latencies, Sample, Second, Tail};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Serialize)]
pub struct RoundTrip {
    pub offered_rate: f64,
    /// Nodes the persons and the bots spread over.
    pub nodes: usize,
    pub sent: usize,
    pub answered: usize,
    pub answered_rate: f64,
    /// The whole round trip (the last leg).
    #[serde(flatten)]
    pub tail: Tail,
    /// Every message was answered and the answers kept pace with the offered rate.
    pub held: bool,
    /// The legs, in order, each from the message's due time.
    pub legs: Vec<Leg>,
    /// Bot answers the Send API refused or that failed.
    pub bot_failures: usize,
    /// Each second's messages (by the second they were due in), timed to the answer.
    pub timeline: Vec<Second>,
}

/// One leg of the round trip: from the message's due time to a moment on the way.
#[derive(Debug, Clone, Serialize)]
pub struct Leg {
    pub leg: &'static str,
    /// Messages that reached this point.
    pub measured: usize,
    #[serde(flatten)]
    pub tail: Tail,
}

/// When each tagged message was due, when the person API accepted it, and when its
/// answer arrived on the person's stream.
#[derive(Default)]
struct Clock {
    due: Mutex<HashMap<usize, Instant>>,
    written: Mutex<HashMap<usize, Instant>>,
    arrived: Mutex<HashMap<usize, Instant>>,
}

impl Clock {
    fn clear(&self) {
        self.due.lock().unwrap().clear();
        self.written.lock().unwrap().clear();
        self.arrived.lock().unwrap().clear();
    }
}

/// Opens every person's live stream on their node; answers arriving there are timed.
/// The streams' readers, to stop them.
async fn listen(world: &World, person_apis: &[String], clock: Arc<Clock>) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let http = reqwest::Client::new();
    let mut readers = Vec::new();
    for (n, (_, token, _)) in world.persons.iter().enumerate() {
        let person_api = &person_apis[n % person_apis.len()];
        let response = http.get(format!("{person_api}/events")).bearer_auth(token).send().await?;
        anyhow::ensure!(response.status().is_success(), "the live stream refused: {}", response.status());
        let clock = clock.clone();
        readers.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    for data in frame.lines().filter_map(|l| l.strip_prefix("data:")) {
                        let Ok(event) = serde_json::from_str::<Value>(data.trim()) else { continue };
                        let text = event["message"]["text"].as_str().unwrap_or("");
                        let Some(tag) = text.strip_prefix("re: rt ").and_then(|t| t.parse::<usize>().ok()) else { continue };
                        clock.arrived.lock().unwrap().entry(tag).or_insert_with(Instant::now);
                    }
                }
            }
        }));
    }
    Ok(readers)
}

/// The latencies from each message's due time to its mark.
fn leg(leg: &'static str, due: &HashMap<usize, Instant>, marks: &HashMap<usize, Instant>) -> Leg {
    let latencies = Latencies::new(due.iter().filter_map(|(tag, due)| marks.get(tag).map(|at| at.saturating_duration_since(*due).as_secs_f64() * 1000.0)).collect());
    Leg { leg, measured: latencies.0.len(), tail: latencies.tail() }
}

/// Runs each rate for `duration` against the nodes at `bases` (`http://…`), stopping
/// after the first rate not held.
pub async fn rates(world: &World, bases: &[String], rates: &[f64], duration: Duration) -> anyhow::Result<Vec<RoundTrip>> {
    Session::open(world, bases).await?.rates(rates, duration).await
}

/// Round trips on one world's nodes, one after the other: the persons' live streams
/// stay open between them and the bots answer while it lives.
pub struct Session<'a> {
    world: &'a World,
    bases: Vec<String>,
    person_apis: Vec<String>,
    clock: Arc<Clock>,
    next_tag: Arc<AtomicUsize>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
        self.world.receiver.replying.store(false, Ordering::Relaxed);
    }
}

impl<'a> Session<'a> {
    /// Opens every person's live stream; the bots answer through the nodes in turn.
    pub async fn open(world: &'a World, bases: &[String]) -> anyhow::Result<Session<'a>> {
        let person_apis: Vec<String> = bases.iter().map(|b| format!("{b}/person/v1")).collect();
        world.receiver.answer_through(bases.iter().map(|b| format!("{b}/v21.0")).collect());
        world.receiver.replying.store(true, Ordering::Relaxed);
        let clock = Arc::new(Clock::default());
        let readers = listen(world, &person_apis, clock.clone()).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(Session { world, bases: bases.to_vec(), person_apis, clock, next_tag: Arc::new(AtomicUsize::new(0)), readers })
    }

    /// Each rate in turn, stopping after the first not held; every Page takes messages.
    pub async fn rates(&self, rates: &[f64], duration: Duration) -> anyhow::Result<Vec<RoundTrip>> {
        let mut results = Vec::new();
        for &rate in rates {
            let result = self.run(rate, duration, self.world.pages.len(), "round trip").await?;
            let held = result.held;
            results.push(result);
            if !held {
                break;
            }
        }
        Ok(results)
    }

    /// One run at `rate` for `duration`: every person writes to the first `pages`
    /// Pages of the world (each (person, Page) pair in turn).
    pub async fn run(&self, rate: f64, duration: Duration, pages: usize, label: &str) -> anyhow::Result<RoundTrip> {
        let (world, clock) = (self.world, &self.clock);
        let pages = pages.clamp(1, world.pages.len().max(1));
        // Every (person, Page) pair, each with the person's node.
        let pairs: Vec<(String, String, String)> = world
            .persons
            .iter()
            .enumerate()
            .flat_map(|(n, (_, token, _))| {
                let person_api = self.person_apis[n % self.person_apis.len()].clone();
                (0..pages).map(move |m| (token.clone(), format!("bench{m}"), person_api.clone()))
            })
            .collect();
        anyhow::ensure!(!pairs.is_empty(), "the world has no persons or no Pages");
        clock.clear();
        world.receiver.take_marks();
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let start = Instant::now() + Duration::from_millis(100);
        let count = (rate * duration.as_secs_f64()) as usize;
        let mut sends = Vec::with_capacity(count);
        for i in 0..count {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let (token, page, person_api) = pairs[i % pairs.len()].clone();
            let (http, clock, next_tag) = (http.clone(), clock.clone(), self.next_tag.clone());
            sends.push(tokio::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                let tag = next_tag.fetch_add(1, Ordering::Relaxed);
                clock.due.lock().unwrap().insert(tag, due);
                let body = json!({"text": format!("rt {tag}")});
                let accepted = match http.post(format!("{person_api}/threads/{page}/messages")).bearer_auth(token).json(&body).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if accepted {
                    clock.written.lock().unwrap().insert(tag, Instant::now());
                }
            }));
        }
        for send in sends {
            let _ = send.await;
        }
        // Late answers still count, up to a grace period.
        let grace = Instant::now() + Duration::from_secs(5);
        while Instant::now() < grace && clock.arrived.lock().unwrap().len() < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let due = clock.due.lock().unwrap().clone();
        let written = clock.written.lock().unwrap().clone();
        let arrived = clock.arrived.lock().unwrap().clone();
        let bots = world.receiver.take_marks();
        let legs = vec![
            leg("person's write accepted", &due, &written),
            leg(WEBHOOK_LEG, &due, &bots.webhooks),
            leg("bot's Send API answered", &due, &bots.answered),
            leg("answer on the person's stream", &due, &arrived),
        ];
        let whole = legs[3].clone();
        let samples: Vec<Sample> = due
            .iter()
            .map(|(tag, at)| ((at.saturating_duration_since(start)).as_secs_f64(), arrived.get(tag).map(|a| a.saturating_duration_since(*at).as_secs_f64() * 1000.0)))
            .collect();
        let seconds = duration.as_secs_f64();
        let result = RoundTrip {
            offered_rate: rate,
            nodes: self.bases.len(),
            sent: count,
            answered: whole.measured,
            answered_rate: whole.measured as f64 / seconds,
            tail: whole.tail,
            held: whole.measured == count && whole.tail.p99_ms < 1000.0,
            legs,
            bot_failures: bots.failed,
            timeline: stats::timeline(&samples, seconds),
        };
        eprintln!(
            "  {label} at {rate}/s: {}/{count} answered, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; p99 by leg: {}",
            result.answered,
            result.tail.p50_ms,
            result.tail.p99_ms,
            result.tail.max_ms,
            result.legs.iter().map(|l| format!("{:.1}", l.tail.p99_ms)).collect::<Vec<_>>().join(" / ")
        );
        Ok(result)
    }
}

/// The name of the leg from a message's due time to its webhook at the bot.
pub const WEBHOOK_LEG: &str = "webhook at the bot";

impl RoundTrip {
    /// The leg named `name`.
    pub fn leg(&self, name: &str) -> Option<&Leg> {
        self.legs.iter().find(|l| l.leg == name)
    }
}

/// The webhook leg at one rate, through direct callbacks and then through
/// `switchboard listen` processes (one per app), back to back on the same node.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughListeners {
    pub offered_rate: f64,
    /// Listener processes, one per app of the Pages that took messages.
    pub listeners: usize,
    /// Pages that took messages in both runs (each with its app's listener).
    pub pages: usize,
    /// Pages of the world (those beyond `pages` took no messages).
    pub world_pages: usize,
    /// The webhook leg of each run, and what the listeners added to it (ms).
    pub webhook_direct: Leg,
    pub webhook_through_listeners: Leg,
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
    /// Event lines the listeners printed during their runs: what they forwarded.
    pub forwarded: u64,
    /// Of those, the ones the bot did not answer with a 2xx.
    pub forwarded_failed: u64,
    /// The highest peak resident memory of one listener process, MiB.
    pub listener_peak_mib: f64,
    /// The whole round trips.
    pub direct: RoundTrip,
    pub through_listeners: RoundTrip,
}

/// What the listeners did, besides the round trip through them.
pub struct ListenerCounts {
    pub listeners: usize,
    pub forwarded: u64,
    pub failed: u64,
    pub peak_mib: f64,
}

impl ThroughListeners {
    pub fn new(pages: usize, world_pages: usize, direct: RoundTrip, through_listeners: RoundTrip, counts: ListenerCounts) -> anyhow::Result<ThroughListeners> {
        use anyhow::Context;
        let webhook_direct = direct.leg(WEBHOOK_LEG).context("the direct run has no webhook leg")?.clone();
        let webhook_through_listeners = through_listeners.leg(WEBHOOK_LEG).context("the listeners' run has no webhook leg")?.clone();
        Ok(ThroughListeners {
            offered_rate: through_listeners.offered_rate,
            listeners: counts.listeners,
            pages,
            world_pages,
            added_p50_ms: webhook_through_listeners.tail.p50_ms - webhook_direct.tail.p50_ms,
            added_p99_ms: webhook_through_listeners.tail.p99_ms - webhook_direct.tail.p99_ms,
            webhook_direct,
            webhook_through_listeners,
            forwarded: counts.forwarded,
            forwarded_failed: counts.failed,
            listener_peak_mib: counts.peak_mib,
            direct,
            through_listeners,
        })
    }
}
