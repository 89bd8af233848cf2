//! The hostile probes, retried against a release node (`switchboard serve`) on a
//! fresh data directory, with the figures that tests must not assert: the node's
//! resident memory after a flood of failed sign-ins and under slow readers of a
//! large file, and what becomes of idle, dripping and slow connections.
//!
//! `cargo build --release --workspace --bins && target/release/probes [--logins N]`
//! prints a Markdown table.

#[path = "suite/nodes.rs"]
#[allow(dead_code)]
mod nodes;

use anyhow::Context;
use clap::Parser;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// Failed sign-ins to send.
    #[arg(long, default_value_t = 1000)]
    logins: usize,
    /// Of them at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

struct Node {
    process: nodes::Process,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start(env: &[(&str, &str)]) -> anyhow::Result<Node> {
        for (name, value) in env {
            std::env::set_var(name, value);
        }
        let dir = tempfile::tempdir()?;
        let process = nodes::start_switchboard(dir.path(), None).await?;
        for (name, _) in env {
            std::env::remove_var(name);
        }
        Ok(Node { process, http: reqwest::Client::new(), _dir: dir })
    }

    fn rss(&self) -> (f64, f64) {
        nodes::memory_mib(self.process.pid())
    }

    async fn console(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let token = self.process.operator.clone().context("operator credential")?;
        Ok(self.http.post(format!("{}/console/v1{path}", self.process.url)).bearer_auth(token).json(&body).send().await?.json().await?)
    }

    fn addr(&self) -> String {
        self.process.url.trim_start_matches("http://").to_string()
    }
}

/// `n` failed sign-ins for one existing login, `concurrency` at a time; answers the
/// statuses seen.
async fn failed_logins(node: &Node, n: usize, concurrency: usize) -> std::collections::BTreeMap<u16, usize> {
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let http = node.http.clone();
        let url = format!("{}/person/v1/login", node.process.url);
        tasks.push(tokio::spawn(async move {
            let status = http.post(url).json(&json!({"login": "victim", "password": "not the password"})).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            drop(permit);
            status
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        *statuses.entry(task.await.unwrap_or(0)).or_insert(0) += 1;
    }
    statuses
}

/// Of `n` connections that send `first_bytes` (and then drip a byte every half
/// second, with `drip`): how many the node closed within `wait`, and how many could
/// not connect at all.
async fn closed_within(node: &Node, n: usize, wait: Duration, first_bytes: &'static [u8], drip: bool) -> (usize, usize) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let addr = node.addr();
        tasks.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else { return None };
            if !first_bytes.is_empty() && stream.write_all(first_bytes).await.is_err() {
                return Some(true);
            }
            let deadline = Instant::now() + wait;
            let mut buffer = [0u8; 1024];
            while Instant::now() < deadline {
                if drip && stream.write_all(b"x").await.is_err() {
                    return Some(true);
                }
                match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(true),
                    _ => {} // nothing yet, or an answer (503, 408) before the close
                }
            }
            Some(false)
        }));
    }
    let (mut closed, mut unconnected) = (0, 0);
    for task in tasks {
        match task.await.ok().flatten() {
            Some(true) => closed += 1,
            Some(false) => {}
            None => unconnected += 1,
        }
    }
    (closed, unconnected)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. Failed sign-ins, with the attempt limits lifted so that every one is hashed.
    let node = Node::start(&[("SWITCHBOARD_SIGN_IN__FAILURES_PER_LOGIN", "0"), ("SWITCHBOARD_SIGN_IN__FAILURES_PER_ADDRESS", "0")]).await?;
    node.console("/persons", json!({"name": "Victim", "login": "victim", "password": "the real password"})).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle, _) = node.rss();
    let started = Instant::now();
    let statuses = failed_logins(&node, args.logins, args.concurrency).await;
    let took = started.elapsed();
    let (after, peak) = node.rss();
    rows.push((
        format!("{} failed sign-ins, {} at once, limits off", args.logins, args.concurrency),
        format!("resident {idle:.0} MiB idle → {after:.0} MiB after (peak {peak:.0}); +{:.0} MiB; answers {statuses:?} in {:.1} s", after - idle, took.as_secs_f64()),
    ));
    node.process.stop().await;

    // 2. The same flood with the default limits.
    let node = Node::start(&[]).await?;
    node.console("/persons", json!({"name": "Victim", "login": "victim", "password": "the real password"})).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle, _) = node.rss();
    let statuses = failed_logins(&node, args.logins, args.concurrency).await;
    let (after, peak) = node.rss();
    rows.push((
        format!("{} failed sign-ins, {} at once, default limits", args.logins, args.concurrency),
        format!("resident {idle:.0} → {after:.0} MiB (peak {peak:.0}); answers {statuses:?}"),
    ));
    eprintln!("{rows:#?}");

    node.process.stop().await;

    // 3. Slow readers of a 20 MB media file, on a node whose sign-ins are not
    // throttled by the flood above (this address is, there).
    let node = Node::start(&[]).await?;
    let person = node.console("/persons", json!({"name": "Sender", "login": "sender", "password": "sender password"})).await?;
    let _ = person;
    node.console("/pages", json!({"name": "Files", "username": "files"})).await?;
    let login: Value = node.http.post(format!("{}/person/v1/login", node.process.url)).json(&json!({"login": "sender", "password": "sender password"})).send().await?.json().await?;
    let token = login["access_token"].as_str().context("session")?.to_string();
    let file = reqwest::multipart::Part::bytes(vec![7u8; 20 * 1024 * 1024]).file_name("big.bin");
    let sent: Value = node
        .http
        .post(format!("{}/person/v1/threads/files/attachments", node.process.url))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", file))
        .send()
        .await?
        .json()
        .await?;
    let media = sent.pointer("/attachment/payload/url").and_then(Value::as_str).context("media URL")?.to_string();
    let (before_readers, _) = node.rss();
    let mut readers = Vec::new();
    let path = media.split_once("://").map(|(_, rest)| rest.split_once('/').map(|(_, p)| format!("/{p}")).unwrap_or_default()).unwrap_or_default();
    for _ in 0..40 {
        let addr = node.addr();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        readers.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.ok()?;
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut buffer = [0u8; 4096];
            // A reader that takes 4 KiB every 100 ms, until the file has come.
            for _ in 0..60 {
                if stream.read(&mut buffer).await.ok()? == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(())
        }));
    }
    let mut peak_readers = 0.0f64;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_readers = peak_readers.max(node.rss().0);
    }
    for reader in readers {
        let _ = reader.await;
    }
    rows.push(("40 slow readers of a 20 MB file".into(), format!("resident {before_readers:.0} MiB before, at most {peak_readers:.0} MiB while they read")));

    // 4. Uploads at once: their bodies share the node's body budget (256 MiB).
    let (before_uploads, _) = node.rss();
    let mut uploads = Vec::new();
    for n in 0..40u8 {
        let http = node.http.clone();
        let url = format!("{}/person/v1/threads/files/attachments", node.process.url);
        let token = token.clone();
        uploads.push(tokio::spawn(async move {
            let part = reqwest::multipart::Part::bytes(vec![n; 20 * 1024 * 1024]).file_name("big.bin");
            http.post(url).bearer_auth(token).multipart(reqwest::multipart::Form::new().part("file", part)).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let mut peak_uploads = 0.0f64;
    let mut statuses = std::collections::BTreeMap::new();
    for upload in uploads {
        peak_uploads = peak_uploads.max(node.rss().0);
        *statuses.entry(upload.await.unwrap_or(0)).or_insert(0) += 1;
    }
    rows.push(("40 uploads of 20 MB at once".into(), format!("resident {before_uploads:.0} MiB before, at most {peak_uploads:.0} MiB seen while they arrived; answers {statuses:?}")));
    node.process.stop().await;

    // 4. Connections that are held open, on a node with a small limit.
    let node = Node::start(&[("SWITCHBOARD_HTTP__MAX_CONNECTIONS", "1000")]).await?;
    let (idle, unconnected) = closed_within(&node, 2000, Duration::from_secs(35), b"", false).await;
    rows.push((
        "2,000 idle connections for 35 s (limit 1,000)".into(),
        format!("{idle} of 2,000 closed by the node (refused past the limit, or after the 15 s header timeout); {unconnected} could not connect"),
    ));
    let (dripping, _) = closed_within(&node, 500, Duration::from_secs(45), b"GET /healthz HTTP/1.1\r\nHost: x\r\n", true).await;
    rows.push(("500 clients dripping headers for 45 s".into(), format!("{dripping} of 500 closed")));
    let slow = b"POST /person/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    let (slow_body, _) = closed_within(&node, 200, Duration::from_secs(75), slow, true).await;
    rows.push(("200 slow bodies for 75 s".into(), format!("{slow_body} of 200 answered 408 and closed")));

    // 5. Health while the connection limit is full.
    let mut held = Vec::new();
    for _ in 0..1000 {
        if let Ok(mut stream) = TcpStream::connect(node.addr()).await {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            held.push(stream);
        }
    }
    let started = Instant::now();
    let health = node.http.get(format!("{}/healthz", node.process.url)).timeout(Duration::from_secs(10)).send().await;
    let answer = match health {
        Ok(response) => format!("{} in {} ms", response.status(), started.elapsed().as_millis()),
        Err(error) => format!("no answer ({error})"),
    };
    rows.push(("a health check with 1,000 connections held".into(), answer));
    drop(held);
    node.process.stop().await;

    println!("| probe | outcome |\n|---|---|");
    for (probe, outcome) in rows {
        println!("| {probe} | {outcome} |");
    }
    Ok(())
}
