//! The faults, each a run of its own on a fresh installation under the mixed load:
//! nodes killed with SIGKILL and restarted on the same data, and nodes paused with
//! SIGSTOP past their leases and resumed. Each answers a [`Run`] with its counts
//! and what broke the promise.

use crate::load::Load;
use crate::verdict::{self, Counts};
use crate::world::{Nodes, World};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_testkit::{fresh_database_on, NodeProcess, NodeStore};

/// What every fault run is given.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    /// Faults of each kind per engine.
    pub faults: usize,
    pub pages: usize,
    pub persons: usize,
    /// The PostgreSQL server new databases are made on (none: PostgreSQL runs are
    /// left out, said so in the report).
    pub postgres: Option<String>,
    /// How long the end waits for the last acknowledged write's webhook.
    pub patience: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Engine {
    #[serde(rename = "SQLite")]
    Sqlite,
    #[serde(rename = "PostgreSQL, 2 nodes")]
    Postgres,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL, 2 nodes",
        }
    }
}

/// One fault kind on one engine: what was injected and what the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub kind: String,
    pub engine: Engine,
    pub injected: usize,
    pub counts: Counts,
    /// The longest time from a fault's end until the installation served again
    /// (none for faults it rides through).
    pub longest_recovery_ms: Option<u128>,
    /// Every way the run broke the promise; empty when it held.
    pub failures: Vec<String>,
}

impl Run {
    pub fn judged(kind: &str, engine: Engine, injected: usize, counts: Counts, longest_recovery_ms: Option<u128>) -> Run {
        let mut failures = Vec::new();
        if counts.lost > 0 {
            failures.push(format!("{} acknowledged writes lost ({} not stored, {} never delivered)", counts.lost, counts.missing_from_store, counts.undelivered));
        }
        if counts.out_of_order > 0 {
            failures.push(format!("{} events first delivered out of their thread's order", counts.out_of_order));
        }
        if counts.hung_calls > 0 {
            failures.push(format!("{} calls hung past {} s", counts.hung_calls, crate::load::HUNG.as_secs()));
        }
        if counts.unclear_answers > 0 {
            failures.push(format!("{} answers neither a success nor a Graph error saying to retry, e.g. {:?}", counts.unclear_answers, counts.unclear_samples));
        }
        if counts.live_events == 0 {
            failures.push("no live event reached a person's stream".into());
        }
        if counts.acknowledged == 0 {
            failures.push("no write was acknowledged: the load never ran".into());
        }
        Run { kind: kind.into(), engine, injected, counts, longest_recovery_ms, failures }
    }
}

/// A webhook timeout of one second: leases (3 × the timeout) run out quickly, so
/// that a dead or frozen node's events move to another node within the run.
pub const TIMEOUT_SECS: u64 = 1;

/// An installation's nodes as processes, each restartable on the same store.
pub struct Installation {
    pub store: NodeStore,
    processes: Vec<Option<NodeProcess>>,
    pub nodes: Arc<Nodes>,
    pub operator: String,
    timeout_secs: u64,
    settings: Vec<(&'static str, String)>,
}

impl Installation {
    /// A fresh installation of `engine`: one node on a new SQLite directory, or two
    /// on a new database of the PostgreSQL server.
    pub async fn start(engine: Engine, plan: &Plan, label: &str) -> anyhow::Result<Installation> {
        let (store, count) = match engine {
            Engine::Sqlite => (NodeStore::Sqlite(tempfile::tempdir()?.keep()), 1),
            Engine::Postgres => {
                let server = plan.postgres.as_deref().ok_or_else(|| anyhow::anyhow!("no PostgreSQL server for {label}"))?;
                (NodeStore::Postgres(fresh_database_on(server, &format!("faults_{label}")).await), 2)
            }
        };
        Self::start_on(store, count, TIMEOUT_SECS, Vec::new()).await
    }

    /// `count` nodes on `store`, with webhook timeouts of `timeout_secs` and
    /// `settings` (environment) of their own.
    pub async fn start_on(store: NodeStore, count: usize, timeout_secs: u64, settings: Vec<(&'static str, String)>) -> anyhow::Result<Installation> {
        let mut installation = Installation { store, processes: (0..count).map(|_| None).collect(), nodes: Arc::new(Nodes::new(Vec::new())), operator: String::new(), timeout_secs, settings };
        let mut urls = Vec::new();
        let mut operator = None;
        for n in 0..count {
            let node = installation.spawn(n).await;
            operator = operator.or(node.operator.clone());
            urls.push(node.url.clone());
            installation.processes[n] = Some(node);
        }
        installation.nodes = Arc::new(Nodes::new(urls));
        installation.operator = operator.ok_or_else(|| anyhow::anyhow!("the first node printed no operator credential"))?;
        Ok(installation)
    }

    async fn spawn(&self, n: usize) -> NodeProcess {
        // Faults make nodes warn by the thousand; the verdict is the runner's to give.
        let quiet = [("SWITCHBOARD_LOG", "error")];
        let settings: Vec<(&str, &str)> = quiet.into_iter().chain(self.settings.iter().map(|(key, value)| (*key, value.as_str()))).collect();
        NodeProcess::start_on(&format!("node-{n}"), &self.store, self.timeout_secs, &settings).await
    }

    pub fn first_url(&self) -> String {
        self.nodes.pick(0).expect("a node is up").url
    }

    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// SIGKILL of node `n`; the load stops choosing it.
    pub async fn kill(&mut self, n: usize) {
        self.nodes.set(n, None);
        if let Some(node) = self.processes[n].take() {
            node.kill_hard().await;
        }
    }

    /// Starts node `n` again on the same store and waits until it is ready;
    /// answers how long that took.
    pub async fn restart(&mut self, n: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let node = self.spawn(n).await;
        wait_ready(&node.url).await?;
        self.nodes.set(n, Some(node.url.clone()));
        self.processes[n] = Some(node);
        Ok(started.elapsed())
    }

    pub fn process(&self, n: usize) -> &NodeProcess {
        self.processes[n].as_ref().expect("the node is running")
    }

    /// The base URL of every running node.
    pub fn urls(&self) -> Vec<String> {
        self.processes.iter().flatten().map(|node| node.url.clone()).collect()
    }

    /// The end of a run: the load stopped after a last second of calm, then its
    /// ledger checked against the store and the bots.
    pub async fn settle(&self, world: &World, load: Load, plan: &Plan) -> anyhow::Result<Counts> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ledger = load.stop().await;
        verdict::check(world, &ledger, &self.store, plan.patience).await
    }
}

/// Polls `/readyz` until the node says its store answers (60 s at most).
pub async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{url}/readyz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "{url} was not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A world on `installation` with the load running; the bots think up to 20 ms
/// per POST so that faults land while deliveries are in flight.
pub async fn loaded(installation: &Installation, plan: &Plan) -> (Arc<World>, Load) {
    let world = Arc::new(World::build(&installation.first_url(), &installation.operator, plan.pages, plan.persons).await);
    for bot in &world.bots {
        bot.receiver.think(Duration::from_millis(20));
    }
    let load = Load::start(&world, &installation.nodes, plan.seed);
    (world, load)
}

pub fn rng(plan: &Plan, kind: &str, engine: Engine) -> StdRng {
    let salt = kind.bytes().chain(engine.label().bytes()).fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    StdRng::seed_from_u64(plan.seed ^ salt)
}

/// `kill -9` of a node at a random moment, `plan.faults` times, each followed by a
/// restart on the same data.
pub async fn kills(plan: &Plan, engine: Engine) -> anyhow::Result<Run> {
    let mut installation = Installation::start(engine, plan, "kill").await?;
    let (world, load) = loaded(&installation, plan).await;
    let mut rng = rng(plan, "kill", engine);
    let mut longest = Duration::ZERO;
    for _ in 0..plan.faults {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1500))).await;
        let victim = rng.gen_range(0..installation.len());
        installation.kill(victim).await;
        longest = longest.max(installation.restart(victim).await?);
    }
    let counts = installation.settle(&world, load, plan).await?;
    Ok(Run::judged("kill -9 and restart", engine, plan.faults, counts, Some(longest.as_millis())))
}

/// SIGSTOP of a node for longer than its leases (so another node takes its events
/// over), then SIGCONT: the frozen node wakes with stale leases and POSTs in flight.
pub async fn pauses(plan: &Plan, engine: Engine) -> anyhow::Result<Run> {
    let installation = Installation::start(engine, plan, "pause").await?;
    let (world, load) = loaded(&installation, plan).await;
    let mut rng = rng(plan, "pause", engine);
    let lease = Duration::from_secs(3 * TIMEOUT_SECS);
    let mut longest = Duration::ZERO;
    for _ in 0..plan.faults {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        let victim = rng.gen_range(0..installation.len());
        let node = installation.process(victim);
        installation.nodes.set(victim, None);
        node.pause().await;
        tokio::time::sleep(lease + Duration::from_millis(rng.gen_range(500..8000))).await;
        node.resume().await;
        let resumed = Instant::now();
        wait_ready(&node.url).await?;
        longest = longest.max(resumed.elapsed());
        installation.nodes.set(victim, Some(node.url.clone()));
    }
    let counts = installation.settle(&world, load, plan).await?;
    Ok(Run::judged("SIGSTOP past the leases, SIGCONT", engine, plan.faults, counts, Some(longest.as_millis())))
}
