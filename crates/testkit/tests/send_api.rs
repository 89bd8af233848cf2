//! The Send API: every encoding SDKs use, and Meta's errors for bad input.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{Bot, TestServer};

/// A bot and a person who wrote to it; answers the person's PSID.
async fn thread(server: &TestServer) -> (Bot, String, switchboard_testkit::PersonClient) {
    let bot = server.bot("shop", "messages,message_echoes").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hi").await;
    let event = bot.receiver.wait_for("the message", |e| e["message"]["text"] == "hi").await;
    (bot, event["sender"]["id"].as_str().unwrap().to_string(), ann)
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: u64, subcode: Option<u64>) {
    assert_eq!(status, want_status, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["error_subcode"].as_u64(), subcode, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["type"].as_str().is_some());
    assert!(error["fbtrace_id"].as_str().is_some_and(|t| t.len() >= 8));
}

#[tokio::test]
async fn every_encoding_sdks_use_is_accepted() {
    let server = TestServer::start().await;
    let (bot, psid, ann) = thread(&server).await;
    let token = &bot.page_token;
    let recipient = json!({"id": psid}).to_string();
    let http = &server.http;
    let page_messages = format!("{}/{}/messages", server.graph(), bot.page.id);

    // 1. Query string only, unversioned path, no messaging_type.
    let query = [("recipient", recipient.as_str()), ("message", r#"{"text":"query"}"#), ("access_token", token.as_str())];
    let response = http.post(format!("{}/me/messages", server.url)).query(&query).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // 2. Form fields whose values are (single-quoted) JSON, as in Meta's curl examples.
    let form = [("recipient", format!("{{'id':'{psid}'}}")), ("message", "{'text':'form'}".into()), ("messaging_type", "UPDATE".into()), ("access_token", token.clone())];
    let response = http.post(&page_messages).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // 3. JSON with the token inside the body, recipient and message as JSON strings.
    let body = json!({"access_token": token, "recipient": recipient, "message": "{\"text\":\"json\"}", "messaging_type": "RESPONSE"});
    let response = http.post(format!("{}/v2.6/me/messages", server.url)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // 4. Multipart, as messaging-apis sends uploads.
    let form = reqwest::multipart::Form::new().text("recipient", recipient.clone()).text("message", r#"{"text":"multipart"}"#).text("messaging_type", "RESPONSE");
    let response = http.post(&page_messages).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // 5. Authorization: OAuth, and a numeric recipient id.
    let body = json!({"recipient": {"id": psid.parse::<u64>().unwrap()}, "message": {"text": "oauth"}});
    let response = http.post(format!("{}/me/messages", server.graph())).header("Authorization", format!("OAuth {token}")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let history = ann.history("shop").await;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["hi", "query", "form", "json", "multipart", "oauth"]);
}

#[tokio::test]
async fn recipients_that_are_not_this_pages_psids_are_2018001() {
    let server = TestServer::start().await;
    let (bot, psid, ann) = thread(&server).await;
    // Another Page, where the same person has another PSID.
    let other = server.bot("other", "messages").await;
    ann.send("other", "hello other").await;
    let other_psid = other.receiver.wait_for("message to other", |e| e["message"]["text"] == "hello other").await["sender"]["id"].as_str().unwrap().to_string();

    for recipient in [other_psid.as_str(), "123", "not-a-number", &format!("{psid}0")] {
        let (status, body) = server.send_text(&bot, recipient, "x").await;
        assert_error(status, &body, 400, 100, Some(2018001));
        assert_eq!(body["error"]["message"], "(#100) No matching user found");
    }
    // A login (app-scoped) id of the same person is not a PSID either.
    let user_token = server.console(Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": ann.person_id})).await;
    let (_, me) = server.graph_call(Method::GET, "/me", user_token["access_token"].as_str(), None).await;
    let asid = me["id"].as_str().unwrap();
    assert_ne!(asid, psid);
    let (status, body) = server.send_text(&bot, asid, "x").await;
    assert_error(status, &body, 400, 100, Some(2018001));
}

#[tokio::test]
async fn bad_input_gets_graph_errors_and_stores_nothing() {
    let server = TestServer::start().await;
    let (bot, psid, ann) = thread(&server).await;
    let token = Some(bot.page_token.as_str());
    let cases: Vec<(Value, u64, Option<u64>)> = vec![
        (json!({"recipient": {"id": psid}, "message": {"text": "x"}, "sender_action": "typing_on"}), 100, Some(2018014)),
        (json!({"message": {"text": "x"}}), 100, None),
        (json!({"recipient": {"id": psid}}), 100, None),
        (json!({"recipient": {"id": psid}, "message": {"text": ""}}), 100, None),
        (json!({"recipient": {"id": psid}, "message": {"text": "a".repeat(2001)}}), 100, None),
        (json!({"recipient": {"id": psid}, "message": {"text": 7}}), 100, None),
        (json!({"recipient": "not json", "message": {"text": "x"}}), 100, None),
        (json!({"recipient": {"id": psid}, "message": {"text": "x"}, "messaging_type": "SHOUT"}), 100, None),
        (json!({"recipient": {"id": psid}, "sender_action": "dance"}), 100, None),
    ];
    for (body, code, subcode) in cases {
        let (status, answer) = server.graph_call(Method::POST, "/me/messages", token, Some(body.clone())).await;
        assert_error(status, &answer, 400, code, subcode);
    }
    // 2000 characters (not bytes) is still fine.
    let (status, _) = server.send_text(&bot, &psid, &"é".repeat(2000)).await;
    assert_eq!(status, 200);

    // Malformed JSON, a JSON array, and an oversized body.
    let url = format!("{}/me/messages", server.graph());
    for raw in ["{\"recipient\":", "[1,2]"] {
        let response = server.http.post(&url).bearer_auth(&bot.page_token).header("Content-Type", "application/json").body(raw).send().await.unwrap();
        let status = response.status().as_u16();
        assert_error(status, &response.json().await.unwrap(), 400, 100, None);
    }
    let huge = format!("{{\"recipient\":{{\"id\":\"{psid}\"}},\"message\":{{\"text\":\"{}\"}}}}", "a".repeat(2 * 1024 * 1024));
    let response = server.http.post(&url).bearer_auth(&bot.page_token).header("Content-Type", "application/json").body(huge).send().await.unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 413, 100, None);

    let texts = ann.history("shop").await["messages"].as_array().unwrap().len();
    assert_eq!(texts, 2, "only the accepted messages are stored");
    // A marker after them: the thread's events arrive in order, so once its echo is
    // in, an echo of any earlier message would be too.
    assert_eq!(server.send_text(&bot, &psid, "marker").await.0, 200);
    bot.receiver.wait_for("the marker's echo", |e| e["message"]["is_echo"] == true && e["message"]["text"] == "marker").await;
    let echoes = bot.receiver.acknowledged_events().iter().filter(|e| e["message"]["is_echo"] == true && e["message"]["text"] != "marker").count();
    assert_eq!(echoes, 1, "only the accepted message is echoed");
}

#[tokio::test]
async fn tokens_of_the_wrong_kind_or_page_are_refused() {
    let server = TestServer::start().await;
    let (bot, psid, ann) = thread(&server).await;
    let body = json!({"recipient": {"id": psid}, "message": {"text": "x"}});

    let (status, answer) = server.graph_call(Method::POST, "/me/messages", None, Some(body.clone())).await;
    assert_error(status, &answer, 400, 2500, None);
    let (status, answer) = server.graph_call(Method::POST, &format!("/{}/messages", bot.page.id), None, Some(body.clone())).await;
    assert_error(status, &answer, 400, 104, None);
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some("EAAnot-a-token"), Some(body.clone())).await;
    assert_error(status, &answer, 400, 190, None);
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&app_token), Some(body.clone())).await;
    assert_error(status, &answer, 400, 190, None);
    let wrong_secret = format!("{}|{}", bot.app.id, "0".repeat(32));
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&wrong_secret), Some(body.clone())).await;
    assert_error(status, &answer, 400, 190, None);
    let user = server.console(Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": bot.admin.id})).await;
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", user["access_token"].as_str(), Some(body.clone())).await;
    assert_error(status, &answer, 400, 190, None);
    // Another Page's token on this Page's edge.
    let other = server.bot("other", "messages").await;
    let (status, answer) = server.graph_call(Method::POST, &format!("/{}/messages", bot.page.id), Some(&other.page_token), Some(body.clone())).await;
    assert_error(status, &answer, 403, 200, None);
    // A session token of the person is not a Graph token for the Page.
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&ann.token), Some(body)).await;
    assert_error(status, &answer, 400, 190, None);
}

#[tokio::test]
async fn appsecret_proof_is_checked_when_present_and_required_when_asked() {
    let server = TestServer::start().await;
    let (bot, psid, _ann) = thread(&server).await;
    let proof = switchboard_domain::credentials::appsecret_proof(&bot.app.secret, &bot.page_token);
    let body = json!({"recipient": {"id": psid}, "message": {"text": "proved"}});
    let send = |proof: Option<String>| {
        let mut request = server.http.post(format!("{}/me/messages", server.graph())).query(&[("access_token", bot.page_token.as_str())]).json(&body);
        if let Some(proof) = proof {
            request = request.query(&[("appsecret_proof", proof)]);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(send(Some(proof.clone())).await.0, 200);
    assert_eq!(send(None).await.0, 200, "optional unless the app requires it");
    let (status, answer) = send(Some("00".repeat(32))).await;
    assert_error(status, &answer, 400, 100, None);
    assert!(answer["error"]["message"].as_str().unwrap().contains("appsecret_proof"));

    server.console(Method::PATCH, &format!("/apps/{}", bot.app.id), json!({"require_appsecret_proof": true})).await;
    let (status, answer) = send(None).await;
    assert_error(status, &answer, 400, 100, None);
    assert_eq!(send(Some(proof)).await.0, 200);
}

#[tokio::test]
async fn a_psid_shows_user_basics_to_its_page_only() {
    let server = TestServer::start().await;
    let (bot, psid, _ann) = thread(&server).await;
    let (status, user) = server.graph_call(Method::GET, &format!("/{psid}"), Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{user}");
    let picture = user["profile_pic"].as_str().unwrap().to_string();
    assert_eq!(user, json!({"first_name": "Ann", "last_name": "Tester", "profile_pic": picture, "id": psid}));
    let svg = server.http.get(&picture).send().await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains(">AT</text>"), "the initials");
    let forged = server.http.get(format!("{}x", &picture[..picture.len() - 1])).send().await.unwrap();
    assert_eq!(forged.status(), 404, "the URL is signed");
    let other = server.bot("other", "messages").await;
    let (status, refused) = server.graph_call(Method::GET, &format!("/{psid}"), Some(&other.page_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone(), refused["error"]["error_subcode"].clone()), (400, json!(100), json!(33)));
}
