//! The benchmark suite: one command measures, on this machine in one run, a bare
//! axum server (the ceiling), the Send API on SQLite at 1, 16 and 128 connections and
//! its latency at half its peak, person → bot → person round trips at rising steady
//! rates, webhook fan-out and recovery (through `deliverybench`), the Send API again
//! after preloading a large store (through `preload`), and the Send API on PostgreSQL
//! with one and two nodes. It writes `REPORT.md`, `report.json` and `latency.svg`.
//! Loopback only; every process it starts stops with it.

mod fixture;
mod load;
mod nodes;
mod report;
mod roundtrip;

use anyhow::Context;
use clap::Parser;
use load::{LoadResult, Target};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Seconds per measured run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connection counts for the closed-loop Send API runs.
    #[arg(long, value_delimiter = ',', default_value = "1,16,128")]
    connections: Vec<usize>,
    /// Bots (Pages with an app) and persons of the benchmark's world.
    #[arg(long, default_value_t = 10)]
    pages: usize,
    #[arg(long, default_value_t = 100)]
    persons: usize,
    /// Steady rates for the round trip, per second; stops after the first not held.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000,3000,4000")]
    roundtrip_rates: Vec<f64>,
    /// The preloaded store of the scale run.
    #[arg(long, default_value_t = 1_000_000)]
    scale_threads: u64,
    #[arg(long, default_value_t = 10_000_000)]
    scale_messages: u64,
    /// Events queued for the recovery run, and events of each fan-out run.
    #[arg(long, default_value_t = 1_000_000)]
    recovery_events: u64,
    #[arg(long, default_value_t = 100_000)]
    fanout_events: u64,
    /// A PostgreSQL server where the suite may create databases; without it the
    /// PostgreSQL runs are skipped. Default: SWITCHBOARD_TEST_POSTGRES_URL.
    #[arg(long, env = "SWITCHBOARD_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Parts to leave out: baseline, sqlite, roundtrip, scale, postgres, delivery.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Where the stores live (on disk).
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
    /// Where the report goes.
    #[arg(long, default_value = "bench/report")]
    out: PathBuf,
}

const WARMUP: Duration = Duration::from_secs(2);

fn result_json(result: &LoadResult) -> Value {
    serde_json::to_value(result).unwrap_or(Value::Null)
}

async fn closed_runs(label: &str, targets: &Arc<Vec<Target>>, connections: &[usize], seconds: u64) -> Vec<LoadResult> {
    let mut results = Vec::new();
    for &c in connections {
        let result = load::closed_loop(targets.clone(), c, Duration::from_secs(seconds), WARMUP).await;
        eprintln!(
            "  {label}, {c} connections: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, {} errors",
            result.requests_per_second, result.p50_ms, result.p99_ms, result.p999_ms, result.errors
        );
        results.push(result);
    }
    results
}

fn peak(results: &[LoadResult]) -> Option<&LoadResult> {
    results.iter().max_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second))
}

struct Measured {
    baseline: Vec<LoadResult>,
    sqlite: Vec<LoadResult>,
    sqlite_half: Option<LoadResult>,
    sqlite_memory: (f64, f64),
    sqlite_store_mib: f64,
    roundtrip: Vec<roundtrip::RoundTrip>,
    scale: Vec<LoadResult>,
    scale_half: Option<LoadResult>,
    scale_memory: (f64, f64),
    scale_store_mib: f64,
    preload: Value,
    postgres_one: Vec<LoadResult>,
    postgres_two: Vec<LoadResult>,
    delivery: Value,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let skip = |part: &str| args.skip.iter().any(|s| s == part);
    let seconds = args.seconds;
    let _ = std::fs::remove_dir_all(&args.work);
    std::fs::create_dir_all(&args.work)?;
    let started = Instant::now();
    let mut m = Measured {
        baseline: vec![],
        sqlite: vec![],
        sqlite_half: None,
        sqlite_memory: (0.0, 0.0),
        sqlite_store_mib: 0.0,
        roundtrip: vec![],
        scale: vec![],
        scale_half: None,
        scale_memory: (0.0, 0.0),
        scale_store_mib: 0.0,
        preload: Value::Null,
        postgres_one: vec![],
        postgres_two: vec![],
        delivery: Value::Null,
    };

    if !skip("baseline") {
        eprintln!("== baseline: a bare axum server");
        let server = nodes::start_baseline().await?;
        let targets = Arc::new(vec![Target { graph_url: format!("{}/v21.0", server.url), page_token: "baseline".into(), psid: "1254477777772919".into() }]);
        m.baseline = closed_runs("baseline", &targets, &args.connections, seconds).await;
        server.stop().await;
    }

    let sqlite_dir = args.work.join("sqlite");
    if !skip("sqlite") {
        eprintln!("== Send API on SQLite");
        let node = nodes::start_switchboard(&sqlite_dir, None).await?;
        let receiver = fixture::start_receiver().await?;
        let operator = node.operator.clone().context("a fresh node prints its operator credential")?;
        let world = fixture::build(&node.url, &operator, args.pages, args.persons, receiver).await?;
        let graph = vec![format!("{}/v21.0", node.url)];
        let targets = Arc::new(world.targets(&graph));
        m.sqlite = closed_runs("SQLite", &targets, &args.connections, seconds).await;
        if let Some(best) = peak(&m.sqlite).cloned() {
            let half = load::open_loop(targets.clone(), best.connections, best.requests_per_second / 2.0, Duration::from_secs(seconds)).await;
            eprintln!("  SQLite at half its peak ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms", half.offered_rate.unwrap_or(0.0), half.p50_ms, half.p99_ms, half.p999_ms);
            m.sqlite_half = Some(half);
        }
        if !skip("roundtrip") {
            eprintln!("== person → bot → person");
            m.roundtrip = roundtrip::rates(&world, &node.url, &args.roundtrip_rates, Duration::from_secs(seconds)).await?;
        }
        m.sqlite_memory = nodes::memory_mib(node.pid());
        node.stop().await;
        m.sqlite_store_mib = nodes::store_mib(&sqlite_dir);

        if !skip("scale") {
            eprintln!("== the same Send API runs after preloading {} threads and {} messages", args.scale_threads, args.scale_messages);
            let output = tokio::process::Command::new(nodes::bin_dir().join("preload"))
                .arg("--db")
                .arg(sqlite_dir.join("switchboard.db"))
                .arg("--threads")
                .arg(args.scale_threads.to_string())
                .arg("--messages")
                .arg(args.scale_messages.to_string())
                .stderr(std::process::Stdio::inherit())
                .output()
                .await
                .context("running preload")?;
            anyhow::ensure!(output.status.success(), "preload failed");
            m.preload = String::from_utf8_lossy(&output.stdout).lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
            let node = nodes::start_switchboard(&sqlite_dir, None).await?;
            let graph = vec![format!("{}/v21.0", node.url)];
            let targets = Arc::new(world.targets(&graph));
            let connections: Vec<usize> = args.connections.iter().copied().filter(|c| *c > 1).collect();
            m.scale = closed_runs("SQLite, large store", &targets, &connections, seconds).await;
            if let Some(rate) = m.sqlite_half.as_ref().and_then(|h| h.offered_rate) {
                let connections = m.sqlite_half.as_ref().map_or(128, |h| h.connections);
                let half = load::open_loop(targets.clone(), connections, rate, Duration::from_secs(seconds)).await;
                eprintln!("  large store at the same rate ({rate:.0}/s): p50 {:.2} ms, p99 {:.2} ms", half.p50_ms, half.p99_ms);
                m.scale_half = Some(half);
            }
            m.scale_memory = nodes::memory_mib(node.pid());
            node.stop().await;
            m.scale_store_mib = nodes::store_mib(&sqlite_dir);
        }
    }

    if let (false, Some(url)) = (skip("postgres"), args.postgres_url.clone()) {
        eprintln!("== Send API on PostgreSQL, one node then two");
        std::env::set_var("SWITCHBOARD_TEST_POSTGRES_URL", &url);
        let database = switchboard_testkit::fresh_database("bench").await;
        let a = nodes::start_switchboard(&args.work.join("pg-a"), Some(&database)).await?;
        let receiver = fixture::start_receiver().await?;
        let operator = a.operator.clone().context("operator credential")?;
        let world = fixture::build(&a.url, &operator, args.pages, args.persons, receiver).await?;
        let connections: Vec<usize> = args.connections.iter().copied().filter(|c| *c > 1).collect();
        let targets = Arc::new(world.targets(&[format!("{}/v21.0", a.url)]));
        m.postgres_one = closed_runs("PostgreSQL, 1 node", &targets, &connections, seconds).await;
        let b = nodes::start_switchboard(&args.work.join("pg-b"), Some(&database)).await?;
        let targets = Arc::new(world.targets(&[format!("{}/v21.0", a.url), format!("{}/v21.0", b.url)]));
        m.postgres_two = closed_runs("PostgreSQL, 2 nodes", &targets, &connections, seconds).await;
        b.stop().await;
        a.stop().await;
    }

    if !skip("delivery") {
        eprintln!("== webhook fan-out and recovery (deliverybench)");
        let output = tokio::process::Command::new(nodes::bin_dir().join("deliverybench"))
            .args(["--skip-throughput", "--skip-latency", "--apps", "1,10,100"])
            .arg("--fanout-events")
            .arg(args.fanout_events.to_string())
            .arg("--recovery-events")
            .arg(args.recovery_events.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .context("running deliverybench")?;
        anyhow::ensure!(output.status.success(), "deliverybench failed");
        m.delivery = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    }

    let total = started.elapsed().as_secs_f64();
    let (markdown, document) = describe(&args, &m, total);
    let mut series = Vec::new();
    let at_128 = |results: &[LoadResult]| results.iter().find(|r| r.connections == 128).cloned();
    let baseline_128 = at_128(&m.baseline);
    let sqlite_128 = at_128(&m.sqlite);
    if let Some(r) = &baseline_128 {
        series.push(report::Series { name: "baseline, 128 conn.".into(), latencies: &r.latencies });
    }
    if let Some(r) = &sqlite_128 {
        series.push(report::Series { name: "SQLite, 128 conn.".into(), latencies: &r.latencies });
    }
    if let Some(r) = &m.sqlite_half {
        series.push(report::Series { name: format!("SQLite, {:.0}/s", r.offered_rate.unwrap_or(0.0)), latencies: &r.latencies });
    }
    if let Some(r) = &m.scale_half {
        series.push(report::Series { name: format!("large store, {:.0}/s", r.offered_rate.unwrap_or(0.0)), latencies: &r.latencies });
    }
    let pg_128 = at_128(&m.postgres_one);
    if let Some(r) = &pg_128 {
        series.push(report::Series { name: "PostgreSQL, 128 conn.".into(), latencies: &r.latencies });
    }
    let svg = report::latency_svg("Send API latency by percentile (this machine)", &series);
    report::write(&args.out, &markdown, &document, &svg)?;
    eprintln!("== report written to {} ({total:.0} s)", args.out.display());
    println!("{markdown}");
    Ok(())
}

fn row(label: &str, r: &LoadResult, baseline: Option<f64>) -> String {
    let ratio = baseline.filter(|b| *b > 0.0).map(|b| format!("{:.0} %", 100.0 * r.requests_per_second / b)).unwrap_or_else(|| "–".into());
    format!(
        "| {label} | {} | {:.0} | {ratio} | {:.2} | {:.2} | {:.2} | {} |\n",
        r.connections, r.requests_per_second, r.p50_ms, r.p99_ms, r.p999_ms, r.errors
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// The Markdown page and the JSON document of one run.
fn describe(args: &Args, m: &Measured, total: f64) -> (String, Value) {
    let mut md = String::new();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let _ = writeln!(md, "# Benchmark report\n");
    let _ = writeln!(
        md,
        "One run of `bench/run.sh` on this machine ({cpus} cores; the load generator, the servers, PostgreSQL and the webhook receiver all share them), {} s per measured run after {} s of warm-up, release builds. {} Pages with one live bot each, {} persons who each wrote to every Page; Send API calls go to every (Page, person) pair in turn. The bots take `messages`, deliveries, reads and postbacks (not their own echoes). SQLite: `synchronous=FULL`, group commit: every acknowledged message was fsync'd before its answer. Suite time: {total:.0} s.\n",
        args.seconds,
        WARMUP.as_secs(),
        args.pages,
        args.persons
    );
    let baseline_peak = peak(&m.baseline).map(|r| r.requests_per_second);
    let _ = writeln!(md, "## Send API throughput and latency\n");
    let _ = writeln!(md, "| run | connections | requests/s | of baseline | p50 ms | p99 ms | p99.9 ms | errors |\n|---|---|---|---|---|---|---|---|");
    let by_connections = |results: &[LoadResult], c: usize| results.iter().find(|r| r.connections == c).map(|r| r.requests_per_second);
    for r in &m.baseline {
        md.push_str(&row("bare axum (baseline)", r, None));
    }
    for r in &m.sqlite {
        md.push_str(&row("SQLite", r, by_connections(&m.baseline, r.connections)));
    }
    if let Some(r) = &m.sqlite_half {
        md.push_str(&row(&format!("SQLite, open loop at {:.0}/s (half its peak)", r.offered_rate.unwrap_or(0.0)), r, None));
    }
    for r in &m.scale {
        md.push_str(&row("SQLite, large store", r, by_connections(&m.baseline, r.connections)));
    }
    if let Some(r) = &m.scale_half {
        md.push_str(&row(&format!("SQLite, large store, open loop at {:.0}/s", r.offered_rate.unwrap_or(0.0)), r, None));
    }
    for r in &m.postgres_one {
        md.push_str(&row("PostgreSQL, 1 node", r, by_connections(&m.baseline, r.connections)));
    }
    for r in &m.postgres_two {
        md.push_str(&row("PostgreSQL, 2 nodes", r, by_connections(&m.baseline, r.connections)));
    }
    let _ = writeln!(md, "\n![Send API latency by percentile](latency.svg)\n");

    if !m.roundtrip.is_empty() {
        let _ = writeln!(md, "## Person → bot → person\n\nA person's message through the person API, its webhook to the bot, the bot's Send API answer, and the answer arriving on the person's live stream; timed from when each message was due (open loop).\n");
        let _ = writeln!(md, "| offered /s | answered | answered /s | p50 ms | p99 ms | p99.9 ms | max ms | held |\n|---|---|---|---|---|---|---|---|");
        for r in &m.roundtrip {
            let _ = writeln!(md, "| {:.0} | {}/{} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} |", r.offered_rate, r.answered, r.sent, r.answered_rate, r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms, if r.held { "yes" } else { "no" });
        }
        md.push('\n');
    }

    if !m.delivery.is_null() {
        let _ = writeln!(md, "## Webhook fan-out and recovery\n");
        let _ = writeln!(md, "| apps | events | seconds | events/s | duplicates |\n|---|---|---|---|---|");
        for f in m.delivery["fanout"].as_array().into_iter().flatten() {
            let _ = writeln!(md, "| {} | {} | {:.2} | {:.0} | {} |", f["apps"], f["events"], f["seconds"].as_f64().unwrap_or(0.0), f["events_per_second"].as_f64().unwrap_or(0.0), f["duplicates"]);
        }
        let r = &m.delivery["recovery"];
        if !r.is_null() {
            let _ = writeln!(
                md,
                "\nRecovery: {} events over {} threads queued while the receiver was down (filled in {:.1} s); drained {:.1} s after it came back, {:.0} events/s (retries from {} ms backing off to {} ms); peak resident memory {:.0} MiB.\n",
                r["events"], r["threads"], r["fill_seconds"].as_f64().unwrap_or(0.0), r["drain_seconds"].as_f64().unwrap_or(0.0), r["events_per_second"].as_f64().unwrap_or(0.0), r["retry_initial_ms"], r["retry_max_ms"], r["vm_hwm_mb"].as_f64().unwrap_or(0.0)
            );
        }
    }

    let _ = writeln!(md, "## Memory and store size\n\n| store | resident MiB | peak resident MiB | store MiB |\n|---|---|---|---|");
    let _ = writeln!(md, "| SQLite after the runs above | {:.0} | {:.0} | {:.1} |", m.sqlite_memory.0, m.sqlite_memory.1, m.sqlite_store_mib);
    if !m.scale.is_empty() {
        let _ = writeln!(md, "| SQLite, large store | {:.0} | {:.0} | {:.1} |", m.scale_memory.0, m.scale_memory.1, m.scale_store_mib);
        let _ = writeln!(md, "\nPreload: `{}`", m.preload);
    }

    // The targets.
    let _ = writeln!(md, "\n## Targets\n\n| target | measured | verdict |\n|---|---|---|");
    let sqlite_peak = peak(&m.sqlite);
    if let (Some(b), Some(s)) = (baseline_peak, sqlite_peak) {
        let ratio = s.requests_per_second / b;
        let _ = writeln!(md, "| Send API ≥ 50 % of the bare server | {:.0} / {:.0} req/s = {:.0} % | {} |", s.requests_per_second, b, 100.0 * ratio, verdict(ratio >= 0.5));
    }
    if let Some(h) = &m.sqlite_half {
        let _ = writeln!(md, "| Send API p99 < 10 ms at half its peak | p99 {:.2} ms at {:.0}/s | {} |", h.p99_ms, h.offered_rate.unwrap_or(0.0), verdict(h.p99_ms < 10.0));
    }
    if let Some(r) = m.roundtrip.iter().find(|r| (r.offered_rate - 1000.0).abs() < 1.0) {
        let _ = writeln!(md, "| person → bot → person p99 < 20 ms at 1,000/s | p99 {:.2} ms, {}/{} answered | {} |", r.p99_ms, r.answered, r.sent, verdict(r.held && r.p99_ms < 20.0));
    }
    if let Some(held) = m.roundtrip.iter().filter(|r| r.held).map(|r| r.offered_rate).reduce(f64::max) {
        let _ = writeln!(md, "| person → bot → person: highest rate held | {held:.0}/s | – |");
    }
    let compare = |big: &[LoadResult], small: &[LoadResult]| -> Option<f64> {
        let b = peak(big)?;
        let s = small.iter().find(|r| r.connections == b.connections)?;
        Some(b.requests_per_second / s.requests_per_second)
    };
    if let Some(ratio) = compare(&m.scale, &m.sqlite) {
        let _ = writeln!(md, "| large store within 20 % of the empty one (throughput) | {:.0} % | {} |", 100.0 * ratio, verdict(ratio >= 0.8));
    }
    if let (Some(big), Some(small)) = (&m.scale_half, &m.sqlite_half) {
        let ok = big.p99_ms <= small.p99_ms * 1.2 || big.p99_ms < 10.0;
        let _ = writeln!(md, "| large store within 20 % of the empty one (p99 at the same rate) | {:.2} ms vs {:.2} ms | {} |", big.p99_ms, small.p99_ms, verdict(ok));
    }
    if !m.scale.is_empty() {
        let _ = writeln!(md, "| resident memory < 200 MB with the large store | peak {:.0} MiB | {} |", m.scale_memory.1, verdict(m.scale_memory.1 * 1.048576 < 200.0));
    }

    let document = json!({
        "machine": {"cores": cpus},
        "seconds_per_run": args.seconds,
        "world": {"pages": args.pages, "persons": args.persons},
        "baseline": m.baseline.iter().map(result_json).collect::<Vec<_>>(),
        "sqlite": m.sqlite.iter().map(result_json).collect::<Vec<_>>(),
        "sqlite_half_peak": m.sqlite_half.as_ref().map(result_json),
        "roundtrip": m.roundtrip,
        "scale": m.scale.iter().map(result_json).collect::<Vec<_>>(),
        "scale_half_peak": m.scale_half.as_ref().map(result_json),
        "preload": m.preload,
        "memory_mib": {"sqlite": {"rss": m.sqlite_memory.0, "peak": m.sqlite_memory.1, "store": m.sqlite_store_mib},
                       "scale": {"rss": m.scale_memory.0, "peak": m.scale_memory.1, "store": m.scale_store_mib}},
        "postgres_one_node": m.postgres_one.iter().map(result_json).collect::<Vec<_>>(),
        "postgres_two_nodes": m.postgres_two.iter().map(result_json).collect::<Vec<_>>(),
        "delivery": m.delivery,
        "suite_seconds": total,
    });
    (md, document)
}
