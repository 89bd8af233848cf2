//! The load generator: keep-alive connections sending Send API requests to many
//! (Page, person) pairs, either as fast as answers come (closed loop, for peak
//! throughput) or at a fixed rate (open loop, latency measured from each request's
//! scheduled time so that a stall is not hidden). Loopback only; stops by itself.

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

/// Latencies in milliseconds, sorted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    pub fn at(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0[((self.0.len() as f64 - 1.0) * p).round() as usize]
    }
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
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    #[serde(skip)]
    pub latencies: Latencies,
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

fn summarize(connections: usize, offered_rate: Option<f64>, seconds: f64, mut latencies: Vec<f64>, errors: usize) -> LoadResult {
    latencies.sort_by(f64::total_cmp);
    let latencies = Latencies(latencies);
    LoadResult {
        connections,
        offered_rate,
        requests: latencies.0.len(),
        errors,
        seconds,
        requests_per_second: latencies.0.len() as f64 / seconds,
        p50_ms: latencies.at(0.50),
        p99_ms: latencies.at(0.99),
        p999_ms: latencies.at(0.999),
        max_ms: latencies.0.last().copied().unwrap_or(0.0),
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
    summarize(connections, None, duration.as_secs_f64(), all, errors)
}

/// Open loop: requests are scheduled at `rate` per second, spread over `connections`;
/// each latency counts from the scheduled time.
pub async fn open_loop(targets: Arc<Vec<Target>>, connections: usize, rate: f64, duration: Duration) -> LoadResult {
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + duration;
    let mut workers = Vec::new();
    for worker in 0..connections {
        let targets = targets.clone();
        workers.push(tokio::spawn(async move {
            let client = client();
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            // Each connection starts at its own offset so that sends spread evenly.
            let mut scheduled = start + interval.mul_f64(worker as f64 / connections as f64);
            let mut n = worker;
            while scheduled < deadline {
                tokio::time::sleep_until(scheduled.into()).await;
                if send_one(&client, &targets[n % targets.len()], n).await {
                    latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
                scheduled += interval;
                n += connections;
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
    summarize(connections, Some(rate), duration.as_secs_f64(), all, errors)
}
