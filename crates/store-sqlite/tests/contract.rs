//! The store contract on a real SQLite file, plus what only a file can show.

use std::sync::Arc;
use switchboard_domain::*;
use switchboard_store::{contract, Store};
use switchboard_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    contract::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("contract-{n}.db"));
        async move { Arc::new(SqliteStore::open(path).unwrap()) as contract::Shared }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create_page(Page { id: PageId("100".into()), name: "Shop".into(), username: "shop".into() }, None).await.unwrap();
    }
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.page_by_username("shop").await.unwrap().unwrap().id, PageId("100".into()));
}
