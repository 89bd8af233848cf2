//! What the tests of this crate share: the test server's URL, a fresh schema per
//! store, and a store connected in it.
// Each test binary uses the part it needs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use switchboard_store_postgres::{PostgresConfig, PostgresStore};

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// The test server's URL. Its absence fails the run, unless
/// `SWITCHBOARD_TEST_SKIP_POSTGRES` gives the reason to skip (then `None`).
pub fn database_url() -> Option<String> {
    match std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => match std::env::var("SWITCHBOARD_TEST_SKIP_POSTGRES").ok().filter(|reason| !reason.trim().is_empty()) {
            Some(reason) => {
                eprintln!("PostgreSQL tests SKIPPED: {reason} (SWITCHBOARD_TEST_SKIP_POSTGRES)");
                None
            }
            None => panic!("the PostgreSQL tests need SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets one up), or SWITCHBOARD_TEST_SKIP_POSTGRES with the reason to skip"),
        },
    }
}

/// A schema no other store uses, named for the test binary and its process.
pub fn fresh_schema() -> String {
    format!("{}_{}_{}", env!("CARGO_CRATE_NAME"), std::process::id(), SCHEMAS.fetch_add(1, Ordering::Relaxed))
}

pub async fn store(url: &str, schema: &str) -> Arc<PostgresStore> {
    let config = PostgresConfig { url: url.into(), pool_size: 8, statement_timeout_ms: 10_000, connect_timeout_ms: 5_000, schema: Some(schema.into()) };
    Arc::new(PostgresStore::connect(config).await.expect("the test PostgreSQL answers"))
}

/// A store in a fresh schema and a raw connection to the same schema, for rows
/// written or plans read behind the engine's back; `None` when the run opted out of
/// PostgreSQL.
pub async fn store_and_raw() -> Option<(Arc<PostgresStore>, tokio_postgres::Client)> {
    let url = database_url()?;
    let schema = fresh_schema();
    let store = store(&url, &schema).await;
    let mut config: tokio_postgres::Config = url.parse().expect("a valid URL");
    config.options(format!("-c search_path={schema}"));
    let (raw, connection) = config.connect(tokio_postgres::NoTls).await.expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    Some((store, raw))
}
