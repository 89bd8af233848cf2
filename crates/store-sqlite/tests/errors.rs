//! Refusals come back as typed data (which login, which quota, which row), and
//! database failures keep SQLite's error as their cause.

use std::error::Error as _;
use switchboard_domain::*;
use switchboard_store::*;
use switchboard_store_sqlite::SqliteStore;

fn person(login: &str) -> NewPerson {
    NewPerson { name: login.to_uppercase(), login: login.into(), password_hash: "$argon2id$x".into(), created_at: 1 }
}

fn page(id: &str, username: &str) -> Page {
    Page { id: PageId(id.into()), name: format!("Page {username}"), username: username.into() }
}

fn app(id: &str) -> App {
    App { id: AppId(id.into()), name: format!("App {id}"), mode: AppMode::Development, secret_generation: 0, require_proof: false, approved: Scopes::NONE, policy: PolicyState::Clear }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("switchboard.db")).unwrap();
    let ann = store.create_person(person("ann")).await.unwrap();
    let bob = store.create_person(person("bob")).await.unwrap();
    assert!(matches!(store.create_person(person("ann")).await, Err(StoreError::Conflict(Conflict::LoginTaken(login))) if login == "ann"));
    assert!(matches!(
        store.create_test_user(person("ann"), &AppId("900".into()), Scopes::NONE).await,
        Err(StoreError::Conflict(Conflict::LoginTaken(login))) if login == "ann"
    ));

    let owner = Owner { person: ann.id, quota: 1 };
    store.create_page(page("100", "shop"), Some(owner)).await.unwrap();
    assert!(matches!(store.create_page(page("101", "shop"), None).await, Err(StoreError::Conflict(Conflict::UsernameTaken(name))) if name == "shop"));
    assert!(matches!(store.create_page(page("102", "other"), Some(owner)).await, Err(StoreError::QuotaExceeded(Quota::PagesPerPerson(1)))));
    assert!(matches!(store.set_page_role(&PageId("100".into()), ann.id, None).await, Err(StoreError::Conflict(Conflict::LastPageAdmin))));

    store.create_app(app("900"), Some(owner)).await.unwrap();
    assert!(matches!(store.create_app(app("901"), Some(owner)).await, Err(StoreError::QuotaExceeded(Quota::AppsPerPerson(1)))));
    assert!(matches!(store.update_app(&app("999"), None, false).await, Err(StoreError::NotFound(Missing::App(id))) if id.as_str() == "999"));
    let minter: PageTokenMinter = std::sync::Arc::new(|epoch| format!("token-{epoch}"));
    store.create_app(app("902"), None).await.unwrap();
    let grant = |app: &str| PageGrant { page: PageId("100".into()), app: AppId(app.into()), by: ann.id, at: 1, max_apps: 1, consent: Scopes::NONE };
    store.grant_page(grant("900"), minter.clone()).await.unwrap();
    assert!(matches!(store.grant_page(grant("902"), minter).await, Err(StoreError::QuotaExceeded(Quota::AppsPerPage(1)))));

    store.set_phone(ann.id, Some("+12125552368"), 1).await.unwrap();
    assert!(matches!(store.set_phone(bob.id, Some("+12125552368"), 2).await, Err(StoreError::Conflict(Conflict::PhoneTaken))));
    assert!(matches!(
        store.approve_page_feature(&PageId("100".into()), PageFeature::OneTimeNotif, 3).await,
        Err(StoreError::NotFound(Missing::FeatureApplication { page, feature: PageFeature::OneTimeNotif })) if page.as_str() == "100"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_constraints_keep_sqlites_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("switchboard.db")).unwrap();
    let record = AttachmentRecord {
        id: "a1".into(),
        page: PageId("100".into()),
        kind: "image".into(),
        digest: "ab".repeat(32),
        mime: "image/png".into(),
        size: 3,
        file_name: None,
        reusable: true,
        created_at: 1,
        sent_by: None,
    };
    store.insert_attachment(record.clone()).await.unwrap();
    match store.insert_attachment(record).await {
        Err(StoreError::Conflict(Conflict::Constraint(words))) => assert!(words.contains("UNIQUE"), "{words}"),
        other => panic!("expected a constraint conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_keeps_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let store = SqliteStore::open(&path).unwrap();
    // Another program holds the write lock longer than the store waits for it.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let error = store.create_person(person("ann")).await.unwrap_err();
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    let cause = error.source().expect("SQLite's error is kept as the cause");
    assert!(cause.downcast_ref::<std::sync::Arc<rusqlite::Error>>().is_some() || cause.downcast_ref::<rusqlite::Error>().is_some(), "{cause:?}");
    store.create_person(person("ann")).await.expect("the store serves again once the lock is gone");
}
