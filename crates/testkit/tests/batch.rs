//! Graph batch requests (reference §1.9) over real HTTP: `POST /` with `batch=[...]`
//! as JSON or as a form field, answered item by item, in order, with bodies as JSON text.

use serde_json::{json, Value};
use switchboard_testkit::{percent_encode, Bot, PersonClient, TestServer};

const FIELDS: &str = "messages,message_echoes";

/// A bot and a person who wrote to it; answers the person's client and PSID.
async fn thread(server: &TestServer, username: &str, person: &str) -> (Bot, PersonClient, String) {
    let bot = server.bot(username, FIELDS).await;
    let client = server.sign_in(&server.person(person).await).await;
    let (client, psid) = write(&bot, client, username).await;
    (bot, client, psid)
}

/// The person writes to the bot's Page; answers the person's PSID there.
async fn write(bot: &Bot, client: PersonClient, username: &str) -> (PersonClient, String) {
    let mid = client.send(username, &format!("hi {username}")).await["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    (client, event["sender"]["id"].as_str().expect("PSID").to_string())
}

/// A Send API body as batch items carry it: URL-encoded, object values as JSON.
fn send_body(psid: &str, text: &str) -> String {
    let recipient = json!({"id": psid}).to_string();
    let message = json!({"text": text}).to_string();
    format!("recipient={}&message={}", percent_encode(&recipient), percent_encode(&message))
}


/// `POST /v21.0/` with a JSON body; answers status and JSON.
async fn post_batch(server: &TestServer, body: Value) -> (u16, Value) {
    let response = server.http.post(format!("{}/", server.graph())).json(&body).send().await.expect("the batch answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// An answer's body, parsed: it must be a JSON string holding JSON.
fn body_of(answer: &Value) -> Value {
    let text = answer["body"].as_str().unwrap_or_else(|| panic!("the body is a JSON string: {answer}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("the body string holds JSON ({e}): {text}"))
}

/// The Graph error envelope, compared exactly (the trace id is opaque).
fn envelope(body: &Value, code: u64, subcode: Option<u64>, message: &str) -> Value {
    let trace = body["error"]["fbtrace_id"].clone();
    assert!(trace.as_str().is_some_and(|t| t.len() >= 8), "{body}");
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": trace});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "error": error })
}

/// An answer without headers: exactly `code` and `body`, the body holding `want`.
fn assert_bare(answer: &Value, code: u16, want: &Value) {
    let keys: Vec<&str> = answer.as_object().unwrap_or_else(|| panic!("an object: {answer}")).keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["body", "code"], "no headers: {answer}");
    assert_eq!((answer["code"].as_u64(), &body_of(answer)), (Some(u64::from(code)), want));
}

fn texts(history: &Value) -> Vec<String> {
    history["messages"].as_array().expect("messages").iter().map(|m| m["text"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn items_are_answered_in_order_and_a_batched_send_really_arrives() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let batch = json!([
        {"method": "POST", "relative_url": "me/messages", "body": send_body(&psid, "hi from a batch")},
        {"method": "POST", "relative_url": "me/messages", "body": send_body("123", "nobody")},
        {"method": "GET", "relative_url": "me?fields=id,name"},
    ]);
    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    let answers = answers.as_array().expect("an array").clone();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers.iter().map(|a| a["code"].clone()).collect::<Vec<_>>(), vec![json!(200), json!(400), json!(200)]);
    for answer in &answers {
        let keys: Vec<&str> = answer.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 3, "code, headers, body: {answer}");
        let headers = answer["headers"].as_array().expect("headers by default");
        assert!(headers.contains(&json!({"name": "content-type", "value": "application/json"})), "{answer}");
        assert!(headers.iter().all(|h| h["name"].is_string() && h["value"].is_string() && h.as_object().unwrap().len() == 2));
    }

    let sent = body_of(&answers[0]);
    let mid = sent["message_id"].as_str().expect("a message id").to_string();
    assert_eq!(sent, json!({"recipient_id": psid, "message_id": mid}));
    let refused = body_of(&answers[1]);
    assert_eq!(refused, envelope(&refused, 100, Some(2018001), "(#100) No matching user found"));
    assert_eq!(body_of(&answers[2]), json!({"id": bot.page.id, "name": "Page shop"}));

    // The message is stored in the thread, and echoed to the bot.
    assert_eq!(texts(&ann.history("shop").await), vec!["hi shop", "hi from a batch"]);
    let echo = bot.receiver.wait_for("the batched message's echo", |e| e["message"]["mid"] == mid.as_str()).await;
    assert_eq!((echo["message"]["is_echo"].clone(), echo["message"]["text"].clone()), (json!(true), json!("hi from a batch")));
    assert_eq!(echo["recipient"]["id"], psid.as_str());
}

#[tokio::test]
async fn fifty_items_are_accepted_and_fifty_one_refused_whole() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let item = |n: usize| json!({"method": "POST", "relative_url": "me/messages", "body": send_body(&psid, &format!("n{n}"))});

    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "batch": (0..50).map(item).collect::<Vec<_>>()})).await;
    assert_eq!(status, 200, "{answers}");
    let answers = answers.as_array().expect("an array");
    assert_eq!(answers.len(), 50);
    assert!(answers.iter().all(|a| a["code"] == 200), "{answers:?}");
    let want: Vec<String> = std::iter::once("hi shop".to_string()).chain((0..50).map(|n| format!("n{n}"))).collect();
    let history = ann.call(reqwest::Method::GET, "/threads/shop/messages?limit=100", None).await.1;
    assert_eq!(texts(&history), want, "every item ran, in order");

    let (status, refused) = post_batch(&server, json!({"access_token": bot.page_token, "batch": (50..101).map(item).collect::<Vec<_>>()})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused, envelope(&refused, 100, None, "(#100) Param batch holds 51 requests; at most 50 are allowed"));
    let history = ann.call(reqwest::Method::GET, "/threads/shop/messages?limit=100", None).await.1;
    assert_eq!(texts(&history), want, "no item of a refused batch ran");
}

#[tokio::test]
async fn omit_response_on_success_and_include_headers_shape_the_answers() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let batch = json!([
        {"method": "POST", "relative_url": "me/messages", "body": send_body(&psid, "quiet"), "omit_response_on_success": true},
        {"method": "POST", "relative_url": "me/messages", "body": send_body("123", "nobody"), "omit_response_on_success": true},
        {"method": "GET", "relative_url": "me", "omit_response_on_success": false},
    ]);
    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    assert_eq!(answers[0], Value::Null, "a success asked to be omitted");
    assert_eq!(answers[1]["code"], 400, "a failure is answered even so: {answers}");
    let refused = body_of(&answers[1]);
    assert_eq!(refused, envelope(&refused, 100, Some(2018001), "(#100) No matching user found"));
    assert_eq!(answers[2]["code"], 200);
    assert_eq!(texts(&ann.history("shop").await), vec!["hi shop", "quiet"], "the omitted item still ran");

    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "include_headers": false, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    assert_eq!(answers[0], Value::Null);
    let refused = body_of(&answers[1]);
    assert_bare(&answers[1], 400, &envelope(&refused, 100, Some(2018001), "(#100) No matching user found"));
    assert_bare(&answers[2], 200, &json!({"name": "Page shop", "id": bot.page.id}));
}

#[tokio::test]
async fn an_items_own_access_token_is_used() {
    let server = TestServer::start().await;
    let (shop, ann, shop_psid) = thread(&server, "shop", "ann").await;
    let other = server.bot("other", FIELDS).await;
    let (ann, other_psid) = write(&other, ann, "other").await;
    assert_ne!(shop_psid, other_psid);
    let as_other = format!("me/messages?access_token={}", other.page_token);
    let batch = json!([
        {"method": "POST", "relative_url": as_other, "body": send_body(&other_psid, "from the other Page")},
        {"method": "POST", "relative_url": as_other, "body": send_body(&shop_psid, "wrong Page's PSID")},
        {"method": "GET", "relative_url": format!("me?fields=name&access_token={}", other.page_token)},
        {"method": "POST", "relative_url": "me/messages", "body": send_body(&shop_psid, "from the batch's token")},
    ]);
    let (status, answers) = post_batch(&server, json!({"access_token": shop.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    let codes: Vec<Value> = answers.as_array().unwrap().iter().map(|a| a["code"].clone()).collect();
    assert_eq!(codes, vec![json!(200), json!(400), json!(200), json!(200)], "{answers}");
    let sent = body_of(&answers[0]);
    assert_eq!(sent["recipient_id"], other_psid.as_str());
    let refused = body_of(&answers[1]);
    assert_eq!(refused, envelope(&refused, 100, Some(2018001), "(#100) No matching user found"), "the item ran as the other Page");
    assert_eq!(body_of(&answers[2]), json!({"name": "Page other", "id": other.page.id}));

    assert_eq!(texts(&ann.history("other").await), vec!["hi other", "from the other Page"]);
    assert_eq!(texts(&ann.history("shop").await), vec!["hi shop", "from the batch's token"]);
    let echo = other.receiver.wait_for("the other Page's echo", |e| e["message"]["mid"] == sent["message_id"]).await;
    assert_eq!(echo["sender"]["id"], other.page.id);
    // A token given in the item's body is the item's own too.
    let batch = json!([{"method": "GET", "relative_url": "me", "body": format!("access_token={}", other.page_token)}]);
    let (status, answers) = post_batch(&server, json!({"access_token": shop.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    assert_eq!(body_of(&answers[0]), json!({"name": "Page other", "id": other.page.id}));
}

#[tokio::test]
async fn a_batch_sent_as_a_form_field_holding_json_text_works() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let batch = json!([
        {"method": "POST", "relative_url": "me/messages", "body": send_body(&psid, "form batch")},
        {"method": "GET", "relative_url": "me"},
    ])
    .to_string();
    let form = [("access_token", bot.page_token.as_str()), ("include_headers", "false"), ("batch", batch.as_str())];
    let response = server.http.post(format!("{}/", server.graph())).form(&form).send().await.expect("the batch answers");
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.expect("JSON");
    let sent = body_of(&answers[0]);
    assert_bare(&answers[0], 200, &json!({"recipient_id": psid, "message_id": sent["message_id"]}));
    assert!(sent["message_id"].as_str().is_some_and(|mid| mid.starts_with("m_")), "{sent}");
    assert_bare(&answers[1], 200, &json!({"name": "Page shop", "id": bot.page.id}));
    assert_eq!(texts(&ann.history("shop").await), vec!["hi shop", "form batch"]);

    // Unversioned, with the token in the query string, as some SDKs post it.
    let response = server.http.post(format!("{}/", server.url)).query(&[("access_token", bot.page_token.as_str())]).form(&[("batch", batch.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    assert_eq!((answers[0]["code"].clone(), answers[1]["code"].clone()), (json!(200), json!(200)), "{answers}");
    assert_eq!(texts(&ann.history("shop").await), vec!["hi shop", "form batch", "form batch"]);
}

#[tokio::test]
async fn a_batch_item_pages_through_conversations_and_its_next_url_works() {
    let server = TestServer::start().await;
    let (bot, ann, ann_psid) = thread(&server, "shop", "ann").await;
    let bob = server.sign_in(&server.person("bob").await).await;
    let (_bob, bob_psid) = write(&bot, bob, "shop").await;
    let relative = format!("{}/conversations?platform=messenger&fields=id&limit=1", bot.page.id);
    let batch = json!([{"method": "GET", "relative_url": relative}, {"method": "GET", "relative_url": format!("t_{ann_psid}/messages?fields=message")}]);
    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    let list = body_of(&answers[0]);
    assert_eq!(list["data"], json!([{"id": format!("t_{bob_psid}")}]), "newest first");
    let next = list["paging"]["next"].as_str().unwrap_or_else(|| panic!("a next URL: {list}"));
    assert!(next.starts_with(&format!("{}/", server.url)), "{next}");
    let response = server.http.get(next).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    assert_eq!(rest["data"], json!([{"id": format!("t_{ann_psid}")}]), "the batch's token carries into next");
    assert!(rest["paging"].get("next").is_none(), "{rest}");
    let messages = body_of(&answers[1]);
    let mid = ann.history("shop").await["messages"][0]["mid"].clone();
    assert_eq!(messages["data"], json!([{"id": mid, "message": "hi shop"}]));
}

#[tokio::test]
async fn a_missing_or_malformed_batch_is_refused_with_code_100() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let (status, refused) = post_batch(&server, json!({"access_token": bot.page_token})).await;
    assert_eq!((status, &refused), (400, &envelope(&refused, 100, None, "(#100) The parameter batch is required")));
    let form = [("access_token", bot.page_token.as_str())];
    let response = server.http.post(format!("{}/", server.graph())).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let refused: Value = response.json().await.unwrap();
    assert_eq!(refused, envelope(&refused, 100, None, "(#100) The parameter batch is required"));
    for batch in [json!("not json"), json!({"method": "GET"}), json!([]), json!("[]")] {
        let (status, refused) = post_batch(&server, json!({"access_token": bot.page_token, "batch": batch})).await;
        assert_eq!((status, refused["error"]["code"].clone()), (400, json!(100)), "{batch}: {refused}");
    }
    // A malformed item is answered in its place; the others still run.
    let batch = json!([{"relative_url": "me"}, {"method": "GET"}, {"method": "GET", "relative_url": "me"}]);
    let (status, answers) = post_batch(&server, json!({"access_token": bot.page_token, "batch": batch})).await;
    assert_eq!(status, 200, "{answers}");
    let codes: Vec<Value> = answers.as_array().unwrap().iter().map(|a| a["code"].clone()).collect();
    assert_eq!(codes, vec![json!(400), json!(400), json!(200)]);
    assert_eq!(body_of(&answers[0])["error"]["code"], 100);
}
