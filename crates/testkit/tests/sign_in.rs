//! Signing in against a hostile caller, through real HTTP: failures are limited per
//! login and per client address (an unknown login behaves as a known one), a flood
//! of concurrent wrong passwords is answered without the node falling over, and
//! signing out ends the session at once.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_testkit::{ManualClock, TestServer};

async fn login(server: &TestServer, login: &str, password: &str, forwarded_for: Option<&str>) -> (u16, Value) {
    let mut request = server.http.post(format!("{}/person/v1/login", server.url)).json(&json!({"login": login, "password": password}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.expect("login answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn limited(settings: &mut switchboard::Settings) {
    settings.sign_in.failures_per_login = 3;
    settings.sign_in.failures_per_address = 6;
    settings.sign_in.failure_window_secs = 600;
    settings.http.client_ip_header = Some("x-forwarded-for".into());
}

#[tokio::test]
async fn a_login_that_fails_too_often_is_refused_until_its_window_passes() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), limited).await;
    let ann = server.person("ann").await;

    for attempt in 0..3 {
        let (status, body) = login(&server, "ann", "wrong password", Some(&format!("198.51.100.{attempt}"))).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)), "attempt {attempt}: {body}");
    }
    // Even the right password is refused now, from any address, without hashing.
    let (status, body) = login(&server, "ann", &ann.password, Some("203.0.113.9")).await;
    assert_eq!((status, body["error"]["code"].clone()), (429, json!(368)), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Try again in 10 minutes"), "{body}");
    assert_eq!(body["error"]["is_transient"], true);

    // An unknown login is refused the same way after as many failures: being refused
    // tells nothing about which logins exist.
    for attempt in 0..3 {
        let (status, _) = login(&server, "nobody-here", "whatever password", Some(&format!("192.0.2.{attempt}"))).await;
        assert_eq!(status, 400);
    }
    let (status, body) = login(&server, "nobody-here", "whatever password", Some("192.0.2.77")).await;
    assert_eq!((status, body["error"]["code"].clone()), (429, json!(368)));

    clock.advance(Duration::from_secs(601));
    let (status, body) = login(&server, "ann", &ann.password, Some("203.0.113.9")).await;
    assert_eq!(status, 200, "the window passed: {body}");
}

#[tokio::test]
async fn an_address_that_fails_too_often_is_refused_for_every_login() {
    let server = TestServer::start_with(limited).await;
    let bob = server.person("bob").await;
    for n in 0..6 {
        let (status, _) = login(&server, &format!("guess{n}"), "wrong password", Some("198.51.100.7")).await;
        assert_eq!(status, 400);
    }
    let (status, body) = login(&server, "bob", &bob.password, Some("198.51.100.7")).await;
    assert_eq!((status, body["error"]["code"].clone()), (429, json!(368)), "{body}");
    // A login that no person can have (half a megabyte of it) is wrong at once, and is not
    // counted: another address can still fail five times and sign in.
    for _ in 0..10 {
        let (status, body) = login(&server, &"x".repeat(500_000), "wrong password", Some("198.51.100.8")).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!(100)));
    }
    for n in 0..5 {
        let (status, _) = login(&server, &format!("guess{n}"), "wrong password", Some("198.51.100.8")).await;
        assert_eq!(status, 400);
    }
    let (status, _) = login(&server, "bob", &bob.password, Some("198.51.100.8")).await;
    assert_eq!(status, 200, "ten impossible logins and five failures stay under six");
    // The proxy's last entry is the client: an earlier one is whatever the client wrote.
    let (status, _) = login(&server, "bob", &bob.password, Some("198.51.100.7, 203.0.113.50")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_flood_of_concurrent_wrong_passwords_is_answered_and_the_node_lives_on() {
    let server = TestServer::start_with(|settings| {
        settings.sign_in.failures_per_login = 0;
        settings.sign_in.failures_per_address = 0;
        settings.sign_in.hashing_threads = 1;
        settings.sign_in.hashing_queue = 4;
    })
    .await;
    let carol = server.person("carol").await;
    let mut attempts = Vec::new();
    for _ in 0..64 {
        let http = server.http.clone();
        let url = format!("{}/person/v1/login", server.url);
        attempts.push(tokio::spawn(async move {
            http.post(url).json(&json!({"login": "carol", "password": "not her password"})).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 400 || *s == 503), "each is a wrong password or 'try again later': {statuses:?}");
    assert!(statuses.contains(&503), "64 at once do not fit one thread and a queue of 4: {statuses:?}");
    let (status, body) = login(&server, "carol", &carol.password, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn signing_out_ends_the_session_at_once() {
    let server = TestServer::start().await;
    let dana = server.person("dana").await;
    let client = server.sign_in(&dana).await;
    let (status, _) = client.call(Method::GET, "/me", None).await;
    assert_eq!(status, 200);
    let (status, body) = client.call(Method::POST, "/logout", None).await;
    assert_eq!((status, &body), (200, &json!({"success": true})));
    let (status, body) = client.call(Method::GET, "/me", None).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(190)), "the session is over: {body}");
    let (status, _) = server.console_as(&client.token, Method::GET, "/me", Value::Null).await;
    assert_eq!(status, 400, "on the console too");

    // The console signs out the same way; the operator credential is no session.
    let (_, answer) = server.console_as("", Method::POST, "/login", json!({"login": "dana", "password": dana.password})).await;
    let console_token = answer["access_token"].as_str().unwrap().to_string();
    let (status, _) = server.console_as(&console_token, Method::POST, "/logout", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = server.console_as(&console_token, Method::GET, "/me", Value::Null).await;
    assert_eq!(status, 400);
    let (status, body) = server.console_as(&server.operator.clone(), Method::POST, "/logout", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.console_as(&server.operator.clone(), Method::GET, "/me", Value::Null).await;
    assert_eq!(status, 200, "the operator credential still works");
}
