//! A stored value this version does not know (written by a newer schema, or by hand)
//! is read as `StoreError::Corrupt`, never as a guess: each check writes such a row
//! through a raw connection on the store's own file and reads it back through the
//! store.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use switchboard_domain::*;
use switchboard_store::*;
use switchboard_store_sqlite::SqliteStore;

struct Fixture {
    store: SqliteStore,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A store on a new file, with Page 100, app 900 (with a webhook, installed on the
/// Page) and a person who wrote to the Page (one pending event).
async fn fixture() -> (Fixture, PersonId) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create_page(Page { id: PageId("100".into()), name: "Shop".into(), username: "shop".into() }, None).await.unwrap();
    let app = App { id: AppId("900".into()), name: "Bot".into(), mode: AppMode::Development, secret_generation: 0, require_proof: false, approved: Scopes::NONE, policy: PolicyState::Clear };
    store.create_app(app, None).await.unwrap();
    let ann = store
        .create_person(NewPerson { name: "Ann".into(), login: "ann".into(), password_hash: "$argon2id$x".into(), created_at: 1 })
        .await
        .unwrap();
    store
        .put_app_subscription(AppSubscription {
            app: AppId("900".into()),
            object: "page".into(),
            callback_url: "https://bot.example/hook".into(),
            verify_token: "v".into(),
            fields: vec![WebhookField::Messages],
            version: "v21.0".into(),
            active: true,
            delivery: DeliveryMode::Webhook,
        })
        .await
        .unwrap();
    store.put_page_subscription(PageSubscription { page: PageId("100".into()), app: AppId("900".into()), fields: vec![WebhookField::Messages] }).await.unwrap();
    let message = Message::new(Mid("m1".into()), PageId("100".into()), ann.id, Direction::Inbound, None, 1_000);
    let event = NewOutboxEvent {
        app: AppId("900".into()),
        page: PageId("100".into()),
        person: ann.id,
        field: WebhookField::Messages,
        body: b"{}".to_vec(),
        created_at: 1_000,
    };
    store.append_message(message, vec![event]).await.unwrap();
    (Fixture { store, path, _dir: dir }, ann.id)
}

/// Runs `sql` on the store's file, as another program (or a newer version) would.
fn raw(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[track_caller]
fn assert_corrupt<T: Debug>(result: StoreResult<T>, expected_column: &str, expected_value: &str) {
    match result {
        Err(StoreError::Corrupt { column, value }) => assert_eq!((column.as_str(), value.as_str()), (expected_column, expected_value)),
        other => panic!("expected Corrupt {{ {expected_column}: {expected_value:?} }}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_app_mode_is_corrupt() {
    let (f, _) = fixture().await;
    raw(&f.path, "UPDATE apps SET mode = 'retired' WHERE id = '900'");
    assert_corrupt(f.store.app(&AppId("900".into())).await, "mode", "retired");
    assert_corrupt(f.store.apps_for(None).await, "mode", "retired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_webhook_field_is_corrupt_and_its_claim_leases_nothing() {
    let (f, _) = fixture().await;
    raw(&f.path, "UPDATE outbox SET field = 'telepathy'");
    assert_corrupt(f.store.claim_outbox(2_000, 60_000, &ClaimLimits::heads(10)).await, "field", "telepathy");
    assert_corrupt(f.store.events_of(&AppId("900".into()), None, 0, 10_000, 10).await, "field", "telepathy");
    // The failed claim was undone: once the row is repaired, the event is claimable.
    raw(&f.path, "UPDATE outbox SET field = 'messages'");
    let claimed = f.store.claim_outbox(2_000, 60_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].field, WebhookField::Messages);

    raw(&f.path, "UPDATE page_subscriptions SET fields = 'messages,telepathy'");
    assert_corrupt(f.store.page_subscriptions(&PageId("100".into())).await, "fields", "telepathy");
    assert_corrupt(f.store.webhook_targets(&PageId("100".into())).await, "page_fields", "telepathy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_roles_and_directions_are_corrupt() {
    let (f, ann) = fixture().await;
    raw(&f.path, "UPDATE messages SET direction = 'sideways'");
    assert_corrupt(f.store.message(&Mid("m1".into())).await, "direction", "sideways");
    assert_corrupt(f.store.threads_of(ann).await, "direction", "sideways");

    f.store.set_app_role(&AppId("900".into()), ann, Some(AppRole::Tester)).await.unwrap();
    raw(&f.path, "UPDATE app_roles SET role = 'overlord'");
    assert_corrupt(f.store.app_role(&AppId("900".into()), ann).await, "role", "overlord");
    assert_corrupt(f.store.app_members(&AppId("900".into())).await, "role", "overlord");

    f.store.apply_page_feature(&PageId("100".into()), PageFeature::PhoneNumbers, Some(ann), 5, false).await.unwrap();
    raw(&f.path, "UPDATE page_features SET feature = 'teleport'");
    assert_corrupt(f.store.page_features(&PageId("100".into())).await, "feature", "teleport");

    raw(&f.path, "INSERT INTO tokens (digest, kind, issued_at) VALUES ('d1', 'wizard', 0), ('d2', 'page', 0)");
    assert_corrupt(f.store.token("d1").await, "kind", "wizard");
    assert!(matches!(f.store.token("d2").await, Err(StoreError::Corrupt { .. })), "a Page token without its Page, app and person");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_folder_is_corrupt() {
    let (f, ann) = fixture().await;
    raw(&f.path, "UPDATE threads SET folder = 'archive'");
    assert_corrupt(f.store.page_thread(&PageId("100".into()), ann).await, "folder", "archive");
    assert_corrupt(f.store.page_threads(&PageId("100".into()), None, None, 10).await, "folder", "archive");
    assert_corrupt(f.store.inbox_threads(&PageId("100".into()), None, 10).await, "folder", "archive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_another_type_is_corrupt() {
    let (f, _) = fixture().await;
    raw(&f.path, "UPDATE apps SET secret_generation = 'many'");
    assert_corrupt(f.store.app(&AppId("900".into())).await, "secret_generation", "many");
    raw(&f.path, "UPDATE apps SET secret_generation = -1");
    assert_corrupt(f.store.app(&AppId("900".into())).await, "secret_generation", "-1");
    raw(&f.path, "UPDATE messages SET quick_replies = 'not json'");
    assert_corrupt(f.store.message(&Mid("m1".into())).await, "quick_replies", "not json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_rating_or_a_negative_edit_count_is_corrupt() {
    let (f, ann) = fixture().await;
    raw(&f.path, "UPDATE messages SET feedback = 'meh'");
    assert_corrupt(f.store.message(&Mid("m1".into())).await, "feedback", "meh");
    assert_corrupt(f.store.threads_of(ann).await, "feedback", "meh");
    raw(&f.path, "UPDATE messages SET feedback = NULL, edit_count = -1");
    assert_corrupt(f.store.message(&Mid("m1".into())).await, "edit_count", "-1");
}
