//! `faultsuite`: the fault runner. It starts Switchboard nodes as real processes
//! (SQLite, and two nodes on one PostgreSQL database), drives a mixed load (bots'
//! Send API calls and persons' messages, their webhooks to bots that take a moment
//! to answer), injects faults at random moments chosen from a seed, and at the end
//! checks the ledger of every acknowledged write against the store and against what
//! every bot received: nothing lost, first deliveries in each thread's order, no
//! call hung, every refusal a Graph error that says to retry. It prints its seed
//! (run it again with `--seed` to repeat a failure), writes FAULTS.md and
//! faults.json, and exits non-zero when the promise broke.
//!
//! `bench/faults.sh` runs the full size (100 kills per engine, fewer of the slower
//! faults); `--size small` (a few of each) is what the tests run.

mod load;
mod scenarios;
mod surroundings;
mod verdict;
mod world;

use clap::{Parser, ValueEnum};
use scenarios::{Engine, Plan, Run};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Size {
    /// A few faults of each kind: a few minutes, for CI.
    Small,
    /// 100 kills per engine, and of each other kind as many as fit in minutes.
    Full,
}

/// The fault kinds, in the order they run, with the engines each applies to.
const KINDS: [(&str, &[Engine]); 6] = [
    ("kill", &[Engine::Sqlite, Engine::Postgres]),
    ("pause", &[Engine::Sqlite, Engine::Postgres]),
    ("database", &[Engine::Postgres]),
    ("disk", &[Engine::Sqlite]),
    ("receivers", &[Engine::Sqlite, Engine::Postgres]),
    ("clock", &[Engine::Sqlite, Engine::Postgres]),
];

/// How many faults of `kind` a run of `size` injects on each engine.
fn faults_of(kind: &str, size: Size) -> usize {
    match (size, kind) {
        (Size::Small, _) => 3,
        (Size::Full, "kill") => 100,
        (Size::Full, "clock") => 50,
        (Size::Full, "receivers") => 9,
        (Size::Full, _) => 20,
    }
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "small")]
    size: Size,
    /// The seed every random choice derives from (default: from the time).
    #[arg(long)]
    seed: Option<u64>,
    /// Faults of each kind per engine (default: 3 for small; for full, 100 kills,
    /// 50 clock jumps, 9 hostile receivers and 20 of the others).
    #[arg(long)]
    faults: Option<usize>,
    /// Fault kinds to run: kill, pause, database, disk, receivers, clock (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Engines to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    engines: Vec<String>,
    /// The PostgreSQL server to make databases on (a URL ending in an existing
    /// database); `SWITCHBOARD_TEST_POSTGRES_URL` when not given.
    #[arg(long, env = "SWITCHBOARD_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Where FAULTS.md and faults.json go.
    #[arg(long, default_value = "bench/report")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    for kind in &args.only {
        anyhow::ensure!(KINDS.iter().any(|(known, _)| known == kind), "unknown fault kind {kind:?} (kill, pause, database, disk, receivers, clock)");
    }
    let mut engines = Vec::new();
    for engine in &args.engines {
        engines.push(match engine.as_str() {
            "sqlite" => Engine::Sqlite,
            "postgres" => Engine::Postgres,
            other => anyhow::bail!("unknown engine {other:?} (sqlite, postgres)"),
        });
    }
    println!("faultsuite: seed {seed} (repeat with --seed {seed})");
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    let postgres = args.postgres_url.clone().filter(|url| !url.is_empty());
    for (kind, applies) in KINDS.iter().filter(|(kind, _)| args.only.is_empty() || args.only.iter().any(|only| only == kind)) {
        let faults = args.faults.unwrap_or(faults_of(kind, args.size));
        let plan = Plan { seed, faults, pages: 3, persons: 4, postgres: postgres.clone(), patience: Duration::from_secs(60) };
        for &engine in applies.iter().filter(|engine| engines.contains(engine)) {
            if engine == Engine::Postgres && plan.postgres.is_none() {
                errors.push(format!("{kind} on PostgreSQL: no server (--postgres-url or SWITCHBOARD_TEST_POSTGRES_URL)"));
                continue;
            }
            let run_started = Instant::now();
            let run = match *kind {
                "kill" => scenarios::kills(&plan, engine).await,
                "pause" => scenarios::pauses(&plan, engine).await,
                "database" => surroundings::database_restarts(&plan).await,
                "disk" => surroundings::full_disks(&plan).await,
                "receivers" => surroundings::hostile_receivers(&plan, engine).await,
                _ => surroundings::clock_jumps(&plan, engine).await,
            };
            match run {
                Ok(run) => {
                    let verdict = if run.failures.is_empty() { "held".to_string() } else { run.failures.join("; ") };
                    println!("{} on {}: {verdict} in {:.0} s", run.kind, engine.label(), run_started.elapsed().as_secs_f64());
                    runs.push(run);
                }
                Err(error) => errors.push(format!("{kind} on {}: the run failed: {error:#}", engine.label())),
            }
        }
    }
    let report = render(&runs, &errors, seed, started.elapsed());
    print!("{report}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("FAULTS.md"), &report)?;
    std::fs::write(args.out.join("faults.json"), serde_json::to_vec_pretty(&serde_json::json!({"seed": seed, "runs": runs, "errors": errors}))?)?;
    let broken = runs.iter().any(|run| !run.failures.is_empty()) || !errors.is_empty();
    if broken {
        eprintln!("faultsuite: the promise broke (seed {seed})");
        std::process::exit(1);
    }
    Ok(())
}

fn render(runs: &[Run], errors: &[String], seed: u64, took: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Faults survived, counted\n");
    let _ = writeln!(
        out,
        "One run of `faultsuite` (seed {seed}, {:.0} s; `bench/faults.sh --seed {seed}` repeats it). Each row is a fresh installation (SQLite: one node; PostgreSQL: two nodes on one database) under a mixed load: persons' messages through the person API and bots' Send API calls, each thread written one message at a time through whichever node is up, persons' live streams opened again when cut, and bots that take up to 20 ms to answer a webhook and now and then fail every POST or hold their answers past the timeout for a moment. Webhook timeouts are 1 s, so that leases (3 × the timeout) run out within the run, except in the receivers' run, which keeps Meta's 20 s.\n",
        took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- *Acknowledged*: writes answered with a `mid`. *Lost*: acknowledged, but missing from the store (read directly at the end) or never delivered to the bot (must be 0).\n- *Delivered*: acknowledged writes whose webhook the bot acknowledged. *Duplicated*: deliveries after the first (at-least-once allows them). *Out of order*: events whose first delivery came after that of a later event of their thread (must be 0).\n- *Recovery*, the longest of the run: a killed node, from its restart until it is ready; a paused node, from SIGCONT until it is ready; PostgreSQL, from its start until both nodes are ready; a full disk, from the space's return until the node takes a write; none for the receivers and the clock, which the platform rides through.\n"
    );
    let _ = writeln!(out, "| fault | engine | injected | acknowledged | lost | delivered | duplicated | out of order | longest recovery | verdict |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for run in runs {
        let c = &run.counts;
        let verdict = if run.failures.is_empty() { "held".to_string() } else { format!("**broke**: {}", run.failures.join("; ")) };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            run.kind,
            run.engine.label(),
            run.injected,
            c.acknowledged,
            c.lost,
            c.delivered,
            c.duplicated,
            c.out_of_order,
            run.longest_recovery_ms.map_or("–".to_string(), |ms| format!("{ms} ms")),
            verdict
        );
    }
    let _ = writeln!(out, "\nWhat the load saw besides acknowledgments (refusals must be Graph errors saying to retry; no call may hang):\n");
    let _ = writeln!(out, "| fault | engine | calls refused, to retry | calls that found no node | unclear answers | hung calls | slowest call, its node unharmed | live events (streams reopened) | delivery p99 / max | last delivery after the load |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for run in runs {
        let c = &run.counts;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.1} s | {} ({}) | {:.1} / {:.1} s | {:.1} s |",
            run.kind,
            run.engine.label(),
            c.transient_refusals,
            c.unreachable,
            c.unclear_answers,
            c.hung_calls,
            c.slowest_call_ms as f64 / 1000.0,
            c.live_events,
            c.live_reopened,
            c.delivery_p99_ms as f64 / 1000.0,
            c.delivery_max_ms as f64 / 1000.0,
            c.settle_ms as f64 / 1000.0
        );
    }
    if !errors.is_empty() {
        let _ = writeln!(out, "\nRuns that could not complete:\n");
        for error in errors {
            let _ = writeln!(out, "- {error}");
        }
    }
    out
}
