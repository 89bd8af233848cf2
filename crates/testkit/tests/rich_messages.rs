//! Rich messages end to end: every Send API form against its JSON fixture (request,
//! response, echo webhook, the person's view), media by URL, upload and id with
//! Meta's errors, limits at their boundaries over HTTP, and the person's side:
//! quick-reply taps, postback buttons, reactions, replies and attachments.

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use switchboard_testkit::{Bot, ManualClock, MediaFile, MediaServer, PersonClient, TestServer, PNG};

const FIELDS: &str = "messages,message_echoes,messaging_postbacks,message_reactions";

/// A bot and a person who wrote to it; answers the person's PSID and first message.
async fn thread(server: &TestServer, login: &str) -> (Bot, String, PersonClient, String) {
    let bot = server.bot("shop", FIELDS).await;
    let person = server.sign_in(&server.person(login).await).await;
    let first = person.send("shop", "hi").await;
    let event = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await;
    (bot, event["sender"]["id"].as_str().unwrap().to_string(), person, first["mid"].as_str().unwrap().to_string())
}

/// The fixture with its placeholders replaced.
fn expand(value: &Value, vars: &HashMap<&str, Value>) -> Value {
    match value {
        Value::String(s) if s.starts_with('$') => vars.get(s.as_str()).cloned().unwrap_or_else(|| panic!("no value for {s}")),
        Value::Array(items) => Value::Array(items.iter().map(|v| expand(v, vars)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), expand(v, vars))).collect()),
        other => other.clone(),
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/send/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn upload(server: &TestServer, bot: &Bot, kind: &str, file_name: &str, mime: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()).mime_str(mime).unwrap();
    let message = json!({"attachment": {"type": kind, "payload": {"is_reusable": true}}}).to_string();
    let form = reqwest::multipart::Form::new().text("message", message).part("filedata", part);
    let response = server.http.post(format!("{}/me/message_attachments", server.graph())).bearer_auth(&bot.page_token).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn media_url_of(event_or_view: &Value) -> String {
    let url = event_or_view.pointer("/message/attachments/0/payload/url").or_else(|| event_or_view.pointer("/attachment/payload/url"));
    url.and_then(Value::as_str).unwrap().to_string()
}

#[tokio::test]
async fn every_send_form_matches_its_fixture() {
    let server = TestServer::start().await;
    let (bot, psid, person, person_mid) = thread(&server, "ann").await;
    let media = MediaServer::start().await;
    let source_url = media.put("hat.png", MediaFile::ok("image/png", PNG));
    let (status, uploaded) = upload(&server, &bot, "image", "dot.png", "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200, "{uploaded}");
    let attachment_id = uploaded["attachment_id"].as_str().unwrap().to_string();

    let forms = [
        "text_with_quick_replies",
        "generic_template",
        "button_template",
        "receipt_template",
        "media_template",
        "image_by_url",
        "file_by_attachment_id",
        "reply",
    ];
    for form in forms {
        let fixture = fixture(form);
        let mut vars: HashMap<&str, Value> = HashMap::new();
        vars.insert("$PSID", json!(psid));
        vars.insert("$PAGE_ID", json!(bot.page.id));
        vars.insert("$APP_ID", json!(bot.app.id.parse::<u64>().unwrap()));
        vars.insert("$SOURCE_URL", json!(source_url));
        vars.insert("$PERSON_MID", json!(person_mid));
        vars.insert("$ATTACHMENT_ID", json!(attachment_id));
        let mut request = expand(&fixture["request"], &vars);
        request["recipient"] = json!({"id": psid});
        let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(request)).await;
        assert_eq!(status, 200, "{form}: {answer}");
        let mid = answer["message_id"].as_str().unwrap().to_string();
        vars.insert("$MID", json!(mid));
        if let Some(id) = answer["attachment_id"].as_str() {
            vars.insert("$ATTACHMENT_ID", json!(id));
        }
        let echo = bot.receiver.wait_for(&format!("the echo of {form}"), |e| e["message"]["mid"] == mid.as_str()).await;
        vars.insert("$TIME", echo["timestamp"].clone());
        if echo.pointer("/message/attachments/0/payload/url").is_some() || echo.pointer("/message/attachments/0/payload/elements/0/url").is_some() {
            let url = echo.pointer("/message/attachments/0/payload/url").or_else(|| echo.pointer("/message/attachments/0/payload/elements/0/url"));
            vars.insert("$MEDIA_URL", url.unwrap().clone());
        }
        assert_eq!(answer, expand(&fixture["response"], &vars), "{form}: the response");
        assert_eq!(echo, expand(&fixture["echo"], &vars), "{form}: the echo");
        let history = person.history("shop").await;
        let view = history["messages"].as_array().unwrap().iter().find(|m| m["mid"] == mid.as_str()).cloned().unwrap();
        assert_eq!(view, expand(&fixture["person"], &vars), "{form}: the person's view");
        if let Some(url) = vars.get("$MEDIA_URL").and_then(Value::as_str) {
            let served = server.http.get(url).send().await.unwrap();
            assert_eq!(served.headers()["content-type"], "image/png", "{form}");
            assert_eq!(served.bytes().await.unwrap().as_ref(), PNG, "{form}: the same bytes");
        }
    }
}

#[tokio::test]
async fn media_errors_are_metas() {
    let server = TestServer::start().await;
    let (bot, psid, _person, _) = thread(&server, "ann").await;
    let media = MediaServer::start().await;
    let send = |attachment: Value| {
        let body = json!({"recipient": {"id": psid}, "message": {"attachment": attachment}});
        server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body))
    };
    let code = |answer: &Value| (answer["error"]["code"].clone(), answer["error"]["error_subcode"].clone());

    let missing = format!("{}/nothing-here.png", media.url);
    let (status, answer) = send(json!({"type": "image", "payload": {"url": missing}})).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018008))), "{answer}");

    let html = media.put("song.mp3", MediaFile::ok("text/html", "<html>not audio</html>"));
    let (status, answer) = send(json!({"type": "audio", "payload": {"url": html}})).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018047))), "audio must be served as audio/*: {answer}");

    // Images fetched from a URL: 8 MB at most, exactly 8 MB is fine.
    let limit = 8 * 1024 * 1024;
    let mut big = PNG.to_vec();
    big.resize(limit, 0);
    let at_limit = media.put("big.png", MediaFile::ok("image/png", big.clone()));
    let (status, answer) = send(json!({"type": "image", "payload": {"url": at_limit}})).await;
    assert_eq!(status, 200, "8 MB: {answer}");
    big.push(0);
    let over = media.put("bigger.png", MediaFile::ok("image/png", big));
    let (status, answer) = send(json!({"type": "image", "payload": {"url": over}})).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018109))), "8 MB + 1: {answer}");

    // Uploads: 25 MB at most.
    let limit = 25 * 1024 * 1024;
    let mut file = b"%PDF-1.7\n".to_vec();
    file.resize(limit, b' ');
    let (status, answer) = upload(&server, &bot, "file", "big.pdf", "application/pdf", file.clone()).await;
    assert_eq!(status, 200, "25 MB: {answer}");
    file.push(b' ');
    let (status, answer) = upload(&server, &bot, "file", "bigger.pdf", "application/pdf", file).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018109))), "25 MB + 1: {answer}");
    let (status, answer) = upload(&server, &bot, "video", "clip.mp4", "text/plain", b"not a video".to_vec()).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018047))), "{answer}");

    // An attachment id is its Page's only.
    let (_, uploaded) = upload(&server, &bot, "image", "dot.png", "image/png", PNG.to_vec()).await;
    let id = uploaded["attachment_id"].as_str().unwrap();
    let other = server.bot("other", "messages").await;
    let body = json!({"message": {"attachment": {"type": "image", "payload": {"attachment_id": id}}}, "recipient": {"id": psid}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&other.page_token), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = send(json!({"type": "image", "payload": {"attachment_id": "123456789"}})).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018074))), "{answer}");
    let (status, answer) = send(json!({"type": "video", "payload": {"attachment_id": id}})).await;
    assert_eq!((status, code(&answer)), (400, (json!(100), json!(2018047))), "an image id sent as a video: {answer}");
    let (status, answer) = send(json!({"type": "image", "payload": {"url": "ftp://example.com/a.png"}})).await;
    assert_eq!((status, code(&answer).0), (400, json!(100)), "{answer}");

    // The upload API by URL, too.
    let hat = media.put("hat.png", MediaFile::ok("image/png", PNG));
    let body = json!({"message": {"attachment": {"type": "image", "payload": {"url": hat, "is_reusable": true}}}});
    let (status, answer) = server.graph_call(Method::POST, "/me/message_attachments", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["attachment_id"].as_str().is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())), "{answer}");
}

#[tokio::test]
async fn attachment_ids_expire_after_90_days() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let ann = server.person("ann").await;
    server.sign_in(&ann).await.send("shop", "hi").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();
    let (_, uploaded) = upload(&server, &bot, "image", "dot.png", "image/png", PNG.to_vec()).await;
    let id = uploaded["attachment_id"].as_str().unwrap();
    clock.advance(Duration::from_secs(90 * 24 * 3600 - 60));
    // Sessions last 30 days: Ann signs in again and opens the window.
    server.sign_in(&ann).await.send("shop", "still there?").await;
    let body = json!({"recipient": {"id": psid}, "message": {"attachment": {"type": "image", "payload": {"attachment_id": id}}}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body.clone())).await;
    assert_eq!(status, 200, "a minute before 90 days: {answer}");
    clock.advance(Duration::from_secs(60));
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!((status, answer["error"]["error_subcode"].clone()), (400, json!(2018074)), "{answer}");
}

#[tokio::test]
async fn limits_hold_at_their_boundaries_over_http() {
    let server = TestServer::start().await;
    let (bot, psid, _person, _) = thread(&server, "ann").await;
    let reply = |n: usize| json!({"content_type": "text", "title": "t".repeat(n), "payload": "P"});
    let button = |title: &str| json!({"type": "postback", "title": title, "payload": "P"});
    let generic = |n: usize| json!({"attachment": {"type": "template", "payload": {"template_type": "generic",
        "elements": (0..n).map(|i| json!({"title": format!("e{i}"), "subtitle": "s"})).collect::<Vec<_>>()}}});
    let button_template = |text: &str, n: usize| json!({"attachment": {"type": "template", "payload": {"template_type": "button", "text": text,
        "buttons": (0..n).map(|i| button(&format!("b{i}"))).collect::<Vec<_>>()}}});
    let cases = vec![
        ("13 quick replies", json!({"text": "x", "quick_replies": (0..13).map(|_| reply(20)).collect::<Vec<_>>()}), true),
        ("14 quick replies", json!({"text": "x", "quick_replies": (0..14).map(|_| reply(20)).collect::<Vec<_>>()}), false),
        ("a 21-character quick reply", json!({"text": "x", "quick_replies": [reply(21)]}), false),
        ("a retired location quick reply", json!({"text": "x", "quick_replies": [{"content_type": "location"}]}), false),
        ("10 generic elements", generic(10), true),
        ("11 generic elements", generic(11), false),
        ("640 characters of button text", button_template(&"x".repeat(640), 3), true),
        ("641 characters of button text", button_template(&"x".repeat(641), 3), false),
        ("4 buttons", button_template("x", 4), false),
        ("no buttons", button_template("x", 0), false),
        ("2000 characters", json!({"text": "é".repeat(2000)}), true),
        ("2001 characters", json!({"text": "é".repeat(2001)}), false),
        ("1000 characters of metadata", json!({"text": "x", "metadata": "m".repeat(1000)}), true),
        ("1001 characters of metadata", json!({"text": "x", "metadata": "m".repeat(1001)}), false),
        ("an http account link", json!({"attachment": {"type": "template", "payload": {"template_type": "button", "text": "x",
            "buttons": [{"type": "account_link", "url": "http://bank.example.com"}]}}}), false),
        ("the retired list template", json!({"attachment": {"type": "template", "payload": {"template_type": "list", "elements": []}}}), false),
        ("text and attachment", json!({"text": "x", "attachment": {"type": "image", "payload": {"url": "https://example.com/a.png"}}}), false),
    ];
    for (what, message, accepted) in cases {
        let body = json!({"recipient": {"id": psid}, "message": message});
        let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
        if accepted {
            assert_eq!(status, 200, "{what}: {answer}");
        } else {
            assert_eq!((status, answer["error"]["code"].clone()), (400, json!(100)), "{what}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().starts_with("(#100) "), "{what}: {answer}");
        }
    }
}

#[tokio::test]
async fn a_person_taps_quick_replies_and_postback_buttons() {
    let server = TestServer::start().await;
    let (bot, psid, person, _) = thread(&server, "zoe").await;
    let offer = json!({"recipient": {"id": psid}, "message": {"text": "Pick:", "quick_replies": [
        {"content_type": "text", "title": "Red", "payload": "PICK_RED"}, {"content_type": "user_email"}, {"content_type": "user_phone_number"}]}});
    let (_, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(offer)).await;
    let offered = sent["message_id"].as_str().unwrap().to_string();

    let (status, tapped) = person.call(Method::POST, "/threads/shop/messages", Some(json!({"quick_reply": {"mid": offered, "index": 0}}))).await;
    assert_eq!(status, 200, "{tapped}");
    let mid = tapped["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the tap", |e| e["message"]["mid"] == mid).await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "message": {"mid": mid, "text": "Red", "quick_reply": {"payload": "PICK_RED"}}});
    assert_eq!(event, expected);

    let tap = |index: usize, value: Option<&str>| json!({"quick_reply": {"mid": offered, "index": index, "value": value}});
    let (status, tapped) = person.call(Method::POST, "/threads/shop/messages", Some(tap(1, Some("zoe@example.com")))).await;
    assert_eq!(status, 200, "{tapped}");
    let mid = tapped["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the email tap", |e| e["message"]["mid"] == mid).await;
    assert_eq!(event["message"], json!({"mid": mid, "text": "zoe@example.com", "quick_reply": {"payload": "zoe@example.com"}}));
    assert_eq!(person.call(Method::POST, "/threads/shop/messages", Some(tap(1, Some("not an email")))).await.0, 400);
    let (status, refused) = person.call(Method::POST, "/threads/shop/messages", Some(tap(2, None))).await;
    assert_eq!(status, 400, "no verified phone number to share: {refused}");
    let (status, tapped) = person.call(Method::POST, "/threads/shop/messages", Some(tap(2, Some("+1 (212) 555-2368")))).await;
    assert_eq!(status, 200, "{tapped}");
    let mid = tapped["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the phone tap", |e| e["message"]["mid"] == mid).await;
    assert_eq!(event["message"]["quick_reply"], json!({"payload": "+12125552368"}));
    let (status, _) = person.call(Method::POST, "/threads/shop/messages", Some(json!({"quick_reply": {"mid": offered, "index": 3}}))).await;
    assert_eq!(status, 400, "no such quick reply");

    let buttons = json!({"recipient": {"id": psid}, "message": {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [
        {"title": "Hat", "buttons": [{"type": "web_url", "url": "https://example.com", "title": "View"}, {"type": "postback", "title": "Buy", "payload": "BUY_HAT"}]}]}}}});
    let (_, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(buttons)).await;
    let card = sent["message_id"].as_str().unwrap().to_string();
    let (status, tapped) = person.call(Method::POST, "/threads/shop/postbacks", Some(json!({"mid": card, "button": "/elements/0/buttons/1"}))).await;
    assert_eq!(status, 200, "{tapped}");
    assert_eq!((tapped["from"].clone(), tapped["text"].clone()), (json!("person"), json!("Buy")), "the tap shows as the person's message");
    let mid = tapped["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the postback", |e| e["postback"]["mid"] == mid).await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "postback": {"mid": mid, "title": "Buy", "payload": "BUY_HAT"}});
    assert_eq!(event, expected);
    let (status, _) = person.call(Method::POST, "/threads/shop/postbacks", Some(json!({"mid": card, "button": "/elements/0/buttons/0"}))).await;
    assert_eq!(status, 400, "a URL button is no postback");
}

#[tokio::test]
async fn reactions_and_replies_both_ways() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let (bot, psid, mut person, first) = thread(&server, "ann").await;
    person.listen().await;
    let (_, sent) = server.send_text(&bot, &psid, "Our offer").await;
    let offer = sent["message_id"].as_str().unwrap().to_string();

    // The window closes; the person's reaction opens it again.
    clock.advance(Duration::from_secs(25 * 3600));
    let (status, _) = server.send_text(&bot, &psid, "too late").await;
    assert_eq!(status, 400);
    let (status, answer) = person.call(Method::PUT, &format!("/threads/shop/messages/{offer}/reaction"), Some(json!({"emoji": "\u{2764}\u{fe0f}"}))).await;
    assert_eq!(status, 200, "{answer}");
    let event = bot.receiver.wait_for("the reaction", |e| e["reaction"]["action"] == "react").await;
    let expected = json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "reaction": {"reaction": "love", "emoji": "\u{2764}\u{fe0f}", "action": "react", "mid": offer}});
    assert_eq!(event, expected);
    assert_eq!(server.send_text(&bot, &psid, "thanks for the love").await.0, 200, "a reaction is an interaction");
    let (status, _) = person.call(Method::DELETE, &format!("/threads/shop/messages/{offer}/reaction"), None).await;
    assert_eq!(status, 200);
    let event = bot.receiver.wait_for("the unreaction", |e| e["reaction"]["action"] == "unreact").await;
    assert_eq!(event["reaction"], json!({"action": "unreact", "mid": offer}));
    let (status, _) = person.call(Method::PUT, &format!("/threads/shop/messages/{first}/reaction"), Some(json!({"emoji": "x"}))).await;
    assert_eq!(status, 400, "one's own message");

    // The Page reacts to the person's message; the person sees it live and in history.
    let react = json!({"recipient": {"id": psid}, "sender_action": "react", "payload": {"message_id": first, "reaction": "\u{1F44D}"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(react)).await;
    assert_eq!((status, answer), (200, json!({"recipient_id": psid, "message_id": first})));
    person.wait_live("the Page's reaction", |e| e["type"] == "reaction" && e["mid"] == first.as_str()).await;
    let history = person.history("shop").await;
    assert_eq!(history["messages"][0]["reactions"], json!({"page": "\u{1F44D}"}));
    let elsewhere = json!({"recipient": {"id": psid}, "sender_action": "react", "payload": {"message_id": "m_nope", "reaction": "x"}});
    assert_eq!(server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(elsewhere)).await.0, 400);

    // The person replies to the Page's message.
    let (status, reply) = person.call(Method::POST, "/threads/shop/messages", Some(json!({"text": "about that", "reply_to": offer}))).await;
    assert_eq!(status, 200, "{reply}");
    let mid = reply["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the reply", |e| e["message"]["mid"] == mid).await;
    assert_eq!(event["message"], json!({"mid": mid, "text": "about that", "reply_to": {"mid": offer, "is_self_reply": false}}));
    let (status, _) = person.call(Method::POST, "/threads/shop/messages", Some(json!({"text": "x", "reply_to": "m_elsewhere"}))).await;
    assert_eq!(status, 400, "only a message of the thread");
}

#[tokio::test]
async fn a_person_sends_an_attachment() {
    let server = TestServer::start().await;
    let (bot, psid, person, _) = thread(&server, "ann").await;
    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("me.png").mime_str("image/png").unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = server.http.post(format!("{}/person/v1/threads/shop/attachments", server.url)).bearer_auth(&person.token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let sent: Value = response.json().await.unwrap();
    let mid = sent["mid"].as_str().unwrap();
    let event = bot.receiver.wait_for("the attachment", |e| e["message"]["mid"] == mid).await;
    let url = media_url_of(&event);
    assert!(url.starts_with(&format!("{}/media/", server.url)), "served by Switchboard: {url}");
    assert_eq!(event, json!({"sender": {"id": psid}, "recipient": {"id": bot.page.id}, "timestamp": event["timestamp"],
        "message": {"mid": mid, "attachments": [{"type": "image", "payload": {"url": url}}]}}));
    let served = server.http.get(&url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(media_url_of(&sent), url, "the person's view has the same URL");
    let missing = server.http.get(format!("{}/media/{}", server.url, "0".repeat(64))).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn upload_and_send_in_one_request() {
    let server = TestServer::start().await;
    let (bot, psid, person, _) = thread(&server, "ann").await;
    // As messaging-apis sends it: recipient and message as JSON text, the file as `filedata`.
    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("dot.png").mime_str("image/png").unwrap();
    let form = reqwest::multipart::Form::new()
        .text("recipient", json!({"id": psid}).to_string())
        .text("message", json!({"attachment": {"type": "image", "payload": {"is_reusable": true}}}).to_string())
        .text("messaging_type", "RESPONSE")
        .part("filedata", part);
    let response = server.http.post(format!("{}/me/messages", server.graph())).bearer_auth(&bot.page_token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let (mid, id) = (answer["message_id"].as_str().unwrap(), answer["attachment_id"].as_str().unwrap());
    assert_eq!(answer, json!({"recipient_id": psid, "message_id": mid, "attachment_id": id}));
    let echo = bot.receiver.wait_for("the echo", |e| e["message"]["mid"] == mid).await;
    let history = person.history("shop").await;
    assert_eq!(media_url_of(&echo), media_url_of(history["messages"].as_array().unwrap().last().unwrap()));

    // Without the file, the same message is refused.
    let form = reqwest::multipart::Form::new()
        .text("recipient", json!({"id": psid}).to_string())
        .text("message", json!({"attachment": {"type": "image", "payload": {}}}).to_string());
    let response = server.http.post(format!("{}/me/messages", server.graph())).bearer_auth(&bot.page_token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let refused: Value = response.json().await.unwrap();
    assert!(refused["error"]["message"].as_str().unwrap().contains("filedata"), "{refused}");
}

#[tokio::test]
async fn a_persona_types_too() {
    let server = TestServer::start().await;
    let (bot, psid, mut person, _) = thread(&server, "ann").await;
    person.listen().await;
    let body = json!({"name": "Agent Kim", "profile_picture_url": "https://example.com/kim.png"});
    let (_, created) = server.graph_call(Method::POST, "/me/personas", Some(&bot.page_token), Some(body)).await;
    let persona = created["id"].as_str().unwrap();
    let typing = json!({"recipient": {"id": psid}, "sender_action": "typing_on", "persona_id": persona});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(typing)).await;
    assert_eq!((status, answer), (200, json!({"recipient_id": psid})));
    let event = person.wait_live("typing", |e| e["type"] == "typing").await;
    assert_eq!(event, json!({"type": "typing", "page_id": bot.page.id, "on": true,
        "persona": {"id": persona, "name": "Agent Kim", "profile_picture_url": "https://example.com/kim.png"}}));
}

#[tokio::test]
async fn slow_media_servers_time_out_with_metas_errors() {
    let server = TestServer::start_with(|settings| {
        settings.media_fetch_timeout_ms = 300;
        settings.media_video_fetch_timeout_ms = 300;
    })
    .await;
    let (bot, psid, _person, _) = thread(&server, "ann").await;
    let media = MediaServer::start().await;
    let slow = |content_type: &str| MediaFile { delay: Duration::from_secs(5), ..MediaFile::ok(content_type, PNG) };
    let send = |kind: &str, url: String| {
        let body = json!({"recipient": {"id": psid}, "message": {"attachment": {"type": kind, "payload": {"url": url}}}});
        server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body))
    };
    let (status, answer) = send("image", media.put("slow.png", slow("image/png"))).await;
    assert_eq!((status, answer["error"]["error_subcode"].clone()), (400, json!(2018008)), "{answer}");
    let (status, answer) = send("video", media.put("slow.mp4", slow("video/mp4"))).await;
    assert_eq!((status, answer["error"]["error_subcode"].clone()), (400, json!(2018294)), "{answer}");
}

#[tokio::test]
async fn the_pages_seen_mark_is_kept_with_the_thread() {
    let server = TestServer::start().await;
    let (bot, psid, person, _) = thread(&server, "ann").await;
    assert_eq!(person.history("shop").await["seen_watermark"], 0);
    let seen = json!({"recipient": {"id": psid}, "sender_action": "mark_seen"});
    assert_eq!(server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(seen)).await.0, 200);
    let history = person.history("shop").await;
    let written = history["messages"][0]["created_at"].as_i64().unwrap();
    assert!(history["seen_watermark"].as_i64().unwrap() >= written, "a reload still shows Seen: {history}");
}
