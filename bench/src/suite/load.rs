//! The load generator: keep-alive connections sending Send API requests to many
//! (Page, person) pairs, either as fast as answers come (closed loop, for peak
//! throughput) or at a fixed rate (open loop, latency measured from each request's
//! scheduled time so that a stall is not hidden, with its per-second timeline).
//! Loopback only; stops by itself.

use crate::stats::{self, Latencies, Sample, Second, Tail};
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where one request goes: a Graph base URL, the Page token and the recipient's PSID.
#[derive(Clone, Debug)]
pub struct Target {
    pub graph_url: String,
    pub page_token: String,
    pub psid: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub connections: usize,
    /// The rate asked for (open loop), requests per second.
    pub offered_rate: Option<f64>,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub requests_per_second: f64,
    #[serde(flatten)]
    pub tail: Tail,
    /// Open loop only: each second's requests, by the second they were due in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Second>,
    #[serde(skip)]
    pub latencies: Latencies,
}

/// An open-loop run beside the bare server at the same offered rate over as many
/// connections, measured right after it in the same run: the floor this machine
/// gives at that load, which the run's tail is divided by.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub label: String,
    pub run: LoadResult,
    pub bare: LoadResult,
    /// p99 ÷ the bare server's p99, and max ÷ its max.
    pub p99_ratio: f64,
    pub max_ratio: f64,
    /// The seconds with the highest max, in the run and in the bare server's.
    pub worst_second: Option<Second>,
    pub bare_worst_second: Option<Second>,
}

impl Paired {
    pub fn new(label: String, run: LoadResult, bare: LoadResult) -> Paired {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
        Paired {
            label,
            p99_ratio: ratio(run.tail.p99_ms, bare.tail.p99_ms),
            max_ratio: ratio(run.tail.max_ms, bare.tail.max_ms),
            worst_second: stats::worst(&run.timeline).cloned(),
            bare_worst_second: stats::worst(&bare.timeline).cloned(),
            run,
            bare,
        }
    }
}

fn client() -> reqwest::Client {
    // One client per connection: one keep-alive connection each.
    reqwest::Client::builder().pool_max_idle_per_host(1).tcp_nodelay(true).build().expect("client")
}

async fn send_one(client: &reqwest::Client, target: &Target, n: usize) -> bool {
    let body = json!({"recipient": {"id": target.psid}, "messaging_type": "UPDATE", "message": {"text": format!("load message {n}")}});
    let url = format!("{}/me/messages", target.graph_url);
    match client.post(url).bearer_auth(&target.page_token).json(&body).send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

fn summarize(connections: usize, offered_rate: Option<f64>, seconds: f64, latencies: Vec<f64>, errors: usize, timeline: Vec<Second>) -> LoadResult {
    let latencies = Latencies::new(latencies);
    LoadResult {
        connections,
        offered_rate,
        requests: latencies.0.len(),
        errors,
        seconds,
        requests_per_second: latencies.0.len() as f64 / seconds,
        tail: latencies.tail(),
        timeline,
        latencies,
    }
}

/// Closed loop: each connection sends its next request as soon as the last is answered.
pub async fn closed_loop(targets: Arc<Vec<Target>>, connections: usize, duration: Duration, warmup: Duration) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let measure_from = started + warmup;
    let deadline = measure_from + duration;
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (targets, next) = (targets.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let client = client();
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                let ok = send_one(&client, &targets[n % targets.len()], n).await;
                if sent >= measure_from {
                    if ok {
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (latencies, failed) = worker.await.expect("a load worker");
        all.extend(latencies);
        errors += failed;
    }
    summarize(connections, None, duration.as_secs_f64(), all, errors, Vec::new())
}

/// Open loop: requests are scheduled at `rate` per second, spread over `connections`;
/// each latency counts from the scheduled time, and each request is kept with the
/// second it was due in for the run's timeline.
pub async fn open_loop(targets: Arc<Vec<Target>>, connections: usize, rate: f64, duration: Duration) -> LoadResult {
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + duration;
    let mut workers = Vec::new();
    for worker in 0..connections {
        let targets = targets.clone();
        workers.push(tokio::spawn(async move {
            let client = client();
            let mut samples: Vec<Sample> = Vec::new();
            // Each connection starts at its own offset so that sends spread evenly.
            let mut scheduled = start + interval.mul_f64(worker as f64 / connections as f64);
            let mut n = worker;
            while scheduled < deadline {
                tokio::time::sleep_until(scheduled.into()).await;
                let ok = send_one(&client, &targets[n % targets.len()], n).await;
                let due = (scheduled - start).as_secs_f64();
                samples.push((due, ok.then(|| scheduled.elapsed().as_secs_f64() * 1000.0)));
                scheduled += interval;
                n += connections;
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("a load worker"));
    }
    let seconds = duration.as_secs_f64();
    let timeline = stats::timeline(&samples, seconds);
    let errors = samples.iter().filter(|(_, latency)| latency.is_none()).count();
    let latencies = samples.into_iter().filter_map(|(_, latency)| latency).collect();
    summarize(connections, Some(rate), seconds, latencies, errors, timeline)
}
