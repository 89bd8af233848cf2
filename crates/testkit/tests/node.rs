//! The node as an operator sees it: ops endpoints, TLS, restarts on the same data,
//! and who may do what on the console and person APIs.

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use switchboard_testkit::{TestServer, ALL_CORE_FIELDS};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    let health = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = server.http.get(format!("{}/readyz", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    let bot = server.bot("shop", ALL_CORE_FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "count me").await;
    bot.receiver.wait_for("the message", |e| e["message"]["text"] == "count me").await;
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_messages_received_total 1"), "{metrics}");
    assert!(metrics.contains("switchboard_webhook_events_delivered_total"), "{metrics}");
    assert!(metrics.contains("switchboard_outbox_pending 0"), "{metrics}");
    assert!(metrics.contains(r#"switchboard_http_requests_total{face="person",status="200"}"#), "{metrics}");
    assert!(metrics.trim_end().ends_with("# EOF"));
}

/// The log lines of this test binary's in-process nodes (every test's: callers
/// look for lines of their own).
fn node_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: std::sync::OnceLock<std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        struct Into;
        impl std::io::Write for Into {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                node_log().lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        tracing_subscriber::fmt().with_writer(|| Into).with_ansi(false).with_max_level(tracing_subscriber::filter::LevelFilter::WARN).init();
        std::sync::Mutex::new(Vec::new())
    })
}

#[tokio::test]
async fn a_slow_request_is_logged_with_its_steps_and_without_its_query_string() {
    let log = node_log();
    let server = TestServer::start_with(|s| s.http.slow_request_ms = 50).await;
    let app = server.app("slow bot").await;
    // A body that arrives in two parts, 200 ms apart: the request cannot be quicker.
    let parts = futures_util::stream::iter([0, 1]).then(|n| async move {
        if n == 1 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok::<_, std::io::Error>(if n == 0 { "{\"object\":\"page\"," } else { "\"callback_url\":\"http://127.0.0.1:9/hook\"}" })
    });
    let url = format!("{}/v21.0/{}/subscriptions?access_token={}|{}", server.url, app.id, app.id, app.secret);
    let response = server.http.post(url).header("content-type", "application/json").body(reqwest::Body::wrap_stream(parts)).send().await.unwrap();
    assert!(response.status().as_u16() < 500, "{}", response.status());
    let quick = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(quick.status(), 200);

    let text = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    let line = text.lines().find(|l| l.contains("slow request") && l.contains(&format!("/v21.0/{}/subscriptions", app.id)));
    let line = line.unwrap_or_else(|| panic!("no slow request logged in:\n{text}"));
    assert!(line.contains("method=POST") && line.contains("admission"), "{line}");
    assert!(!line.contains(&app.secret) && !line.contains("access_token"), "the query string is not logged: {line}");
    assert!(!text.lines().any(|l| l.contains("slow request") && l.contains("/healthz")), "a quick request is not logged:\n{text}");
}

#[tokio::test]
async fn serves_https_with_a_self_signed_certificate() {
    let server = TestServer::start_with(|s| s.tls.self_signed = true).await;
    assert!(server.url.starts_with("https://"));
    let response = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The Graph API works over https as over http.
    let app = server.app("tls bot").await;
    let (status, _) = server.graph_call(Method::GET, &format!("/{}/subscriptions", app.id), Some(&format!("{}|{}", app.id, app.secret)), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn serves_https_with_certificate_and_key_files() {
    let certs = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let server = TestServer::start_with(|s| {
        s.tls.cert = Some(cert.clone());
        s.tls.key = Some(key.clone());
    })
    .await;
    assert!(server.url.starts_with("https://"));
    // A client that trusts exactly this certificate reaches the Graph API by name.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", server.url.trim_start_matches("https://").parse().unwrap())
        .build()
        .unwrap();
    let port = server.url.rsplit(':').next().unwrap();
    let response = client.get(format!("https://localhost:{port}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn everything_acknowledged_survives_a_restart() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let ann_person = server.person("ann").await;
    let ann = server.sign_in(&ann_person).await;
    for n in 0..20 {
        ann.send("shop", &format!("message {n}")).await;
    }
    let psid = bot.receiver.wait_for("a message", |e| e["message"]["text"] == "message 0").await["sender"]["id"].as_str().unwrap().to_string();
    let dir = server.dir.clone();
    let settings = server.settings.clone();
    let operator = server.operator.clone();
    server.stop().await;

    let restarted = TestServer::start_on(dir, settings).await;
    assert_eq!(restarted.operator, "", "the operator credential is created once, on the first start");
    let (status, _) = restarted.console_as(&operator, Method::POST, "/apps", json!({"name": "after restart"})).await;
    assert!(status.is_success(), "the first operator credential still works");
    let ann = restarted.sign_in(&ann_person).await;
    assert_eq!(ann.history("shop").await["messages"].as_array().unwrap().len(), 20);
    // Same app secret (derived from the persisted master key), same Page token, same PSID.
    let (status, answer) = restarted.send_text(&bot, &psid, "still here").await;
    assert_eq!(status, 200, "{answer}");
    bot.receiver.wait_for("the last message", |e| e["message"]["text"] == "message 19").await;
    restarted.stop().await;
}

#[tokio::test]
async fn console_rights_are_checked() {
    let server = TestServer::start().await;
    let dana = server.person("dana").await;
    let eve = server.person("eve").await;
    let page = server.page(&dana, "bakery").await;
    let app = server.app("bakery bot").await;
    let eve_client = server.sign_in(&eve).await;
    let eve_token = eve_client.token.clone();

    // Eve is no admin of the Page nor of the app.
    let (status, answer) = server.console_as(&eve_token, Method::POST, &format!("/pages/{}/apps", page.id), json!({"app_id": app.id})).await;
    assert_eq!((status.as_u16(), answer["error"]["code"].clone()), (403, json!(200)));
    let (status, _) = server.console_as(&eve_token, Method::GET, &format!("/apps/{}", app.id), json!({})).await;
    assert_eq!(status.as_u16(), 403);
    let (status, _) = server.console_as(&eve_token, Method::POST, "/persons", json!({"name": "Mallory", "login": "mallory", "password": "long-enough"})).await;
    assert_eq!(status.as_u16(), 403);
    let (status, _) = server.console_as(&eve_token, Method::POST, &format!("/apps/{}/user-tokens", app.id), json!({"person_id": dana.id})).await;
    assert_eq!(status.as_u16(), 403, "a person logs in only as themselves");
    let (status, _) = server.console_as("EAAbogus", Method::POST, "/apps", json!({"name": "x"})).await;
    assert_eq!(status.as_u16(), 400);

    // A person who creates an app administers it; a Page admin grants it the Page.
    let dana_token = server.sign_in(&dana).await.token.clone();
    let (status, created) = server.console_as(&dana_token, Method::POST, "/apps", json!({"name": "dana's bot"})).await;
    assert!(status.is_success());
    let (status, granted) = server.console_as(&dana_token, Method::POST, &format!("/pages/{}/apps", page.id), json!({"app_id": created["id"]})).await;
    assert!(status.is_success(), "{granted}");
    let (status, shown) = server.console_as(&dana_token, Method::PATCH, &format!("/apps/{}", created["id"].as_str().unwrap()), json!({"reset_secret": true})).await;
    assert!(status.is_success());
    assert_ne!(shown["secret"], created["secret"], "the secret was reset");
    let (status, _) = server.graph_call(Method::GET, &format!("/{}/subscriptions", created["id"].as_str().unwrap()), Some(&format!("{}|{}", created["id"].as_str().unwrap(), created["secret"].as_str().unwrap())), None).await;
    assert_eq!(status, 400, "the old secret no longer works");

    // Bad input on the console.
    for body in [json!({"name": "x", "username": "a b"}), json!({"name": "", "username": "valid-name"}), json!({"name": "x"})] {
        let (status, answer) = server.console_as(&server.operator, Method::POST, "/pages", body).await;
        assert_eq!(status.as_u16(), 400, "{answer}");
        assert!(answer["error"]["message"].is_string());
    }
    let (status, answer) = server.console_as(&server.operator, Method::POST, "/pages", json!({"name": "Again", "username": "bakery"})).await;
    assert_eq!(status.as_u16(), 400);
    assert!(answer["error"]["message"].as_str().unwrap().contains("taken"));
}

#[tokio::test]
async fn person_api_needs_a_session_and_finds_pages() {
    let server = TestServer::start().await;
    let dana = server.person("dana").await;
    let page = server.page(&dana, "bakery").await;
    let response = server.http.post(format!("{}/person/v1/login", server.url)).json(&json!({"login": "dana", "password": "wrong-password"})).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response = server.http.get(format!("{}/person/v1/threads", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response = server.http.get(format!("{}/person/v1/events", server.url)).bearer_auth(&server.operator).send().await.unwrap();
    assert_eq!(response.status(), 400, "the operator has no threads");

    let client = server.sign_in(&dana).await;
    let (status, found) = client.call(Method::GET, "/pages/bakery", None).await;
    assert_eq!((status, found["id"].clone()), (200, json!(page.id)));
    let (status, found) = client.call(Method::GET, &format!("/pages/{}", page.id), None).await;
    assert_eq!((status, found["username"].clone()), (200, json!("bakery")));
    let (status, missing) = client.call(Method::GET, "/pages/nowhere", None).await;
    assert_eq!((status, missing["error"]["code"].clone()), (400, json!(100)));
    let (status, _) = client.call(Method::POST, "/threads/bakery/messages", Some(json!({"text": "  "}))).await;
    assert_eq!(status, 400);
    let (status, _) = client.call(Method::POST, "/threads/bakery/messages", Some(json!({"txt": "typo"}))).await;
    assert_eq!(status, 400);
    let (status, threads) = client.call(Method::GET, "/threads", None).await;
    assert_eq!((status, threads), (200, json!({"data": []})), "nothing was stored");
}
