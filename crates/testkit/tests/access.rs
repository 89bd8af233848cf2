//! Who may install which app on which Page, and tokens that can be taken back for
//! good, through real HTTP: Meta's development-mode rule for installing and logging
//! in, Page tokens that die with the admin's role or the app's removal and never
//! come back, a secret reset that ends the app's tokens, a Page that keeps an admin,
//! and quotas on what one person may create.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{TestPerson, TestServer};

/// A person's session token (the console accepts the person API's sessions).
async fn session(server: &TestServer, person: &TestPerson) -> String {
    server.sign_in(person).await.token.clone()
}

async fn as_person(server: &TestServer, token: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
    let (status, body) = server.console_as(token, method, path, body).await;
    (status.as_u16(), body)
}

/// A Graph call that needs only to authenticate: `GET /me` with the token.
async fn token_works(server: &TestServer, token: &str) -> bool {
    let (status, body) = server.graph_call(Method::GET, "/me", Some(token), None).await;
    assert!(status == 200 || body["error"]["code"] == 190, "{body}");
    status == 200
}

#[tokio::test]
async fn an_app_in_development_mode_is_installed_only_by_its_role_holders() {
    let server = TestServer::start().await;
    let alice = server.person("alice").await;
    let mallory = server.person("mallory").await;
    let alice_session = session(&server, &alice).await;
    let mallory_session = session(&server, &mallory).await;
    let (_, app) = as_person(&server, &alice_session, Method::POST, "/apps", json!({"name": "Alice's bot"})).await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let (status, page) = as_person(&server, &mallory_session, Method::POST, "/pages", json!({"name": "Mallory's", "username": "mallorys"})).await;
    assert_eq!(status, 200, "{page}");
    let page_id = page["id"].as_str().unwrap().to_string();

    // Mallory administers the Page but holds no role on the app.
    let (status, body) = as_person(&server, &mallory_session, Method::POST, &format!("/pages/{page_id}/apps"), json!({"app_id": app_id})).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!(200)), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("development mode"), "{body}");
    let (status, body) = as_person(&server, &mallory_session, Method::POST, &format!("/apps/{app_id}/user-tokens"), json!({"person_id": mallory.id})).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!(200)), "no login to it either: {body}");
    let (status, _) = as_person(&server, &mallory_session, Method::POST, &format!("/apps/{app_id}/user-tokens"), json!({"person_id": alice.id})).await;
    assert_eq!(status, 403, "nor in someone else's name");

    // A tester of the app may.
    let (status, _) = as_person(&server, &alice_session, Method::POST, &format!("/apps/{app_id}/roles"), json!({"login": "mallory", "role": "tester"})).await;
    assert_eq!(status, 200);
    let (status, body) = as_person(&server, &mallory_session, Method::POST, &format!("/pages/{page_id}/apps"), json!({"app_id": app_id})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = as_person(&server, &alice_session, Method::POST, &format!("/apps/{app_id}/roles"), json!({"login": "mallory", "role": null})).await;
    assert_eq!(status, 200);

    // Live, any Page admin may install it and log in to it.
    let (status, _) = as_person(&server, &alice_session, Method::PATCH, &format!("/apps/{app_id}"), json!({"mode": "live"})).await;
    assert_eq!(status, 200);
    let (status, body) = as_person(&server, &mallory_session, Method::POST, &format!("/pages/{page_id}/apps"), json!({"app_id": app_id})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = as_person(&server, &mallory_session, Method::POST, &format!("/apps/{app_id}/user-tokens"), json!({"person_id": mallory.id})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_page_token_dies_with_its_admins_role_and_never_comes_back() {
    let server = TestServer::start().await;
    let bot = server.bot("tokens", "messages").await;
    let second = server.person("second-admin").await;
    server.console(Method::POST, &format!("/pages/{}/roles", bot.page.id), json!({"person_id": second.id, "role": "admin"})).await;
    assert!(token_works(&server, &bot.page_token).await);

    server.console(Method::POST, &format!("/pages/{}/roles", bot.page.id), json!({"person_id": bot.admin.id, "role": null})).await;
    assert!(!token_works(&server, &bot.page_token).await, "the admin who granted it left");
    server.console(Method::POST, &format!("/pages/{}/roles", bot.page.id), json!({"person_id": bot.admin.id, "role": "admin"})).await;
    assert!(!token_works(&server, &bot.page_token).await, "restoring the role does not revive it");

    let renewed = server.grant(&bot.page, &bot.app, &bot.admin).await;
    assert_ne!(renewed, bot.page_token, "a new grant gives a new token");
    assert!(token_works(&server, &renewed).await);
    assert!(!token_works(&server, &bot.page_token).await);
}

#[tokio::test]
async fn removing_an_app_from_a_page_ends_its_tokens_and_webhooks() {
    let server = TestServer::start().await;
    let removed = server.bot("removal", "messages").await;
    // A second app on the same Page shows when the person's message was delivered.
    let witness_app = server.app("witness").await;
    server.go_live(&witness_app).await;
    let witness_token = server.grant(&removed.page, &witness_app, &removed.admin).await;
    let witness = switchboard_testkit::WebhookReceiver::start(&witness_app.secret).await;
    server.subscribe(&witness_app, &witness, "messages").await;
    server.install(&witness_token, &removed.page, "messages").await;

    let admin_session = session(&server, &removed.admin).await;
    let path = format!("/pages/{}/apps/{}", removed.page.id, removed.app.id);
    let (status, body) = as_person(&server, &admin_session, Method::DELETE, &path, Value::Null).await;
    assert_eq!((status, &body), (200, &json!({"success": true})));
    assert!(!token_works(&server, &removed.page_token).await);
    let (status, _) = as_person(&server, &admin_session, Method::DELETE, &path, Value::Null).await;
    assert_eq!(status, 400, "removed already");

    let person = server.person("writer").await;
    let client = server.sign_in(&person).await;
    client.send("removal", "is anyone there?").await;
    witness.wait_for("the message, at the app still installed", |e| e["message"]["text"] == "is anyone there?").await;
    assert!(removed.receiver.posts().is_empty(), "the removed app received nothing");

    // Someone who is not an admin of the Page cannot remove apps from it.
    let stranger = server.person("stranger").await;
    let stranger_session = session(&server, &stranger).await;
    let (status, body) =
        as_person(&server, &stranger_session, Method::DELETE, &format!("/pages/{}/apps/{}", removed.page.id, witness_app.id), Value::Null).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!(200)));
}

#[tokio::test]
async fn a_secret_reset_ends_every_token_of_the_app() {
    let server = TestServer::start().await;
    let bot = server.bot("reset", "messages").await;
    let (_, user) = server.console_as(&server.operator.clone(), Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": bot.admin.id})).await;
    let user_token = user["access_token"].as_str().unwrap().to_string();
    assert!(token_works(&server, &user_token).await && token_works(&server, &bot.page_token).await);

    let reset = server.console(Method::PATCH, &format!("/apps/{}", bot.app.id), json!({"reset_secret": true})).await;
    let new_secret = reset["secret"].as_str().unwrap();
    assert_ne!(new_secret, bot.app.secret);
    assert!(!token_works(&server, &user_token).await, "the user token ended");
    assert!(!token_works(&server, &bot.page_token).await, "the Page token ended");
    let subscriptions = format!("/{}/subscriptions", bot.app.id);
    let (status, _) = server.graph_call(Method::GET, &subscriptions, Some(&format!("{}|{}", bot.app.id, bot.app.secret)), None).await;
    assert_eq!(status, 400, "the old app token ended");
    let (status, _) = server.graph_call(Method::GET, &subscriptions, Some(&format!("{}|{new_secret}", bot.app.id)), None).await;
    assert_eq!(status, 200);

    // Logging in again leads to a new Page token that works.
    let (_, user) = server.console_as(&server.operator.clone(), Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": bot.admin.id})).await;
    let (status, accounts) = server.graph_call(Method::GET, "/me/accounts", user["access_token"].as_str(), None).await;
    assert_eq!(status, 200, "{accounts}");
    let renewed = accounts["data"][0]["access_token"].as_str().unwrap();
    assert_ne!(renewed, bot.page_token);
    assert!(token_works(&server, renewed).await);
}

#[tokio::test]
async fn a_page_keeps_at_least_one_admin() {
    let server = TestServer::start().await;
    let owner = server.person("owner").await;
    let owner_session = session(&server, &owner).await;
    let (_, page) = as_person(&server, &owner_session, Method::POST, "/pages", json!({"name": "Only me", "username": "only-me"})).await;
    let roles = format!("/pages/{}/roles", page["id"].as_str().unwrap());
    let (status, body) = as_person(&server, &owner_session, Method::POST, &roles, json!({"person_id": owner.id, "role": null})).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at least one admin"), "{body}");
    let helper = server.person("helper").await;
    let (status, _) = as_person(&server, &owner_session, Method::POST, &roles, json!({"person_id": helper.id, "role": "admin"})).await;
    assert_eq!(status, 200);
    let (status, _) = as_person(&server, &owner_session, Method::POST, &roles, json!({"person_id": owner.id, "role": null})).await;
    assert_eq!(status, 200, "with another admin, the owner may leave");
}

#[tokio::test]
async fn one_person_creates_at_most_their_quota_of_apps_and_pages() {
    let server = TestServer::start_with(|settings| {
        settings.quotas.apps_per_person = 2;
        settings.quotas.pages_per_person = 2;
        settings.quotas.apps_per_page = 2;
    })
    .await;
    let eve = server.person("eve").await;
    let eve_session = session(&server, &eve).await;
    let mut apps = Vec::new();
    for n in 0..2 {
        let (status, app) = as_person(&server, &eve_session, Method::POST, "/apps", json!({"name": format!("App {n}")})).await;
        assert_eq!(status, 200, "{app}");
        apps.push(app["id"].as_str().unwrap().to_string());
    }
    let (status, body) = as_person(&server, &eve_session, Method::POST, "/apps", json!({"name": "One too many"})).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Quota exceeded"), "{body}");

    let mut pages = Vec::new();
    for n in 0..2 {
        let (status, page) = as_person(&server, &eve_session, Method::POST, "/pages", json!({"name": "P", "username": format!("eve-page-{n}")})).await;
        assert_eq!(status, 200, "{page}");
        pages.push(page["id"].as_str().unwrap().to_string());
    }
    let (status, body) = as_person(&server, &eve_session, Method::POST, "/pages", json!({"name": "P", "username": "eve-page-3"})).await;
    assert_eq!(status, 400, "{body}");

    // The operator is not bound; a Page takes at most its quota of apps from a person.
    let third = server.app("operator's").await;
    server.go_live(&third).await;
    for app in &apps {
        let (status, body) = as_person(&server, &eve_session, Method::POST, &format!("/pages/{}/apps", pages[0]), json!({"app_id": app})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = as_person(&server, &eve_session, Method::POST, &format!("/pages/{}/apps", pages[0]), json!({"app_id": third.id})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = as_person(&server, &eve_session, Method::POST, &format!("/pages/{}/apps", pages[0]), json!({"app_id": apps[0]})).await;
    assert_eq!(status, 200, "granting an installed app again is no new app");
}
