//! Person → bot → person at a steady rate: persons write through the person API, the
//! bots (this process's receiver) answer every message through the Send API at once,
//! and each answer's arrival on its person's live stream is timed from the moment the
//! person's message was due (open loop). Rates rise until the platform cannot keep up.

use crate::fixture::World;
use crate::load::Latencies;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct RoundTrip {
    pub offered_rate: f64,
    pub sent: usize,
    pub answered: usize,
    pub answered_rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Every message was answered and the answers kept pace with the offered rate.
    pub held: bool,
}

/// When each tagged message was due, and when its answer arrived.
#[derive(Default)]
struct Clock {
    due: Mutex<HashMap<usize, Instant>>,
    latencies: Mutex<Vec<f64>>,
}

/// Opens every person's live stream; answers arriving there are timed.
async fn listen(world: &World, person_api: &str, clock: Arc<Clock>) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for (_, token, _) in &world.persons {
        let response = http.get(format!("{person_api}/events")).bearer_auth(token).send().await?;
        anyhow::ensure!(response.status().is_success(), "the live stream refused: {}", response.status());
        let clock = clock.clone();
        tokio::spawn(async move {
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
                        let due = clock.due.lock().unwrap().get(&tag).copied();
                        if let Some(due) = due {
                            clock.latencies.lock().unwrap().push(due.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                }
            }
        });
    }
    Ok(())
}

/// Runs each rate for `duration`, stopping after the first rate not held.
pub async fn rates(world: &World, base: &str, rates: &[f64], duration: Duration) -> anyhow::Result<Vec<RoundTrip>> {
    let person_api = format!("{base}/person/v1");
    world.receiver.replying.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    let next_tag = Arc::new(AtomicUsize::new(0));
    let clock = Arc::new(Clock::default());
    listen(world, &person_api, clock.clone()).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for &rate in rates {
        clock.due.lock().unwrap().clear();
        clock.latencies.lock().unwrap().clear();
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let start = Instant::now() + Duration::from_millis(100);
        let count = (rate * duration.as_secs_f64()) as usize;
        let pairs: Vec<(String, String)> = world
            .persons
            .iter()
            .flat_map(|(_, token, _)| (0..world.pages.len()).map(move |m| (token.clone(), format!("bench{m}"))))
            .collect();
        let mut sends = Vec::with_capacity(count);
        for i in 0..count {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let (token, page) = pairs[i % pairs.len()].clone();
            let (http, clock, person_api, next_tag) = (http.clone(), clock.clone(), person_api.clone(), next_tag.clone());
            sends.push(tokio::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                let tag = next_tag.fetch_add(1, Ordering::Relaxed);
                clock.due.lock().unwrap().insert(tag, due);
                let body = json!({"text": format!("rt {tag}")});
                let _ = http.post(format!("{person_api}/threads/{page}/messages")).bearer_auth(token).json(&body).send().await;
            }));
        }
        for send in sends {
            let _ = send.await;
        }
        // Late answers still count, up to a grace period.
        let grace = Instant::now() + Duration::from_secs(5);
        while Instant::now() < grace && clock.latencies.lock().unwrap().len() < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut latencies = clock.latencies.lock().unwrap().clone();
        latencies.sort_by(f64::total_cmp);
        let latencies = Latencies(latencies);
        let answered = latencies.0.len();
        let seconds = duration.as_secs_f64();
        let result = RoundTrip {
            offered_rate: rate,
            sent: count,
            answered,
            answered_rate: answered as f64 / seconds,
            p50_ms: latencies.at(0.50),
            p99_ms: latencies.at(0.99),
            p999_ms: latencies.at(0.999),
            max_ms: latencies.0.last().copied().unwrap_or(0.0),
            held: answered == count && latencies.at(0.99) < 1000.0,
        };
        eprintln!("  round trip at {rate}/s: {answered}/{count} answered, p50 {:.2} ms, p99 {:.2} ms", result.p50_ms, result.p99_ms);
        let held = result.held;
        results.push(result);
        if !held {
            break;
        }
    }
    world.receiver.replying.store(false, Ordering::Relaxed);
    Ok(results)
}
