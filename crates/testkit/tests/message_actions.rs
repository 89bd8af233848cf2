//! What a person does with messages once sent, and stickers, end to end over real
//! HTTP with real webhook receivers: editing one's own text (`message_edits`, to the
//! thread's owner and on standby, within 15 minutes of the platform's clock, five
//! times), stickers both ways (the person's `messages`, the bot's echo, the image
//! served by Switchboard), a location pin shared (Meta's legacy `location`
//! attachment), and rating the Page's answers (`response_feedback`), with every
//! refusal in the API's envelope.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_testkit::{Bot, ManualClock, PersonClient, TestServer};

const FIELDS: &str = "messages,message_echoes,message_edits,response_feedback,standby";
const LIKE: u64 = 369239263222822;
const LIKE_LARGE: u64 = 369239383222810;

/// A bot, a second app on its Page (on standby), and a person who wrote `first` to
/// it; answers the person's PSID and the message's mid.
async fn thread(server: &TestServer, first: &str) -> (Bot, Bot, PersonClient, String, String) {
    let bot = server.bot("shop", FIELDS).await;
    let crm = server.join(&bot, "shop crm", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let sent = ann.send("shop", first).await;
    let mid = sent["mid"].as_str().unwrap().to_string();
    let event = bot.receiver.wait_for("the first message", |e| e["message"]["mid"] == mid.as_str()).await;
    (bot, crm, ann, event["sender"]["id"].as_str().unwrap().to_string(), mid)
}

fn error_message(answer: &Value) -> String {
    answer["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// The `message_edit` events the receiver acknowledged, in order.
fn edits_received(bot: &Bot) -> Vec<Value> {
    bot.receiver.acknowledged_events().into_iter().filter(|e| e.get("message_edit").is_some()).collect()
}

#[tokio::test]
async fn the_person_edits_their_text_five_times_within_fifteen_minutes() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let (bot, crm, mut ann, psid, mid) = thread(&server, "helo").await;
    ann.listen().await;

    let (status, edited) = ann.call(Method::PUT, &format!("/threads/shop/messages/{mid}"), Some(json!({"text": "hello é"}))).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!((edited["mid"].as_str(), edited["text"].as_str(), edited["edits"].as_u64()), (Some(mid.as_str()), Some("hello é"), Some(1)));
    let event = bot.receiver.wait_for("the edit", |e| e.get("message_edit").is_some()).await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "message_edit": {"mid": mid, "text": "hello é", "num_edit": 1}});
    assert_eq!(event, expected);
    assert_eq!(event["timestamp"].as_i64(), Some(server.platform().ops.clock().now), "stamped by the platform's clock");
    // The thread is the bot's: the other app hears of it on standby only.
    let standby = crm.receiver.wait_for_standby("the edit, on standby", |e| e.get("message_edit").is_some()).await;
    assert_eq!(standby, expected);
    ann.wait_live("the edit, live", |e| e["type"] == "edit" && e["mid"] == mid.as_str() && e["edits"] == 1).await;

    // The thread, the Conversations API and the Page inbox show the new text.
    let history = ann.history("shop").await;
    assert_eq!((history["messages"][0]["text"].as_str(), history["messages"][0]["edits"].as_u64()), (Some("hello é"), Some(1)));
    let (status, node) = server.graph_call(Method::GET, &format!("/{mid}?fields=message"), Some(&bot.page_token), None).await;
    assert_eq!((status, node), (200, json!({"id": mid, "message": "hello é"})));
    let (_, conversations) = server.graph_call(Method::GET, "/me/conversations", Some(&bot.page_token), None).await;
    let conversation = conversations["data"][0]["id"].as_str().unwrap().to_string();
    let (status, messages) = server.graph_call(Method::GET, &format!("/{conversation}/messages?fields=message"), Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{messages}");
    assert_eq!(messages["data"][0], json!({"id": mid, "message": "hello é"}));
    let admin = server.sign_in(&bot.admin).await;
    let (status, inbox) = server.console_as(&admin.token, Method::GET, &format!("/pages/{}/inbox/{psid}", bot.page.id), Value::Null).await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!((inbox["messages"][0]["text"].as_str(), inbox["messages"][0]["edits"].as_u64()), (Some("hello é"), Some(1)));

    // Four more, up to the fifteenth minute; a sixth is refused.
    clock.advance(Duration::from_secs(14 * 60));
    for n in 2..=5 {
        let (status, answer) = ann.call(Method::PUT, &format!("/threads/shop/messages/{mid}"), Some(json!({"text": format!("edit {n}")}))).await;
        assert_eq!((status, answer["edits"].as_u64()), (200, Some(n)), "{answer}");
    }
    let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{mid}"), Some(json!({"text": "edit 6"}))).await;
    assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "{refused}");
    assert!(error_message(&refused).contains("at most 5 times"), "{refused}");

    // Too late, by the platform's clock, for a message a second past its fifteen minutes.
    let second = ann.send("shop", "typo").await;
    let second = second["mid"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(15 * 60 + 1));
    let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{second}"), Some(json!({"text": "fixed"}))).await;
    assert_eq!(status, 400, "{refused}");
    assert!(error_message(&refused).contains("within 15 minutes"), "{refused}");

    // Only one's own text, in one's own thread, within the text limit.
    let bob = server.sign_in(&server.person("bob").await).await;
    bob.send("shop", "bob was here").await;
    let (status, refused) = bob.call(Method::PUT, &format!("/threads/shop/messages/{second}"), Some(json!({"text": "mine now"}))).await;
    assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "another person's message: {refused}");
    let (_, sent) = server.send_text(&bot, &psid, "Our offer").await;
    let offer = sent["message_id"].as_str().unwrap().to_string();
    let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{offer}"), Some(json!({"text": "better offer"}))).await;
    assert_eq!(status, 400, "the Page's message");
    assert!(error_message(&refused).contains("your own messages"), "{refused}");
    let fresh = ann.send("shop", "fresh").await["mid"].as_str().unwrap().to_string();
    for (text, why) in [(json!("   "), "non-empty"), (json!("a".repeat(20_001)), "at most 20000")] {
        let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{fresh}"), Some(json!({"text": text}))).await;
        assert_eq!(status, 400);
        assert!(error_message(&refused).contains(why), "{refused}");
    }
    let (status, _) = ann.call(Method::PUT, &format!("/threads/shop/messages/{fresh}"), Some(json!({"words": "no text"}))).await;
    assert_eq!(status, 400, "no text");

    // A last edit marks the end of the thread's events: the refused ones sent none.
    let (status, _) = ann.call(Method::PUT, &format!("/threads/shop/messages/{fresh}"), Some(json!({"text": "fresh, edited"}))).await;
    assert_eq!(status, 200);
    bot.receiver.wait_for("the last edit", |e| e["message_edit"]["text"] == "fresh, edited").await;
    let numbers: Vec<(String, u64)> =
        edits_received(&bot).iter().map(|e| (e["message_edit"]["text"].as_str().unwrap().to_string(), e["message_edit"]["num_edit"].as_u64().unwrap())).collect();
    let expected: Vec<(String, u64)> =
        [("hello é", 1), ("edit 2", 2), ("edit 3", 3), ("edit 4", 4), ("edit 5", 5), ("fresh, edited", 1)].iter().map(|(t, n)| (t.to_string(), *n)).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn stickers_both_ways() {
    let server = TestServer::start().await;
    let (bot, _crm, mut ann, psid, _) = thread(&server, "hi").await;
    ann.listen().await;
    let like_url = format!("{}/media/stickers/{LIKE}.svg", server.url);

    // The person sends the like sticker: a `sticker` attachment, no text.
    let (status, sent) = ann.call(Method::POST, "/threads/shop/messages", Some(json!({"sticker_id": LIKE}))).await;
    assert_eq!(status, 200, "{sent}");
    let mid = sent["mid"].as_str().unwrap().to_string();
    assert_eq!(sent["attachment"], json!({"type": "sticker", "payload": {"url": like_url, "sticker_id": LIKE}}));
    let event = bot.receiver.wait_for("the sticker", |e| e["message"]["mid"] == mid.as_str()).await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "message": {"mid": mid, "attachments": [{"type": "sticker", "payload": {"url": like_url, "sticker_id": LIKE}}]}});
    assert_eq!(event, expected);
    let (status, as_digits) = ann.call(Method::POST, "/threads/shop/messages", Some(json!({"sticker_id": LIKE.to_string()}))).await;
    assert_eq!((status, &as_digits["attachment"]["payload"]["sticker_id"]), (200, &json!(LIKE)), "{as_digits}");

    // Its image is served here, as an image that cannot act as a page.
    let image = server.http.get(&like_url).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(image.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    let svg = image.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(r#"width="84""#) && svg.contains("<title>Like</title>"), "{svg}");
    let large = server.http.get(format!("{}/media/stickers/{LIKE_LARGE}.svg", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(large.contains(r#"width="192""#), "{large}");
    for unknown in ["42.svg", "369239263222822", "x.svg"] {
        assert_eq!(server.http.get(format!("{}/media/stickers/{unknown}", server.url)).send().await.unwrap().status(), 404, "{unknown}");
    }

    // The bot sends the large like (as a digit string, as some SDKs do): the echo
    // carries it, and the person sees it live and in the thread.
    let send = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"sticker_id": LIKE_LARGE.to_string(), "metadata": "m"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(send)).await;
    assert_eq!(status, 200, "{answer}");
    let echo_mid = answer["message_id"].as_str().unwrap().to_string();
    let echo = bot.receiver.wait_for("the echo", |e| e["message"]["mid"] == echo_mid.as_str()).await;
    let large_url = format!("{}/media/stickers/{LIKE_LARGE}.svg", server.url);
    let app_id: u64 = bot.app.id.parse().unwrap();
    assert_eq!(
        echo,
        json!({"sender": {"id": bot.page.id}, "recipient": {"id": psid}, "timestamp": echo["timestamp"],
            "message": {"is_echo": true, "app_id": app_id, "metadata": "m", "mid": echo_mid,
                "attachments": [{"type": "sticker", "payload": {"url": large_url, "sticker_id": LIKE_LARGE}}]}})
    );
    let live = ann.wait_live("the bot's sticker", |e| e["type"] == "message" && e["message"]["mid"] == echo_mid.as_str()).await;
    assert_eq!(live["message"]["attachment"]["type"], "sticker");
    let history = ann.history("shop").await;
    let last = history["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["from"].as_str(), &last["attachment"]["payload"]["sticker_id"]), (Some("page"), &json!(LIKE_LARGE)));
    let (status, node) = server.graph_call(Method::GET, &format!("/{echo_mid}?fields=message,sticker,attachments"), Some(&bot.page_token), None).await;
    assert_eq!((status, node), (200, json!({"id": echo_mid, "message": "", "sticker": large_url, "attachments": {"data": []}})));

    // Unknown stickers and mixed content are refused with code 100, on both sides.
    for message in [json!({"sticker_id": 42}), json!({"sticker_id": "like"}), json!({"sticker_id": LIKE, "text": "and words"})] {
        let send = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message});
        let (status, refused) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(send)).await;
        assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "{message}: {refused}");
        assert!(error_message(&refused).contains("sticker_id"), "{refused}");
    }
    for body in [json!({"sticker_id": 123}), json!({"sticker_id": LIKE, "text": "both"}), json!({"sticker_id": {"id": LIKE}})] {
        let (status, refused) = ann.call(Method::POST, "/threads/shop/messages", Some(body.clone())).await;
        assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "{body}: {refused}");
    }
}

#[tokio::test]
async fn the_person_rates_the_pages_answers() {
    let server = TestServer::start().await;
    let (bot, crm, ann, psid, own) = thread(&server, "hi").await;
    let (_, sent) = server.send_text(&bot, &psid, "Here is your answer").await;
    let answer = sent["message_id"].as_str().unwrap().to_string();

    let (status, body) = ann.call(Method::PUT, &format!("/threads/shop/messages/{answer}/feedback"), Some(json!({"feedback": "good"}))).await;
    assert_eq!((status, body), (200, json!({"success": true})));
    let event = bot.receiver.wait_for("the rating", |e| e["response_feedback"]["feedback"] == "Good response").await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "response_feedback": {"feedback": "Good response", "mid": answer}});
    assert_eq!(event, expected);
    assert_eq!(crm.receiver.wait_for_standby("the rating, on standby", |e| e.get("response_feedback").is_some()).await, expected);
    assert_eq!(ann.history("shop").await["messages"][1]["feedback"], "good");

    // Changed: each rating is an event, the last one stands.
    let (status, _) = ann.call(Method::PUT, &format!("/threads/shop/messages/{answer}/feedback"), Some(json!({"feedback": "bad"}))).await;
    assert_eq!(status, 200);
    let event = bot.receiver.wait_for("the new rating", |e| e["response_feedback"]["feedback"] == "Bad response").await;
    assert_eq!(event["response_feedback"], json!({"feedback": "Bad response", "mid": answer}));
    assert_eq!(ann.history("shop").await["messages"][1]["feedback"], "bad");

    // Refused: one's own message, a rating that is neither, another person's thread.
    let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{own}/feedback"), Some(json!({"feedback": "good"}))).await;
    assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)));
    assert!(error_message(&refused).contains("Only the Page's messages"), "{refused}");
    let (status, refused) = ann.call(Method::PUT, &format!("/threads/shop/messages/{answer}/feedback"), Some(json!({"feedback": "meh"}))).await;
    assert_eq!(status, 400, "{refused}");
    let bob = server.sign_in(&server.person("bob").await).await;
    bob.send("shop", "hello too").await;
    let (status, _) = bob.call(Method::PUT, &format!("/threads/shop/messages/{answer}/feedback"), Some(json!({"feedback": "bad"}))).await;
    assert_eq!(status, 400, "another person's thread");

    // A marker after the refusals: exactly the two ratings arrived.
    let marker = ann.send("shop", "marker").await;
    bot.receiver.wait_for("the marker", |e| e["message"]["mid"] == marker["mid"]).await;
    let ratings: Vec<Value> = bot.receiver.acknowledged_events().into_iter().filter_map(|e| e.get("response_feedback").cloned()).collect();
    assert_eq!(ratings, vec![json!({"feedback": "Good response", "mid": answer}), json!({"feedback": "Bad response", "mid": answer})]);
}

#[tokio::test]
async fn the_person_shares_a_location_pin() {
    let server = TestServer::start().await;
    let (bot, _crm, ann, psid, _) = thread(&server, "hi").await;

    // The pin is stored as the person's message and reaches the bot as Meta's legacy
    // location attachment, exactly.
    let (status, sent) = ann.call(Method::POST, "/threads/shop/messages", Some(json!({"location": {"lat": 48.8584, "long": 2.2945}}))).await;
    assert_eq!(status, 200, "{sent}");
    let mid = sent["mid"].as_str().unwrap().to_string();
    let pin = json!({"type": "location", "payload": {"coordinates": {"lat": 48.8584, "long": 2.2945}}});
    assert_eq!(sent["attachment"], pin, "{sent}");
    let event = bot.receiver.wait_for("the pin", |e| e["message"]["mid"] == mid.as_str()).await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "message": {"mid": mid, "attachments": [pin]}});
    assert_eq!(event, expected);
    let history = ann.history("shop").await;
    let last = history["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["mid"].as_str(), &last["attachment"]), (Some(mid.as_str()), &pin));

    // Off the globe, not a number, or mixed with other content: refused in the API's
    // envelope (code 100), and nothing sent.
    for (body, why) in [
        (json!({"location": {"lat": 90.01, "long": 0}}), "location.lat"),
        (json!({"location": {"lat": -91, "long": 0}}), "location.lat"),
        (json!({"location": {"lat": 0, "long": 180.5}}), "location.long"),
        (json!({"location": {"lat": 0, "long": -181}}), "location.long"),
        (json!({"location": {"lat": 1, "long": 2}, "text": "and words"}), "one of"),
        (json!({"location": {"lat": 1, "long": 2}, "sticker_id": LIKE}), "one of"),
    ] {
        let (status, refused) = ann.call(Method::POST, "/threads/shop/messages", Some(body.clone())).await;
        assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "{body}: {refused}");
        assert!(error_message(&refused).contains(why), "{body}: {refused}");
    }
    for body in [json!({"location": {"lat": "48.8", "long": 2}}), json!({"location": {"lat": 48.8}}), json!({"location": "here"})] {
        let (status, refused) = ann.call(Method::POST, "/threads/shop/messages", Some(body.clone())).await;
        assert_eq!((status, refused["error"]["code"].as_i64()), (400, Some(100)), "{body}: {refused}");
    }
    // The poles and the antimeridian are on the globe. This last pin marks the end of
    // the thread's events: none of the refused ones came before it.
    let (status, last) = ann.call(Method::POST, "/threads/shop/messages", Some(json!({"location": {"lat": -90, "long": 180}}))).await;
    assert_eq!(status, 200, "{last}");
    let last_mid = last["mid"].as_str().unwrap().to_string();
    bot.receiver.wait_for("the last pin", |e| e["message"]["mid"] == last_mid.as_str()).await;
    let pins: Vec<Value> = bot.receiver.acknowledged_events().into_iter().filter(|e| e["message"]["attachments"][0]["type"] == "location").collect();
    let mids: Vec<&str> = pins.iter().map(|e| e["message"]["mid"].as_str().unwrap()).collect();
    assert_eq!(mids, [mid.as_str(), last_mid.as_str()]);
    assert_eq!(pins[1]["message"]["attachments"][0]["payload"]["coordinates"], json!({"lat": -90.0, "long": 180.0}));
}
