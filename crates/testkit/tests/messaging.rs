//! A person messages a Page, a bot answers through the Send API: over real HTTP,
//! a real SQLite file, and a webhook receiver that checks both signatures.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{TestServer, ALL_CORE_FIELDS};

#[tokio::test]
async fn a_person_message_reaches_the_bot_and_its_answer_reaches_the_person() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", ALL_CORE_FIELDS).await;
    let ann = server.person("ann").await;
    let mut ann = server.sign_in(&ann).await;
    ann.listen().await;

    let sent = ann.send("shop", "hello wörld 😊").await;
    let event = bot.receiver.wait_for("the messages event", |e| e["message"]["text"] == "hello wörld 😊").await;
    let psid = event["sender"]["id"].as_str().expect("sender PSID").to_string();
    assert_eq!(event["recipient"]["id"], bot.page.id);
    assert_eq!(event["message"]["mid"], sent["mid"]);
    assert!(event["timestamp"].as_i64().unwrap() > 0);

    // The POST: Meta's envelope, one event per entry, non-ASCII escaped, both signatures valid.
    let post = bot.receiver.posts().into_iter().find(|p| p.json["entry"][0]["messaging"][0]["message"]["mid"] == sent["mid"]).unwrap();
    assert!(post.sha1_valid && post.sha256_valid);
    assert_eq!(post.json["object"], "page");
    assert_eq!(post.json["entry"][0]["id"], bot.page.id);
    assert_eq!(post.json["entry"][0]["messaging"].as_array().unwrap().len(), 1);
    assert!(post.body.is_ascii(), "webhook bodies escape non-ASCII");
    let raw = String::from_utf8(post.body.clone()).unwrap();
    assert!(raw.contains(r"hello w\u00f6rld \ud83d\ude0a"), "{raw}");

    // The bot answers through the Send API.
    let (status, answer) = server
        .graph_call(
            Method::POST,
            "/me/messages",
            Some(&bot.page_token),
            Some(json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "hi Ann", "metadata": "trace-1"}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["recipient_id"], psid.as_str());
    let mid = answer["message_id"].as_str().unwrap().to_string();
    assert!(mid.starts_with("m_"));

    // The person sees it live, and in the thread's history.
    let live = ann.wait_live("the answer, live", |e| e["type"] == "message" && e["message"]["text"] == "hi Ann").await;
    assert_eq!(live["message"]["mid"], mid.as_str());
    assert_eq!(live["message"]["from"], "page");
    let history = ann.history("shop").await;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["hello wörld 😊", "hi Ann"]);

    // The echo reaches the bot with is_echo, app_id as a number and the metadata.
    let echo = bot.receiver.wait_for("the echo", |e| e["message"]["mid"] == mid.as_str()).await;
    assert_eq!(echo["message"]["is_echo"], true);
    assert_eq!(echo["message"]["app_id"], json!(bot.app.id.parse::<u64>().unwrap()));
    assert_eq!(echo["message"]["metadata"], "trace-1");
    assert_eq!(echo["sender"]["id"], bot.page.id);
    assert_eq!(echo["recipient"]["id"], psid.as_str());
}

#[tokio::test]
async fn delivery_and_read_receipts_become_webhooks() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", ALL_CORE_FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hi").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();
    let (status, _) = server.send_text(&bot, &psid, "welcome").await;
    assert_eq!(status, 200);

    let (status, state) = ann.call(Method::POST, "/threads/shop/delivered", Some(json!({}))).await;
    assert_eq!(status, 200);
    let delivered_at = state["delivered_watermark"].as_i64().unwrap();
    let delivery = bot.receiver.wait_for("the delivery", |e| e.get("delivery").is_some()).await;
    assert_eq!(delivery["delivery"]["watermark"], delivered_at);
    assert_eq!(delivery["sender"]["id"], psid.as_str());

    let (status, _) = ann.call(Method::POST, "/threads/shop/read", None).await;
    assert_eq!(status, 200);
    let read = bot.receiver.wait_for("the read", |e| e.get("read").is_some()).await;
    assert!(read["read"]["watermark"].as_i64().unwrap() >= delivered_at);

    // A watermark that does not move forward causes no new event.
    let (status, _) = ann.call(Method::POST, "/threads/shop/delivered", Some(json!({"watermark": 1}))).await;
    assert_eq!(status, 200);
    let threads = ann.call(Method::GET, "/threads", None).await.1;
    assert_eq!(threads["data"][0]["unread"], 0);
    // A marker after it: the thread's events arrive in order, so once the marker is
    // in, a delivery event before it would be too.
    ann.send("shop", "marker").await;
    bot.receiver.wait_for("the marker", |e| e["message"]["text"] == "marker").await;
    let deliveries = bot.receiver.acknowledged_events().into_iter().filter(|e| e.get("delivery").is_some()).count();
    assert_eq!(deliveries, 1);
}

#[tokio::test]
async fn every_subscribed_app_gets_the_message_and_only_its_fields() {
    let server = TestServer::start().await;
    let first = server.bot("shop", "messages").await;
    // A second app on the same Page (a secondary receiver: the thread is the first
    // app's), asking for echoes, on standby.
    let app = server.app("second").await;
    let token = server.grant(&first.page, &app, &first.admin).await;
    let receiver = switchboard_testkit::WebhookReceiver::start(&app.secret).await;
    server.subscribe(&app, &receiver, "messages,message_echoes,standby").await;
    server.install(&token, &first.page, "message_echoes,standby").await;

    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "to both").await;
    let event = first.receiver.wait_for("the message at the first app", |e| e["message"]["text"] == "to both").await;
    let psid = event["sender"]["id"].as_str().unwrap().to_string();
    let (status, _) = server.send_text(&first, &psid, "from the first app").await;
    assert_eq!(status, 200);
    let echo = receiver.wait_for_standby("the first app's echo at the second app", |e| e["message"]["text"] == "from the first app").await;
    assert_eq!(echo["message"]["app_id"], json!(first.app.id.parse::<u64>().unwrap()));
    // The second app asked the Page for echoes only; the first app did not ask for echoes.
    assert!(receiver.acknowledged_standby().iter().all(|e| e["message"]["is_echo"] == true));
    assert!(receiver.acknowledged_events().is_empty(), "the thread is the first app's: nothing under messaging");
    assert!(first.receiver.acknowledged_events().iter().all(|e| e["message"].get("is_echo").is_none()));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_bytes_and_in_thread_order() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    ann.send("shop", "first").await;
    ann.send("shop", "second").await;
    switchboard_testkit::eventually("two failed attempts", || {
        let failures = bot.receiver.posts().iter().filter(|p| p.answered == 500).count();
        async move { (failures >= 2).then_some(()) }
    })
    .await;
    // While the first event fails, the second of the same thread is held back.
    assert!(bot.receiver.posts().iter().all(|p| p.json["entry"][0]["messaging"][0]["message"]["text"] == "first"));
    bot.receiver.fail_with(0);
    bot.receiver.wait_for("the second message", |e| e["message"]["text"] == "second").await;

    let posts = bot.receiver.posts();
    let first_bodies: Vec<&Vec<u8>> = posts.iter().filter(|p| p.json["entry"][0]["messaging"][0]["message"]["text"] == "first").map(|p| &p.body).collect();
    assert!(first_bodies.len() >= 3);
    // A retry may carry the thread's next event after it, in the same POST (its run),
    // or not (each event's retry time has its own jitter): the first entry's bytes are
    // the same in every one.
    let entry = first_entry(first_bodies[0]);
    assert!(first_bodies.iter().all(|body| first_entry(body) == entry), "every retry carries the same bytes, first");
    let texts: Vec<Value> = bot.receiver.acknowledged_events().into_iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, vec![json!("first"), json!("second")]);
}

#[tokio::test]
async fn sender_actions_reach_the_person_live_and_store_nothing() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let mut ann = server.sign_in(&server.person("ann").await).await;
    ann.listen().await;
    ann.send("shop", "hi").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();
    let (status, answer) = server
        .graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(json!({"recipient": {"id": psid}, "sender_action": "typing_on"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"recipient_id": psid}));
    ann.wait_live("typing", |e| e["type"] == "typing" && e["on"] == true).await;
    assert_eq!(ann.history("shop").await["messages"].as_array().unwrap().len(), 1);
}

/// The bytes of a webhook body's first `entry`, as sent.
fn first_entry(body: &[u8]) -> &[u8] {
    let start = body.windows(9).position(|w| w == b"\"entry\":[").expect("an entry array") + 9;
    let (mut depth, mut in_string, mut escaped) = (0, false, false);
    for (at, byte) in body[start..].iter().enumerate() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{') => depth += 1,
            (false, _, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return &body[start..=start + at];
                }
            }
            _ => {}
        }
    }
    panic!("an unterminated entry")
}
