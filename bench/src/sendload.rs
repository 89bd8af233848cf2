//! Send API load: N keep-alive connections, each sending text messages as fast as
//! answers come, spread over one or more nodes, for a fixed time. Reports requests
//! per second and latency percentiles as JSON. Only loopback; stops by itself.

use clap::Parser;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Graph API base URLs, comma-separated (one per node), e.g. http://127.0.0.1:8080/v21.0
    #[arg(long, value_delimiter = ',')]
    graph_url: Vec<String>,
    #[arg(long)]
    page_token: String,
    /// The recipient's PSID for the Page.
    #[arg(long)]
    psid: String,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    anyhow::ensure!(!args.graph_url.is_empty(), "give at least one --graph-url");
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for worker in 0..args.connections {
        let args = args.clone();
        workers.push(tokio::spawn(async move {
            // One client per worker: one keep-alive connection each.
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
            let url = format!("{}/me/messages", args.graph_url[worker % args.graph_url.len()]);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = json!({"recipient": {"id": args.psid}, "messaging_type": "UPDATE", "message": {"text": format!("load {worker}-{n}")}});
                let started = Instant::now();
                match client.post(&url).bearer_auth(&args.page_token).json(&body).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(started.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mine, failed) = worker.await?;
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64().max(args.seconds as f64);
    latencies.sort();
    let at = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "nodes": args.graph_url.len(),
            "connections": args.connections,
            "requests": latencies.len(),
            "errors": errors,
            "requests_per_second": latencies.len() as f64 / elapsed,
            "p50_ms": at(0.50),
            "p99_ms": at(0.99),
            "p999_ms": at(0.999),
        }))?
    );
    Ok(())
}
