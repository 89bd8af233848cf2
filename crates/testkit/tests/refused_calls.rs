//! The Graph calls a node refused, as an app's developers see them in the console
//! (`GET /console/v1/apps/{app}/api-errors`), over real HTTP: the error exactly as
//! the bot received it and the body it sent without its token, for calls whose
//! token was an app's; nothing for successful calls or unknown tokens; only for the
//! app's administrators, developers and the operator; at most 50 per app.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_domain::Clock;
use switchboard_testkit::{Bot, ManualClock, PersonClient, TestServer};

/// A bot and a person who wrote to it; answers the person's PSID.
async fn thread(server: &TestServer) -> (Bot, PersonClient, String) {
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hi").await;
    let event = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await;
    (bot, ann, event["sender"]["id"].as_str().unwrap().to_string())
}

/// A person given `role` on the bot's app; answers their console session.
async fn member(server: &TestServer, bot: &Bot, login: &str, role: &str) -> String {
    let person = server.person(login).await;
    server.console(Method::POST, &format!("/apps/{}/roles", bot.app.id), json!({"person_id": person.id, "role": role})).await;
    server.sign_in(&person).await.token.clone()
}

/// The app's refused calls as `session` sees them (`query` after the `?`).
async fn refused(server: &TestServer, session: &str, app: &str, query: &str) -> (u16, Value) {
    let (status, answer) = server.console_as(session, Method::GET, &format!("/apps/{app}/api-errors?{query}"), json!({})).await;
    (status.as_u16(), answer)
}

/// The app's refused calls, newest first, as its developer sees them.
async fn refused_list(server: &TestServer, session: &str, app: &str, query: &str) -> Vec<Value> {
    let (status, answer) = refused(server, session, app, query).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"].as_array().unwrap().clone()
}

/// A Send API call with the token in its JSON body, as some SDKs send it; answers
/// the status and the answer's JSON.
async fn send_with_token_in_body(server: &TestServer, bot: &Bot, body: &Value) -> (u16, Value) {
    let mut with_token = body.clone();
    with_token["access_token"] = json!(bot.page_token);
    let response = server.http.post(format!("{}/me/messages", server.graph())).json(&with_token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The entry shows the call as sent and the error exactly as answered.
fn assert_shows(entry: &Value, bot: &Bot, status: u16, answer: &Value, body: &Value, recipient: &str, at: i64) {
    assert_eq!(entry["error"], answer["error"], "the error as the bot received it: {entry}");
    for field in ["message", "type", "code", "error_subcode", "fbtrace_id"] {
        assert_eq!(entry["error"][field], answer["error"][field], "{field}");
    }
    assert_eq!(entry["status"], status);
    assert_eq!(entry["body"], *body, "the body sent, without the token");
    assert_eq!(entry["body_truncated"], false);
    assert_eq!((entry["method"].as_str(), entry["path"].as_str()), (Some("POST"), Some("/v21.0/me/messages")));
    assert_eq!(entry["page"], bot.page.id.as_str());
    assert_eq!(entry["recipient"], recipient);
    assert_eq!(entry["time"], at, "the platform's clock");
    assert!(!entry.to_string().contains(&bot.page_token), "no token is kept: {entry}");
}

#[tokio::test]
async fn refused_send_api_calls_show_the_error_received_and_the_body_sent() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let (bot, _ann, psid) = thread(&server).await;
    let developer = member(&server, &bot, "dev", "developer").await;
    let app = bot.app.id.as_str();

    // A successful call is not remembered.
    let (status, answer) = server.send_text(&bot, &psid, "fine").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(refused_list(&server, &developer, app, "").await, Vec::<Value>::new());

    // A PSID of no one.
    let unknown = json!({"recipient": {"id": "123"}, "messaging_type": "RESPONSE", "message": {"text": "who?"}});
    let (status, answer) = send_with_token_in_body(&server, &bot, &unknown).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(100), &json!(2018001)), "{answer}");
    let calls = refused_list(&server, &developer, app, "").await;
    assert_eq!(calls.len(), 1);
    assert_shows(&calls[0], &bot, status, &answer, &unknown, "123", clock.now_ms());
    let first = calls[0]["id"].as_u64().unwrap();

    // A button template over its limit of three buttons.
    let button = |n: usize| json!({"type": "postback", "title": format!("B{n}"), "payload": format!("P{n}")});
    let template = json!({"template_type": "button", "text": "Choose", "buttons": (0..4).map(button).collect::<Vec<_>>()});
    let over = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"attachment": {"type": "template", "payload": template}}});
    let (status, answer) = send_with_token_in_body(&server, &bot, &over).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    let calls = refused_list(&server, &developer, app, "").await;
    assert_eq!(calls.len(), 2);
    assert_shows(&calls[0], &bot, status, &answer, &over, &psid, clock.now_ms());

    // Outside the 24-hour window, by the platform's clock.
    clock.advance(Duration::from_secs(25 * 3600));
    let late = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "a day late"}});
    let (status, answer) = send_with_token_in_body(&server, &bot, &late).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(10), &json!(2018278)), "{answer}");
    let calls = refused_list(&server, &developer, app, "").await;
    assert_eq!(calls.len(), 3);
    assert_shows(&calls[0], &bot, status, &answer, &late, &psid, clock.now_ms());

    // Newest first; `since` leaves out what was seen already; `limit` bounds the page.
    let ids: Vec<u64> = calls.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert!(ids[0] > ids[1] && ids[1] > ids[2] && ids[2] == first, "{ids:?}");
    let after_first = refused_list(&server, &developer, app, &format!("since={first}")).await;
    assert_eq!(after_first.iter().map(|c| c["id"].as_u64().unwrap()).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(refused_list(&server, &developer, app, &format!("since={}", ids[0])).await, Vec::<Value>::new());
    assert_eq!(refused_list(&server, &developer, app, "limit=1").await, calls[..1]);
    assert_eq!(refused(&server, &developer, app, "since=yesterday").await.0, 400);

    // The operator and the app's administrators see them too.
    let administrator = member(&server, &bot, "boss", "administrator").await;
    assert_eq!(refused_list(&server, &administrator, app, "").await, calls);
    assert_eq!(refused_list(&server, &server.operator, app, "").await, calls);
}

#[tokio::test]
async fn only_the_apps_administrators_developers_and_the_operator_see_its_refused_calls() {
    let server = TestServer::start().await;
    let (bot, _ann, _psid) = thread(&server).await;
    let other = server.bot("elsewhere", "messages").await;
    let others_developer = member(&server, &other, "other-dev", "developer").await;
    let tester = member(&server, &bot, "tess", "tester").await;
    let nobody = server.sign_in(&server.person("eve").await).await.token.clone();
    server.send_text(&bot, "123", "who?").await;

    for session in [&others_developer, &tester, &nobody] {
        let (status, answer) = refused(&server, session, &bot.app.id, "").await;
        assert_eq!((status, &answer["error"]["code"]), (403, &json!(200)), "{answer}");
        assert!(!answer.to_string().contains("who?"), "{answer}");
    }
    // An app that does not exist is not there; the other app's list is its own.
    let (status, answer) = refused(&server, &server.operator, "987654321", "").await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(100), &json!(33)), "{answer}");
    assert_eq!(refused_list(&server, &others_developer, &other.app.id, "").await, Vec::<Value>::new());
    assert_eq!(refused_list(&server, &server.operator, &bot.app.id, "").await.len(), 1);
}

#[tokio::test]
async fn each_app_keeps_its_latest_fifty_refusals_and_bodies_of_at_most_four_kib() {
    let server = TestServer::start().await;
    let (bot, _ann, psid) = thread(&server).await;
    let operator = server.operator.clone();

    for n in 0..51 {
        let (status, _) = server.send_text(&bot, "123", &format!("refusal {n}")).await;
        assert_eq!(status, 400);
    }
    let calls = refused_list(&server, &operator, &bot.app.id, "limit=500").await;
    let texts: Vec<&str> = calls.iter().map(|c| c["body"]["message"]["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (1..51).rev().map(|n| format!("refusal {n}")).collect();
    assert_eq!(texts, expected, "the 50 latest, newest first; the oldest dropped");

    // A body over 4 KiB is kept cut, as the start of its JSON text, and says so.
    let long = "x".repeat(5_000);
    let (status, answer) = server.send_text(&bot, &psid, &long).await;
    assert_eq!(status, 400, "{answer}");
    let newest = refused_list(&server, &operator, &bot.app.id, "limit=1").await.remove(0);
    assert_eq!(newest["body_truncated"], true);
    let kept = newest["body"].as_str().expect("a cut body is text");
    assert_eq!(kept.len(), 4096);
    assert!(kept.starts_with('{') && kept.contains("xxxx"), "{kept}");
    assert_eq!(newest["recipient"], psid.as_str(), "the recipient is read before the body is cut");
    assert_eq!(newest["error"], answer["error"]);
}

#[tokio::test]
async fn calls_refused_for_their_token_belong_to_no_app_and_are_not_kept() {
    let server = TestServer::start().await;
    let (bot, _ann, psid) = thread(&server).await;
    let send = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "bad token"}});

    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some("not-a-token"), Some(send.clone())).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(190)), "{answer}");
    // The app's own token with a proof that does not match it.
    let path = format!("/me/messages?appsecret_proof={}", "0".repeat(64));
    let (status, answer) = server.graph_call(Method::POST, &path, Some(&bot.page_token), Some(send.clone())).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("appsecret_proof"), "{answer}");
    // No token at all.
    let (status, _) = server.graph_call(Method::POST, "/me/messages", None, Some(send)).await;
    assert_eq!(status, 400);
    // The same call with the token alone, refused for its recipient, is the only one kept.
    let (status, answer) = server.send_text(&bot, "123", "bad token").await;
    assert_eq!(status, 400);
    let calls = refused_list(&server, &server.operator, &bot.app.id, "").await;
    assert_eq!(calls.iter().map(|c| &c["error"]).collect::<Vec<_>>(), [&answer["error"]]);
}

#[tokio::test]
async fn a_refused_batch_item_is_kept_as_a_call_of_its_own_without_its_token() {
    let server = TestServer::start().await;
    let (bot, _ann, psid) = thread(&server).await;
    let token = &bot.page_token;
    let item_body = format!("recipient={}&message={}", r#"{"id":"123"}"#, r#"{"text":"batched"}"#);
    let batch = json!([
        {"method": "POST", "relative_url": format!("me/messages?access_token={token}"), "body": item_body},
        {"method": "POST", "relative_url": "me/messages", "body": format!(r#"recipient={{"id":"{psid}"}}&message={{"text":"fine"}}"#)},
    ]);
    let form = [("batch", batch.to_string()), ("access_token", token.clone())];
    let response = server.http.post(format!("{}/", server.graph())).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    assert_eq!((&answers[0]["code"], &answers[1]["code"]), (&json!(400), &json!(200)), "{answers}");
    let item_error: Value = serde_json::from_str(answers[0]["body"].as_str().unwrap()).unwrap();

    let calls = refused_list(&server, &server.operator, &bot.app.id, "").await;
    assert_eq!(calls.len(), 1, "only the refused item: {calls:?}");
    let call = &calls[0];
    assert_eq!(call["error"], item_error["error"]);
    assert_eq!((call["path"].as_str(), call["recipient"].as_str(), call["page"].as_str()), (Some("/me/messages"), Some("123"), Some(bot.page.id.as_str())));
    assert_eq!(call["body"], json!({"recipient": r#"{"id":"123"}"#, "message": r#"{"text":"batched"}"#}));
    assert!(!call.to_string().contains(token.as_str()), "{call}");

    // A batch refused whole is the batch's call: the tokens its items carry (in a
    // URL, in a body, as a field) are not kept either.
    let item = json!({"method": "GET", "relative_url": format!("me?fields=id&access_token={token}"), "body": format!("access_token={token}&a=1"), "access_token": token});
    let form = [("batch", item.to_string()), ("access_token", token.clone())];
    let response = server.http.post(format!("{}/", server.graph())).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["error"]["message"].as_str().unwrap().contains("must be a JSON array"), "{answer}");
    let call = refused_list(&server, &server.operator, &bot.app.id, "limit=1").await.remove(0);
    assert_eq!((&call["error"], call["path"].as_str()), (&answer["error"], Some("/v21.0/")));
    let kept: Value = serde_json::from_str(call["body"]["batch"].as_str().unwrap()).unwrap();
    assert_eq!(kept, json!({"method": "GET", "relative_url": "me?fields=id&access_token=", "body": "access_token=&a=1"}));
    assert!(!call.to_string().contains(token.as_str()), "{call}");
}
