//! The benchmark suite: one command measures, on this machine in one run, a bare
//! axum server (the ceiling), the Send API on SQLite at 1, 16 and 128 connections and
//! its latency at half its peak, person → bot → person round trips at rising steady
//! rates, the webhook leg of the round trip through `switchboard listen` processes
//! beside direct callbacks, webhook fan-out and recovery (through `deliverybench`),
//! the Send API again after preloading a large store (through `preload`), and on
//! PostgreSQL the Send API with one and two nodes, one node at half its peak, and
//! the round trip with both nodes serving. It writes `REPORT.md`, `report.json`,
//! `latency.svg` and `timeline.svg`. Loopback only; every process it starts stops
//! with it.
//!
//! Tails are what this suite is for as much as throughput: every open-loop run is
//! paired with the bare server at the same rate and connections, measured right after
//! it (the figures of this VM move by a third from run to run, so only a ratio within
//! one run is worth a verdict), every paced run keeps a per-second timeline, and each
//! node's peak memory is taken at the end of every phase that used it.

mod convos;
mod fixture;
mod load;
mod nodes;
mod report;
mod roundtrip;
mod stats;

use anyhow::Context;
use clap::Parser;
use load::{LoadResult, Paired, Target};
use nodes::PhaseMemory;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
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
    /// Steady rates for the round trip on SQLite, per second; stops after the first
    /// not held.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000,3000,4000")]
    roundtrip_rates: Vec<f64>,
    /// Steady rates for the round trip on PostgreSQL with two nodes.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000")]
    postgres_roundtrip_rates: Vec<f64>,
    /// The round trip's rate on SQLite for the webhook leg through `switchboard
    /// listen` processes, beside direct callbacks at the same rate.
    #[arg(long, default_value_t = 250.0)]
    listener_rate: f64,
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
    /// Generated conversations `switchboard test` plays against the echo bot.
    #[arg(long, default_value_t = 200)]
    conversations: usize,
    /// Events of the one-thread backlog run.
    #[arg(long, default_value_t = 100_000)]
    backlog_events: u64,
    /// A PostgreSQL server where the suite may create databases; without it the
    /// PostgreSQL runs are skipped. Default: SWITCHBOARD_TEST_POSTGRES_URL.
    #[arg(long, env = "SWITCHBOARD_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Parts to leave out: baseline, sqlite, roundtrip (on SQLite and PostgreSQL),
    /// listener (webhooks through `switchboard listen`, on SQLite), scale, postgres,
    /// delivery, convos (`switchboard test` against the echo bot). Without sqlite there is neither roundtrip on SQLite, nor listener,
    /// nor scale.
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

/// Every figure of one run, as the report reads them.
struct Measured {
    baseline: Vec<LoadResult>,
    sqlite: Vec<LoadResult>,
    sqlite_half: Option<Paired>,
    sqlite_store_mib: f64,
    roundtrip: Vec<roundtrip::RoundTrip>,
    /// The webhook leg through listeners beside direct callbacks (SQLite).
    listener: Option<roundtrip::ThroughListeners>,
    scale: Vec<LoadResult>,
    scale_half: Option<Paired>,
    scale_store_mib: f64,
    preload: Value,
    /// `migrate-data` of the large store to PostgreSQL.
    migrate: Value,
    postgres_one: Vec<LoadResult>,
    postgres_half: Option<Paired>,
    postgres_two: Vec<LoadResult>,
    postgres_roundtrip: Vec<roundtrip::RoundTrip>,
    /// Each node's peak by phase, in the order the phases ran.
    memory: Vec<PhaseMemory>,
    delivery: Value,
    /// `switchboard test` against the echo bot.
    convos: Value,
}

async fn closed_runs(label: &str, targets: &Arc<Vec<Target>>, connections: &[usize], seconds: u64) -> Vec<LoadResult> {
    let mut results = Vec::new();
    for &c in connections {
        let result = load::closed_loop(targets.clone(), c, Duration::from_secs(seconds), WARMUP).await;
        let t = &result.tail;
        eprintln!(
            "  {label}, {c} connections: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.1} ms, {} errors",
            result.requests_per_second, t.p50_ms, t.p99_ms, t.p999_ms, t.max_ms, result.errors
        );
        results.push(result);
    }
    results
}

fn peak(results: &[LoadResult]) -> Option<&LoadResult> {
    results.iter().max_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second))
}

/// The one target the bare server has.
fn bare_targets(server: &nodes::Process) -> Arc<Vec<Target>> {
    Arc::new(vec![Target { graph_url: format!("{}/v21.0", server.url), page_token: "baseline".into(), psid: "1254477777772919".into() }])
}

/// An open-loop run at `rate` over `connections`, then a fresh bare server at the
/// same rate and connections: the pair the tail targets compare.
async fn paired(label: String, targets: &Arc<Vec<Target>>, connections: usize, rate: f64, seconds: u64) -> anyhow::Result<Paired> {
    let duration = Duration::from_secs(seconds);
    let run = load::open_loop(targets.clone(), connections, rate, duration).await;
    let server = nodes::start_baseline().await?;
    let bare = load::open_loop(bare_targets(&server), connections, rate, duration).await;
    server.stop().await;
    let pair = Paired::new(label, run, bare);
    let (r, b) = (&pair.run.tail, &pair.bare.tail);
    eprintln!(
        "  {} at {rate:.0}/s, {connections} connections: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; bare p99 {:.2} ms, max {:.1} ms; p99 ×{:.1}, max ×{:.1} the bare server's",
        pair.label, r.p50_ms, r.p99_ms, r.max_ms, b.p99_ms, b.max_ms, pair.p99_ratio, pair.max_ratio
    );
    Ok(pair)
}

/// An open-loop run at half the peak of `closed` (at the peak's connections).
async fn half_peak(label: &str, closed: &[LoadResult], targets: &Arc<Vec<Target>>, seconds: u64) -> anyhow::Result<Option<Paired>> {
    let Some(best) = peak(closed) else { return Ok(None) };
    let rate = best.requests_per_second / 2.0;
    Ok(Some(paired(format!("{label} at half its peak"), targets, best.connections, rate, seconds).await?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = std::fs::remove_dir_all(&args.work);
    std::fs::create_dir_all(&args.work)?;
    let started = Instant::now();
    let mut m = Measured {
        baseline: vec![],
        sqlite: vec![],
        sqlite_half: None,
        sqlite_store_mib: 0.0,
        roundtrip: vec![],
        listener: None,
        scale: vec![],
        scale_half: None,
        scale_store_mib: 0.0,
        preload: Value::Null,
        migrate: Value::Null,
        postgres_one: vec![],
        postgres_half: None,
        postgres_two: vec![],
        postgres_roundtrip: vec![],
        memory: vec![],
        delivery: Value::Null,
        convos: Value::Null,
    };
    let skip = |part: &str| args.skip.iter().any(|s| s == part);

    if !skip("baseline") {
        eprintln!("== baseline: a bare axum server");
        let server = nodes::start_baseline().await?;
        m.baseline = closed_runs("baseline", &bare_targets(&server), &args.connections, args.seconds).await;
        server.stop().await;
    }
    if !skip("sqlite") {
        sqlite(&args, &mut m).await?;
    }
    if let (false, Some(url)) = (skip("postgres"), args.postgres_url.clone()) {
        postgres(&args, &url, &mut m).await?;
    }
    if !skip("delivery") {
        eprintln!("== webhook fan-out and recovery (deliverybench)");
        let output = tokio::process::Command::new(nodes::bin_dir().join("deliverybench"))
            .args(["--skip-throughput", "--skip-latency", "--apps", "1,10,100"])
            .arg("--fanout-events")
            .arg(args.fanout_events.to_string())
            .arg("--recovery-events")
            .arg(args.recovery_events.to_string())
            .arg("--backlog-events")
            .arg(args.backlog_events.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .context("running deliverybench")?;
        anyhow::ensure!(output.status.success(), "deliverybench failed");
        m.delivery = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    }
    if !skip("convos") {
        eprintln!("== conversation tests (switchboard test)");
        m.convos = convos::measure(&args.work, args.conversations).await?;
    }
    // Last, so that PostgreSQL's aftermath of 12M new rows (checkpoints, autovacuum)
    // lands on no measured run. A failed move is reported and the other figures stand.
    if let (false, false, Some(url)) = (skip("scale"), skip("sqlite"), args.postgres_url.as_deref()) {
        match migrate_large_store(url, &args.work.join("sqlite")).await {
            Ok(migrate) => m.migrate = migrate,
            Err(error) => eprintln!("  migrate-data: {error:#}"),
        }
    }

    let total = started.elapsed().as_secs_f64();
    let (markdown, document) = report::describe(&args, &m, total);
    let latency = report::latency_svg("Send API latency by percentile (this machine)", &report::latency_series(&m));
    let timeline = report::timeline_svg("Each second of the paced runs: p99 and max of the requests due in it", &report::timeline_panels(&m));
    report::write(&args.out, &markdown, &document, &[("latency.svg", latency), ("timeline.svg", timeline)])?;
    eprintln!("== report written to {} ({total:.0} s)", args.out.display());
    println!("{markdown}");
    Ok(())
}

/// SQLite: the Send API closed and at half its peak, the round trip, its webhook leg
/// through listeners beside direct callbacks, then the same Send API runs after
/// preloading a large store.
async fn sqlite(args: &Args, m: &mut Measured) -> anyhow::Result<()> {
    let skip = |part: &str| args.skip.iter().any(|s| s == part);
    let seconds = args.seconds;
    let sqlite_dir = args.work.join("sqlite");
    eprintln!("== Send API on SQLite");
    let mut node = nodes::start_switchboard(&sqlite_dir, None).await?;
    let receiver = fixture::start_receiver().await?;
    let operator = node.operator.clone().context("a fresh node prints its operator credential")?;
    let world = fixture::build(&node.url, &operator, args.pages, args.persons, receiver).await?;
    m.memory.push(nodes::end_phase(&mut node, "SQLite", "world built (sign-ins)"));
    let targets = Arc::new(world.targets(&[format!("{}/v21.0", node.url)]));
    m.sqlite = closed_runs("SQLite", &targets, &args.connections, seconds).await;
    m.sqlite_half = half_peak("SQLite", &m.sqlite, &targets, seconds).await?;
    m.memory.push(nodes::end_phase(&mut node, "SQLite", "Send API"));
    let (round_trips, listeners) = (!skip("roundtrip"), !skip("listener"));
    if round_trips || listeners {
        let session = roundtrip::Session::open(&world, std::slice::from_ref(&node.url)).await?;
        if round_trips {
            eprintln!("== person → bot → person");
            m.roundtrip = session.rates(&args.roundtrip_rates, Duration::from_secs(seconds)).await?;
            m.memory.push(nodes::end_phase(&mut node, "SQLite", "person → bot → person"));
        }
        if listeners {
            eprintln!("== webhooks through listeners (switchboard listen) beside direct callbacks");
            m.listener = Some(through_listeners(&session, &world, &node.url, args.listener_rate, Duration::from_secs(seconds)).await?);
            m.memory.push(nodes::end_phase(&mut node, "SQLite", "webhooks through listeners"));
        }
    }
    node.stop().await;
    m.sqlite_store_mib = nodes::store_mib(&sqlite_dir);
    if skip("scale") {
        return Ok(());
    }

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
    let mut node = nodes::start_switchboard(&sqlite_dir, None).await?;
    let targets = Arc::new(world.targets(&[format!("{}/v21.0", node.url)]));
    let connections: Vec<usize> = args.connections.iter().copied().filter(|c| *c > 1).collect();
    m.scale = closed_runs("SQLite, large store", &targets, &connections, seconds).await;
    // The same rate and connections as the empty store's half-peak run.
    if let Some(empty) = &m.sqlite_half {
        let (rate, connections) = (empty.run.offered_rate.unwrap_or(0.0), empty.run.connections);
        m.scale_half = Some(paired("SQLite, large store, at the same rate".into(), &targets, connections, rate, seconds).await?);
    }
    m.memory.push(nodes::end_phase(&mut node, "SQLite, large store", "Send API"));
    node.stop().await;
    m.scale_store_mib = nodes::store_mib(&sqlite_dir);
    Ok(())
}

/// At most this many `switchboard listen` processes, one per app: the Pages of the
/// other apps take no messages in the listener comparison.
const MAX_LISTENERS: usize = 20;

/// The round trip at `rate` twice on the node at `server`, back to back: with the
/// bots' webhooks POSTed to their callbacks, then with one `switchboard listen`
/// per app forwarding them to the same receiver; only the Pages of apps that have a
/// listener take messages, in both runs. The listeners are stopped at the end (the
/// callbacks take over again).
async fn through_listeners(session: &roundtrip::Session<'_>, world: &fixture::World, server: &str, rate: f64, duration: Duration) -> anyhow::Result<roundtrip::ThroughListeners> {
    let pages = world.apps.len().min(MAX_LISTENERS);
    anyhow::ensure!(pages > 0, "the world has no apps");
    // Each run after a second at the same rate (discarded): the node settles after
    // the higher rates before, and the listeners' connections (to the bot, and their
    // answers to the server) are open before theirs, as the node's to the callbacks are.
    session.run(rate, Duration::from_secs(1), pages, "warm-up, direct callbacks").await?;
    let direct = session.run(rate, duration, pages, "direct callbacks").await?;
    let mut listeners = Vec::with_capacity(pages);
    for (app, secret) in &world.apps[..pages] {
        listeners.push(nodes::start_listener(server, app, secret, &world.receiver.url).await?);
    }
    eprintln!("  {pages} listeners ready, forwarding to {}", world.receiver.url);
    session.run(rate, Duration::from_secs(1), pages, "warm-up, through listeners").await?;
    let forwarded = |listeners: &[nodes::Listener]| -> (u64, u64) {
        listeners.iter().map(|l| (l.forwarded.load(Ordering::Relaxed), l.failed.load(Ordering::Relaxed))).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let before = forwarded(&listeners);
    let through = session.run(rate, duration, pages, "through listeners").await;
    let after = forwarded(&listeners);
    let peak_mib = listeners.iter().map(|l| nodes::memory_mib(l.process.pid()).1).fold(0.0, f64::max);
    for listener in listeners {
        listener.process.stop().await;
    }
    let counts = roundtrip::ListenerCounts { listeners: pages, forwarded: after.0 - before.0, failed: after.1 - before.1, peak_mib };
    let result = roundtrip::ThroughListeners::new(pages, world.apps.len(), direct, through?, counts)?;
    let (d, l) = (&result.webhook_direct.tail, &result.webhook_through_listeners.tail);
    eprintln!(
        "  webhook at the bot: p50 {:.2} ms through listeners vs {:.2} ms direct ({:+.2} ms), p99 {:.2} vs {:.2} ms; {} events forwarded, {} not answered 2xx; listener peak {:.0} MiB",
        l.p50_ms, d.p50_ms, result.added_p50_ms, l.p99_ms, d.p99_ms, result.forwarded, result.forwarded_failed, result.listener_peak_mib
    );
    Ok(result)
}

/// Moving up: `switchboard migrate-data` copies the large store into a fresh
/// PostgreSQL database; its time and the rows it verified.
async fn migrate_large_store(server: &str, sqlite_dir: &std::path::Path) -> anyhow::Result<Value> {
    eprintln!("== switchboard migrate-data: the large store to PostgreSQL");
    let database = switchboard_testkit::fresh_database("bench_migrate").await;
    let moved = time_migration(sqlite_dir, &database).await;
    // The copy is gigabytes that nothing reads again.
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    let name = database.rsplit('/').next().unwrap_or_default();
    client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.context("dropping the copy")?;
    moved
}

async fn time_migration(sqlite_dir: &std::path::Path, database: &str) -> anyhow::Result<Value> {
    let started = std::time::Instant::now();
    let output = tokio::process::Command::new(nodes::bin_dir().join("switchboard"))
        .arg("migrate-data")
        .arg("--from")
        .arg(sqlite_dir)
        .arg("--to")
        .arg(database)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running switchboard migrate-data")?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(output.status.success(), "migrate-data failed");
    // Its table of rows copied and verified ends with a "total  rows" line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: u64 = stdout.lines().find_map(|l| l.strip_prefix("total")?.trim().parse().ok()).unwrap_or(0);
    eprintln!("  {rows} rows in {seconds:.1} s");
    Ok(serde_json::json!({"seconds": seconds, "rows": rows, "store_mib": nodes::store_mib(sqlite_dir)}))
}

/// PostgreSQL: the Send API with one node (closed, then at half its peak), with two
/// nodes, then the round trip with both nodes serving persons and bots.
async fn postgres(args: &Args, url: &str, m: &mut Measured) -> anyhow::Result<()> {
    let seconds = args.seconds;
    eprintln!("== Send API on PostgreSQL, one node then two");
    std::env::set_var("SWITCHBOARD_TEST_POSTGRES_URL", url);
    let database = switchboard_testkit::fresh_database("bench").await;
    let mut a = nodes::start_switchboard(&args.work.join("pg-a"), Some(&database)).await?;
    let receiver = fixture::start_receiver().await?;
    let operator = a.operator.clone().context("operator credential")?;
    let world = fixture::build(&a.url, &operator, args.pages, args.persons, receiver).await?;
    m.memory.push(nodes::end_phase(&mut a, "PostgreSQL a", "world built (sign-ins)"));
    let connections: Vec<usize> = args.connections.iter().copied().filter(|c| *c > 1).collect();
    let targets = Arc::new(world.targets(&[format!("{}/v21.0", a.url)]));
    m.postgres_one = closed_runs("PostgreSQL, 1 node", &targets, &connections, seconds).await;
    m.postgres_half = half_peak("PostgreSQL, 1 node", &m.postgres_one, &targets, seconds).await?;
    m.memory.push(nodes::end_phase(&mut a, "PostgreSQL a", "Send API, 1 node"));

    let mut b = nodes::start_switchboard(&args.work.join("pg-b"), Some(&database)).await?;
    let targets = Arc::new(world.targets(&[format!("{}/v21.0", a.url), format!("{}/v21.0", b.url)]));
    m.postgres_two = closed_runs("PostgreSQL, 2 nodes", &targets, &connections, seconds).await;
    m.memory.push(nodes::end_phase(&mut a, "PostgreSQL a", "Send API, 2 nodes"));
    m.memory.push(nodes::end_phase(&mut b, "PostgreSQL b", "Send API, 2 nodes"));
    if !args.skip.iter().any(|s| s == "roundtrip") {
        eprintln!("== person → bot → person on PostgreSQL, 2 nodes");
        let bases = [a.url.clone(), b.url.clone()];
        m.postgres_roundtrip = roundtrip::rates(&world, &bases, &args.postgres_roundtrip_rates, Duration::from_secs(seconds)).await?;
        m.memory.push(nodes::end_phase(&mut a, "PostgreSQL a", "person → bot → person, 2 nodes"));
        m.memory.push(nodes::end_phase(&mut b, "PostgreSQL b", "person → bot → person, 2 nodes"));
    }
    b.stop().await;
    a.stop().await;
    Ok(())
}
