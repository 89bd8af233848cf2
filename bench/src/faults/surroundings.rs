//! The faults around a node rather than in it: the database restarted under it,
//! its disk full, webhook receivers that hang, trickle or reset, and the clock it
//! reads jumping. Each is a run of its own, under the same mixed load and the same
//! check as the node faults.

use crate::scenarios::{loaded, rng, wait_ready, Engine, Installation, Plan, Run};
use rand::Rng;
use std::time::{Duration, Instant};
use switchboard_testkit::{fresh_database_on, set_skew, Behaviour, NodeStore, PrivatePostgres, Shutdown, SmallDisk, TestServer, FAULT_CLOCK_ENV};

/// The webhook timeout the receivers' run keeps: Meta's 20 s, as in production.
const META_TIMEOUT_SECS: u64 = 20;

/// PostgreSQL stopped (fast or immediate shutdown, at random) under two nodes, kept
/// down for up to 3 s, started again: the nodes must come back by themselves, and
/// every call meanwhile must be refused with a Graph error that says to retry.
pub async fn database_restarts(plan: &Plan) -> anyhow::Result<Run> {
    let server = PrivatePostgres::start().await;
    let installation = Installation::start_on(NodeStore::Postgres(server.url()), 2, crate::scenarios::TIMEOUT_SECS, Vec::new()).await?;
    let (world, load) = loaded(&installation, plan).await;
    let mut rng = rng(plan, "database", Engine::Postgres);
    let mut longest = Duration::ZERO;
    for _ in 0..plan.faults {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        let mode = if rng.gen_bool(0.5) { Shutdown::Fast } else { Shutdown::Immediate };
        server.stop(mode).await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..3000))).await;
        server.start_again().await;
        let back = Instant::now();
        for url in installation.urls() {
            wait_ready(&url).await?;
        }
        longest = longest.max(back.elapsed());
    }
    let counts = installation.settle(&world, load, plan).await?;
    Ok(Run::judged("PostgreSQL stopped (fast or immediate) and started", Engine::Postgres, plan.faults, counts, Some(longest.as_millis())))
}

/// The SQLite node's disk filled to the last byte for up to 2.5 s, then freed:
/// writes meanwhile must be refused with a Graph error that says to retry, and the
/// node must take writes again by itself.
pub async fn full_disks(plan: &Plan) -> anyhow::Result<Run> {
    let disk = SmallDisk::try_mount(128).await.map_err(|error| anyhow::anyhow!("cannot mount a small disk (run as root): {error}"))?;
    let data = disk.path().join("data");
    std::fs::create_dir_all(&data)?;
    let installation = Installation::start_on(NodeStore::Sqlite(data), 1, crate::scenarios::TIMEOUT_SECS, Vec::new()).await?;
    let (world, load) = loaded(&installation, plan).await;
    let mut rng = rng(plan, "disk", Engine::Sqlite);
    let writer = TestServer::external(&installation.first_url(), &installation.operator);
    let probe = &world.threads[0];
    let mut longest = Duration::ZERO;
    for _ in 0..plan.faults {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        disk.fill(0);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2500))).await;
        disk.free_space();
        // Recovered when the node takes a write again.
        let freed = Instant::now();
        loop {
            let body = serde_json::json!({"recipient": {"id": probe.psid}, "messaging_type": "RESPONSE", "message": {"text": "back?"}});
            let (status, _) = writer.graph_call(reqwest::Method::POST, "/me/messages", Some(&world.bots[probe.page].page_token), Some(body)).await;
            if status == 200 {
                break;
            }
            anyhow::ensure!(freed.elapsed() < Duration::from_secs(60), "the node took no write within 60 s of the disk's space returning");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        longest = longest.max(freed.elapsed());
    }
    let counts = installation.settle(&world, load, plan).await?;
    Ok(Run::judged("the disk full, then freed", Engine::Sqlite, plan.faults, counts, Some(longest.as_millis())))
}

/// Apps whose receivers never answer, answer a byte a second, or reset the
/// connection, installed beside the healthy bots on their Pages, with Meta's 20 s
/// timeout: no POST may be held past the timeout, and the healthy bots' deliveries
/// must not wait for the hostile ones.
pub async fn hostile_receivers(plan: &Plan, engine: Engine) -> anyhow::Result<Run> {
    let store = match engine {
        Engine::Sqlite => NodeStore::Sqlite(tempfile::tempdir()?.keep()),
        Engine::Postgres => NodeStore::Postgres(fresh_database_on(plan.postgres.as_deref().unwrap_or_default(), "faults_receivers").await),
    };
    let count = if engine == Engine::Postgres { 2 } else { 1 };
    let installation = Installation::start_on(store, count, META_TIMEOUT_SECS, Vec::new()).await?;
    let (world, load) = loaded(&installation, plan).await;
    let server = TestServer::external(&installation.first_url(), &installation.operator);
    let behaviours = [Behaviour::Silent, Behaviour::Trickle, Behaviour::Reset];
    let mut hostile = Vec::new();
    for n in 0..plan.faults {
        let bot = &world.bots[n % world.bots.len()];
        let behaviour = behaviours[n % behaviours.len()];
        // A second app on the Page: the healthy bot owns the threads, so this one
        // hears of their messages on `standby`.
        hostile.push(server.hostile_bot(&bot.page, &bot.admin, &format!("hostile {n}"), behaviour, "messages,standby").await);
    }
    // Long enough for hung POSTs to reach the timeout and be retried.
    tokio::time::sleep(Duration::from_secs(META_TIMEOUT_SECS + 5)).await;
    let counts = installation.settle(&world, load, plan).await?;
    let mut run = Run::judged("webhook receivers that hang, trickle or reset (20 s timeout)", engine, plan.faults, counts, None);
    let limit = Duration::from_secs(META_TIMEOUT_SECS + 2);
    for bot in &hostile {
        let posts = bot.receiver.posts();
        if posts == 0 {
            run.failures.push(format!("the {:?} receiver was never sent a POST", bot.receiver.behaviour()));
        }
        if let Some(longest) = bot.receiver.holds().into_iter().max().filter(|held| *held > limit) {
            run.failures.push(format!("a POST to the {:?} receiver was held {:.1} s, past the 20 s timeout", bot.receiver.behaviour(), longest.as_secs_f64()));
        }
    }
    // Healthy bots answer within 20 ms; only a wait behind a hostile POST could take
    // them near the timeout.
    if run.counts.delivery_max_ms >= u128::from(META_TIMEOUT_SECS) * 1000 / 2 {
        run.failures.push(format!("a healthy bot's event waited {:.1} s: slowed by the hostile receivers", run.counts.delivery_max_ms as f64 / 1000.0));
    }
    Ok(run)
}

/// Each node's clock (the fault clock: the system clock plus a skew the operator
/// sets; the machine's clock is never touched) jumping up to an hour forwards or
/// backwards under load, then back: no event may be lost or left waiting for the
/// hour the clock was ahead.
pub async fn clock_jumps(plan: &Plan, engine: Engine) -> anyhow::Result<Run> {
    let (store, count) = match engine {
        Engine::Sqlite => (NodeStore::Sqlite(tempfile::tempdir()?.keep()), 1),
        Engine::Postgres => (NodeStore::Postgres(fresh_database_on(plan.postgres.as_deref().unwrap_or_default(), "faults_clock").await), 2),
    };
    let settings = vec![(FAULT_CLOCK_ENV.0, FAULT_CLOCK_ENV.1.to_string())];
    let installation = Installation::start_on(store, count, crate::scenarios::TIMEOUT_SECS, settings).await?;
    let (world, load) = loaded(&installation, plan).await;
    let mut rng = rng(plan, "clock", engine);
    let hour = 3_600_000;
    for _ in 0..plan.faults {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        for url in installation.urls() {
            let skew = rng.gen_range(-hour..=hour);
            set_skew(&url, &installation.operator, skew).await.map_err(|refused| anyhow::anyhow!("the skew was refused: {refused:?}"))?;
        }
    }
    tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
    for url in installation.urls() {
        set_skew(&url, &installation.operator, 0).await.map_err(|refused| anyhow::anyhow!("the skew was refused: {refused:?}"))?;
    }
    let counts = installation.settle(&world, load, plan).await?;
    Ok(Run::judged("the clock jumping up to an hour either way", engine, plan.faults, counts, None))
}
