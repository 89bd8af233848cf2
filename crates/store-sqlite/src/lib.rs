//! The embedded SQLite engine of the store: one file, WAL mode, group commit.
//!
//! Owns the SQL for SQLite and nothing else: no rules (they come decided from the
//! app layer), no HTTP. Each trait method is one transaction. Each store trait is
//! implemented in the file of its name, as in the store crate (`directory`,
//! `tokens`, `subscriptions`, `threads`, `optins`, `media`, `profiles`, `labels`, `outbox`,
//! `listings`, `privacy`), with the SQL only it uses; every row is read through the store's
//! codec (`columns`), `engine` runs the connections and maps SQLite's errors, and
//! `migrate` applies the schema. This file holds the store itself and its health
//! check.

mod columns;
mod consent;
mod directory;
mod engine;
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

pub use migrate::LATEST as SCHEMA_VERSION;

use async_trait::async_trait;
use columns::q;
use engine::Engine;
use std::path::PathBuf;
use switchboard_store::{Store, StoreResult};

pub struct SqliteStore {
    engine: Engine,
}

impl SqliteStore {
    /// Opens (or creates) the store in `path`, applying migrations.
    pub fn open(path: impl Into<PathBuf>) -> StoreResult<Self> {
        Ok(Self { engine: Engine::open(path.into(), 4)? })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine.read(|c| q(c.query_row("SELECT 1", [], |_| Ok(())))).await
    }
}
