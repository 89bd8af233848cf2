//! A person's own persistent menu (`custom_user_settings`, reference §9.1) through
//! real HTTP: set, read beside the Page's, deleted; refused for the wrong token, a
//! PSID that is not the Page's and bad parameters; shown and tapped in the person's
//! client instead of the Page's; through the batch API.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const FIELDS: &str = "messages,messaging_postbacks";

fn postback(title: &str, payload: &str) -> Value {
    json!({"type": "postback", "title": title, "payload": payload})
}

fn menu(title: &str, payload: &str) -> Value {
    json!([{"locale": "default", "composer_input_disabled": false, "call_to_actions": [postback(title, payload)]}])
}

/// A person who wrote to the bot's Page: their client and PSID there.
async fn write(server: &TestServer, bot: &Bot, login: &str) -> (PersonClient, String) {
    let client = server.sign_in(&server.person(login).await).await;
    let mid = client.send(&bot.page.username, "hi").await["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    (client, event["sender"]["id"].as_str().unwrap().to_string())
}

async fn settings(server: &TestServer, token: &str, psid: &str) -> (u16, Value) {
    server.graph_call(Method::GET, &format!("/me/custom_user_settings?psid={psid}"), Some(token), None).await
}

/// The Graph refusal `code`/`subcode` with status 400 (or 403 for 200).
fn assert_refused(answer: &(u16, Value), code: u64, subcode: Option<u64>) {
    let status = if code == 200 { 403 } else { 400 };
    assert_eq!((answer.0, &answer.1["error"]["code"], answer.1["error"]["error_subcode"].as_u64()), (status, &json!(code), subcode), "{answer:?}");
    assert!(answer.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer:?}");
}

#[tokio::test]
async fn a_persons_menu_is_set_read_beside_the_pages_and_deleted() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    let (ann, psid) = write(&server, &bot, "ann").await;
    let success = (200, json!({"result": "success"}));
    assert_eq!(settings(&server, token, &psid).await, (200, json!({"data": []})), "nothing set");

    // As the Page's menu, a person's needs the Page's Get Started button.
    let (status, refused) = server.graph_call(Method::POST, "/me/custom_user_settings", Some(token), Some(json!({"psid": psid, "persistent_menu": menu("Mine", "MINE")}))).await;
    assert_eq!((status, &refused["error"]["message"]), (400, &json!("(#100) You must set a Get Started button if you also wish to use persistent menu.")), "{refused}");
    assert_eq!(settings(&server, token, &psid).await, (200, json!({"data": []})), "nothing stored");

    let page_menu = menu("For everyone", "ALL");
    let (status, set) = server.graph_call(Method::POST, "/me/messenger_profile", Some(token), Some(json!({"get_started": {"payload": "GO"}, "persistent_menu": page_menu}))).await;
    assert_eq!((status, set), (200, json!({"result": "success"})));
    assert_eq!(settings(&server, token, &psid).await, (200, json!({"data": [{"page_level_persistent_menu": page_menu}]})));

    // Set as JSON, then replaced as form SDKs send it (JSON text), by the Page's id.
    let mine = menu("Just for Ann", "ANN");
    let path = format!("/{}/custom_user_settings", bot.page.id);
    let answer = server.graph_call(Method::POST, "/me/custom_user_settings", Some(token), Some(json!({"psid": psid, "persistent_menu": menu("First", "FIRST")}))).await;
    assert_eq!(answer, success);
    let answer = server.graph_call(Method::POST, &path, Some(token), Some(json!({"psid": psid, "persistent_menu": mine.to_string()}))).await;
    assert_eq!(answer, success);
    let both = json!({"data": [{"user_level_persistent_menu": mine, "page_level_persistent_menu": page_menu}]});
    assert_eq!(settings(&server, token, &psid).await, (200, both.clone()));
    let (status, by_id) = server.graph_call(Method::GET, &format!("{path}?psid={psid}"), Some(token), None).await;
    assert_eq!((status, by_id), (200, both));

    // The person's client shows theirs; a tap on it is their postback.
    let (status, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!((status, &welcome["persistent_menu"]), (200, &mine[0]), "{welcome}");
    let (status, tapped) = ann.call(Method::POST, "/threads/shop/postbacks", Some(json!({"menu": "/0"}))).await;
    assert_eq!(status, 200, "{tapped}");
    let event = bot.receiver.wait_for("the personal menu's postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    assert_eq!(event["postback"], json!({"title": "Just for Ann", "payload": "ANN", "mid": tapped["mid"]}));
    assert_eq!(event["sender"]["id"], json!(psid));
    // Another person still sees the Page's.
    let (bob, _) = write(&server, &bot, "bob").await;
    let (_, welcome) = bob.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(welcome["persistent_menu"], page_menu[0]);

    // DELETE with `params` as JSON array text, then as a comma list (nothing left: still a success).
    let answer = server.graph_call(Method::DELETE, &format!("/me/custom_user_settings?psid={psid}&params=[\"persistent_menu\"]"), Some(token), None).await;
    assert_eq!(answer, success);
    assert_eq!(settings(&server, token, &psid).await, (200, json!({"data": [{"page_level_persistent_menu": page_menu}]})));
    let answer = server.graph_call(Method::DELETE, "/me/custom_user_settings", Some(token), Some(json!({"psid": psid, "params": "persistent_menu"}))).await;
    assert_eq!(answer, success);
    let (_, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(welcome["persistent_menu"], page_menu[0], "the Page's menu again");
}

#[tokio::test]
async fn custom_user_settings_refuse_other_tokens_pages_and_bad_parameters() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    server.graph_call(Method::POST, "/me/messenger_profile", Some(token), Some(json!({"get_started": {"payload": "GO"}}))).await;
    let (_, psid) = write(&server, &bot, "ann").await;
    let other = server.bot("other", FIELDS).await;
    let (_, elsewhere) = write(&server, &other, "bob").await;
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let user_token = server.console(Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": bot.admin.id})).await["access_token"].as_str().unwrap().to_string();
    let body = |psid: &str| json!({"psid": psid, "persistent_menu": menu("Mine", "MINE")});
    let post = |token: String, path: String, body: Value| {
        let server = &server;
        async move { server.graph_call(Method::POST, &path, Some(&token), Some(body)).await }
    };
    let own = "/me/custom_user_settings".to_string();
    let by_id = format!("/{}/custom_user_settings", bot.page.id);

    // Only the Page's own Page token.
    assert_refused(&post(app_token.clone(), by_id.clone(), body(&psid)).await, 190, None);
    assert_refused(&post(user_token.clone(), by_id.clone(), body(&psid)).await, 190, None);
    assert_refused(&post(other.page_token.clone(), by_id.clone(), body(&psid)).await, 200, None);
    assert_refused(&server.graph_call(Method::GET, &format!("{by_id}?psid={psid}"), Some(&app_token), None).await, 190, None);
    assert_refused(&server.graph_call(Method::DELETE, &format!("{by_id}?psid={psid}&params=persistent_menu"), Some(&user_token), None).await, 190, None);
    let (status, none) = server.graph_call(Method::POST, &by_id, None, Some(body(&psid))).await;
    assert_eq!((status, &none["error"]["code"]), (400, &json!(104)), "{none}");

    // A PSID that is not the Page's: the Send API's error, exactly.
    for stranger in [elsewhere.as_str(), "123", "not-a-psid"] {
        let (status, answer) = post(token.to_string(), own.clone(), body(stranger)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!((&answer["error"]["code"], &answer["error"]["error_subcode"], &answer["error"]["message"]), (&json!(100), &json!(2018001), &json!("(#100) No matching user found")));
        assert_refused(&settings(&server, token, stranger).await, 100, Some(2018001));
    }
    // Missing or empty psid, a missing or invalid menu, bad params.
    assert_refused(&post(token.to_string(), own.clone(), json!({"persistent_menu": menu("Mine", "MINE")})).await, 100, None);
    assert_refused(&post(token.to_string(), own.clone(), json!({"psid": " ", "persistent_menu": menu("Mine", "MINE")})).await, 100, None);
    assert_refused(&server.graph_call(Method::GET, "/me/custom_user_settings", Some(token), None).await, 100, None);
    assert_refused(&post(token.to_string(), own.clone(), json!({"psid": psid})).await, 100, None);
    assert_refused(&post(token.to_string(), own.clone(), json!({"psid": psid, "persistent_menu": [{"locale": "fr_FR", "call_to_actions": [postback("x", "X")]}]})).await, 100, None);
    assert_refused(&post(token.to_string(), own.clone(), json!({"psid": psid, "persistent_menu": [{"locale": "default", "call_to_actions": []}]})).await, 100, None);
    assert_refused(&post(token.to_string(), own.clone(), json!({"psid": psid, "persistent_menu": "{not json"})).await, 100, None);
    for params in ["", "&params=greeting", "&params=[\"persistent_menu\",\"get_started\"]", "&params=[1]"] {
        let answer = server.graph_call(Method::DELETE, &format!("/me/custom_user_settings?psid={psid}{params}"), Some(token), None).await;
        assert_refused(&answer, 100, None);
    }
    assert_eq!(settings(&server, token, &psid).await, (200, json!({"data": []})), "no refusal stored anything");
    assert_eq!(settings(&server, &other.page_token, &elsewhere).await, (200, json!({"data": []})));
}

#[tokio::test]
async fn custom_user_settings_through_the_batch_api() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    let (_, psid) = write(&server, &bot, "ann").await;
    server.graph_call(Method::POST, "/me/messenger_profile", Some(token), Some(json!({"get_started": {"payload": "GO"}}))).await;
    let mine = menu("Mine", "MINE");
    let set_body = format!("psid={psid}&persistent_menu={}", percent_encode(&mine.to_string()));
    let batch = json!([
        {"method": "POST", "relative_url": "me/custom_user_settings", "body": set_body},
        {"method": "GET", "relative_url": format!("me/custom_user_settings?psid={psid}")},
        {"method": "GET", "relative_url": "me/custom_user_settings?psid=123"},
    ]);
    let response = server.http.post(format!("{}/", server.graph())).json(&json!({"access_token": token, "batch": batch})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    let codes: Vec<&Value> = answers.as_array().unwrap().iter().map(|a| &a["code"]).collect();
    assert_eq!(codes, [&json!(200), &json!(200), &json!(400)], "{answers}");
    let body = |i: usize| serde_json::from_str::<Value>(answers[i]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body(0), json!({"result": "success"}));
    assert_eq!(body(1), json!({"data": [{"user_level_persistent_menu": mine}]}));
    assert_eq!(body(2)["error"]["error_subcode"], 2018001);
}
