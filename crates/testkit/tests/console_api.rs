//! The console's listings over HTTP: who is signed in, apps and Pages by role, members
//! and test users, a Page's overview, delivery statistics, and the person's Page search
//! with development mode's visibility rule.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{TestServer, WebhookReceiver};

async fn signed_in(server: &TestServer, login: &str) -> String {
    let person = server.person(login).await;
    server.sign_in(&person).await.token.clone()
}

#[tokio::test]
async fn the_console_lists_what_each_person_may_see() {
    let server = TestServer::start().await;
    let (status, me) = server.console_as(&server.operator, Method::GET, "/me", Value::Null).await;
    assert_eq!((status.as_u16(), me), (200, json!({"operator": true, "person": null})));

    let ann = signed_in(&server, "ann").await;
    let (_, me) = server.console_as(&ann, Method::GET, "/me", Value::Null).await;
    assert_eq!(me["person"]["login"], "ann");
    let (_, app) = server.console_as(&ann, Method::POST, "/apps", json!({"name": "Ann's bot"})).await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let (_, page) = server.console_as(&ann, Method::POST, "/pages", json!({"name": "Ann's Hats", "username": "annhats"})).await;
    let page_id = page["id"].as_str().unwrap().to_string();
    let bob = signed_in(&server, "bob").await;

    let (_, apps) = server.console_as(&ann, Method::GET, "/apps", Value::Null).await;
    assert_eq!(apps, json!({"data": [{"id": app_id, "name": "Ann's bot", "mode": "development", "role": "administrator", "policy": "clear"}]}));
    let (_, none) = server.console_as(&bob, Method::GET, "/apps", Value::Null).await;
    assert_eq!(none, json!({"data": []}), "Bob holds no role");
    let (_, all) = server.console_as(&server.operator, Method::GET, "/apps", Value::Null).await;
    assert_eq!(all["data"][0]["role"], Value::Null, "the operator sees every app");

    // Roles by login; test users.
    let (status, _) = server.console_as(&ann, Method::POST, &format!("/apps/{app_id}/roles"), json!({"login": "bob", "role": "developer"})).await;
    assert_eq!(status.as_u16(), 200);
    let (status, missing) = server.console_as(&ann, Method::POST, &format!("/apps/{app_id}/roles"), json!({"login": "nobody", "role": "tester"})).await;
    assert_eq!(status.as_u16(), 400, "{missing}");
    let (_, tester) = server.console_as(&ann, Method::POST, &format!("/apps/{app_id}/test-users"), json!({"name": "Tess Tester"})).await;
    assert_eq!(tester["role"], "tester");
    let login = tester["person"]["login"].as_str().unwrap().to_string();
    let signed = server.http.post(format!("{}/person/v1/login", server.url)).json(&json!({"login": login, "password": tester["password"]})).send().await.unwrap();
    assert_eq!(signed.status(), 200, "a test user signs in with the password shown once");
    let (_, roles) = server.console_as(&bob, Method::GET, &format!("/apps/{app_id}/roles"), Value::Null).await;
    let roles: Vec<(String, String)> = roles["data"].as_array().unwrap().iter().map(|r| (r["person"]["login"].as_str().unwrap().into(), r["role"].as_str().unwrap().into())).collect();
    assert_eq!(roles, vec![("ann".into(), "administrator".into()), ("bob".into(), "developer".into()), (login.clone(), "tester".into())]);
    let (status, _) = server.console_as(&bob, Method::POST, &format!("/apps/{app_id}/test-users"), json!({})).await;
    assert_eq!(status.as_u16(), 403, "a developer cannot create test users");

    // Pages: mine, and the overview with the installed app's fields.
    let (_, pages) = server.console_as(&ann, Method::GET, "/pages", Value::Null).await;
    assert_eq!(pages, json!({"data": [{"id": page_id, "name": "Ann's Hats", "username": "annhats"}]}));
    let (_, granted) = server.console_as(&ann, Method::POST, &format!("/pages/{page_id}/apps"), json!({"app_id": app_id})).await;
    let token = granted["access_token"].as_str().unwrap();
    let (status, _) = server.graph_call(Method::POST, &format!("/{page_id}/subscribed_apps"), Some(token), Some(json!({"subscribed_fields": "messages,messaging_postbacks"}))).await;
    assert_eq!(status, 200);
    let (status, _) = server.console_as(&ann, Method::POST, &format!("/pages/{page_id}/roles"), json!({"login": "bob", "role": "admin"})).await;
    assert_eq!(status.as_u16(), 200);
    let (_, overview) = server.console_as(&bob, Method::GET, &format!("/pages/{page_id}"), Value::Null).await;
    assert_eq!(overview["apps"], json!([{"id": app_id, "name": "Ann's bot", "mode": "development", "fields": ["messages", "messaging_postbacks"]}]));
    let admins: Vec<&str> = overview["admins"].as_array().unwrap().iter().map(|a| a["login"].as_str().unwrap()).collect();
    assert_eq!(admins, vec!["ann", "bob"]);
    let (status, _) = server.console_as(&signed_in(&server, "carl").await, Method::GET, &format!("/pages/{page_id}"), Value::Null).await;
    assert_eq!(status.as_u16(), 403);
}

#[tokio::test]
async fn delivery_statistics_fill_every_bucket() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    for n in 0..3 {
        ann.send("shop", &format!("hello {n}")).await;
    }
    bot.receiver.wait_for("the last message", |e| e["message"]["text"] == "hello 2").await;
    let now = server.platform().now();
    let path = format!("/apps/{}/webhook/stats?from={}&to={}&bucket_ms=60000", bot.app.id, now - 180_000, now + 60_000);
    let stats = switchboard_testkit::eventually("the deliveries to be counted", || {
        let path = path.clone();
        let server = &server;
        async move {
            let (_, stats) = server.console_as(&server.operator, Method::GET, &path, Value::Null).await;
            let delivered: u64 = stats["buckets"].as_array()?.iter().map(|b| b["delivered"].as_u64().unwrap_or(0)).sum();
            (delivered == 3).then_some(stats)
        }
    })
    .await;
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 4, "every minute of the window: {stats}");
    assert_eq!(buckets[0], json!({"start": now - 180_000, "delivered": 0, "failed": 0, "latency_avg_ms": 0, "latency_max_ms": 0}));
    assert!(buckets.iter().all(|b| b["latency_max_ms"].as_i64().unwrap() < 10_000));
    let (_, defaults) = server.console_as(&server.operator, Method::GET, &format!("/apps/{}/webhook/stats", bot.app.id), Value::Null).await;
    assert_eq!(defaults["buckets"].as_array().unwrap().len(), 180, "3 hours by minute");
    let (status, _) = server.console_as(&server.operator, Method::GET, &format!("/apps/{}/webhook/stats?bucket_ms=10", bot.app.id), Value::Null).await;
    assert_eq!(status.as_u16(), 400);
}

#[tokio::test]
async fn pages_whose_apps_are_in_development_show_only_to_their_people() {
    let server = TestServer::start().await;
    let live = server.bot("hats", "messages").await;
    // A second Page whose only app stays in development mode.
    let admin = server.person("dev-admin").await;
    let page = server.page(&admin, "hatlab").await;
    let app = server.app("lab bot").await;
    let token = server.grant(&page, &app, &admin).await;
    let receiver = WebhookReceiver::start(&app.secret).await;
    server.subscribe(&app, &receiver, "messages").await;
    server.install(&token, &page, "messages").await;
    let tester = server.person("tess").await;
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": tester.id, "role": "tester"})).await;

    let search = |person: switchboard_testkit::PersonClient| async move {
        let (status, found) = person.call(Method::GET, "/pages?q=HAT", None).await;
        assert_eq!(status, 200);
        found["data"].as_array().unwrap().iter().map(|p| p["username"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let stranger = server.sign_in(&server.person("ann").await).await;
    assert_eq!(search(stranger).await, vec!["hats"], "a development app's Page is hidden");
    assert_eq!(search(server.sign_in(&tester).await).await, vec!["hatlab", "hats"], "a tester finds it");
    assert_eq!(search(server.sign_in(&admin).await).await, vec!["hatlab", "hats"], "so does its admin");
    server.console(Method::PATCH, &format!("/apps/{}", app.id), json!({"mode": "live"})).await;
    assert_eq!(search(server.sign_in(&server.person("bea").await).await).await, vec!["hatlab", "hats"], "live: everyone");
    let _ = live;
}
