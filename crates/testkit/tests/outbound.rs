//! The node's own requests under the default settings: attachment fetches and
//! webhook callbacks never reach loopback or private addresses, however they are
//! written, and the refusal says nothing of what listens there.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{MediaFile, MediaServer, TestServer, WebhookReceiver};

/// A node with the defaults a server facing the internet runs with.
async fn strict_server() -> TestServer {
    TestServer::start_with(|settings| settings.outbound.allow_private_addresses = false).await
}

async fn upload_by_url(server: &TestServer, page_token: &str, url: &str) -> (u16, Value) {
    let body = json!({"message": {"attachment": {"type": "file", "payload": {"url": url, "is_reusable": true}}}});
    server.graph_call(Method::POST, "/me/message_attachments", Some(page_token), Some(body)).await
}

/// A Page token of a new Page and app (no webhook needed to upload).
async fn page_token(server: &TestServer) -> String {
    let admin = server.person("fetch-admin").await;
    let page = server.page(&admin, "fetching").await;
    let app = server.app("Fetcher").await;
    server.grant(&page, &app, &admin).await
}

#[tokio::test]
async fn attachment_urls_on_internal_addresses_are_never_fetched() {
    let server = strict_server().await;
    let token = page_token(&server).await;
    let secrets = MediaServer::start().await;
    let secret_url = secrets.put("secret.txt", MediaFile::ok("text/plain", "the database password"));
    let port = secret_url.rsplit(':').next().unwrap().split('/').next().unwrap().to_string();

    let mut messages = Vec::new();
    for url in [
        secret_url.clone(),
        format!("http://localhost:{port}/secret.txt"),
        format!("http://2130706433:{port}/secret.txt"),
        format!("http://0x7f.1:{port}/secret.txt"),
        format!("http://127.1:{port}/secret.txt"),
        format!("http://[::ffff:127.0.0.1]:{port}/secret.txt"),
        format!("http://[::1]:{port}/secret.txt"),
        "http://127.0.0.1:1/closed-port".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
    ] {
        let (status, body) = upload_by_url(&server, &token, &url).await;
        assert_eq!((status, body["error"]["error_subcode"].clone()), (400, json!(2018008)), "{url}: {body}");
        messages.push(body["error"]["message"].as_str().unwrap().to_string());
    }
    assert_eq!(secrets.hits(), 0, "no request reached the internal server");
    // An open port and a closed one are refused in the same words, naming no address.
    assert!(messages.iter().all(|m| m == &messages[0]), "{messages:#?}");
    assert!(!messages[0].contains(&port) && !messages[0].contains("127.0.0.1"), "{}", messages[0]);
    assert!(messages[0].contains("not a public address"), "{}", messages[0]);
}

#[tokio::test]
async fn webhook_callbacks_on_internal_addresses_are_refused() {
    let server = strict_server().await;
    let app = server.app("Inside").await;
    let receiver = WebhookReceiver::start(&app.secret).await;
    let app_token = format!("{}|{}", app.id, app.secret);
    let port = receiver.url.rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
    for callback in [receiver.url.clone(), format!("http://localhost:{port}/webhook"), format!("http://[::ffff:7f00:1]:{port}/webhook")] {
        let body = json!({"object": "page", "callback_url": callback, "verify_token": receiver.verify_token, "fields": "messages"});
        let (status, answer) = server.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&app_token), Some(body)).await;
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!(2200)), "{callback}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("not a public address"), "{answer}");
    }
    assert!(receiver.handshakes().is_empty(), "no handshake reached the receiver");
}

#[tokio::test]
async fn the_demo_setting_allows_a_bot_on_this_machine() {
    // What `switchboard demo` and these tests' default servers run with.
    let server = TestServer::start().await;
    let token = page_token(&server).await;
    let files = MediaServer::start().await;
    let url = files.put("note.txt", MediaFile::ok("text/plain", "hello"));
    let (status, body) = upload_by_url(&server, &token, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(files.hits(), 1);
}
