//! Apps join Pages as on Meta (reference §2): the login dialog and its code, the
//! permissions a token carries and their withdrawal, App Review, `debug_token`, test
//! users through the Graph API, and the Graph conventions SDKs rely on. Everything
//! through HTTP on a real socket.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{percent_encode, PersonClient, TestApp, TestPage, TestPerson, TestServer, WebhookReceiver};

const HOUR_MS: i64 = 3_600_000;
const CALLBACK: &str = "https://bot.example/installed";

/// An app with a registered redirect URI, and a person who administers two Pages.
struct Setup {
    app: TestApp,
    admin: TestPerson,
    session: PersonClient,
    shop: TestPage,
    cafe: TestPage,
}

async fn setup(server: &TestServer) -> Setup {
    let admin = server.person("ann").await;
    let shop = server.page(&admin, "shop").await;
    let cafe = server.page(&admin, "cafe").await;
    let app = server.app("Installer").await;
    // Ann develops the app too: in development mode only role holders may log in.
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": admin.id, "role": "developer"})).await;
    let set = server.console(Method::PUT, &format!("/apps/{}/redirect-uris", app.id), json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!(set["redirect_uris"], json!([CALLBACK]), "{set}");
    let session = server.sign_in(&admin).await;
    Setup { app, admin, session, shop, cafe }
}

fn dialog_query(app: &TestApp, redirect_uri: &str, scope: &str) -> String {
    format!("client_id={}&redirect_uri={}&scope={}", app.id, percent_encode(redirect_uri), percent_encode(scope))
}

/// The person answers the dialog; answers the redirect URL's query as pairs.
async fn answer(session: &PersonClient, app: &TestApp, body: Value) -> (u16, Value, Vec<(String, String)>) {
    let mut full = json!({"client_id": app.id, "redirect_uri": CALLBACK, "scope": "pages_messaging,pages_show_list,pages_manage_metadata", "state": "xyz"});
    for (key, value) in body.as_object().unwrap() {
        full[key] = value.clone();
    }
    let (status, answer) = session.call(Method::POST, "/login-dialog", Some(full)).await;
    let pairs = answer["redirect"]
        .as_str()
        .and_then(|url| reqwest::Url::parse(url).ok())
        .map(|url| url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    (status, answer, pairs)
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn exchange(server: &TestServer, app: &TestApp, redirect_uri: &str, code: &str) -> (u16, Value) {
    let path = format!(
        "/oauth/access_token?client_id={}&client_secret={}&redirect_uri={}&code={}",
        app.id,
        app.secret,
        percent_encode(redirect_uri),
        percent_encode(code)
    );
    server.graph_call(Method::GET, &path, None, None).await
}

fn error_of(answer: &Value) -> (Value, Value) {
    (answer["error"]["code"].clone(), answer["error"]["error_subcode"].clone())
}

#[tokio::test]
async fn the_login_dialog_grants_chosen_pages_and_its_code_works_once() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let Setup { app, session, shop, cafe, .. } = setup(&server).await;

    // What the dialog shows: the app, the permissions asked, Ann's two Pages.
    let (status, dialog) = session.call(Method::GET, &format!("/login-dialog?{}", dialog_query(&app, CALLBACK, "pages_messaging,pages_show_list")), None).await;
    assert_eq!(status, 200, "{dialog}");
    assert_eq!(dialog["app"]["name"], "Installer");
    let asked: Vec<&str> = dialog["permissions"].as_array().unwrap().iter().map(|p| p["permission"].as_str().unwrap()).collect();
    assert_eq!(asked, ["public_profile", "pages_messaging", "pages_show_list"]);
    assert_eq!(dialog["pages"].as_array().unwrap().len(), 2);

    // A redirect URI the app did not register, or a scope that does not exist.
    let (status, refused) = session.call(Method::GET, &format!("/login-dialog?{}", dialog_query(&app, "https://evil.example/cb", "pages_messaging")), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(191)), "{refused}");
    let (status, refused) = session.call(Method::GET, &format!("/login-dialog?{}", dialog_query(&app, CALLBACK, "read_mailbox")), None).await;
    assert_eq!(status, 400);
    assert!(refused["error"]["message"].as_str().unwrap().contains("Invalid Scopes: read_mailbox"), "{refused}");

    // Ann declines pages_manage_metadata and picks one Page.
    let (status, body, pairs) = answer(&session, &app, json!({"allow": true, "permissions": ["pages_messaging", "pages_show_list"], "pages": [shop.id]})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["redirect"].as_str().unwrap().starts_with(CALLBACK));
    assert_eq!(param(&pairs, "state"), Some("xyz"));
    let code = param(&pairs, "code").expect("a code").to_string();

    // The code, with another redirect URI, is refused; with the dialog's, it is
    // exchanged once for a short-lived user token.
    let (status, mismatch) = exchange(&server, &app, "https://bot.example/other", &code).await;
    assert_eq!((status, error_of(&mismatch)), (400, (json!(100), json!(36008))), "{mismatch}");
    // A refused exchange spent the code all the same: a code is tried once.
    let (status, used) = exchange(&server, &app, CALLBACK, &code).await;
    assert_eq!((status, error_of(&used)), (400, (json!(100), json!(36009))), "a code works once: {used}");

    let (_, _, pairs) = answer(&session, &app, json!({"allow": true, "permissions": ["pages_messaging", "pages_show_list"], "pages": [shop.id]})).await;
    let code = param(&pairs, "code").unwrap().to_string();
    let wrong_secret = format!("/oauth/access_token?client_id={}&client_secret=nope&redirect_uri={}&code={}", app.id, percent_encode(CALLBACK), code);
    let (status, _) = server.graph_call(Method::GET, &wrong_secret, None, None).await;
    assert_eq!(status, 400);
    let (status, token) = exchange(&server, &app, CALLBACK, &code).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], json!(2 * 3600));
    let user_token = token["access_token"].as_str().unwrap().to_string();
    let (status, again) = exchange(&server, &app, CALLBACK, &code).await;
    assert_eq!((status, error_of(&again)), (400, (json!(100), json!(36009))));

    // Exactly the chosen Page, with its Page token and tasks.
    let (status, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    assert_eq!(status, 200, "{accounts}");
    let pages: Vec<&str> = accounts["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(pages, [shop.id.as_str()], "the cafe was not chosen");
    assert!(accounts["data"][0]["tasks"].as_array().unwrap().contains(&json!("MESSAGING")));
    let page_token = accounts["data"][0]["access_token"].as_str().unwrap().to_string();
    let (status, node) = server.graph_call(Method::GET, &format!("/{}?fields=access_token,name", shop.id), Some(&user_token), None).await;
    assert_eq!((status, node["access_token"].as_str()), (200, Some(page_token.as_str())), "{node}");
    let (status, _) = server.graph_call(Method::GET, &format!("/{}?fields=access_token", cafe.id), Some(&user_token), None).await;
    assert_eq!(status, 400, "no Page token for a Page not granted");

    // Granted and declined permissions; the declined one is refused with its name.
    let (_, permissions) = server.graph_call(Method::GET, "/me/permissions", Some(&user_token), None).await;
    let statuses: Vec<(String, String)> = permissions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["permission"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
        .collect();
    for expected in [("public_profile", "granted"), ("pages_messaging", "granted"), ("pages_show_list", "granted"), ("pages_manage_metadata", "declined")] {
        assert!(statuses.contains(&(expected.0.into(), expected.1.into())), "{expected:?} in {statuses:?}");
    }
    let (status, refused) = server.graph_call(Method::POST, "/me/subscribed_apps", Some(&page_token), Some(json!({"subscribed_fields": "messages"}))).await;
    assert_eq!((status, refused["error"]["code"].clone()), (403, json!(200)), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("pages_manage_metadata"));

    // A code lives ten minutes on the (virtual) clock.
    let (_, _, pairs) = answer(&session, &app, json!({"allow": true, "pages": [shop.id]})).await;
    let code = param(&pairs, "code").unwrap().to_string();
    server.console(Method::POST, "/clock", json!({"advance_ms": 11 * 60_000})).await;
    let (status, expired) = exchange(&server, &app, CALLBACK, &code).await;
    assert_eq!((status, error_of(&expired)), (400, (json!(100), json!(36007))), "{expired}");
    // So does a short-lived user token: two hours.
    server.console(Method::POST, "/clock", json!({"advance_ms": 2 * HOUR_MS})).await;
    let (status, expired) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    assert_eq!((status, error_of(&expired)), (400, (json!(190), json!(463))), "{expired}");

    // Cancelling sends Meta's access_denied back, with the state.
    let (status, _, pairs) = answer(&session, &app, json!({"allow": false})).await;
    assert_eq!(status, 200);
    assert_eq!((param(&pairs, "error"), param(&pairs, "error_reason"), param(&pairs, "state")), (Some("access_denied"), Some("user_denied"), Some("xyz")));
    assert_eq!(param(&pairs, "code"), None);
}

#[tokio::test]
async fn development_apps_log_in_role_holders_only() {
    let server = TestServer::start().await;
    let Setup { app, .. } = setup(&server).await;
    let bob = server.person("bob").await;
    let bob_session = server.sign_in(&bob).await;
    let (status, refused) = bob_session.call(Method::GET, &format!("/login-dialog?{}", dialog_query(&app, CALLBACK, "pages_messaging")), None).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("development mode"), "{refused}");

    // Live, a person without a role may log in, but only to what review approved.
    server.console(Method::POST, &format!("/apps/{}/review", app.id), json!({"permissions": ["pages_messaging"], "note": "We answer customers"})).await;
    server.console(Method::POST, &format!("/apps/{}/review/pages_messaging", app.id), json!({"approve": true})).await;
    server.console(Method::PATCH, &format!("/apps/{}", app.id), json!({"mode": "live"})).await;
    let (status, dialog) = bob_session.call(Method::GET, &format!("/login-dialog?{}", dialog_query(&app, CALLBACK, "pages_messaging,pages_show_list")), None).await;
    assert_eq!(status, 200, "{dialog}");
    let available: Vec<(&str, bool)> =
        dialog["permissions"].as_array().unwrap().iter().map(|p| (p["permission"].as_str().unwrap(), p["available"].as_bool().unwrap())).collect();
    assert_eq!(available, [("public_profile", true), ("pages_messaging", true), ("pages_show_list", false)]);
}

#[tokio::test]
async fn review_decides_who_a_live_app_reaches_and_the_human_agent_tag() {
    let server = TestServer::start().await;
    // A bot set up in development mode, then taken live without any review.
    let admin = server.person("owner").await;
    let page = server.page(&admin, "shop").await;
    let app = server.app("Unreviewed").await;
    let developer = server.person("dev").await;
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": developer.id, "role": "developer"})).await;
    let token = server.grant(&page, &app, &admin).await;
    let receiver = WebhookReceiver::start(&app.secret).await;
    server.subscribe(&app, &receiver, "messages").await;
    server.install(&token, &page, "messages").await;
    server.console(Method::PATCH, &format!("/apps/{}", app.id), json!({"mode": "live"})).await;

    let ann = server.person("ann").await;
    server.sign_in(&ann).await.send("shop", "hello").await;
    let psid = receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    let send = |token: String, tag: Option<&'static str>| {
        let server = &server;
        let psid = psid.clone();
        async move {
            let mut body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "hi"}});
            if let Some(tag) = tag {
                body["messaging_type"] = json!("MESSAGE_TAG");
                body["tag"] = json!(tag);
            }
            server.graph_call(Method::POST, "/me/messages", Some(&token), Some(body)).await
        }
    };
    // Live without review: the admin's grant carries no permission review approved.
    let (status, refused) = send(token.clone(), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (403, json!(230)), "{refused}");

    // The developer submits; the dashboard shows it pending; the operator decides.
    let dev = server.sign_in(&developer).await;
    let console = |method: Method, path: String, body: Value| {
        let token = dev.token.clone();
        let server = &server;
        async move { server.console_as(&token, method, &path, body).await }
    };
    let (status, submitted) = console(Method::POST, format!("/apps/{}/review", app.id), json!({"permissions": ["pages_messaging", "human_agent"], "note": "Customer care"})).await;
    assert_eq!(status, 200, "{submitted}");
    let state = |states: &Value, permission: &str| states["permissions"].as_array().unwrap().iter().find(|p| p["permission"] == permission).unwrap().clone();
    assert_eq!(state(&submitted, "pages_messaging")["status"], "pending");
    assert_eq!(state(&submitted, "pages_show_list")["status"], "standard");
    let (status, _) = console(Method::POST, format!("/apps/{}/review/pages_messaging", app.id), json!({"approve": true})).await;
    assert_eq!(status.as_u16(), 403, "only the operator decides");
    let pending = server.console(Method::GET, "/reviews", json!({})).await;
    assert_eq!(pending["data"][0]["app"]["id"], json!(app.id));
    server.console(Method::POST, &format!("/apps/{}/review/pages_messaging", app.id), json!({"approve": true})).await;
    let (status, refused) = server.console_as(&server.operator, Method::POST, &format!("/apps/{}/review/human_agent", app.id), json!({"approve": false})).await;
    assert_eq!(status.as_u16(), 400, "a decline says why: {refused}");
    server.console(Method::POST, &format!("/apps/{}/review/human_agent", app.id), json!({"approve": false, "reason": "Show the agent handoff"})).await;
    let (_, states) = console(Method::GET, format!("/apps/{}/review", app.id), json!({})).await;
    assert_eq!(state(&states, "pages_messaging")["status"], "approved");
    assert_eq!((state(&states, "human_agent")["status"].clone(), state(&states, "human_agent")["reason"].clone()), (json!("declined"), json!("Show the agent handoff")));

    // The same token now reaches Ann, but not with HUMAN_AGENT.
    let (status, sent) = send(token.clone(), None).await;
    assert_eq!(status, 200, "{sent}");
    let (status, refused) = send(token.clone(), Some("HUMAN_AGENT")).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(10)), "{refused}");
    // A role holder is reached with it all the same (standard access).
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": ann.id, "role": "tester"})).await;
    assert_eq!(send(token, Some("HUMAN_AGENT")).await.0, 200);
}

#[tokio::test]
async fn debug_token_inspects_tokens_of_the_app_valid_or_not() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let Setup { app, admin, session, shop, .. } = setup(&server).await;
    let app_token = format!("{}|{}", app.id, app.secret);
    let (_, _, pairs) = answer(&session, &app, json!({"allow": true, "pages": [shop.id]})).await;
    let (_, token) = exchange(&server, &app, CALLBACK, param(&pairs, "code").unwrap()).await;
    let user_token = token["access_token"].as_str().unwrap().to_string();
    let (_, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    let page_token = accounts["data"][0]["access_token"].as_str().unwrap().to_string();
    let debug = |input: String, token: String| {
        let server = &server;
        async move { server.graph_call(Method::GET, &format!("/debug_token?input_token={}", percent_encode(&input)), Some(&token), None).await }
    };

    let (status, user) = debug(user_token.clone(), app_token.clone()).await;
    assert_eq!(status, 200, "{user}");
    let data = &user["data"];
    assert_eq!((data["type"].clone(), data["app_id"].clone(), data["application"].clone(), data["is_valid"].clone()), (json!("USER"), json!(app.id), json!("Installer"), json!(true)));
    let issued = data["issued_at"].as_i64().unwrap();
    assert_eq!(data["expires_at"].as_i64().unwrap() - issued, 2 * 3600, "short-lived: two hours");
    assert!(data["data_access_expires_at"].as_i64().unwrap() > issued);
    let scopes: Vec<&str> = data["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(scopes.contains(&"pages_messaging") && scopes.contains(&"public_profile"), "{scopes:?}");
    let granular = data["granular_scopes"].as_array().unwrap().iter().find(|g| g["scope"] == "pages_messaging").unwrap();
    assert_eq!(granular["target_ids"], json!([shop.id]));
    let (_, me) = server.graph_call(Method::GET, "/me", Some(&user_token), None).await;
    assert_eq!(data["user_id"], me["id"], "the app-scoped id");

    let (_, page) = debug(page_token.clone(), app_token.clone()).await;
    assert_eq!((page["data"]["type"].clone(), page["data"]["profile_id"].clone(), page["data"]["expires_at"].clone()), (json!("PAGE"), json!(shop.id), json!(0)));
    let (_, own) = debug(app_token.clone(), app_token.clone()).await;
    assert_eq!((own["data"]["type"].clone(), own["data"]["is_valid"].clone()), (json!("APP"), json!(true)));

    // A developer's user token may inspect too; a Page token may not.
    let (status, _) = debug(page_token.clone(), user_token.clone()).await;
    assert_eq!(status, 200, "Ann develops the app");
    let (status, _) = debug(user_token.clone(), page_token.clone()).await;
    assert_eq!(status, 400);

    // Invalid and expired tokens answer is_valid false, not a failed call.
    let (status, garbage) = debug("EAAnotatoken".into(), app_token.clone()).await;
    assert_eq!((status, garbage["data"]["is_valid"].clone(), garbage["data"]["error"]["code"].clone()), (200, json!(false), json!(190)));
    server.console(Method::POST, "/clock", json!({"advance_ms": 3 * HOUR_MS})).await;
    let (status, expired) = debug(user_token.clone(), app_token.clone()).await;
    assert_eq!(status, 200, "{expired}");
    assert_eq!((expired["data"]["is_valid"].clone(), expired["data"]["error"]["subcode"].clone()), (json!(false), json!(463)), "{expired}");
    // Page tokens do not expire.
    assert_eq!(debug(page_token, app_token.clone()).await.1["data"]["is_valid"], json!(true));

    // Another app's token is not this app's to inspect.
    let other = server.app("Other").await;
    let other_token = format!("{}|{}", other.id, other.secret);
    let (_, foreign) = debug(other_token, app_token).await;
    assert_eq!(foreign["data"]["is_valid"], json!(false));
    let _ = admin;
}

#[tokio::test]
async fn withdrawing_a_permission_or_the_app_ends_what_depended_on_it() {
    let server = TestServer::start().await;
    let Setup { app, session, shop, .. } = setup(&server).await;
    let scope = "pages_messaging,pages_show_list,pages_manage_metadata";
    let (_, _, pairs) = answer(&session, &app, json!({"allow": true, "scope": scope, "pages": [shop.id]})).await;
    let (_, token) = exchange(&server, &app, CALLBACK, param(&pairs, "code").unwrap()).await;
    let user_token = token["access_token"].as_str().unwrap().to_string();
    let (_, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    let page_token = accounts["data"][0]["access_token"].as_str().unwrap().to_string();
    let (status, _) = server.graph_call(Method::GET, "/me/subscribed_apps", Some(&page_token), None).await;
    assert_eq!(status, 200);

    let (status, done) = server.graph_call(Method::DELETE, "/me/permissions/pages_manage_metadata", Some(&user_token), None).await;
    assert_eq!((status, done), (200, json!({"success": true})));
    let (status, refused) = server.graph_call(Method::GET, "/me/subscribed_apps", Some(&page_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (403, json!(200)), "at once: {refused}");
    let (status, _) = server.graph_call(Method::DELETE, "/me/permissions/public_profile", Some(&user_token), None).await;
    assert_eq!(status, 400, "public_profile goes only with the app");

    // Removing the app ends the user token and the Page tokens issued through it.
    let (status, _) = server.graph_call(Method::DELETE, "/me/permissions", Some(&user_token), None).await;
    assert_eq!(status, 200);
    let (status, refused) = server.graph_call(Method::GET, "/me", Some(&user_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(190)));
    let (status, refused) = server.graph_call(Method::GET, "/me", Some(&page_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(190)), "{refused}");
}

#[tokio::test]
async fn test_users_are_made_listed_and_deleted_through_the_graph_api() {
    let server = TestServer::start().await;
    let app = server.app("Tested").await;
    let app_token = format!("{}|{}", app.id, app.secret);
    let path = format!("/{}/accounts/test-users", app.id);
    let body = json!({"installed": true, "permissions": "pages_messaging,pages_show_list,pages_manage_metadata", "name": "Tess Tester"});
    let (status, created) = server.graph_call(Method::POST, &path, Some(&app_token), Some(body)).await;
    assert_eq!(status, 200, "{created}");
    for field in ["id", "access_token", "login_url", "email", "password"] {
        assert!(created[field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {created}");
    }
    let user_token = created["access_token"].as_str().unwrap().to_string();
    let (_, me) = server.graph_call(Method::GET, "/me", Some(&user_token), None).await;
    assert_eq!((me["id"].clone(), me["name"].clone()), (created["id"].clone(), json!("Tess Tester")));

    // Only the app's own token makes them.
    let other = server.app("Other").await;
    let (status, _) = server.graph_call(Method::POST, &path, Some(&format!("{}|{}", other.id, other.secret)), Some(json!({}))).await;
    assert_eq!(status, 403);

    // The test user owns a test Page, and the app may act for it at once.
    let (status, page) = server.graph_call(Method::POST, &format!("/{}/accounts", created["id"].as_str().unwrap()), Some(&user_token), Some(json!({"name": "Tess's Test Page"}))).await;
    assert_eq!(status, 200, "{page}");
    let (_, accounts) = server.graph_call(Method::GET, "/me/accounts", Some(&user_token), None).await;
    assert_eq!(accounts["data"][0]["id"], page["id"], "{accounts}");
    let page_token = accounts["data"][0]["access_token"].as_str().unwrap().to_string();
    let (status, _) = server.graph_call(Method::POST, "/me/subscribed_apps", Some(&page_token), Some(json!({"subscribed_fields": "messages"}))).await;
    assert_eq!(status, 200);

    // They sign in to the web messenger with the e-mail and password they were given.
    let client = PersonClient::sign_in(&server, created["email"].as_str().unwrap(), created["password"].as_str().unwrap()).await;
    let (status, _) = client.call(Method::GET, "/threads", None).await;
    assert_eq!(status, 200);

    let (status, listed) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], created["id"]);
    assert!(listed["data"][0]["access_token"].as_str().is_some(), "installed: a token");

    let id = created["id"].as_str().unwrap();
    let (status, deleted) = server.graph_call(Method::DELETE, &format!("/{id}"), Some(&app_token), None).await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
    let (_, listed) = server.graph_call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(listed["data"], json!([]));
    let (status, _) = server.graph_call(Method::GET, "/me", Some(&user_token), None).await;
    assert_eq!(status, 400, "their tokens end");
    let response = reqwest::Client::new()
        .post(format!("{}/person/v1/login", server.url))
        .json(&json!({"login": created["email"], "password": created["password"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400, "they can no longer sign in");
}

#[tokio::test]
async fn graph_conventions_method_override_app_installs_and_id_matching() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    // `?method=POST` on a GET, as the FAQ writes it.
    let (status, answer) = server
        .graph_call(Method::GET, &format!("/me/subscribed_apps?method=POST&subscribed_fields=messages,messaging_postbacks&access_token={}", bot.page_token), None, None)
        .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, pages) = server.graph_call(Method::GET, &format!("/{}/subscribed_apps", bot.app.id), Some(&app_token), None).await;
    assert_eq!(status, 200, "{pages}");
    assert_eq!(pages["data"][0]["id"], json!(bot.page.id));
    assert_eq!(pages["data"][0]["subscribed_fields"], json!(["messages", "messaging_postbacks"]));

    // One business owns the bot's Page and a second Page; another business a third.
    let ann = server.person("ann").await;
    let ann_client = server.sign_in(&ann).await;
    let second = server.page(&bot.admin, "shop-two").await;
    let foreign = server.bot("elsewhere", "messages").await;
    let business = server.console(Method::POST, "/businesses", json!({"name": "Shops Inc"})).await;
    let other = server.console(Method::POST, "/businesses", json!({"name": "Elsewhere Ltd"})).await;
    for (business, page) in [(&business, &bot.page.id), (&business, &second.id), (&other, &foreign.page.id)] {
        server.console(Method::PUT, &format!("/businesses/{}/pages/{page}", business["id"].as_str().unwrap()), json!({})).await;
    }
    server.console(Method::PUT, &format!("/businesses/{}/apps/{}", business["id"].as_str().unwrap(), bot.app.id), json!({})).await;
    for page in ["shop", "shop-two", "elsewhere"] {
        ann_client.send(page, "hi").await;
    }
    let psid = bot.receiver.wait_for("ann on shop", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();

    // The proof is required for ID matching.
    let (status, refused) = server.graph_call(Method::GET, &format!("/{psid}/ids_for_pages"), Some(&bot.page_token), None).await;
    assert_eq!(status, 400, "{refused}");
    let proof = switchboard_domain::credentials::appsecret_proof(&bot.app.secret, &bot.page_token);
    let (status, ids) = server.graph_call(Method::GET, &format!("/{psid}/ids_for_pages?appsecret_proof={proof}"), Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{ids}");
    let pages: Vec<&str> = ids["data"].as_array().unwrap().iter().map(|i| i["page"]["id"].as_str().unwrap()).collect();
    assert_eq!(pages.len(), 2, "both of the business's Pages, not the other business's: {ids}");
    assert!(pages.contains(&second.id.as_str()) && !pages.contains(&foreign.page.id.as_str()));
    let on_shop = ids["data"].as_array().unwrap().iter().find(|i| i["page"]["id"] == json!(bot.page.id)).unwrap();
    assert_eq!(on_shop["id"], json!(psid));
    let ids_for_apps = || async {
        let (status, apps) = server.graph_call(Method::GET, &format!("/{psid}/ids_for_apps?appsecret_proof={proof}"), Some(&bot.page_token), None).await;
        assert_eq!(status, 200, "{apps}");
        apps["data"].clone()
    };
    assert_eq!(ids_for_apps().await, json!([]), "Ann never logged in to an app: she has no app-scoped id yet");
    // She logs in to the bot's app and to the other business's, and each app sees her.
    let mut asids = Vec::new();
    for app in [&bot.app.id, &foreign.app.id] {
        let user = server.console(Method::POST, &format!("/apps/{app}/user-tokens"), json!({"person_id": ann.id})).await;
        let (_, me) = server.graph_call(Method::GET, "/me", user["access_token"].as_str(), None).await;
        asids.push(me["id"].clone());
    }
    let apps = ids_for_apps().await;
    assert_eq!(apps.as_array().unwrap().len(), 1, "only the business's own app: {apps}");
    assert_eq!((apps[0]["app"]["id"].clone(), apps[0]["id"].clone()), (json!(bot.app.id), asids[0].clone()), "her app-scoped id for the bot's app");
}
