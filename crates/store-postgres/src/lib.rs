//! The PostgreSQL engine of the store, for several nodes sharing one database.
//!
//! Owns the SQL for PostgreSQL and nothing else: no rules, no HTTP. Each trait
//! method is one transaction (the Send API's appends are grouped, see `batch`).
//! Whatever must happen once across nodes is decided here by the database: unique
//! keys with `ON CONFLICT`, and outbox claims with `FOR UPDATE SKIP LOCKED`.
//!
//! This file holds the connection (config, pool, migrations at connect) and `ping`;
//! each aggregate's trait is implemented in the file of its name, as in the store
//! crate, with the SQL only it uses. Rows are read through `columns::PgRow` and
//! the store's one codec. The lock order every writer of outbox rows keeps is told
//! in `outbox`.

mod batch;
mod bus;
mod columns;
mod consent;
mod directory;
mod errors;
mod handover;
mod labels;
mod listings;
mod media;
mod migrate;
mod entry_points;
mod optins;
mod outbox;
mod pickup;
mod privacy;
mod profiles;
mod subscriptions;
mod threads;
mod tokens;

pub use bus::PostgresBus;
pub use migrate::LATEST as SCHEMA_VERSION;

use async_trait::async_trait;
use errors::{pg, pool as pool_error};
use std::time::Duration;
use switchboard_store::*;
use tokio_postgres::NoTls;

pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database`
    pub url: String,
    pub pool_size: usize,
    pub statement_timeout_ms: u64,
    /// Connecting, or waiting for a pooled connection, longer than this fails with
    /// `Unavailable`: a node that lost the database answers instead of hanging.
    pub connect_timeout_ms: u64,
    /// A schema to create and use instead of `public` (tests isolate with it).
    pub schema: Option<String>,
}

pub struct PostgresStore {
    pool: deadpool_postgres::Pool,
    appends: batch::AppendBatcher,
}

impl PostgresStore {
    /// Connects, and applies migrations.
    pub async fn connect(config: PostgresConfig) -> StoreResult<Self> {
        let mut pg_config: tokio_postgres::Config = config.url.parse().map_err(|e| errors::internal("database URL", e))?;
        let timeout = Duration::from_millis(config.connect_timeout_ms.max(1));
        // A session idle inside a transaction for as long as a statement may run is
        // ended by the server: a node frozen (SIGSTOP, a stalled VM) between two
        // statements of a transaction would otherwise hold its row locks, and stall
        // every node writing to those threads, for as long as it is frozen.
        let mut options = format!("-c statement_timeout={0} -c idle_in_transaction_session_timeout={0}", config.statement_timeout_ms);
        if let Some(schema) = &config.schema {
            // Created before the pool uses it as search_path.
            let (client, connection) = pg_config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(connection);
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(pg)?;
            options.push_str(&format!(" -c search_path={schema}"));
        }
        pg_config.options(&options).connect_timeout(timeout);
        let pool = new_pool(&pg_config, config.pool_size.max(2), timeout)?;
        let mut client = pool.get().await.map_err(pool_error)?;
        migrate::apply(&mut client).await?;
        drop(client);
        let appends = batch::AppendBatcher::start(new_pool(&pg_config, batch::CONNECTIONS, timeout)?)?;
        Ok(Self { appends, pool })
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

/// A pool of at most `size` connections. Each connection's I/O runs on the runtime of
/// the task that opened it.
fn new_pool(pg_config: &tokio_postgres::Config, size: usize, timeout: Duration) -> StoreResult<deadpool_postgres::Pool> {
    let manager = deadpool_postgres::Manager::from_config(
        pg_config.clone(),
        NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|e| errors::internal("connection pool", e))
}

/// Begins a transaction whose statements run on their generic plans. PostgreSQL
/// plans a prepared statement again at each call while the plan for that call's
/// values looks cheaper than the generic one, and for the hot path's statements it
/// looked so for ever: the outbox insert of a group write (its head check is a
/// correlated subquery), the dispatcher's claim, the lease of a settle's next runs
/// and the idle lookup spent as long planning as running (ANALYSIS.md). Their plans
/// do not depend on the values: each walks its indexes by the row or the thread at
/// hand, and the generic plan is the one chosen anyway once a backlog is large.
pub(crate) const BEGIN_GENERIC: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// As `BEGIN_GENERIC`, for a write whose loss in a crash of the database is
/// harmless (a webhook lease: a lost one only lets the event be claimed again): its
/// COMMIT does not wait for the WAL's fsync, as SQLite's relaxed writes do not.
/// Every claim waiting for its own fsync made the dispatcher's wake-ups queue with
/// the messages' commits on the WAL (ANALYSIS.md).
const BEGIN_GENERIC_RELAXED: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL synchronous_commit = off";

/// Whether a transaction's COMMIT waits for its WAL to be on disk.
#[derive(Clone, Copy)]
pub(crate) enum Commit {
    Durable,
    /// See `BEGIN_GENERIC_RELAXED`.
    Relaxed,
}

/// Runs one prepared statement on its generic plan (`BEGIN_GENERIC`), in a
/// transaction of its own and one round trip: BEGIN, the statement and COMMIT are
/// pipelined. A failure leaves the connection outside any transaction.
pub(crate) async fn query_generic(
    client: &deadpool_postgres::Object,
    commit: Commit,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<tokio_postgres::Row>> {
    // Prepared once per connection: afterwards no round trip.
    let statement = client.prepare_cached(sql).await.map_err(pg)?;
    let begin = match commit {
        Commit::Durable => BEGIN_GENERIC,
        Commit::Relaxed => BEGIN_GENERIC_RELAXED,
    };
    // Requests go out in the order `join!` first polls them.
    let (begun, rows, committed) = tokio::join!(client.batch_execute(begin), client.query(&statement, params), client.batch_execute("COMMIT"));
    let answered = begun.and(rows).and_then(|rows| committed.map(|()| rows));
    if answered.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    answered.map_err(pg)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.query_one("SELECT 1", &[]).await.map_err(pg)?;
        Ok(())
    }
}
