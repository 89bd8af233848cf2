//! Tokens, nodes and webhook subscriptions on the Graph API.

use reqwest::Method;
use serde_json::json;
use switchboard_testkit::{TestServer, WebhookReceiver};

#[tokio::test]
async fn app_user_and_page_tokens() {
    let server = TestServer::start().await;
    let dana = server.person("dana").await;
    let page = server.page(&dana, "bakery").await;
    let app = server.app("bakery bot").await;

    // client_credentials gives an app token that works on app edges.
    let url = format!("{}/oauth/access_token", server.graph());
    let answer: serde_json::Value = server
        .http
        .get(&url)
        .query(&[("client_id", app.id.as_str()), ("client_secret", app.secret.as_str()), ("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["token_type"], "bearer");
    let app_token = answer["access_token"].as_str().unwrap().to_string();
    assert!(app_token.starts_with(&format!("{}|", app.id)));
    assert!(!app_token.contains(&app.secret), "the derived app token does not reveal the secret");
    let (status, _) = server.graph_call(Method::GET, &format!("/{}/subscriptions", app.id), Some(&app_token), None).await;
    assert_eq!(status, 200);
    let response = server.http.get(&url).query(&[("client_id", app.id.as_str()), ("client_secret", "wrong"), ("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(response.status(), 400);

    // A user token (login) sees no Page until the admin grants it to the app.
    let user = server.console(Method::POST, &format!("/apps/{}/user-tokens", app.id), json!({"person_id": dana.id})).await;
    let user_token = user["access_token"].as_str().unwrap().to_string();
    let (_, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    assert_eq!(accounts["data"], json!([]));
    server.grant(&page, &app, &dana).await;
    let (status, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    assert_eq!(status, 200, "{accounts}");
    assert_eq!(accounts["data"][0]["id"], page.id);
    assert!(accounts["data"][0]["tasks"].as_array().unwrap().contains(&json!("MESSAGING")));
    let page_token = accounts["data"][0]["access_token"].as_str().unwrap().to_string();

    // /me is the Page for a Page token, the person (by app-scoped id) for a user token.
    let (_, me) = server.graph_call(Method::GET, "/me", Some(&page_token), None).await;
    assert_eq!(me, json!({"name": "Page bakery", "id": page.id}));
    // Some SDKs send GET with a JSON content type and an empty body.
    let response = server.http.get(format!("{}/me", server.graph())).bearer_auth(&page_token).header("Content-Type", "application/json").body("").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (_, me) = server.graph_call(Method::GET, "/me?fields=id,name", Some(&user_token), None).await;
    assert_eq!(me["name"], "Dana Tester");
    let (_, again) = server.graph_call(Method::GET, "/me", Some(&user_token), None).await;
    assert_eq!(me["id"], again["id"], "the app-scoped id is stable");
    let (status, page_node) = server.graph_call(Method::GET, &format!("/{}?fields=name,username", page.id), Some(&app_token), None).await;
    assert_eq!((status, page_node), (200, json!({"name": "Page bakery", "username": "bakery", "id": page.id})));
    let (status, missing) = server.graph_call(Method::GET, "/4242424242424242", Some(&page_token), None).await;
    assert_eq!((status, missing["error"]["code"].clone(), missing["error"]["error_subcode"].clone()), (400, json!(100), json!(33)));
    let (status, bad_field) = server.graph_call(Method::GET, "/me?fields=shoe_size", Some(&page_token), None).await;
    assert_eq!((status, bad_field["error"]["code"].clone()), (400, json!(100)));

    // A long-lived token for a short-lived one.
    let response = server
        .http
        .get(&url)
        .query(&[("client_id", app.id.as_str()), ("client_secret", app.secret.as_str()), ("grant_type", "fb_exchange_token"), ("fb_exchange_token", user_token.as_str())])
        .send()
        .await
        .unwrap();
    let long_lived: serde_json::Value = response.json().await.unwrap();
    assert!(long_lived["expires_in"].as_i64().unwrap() > 50 * 24 * 3600);
    let (status, _) = server.graph_call(Method::GET, "/me/accounts", long_lived["access_token"].as_str(), None).await;
    assert_eq!(status, 200);

    // Removing the admin's role kills the Page token (a Page keeps another admin).
    let erin = server.person("erin").await;
    server.console(Method::POST, &format!("/pages/{}/roles", page.id), json!({"person_id": erin.id, "role": "admin"})).await;
    server.console(Method::POST, &format!("/pages/{}/roles", page.id), json!({"person_id": dana.id, "role": null})).await;
    let (status, refused) = server.graph_call(Method::GET, "/me", Some(&page_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(190)));
}

#[tokio::test]
async fn webhook_subscription_runs_the_handshake() {
    let server = TestServer::start().await;
    let app = server.app("bot").await;
    let app_token = format!("{}|{}", app.id, app.secret);
    let receiver = WebhookReceiver::start(&app.secret).await;
    let path = format!("/{}/subscriptions", app.id);

    // The handshake sends hub.mode, hub.verify_token and hub.challenge.
    let query = [
        ("object", "page"),
        ("callback_url", receiver.url.as_str()),
        ("verify_token", receiver.verify_token.as_str()),
        ("fields", "messages, messaging_postbacks"),
        ("access_token", app_token.as_str()),
    ];
    let response = server.http.post(format!("{}{path}", server.graph())).query(&query).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let handshake = receiver.handshakes().pop().unwrap();
    assert_eq!(handshake["hub.mode"], "subscribe");
    assert_eq!(handshake["hub.verify_token"], receiver.verify_token);
    assert!(handshake["hub.challenge"].parse::<u64>().is_ok());

    // Posting again adds fields; GET shows them with their version.
    let body = json!({"object": "page", "callback_url": receiver.url, "verify_token": receiver.verify_token, "fields": ["message_echoes"]});
    let (status, _) = server.graph_call(Method::POST, &path, Some(&app_token), Some(body)).await;
    assert_eq!(status, 200);
    let (_, subscriptions) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    let fields: Vec<&str> = subscriptions["data"][0]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["messages", "message_echoes", "messaging_postbacks"]);
    assert_eq!(subscriptions["data"][0]["fields"][0]["version"], "v21.0");
    assert_eq!(subscriptions["data"][0]["callback_url"], receiver.url);
    assert_eq!(subscriptions["data"][0]["active"], true);

    // A wrong verify token, a wrong challenge or an unreachable URL fail with 2200 and change nothing.
    let bad_token = json!({"object": "page", "callback_url": receiver.url, "verify_token": "nope", "fields": "messages"});
    let (status, answer) = server.graph_call(Method::POST, &path, Some(&app_token), Some(bad_token)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!(2200)), "{answer}");
    receiver.answer_handshake_with(Some("something else"));
    let wrong_body = json!({"object": "page", "callback_url": receiver.url, "verify_token": receiver.verify_token, "fields": "message_reads"});
    let (status, answer) = server.graph_call(Method::POST, &path, Some(&app_token), Some(wrong_body)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!(2200)), "{answer}");
    let unreachable = json!({"object": "page", "callback_url": "http://127.0.0.1:9/hook", "verify_token": "x", "fields": "messages"});
    let (status, answer) = server.graph_call(Method::POST, &path, Some(&app_token), Some(unreachable)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!(2200)));
    let (_, unchanged) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(unchanged, subscriptions);

    // Bad parameters.
    for body in [
        json!({"object": "user", "callback_url": receiver.url, "fields": "messages"}),
        json!({"object": "page", "callback_url": "ftp://x", "fields": "messages"}),
        json!({"object": "page", "callback_url": receiver.url, "fields": "mesages"}),
        json!({"object": "page", "callback_url": receiver.url}),
    ] {
        let (status, answer) = server.graph_call(Method::POST, &path, Some(&app_token), Some(body)).await;
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!(100)), "{answer}");
    }
    // Only the app's own app token may touch its subscriptions.
    let other = server.app("other").await;
    let (status, answer) = server.graph_call(Method::GET, &path, Some(&format!("{}|{}", other.id, other.secret)), None).await;
    assert_eq!((status, answer["error"]["code"].clone()), (403, json!(200)));

    // DELETE with fields removes those; without, the whole webhook.
    let (status, _) = server.graph_call(Method::DELETE, &format!("{path}?object=page&fields=messages"), Some(&app_token), None).await;
    assert_eq!(status, 200);
    let (_, remaining) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(remaining["data"][0]["fields"].as_array().unwrap().len(), 2);
    let (status, _) = server.graph_call(Method::DELETE, &path, Some(&app_token), None).await;
    assert_eq!(status, 200);
    let (_, none) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(none, json!({"data": []}));
}

#[tokio::test]
async fn page_subscribed_apps_decide_who_receives() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let path = format!("/{}/subscribed_apps", bot.page.id);
    let (status, installed) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(installed["data"][0]["id"], bot.app.id);
    assert_eq!(installed["data"][0]["subscribed_fields"], json!(["messages"]));

    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "one").await;
    bot.receiver.wait_for("the first message", |e| e["message"]["text"] == "one").await;

    // The Ruby gem's form: token and an array in the JSON body, on /me.
    let response = server
        .http
        .delete(format!("{}/me/subscribed_apps", server.graph()))
        .json(&json!({"access_token": bot.page_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, installed) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(installed, json!({"data": []}));
    ann.send("shop", "two").await;

    let response = server
        .http
        .post(format!("{}/me/subscribed_apps", server.graph()))
        .json(&json!({"access_token": bot.page_token, "subscribed_fields": ["messages", "message_reads"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, installed) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(installed["data"][0]["subscribed_fields"], json!(["messages", "message_reads"]));
    ann.send("shop", "three").await;
    bot.receiver.wait_for("the message after reinstalling", |e| e["message"]["text"] == "three").await;
    // "three" comes after "two" in the thread: had "two" been queued for the app, it
    // would have arrived first.
    assert!(bot.receiver.acknowledged_events().iter().all(|e| e["message"]["text"] != "two"), "an uninstalled app receives nothing");
}
