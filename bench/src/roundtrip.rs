//! Round trip: a person's message → webhook to the bot → the bot's Send API answer →
//! the answer arriving live at the person. Runs against a running demo (its
//! demo.json names the person and the URLs), one message at a time, and reports
//! latency percentiles. Only loopback; stops by itself.

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// The demo's demo.json.
    #[arg(long)]
    demo_json: std::path::PathBuf,
    /// Messages to time.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Untimed messages first (connections, caches).
    #[arg(long, default_value_t = 50)]
    warmup: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&args.demo_json).context("reading demo.json")?)?;
    let api = info["person_api_url"].as_str().context("person_api_url")?.to_string();
    let page = info["page_username"].as_str().context("page_username")?.to_string();
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{api}/login"))
        .json(&json!({"login": info["person_login"], "password": info["person_password"]}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("login failed")?.to_string();

    // The live stream: forward each Page message's text.
    let (texts, mut arrived) = mpsc::unbounded_channel::<String>();
    let events = http.get(format!("{api}/events")).bearer_auth(&token).send().await?;
    tokio::spawn(async move {
        let mut stream = events.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                for data in frame.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(event) = serde_json::from_str::<Value>(data.trim()) {
                        if event["type"] == "message" && event["message"]["from"] == "page" {
                            let _ = texts.send(event["message"]["text"].as_str().unwrap_or("").to_string());
                        }
                    }
                }
            }
        }
    });

    let mut latencies = Vec::with_capacity(args.messages);
    let run_started = Instant::now();
    for n in 0..args.warmup + args.messages {
        let text = format!("roundtrip {n}");
        let expected = format!("echo: {text}");
        let started = Instant::now();
        let response = http.post(format!("{api}/threads/{page}/messages")).bearer_auth(&token).json(&json!({"text": text})).send().await?;
        anyhow::ensure!(response.status().is_success(), "sending failed: {}", response.text().await?);
        loop {
            let text = tokio::time::timeout(Duration::from_secs(10), arrived.recv()).await.context("no echo within 10 s")?.context("stream closed")?;
            if text == expected {
                break;
            }
        }
        if n >= args.warmup {
            latencies.push(started.elapsed());
        }
    }
    let total = run_started.elapsed();
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    let report = json!({
        "messages": latencies.len(),
        "p50_ms": ms(percentile(&latencies, 0.50)),
        "p90_ms": ms(percentile(&latencies, 0.90)),
        "p99_ms": ms(percentile(&latencies, 0.99)),
        "max_ms": ms(*latencies.last().unwrap()),
        "mean_ms": ms(mean),
        "elapsed_s": total.as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
