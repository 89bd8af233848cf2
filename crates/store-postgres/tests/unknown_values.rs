//! A stored value this version does not know (written by a newer version, or by hand)
//! reads as `StoreError::Corrupt`, never as a guess, and a column of an unexpected
//! type as an error, never a panic. The rows are written behind the engine's back,
//! through a raw connection to the store's schema.

mod common;

use common::store_and_raw;
use std::fmt::Debug;
use switchboard_domain::*;
use switchboard_store::*;
use switchboard_store_postgres::PostgresStore;

#[track_caller]
fn assert_corrupt<T: Debug>(result: StoreResult<T>, column: &str, value: &str) {
    match result {
        Err(StoreError::Corrupt { column: c, value: v }) => assert_eq!((c.as_str(), v.as_str()), (column, value)),
        other => panic!("expected Corrupt {{ column: {column:?}, value: {value:?} }}, got {other:?}"),
    }
}

fn app(id: &str) -> App {
    App { id: AppId(id.into()), name: format!("App {id}"), mode: AppMode::Development, secret_generation: 0, require_proof: false, approved: Scopes::NONE, policy: PolicyState::Clear }
}

async fn seed_thread(store: &PostgresStore) -> PersonId {
    store.create_page(Page { id: PageId("100".into()), name: "Shop".into(), username: "shop".into() }, None).await.unwrap();
    let person = NewPerson { name: "Ann".into(), login: "ann".into(), password_hash: "x".into(), created_at: 0 };
    store.create_person(person).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_app_mode_role_or_feature_is_corrupt() {
    let Some((store, raw)) = store_and_raw().await else { return };
    let person = seed_thread(&store).await;
    let page = PageId("100".into());
    store.create_app(app("900"), Some(Owner { person, quota: 0 })).await.unwrap();
    store.set_page_role(&page, person, Some(PageRole::Admin)).await.unwrap();
    store.apply_page_feature(&page, PageFeature::PhoneNumbers, Some(person), 1, false).await.unwrap();

    raw.batch_execute(
        "UPDATE apps SET mode = 'retired' WHERE id = '900';
         UPDATE app_roles SET role = 'overlord';
         UPDATE page_roles SET role = 'owner';
         UPDATE page_features SET feature = 'telepathy'",
    )
    .await
    .unwrap();

    let id = AppId("900".into());
    assert_corrupt(store.app(&id).await, "mode", "retired");
    assert_corrupt(store.apps_for(None).await, "mode", "retired");
    assert_corrupt(store.app_role(&id, person).await, "role", "overlord");
    assert_corrupt(store.app_members(&id).await, "role", "overlord");
    assert_corrupt(store.page_role(&page, person).await, "role", "owner");
    assert_corrupt(store.page_features(&page).await, "feature", "telepathy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_webhook_field_or_failure_kind_is_corrupt() {
    let Some((store, raw)) = store_and_raw().await else { return };
    let person = seed_thread(&store).await;
    store.create_app(app("900"), None).await.unwrap();
    let (app, page) = (AppId("900".into()), PageId("100".into()));
    let message = Message::new(Mid("m.1".into()), page.clone(), person, Direction::Inbound, None, 1);
    let event = NewOutboxEvent { app: app.clone(), page: page.clone(), person, field: WebhookField::Messages, body: b"{}".to_vec(), created_at: 1 };
    store.append_message(message, vec![event]).await.unwrap();
    let subscription = AppSubscription {
        app: app.clone(),
        object: "page".into(),
        callback_url: "http://127.0.0.1:1/hook".into(),
        verify_token: "v".into(),
        fields: vec![WebhookField::Messages],
        version: "v19.0".into(),
        active: true,
        delivery: DeliveryMode::Webhook,
    };
    store.put_app_subscription(subscription).await.unwrap();
    store.put_page_subscription(PageSubscription { page: page.clone(), app: app.clone(), fields: vec![WebhookField::Messages] }).await.unwrap();

    raw.batch_execute(
        "UPDATE outbox SET field = 'telepathy';
         UPDATE app_subscriptions SET fields = 'messages,telepathy';
         INSERT INTO delivery_attempts (app_id, url, attempted_at, latency_ms, kind, status, error, excerpt, events)
             VALUES ('900', 'http://127.0.0.1:1/hook', 5, 3, 'gremlins', NULL, 'gremlins ate it', '', 1);
         INSERT INTO webhook_alerts (app_id, kind, created_at, message) VALUES ('900', 'apocalypse', 6, 'the end')",
    )
    .await
    .unwrap();

    assert_corrupt(store.claim_outbox(10, 1_000, &ClaimLimits::heads(10)).await, "field", "telepathy");
    assert_corrupt(store.events_of(&app, None, 0, 100, 10).await, "field", "telepathy");
    assert_corrupt(store.app_subscriptions(&app).await, "fields", "telepathy");
    assert_corrupt(store.webhook_targets(&page).await, "app_fields", "telepathy");
    assert_corrupt(store.recent_failures(&app, 10).await, "kind", "gremlins");
    assert_corrupt(store.alerts(&app, 10).await, "kind", "apocalypse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_direction_rating_optin_or_token_kind_is_corrupt() {
    let Some((store, raw)) = store_and_raw().await else { return };
    let person = seed_thread(&store).await;
    let page = PageId("100".into());
    store.append_message(Message::new(Mid("m.1".into()), page.clone(), person, Direction::Inbound, None, 1), vec![]).await.unwrap();
    let request = OptinRequest::new(Mid("m.2".into()), OptinKind::OneTime, page.clone(), person, "Sale".into(), "P".into(), 2);
    let asking = Message::new(Mid("m.2".into()), page.clone(), person, Direction::Outbound, Some(AppId("900".into())), 2);
    assert!(store.send_optin_request(request, asking, vec![]).await.unwrap());
    store.insert_token(TokenRecord { hash: "digest".into(), grant: TokenGrant::Session { person }, issued_at: 0, expires_at: None }).await.unwrap();

    raw.batch_execute(
        "UPDATE messages SET direction = 'sideways' WHERE mid = 'm.1';
         UPDATE messages SET feedback = 'meh' WHERE mid = 'm.2';
         UPDATE optin_requests SET kind = 'FORTNIGHTLY';
         UPDATE tokens SET kind = 'wizard'",
    )
    .await
    .unwrap();

    assert_corrupt(store.message(&Mid("m.1".into())).await, "direction", "sideways");
    assert_corrupt(store.message(&Mid("m.2".into())).await, "feedback", "meh");
    assert_corrupt(store.thread_messages(&page, person, None, 10).await, "direction", "sideways");
    assert_corrupt(store.optin_request(&Mid("m.2".into())).await, "kind", "FORTNIGHTLY");
    assert_corrupt(store.token("digest").await, "kind", "wizard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_value_is_corrupt_and_an_unexpected_type_an_error() {
    let Some((store, raw)) = store_and_raw().await else { return };
    let person = seed_thread(&store).await;
    store.set_phone(person, Some("+12125552368"), 7).await.unwrap();
    store.set_person_profile(person, PersonProfile::default()).await.unwrap();

    raw.batch_execute(
        "UPDATE persons SET phone_verified_at = NULL;
         ALTER TABLE person_profiles ALTER COLUMN timezone TYPE TEXT",
    )
    .await
    .unwrap();

    assert_corrupt(store.phone_of(person).await, "phone_verified_at", "NULL");
    assert!(matches!(store.person_profile(person).await, Err(StoreError::Internal { source: Some(_), .. })), "a type mismatch keeps its cause");
}
