//! What a Page's token can learn of the Page through Graph: its recurring-notification
//! tokens (`GET /{page-id}/notification_message_tokens`, paged, each token the one the
//! opt-in webhook carried) and the review of its messaging features
//! (`GET /{page-id}/messaging_feature_review`) as the console applies and decides.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

async fn get(server: &TestServer, path: &str, token: &str) -> (u16, Value) {
    server.graph_call(Method::GET, path, Some(token), None).await
}

/// The person writes, the bot asks for a recurring opt-in, the person accepts:
/// answers the person's PSID, the opt-in event (with its token), the request's mid
/// and the person's client.
async fn opted_in(server: &TestServer, bot: &Bot, login: &str, title: &str, reoptin: &str) -> (String, Value, String, PersonClient) {
    let person = server.sign_in(&server.person(login).await).await;
    let text = format!("{login} says hi");
    person.send(&bot.page.username, &text).await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["text"] == text.as_str()).await["sender"]["id"].as_str().unwrap().to_string();
    let request = json!({"recipient": {"id": psid}, "message": {"attachment": {"type": "template", "payload": {
        "template_type": "notification_messages", "title": title, "payload": "DEALS",
        "notification_messages_frequency": "DAILY", "notification_messages_reoptin": reoptin}}}});
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request)).await;
    assert_eq!(status, 200, "{sent}");
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let (status, answer) = person.call(Method::POST, &format!("/threads/{}/messages/{mid}/notifications", bot.page.username), None).await;
    assert_eq!(status, 200, "{answer}");
    let optin = bot.receiver.wait_for("the opt-in", |e| e["sender"]["id"] == psid.as_str() && e["optin"]["user_token_status"].is_string()).await;
    (psid, optin, mid, person)
}

#[tokio::test]
async fn the_token_inventory_lists_the_pages_usable_tokens_page_by_page() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("shop", "messages,messaging_optins").await;
    let (ann, ann_optin, _, _) = opted_in(&server, &bot, "ann", "Daily deals", "ENABLED").await;
    let (bob, bob_optin, bob_request, bob_client) = opted_in(&server, &bot, "bob", "Flash sales", "DISABLED").await;
    let item = |psid: &str, optin: &Value, title: &str, reoptin: &str, next: i64| {
        let created = optin["timestamp"].as_i64().unwrap();
        json!({
            "notification_messages_token": optin["optin"]["notification_messages_token"],
            "recipient_id": psid,
            "topic_title": title,
            "notification_messages_frequency": "DAILY",
            "notification_messages_reoptin": reoptin,
            "notification_messages_timezone": "UTC",
            "creation_timestamp": created,
            "token_expiry_timestamp": optin["optin"]["token_expiry_timestamp"],
            "next_eligible_time": if next == 0 { created } else { next },
            "user_token_status": "NOT_REFRESHED",
        })
    };

    // One a page: the first page links to the next, which is the last.
    let path = format!("/{}/notification_message_tokens", bot.page.id);
    let (status, first) = get(&server, &format!("{path}?limit=1"), &bot.page_token).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"], json!([item(&ann, &ann_optin, "Daily deals", "ENABLED", 0)]));
    let next = first["paging"]["next"].as_str().expect("a next page").to_string();
    let response = reqwest::Client::new().get(&next).send().await.unwrap();
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["data"], json!([item(&bob, &bob_optin, "Flash sales", "DISABLED", 0)]), "{second}");
    assert!(second["paging"].get("next").is_none(), "the last page: {second}");
    let (_, all) = get(&server, &path, &bot.page_token).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");

    // Sent with today: eligible again a day later.
    server.console(Method::POST, "/clock", json!({"advance_ms": 30 * HOUR_MS})).await;
    let before = server.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
    let token = ann_optin["optin"]["notification_messages_token"].as_str().unwrap();
    let by_token = json!({"recipient": {"notification_messages_token": token}, "message": {"text": "deal"}});
    assert_eq!(server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token)).await.0, 200);
    let after = server.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
    let (_, all) = get(&server, &path, &bot.page_token).await;
    let next_eligible = all["data"][0]["next_eligible_time"].as_i64().unwrap();
    assert!((before + DAY_MS..=after + DAY_MS).contains(&next_eligible), "{next_eligible} after a send between {before} and {after}");

    // Bob stops his topic: his token leaves the inventory (it cannot send).
    let (status, _) = bob_client.call(Method::POST, &format!("/threads/shop/messages/{bob_request}/notifications/stop"), None).await;
    assert_eq!(status, 200);
    let (_, all) = get(&server, &path, &bot.page_token).await;
    let listed: Vec<&str> = all["data"].as_array().unwrap().iter().map(|t| t["recipient_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ann.as_str()]);

    // Another Page's token sees only its own Page, and may not name this one.
    let other = server.bot("mall", "messages,messaging_optins").await;
    let (status, empty) = get(&server, &format!("/{}/notification_message_tokens", other.page.id), &other.page_token).await;
    assert_eq!((status, &empty), (200, &json!({"data": []})));
    let (status, refused) = get(&server, &path, &other.page_token).await;
    assert_eq!((status, &refused["error"]["code"]), (403, &json!(200)), "{refused}");
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, refused) = get(&server, &path, &app_token).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(190)), "a Page token is needed: {refused}");
    let (status, refused) = get(&server, &format!("{path}?after=not-a-cursor"), &bot.page_token).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "{refused}");
    let (status, refused) = get(&server, &format!("{path}?limit=many"), &bot.page_token).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "{refused}");

    // Past its half year, ann's daily token has expired and is gone too.
    server.console(Method::POST, "/clock", json!({"advance_ms": 183 * DAY_MS})).await;
    let (_, all) = get(&server, &path, &bot.page_token).await;
    assert_eq!(all, json!({"data": []}));
}

#[tokio::test]
async fn the_feature_review_follows_the_console() {
    let server = TestServer::start().await;
    // The bot's app went live through review, HUMAN_AGENT approved with it.
    let bot = server.bot("shop", "messages").await;
    let path = format!("/{}/messaging_feature_review", bot.page.id);
    let (status, review) = get(&server, &path, &bot.page_token).await;
    assert_eq!((status, &review), (200, &json!({"data": [{"feature": "human_agent", "status": "approved"}]})));

    // The Page's admin applies for customer matching: pending, then approved by the operator.
    server.console(Method::POST, &format!("/pages/{}/features/phone_numbers", bot.page.id), json!({"accept_terms": true})).await;
    let (_, review) = get(&server, &path, &bot.page_token).await;
    assert_eq!(review["data"], json!([{"feature": "pages_messaging_phone_number", "status": "pending"}, {"feature": "human_agent", "status": "approved"}]));
    server.console(Method::POST, &format!("/pages/{}/features/phone_numbers/approve", bot.page.id), json!({})).await;
    let (_, review) = get(&server, &path, &bot.page_token).await;
    assert_eq!(review["data"], json!([{"feature": "pages_messaging_phone_number", "status": "approved"}, {"feature": "human_agent", "status": "approved"}]));

    // While the app is blocked for policy, what was approved is limited.
    server.console(Method::POST, &format!("/apps/{}/policy", bot.app.id), json!({"action": "block", "reason": "spam"})).await;
    let (_, review) = get(&server, &path, &bot.page_token).await;
    assert_eq!(review["data"], json!([{"feature": "pages_messaging_phone_number", "status": "limited"}, {"feature": "human_agent", "status": "limited"}]));
    server.console(Method::POST, &format!("/apps/{}/policy", bot.app.id), json!({"action": "unblock"})).await;

    // A second app on the Page: its HUMAN_AGENT review was declined; it sees its own decision.
    let helper = server.app("helper").await;
    let helper_token = server.grant(&bot.page, &helper, &bot.admin).await;
    server.console(Method::POST, &format!("/apps/{}/review", helper.id), json!({"permissions": ["human_agent"], "note": "agents answer"})).await;
    let (_, review) = get(&server, &path, &helper_token).await;
    assert_eq!(review["data"][1], json!({"feature": "human_agent", "status": "pending"}));
    server.console(Method::POST, &format!("/apps/{}/review/human_agent", helper.id), json!({"approve": false, "reason": "no agents seen"})).await;
    let (_, review) = get(&server, &path, &helper_token).await;
    assert_eq!(review["data"], json!([{"feature": "pages_messaging_phone_number", "status": "approved"}, {"feature": "human_agent", "status": "rejected"}]));

    // Only the Page's own Page token.
    let other = server.bot("mall", "messages").await;
    let (status, refused) = get(&server, &path, &other.page_token).await;
    assert_eq!((status, &refused["error"]["code"]), (403, &json!(200)), "{refused}");
    let (status, refused) = get(&server, &path, &format!("{}|{}", bot.app.id, bot.app.secret)).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(190)), "{refused}");
    let (status, fresh) = get(&server, &format!("/{}/messaging_feature_review", other.page.id), &other.page_token).await;
    assert_eq!((status, &fresh), (200, &json!({"data": [{"feature": "human_agent", "status": "approved"}]})));
}

#[tokio::test]
async fn the_inventory_the_review_and_a_sticker_through_the_batch_api() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages,messaging_optins").await;
    let (psid, optin, _, _) = opted_in(&server, &bot, "ann", "Daily deals", "ENABLED").await;
    let sticker = format!("recipient={}&message={}", percent_encode(&json!({"id": psid}).to_string()), percent_encode(r#"{"sticker_id":369239263222822}"#));
    let batch = json!([
        {"method": "GET", "relative_url": "me/notification_message_tokens"},
        {"method": "GET", "relative_url": "me/messaging_feature_review"},
        {"method": "POST", "relative_url": "me/messages", "body": sticker},
        {"method": "POST", "relative_url": "me/messages", "body": format!("recipient={}&message=%7B%22sticker_id%22%3A1%7D", percent_encode(&json!({"id": psid}).to_string()))},
    ]);
    let response = server.http.post(format!("{}/", server.graph())).json(&json!({"access_token": bot.page_token, "batch": batch})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    let codes: Vec<&Value> = answers.as_array().unwrap().iter().map(|a| &a["code"]).collect();
    assert_eq!(codes, [&json!(200), &json!(200), &json!(200), &json!(400)], "{answers}");
    let body = |i: usize| serde_json::from_str::<Value>(answers[i]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body(0)["data"][0]["notification_messages_token"], optin["optin"]["notification_messages_token"]);
    assert_eq!(body(0)["data"][0]["recipient_id"], psid.as_str());
    assert_eq!(body(1), json!({"data": [{"feature": "human_agent", "status": "approved"}]}));
    assert_eq!(body(2)["recipient_id"], psid.as_str());
    assert_eq!(body(3)["error"]["code"], 100, "an unknown sticker: {}", body(3));
}
