//! The store contract on a real SQLite file, one test per check, plus what only a
//! file can show.

use std::sync::Arc;
use switchboard_domain::*;
use switchboard_store::{contract, DirectoryStore};
use switchboard_store_sqlite::SqliteStore;

/// A store on a new file in a directory of its own, removed when the check ends.
async fn fresh() -> Option<contract::Fresh> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("contract.db")).unwrap();
    Some(contract::Fresh { store: Arc::new(store) as contract::Shared, keep: Box::new(dir) })
}

switchboard_store::contract_tests!(fresh);

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
