//! Clients that hold connections open, over raw TCP against a real node: idle
//! connections and ones dripping their headers are closed, a body that does not
//! arrive in time is answered 408, past the connection limit a new connection is
//! told 503 and closed while the node keeps serving the ones it has, and past the
//! requests in flight a request is answered 503 at once instead of queued (a client
//! still sending its body is not yet one of them).

use std::time::Duration;
use switchboard_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.url.trim_start_matches("http://")).await.expect("the node accepts")
}

/// Reads until the server closes the connection (or `within` passes); answers what
/// it sent and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

#[tokio::test]
async fn idle_and_dripping_connections_are_closed() {
    let server = TestServer::start_with(|settings| settings.http.header_timeout_secs = 1).await;

    // Connected, and then nothing.
    let mut idle = connect(&server).await;
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(closed, "an idle connection is closed");

    // Idle after a first request on a kept-alive connection.
    let mut kept = connect(&server).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (answer, closed) = read_until_closed(&mut kept, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "a kept-alive connection that stays idle is closed");

    // Headers sent a byte at a time, never finished.
    let mut drip = connect(&server).await;
    drip.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..100 {
            if drip.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    assert!(dripping.await.unwrap(), "the node closed the connection of a client dripping its headers");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let server = TestServer::start_with(|settings| settings.http.body_timeout_secs = 1).await;
    let mut slow = connect(&server).await;
    slow.write_all(b"POST /person/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"login\":").await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..50 {
            if slow.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    let mut slow = writer.await.unwrap();
    let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":100") && answer.contains("did not arrive in time"), "{answer}");
}

#[tokio::test]
async fn past_the_connection_limit_a_connection_is_told_503_and_the_others_are_served() {
    let server = TestServer::start_with(|settings| {
        settings.http.max_connections = 20;
        settings.http.header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = connect(&server).await;
        // A first request, so that the connection is surely accepted and counted.
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 512];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut refused = connect(&server).await;
    let (answer, closed) = read_until_closed(&mut refused, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":2"), "{answer}");
    assert!(closed);

    // The connections it holds are still served.
    held[0].write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 512];
    let n = held[0].read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));

    // Once some close, new ones are accepted again.
    held.truncate(10);
    switchboard_testkit::eventually("a new connection is accepted", || {
        let http = server.http.clone();
        let url = format!("{}/healthz", server.url);
        async move { http.get(url).send().await.ok().filter(|r| r.status() == 200) }
    })
    .await;
}

#[tokio::test]
async fn past_the_requests_in_flight_a_request_is_told_503_at_once_and_health_checks_still_answer() {
    let server = TestServer::start_with(|settings| settings.http.max_requests_in_flight = 1).await;
    // One request in flight: subscribing an app, whose callback is being verified
    // by a server that has accepted the node's request and does not answer.
    let app = server.app("Holder").await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/webhook", silent.local_addr().unwrap());
    let subscribing = tokio::spawn({
        let (http, url) = (server.http.clone(), format!("{}/{}/subscriptions", server.graph(), app.id));
        let body = serde_json::json!({"object": "page", "callback_url": callback, "verify_token": "v", "fields": "messages", "access_token": format!("{}|{}", app.id, app.secret)});
        async move { http.post(url).json(&body).send().await.unwrap().status() }
    });
    let (verification, _) = silent.accept().await.expect("the node verifies the callback");

    let graph = format!("{}/v21.0/me", server.url);
    let refused = server.http.get(&graph).send().await.unwrap();
    assert_eq!(refused.status(), 503, "a request past the one in flight is refused");
    assert_eq!(refused.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!((body["error"]["code"].as_i64(), body["error"]["is_transient"].as_bool()), (Some(2), Some(true)), "{body}");

    // Health checks, the metrics and long polls are not counted.
    let health = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let poll = server.http.get(format!("{}/v21.0/123/updates", server.url)).send().await.unwrap();
    assert_ne!(poll.status(), 503, "a long poll is not refused for the requests in flight");
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("switchboard_http_requests_total") && l.contains("face=\"graph\"") && l.contains("status=\"503\"")), "{metrics}");

    // The request in flight is answered (its callback hung up: a refused
    // subscription, not a refusal for load), and the next one is worked on again.
    drop((verification, silent));
    let status = subscribing.await.unwrap();
    assert!(status.is_client_error(), "{status}");
    let again = server.http.get(&graph).send().await.unwrap();
    assert_ne!(again.status(), 503, "the next request is worked on");
}

#[tokio::test]
async fn a_client_dripping_its_body_holds_no_slot_among_the_requests_in_flight() {
    let server = TestServer::start_with(|settings| {
        settings.http.max_requests_in_flight = 1;
        settings.http.body_timeout_secs = 30;
    })
    .await;
    // Two requests whose headers are in and whose bodies are still arriving.
    let mut dripping = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&server).await;
        stream.write_all(b"POST /person/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{\"login\":").await.unwrap();
        dripping.push(stream);
    }
    // Requests that have arrived are worked on, again and again, meanwhile.
    let graph = format!("{}/v21.0/me", server.url);
    for _ in 0..5 {
        let answer = server.http.get(&graph).send().await.unwrap();
        assert_ne!(answer.status(), 503, "a whole request is worked on while bodies drip");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each, once its body is in, is worked on too (a wrong sign-in).
    for mut stream in dripping {
        stream.write_all(b"\"nobody\",\"password\":\"x\"}").await.unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).await.unwrap();
        let answer = String::from_utf8_lossy(&buffer[..n]).into_owned();
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
}
