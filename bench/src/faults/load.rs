//! The mixed load a fault lands in: one worker per thread, writing as the person
//! (the person API) or as the bot (the Send API) in turn at random, one write at a
//! time, through whichever node is up. Each worker keeps its ledger: every write
//! acknowledged with its `mid`, in the order acknowledged (the thread's order), and
//! how every other answer looked, so that a refusal that does not say to retry, or
//! a call that hangs, is caught. Meanwhile the bots' receivers have their moods:
//! now and then one fails every POST for a moment (retries follow) or holds its
//! answers past the webhook timeout (the POST times out and is retried), and every
//! person keeps a live stream open to a node, opened again whenever it is cut.

use crate::world::{Nodes, World};
use rand::rngs::StdRng;
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A call answered later than this counts as hung: every timeout of the platform
/// (statements, connections, the request deadline) is shorter.
pub const HUNG: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Person,
    Bot,
}

/// A write the platform acknowledged.
#[derive(Debug, Clone)]
pub struct Ack {
    pub mid: String,
    pub thread: usize,
    /// When the answer came.
    pub at: Instant,
}

/// What the load saw: the acknowledged writes (each thread's in its order) and the
/// other answers by kind.
#[derive(Debug, Default)]
pub struct Ledger {
    pub acks: Vec<Ack>,
    pub attempts: u64,
    /// Graph errors flagged `is_transient` (the platform said to retry).
    pub transient: u64,
    /// No answer: the node was down or the connection was cut.
    pub unreachable: u64,
    /// Answers that were neither a success nor a transient Graph error, with a few
    /// samples.
    pub unclear: u64,
    pub unclear_samples: Vec<String>,
    /// Calls answered (or given up) after [`HUNG`].
    pub hung: u64,
    /// Events read from the persons' live streams, and how often a stream was
    /// opened again after it was cut.
    pub live_events: u64,
    pub live_reopened: u64,
    /// The longest a call took, answered or not, of those whose node met no fault
    /// meanwhile (a call held by a frozen node waits as long as the node is frozen).
    pub slowest_ms: u128,
}

impl Ledger {
    fn absorb(&mut self, other: Ledger) {
        self.acks.extend(other.acks);
        self.attempts += other.attempts;
        self.transient += other.transient;
        self.unreachable += other.unreachable;
        self.unclear += other.unclear;
        self.hung += other.hung;
        self.slowest_ms = self.slowest_ms.max(other.slowest_ms);
        self.live_events += other.live_events;
        self.live_reopened += other.live_reopened;
        for sample in other.unclear_samples {
            if self.unclear_samples.len() < 5 {
                self.unclear_samples.push(sample);
            }
        }
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<Ledger>>,
    streams: Vec<tokio::task::JoinHandle<Ledger>>,
    moods: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts one worker per thread of `world`, each with its own random stream
    /// drawn from `seed`.
    pub fn start(world: &Arc<World>, nodes: &Arc<Nodes>, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder().timeout(HUNG + Duration::from_secs(10)).build().expect("an HTTP client");
        let workers = (0..world.threads.len())
            .map(|thread| {
                let (world, nodes, stop, http) = (world.clone(), nodes.clone(), stop.clone(), http.clone());
                tokio::spawn(async move { work(thread, &world, &nodes, &stop, &http, StdRng::seed_from_u64(seed ^ ((thread as u64) << 20))).await })
            })
            .collect();
        let mut sessions: Vec<String> = world.threads.iter().map(|t| t.session.clone()).collect();
        sessions.dedup();
        let streams = sessions
            .into_iter()
            .enumerate()
            .map(|(n, session)| {
                let (nodes, stop) = (nodes.clone(), stop.clone());
                tokio::spawn(async move { stream(n, &session, &nodes, &stop).await })
            })
            .collect();
        let moods = tokio::spawn(moods(world.clone(), stop.clone(), StdRng::seed_from_u64(seed ^ 0x6d6f6f64)));
        Load { stop, workers, streams, moods }
    }

    /// Stops the workers after their current write; answers the whole ledger.
    pub async fn stop(self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.moods.await;
        let mut ledger = Ledger::default();
        for worker in self.workers.into_iter().chain(self.streams) {
            ledger.absorb(worker.await.expect("a load worker"));
        }
        ledger
    }
}

async fn work(thread: usize, world: &World, nodes: &Nodes, stop: &AtomicBool, http: &reqwest::Client, mut rng: StdRng) -> Ledger {
    let mut ledger = Ledger::default();
    let t = &world.threads[thread];
    let page_token = &world.bots[t.page].page_token;
    let mut turn = thread;
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..120))).await;
        let Some(node) = nodes.pick(turn) else {
            continue;
        };
        let base = &node.url;
        seq += 1;
        ledger.attempts += 1;
        let side = if rng.gen_bool(0.5) { Side::Person } else { Side::Bot };
        let text = format!("fault {thread}.{seq}");
        let request = match side {
            Side::Person => http.post(format!("{base}/person/v1/threads/{}/messages", t.page_username)).bearer_auth(&t.session).json(&json!({"text": text})),
            Side::Bot => http
                .post(format!("{base}/v21.0/me/messages"))
                .bearer_auth(page_token)
                .json(&json!({"recipient": {"id": t.psid}, "messaging_type": "RESPONSE", "message": {"text": text}})),
        };
        let started = Instant::now();
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.json::<Value>().await.unwrap_or(Value::Null)))
        }
        .await;
        let took = started.elapsed();
        if !nodes.faulted_since(&node) {
            ledger.slowest_ms = ledger.slowest_ms.max(took.as_millis());
        }
        if took > HUNG {
            ledger.hung += 1;
        }
        match answer {
            Ok((status, body)) if status.is_success() => {
                let mid = match side {
                    Side::Person => body["mid"].as_str(),
                    Side::Bot => body["message_id"].as_str(),
                };
                match mid {
                    Some(mid) => ledger.acks.push(Ack { mid: mid.to_string(), thread, at: Instant::now() }),
                    None => unclear(&mut ledger, format!("{status} without a mid: {body}")),
                }
            }
            Ok((_, body)) if body["error"]["is_transient"] == true => {
                ledger.transient += 1;
                turn += 1;
            }
            Ok((status, body)) => {
                unclear(&mut ledger, format!("{status} {body}"));
                turn += 1;
            }
            Err(_) => {
                ledger.unreachable += 1;
                turn += 1;
            }
        }
    }
    ledger
}

/// A person's live stream, read through whichever node is up and opened again when
/// it is cut; counts its events.
async fn stream(n: usize, session: &str, nodes: &Nodes, stop: &AtomicBool) -> Ledger {
    let http = reqwest::Client::new();
    let mut ledger = Ledger::default();
    let mut turn = n;
    let mut opened = false;
    while !stop.load(Ordering::SeqCst) {
        let Some(node) = nodes.pick(turn) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if let Ok(response) = http.get(format!("{}/person/v1/events", node.url)).bearer_auth(session).send().await {
            if response.status().is_success() {
                ledger.live_reopened += u64::from(opened);
                opened = true;
                let mut bytes = response.bytes_stream();
                loop {
                    tokio::select! {
                        chunk = bytes.next() => match chunk {
                            Some(Ok(chunk)) => ledger.live_events += chunk.windows(5).filter(|w| w == b"data:").count() as u64,
                            _ => break,
                        },
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {
                            if stop.load(Ordering::SeqCst) || nodes.faulted_since(&node) {
                                break;
                            }
                        }
                    }
                }
            }
        }
        turn += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ledger
}

/// Every second or so one bot's receiver, at random, fails every POST with a 500
/// or holds its answers past the webhook timeout, for a moment; all are well again
/// when the load stops.
async fn moods(world: Arc<World>, stop: Arc<AtomicBool>, mut rng: StdRng) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..1500))).await;
        let receiver = &world.bots[rng.gen_range(0..world.bots.len())].receiver;
        let failing = rng.gen_bool(0.5);
        if failing {
            receiver.fail_with(500);
        } else {
            receiver.hold(true);
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1500))).await;
        receiver.fail_with(0);
        receiver.hold(false);
    }
}

fn unclear(ledger: &mut Ledger, sample: String) {
    ledger.unclear += 1;
    if ledger.unclear_samples.len() < 5 {
        ledger.unclear_samples.push(sample);
    }
}
