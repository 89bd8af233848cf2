//! The messaging policy through HTTP, on a server started with the virtual clock:
//! the 24-hour window, message tags, HUMAN_AGENT's seven days, and time moved by the
//! console.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const HOUR_MS: i64 = 3_600_000;

async fn advance(server: &TestServer, ms: i64) -> Value {
    server.console(Method::POST, "/clock", json!({"advance_ms": ms})).await
}

async fn send(server: &TestServer, bot: &Bot, psid: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"recipient": {"id": psid}, "message": {"text": "from the page"}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await
}

fn window_closed(answer: &(u16, Value)) -> bool {
    let error = &answer.1["error"];
    answer.0 == 400
        && error["code"] == 10
        && error["error_subcode"] == 2018278
        && error["message"].as_str().unwrap_or("").starts_with("(#10) This message is sent outside of allowed window.")
}

#[tokio::test]
async fn the_window_closes_after_twenty_four_hours_and_tags_still_pass() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("shop", "messages,message_echoes").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let psid = {
        ann.send("shop", "hello").await;
        bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string()
    };
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await.0, 200);

    let moved = advance(&server, 23 * HOUR_MS + 59 * 60_000).await;
    assert_eq!(moved["virtual"], true);
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "UPDATE"})).await.0, 200, "23:59 after the last interaction");
    advance(&server, 2 * 60_000).await;
    for messaging_type in ["RESPONSE", "UPDATE"] {
        let answer = send(&server, &bot, &psid, json!({"messaging_type": messaging_type})).await;
        assert!(window_closed(&answer), "{answer:?}");
    }
    let answer = send(&server, &bot, &psid, json!({})).await;
    assert!(window_closed(&answer), "a missing messaging_type is RESPONSE: {answer:?}");
    let typing = server
        .graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(json!({"recipient": {"id": psid}, "sender_action": "typing_on"})))
        .await;
    assert!(window_closed(&typing), "sender actions follow the window: {typing:?}");

    // Tags pass outside the window; retired or unknown ones are refused.
    for tag in ["ACCOUNT_UPDATE", "POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE", "HUMAN_AGENT"] {
        let (status, answer) = send(&server, &bot, &psid, json!({"messaging_type": "MESSAGE_TAG", "tag": tag})).await;
        assert_eq!(status, 200, "{tag}: {answer}");
    }
    for tag in ["SHIPPING_UPDATE", "BIRTHDAY"] {
        let (status, answer) = send(&server, &bot, &psid, json!({"messaging_type": "MESSAGE_TAG", "tag": tag})).await;
        assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{tag}: {answer}");
    }

    // HUMAN_AGENT: seven days after the person's last message, not eight.
    advance(&server, 6 * 24 * HOUR_MS - 2 * HOUR_MS).await;
    let (status, _) = send(&server, &bot, &psid, json!({"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})).await;
    assert_eq!(status, 200, "day seven");
    advance(&server, 2 * HOUR_MS).await;
    let answer = send(&server, &bot, &psid, json!({"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})).await;
    assert!(window_closed(&answer), "day eight: {answer:?}");

    // Refused messages are neither stored nor delivered; the person's next message reopens the window.
    let texts: Vec<Value> = ann.history("shop").await["messages"].as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts.len(), 1 + 2 + 4 + 1, "hello, two inside the window, four tagged, one human agent: {texts:?}");
    ann.send("shop", "back again").await;
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await.0, 200);
    let echo_count = || bot.receiver.acknowledged_events().iter().filter(|e| e["message"]["is_echo"] == true).count();
    // A marker after them: the thread's events arrive in order, so once its echo is
    // in, every echo of an earlier message is.
    assert_eq!(server.send_text(&bot, &psid, "marker").await.0, 200);
    bot.receiver.wait_for("the marker's echo", |e| e["message"]["is_echo"] == true && e["message"]["text"] == "marker").await;
    assert_eq!(echo_count(), 8 + 1, "an echo for each accepted message, once, none for the refused ones");

    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_send_refusals_total{code=\"10\",subcode=\"2018278\"} 5"), "{metrics}");
}

#[tokio::test]
async fn only_a_virtual_clock_moves_only_forward_and_only_for_the_operator() {
    let real = TestServer::start().await;
    let shown = real.console(Method::GET, "/clock", json!({})).await;
    assert_eq!(shown["virtual"], false);
    let (status, answer) = real.console_as(&real.operator, Method::POST, "/clock", json!({"advance_ms": 1000})).await;
    assert_eq!((status.as_u16(), &answer["error"]["code"]), (400, &json!(100)), "{answer}");

    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let before = server.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
    let moved = server.console(Method::POST, "/clock", json!({"to": before + 25 * HOUR_MS})).await["now"].as_i64().unwrap();
    assert!(moved >= before + 25 * HOUR_MS);
    let (status, _) = server.console_as(&server.operator, Method::POST, "/clock", json!({"to": before})).await;
    assert_eq!(status.as_u16(), 400, "never backwards");
    let eve = server.sign_in(&server.person("eve").await).await;
    let (status, _) = server.console_as(&eve.token, Method::POST, "/clock", json!({"advance_ms": 1})).await;
    assert_eq!(status.as_u16(), 403);
}

#[tokio::test]
async fn webhook_retries_follow_the_virtual_clock() {
    let server = TestServer::start_with(|s| {
        s.virtual_clock = true;
        s.webhooks.retry_initial_ms = 2 * HOUR_MS;
        s.webhooks.retry_max_ms = 2 * HOUR_MS;
    })
    .await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    ann.send("shop", "later").await;
    eventually("the first attempt", || {
        let attempts = bot.receiver.posts().len();
        async move { (attempts >= 1).then_some(()) }
    })
    .await;
    bot.receiver.fail_with(0);
    // The retry is two (virtual) hours away: moving the clock brings it now.
    advance(&server, 3 * HOUR_MS).await;
    bot.receiver.wait_for("the retried event", |e| e["message"]["text"] == "later").await;
}

#[tokio::test]
async fn a_development_mode_app_reaches_only_persons_with_a_role_until_it_goes_live() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let app = &bot.app.id;
    // Back to development mode, as a new app starts.
    server.console(Method::PATCH, &format!("/apps/{app}"), json!({"mode": "development"})).await;
    let ann = server.person("ann").await;
    let ann_client = server.sign_in(&ann).await;
    ann_client.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();

    let (status, answer) = send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(200), &json!(2018028)), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("until pages_messaging permission is reviewed"));

    server.console(Method::POST, &format!("/apps/{app}/roles"), json!({"person_id": ann.id, "role": "tester"})).await;
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await.0, 200, "a tester may be messaged");
    server.console(Method::POST, &format!("/apps/{app}/roles"), json!({"person_id": ann.id, "role": null})).await;
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await.0, 400);

    server.console(Method::PATCH, &format!("/apps/{app}"), json!({"mode": "live"})).await;
    assert_eq!(send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await.0, 200, "a live app reaches everyone");
    let audit = server.console(Method::GET, &format!("/apps/{app}/audit"), json!({})).await;
    let changes: Vec<(Value, Value)> = audit["data"].as_array().unwrap().iter().map(|r| (r["actor"].clone(), r["change"].clone())).collect();
    assert_eq!(
        changes,
        vec![
            (json!("operator"), json!("mode: development -> live")),
            (json!("operator"), json!("mode: live -> development")),
            (json!("operator"), json!("mode: development -> live")),
        ]
    );
}

#[tokio::test]
async fn a_page_with_the_permission_reaches_a_number_verified_a_day_ago() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let (status, phone) = ann.call(Method::PUT, "/me/phone", Some(json!({"phone_number": "+1 (212) 555-2368"}))).await;
    assert_eq!((status, &phone["phone_number"]), (200, &json!("+12125552368")), "{phone}");
    let bob = server.sign_in(&server.person("bob").await).await;
    let (status, _) = bob.call(Method::PUT, "/me/phone", Some(json!({"phone_number": "+12125552368"}))).await;
    assert_eq!(status, 400, "one person per number");
    let (status, _) = bob.call(Method::PUT, "/me/phone", Some(json!({"phone_number": "call me"}))).await;
    assert_eq!(status, 400);

    let by_phone = |number: &str| json!({"recipient": {"phone_number": number, "name": {"first_name": "Ann"}}, "message": {"text": "we matched you"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_phone("+12125552368"))).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(200), &json!(2018027)), "no permission yet: {answer}");

    // A Page admin applies (accepting the terms); the operator approves.
    let admin = server.sign_in(&bot.admin).await;
    let features = format!("/pages/{}/features/phone_numbers", bot.page.id);
    let (status, _) = server.console_as(&admin.token, Method::POST, &features, json!({})).await;
    assert_eq!(status.as_u16(), 400, "the terms must be accepted");
    let (status, applied) = server.console_as(&admin.token, Method::POST, &features, json!({"accept_terms": true})).await;
    assert_eq!((status.as_u16(), &applied["data"][0]["status"]), (200, &json!("applied")), "{applied}");
    let (status, _) = server.console_as(&admin.token, Method::POST, &format!("{features}/approve"), json!({})).await;
    assert_eq!(status.as_u16(), 403, "only the operator approves");
    let approved = server.console(Method::POST, &format!("{features}/approve"), json!({})).await;
    assert_eq!(approved["data"][0]["status"], "approved");

    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_phone("+12125552368"))).await;
    assert_eq!((status, &answer["error"]["error_subcode"]), (400, &json!(2018001)), "verified less than a day ago: {answer}");
    advance(&server, 24 * HOUR_MS).await;
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_phone("+1 212 555 2368"))).await;
    assert_eq!(status, 200, "{answer}");
    let psid = answer["recipient_id"].as_str().unwrap().to_string();
    assert!(answer["message_id"].as_str().unwrap().starts_with("m_"));
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_phone("+4930123456"))).await;
    assert_eq!((status, &answer["error"]["error_subcode"]), (400, &json!(2018001)), "nobody has this number: {answer}");

    // The person sees the message; when they answer, the bot knows them by the same PSID.
    let history = ann.history("shop").await;
    assert_eq!(history["messages"][0]["text"], "we matched you");
    ann.send("shop", "hi, who is this?").await;
    let event = bot.receiver.wait_for("ann's answer", |e| e["message"]["text"] == "hi, who is this?").await;
    assert_eq!(event["sender"]["id"], psid.as_str());
}

#[tokio::test]
async fn a_one_time_notification_sends_once_and_only_once_outside_the_window() {
    let server = TestServer::start_with(|s| {
        s.virtual_clock = true;
        s.auto_approve_page_features = true;
    })
    .await;
    let bot = server.bot("shop", "messages,message_echoes,messaging_optins").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "is the red one coming back?").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "is the red one coming back?").await["sender"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let request = json!({"recipient": {"id": psid}, "message": {"attachment": {"type": "template",
        "payload": {"template_type": "one_time_notif_req", "title": "Back in stock?", "payload": "SKU_RED"}}}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request.clone())).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(10), &json!(1404170)), "no permission yet: {answer}");

    let admin = server.sign_in(&bot.admin).await;
    let (status, features) = server
        .console_as(&admin.token, Method::POST, &format!("/pages/{}/features/one_time_notif", bot.page.id), json!({"accept_terms": true}))
        .await;
    assert_eq!((status.as_u16(), &features["data"][0]["status"]), (200, &json!("approved")), "approved automatically here: {features}");
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request.clone())).await;
    assert_eq!(status, 200, "{sent}");
    let (status, again) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request.clone())).await;
    assert_eq!((status, &again["error"]["code"], &again["error"]["error_subcode"]), (400, &json!(613), &json!(1893016)), "{again}");

    // The person's client shows the request; the echo carries the template.
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let history = ann.history("shop").await;
    let shown = history["messages"].as_array().unwrap().iter().find(|m| m["mid"] == mid.as_str()).unwrap().clone();
    assert_eq!(shown["attachment"]["payload"]["template_type"], "one_time_notif_req");
    assert_eq!(shown["attachment"]["payload"]["title"], "Back in stock?");
    let echo = bot.receiver.wait_for("the template's echo", |e| e["message"]["mid"] == mid.as_str()).await;
    assert_eq!(echo["message"]["attachments"][0]["payload"]["payload"], "SKU_RED");

    // Tapping "Notify me" gives the bot a token, once.
    let state = |history: Value| history["messages"].as_array().unwrap().iter().find(|m| m["mid"] == mid.as_str()).unwrap()["notification"].clone();
    assert_eq!(state(ann.history("shop").await), json!({"accepted": false, "stopped": false}));
    let (status, answer) = ann.call(Method::POST, &format!("/threads/shop/messages/{mid}/notify-me"), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state(ann.history("shop").await), json!({"accepted": true, "stopped": false}), "the thread remembers the tap");
    let (status, _) = ann.call(Method::POST, &format!("/threads/shop/messages/{mid}/notify-me"), None).await;
    assert_eq!(status, 400, "tapped once");
    let optin = bot.receiver.wait_for("the opt-in", |e| e["optin"]["type"] == "one_time_notif_req").await;
    assert_eq!((&optin["sender"]["id"], &optin["optin"]["payload"]), (&json!(psid), &json!("SKU_RED")));
    let token = optin["optin"]["one_time_notif_token"].as_str().unwrap().to_string();

    // Two days later the window is closed, but the token sends one message, no tag needed.
    advance(&server, 48 * HOUR_MS).await;
    let closed = send(&server, &bot, &psid, json!({"messaging_type": "RESPONSE"})).await;
    assert!(window_closed(&closed), "{closed:?}");
    let by_token = json!({"recipient": {"one_time_notif_token": token}, "message": {"text": "The red one is back!"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token.clone())).await;
    assert_eq!((status, &answer["recipient_id"]), (200, &json!(psid)), "{answer}");
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token)).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "only once: {answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("already been used"));
    let bogus = json!({"recipient": {"one_time_notif_token": "not-a-token"}, "message": {"text": "x"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(bogus)).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    assert_eq!(ann.history("shop").await["messages"].as_array().unwrap().last().unwrap()["text"], "The red one is back!");

    // The used token frees the topic: a new request may go once the person writes again.
    ann.send("shop", "thanks!").await;
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn recurring_notifications_follow_their_frequency_and_the_persons_stop() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("shop", "messages,messaging_optins").await;
    let ann_person = server.person("ann").await;
    let ann = server.sign_in(&ann_person).await;
    ann.send("shop", "any deals?").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "any deals?").await["sender"]["id"].as_str().unwrap().to_string();
    let optin_request = |title: &str| {
        json!({"recipient": {"id": psid}, "message": {"attachment": {"type": "template", "payload": {
            "template_type": "notification_messages", "title": title, "payload": "DEALS",
            "notification_messages_frequency": "DAILY", "notification_messages_cta_text": "ALLOW"}}}})
    };
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(optin_request("Daily deals"))).await;
    assert_eq!(status, 200, "{sent}");
    let (status, again) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(optin_request("Weekly news"))).await;
    assert_eq!((status, &again["error"]["code"], &again["error"]["error_subcode"]), (400, &json!(9), &json!(2018352)), "one request a day: {again}");

    let mid = sent["message_id"].as_str().unwrap().to_string();
    let (status, answer) = ann.call(Method::POST, &format!("/threads/shop/messages/{mid}/notifications"), None).await;
    assert_eq!(status, 200, "{answer}");
    let optin = bot.receiver.wait_for("the opt-in", |e| e["optin"]["type"] == "notification_messages" && e["optin"]["user_token_status"].is_string()).await;
    assert_eq!((&optin["optin"]["payload"], &optin["optin"]["notification_messages_frequency"]), (&json!("DEALS"), &json!("DAILY")));
    assert!(optin["optin"]["token_expiry_timestamp"].as_i64().is_some());
    let token = optin["optin"]["notification_messages_token"].as_str().unwrap().to_string();

    // Outside the window, one message per day with the token.
    advance(&server, 30 * HOUR_MS).await;
    let by_token = |text: &str| json!({"recipient": {"notification_messages_token": token}, "message": {"text": text}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("deal one"))).await;
    assert_eq!((status, &answer["recipient_id"]), (200, &json!(psid)), "{answer}");
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("deal two"))).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(4), &json!(2018354)), "{answer}");
    advance(&server, 24 * HOUR_MS).await;
    assert_eq!(server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("deal two"))).await.0, 200, "the next day");

    // The person stops the topic: the bot hears of it, and the token stops working.
    advance(&server, 24 * HOUR_MS).await;
    let (status, _) = ann.call(Method::POST, &format!("/threads/shop/messages/{mid}/notifications/stop"), None).await;
    assert_eq!(status, 200);
    let history = ann.history("shop").await;
    let request = history["messages"].as_array().unwrap().iter().find(|m| m["mid"] == mid.as_str()).unwrap();
    assert_eq!(request["notification"], json!({"accepted": true, "stopped": true}));
    let stopped = bot.receiver.wait_for("the stop", |e| e["optin"]["notification_messages_status"] == "STOP_NOTIFICATIONS").await;
    assert_eq!(stopped["optin"]["notification_messages_token"], token.as_str());
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("deal three"))).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(10), &json!(1893015)), "{answer}");
    let (status, _) = ann.call(Method::POST, &format!("/threads/shop/messages/{mid}/notifications/resume"), None).await;
    assert_eq!(status, 200);
    bot.receiver.wait_for("the resume", |e| e["optin"]["notification_messages_status"] == "RESUME_NOTIFICATIONS").await;
    assert_eq!(server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("deal three"))).await.0, 200);

    // Past the token's six months, it has expired; an unknown token is invalid.
    advance(&server, 183 * 24 * HOUR_MS).await;
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_token("too late"))).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("expired"), "{answer}");
    let bogus = json!({"recipient": {"notification_messages_token": "nope"}, "message": {"text": "x"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(bogus)).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)));
    assert!(answer["error"]["message"].as_str().unwrap().contains("invalid"), "{answer}");
    // Half a year later the person's session has expired too: they sign in again.
    let ann = server.sign_in(&ann_person).await;
    let texts: Vec<Value> = ann.history("shop").await["messages"].as_array().unwrap().iter().filter_map(|m| m.get("text").cloned()).collect();
    assert_eq!(texts.iter().filter(|t| t.as_str().is_some_and(|t| t.starts_with("deal"))).count(), 3, "{texts:?}");
}

#[tokio::test]
async fn rate_limits_answer_meta_codes_and_usage_headers() {
    // A clock that stands still: the windows move only when the test says.
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |s| {
        s.rate_limits.app_calls_per_hour = 8;
        s.rate_limits.page_calls_per_day = 5;
        s.rate_limits.page_calls_per_engaged_person = 0;
        s.rate_limits.page_sends_per_second = 2;
    })
    .await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hi").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();
    let graph = |path: &str| format!("{}{path}", server.graph());
    let send = || {
        server
            .http
            .post(graph("/me/messages"))
            .bearer_auth(&bot.page_token)
            .json(&json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "hello"}}))
            .send()
    };
    // `bot()` already made two calls with the Page token (installing, and nothing else
    // counts here), so count from what the headers say.
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let page_usage: Value = serde_json::from_str(first.headers()["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    let used = page_usage[&bot.page.id][0]["call_count"].as_u64().unwrap();
    assert!(used > 0 && used <= 100, "{page_usage}");
    assert_eq!(page_usage[&bot.page.id][0]["type"], "messenger");
    let app_usage: Value = serde_json::from_str(first.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    assert!(app_usage["call_count"].as_u64().unwrap() > 0);

    let second = send().await.unwrap();
    assert_eq!(second.status(), 200);
    let third: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!((&third["error"]["code"], &third["error"]["error_subcode"]), (&json!(613), &json!(2534040)), "two sends a second: {third}");

    clock.advance(std::time::Duration::from_secs(1));
    let mut codes = Vec::new();
    for _ in 0..4 {
        let answer: Value = send().await.unwrap().json().await.unwrap();
        codes.push(answer["error"]["code"].as_u64().unwrap_or(0));
        clock.advance(std::time::Duration::from_secs(1));
    }
    assert!(codes.contains(&32), "the Page's daily budget of 5 runs out: {codes:?}");

    // A day later the windows are new: the app's own calls run into its hourly 8.
    clock.advance(std::time::Duration::from_secs(24 * 3600));
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let mut codes = Vec::new();
    for _ in 0..9 {
        let (_, answer) = server.graph_call(Method::GET, &format!("/{}/subscriptions", bot.app.id), Some(&app_token), None).await;
        codes.push(answer["error"]["code"].as_u64().unwrap_or(0));
    }
    assert_eq!(codes, vec![0, 0, 0, 0, 0, 0, 0, 0, 4], "the ninth call of the hour");
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_send_refusals_total{code=\"4\",subcode=\"0\"}"), "{metrics}");
    assert!(metrics.contains("switchboard_send_refusals_total{code=\"613\",subcode=\"2534040\"} 1"), "{metrics}");
}
