//! Hostile input through real HTTP: deep nesting, malformed query strings and paths,
//! oversized uploads. Each is refused in the Graph envelope (code 100), and the node
//! keeps answering afterwards.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{percent_encode, TestServer, ALL_CORE_FIELDS};

/// A node that still answers: its health and a Graph call.
async fn still_alive(server: &TestServer) {
    let health = server.http.get(format!("{}/healthz", server.url)).send().await.expect("the node still answers");
    assert_eq!(health.status(), 200);
}

fn assert_graph_error(status: u16, body: &Value, code: u64, what: &str) {
    assert!((400..500).contains(&status), "{what}: status {status}, {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    assert!(body["error"]["fbtrace_id"].as_str().is_some(), "{what}: {body}");
}

async fn raw(server: &TestServer, method: Method, url: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let mut request = server.http.request(method, url).header("content-type", content_type).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the node answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{url}: not JSON ({status}): {text:.200}")))
}

#[tokio::test]
async fn deep_nesting_is_refused_with_code_100_and_the_node_lives_on() {
    let server = TestServer::start().await;
    let bot = server.bot("deep", ALL_CORE_FIELDS).await;

    // Nested field selections, 5,000 levels (the stack overflowed and the process aborted).
    let deep_fields = "messages{".repeat(5_000) + "id" + &"}".repeat(5_000);
    // Braces stay as they are in a query (as curl sends them), which keeps the URI
    // under its 64 KiB bound.
    let url = format!("{}/me/conversations?fields={deep_fields}", server.graph());
    let (status, body) = raw(&server, Method::GET, &url, Some(&bot.page_token), "application/json", Vec::new()).await;
    assert_graph_error(status, &body, 100, "nested fields");
    assert!(body["error"]["message"].as_str().unwrap().contains("levels deep"), "{body}");
    still_alive(&server).await;

    // The same selection through a batch item.
    let batch = json!({"batch": [{"method": "GET", "relative_url": format!("me/conversations?fields={}", percent_encode(&deep_fields))}]});
    let (status, answers) = server.graph_call(Method::POST, "/", Some(&bot.page_token), Some(batch)).await;
    assert_eq!(status, 200, "{answers}");
    let item: Value = serde_json::from_str(answers[0]["body"].as_str().expect("an item body")).unwrap();
    assert_eq!(item["error"]["code"], 100, "{item}");

    // JSON bodies nested far past any sane message, as a body and as a form field.
    let deep_json = "[".repeat(100_000) + &"]".repeat(100_000);
    let body = format!("{{\"recipient\":{{\"id\":\"1\"}},\"message\":{deep_json}}}").into_bytes();
    let (status, answer) = raw(&server, Method::POST, &format!("{}/me/messages", server.graph()), Some(&bot.page_token), "application/json", body).await;
    assert_graph_error(status, &answer, 100, "a deep JSON body");
    let form = format!("recipient=%7B%22id%22%3A%221%22%7D&message={}", percent_encode(&("{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000))));
    let (status, answer) =
        raw(&server, Method::POST, &format!("{}/me/messages", server.graph()), Some(&bot.page_token), "application/x-www-form-urlencoded", form.into_bytes()).await;
    assert_graph_error(status, &answer, 100, "a deep JSON form field");
    // A deep template inside an otherwise valid message.
    let elements = "{\"buttons\":".repeat(10_000) + "[]" + &"}".repeat(10_000);
    let template = format!(
        "{{\"recipient\":{{\"id\":\"1\"}},\"message\":{{\"attachment\":{{\"type\":\"template\",\"payload\":{{\"template_type\":\"generic\",\"elements\":[{elements}]}}}}}}}}"
    );
    let (status, answer) =
        raw(&server, Method::POST, &format!("{}/me/messages", server.graph()), Some(&bot.page_token), "application/json", template.into_bytes()).await;
    assert_graph_error(status, &answer, 100, "a deep template");

    // The person and console APIs read JSON with the same bound.
    let person = server.person("deep-person").await;
    let client = server.sign_in(&person).await;
    let (status, answer) = raw(
        &server,
        Method::POST,
        &format!("{}/person/v1/threads/deep/messages", server.url),
        Some(&client.token),
        "application/json",
        format!("{{\"text\":{deep_json}}}").into_bytes(),
    )
    .await;
    assert_graph_error(status, &answer, 100, "a deep person body");
    let (status, answer) =
        raw(&server, Method::POST, &format!("{}/console/v1/apps", server.url), Some(&server.operator), "application/json", deep_json.clone().into_bytes()).await;
    assert_graph_error(status, &answer, 100, "a deep console body");
    still_alive(&server).await;
}

#[tokio::test]
async fn malformed_query_strings_and_paths_answer_the_json_envelope() {
    let server = TestServer::start().await;
    let person = server.person("queries").await;
    let client = server.sign_in(&person).await;
    let app = server.app("Queried").await;

    // Query strings that do not parse (a number that is not one, a limit past u32).
    for path in ["/person/v1/threads/any/messages?limit=lots", "/person/v1/threads/any/messages?limit=99999999999", "/person/v1/pages"] {
        let (status, body) = raw(&server, Method::GET, &format!("{}{path}", server.url), Some(&client.token), "application/json", Vec::new()).await;
        assert_graph_error(status, &body, 100, path);
    }
    let stats = format!("{}/console/v1/apps/{}/webhook/stats?from=yesterday", server.url, app.id);
    let (status, body) = raw(&server, Method::GET, &stats, Some(&server.operator), "application/json", Vec::new()).await;
    assert_graph_error(status, &body, 100, "console stats");
    let events = format!("{}/console/v1/apps/{}/webhook/events/not-a-number", server.url, app.id);
    let (status, body) = raw(&server, Method::GET, &events, Some(&server.operator), "application/json", Vec::new()).await;
    assert_graph_error(status, &body, 100, "a non-numeric event id");

    // A method the route does not have answers the envelope too.
    let (status, body) = raw(&server, Method::DELETE, &format!("{}/person/v1/login", server.url), None, "application/json", Vec::new()).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], 100, "{body}");
    // A multipart upload without a boundary, on the person API.
    let (status, body) =
        raw(&server, Method::POST, &format!("{}/person/v1/threads/any/attachments", server.url), Some(&client.token), "multipart/form-data", b"x".to_vec()).await;
    assert_graph_error(status, &body, 100, "a multipart body without a boundary");
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_as_meta_refuses_an_oversized_attachment() {
    let server = TestServer::start().await;
    let bot = server.bot("big-upload", ALL_CORE_FIELDS).await;
    let file = vec![b'x'; 27 * 1024 * 1024];
    let form = reqwest::multipart::Form::new()
        .text("message", r#"{"attachment":{"type":"file","payload":{"is_reusable":true}}}"#)
        .part("filedata", reqwest::multipart::Part::bytes(file.clone()).file_name("big.bin").mime_str("application/octet-stream").unwrap());
    let response = server
        .http
        .post(format!("{}/me/message_attachments", server.graph()))
        .bearer_auth(&bot.page_token)
        .multipart(form)
        .send()
        .await
        .expect("the node answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!((status, body["error"]["code"].clone(), body["error"]["error_subcode"].clone()), (400, json!(100), json!(2018109)), "{body}");

    // The person's attachments have the same bound.
    let person = server.person("big-sender").await;
    let client = server.sign_in(&person).await;
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(file).file_name("big.bin"));
    let response = server
        .http
        .post(format!("{}/person/v1/threads/big-upload/attachments", server.url))
        .bearer_auth(&client.token)
        .multipart(form)
        .send()
        .await
        .expect("the node answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!((status, body["error"]["error_subcode"].clone()), (400, json!(2018109)), "{body}");
    still_alive(&server).await;
}

/// "Load older" in the web messenger pages with `before`: every message of a thread
/// written by many concurrent senders is reached once (by time alone, 359 of 5,748
/// messages sharing a millisecond with a page boundary were skipped).
#[tokio::test]
async fn paging_back_through_a_thread_reaches_every_message_once() {
    let server = TestServer::start().await;
    let bot = server.bot("busy", "messages").await;
    let person = server.person("chatty").await;
    let client = std::sync::Arc::new(server.sign_in(&person).await);
    let (psid_event, _) = tokio::join!(bot.receiver.wait_for("the first message", |_| true), client.send("busy", "first"));
    let psid = psid_event["sender"]["id"].as_str().unwrap().to_string();

    // 16 writers at once: the person, and the bot with the Send API, 40 messages each.
    let mut writers = Vec::new();
    for writer in 0..16 {
        let client = client.clone();
        let http = server.http.clone();
        let graph = server.graph();
        let token = bot.page_token.clone();
        let psid = psid.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..40 {
                if writer % 2 == 0 {
                    client.send("busy", &format!("p{writer}-{n}")).await;
                } else {
                    let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": format!("b{writer}-{n}")}});
                    let response = http.post(format!("{graph}/me/messages")).bearer_auth(&token).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(mid) => format!("/threads/busy/messages?limit=7&before={mid}"),
            None => "/threads/busy/messages?limit=7".to_string(),
        };
        let (status, thread) = client.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{thread}");
        let messages = thread["messages"].as_array().unwrap().clone();
        if messages.is_empty() {
            break;
        }
        before = Some(messages[0]["mid"].as_str().unwrap().to_string());
        seen.splice(0..0, messages.iter().map(|m| m["mid"].as_str().unwrap().to_string()));
        assert!(seen.len() <= 641, "paging never ends");
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no message twice");
    assert_eq!(seen.len(), 1 + 16 * 40, "every message reached");

    // A cursor that is not a message of this thread is refused, not read as "none".
    let (status, body) = client.call(Method::GET, "/threads/busy/messages?before=m_nope", None).await;
    assert_graph_error(status, &body, 100, "an unknown cursor");
}

